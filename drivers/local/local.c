/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "cnm_local.h"

#define LOCAL_BURST 32

uint16_t
cnm_local_poll(uint16_t local_port, uint16_t local_rxq, uint16_t pub_port, uint16_t pub_txq,
		struct cnm_wstats *st)
{
	struct rte_mbuf *m[LOCAL_BURST];
	uint16_t n, sent;

	n = rte_eth_rx_burst(local_port, local_rxq, m, LOCAL_BURST);
	if (n == 0)
		return 0;
	sent = rte_eth_tx_burst(pub_port, pub_txq, m, n);
	st->local_rx += n;
	st->local_out += sent;
	if (unlikely(sent < n)) {
		st->local_drop += n - sent;
		rte_pktmbuf_free_bulk(&m[sent], n - sent);
	}
	return n;
}
