/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "cnm_policy.h"
#include "policy_private.h"

/* The registered policies, by id. */
static const struct cnm_policy_ops *const policies[CNM_POLICY_MAX] = {
	[CNM_POLICY_WEIGHTED] = &cnm_policy_weighted,
	[CNM_POLICY_STICKY] = &cnm_policy_sticky,
	[CNM_POLICY_STICKY_WILD] = &cnm_policy_sticky_wild,
};

const struct cnm_policy_ops *
cnm_policy_find(const char *name)
{
	unsigned int i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < CNM_POLICY_MAX; i++)
		if (strcmp(policies[i]->name, name) == 0)
			return policies[i];
	return NULL;
}

const struct cnm_policy_ops *
cnm_policy_get(unsigned int id)
{
	return id < CNM_POLICY_MAX ? policies[id] : NULL;
}

const char *
cnm_policy_names(void)
{
	static char buf[256];
	size_t off = 0;
	unsigned int i;

	if (buf[0] != '\0')
		return buf;
	for (i = 0; i < CNM_POLICY_MAX && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s\"%s\"",
			i == 0 ? "" : i + 1 == CNM_POLICY_MAX ? " or " : ", ", policies[i]->name);
	return buf;
}
