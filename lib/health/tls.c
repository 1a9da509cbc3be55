/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The https check's TLS client: OpenSSL's state machine on two memory BIOs.
 * The checker's TCP code (health.c) writes what the node sent into the read
 * BIO and sends what the client wrote into the write BIO; the handshake, the
 * request and the response's first bytes go through SSL_do_handshake(),
 * SSL_write() and SSL_read() as on a socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cnm_probe.h"
#include "cnm_tls.h"

#define TLS_REQ_MAX 512
#define TLS_HEAD 16     /* "HTTP/1.1 200 " and a little */

struct cnm_tls {
	SSL *ssl;
	BIO *rbio;          /* the node's bytes, for OpenSSL to read */
	BIO *wbio;          /* OpenSSL's bytes, for the node */
	char req[TLS_REQ_MAX];
	size_t req_len;
	int req_sent;
	uint8_t head[TLS_HEAD];
	size_t head_len;
};

void *
cnm_tls_ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* one request per session: nothing to resume */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

void
cnm_tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

struct cnm_tls *
cnm_tls_new(void *ctx, const char *request, size_t len)
{
	struct cnm_tls *t;

	if (ctx == NULL || len > TLS_REQ_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->ssl = SSL_new(ctx);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		SSL_free(t->ssl);
		free(t);
		return NULL;
	}
	/* an empty read BIO asks for more instead of meaning the end */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_connect_state(t->ssl);
	memcpy(t->req, request, len);
	t->req_len = len;
	(void)SSL_do_handshake(t->ssl); /* the ClientHello, into wbio */
	ERR_clear_error();
	return t;
}

/* Why OpenSSL stopped, in @p why: its reason string when it has one. */
static void
tls_why(int err, char *why, size_t whylen)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (err == SSL_ERROR_ZERO_RETURN)
		snprintf(why, whylen, "TLS closed without a response");
	else if (r != NULL)
		snprintf(why, whylen, "TLS: %s", r);
	else
		snprintf(why, whylen, "TLS failed (error %d)", err);
	ERR_clear_error();
}

int
cnm_tls_input(struct cnm_tls *t, const uint8_t *p, size_t n, int *status, char *why,
		size_t whylen)
{
	int r, err;

	if (n > 0 && BIO_write(t->rbio, p, (int)n) != (int)n) {
		snprintf(why, whylen, "TLS: out of memory");
		return -1;
	}
	if (!SSL_is_init_finished(t->ssl)) {
		r = SSL_do_handshake(t->ssl);
		if (r != 1) {
			err = SSL_get_error(t->ssl, r);
			if (err == SSL_ERROR_WANT_READ) {
				ERR_clear_error();
				return 0;
			}
			tls_why(err, why, whylen);
			return -1;
		}
	}
	if (!t->req_sent) {
		r = SSL_write(t->ssl, t->req, (int)t->req_len);
		if (r <= 0) {
			tls_why(SSL_get_error(t->ssl, r), why, whylen);
			return -1;
		}
		t->req_sent = 1;
	}
	while (t->head_len < TLS_HEAD) {
		r = SSL_read(t->ssl, t->head + t->head_len, (int)(TLS_HEAD - t->head_len));
		if (r <= 0) {
			err = SSL_get_error(t->ssl, r);
			if (err == SSL_ERROR_WANT_READ) {
				ERR_clear_error();
				break;
			}
			if (t->head_len > 0)
				break; /* a short response: judge what came */
			tls_why(err, why, whylen);
			return -1;
		}
		t->head_len += (size_t)r;
	}
	/* "HTTP/1.1 200" is 12 bytes: judge once they are in, or at the end */
	if (t->head_len < 12 && !(SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN))
		return 0;
	*status = cnm_probe_http_status(t->head, (uint32_t)t->head_len);
	return 1;
}

size_t
cnm_tls_output(struct cnm_tls *t, uint8_t *buf, size_t cap)
{
	int r = BIO_read(t->wbio, buf, (int)cap);

	return r > 0 ? (size_t)r : 0;
}

void
cnm_tls_free(struct cnm_tls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl); /* and its BIOs */
	free(t);
}
