/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The local exception path (patent claim 10): non-scalable frames and ARP go
 * unchanged to the local port (a net_tap in production, so the interface
 * node's own kernel answers them); what the kernel sends back on that port
 * leaves unchanged on the public port.
 */
#ifndef CNM_LOCAL_H
#define CNM_LOCAL_H

#include <stdint.h>

#include "cnm_stats.h"

/**
 * Move up to one burst from the local port's RX queue to the public port's TX
 * queue, counting in @p st (local_rx, local_out, local_drop).
 * @return frames received from the local port.
 */
uint16_t cnm_local_poll(uint16_t local_port, uint16_t local_rxq, uint16_t pub_port,
		uint16_t pub_txq, struct cnm_wstats *st);

#endif /* CNM_LOCAL_H */
