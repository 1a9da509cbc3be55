/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Packet parser: Ethernet (up to two VLAN tags), ARP, IPv4, IPv6 (extension
 * headers), TCP and UDP. Pure code over a byte buffer: no mbuf, no EAL, so
 * unit tests and fuzzers call it directly. Every length field is checked
 * before anything past it is read.
 */
#ifndef CNM_PARSE_H
#define CNM_PARSE_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "cnm_stats.h"

/** How many bytes of a frame the parser may need: headers only. */
#define CNM_PARSE_HDR_MAX 256

/**
 * Key of both service tables. The second table uses port 0. The hash reads
 * it in 8-byte words: it is 8-byte aligned, and its first CNM_SVC_KEY_LEN
 * bytes are the key (the padding after it is not hashed).
 */
struct cnm_svc_key {
	uint8_t addr[16]; /**< destination address; IPv4 in the first 4 bytes, rest 0 */
	uint16_t port;    /**< destination port, network byte order; 0 in the second table */
	uint8_t proto;    /**< IPPROTO_TCP, IPPROTO_UDP, or another IP protocol */
	uint8_t family;   /**< AF_INET or AF_INET6 */
} __attribute__((aligned(8)));

#define CNM_SVC_KEY_LEN 20

/** What a frame is, once parsed. */
enum cnm_pkt_kind {
	CNM_PKT_IP = 0,  /**< IPv4 or IPv6: look the service up */
	CNM_PKT_ARP = 1, /**< ARP: to the local port */
	CNM_PKT_ND = 2,  /**< a valid IPv6 neighbour solicitation (icmp_type 135) or
			      advertisement (136); key.addr holds its target address */
};

/* TCP flags as in the header */
#define CNM_TCP_FIN 0x01
#define CNM_TCP_SYN 0x02
#define CNM_TCP_RST 0x04
#define CNM_TCP_ACK 0x10

/** A parsed frame. */
struct cnm_flow {
	struct cnm_svc_key key; /**< destination: the service lookup key */
	uint8_t src[16];        /**< source address, as key.addr */
	uint16_t sport;         /**< source port, network order; 0 if none */
	uint16_t l3_off;        /**< offset of the IP header */
	uint32_t l3_len;        /**< IP packet length (header + payload): IPv6's is
				     40 + payload length, up to 65,575, past 16 bits */
	uint16_t l4_off;        /**< offset of the TCP/UDP header; 0 if none */
	uint8_t kind;           /**< enum cnm_pkt_kind */
	uint8_t has_ports;      /**< TCP or UDP with its header present */
	uint8_t tcp_flags;      /**< TCP flags byte, 0 otherwise */
	uint8_t n_vlan;         /**< VLAN tags in front of the IP header */
	uint8_t frag;           /**< CNM_FRAG_NONE, _FIRST or _LATER */
	uint8_t icmp_type;      /**< ICMP / ICMPv6 type (outer), 0 otherwise */
	uint8_t icmp_err;       /**< an ICMP error about a flow of ours: key, src and
				     sport describe that (inner) flow, seen from the client */
	uint8_t rare;           /**< ARP, a fragment or ICMP: the data path's slow cases */
	uint8_t arp_op;         /**< ARP: 1 request, 2 reply (key.addr holds the target
				     address), 0 not a well-formed Ethernet/IPv4 ARP message */
	uint8_t arp_sha_group;  /**< ARP (arp_op != 0): the sender hardware address is
				     multicast or broadcast (its group bit is set) */
	uint32_t frag_id;       /**< IPv4 identification or IPv6 fragment identification */
};

/* cnm_flow.frag */
#define CNM_FRAG_NONE 0   /**< a whole datagram */
#define CNM_FRAG_FIRST 1  /**< offset 0, more fragments: has the L4 header */
#define CNM_FRAG_LATER 2  /**< offset > 0: no L4 header, ports unknown */

/* ICMP types the data path cares about */
#define CNM_ICMP_ECHO_REQUEST 8
#define CNM_ICMP6_ECHO_REQUEST 128
#define CNM_ICMP6_NS 135 /**< neighbour solicitation (CNM_ND_NS) */

/** Source addresses no client can have (IPv4, network order bytes). */
static inline int
cnm_martian4(const uint8_t *a)
{
	return a[0] == 0 || a[0] == 127 || a[0] >= 224;
}

/** What cnm_parse_fast4() reads of a frame. Addresses and ports in network order. */
struct cnm_fast4 {
	uint32_t src;
	uint32_t dst;
	uint16_t sport;
	uint16_t dport;
	uint16_t tot;       /**< IP total length */
	uint16_t id;        /**< IP identification */
	uint8_t proto;      /**< IPPROTO_TCP or IPPROTO_UDP */
	uint8_t tcp_flags;  /**< 0 for UDP */
};

static inline uint16_t
cnm_ld16be(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return __builtin_bswap16(v);
}

/**
 * The common case in one pass: an untagged IPv4 frame without options or
 * fragmentation, carrying TCP or UDP, every check of cnm_parse() made in the
 * same order. Inline, so that the data path's fast path and cnm_parse() share
 * it and the result stays in registers.
 *
 * @return -1 when the frame is not of that shape (or fewer than 54 bytes of
 *   it are in @p p): cnm_parse() then takes the general path; otherwise
 *   CNM_DROP_NONE with @p r filled in, or the reason to drop the frame, the
 *   same that cnm_parse() gives.
 */
static inline int
cnm_parse_fast4(const uint8_t *p, uint32_t caplen, uint32_t wirelen, struct cnm_fast4 *r)
{
	const uint8_t *ip = p + 14;
	const uint8_t *l4 = ip + 20;
	uint32_t tot, need, doff;
	uint8_t proto;

	if (caplen < 14 + 20 + 20 || cnm_ld16be(p + 12) != 0x0800 || ip[0] != 0x45 ||
			(cnm_ld16be(ip + 6) & 0x3fff) != 0)
		return -1;
	proto = ip[9];
	if (proto == 6 /* TCP */)
		need = 20;
	else if (proto == 17 /* UDP */)
		need = 8;
	else
		return -1;
	tot = cnm_ld16be(ip + 2);
	if (14 + tot > wirelen)
		return CNM_DROP_IPV4_TOTLEN_BEYOND;
	if (tot < 20)
		return CNM_DROP_IPV4_TOTLEN_BELOW;
	if (cnm_martian4(ip + 12))
		return CNM_DROP_MARTIAN_SRC;
	r->proto = proto;
	memcpy(&r->dst, ip + 16, 4);
	memcpy(&r->src, ip + 12, 4);
	r->tot = (uint16_t)tot;
	r->id = cnm_ld16be(ip + 4);
	if (20 + need > tot)
		return CNM_DROP_L4_TRUNCATED;
	memcpy(&r->sport, l4, 2);
	memcpy(&r->dport, l4 + 2, 2);
	if (r->sport == 0 || r->dport == 0)
		return CNM_DROP_PORT_ZERO;
	r->tcp_flags = 0;
	if (proto == 6) {
		doff = (uint32_t)(l4[12] >> 4) * 4;
		if (doff < 20 || 20 + doff > tot)
			return CNM_DROP_TCP_DOFF;
		if ((l4[13] & CNM_TCP_SYN) && (l4[13] & (CNM_TCP_FIN | CNM_TCP_RST)))
			return CNM_DROP_TCP_FLAGS;
		r->tcp_flags = l4[13];
	}
	return CNM_DROP_NONE;
}

/** IPv4 header checksum of the header at @p ip (its IHL says how long). */
static inline int
cnm_ipv4_csum_bad(const uint8_t *ip)
{
	uint32_t sum = 0, n = (uint32_t)(ip[0] & 0xf) * 2, i;

	for (i = 0; i < n; i++)
		sum += cnm_ld16be(ip + 2 * i);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum != 0xffff;
}

/**
 * Parse a frame.
 *
 * A non-first fragment parses (frag = CNM_FRAG_LATER, no ports): the caller
 * finds its service from its first fragment. An ICMP or ICMPv6 error
 * (destination unreachable, fragmentation needed / packet too big, time
 * exceeded, parameter problem) whose quoted packet is TCP or UDP is described
 * by that quoted flow turned around: key = (protocol, quoted source, quoted
 * source port), src/sport = quoted destination, so it reaches the node that
 * owns the flow; the quoted headers must be complete (else CNM_DROP_ICMP_INNER).
 *
 * @param p       the first bytes of the frame
 * @param caplen  how many bytes @p p holds (at least the headers, or the whole frame)
 * @param wirelen the frame's whole length (the mbuf's pkt_len)
 * @param f       filled in when the result is CNM_DROP_NONE
 * @return CNM_DROP_NONE, or the reason to drop the frame.
 */
enum cnm_drop cnm_parse(const uint8_t *p, uint32_t caplen, uint32_t wirelen,
		struct cnm_flow *f);

/** The two shapes a frame can have for the decision (struct cnm_pkt). */
enum cnm_pkt_shape {
	CNM_SHAPE_DROP = 0,  /**< malformed: reason says why */
	CNM_SHAPE_FAST4,     /**< untagged IPv4 TCP/UDP: r (cnm_parse_fast4()) */
	CNM_SHAPE_FLOW,      /**< anything else that parses: f (cnm_parse()) */
};

/** What the hardware said of a frame's IPv4 header checksum. */
enum cnm_csum_hint {
	CNM_CSUM_UNKNOWN = 0, /**< compute it */
	CNM_CSUM_GOOD,
	CNM_CSUM_BAD,
};

/** Bytes of a UDP payload a struct cnm_pkt keeps: a QUIC v1/v2 long header
 * up to its source connection ID (1 + 4 + 1 + 20 + 1 + 20). */
#define CNM_PKT_L7_MAX 48

/**
 * A frame as the decision (cnm_decide_burst()) reads it: the fast shape when
 * cnm_parse_fast4() takes it, else the general cnm_parse() result.
 */
struct cnm_pkt {
	uint8_t shape;          /**< enum cnm_pkt_shape */
	uint8_t reason;         /**< CNM_SHAPE_DROP: enum cnm_drop */
	uint8_t l7_len;         /**< bytes in l7 */
	uint8_t pad;
	struct cnm_fast4 r;     /**< CNM_SHAPE_FAST4 */
	struct cnm_flow f;      /**< CNM_SHAPE_FLOW */
	/** UDP (not a later fragment, not an ICMP error): the first bytes of
	 * the payload, as far as the frame and the bytes parsed hold them (the
	 * QUIC header: docs/quic.md) */
	uint8_t l7[CNM_PKT_L7_MAX];
};

/* The first bytes of a UDP payload at @p off of a frame whose @p avail first
 * bytes are at hand. */
static inline void
cnm_pkt_l7(struct cnm_pkt *k, const uint8_t *p, uint32_t off, uint32_t avail)
{
	uint32_t n = avail > off ? avail - off : 0;

	if (n > CNM_PKT_L7_MAX)
		n = CNM_PKT_L7_MAX;
	memcpy(k->l7, p + off, n);
	k->l7_len = (uint8_t)n;
}

/* The IPv4 header checksum rule of cnm_pkt_parse(): drop when asked to verify
 * and the NIC said bad, or said nothing and the sum is wrong. */
static inline int
cnm_pkt_csum_drop(const uint8_t *ip, int verify, enum cnm_csum_hint hint)
{
	return verify && hint != CNM_CSUM_GOOD && (hint == CNM_CSUM_BAD || cnm_ipv4_csum_bad(ip));
}

/**
 * The first half of cnm_pkt_parse(): the fast shape. Returns 0 when @p k is
 * done (fast shape, or dropped), -1 when the frame needs the general parser.
 */
static inline int
cnm_pkt_parse_fast(const uint8_t *p, uint32_t caplen, uint32_t wirelen, int verify,
		enum cnm_csum_hint hint, struct cnm_pkt *k)
{
	int v = cnm_parse_fast4(p, caplen, wirelen, &k->r);

	if (v < 0)
		return -1;
	k->l7_len = 0;
	if (v != CNM_DROP_NONE) {
		k->shape = CNM_SHAPE_DROP;
		k->reason = (uint8_t)v;
	} else if (__builtin_expect(cnm_pkt_csum_drop(p + 14, verify, hint), 0)) {
		k->shape = CNM_SHAPE_DROP;
		k->reason = CNM_DROP_IPV4_CHECKSUM;
	} else {
		k->shape = CNM_SHAPE_FAST4;
		if (k->r.proto == 17 /* UDP */)
			cnm_pkt_l7(k, p, 14 + 20 + 8,
				   caplen < 14u + k->r.tot ? caplen : 14u + k->r.tot);
	}
	return 0;
}

/** The second half of cnm_pkt_parse(): the general parser. */
static inline void
cnm_pkt_parse_general(const uint8_t *p, uint32_t caplen, uint32_t wirelen, int verify,
		enum cnm_csum_hint hint, struct cnm_pkt *k)
{
	int v = cnm_parse(p, caplen, wirelen, &k->f);

	k->l7_len = 0;
	if (v != CNM_DROP_NONE) {
		k->shape = CNM_SHAPE_DROP;
		k->reason = (uint8_t)v;
		return;
	}
	k->shape = CNM_SHAPE_FLOW;
	if (k->f.key.proto == 17 /* UDP */ && k->f.has_ports && !k->f.icmp_err &&
			k->f.l4_off != 0) {
		uint32_t end = (uint32_t)k->f.l3_off + k->f.l3_len;

		cnm_pkt_l7(k, p, (uint32_t)k->f.l4_off + 8, caplen < end ? caplen : end);
	}
	if (k->f.key.family == AF_INET && k->f.kind == CNM_PKT_IP &&
			cnm_pkt_csum_drop(p + k->f.l3_off, verify, hint)) {
		k->shape = CNM_SHAPE_DROP;
		k->reason = CNM_DROP_IPV4_CHECKSUM;
	}
}

/**
 * Parse a frame the way a worker does: the fast shape when it applies, the
 * general parser otherwise, then the IPv4 header checksum when @p verify
 * (with @p hint from the NIC). @p p holds @p caplen bytes of the frame: its
 * first CNM_PARSE_HDR_MAX bytes, or all of it when shorter.
 */
static inline void
cnm_pkt_parse(const uint8_t *p, uint32_t caplen, uint32_t wirelen, int verify,
		enum cnm_csum_hint hint, struct cnm_pkt *k)
{
	if (cnm_pkt_parse_fast(p, caplen, wirelen, verify, hint, k) < 0)
		cnm_pkt_parse_general(p, caplen, wirelen, verify, hint, k);
}

#endif /* CNM_PARSE_H */
