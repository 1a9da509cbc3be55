/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * cnmux configuration file, schema version 1 (see docs/config.md).
 *
 * The parser is pure: it uses jansson and libc only, never EAL, so the unit
 * tests and the fuzzer call it directly. A configuration is validated as a
 * whole before anything is returned; on error nothing is returned and the
 * message names the file, the key and what was expected.
 */
#ifndef CNM_CONFIG_H
#define CNM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnm_policy.h"

struct cnm_quiclb_conf; /* lib/quiclb */

#define CNM_NAME_MAX 64          /**< names of nodes, services, ports (with NUL) */
#define CNM_MAX_NODES 4096       /**< node ids are uint16_t, 0xffff means "none" */
#define CNM_MAX_SERVICES 16384   /**< service groups */
#define CNM_MAX_PRIVATE 8        /**< private ports */
#define CNM_PATH_NODES_MAX 64    /**< "paths": "nodes" probed through every path */
#define CNM_PATH_INTERVAL_MS_DEFAULT 1000
#define CNM_PATH_ROUNDS_DEFAULT 3
#define CNM_PATH_RISE_DEFAULT 1
#define CNM_PATH_MAX 108         /**< fits sockaddr_un.sun_path */
#define CNM_CMD_MAX 256          /**< a shell command of the config */
#define CNM_ERR_MAX 512          /**< size of an error message buffer */

#define CNM_PDT_SIZE_DEFAULT 4096u
#define CNM_PDT_SIZE_MIN 16u
#define CNM_PDT_SIZE_MAX (1u << 20)
#define CNM_HASH_KEY_DEFAULT 0x636e6d78u /* "cnmx" */


/** Protocol bits of cnm_cfg_service.protocols. */
#define CNM_PROTO_BIT_TCP 0x1
#define CNM_PROTO_BIT_UDP 0x2

/** An IPv4 or IPv6 address in network byte order. */
struct cnm_addr {
	uint8_t family;    /**< AF_INET or AF_INET6 */
	uint8_t bytes[16]; /**< IPv4: first 4 bytes, the rest zero */
};

/** A node's "check": how the health checker probes it (docs/health.md). */
enum cnm_check_type {
	CNM_CHECK_NONE = 0,   /**< no "check": the global behaviour (probe, check_port) */
	CNM_CHECK_NEIGH,      /**< "arp" / "nd": the next hop answers ARP / ND */
	CNM_CHECK_ICMP,       /**< ICMP / ICMPv6 echo from health.source(6), on the private path */
	CNM_CHECK_TCP,        /**< half-open: SYN from health.source(6), SYN-ACK healthy */
	CNM_CHECK_CONNECT,    /**< TCP connect() through the host's kernel stack */
	CNM_CHECK_SCRIPT,     /**< a command run per round, exit 0 healthy (MISC_CHECK) */
	CNM_CHECK_HTTP,       /**< GET path from health.source(6) on the private path (HTTP_GET) */
	CNM_CHECK_HTTPS,      /**< the same GET over TLS (SSL_GET), no certificate verified */
	CNM_CHECK_MAX,
};

#define CNM_CHECK_CMD_MAX 256  /**< script command, notify hook (with NUL) */
#define CNM_CHECK_PATH_MAX 128 /**< http: the request's path (with NUL) */
#define CNM_CHECK_HTTP_PORT_DEFAULT 80
#define CNM_CHECK_HTTPS_PORT_DEFAULT 443
#define CNM_CHECK_HTTP_EXPECT_DEFAULT 200

struct cnm_cfg_check {
	uint8_t type;          /**< enum cnm_check_type */
	uint16_t port;         /**< tcp, connect, http: the node's port (host order) */
	uint16_t expect;       /**< http: the status that passes; 0 for the others */
	uint32_t interval_ms;  /**< 0: health.interval_ms */
	uint32_t timeout_ms;   /**< 0: health.timeout_ms */
	uint32_t rise;         /**< 0: health.rise */
	uint32_t fall;         /**< 0: health.fall */
	char command[CNM_CHECK_CMD_MAX]; /**< script: run with /bin/sh -c */
	char path[CNM_CHECK_PATH_MAX];   /**< http: "/..." ("" for the others) */
};

struct cnm_cfg_node {
	char name[CNM_NAME_MAX];
	struct cnm_addr ip;
	uint8_t mac[6];
	bool has_mac;         /**< false: resolve with ARP on a private port */
	uint16_t check_port;  /**< 0: no TCP health check, else TCP connect to ip:check_port */
	uint8_t forward;      /**< enum cnm_fwd_method: how packets reach it ("forward") */
	bool has_gateway;     /**< tunnels: resolve gateway, not ip, when there is no mac */
	struct cnm_addr gateway; /**< tunnels: the IPv4 router in front of the node */
	uint16_t gue_port;    /**< gue: outer UDP destination port (host order), default 6080 */
	uint8_t server_id[15]; /**< QUIC-LB server ID ("server_id", hex; docs/quic.md) */
	uint8_t server_id_len; /**< its length; 0: none (reached by the PDT only) */
	struct cnm_cfg_check check; /**< "check"; type CNM_CHECK_NONE when absent */
};

/** Name of a check type as written in the file; @p v6: "nd" rather than "arp". */
const char *cnm_check_name(unsigned int type, int v6);

/** "tunnel": the outer source and the private MTU of the tunnel methods. */
struct cnm_cfg_tunnel {
	struct cnm_addr source4;  /**< family 0: none */
	uint32_t source4_len;     /**< prefix length, 16..32 */
	struct cnm_addr source6;  /**< family 0: none */
	uint32_t source6_len;     /**< prefix length, 112..128 */
	uint32_t mtu;             /**< IP MTU of the private side */
};

#define CNM_GUE_PORT_DEFAULT 6080
#define CNM_TUNNEL_MTU_DEFAULT 1500

struct cnm_cfg_port {
	uint16_t port;  /**< host byte order, 1..65535 */
	uint8_t proto;  /**< IPPROTO_TCP or IPPROTO_UDP */
};

/** A node of a service group with its weight. */
struct cnm_cfg_member {
	uint32_t node;   /**< index into cnm_config.nodes */
	uint32_t weight; /**< 0 = configured but drained */
};

struct cnm_cfg_service {
	char name[CNM_NAME_MAX];
	struct cnm_addr vip;
	enum cnm_policy policy;
	uint32_t n_ports;           /**< weighted, sticky: >= 1; sticky-wild: 0 */
	struct cnm_cfg_port *ports;
	uint8_t protocols;          /**< sticky-wild: CNM_PROTO_BIT_*, else 0 */
	uint32_t n_members;         /**< in the order of the file */
	struct cnm_cfg_member *members;
	uint32_t pdt_size;          /**< power of two; the global pdt_size unless set */
	bool arp;                   /**< answer ARP / ND for the VIP on the public port */
	uint32_t udp_timeout_s;     /**< UDP flow list: idle time of a UDP flow; 0: off
				         (UDP follows the PDT of the moment) */
	struct cnm_quiclb_conf *quic; /**< "quic_lb": n_quic QUIC-LB configurations
					   (docs/quic.md), NULL when none; owned by
					   the configuration */
	uint32_t n_quic;
	uint32_t second_chance_s;   /**< after a PDT change, how long a non-SYN TCP packet
				         the forwarding list does not hold goes to its slot's
				         previous owner (docs/pdt.md); 0 = off; the global
				         second_chance_s unless set */
};

/** Role of a holder of the tables in high availability (docs/ha.md, FIG. 9). */
enum cnm_ha_role {
	CNM_HA_PRIMARY = 0,   /**< the PDT server: accepts changes, checkpoints them */
	CNM_HA_SECONDARY = 1, /**< holds every acknowledged change; takes over */
	CNM_HA_SLAVE = 2,     /**< a copy on an interface node; never takes over */
};

#define CNM_HA_PEERS_MAX 8
#define CNM_HA_HEARTBEAT_MS_DEFAULT 100u
#define CNM_HA_FAILOVER_MS_DEFAULT 800u
#define CNM_HA_FAILOVER_MS_MAX 1000u
#define CNM_HA_ACK_TIMEOUT_MS_DEFAULT 500u
#define CNM_HA_KEY_MIN_BYTES 32u  /**< ha.key_file holds at least this many bytes */

/** The budget of a configuration (file, reload, HA state): what its tables may allocate. */
/** Longest second chance window a file may ask for (one day). */
#define CNM_SECOND_CHANCE_S_MAX 86400u

#define CNM_PDT_ENTRIES_MAX (1u << 24) /**< pdt_size summed over services: 32 MiB per copy */
#define CNM_SVC_KEYS_MAX (1u << 20)    /**< (VIP, port) keys summed over services (+1 each) */
/** (service, node) pairs summed over services: each has a counter slot
 * (lib/stats: 65,536 slots less one sink per node) */
#define CNM_MEMBERS_MAX (65536u - CNM_MAX_NODES)

/**
 * Capacity of the service tables lib/service builds (rte_hash entries): a
 * configuration's keys must fit in them, and are refused before anything is
 * built when they do not.
 */
#define CNM_TABLE1_KEYS_MAX 65536u  /**< first table: (VIP, protocol, port) of every port of
				         the weighted and sticky services */
#define CNM_TABLE2_KEYS_MAX 16384u  /**< second table: (VIP, protocol) of the sticky-wild
				         services, one per protocol */
#define CNM_VIP_KEYS_MAX 16384u     /**< the VIP, ARP and ND sets: one key per VIP */

struct cnm_config;

/**
 * Where a configuration runs, for the estimate of the memory it takes
 * (cnm_config_mem()): what does not come from the file. Sizes of the
 * program's fixed structures are the caller's (it knows them: main() fills
 * them with cnm_lb_memsize(), cnm_wstats_memsize(), ...). All 0: nothing
 * known, the file's share only.
 */
struct cnm_mem_env {
	uint32_t workers;          /**< worker lcores (each has a forwarding list); 0: 1 */
	uint64_t mbufs;            /**< mbufs in the pool */
	uint64_t mbuf_bytes;       /**< memory of one mbuf in the pool, all overheads */
	uint64_t eal_bytes;        /**< memory the EAL was given (-m, --socket-mem); 0: unknown */
	uint64_t eal_base;         /**< what the EAL itself takes (pdump, ports, pool header) */
	const char *eal_from;      /**< how eal_bytes is known, for messages ("-m 512") */
	uint64_t tables_eal;       /**< one copy of the tables: rte_hash and other EAL memory */
	uint64_t tables_heap;      /**< one copy of the tables: the handle (struct cnm_lb) */
	uint64_t service_heap;     /**< one service's fixed part in one copy of the tables */
	uint64_t worker_eal;       /**< one worker's fixed EAL memory (not its forwarding list) */
	uint64_t worker_heap;      /**< one worker's counters */
	uint64_t totals_heap;      /**< one reading of the totals; the control loop keeps
				        CNM_MEM_TOTALS of them */
	/** memory of one forwarding list of @p max4 IPv4 and @p max6 IPv6
	 * connections (cnm_ct_memsize()); NULL: an rte_hash of 40-byte keys
	 * for each */
	uint64_t (*ct_memsize)(uint32_t max4, uint32_t max6);
};

/** Readings of the totals the control loop, telemetry and /metrics hold at most at once. */
#define CNM_MEM_TOTALS 6u
/** Copies of the tables at most at once: the live one and a reload's trial copy. */
#define CNM_MEM_TABLE_COPIES 2u

/** The memory a configuration takes, by what takes it (bytes; cnm_config_mem()). */
struct cnm_mem_estimate {
	uint64_t pdts;       /**< PDTs: every copy (live, being rebuilt, a reload's trial) */
	uint64_t services;   /**< services' structures, members and ports, every copy */
	uint64_t tables;     /**< the hash tables and the handle, every copy */
	uint64_t conntrack;  /**< the forwarding lists: one per worker */
	uint64_t mbufs;      /**< the mbuf pool */
	uint64_t workers;    /**< workers' own memory and counters, the totals' readings, and
				  what the EAL itself takes (env eal_base) */
	uint64_t eal;        /**< of the total, what comes from the EAL's memory */
	uint64_t total;
};

/** Memory of an rte_hash of @p entries keys of @p key_len bytes, with @p lf_ext
 * the lock-free one with extendable buckets and RCU reclaim of lib/service:
 * an estimate from DPDK 22.11's layout. */
uint64_t cnm_hash_memsize(uint32_t entries, uint32_t key_len, int lf_ext);

/** The memory configuration @p cfg takes where @p env says it runs. */
void cnm_config_mem(const struct cnm_config *cfg, const struct cnm_mem_env *env,
		struct cnm_mem_estimate *e);

/**
 * Where every configuration validated from now on runs (cnm_config_load(),
 * cnm_config_parse(): a file, a reload, `service add`, an HA state): its
 * memory is checked against memory.limit_mb or, without, @p env's
 * eal_bytes. NULL: not checked (the file's other rules still are). Copied.
 */
void cnm_config_set_env(const struct cnm_mem_env *env);

/** The environment cnm_config_set_env() set, or NULL. */
const struct cnm_mem_env *cnm_config_env(void);

/**
 * The memory check cnm_config_parse() ends with, on @p cfg (validated
 * before the environment was known: cnmux's start-up, which learns its
 * workers from the ports). 0, or -EINVAL with the error in @p err (naming
 * the file, "memory.limit_mb" or "(memory)", and what it takes by part).
 */
int cnm_config_check_memory(const struct cnm_config *cfg, char *err, size_t errlen);

/** A TCP endpoint "IP:PORT" (IPv6 as "[IP]:PORT"). */
struct cnm_endpoint {
	struct cnm_addr ip;
	uint16_t port;                          /**< host byte order */
	char text[CNM_NAME_MAX];                /**< as written in the file */
};

/** Another holder of the tables. */
struct cnm_cfg_ha_peer {
	char id[CNM_NAME_MAX];
	struct cnm_endpoint address;
};

/** The "ha" object: checkpointing between holders (docs/ha.md). */
struct cnm_cfg_ha {
	bool enabled;                           /**< the file has an "ha" object */
	char id[CNM_NAME_MAX];                  /**< this holder */
	struct cnm_endpoint listen;
	enum cnm_ha_role role;                  /**< the role it starts in */
	uint32_t n_peers;
	struct cnm_cfg_ha_peer peers[CNM_HA_PEERS_MAX];
	uint32_t heartbeat_ms;
	uint32_t failover_ms;                   /**< silence of the primary before takeover */
	uint32_t ack_timeout_ms;                /**< how long a change waits for the secondary */
	char key_file[256];                     /**< the shared key; "" with trusted_segment */
	bool trusted_segment;                   /**< no key: every host on the segment is trusted */
};

struct cnm_config {
	char path[4096];                        /**< file it came from, for messages */
	char public_port[CNM_NAME_MAX];
	char private_ports[CNM_MAX_PRIVATE][CNM_NAME_MAX];
	uint32_t n_private;
	char local_port[CNM_NAME_MAX];          /**< "" when absent */
	int32_t default_node;                   /**< index into nodes, -1 when absent */
	uint32_t n_nodes;
	struct cnm_cfg_node *nodes;
	uint32_t n_services;
	struct cnm_cfg_service *services;
	uint32_t pdt_size;                      /**< default PDT size */
	uint32_t hash_key;                      /**< key of the client hash */
	char control_socket[CNM_PATH_MAX];      /**< "" = none */
	char announce_file4[CNM_PATH_MAX];      /**< announce.file4: "" none (lib/announce) */
	char announce_file6[CNM_PATH_MAX];      /**< announce.file6: "" none */
	char announce_cmd[CNM_CMD_MAX];         /**< announce.command: "" none */
	char state_file[CNM_PATH_MAX];          /**< control.state_file: the running
						     configuration, written on every
						     change; "" = none */
	struct cnm_endpoint metrics_listen;     /**< "metrics.listen": the Prometheus
						     endpoint; port 0 = none */
	bool icmp_echo_reply;                   /**< "icmp_echo": "reply" (default) answers
						     echo requests to a VIP; "local" delivers them */
	bool verify_checksum;                   /**< check IPv4 header checksums (default false) */
	/* TCP forwarding list */
	uint32_t conn_max;                      /**< IPv4 entries per worker */
	uint32_t conn_max6;                     /**< IPv6 entries per worker */
	uint32_t conn_timeout_s;                /**< established, idle */
	uint32_t conn_closing_s;                /**< after FIN or RST */
	uint32_t conn_syn_s;                    /**< half open */
	uint32_t second_chance_s;               /**< default of the services' second_chance_s */
	/* node liveness: probes run only when the file has a "health" object */
	bool health_enabled;
	uint32_t health_interval_ms;
	uint32_t health_timeout_ms;
	uint32_t health_rise;
	uint32_t health_fall;
	struct cnm_addr health_source;          /**< health.source: IPv4 of icmp / tcp checks;
						     family 0: none */
	struct cnm_addr health_source6;         /**< health.source6: IPv6 of them; family 0: none */
	char health_notify[CNM_CHECK_CMD_MAX];  /**< health.notify: run on each change; "" none */
	/* "paths": the redundant private paths (lib/path, docs/paths.md) */
	bool paths_spread;                      /**< frames of one node over every path that is
						     up; default: on with several private ports */
	uint32_t paths_interval_ms;             /**< a reachability round per path */
	uint32_t paths_rounds;                  /**< rounds with no answer that take a path out */
	uint32_t paths_rise;                    /**< answered rounds that bring it back */
	bool paths_nodes_set;                   /**< "nodes" given: only those are probed */
	uint32_t n_paths_nodes;
	char paths_nodes[CNM_PATH_NODES_MAX][CNM_NAME_MAX]; /**< node names probed */
	struct cnm_cfg_ha ha;                   /**< high availability; ha.enabled false: none */
	struct cnm_cfg_tunnel tunnel;           /**< outer headers of ipip / gue nodes */
	uint64_t mem_limit_mb;                  /**< "memory.limit_mb"; 0: the EAL's memory */
};

/**
 * Read and validate a configuration file.
 *
 * @param path  file to read
 * @param err   receives "FILE: KEY: what was expected" on failure
 * @param errlen size of err (CNM_ERR_MAX is enough)
 * @return the configuration, or NULL with err filled in.
 */
struct cnm_config *cnm_config_load(const char *path, char *err, size_t errlen);

/**
 * Validate a configuration held in memory; @p name stands for the file name in
 * messages. Same rules and results as cnm_config_load().
 */
struct cnm_config *cnm_config_parse(const char *text, size_t len, const char *name,
		char *err, size_t errlen);

/** Free a configuration (NULL is fine). */
void cnm_config_free(struct cnm_config *cfg);

/** Name of a policy as written in the file ("weighted", "sticky", "sticky-wild"). */
const char *cnm_policy_name(enum cnm_policy p);

/** Name of an HA role as written in the file ("primary", "secondary", "slave"). */
const char *cnm_ha_role_name(enum cnm_ha_role r);

/** Index of the node called @p name, or -1. */
int cnm_config_node_index(const struct cnm_config *cfg, const char *name);

/** Index of the service called @p name, or -1. */
int cnm_config_service_index(const struct cnm_config *cfg, const char *name);

struct json_t;

/**
 * Describe a JSON value in a few words for an error's "(got ...)": the value
 * itself for numbers, booleans and (cut, quoted, control bytes as '?')
 * strings, "an object", "an array", "nothing" for NULL.
 */
void cnm_json_describe(char *buf, size_t len, const struct json_t *v);

/** Format an address as text (inet_ntop); returns @p buf. */
const char *cnm_addr_str(const struct cnm_addr *a, char *buf, size_t len);

#endif /* CNM_CONFIG_H */
