/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * QUIC for the balancer (docs/quic.md), two parts:
 *
 *  - the QUIC invariants (RFC 8999) over a UDP payload: long or short
 *    header, version, destination connection ID (a long header says its
 *    length; a short header's is the service's configured length), source
 *    connection ID, and the packet type of QUIC v1 and v2 long headers.
 *    cnm_quic_parse() is pure: no mbuf, no EAL, nothing allocated;
 *
 *  - QUIC-LB (draft-ietf-quic-load-balancers-21, "QUIC-LB: Generating
 *    Routable QUIC Connection IDs"): up to seven configurations per service,
 *    one per config rotation codepoint, each plaintext or AES-128 encrypted
 *    (single pass when server ID + nonce is 16 bytes, the four-pass Feistel
 *    network otherwise; the block cipher is OpenSSL's libcrypto). A context
 *    (struct cnm_quiclb) is built once per service by the control side,
 *    with its ciphers prepared and its server-ID table filled; a worker then
 *    decodes a CID to a node with cnm_quiclb_route(), with no allocation and
 *    no lock, in the cipher "lane" that is its own.
 *
 * Errors: creators return NULL and set errno; int functions return 0 or
 * -errno (the module is pure and does not depend on EAL, so it uses errno,
 * as lib/pdt does); a decode result is an enum, not an errno.
 */
#ifndef CNM_QUICLB_H
#define CNM_QUICLB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest connection ID of QUIC v1 and v2 (RFC 9000 17.2). */
#define CNM_QUIC_CID_MAX 20
/** Longest connection ID the invariants allow (RFC 8999 5.1). */
#define CNM_QUIC_CID_MAX_INVARIANT 255

/** QUIC versions whose long-header types cnm_quic_parse() knows. */
#define CNM_QUIC_V1 UINT32_C(0x00000001) /**< RFC 9000 */
#define CNM_QUIC_V2 UINT32_C(0x6b3343cf) /**< RFC 9369 */

/**
 * Results of cnm_quic_parse(): X(enum suffix, counter name, meaning). OK is
 * the only success; every other one is a malformed or truncated header,
 * which the balancer counts and routes by its 4-tuple fallback.
 */
#define CNM_QUIC_PARSE_RESULTS(X) \
	X(OK, "ok", "header parsed") \
	X(EMPTY, "empty", "UDP payload of zero bytes") \
	X(LONG_TRUNCATED, "long_truncated", "long header cut before the DCID length (6 bytes)") \
	X(DCID_LEN, "dcid_len", "long header DCID length over 20 for QUIC v1 or v2") \
	X(DCID_TRUNCATED, "dcid_truncated", "long header DCID runs past the payload") \
	X(SCID_TRUNCATED, "scid_truncated", "long header cut before or inside the SCID") \
	X(SCID_LEN, "scid_len", "long header SCID length over 20 for QUIC v1 or v2") \
	X(SHORT_TRUNCATED, "short_truncated", "short header shorter than 1 + the configured CID length")

#define CNM_QUIC_X_ENUM(e, n, d) CNM_QUIC_PARSE_##e,
/** What cnm_quic_parse() found. */
enum cnm_quic_parse_result {
	CNM_QUIC_PARSE_RESULTS(CNM_QUIC_X_ENUM)
	CNM_QUIC_PARSE_MAX
};
#undef CNM_QUIC_X_ENUM

/** Packet types, whatever the version (the v1 and v2 codes differ on the wire). */
enum cnm_quic_type {
	CNM_QUIC_SHORT = 0,     /**< short header (1-RTT in v1 and v2) */
	CNM_QUIC_INITIAL,       /**< long header Initial (v1, v2) */
	CNM_QUIC_0RTT,          /**< long header 0-RTT (v1, v2) */
	CNM_QUIC_HANDSHAKE,     /**< long header Handshake (v1, v2) */
	CNM_QUIC_RETRY,         /**< long header Retry (v1, v2) */
	CNM_QUIC_VERSION_NEG,   /**< long header, version 0: Version Negotiation */
	CNM_QUIC_LONG_UNKNOWN,  /**< long header of a version we do not know */
	CNM_QUIC_TYPE_MAX
};

/**
 * A parsed QUIC header. Offsets count from the start of the UDP payload.
 * Only what the invariants define is read; nothing past the SCID.
 */
struct cnm_quic_hdr {
	uint32_t version;   /**< host order; 0 for a short header (and for VN) */
	uint16_t dcid_off;  /**< offset of the destination connection ID */
	uint16_t scid_off;  /**< offset of the source connection ID; 0 if short */
	uint8_t dcid_len;   /**< its length */
	uint8_t scid_len;   /**< 0 for a short header */
	uint8_t is_long;    /**< 1: long header (first bit set) */
	uint8_t type;       /**< enum cnm_quic_type */
};

/**
 * Parse the QUIC invariants of a UDP payload.
 *
 * @param p          the UDP payload
 * @param len        its length in bytes
 * @param short_dcid_len  the DCID length of a short header: the service's
 *                   configured CID length (0 to 20)
 * @param h          filled on CNM_QUIC_PARSE_OK (and partly otherwise)
 * @return CNM_QUIC_PARSE_OK, or the reason the header is malformed
 */
enum cnm_quic_parse_result
cnm_quic_parse(const uint8_t *p, uint32_t len, uint8_t short_dcid_len,
	       struct cnm_quic_hdr *h);

/** Counter name of a parse result ("ok", "dcid_truncated", ...). */
const char *cnm_quic_parse_name(enum cnm_quic_parse_result r);
/** One-line meaning of a parse result. */
const char *cnm_quic_parse_help(enum cnm_quic_parse_result r);
/** Name of a packet type ("initial", "short", ...). */
const char *cnm_quic_type_name(enum cnm_quic_type t);

/* ------------------------------------------------------------------ QUIC-LB */

/** Config rotation codepoints a configuration may use: 0 to 6 (7 is "unroutable"). */
#define CNM_QUICLB_CONFIGS 7
/** The reserved codepoint: a server with no configuration (draft 3.2). */
#define CNM_QUICLB_CR_RESERVED 7
/** AES-128 key length. */
#define CNM_QUICLB_KEY_LEN 16
/** Longest server ID: 15 bytes (with the 4-byte minimum nonce, 19). */
#define CNM_QUICLB_SID_MAX 15
#define CNM_QUICLB_NONCE_MIN 4
#define CNM_QUICLB_NONCE_MAX 18
/** Server ID + nonce: at most 19 bytes (20-byte CIDs of QUIC v1). */
#define CNM_QUICLB_PLAIN_MAX 19
#define CNM_QUICLB_PATH_MAX 256

/** How a configuration hides the server ID. */
enum cnm_quiclb_mode {
	CNM_QUICLB_PLAINTEXT = 0, /**< server ID in the clear after the first octet */
	CNM_QUICLB_ENCRYPTED = 1, /**< AES-128: single pass if sid + nonce = 16, four passes otherwise */
};

/**
 * One QUIC-LB configuration, as the control side parses it (plain data).
 * cnm_quiclb_conf_check() says whether the lengths are allowed.
 */
struct cnm_quiclb_conf {
	uint8_t config_id;      /**< config rotation codepoint, 0 to 6 */
	uint8_t server_id_len;  /**< 1 to 15 bytes */
	uint8_t nonce_len;      /**< 4 to 18 bytes; server_id_len + nonce_len <= 19 */
	uint8_t cid_len;        /**< CID length the servers emit: 1 + sid + nonce (the
				     default) up to 20, the rest being the servers' own
				     bytes; a short header's DCID length */
	uint8_t mode;           /**< enum cnm_quiclb_mode */
	uint8_t encode_length;  /**< 1: the first octet's low 5 bits are cid_len - 1
				     (servers write it; the balancer checks it) */
	uint8_t key[CNM_QUICLB_KEY_LEN]; /**< AES-128 key (encrypted mode) */
	char key_file[CNM_QUICLB_PATH_MAX]; /**< where the key came from ("" if none) */
};

/**
 * Results of a decode: X(enum suffix, counter name, meaning). OK means the
 * CID carries a server ID (and, for cnm_quiclb_route(), one of our nodes);
 * every other result sends the packet to the 4-tuple fallback.
 */
#define CNM_QUICLB_RESULTS(X) \
	X(OK, "ok", "server ID decoded (and known)") \
	X(CR_UNROUTABLE, "cr_unroutable", "config rotation codepoint 7: the server has no configuration") \
	X(CR_UNKNOWN, "cr_unknown", "no configuration at this config rotation codepoint") \
	X(CID_SHORT, "cid_short", "CID shorter than 1 + server ID + nonce of its configuration") \
	X(LEN_MISMATCH, "len_mismatch", "first octet's self-encoded length is not the CID length") \
	X(SID_UNKNOWN, "sid_unknown", "decoded server ID is no node's (random client CID, or wrong key)") \
	X(CIPHER, "cipher_error", "libcrypto refused a block (not expected once the context is built)")

#define CNM_QUICLB_X_ENUM(e, n, d) CNM_QUICLB_##e,
/** What a decode found. */
enum cnm_quiclb_result {
	CNM_QUICLB_RESULTS(CNM_QUICLB_X_ENUM)
	CNM_QUICLB_RESULT_MAX
};
#undef CNM_QUICLB_X_ENUM

/** Counter name of a decode result. */
const char *cnm_quiclb_result_name(enum cnm_quiclb_result r);
/** One-line meaning of a decode result. */
const char *cnm_quiclb_result_help(enum cnm_quiclb_result r);

/**
 * Check one configuration's values against the draft's limits.
 * @return 0, or -EINVAL with @p err (if not NULL) saying which field and why.
 */
int cnm_quiclb_conf_check(const struct cnm_quiclb_conf *c, char *err, size_t errlen);

/** The per-service context: opaque; built by the control side, read by workers. */
struct cnm_quiclb;

/**
 * Build a context: the configurations (distinct codepoints, one CID length
 * for all), each with its ciphers prepared once for every lane.
 *
 * @param confs    @p n configurations (1 to 7)
 * @param n        how many
 * @param lanes    how many threads may decode or encode at once: each
 *                 thread uses its own lane (a worker its worker index)
 * @param max_servers  room in the server-ID table
 * @return the context, or NULL with errno set (EINVAL: bad configuration,
 *         ENOMEM, EIO: libcrypto refused the key)
 */
struct cnm_quiclb *
cnm_quiclb_create(const struct cnm_quiclb_conf *confs, unsigned int n,
		  unsigned int lanes, unsigned int max_servers);

/** Free a context (NULL is fine). Workers must no longer use it (RCU). */
void cnm_quiclb_free(struct cnm_quiclb *q);

/**
 * Map a server ID of configuration @p config_id to @p node (control side,
 * before the context is published).
 * @return 0; -EINVAL (no such configuration, or the length is not its
 *         server_id_len); -EEXIST (another node has it); -ENOSPC.
 */
int cnm_quiclb_add_server(struct cnm_quiclb *q, uint8_t config_id,
			  const uint8_t *sid, uint8_t sid_len, uint32_t node);

/** The CID length of a short header for this service (the configurations'). */
uint8_t cnm_quiclb_cid_len(const struct cnm_quiclb *q);

/** The configuration at codepoint @p config_id, or NULL. */
const struct cnm_quiclb_conf *
cnm_quiclb_conf_get(const struct cnm_quiclb *q, uint8_t config_id);

/**
 * Decode a CID to its server ID. Worker-safe in its own @p lane, which
 * must be below the @p lanes given to cnm_quiclb_create() (not checked
 * here: this is the per-packet path).
 *
 * @param cid, cid_len  the destination CID (its length: from a long header,
 *                  or the configured one for a short header)
 * @param sid       receives the server ID (CNM_QUICLB_SID_MAX bytes of room)
 * @param sid_len   receives its length
 * @return CNM_QUICLB_OK or why the CID is unroutable (never SID_UNKNOWN)
 */
enum cnm_quiclb_result
cnm_quiclb_decode(const struct cnm_quiclb *q, unsigned int lane,
		  const uint8_t *cid, uint8_t cid_len, uint8_t *sid, uint8_t *sid_len);

/**
 * Decode a CID and look its server ID up: the balancer's per-packet call.
 * @param node  receives the node on CNM_QUICLB_OK
 */
enum cnm_quiclb_result
cnm_quiclb_route(const struct cnm_quiclb *q, unsigned int lane,
		 const uint8_t *cid, uint8_t cid_len, uint32_t *node);

/**
 * Encode (the servers' side, and the tool): a CID of configuration
 * @p config_id's cid_len bytes for server ID @p sid with nonce @p nonce.
 * The first octet's low bits are the length when encode_length is set, else
 * taken from @p first_low; bytes past server ID + nonce are taken from
 * @p extra (cid_len - 1 - sid - nonce of them; may be NULL if none).
 *
 * @return the CID length, or -EINVAL (no such configuration, wrong lengths).
 */
int cnm_quiclb_encode(const struct cnm_quiclb *q, unsigned int lane, uint8_t config_id,
		      const uint8_t *sid, uint8_t sid_len, const uint8_t *nonce,
		      uint8_t nonce_len, uint8_t first_low, const uint8_t *extra,
		      uint8_t *cid);

/**
 * Read an AES-128 key file: a regular file, mode 0600 or stricter, owned by
 * this user or root, holding either the 16 key bytes or 32 hex digits
 * (whitespace around them allowed).
 * @return 0, or -errno with @p err saying why.
 */
int cnm_quiclb_key_load(const char *path, uint8_t key[CNM_QUICLB_KEY_LEN],
			char *err, size_t errlen);

/**
 * Parse hex digits (no prefix, no separators) into at most @p max bytes.
 * @return the byte count, or -EINVAL (odd count, not hex, empty, too long).
 */
int cnm_quiclb_hex(const char *s, uint8_t *out, size_t max);

struct json_t;

/**
 * The configuration file's QUIC-LB block of a service (docs/quic.md): one
 * object, or an array of up to 7 objects with distinct "config_id"s, with
 * the keys "config_id", "server_id_len", "nonce_len", "mode" ("plaintext" or
 * "encrypted"), "key_file" (encrypted only), "cid_len" and "encode_length".
 * Key files are read (cnm_quiclb_key_load()).
 *
 * @param v      the JSON value
 * @param file   the configuration file's name, for messages
 * @param where  the value's place in it, e.g. "services[2].quic_lb"
 * @param confs  receives the configurations (room for CNM_QUICLB_CONFIGS)
 * @param n      receives how many
 * @param err    on error: "FILE: KEY: what was expected (got ...)"
 * @return 0 or -EINVAL
 */
int cnm_quiclb_conf_json(const struct json_t *v, const char *file, const char *where,
			 struct cnm_quiclb_conf *confs, unsigned int *n,
			 char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* CNM_QUICLB_H */
