/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the configuration parser (lib/config).
 *
 * Test configurations are written with single quotes to keep them readable;
 * parse_q() turns them into double quotes before parsing. Every rejected
 * configuration is a row of err_cases[]: it must give NULL and a message
 * "t.json: KEY: ..." that contains the expected text and the offending value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "cnm_config.h"
#include "cnm_fwd.h"
#include "cnm_quiclb.h"

#define FILE_NAME "t.json"

/* Common pieces of test configurations. */
#define PORTS "'ports': {'public': 'p0', 'private': ['p1']}"
#define NODES "'nodes': [{'name': 'n1', 'ip': '192.0.2.1'}, " \
	"{'name': 'n2', 'ip': '192.0.2.2'}]"
#define SVC_W "{'name': 's1', 'vip': '198.51.100.1', 'policy': 'weighted', " \
	"'ports': ['80/tcp'], 'nodes': {'n1': 1}}"
/* a valid configuration with @p extra top-level keys (", 'k': v") */
#define CFG(extra) "{" PORTS ", " NODES ", 'services': [" SVC_W "]" extra "}"
/* a configuration whose only service has the keys @p fields */
#define SVC(fields) "{" PORTS ", " NODES ", 'services': [{" fields "}]}"
/* a configuration with these services */
#define SVCS(list) "{" PORTS ", " NODES ", 'services': [" list "]}"
/* a configuration whose nodes are @p list */
#define NODECFG(list) "{" PORTS ", 'nodes': [" list "], 'services': []}"
/* a configuration whose "ports" is @p obj */
#define PORTCFG(obj) "{'ports': " obj ", " NODES ", 'services': []}"

#define S_NAME "'name': 's1'"
#define S_VIP "'vip': '198.51.100.1'"
#define S_W "'policy': 'weighted'"
#define S_WILD "'policy': 'sticky-wild'"
#define S_PORTS "'ports': ['80/tcp']"
#define S_NODES "'nodes': {'n1': 1}"
#define S_BASE S_NAME ", " S_VIP ", " S_W ", " S_PORTS ", " S_NODES
/* a plaintext QUIC-LB block */
#define QLB "{'server_id_len': 3, 'nonce_len': 6, 'mode': 'plaintext'}"

/* pieces of an "ha" object */
#define HA_ID "'id': 'lb1'"
#define HA_LISTEN "'listen': '127.0.0.1:7701'"
#define HA_ROLE "'role': 'primary'"
#define HA_P(id, n) "{'id': '" id "', 'address': '127.0.0.1:770" n "'}"
#define HA_PEERS "'peers': [" HA_P("lb2", "2") "]"
#define HA_KEY "'key_file': '/etc/cnmux/ha.key'"
#define HA_MIN HA_ID ", " HA_LISTEN ", " HA_ROLE ", " HA_PEERS ", " HA_KEY

static char errbuf[CNM_ERR_MAX];

/* Parse @p text after turning every ' into ". */
static struct cnm_config *
parse_q(const char *text)
{
	struct cnm_config *cfg;
	char *s = strdup(text);
	char *c;

	assert_non_null(s);
	for (c = s; *c != '\0'; c++)
		if (*c == '\'')
			*c = '"';
	memset(errbuf, 0, sizeof(errbuf));
	cfg = cnm_config_parse(s, strlen(s), FILE_NAME, errbuf, sizeof(errbuf));
	free(s);
	return cfg;
}

static struct cnm_config *
parse_ok(const char *text)
{
	struct cnm_config *cfg = parse_q(text);

	if (cfg == NULL)
		fail_msg("unexpected error: %s", errbuf);
	return cfg;
}

/* One rejected configuration. */
struct err_case {
	const char *name;   /* test name: the rule it checks */
	const char *json;   /* with single quotes */
	const char *key;    /* the JSON path the message must name */
	const char *expect; /* part of "what was expected" */
	const char *got;    /* part of "(got ...)", or NULL */
};

static const struct err_case err_cases[] = {
	/* the file as a whole */
	{ "json_syntax", "{'ports': ", "line 1 column", "valid JSON", NULL },
	{ "json_duplicate_key", "{'ports': {}, 'ports': {}}", "line 1",
	  "valid JSON without duplicate keys", "duplicate" },
	{ "json_duplicate_key_nested",
	  SVC(S_BASE ", 'arp': true, 'arp': false"), "line 1", "valid JSON",
	  "duplicate" },
	{ "root_not_object", "[1, 2]", "(top level)", "an object",
	  "an array" },
	{ "root_unknown_key", CFG(", 'colour': 'blue'"), "colour",
	  "one of the keys version, ports, nodes", "an unknown key" },
	{ "version_2", CFG(", 'version': 2"), "version", "1", "2" },
	{ "version_string", CFG(", 'version': '1'"), "version", "1", "\"1\"" },
	/* ports */
	{ "ports_missing", "{" NODES ", 'services': []}", "ports",
	  "an object with \"public\" and \"private\"", "nothing" },
	{ "ports_not_object", "{'ports': [], " NODES ", 'services': []}",
	  "ports", "an object", "an array" },
	{ "ports_unknown_key",
	  PORTCFG("{'public': 'p0', 'private': ['p1'], 'extra': 'p2'}"),
	  "ports.extra", "one of the keys public, private, local",
	  "an unknown key" },
	{ "ports_public_missing", PORTCFG("{'private': ['p1']}"),
	  "ports.public", "a DPDK device name", "nothing" },
	{ "ports_public_not_string", PORTCFG("{'public': 0, 'private': ['p1']}"),
	  "ports.public", "a DPDK device name", "0" },
	{ "ports_public_empty", PORTCFG("{'public': '', 'private': ['p1']}"),
	  "ports.public", "1 to 63 characters", "\"\"" },
	{ "ports_public_too_long",
	  PORTCFG("{'public': '0123456789012345678901234567890123456789"
		  "012345678901234567890123', 'private': ['p1']}"),
	  "ports.public", "1 to 63 characters", "\"0123456789" },
	{ "ports_public_space", PORTCFG("{'public': 'net pcap', 'private': ['p1']}"),
	  "ports.public", "printable, no spaces", "\"net pcap\"" },
	{ "ports_private_missing", PORTCFG("{'public': 'p0'}"),
	  "ports.private", "an array of 1 to 8 device names", "nothing" },
	{ "ports_private_empty", PORTCFG("{'public': 'p0', 'private': []}"),
	  "ports.private", "an array of 1 to 8 device names", "an array" },
	{ "ports_private_string", PORTCFG("{'public': 'p0', 'private': 'p1'}"),
	  "ports.private", "an array of 1 to 8 device names", "\"p1\"" },
	{ "ports_private_too_many",
	  PORTCFG("{'public': 'p0', 'private': ['a', 'b', 'c', 'd', 'e', "
		  "'f', 'g', 'h', 'i']}"),
	  "ports.private", "an array of 1 to 8 device names", "an array" },
	{ "ports_private_item", PORTCFG("{'public': 'p0', 'private': ['p1', 2]}"),
	  "ports.private[1]", "a DPDK device name", "2" },
	{ "ports_local_type",
	  PORTCFG("{'public': 'p0', 'private': ['p1'], 'local': true}"),
	  "ports.local", "a DPDK device name", "true" },
	{ "ports_private_same_as_public",
	  PORTCFG("{'public': 'p0', 'private': ['p1', 'p0']}"),
	  "ports.private[1]", "a device not used by another port",
	  "\"p0\", also ports.public" },
	{ "ports_private_twice",
	  PORTCFG("{'public': 'p0', 'private': ['p1', 'p1']}"),
	  "ports.private[1]", "a device not used by another port",
	  "\"p1\", also ports.private[0]" },
	{ "ports_local_same_as_private",
	  PORTCFG("{'public': 'p0', 'private': ['p1'], 'local': 'p1'}"),
	  "ports.local", "a device not used by another port",
	  "\"p1\", also ports.private[0]" },
	/* nodes */
	{ "nodes_missing", "{" PORTS ", 'services': []}", "nodes",
	  "an array of 1 to 4096 nodes", "nothing" },
	{ "nodes_empty", "{" PORTS ", 'nodes': [], 'services': []}", "nodes",
	  "an array of 1 to 4096 nodes", "an array" },
	{ "nodes_object", "{" PORTS ", 'nodes': {}, 'services': []}", "nodes",
	  "an array of 1 to 4096 nodes", "an object" },
	{ "node_not_object", NODECFG("'n1'"), "nodes[0]", "an object",
	  "\"n1\"" },
	{ "node_unknown_key",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1'}, "
		  "{'name': 'n2', 'ip': '192.0.2.2', 'weight': 3}"),
	  "nodes[1].weight", "one of the keys name, ip, mac, check_port",
	  "an unknown key" },
	{ "node_name_missing", NODECFG("{'ip': '192.0.2.1'}"), "nodes[0].name",
	  "a name of letters, digits", "nothing" },
	{ "node_name_empty", NODECFG("{'name': '', 'ip': '192.0.2.1'}"),
	  "nodes[0].name", "1 to 63 characters", "\"\"" },
	{ "node_name_too_long",
	  NODECFG("{'name': 'n123456789012345678901234567890123456789"
		  "012345678901234567890123', 'ip': '192.0.2.1'}"),
	  "nodes[0].name", "1 to 63 characters", "\"n123" },
	{ "node_forward_unknown",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'forward': 'gre'}"),
	  "nodes[0].forward", "\"mac\", \"ipip\" or \"gue\"", "\"gre\"" },
	{ "node_tunnel_no_source4",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'forward': 'ipip'}"),
	  "nodes[0].forward", "\"tunnel\": {\"source4\": ...}", "\"ipip\"" },
	{ "node_tunnel_no_source6",
	  "{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '2001:db8::1', 'forward': 'gue'}], "
	  "'tunnel': {'source4': '192.0.2.1'}, 'services': []}",
	  "nodes[0].forward", "\"tunnel\": {\"source6\": ...}", "\"gue\"" },
	{ "node_gateway_with_mac_method",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'gateway': '192.0.2.254'}"),
	  "nodes[0].gateway", "no \"gateway\" with \"forward\": \"mac\"", "\"192.0.2.254\"" },
	{ "node_gue_port_without_gue",
	  "{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '192.0.2.1', 'forward': 'ipip', "
	  "'gue_port': 6080}], 'tunnel': {'source4': '192.0.2.1'}, 'services': []}",
	  "nodes[0].gue_port", "no \"gue_port\" unless \"forward\" is \"gue\"", "6080" },
	{ "tunnel_source4_prefix_too_short",
	  "{" PORTS ", " NODES ", 'tunnel': {'source4': '192.0.2.0/8'}, 'services': []}",
	  "tunnel.source4", "an IPv4 address, optionally with /16..32", "\"192.0.2.0/8\"" },
	{ "tunnel_source6_not_v6",
	  "{" PORTS ", " NODES ", 'tunnel': {'source6': '192.0.2.1'}, 'services': []}",
	  "tunnel.source6", "an IPv6 address, optionally with /112..128", "\"192.0.2.1\"" },
	{ "tunnel_mtu_too_small",
	  "{" PORTS ", " NODES ", 'tunnel': {'source4': '192.0.2.1', 'mtu': 100}, 'services': []}",
	  "tunnel.mtu", "576", "100" },
	{ "tunnel_unknown_key",
	  "{" PORTS ", " NODES ", 'tunnel': {'src': '192.0.2.1'}, 'services': []}",
	  "tunnel.src", "one of the keys source4, source6, mtu", "an unknown key" },
	{ "node_name_bad_char", NODECFG("{'name': 'n 1', 'ip': '192.0.2.1'}"),
	  "nodes[0].name", "a name of letters, digits, '_', '-' or '.'",
	  "\"n 1\"" },
	{ "node_name_control_char",
	  NODECFG("{'name': 'n\\u0007', 'ip': '192.0.2.1'}"),
	  "nodes[0].name", "a name of letters", "\"n?\"" },
	{ "node_ip_missing", NODECFG("{'name': 'n1'}"), "nodes[0].ip",
	  "an IPv4 or IPv6 address", "nothing" },
	{ "node_ip_bad", NODECFG("{'name': 'n1', 'ip': '192.0.2.300'}"),
	  "nodes[0].ip", "an IPv4 or IPv6 address", "\"192.0.2.300\"" },
	{ "node_ip_with_prefix", NODECFG("{'name': 'n1', 'ip': '192.0.2.1/24'}"),
	  "nodes[0].ip", "an IPv4 or IPv6 address", "\"192.0.2.1/24\"" },
	{ "node_ip_bad_v6", NODECFG("{'name': 'n1', 'ip': '2001:db8:::1'}"),
	  "nodes[0].ip", "an IPv4 or IPv6 address", "\"2001:db8:::1\"" },
	{ "node_ip_number", NODECFG("{'name': 'n1', 'ip': 3221225985}"),
	  "nodes[0].ip", "an IPv4 or IPv6 address", "3221225985" },
	{ "node_mac_short",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'mac': '02:00:00:00:00'}"),
	  "nodes[0].mac", "a unicast MAC address \"xx:xx:xx:xx:xx:xx\"",
	  "\"02:00:00:00:00\"" },
	{ "node_mac_dashes",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'mac': '02-00-00-00-00-01'}"),
	  "nodes[0].mac", "a unicast MAC address", "\"02-00-00-00-00-01\"" },
	{ "node_mac_not_hex",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'mac': '02:00:00:00:00:0g'}"),
	  "nodes[0].mac", "a unicast MAC address", "\"02:00:00:00:00:0g\"" },
	{ "node_mac_multicast",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'mac': '01:00:5e:00:00:01'}"),
	  "nodes[0].mac", "a unicast MAC address", "\"01:00:5e:00:00:01\"" },
	{ "node_mac_broadcast",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'mac': 'ff:ff:ff:ff:ff:ff'}"),
	  "nodes[0].mac", "a unicast MAC address", "\"ff:ff:ff:ff:ff:ff\"" },
	{ "node_mac_zero",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'mac': '00:00:00:00:00:00'}"),
	  "nodes[0].mac", "a unicast MAC address", "\"00:00:00:00:00:00\"" },
	{ "node_mac_null",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'mac': null}"),
	  "nodes[0].mac", "a unicast MAC address", "null" },
	{ "node_check_port_zero",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check_port': 0}"),
	  "nodes[0].check_port", "an integer in [1, 65535]", "0" },
	{ "node_check_port_big",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check_port': 65536}"),
	  "nodes[0].check_port", "an integer in [1, 65535]", "65536" },
	{ "node_check_port_string",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check_port': '80'}"),
	  "nodes[0].check_port", "an integer in [1, 65535]", "\"80\"" },
	{ "node_check_port_real",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check_port': 80.0}"),
	  "nodes[0].check_port", "an integer in [1, 65535]", "80" },
	{ "node_name_duplicate",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1'}, "
		  "{'name': 'n2', 'ip': '192.0.2.2'}, "
		  "{'name': 'n1', 'ip': '192.0.2.3'}"),
	  "nodes[2].name", "a name not used by another node",
	  "\"n1\", also nodes[0]" },
	/* "a-b", "a.b" and "a_b" are one telemetry key (lib/telemetry) */
	{ "node_name_telemetry_key",
	  NODECFG("{'name': 'n-1', 'ip': '192.0.2.1'}, "
		  "{'name': 'n2', 'ip': '192.0.2.2'}, "
		  "{'name': 'n_1', 'ip': '192.0.2.3'}"),
	  "nodes[2].name", "a name that differs from every other node's by more than "
	  "'-', '.' and '_' (telemetry keys write all three as '_')",
	  "\"n_1\", and nodes[0] is \"n-1\"" },
	{ "node_ip_duplicate",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1'}, "
		  "{'name': 'n2', 'ip': '2001:db8::1'}, "
		  "{'name': 'n3', 'ip': '2001:db8:0::1'}"),
	  "nodes[2].ip", "an address not used by another node",
	  "\"2001:db8::1\", also nodes[1]" },
	/* default_node */
	{ "default_node_unknown", CFG(", 'default_node': 'n9'"), "default_node",
	  "the name of a node in \"nodes\"", "\"n9\"" },
	{ "default_node_not_string", CFG(", 'default_node': 0"), "default_node",
	  "the name of a node in \"nodes\"", "0" },
	/* pdt_size */
	{ "pdt_size_not_power_of_two", CFG(", 'pdt_size': 1000"), "pdt_size",
	  "a power of two in [16, 1048576]", "1000" },
	{ "pdt_size_too_small", CFG(", 'pdt_size': 8"), "pdt_size",
	  "a power of two in [16, 1048576]", "8" },
	{ "pdt_size_too_big", CFG(", 'pdt_size': 2097152"), "pdt_size",
	  "a power of two in [16, 1048576]", "2097152" },
	{ "pdt_size_zero", CFG(", 'pdt_size': 0"), "pdt_size",
	  "a power of two", "0" },
	{ "pdt_size_string", CFG(", 'pdt_size': '4096'"), "pdt_size",
	  "a power of two", "\"4096\"" },
	/* icmp_echo, verify_checksum */
	{ "icmp_echo_bad", CFG(", 'icmp_echo': 'drop'"), "icmp_echo",
	  "\"reply\" or \"local\"", "\"drop\"" },
	{ "icmp_echo_type", CFG(", 'icmp_echo': true"), "icmp_echo",
	  "\"reply\" or \"local\"", "true" },
	{ "verify_checksum_type", CFG(", 'verify_checksum': 'yes'"), "verify_checksum",
	  "true or false", "\"yes\"" },
	/* hash_key */
	{ "hash_key_negative", CFG(", 'hash_key': -1"), "hash_key",
	  "an integer in [0, 4294967295] or a string like \"0x1234abcd\"", "-1" },
	{ "hash_key_too_big", CFG(", 'hash_key': 4294967296"), "hash_key",
	  "an integer in [0, 4294967295]", "4294967296" },
	{ "hash_key_hex_too_big", CFG(", 'hash_key': '0x100000000'"), "hash_key",
	  "a string like \"0x1234abcd\"", "\"0x100000000\"" },
	{ "hash_key_not_hex", CFG(", 'hash_key': '0xzz'"), "hash_key",
	  "a string like", "\"0xzz\"" },
	{ "hash_key_bare_0x", CFG(", 'hash_key': '0x'"), "hash_key",
	  "a string like", "\"0x\"" },
	{ "hash_key_trailing", CFG(", 'hash_key': '12ab'"), "hash_key",
	  "a string like", "\"12ab\"" },
	{ "hash_key_space", CFG(", 'hash_key': ' 12'"), "hash_key",
	  "a string like", "\" 12\"" },
	{ "hash_key_minus_string", CFG(", 'hash_key': '-1'"), "hash_key",
	  "a string like", "\"-1\"" },
	{ "hash_key_real", CFG(", 'hash_key': 1.5"), "hash_key",
	  "an integer in [0, 4294967295]", "1.5" },
	/* control */
	{ "control_not_object", CFG(", 'control': '/run/cnmux.sock'"), "control",
	  "an object", "\"/run/cnmux.sock\"" },
	{ "control_unknown_key", CFG(", 'control': {'port': 1}"), "control.port",
	  "one of the keys socket", "an unknown key" },
	{ "control_socket_type", CFG(", 'control': {'socket': 1}"),
	  "control.socket", "a socket path of 1 to 107 characters", "1" },
	{ "control_socket_empty", CFG(", 'control': {'socket': ''}"),
	  "control.socket", "a socket path of 1 to 107 characters", "\"\"" },
	{ "control_socket_too_long",
	  CFG(", 'control': {'socket': '/0123456789012345678901234567890123456789"
	      "0123456789012345678901234567890123456789"
	      "0123456789012345678901234567'}"),
	  "control.socket", "a socket path of 1 to 107 characters", "\"/0123" },
	/* metrics: the Prometheus endpoint */
	{ "metrics_not_object", CFG(", 'metrics': '127.0.0.1:9469'"), "metrics",
	  "an object", "\"127.0.0.1:9469\"" },
	{ "metrics_unknown_key", CFG(", 'metrics': {'port': 9469}"), "metrics.port",
	  "one of the keys listen", "an unknown key" },
	{ "memory_not_object", CFG(", 'memory': 512"), "memory", "an object", "512" },
	{ "memory_unknown_key", CFG(", 'memory': {'max_mb': 512}"), "memory",
	  "one of the keys limit_mb", "an unknown key" },
	{ "memory_limit_small", CFG(", 'memory': {'limit_mb': 15}"), "memory.limit_mb",
	  "an integer in [16, 16777216]", "15" },
	{ "memory_limit_string", CFG(", 'memory': {'limit_mb': '512'}"), "memory.limit_mb",
	  "an integer in [16, 16777216]", "\"512\"" },
	{ "metrics_listen_missing", CFG(", 'metrics': {}"), "metrics.listen",
	  "an address and TCP port \"IPV4:PORT\" or \"[IPV6]:PORT\"", "nothing" },
	{ "metrics_listen_no_port", CFG(", 'metrics': {'listen': '127.0.0.1'}"),
	  "metrics.listen", "IPV4:PORT", "\"127.0.0.1\"" },
	{ "metrics_listen_port_zero", CFG(", 'metrics': {'listen': '127.0.0.1:0'}"),
	  "metrics.listen", "IPV4:PORT", "\"127.0.0.1:0\"" },
	{ "metrics_listen_host_name", CFG(", 'metrics': {'listen': 'localhost:9469'}"),
	  "metrics.listen", "IPV4:PORT", "\"localhost:9469\"" },
	{ "metrics_listen_v6_unbracketed", CFG(", 'metrics': {'listen': '::1:9469'}"),
	  "metrics.listen", "[IPV6]:PORT", "\"::1:9469\"" },
	{ "metrics_listen_type", CFG(", 'metrics': {'listen': 9469}"),
	  "metrics.listen", "IPV4:PORT", "9469" },
	/* conntrack */
	{ "conntrack_not_object", CFG(", 'conntrack': 1"), "conntrack",
	  "an object", "1" },
	{ "conntrack_unknown_key", CFG(", 'conntrack': {'size': 1}"),
	  "conntrack.size", "one of the keys max, max6, timeout_s, closing_s, syn_s",
	  "an unknown key" },
	{ "conntrack_max_small", CFG(", 'conntrack': {'max': 1023}"),
	  "conntrack.max", "an integer in [1024, 268435456]", "1023" },
	{ "conntrack_max_big", CFG(", 'conntrack': {'max': 268435457}"),
	  "conntrack.max", "an integer in [1024, 268435456]", "268435457" },
	{ "conntrack_max6_small", CFG(", 'conntrack': {'max6': 1000}"),
	  "conntrack.max6", "an integer in [1024, 268435456]", "1000" },
	/* announce */
	{ "announce_no_file", CFG(", 'announce': {'command': 'true'}"),
	  "announce", "file4 or file6: where the VIPs are written", "neither file4 nor file6" },
	{ "announce_unknown_key", CFG(", 'announce': {'file': '/x'}"),
	  "announce.file", "one of the keys file4, file6, command", NULL },
	{ "announce_file_number", CFG(", 'announce': {'file4': 4}"),
	  "announce.file4", "a file path", NULL },
	{ "conntrack_timeout_zero", CFG(", 'conntrack': {'timeout_s': 0}"),
	  "conntrack.timeout_s", "an integer in [1, 604800]", "0" },
	{ "conntrack_closing_zero", CFG(", 'conntrack': {'closing_s': 0}"),
	  "conntrack.closing_s", "an integer in [1, 604800]", "0" },
	{ "conntrack_syn_zero", CFG(", 'conntrack': {'syn_s': 0}"),
	  "conntrack.syn_s", "an integer in [1, 604800]", "0" },
	{ "conntrack_syn_big", CFG(", 'conntrack': {'syn_s': 604801}"),
	  "conntrack.syn_s", "an integer in [1, 604800]", "604801" },
	{ "conntrack_timeout_real", CFG(", 'conntrack': {'timeout_s': 1.5}"),
	  "conntrack.timeout_s", "an integer in [1, 604800]", "1.5" },
	/* health */
	{ "health_not_object", CFG(", 'health': []"), "health", "an object",
	  "an array" },
	{ "health_unknown_key", CFG(", 'health': {'port': 80}"), "health.port",
	  "one of the keys interval_ms, timeout_ms, rise, fall",
	  "an unknown key" },
	{ "health_interval_small", CFG(", 'health': {'interval_ms': 9}"),
	  "health.interval_ms", "an integer in [10, 60000]", "9" },
	{ "health_interval_big", CFG(", 'health': {'interval_ms': 60001}"),
	  "health.interval_ms", "an integer in [10, 60000]", "60001" },
	{ "health_timeout_zero", CFG(", 'health': {'timeout_ms': 0}"),
	  "health.timeout_ms", "an integer in [1, 60000]", "0" },
	{ "health_timeout_big", CFG(", 'health': {'timeout_ms': 60001}"),
	  "health.timeout_ms", "an integer in [1, 60000]", "60001" },
	{ "health_rise_zero", CFG(", 'health': {'rise': 0}"), "health.rise",
	  "an integer in [1, 100]", "0" },
	{ "health_rise_big", CFG(", 'health': {'rise': 101}"), "health.rise",
	  "an integer in [1, 100]", "101" },
	{ "health_fall_zero", CFG(", 'health': {'fall': 0}"), "health.fall",
	  "an integer in [1, 100]", "0" },
	{ "health_fall_string", CFG(", 'health': {'fall': '3'}"), "health.fall",
	  "an integer in [1, 100]", "\"3\"" },
	{ "health_source_v6", CFG(", 'health': {'source': '2001:db8::1'}"), "health.source",
	  "an IPv4 address on the private segment", "\"2001:db8::1\"" },
	{ "health_source6_v4", CFG(", 'health': {'source6': '192.0.2.1'}"), "health.source6",
	  "an IPv6 address on the private segment", "\"192.0.2.1\"" },
	{ "health_notify_empty", CFG(", 'health': {'notify': ''}"), "health.notify",
	  "a shell command of 1 to 255 characters", "\"\"" },
	/* a node's check */
	{ "check_not_object", NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': 'icmp'}"),
	  "nodes[0].check", "an object", "\"icmp\"" },
	{ "check_type_unknown",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'ping'}}"),
	  "nodes[0].check.type", "one of \"arp\", \"nd\", \"icmp\", \"tcp\", \"connect\", \"script\"",
	  "\"ping\"" },
	{ "check_type_missing", NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {}}"),
	  "nodes[0].check.type", "one of \"arp\"", "nothing" },
	{ "check_unknown_key",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'icmp', 'url': '/'}}"),
	  "nodes[0].check.url", "one of the keys type, port, command", "an unknown key" },
	{ "check_tcp_no_port",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'connect'}}"),
	  "nodes[0].check.port", "an integer in [1, 65535]", "nothing" },
	{ "check_icmp_port",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'icmp', 'port': 80}}"),
	  "nodes[0].check.port", "no \"port\" unless \"type\" is \"tcp\", \"connect\", \"http\" or \"https\"", "80" },
	{ "check_path_not_http",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'tcp', 'port': 80, 'path': '/'}}"),
	  "nodes[0].check.path", "no \"path\" unless \"type\" is \"http\" or \"https\"", "\"/\"" },
	{ "check_http_path_relative",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'http', 'path': 'health'}}"),
	  "nodes[0].check.path", "a path \"/...\" (printable, no spaces)", "\"health\"" },
	{ "check_http_path_space",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'http', 'path': '/a b'}}"),
	  "nodes[0].check.path", "a path \"/...\" (printable, no spaces)", "\"/a b\"" },
	{ "check_http_expect_big",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'http', 'expect': 600}}"),
	  "nodes[0].check.expect", "an integer in [100, 599]", "600" },
	{ "check_expect_not_http",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'icmp', 'expect': 200}}"),
	  "nodes[0].check.expect", "no \"expect\" unless \"type\" is \"http\" or \"https\"", "200" },
	{ "check_https_expect_small",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'https', 'expect': 99}}"),
	  "nodes[0].check.expect", "an integer in [100, 599]", "99" },
	{ "check_script_no_command",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'script'}}"),
	  "nodes[0].check.command", "a shell command of 1 to 255 characters", "nothing" },
	{ "check_command_not_script",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'arp', 'command': 'true'}}"),
	  "nodes[0].check.command", "no \"command\" unless \"type\" is \"script\"", "\"true\"" },
	{ "check_interval_small",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'arp', 'interval_ms': 5}}"),
	  "nodes[0].check.interval_ms", "an integer in [10, 60000]", "5" },
	{ "check_rise_zero",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'arp', 'rise': 0}}"),
	  "nodes[0].check.rise", "an integer in [1, 100]", "0" },
	{ "check_and_check_port",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check_port': 80, 'check': {'type': 'arp'}}"),
	  "nodes[0].check", "either \"check\" or \"check_port\", not both", "also check_port" },
	{ "check_icmp_no_source",
	  NODECFG("{'name': 'n1', 'ip': '192.0.2.1', 'check': {'type': 'icmp'}}"),
	  "nodes[0].check.type", "a \"health\" object with \"source\"", "icmp" },
	{ "check_tcp6_no_source6",
	  "{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '2001:db8::1', 'check': "
	  "{'type': 'tcp', 'port': 80}}], 'services': [], 'health': {'source': '192.0.2.9'}}",
	  "nodes[0].check.type", "a \"health\" object with \"source6\"", "tcp" },
	/* paths */
	{ "paths_not_object", CFG(", 'paths': true"), "paths", "an object", "true" },
	{ "paths_unknown_key", CFG(", 'paths': {'fall': 3}"), "paths.fall",
	  "one of the keys spread, interval_ms, rounds, rise, nodes", "an unknown key" },
	{ "paths_spread_type", CFG(", 'paths': {'spread': 1}"), "paths.spread",
	  "true or false", "1" },
	{ "paths_interval_small", CFG(", 'paths': {'interval_ms': 9}"),
	  "paths.interval_ms", "an integer in [10, 60000]", "9" },
	{ "paths_rounds_zero", CFG(", 'paths': {'rounds': 0}"), "paths.rounds",
	  "an integer in [1, 100]", "0" },
	{ "paths_rise_big", CFG(", 'paths': {'rise': 101}"), "paths.rise",
	  "an integer in [1, 100]", "101" },
	{ "paths_nodes_type", CFG(", 'paths': {'nodes': 'n1'}"), "paths.nodes",
	  "an array of at most 64 node names", "\"n1\"" },
	{ "paths_nodes_unknown", CFG(", 'paths': {'nodes': ['n1', 'n9']}"), "paths.nodes[1]",
	  "the name of a node in \"nodes\"", "\"n9\"" },
	{ "paths_nodes_twice", CFG(", 'paths': {'nodes': ['n1', 'n1']}"), "paths.nodes[1]",
	  "a node not listed before", "\"n1\"" },
	/* services */
	{ "services_missing", "{" PORTS ", " NODES "}", "services",
	  "an array of 0 to 16384 services", "nothing" },
	{ "services_object", "{" PORTS ", " NODES ", 'services': {}}",
	  "services", "an array of 0 to 16384 services", "an object" },
	{ "service_not_object", SVCS("[]"), "services[0]", "an object",
	  "an array" },
	{ "service_unknown_key", SVCS(SVC_W ", {" S_BASE ", 'weight': 1}"),
	  "services[1].weight",
	  "one of the keys name, vip, policy, ports, protocols, nodes, pdt_size, arp, "
	  "second_chance_s, udp_timeout_s, quic_lb", "an unknown key" },
	{ "service_name_missing",
	  SVC(S_VIP ", " S_W ", " S_PORTS ", " S_NODES), "services[0].name",
	  "a name of letters, digits", "nothing" },
	{ "service_name_bad", SVC("'name': 'web/1', " S_VIP ", " S_W ", "
				   S_PORTS ", " S_NODES),
	  "services[0].name", "a name of letters, digits", "\"web/1\"" },
	{ "service_vip_missing",
	  SVC(S_NAME ", " S_W ", " S_PORTS ", " S_NODES), "services[0].vip",
	  "an IPv4 or IPv6 address", "nothing" },
	{ "service_vip_bad",
	  SVC(S_NAME ", 'vip': 'web.example', " S_W ", " S_PORTS ", " S_NODES),
	  "services[0].vip", "an IPv4 or IPv6 address", "\"web.example\"" },
	{ "service_policy_missing",
	  SVC(S_NAME ", " S_VIP ", " S_PORTS ", " S_NODES),
	  "services[0].policy", "\"weighted\", \"sticky\" or \"sticky-wild\"",
	  "nothing" },
	{ "service_policy_unknown",
	  SVC(S_NAME ", " S_VIP ", 'policy': 'round-robin', " S_PORTS ", "
	      S_NODES),
	  "services[0].policy", "\"weighted\", \"sticky\" or \"sticky-wild\"",
	  "\"round-robin\"" },
	{ "service_ports_missing",
	  SVC(S_NAME ", " S_VIP ", " S_W ", " S_NODES), "services[0].ports",
	  "a non-empty array of \"N/tcp\" or \"N/udp\"", "nothing" },
	{ "service_ports_missing_sticky",
	  SVC(S_NAME ", " S_VIP ", 'policy': 'sticky', " S_NODES),
	  "services[0].ports", "a non-empty array", "nothing" },
	{ "service_ports_empty",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': [], " S_NODES),
	  "services[0].ports", "a non-empty array", "an array" },
	{ "service_port_no_proto",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['80'], " S_NODES),
	  "services[0].ports[0]",
	  "a port \"N/tcp\" or \"N/udp\" with N in [1, 65535]", "\"80\"" },
	{ "service_port_number",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': [80], " S_NODES),
	  "services[0].ports[0]", "a port \"N/tcp\"", "80" },
	{ "service_port_zero",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['0/tcp'], " S_NODES),
	  "services[0].ports[0]", "with N in [1, 65535]", "\"0/tcp\"" },
	{ "service_port_big",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['80/tcp', '65536/udp'], "
	      S_NODES),
	  "services[0].ports[1]", "with N in [1, 65535]", "\"65536/udp\"" },
	{ "service_port_sctp",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['80/sctp'], " S_NODES),
	  "services[0].ports[0]", "a port \"N/tcp\" or \"N/udp\"",
	  "\"80/sctp\"" },
	{ "service_port_upper_case",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['80/TCP'], " S_NODES),
	  "services[0].ports[0]", "a port \"N/tcp\"", "\"80/TCP\"" },
	{ "service_port_sign",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['+80/tcp'], " S_NODES),
	  "services[0].ports[0]", "a port \"N/tcp\"", "\"+80/tcp\"" },
	{ "service_port_space",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': [' 80/tcp'], " S_NODES),
	  "services[0].ports[0]", "a port \"N/tcp\"", "\" 80/tcp\"" },
	{ "service_port_hex",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['0x50/tcp'], " S_NODES),
	  "services[0].ports[0]", "a port \"N/tcp\"", "\"0x50/tcp\"" },
	{ "service_port_no_number",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['/tcp'], " S_NODES),
	  "services[0].ports[0]", "a port \"N/tcp\"", "\"/tcp\"" },
	{ "service_port_range",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['80-90/tcp'], " S_NODES),
	  "services[0].ports[0]", "a port \"N/tcp\"", "\"80-90/tcp\"" },
	{ "service_port_duplicate",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['80/tcp', '80/udp', "
	      "'080/tcp'], " S_NODES),
	  "services[0].ports[2]", "a port not already listed in this service",
	  "\"080/tcp\"" },
	{ "service_protocols_with_weighted",
	  SVC(S_BASE ", 'protocols': ['tcp']"), "services[0].protocols",
	  "no \"protocols\" with policy \"weighted\"", "an array" },
	{ "service_ports_with_wild",
	  SVC(S_NAME ", " S_VIP ", " S_WILD ", " S_PORTS ", " S_NODES),
	  "services[0].ports", "no \"ports\" with policy \"sticky-wild\"",
	  "an array" },
	{ "service_protocols_missing",
	  SVC(S_NAME ", " S_VIP ", " S_WILD ", " S_NODES),
	  "services[0].protocols", "a non-empty array of \"tcp\" or \"udp\"",
	  "nothing" },
	{ "service_protocols_empty",
	  SVC(S_NAME ", " S_VIP ", " S_WILD ", 'protocols': [], " S_NODES),
	  "services[0].protocols", "a non-empty array of \"tcp\" or \"udp\"",
	  "an array" },
	{ "service_protocol_unknown",
	  SVC(S_NAME ", " S_VIP ", " S_WILD ", 'protocols': ['tcp', 'icmp'], "
	      S_NODES),
	  "services[0].protocols[1]", "\"tcp\" or \"udp\"", "\"icmp\"" },
	{ "service_protocol_duplicate",
	  SVC(S_NAME ", " S_VIP ", " S_WILD ", 'protocols': ['udp', 'udp'], "
	      S_NODES),
	  "services[0].protocols[1]",
	  "a protocol not already listed in this service", "\"udp\"" },
	{ "service_nodes_missing",
	  SVC(S_NAME ", " S_VIP ", " S_W ", " S_PORTS), "services[0].nodes",
	  "a non-empty object of node name to weight", "nothing" },
	{ "service_nodes_empty",
	  SVC(S_NAME ", " S_VIP ", " S_W ", " S_PORTS ", 'nodes': {}"),
	  "services[0].nodes", "a non-empty object of node name to weight",
	  "an object" },
	{ "service_nodes_array",
	  SVC(S_NAME ", " S_VIP ", " S_W ", " S_PORTS ", 'nodes': ['n1']"),
	  "services[0].nodes", "a non-empty object", "an array" },
	{ "service_node_unknown",
	  SVCS(SVC_W ", {'name': 's2', " S_VIP ", " S_W ", 'ports': ['81/tcp'], "
	       "'nodes': {'n1': 1, 'node9': 1}}"),
	  "services[1].nodes.node9", "the name of a node in \"nodes\"",
	  "\"node9\"" },
	{ "service_weight_negative",
	  SVC(S_NAME ", " S_VIP ", " S_W ", " S_PORTS ", 'nodes': {'n1': -1}"),
	  "services[0].nodes.n1", "an integer in [0, 65535]", "-1" },
	{ "service_weight_big",
	  SVC(S_NAME ", " S_VIP ", " S_W ", " S_PORTS ", 'nodes': {'n2': 65536}"),
	  "services[0].nodes.n2", "an integer in [0, 65535]", "65536" },
	{ "service_weight_string",
	  SVC(S_NAME ", " S_VIP ", " S_W ", " S_PORTS ", 'nodes': {'n1': '1'}"),
	  "services[0].nodes.n1", "an integer in [0, 65535]", "\"1\"" },
	{ "service_weight_real",
	  SVC(S_NAME ", " S_VIP ", " S_W ", " S_PORTS ", 'nodes': {'n1': 0.5}"),
	  "services[0].nodes.n1", "an integer in [0, 65535]", "0.5" },
	{ "service_pdt_size",
	  SVC(S_BASE ", 'pdt_size': 100"), "services[0].pdt_size",
	  "a power of two in [16, 1048576]", "100" },
	{ "service_arp_not_bool",
	  SVC(S_BASE ", 'arp': 'yes'"), "services[0].arp", "true or false",
	  "\"yes\"" },
	{ "service_udp_timeout_string",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['53/udp'], " S_NODES
	      ", 'udp_timeout_s': '30'"), "services[0].udp_timeout_s",
	  "an integer in [0, 604800]", "\"30\"" },
	{ "service_udp_timeout_big",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['53/udp'], " S_NODES
	      ", 'udp_timeout_s': 604801"), "services[0].udp_timeout_s",
	  "an integer in [0, 604800]", "604801" },
	{ "service_udp_timeout_negative",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['53/udp'], " S_NODES
	      ", 'udp_timeout_s': -1"), "services[0].udp_timeout_s",
	  "an integer in [0, 604800]", "-1" },
	{ "service_udp_timeout_no_udp",
	  SVC(S_BASE ", 'udp_timeout_s': 30"), "services[0].udp_timeout_s",
	  "no \"udp_timeout_s\" in a service without UDP", "30" },
	{ "service_quic_lb_tcp",
	  SVC(S_BASE ", 'quic_lb': " QLB), "services[0].quic_lb",
	  "no \"quic_lb\" in a service without a UDP port", "an object" },
	{ "service_quic_lb_nonce_short",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['443/udp'], " S_NODES
	      ", 'quic_lb': {'server_id_len': 3, 'nonce_len': 3, 'mode': 'plaintext'}"),
	  "services[0].quic_lb.nonce_len", "4", "3" },
	{ "service_quic_lb_two_sid_lens",
	  SVC(S_NAME ", " S_VIP ", " S_W ", 'ports': ['443/udp'], " S_NODES
	      ", 'quic_lb': [" QLB ", {'config_id': 1, 'server_id_len': 2, 'nonce_len': 7, "
	      "'mode': 'plaintext'}]"),
	  "services[0].quic_lb", "configurations of one server ID length", "an array" },
	{ "node_server_id_not_hex",
	  "{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '192.0.2.1', 'server_id': '0g'}], "
	  "'services': []}", "nodes[0].server_id", "1 to 15 bytes in hex", "\"0g\"" },
	{ "node_server_id_long",
	  "{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '192.0.2.1', "
	  "'server_id': '00112233445566778899aabbccddeeff'}], 'services': []}",
	  "nodes[0].server_id", "1 to 15 bytes in hex", "" },
	{ "node_server_id_duplicate",
	  "{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '192.0.2.1', 'server_id': '0a0b0c'}, "
	  "{'name': 'n2', 'ip': '192.0.2.2', 'server_id': '0A0B0C'}], 'services': []}",
	  "nodes[1].server_id", "a server ID no other node has (node n1 has it)", "a server ID" },
	{ "node_server_id_len_service",
	  "{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '192.0.2.1', 'server_id': '0a0b'}], "
	  "'services': [{" S_NAME ", " S_VIP ", " S_W ", 'ports': ['443/udp'], " S_NODES
	  ", 'quic_lb': " QLB "}]}",
	  "nodes[0].server_id", "3 bytes in hex, the server_id_len of service s1", "2 bytes" },
	{ "service_udp_timeout_wild_tcp",
	  SVC(S_NAME ", " S_VIP ", " S_WILD ", 'protocols': ['tcp'], " S_NODES
	      ", 'udp_timeout_s': 30"), "services[0].udp_timeout_s",
	  "no \"udp_timeout_s\" in a service without UDP", "30" },
	{ "service_name_duplicate",
	  SVCS(SVC_W ", {'name': 's2', " S_VIP ", " S_W ", 'ports': ['81/tcp'], "
	       S_NODES "}, {" S_NAME ", " S_VIP ", " S_W ", 'ports': ['82/tcp'], "
	       S_NODES "}"),
	  "services[2].name", "a name not used by another service",
	  "\"s1\", also services[0]" },
	{ "service_name_telemetry_key",
	  SVCS("{'name': 'a.b', " S_VIP ", " S_W ", 'ports': ['81/tcp'], " S_NODES "}, "
	       "{'name': 'a-b', " S_VIP ", " S_W ", 'ports': ['82/tcp'], " S_NODES "}"),
	  "services[1].name", "a name that differs from every other service's by more than "
	  "'-', '.' and '_' (telemetry keys write all three as '_')",
	  "\"a-b\", and services[0] is \"a.b\"" },
	{ "service_port_claimed",
	  SVCS(SVC_W ", {'name': 's2', " S_VIP ", 'policy': 'sticky', "
	       "'ports': ['53/udp', '80/tcp'], " S_NODES "}"),
	  "services[1].ports[1]", "a (vip, port) not claimed by another service",
	  "80/tcp on 198.51.100.1, also services[0] \"s1\"" },
	{ "service_port_claimed_v6",
	  SVCS("{'name': 'a', 'vip': '2001:db8::10', " S_W ", " S_PORTS ", "
	       S_NODES "}, {'name': 'b', 'vip': '2001:db8:0:0::10', " S_W ", "
	       S_PORTS ", " S_NODES "}"),
	  "services[1].ports[0]", "a (vip, port) not claimed by another service",
	  "80/tcp on 2001:db8::10, also services[0] \"a\"" },
	{ "service_wild_claimed",
	  SVCS("{'name': 'w1', " S_VIP ", " S_WILD ", 'protocols': ['udp'], "
	       S_NODES "}, {'name': 'w2', " S_VIP ", " S_WILD ", "
	       "'protocols': ['tcp', 'udp'], " S_NODES "}"),
	  "services[1].protocols[1]",
	  "a (vip, protocol) not claimed by another sticky-wild service",
	  "udp on 198.51.100.1, also services[0] \"w1\"" },
	{ "service_wild_claimed_first_in_file",
	  SVCS("{'name': 'w1', " S_VIP ", " S_WILD ", 'protocols': ['udp', 'tcp'], "
	       S_NODES "}, {'name': 'w2', " S_VIP ", " S_WILD ", "
	       "'protocols': ['udp', 'tcp'], " S_NODES "}"),
	  "services[1].protocols[0]",
	  "a (vip, protocol) not claimed by another sticky-wild service",
	  "udp on 198.51.100.1, also services[0] \"w1\"" },
	/* ha */
	{ "ha_not_object", CFG(", 'ha': []"), "ha", "an object", "an array" },
	{ "ha_unknown_key", CFG(", 'ha': {" HA_MIN ", 'term': 1}"), "ha.term",
	  "one of the keys id, listen, role", "an unknown key" },
	{ "ha_id_missing", CFG(", 'ha': {" HA_LISTEN ", " HA_ROLE ", " HA_PEERS "}"), "ha.id",
	  "a name of letters", "nothing" },
	{ "ha_id_bad", CFG(", 'ha': {'id': 'l b', " HA_LISTEN ", " HA_ROLE ", " HA_PEERS "}"),
	  "ha.id", "a name of letters", "\"l b\"" },
	{ "ha_listen_missing", CFG(", 'ha': {" HA_ID ", " HA_ROLE ", " HA_PEERS "}"),
	  "ha.listen", "\"IPV4:PORT\" or \"[IPV6]:PORT\"", "nothing" },
	{ "ha_listen_no_port", CFG(", 'ha': {" HA_ID ", 'listen': '127.0.0.1', " HA_ROLE ", "
	  HA_PEERS "}"), "ha.listen", "IPV4:PORT", "\"127.0.0.1\"" },
	{ "ha_listen_port_zero", CFG(", 'ha': {" HA_ID ", 'listen': '127.0.0.1:0', " HA_ROLE ", "
	  HA_PEERS "}"), "ha.listen", "IPV4:PORT", "\"127.0.0.1:0\"" },
	{ "ha_listen_port_big", CFG(", 'ha': {" HA_ID ", 'listen': '127.0.0.1:65536', " HA_ROLE
	  ", " HA_PEERS "}"), "ha.listen", "IPV4:PORT", "65536" },
	{ "ha_listen_host_name", CFG(", 'ha': {" HA_ID ", 'listen': 'lb1:7701', " HA_ROLE ", "
	  HA_PEERS "}"), "ha.listen", "IPV4:PORT", "\"lb1:7701\"" },
	{ "ha_listen_v6_unbracketed", CFG(", 'ha': {" HA_ID ", 'listen': '::1:7701', " HA_ROLE
	  ", " HA_PEERS "}"), "ha.listen", "[IPV6]:PORT", "\"::1:7701\"" },
	{ "ha_role_missing", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_PEERS "}"), "ha.role",
	  "\"primary\", \"secondary\" or \"slave\"", "nothing" },
	{ "ha_role_bad", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", 'role': 'master', " HA_PEERS
	  "}"), "ha.role", "\"primary\", \"secondary\" or \"slave\"", "\"master\"" },
	{ "ha_peers_missing", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE "}"), "ha.peers",
	  "an array of 1 to 8 peers", "nothing" },
	{ "ha_peers_empty", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", 'peers': []}"),
	  "ha.peers", "an array of 1 to 8 peers", "an array" },
	{ "ha_peers_too_many", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", 'peers': ["
	  HA_P("a", "1") "," HA_P("b", "2") "," HA_P("c", "3") "," HA_P("d", "4") ","
	  HA_P("e", "5") "," HA_P("f", "6") "," HA_P("g", "7") "," HA_P("h", "8") ","
	  HA_P("i", "9") "]}"), "ha.peers", "an array of 1 to 8 peers", "an array" },
	{ "ha_peer_not_object", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", "
	  "'peers': ['lb2']}"), "ha.peers[0]", "an object", "\"lb2\"" },
	{ "ha_peer_unknown_key", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", "
	  "'peers': [{'id': 'lb2', 'address': '127.0.0.1:7702', 'role': 'slave'}]}"),
	  "ha.peers[0].role", "one of the keys id, address", "an unknown key" },
	{ "ha_peer_id_missing", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", "
	  "'peers': [{'address': '127.0.0.1:7702'}]}"), "ha.peers[0].id", "a name", "nothing" },
	{ "ha_peer_id_self", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", "
	  "'peers': [" HA_P("lb1", "2") "]}"), "ha.peers[0].id", "another holder than ha.id",
	  "\"lb1\"" },
	{ "ha_peer_id_twice", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", "
	  "'peers': [" HA_P("lb2", "2") ", " HA_P("lb2", "3") "]}"), "ha.peers[1].id",
	  "a peer id not used before", "\"lb2\"" },
	{ "ha_peer_address_missing", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", "
	  "'peers': [{'id': 'lb2'}]}"), "ha.peers[0].address", "IPV4:PORT", "nothing" },
	{ "ha_peer_address_bad", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", "
	  "'peers': [{'id': 'lb2', 'address': 7702}]}"), "ha.peers[0].address", "IPV4:PORT",
	  "7702" },
	{ "ha_heartbeat_zero", CFG(", 'ha': {" HA_MIN ", 'heartbeat_ms': 0}"), "ha.heartbeat_ms",
	  "an integer in [10, 1000]", "0" },
	{ "ha_heartbeat_vs_default_failover", CFG(", 'ha': {" HA_MIN ", 'heartbeat_ms': 400}"),
	  "ha.heartbeat_ms", "below half of ha.failover_ms (800)", "400" },
	{ "ha_key_missing", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", " HA_PEERS "}"),
	  "ha", "\"key_file\": a file of at least 32 random bytes", "no key_file" },
	{ "ha_key_and_trusted", CFG(", 'ha': {" HA_MIN ", 'trusted_segment': true}"),
	  "ha.key_file", "absent when ha.trusted_segment is true", "/etc/cnmux/ha.key" },
	{ "ha_key_empty", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", " HA_PEERS
	  ", 'key_file': ''}"), "ha.key_file", "a path of 1 to 255", "\"\"" },
	{ "ha_trusted_not_bool", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", " HA_PEERS
	  ", 'trusted_segment': 'yes'}"), "ha.trusted_segment", "true or false", "\"yes\"" },
	{ "ha_trusted_false_no_key", CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", " HA_ROLE ", "
	  HA_PEERS ", 'trusted_segment': false}"), "ha", "\"key_file\"", "no key_file" },
	{ "ha_failover_too_long", CFG(", 'ha': {" HA_MIN ", 'failover_ms': 1001}"),
	  "ha.failover_ms", "at most 1000", "1001" },
	{ "ha_failover_vs_heartbeat", CFG(", 'ha': {" HA_MIN ", 'heartbeat_ms': 100, "
	  "'failover_ms': 200}"), "ha.failover_ms", "above 2 * ha.heartbeat_ms (200)", "200" },
	{ "ha_failover_string", CFG(", 'ha': {" HA_MIN ", 'failover_ms': '800'}"),
	  "ha.failover_ms", "an integer above", "\"800\"" },
	{ "ha_ack_timeout_zero", CFG(", 'ha': {" HA_MIN ", 'ack_timeout_ms': 0}"),
	  "ha.ack_timeout_ms", "an integer in [1, 10000]", "0" },
};

/* "ha": defaults, every key, IPv6 endpoints; absent means disabled. */
static void
test_ha(void **state)
{
	struct cnm_config *cfg;

	(void)state;
	cfg = parse_ok(CFG(""));
	assert_false(cfg->ha.enabled);
	cnm_config_free(cfg);

	cfg = parse_ok(CFG(", 'ha': {" HA_MIN "}"));
	assert_true(cfg->ha.enabled);
	assert_string_equal(cfg->ha.id, "lb1");
	assert_int_equal(cfg->ha.role, CNM_HA_PRIMARY);
	assert_int_equal(cfg->ha.listen.port, 7701);
	assert_int_equal(cfg->ha.listen.ip.family, AF_INET);
	assert_string_equal(cfg->ha.listen.text, "127.0.0.1:7701");
	assert_int_equal(cfg->ha.n_peers, 1);
	assert_string_equal(cfg->ha.peers[0].id, "lb2");
	assert_int_equal(cfg->ha.peers[0].address.port, 7702);
	assert_int_equal(cfg->ha.heartbeat_ms, 100);
	assert_int_equal(cfg->ha.failover_ms, 800);
	assert_int_equal(cfg->ha.ack_timeout_ms, 500);
	assert_string_equal(cfg->ha.key_file, "/etc/cnmux/ha.key");
	assert_false(cfg->ha.trusted_segment);
	cnm_config_free(cfg);

	cfg = parse_ok(CFG(", 'ha': {'id': 'b', 'listen': '[::1]:9000', 'role': 'slave', "
		"'peers': [" HA_P("a", "1") ", {'id': 'c', 'address': '[2001:db8::1]:9001'}], "
		"'heartbeat_ms': 50, 'failover_ms': 1000, 'ack_timeout_ms': 2000, "
		"'trusted_segment': true}"));
	assert_true(cfg->ha.trusted_segment);
	assert_string_equal(cfg->ha.key_file, "");
	assert_int_equal(cfg->ha.role, CNM_HA_SLAVE);
	assert_int_equal(cfg->ha.listen.ip.family, AF_INET6);
	assert_int_equal(cfg->ha.listen.port, 9000);
	assert_int_equal(cfg->ha.n_peers, 2);
	assert_int_equal(cfg->ha.peers[1].address.ip.family, AF_INET6);
	assert_int_equal(cfg->ha.heartbeat_ms, 50);
	assert_int_equal(cfg->ha.failover_ms, 1000);
	assert_int_equal(cfg->ha.ack_timeout_ms, 2000);
	assert_string_equal(cnm_ha_role_name(cfg->ha.role), "slave");
	cnm_config_free(cfg);

	/* 300 * 2 < the default 800 */
	cfg = parse_ok(CFG(", 'ha': {" HA_ID ", " HA_LISTEN ", 'role': 'secondary', "
		HA_PEERS ", 'heartbeat_ms': 300, " HA_KEY "}"));
	assert_int_equal(cfg->ha.role, CNM_HA_SECONDARY);
	assert_int_equal(cfg->ha.failover_ms, 800);
	cnm_config_free(cfg);
}

static void
run_err_case(void **state)
{
	const struct err_case *c = *state;
	struct cnm_config *cfg = parse_q(c->json);
	char prefix[256];

	if (cfg != NULL) {
		cnm_config_free(cfg);
		fail_msg("%s: accepted, expected an error at %s", c->name, c->key);
	}
	snprintf(prefix, sizeof(prefix), FILE_NAME ": %s", c->key);
	if (strncmp(errbuf, prefix, strlen(prefix)) != 0)
		fail_msg("%s: message does not start with \"%s\": %s", c->name,
			 prefix, errbuf);
	if (strstr(errbuf, c->expect) == NULL)
		fail_msg("%s: no \"%s\" in: %s", c->name, c->expect, errbuf);
	if (strstr(errbuf, "(got ") == NULL)
		fail_msg("%s: no \"(got \" in: %s", c->name, errbuf);
	if (c->got != NULL && strstr(errbuf, c->got) == NULL)
		fail_msg("%s: no \"%s\" in: %s", c->name, c->got, errbuf);
}

/* The example of BRIEF.md, parsed in full. */
static void
test_brief_example(void **state)
{
	static const char text[] =
		"{\n"
		"  'ports': {\n"
		"    'public': 'net_pcap0',\n"
		"    'private': ['net_pcap1'],\n"
		"    'local': 'net_pcap2'\n"
		"  },\n"
		"  'nodes': [\n"
		"    { 'name': 'node1', 'ip': '192.0.2.11', 'mac': '02:00:c0:00:02:0b' },\n"
		"    { 'name': 'node2', 'ip': '192.0.2.12', 'mac': '02:00:c0:00:02:0c' }\n"
		"  ],\n"
		"  'services': [\n"
		"    { 'name': 'web', 'vip': '198.51.100.10', 'ports': ['80/tcp', '443/tcp'],\n"
		"      'policy': 'weighted', 'nodes': { 'node1': 3, 'node2': 1 } },\n"
		"    { 'name': 'dns', 'vip': '198.51.100.10', 'ports': ['53/udp'],\n"
		"      'policy': 'sticky', 'nodes': { 'node1': 1, 'node2': 1 } },\n"
		"    { 'name': 'ftp', 'vip': '198.51.100.20', 'protocols': ['tcp'],\n"
		"      'policy': 'sticky-wild', 'nodes': { 'node1': 1, 'node2': 1 } }\n"
		"  ]\n"
		"}\n";
	static const uint8_t mac1[6] = { 0x02, 0x00, 0xc0, 0x00, 0x02, 0x0b };
	static const uint8_t mac2[6] = { 0x02, 0x00, 0xc0, 0x00, 0x02, 0x0c };
	static const uint8_t ip1[4] = { 192, 0, 2, 11 };
	static const uint8_t vip10[4] = { 198, 51, 100, 10 };
	static const uint8_t vip20[4] = { 198, 51, 100, 20 };
	const struct cnm_cfg_service *s;
	struct cnm_config *cfg = parse_ok(text);
	char buf[64];
	uint32_t i;

	(void)state;
	assert_string_equal(cfg->path, FILE_NAME);
	assert_string_equal(cfg->public_port, "net_pcap0");
	assert_int_equal(cfg->n_private, 1);
	assert_string_equal(cfg->private_ports[0], "net_pcap1");
	assert_string_equal(cfg->local_port, "net_pcap2");
	assert_int_equal(cfg->default_node, -1);

	assert_int_equal(cfg->n_nodes, 2);
	assert_string_equal(cfg->nodes[0].name, "node1");
	assert_int_equal(cfg->nodes[0].ip.family, AF_INET);
	assert_memory_equal(cfg->nodes[0].ip.bytes, ip1, 4);
	for (i = 4; i < 16; i++)
		assert_int_equal(cfg->nodes[0].ip.bytes[i], 0);
	assert_true(cfg->nodes[0].has_mac);
	assert_memory_equal(cfg->nodes[0].mac, mac1, 6);
	assert_int_equal(cfg->nodes[0].check_port, 0);
	assert_string_equal(cfg->nodes[1].name, "node2");
	assert_string_equal(cnm_addr_str(&cfg->nodes[1].ip, buf, sizeof(buf)),
			    "192.0.2.12");
	assert_memory_equal(cfg->nodes[1].mac, mac2, 6);

	assert_int_equal(cfg->n_services, 3);
	s = &cfg->services[0];
	assert_string_equal(s->name, "web");
	assert_int_equal(s->vip.family, AF_INET);
	assert_memory_equal(s->vip.bytes, vip10, 4);
	assert_int_equal(s->policy, CNM_POLICY_WEIGHTED);
	assert_int_equal(s->n_ports, 2);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].proto, IPPROTO_TCP);
	assert_int_equal(s->ports[1].port, 443);
	assert_int_equal(s->ports[1].proto, IPPROTO_TCP);
	assert_int_equal(s->protocols, 0);
	assert_int_equal(s->n_members, 2);
	assert_int_equal(s->members[0].node, 0);
	assert_int_equal(s->members[0].weight, 3);
	assert_int_equal(s->members[1].node, 1);
	assert_int_equal(s->members[1].weight, 1);
	assert_int_equal(s->pdt_size, CNM_PDT_SIZE_DEFAULT);
	assert_true(s->arp);

	s = &cfg->services[1];
	assert_string_equal(s->name, "dns");
	assert_int_equal(s->policy, CNM_POLICY_STICKY);
	assert_int_equal(s->n_ports, 1);
	assert_int_equal(s->ports[0].port, 53);
	assert_int_equal(s->ports[0].proto, IPPROTO_UDP);
	assert_int_equal(s->n_members, 2);

	s = &cfg->services[2];
	assert_string_equal(s->name, "ftp");
	assert_memory_equal(s->vip.bytes, vip20, 4);
	assert_int_equal(s->policy, CNM_POLICY_STICKY_WILD);
	assert_int_equal(s->n_ports, 0);
	assert_null(s->ports);
	assert_int_equal(s->protocols, CNM_PROTO_BIT_TCP);
	assert_int_equal(s->n_members, 2);

	assert_int_equal(cnm_config_node_index(cfg, "node2"), 1);
	assert_int_equal(cnm_config_node_index(cfg, "node3"), -1);
	assert_int_equal(cnm_config_service_index(cfg, "ftp"), 2);
	assert_int_equal(cnm_config_service_index(cfg, "nope"), -1);
	cnm_config_free(cfg);
}

static void
test_defaults(void **state)
{
	struct cnm_config *cfg = parse_ok(CFG(""));

	(void)state;
	assert_string_equal(cfg->local_port, "");
	assert_int_equal(cfg->default_node, -1);
	assert_false(cfg->nodes[0].has_mac);
	assert_int_equal(cfg->nodes[0].check_port, 0);
	assert_int_equal(cfg->pdt_size, CNM_PDT_SIZE_DEFAULT);
	assert_int_equal(cfg->hash_key, CNM_HASH_KEY_DEFAULT);
	assert_string_equal(cfg->control_socket, "");
	assert_int_equal(cfg->metrics_listen.port, 0); /* no "metrics": no endpoint */
	assert_int_equal(cfg->conn_max, 65536);
	assert_int_equal(cfg->conn_timeout_s, 300);
	assert_int_equal(cfg->conn_closing_s, 10);
	assert_int_equal(cfg->conn_syn_s, 30);
	assert_int_equal(cfg->health_interval_ms, 500);
	assert_int_equal(cfg->health_timeout_ms, 300);
	assert_int_equal(cfg->health_rise, 2);
	assert_int_equal(cfg->health_fall, 3);
	assert_int_equal(cfg->services[0].pdt_size, CNM_PDT_SIZE_DEFAULT);
	assert_true(cfg->services[0].arp);
	assert_true(cfg->icmp_echo_reply);
	assert_false(cfg->verify_checksum);
	assert_false(cfg->health_enabled);
	/* one private port: nothing to spread over */
	assert_false(cfg->paths_spread);
	assert_int_equal(cfg->paths_interval_ms, CNM_PATH_INTERVAL_MS_DEFAULT);
	assert_int_equal(cfg->paths_rounds, CNM_PATH_ROUNDS_DEFAULT);
	assert_int_equal(cfg->paths_rise, CNM_PATH_RISE_DEFAULT);
	assert_false(cfg->paths_nodes_set);
	cnm_config_free(cfg);

	/* several private ports: spreading on unless the file says no */
	cfg = parse_ok("{'ports': {'public': 'p0', 'private': ['p1', 'p2']}, " NODES
		       ", 'services': []}");
	assert_true(cfg->paths_spread);
	cnm_config_free(cfg);
	cfg = parse_ok("{'ports': {'public': 'p0', 'private': ['p1', 'p2']}, " NODES
		       ", 'services': [], 'paths': {'spread': false, 'interval_ms': 200, "
		       "'rounds': 2, 'rise': 4, 'nodes': ['n1']}}");
	assert_false(cfg->paths_spread);
	assert_int_equal(cfg->paths_interval_ms, 200);
	assert_int_equal(cfg->paths_rounds, 2);
	assert_int_equal(cfg->paths_rise, 4);
	assert_true(cfg->paths_nodes_set);
	assert_int_equal(cfg->n_paths_nodes, 1);
	assert_string_equal(cfg->paths_nodes[0], "n1");
	cnm_config_free(cfg);

	cfg = parse_ok(CFG(", 'icmp_echo': 'local', 'verify_checksum': true, 'health': {}"));
	assert_false(cfg->icmp_echo_reply);
	assert_true(cfg->verify_checksum);
	assert_true(cfg->health_enabled);
	cnm_config_free(cfg);

	/* empty objects keep every default; services may be empty */
	cfg = parse_ok("{" PORTS ", " NODES ", 'services': [], 'control': {}, "
		       "'conntrack': {}, 'health': {}}");
	assert_int_equal(cfg->n_services, 0);
	assert_string_equal(cfg->control_socket, "");
	assert_int_equal(cfg->conn_max, 65536);
	assert_int_equal(cfg->conn_max6, 65536);
	assert_int_equal(cfg->health_fall, 3);
	cnm_config_free(cfg);

	/* IPv6 connections: as many as IPv4 ones by default, or "max6" */
	cfg = parse_ok(CFG(", 'conntrack': {'max': 100000}"));
	assert_int_equal(cfg->conn_max, 100000);
	assert_int_equal(cfg->conn_max6, 100000);
	cnm_config_free(cfg);
	cfg = parse_ok(CFG(", 'conntrack': {'max': 100000, 'max6': 2048}"));
	assert_int_equal(cfg->conn_max, 100000);
	assert_int_equal(cfg->conn_max6, 2048);
	cnm_config_free(cfg);
}

static void
test_optional_keys(void **state)
{
	struct cnm_config *cfg = parse_ok(
		"{'version': 1,"
		" 'ports': {'public': '0000:01:00.0', 'private': ['1', 'net_tap0,iface=x'],"
		"           'local': 'net_tap1'},"
		" 'nodes': [{'name': 'a', 'ip': '192.0.2.1', 'mac': '02:AB:cd:EF:00:01',"
		"            'check_port': 8080},"
		"           {'name': 'b.2_x-y', 'ip': '192.0.2.2', 'check_port': 65535},"
		"           {'name': 'c', 'ip': '192.0.2.3', 'check': {'type': 'tcp', 'port': 443,"
		"            'interval_ms': 100, 'timeout_ms': 50, 'rise': 4, 'fall': 5}},"
		"           {'name': 'd', 'ip': '2001:db8::4', 'check': {'type': 'nd'}},"
		"           {'name': 'e', 'ip': '192.0.2.5', 'check': {'type': 'script',"
		"            'command': 'curl -sf http://192.0.2.5/'}},"
		"           {'name': 'f', 'ip': '192.0.2.6', 'check': {'type': 'http'}},"
		"           {'name': 'g', 'ip': '192.0.2.7', 'check': {'type': 'http', 'port': 8080,"
		"            'path': '/healthz?x=1', 'expect': 204}},"
		"           {'name': 'h', 'ip': '192.0.2.8', 'check': {'type': 'https'}}],"
		" 'default_node': 'b.2_x-y',"
		" 'pdt_size': 65536,"
		" 'hash_key': '0xDEADbeef',"
		" 'control': {'socket': '/run/cnmux/control.sock'},"
		" 'metrics': {'listen': '[::1]:9469'},"
		" 'conntrack': {'max': 1024, 'timeout_s': 604800, 'closing_s': 1,"
		"               'syn_s': 5},"
		" 'health': {'interval_ms': 10, 'timeout_ms': 60000, 'rise': 1,"
		"            'fall': 100, 'source': '192.0.2.250', 'source6': '2001:db8::fa',"
		"            'notify': '/etc/cnmux/notify.sh'},"
		" 'services': [{'name': 's', 'vip': '198.51.100.1', 'policy': 'sticky',"
		"               'ports': ['1/udp', '65535/tcp'], 'nodes': {'a': 0},"
		"               'pdt_size': 16, 'arp': false, 'udp_timeout_s': 604800},"
		"              {'name': 't', 'vip': '198.51.100.1', 'policy': 'weighted',"
		"               'ports': ['80/tcp'], 'nodes': {'a': 65535},"
		"               'pdt_size': 1048576, 'arp': true},"
		"              {'name': 'w', 'vip': '198.51.100.2', 'policy': 'sticky-wild',"
		"               'protocols': ['tcp', 'udp'], 'nodes': {'a': 1},"
		"               'udp_timeout_s': 0}]}");
	static const uint8_t mac[6] = { 0x02, 0xab, 0xcd, 0xef, 0x00, 0x01 };

	(void)state;
	assert_string_equal(cfg->public_port, "0000:01:00.0");
	assert_int_equal(cfg->n_private, 2);
	assert_string_equal(cfg->private_ports[0], "1");
	assert_string_equal(cfg->private_ports[1], "net_tap0,iface=x");
	assert_string_equal(cfg->local_port, "net_tap1");
	assert_true(cfg->nodes[0].has_mac);
	assert_memory_equal(cfg->nodes[0].mac, mac, 6);
	assert_int_equal(cfg->nodes[0].check_port, 8080);
	assert_false(cfg->nodes[1].has_mac);
	assert_int_equal(cfg->nodes[1].check_port, 65535);
	assert_int_equal(cfg->nodes[1].check.type, CNM_CHECK_NONE);
	assert_int_equal(cfg->nodes[2].check.type, CNM_CHECK_TCP);
	assert_int_equal(cfg->nodes[2].check.port, 443);
	assert_int_equal(cfg->nodes[2].check.interval_ms, 100);
	assert_int_equal(cfg->nodes[2].check.timeout_ms, 50);
	assert_int_equal(cfg->nodes[2].check.rise, 4);
	assert_int_equal(cfg->nodes[2].check.fall, 5);
	assert_int_equal(cfg->nodes[3].check.type, CNM_CHECK_NEIGH);
	assert_int_equal(cfg->nodes[3].check.interval_ms, 0);
	assert_string_equal(cnm_check_name(cfg->nodes[3].check.type, 1), "nd");
	assert_int_equal(cfg->nodes[4].check.type, CNM_CHECK_SCRIPT);
	assert_string_equal(cfg->nodes[4].check.command, "curl -sf http://192.0.2.5/");
	assert_int_equal(cfg->nodes[5].check.type, CNM_CHECK_HTTP);
	assert_int_equal(cfg->nodes[5].check.port, 80);
	assert_int_equal(cfg->nodes[5].check.expect, 200);
	assert_string_equal(cfg->nodes[5].check.path, "");
	assert_int_equal(cfg->nodes[6].check.port, 8080);
	assert_int_equal(cfg->nodes[6].check.expect, 204);
	assert_string_equal(cfg->nodes[6].check.path, "/healthz?x=1");
	assert_int_equal(cfg->nodes[7].check.type, CNM_CHECK_HTTPS);
	assert_int_equal(cfg->nodes[7].check.port, 443);
	assert_int_equal(cfg->nodes[7].check.expect, 200);
	assert_string_equal(cnm_check_name(cfg->nodes[7].check.type, 0), "https");
	assert_int_equal(cfg->health_source.family, AF_INET);
	assert_int_equal(cfg->health_source6.family, AF_INET6);
	assert_string_equal(cfg->health_notify, "/etc/cnmux/notify.sh");
	assert_int_equal(cfg->default_node, 1);
	assert_int_equal(cfg->pdt_size, 65536);
	assert_int_equal(cfg->hash_key, 0xdeadbeef);
	assert_string_equal(cfg->control_socket, "/run/cnmux/control.sock");
	assert_int_equal(cfg->metrics_listen.ip.family, AF_INET6);
	assert_int_equal(cfg->metrics_listen.port, 9469);
	assert_string_equal(cfg->metrics_listen.text, "[::1]:9469");
	assert_int_equal(cfg->conn_max, 1024);
	assert_int_equal(cfg->conn_timeout_s, 604800);
	assert_int_equal(cfg->conn_closing_s, 1);
	assert_int_equal(cfg->conn_syn_s, 5);
	assert_int_equal(cfg->health_interval_ms, 10);
	assert_int_equal(cfg->health_timeout_ms, 60000);
	assert_int_equal(cfg->health_rise, 1);
	assert_int_equal(cfg->health_fall, 100);
	assert_int_equal(cfg->services[0].pdt_size, 16);
	assert_false(cfg->services[0].arp);
	assert_int_equal(cfg->services[0].ports[0].port, 1);
	assert_int_equal(cfg->services[0].ports[0].proto, IPPROTO_UDP);
	assert_int_equal(cfg->services[0].ports[1].port, 65535);
	assert_int_equal(cfg->services[0].members[0].weight, 0);
	assert_int_equal(cfg->services[0].udp_timeout_s, 604800);
	assert_int_equal(cfg->services[1].udp_timeout_s, 0); /* absent: off */
	assert_int_equal(cfg->services[2].udp_timeout_s, 0);
	assert_int_equal(cfg->services[1].pdt_size, 1048576);
	assert_true(cfg->services[1].arp);
	assert_int_equal(cfg->services[1].members[0].weight, 65535);
	cnm_config_free(cfg);
}

static void
test_hash_key_forms(void **state)
{
	static const struct {
		const char *json;
		uint32_t key;
	} cases[] = {
		{ CFG(", 'hash_key': 0"), 0 },
		{ CFG(", 'hash_key': 4294967295"), 0xffffffffu },
		{ CFG(", 'hash_key': '0x1234abcd'"), 0x1234abcdu },
		{ CFG(", 'hash_key': '0XFFFFFFFF'"), 0xffffffffu },
		{ CFG(", 'hash_key': '305419896'"), 305419896u },
		{ CFG(", 'hash_key': '0'"), 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cnm_config *cfg = parse_ok(cases[i].json);

		assert_int_equal(cfg->hash_key, cases[i].key);
		cnm_config_free(cfg);
	}
}

static void
test_ipv6(void **state)
{
	struct cnm_config *cfg = parse_ok(
		"{" PORTS ", 'nodes': [{'name': 'n6', 'ip': '2001:db8::1:2'},"
		" {'name': 'n4', 'ip': '192.0.2.1'},"
		" {'name': 'm', 'ip': '::ffff:192.0.2.1'}],"
		" 'services': [{'name': 'v6', 'vip': '2001:DB8::10', 'policy': 'weighted',"
		"  'ports': ['80/tcp'], 'nodes': {'n6': 1, 'n4': 1}},"
		" {'name': 'v4', 'vip': '198.51.100.1', 'policy': 'weighted',"
		"  'ports': ['80/tcp'], 'nodes': {'n4': 1}}]}");
	struct in6_addr a;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(cfg->nodes[0].ip.family, AF_INET6);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1:2", &a), 1);
	assert_memory_equal(cfg->nodes[0].ip.bytes, &a, 16);
	/* a v4-mapped v6 address is not the v4 address */
	assert_int_equal(cfg->nodes[2].ip.family, AF_INET6);
	assert_int_equal(cfg->services[0].vip.family, AF_INET6);
	assert_string_equal(cnm_addr_str(&cfg->services[0].vip, buf, sizeof(buf)),
			    "2001:db8::10");
	assert_int_equal(cfg->services[0].n_members, 2);
	cnm_config_free(cfg);
}

/* Members in the order of the file, not sorted; weight 0 is allowed. */
static void
test_member_order(void **state)
{
	struct cnm_config *cfg = parse_ok(
		"{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '192.0.2.1'},"
		" {'name': 'n2', 'ip': '192.0.2.2'}, {'name': 'n3', 'ip': '192.0.2.3'}],"
		" 'services': [{'name': 's', 'vip': '198.51.100.1', 'policy': 'weighted',"
		"  'ports': ['80/tcp'], 'nodes': {'n3': 5, 'n1': 0, 'n2': 7}}]}");
	const struct cnm_cfg_service *s;

	(void)state;
	s = &cfg->services[0];
	assert_int_equal(s->n_members, 3);
	assert_int_equal(s->members[0].node, 2);
	assert_int_equal(s->members[0].weight, 5);
	assert_int_equal(s->members[1].node, 0);
	assert_int_equal(s->members[1].weight, 0);
	assert_int_equal(s->members[2].node, 1);
	assert_int_equal(s->members[2].weight, 7);
	cnm_config_free(cfg);
}

/* What two services may share. */
static void
test_claims_allowed(void **state)
{
	struct cnm_config *cfg = parse_ok(SVCS(
		/* first table and second table on the same (vip, proto) */
		"{'name': 'a', " S_VIP ", " S_W ", 'ports': ['80/tcp', '80/udp'], "
		S_NODES "},"
		"{'name': 'b', " S_VIP ", " S_WILD ", 'protocols': ['tcp', 'udp'], "
		S_NODES "},"
		/* same port on another vip, another protocol, another family */
		"{'name': 'c', 'vip': '198.51.100.2', " S_W ", 'ports': ['80/tcp'], "
		S_NODES "},"
		"{'name': 'd', " S_VIP ", 'policy': 'sticky', 'ports': ['81/tcp'], "
		S_NODES "},"
		"{'name': 'e', 'vip': '2001:db8::1', " S_W ", 'ports': ['80/tcp'], "
		S_NODES "},"
		/* sticky-wild on another protocol of a taken vip */
		"{'name': 'f', 'vip': '198.51.100.2', " S_WILD ", 'protocols': ['udp'], "
		S_NODES "},"
		"{'name': 'g', 'vip': '198.51.100.2', " S_WILD ", 'protocols': ['tcp'], "
		S_NODES "}"));

	(void)state;
	assert_int_equal(cfg->n_services, 7);
	assert_int_equal(cfg->services[1].protocols,
			 CNM_PROTO_BIT_TCP | CNM_PROTO_BIT_UDP);
	assert_int_equal(cfg->services[5].protocols, CNM_PROTO_BIT_UDP);
	cnm_config_free(cfg);
}

/* Limits on counts, with generated configurations. */
static void
test_count_limits(void **state)
{
	size_t n, len, i;
	char *s, *p;

	(void)state;
	/* CNM_MAX_NODES + 1 nodes */
	n = CNM_MAX_NODES + 1;
	len = 256 + n * 4;
	s = malloc(len);
	assert_non_null(s);
	p = s + sprintf(s, "{" PORTS ", 'services': [], 'nodes': [{}");
	for (i = 1; i < n; i++)
		p += sprintf(p, ",{}");
	sprintf(p, "]}");
	assert_null(parse_q(s));
	assert_non_null(strstr(errbuf, FILE_NAME ": nodes: an array of 1 to 4096 nodes (got an array)"));
	free(s);

	/* CNM_MAX_SERVICES + 1 services */
	n = CNM_MAX_SERVICES + 1;
	len = 256 + sizeof(NODES) + n * 4;
	s = malloc(len);
	assert_non_null(s);
	p = s + sprintf(s, "{" PORTS ", " NODES ", 'services': [{}");
	for (i = 1; i < n; i++)
		p += sprintf(p, ",{}");
	sprintf(p, "]}");
	assert_null(parse_q(s));
	assert_non_null(strstr(errbuf, FILE_NAME ": services: an array of 0 to 16384 services (got an array)"));
	free(s);

	/* the budget: 17 services of 2^20 entries are more than 2^24 in all
	 * (what the tables would allocate, refused before they do) */
	for (n = CNM_PDT_ENTRIES_MAX / CNM_PDT_SIZE_MAX + 1; n >= CNM_PDT_ENTRIES_MAX / CNM_PDT_SIZE_MAX;
	     n--) {
		struct cnm_config *cfg;

		s = malloc(256 + sizeof(NODES) + n * 160);
		assert_non_null(s);
		p = s + sprintf(s, "{" PORTS ", " NODES ", 'services': [");
		for (i = 0; i < n; i++)
			p += sprintf(p, "%s{'name': 's%zu', 'vip': '198.51.100.1', 'policy': 'weighted', "
				     "'ports': ['%zu/tcp'], 'nodes': {'n1': 1}, 'pdt_size': %u}",
				     i ? "," : "", i, 80 + i, CNM_PDT_SIZE_MAX);
		sprintf(p, "]}");
		cfg = parse_q(s);
		free(s);
		if (n > CNM_PDT_ENTRIES_MAX / CNM_PDT_SIZE_MAX) {
			assert_null(cfg);
			assert_non_null(strstr(errbuf, FILE_NAME ": services[16]: services whose PDTs "
					       "hold at most 16777216 entries in all (pdt_size summed) "
					       "(got over the budget)"));
			continue;
		}
		/* one service less is within it */
		if (cfg == NULL)
			fail_msg("%s", errbuf);
		cnm_config_free(cfg);
	}

	/* the budget of pairs: 15 services listing all 4096 nodes are the
	 * 61440 (service, node) counter slots there are; a 16th is over it */
	for (n = 16; n >= 15; n--) {
		struct cnm_config *cfg;
		size_t j;

		s = malloc(256 + CNM_MAX_NODES * 64 + n * (128 + CNM_MAX_NODES * 12));
		assert_non_null(s);
		p = s + sprintf(s, "{" PORTS ", 'nodes': [");
		for (j = 0; j < CNM_MAX_NODES; j++)
			p += sprintf(p, "%s{'name': 'n%zu', 'ip': '10.0.%zu.%zu'}", j ? "," : "", j,
				     j >> 8, j & 0xff);
		p += sprintf(p, "], 'services': [");
		for (i = 0; i < n; i++) {
			p += sprintf(p, "%s{'name': 's%zu', 'vip': '198.51.100.1', 'policy': 'weighted', "
				     "'ports': ['%zu/tcp'], 'nodes': {", i ? "," : "", i, 80 + i);
			for (j = 0; j < CNM_MAX_NODES; j++)
				p += sprintf(p, "%s'n%zu': 1", j ? "," : "", j);
			p += sprintf(p, "}}");
		}
		sprintf(p, "]}");
		cfg = parse_q(s);
		free(s);
		if (n == 16) {
			assert_null(cfg);
			assert_non_null(strstr(errbuf, FILE_NAME ": services[15]: services with at most "
					       "61440 nodes in their lists in all (got over the budget)"));
			continue;
		}
		if (cfg == NULL)
			fail_msg("%s", errbuf);
		cnm_config_free(cfg);
	}

	/* exactly CNM_MAX_PRIVATE private ports is fine */
	{
		struct cnm_config *cfg = parse_ok(PORTCFG(
			"{'public': 'p0', 'private': ['a', 'b', 'c', 'd', 'e', "
			"'f', 'g', 'h']}"));

		assert_int_equal(cfg->n_private, CNM_MAX_PRIVATE);
		assert_string_equal(cfg->private_ports[7], "h");
		cnm_config_free(cfg);
	}
}

/* @p n services of @p ports ports each ("N/tcp" from 1), VIP 10.0.x.y each;
 * @p wild: sticky-wild services taking tcp and udp instead. Freed by the caller. */
static char *
services_text(size_t n, size_t ports, int wild)
{
	char *s = malloc(256 + sizeof(NODES) + n * (160 + ports * 16)), *p;
	size_t i, j;

	assert_non_null(s);
	p = s + sprintf(s, "{" PORTS ", " NODES ", 'services': [");
	for (i = 0; i < n; i++) {
		p += sprintf(p, "%s{'name': 's%zu', 'vip': '10.0.%zu.%zu', 'nodes': {'n1': 1}, ",
			     i ? "," : "", i, i >> 8, i & 0xff);
		if (wild) {
			p += sprintf(p, "'policy': 'sticky-wild', 'protocols': ['tcp', 'udp'], "
				     "'pdt_size': 16}");
			continue;
		}
		p += sprintf(p, "'policy': 'weighted', 'ports': [");
		for (j = 0; j < ports; j++)
			p += sprintf(p, "%s'%zu/tcp'", j ? "," : "", j + 1);
		p += sprintf(p, "]}");
	}
	sprintf(p, "]}");
	return s;
}

/*
 * The tables lib/service builds hold CNM_TABLE1_KEYS_MAX (VIP, protocol,
 * port) keys and CNM_TABLE2_KEYS_MAX (VIP, protocol) ones: a configuration
 * with one key more is refused when it is read, naming the service where it
 * goes over (it used to pass and fail at start-up with ENOSPC).
 */
static void
test_table_capacity(void **state)
{
	struct cnm_config *cfg;
	char *s;

	(void)state;
	/* two services of 32768 ports: the first table, full */
	s = services_text(2, CNM_TABLE1_KEYS_MAX / 2, 0);
	cfg = parse_q(s);
	free(s);
	if (cfg == NULL)
		fail_msg("%s", errbuf);
	cnm_config_free(cfg);
	/* three: one over */
	s = services_text(3, CNM_TABLE1_KEYS_MAX / 2, 0);
	assert_null(parse_q(s));
	free(s);
	assert_non_null(strstr(errbuf, FILE_NAME ": services[2]: weighted and sticky services "
			       "with at most 65536 ports in all (the first table holds 65536 (VIP, "
			       "protocol, port) keys) (got 98304 keys up to this service)"));
	/* sticky-wild, tcp and udp: 8192 services fill the second table */
	s = services_text(CNM_TABLE2_KEYS_MAX / 2, 0, 1);
	cfg = parse_q(s);
	free(s);
	if (cfg == NULL)
		fail_msg("%s", errbuf);
	cnm_config_free(cfg);
	s = services_text(CNM_TABLE2_KEYS_MAX / 2 + 1, 0, 1);
	assert_null(parse_q(s));
	free(s);
	assert_non_null(strstr(errbuf, FILE_NAME ": services[8192]: sticky-wild services with at "
			       "most 16384 (VIP, protocol) keys in all (the second table holds "
			       "16384) (got 16386 keys up to this service)"));
}

/* a forwarding list: 64 bytes an IPv4 connection, 128 an IPv6 one */
static uint64_t
test_ct_mem(uint32_t max4, uint32_t max6)
{
	return 64ull * max4 + 128ull * max6;
}

/* an environment whose parts are round numbers, to check the sums */
static const struct cnm_mem_env test_env = {
	.workers = 2,
	.mbufs = 1000,
	.mbuf_bytes = 2000,
	.eal_bytes = 64u << 20,
	.eal_from = "-m 64",
	.tables_eal = 3u << 20,
	.tables_heap = 1u << 20,
	.service_heap = 1000,
	.worker_eal = 100000,
	.worker_heap = 200000,
	.totals_heap = 10000,
	.ct_memsize = test_ct_mem,
};

/*
 * The estimate, part by part: PDTs (three copies of 2 bytes an entry), the
 * services (two copies), the tables (two copies), a forwarding list per
 * worker, the mbufs, the workers and the totals' readings; and what of it
 * is EAL memory.
 */
static void
test_memory_estimate(void **state)
{
	struct cnm_config *cfg = parse_ok(SVCS(
		"{" S_NAME ", " S_VIP ", " S_W ", 'ports': ['80/tcp', '443/tcp'], "
		"'nodes': {'n1': 1, 'n2': 1}, 'pdt_size': 1024}, "
		"{'name': 's2', 'vip': '198.51.100.2', " S_WILD ", 'protocols': ['tcp'], "
		S_NODES "}"));
	struct cnm_mem_estimate e;
	uint64_t ct;

	(void)state;
	cfg->conn_max = 1000;
	cfg->conn_max6 = 500;
	cnm_config_mem(cfg, &test_env, &e);
	assert_int_equal(e.pdts, 3 * (64 + 2 * 1024) + 3 * (64 + 2 * CNM_PDT_SIZE_DEFAULT));
	assert_int_equal(e.services, 2 * (1000 + 2 * CNM_MAX_NODES + 8 * 3 + 4 * 3) +
			 2 * (1000 + 2 * CNM_MAX_NODES + 8 * 2 + 4 * 1));
	assert_int_equal(e.tables, 2 * (4u << 20));
	ct = 64 * 1000 + 128 * 500;
	assert_int_equal(e.conntrack, 2 * ct);
	assert_int_equal(e.mbufs, 2000000);
	assert_int_equal(e.workers, 2 * 300000 + CNM_MEM_TOTALS * 10000);
	assert_int_equal(e.eal, 2 * (3u << 20) + 2 * ct + 2000000 + 2 * 100000);
	assert_int_equal(e.total, e.pdts + e.services + e.tables + e.conntrack + e.mbufs +
			 e.workers);
	/* an rte_hash of 1024 keys of 40 bytes: 128 buckets of 64 bytes,
	 * 1025 slots of 48, a ring of 2048 x 4; lock-free with extendable
	 * buckets, as many buckets again, another ring, 4 bytes and 16 bytes
	 * (a power of two) a slot */
	assert_int_equal(cnm_hash_memsize(1024, 40, 0), 128 * 64 + 1025 * 48 + 2048 * 4 + 4096);
	assert_int_equal(cnm_hash_memsize(1024, 40, 1), 128 * 64 + 1025 * 48 + 2048 * 4 + 4096 +
			 128 * 64 + 2048 * 4 + 1025 * 4 + 2048 * 16);
	/* without an environment: the file's share only (one worker, an
	 * rte_hash of 40-byte keys for each family) */
	cnm_config_mem(cfg, NULL, &e);
	assert_int_equal(e.mbufs, 0);
	assert_int_equal(e.conntrack, cnm_hash_memsize(1000, 40, 0) + cnm_hash_memsize(500, 40, 0));
	cnm_config_free(cfg);
}

/*
 * The check every configuration read goes through once the environment is
 * known: against memory.limit_mb, or the EAL's memory; and the EAL's share
 * against the EAL's memory. The error names the file, the key and what the
 * configuration takes by part.
 */
static void
test_memory_check(void **state)
{
	struct cnm_mem_env env = test_env;
	struct cnm_config *cfg;

	(void)state;
	cnm_config_set_env(&env);
	/* 100,000 forwarding-list entries a worker: within 64 MiB */
	cfg = parse_ok(CFG(", 'conntrack': {'max': 100000}"));
	cnm_config_free(cfg);
	/* 1,000,000 a worker: over the EAL's 64 MiB */
	assert_null(parse_q(CFG(", 'conntrack': {'max': 1000000}")));
	assert_non_null(strstr(errbuf, FILE_NAME ": (memory): a configuration that takes at most "
			       "64.0 MiB, the memory the EAL was given (-m 64; or a \"memory\": "
			       "{\"limit_mb\": N} of its own) (got about "));
	assert_non_null(strstr(errbuf, "forwarding lists "));
	assert_non_null(strstr(errbuf, "(2 worker(s) x 1000000 IPv4 + 1000000 IPv6 entries)"));
	/* a limit of its own, lower: refused by it */
	assert_null(parse_q(CFG(", 'conntrack': {'max': 100000}, 'memory': {'limit_mb': 20}")));
	assert_non_null(strstr(errbuf, FILE_NAME ": memory.limit_mb: a configuration that takes "
			       "at most 20 MiB (got about "));
	/* higher than the EAL's: the total passes it, the EAL's share must
	 * still fit in what the EAL was given */
	assert_null(parse_q(CFG(", 'conntrack': {'max': 1000000}, 'memory': {'limit_mb': 4096}")));
	assert_non_null(strstr(errbuf, FILE_NAME ": (memory): a configuration whose DPDK "
			       "allocations fit in the 64.0 MiB the EAL was given (-m 64) (got about "));
	/* the EAL's memory unknown: only memory.limit_mb */
	env.eal_bytes = 0;
	cnm_config_set_env(&env);
	cfg = parse_ok(CFG(", 'conntrack': {'max': 1000000}"));
	/* the same check on a configuration read before the environment was set */
	env.eal_bytes = 64u << 20;
	cnm_config_set_env(&env);
	assert_int_equal(cnm_config_check_memory(cfg, errbuf, sizeof(errbuf)), -EINVAL);
	assert_non_null(strstr(errbuf, ": (memory): a configuration that takes at most 64.0 MiB"));
	cnm_config_free(cfg);
	/* no environment: no memory check */
	cnm_config_set_env(NULL);
	cfg = parse_ok(CFG(", 'conntrack': {'max': 1000000}, 'memory': {'limit_mb': 16}"));
	assert_int_equal(cfg->mem_limit_mb, 16);
	cnm_config_free(cfg);
}

/* Errors reported deep in the file free what was built before them. */
static void
test_late_error_frees(void **state)
{
	(void)state;
	/* services 0 and 1 fully built, error in service 2 (ASan checks leaks) */
	assert_null(parse_q(SVCS(SVC_W ", {'name': 's2', " S_VIP ", " S_W ", "
				 "'ports': ['81/tcp'], " S_NODES "}, "
				 "{'name': 's3', " S_VIP ", " S_W ", "
				 "'ports': ['82/tcp'], 'nodes': {'n1': 1, 'n2': 'x'}}")));
	assert_non_null(strstr(errbuf, FILE_NAME ": services[2].nodes.n2: "));
}

static void
test_error_buffer_edges(void **state)
{
	const char *bad = "{\"ports\": 1}";
	char small[12];

	(void)state;
	/* no buffer at all */
	assert_null(cnm_config_parse(bad, strlen(bad), "x.json", NULL, 0));
	/* a short buffer is cut, still terminated */
	memset(small, 'z', sizeof(small));
	assert_null(cnm_config_parse(bad, strlen(bad), "x.json", small,
				     sizeof(small)));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "x.json: por", sizeof(small) - 1);
	/* text that is not NUL-terminated: only len bytes are read */
	assert_null(cnm_config_parse("{}garbage", 2, "x.json", errbuf,
				     sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "x.json: ports: "));
	/* an embedded NUL is not valid JSON */
	assert_null(cnm_config_parse("{\"a\0\": 1}", 9, "x.json", errbuf,
				     sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "x.json: line 1"));
	/* a long unknown key is cut in the message, not overflowing it */
	{
		char *s = malloc(4096);
		size_t i;

		assert_non_null(s);
		strcpy(s, "{\"");
		for (i = 2; i < 3000; i++)
			s[i] = 'k';
		strcpy(s + i, "\": 1}");
		assert_null(cnm_config_parse(s, strlen(s), "x.json", errbuf,
					     sizeof(errbuf)));
		assert_true(strlen(errbuf) < sizeof(errbuf));
		assert_non_null(strstr(errbuf, "x.json: kkkk"));
		free(s);
	}
}

static void
test_helpers(void **state)
{
	struct cnm_addr a = { .family = AF_INET, .bytes = { 203, 0, 113, 7 } };
	struct cnm_addr bad = { .family = 99 };
	char buf[INET6_ADDRSTRLEN];
	char tiny[4];

	(void)state;
	assert_string_equal(cnm_policy_name(CNM_POLICY_WEIGHTED), "weighted");
	assert_string_equal(cnm_policy_name(CNM_POLICY_STICKY), "sticky");
	assert_string_equal(cnm_policy_name(CNM_POLICY_STICKY_WILD), "sticky-wild");
	assert_string_equal(cnm_policy_name((enum cnm_policy)7), "unknown");
	assert_string_equal(cnm_addr_str(&a, buf, sizeof(buf)), "203.0.113.7");
	assert_string_equal(cnm_addr_str(&bad, buf, sizeof(buf)), "?");
	assert_string_equal(cnm_addr_str(&a, tiny, sizeof(tiny)), "?");
	assert_int_equal(cnm_config_node_index(NULL, "x"), -1);
	assert_int_equal(cnm_config_service_index(NULL, "x"), -1);
	cnm_config_free(NULL);
}

static void
test_load_file(void **state)
{
	char path[] = "/tmp/cnm_config_test_XXXXXX";
	const char *text = "{\"ports\": {\"public\": \"p0\", \"private\": [\"p1\"]},"
		" \"nodes\": [{\"name\": \"n1\", \"ip\": \"192.0.2.1\"}],"
		" \"services\": []}";
	struct cnm_config *cfg;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	cfg = cnm_config_load(path, errbuf, sizeof(errbuf));
	if (cfg == NULL)
		fail_msg("%s", errbuf);
	assert_string_equal(cfg->path, path);
	assert_int_equal(cfg->n_nodes, 1);
	cnm_config_free(cfg);

	/* errors name the real file */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"ports\": {\"public\": \"p0\"}}", f);
	fclose(f);
	assert_null(cnm_config_load(path, errbuf, sizeof(errbuf)));
	assert_int_equal(strncmp(errbuf, path, strlen(path)), 0);
	assert_non_null(strstr(errbuf, ": ports.private: an array of 1 to 8"));
	unlink(path);
}

static void
test_load_cannot_read(void **state)
{
	(void)state;
	assert_null(cnm_config_load("/nonexistent/cnmux.json", errbuf,
				    sizeof(errbuf)));
	assert_string_equal(errbuf, "/nonexistent/cnmux.json: cannot read: "
			    "No such file or directory");
	assert_null(cnm_config_load("/tmp", errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "/tmp: cannot read: not a regular file (expected a "
			    "configuration file)");
}

/* config/default.json of the source tree (SRC_DIR, given by meson). */
static void
test_bundled_default(void **state)
{
	char path[4096];
	struct cnm_config *cfg;

	(void)state;
	snprintf(path, sizeof(path), "%s/config/default.json", SRC_DIR);
	cfg = cnm_config_load(path, errbuf, sizeof(errbuf));
	if (cfg == NULL)
		fail_msg("%s", errbuf);
	assert_int_equal(cfg->n_nodes, 4);
	assert_int_equal(cfg->n_services, 4);
	assert_string_equal(cfg->local_port, "net_pcap2");
	assert_int_equal(cnm_config_service_index(cfg, "web6"), 3);
	assert_int_equal(cfg->services[3].vip.family, AF_INET6);
	assert_int_equal(cfg->services[0].n_members, 4);
	cnm_config_free(cfg);
}

/* A tunnel's gateway may be IPv6 (resolved by neighbour discovery), whatever
 * the node's family. */
static void
test_gateway_v6(void **state)
{
	static const uint8_t gw[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct cnm_config *cfg;

	(void)state;
	cfg = parse_ok("{" PORTS ", 'nodes': ["
		"{'name': 'n1', 'ip': '2001:db8:5::1', 'forward': 'ipip', 'gateway': '2001:db8::1'},"
		"{'name': 'n2', 'ip': '192.0.2.7', 'forward': 'gue', 'gateway': '2001:db8::1'}],"
		"'tunnel': {'source4': '192.0.2.1', 'source6': '2001:db8:ff::1'}, 'services': []}");
	assert_true(cfg->nodes[0].has_gateway);
	assert_int_equal(cfg->nodes[0].gateway.family, AF_INET6);
	assert_memory_equal(cfg->nodes[0].gateway.bytes, gw, 16);
	assert_true(cfg->nodes[1].has_gateway);
	assert_int_equal(cfg->nodes[1].gateway.family, AF_INET6);
	cnm_config_free(cfg);
}

/* config/tunnels.json: the example of the tunnel methods parses as documented. */
static void
test_bundled_tunnels(void **state)
{
	char path[4096];
	struct cnm_config *cfg;

	(void)state;
	snprintf(path, sizeof(path), "%s/config/tunnels.json", SRC_DIR);
	cfg = cnm_config_load(path, errbuf, sizeof(errbuf));
	if (cfg == NULL)
		fail_msg("%s", errbuf);
	assert_int_equal(cfg->n_nodes, 4);
	assert_int_equal(cfg->nodes[0].forward, CNM_FWD_MAC);
	assert_int_equal(cfg->nodes[1].forward, CNM_FWD_IPIP);
	assert_true(cfg->nodes[1].has_gateway);
	assert_int_equal(cfg->nodes[2].forward, CNM_FWD_GUE);
	assert_int_equal(cfg->nodes[2].gue_port, CNM_GUE_PORT_DEFAULT);
	assert_int_equal(cfg->nodes[3].forward, CNM_FWD_IPIP);
	assert_int_equal(cfg->nodes[3].ip.family, AF_INET6);
	assert_int_equal(cfg->tunnel.source4_len, 28);
	assert_int_equal(cfg->tunnel.source6_len, 128);
	assert_int_equal(cfg->tunnel.mtu, 1500);
	cnm_config_free(cfg);
}

/* QUIC-LB: the service's block and the nodes' server IDs (docs/quic.md) */
static void
test_quic_lb(void **state)
{
	struct cnm_config *cfg = parse_ok(
		"{" PORTS ", 'nodes': [{'name': 'n1', 'ip': '192.0.2.1', 'server_id': '0a0b0c'},"
		"  {'name': 'n2', 'ip': '192.0.2.2', 'server_id': '0A0B0D'},"
		"  {'name': 'n3', 'ip': '192.0.2.3'}],"
		" 'services': [{'name': 'h3', 'vip': '198.51.100.1', 'policy': 'weighted',"
		"   'ports': ['443/udp'], 'nodes': {'n1': 1, 'n2': 1, 'n3': 1},"
		"   'udp_timeout_s': 30,"
		"   'quic_lb': [{'config_id': 2, 'server_id_len': 3, 'nonce_len': 6,"
		"                'mode': 'plaintext', 'cid_len': 12}]},"
		"  {'name': 'web', 'vip': '198.51.100.1', 'policy': 'weighted',"
		"   'ports': ['443/tcp'], 'nodes': {'n1': 1}}]}");
	static const uint8_t sid2[3] = { 0x0a, 0x0b, 0x0d };

	(void)state;
	assert_int_equal(cfg->nodes[0].server_id_len, 3);
	assert_memory_equal(cfg->nodes[1].server_id, sid2, 3);
	assert_int_equal(cfg->nodes[2].server_id_len, 0);
	assert_int_equal(cfg->services[0].n_quic, 1);
	assert_non_null(cfg->services[0].quic);
	assert_int_equal(cfg->services[0].quic[0].config_id, 2);
	assert_int_equal(cfg->services[0].quic[0].server_id_len, 3);
	assert_int_equal(cfg->services[0].quic[0].nonce_len, 6);
	assert_int_equal(cfg->services[0].quic[0].cid_len, 12);
	assert_int_equal(cfg->services[0].quic[0].mode, CNM_QUICLB_PLAINTEXT);
	assert_int_equal(cfg->services[1].n_quic, 0);
	assert_null(cfg->services[1].quic);
	cnm_config_free(cfg);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_brief_example),
		cmocka_unit_test(test_quic_lb),
		cmocka_unit_test(test_ha),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_optional_keys),
		cmocka_unit_test(test_hash_key_forms),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_member_order),
		cmocka_unit_test(test_claims_allowed),
		cmocka_unit_test(test_count_limits),
		cmocka_unit_test(test_table_capacity),
		cmocka_unit_test(test_memory_estimate),
		cmocka_unit_test(test_memory_check),
		cmocka_unit_test(test_late_error_frees),
		cmocka_unit_test(test_error_buffer_edges),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_cannot_read),
		cmocka_unit_test(test_bundled_default),
		cmocka_unit_test(test_bundled_tunnels),
		cmocka_unit_test(test_gateway_v6),
	};
	size_t n_err = sizeof(err_cases) / sizeof(err_cases[0]);
	size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests = calloc(n_fixed + n_err, sizeof(*tests));
	size_t i;
	int ret;

	if (tests == NULL)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	for (i = 0; i < n_err; i++) {
		tests[n_fixed + i].name = err_cases[i].name;
		tests[n_fixed + i].test_func = run_err_case;
		tests[n_fixed + i].initial_state = (void *)&err_cases[i];
	}
	ret = _cmocka_run_group_tests("config", tests, n_fixed + n_err, NULL,
				      NULL);
	free(tests);
	return ret;
}
