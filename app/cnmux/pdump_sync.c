/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live capture that can stop while cnmux forwards.
 *
 * DPDK 22.11's pdump lets a capture tool stop unsafely: when dpdk-dumpcap
 * ends, it asks cnmux (over EAL's multi-process channel, "mp_pdump") to
 * remove its RX/TX callbacks; librte_pdump removes them from the ports and
 * replies at once, and dumpcap then frees the ring and the mbuf pool the
 * callbacks copy into. A worker that was inside a callback at that moment
 * (it took the callback before the removal) copies into freed memory: seen
 * here as a worker crashing in rte_pktmbuf_copy(), once in 16 dumpcap stops.
 * rte_eth_remove_rx_callback() says the caller must wait for the callback
 * to be done before freeing what it uses; pdump does not.
 *
 * cnmux waits for it: this definition of rte_mp_reply() takes the place of
 * EAL's (the executable's symbol comes first for librte_pdump), and before
 * a pdump reply goes out it waits for an RCU grace period of every lcore
 * that polls a port, so that no callback removed before the reply still
 * runs after it. Every other reply goes out unchanged. The wait is that of
 * a table update: a burst of each worker.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_rcu_qsbr.h>

#include "pdump_sync.h"

/* librte_pdump's name for its requests (lib/pdump/rte_pdump.c, PDUMP_MP) */
#define PDUMP_MP_NAME "mp_pdump"

typedef int (*mp_reply_fn)(struct rte_mp_msg *msg, const char *peer);

static struct rte_rcu_qsbr *sync_qsbr;

void
cnm_pdump_sync_set(struct rte_rcu_qsbr *qsbr)
{
	__atomic_store_n(&sync_qsbr, qsbr, __ATOMIC_RELEASE);
}

int
rte_mp_reply(struct rte_mp_msg *msg, const char *peer)
{
	static mp_reply_fn eal_reply;
	mp_reply_fn f = __atomic_load_n(&eal_reply, __ATOMIC_ACQUIRE);
	struct rte_rcu_qsbr *q;

	if (f == NULL) {
		void *sym = dlsym(RTLD_NEXT, "rte_mp_reply");

		if (sym == NULL) {
			rte_errno = ENOSYS;
			return -1;
		}
		memcpy(&f, &sym, sizeof(f));
		__atomic_store_n(&eal_reply, f, __ATOMIC_RELEASE);
	}
	q = __atomic_load_n(&sync_qsbr, __ATOMIC_ACQUIRE);
	if (q != NULL && msg != NULL && strncmp(msg->name, PDUMP_MP_NAME, sizeof(msg->name)) == 0)
		rte_rcu_qsbr_synchronize(q, RTE_QSBR_THRID_INVALID);
	return f(msg, peer);
}
