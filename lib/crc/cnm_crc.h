/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * CRC32-C in 2-, 4- and 8-byte steps, for the hashes of the data path (the
 * client hash, the service lookup cache, the forwarding list's keys).
 */
#ifndef CNM_CRC_H
#define CNM_CRC_H

#include <stdint.h>

#include <rte_hash_crc.h>

/*
 * CRC32-C steps. The SSE4.2 instruction when the build targets it, as a
 * builtin the compiler can schedule (DPDK's versions are volatile asm behind
 * a run-time check of a global); DPDK's run-time choice otherwise. Both give
 * the same CRC.
 */
static inline uint32_t
cnm_crc_u64(uint64_t v, uint32_t h)
{
#ifdef __SSE4_2__
	return (uint32_t)__builtin_ia32_crc32di(h, v);
#else
	return rte_hash_crc_8byte(v, h);
#endif
}

static inline uint32_t
cnm_crc_u32(uint32_t v, uint32_t h)
{
#ifdef __SSE4_2__
	return __builtin_ia32_crc32si(h, v);
#else
	return rte_hash_crc_4byte(v, h);
#endif
}

static inline uint32_t
cnm_crc_u16(uint16_t v, uint32_t h)
{
#ifdef __SSE4_2__
	return __builtin_ia32_crc32hi(h, v);
#else
	return rte_hash_crc_2byte(v, h);
#endif
}

#endif /* CNM_CRC_H */
