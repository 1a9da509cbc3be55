/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: bytes through the configuration parser.
 *
 * On success every rule of docs/config.md that the rest of cnmux relies on
 * must hold in the returned struct (indexes in range, sizes powers of two,
 * unique names, addresses and claims); on failure the message must be
 * there, start with the file name and hold no control character. The
 * parser is pure (jansson and libc): no EAL here.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "cnm_config.h"

#define NAME "fuzz.json"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
pow2_in(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

/* A NUL-terminated string inside its buffer. */
static size_t
bounded(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	CHECK(n < max);
	return n;
}

/* Names: 1 to 63 characters from A-Z a-z 0-9 _ - . */
static void
check_name(const char *s)
{
	size_t i, n = bounded(s, CNM_NAME_MAX);

	CHECK(n >= 1);
	for (i = 0; i < n; i++) {
		char c = s[i];

		CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.');
	}
}

/* Port (device) names: 1 to 63 printable ASCII characters, no spaces. */
static void
check_dev(const char *s)
{
	size_t i, n = bounded(s, CNM_NAME_MAX);

	CHECK(n >= 1);
	for (i = 0; i < n; i++)
		CHECK(s[i] > 0x20 && s[i] < 0x7f);
}

static void
check_addr(const struct cnm_addr *a)
{
	static const uint8_t zero[12];

	CHECK(a->family == AF_INET || a->family == AF_INET6);
	if (a->family == AF_INET)
		CHECK(memcmp(a->bytes + 4, zero, 12) == 0);
}

static int
addr_eq(const struct cnm_addr *a, const struct cnm_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

static void
check_config(const struct cnm_config *cfg)
{
	uint32_t i, j, k, l;

	CHECK(strcmp(cfg->path, NAME) == 0);
	check_dev(cfg->public_port);
	CHECK(cfg->n_private >= 1 && cfg->n_private <= CNM_MAX_PRIVATE);
	for (i = 0; i < cfg->n_private; i++) {
		check_dev(cfg->private_ports[i]);
		CHECK(strcmp(cfg->private_ports[i], cfg->public_port) != 0);
		for (j = 0; j < i; j++)
			CHECK(strcmp(cfg->private_ports[i], cfg->private_ports[j]) != 0);
	}
	if (bounded(cfg->local_port, CNM_NAME_MAX) > 0) {
		check_dev(cfg->local_port);
		CHECK(strcmp(cfg->local_port, cfg->public_port) != 0);
		for (i = 0; i < cfg->n_private; i++)
			CHECK(strcmp(cfg->local_port, cfg->private_ports[i]) != 0);
	}
	bounded(cfg->control_socket, CNM_PATH_MAX);

	CHECK(cfg->n_nodes >= 1 && cfg->n_nodes <= CNM_MAX_NODES);
	CHECK(cfg->nodes != NULL);
	CHECK(cfg->default_node >= -1 && cfg->default_node < (int32_t)cfg->n_nodes);
	for (i = 0; i < cfg->n_nodes; i++) {
		const struct cnm_cfg_node *n = &cfg->nodes[i];
		static const uint8_t zero[6];

		check_name(n->name);
		check_addr(&n->ip);
		if (n->has_mac)
			CHECK((n->mac[0] & 1) == 0 && memcmp(n->mac, zero, 6) != 0);
		CHECK(cnm_config_node_index(cfg, n->name) == (int)i);
	}
	/* unique names and addresses; quadratic, so only for small inputs */
	if (cfg->n_nodes <= 256)
		for (i = 0; i < cfg->n_nodes; i++)
			for (j = 0; j < i; j++) {
				CHECK(strcmp(cfg->nodes[i].name, cfg->nodes[j].name) != 0);
				CHECK(!addr_eq(&cfg->nodes[i].ip, &cfg->nodes[j].ip));
			}

	CHECK(pow2_in(cfg->pdt_size, CNM_PDT_SIZE_MIN, CNM_PDT_SIZE_MAX));
	CHECK(cfg->n_services <= CNM_MAX_SERVICES);
	CHECK(cfg->n_services == 0 || cfg->services != NULL);
	for (i = 0; i < cfg->n_services; i++) {
		const struct cnm_cfg_service *s = &cfg->services[i];

		check_name(s->name);
		CHECK(cnm_config_service_index(cfg, s->name) == (int)i);
		check_addr(&s->vip);
		CHECK(pow2_in(s->pdt_size, CNM_PDT_SIZE_MIN, CNM_PDT_SIZE_MAX));
		CHECK(s->n_members >= 1 && s->members != NULL);
		for (j = 0; j < s->n_members; j++) {
			CHECK(s->members[j].node < cfg->n_nodes);
			CHECK(s->members[j].weight <= 65535);
			for (k = 0; k < j; k++)
				CHECK(s->members[k].node != s->members[j].node);
		}
		switch (s->policy) {
		case CNM_POLICY_WEIGHTED:
		case CNM_POLICY_STICKY:
			CHECK(s->n_ports >= 1 && s->ports != NULL);
			CHECK(s->protocols == 0);
			for (j = 0; j < s->n_ports; j++) {
				CHECK(s->ports[j].port >= 1);
				CHECK(s->ports[j].proto == IPPROTO_TCP ||
				      s->ports[j].proto == IPPROTO_UDP);
				for (k = 0; k < j; k++)
					CHECK(s->ports[k].port != s->ports[j].port ||
					      s->ports[k].proto != s->ports[j].proto);
			}
			break;
		case CNM_POLICY_STICKY_WILD:
			CHECK(s->n_ports == 0);
			CHECK(s->protocols != 0 &&
			      (s->protocols & ~(CNM_PROTO_BIT_TCP | CNM_PROTO_BIT_UDP)) == 0);
			break;
		default:
			CHECK(0);
		}
		CHECK(strcmp(cnm_policy_name(s->policy), "") != 0);
	}
	/* no two services claim the same key of either table */
	if (cfg->n_services <= 128)
		for (i = 0; i < cfg->n_services; i++)
			for (j = 0; j < i; j++) {
				const struct cnm_cfg_service *a = &cfg->services[i];
				const struct cnm_cfg_service *b = &cfg->services[j];

				CHECK(strcmp(a->name, b->name) != 0);
				if (!addr_eq(&a->vip, &b->vip))
					continue;
				if (a->policy == CNM_POLICY_STICKY_WILD &&
				    b->policy == CNM_POLICY_STICKY_WILD) {
					CHECK((a->protocols & b->protocols) == 0);
					continue;
				}
				if (a->policy == CNM_POLICY_STICKY_WILD ||
				    b->policy == CNM_POLICY_STICKY_WILD)
					continue;
				for (k = 0; k < a->n_ports; k++)
					for (l = 0; l < b->n_ports; l++)
						CHECK(a->ports[k].port != b->ports[l].port ||
						      a->ports[k].proto != b->ports[l].proto);
			}
	CHECK(cfg->health_rise >= 1 && cfg->health_fall >= 1);
	CHECK(cfg->conn_max >= 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CNM_ERR_MAX];
	struct cnm_config *cfg;
	size_t i, n;

	/* the file reader stops at 64 MiB; far less is plenty here */
	if (size > (1u << 20))
		return 0;
	memset(err, 'x', sizeof(err));
	cfg = cnm_config_parse((const char *)data, size, NAME, err, sizeof(err));
	if (cfg == NULL) {
		n = strnlen(err, sizeof(err));
		CHECK(n > 0 && n < sizeof(err));
		CHECK(strncmp(err, NAME ": ", strlen(NAME ": ")) == 0);
		for (i = 0; i < n; i++)
			CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f);
		return 0;
	}
	check_config(cfg);
	cnm_config_free(cfg);
	return 0;
}
