/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QUIC invariants (RFC 8999) over a UDP payload. Every length is checked
 * before anything past it is read; nothing is allocated.
 *
 *   long header:  1 form bit (1), 7 version-specific bits, version (32),
 *                 DCID length (8), DCID, SCID length (8), SCID, ...
 *   short header: 1 form bit (0), 7 version-specific bits, DCID (its length
 *                 known only to the endpoints: here, the service's)
 *
 * Only the packet type of QUIC v1 (RFC 9000 17.2) and v2 (RFC 9369 3.2) is
 * read from the version-specific bits. The fixed bit (0x40) is not checked:
 * it is not an invariant, and RFC 9287 lets peers grease it.
 */
#include <stdint.h>

#include "cnm_quiclb.h"

#define QUIC_FORM_LONG 0x80

/* v1 long header types, bits 0x30 of the first byte (RFC 9000 17.2) */
static const uint8_t v1_types[4] = {
	CNM_QUIC_INITIAL, CNM_QUIC_0RTT, CNM_QUIC_HANDSHAKE, CNM_QUIC_RETRY,
};
/* v2 moved them (RFC 9369 3.2): Retry 0, Initial 1, 0-RTT 2, Handshake 3 */
static const uint8_t v2_types[4] = {
	CNM_QUIC_RETRY, CNM_QUIC_INITIAL, CNM_QUIC_0RTT, CNM_QUIC_HANDSHAKE,
};

enum cnm_quic_parse_result
cnm_quic_parse(const uint8_t *p, uint32_t len, uint8_t short_dcid_len,
	       struct cnm_quic_hdr *h)
{
	uint32_t off, cid_max;

	h->version = 0;
	h->dcid_off = 0;
	h->scid_off = 0;
	h->dcid_len = 0;
	h->scid_len = 0;
	h->is_long = 0;
	h->type = CNM_QUIC_SHORT;
	if (len == 0)
		return CNM_QUIC_PARSE_EMPTY;
	if (!(p[0] & QUIC_FORM_LONG)) {
		if (len < 1u + short_dcid_len)
			return CNM_QUIC_PARSE_SHORT_TRUNCATED;
		h->dcid_off = 1;
		h->dcid_len = short_dcid_len;
		return CNM_QUIC_PARSE_OK;
	}

	h->is_long = 1;
	/* the DCID length is the sixth byte: without it nothing can be routed */
	if (len < 6)
		return CNM_QUIC_PARSE_LONG_TRUNCATED;
	h->version = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	switch (h->version) {
	case 0:
		h->type = CNM_QUIC_VERSION_NEG;
		cid_max = CNM_QUIC_CID_MAX_INVARIANT;
		break;
	case CNM_QUIC_V1:
		h->type = v1_types[(p[0] >> 4) & 3];
		cid_max = CNM_QUIC_CID_MAX;
		break;
	case CNM_QUIC_V2:
		h->type = v2_types[(p[0] >> 4) & 3];
		cid_max = CNM_QUIC_CID_MAX;
		break;
	default:
		h->type = CNM_QUIC_LONG_UNKNOWN;
		cid_max = CNM_QUIC_CID_MAX_INVARIANT;
		break;
	}
	h->dcid_len = p[5];
	h->dcid_off = 6;
	if (h->dcid_len > cid_max)
		return CNM_QUIC_PARSE_DCID_LEN;
	off = 6u + h->dcid_len;
	if (len < off)
		return CNM_QUIC_PARSE_DCID_TRUNCATED;
	if (len < off + 1)
		return CNM_QUIC_PARSE_SCID_TRUNCATED;
	h->scid_len = p[off];
	h->scid_off = (uint16_t)(off + 1);
	if (h->scid_len > cid_max)
		return CNM_QUIC_PARSE_SCID_LEN;
	if (len < off + 1 + h->scid_len)
		return CNM_QUIC_PARSE_SCID_TRUNCATED;
	return CNM_QUIC_PARSE_OK;
}

#define X_NAME(e, n, d) [CNM_QUIC_PARSE_##e] = n,
#define X_HELP(e, n, d) [CNM_QUIC_PARSE_##e] = d,
static const char *const parse_names[CNM_QUIC_PARSE_MAX] = { CNM_QUIC_PARSE_RESULTS(X_NAME) };
static const char *const parse_help[CNM_QUIC_PARSE_MAX] = { CNM_QUIC_PARSE_RESULTS(X_HELP) };
#undef X_NAME
#undef X_HELP

const char *
cnm_quic_parse_name(enum cnm_quic_parse_result r)
{
	return (unsigned int)r < CNM_QUIC_PARSE_MAX ? parse_names[r] : "?";
}

const char *
cnm_quic_parse_help(enum cnm_quic_parse_result r)
{
	return (unsigned int)r < CNM_QUIC_PARSE_MAX ? parse_help[r] : "?";
}

const char *
cnm_quic_type_name(enum cnm_quic_type t)
{
	static const char *const names[CNM_QUIC_TYPE_MAX] = {
		[CNM_QUIC_SHORT] = "short",
		[CNM_QUIC_INITIAL] = "initial",
		[CNM_QUIC_0RTT] = "0rtt",
		[CNM_QUIC_HANDSHAKE] = "handshake",
		[CNM_QUIC_RETRY] = "retry",
		[CNM_QUIC_VERSION_NEG] = "version_negotiation",
		[CNM_QUIC_LONG_UNKNOWN] = "long_unknown_version",
	};

	return (unsigned int)t < CNM_QUIC_TYPE_MAX ? names[t] : "?";
}
