/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The price of second chance (docs/pdt.md, docs/performance.md): the
 * decision of one burst of 32 non-SYN TCP frames, cnm_decide_burst() as the
 * worker runs it, over real tables and a real forwarding list, in each case:
 *
 *   hit        the list holds the 32 connections; a window is open and their
 *              entries moved (what a tracked connection pays: nothing new)
 *   nowindow   the list holds none; the service had no change lately (the
 *              miss path of every service with no recent change: one compare)
 *   same       the list holds none; a window is open, their entries did not move
 *   taken      the list holds none; a window is open, their entries moved: each
 *              frame goes to the previous owner; the list is full, so every
 *              burst takes the chance again (the insert fails)
 *   recorded   as taken, but the list has room: each frame's connection is new
 *              (other client ports every burst) and is recorded
 *
 *   sc_bench --case C --iters N    decide N bursts, in bench_one()
 *
 * tests/perf/sc_callgrind.sh runs it under callgrind for two N and prints
 * instructions per frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "cnm_config.h"
#include "cnm_conntrack.h"
#include "cnm_decide.h"
#include "cnm_service.h"

#define BURST 32

static const char config[] =
	"{\"ports\": {\"public\": \"p0\", \"private\": [\"p1\"]}, \"second_chance_s\": 600,"
	" \"nodes\": ["
	"{\"name\": \"n1\", \"ip\": \"192.0.2.11\", \"mac\": \"02:00:c0:00:02:0b\"},"
	"{\"name\": \"n2\", \"ip\": \"192.0.2.12\", \"mac\": \"02:00:c0:00:02:0c\"},"
	"{\"name\": \"n3\", \"ip\": \"192.0.2.13\", \"mac\": \"02:00:c0:00:02:0d\"}],"
	" \"services\": ["
	"{\"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\"],"
	" \"policy\": \"weighted\", \"nodes\": {\"n1\": 1, \"n2\": 1, \"n3\": 1}},"
	"{\"name\": \"calm\", \"vip\": \"198.51.100.11\", \"ports\": [\"80/tcp\"],"
	" \"policy\": \"weighted\", \"nodes\": {\"n1\": 1, \"n2\": 1, \"n3\": 1}}]}";

static struct cnm_svc_cache_ent cache[1024];
static struct cnm_frag_ent frag[16];
static struct cnm_wstats ws;
static struct cnm_dstate st;
static struct cnm_pkt pk[BURST];
static struct cnm_decision dec[BURST];
static const struct cnm_lb_view *view;

/* One burst. Out of line: callgrind collects inside it only. */
static __attribute__((noinline)) void
bench_one(void)
{
	cnm_decide_burst(view, &st, pk, BURST, dec);
}

static void
frame(struct cnm_pkt *p, uint32_t vip, uint32_t src, uint16_t sport, uint8_t flags)
{
	memset(p, 0, sizeof(*p));
	p->shape = CNM_SHAPE_FAST4;
	p->r.src = src;
	p->r.dst = vip;
	p->r.sport = htons(sport);
	p->r.dport = htons(80);
	p->r.tot = 52;
	p->r.proto = IPPROTO_TCP;
	p->r.tcp_flags = flags;
}

int
main(int argc, char **argv)
{
	char *eal[] = { argv[0], "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		"--file-prefix", "second_sc_bench", "--log-level", "error", "-l", "0", NULL };
	struct cnm_ct_timeouts t = { .syn = 600000, .established = 600000, .closing = 600000 };
	const char *c = NULL;
	char err[CNM_ERR_MAX];
	struct cnm_config *cfg;
	struct cnm_lb *lb;
	uint32_t vip, vip_calm, i, n = 0, iters = 1000, moved = 0, same = 0, want;
	uint32_t *msrc, ssrc[BURST];
	uint16_t *mport, sport[BURST];
	const struct cnm_svc *web;
	struct cnm_sc_info sc;
	int k;

	for (k = 1; k + 1 < argc; k += 2) {
		if (strcmp(argv[k], "--case") == 0)
			c = argv[k + 1];
		else if (strcmp(argv[k], "--iters") == 0)
			iters = (uint32_t)strtoul(argv[k + 1], NULL, 10);
	}
	if (c == NULL || (strcmp(c, "hit") != 0 && strcmp(c, "nowindow") != 0 &&
			  strcmp(c, "same") != 0 && strcmp(c, "taken") != 0 &&
			  strcmp(c, "recorded") != 0)) {
		fprintf(stderr, "usage: %s --case hit|nowindow|same|taken|recorded --iters N\n",
			argv[0]);
		return 2;
	}
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	cfg = cnm_config_parse(config, strlen(config), "sc_bench", err, sizeof(err));
	if (cfg == NULL || (lb = cnm_lb_create(cfg, "scb", NULL)) == NULL) {
		fprintf(stderr, "tables: %s\n", cfg == NULL ? err : rte_strerror(rte_errno));
		return 1;
	}
	cnm_config_free(cfg);
	view = cnm_lb_view(lb);
	inet_pton(AF_INET, "198.51.100.10", &vip);
	inet_pton(AF_INET, "198.51.100.11", &vip_calm);
	web = view->svc[cnm_lb_svc_find(lb, "web")];

	/* a window: the first table in force long enough to be kept, then n1 drained */
	usleep((CNM_SC_SETTLE_MS + 50) * 1000);
	if (cnm_lb_member_set(lb, (uint16_t)cnm_lb_svc_find(lb, "web"),
			      (uint16_t)cnm_lb_node_find(lb, "n1"), 0) != 0 ||
	    cnm_lb_svc_second_chance(lb, (uint32_t)cnm_lb_svc_find(lb, "web"), &sc) != 0 ||
	    sc.prev == NULL)
		return 1;
	/* clients whose entry moved (msrc, mport: as many as "recorded" needs,
	 * one new connection per frame) and clients whose entry did not */
	want = strcmp(c, "recorded") == 0 ? iters * BURST : BURST;
	msrc = calloc(want, sizeof(*msrc));
	mport = calloc(want, sizeof(*mport));
	if (msrc == NULL || mport == NULL)
		return 1;
	for (i = 0; moved < want || same < BURST; i++) {
		uint32_t src = htonl(0xcb000000u + i);
		uint16_t p = (uint16_t)(1024 + i % 60000);
		uint32_t h = cnm_client_hash4(web->hash_key, src, htons(p), web->hash_port);
		int mv = sc.prev->entries[h & sc.prev->mask] != cnm_select4(web, src, htons(p));

		if (mv && moved < want) {
			msrc[moved] = src;
			mport[moved++] = p;
		} else if (!mv && same < BURST) {
			ssrc[same] = src;
			sport[same++] = p;
		}
	}

	if (cnm_wstats_init(&ws) != 0)
		return 1;
	st.cache = cache;
	st.cache_mask = 1023;
	st.frag = frag;
	st.frag_mask = 15;
	st.st = &ws;
	st.now_ms = cnm_lb_clock_ms();
	st.ct = cnm_ct_create("scb_ct", strcmp(c, "recorded") == 0 ? 1u << 20 : 1024,
			      SOCKET_ID_ANY, &t);
	if (st.ct == NULL)
		return 1;

	for (i = 0; i < BURST; i++) {
		if (strcmp(c, "same") == 0)
			frame(&pk[i], vip, ssrc[i], sport[i], CNM_TCP_ACK);
		else if (strcmp(c, "nowindow") == 0)
			frame(&pk[i], vip_calm, msrc[i], mport[i], CNM_TCP_ACK);
		else
			frame(&pk[i], vip, msrc[i], mport[i], CNM_TCP_ACK);
	}
	if (strcmp(c, "hit") == 0) {
		/* recorded by second chance once */
		bench_one();
	} else if (strcmp(c, "taken") == 0) {
		/* a full list: other connections' SYNs */
		struct cnm_pkt s;
		struct cnm_decision d;

		for (i = 0; ws.conn_full == 0 && i < 65536; i++) {
			frame(&s, vip, htonl(0xc6336400u + i), 1024, CNM_TCP_SYN);
			cnm_decide_burst(view, &st, &s, 1, &d);
		}
	}
	for (i = 0; i < iters; i++) {
		if (strcmp(c, "recorded") == 0) {
			uint32_t j;

			/* new connections whose entries moved, every burst */
			for (j = 0; j < BURST; j++) {
				pk[j].r.src = msrc[i * BURST + j];
				pk[j].r.sport = htons(mport[i * BURST + j]);
			}
		}
		bench_one();
		n += BURST;
	}
	printf("{\"case\": \"%s\", \"frames\": %u, \"second_chance\": %llu, "
	       "\"second_chance_failed\": %llu, \"conn_hit\": %llu}\n", c, n,
	       (unsigned long long)ws.second_chance,
	       (unsigned long long)ws.second_chance_failed, (unsigned long long)ws.conn_hit);
	cnm_ct_free(st.ct);
	free(msrc);
	free(mport);
	cnm_wstats_fini(&ws);
	cnm_lb_free(lb);
	rte_eal_cleanup();
	return 0;
}
