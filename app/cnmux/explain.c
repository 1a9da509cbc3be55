/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmux --config FILE --explain CAPTURE: what cnmux would do with every
 * frame of a capture, offline, one line per frame (lib/explain). The tables
 * are built from the file; one decision state (lookup cache, fragment cache,
 * forwarding list) follows the whole capture as one worker's would, on the
 * capture's own clock. For CI and for bug reports: no port, no hugepage,
 * nothing shared with a running cnmux.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "cnm_explain.h"
#include "explain_offline.h"

/* Nodes the file gives no MAC would be resolved by ARP on a live run: here
 * they are taken as resolved (up), with a placeholder MAC. */
static unsigned int
nodes_up(struct cnm_lb *lb, const struct cnm_config *cfg)
{
	unsigned int i, n = 0;

	for (i = 0; i < cfg->n_nodes; i++) {
		int id = cnm_lb_node_find(lb, cfg->nodes[i].name);
		uint8_t mac[6] = { 0x02, 0xee, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

		if (id < 0 || cfg->nodes[i].has_mac)
			continue;
		if (cnm_lb_node_set_mac(lb, (uint16_t)id, mac) == 0 &&
		    cnm_lb_node_set_up(lb, (uint16_t)id, 1) == 0)
			n++;
	}
	return n;
}

static int
replay(const struct cnm_config *cfg, struct cnm_lb *lb, pcap_t *pc, const char *file)
{
	struct cnm_ct_timeouts t = {
		.syn = cfg->conn_syn_s * 1000,
		.established = cfg->conn_timeout_s * 1000,
		.closing = cfg->conn_closing_s * 1000,
	};
	static struct cnm_explain ex;
	unsigned long n = 0, verdicts[CNM_V_REPLY + 1] = { 0 };
	struct cnm_wstats ws;
	struct cnm_dstate st;
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t t0 = 0;
	char line[1024];
	int r, rc = 0;

	memset(&st, 0, sizeof(st));
	if (cnm_wstats_init(&ws) < 0)
		return -ENOMEM;
	st.cache = calloc(CNM_SVC_CACHE_SLOTS, sizeof(*st.cache));
	st.frag = calloc(CNM_FRAG_SLOTS, sizeof(*st.frag));
	st.cache_mask = CNM_SVC_CACHE_SLOTS - 1;
	st.frag_mask = CNM_FRAG_SLOTS - 1;
	st.st = &ws;
	if (st.cache == NULL || st.frag == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (cfg->conn_max > 0) {
		st.ct = cnm_ct_create2("explain", cfg->conn_max, cfg->conn_max6, SOCKET_ID_ANY, &t);
		if (st.ct == NULL) {
			fprintf(stderr, "cnmux: --explain: forwarding list of %u: %s\n", cfg->conn_max,
				rte_strerror(rte_errno));
			rc = -ENOMEM;
			goto out;
		}
	}
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		uint64_t us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;

		if (n++ == 0)
			t0 = us;
		/* the capture's clock: the list's timeouts run as they did */
		st.now_ms = (uint32_t)((us - t0) / 1000) + 1;
		cnm_explain_run(lb, &st, data, h->caplen, h->len, &ex);
		cnm_explain_line(lb, &ex, line, sizeof(line));
		verdicts[ex.d.verdict <= CNM_V_REPLY ? ex.d.verdict : CNM_V_DROP]++;
		printf("%lu %llu.%06llu %s\n", n, (unsigned long long)((us - t0) / 1000000u),
		       (unsigned long long)((us - t0) % 1000000u), line);
	}
	if (r == -1) {
		fprintf(stderr, "cnmux: --explain: %s: %s\n", file, pcap_geterr(pc));
		rc = -EIO;
	}
	printf("%lu frames: %lu forward, %lu default, %lu local, %lu reply, %lu drop; "
	       "connections: %llu new, %llu held, %llu stale, %llu not recorded (list full)\n",
	       n, verdicts[CNM_V_FORWARD], verdicts[CNM_V_DEFAULT], verdicts[CNM_V_LOCAL],
	       verdicts[CNM_V_REPLY], verdicts[CNM_V_DROP], (unsigned long long)ws.conn_new,
	       (unsigned long long)ws.conn_hit, (unsigned long long)ws.conn_stale,
	       (unsigned long long)ws.conn_full);
out:
	cnm_ct_free(st.ct);
	free(st.cache);
	free(st.frag);
	cnm_wstats_fini(&ws);
	return rc;
}

int
cnm_explain_offline(const char *config, const char *file)
{
	/* no port, no hugepage, no file shared with a running cnmux */
	char *eal[] = {
		"cnmux", "--no-huge", "-m", "1024", "--no-pci", "--no-shconf", "--no-telemetry",
		"-l", "0", "--log-level", "lib.*:error", NULL,
	};
	char err[CNM_ERR_MAX], errbuf[PCAP_ERRBUF_SIZE];
	struct cnm_config *cfg;
	struct cnm_lb *lb = NULL;
	pcap_t *pc = NULL;
	unsigned int up;
	int rc = 1;

	cfg = cnm_config_load(config, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "cnmux: %s\n", err);
		return 1;
	}
	pc = pcap_open_offline(file, errbuf);
	if (pc == NULL) {
		fprintf(stderr, "cnmux: --explain: %s\n", errbuf);
		goto out_cfg;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "cnmux: --explain: %s: not an Ethernet capture\n", file);
		goto out_cfg;
	}
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "cnmux: EAL init failed: %s\n", rte_strerror(rte_errno));
		goto out_cfg;
	}
	lb = cnm_lb_create(cfg, "explain", NULL);
	if (lb == NULL) {
		fprintf(stderr, "cnmux: building the service tables failed: %s\n",
			rte_strerror(rte_errno));
		goto out;
	}
	up = nodes_up(lb, cfg);
	printf("cnmux --explain: %s with %s: %u service(s), %u node(s)", file, config,
	       cfg->n_services, cfg->n_nodes);
	if (up > 0)
		printf(" (%u without a MAC taken as resolved)", up);
	printf("; forwarding list %s\n", cfg->conn_max > 0 ? "on" : "off");
	if (replay(cfg, lb, pc, file) == 0)
		rc = 0;
out:
	cnm_lb_free(lb);
	rte_eal_cleanup();
out_cfg:
	if (pc != NULL)
		pcap_close(pc);
	cnm_config_free(cfg);
	return rc;
}
