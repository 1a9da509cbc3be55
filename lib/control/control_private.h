/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside lib/control: what control.c shares with server.c.
 */
#ifndef CNM_CONTROL_PRIVATE_H
#define CNM_CONTROL_PRIVATE_H

#include <rte_log.h>

extern int cnm_logtype_control;
#define CTL_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cnm_logtype_control, "control: " fmt "\n", ##__VA_ARGS__)

/** Longest request line the server reads; a longer one closes the client. */
#define CNM_CTL_LINE_MAX (64u * 1024u)
/** Clients served at once. */
#define CNM_CTL_CLIENTS 16
/** Size of an error message of the protocol. */
#define CNM_CTL_ERR_MAX 1024

#endif /* CNM_CONTROL_PRIVATE_H */
