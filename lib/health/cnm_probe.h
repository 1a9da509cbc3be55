/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The frames of the private-path health checks (docs/health.md): ICMP /
 * ICMPv6 echo requests and TCP segments (SYN, RST) that cnmux sends from its
 * health.source address, and the parser of what comes back. Pure: byte
 * arrays in and out, no mbuf, no EAL, so unit tests and fuzzers call it.
 */
#ifndef CNM_PROBE_H
#define CNM_PROBE_H

#include <stdint.h>

/** Room enough for any frame the builders write (with CNM_PROBE_DATA_MAX of data). */
#define CNM_PROBE_DATA_MAX 536  /* TCP's default MSS: the checks' SYNs carry no MSS option */
#define CNM_PROBE_FRAME_MAX (14 + 40 + 20 + CNM_PROBE_DATA_MAX)

/** TCP flags. */
#define CNM_TCP_FIN 0x01
#define CNM_TCP_SYN 0x02
#define CNM_TCP_RST 0x04
#define CNM_TCP_PSH 0x08
#define CNM_TCP_ACK 0x10

/** Where a probe goes: Ethernet and IP addresses (network order). */
struct cnm_probe_addr {
	uint8_t smac[6];
	uint8_t dmac[6];
	uint8_t family;    /**< AF_INET or AF_INET6 */
	uint8_t src[16];   /**< IPv4: first 4 bytes */
	uint8_t dst[16];
};

/**
 * Write an untagged echo request (ICMP type 8, or ICMPv6 type 128) with
 * identifier @p id, sequence @p seq and 8 bytes of payload into @p frame.
 * @return the frame's length.
 */
uint32_t cnm_probe_make_echo(uint8_t *frame, const struct cnm_probe_addr *a, uint16_t id,
		uint16_t seq);

/**
 * Write an untagged TCP segment without options (ports in host order): SYN
 * (a half-open check), RST (its end), or ACK with @p dlen bytes of @p data
 * (an HTTP request; at most CNM_PROBE_DATA_MAX, the rest is cut).
 * @return the frame's length.
 */
uint32_t cnm_probe_make_tcp(uint8_t *frame, const struct cnm_probe_addr *a, uint16_t sport,
		uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
		uint32_t dlen);

/**
 * The status code of the HTTP response that starts at @p p (@p len bytes):
 * "HTTP/x.y NNN", or -1 when it does not start so.
 */
int cnm_probe_http_status(const uint8_t *p, uint32_t len);

/** What cnm_probe_parse() found. */
enum cnm_probe_kind {
	CNM_PROBE_OTHER = 0,   /**< not an echo reply nor a TCP segment: not ours */
	CNM_PROBE_ECHO_REPLY,  /**< ICMP type 0 / ICMPv6 type 129, valid */
	CNM_PROBE_TCP,         /**< a TCP segment, valid */
	CNM_PROBE_INVALID,     /**< an echo reply or TCP segment, malformed (length,
				    checksum): src and dst are filled in */
};

struct cnm_probe_reply {
	uint8_t family;
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t id, seq;          /**< echo reply */
	uint16_t sport, dport;     /**< TCP, host order */
	uint32_t tseq, tack;       /**< TCP sequence and acknowledgement numbers */
	uint8_t flags;             /**< TCP flags */
	uint16_t doff;             /**< TCP: where its payload starts in the frame */
	uint16_t dlen;             /**< TCP: the payload's length */
};

/**
 * Parse an untagged Ethernet frame: IPv4 (no fragments) or IPv6 (no
 * extension headers) carrying an echo reply or a TCP segment, lengths and
 * checksums checked. @return enum cnm_probe_kind.
 */
int cnm_probe_parse(const uint8_t *frame, uint32_t len, struct cnm_probe_reply *r);

#endif /* CNM_PROBE_H */
