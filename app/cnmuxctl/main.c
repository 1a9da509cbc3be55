/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmuxctl: the command line of cnmux's control socket (docs/control.md,
 * cnmuxctl(8)). It turns its arguments into one JSON request, sends it, and
 * prints the response as tables (or raw with -j). Standalone: libc and
 * jansson only.
 *
 * Every verb is one entry of ctl_verbs[] (at the end of this file): the
 * words typed, the arguments, the help text, how the request is built and
 * how the response is printed. --help, "help VERB", "VERB --help",
 * --commands (shell completion) and the dispatch all read that table.
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
#include <pcap/pcap.h>

#include "cnm_version.h"
#include "ctl.h"

#define CTL_SOCKET_DEFAULT "/run/cnmux/cnmux.sock"
#define CTL_RESP_MAX (256u << 20)

struct ctl_verb;

/* the verb being run, for usage errors */
static const struct ctl_verb *cur_verb;

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_fail(const char *fmt, ...);

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

/* ---- requests ---- */

/*
 * One verb: the words typed, the request it sends, how its response is
 * printed. A new verb is one more entry in ctl_verbs[] below; the help,
 * the list for shell completion and the dispatch follow from it.
 */
struct ctl_verb {
	/* the words typed ("node add"); also the request's "cmd" unless .cmd */
	const char *name;
	/* the request's "cmd" when it is not the name */
	const char *cmd;
	/* the arguments after the name; '\n' separates alternative forms */
	const char *args;
	/* what it does and what the arguments mean, lines ending in '\n' */
	const char *help;
	/* how many arguments after the name; max -1: the builder counts */
	int min_args;
	int max_args;
	/* build_positional(): the request key of each argument, in order */
	const char *keys[3];
	/* fills the request from the arguments after the name */
	void (*build)(const struct ctl_verb *v, json_t *req, int argc, char **argv);
	/* prints a successful response; NULL: print_default() */
	void (*print)(const json_t *resp);
};

/* Request keys whose value is a number. */
static int
num_key(const char *key)
{
	return strcmp(key, "weight") == 0 || strcmp(key, "offset") == 0 ||
	       strcmp(key, "count") == 0 || strcmp(key, "max") == 0;
}

/* Argument i goes to v->keys[i]. */
static void
build_positional(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && i < (int)(sizeof(v->keys) / sizeof(v->keys[0])); i++)
		json_object_set_new(req, v->keys[i], num_key(v->keys[i]) ?
				    num_or_str(argv[i]) : json_string(argv[i]));
}

static void
build_service_add(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	json_t *svc, *nodes;
	int i;

	(void)v;
	if (argc >= 1 && strcmp(argv[0], "--json") == 0) {
		json_error_t e;

		if (argc != 2)
			usage_fail("--json takes one argument, the service object");
		svc = json_loads(argv[1], JSON_REJECT_DUPLICATES, &e);
		if (svc == NULL)
			usage_fail("--json: column %d: %s", e.column, e.text);
		json_object_set_new(req, "service", svc);
		return;
	}
	if (argc < 5)
		usage_fail("expected NAME VIP PORTS POLICY NODE=WEIGHT...");
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
}

/* "ADDR:PORT", "[ADDR6]:PORT" or a bare address into the packet object */
static void
explain_endpoint(json_t *pkt, const char *akey, const char *pkey, const char *arg, int ports)
{
	char addr[64];
	const char *colon = strrchr(arg, ':'), *port = NULL;
	size_t len;

	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');

		if (end == NULL)
			usage_fail("\"%s\": expected [IPV6]:PORT", arg);
		len = (size_t)(end - arg - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			usage_fail("\"%s\": expected [IPV6]:PORT", arg);
		arg++;
	} else if (colon != NULL && strchr(arg, ':') == colon) {
		/* one colon: IPv4:PORT (an IPv6 address has several) */
		len = (size_t)(colon - arg);
		port = colon + 1;
	} else {
		len = strlen(arg);
	}
	if (len >= sizeof(addr))
		usage_fail("\"%s\": not an address", arg);
	memcpy(addr, arg, len);
	addr[len] = '\0';
	json_object_set_new(pkt, akey, json_string(addr));
	if (ports && port == NULL)
		usage_fail("\"%s\": expected ADDR:PORT (or [IPV6]:PORT)", arg);
	if (port != NULL)
		json_object_set_new(pkt, pkey, num_or_str(port));
}

/* explain PROTO SRC DST [FLAGS] | explain --hex FRAME (--pcap: main()) */
static void
build_explain(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	json_t *pkt;
	int ports;

	(void)v;
	if (strcmp(argv[0], "--hex") == 0) {
		if (argc != 2)
			usage_fail("--hex takes one argument, the frame in hexadecimal");
		json_object_set_new(req, "frame", json_string(argv[1]));
		return;
	}
	if (argc < 3 || argc > 4)
		usage_fail("expected PROTO SRC DST [FLAGS]");
	ports = strcmp(argv[0], "icmp") != 0;
	pkt = json_object();
	json_object_set_new(pkt, "proto", json_string(argv[0]));
	explain_endpoint(pkt, "src", "sport", argv[1], ports);
	explain_endpoint(pkt, "dst", "dport", argv[2], ports);
	if (argc == 4)
		json_object_set_new(pkt, "flags", json_string(argv[3]));
	json_object_set_new(req, "packet", pkt);
}

/*
 * node add's options: one per key of a node in the configuration file
 * (docs/config.md, "nodes") besides "name" and "ip", its first two
 * arguments. A new key of a node is one more row.
 */
static const struct {
	const char *opt;
	const char *key;
	int num; /* an integer in the file; 2: a JSON value */
} node_opts[] = {
	{ "--mac", "mac", 0 },
	{ "--check-port", "check_port", 1 },
	{ "--check", "check", 2 },
	{ "--forward", "forward", 0 },
	{ "--gateway", "gateway", 0 },
	{ "--gue-port", "gue_port", 1 },
};

static void
node_set(json_t *node, const char *key, json_t *val)
{
	if (json_object_get(node, key) != NULL) {
		json_decref(val);
		usage_fail("\"%s\" given twice", key);
	}
	json_object_set_new(node, key, val);
}

/* The JSON value of option @p opt; a usage error when it does not parse. */
static json_t *
json_arg(const char *opt, const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);

	if (v == NULL)
		usage_fail("%s: expected JSON: %s", opt, e.text);
	return v;
}

/* node check NAME CHECK: CHECK is the JSON object, or "none" (null). */
static void
build_node_check(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	(void)v;
	(void)argc;
	json_object_set_new(req, "node", json_string(argv[0]));
	json_object_set_new(req, "check", strcmp(argv[1], "none") == 0 ? json_null() :
			    json_arg("CHECK", argv[1]));
}

static void
build_node_add(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	static const char *const pos_keys[] = { "name", "ip", "mac" };
	json_t *node = json_object(), *svcs = NULL, *from_json = NULL, *val;
	const char *key;
	size_t k;
	int i, pos = 0;

	(void)v;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0) {
			json_error_t e;

			if (i + 1 >= argc)
				usage_fail("--json needs a value, the node object");
			if (from_json != NULL)
				usage_fail("--json given twice");
			from_json = json_loads(argv[++i], JSON_REJECT_DUPLICATES, &e);
			if (!json_is_object(from_json))
				usage_fail("--json: expected a JSON object like one entry of \"nodes\" in the configuration file%s%s",
					   from_json == NULL ? ": " : "", from_json == NULL ? e.text : "");
			continue;
		}
		if (strncmp(a, "--", 2) == 0) {
			for (k = 0; k < sizeof(node_opts) / sizeof(node_opts[0]); k++)
				if (strcmp(a, node_opts[k].opt) == 0)
					break;
			if (k == sizeof(node_opts) / sizeof(node_opts[0]))
				usage_fail("unknown option \"%s\" (expected --json, --mac, --check-port, --check, --forward, --gateway or --gue-port)",
					   a);
			if (i + 1 >= argc)
				usage_fail("%s needs a value", a);
			i++;
			node_set(node, node_opts[k].key, node_opts[k].num == 2 ?
				 json_arg(a, argv[i]) : node_opts[k].num ?
				 num_or_str(argv[i]) : json_string(argv[i]));
			continue;
		}
		if (strchr(a, '=') != NULL) {
			if (svcs == NULL)
				svcs = json_object();
			add_weight(svcs, a, "SERVICE");
			continue;
		}
		if (pos == 3)
			usage_fail("unexpected argument \"%s\" (expected NAME IP [MAC] [OPTION...] [SERVICE=WEIGHT...])",
				   a);
		node_set(node, pos_keys[pos++], json_string(a));
	}
	if (from_json != NULL)
		json_object_foreach(from_json, key, val)
			node_set(node, key, json_incref(val));
	json_decref(from_json);
	if (json_object_get(node, "name") == NULL || json_object_get(node, "ip") == NULL)
		usage_fail("expected NAME IP (or --json with \"name\" and \"ip\")");
	json_object_set_new(req, "node", node);
	if (svcs != NULL)
		json_object_set_new(req, "services", svcs);
}

static void
build_conns_show(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	int i;

	(void)v;
	for (i = 0; i < argc; i += 2) {
		const char *key;

		if (strcmp(argv[i], "--service") == 0)
			key = "service";
		else if (strcmp(argv[i], "--node") == 0)
			key = "node";
		else if (strcmp(argv[i], "--max") == 0)
			key = "max";
		else
			usage_fail("unknown option \"%s\" (expected --service, --node or --max)",
				   argv[i]);
		if (i + 1 >= argc)
			usage_fail("%s needs a value", argv[i]);
		json_object_set_new(req, key, num_key(key) ?
				    num_or_str(argv[i + 1]) : json_string(argv[i + 1]));
	}
}

static void
build_reload(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	char path[PATH_MAX];

	(void)v;
	if (argc > 0 && strcmp(argv[0], "--dry-run") == 0) {
		json_object_set_new(req, "dry_run", json_true());
		argc--;
		argv++;
	}
	if (argc > 1)
		usage_fail("expected [--dry-run] [FILE]");
	if (argc == 0)
		return;
	/* the daemon does not share our working directory */
	if (argv[0][0] != '/' && realpath(argv[0], path) != NULL)
		json_object_set_new(req, "path", json_string(path));
	else
		json_object_set_new(req, "path", json_string(argv[0]));
}

/* save [FILE]: a file that may not exist yet, made absolute from here */
static void
build_save(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	char cwd[PATH_MAX], *path;

	(void)v;
	if (argc == 0)
		return;
	if (argv[0][0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL) {
		json_object_set_new(req, "path", json_string(argv[0]));
		return;
	}
	if (asprintf(&path, "%s/%s", cwd, argv[0]) < 0)
		usage_fail("out of memory");
	json_object_set_new(req, "path", json_string(path));
	free(path);
}

static void
build_ha(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	(void)v;
	(void)req;
	if (argc == 1 && strcmp(argv[0], "status") != 0)
		usage_fail("unknown subcommand \"%s\" (expected status)", argv[0]);
}

/* stats [--rate]: --rate asks for the rates ("stats rate") */
static void
build_stats(const struct ctl_verb *v, json_t *req, int argc, char **argv)
{
	(void)v;
	if (argc == 1 && strcmp(argv[0], "--rate") != 0)
		usage_fail("unknown option \"%s\" (expected --rate)", argv[0]);
	if (argc == 1)
		json_object_set_new(req, "cmd", json_string("stats rate"));
}

/* Every verb, in the order --help lists them. */
static const struct ctl_verb ctl_verbs[] = {
	{
		.name = "service show", .args = "[NAME]",
		.help = "Show one service, or all: VIP, policy, ports, PDT size, active nodes,\n"
			"counters, and each node's weight, PDT entries and state.\n",
		.min_args = 0, .max_args = 1, .keys = { "service" },
		.build = build_positional, .print = print_services,
	},
	{
		.name = "service add",
		.args = "NAME VIP PORTS POLICY NODE=WEIGHT...\n--json SERVICE",
		.help = "Add a service. PORTS: 80/tcp,443/tcp (weighted, sticky); tcp or tcp,udp\n"
			"(sticky-wild). POLICY: weighted, sticky or sticky-wild. Each NODE=WEIGHT\n"
			"names a configured node and its weight (0: drained).\n"
			"--json SERVICE: the service as one entry of \"services\" in the\n"
			"configuration file, with every key it allows (pdt_size, arp, ...).\n",
		.min_args = 2, .max_args = -1, .build = build_service_add,
	},
	{
		.name = "service del", .args = "NAME",
		.help = "Remove a service; its VIP and ports are no longer scalable.\n",
		.min_args = 1, .max_args = 1, .keys = { "service" },
		.build = build_positional,
	},
	{
		.name = "node show", .args = "[NAME]",
		.help = "Show one node, or all: address, MAC (or unresolved), state, health\n"
			"check port, counters, and its weight and PDT entries per service.\n",
		.min_args = 0, .max_args = 1, .keys = { "node" },
		.build = build_positional, .print = print_nodes,
	},
	{
		.name = "node add",
		.args = "NAME IP [MAC] [OPTION...] [SERVICE=WEIGHT...]\n"
			"--json NODE [OPTION...] [SERVICE=WEIGHT...]",
		.help = "Add a node, and with SERVICE=WEIGHT make it a member of those services.\n"
			"It takes every key a node has in the configuration file (cnmux.json(5)):\n"
			"  MAC, --mac MAC       its MAC address; without one cnmux resolves it\n"
			"                       with ARP / ND and keeps it down until then\n"
			"  --check-port PORT    TCP port the health checker connects to (1-65535)\n"
			"  --check JSON         its health check, e.g. '{\"type\": \"icmp\"}' (see\n"
			"                       \"node check\")\n"
			"  --forward METHOD     mac (default), ipip or gue (docs/forwarding.md)\n"
			"  --gateway IP         tunnels: the router in front of the node\n"
			"  --gue-port PORT      gue: the outer UDP destination port (default 6080)\n"
			"  --json NODE          the node as one entry of \"nodes\" in the file\n"
			"cnmux checks the node with the configuration file's own rules.\n",
		.min_args = 1, .max_args = -1, .build = build_node_add,
	},
	{
		.name = "node del", .args = "NAME",
		.help = "Remove a node from every service and from the configuration; its\n"
			"tracked connections then follow the PDT.\n",
		.min_args = 1, .max_args = 1, .keys = { "node" },
		.build = build_positional,
	},
	{
		.name = "node up", .args = "NAME",
		.help = "Bring a node up (back into the PDTs of its services); the health\n"
			"checker may take it down again.\n",
		.min_args = 1, .max_args = 1, .keys = { "node" },
		.build = build_positional, .print = print_up_down,
	},
	{
		.name = "node down", .args = "NAME",
		.help = "Take a node down: out of every PDT, its tracked connections follow\n"
			"the PDT. It stays down until \"node up\".\n",
		.min_args = 1, .max_args = 1, .keys = { "node" },
		.build = build_positional, .print = print_up_down,
	},
	{
		.name = "node drain", .args = "NAME [SERVICE]",
		.help = "Set the node's weight to 0 in one service, or in all of them: no new\n"
			"clients, tracked connections stay.\n",
		.min_args = 1, .max_args = 2, .keys = { "node", "service" },
		.build = build_positional,
	},
	{
		.name = "node weight", .args = "NAME SERVICE WEIGHT",
		.help = "Set the node's weight in a service (0 to 65535; 0 drains it).\n",
		.min_args = 3, .max_args = 3, .keys = { "node", "service", "weight" },
		.build = build_positional,
	},
	{
		.name = "node check", .args = "NAME CHECK",
		.help = "Give a node another health check, from its next round (docs/health.md).\n"
			"CHECK: the node's \"check\" as in the configuration file, in JSON, e.g.\n"
			"'{\"type\": \"tcp\", \"port\": 80, \"rise\": 2}'; \"type\" is arp, nd, icmp,\n"
			"tcp (half-open, on the private path), http (\"path\", \"expect\"; on the\n"
			"private path), connect (kernel socket) or script (\"command\"); or\n"
			"none: back to the global probe. It replaces the node's check_port.\n"
			"Bad input changes nothing.\n",
		.min_args = 2, .max_args = 2, .keys = { "node", "check" },
		.build = build_node_check,
	},
	{
		.name = "pdt show", .args = "SERVICE [OFFSET [COUNT]]",
		.help = "Show a service's packet distribution table: entries per node, and\n"
			"COUNT entries from OFFSET (none unless OFFSET is given).\n",
		.min_args = 1, .max_args = 3, .keys = { "service", "offset", "count" },
		.build = build_positional, .print = print_pdt,
	},
	{
		.name = "conns show", .args = "[--service S] [--node N] [--max M]",
		.help = "Show tracked TCP connections (the forwarding list), optionally of one\n"
			"service or node, at most M of them.\n",
		.min_args = 0, .max_args = 6, .build = build_conns_show, .print = print_conns,
	},
	{
		.name = "conns count", .args = "",
		.help = "Print how many TCP connections are tracked now.\n",
		.min_args = 0, .max_args = 0, .build = build_positional, .print = print_count,
	},
	{
		.name = "stats", .args = "[--rate]",
		.help = "Show every counter (cnmux --list-counters), the drops by reason, and\n"
			"packets and bytes per service and per node. -j: the JSON.\n"
			"--rate: each counter per second over the last second, per service and\n"
			"its nodes, per node (docs/metrics.md).\n",
		.min_args = 0, .max_args = 1, .build = build_stats, .print = print_stats,
	},
	{
		.name = "zero", .args = "",
		.help = "Zero the counters as stats, telemetry, the report and --stats-json show\n"
			"them (like ipvsadm -Z); gauges stay, /metrics keeps counting.\n",
		.min_args = 0, .max_args = 0, .build = build_positional, .print = print_zero,
	},
	{
		.name = "explain", .args = "PROTO SRC DST [FLAGS]\n--hex FRAME\n--pcap FILE",
		.help = "Say what cnmux would do with a packet now, and why: the table that\n"
			"matched (first or second), the service and policy, the client hash\n"
			"and PDT entry, whether a worker's forwarding list holds the connection\n"
			"(and which worker), the node and forwarding method, or the drop\n"
			"reason. It runs the workers' own parser and decision on the live\n"
			"tables and changes nothing.\n"
			"PROTO is tcp, udp or icmp; SRC and DST are ADDR:PORT or [IPV6]:PORT\n"
			"(bare addresses for icmp); FLAGS are TCP flags as tcpdump writes\n"
			"them (S, F, R, P, . or A; default: a bare ACK).\n"
			"--hex: an Ethernet frame in hexadecimal. --pcap: every frame of a\n"
			"capture, one line each (each on its own, against the live tables;\n"
			"`cnmux --explain` replays a capture offline, with state).\n",
		.min_args = 2, .max_args = 4, .build = build_explain, .print = print_explain,
	},
	{
		.name = "save", .args = "[FILE]",
		.help = "Write the running configuration (every change made through this\n"
			"socket included) to FILE, or to the configured control.state_file,\n"
			"as a configuration file: started from it, a cnmux holds the same\n"
			"tables (ipvsadm-save). Written aside and renamed over FILE.\n",
		.min_args = 0, .max_args = 1, .build = build_save, .print = print_save,
	},
	{
		.name = "reload", .args = "[--dry-run] [FILE]",
		.help = "Read the configuration file again (or FILE) and apply only what\n"
			"changed; a file with an error changes nothing and the error is shown.\n"
			"The same as SIGHUP, but it waits for the result (systemctl reload).\n"
			"--dry-run: say what it would change (services, nodes, weights, and\n"
			"per service the PDT entries that would change node) and change\n"
			"nothing.\n",
		.min_args = 0, .max_args = 2, .build = build_reload, .print = print_reload,
	},
	{
		.name = "path show", .args = "",
		.help = "Show the private paths: whether a node's frames are spread over them,\n"
			"the reachability check's settings, and per path its state (up, link,\n"
			"reachable, why it is down), frames forwarded on it, the port's TX\n"
			"counters, probes and answers, up/down transitions (docs/paths.md).\n",
		.min_args = 0, .max_args = 0, .build = build_positional, .print = print_paths,
	},
	{
		.name = "ha", .cmd = "ha status", .args = "[status]",
		.help = "Show the high-availability state: role, epoch, sequence, digest,\n"
			"peers, rejected messages (docs/ha.md).\n",
		.min_args = 0, .max_args = 1, .build = build_ha, .print = print_ha,
	},
};

#define N_VERBS (sizeof(ctl_verbs) / sizeof(ctl_verbs[0]))

/* How many words of argv the verb's name takes, 0 when it does not match. */
static int
verb_match(const struct ctl_verb *v, int argc, char **argv)
{
	const char *p = v->name;
	int n = 0;

	while (n < argc) {
		size_t len = strcspn(p, " ");

		if (strlen(argv[n]) != len || strncmp(argv[n], p, len) != 0)
			return 0;
		n++;
		if (p[len] == '\0')
			return n;
		p += len + 1;
	}
	return 0;
}

static const struct ctl_verb *
verb_find(int argc, char **argv, int *words)
{
	size_t i;

	for (i = 0; i < N_VERBS; i++) {
		*words = verb_match(&ctl_verbs[i], argc, argv);
		if (*words > 0)
			return &ctl_verbs[i];
	}
	return NULL;
}

/* Does a verb's name start with the word @p w? */
static int
verb_in_group(const struct ctl_verb *v, const char *w)
{
	size_t len = strlen(w);

	return strncmp(v->name, w, len) == 0 && (v->name[len] == ' ' || v->name[len] == '\0');
}

/* "NAME ARGS" of each form of the verb, after @p lead. */
static void
print_synopsis(FILE *f, const struct ctl_verb *v, const char *lead, const char *lead2)
{
	const char *p = v->args;
	int first = 1;

	do {
		size_t len = strcspn(p, "\n");

		fprintf(f, "%s%s%s%.*s\n", first ? lead : lead2, v->name, len ? " " : "",
			(int)len, p);
		first = 0;
		p += len;
	} while (*p++ != '\0');
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: cnmuxctl [-s SOCKET] [-j] COMMAND [ARGUMENT...]\n"
		"       cnmuxctl help [COMMAND]   or   cnmuxctl COMMAND --help\n"
		"       cnmuxctl --version\n"
		"\n"
		"  -s SOCKET      control socket (default $CNMUX_SOCKET or " CTL_SOCKET_DEFAULT ")\n"
		"  -j             print the raw JSON response\n"
		"  -h, --help     this text\n"
		"  -V, --version  print the version and exit\n"
		"  --commands     print the commands, one per line (for shell completion)\n"
		"\n"
		"commands:\n");
	for (i = 0; i < N_VERBS; i++)
		print_synopsis(f, &ctl_verbs[i], "  ", "  ");
	fprintf(f, "\n\"cnmuxctl help COMMAND\" says more; cnmuxctl(8) and docs/control.md say all.\n");
}

static void
verb_help(const struct ctl_verb *v)
{
	print_synopsis(stdout, v, "usage: cnmuxctl [-s SOCKET] [-j] ",
		       "       cnmuxctl [-s SOCKET] [-j] ");
	printf("\n%s", v->help);
}

/* "help [COMMAND...]": 0, or 2 when there is no such command. */
static int
help(int argc, char **argv)
{
	const struct ctl_verb *v;
	size_t i;
	int words, any = 0;

	if (argc == 0) {
		usage(stdout);
		return 0;
	}
	v = verb_find(argc, argv, &words);
	if (v != NULL && words == argc) {
		verb_help(v);
		return 0;
	}
	/* a group: "help node" */
	if (argc == 1)
		for (i = 0; i < N_VERBS; i++)
			if (verb_in_group(&ctl_verbs[i], argv[0])) {
				if (any)
					printf("\n");
				verb_help(&ctl_verbs[i]);
				any = 1;
			}
	if (any)
		return 0;
	fprintf(stderr, "cnmuxctl: help: no command \"%s%s%s\" (cnmuxctl --help lists them)\n",
		argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
	return 2;
}

static void
usage_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cnmuxctl: ");
	if (cur_verb != NULL)
		fprintf(stderr, "%s: ", cur_verb->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cur_verb != NULL)
		fprintf(stderr, " (cnmuxctl help %s)\n", cur_verb->name);
	else
		fprintf(stderr, " (cnmuxctl --help)\n");
	exit(2);
}

/* The verb of argv[0..argc-1] and its request. */
static json_t *
build_request(int argc, char **argv, const struct ctl_verb **vp)
{
	const struct ctl_verb *v;
	json_t *req;
	char names[1024];
	size_t i, used = 0;
	int words;

	if (argc < 1)
		usage_fail("no command");
	v = verb_find(argc, argv, &words);
	if (v == NULL) {
		/* "node frobnicate": say which node commands there are */
		names[0] = '\0';
		for (i = 0; i < N_VERBS; i++)
			if (verb_in_group(&ctl_verbs[i], argv[0]) && used < sizeof(names))
				used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
							 used ? ", " : "", ctl_verbs[i].name);
		if (used > 0)
			usage_fail("unknown command \"%s%s%s\" (expected one of: %s)", argv[0],
				   argc > 1 ? " " : "", argc > 1 ? argv[1] : "", names);
		usage_fail("unknown command \"%s\"", argv[0]);
	}
	cur_verb = v;
	argc -= words;
	argv += words;
	/* "node add --help", "node add n1 --help": --help anywhere asks for help
	 * (so a node or service named "--help" cannot be given here) */
	for (i = 0; i < (size_t)argc; i++)
		if (strcmp(argv[i], "--help") == 0) {
			verb_help(v);
			exit(0);
		}
	if (argc < v->min_args || (v->max_args >= 0 && argc > v->max_args))
		usage_fail("wrong number of arguments (expected %s%s%.*s)", v->name,
			   v->args[0] ? " " : " alone", (int)strcspn(v->args, "\n"), v->args);
	req = json_object();
	json_object_set_new(req, "cmd", json_string(v->cmd != NULL ? v->cmd : v->name));
	v->build(v, req, argc, argv);
	*vp = v;
	return req;
}

/* explain --pcap FILE: one request per frame, one line per answer */
static int
explain_pcap(const char *path, const char *file, int raw)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned long n = 0;
	pcap_t *pc;
	int rc = 0, r;

	pc = pcap_open_offline(file, errbuf);
	if (pc == NULL) {
		fprintf(stderr, "cnmuxctl: explain: %s\n", errbuf);
		return 2;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "cnmuxctl: explain: %s: not an Ethernet capture\n", file);
		pcap_close(pc);
		return 2;
	}
	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		char *line, *text, *hex = malloc(2 * (size_t)h->caplen + 1);
		json_t *resp;
		json_error_t e;
		uint32_t i;

		n++;
		if (hex == NULL)
			return 2;
		for (i = 0; i < h->caplen; i++)
			sprintf(hex + 2 * i, "%02x", data[i]);
		if (asprintf(&line, "{\"cmd\": \"explain\", \"frame\": \"%s\"}\n", hex) < 0)
			return 2;
		free(hex);
		text = exchange(path, line);
		free(line);
		resp = json_loads(text, JSON_DISABLE_EOF_CHECK, &e);
		if (raw)
			printf("%s", text);
		else if (json_is_true(G(resp, "ok")))
			printf("%lu %s\n", n, S(resp, "line"));
		else {
			printf("%lu error: %s\n", n, json_is_string(G(resp, "error")) ?
			       S(resp, "error") : "request refused");
			rc = 1;
		}
		json_decref(resp);
		free(text);
	}
	if (r == -1) {
		fprintf(stderr, "cnmuxctl: explain: %s: %s\n", file, pcap_geterr(pc));
		rc = 2;
	}
	pcap_close(pc);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "commands", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("CNMUX_SOCKET");
	const struct ctl_verb *v = NULL;
	json_t *req, *resp;
	json_error_t e;
	char *line, *text;
	int opt, raw = 0, ret;
	size_t i;

	if (path == NULL || path[0] == '\0')
		path = CTL_SOCKET_DEFAULT;
	/* '+': stop at the command, its own options are its own */
	while ((opt = getopt_long(argc, argv, "+s:jhV", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			raw = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("cnmuxctl %s%s%s%s\n", CNM_VERSION, CNM_GIT_DESCRIBE[0] ? " (git " : "",
			       CNM_GIT_DESCRIBE, CNM_GIT_DESCRIBE[0] ? ")" : "");
			return 0;
		case 'C':
			for (i = 0; i < N_VERBS; i++)
				printf("%s\n", ctl_verbs[i].name);
			printf("help\n");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "help") == 0)
		return help(argc - optind - 1, argv + optind + 1);
	if (argc - optind >= 2 && strcmp(argv[optind], "explain") == 0 &&
	    strcmp(argv[optind + 1], "--pcap") == 0) {
		if (argc - optind != 3) {
			fprintf(stderr, "cnmuxctl: explain: --pcap takes one argument, the capture file "
				"(cnmuxctl help explain)\n");
			return 2;
		}
		return explain_pcap(path, argv[optind + 2], raw);
	}
	req = build_request(argc - optind, argv + optind, &v);
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
	} else if (ret == 0) {
		(v->print != NULL ? v->print : print_default)(resp);
	}
	if (ret != 0)
		fprintf(stderr, "cnmuxctl: %s\n",
			json_is_string(G(resp, "error")) ? S(resp, "error") : "request refused");
	free(text);
	json_decref(resp);
	json_decref(req);
	return ret;
}
