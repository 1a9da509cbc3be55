/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The frames of the private-path checks (lib/health/probe.c): what the
 * builders write is checked with a checksum computed here, independently;
 * the parser takes valid echo replies and TCP segments, leaves what is not
 * an answer (echo requests, fragments, ARP) alone, and reports malformed
 * ones (length, checksum) as invalid, with their addresses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "cnm_probe.h"

static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* One's complement sum over 16-bit words, folded, not inverted. */
static uint16_t
csum(const uint8_t *p, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i < n; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header of the L4 part of @p f at @p l4 of @p len bytes, summed. */
static uint32_t
pseudo(const uint8_t *f, int v6, uint8_t proto, uint32_t len)
{
	if (!v6)
		return csum(f + 14 + 12, 8, 0) + proto + len;
	return csum(f + 14 + 8, 32, 0) + proto + len;
}

static struct cnm_probe_addr
addr(int v6)
{
	struct cnm_probe_addr a;

	memset(&a, 0, sizeof(a));
	memcpy(a.smac, smac, 6);
	memcpy(a.dmac, dmac, 6);
	a.family = v6 ? AF_INET6 : AF_INET;
	if (v6) {
		inet_pton(AF_INET6, "2001:db8::2", a.src);
		inet_pton(AF_INET6, "2001:db8::11", a.dst);
	} else {
		inet_pton(AF_INET, "192.0.2.2", a.src);
		inet_pton(AF_INET, "192.0.2.11", a.dst);
	}
	return a;
}

/* Turn the request built at @p f into the node's reply: addresses swapped,
 * type 0 / 129, checksum redone. */
static void
make_reply(uint8_t *f, uint32_t len, int v6)
{
	uint8_t t[16];
	uint32_t l4 = v6 ? 54 : 34, alen = v6 ? 16 : 4, off = v6 ? 14 + 8 : 14 + 12;
	uint16_t c;

	memcpy(t, f + off, alen);
	memcpy(f + off, f + off + alen, alen);
	memcpy(f + off + alen, t, alen);
	if (!v6) {
		f[24] = f[25] = 0;
		c = (uint16_t)~csum(f + 14, 20, 0);
		f[24] = (uint8_t)(c >> 8);
		f[25] = (uint8_t)c;
	}
	f[l4] = v6 ? 129 : 0;
	f[l4 + 2] = f[l4 + 3] = 0;
	c = (uint16_t)~csum(f + l4, len - l4, v6 ? pseudo(f, 1, IPPROTO_ICMPV6, len - l4) : 0);
	f[l4 + 2] = (uint8_t)(c >> 8);
	f[l4 + 3] = (uint8_t)c;
}

static void
test_echo4(void **state)
{
	struct cnm_probe_addr a = addr(0);
	struct cnm_probe_reply r;
	uint8_t f[CNM_PROBE_FRAME_MAX];
	uint32_t len = cnm_probe_make_echo(f, &a, 0x1234, 7);

	(void)state;
	assert_int_equal(len, 14 + 20 + 16);
	assert_memory_equal(f, dmac, 6);
	assert_memory_equal(f + 6, smac, 6);
	assert_int_equal(f[12] << 8 | f[13], 0x0800);
	assert_int_equal(csum(f + 14, 20, 0), 0xffff);        /* IP header checksum */
	assert_int_equal(f[14 + 9], IPPROTO_ICMP);
	assert_int_equal(f[34], 8);                             /* echo request */
	assert_int_equal(csum(f + 34, 16, 0), 0xffff);          /* ICMP checksum */
	assert_int_equal(f[38] << 8 | f[39], 0x1234);
	assert_int_equal(f[40] << 8 | f[41], 7);
	/* our own request is not an answer */
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_OTHER);

	make_reply(f, len, 0);
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_ECHO_REPLY);
	assert_int_equal(r.family, AF_INET);
	assert_int_equal(r.id, 0x1234);
	assert_int_equal(r.seq, 7);
	assert_memory_equal(r.src, a.dst, 4);
	assert_memory_equal(r.dst, a.src, 4);
	/* Ethernet padding is fine */
	memset(f + len, 0, 10);
	assert_int_equal(cnm_probe_parse(f, len + 10, &r), CNM_PROBE_ECHO_REPLY);

	/* malformed: a byte of the payload changed (checksum), cut short,
	 * a bad IP header checksum; the addresses still say whose it is */
	f[45] ^= 0x40;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_INVALID);
	assert_memory_equal(r.dst, a.src, 4);
	f[45] ^= 0x40;
	assert_int_equal(cnm_probe_parse(f, len - 1, &r), CNM_PROBE_INVALID);
	f[14 + 8]--;  /* TTL without the checksum */
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_INVALID);
	f[14 + 8]++;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_ECHO_REPLY);
	/* a fragment is never an answer */
	f[14 + 6] |= 0x20;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_OTHER);
}

static void
test_echo6(void **state)
{
	struct cnm_probe_addr a = addr(1);
	struct cnm_probe_reply r;
	uint8_t f[CNM_PROBE_FRAME_MAX];
	uint32_t len = cnm_probe_make_echo(f, &a, 0xbeef, 65535);

	(void)state;
	assert_int_equal(len, 14 + 40 + 16);
	assert_int_equal(f[12] << 8 | f[13], 0x86dd);
	assert_int_equal(f[14 + 6], IPPROTO_ICMPV6);
	assert_int_equal(f[14 + 4] << 8 | f[14 + 5], 16);       /* payload length */
	assert_int_equal(f[54], 128);
	assert_int_equal(csum(f + 54, 16, pseudo(f, 1, IPPROTO_ICMPV6, 16)), 0xffff);
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_OTHER);
	make_reply(f, len, 1);
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_ECHO_REPLY);
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(r.id, 0xbeef);
	assert_int_equal(r.seq, 65535);
	assert_memory_equal(r.src, a.dst, 16);
	f[60] ^= 1;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_INVALID);
	f[60] ^= 1;
	/* a payload length past the frame */
	f[14 + 5] = 40;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_INVALID);
}

static void
check_tcp(int v6)
{
	struct cnm_probe_addr a = addr(v6);
	struct cnm_probe_reply r;
	uint8_t f[CNM_PROBE_FRAME_MAX];
	uint32_t len = cnm_probe_make_tcp(f, &a, 5000, 80, 0xdeadbeef, 0, CNM_TCP_SYN, NULL, 0);
	uint32_t l4 = v6 ? 54 : 34;

	assert_int_equal(len, l4 + 20);
	if (!v6)
		assert_int_equal(csum(f + 14, 20, 0), 0xffff);
	assert_int_equal(csum(f + l4, 20, pseudo(f, v6, IPPROTO_TCP, 20)), 0xffff);
	assert_int_equal(f[l4 + 12], 0x50);
	assert_int_equal(f[l4 + 13], CNM_TCP_SYN);
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_TCP);
	assert_int_equal(r.family, v6 ? AF_INET6 : AF_INET);
	assert_int_equal(r.sport, 5000);
	assert_int_equal(r.dport, 80);
	assert_int_equal(r.tseq, 0xdeadbeef);
	assert_int_equal(r.flags, CNM_TCP_SYN);

	assert_int_equal(r.dlen, 0);
	/* with data: an HTTP request */
	len = cnm_probe_make_tcp(f, &a, 5000, 80, 1, 2, CNM_TCP_ACK | CNM_TCP_PSH, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_int_equal(len, l4 + 20 + 18);
	assert_int_equal(csum(f + l4, 38, pseudo(f, v6, IPPROTO_TCP, 38)), 0xffff);
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_TCP);
	assert_int_equal(r.dlen, 18);
	assert_int_equal(r.doff, l4 + 20);
	assert_memory_equal(f + r.doff, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_int_equal(r.tack, 2);
	len = cnm_probe_make_tcp(f, &a, 5000, 80, 17, 0, CNM_TCP_RST, NULL, 0);
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_TCP);
	assert_int_equal(r.flags, CNM_TCP_RST);
	assert_int_equal(r.tseq, 17);
	/* a changed flag without the checksum; a data offset past the end */
	f[l4 + 13] |= CNM_TCP_ACK;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_INVALID);
	f[l4 + 13] &= (uint8_t)~CNM_TCP_ACK;
	f[l4 + 12] = 0xf0;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_INVALID);
	f[l4 + 12] = 0x40; /* shorter than a header */
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_INVALID);
}

static void
test_tcp4(void **state)
{
	(void)state;
	check_tcp(0);
}

static void
test_tcp6(void **state)
{
	(void)state;
	check_tcp(1);
}

static void
test_other(void **state)
{
	struct cnm_probe_reply r;
	uint8_t f[CNM_PROBE_FRAME_MAX];
	struct cnm_probe_addr a = addr(0);
	uint32_t len;

	(void)state;
	memset(f, 0, sizeof(f));
	/* ARP, runts, UDP */
	f[12] = 0x08;
	f[13] = 0x06;
	assert_int_equal(cnm_probe_parse(f, 60, &r), CNM_PROBE_OTHER);
	assert_int_equal(cnm_probe_parse(f, 10, &r), CNM_PROBE_OTHER);
	len = cnm_probe_make_tcp(f, &a, 1, 2, 3, 4, CNM_TCP_SYN, NULL, 0);
	f[14 + 9] = IPPROTO_UDP;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_OTHER);
	/* ICMP that is not an echo reply (unreachable) */
	len = cnm_probe_make_echo(f, &a, 1, 1);
	f[34] = 3;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_OTHER);
	/* an IPv4 header length below 20 */
	len = cnm_probe_make_echo(f, &a, 1, 1);
	f[14] = 0x44;
	assert_int_equal(cnm_probe_parse(f, len, &r), CNM_PROBE_OTHER);
}

static void
test_http_status(void **state)
{
	(void)state;
	assert_int_equal(cnm_probe_http_status((const uint8_t *)"HTTP/1.1 200 OK\r\n", 17), 200);
	assert_int_equal(cnm_probe_http_status((const uint8_t *)"HTTP/1.0 500 Internal", 21), 500);
	assert_int_equal(cnm_probe_http_status((const uint8_t *)"HTTP/1.1 301 ", 13), 301);
	assert_int_equal(cnm_probe_http_status((const uint8_t *)"HTTP/1.1 200", 11), -1); /* cut */
	assert_int_equal(cnm_probe_http_status((const uint8_t *)"HTTP/1.1 20x OK", 15), -1);
	assert_int_equal(cnm_probe_http_status((const uint8_t *)"HTTP/1.1 600 OK", 15), -1);
	assert_int_equal(cnm_probe_http_status((const uint8_t *)"SSH-2.0-OpenSSH", 15), -1);
	assert_int_equal(cnm_probe_http_status((const uint8_t *)"http/1.1 200 OK", 15), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo4),
		cmocka_unit_test(test_echo6),
		cmocka_unit_test(test_tcp4),
		cmocka_unit_test(test_tcp6),
		cmocka_unit_test(test_other),
		cmocka_unit_test(test_http_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
