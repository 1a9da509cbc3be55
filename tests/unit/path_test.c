/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the paths table (cnm_path_table(), cnm_path_slot()): what
 * the workers read to put a flow on a private path. Pure functions.
 *   - every path up: slot s on path s % n, shares within one slot;
 *   - a path down: only its slots move, dealt evenly to the paths up;
 *   - the same set gives the same table (after a failure and recovery, on
 *     another forwarder);
 *   - flows hashed as the worker hashes them land evenly on the paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cnm_service.h"

static void
shares(const uint8_t *tbl, uint32_t *n)
{
	uint32_t s;

	memset(n, 0, 8 * sizeof(*n));
	for (s = 0; s < CNM_PATH_SLOTS; s++) {
		assert_true(tbl[s] < 8);
		n[tbl[s]]++;
	}
}

static void
test_all_up(void **state)
{
	uint8_t tbl[CNM_PATH_SLOTS];
	uint32_t n[8], k, p, s;

	(void)state;
	for (k = 1; k <= 8; k++) {
		assert_int_equal(cnm_path_table((1u << k) - 1, k, tbl), k);
		for (s = 0; s < CNM_PATH_SLOTS; s++)
			assert_int_equal(tbl[s], s % k);
		shares(tbl, n);
		for (p = 0; p < k; p++)
			assert_true(n[p] == CNM_PATH_SLOTS / k || n[p] == CNM_PATH_SLOTS / k + 1);
	}
}

/* every subset of up paths, for 2..8 ports: the slots of an up path stay
 * home, every slot is on an up path, shares within 2 slots of even */
static void
test_down_moves_only_its_own(void **state)
{
	uint8_t tbl[CNM_PATH_SLOTS];
	uint32_t n[8], k, up, p, s, cnt, even;

	(void)state;
	for (k = 2; k <= 8; k++) {
		for (up = 1; up < (1u << k); up++) {
			cnt = (uint32_t)__builtin_popcount(up);
			assert_int_equal(cnm_path_table(up, k, tbl), cnt);
			for (s = 0; s < CNM_PATH_SLOTS; s++) {
				assert_true(up & (1u << tbl[s]));
				if (up & (1u << (s % k)))
					assert_int_equal(tbl[s], s % k);
			}
			shares(tbl, n);
			even = CNM_PATH_SLOTS / cnt;
			for (p = 0; p < k; p++) {
				if (!(up & (1u << p))) {
					assert_int_equal(n[p], 0);
					continue;
				}
				assert_true(n[p] + 2 >= even && n[p] <= even + 2);
			}
		}
	}
}

static void
test_none_up(void **state)
{
	uint8_t tbl[CNM_PATH_SLOTS];

	(void)state;
	memset(tbl, 0xaa, sizeof(tbl));
	assert_int_equal(cnm_path_table(0, 3, tbl), 0);
	assert_int_equal(tbl[0], 0xaa); /* left alone: the workers do not read it */
	assert_int_equal(cnm_path_table(0x7, 0, tbl), 0);
}

/* down and up again: the very table of before (flows go back to their path) */
static void
test_same_set_same_table(void **state)
{
	uint8_t a[CNM_PATH_SLOTS], b[CNM_PATH_SLOTS], c[CNM_PATH_SLOTS];

	(void)state;
	cnm_path_table(0x7, 3, a);
	cnm_path_table(0x3, 3, b);
	assert_memory_not_equal(a, b, sizeof(a));
	cnm_path_table(0x7, 3, c);
	assert_memory_equal(a, c, sizeof(a));
}

/* flows (client address and port) hashed as the worker does with 3 paths
 * up: each path within 5% of a third */
static void
test_flows_spread(void **state)
{
	uint8_t tbl[CNM_PATH_SLOTS];
	uint32_t n[3] = { 0 }, i, flows = 30000;

	(void)state;
	cnm_path_table(0x7, 3, tbl);
	for (i = 0; i < flows; i++) {
		uint32_t src = 0xcb007100u + (i % 251);     /* 203.0.113.x */
		uint16_t sport = (uint16_t)(1024 + i);
		uint32_t h = cnm_client_hash4(0x636e6d78u ^ 0x9e3779b9u, src, sport, 1);

		n[tbl[cnm_path_slot(h)]]++;
	}
	for (i = 0; i < 3; i++) {
		printf("path %u: %u of %u flows\n", i, n[i], flows);
		assert_true(n[i] > flows / 3 * 95 / 100 && n[i] < flows / 3 * 105 / 100);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_up),
		cmocka_unit_test(test_down_moves_only_its_own),
		cmocka_unit_test(test_none_up),
		cmocka_unit_test(test_same_set_same_table),
		cmocka_unit_test(test_flows_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
