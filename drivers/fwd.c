/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "cnm_fwd.h"

extern const struct cnm_fwd_ops cnm_fwd_mac;
extern const struct cnm_fwd_ops cnm_fwd_ipip;
extern const struct cnm_fwd_ops cnm_fwd_gue;

/* The registered methods, by id: one line per method. */
static const struct cnm_fwd_ops *const methods[CNM_FWD_MAX] = {
	[CNM_FWD_MAC] = &cnm_fwd_mac,
	[CNM_FWD_IPIP] = &cnm_fwd_ipip,
	[CNM_FWD_GUE] = &cnm_fwd_gue,
};

const struct cnm_fwd_ops *
cnm_fwd_find(const char *name)
{
	unsigned int i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < CNM_FWD_MAX; i++)
		if (strcmp(methods[i]->name, name) == 0)
			return methods[i];
	return NULL;
}

const struct cnm_fwd_ops *
cnm_fwd_get(unsigned int id)
{
	return id < CNM_FWD_MAX ? methods[id] : NULL;
}

const char *
cnm_fwd_name(unsigned int id)
{
	return id < CNM_FWD_MAX ? methods[id]->name : "unknown";
}

const char *
cnm_fwd_names(void)
{
	static char buf[128];
	size_t off = 0;
	unsigned int i;

	if (buf[0] != '\0')
		return buf;
	for (i = 0; i < CNM_FWD_MAX && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s\"%s\"",
			i == 0 ? "" : i + 1 == CNM_FWD_MAX ? " or " : ", ", methods[i]->name);
	return buf;
}
