/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "cnm_arp.h"

/* offsets inside the ARP message */
#define A_HTYPE 0
#define A_PTYPE 2
#define A_HLEN 4
#define A_PLEN 5
#define A_OP 6
#define A_SHA 8
#define A_SPA 14
#define A_THA 18
#define A_TPA 24
#define A_LEN 28

int
cnm_arp_parse(const uint8_t *frame, uint32_t len, uint32_t off, struct cnm_arp *a)
{
	const uint8_t *p = frame + off;

	if (off + A_LEN > len)
		return -1;
	if (p[A_HTYPE] != 0 || p[A_HTYPE + 1] != 1 || p[A_PTYPE] != 0x08 ||
			p[A_PTYPE + 1] != 0x00 || p[A_HLEN] != 6 || p[A_PLEN] != 4)
		return -1;
	a->op = (uint16_t)((p[A_OP] << 8) | p[A_OP + 1]);
	if (a->op != CNM_ARP_REQUEST && a->op != CNM_ARP_REPLY)
		return -1;
	memcpy(a->sha, p + A_SHA, 6);
	memcpy(a->spa, p + A_SPA, 4);
	memcpy(a->tha, p + A_THA, 6);
	memcpy(a->tpa, p + A_TPA, 4);
	return 0;
}

void
cnm_arp_make_reply(uint8_t *frame, uint32_t off, const uint8_t mac[6])
{
	uint8_t *p = frame + off;
	uint8_t ip[4];

	/* Ethernet: back to the asker, from us */
	memcpy(frame, p + A_SHA, 6);
	memcpy(frame + 6, mac, 6);
	p[A_OP] = 0;
	p[A_OP + 1] = CNM_ARP_REPLY;
	memcpy(ip, p + A_TPA, 4);
	memcpy(p + A_THA, p + A_SHA, 6);
	memcpy(p + A_TPA, p + A_SPA, 4);
	memcpy(p + A_SHA, mac, 6);
	memcpy(p + A_SPA, ip, 4);
}

void
cnm_arp_make_request(uint8_t *frame, const uint8_t sha[6], const uint8_t spa[4],
		const uint8_t tpa[4])
{
	static const uint8_t hdr[8] = { 0, 1, 0x08, 0x00, 6, 4, 0, CNM_ARP_REQUEST };
	uint8_t *p = frame + 14;

	memset(frame, 0xff, 6);
	memcpy(frame + 6, sha, 6);
	frame[12] = 0x08;
	frame[13] = 0x06;
	memcpy(p, hdr, sizeof(hdr));
	memcpy(p + A_SHA, sha, 6);
	memcpy(p + A_SPA, spa, 4);
	memset(p + A_THA, 0, 6);
	memcpy(p + A_TPA, tpa, 4);
}
