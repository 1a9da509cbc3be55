/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CNM_TLS_H
#define CNM_TLS_H

#include <stddef.h>
#include <stdint.h>

/**
 * The TLS client of an https check (lib/health, docs/health.md): OpenSSL on
 * memory BIOs, so that its bytes travel in the checker's own TCP segments on
 * the private path. No certificate is verified (a health check asks whether
 * the node's server answers, as keepalived's SSL_GET does by default).
 */
struct cnm_tls;

/** The context every check shares (TLS 1.2 and up, no verification); NULL on failure. */
void *cnm_tls_ctx_new(void);
void cnm_tls_ctx_free(void *ctx);

/**
 * A client that will send @p request (@p len bytes, copied) once its
 * handshake is done; its ClientHello waits in cnm_tls_output(). NULL on
 * failure (memory).
 */
struct cnm_tls *cnm_tls_new(void *ctx, const char *request, size_t len);

/**
 * @p n bytes from the server, in order. @return 1: the response's status
 * line is in (*@p status, -1 when it is not HTTP); 0: more is needed; -1:
 * the TLS session failed or ended first (@p why says how).
 */
int cnm_tls_input(struct cnm_tls *t, const uint8_t *p, size_t n, int *status, char *why,
		size_t whylen);

/** Up to @p cap bytes the client has to send, taken out; 0 when none wait. */
size_t cnm_tls_output(struct cnm_tls *t, uint8_t *buf, size_t cap);

void cnm_tls_free(struct cnm_tls *t);

#endif
