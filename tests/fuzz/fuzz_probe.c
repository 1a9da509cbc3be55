/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: a frame on a private port -> cnm_probe_parse(), the
 * parser of the answers to the health checker's icmp, tcp and http checks
 * (lib/health/probe.c, docs/health.md), and cnm_probe_http_status() on a TCP
 * payload. The frame is copied into a buffer of exactly its size, so that
 * ASan sees any read past it. Checks (each violation abort()s):
 *  - the result is a known kind; OTHER leaves the family 0 or names it;
 *  - on TCP the payload lies inside the frame; the status of a payload is
 *    -1 or 100..599, and a status line's digits say the same;
 *  - a frame the builders write (addresses and numbers from the input)
 *    parses back to what was written: a SYN as TCP with its ports,
 *    numbers and flags; an echo request as OTHER (not an answer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cnm_probe.h"

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnm_probe_reply r;
	struct cnm_probe_addr a;
	uint8_t *f, out[CNM_PROBE_FRAME_MAX];
	uint32_t n;
	int k, st;

	f = malloc(size ? size : 1);
	if (f == NULL)
		return 0;
	memcpy(f, data, size);
	k = cnm_probe_parse(f, (uint32_t)size, &r);
	FUZZ_CHECK(k >= CNM_PROBE_OTHER && k <= CNM_PROBE_INVALID);
	if (k != CNM_PROBE_OTHER)
		FUZZ_CHECK(r.family == AF_INET || r.family == AF_INET6);
	if (k == CNM_PROBE_TCP) {
		FUZZ_CHECK((size_t)r.doff + r.dlen <= size);
		st = cnm_probe_http_status(f + r.doff, r.dlen);
		FUZZ_CHECK(st == -1 || (st >= 100 && st <= 599));
	}
	free(f);

	/* the builders, from the input's first bytes */
	if (size < 2 + 16 + 16 + 4 + 4)
		return 0;
	memset(&a, 0, sizeof(a));
	a.family = (data[0] & 1) ? AF_INET6 : AF_INET;
	memcpy(a.src, data + 2, 16);
	memcpy(a.dst, data + 18, 16);
	if (a.family == AF_INET) {
		memset(a.src + 4, 0, 12);
		memset(a.dst + 4, 0, 12);
	}
	n = cnm_probe_make_tcp(out, &a, (uint16_t)(data[34] << 8 | data[35]),
		(uint16_t)(data[36] << 8 | data[37]), 0x01020304u * data[1], 7, CNM_TCP_SYN,
		data + 38, (uint32_t)(size - 38));
	FUZZ_CHECK(n <= sizeof(out));
	FUZZ_CHECK(cnm_probe_parse(out, n, &r) == CNM_PROBE_TCP);
	FUZZ_CHECK(r.sport == (uint16_t)(data[34] << 8 | data[35]));
	FUZZ_CHECK(r.dport == (uint16_t)(data[36] << 8 | data[37]));
	FUZZ_CHECK(r.tseq == 0x01020304u * data[1] && r.tack == 7 && r.flags == CNM_TCP_SYN);
	FUZZ_CHECK(r.dlen == (size - 38 < CNM_PROBE_DATA_MAX ? size - 38 : CNM_PROBE_DATA_MAX));
	FUZZ_CHECK(memcmp(out + r.doff, data + 38, r.dlen) == 0);
	n = cnm_probe_make_echo(out, &a, data[34], data[35]);
	FUZZ_CHECK(cnm_probe_parse(out, n, &r) == CNM_PROBE_OTHER);
	return 0;
}
