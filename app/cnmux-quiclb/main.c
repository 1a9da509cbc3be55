/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmux-quiclb: the servers' side of QUIC-LB (docs/quic.md). From the same
 * configuration cnmux reads (a service's "quic_lb" block and the nodes'
 * "server_id"s), it generates routable connection IDs for a server ID, and
 * decodes connection IDs to the server ID and node they route to, so an
 * operator can check what a server emits against what cnmux will do.
 *
 *   cnmux-quiclb generate --config FILE [--service NAME]
 *                (--node NAME | --server-id HEX) [--count N] [--config-id N]
 *                [--nonce HEX]
 *   cnmux-quiclb decode --config FILE [--service NAME] CID...
 *   cnmux-quiclb --version
 *
 * Exit status: 0; 1 on a usage or configuration error; 2 when decode found
 * a CID that does not route to a node (each line says why).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "cnm_quiclb.h"
#include "cnm_version.h"

#define MAX_NODES 4096
#define NAME_MAX_LEN 64

struct node {
	char name[NAME_MAX_LEN];
	uint8_t sid[CNM_QUICLB_SID_MAX];
	uint8_t sid_len;
};

struct tool {
	const char *file;
	struct cnm_quiclb_conf confs[CNM_QUICLB_CONFIGS];
	unsigned int n_confs;
	struct node *nodes;
	unsigned int n_nodes;
	struct cnm_quiclb *q;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: cnmux-quiclb generate --config FILE [--service NAME]\n"
		"                    (--node NAME | --server-id HEX) [--count N] [--config-id N]\n"
		"                    [--nonce HEX]\n"
		"       cnmux-quiclb decode --config FILE [--service NAME] CID...\n"
		"       cnmux-quiclb --version\n"
		"\n"
		"FILE is a cnmux configuration (the service's \"quic_lb\" block and the nodes'\n"
		"\"server_id\"s) or a file holding just {\"quic_lb\": {...}, \"nodes\": [...]}.\n"
		"generate prints N routable connection IDs (hex, one a line) for the server ID\n"
		"(random nonces unless --nonce); decode prints the configuration, server ID and\n"
		"node of each CID (hex), or why cnmux would route it by its 4-tuple instead.\n"
		"Exit status: 0; 1 usage or configuration error; 2 some CID does not route.\n");
}

static void
hex_print(FILE *f, const uint8_t *p, size_t n)
{
	while (n--)
		fprintf(f, "%02x", *p++);
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || *out > max)
		return -1;
	return 0;
}

static int
random_bytes(uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Is node @p name a member of the service (its "nodes" object), if it has one? */
static int
is_member(const json_t *svc, const char *name)
{
	const json_t *m = svc != NULL ? json_object_get(svc, "nodes") : NULL;

	return !json_is_object(m) || json_object_get(m, name) != NULL;
}

/* The service's quic_lb block; its place in the file goes to @p where. */
static const json_t *
find_service(const json_t *root, const char *file, const char *service, char *where,
	     size_t wlen, const json_t **svc_out)
{
	const json_t *svcs = json_object_get(root, "services"), *found = NULL, *s;
	size_t i, n_quic = 0;

	*svc_out = NULL;
	if (svcs == NULL) {
		if (json_object_get(root, "quic_lb") == NULL) {
			fprintf(stderr, "cnmux-quiclb: %s: quic_lb: a QUIC-LB block, at the top or in a "
					"service of \"services\" (got nothing)\n", file);
			return NULL;
		}
		snprintf(where, wlen, "quic_lb");
		return json_object_get(root, "quic_lb");
	}
	if (!json_is_array(svcs)) {
		fprintf(stderr, "cnmux-quiclb: %s: services: an array\n", file);
		return NULL;
	}
	json_array_foreach(svcs, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));

		if (json_object_get(s, "quic_lb") == NULL)
			continue;
		n_quic++;
		if (service == NULL || (name != NULL && strcmp(name, service) == 0)) {
			if (found == NULL || service != NULL) {
				found = s;
				snprintf(where, wlen, "services[%zu].quic_lb", i);
			}
		}
	}
	if (found == NULL) {
		if (service != NULL)
			fprintf(stderr, "cnmux-quiclb: %s: services: a service \"%s\" with a "
					"\"quic_lb\" block (there is none)\n", file, service);
		else
			fprintf(stderr, "cnmux-quiclb: %s: services: a service with a \"quic_lb\" "
					"block (there is none)\n", file);
		return NULL;
	}
	if (service == NULL && n_quic > 1) {
		fprintf(stderr, "cnmux-quiclb: %s: %zu services have a \"quic_lb\" block: say which "
				"with --service NAME\n", file, n_quic);
		return NULL;
	}
	*svc_out = found;
	return json_object_get(found, "quic_lb");
}

/* The nodes' server IDs (members of the service only, when it lists them). */
static int
load_nodes(struct tool *t, const json_t *root, const json_t *svc)
{
	const json_t *nodes = json_object_get(root, "nodes"), *nd;
	uint8_t want = t->confs[0].server_id_len;
	unsigned int i, j;
	size_t k;

	if (nodes == NULL)
		return 0;
	if (!json_is_array(nodes) || json_array_size(nodes) > MAX_NODES) {
		fprintf(stderr, "cnmux-quiclb: %s: nodes: an array of at most %u nodes\n", t->file,
			MAX_NODES);
		return -1;
	}
	for (i = 1; i < t->n_confs; i++) {
		if (t->confs[i].server_id_len != want) {
			fprintf(stderr,
				"cnmux-quiclb: %s: the service's configurations have server IDs of %u "
				"and %u bytes: a node's \"server_id\" serves them all, so they must "
				"agree\n", t->file, want, t->confs[i].server_id_len);
			return -1;
		}
	}
	t->nodes = calloc(json_array_size(nodes) + 1, sizeof(*t->nodes));
	if (t->nodes == NULL)
		return -1;
	json_array_foreach(nodes, k, nd) {
		const char *name = json_string_value(json_object_get(nd, "name"));
		const json_t *v = json_object_get(nd, "server_id");
		struct node *n = &t->nodes[t->n_nodes];
		int len;

		if (v == NULL || name == NULL || !is_member(svc, name))
			continue;
		len = json_is_string(v) ? cnm_quiclb_hex(json_string_value(v), n->sid,
							sizeof(n->sid)) : -EINVAL;
		if (len != want) {
			fprintf(stderr,
				"cnmux-quiclb: %s: nodes[%zu].server_id: %u bytes in hex, as the "
				"service's server_id_len says (got %s%s%s)\n", t->file, k, want,
				json_is_string(v) ? "\"" : "a ",
				json_is_string(v) ? json_string_value(v) : "non-string",
				json_is_string(v) ? "\"" : "");
			return -1;
		}
		n->sid_len = (uint8_t)len;
		snprintf(n->name, sizeof(n->name), "%s", name);
		for (j = 0; j < t->n_nodes; j++) {
			if (memcmp(t->nodes[j].sid, n->sid, n->sid_len) == 0) {
				fprintf(stderr, "cnmux-quiclb: %s: nodes[%zu].server_id: a server ID no "
						"other node has (node %s has it)\n", t->file, k,
					t->nodes[j].name);
				return -1;
			}
		}
		for (j = 0; j < t->n_confs; j++)
			if (cnm_quiclb_add_server(t->q, t->confs[j].config_id, n->sid, n->sid_len,
						  t->n_nodes) < 0)
				return -1;
		t->n_nodes++;
	}
	return 0;
}

static int
load(struct tool *t, const char *service)
{
	const json_t *block, *svc;
	char where[64], err[1024];
	json_error_t jerr;
	json_t *root;
	unsigned int i;
	size_t n_nodes;

	root = json_load_file(t->file, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		fprintf(stderr, "cnmux-quiclb: %s:%d:%d: %s\n", t->file, jerr.line, jerr.column,
			jerr.text);
		return -1;
	}
	block = find_service(root, t->file, service, where, sizeof(where), &svc);
	if (block == NULL)
		goto bad;
	if (cnm_quiclb_conf_json(block, t->file, where, t->confs, &t->n_confs, err,
				 sizeof(err)) < 0) {
		fprintf(stderr, "cnmux-quiclb: %s\n", err);
		goto bad;
	}
	n_nodes = json_array_size(json_object_get(root, "nodes"));
	/* every node's server ID serves each configuration of the service */
	t->q = cnm_quiclb_create(t->confs, t->n_confs, 1,
				 (unsigned int)(n_nodes > MAX_NODES ? MAX_NODES : n_nodes) * t->n_confs);
	for (i = 0; i < t->n_confs; i++)
		memset(t->confs[i].key, 0, sizeof(t->confs[i].key));
	if (t->q == NULL) {
		fprintf(stderr, "cnmux-quiclb: %s: %s: cannot prepare the cipher: %s\n", t->file,
			where, strerror(errno));
		goto bad;
	}
	if (load_nodes(t, root, svc) < 0)
		goto bad;
	json_decref(root);
	return 0;
bad:
	json_decref(root);
	return -1;
}

static int
generate(struct tool *t, const char *node, const char *sid_hex, unsigned long count,
	 long config_id, const char *nonce_hex)
{
	const struct cnm_quiclb_conf *c;
	uint8_t sid[CNM_QUICLB_SID_MAX], nonce[CNM_QUICLB_NONCE_MAX], extra[CNM_QUIC_CID_MAX];
	uint8_t cid[CNM_QUIC_CID_MAX], low;
	unsigned long i;
	unsigned int j;
	int sid_len = -1, n;

	if (config_id < 0 && t->n_confs > 1) {
		fprintf(stderr, "cnmux-quiclb: %s: the service has %u configurations: say which "
				"with --config-id N\n", t->file, t->n_confs);
		return 1;
	}
	if (config_id < 0)
		config_id = t->confs[0].config_id;
	c = cnm_quiclb_conf_get(t->q, (uint8_t)config_id);
	if (c == NULL) {
		fprintf(stderr, "cnmux-quiclb: --config-id %ld: %s has no configuration there\n",
			config_id, t->file);
		return 1;
	}
	if (node != NULL) {
		for (j = 0; j < t->n_nodes && strcmp(t->nodes[j].name, node) != 0; j++)
			;
		if (j == t->n_nodes) {
			fprintf(stderr, "cnmux-quiclb: --node %s: no member of the service with a "
					"\"server_id\" has that name in %s\n", node, t->file);
			return 1;
		}
		memcpy(sid, t->nodes[j].sid, t->nodes[j].sid_len);
		sid_len = t->nodes[j].sid_len;
	} else {
		sid_len = cnm_quiclb_hex(sid_hex, sid, sizeof(sid));
	}
	if (sid_len != c->server_id_len) {
		fprintf(stderr, "cnmux-quiclb: --server-id: %u bytes in hex (server_id_len) (got %s)\n",
			c->server_id_len, sid_hex != NULL ? sid_hex : node);
		return 1;
	}
	if (nonce_hex != NULL &&
	    cnm_quiclb_hex(nonce_hex, nonce, sizeof(nonce)) != c->nonce_len) {
		fprintf(stderr, "cnmux-quiclb: --nonce: %u bytes in hex (nonce_len) (got %s)\n",
			c->nonce_len, nonce_hex);
		return 1;
	}
	for (i = 0; i < count; i++) {
		/* the nonce, the first octet's free bits and the servers' own
		 * bytes: random (draft 5.2: no observable relation between CIDs) */
		if ((nonce_hex == NULL && random_bytes(nonce, c->nonce_len) < 0) ||
		    random_bytes(&low, 1) < 0 || random_bytes(extra, sizeof(extra)) < 0) {
			fprintf(stderr, "cnmux-quiclb: getrandom: %s\n", strerror(errno));
			return 1;
		}
		n = cnm_quiclb_encode(t->q, 0, (uint8_t)config_id, sid, (uint8_t)sid_len, nonce,
				      c->nonce_len, low, extra, cid);
		if (n < 0) {
			fprintf(stderr, "cnmux-quiclb: encode: %s\n", strerror(-n));
			return 1;
		}
		hex_print(stdout, cid, (size_t)n);
		putchar('\n');
	}
	return 0;
}

static int
decode(struct tool *t, char **cids, int n)
{
	uint8_t cid[CNM_QUIC_CID_MAX_INVARIANT], sid[16], sid_len;
	enum cnm_quiclb_result r;
	int i, len, status = 0;
	uint32_t node;

	for (i = 0; i < n; i++) {
		len = cnm_quiclb_hex(cids[i], cid, sizeof(cid));
		if (len < 0) {
			fprintf(stderr, "cnmux-quiclb: %s: a connection ID in hex (up to 255 bytes)\n",
				cids[i]);
			return 1;
		}
		printf("%s ", cids[i]);
		r = cnm_quiclb_decode(t->q, 0, cid, (uint8_t)len, sid, &sid_len);
		if (r == CNM_QUICLB_OK)
			r = cnm_quiclb_route(t->q, 0, cid, (uint8_t)len, &node);
		if (r != CNM_QUICLB_OK && r != CNM_QUICLB_SID_UNKNOWN) {
			printf("unroutable %s: %s\n", cnm_quiclb_result_name(r),
			       cnm_quiclb_result_help(r));
			status = 2;
			continue;
		}
		printf("config_id %u server_id ", cid[0] >> 5);
		hex_print(stdout, sid, sid_len);
		if (r == CNM_QUICLB_OK) {
			printf(" node %s\n", t->nodes[node].name);
		} else {
			printf(" unroutable %s: %s\n", cnm_quiclb_result_name(r),
			       cnm_quiclb_result_help(r));
			status = 2;
		}
	}
	return status;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 's' },
		{ "node", required_argument, NULL, 'n' },
		{ "server-id", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'N' },
		{ "config-id", required_argument, NULL, 'r' },
		{ "nonce", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *service = NULL, *node = NULL, *sid_hex = NULL, *nonce_hex = NULL, *cmd;
	unsigned long count = 1, v;
	struct tool t = { 0 };
	long config_id = -1;
	int opt, ret;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("cnmux-quiclb %s%s%s%s\n", CNM_VERSION, CNM_GIT_DESCRIBE[0] ? " (git " : "",
		       CNM_GIT_DESCRIBE, CNM_GIT_DESCRIBE[0] ? ")" : "");
		return 0;
	}
	cmd = argv[1];
	if (strcmp(cmd, "generate") != 0 && strcmp(cmd, "decode") != 0) {
		fprintf(stderr, "cnmux-quiclb: %s: \"generate\" or \"decode\"\n", cmd);
		usage(stderr);
		return 1;
	}
	optind = 2;
	while ((opt = getopt_long(argc, argv, "c:s:n:i:N:r:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			t.file = optarg;
			break;
		case 's':
			service = optarg;
			break;
		case 'n':
			node = optarg;
			break;
		case 'i':
			sid_hex = optarg;
			break;
		case 'N':
			if (parse_uint(optarg, 1000000, &count) < 0 || count == 0) {
				fprintf(stderr, "cnmux-quiclb: --count: 1 to 1000000 (got %s)\n", optarg);
				return 1;
			}
			break;
		case 'r':
			if (parse_uint(optarg, CNM_QUICLB_CONFIGS - 1, &v) < 0) {
				fprintf(stderr, "cnmux-quiclb: --config-id: 0 to 6 (got %s)\n", optarg);
				return 1;
			}
			config_id = (long)v;
			break;
		case 'o':
			nonce_hex = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (t.file == NULL) {
		fprintf(stderr, "cnmux-quiclb: --config FILE is needed\n");
		return 1;
	}
	if (strcmp(cmd, "generate") == 0) {
		if ((node == NULL) == (sid_hex == NULL) || optind != argc) {
			fprintf(stderr, "cnmux-quiclb: generate takes --node NAME or --server-id HEX "
					"(one of them) and no other argument\n");
			return 1;
		}
		if (nonce_hex != NULL && count != 1) {
			fprintf(stderr, "cnmux-quiclb: --nonce gives one CID: no --count with it\n");
			return 1;
		}
	} else if (optind == argc || node != NULL || sid_hex != NULL || nonce_hex != NULL) {
		fprintf(stderr, "cnmux-quiclb: decode takes connection IDs (hex), and no --node, "
				"--server-id or --nonce\n");
		return 1;
	}
	if (load(&t, service) < 0) {
		ret = 1;
		goto out;
	}
	if (strcmp(cmd, "generate") == 0)
		ret = generate(&t, node, sid_hex, count, config_id, nonce_hex);
	else
		ret = decode(&t, argv + optind, argc - optind);
out:
	cnm_quiclb_free(t.q);
	free(t.nodes);
	return ret;
}
