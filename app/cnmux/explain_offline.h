/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CNMUX_EXPLAIN_OFFLINE_H
#define CNMUX_EXPLAIN_OFFLINE_H

/**
 * cnmux --config FILE --explain CAPTURE: one line per frame of the capture,
 * what cnmux would do with it and why (explain.c). Starts its own EAL (no
 * port, in memory). Returns the exit status.
 */
int cnm_explain_offline(const char *config, const char *capture);

#endif
