/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * High availability of the tables (docs/ha.md; patent claims 11, 12, 20, 21,
 * FIG. 9): a primary PDT server checkpoints every change to a secondary and
 * to slave copies over TCP; the secondary takes over when the primary falls
 * silent.
 *
 * Two layers:
 * - the protocol (proto.c): framing, checksum, the MAC (libsodium's
 *   HMAC-SHA-256), the order rules of epochs and sequence numbers, reasons
 *   of rejection. Pure: libc, libsodium and DPDK's CRC header only, so the
 *   unit tests and the fuzzer call it directly;
 * - the holder (ha.c): sockets polled from the control loop (never blocking a
 *   worker), roles, failover, applying snapshots and deltas through the
 *   control module's reload-diff code and cnm_lb_svc_set_pdt().
 */
#ifndef CNM_HA_H
#define CNM_HA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cnm_config.h"
#include "cnm_control.h"

/* ---- the protocol ---- */

#define CNM_HA_MAGIC 0x41484e43u     /**< "CNHA" in memory order, read little-endian */
#define CNM_HA_VERSION 2             /**< 2: 64-byte header with a MAC tag, AUTH handshake */
#define CNM_HA_HDR_LEN 64u           /**< bytes of the fixed header (with the tag) */
#define CNM_HA_TAG_LEN 32u           /**< HMAC-SHA-256 tag at offset 32 */
#define CNM_HA_NONCE_LEN 32u         /**< random challenge of an AUTH */
#define CNM_HA_KEY_MIN CNM_HA_KEY_MIN_BYTES /**< bytes of ha.key_file, at least */
#define CNM_HA_KEY_MAX 1024u         /**< bytes of ha.key_file, at most */
/** Payload limits by type, judged from the header before anything is buffered. */
#define CNM_HA_PAYLOAD_MAX (96u << 20) /**< SNAPSHOT, DELTA: 64 MiB of PDTs at the budget + config */
#define CNM_HA_HELLO_MAX 4096u       /**< HELLO, HEARTBEAT */
#define CNM_HA_AUTH_MAX 512u         /**< AUTH */
#define CNM_HA_CONNS_MAX_BYTES (2u << 20) /**< CONNS: 4096 entries of at most ~270 bytes */
/** A claimed term may exceed the holder's own (when it has one) by this much at most. */
#define CNM_HA_TERM_JUMP_MAX 64u
/** Terms are at most this (32 bits of takeovers; JSON integers stay exact). */
#define CNM_HA_TERM_MAX 0xffffffffull

/** Message types. */
enum cnm_ha_type {
	CNM_HA_HELLO = 1,     /**< who I am: id, role, term, the (epoch, seq) I hold, digest */
	CNM_HA_SNAPSHOT = 2,  /**< the whole state */
	CNM_HA_DELTA = 3,     /**< one change: the configuration and the PDTs that changed */
	CNM_HA_ACK = 4,       /**< I hold (epoch, seq) */
	CNM_HA_HEARTBEAT = 5, /**< same payload as HELLO, every heartbeat_ms */
	CNM_HA_CONNS = 6,     /**< displaced connections */
	CNM_HA_AUTH = 7,      /**< first message each way: id and a fresh nonce (the handshake) */
	CNM_HA_TYPE_MAX,
};

/** HELLO flag: the sender wants a snapshot (it found a gap or failed to apply). */
#define CNM_HA_F_WANT_SNAPSHOT 0x1u

/** Why a message was refused; each has a counter. */
enum cnm_ha_reject {
	CNM_HA_OK = 0,
	CNM_HA_R_TRUNCATED,    /**< the connection ended inside a message */
	CNM_HA_R_MAGIC,        /**< not "CNHA": the stream is not ours or lost its framing */
	CNM_HA_R_VERSION,      /**< unknown protocol version */
	CNM_HA_R_TYPE,         /**< unknown message type */
	CNM_HA_R_OVERSIZE,     /**< payload longer than CNM_HA_PAYLOAD_MAX */
	CNM_HA_R_CRC,          /**< checksum mismatch */
	CNM_HA_R_PAYLOAD,      /**< payload not what the type requires */
	CNM_HA_R_OLD_EPOCH,    /**< from an epoch older than the highest seen */
	CNM_HA_R_DUPLICATE,    /**< a change already held */
	CNM_HA_R_GAP,          /**< a change after a missing one (reordered or lost): a
				    snapshot is asked for instead */
	CNM_HA_R_NOT_PRIMARY,  /**< state from a holder that is not the primary */
	CNM_HA_R_APPLY,        /**< valid, but the tables refused it */
	CNM_HA_R_DIGEST,       /**< the state's digest differs from the primary's */
	CNM_HA_R_AUTH,         /**< MAC wrong (forged, replayed, reordered) or no handshake */
	CNM_HA_R_PEER,         /**< not a configured (address, id), or not the one expected */
	CNM_HA_R_TERM,         /**< a term beyond what the protocol allows */
	CNM_HA_R_BUDGET,       /**< a state over the configuration's budget */
	CNM_HA_R_ACK,          /**< an ACK of something never sent */
	CNM_HA_R_MAX,
};

/** The fixed header, decoded (multi-byte fields are little-endian on the wire). */
struct cnm_ha_hdr {
	uint8_t version;
	uint8_t type;     /**< enum cnm_ha_type */
	uint16_t flags;
	uint32_t len;     /**< payload bytes */
	uint64_t epoch;
	uint64_t seq;
};

/** Name of a reason ("truncated", "crc", ...), for counters. */
const char *cnm_ha_reject_name(enum cnm_ha_reject r);

/** Name of a message type, "?" when unknown. */
const char *cnm_ha_type_name(uint8_t type);

/** Largest payload of @p type (CNM_HA_PAYLOAD_MAX for an unknown one). */
uint32_t cnm_ha_type_max(uint8_t type);

/**
 * Encode one message into a malloc'ed buffer of CNM_HA_HDR_LEN + @p len
 * bytes (*out, *outlen), its tag zero (a trusted segment). 0, -EINVAL
 * (type, size over the type's limit) or -ENOMEM.
 */
int cnm_ha_encode(uint8_t type, uint16_t flags, uint64_t epoch, uint64_t seq,
		const void *payload, uint32_t len, uint8_t **out, size_t *outlen);

/**
 * The same with the tag: HMAC-SHA-256 under @p key (@p keylen bytes; NULL:
 * zeros) of @p ctr (the message's number on its connection and direction,
 * u64 little-endian), header bytes 0-27 and the payload.
 */
int cnm_ha_encode_auth(uint8_t type, uint16_t flags, uint64_t epoch, uint64_t seq,
		const void *payload, uint32_t len, const uint8_t *key, size_t keylen, uint64_t ctr,
		uint8_t **out, size_t *outlen);

/** 0 when the tag of the decoded frame (@p len bytes) is right for @p key and @p ctr. */
int cnm_ha_verify(const uint8_t *frame, size_t len, const uint8_t *key, size_t keylen,
		uint64_t ctr);

/**
 * The key of one direction of a connection: HMAC-SHA-256 under the shared
 * key of "cnmux-ha v2 session", @p dir ("c2a" or "a2c"), the nonces of the
 * connecting and accepting holders and their ids (strings with their NUL).
 */
void cnm_ha_session_key(const uint8_t *key, size_t keylen, const char *dir,
		const uint8_t *nonce_c, const uint8_t *nonce_a, const char *id_c, const char *id_a,
		uint8_t out[CNM_HA_TAG_LEN]);

/** libsodium's initialisation; 0 or -1. */
int cnm_ha_crypto_init(void);

/** Random bytes (libsodium). */
void cnm_ha_random(void *buf, size_t len);

/**
 * Decode the message at the start of @p buf (@p len bytes received so far).
 * Returns the bytes it takes (> 0) with @p h and @p payload set; 0 when more
 * bytes are needed; -enum cnm_ha_reject when the stream is not a valid
 * message (the connection must then be closed: its framing is lost).
 */
long cnm_ha_decode(const uint8_t *buf, size_t len, struct cnm_ha_hdr *h,
		const uint8_t **payload);

/**
 * The order rule of a replica that holds (@p epoch, @p seq) and has seen
 * @p term as the highest epoch, for a SNAPSHOT or DELTA of (@p m_epoch,
 * @p m_seq): CNM_HA_OK to apply it, else the reason to refuse it.
 * - older than term: old_epoch;
 * - DELTA: of the epoch held, seq + 1 is applied, seq or below is a
 *   duplicate, beyond is a gap; of another epoch, a gap;
 * - SNAPSHOT: one of the epoch held and a seq at or below the one held is a
 *   duplicate; any other is applied.
 */
enum cnm_ha_reject cnm_ha_order(uint64_t term, uint64_t epoch, uint64_t seq, uint8_t type,
		uint64_t m_epoch, uint64_t m_seq);

/** FNV-1a 64 over @p len bytes, continuing from @p h (start: CNM_FNV_INIT). */
#define CNM_FNV_INIT 0xcbf29ce484222325ull
uint64_t cnm_fnv1a64(uint64_t h, const void *data, size_t len);

/* ---- the holder ---- */

struct cnm_ha;
struct cnm_health;

/** Roles a holder is in now. */
enum cnm_ha_state {
	CNM_HA_ST_PRIMARY = 0,
	CNM_HA_ST_SECONDARY = 1,
	CNM_HA_ST_SLAVE = 2,
	CNM_HA_ST_JOINING = 3,   /**< just started: looking for the primary */
};

/** One displaced connection, as exchanged in CONNS (names, not ids). */
struct cnm_ha_conn {
	uint8_t family;
	uint8_t proto;           /**< 0: a TCP connection; IPPROTO_UDP: a UDP flow ("proto":
				      "udp" in CONNS; absent means TCP) */
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;          /**< network byte order */
	uint16_t dport;          /**< network byte order */
	char service[CNM_NAME_MAX];
	char node[CNM_NAME_MAX];
};

/** What the holder asks of the data path (main.c provides it); optional. */
struct cnm_ha_io {
	/**
	 * Fill @p out with up to @p max tracked connections whose node is not
	 * the one the PDT would pick now; returns how many, or -errno.
	 */
	int (*displaced)(void *arg, struct cnm_ha_conn *out, uint32_t max);
	/** Insert these connections into the forwarding list; returns how many. */
	int (*insert)(void *arg, const struct cnm_ha_conn *c, uint32_t n);
	void *arg;
	/** The health checker: a replica puts it in follower mode. */
	struct cnm_health *health;
};

/**
 * Start a holder for ctx->cfg->ha: listen on ha.listen and look for the
 * primary. Sets the ctx->ha_* hooks (change gate, commit with ACK wait,
 * status). NULL with errno set (EINVAL: no "ha"; a socket error).
 */
struct cnm_ha *cnm_ha_create(struct cnm_ctx *ctx, const struct cnm_ha_io *io);

/**
 * Serve the checkpoint connections without blocking: connect, accept, read,
 * apply, heartbeat, fail over, checkpoint local changes (health, SIGHUP) when
 * primary. Called from the control loop; takes ctx->ctl_lock itself.
 */
void cnm_ha_poll(struct cnm_ha *ha);

/** Role now. */
enum cnm_ha_state cnm_ha_state(const struct cnm_ha *ha);

/**
 * The object of `ha status` and /cnmux/ha: id, role, epoch, seq, digest,
 * primary, secondary, peers with their state, counters (rejected by reason).
 * Caller holds ctx->ctl_lock.
 */
json_t *cnm_ha_status(struct cnm_ha *ha);

/**
 * Digest of the tables: FNV-1a 64 over the replicated configuration (compact
 * JSON, sorted keys; without ports, control and ha) and the PDT of every
 * service in name order (entries as indexes into the configuration's nodes).
 * Caller holds ctx->ctl_lock.
 */
uint64_t cnm_ha_digest(struct cnm_ctx *ctx);

/** Close every connection and the listening socket; clear the ctx hooks. */
void cnm_ha_free(struct cnm_ha *ha);

/**
 * For the fuzzer only: handle one message (@p h, @p payload of h->len bytes)
 * as if it came from the first peer, taken for the primary: SNAPSHOT and
 * DELTA through the order rule and the state's application, CONNS through
 * its decoding and io.insert. Takes ctx->ctl_lock.
 */
void cnm_ha_test_frame(struct cnm_ha *ha, const struct cnm_ha_hdr *h, const uint8_t *payload);

#endif /* CNM_HA_H */
