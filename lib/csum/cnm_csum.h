/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CNM_CSUM_H
#define CNM_CSUM_H

/*
 * The Internet checksum (RFC 1071) over bytes in network order: the health
 * checker's probe frames (lib/health/probe.c) and the tunnels' outer headers
 * (drivers/tunnel). Header only: the tunnels call it per packet.
 */
#include <stdint.h>

/** Add the 16-bit big-endian words of @p p (@p len bytes; an odd last byte
 *  padded with zero) to @p sum, unfolded. Up to 64 KiB per call. */
static inline uint32_t
cnm_csum_add(const uint8_t *p, uint32_t len, uint32_t sum)
{
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/** Fold @p sum to 16 bits and complement it: the checksum field's value
 *  (0 when checking a range that holds its own correct checksum). */
static inline uint16_t
cnm_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/**
 * Fold @p s, a sum of 32-bit words as they lie in memory (each the one's
 * complement sum of its two 16-bit words; a 64-bit word counts as its two
 * halves, as long as the sum stays below 2^64), to 16 bits and complement
 * it: the checksum field's value, in memory order. Each half is added to
 * the other by a rotation, whose upper half then holds their one's
 * complement sum with the carry around: four instructions a step where
 * masking and shifting take six. For any @p s > 0 the value is the one
 * the usual folding gives (tests/unit/tunnel_test.c, test_csum_fold64);
 * @p s = 0 gives 0xffff.
 */
static inline uint16_t
cnm_csum_fold64(uint64_t s)
{
	uint32_t x;

	s += (s >> 32) | (s << 32);
	x = (uint32_t)(s >> 32);
	x += (x >> 16) | (x << 16);
	return (uint16_t)~(x >> 16);
}

#endif
