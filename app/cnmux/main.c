/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmux: parse arguments, bring up EAL and the ports, launch one worker per
 * public RX queue, run the control loop on the main lcore, report at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "cnm_config.h"
#include "cnm_control.h"
#include "cnm_dataplane.h"
#include "cnm_ha.h"
#include "cnm_health.h"
#include "cnm_service.h"
#include "cnm_stats.h"
#include "cnm_telemetry.h"

#define RX_DESC 1024
#define TX_DESC 1024
#define MBUFS_DEFAULT 16383
#define MBUF_CACHE 256

struct opts {
	const char *config;
	const char *stats_json;
	unsigned long idle_exit_ms;   /* 0: never */
	unsigned long stats_period_s; /* 0: never */
	unsigned long mbufs;
	int quiet;
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t reload_signal;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

static struct rte_mempool *ctl_pool;

/* What `conns count` and `conns show` read. */
struct conns_src {
	struct cnm_worker **w;
	unsigned int n;
	struct cnm_lb *lb;
	uint32_t cursor[CNM_MAX_WORKERS]; /**< HA: where the next displaced dump starts */
};

/* `cnmuxctl stats`: what the ports and the health checker count themselves. */
struct more_src {
	const struct cnm_dp *dp;
	struct cnm_health **hc;
	struct rte_mempool **mp;
};

static void
more_stats(void *arg, json_t *resp)
{
	const struct more_src *m = arg;
	struct rte_eth_stats es;

	memset(&es, 0, sizeof(es));
	(void)rte_eth_stats_get(m->dp->pub_port, &es);
	json_object_set_new(resp, "rx_nombuf", json_integer((json_int_t)es.rx_nombuf));
	json_object_set_new(resp, "rx_missed", json_integer((json_int_t)es.imissed));
	json_object_set_new(resp, "rx_errors", json_integer((json_int_t)es.ierrors));
	if (*m->mp != NULL)
		json_object_set_new(resp, "mbufs_free",
			json_integer(rte_mempool_avail_count(*m->mp)));
	if (*m->hc != NULL) {
		const struct cnm_health_stats *h = cnm_health_get_stats(*m->hc);

		json_object_set_new(resp, "health", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"arp_sent", (json_int_t)h->arp_sent,
			"arp_replies", (json_int_t)h->arp_replies,
			"tcp_checks", (json_int_t)h->tcp_checks,
			"tcp_failures", (json_int_t)h->tcp_failures,
			"went_up", (json_int_t)h->went_up,
			"went_down", (json_int_t)h->went_down,
			"send_failures", (json_int_t)h->send_failures));
	}
}

static uint64_t
conns_count(void *arg)
{
	const struct conns_src *c = arg;
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < c->n; i++)
		n += __atomic_load_n(&c->w[i]->st.conn_active, __ATOMIC_RELAXED);
	return n;
}

static const char *
endpoint(const uint8_t *addr, uint8_t family, uint16_t port_be, char *buf, size_t len)
{
	struct cnm_addr a = { .family = family };
	char ip[64];

	memcpy(a.bytes, addr, 16);
	cnm_addr_str(&a, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, rte_be_to_cpu_16(port_be));
	return buf;
}

static int
conns_dump(void *arg, json_t *arr, uint32_t max, int32_t svc, int32_t node)
{
	static const char *const states[] = { "syn", "established", "closing", "?" };
	const struct conns_src *c = arg;
	unsigned int i;
	int total = 0;

	for (i = 0; i < c->n && (uint32_t)total < max; i++) {
		struct cnm_conn_dump *d = calloc(max - total, sizeof(*d));
		uint32_t now = 0;
		int n, j;

		if (d == NULL)
			return -ENOMEM;
		n = cnm_worker_conns_dump(c->w[i], d, max - total, svc, node, &now);
		if (n < 0)
			return n; /* d stays allocated: the worker may still write it */
		for (j = 0; j < n; j++) {
			const struct cnm_conn_key *k = &d[j].key;
			const struct cnm_conn *e = &d[j].conn;
			char cl[80], vip[80];
			const char *sname = c->lb->svc[e->svc] != NULL ?
				c->lb->svc[e->svc]->cfg.name : "?";
			const char *nname = c->lb->node[e->node].used ?
				c->lb->node_cfg[e->node].name : "?";

			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:i}",
				"client", endpoint(k->src, k->family, k->sport, cl, sizeof(cl)),
				"vip", endpoint(k->dst, k->family, k->dport, vip, sizeof(vip)),
				"service", sname, "node", nname, "state", states[e->state & 3],
				"expires_ms", (json_int_t)(int32_t)(e->expire - now),
				"worker", (int)i));
		}
		total += n;
		free(d);
	}
	return total;
}

/* HA: the displaced connections of every worker, by name. */
static int
ha_displaced(void *arg, struct cnm_ha_conn *out, uint32_t max)
{
	struct conns_src *c = arg;
	struct cnm_conn_dump *d = calloc(max + 1, sizeof(*d));
	uint32_t total = 0;
	unsigned int i;

	if (d == NULL)
		return -ENOMEM;
	for (i = 0; i < c->n && total < max; i++) {
		uint32_t want = max - total;
		int n = cnm_worker_conns_displaced(c->w[i], d, want, c->cursor[i], NULL), j;

		if (n < 0)
			return n; /* d stays allocated: the worker may still write it */
		/* next time, go on from here; start again once the list is through */
		c->cursor[i] = (uint32_t)n < want ? 0 : c->cursor[i] + (uint32_t)n;
		for (j = 0; j < n; j++) {
			const struct cnm_svc *s = c->lb->svc[d[j].conn.svc];
			struct cnm_ha_conn *o = &out[total];

			if (s == NULL || !c->lb->node[d[j].conn.node].used)
				continue;
			o->family = d[j].key.family;
			memcpy(o->src, d[j].key.src, 16);
			memcpy(o->dst, d[j].key.dst, 16);
			o->sport = d[j].key.sport;
			o->dport = d[j].key.dport;
			snprintf(o->service, sizeof(o->service), "%s", s->cfg.name);
			snprintf(o->node, sizeof(o->node), "%s", c->lb->node_cfg[d[j].conn.node].name);
			total++;
		}
	}
	free(d);
	return (int)total;
}

/*
 * HA: connections learnt from another holder, into every worker's list: RSS
 * decides which worker will see the connection's packets here, and the
 * entry must be where they arrive (a worker that never sees them lets it
 * expire).
 */
static int
ha_insert(void *arg, const struct cnm_ha_conn *in, uint32_t n)
{
	const struct conns_src *c = arg;
	struct cnm_conn_dump *d;
	uint32_t i, k = 0;
	int ret;

	if (c->n == 0 || c->w[0]->ct == NULL)
		return 0;
	d = calloc(n + 1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int sid = cnm_lb_svc_find(c->lb, in[i].service);
		int nid = cnm_lb_node_find(c->lb, in[i].node);

		if (sid < 0 || nid < 0)
			continue;
		d[k].key.family = in[i].family;
		memcpy(d[k].key.src, in[i].src, 16);
		memcpy(d[k].key.dst, in[i].dst, 16);
		d[k].key.sport = in[i].sport;
		d[k].key.dport = in[i].dport;
		d[k].conn.svc = (uint16_t)sid;
		d[k].conn.node = (uint16_t)nid;
		k++;
	}
	ret = 0;
	for (i = 0; k > 0 && i < c->n && ret >= 0; i++)
		ret = cnm_worker_conns_insert(c->w[i], d, k);
	if (ret >= 0)
		free(d); /* else a worker may still read it */
	return ret;
}

/* Health checker's frames: queued for worker 0, which owns the TX queues. */
static int
ctl_send(void *arg, uint16_t idx, const uint8_t *frame, uint32_t len)
{
	const struct cnm_dp *dp = arg;
	struct rte_mbuf *m = rte_pktmbuf_alloc(ctl_pool);
	char *p;

	if (m == NULL)
		return -ENOMEM;
	p = rte_pktmbuf_append(m, (uint16_t)len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}
	memcpy(p, frame, len);
	m->port = dp->priv_port[idx];
	if (rte_ring_mp_enqueue(dp->ctl_tx, m) != 0) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	return 0;
}

static void
rx_drain(uint16_t port)
{
	struct rte_eth_dev_info info;
	struct rte_mbuf *m[CNM_BURST];
	uint16_t q, n;
	unsigned int rounds;

	if (rte_eth_dev_info_get(port, &info) != 0)
		return;
	for (q = 0; q < info.nb_rx_queues; q++) {
		/* bounded: an endless source (infinite_rx) never runs dry */
		for (rounds = 0; rounds < 4096; rounds++) {
			n = rte_eth_rx_burst(port, q, m, CNM_BURST);
			if (n == 0)
				break;
			rte_pktmbuf_free_bulk(m, n);
		}
	}
}

static void
ctl_ring_drain(struct rte_ring *r)
{
	void *m = NULL;

	while (r != NULL && rte_ring_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
}

/* Path manager: which private ports have link; the nodes follow. Polled,
 * as DPDK's link-state interrupts are not available on every PMD. */
static void
paths_poll(const struct cnm_dp *dp, struct cnm_lb *lb)
{
	uint32_t up = 0;
	uint16_t i;

	for (i = 0; i < dp->n_private; i++) {
		struct rte_eth_link link;

		if (rte_eth_link_get_nowait(dp->priv_port[i], &link) == 0 &&
				link.link_status == RTE_ETH_LINK_UP)
			up |= 1u << i;
	}
	if (up != lb->paths_up) {
		for (i = 0; i < dp->n_private; i++)
			if ((up ^ lb->paths_up) & (1u << i))
				printf("cnmux: private port %u link %s\n", i,
					up & (1u << i) ? "up" : "down");
		fflush(stdout);
		cnm_lb_paths_update(lb, up);
	}
}

/* Frames arriving on the private ports: ARP replies from the nodes. Only the
 * control lcore reads these queues. */
static void
private_rx(const struct cnm_dp *dp, struct cnm_health *hc, uint64_t now_ms)
{
	struct rte_mbuf *m[CNM_BURST];
	uint16_t i, j, n;

	for (i = 0; i < dp->n_private; i++) {
		n = rte_eth_rx_burst(dp->priv_port[i], 0, m, CNM_BURST);
		for (j = 0; j < n; j++) {
			if (rte_pktmbuf_is_contiguous(m[j]))
				cnm_health_input(hc, i, rte_pktmbuf_mtod(m[j], uint8_t *),
					rte_pktmbuf_data_len(m[j]), now_ms);
			rte_pktmbuf_free(m[j]);
		}
	}
}

static void
usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- --config FILE [options]\n"
	       "  --config FILE        configuration (JSON, schema v1; docs/config.md)\n"
	       "  --idle-exit MS       stop once no frame has arrived for MS milliseconds\n"
	       "  --stats-period S     print statistics every S seconds\n"
	       "  --stats-json FILE    write the final statistics as JSON to FILE\n"
	       "  --mbufs N            mbufs in the pool (default %u)\n"
	       "  --quiet              no final per-service/per-node report\n"
	       "  --list-drop-reasons  print the drop reasons and exit\n"
	       "  --help               this text\n", prog, MBUFS_DEFAULT);
}

static int
parse_ulong(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *out > max || s[0] == '-') {
		fprintf(stderr, "cnmux: %s: expected an integer 0..%lu, got '%s'\n", opt, max, s);
		return -1;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "idle-exit", required_argument, NULL, 'i' },
		{ "stats-period", required_argument, NULL, 'p' },
		{ "stats-json", required_argument, NULL, 'j' },
		{ "mbufs", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "list-drop-reasons", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	unsigned int i;

	o->mbufs = MBUFS_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'i':
			if (parse_ulong("--idle-exit", optarg, 86400000UL, &o->idle_exit_ms) < 0)
				return -1;
			break;
		case 'p':
			if (parse_ulong("--stats-period", optarg, 86400UL, &o->stats_period_s) < 0)
				return -1;
			break;
		case 'j':
			o->stats_json = optarg;
			break;
		case 'm':
			if (parse_ulong("--mbufs", optarg, 1UL << 26, &o->mbufs) < 0)
				return -1;
			if (o->mbufs < 64) {
				fprintf(stderr, "cnmux: --mbufs: expected at least 64\n");
				return -1;
			}
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'L':
			for (i = 1; i < CNM_DROP_MAX; i++)
				printf("%-20s %s\n", cnm_drop_name(i), cnm_drop_help(i));
			exit(0);
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			usage(argv[0]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cnmux: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->config == NULL) {
		fprintf(stderr, "cnmux: --config FILE is required\n");
		usage(argv[0]);
		return -1;
	}
	return 0;
}

/* A port named in the config: a device name (as given to --vdev, or a PCI
 * address), or a plain number taken as a port id. */
static int
find_port(const char *cfgpath, const char *key, const char *name, uint16_t *pid)
{
	char *end;
	unsigned long v;

	if (rte_eth_dev_get_port_by_name(name, pid) == 0)
		return 0;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno == 0 && end != name && *end == '\0' && v < RTE_MAX_ETHPORTS &&
			rte_eth_dev_is_valid_port((uint16_t)v)) {
		*pid = (uint16_t)v;
		return 0;
	}
	fprintf(stderr, "cnmux: %s: %s: no DPDK port '%s' (expected a --vdev name, a PCI "
		"address or a port id; %u ports present)\n", cfgpath, key, name,
		rte_eth_dev_count_avail());
	return -1;
}

static int
port_setup(uint16_t pid, const char *name, uint16_t nrxq, uint16_t ntxq,
		struct rte_mempool *mp)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nrxd = RX_DESC, ntxd = TX_DESC, q;
	int ret;

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_info_get(pid, &info);
	if (ret != 0)
		goto fail;
	if (nrxq > info.max_rx_queues || ntxq > info.max_tx_queues) {
		fprintf(stderr, "cnmux: port %s: needs %u RX and %u TX queues, has %u and %u\n",
			name, nrxq, ntxq, info.max_rx_queues, info.max_tx_queues);
		return -1;
	}
	if (nrxq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP |
			RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf == 0)
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	ret = rte_eth_dev_configure(pid, nrxq, ntxq, &conf);
	if (ret != 0)
		goto fail;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrxd, &ntxd);
	if (ret != 0)
		goto fail;
	for (q = 0; q < nrxq; q++) {
		ret = rte_eth_rx_queue_setup(pid, q, nrxd, rte_eth_dev_socket_id(pid), NULL, mp);
		if (ret != 0)
			goto fail;
	}
	for (q = 0; q < ntxq; q++) {
		ret = rte_eth_tx_queue_setup(pid, q, ntxd, rte_eth_dev_socket_id(pid), NULL);
		if (ret != 0)
			goto fail;
	}
	ret = rte_eth_dev_start(pid);
	if (ret != 0)
		goto fail;
	/* frames for the VIPs are not addressed to our MAC when a router
	 * floods or when a capture is replayed; not every PMD can do it */
	(void)rte_eth_promiscuous_enable(pid);
	return 0;
fail:
	fprintf(stderr, "cnmux: port %s: setup failed: %s\n", name, rte_strerror(-ret));
	return -1;
}

static void
report(FILE *out, const struct cnm_lb *lb, const struct cnm_stats_total *t, unsigned int nw)
{
	char buf[64];
	uint32_t i;

	fprintf(out, "cnmux: %" PRIu64 " received, %" PRIu64 " forwarded, %" PRIu64
		" local, %" PRIu64 " dropped (received = forwarded + local + dropped: %s)\n",
		t->rx, t->forwarded, t->local, t->dropped,
		t->rx == t->forwarded + t->local + t->dropped ? "yes" : "NO");
	fprintf(out, "  non-scalable %" PRIu64 " (to default node %" PRIu64 ", ARP answered %"
		PRIu64 ", ping answered %" PRIu64 "), from local port %" PRIu64 " (to public %" PRIu64
		", lost %" PRIu64 ")\n", t->nonscalable, t->to_default, t->arp_replies,
		t->icmp_replies, t->local_rx, t->local_out, t->local_drop);
	fprintf(out, "  icmp errors to their flow's node %" PRIu64 ", fragments: %" PRIu64
		" first, %" PRIu64 " followed them\n", t->icmp_errors, t->frag_first, t->frag_follow);
	fprintf(out, "  tcp connections: %" PRIu64 " recorded, %" PRIu64 " packets by the list, %"
		PRIu64 " not recorded (list full), %" PRIu64 " forgotten (node down), %" PRIu64
		" expired, %" PRIu64 " tracked now\n", t->conn_new, t->conn_hit, t->conn_full,
		t->conn_stale, t->conn_expired, t->conn_active);
	fprintf(out, "  workers %u", nw);
	if (t->busy_bursts && t->rx)
		fprintf(out, ", %.1f cycles/packet", (double)t->busy_cycles / (double)t->rx);
	if (t->rx)
		fprintf(out, ", %.1f%% of frames by the fast path",
			100.0 * (double)t->fast_path / (double)t->rx);
	fprintf(out, "\n");
	for (i = 0; i < lb->n_svc; i++) {
		const struct cnm_svc *s = lb->svc[i];

		if (s == NULL)
			continue;
		fprintf(out, "  service %-16s %-11s %-24s packets %10" PRIu64 " bytes %12" PRIu64
			"\n", s->cfg.name, cnm_policy_name(s->policy),
			cnm_addr_str(&s->cfg.vip, buf, sizeof(buf)), t->svc[i].pkts, t->svc[i].bytes);
	}
	for (i = 0; i < lb->n_nodes; i++) {
		if (!lb->node[i].used)
			continue;
		fprintf(out, "  node    %-16s %-4s %-30s packets %10" PRIu64 " bytes %12" PRIu64
			"\n", lb->node_cfg[i].name, lb->node[i].up ? "up" : "down",
			cnm_addr_str(&lb->node_cfg[i].ip, buf, sizeof(buf)), t->node[i].pkts,
			t->node[i].bytes);
	}
	if (t->dropped) {
		fprintf(out, "  drops  ");
		for (i = 1; i < CNM_DROP_MAX; i++)
			if (t->drop[i])
				fprintf(out, " %s %" PRIu64, cnm_drop_name(i), t->drop[i]);
		fprintf(out, "\n");
	}
	fflush(out);
}

static int
write_json(const char *path, const struct cnm_lb *lb, const struct cnm_stats_total *t,
		unsigned int mbufs_in_use, const struct rte_eth_stats *pub, double elapsed_s)
{
	json_t *root = json_object(), *drops = json_object(), *svcs = json_object();
	json_t *nodes = json_object();
	uint32_t i;
	int ret;

	json_object_set_new(root, "rx", json_integer((json_int_t)t->rx));
	json_object_set_new(root, "forwarded", json_integer((json_int_t)t->forwarded));
	json_object_set_new(root, "local", json_integer((json_int_t)t->local));
	json_object_set_new(root, "dropped", json_integer((json_int_t)t->dropped));
	json_object_set_new(root, "nonscalable", json_integer((json_int_t)t->nonscalable));
	json_object_set_new(root, "to_default", json_integer((json_int_t)t->to_default));
	json_object_set_new(root, "local_rx", json_integer((json_int_t)t->local_rx));
	json_object_set_new(root, "local_out", json_integer((json_int_t)t->local_out));
	json_object_set_new(root, "local_drop", json_integer((json_int_t)t->local_drop));
	json_object_set_new(root, "busy_cycles", json_integer((json_int_t)t->busy_cycles));
	json_object_set_new(root, "busy_bursts", json_integer((json_int_t)t->busy_bursts));
	json_object_set_new(root, "fast_path", json_integer((json_int_t)t->fast_path));
	json_object_set_new(root, "mbufs_in_use_at_exit", json_integer(mbufs_in_use));
	json_object_set_new(root, "elapsed_s", json_real(elapsed_s));
	json_object_set_new(root, "rx_nombuf", json_integer((json_int_t)pub->rx_nombuf));
	json_object_set_new(root, "rx_missed", json_integer((json_int_t)pub->imissed));
	json_object_set_new(root, "rx_errors", json_integer((json_int_t)pub->ierrors));
	json_object_set_new(root, "arp_replies", json_integer((json_int_t)t->arp_replies));
	json_object_set_new(root, "icmp_replies", json_integer((json_int_t)t->icmp_replies));
	json_object_set_new(root, "icmp_errors", json_integer((json_int_t)t->icmp_errors));
	json_object_set_new(root, "icmp_too_big", json_integer((json_int_t)t->icmp_too_big));
	json_object_set_new(root, "frag_first", json_integer((json_int_t)t->frag_first));
	json_object_set_new(root, "frag_follow", json_integer((json_int_t)t->frag_follow));
	json_object_set_new(root, "ctl_tx", json_integer((json_int_t)t->ctl_tx));
	json_object_set_new(root, "ctl_tx_drop", json_integer((json_int_t)t->ctl_tx_drop));
	json_object_set_new(root, "conn_new", json_integer((json_int_t)t->conn_new));
	json_object_set_new(root, "conn_hit", json_integer((json_int_t)t->conn_hit));
	json_object_set_new(root, "conn_full", json_integer((json_int_t)t->conn_full));
	json_object_set_new(root, "conn_stale", json_integer((json_int_t)t->conn_stale));
	json_object_set_new(root, "conn_expired", json_integer((json_int_t)t->conn_expired));
	json_object_set_new(root, "conn_active", json_integer((json_int_t)t->conn_active));
	for (i = 1; i < CNM_DROP_MAX; i++)
		json_object_set_new(drops, cnm_drop_name(i), json_integer((json_int_t)t->drop[i]));
	for (i = 0; i < lb->n_svc; i++) {
		if (lb->svc[i] == NULL)
			continue;
		json_object_set_new(svcs, lb->svc[i]->cfg.name,
			json_pack("{s:I,s:I}", "packets", (json_int_t)t->svc[i].pkts,
				"bytes", (json_int_t)t->svc[i].bytes));
	}
	for (i = 0; i < lb->n_nodes; i++) {
		if (!lb->node[i].used)
			continue;
		json_object_set_new(nodes, lb->node_cfg[i].name,
			json_pack("{s:I,s:I}", "packets", (json_int_t)t->node[i].pkts,
				"bytes", (json_int_t)t->node[i].bytes));
	}
	json_object_set_new(root, "drops", drops);
	json_object_set_new(root, "services", svcs);
	json_object_set_new(root, "nodes", nodes);
	ret = json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	if (ret != 0)
		fprintf(stderr, "cnmux: --stats-json: cannot write %s\n", path);
	return ret;
}

int
main(int argc, char **argv)
{
	static struct cnm_dp dp;
	static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
	struct cnm_worker *workers[CNM_MAX_WORKERS];
	struct cnm_wstats *wst[CNM_MAX_WORKERS];
	struct cnm_tel_ctx tel;
	struct cnm_stats_total *tot = NULL;
	struct cnm_health *hc = NULL;
	struct rte_eth_stats es;
	struct cnm_ctl_server *srv = NULL;
	struct cnm_ha *ha = NULL;
	static struct cnm_ctx ctx;
	static struct conns_src csrc;
	static struct more_src msrc;
	struct cnm_config *cfg = NULL;
	struct rte_mempool *mp = NULL;
	struct opts o = { 0 };
	char err[CNM_ERR_MAX];
	uint16_t ports[CNM_MAX_PRIVATE + 2];
	unsigned int nports = 0, nw = 0, nalloc = 0, nl, lcore, i;
	uint64_t hz, start = rte_rdtsc(), next_stats, next_link_ms = 0;
	double elapsed_s = 0;
	size_t qsz;
	int ret, rc = 1;

	/* answered without EAL: it only prints */
	for (i = 1; i < (unsigned int)argc; i++)
		if (strcmp(argv[i], "--list-drop-reasons") == 0) {
			for (i = 1; i < CNM_DROP_MAX; i++)
				printf("%-20s %s\n", cnm_drop_name(i), cnm_drop_help(i));
			return 0;
		}

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "cnmux: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	argv[0] = (char *)"cnmux";
	if (parse_args(argc, argv, &o) < 0)
		goto out;

	cfg = cnm_config_load(o.config, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "cnmux: %s\n", err);
		goto out;
	}

	/* ports */
	dp.local_port = -1;
	if (find_port(cfg->path, "ports.public", cfg->public_port, &dp.pub_port) < 0)
		goto out;
	dp.n_private = (uint16_t)cfg->n_private;
	for (i = 0; i < cfg->n_private; i++) {
		char key[32];

		snprintf(key, sizeof(key), "ports.private[%u]", i);
		if (find_port(cfg->path, key, cfg->private_ports[i], &dp.priv_port[i]) < 0)
			goto out;
	}
	if (cfg->local_port[0] != '\0') {
		uint16_t pid;

		if (find_port(cfg->path, "ports.local", cfg->local_port, &pid) < 0)
			goto out;
		dp.local_port = pid;
	}

	/* one worker per public RX queue; the main lcore is the control lcore */
	nl = rte_lcore_count() - 1;
	if (nl == 0) {
		fprintf(stderr, "cnmux: needs at least two lcores (e.g. -l 0,1): the main lcore "
			"controls, the others forward\n");
		goto out;
	}
	{
		struct rte_eth_dev_info info;

		if (rte_eth_dev_info_get(dp.pub_port, &info) != 0)
			goto out;
		nw = RTE_MIN(nl, (unsigned int)info.max_rx_queues);
		nw = RTE_MIN(nw, (unsigned int)CNM_MAX_WORKERS);
		nw = RTE_MIN(nw, (unsigned int)info.max_tx_queues);
	}
	if (nw < nl)
		printf("cnmux: %u lcores given, public port has %u RX queue(s): %u worker(s)\n",
			nl, nw, nw);

	mp = rte_pktmbuf_pool_create("cnm_mbufs", (unsigned int)o.mbufs,
		RTE_MIN((unsigned int)MBUF_CACHE, (unsigned int)o.mbufs / 4), 0,
		RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "cnmux: mbuf pool of %lu: %s\n", o.mbufs, rte_strerror(rte_errno));
		goto out;
	}

	/* RCU: one reader thread id per worker */
	qsz = rte_rcu_qsbr_get_memsize(nw);
	dp.qsbr = rte_zmalloc("cnm_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (dp.qsbr == NULL || rte_rcu_qsbr_init(dp.qsbr, nw) != 0) {
		fprintf(stderr, "cnmux: RCU init failed\n");
		goto out;
	}

	dp.ctl_tx = rte_ring_create("cnm_ctl_tx", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (dp.ctl_tx == NULL) {
		fprintf(stderr, "cnmux: control ring: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	ctl_pool = mp;
	dp.conn_max = cfg->conn_max;
	dp.conn_timeouts.syn = cfg->conn_syn_s * 1000;
	dp.conn_timeouts.established = cfg->conn_timeout_s * 1000;
	dp.conn_timeouts.closing = cfg->conn_closing_s * 1000;

	dp.lb = cnm_lb_create(cfg, "main", dp.qsbr);
	if (dp.lb == NULL) {
		fprintf(stderr, "cnmux: building the service tables failed: %s\n",
			rte_strerror(rte_errno));
		goto out;
	}

	if (port_setup(dp.pub_port, cfg->public_port, (uint16_t)nw, (uint16_t)nw, mp) < 0)
		goto out;
	ports[nports++] = dp.pub_port;
	rte_eth_macaddr_get(dp.pub_port, &dp.pub_mac);
	for (i = 0; i < dp.n_private; i++) {
		if (port_setup(dp.priv_port[i], cfg->private_ports[i], 1, (uint16_t)nw, mp) < 0)
			goto out;
		ports[nports++] = dp.priv_port[i];
		rte_eth_macaddr_get(dp.priv_port[i], &dp.priv_mac[i]);
	}
	if (dp.local_port >= 0) {
		if (port_setup((uint16_t)dp.local_port, cfg->local_port, 1, (uint16_t)nw,
				mp) < 0)
			goto out;
		ports[nports++] = (uint16_t)dp.local_port;
	}

	for (i = 0; i < nw; i++) {
		workers[i] = rte_zmalloc("cnm_worker", sizeof(struct cnm_worker),
			RTE_CACHE_LINE_SIZE);
		if (workers[i] == NULL || cnm_worker_init(workers[i], &dp, (uint16_t)i) < 0) {
			fprintf(stderr, "cnmux: out of memory for worker %u\n", i);
			rte_free(workers[i]);
			goto out;
		}
		wst[i] = &workers[i]->st;
		nalloc = i + 1;
	}
	cnm_lb_set_stats(dp.lb, wst, nw);
	tel.lb = dp.lb;
	tel.stats = wst;
	tel.n_workers = nw;
	tel.ctl_lock = &ctl_lock;
	tel.ha = NULL;
	if (cnm_telemetry_init(&tel) != 0)
		fprintf(stderr, "cnmux: telemetry commands not registered\n");

	{
		struct cnm_health_io io = { .send = ctl_send, .arg = &dp };

		for (i = 0; i < dp.n_private; i++)
			memcpy(io.priv_mac[i], dp.priv_mac[i].addr_bytes, 6);
		hc = cnm_health_create(dp.lb, cfg, &io);
		if (hc == NULL) {
			fprintf(stderr, "cnmux: out of memory for the health checker\n");
			goto out;
		}
	}

	csrc.w = workers;
	csrc.n = nw;
	csrc.lb = dp.lb;
	ctx.lb = dp.lb;
	ctx.cfg = cfg;
	snprintf(ctx.config_path, sizeof(ctx.config_path), "%s", o.config);
	ctx.stats = wst;
	ctx.n_workers = nw;
	ctx.ctl_lock = &ctl_lock;
	ctx.conns_count = conns_count;
	ctx.conns_dump = conns_dump;
	ctx.conns_arg = &csrc;
	msrc.dp = &dp;
	msrc.hc = &hc;
	msrc.mp = &mp;
	ctx.more_stats = more_stats;
	ctx.more_stats_arg = &msrc;
	if (cfg->control_socket[0] != '\0') {
		srv = cnm_ctl_server_create(cfg->control_socket, &ctx);
		if (srv == NULL) {
			fprintf(stderr, "cnmux: %s: control.socket: cannot listen on %s: %s\n",
				cfg->path, cfg->control_socket, strerror(errno));
			goto out;
		}
	}

	if (cfg->ha.enabled) {
		struct cnm_ha_io hio = {
			.health = hc,
			.displaced = dp.conn_max > 0 ? ha_displaced : NULL,
			.insert = ha_insert,
			.arg = &csrc,
		};

		ha = cnm_ha_create(&ctx, &hio);
		if (ha == NULL) {
			fprintf(stderr, "cnmux: %s: ha.listen: cannot listen on %s: %s\n",
				cfg->path, cfg->ha.listen.text, strerror(errno));
			goto out;
		}
		/* release: the telemetry thread reads it with an acquire load */
		__atomic_store_n(&tel.ha, ha, __ATOMIC_RELEASE);
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	printf("cnmux: %u worker(s), %u service(s), %u node(s), public %s, %u private, local %s\n",
		nw, cfg->n_services, cfg->n_nodes, cfg->public_port, cfg->n_private,
		dp.local_port >= 0 ? cfg->local_port : "(none)");
	fflush(stdout);

	i = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i == nw)
			break;
		rte_eal_remote_launch(cnm_worker_main, workers[i], lcore);
		i++;
	}

	tot = malloc(sizeof(*tot));
	if (tot == NULL)
		goto stop;
	hz = rte_get_tsc_hz();
	start = rte_rdtsc();
	next_stats = start + o.stats_period_s * hz;
	while (!stop_signal) {
		uint64_t now = rte_rdtsc();

		if (o.idle_exit_ms) {
			uint64_t last = start;

			for (i = 0; i < nw; i++) {
				uint64_t l = __atomic_load_n(&workers[i]->last_rx_tsc, __ATOMIC_RELAXED);

				if (l > last)
					last = l;
			}
			if (now > last && (now - last) * 1000 / hz >= o.idle_exit_ms)
				break;
		}
		{
			uint64_t now_ms = now * 1000 / hz;

			pthread_mutex_lock(&ctl_lock);
			if (now_ms >= next_link_ms) {
				paths_poll(&dp, dp.lb);
				next_link_ms = now_ms + 100;
			}
			/* a reload through the control socket (not only SIGHUP) may
			 * have changed "health": the checker takes the running
			 * settings on every tick (a few fields, no allocation) */
			cnm_health_configure(hc, ctx.cfg);
			/* and so may the data path's switches: plain bytes the
			 * workers read once per burst */
			__atomic_store_n(&dp.lb->icmp_echo_reply, ctx.cfg->icmp_echo_reply,
				__ATOMIC_RELAXED);
			__atomic_store_n(&dp.lb->verify_checksum, ctx.cfg->verify_checksum,
				__ATOMIC_RELAXED);
			/* the private RX queues carry only the nodes' ARP replies:
			 * read them while a node needs resolving or probes run */
			if (cnm_health_wants_rx(hc))
				private_rx(&dp, hc, now_ms);
			cnm_health_tick(hc, now_ms);
			pthread_mutex_unlock(&ctl_lock);
		}
		cnm_ha_poll(ha);
		if (srv != NULL)
			cnm_ctl_server_poll(srv);
		if (reload_signal) {
			json_t *sum = NULL;

			reload_signal = 0;
			if (cnm_control_reload(&ctx, NULL, err, sizeof(err), &sum) == 0) {
				char *txt = json_dumps(sum, JSON_COMPACT);

				printf("cnmux: SIGHUP: reloaded %s: %s\n", ctx.config_path,
					txt ? txt : "");
				free(txt);
				pthread_mutex_lock(&ctl_lock);
				cnm_health_configure(hc, ctx.cfg);
				pthread_mutex_unlock(&ctl_lock);
			} else {
				fprintf(stderr, "cnmux: SIGHUP: reload refused, nothing changed: %s\n",
					err);
			}
			json_decref(sum);
			fflush(stdout);
		}
		if (o.stats_period_s && now >= next_stats) {
			cnm_stats_sum(wst, nw, tot);
			cnm_lb_stats_rebase(dp.lb, tot);
			report(stdout, dp.lb, tot, nw);
			next_stats = now + o.stats_period_s * hz;
		}
		/* the control socket wakes the loop at once: a change takes
		 * effect without waiting out the rest of a millisecond */
		if (srv != NULL)
			cnm_ctl_server_wait(srv, 1);
		else
			rte_delay_us_sleep(1000);
	}
stop:
	dp.quit = 1;
	rte_eal_mp_wait_lcore();
	elapsed_s = (double)(rte_rdtsc() - start) / (double)rte_get_tsc_hz();
	/* ports first: what waits in RX queues (a loopback ring, a NIC ring) is
	 * taken and freed, the PMDs give their mbufs back, so the pool can be
	 * checked to hold every mbuf again */
	memset(&es, 0, sizeof(es));
	(void)rte_eth_stats_get(dp.pub_port, &es);
	for (i = 0; i < nports; i++)
		rx_drain(ports[i]);
	for (i = 0; i < nports; i++) {
		rte_eth_dev_stop(ports[i]);
		rte_eth_dev_close(ports[i]);
	}
	nports = 0;
	ctl_ring_drain(dp.ctl_tx);
	if (tot != NULL) {
		unsigned int in_use = rte_mempool_in_use_count(mp);

		cnm_stats_sum(wst, nw, tot);
		cnm_lb_stats_rebase(dp.lb, tot);
		if (!o.quiet) {
			report(stdout, dp.lb, tot, nw);
			printf("  ran %.3f s: %.3f Mpps received\n", elapsed_s,
				elapsed_s > 0 ? (double)tot->rx / elapsed_s / 1e6 : 0.0);
			printf("  public port: %" PRIu64 " not received for want of mbufs, %" PRIu64
				" missed, %" PRIu64 " RX errors\n", es.rx_nombuf, es.imissed, es.ierrors);
			printf("  mbufs: %u of %u back in the pool%s\n", mp->size - in_use, mp->size,
				in_use ? " (LEAK)" : "");
		}
		if (o.stats_json != NULL &&
				write_json(o.stats_json, dp.lb, tot, in_use, &es, elapsed_s) != 0)
			goto out;
		rc = tot->rx == tot->forwarded + tot->local + tot->dropped ? 0 : 3;
		if (rc == 0 && in_use != 0)
			rc = 4;
	}
out:
	for (i = 0; i < nports; i++) {
		rte_eth_dev_stop(ports[i]);
		rte_eth_dev_close(ports[i]);
	}
	for (i = 0; i < nalloc; i++) {
		cnm_worker_fini(workers[i]);
		rte_free(workers[i]);
	}
	free(tot);
	cnm_ctl_server_free(srv);
	cnm_ha_free(ha);
	cnm_health_free(hc);
	ctl_ring_drain(dp.ctl_tx);
	rte_ring_free(dp.ctl_tx);
	cnm_lb_free(dp.lb);
	rte_free(dp.qsbr);
	/* reload may have replaced the configuration */
	cnm_config_free(ctx.cfg != NULL ? ctx.cfg : cfg);
	rte_eal_cleanup();
	return rc;
}
