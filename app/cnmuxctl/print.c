/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmuxctl's printers: a successful response as a table (docs/control.md
 * says what each response holds). Each verb of ctl_verbs[] (main.c) names
 * its printer.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"

/* ---- tables ---- */

#define TBL_COLS 10

struct table {
	int ncol;
	int nrow;
	char **cell; /* nrow * ncol */
	int indent;
};

static void
tbl_row(struct table *t, ...)
{
	char **p;
	va_list ap;
	int i;

	p = realloc(t->cell, sizeof(*p) * (size_t)(t->nrow + 1) * (size_t)t->ncol);
	if (p == NULL)
		return;
	t->cell = p;
	va_start(ap, t);
	for (i = 0; i < t->ncol; i++) {
		const char *s = va_arg(ap, const char *);

		p[t->nrow * t->ncol + i] = strdup(s != NULL ? s : "-");
	}
	va_end(ap);
	t->nrow++;
}

static void
tbl_print(struct table *t)
{
	int w[TBL_COLS] = { 0 };
	int r, c;

	for (r = 0; r < t->nrow; r++)
		for (c = 0; c < t->ncol; c++) {
			const char *s = t->cell[r * t->ncol + c];

			if (s != NULL && (int)strlen(s) > w[c])
				w[c] = (int)strlen(s);
		}
	for (r = 0; r < t->nrow; r++) {
		printf("%*s", t->indent, "");
		for (c = 0; c < t->ncol; c++) {
			const char *s = t->cell[r * t->ncol + c];

			if (c == t->ncol - 1)
				printf("%s\n", s ? s : "");
			else
				printf("%-*s  ", w[c], s ? s : "");
		}
	}
	for (r = 0; r < t->nrow * t->ncol; r++)
		free(t->cell[r]);
	free(t->cell);
	t->cell = NULL;
	t->nrow = 0;
}

static const char *
u64s(const json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, len, "-");
	return buf;
}

/* "a,b,c" of an array of strings. */
static const char *
joined(const json_t *a, char *buf, size_t len)
{
	const json_t *e;
	size_t i, used = 0;

	buf[0] = '\0';
	json_array_foreach(a, i, e)
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
						 json_is_string(e) ? json_string_value(e) : "?");
	return buf;
}

void
print_services(const json_t *r)
{
	const json_t *svc, *n;
	size_t i, j;

	json_array_foreach(G(r, "services"), i, svc) {
		struct table t = { .ncol = 8 };
		char ports[512], a[32], b[32], c[32], d[32];

		if (i > 0)
			printf("\n");
		tbl_row(&t, "SERVICE", "VIP", "POLICY", "PORTS", "PDT", "ACTIVE", "PACKETS", "BYTES");
		tbl_row(&t, S(svc, "name"), S(svc, "vip"), S(svc, "policy"),
			joined(G(svc, "ports") ? G(svc, "ports") : G(svc, "protocols"), ports,
			       sizeof(ports)),
			u64s(G(svc, "pdt_size"), a, sizeof(a)),
			u64s(G(svc, "active_nodes"), b, sizeof(b)),
			u64s(G(svc, "packets"), c, sizeof(c)),
			u64s(G(svc, "bytes"), d, sizeof(d)));
		tbl_print(&t);
		t.ncol = 6;
		t.indent = 2;
		tbl_row(&t, "NODE", "WEIGHT", "ENTRIES", "STATE", "PACKETS", "BYTES");
		json_array_foreach(G(svc, "nodes"), j, n)
			tbl_row(&t, S(n, "name"), u64s(G(n, "weight"), a, sizeof(a)),
				u64s(G(n, "entries"), b, sizeof(b)),
				json_is_true(G(n, "up")) ? "up" : "down",
				u64s(G(n, "packets"), c, sizeof(c)),
				u64s(G(n, "bytes"), d, sizeof(d)));
		tbl_print(&t);
		/* second chance: only while a window is open, or once it served */
		{
			const json_t *sc = G(svc, "second_chance");

			if (sc != NULL && (json_is_true(G(sc, "open")) ||
					   json_integer_value(G(sc, "packets")) != 0 ||
					   json_integer_value(G(sc, "failed")) != 0))
				printf("  second chance: window %s s, %s, %s packets to the previous "
				       "owner, %s failed\n", u64s(G(sc, "window_s"), a, sizeof(a)),
				       json_is_true(G(sc, "open")) ? "open" : "closed",
				       u64s(G(sc, "packets"), b, sizeof(b)),
				       u64s(G(sc, "failed"), c, sizeof(c)));
		}
	}
	if (json_array_size(G(r, "services")) == 0)
		printf("no services\n");
}

void
print_nodes(const json_t *r)
{
	struct table t = { .ncol = 10 };
	const json_t *n, *w;
	const char *sname;
	size_t i;

	tbl_row(&t, "NODE", "IP", "MAC", "STATE", "CHECK", "LAST CHECK", "FORWARD", "PACKETS",
		"BYTES", "SERVICES (weight/entries)");
	json_array_foreach(G(r, "nodes"), i, n) {
		char svcs[1024], a[32], b[32], c[32], state[32], fwd[96], last[96];
		const json_t *hl = G(G(n, "health"), "last");
		size_t used = 0;

		svcs[0] = '\0';
		json_object_foreach((json_t *)(uintptr_t)G(n, "services"), sname, w)
			if (used < sizeof(svcs))
				used += (size_t)snprintf(svcs + used, sizeof(svcs) - used,
					"%s%s=%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
					used ? "," : "", sname,
					json_integer_value(G(w, "weight")),
					json_integer_value(G(w, "entries")));
		/* "gue:6080 via 192.0.2.1": the method, its port, the gateway */
		snprintf(fwd, sizeof(fwd), "%s", json_is_string(G(n, "forward")) ? S(n, "forward") : "-");
		if (json_is_integer(G(n, "gue_port")))
			snprintf(fwd + strlen(fwd), sizeof(fwd) - strlen(fwd), ":%" JSON_INTEGER_FORMAT,
				 json_integer_value(G(n, "gue_port")));
		if (json_is_string(G(n, "gateway")))
			snprintf(fwd + strlen(fwd), sizeof(fwd) - strlen(fwd), " via %s",
				 S(n, "gateway"));
		snprintf(state, sizeof(state), "%s%s", json_is_true(G(n, "up")) ? "up" : "down",
			 json_is_true(G(n, "default")) ? ",default" : "");
		/* the check: "tcp:80", "icmp", "script"; a bare check_port: "80" */
		if (json_is_object(G(n, "check"))) {
			const json_t *k = G(n, "check");

			snprintf(c, sizeof(c), "%s", json_is_string(G(k, "type")) ? S(k, "type") : "?");
			if (json_is_integer(G(k, "port")))
				snprintf(c + strlen(c), sizeof(c) - strlen(c), ":%" JSON_INTEGER_FORMAT,
					 json_integer_value(G(k, "port")));
		} else if (json_integer_value(G(n, "check_port"))) {
			u64s(G(n, "check_port"), c, sizeof(c));
		} else {
			snprintf(c, sizeof(c), "-");
		}
		/* the last round and how many in a row: "passed x5",
		 * "failed x2: no echo reply"; "-" before the first */
		if (json_is_object(hl)) {
			int passed = json_is_string(G(hl, "result")) &&
				strcmp(S(hl, "result"), "passed") == 0;

			snprintf(last, sizeof(last), "%s x%" JSON_INTEGER_FORMAT "%s%s",
				passed ? "passed" : "failed",
				json_integer_value(G(G(n, "health"), passed ? "passed_in_a_row" :
					"failed_in_a_row")),
				json_is_string(G(hl, "reason")) ? ": " : "",
				json_is_string(G(hl, "reason")) ? S(hl, "reason") : "");
		} else {
			snprintf(last, sizeof(last), "-");
		}
		tbl_row(&t, S(n, "name"), S(n, "ip"),
			json_is_string(G(n, "mac")) ? S(n, "mac") : "unresolved", state, c, last, fwd,
			u64s(G(n, "packets"), a, sizeof(a)), u64s(G(n, "bytes"), b, sizeof(b)),
			svcs[0] ? svcs : "-");
	}
	tbl_print(&t);
}

void
print_pdt(const json_t *r)
{
	struct table t = { .ncol = 2 };
	const json_t *v;
	const char *name;
	json_int_t off = json_integer_value(G(r, "offset"));
	size_t i;
	char a[32];

	printf("service %s: %" JSON_INTEGER_FORMAT " entries, %" JSON_INTEGER_FORMAT
	       " active nodes\n\n", S(r, "service"), json_integer_value(G(r, "size")),
	       json_integer_value(G(r, "active_nodes")));
	tbl_row(&t, "NODE", "ENTRIES");
	json_object_foreach((json_t *)(uintptr_t)G(r, "nodes"), name, v)
		tbl_row(&t, name, u64s(v, a, sizeof(a)));
	tbl_print(&t);
	json_array_foreach(G(r, "entries"), i, v) {
		if (i % 8 == 0)
			printf("\n%8" JSON_INTEGER_FORMAT ":", off + (json_int_t)i);
		printf(i % 8 == 7 || i + 1 == json_array_size(G(r, "entries")) ? " %s" : " %-10s",
		       json_is_string(v) ? json_string_value(v) : "(none)");
	}
	if (json_array_size(G(r, "entries")) > 0)
		printf("\n");
}

void
print_conns(const json_t *r)
{
	struct table t = { .ncol = 6 };
	const json_t *c;
	size_t i;
	char a[32], b[64], d[64];

	tbl_row(&t, "CLIENT", "VIP", "NODE", "SERVICE", "STATE", "EXPIRES_MS");
	json_array_foreach(G(r, "conns"), i, c)
		tbl_row(&t, u64s(G(c, "client"), b, sizeof(b)), u64s(G(c, "vip"), d, sizeof(d)),
			S(c, "node"), S(c, "service"), S(c, "state"),
			u64s(G(c, "expires_ms"), a, sizeof(a)));
	tbl_print(&t);
	printf("%" JSON_INTEGER_FORMAT " connections shown\n", json_integer_value(G(r, "count")));
}

void
print_ha(const json_t *r)
{
	struct table t = { .ncol = 8 };
	const json_t *p, *v;
	const char *k;
	char e[32], q[32], a[32], h[32];
	size_t i;
	int any = 0;

	printf("%s: %s (configured %s), epoch %s, seq %s, digest %s\n", S(r, "id"), S(r, "role"),
	       S(r, "configured_role"), u64s(G(r, "epoch"), e, sizeof(e)),
	       u64s(G(r, "seq"), q, sizeof(q)), S(r, "digest"));
	printf("primary %s, secondary %s\n", json_is_string(G(r, "primary")) ? S(r, "primary") : "none",
	       json_is_string(G(r, "secondary")) ? S(r, "secondary") : "none");
	tbl_row(&t, "PEER", "ADDRESS", "STATE", "ROLE", "EPOCH", "SEQ", "DIGEST", "HEARD_MS_AGO");
	json_array_foreach(G(r, "peers"), i, p)
		tbl_row(&t, S(p, "id"), S(p, "address"),
			json_is_true(G(p, "live")) ? "live" :
			json_is_true(G(p, "connected")) ? "connected" : "down",
			S(p, "role"), u64s(G(p, "epoch"), e, sizeof(e)), u64s(G(p, "seq"), q, sizeof(q)),
			S(p, "digest"), json_integer_value(G(p, "last_heard_ms")) < 0 ? "never" :
			u64s(G(p, "last_heard_ms"), a, sizeof(a)));
	tbl_print(&t);
	printf("rejected:");
	json_object_foreach((json_t *)G(r, "rejected"), k, v)
		if (json_integer_value(v) > 0) {
			printf(" %s %s", k, u64s(v, h, sizeof(h)));
			any = 1;
		}
	printf("%s\n", any ? "" : " none");
	printf("counters:");
	json_object_foreach((json_t *)G(r, "counters"), k, v)
		printf(" %s %s", k, u64s(v, h, sizeof(h)));
	printf("\n");
}

void
print_paths(const json_t *r)
{
	struct table t = { .ncol = 10 };
	char f[32], tf[32], tb[32], pr[32], an[32], dn[32], up[32], du[72], ix[24], po[24];
	const json_t *p;
	size_t i;

	printf("spread %s, reachability check %s every %s ms, out after %s rounds, back after %s\n",
	       json_is_true(G(r, "spread")) ? "on" : "off",
	       json_is_true(G(r, "probing")) ? "on" : "off",
	       u64s(G(r, "interval_ms"), f, sizeof(f)), u64s(G(r, "rounds"), tf, sizeof(tf)),
	       u64s(G(r, "rise"), tb, sizeof(tb)));
	tbl_row(&t, "PATH", "PORT", "STATE", "FORWARDED", "TX_FRAMES", "TX_BYTES", "PROBES",
		"ANSWERS", "DOWNS/UPS", "WHY");
	json_array_foreach(G(r, "paths"), i, p) {
		snprintf(ix, sizeof(ix), "%" JSON_INTEGER_FORMAT, json_integer_value(G(p, "index")));
		snprintf(po, sizeof(po), "%" JSON_INTEGER_FORMAT, json_integer_value(G(p, "port")));
		snprintf(du, sizeof(du), "%s/%s", u64s(G(p, "downs"), dn, sizeof(dn)),
			 u64s(G(p, "ups"), up, sizeof(up)));
		tbl_row(&t, ix, po, json_is_true(G(p, "up")) ? "up" : "down",
			u64s(G(p, "forwarded"), f, sizeof(f)), u64s(G(p, "tx_frames"), tf, sizeof(tf)),
			u64s(G(p, "tx_bytes"), tb, sizeof(tb)), u64s(G(p, "probes"), pr, sizeof(pr)),
			u64s(G(p, "answers"), an, sizeof(an)), du,
			S(p, "why")[0] ? S(p, "why") : "-");
	}
	tbl_print(&t);
}

/* The "drops" of a service, pair or node: "REASON n, ..." of those that
 * counted, "0" when none did. */
static const char *
drops_s(const json_t *drops, char *buf, size_t len)
{
	const char *k;
	const json_t *v;
	size_t used = 0;

	buf[0] = '\0';
	json_object_foreach((json_t *)(uintptr_t)drops, k, v)
		if (json_integer_value(v) != 0 && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s %" JSON_INTEGER_FORMAT,
					 used ? ", " : "", k, json_integer_value(v));
	if (used == 0)
		snprintf(buf, len, "0");
	return buf;
}

static void
print_pb_table(const char *title, const char *unit, const json_t *obj)
{
	struct table t = { .ncol = 4 };
	const char *name;
	const json_t *v;
	char a[32], b[32], c[512], h[3][32];

	snprintf(h[0], sizeof(h[0]), "PACKETS%s", unit);
	snprintf(h[1], sizeof(h[1]), "BYTES%s", unit);
	snprintf(h[2], sizeof(h[2]), "DROPS%s", unit);
	tbl_row(&t, title, h[0], h[1], h[2]);
	json_object_foreach((json_t *)(uintptr_t)obj, name, v)
		tbl_row(&t, name, u64s(G(v, "packets"), a, sizeof(a)),
			u64s(G(v, "bytes"), b, sizeof(b)), drops_s(G(v, "drops"), c, sizeof(c)));
	tbl_print(&t);
}

/* stats --rate: per second, per service and its nodes, per node, drops */
static void
print_rate(const json_t *r)
{
	struct table t = { .ncol = 2 };
	const char *name, *node;
	const json_t *v, *m;
	char a[32], b[160];

	printf("per second, over the last %" JSON_INTEGER_FORMAT " ms\n\n",
	       json_integer_value(G(r, "interval_ms")));
	json_object_foreach((json_t *)(uintptr_t)r, name, v)
		if (json_is_integer(v) && strcmp(name, "interval_ms") != 0)
			tbl_row(&t, name, u64s(v, a, sizeof(a)));
	json_object_foreach((json_t *)(uintptr_t)G(r, "drops"), name, v)
		if (json_integer_value(v) != 0) {
			snprintf(b, sizeof(b), "drops %s", name);
			tbl_row(&t, b, u64s(v, a, sizeof(a)));
		}
	tbl_print(&t);
	printf("\n");
	t.ncol = 4;
	tbl_row(&t, "SERVICE / NODE", "PACKETS/S", "BYTES/S", "DROPS/S");
	json_object_foreach((json_t *)(uintptr_t)G(r, "services"), name, v) {
		char c[32], d[512];

		tbl_row(&t, name, u64s(G(v, "packets"), a, sizeof(a)),
			u64s(G(v, "bytes"), c, sizeof(c)), drops_s(G(v, "drops"), d, sizeof(d)));
		json_object_foreach((json_t *)(uintptr_t)G(v, "nodes"), node, m) {
			snprintf(b, sizeof(b), "  %s", node);
			tbl_row(&t, b, u64s(G(m, "packets"), a, sizeof(a)),
				u64s(G(m, "bytes"), c, sizeof(c)), drops_s(G(m, "drops"), d, sizeof(d)));
		}
	}
	tbl_print(&t);
	printf("\n");
	print_pb_table("NODE", "/S", G(r, "nodes"));
}

void
print_stats(const json_t *r)
{
	struct table t = { .ncol = 2 };
	const char *name;
	const json_t *v;
	char a[32];
	int any = 0;

	if (G(r, "interval_ms") != NULL) {
		print_rate(r);
		return;
	}

	/* every counter, in the order cnmux lists them (cnmux --list-counters) */
	json_object_foreach((json_t *)(uintptr_t)r, name, v)
		if (json_is_integer(v))
			tbl_row(&t, name, u64s(v, a, sizeof(a)));
	tbl_print(&t);
	printf("\ndrops:\n");
	t.indent = 2;
	json_object_foreach((json_t *)(uintptr_t)G(r, "drops"), name, v)
		if (json_integer_value(v) != 0) {
			tbl_row(&t, name, u64s(v, a, sizeof(a)));
			any = 1;
		}
	if (!any)
		printf("  none\n");
	tbl_print(&t);
	printf("\n");
	print_pb_table("SERVICE", "", G(r, "services"));
	printf("\n");
	print_pb_table("NODE", "", G(r, "nodes"));
}

static void
print_changes(const json_t *ch)
{
	static const char *const keys[] = {
		"nodes_added", "nodes_removed", "nodes_changed", "services_added",
		"services_removed", "services_changed", "restart_needed", NULL,
	};
	char buf[4096];
	int i, any = 0;

	for (i = 0; keys[i] != NULL; i++) {
		const json_t *a = G(ch, keys[i]);
		char label[64];
		char *p;

		if (json_array_size(a) == 0)
			continue;
		snprintf(label, sizeof(label), "%s", keys[i]);
		for (p = label; *p; p++)
			if (*p == '_')
				*p = ' ';
		printf("%s: %s\n", label, joined(a, buf, sizeof(buf)));
		any = 1;
	}
	if (json_integer_value(G(ch, "weights_changed")) != 0) {
		printf("member weights changed: %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(G(ch, "weights_changed")));
		any = 1;
	}
	if (!any)
		printf("no change\n");
}

/* ---- responses without a table ---- */

void
print_count(const json_t *r)
{
	printf("%" JSON_INTEGER_FORMAT "\n", json_integer_value(G(r, "count")));
}

void
print_zero(const json_t *r)
{
	(void)r;
	printf("counters zeroed\n");
}

void
print_up_down(const json_t *r)
{
	printf("node %s: %s\n", S(r, "node"), json_is_true(G(r, "up")) ? "up" : "down");
}

/* A change: its summary; anything else: ok. */
void
print_default(const json_t *r)
{
	if (G(r, "changes") != NULL)
		print_changes(G(r, "changes"));
	else
		printf("ok\n");
}

void
print_reload(const json_t *r)
{
	const json_t *ch = G(r, "changes");
	const char *svc;
	json_t *n;

	if (ch != NULL)
		printf("%s %s\n", json_is_true(G(ch, "dry_run")) ?
		       "a reload would apply (dry run: nothing changed)" : "reloaded", S(r, "file"));
	print_default(r);
	json_object_foreach((json_t *)(uintptr_t)G(ch, "entries_moved"), svc, n)
		printf("pdt entries that would change node in %s: %" JSON_INTEGER_FORMAT "\n", svc,
		       json_integer_value(n));
}

void
print_explain(const json_t *r)
{
	const char *conn = S(r, "conn");

	printf("%s\n", S(r, "frame"));
	if (S(r, "service") != NULL) {
		printf("  table     %s (%s)\n", S(r, "table"),
		       strcmp(S(r, "table"), "second") == 0 ? "protocol, address" :
		       "protocol, address, port");
		printf("  service   %s, policy %s\n", S(r, "service"), S(r, "policy"));
		printf("  hash      %s: pdt[%lld] of %lld = %s\n", S(r, "hash"),
		       (long long)json_integer_value(G(r, "pdt_index")),
		       (long long)json_integer_value(G(r, "pdt_size")),
		       S(r, "pdt_node") != NULL ? S(r, "pdt_node") : "(no active node)");
	} else {
		printf("  table     none: no service\n");
	}
	if (conn != NULL && strcmp(conn, "not tracked") != 0) {
		printf("  conn      %s", conn);
		if (S(r, "conn_node") != NULL)
			printf(" (node %s, %s", S(r, "conn_node"), S(r, "conn_state"));
		if (S(r, "conn_node") != NULL && json_is_integer(G(r, "conn_worker")))
			printf(", worker %lld", (long long)json_integer_value(G(r, "conn_worker")));
		if (S(r, "conn_node") != NULL)
			printf(")");
		printf("\n");
	}
	if (S(r, "node") != NULL)
		printf("  decision  %s %s by %s, via %s\n", S(r, "verdict"), S(r, "node"),
		       S(r, "method"), S(r, "via"));
	else if (S(r, "reason") != NULL)
		printf("  decision  drop: %s\n", S(r, "reason"));
	else if (S(r, "reply") != NULL)
		printf("  decision  reply (%s)\n", S(r, "reply"));
	else
		printf("  decision  %s\n", S(r, "verdict"));
}

void
print_save(const json_t *r)
{
	printf("saved to %s\n", S(r, "file"));
}
