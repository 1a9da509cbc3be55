/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmux's ports: found by the names in the configuration, configured (RSS
 * on the public port when it has several RX queues), started, and at the
 * end drained, stopped and closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "ports.h"

#define RX_DESC 1024
#define TX_DESC 1024

/* A port named in the config: a device name (as given to --vdev, or a PCI
 * address), or a plain number taken as a port id. */
static int
find_port(const char *cfgpath, const char *key, const char *name, uint16_t *pid)
{
	char *end;
	unsigned long v;

	if (rte_eth_dev_get_port_by_name(name, pid) == 0)
		return 0;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno == 0 && end != name && *end == '\0' && v < RTE_MAX_ETHPORTS &&
			rte_eth_dev_is_valid_port((uint16_t)v)) {
		*pid = (uint16_t)v;
		return 0;
	}
	fprintf(stderr, "cnmux: %s: %s: no DPDK port '%s' (expected a --vdev name, a PCI "
		"address or a port id; %u ports present)\n", cfgpath, key, name,
		rte_eth_dev_count_avail());
	return -1;
}

static int
port_setup(uint16_t pid, const char *name, uint16_t nrxq, uint16_t ntxq,
		struct rte_mempool *mp)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nrxd = RX_DESC, ntxd = TX_DESC, q;
	int ret;

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_info_get(pid, &info);
	if (ret != 0)
		goto fail;
	if (nrxq > info.max_rx_queues || ntxq > info.max_tx_queues) {
		fprintf(stderr, "cnmux: port %s: needs %u RX and %u TX queues, has %u and %u\n",
			name, nrxq, ntxq, info.max_rx_queues, info.max_tx_queues);
		return -1;
	}
	if (nrxq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP |
			RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		if (conf.rx_adv_conf.rss_conf.rss_hf == 0)
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	ret = rte_eth_dev_configure(pid, nrxq, ntxq, &conf);
	if (ret != 0)
		goto fail;
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrxd, &ntxd);
	if (ret != 0)
		goto fail;
	for (q = 0; q < nrxq; q++) {
		ret = rte_eth_rx_queue_setup(pid, q, nrxd, rte_eth_dev_socket_id(pid), NULL, mp);
		if (ret != 0)
			goto fail;
	}
	for (q = 0; q < ntxq; q++) {
		ret = rte_eth_tx_queue_setup(pid, q, ntxd, rte_eth_dev_socket_id(pid), NULL);
		if (ret != 0)
			goto fail;
	}
	ret = rte_eth_dev_start(pid);
	if (ret != 0)
		goto fail;
	/* frames for the VIPs are not addressed to our MAC when a router
	 * floods or when a capture is replayed; not every PMD can do it */
	(void)rte_eth_promiscuous_enable(pid);
	return 0;
fail:
	fprintf(stderr, "cnmux: port %s: setup failed: %s\n", name, rte_strerror(-ret));
	return -1;
}

/* The ports named in the configuration, as DPDK port ids. */
int
cnm_ports_find(const struct cnm_config *cfg, struct cnm_dp *dp)
{
	unsigned int i;

	dp->local_port = -1;
	if (find_port(cfg->path, "ports.public", cfg->public_port, &dp->pub_port) < 0)
		return -1;
	dp->n_private = (uint16_t)cfg->n_private;
	for (i = 0; i < cfg->n_private; i++) {
		char key[32];

		snprintf(key, sizeof(key), "ports.private[%u]", i);
		if (find_port(cfg->path, key, cfg->private_ports[i], &dp->priv_port[i]) < 0)
			return -1;
	}
	if (cfg->local_port[0] != '\0') {
		uint16_t pid;

		if (find_port(cfg->path, "ports.local", cfg->local_port, &pid) < 0)
			return -1;
		dp->local_port = pid;
	}
	return 0;
}

/* One worker per public RX queue (and TX queue); the main lcore controls. */
unsigned int
cnm_ports_workers(uint16_t pub_port)
{
	struct rte_eth_dev_info info;
	unsigned int nl = rte_lcore_count() - 1, nw;

	if (nl == 0) {
		fprintf(stderr, "cnmux: needs at least two lcores (e.g. -l 0,1): the main lcore "
			"controls, the others forward\n");
		return 0;
	}
	if (rte_eth_dev_info_get(pub_port, &info) != 0)
		return 0;
	nw = RTE_MIN(nl, (unsigned int)info.max_rx_queues);
	nw = RTE_MIN(nw, (unsigned int)CNM_MAX_WORKERS);
	nw = RTE_MIN(nw, (unsigned int)info.max_tx_queues);
	if (nw < nl)
		printf("cnmux: %u lcores given, public port has %u RX queue(s): %u worker(s)\n",
			nl, nw, nw);
	return nw;
}

/* Start every port: RX queues for the workers on the public port, RX queue
 * 0 elsewhere, one TX queue per worker everywhere. */
int
cnm_ports_start(const struct cnm_config *cfg, struct cnm_dp *dp, unsigned int nw,
		struct rte_mempool *mp, uint16_t *ports, unsigned int *nports)
{
	unsigned int i;

	if (port_setup(dp->pub_port, cfg->public_port, (uint16_t)nw, (uint16_t)nw, mp) < 0)
		return -1;
	ports[(*nports)++] = dp->pub_port;
	rte_eth_macaddr_get(dp->pub_port, &dp->pub_mac);
	for (i = 0; i < dp->n_private; i++) {
		if (port_setup(dp->priv_port[i], cfg->private_ports[i], 1, (uint16_t)nw, mp) < 0)
			return -1;
		ports[(*nports)++] = dp->priv_port[i];
		rte_eth_macaddr_get(dp->priv_port[i], &dp->priv_mac[i]);
	}
	if (dp->local_port >= 0) {
		if (port_setup((uint16_t)dp->local_port, cfg->local_port, 1, (uint16_t)nw, mp) < 0)
			return -1;
		ports[(*nports)++] = (uint16_t)dp->local_port;
	}
	return 0;
}

static void
rx_drain(uint16_t port)
{
	struct rte_eth_dev_info info;
	struct rte_mbuf *m[CNM_BURST];
	uint16_t q, n;
	unsigned int rounds;

	if (rte_eth_dev_info_get(port, &info) != 0)
		return;
	for (q = 0; q < info.nb_rx_queues; q++) {
		/* bounded: an endless source (infinite_rx) never runs dry */
		for (rounds = 0; rounds < 4096; rounds++) {
			n = rte_eth_rx_burst(port, q, m, CNM_BURST);
			if (n == 0)
				break;
			rte_pktmbuf_free_bulk(m, n);
		}
	}
}

void
cnm_ports_close(const uint16_t *ports, unsigned int n, int drain)
{
	unsigned int i;

	for (i = 0; drain && i < n; i++)
		rx_drain(ports[i]);
	for (i = 0; i < n; i++) {
		rte_eth_dev_stop(ports[i]);
		rte_eth_dev_close(ports[i]);
	}
}
