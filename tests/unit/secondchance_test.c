/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of second chance (issue 12, item 3; docs/pdt.md "Second
 * chance"): the versions lib/service keeps after a PDT change, and the
 * decision (cnm_decide_burst(), the function every worker runs) over the real
 * rte_hash tables and a real forwarding list. EAL comes up once, without
 * hugepages, in the group setup.
 *
 * Each test builds its own tables from a JSON configuration through
 * cnm_config_parse(), so they are built as cnmux builds them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "cnm_config.h"
#include "cnm_conntrack.h"
#include "cnm_decide.h"
#include "cnm_parse.h"
#include "cnm_pdt.h"
#include "cnm_service.h"

#define DIM(a) (sizeof(a) / sizeof((a)[0]))

#define VIP "198.51.100.10"

/* web: three equal nodes; second_chance_s as given */
#define CFG(global, svc) "{'ports': {'public': 'p0', 'private': ['p1']}, " \
	"'nodes': [" \
	"{'name': 'n1', 'ip': '192.0.2.11', 'mac': '02:00:c0:00:02:0b'}, " \
	"{'name': 'n2', 'ip': '192.0.2.12', 'mac': '02:00:c0:00:02:0c'}, " \
	"{'name': 'n3', 'ip': '192.0.2.13', 'mac': '02:00:c0:00:02:0d'}], " \
	global \
	"'services': [{'name': 'web', 'vip': '" VIP "', 'ports': ['80/tcp'], " \
	" 'policy': 'weighted', 'nodes': {'n1': 1, 'n2': 1, 'n3': 1}" svc "}]}"

#define CFG_ON CFG("'second_chance_s': 30, ", "")
#define CFG_OFF CFG("", "")

static const char *const eal_args[] = {
	"secondchance_test", "--no-huge", "-m", "64", "--no-pci", "--no-shconf",
	"--file-prefix", "second_sc_test", "--log-level", "error", "-l", "0",
};

static unsigned int seq;

static struct cnm_config *
parse_q(const char *text, char *err, size_t errlen)
{
	struct cnm_config *cfg;
	char *s = strdup(text);
	char *c;

	assert_non_null(s);
	for (c = s; *c != '\0'; c++)
		if (*c == '\'')
			*c = '"';
	cfg = cnm_config_parse(s, strlen(s), "t.json", err, errlen);
	free(s);
	return cfg;
}

static struct cnm_lb *
lb_from(const char *text)
{
	char err[CNM_ERR_MAX] = "", name[16];
	struct cnm_config *cfg = parse_q(text, err, sizeof(err));
	struct cnm_lb *lb;

	if (cfg == NULL)
		fail_msg("configuration refused: %s", err);
	snprintf(name, sizeof(name), "sc%u", seq++);
	lb = cnm_lb_create(cfg, name, NULL);
	cnm_config_free(cfg);
	if (lb == NULL)
		fail_msg("cnm_lb_create: %s", rte_strerror(rte_errno));
	return lb;
}

/* A worker's decision state with a forwarding list of @p max entries. */
struct worker {
	struct cnm_svc_cache_ent cache[64];
	struct cnm_frag_ent frag[16];
	struct cnm_wstats ws;
	struct cnm_dstate st;
};

static struct worker *
worker_new(uint32_t max)
{
	struct cnm_ct_timeouts t = { .syn = 30000, .established = 300000, .closing = 10000 };
	struct worker *w = calloc(1, sizeof(*w));
	char name[32];

	assert_non_null(w);
	assert_int_equal(cnm_wstats_init(&w->ws), 0);
	w->st.cache = w->cache;
	w->st.cache_mask = DIM(w->cache) - 1;
	w->st.frag = w->frag;
	w->st.frag_mask = DIM(w->frag) - 1;
	w->st.st = &w->ws;
	w->st.now_ms = cnm_lb_clock_ms();
	snprintf(name, sizeof(name), "sc_ct%u", seq++);
	w->st.ct = cnm_ct_create(name, max, SOCKET_ID_ANY, &t);
	assert_non_null(w->st.ct);
	return w;
}

static void
worker_free(struct worker *w)
{
	cnm_ct_free(w->st.ct);
	cnm_wstats_fini(&w->ws);
	free(w);
}

/* Let the tables in force now settle: second chance keeps no table that was
 * in force for less than CNM_SC_SETTLE_MS. */
static void
settle(void)
{
	usleep((CNM_SC_SETTLE_MS + 50) * 1000);
}

static uint32_t
client_ip(uint32_t i)
{
	/* 203.0.113.0/24 and on: distinct clients */
	return htonl(0xcb007100u + i);
}

/* One TCP segment of client @p i to the VIP, port 80, through the decision. */
static struct cnm_decision
seg(struct cnm_lb *lb, struct worker *w, uint32_t i, uint8_t flags)
{
	struct cnm_decision d;
	struct cnm_pkt pk;
	uint32_t vip;

	assert_int_equal(inet_pton(AF_INET, VIP, &vip), 1);
	memset(&pk, 0, sizeof(pk));
	pk.shape = CNM_SHAPE_FAST4;
	pk.r.src = client_ip(i);
	pk.r.dst = vip;
	pk.r.sport = htons((uint16_t)(10000 + i));
	pk.r.dport = htons(80);
	pk.r.tot = 52;
	pk.r.proto = IPPROTO_TCP;
	pk.r.tcp_flags = flags;
	cnm_decide_burst(cnm_lb_view(lb), &w->st, &pk, 1, &d);
	return d;
}

/* The PDT's node for client @p i now. */
static uint16_t
owner(const struct cnm_lb *lb, uint32_t i)
{
	const struct cnm_svc *s = cnm_lb_view(lb)->svc[cnm_lb_svc_find(lb, "web")];

	return cnm_select4(s, client_ip(i), htons((uint16_t)(10000 + i)));
}

static uint16_t
node(const struct cnm_lb *lb, const char *name)
{
	int id = cnm_lb_node_find(lb, name);

	assert_true(id >= 0);
	return (uint16_t)id;
}

/* Clients whose owner was @p from before a change and is not after it. */
#define CLIENTS 600

struct moved {
	uint16_t before[CLIENTS];
	uint16_t after[CLIENTS];
};

static void
snap(const struct cnm_lb *lb, uint16_t *o)
{
	uint32_t i;

	for (i = 0; i < CLIENTS; i++)
		o[i] = owner(lb, i);
}

/* A client whose node changed from @p from (any node when CNM_NODE_NONE). */
static int
find_moved(const struct moved *m, uint16_t from)
{
	uint32_t i;

	for (i = 0; i < CLIENTS; i++)
		if (m->before[i] != m->after[i] && (from == CNM_NODE_NONE || m->before[i] == from))
			return (int)i;
	fail_msg("no client moved from node %u", from);
	return -1;
}

static int
find_kept(const struct moved *m)
{
	uint32_t i;

	for (i = 0; i < CLIENTS; i++)
		if (m->before[i] == m->after[i])
			return (int)i;
	fail_msg("every client moved");
	return -1;
}

/*
 * The fixture of most tests: web's tables (second chance on, or off), one
 * worker with a list of 1,024 (or 64) entries; drain() then sets a node's
 * weight to 0 after the tables settled, with every client's owner before and
 * after in m, and the worker's clock at the change.
 */
struct fx {
	struct cnm_lb *lb;
	struct worker *w;
	int web;
	struct moved m;
};

static int
fx_new(void **state, const char *cfg, uint32_t max)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->lb = lb_from(cfg);
	f->w = worker_new(max);
	f->web = cnm_lb_svc_find(f->lb, "web");
	assert_true(f->web >= 0);
	*state = f;
	return 0;
}

static int
fx_on(void **state)
{
	return fx_new(state, CFG_ON, 1024);
}

static int
fx_off(void **state)
{
	return fx_new(state, CFG_OFF, 1024);
}

static int
fx_small(void **state)
{
	return fx_new(state, CFG_ON, 64);
}

static int
fx_free(void **state)
{
	struct fx *f = *state;

	worker_free(f->w);
	cnm_lb_free(f->lb);
	free(f);
	return 0;
}

/* @p name drained in web once the tables settled; f->m before and after. */
static void
drain(struct fx *f, const char *name)
{
	settle();
	snap(f->lb, f->m.before);
	assert_int_equal(cnm_lb_member_set(f->lb, (uint16_t)f->web, node(f->lb, name), 0), 0);
	snap(f->lb, f->m.after);
	f->w->st.now_ms = cnm_lb_clock_ms();
}

/*
 * A slot that changed: the established connection the list does not hold
 * goes to the previous owner, even drained (a drained node serves its
 * connections), is recorded, and its next packet hits the list; a client
 * whose slot did not change is not touched; the counters say so, in the
 * totals and in the previous owner's pair slot.
 */
static void
test_changed_slot(void **state)
{
	struct fx *f = *state;
	struct cnm_lb *lb = f->lb;
	struct worker *w = f->w;
	struct cnm_decision d;
	int c, k;

	drain(f, "n1");
	c = find_moved(&f->m, node(lb, "n1"));
	k = find_kept(&f->m);

	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	assert_int_equal(d.via, CNM_VIA_SC);
	assert_int_equal(d.node, node(lb, "n1"));
	assert_int_equal(d.slot, cnm_lb_member_slot(lb, (uint16_t)f->web, node(lb, "n1")));
	assert_int_equal(w->ws.second_chance, 1);
	assert_int_equal(w->ws.member[d.slot].sc, 1);
	/* recorded: the next packet comes from the list */
	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK | 0x08);
	assert_int_equal(d.via, CNM_VIA_CONN);
	assert_int_equal(d.node, node(lb, "n1"));
	assert_int_equal(w->ws.second_chance, 1);
	assert_int_equal(w->ws.conn_hit, 1);

	/* an unchanged slot: the PDT, nothing counted */
	d = seg(lb, w, (uint32_t)k, CNM_TCP_ACK);
	assert_int_equal(d.via, CNM_VIA_PDT);
	assert_int_equal(d.node, f->m.after[k]);
	assert_int_equal(w->ws.second_chance, 1);
	assert_int_equal(w->ws.second_chance_failed, 0);
}

/* A SYN of a moved client follows the current table and is recorded there. */
static void
test_syn_follows_pdt(void **state)
{
	struct fx *f = *state;
	struct cnm_lb *lb = f->lb;
	struct worker *w = f->w;
	struct cnm_decision d;
	int c;

	drain(f, "n2");
	c = find_moved(&f->m, node(lb, "n2"));
	d = seg(lb, w, (uint32_t)c, CNM_TCP_SYN);
	assert_int_equal(d.via, CNM_VIA_PDT);
	assert_int_equal(d.node, f->m.after[c]);
	assert_int_equal(w->ws.conn_new, 1);
	assert_int_equal(w->ws.second_chance, 0);
	/* and its connection stays there */
	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d.via, CNM_VIA_CONN);
	assert_int_equal(d.node, f->m.after[c]);
}

/* The frames of a moved client, @p n of them in one burst, with @p flags each. */
static void
burst(struct cnm_lb *lb, struct worker *w, uint32_t i, const uint8_t *flags, unsigned int n,
		struct cnm_decision *d)
{
	struct cnm_pkt pk[4];
	uint32_t vip;
	unsigned int j;

	assert_true(n <= 4);
	assert_int_equal(inet_pton(AF_INET, VIP, &vip), 1);
	memset(pk, 0, sizeof(pk));
	for (j = 0; j < n; j++) {
		pk[j].shape = CNM_SHAPE_FAST4;
		pk[j].r.src = client_ip(i);
		pk[j].r.dst = vip;
		pk[j].r.sport = htons((uint16_t)(10000 + i));
		pk[j].r.dport = htons(80);
		pk[j].r.tot = 52;
		pk[j].r.proto = IPPROTO_TCP;
		pk[j].r.tcp_flags = flags[j];
	}
	cnm_decide_burst(cnm_lb_view(lb), &w->st, pk, n, d);
}

/*
 * One burst: the list is looked up for the whole burst before anything is
 * recorded. A new connection's SYN and the ACK right behind it both go to
 * the PDT's node (the ACK must not take a second chance the SYN's entry
 * already answers); two segments of a moved connection both go to the
 * previous owner.
 */
static void
test_same_burst(void **state)
{
	static const uint8_t syn_ack[2] = { CNM_TCP_SYN, CNM_TCP_ACK };
	static const uint8_t two_acks[2] = { CNM_TCP_ACK, CNM_TCP_ACK | 0x08 };
	struct fx *f = *state;
	struct cnm_lb *lb = f->lb;
	struct worker *w = f->w;
	const struct moved *m = &f->m;
	struct cnm_decision d[4];
	uint32_t i;
	int c = -1, c2 = -1;

	drain(f, "n1");
	for (i = 0; i < CLIENTS; i++)
		if (m->before[i] == node(lb, "n1") && m->after[i] != m->before[i]) {
			if (c < 0)
				c = (int)i;
			else if (c2 < 0)
				c2 = (int)i;
		}
	assert_true(c >= 0 && c2 >= 0);

	burst(lb, w, (uint32_t)c, syn_ack, 2, d);
	assert_int_equal(d[0].node, m->after[c]);
	assert_int_equal(d[0].via, CNM_VIA_PDT);
	assert_int_equal(d[1].node, m->after[c]);
	assert_int_equal(d[1].via, CNM_VIA_CONN);
	assert_int_equal(w->ws.second_chance, 0);
	/* and the next burst agrees */
	d[0] = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d[0].node, m->after[c]);
	assert_int_equal(d[0].via, CNM_VIA_CONN);

	burst(lb, w, (uint32_t)c2, two_acks, 2, d);
	assert_int_equal(d[0].node, node(lb, "n1"));
	assert_int_equal(d[0].via, CNM_VIA_SC);
	assert_int_equal(d[1].node, node(lb, "n1"));
	assert_int_equal(w->ws.second_chance, 1);
}

/* After the window, a moved client follows the current table. */
static void
test_after_window(void **state)
{
	struct fx *f = *state;
	struct cnm_lb *lb = f->lb;
	struct worker *w = f->w;
	struct cnm_sc_info sc;
	struct cnm_decision d;
	int c;

	drain(f, "n1");
	c = find_moved(&f->m, node(lb, "n1"));
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)f->web, &sc), 0);
	assert_int_equal(sc.window_ms, 30000);
	assert_non_null(sc.prev);
	/* the window is 30 s after the change */
	assert_true((int32_t)(sc.until - sc.since) == 30000);
	w->st.now_ms = sc.until; /* closed at its edge */
	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d.via, CNM_VIA_PDT);
	assert_int_equal(d.node, f->m.after[c]);
	assert_int_equal(w->ws.second_chance, 0);
	w->st.now_ms = sc.until - 1; /* still open */
	d = seg(lb, w, (uint32_t)c + 0, CNM_TCP_ACK);
	/* the list holds nothing for it (a miss records nothing) */
	assert_int_equal(d.via, CNM_VIA_SC);
	assert_int_equal(d.node, node(lb, "n1"));
}

/*
 * A previous owner that was removed, or is down, cannot take it: the packet
 * follows the PDT and second_chance_failed counts it.
 */
static void
test_prev_removed_or_down(void **state)
{
	struct cnm_lb *lb = lb_from(CFG_ON);
	struct worker *w = worker_new(1024);
	int web = cnm_lb_svc_find(lb, "web");
	uint16_t n1 = node(lb, "n1"), n3 = node(lb, "n3");
	struct cnm_sc_info sc;
	struct moved m;
	struct cnm_decision d;
	uint32_t i;
	int c, c3;

	(void)state;
	settle();
	snap(lb, m.before);
	/* n1 removed: its entries in the kept version become CNM_NODE_GONE */
	assert_int_equal(cnm_lb_node_del(lb, n1), 0);
	snap(lb, m.after);
	c = find_moved(&m, n1);
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	assert_non_null(sc.prev);
	for (i = 0; i < sc.prev->size; i++)
		assert_true(sc.prev->entries[i] != n1);
	w->st.now_ms = cnm_lb_clock_ms();
	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d.via, CNM_VIA_PDT);
	assert_int_equal(d.node, m.after[c]);
	assert_int_equal(w->ws.second_chance, 0);
	assert_int_equal(w->ws.second_chance_failed, 1);
	assert_int_equal(w->ws.member[d.slot].sc_fail, 1);

	/* n3 down (health check): its clients moved too, within the window;
	 * the kept version is still the one before n1 went */
	snap(lb, m.before);
	assert_int_equal(cnm_lb_node_set_up(lb, n3, 0), 0);
	snap(lb, m.after);
	c3 = find_moved(&m, n3);
	d = seg(lb, w, (uint32_t)c3, CNM_TCP_ACK | 0x08);
	assert_int_equal(d.via, CNM_VIA_PDT);
	assert_int_equal(d.node, m.after[c3]);
	assert_int_equal(w->ws.second_chance_failed, 2);
	worker_free(w);
	cnm_lb_free(lb);
}

/*
 * Two quick changes: "previous" is the table before the first change of the
 * window, so a connection that was on n1 before both survives both.
 */
static void
test_two_quick_changes(void **state)
{
	struct cnm_lb *lb = lb_from(CFG_ON);
	struct worker *w = worker_new(1024);
	int web = cnm_lb_svc_find(lb, "web");
	uint16_t first[CLIENTS];
	struct cnm_sc_info sc;
	struct moved m;
	struct cnm_decision d;
	int c;

	(void)state;
	/* the first table was in force a while: the two changes are quick */
	settle();
	snap(lb, first);
	memcpy(m.before, first, sizeof(first));
	assert_int_equal(cnm_lb_member_set(lb, (uint16_t)web, node(lb, "n1"), 0), 0);
	assert_int_equal(cnm_lb_member_set(lb, (uint16_t)web, node(lb, "n2"), 0), 0);
	snap(lb, m.after);
	/* every client is on n3 now */
	c = find_moved(&m, node(lb, "n1"));
	assert_int_equal(m.after[c], node(lb, "n3"));
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	w->st.now_ms = cnm_lb_clock_ms();
	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d.via, CNM_VIA_SC);
	assert_int_equal(d.node, node(lb, "n1"));
	c = find_moved(&m, node(lb, "n2"));
	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d.via, CNM_VIA_SC);
	assert_int_equal(d.node, node(lb, "n2"));
	assert_int_equal(w->ws.second_chance, 2);
	/* the kept version is the table of before the first change */
	for (c = 0; c < CLIENTS; c++) {
		const struct cnm_svc *s = cnm_lb_view(lb)->svc[web];
		uint32_t h = cnm_client_hash4(s->hash_key, client_ip((uint32_t)c),
					      htons((uint16_t)(10000 + c)), s->hash_port);

		assert_int_equal(sc.prev->entries[h & sc.prev->mask], first[c]);
	}
	worker_free(w);
	cnm_lb_free(lb);
}

/*
 * Start-up: the nodes come up one by one (their MACs resolved), each a
 * change; a drain follows a little later. "Previous" is the table in force
 * the longest (all three nodes), not the first of the burst (node1 alone),
 * and a table with no node is never kept.
 */
static void
test_startup_burst(void **state)
{
	struct cnm_lb *lb = lb_from("{'ports': {'public': 'p0', 'private': ['p1']}, "
		"'second_chance_s': 30, 'nodes': ["
		"{'name': 'n1', 'ip': '192.0.2.11'}, {'name': 'n2', 'ip': '192.0.2.12'}, "
		"{'name': 'n3', 'ip': '192.0.2.13'}], "
		"'services': [{'name': 'web', 'vip': '" VIP "', 'ports': ['80/tcp'], "
		" 'policy': 'weighted', 'nodes': {'n1': 1, 'n2': 1, 'n3': 1}}]}");
	struct worker *w = worker_new(1024);
	int web = cnm_lb_svc_find(lb, "web");
	static const uint8_t mac[3][6] = {
		{ 2, 0, 0xc0, 0, 2, 0x0b }, { 2, 0, 0xc0, 0, 2, 0x0c }, { 2, 0, 0xc0, 0, 2, 0x0d },
	};
	const char *const names[3] = { "n1", "n2", "n3" };
	struct cnm_sc_info sc;
	struct moved m;
	struct cnm_decision d;
	unsigned int i;
	int c;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(cnm_lb_node_set_mac(lb, node(lb, names[i]), mac[i]), 0);
		assert_int_equal(cnm_lb_node_set_up(lb, node(lb, names[i]), 1), 0);
		if (i == 0) {
			/* from a table with no node: nothing kept */
			assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
			assert_null(sc.prev);
		}
	}
	/* none of the burst's tables was in force long enough to be kept */
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	assert_null(sc.prev);
	settle();
	snap(lb, m.before);
	assert_int_equal(cnm_lb_member_set(lb, (uint16_t)web, node(lb, "n3"), 0), 0);
	snap(lb, m.after);
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	assert_non_null(sc.prev);
	assert_int_equal(sc.prev->n_active, 3);
	w->st.now_ms = cnm_lb_clock_ms();
	c = find_moved(&m, node(lb, "n3"));
	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d.via, CNM_VIA_SC);
	assert_int_equal(d.node, node(lb, "n3"));
	worker_free(w);
	cnm_lb_free(lb);
}

/* Off (the default): no version kept, a moved client follows the PDT. */
static void
test_off(void **state)
{
	struct fx *f = *state;
	struct cnm_lb *lb = f->lb;
	struct worker *w = f->w;
	int web = f->web;
	struct cnm_sc_info sc;
	struct cnm_decision d;
	int c;

	drain(f, "n1");
	c = find_moved(&f->m, node(lb, "n1"));
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	assert_int_equal(sc.window_ms, 0);
	assert_null(sc.prev);
	d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
	assert_int_equal(d.via, CNM_VIA_PDT);
	assert_int_equal(d.node, f->m.after[c]);
	assert_int_equal(w->ws.second_chance + w->ws.second_chance_failed, 0);

	/* turned on at run time: the next change opens a window */
	assert_int_equal(cnm_lb_svc_set_second_chance(lb, (uint16_t)web, 10000), 0);
	settle();
	assert_int_equal(cnm_lb_member_set(lb, (uint16_t)web, node(lb, "n1"), 1), 0);
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	assert_non_null(sc.prev);
	/* and off again: the version goes at once */
	assert_int_equal(cnm_lb_svc_set_second_chance(lb, (uint16_t)web, 0), 0);
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	assert_null(sc.prev);
}

/* A full list: the packet still gets its second chance, every time. */
static void
test_list_full(void **state)
{
	struct fx *f = *state;
	struct cnm_lb *lb = f->lb;
	struct worker *w = f->w;
	struct cnm_decision d;
	uint32_t i;
	int c;

	/* fill the list (64 entries) with other connections */
	for (i = 0; i < 4 * 64; i++)
		(void)seg(lb, w, 1000 + i, CNM_TCP_SYN);
	assert_true(w->ws.conn_full > 0);
	drain(f, "n3");
	c = find_moved(&f->m, node(lb, "n3"));
	for (i = 0; i < 3; i++) {
		d = seg(lb, w, (uint32_t)c, CNM_TCP_ACK);
		assert_int_equal(d.via, CNM_VIA_SC);
		assert_int_equal(d.node, node(lb, "n3"));
	}
	assert_int_equal(w->ws.second_chance, 3);
}

/* A version whose window closed is dropped by the control loop's call. */
static void
test_expire(void **state)
{
	struct cnm_lb *lb = lb_from(CFG("'second_chance_s': 30, ",
					", 'second_chance_s': 1"));
	int web = cnm_lb_svc_find(lb, "web");
	struct cnm_sc_info sc;

	(void)state;
	settle();
	assert_int_equal(cnm_lb_member_set(lb, (uint16_t)web, node(lb, "n1"), 2), 0);
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	assert_int_equal(sc.window_ms, 1000);
	assert_non_null(sc.prev);
	assert_int_equal(cnm_lb_second_chance_expire(lb), 0);
	usleep(1100 * 1000);
	assert_int_equal(cnm_lb_second_chance_expire(lb), 1);
	assert_int_equal(cnm_lb_svc_second_chance(lb, (uint32_t)web, &sc), 0);
	assert_null(sc.prev);
	cnm_lb_free(lb);
}

/* The keys: global default, per-service override, clear errors. */
static void
test_config(void **state)
{
	char err[CNM_ERR_MAX];
	struct cnm_config *cfg;

	(void)state;
	cfg = parse_q(CFG("'second_chance_s': 20, ", ", 'second_chance_s': 0"), err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->second_chance_s, 20);
	assert_int_equal(cfg->services[0].second_chance_s, 0);
	cnm_config_free(cfg);
	cfg = parse_q(CFG("'second_chance_s': 20, ", ""), err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->services[0].second_chance_s, 20);
	cnm_config_free(cfg);

	cfg = parse_q(CFG("'second_chance_s': -1, ", ""), err, sizeof(err));
	assert_null(cfg);
	if (strstr(err, "t.json") == NULL || strstr(err, "second_chance_s") == NULL ||
	    strstr(err, "an integer in [0, 86400]") == NULL)
		fail_msg("unclear error: %s", err);
	cfg = parse_q(CFG("", ", 'second_chance_s': 'long'"), err, sizeof(err));
	assert_null(cfg);
	if (strstr(err, "services[0].second_chance_s") == NULL)
		fail_msg("unclear error: %s", err);
}

static int
group_setup(void **state)
{
	static char buf[DIM(eal_args)][32];
	static char *argv[DIM(eal_args) + 1];
	unsigned int i;

	(void)state;
	for (i = 0; i < DIM(eal_args); i++) {
		snprintf(buf[i], sizeof(buf[i]), "%s", eal_args[i]);
		argv[i] = buf[i];
	}
	if (rte_eal_init((int)DIM(eal_args), argv) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rte_eal_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changed_slot, fx_on, fx_free),
		cmocka_unit_test_setup_teardown(test_syn_follows_pdt, fx_on, fx_free),
		cmocka_unit_test_setup_teardown(test_same_burst, fx_on, fx_free),
		cmocka_unit_test_setup_teardown(test_after_window, fx_on, fx_free),
		cmocka_unit_test(test_prev_removed_or_down),
		cmocka_unit_test(test_two_quick_changes),
		cmocka_unit_test(test_startup_burst),
		cmocka_unit_test_setup_teardown(test_off, fx_off, fx_free),
		cmocka_unit_test_setup_teardown(test_list_full, fx_small, fx_free),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
