/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmux's ports (app/cnmux/ports.c): what main() does with them.
 */
#ifndef CNM_APP_PORTS_H
#define CNM_APP_PORTS_H

#include <stdint.h>

#include "cnm_config.h"
#include "cnm_dataplane.h"

struct rte_mempool;

/**
 * The ports the configuration names (a --vdev name, a PCI address or a port
 * id) into dp->pub_port, priv_port[], n_private and local_port (-1: none).
 * 0, or -1 with a message naming the key.
 */
int cnm_ports_find(const struct cnm_config *cfg, struct cnm_dp *dp);

/**
 * How many workers: one per lcore but the main one, at most the public
 * port's RX and TX queues and CNM_MAX_WORKERS. 0 (with a message) when none.
 */
unsigned int cnm_ports_workers(uint16_t pub_port);

/**
 * Configure and start every port: @p nw RX queues on the public port (RSS
 * when more than one) and one elsewhere, @p nw TX queues on each; the MAC
 * addresses into @p dp. Each port started is appended to @p ports
 * (@p nports of them), also on failure. 0 or -1 (with a message).
 */
int cnm_ports_start(const struct cnm_config *cfg, struct cnm_dp *dp, unsigned int nw,
		struct rte_mempool *mp, uint16_t *ports, unsigned int *nports);

/**
 * Stop and close @p n ports; with @p drain, free what waits in their RX
 * queues first (so that the pool can be checked to hold every mbuf again).
 */
void cnm_ports_close(const uint16_t *ports, unsigned int n, int drain);

#endif /* CNM_APP_PORTS_H */
