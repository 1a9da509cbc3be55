/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmuxctl: the command line of cnmux's control socket (docs/control.md).
 * It turns its arguments into one JSON request, sends it, and prints the
 * response as tables (or raw with -j). Standalone: libc and jansson only.
 *
 * Exit status: 0 ok, 1 the request was refused (error on stderr),
 * 2 usage error or the socket cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#define CTL_SOCKET_DEFAULT "/run/cnmux/cnmux.sock"
#define CTL_RESP_MAX (256u << 20)

static const char usage_text[] =
	"usage: cnmuxctl [-s SOCKET] [-j] COMMAND...\n"
	"\n"
	"  -s SOCKET  control socket (default $CNMUX_SOCKET or " CTL_SOCKET_DEFAULT ")\n"
	"  -j         print the raw JSON response\n"
	"\n"
	"commands:\n"
	"  service show [NAME]\n"
	"  service add --json '{\"name\": ..., \"vip\": ..., ...}'\n"
	"  service add NAME VIP PORTS POLICY NODE=WEIGHT...\n"
	"             PORTS: 80/tcp,443/tcp (weighted, sticky); tcp or tcp,udp (sticky-wild)\n"
	"  service del NAME\n"
	"  node show [NAME]\n"
	"  node add NAME IP [MAC] [SERVICE=WEIGHT...]\n"
	"  node del NAME\n"
	"  node up NAME | node down NAME\n"
	"  node drain NAME [SERVICE]\n"
	"  node weight NAME SERVICE WEIGHT\n"
	"  pdt show SERVICE [OFFSET [COUNT]]\n"
	"  conns show [--service S] [--node N] [--max M]\n"
	"  conns count\n"
	"  stats [--rate]     counters (--rate: per second, over the last interval)\n"
	"  zero               counters shown from now on start at 0 (/metrics goes on)\n"
	"  reload [FILE]\n"
	"  ha [status]\n";

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cnmuxctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (cnmuxctl -h for usage)\n");
	exit(2);
}

/* A number as typed: a JSON integer when it is one, else the text (the
 * daemon then says what it expected). */
static json_t *
num_or_str(const char *s)
{
	unsigned long n;
	char *end;

	if (s[0] >= '0' && s[0] <= '9') {
		errno = 0;
		n = strtoul(s, &end, 10);
		if (errno == 0 && *end == '\0' && n <= (unsigned long)LLONG_MAX)
			return json_integer((json_int_t)n);
	}
	return json_string(s);
}

/* "a=1" into a JSON object; usage error when there is no '='. */
static void
add_weight(json_t *obj, const char *arg, const char *what)
{
	const char *eq = strchr(arg, '=');
	char name[256];

	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof(name))
		usage_fail("expected %s=WEIGHT (got \"%s\")", what, arg);
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	if (json_object_get(obj, name) != NULL)
		usage_fail("%s \"%s\" given twice", what, name);
	json_object_set_new(obj, name, num_or_str(eq + 1));
}

/* Split "a,b,c" into a JSON array of strings. */
static json_t *
split_list(const char *s)
{
	json_t *a = json_array();
	const char *p = s;

	for (;;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		json_array_append_new(a, json_stringn(p, n));
		if (c == NULL)
			break;
		p = c + 1;
	}
	return a;
}

static void
nargs(int argc, int min, int max, const char *cmd)
{
	if (argc < min || argc > max)
		usage_fail("%s: wrong number of arguments", cmd);
}

/* stats [--rate] */
static json_t *
req_stats(json_t *req, int argc, char **argv)
{
	nargs(argc, 1, 2, "stats");
	if (argc == 2 && strcmp(argv[1], "--rate") != 0)
		usage_fail("stats: unknown option \"%s\" (expected --rate)", argv[1]);
	json_object_set_new(req, "cmd", json_string(argc == 2 ? "stats rate" : "stats"));
	return req;
}

/* The request for argv[0..argc-1]. */
static json_t *
build_request(int argc, char **argv)
{
	json_t *req = json_object();
	char cmd[64];
	int i;

	if (argc < 1)
		usage_fail("no command");
	if (strcmp(argv[0], "stats") == 0)
		return req_stats(req, argc, argv);
	if (strcmp(argv[0], "zero") == 0) {
		nargs(argc, 1, 1, "zero");
		json_object_set_new(req, "cmd", json_string("zero"));
		return req;
	}
	if (strcmp(argv[0], "reload") == 0) {
		nargs(argc, 1, 2, "reload");
		json_object_set_new(req, "cmd", json_string("reload"));
		if (argc == 2) {
			char path[PATH_MAX];

			/* the daemon does not share our working directory */
			if (argv[1][0] != '/' && realpath(argv[1], path) != NULL)
				json_object_set_new(req, "path", json_string(path));
			else
				json_object_set_new(req, "path", json_string(argv[1]));
		}
		return req;
	}
	if (strcmp(argv[0], "ha") == 0) {
		nargs(argc, 1, 2, "ha");
		if (argc == 2 && strcmp(argv[1], "status") != 0)
			usage_fail("ha: unknown subcommand \"%s\" (expected status)", argv[1]);
		json_object_set_new(req, "cmd", json_string("ha status"));
		return req;
	}
	if (strcmp(argv[0], "service") != 0 && strcmp(argv[0], "node") != 0 &&
	    strcmp(argv[0], "pdt") != 0 && strcmp(argv[0], "conns") != 0)
		usage_fail("unknown command \"%s\"", argv[0]);
	if (argc < 2)
		usage_fail("%s: expected a subcommand", argv[0]);
	snprintf(cmd, sizeof(cmd), "%s %s", argv[0], argv[1]);
	json_object_set_new(req, "cmd", json_string(cmd));
	argc -= 2;
	argv += 2;

	if (strcmp(cmd, "service show") == 0) {
		nargs(argc, 0, 1, cmd);
		if (argc == 1)
			json_object_set_new(req, "service", json_string(argv[0]));
	} else if (strcmp(cmd, "service add") == 0) {
		json_t *svc, *nodes;

		if (argc >= 1 && strcmp(argv[0], "--json") == 0) {
			json_error_t e;

			nargs(argc, 2, 2, "service add --json");
			svc = json_loads(argv[1], JSON_REJECT_DUPLICATES, &e);
			if (svc == NULL)
				usage_fail("service add --json: column %d: %s", e.column, e.text);
			json_object_set_new(req, "service", svc);
			return req;
		}
		if (argc < 5)
			usage_fail("service add: expected NAME VIP PORTS POLICY NODE=WEIGHT...");
		svc = json_object();
		json_object_set_new(svc, "name", json_string(argv[0]));
		json_object_set_new(svc, "vip", json_string(argv[1]));
		json_object_set_new(svc, "policy", json_string(argv[3]));
		json_object_set_new(svc, strcmp(argv[3], "sticky-wild") == 0 ? "protocols" : "ports",
				    split_list(argv[2]));
		nodes = json_object();
		for (i = 4; i < argc; i++)
			add_weight(nodes, argv[i], "NODE");
		json_object_set_new(svc, "nodes", nodes);
		json_object_set_new(req, "service", svc);
	} else if (strcmp(cmd, "service del") == 0) {
		nargs(argc, 1, 1, cmd);
		json_object_set_new(req, "service", json_string(argv[0]));
	} else if (strcmp(cmd, "node show") == 0) {
		nargs(argc, 0, 1, cmd);
		if (argc == 1)
			json_object_set_new(req, "node", json_string(argv[0]));
	} else if (strcmp(cmd, "node add") == 0) {
		json_t *node, *svcs = NULL;

		if (argc < 2)
			usage_fail("node add: expected NAME IP [MAC] [SERVICE=WEIGHT...]");
		node = json_object();
		json_object_set_new(node, "name", json_string(argv[0]));
		json_object_set_new(node, "ip", json_string(argv[1]));
		i = 2;
		if (argc > 2 && strchr(argv[2], '=') == NULL)
			json_object_set_new(node, "mac", json_string(argv[i++]));
		for (; i < argc; i++) {
			if (svcs == NULL)
				svcs = json_object();
			add_weight(svcs, argv[i], "SERVICE");
		}
		json_object_set_new(req, "node", node);
		if (svcs != NULL)
			json_object_set_new(req, "services", svcs);
	} else if (strcmp(cmd, "node del") == 0 || strcmp(cmd, "node up") == 0 ||
		   strcmp(cmd, "node down") == 0) {
		nargs(argc, 1, 1, cmd);
		json_object_set_new(req, "node", json_string(argv[0]));
	} else if (strcmp(cmd, "node drain") == 0) {
		nargs(argc, 1, 2, cmd);
		json_object_set_new(req, "node", json_string(argv[0]));
		if (argc == 2)
			json_object_set_new(req, "service", json_string(argv[1]));
	} else if (strcmp(cmd, "node weight") == 0) {
		nargs(argc, 3, 3, cmd);
		json_object_set_new(req, "node", json_string(argv[0]));
		json_object_set_new(req, "service", json_string(argv[1]));
		json_object_set_new(req, "weight", num_or_str(argv[2]));
	} else if (strcmp(cmd, "pdt show") == 0) {
		nargs(argc, 1, 3, cmd);
		json_object_set_new(req, "service", json_string(argv[0]));
		if (argc >= 2)
			json_object_set_new(req, "offset", num_or_str(argv[1]));
		if (argc >= 3)
			json_object_set_new(req, "count", num_or_str(argv[2]));
	} else if (strcmp(cmd, "conns count") == 0) {
		nargs(argc, 0, 0, cmd);
	} else if (strcmp(cmd, "conns show") == 0) {
		for (i = 0; i < argc; i += 2) {
			const char *key;

			if (strcmp(argv[i], "--service") == 0)
				key = "service";
			else if (strcmp(argv[i], "--node") == 0)
				key = "node";
			else if (strcmp(argv[i], "--max") == 0)
				key = "max";
			else
				usage_fail("conns show: unknown option \"%s\"", argv[i]);
			if (i + 1 >= argc)
				usage_fail("conns show: %s needs a value", argv[i]);
			json_object_set_new(req, key, strcmp(key, "max") == 0 ?
					    num_or_str(argv[i + 1]) : json_string(argv[i + 1]));
		}
	} else {
		usage_fail("unknown command \"%s\"", cmd);
	}
	return req;
}

/* ---- the exchange ---- */

static char *
exchange(const char *path, const char *line)
{
	struct sockaddr_un sa;
	size_t len = 0, cap = 65536, off = 0, n = strlen(line);
	char *buf;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "cnmuxctl: %s: socket path too long (at most %zu bytes)\n", path,
			sizeof(sa.sun_path) - 1);
		exit(2);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "cnmuxctl: cannot connect to %s: %s (is cnmux running with this control socket? see -s or CNMUX_SOCKET)\n",
			path, strerror(errno));
		exit(2);
	}
	while (off < n) {
		ssize_t w = send(fd, line + off, n - off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "cnmuxctl: %s: cannot send: %s\n", path, strerror(errno));
			exit(2);
		}
		off += (size_t)w;
	}
	buf = malloc(cap);
	if (buf == NULL) {
		fprintf(stderr, "cnmuxctl: out of memory\n");
		exit(2);
	}
	for (;;) {
		ssize_t r;

		if (len + 1 >= cap) {
			char *p;

			if (cap >= CTL_RESP_MAX) {
				fprintf(stderr, "cnmuxctl: %s: response longer than %u bytes\n",
					path, CTL_RESP_MAX);
				exit(2);
			}
			p = realloc(buf, cap * 2);
			if (p == NULL) {
				fprintf(stderr, "cnmuxctl: out of memory\n");
				exit(2);
			}
			buf = p;
			cap *= 2;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "cnmuxctl: %s: cannot read the response: %s\n", path,
				strerror(errno));
			exit(2);
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (memchr(buf + len - (size_t)r, '\n', (size_t)r) != NULL)
			break;
	}
	close(fd);
	buf[len] = '\0';
	if (len == 0) {
		fprintf(stderr, "cnmuxctl: %s: connection closed without a response\n", path);
		exit(2);
	}
	return buf;
}

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

#define G(o, k) json_object_get((o), (k))
#define S(o, k) json_string_value(json_object_get((o), (k)))

static void
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
	}
	if (json_array_size(G(r, "services")) == 0)
		printf("no services\n");
}

static void
print_nodes(const json_t *r)
{
	struct table t = { .ncol = 8 };
	const json_t *n, *w;
	const char *sname;
	size_t i;

	tbl_row(&t, "NODE", "IP", "MAC", "STATE", "CHECK", "PACKETS", "BYTES",
		"SERVICES (weight/entries)");
	json_array_foreach(G(r, "nodes"), i, n) {
		char svcs[1024], a[32], b[32], c[32], state[32];
		size_t used = 0;

		svcs[0] = '\0';
		json_object_foreach((json_t *)(uintptr_t)G(n, "services"), sname, w)
			if (used < sizeof(svcs))
				used += (size_t)snprintf(svcs + used, sizeof(svcs) - used,
					"%s%s=%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
					used ? "," : "", sname,
					json_integer_value(G(w, "weight")),
					json_integer_value(G(w, "entries")));
		snprintf(state, sizeof(state), "%s%s", json_is_true(G(n, "up")) ? "up" : "down",
			 json_is_true(G(n, "default")) ? ",default" : "");
		tbl_row(&t, S(n, "name"), S(n, "ip"),
			json_is_string(G(n, "mac")) ? S(n, "mac") : "unresolved", state,
			json_integer_value(G(n, "check_port")) ?
			u64s(G(n, "check_port"), c, sizeof(c)) : "-",
			u64s(G(n, "packets"), a, sizeof(a)), u64s(G(n, "bytes"), b, sizeof(b)),
			svcs[0] ? svcs : "-");
	}
	tbl_print(&t);
}

static void
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

static void
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

static void
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

static void
print_pb_table(const char *title, const json_t *obj)
{
	struct table t = { .ncol = 3 };
	const char *name;
	const json_t *v;
	char a[32], b[32];

	tbl_row(&t, title, "PACKETS", "BYTES");
	json_object_foreach((json_t *)(uintptr_t)obj, name, v)
		tbl_row(&t, name, u64s(G(v, "packets"), a, sizeof(a)),
			u64s(G(v, "bytes"), b, sizeof(b)));
	tbl_print(&t);
}

static void
print_stats(const json_t *r)
{
	struct table t = { .ncol = 2 };
	const char *name;
	const json_t *v;
	char a[32];
	int any = 0;

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
	print_pb_table("SERVICE", G(r, "services"));
	printf("\n");
	print_pb_table("NODE", G(r, "nodes"));
}

/* stats --rate: per second, per service and its nodes, per node, drops */
static void
print_rate(const json_t *r)
{
	struct table t = { .ncol = 2 };
	const char *name, *node;
	const json_t *v, *m;
	char a[32], b[32];

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
	t.ncol = 3;
	tbl_row(&t, "SERVICE / NODE", "PACKETS/S", "BYTES/S");
	json_object_foreach((json_t *)(uintptr_t)G(r, "services"), name, v) {
		tbl_row(&t, name, u64s(G(v, "packets"), a, sizeof(a)),
			u64s(G(v, "bytes"), b, sizeof(b)));
		json_object_foreach((json_t *)(uintptr_t)G(v, "nodes"), node, m) {
			char label[160];

			snprintf(label, sizeof(label), "  %s", node);
			tbl_row(&t, label, u64s(G(m, "packets"), a, sizeof(a)),
				u64s(G(m, "bytes"), b, sizeof(b)));
		}
	}
	tbl_print(&t);
	printf("\n");
	tbl_row(&t, "NODE", "PACKETS/S", "BYTES/S");
	json_object_foreach((json_t *)(uintptr_t)G(r, "nodes"), name, v)
		tbl_row(&t, name, u64s(G(v, "packets"), a, sizeof(a)),
			u64s(G(v, "bytes"), b, sizeof(b)));
	tbl_print(&t);
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

static void
print_response(const char *cmd, const json_t *r)
{
	if (strcmp(cmd, "service show") == 0)
		print_services(r);
	else if (strcmp(cmd, "node show") == 0)
		print_nodes(r);
	else if (strcmp(cmd, "pdt show") == 0)
		print_pdt(r);
	else if (strcmp(cmd, "conns show") == 0)
		print_conns(r);
	else if (strcmp(cmd, "conns count") == 0)
		printf("%" JSON_INTEGER_FORMAT "\n", json_integer_value(G(r, "count")));
	else if (strcmp(cmd, "stats") == 0)
		print_stats(r);
	else if (strcmp(cmd, "stats rate") == 0)
		print_rate(r);
	else if (strcmp(cmd, "zero") == 0)
		printf("counters zeroed\n");
	else if (strcmp(cmd, "ha status") == 0)
		print_ha(r);
	else if (strcmp(cmd, "node up") == 0 || strcmp(cmd, "node down") == 0)
		printf("node %s: %s\n", S(r, "node"), json_is_true(G(r, "up")) ? "up" : "down");
	else if (G(r, "changes") != NULL) {
		if (strcmp(cmd, "reload") == 0)
			printf("reloaded %s\n", S(r, "file"));
		print_changes(G(r, "changes"));
	} else
		printf("ok\n");
}

int
main(int argc, char **argv)
{
	const char *path = getenv("CNMUX_SOCKET");
	json_t *req, *resp;
	json_error_t e;
	char *line, *text;
	int opt, raw = 0, ret;

	if (path == NULL || path[0] == '\0')
		path = CTL_SOCKET_DEFAULT;
	/* '+': stop at the command, its own options are its own */
	while ((opt = getopt(argc, argv, "+s:jh")) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			raw = 1;
			break;
		case 'h':
			printf("%s", usage_text);
			return 0;
		default:
			fprintf(stderr, "%s", usage_text);
			return 2;
		}
	}
	req = build_request(argc - optind, argv + optind);
	text = json_dumps(req, JSON_COMPACT);
	if (text == NULL || asprintf(&line, "%s\n", text) < 0) {
		fprintf(stderr, "cnmuxctl: out of memory\n");
		return 2;
	}
	free(text);
	text = exchange(path, line);
	free(line);
	resp = json_loads(text, JSON_DISABLE_EOF_CHECK, &e);
	if (!json_is_object(resp)) {
		fprintf(stderr, "cnmuxctl: %s: not a response of cnmux: %s\n", path, e.text);
		return 2;
	}
	ret = json_is_true(G(resp, "ok")) ? 0 : 1;
	if (raw) {
		fputs(text, stdout);
		if (text[strlen(text) - 1] != '\n')
			putchar('\n');
	} else if (ret != 0) {
		fprintf(stderr, "cnmuxctl: %s\n",
			json_is_string(G(resp, "error")) ? S(resp, "error") : "request refused");
	} else {
		print_response(S(req, "cmd"), resp);
	}
	if (raw && ret != 0)
		fprintf(stderr, "cnmuxctl: %s\n",
			json_is_string(G(resp, "error")) ? S(resp, "error") : "request refused");
	free(text);
	json_decref(resp);
	json_decref(req);
	return ret;
}
