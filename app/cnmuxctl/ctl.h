/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmuxctl's parts: the verbs and the exchange (main.c), the printers of
 * the responses (print.c).
 */
#ifndef CNMUXCTL_CTL_H
#define CNMUXCTL_CTL_H

#include <jansson.h>

#define G(o, k) json_object_get((o), (k))
#define S(o, k) json_string_value(json_object_get((o), (k)))

/* Each prints a successful response of its command on stdout. */
void print_services(const json_t *r);
void print_nodes(const json_t *r);
void print_pdt(const json_t *r);
void print_conns(const json_t *r);
void print_ha(const json_t *r);
void print_paths(const json_t *r);
/* `stats`, and `stats --rate` (a response with "interval_ms") */
void print_stats(const json_t *r);
void print_zero(const json_t *r);
void print_count(const json_t *r);
void print_up_down(const json_t *r);
void print_reload(const json_t *r);
void print_explain(const json_t *r);
void print_save(const json_t *r);
/* the summary of a change ("changes"), else "ok" */
void print_default(const json_t *r);

#endif
