/* SPDX-License-Identifier: BSD-3-Clause */
/* The policies' ops tables, one per file, listed in policy.c. */
#ifndef CNM_POLICY_PRIVATE_H
#define CNM_POLICY_PRIVATE_H

#include "cnm_policy.h"

extern const struct cnm_policy_ops cnm_policy_weighted;
extern const struct cnm_policy_ops cnm_policy_sticky;
extern const struct cnm_policy_ops cnm_policy_sticky_wild;

#endif /* CNM_POLICY_PRIVATE_H */
