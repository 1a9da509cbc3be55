/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CNM_PROC_H
#define CNM_PROC_H

#include <stdint.h>
#include <sys/types.h>

/** cnm_proc_spawn() flags */
#define CNM_PROC_GROUP  1u  /**< its own process group: kill(-pid) ends what it started */
#define CNM_PROC_APPEND 2u  /**< the arguments are appended to the command ("$@") */

/**
 * Run `/bin/sh -c COMMAND sh ARGS...` (at most 3 ARGS: $1, $2, $3 of the
 * command; with CNM_PROC_APPEND also appended to it), as every command cnmux
 * starts is run: stdin /dev/null, stdout and stderr cnmux's, no other file
 * descriptor of cnmux's (its sockets stay its own), no signal blocked.
 * Never waits: the caller reaps the pid with waitpid().
 * @return the pid, or -errno.
 */
pid_t cnm_proc_spawn(const char *command, char *const *args, uint32_t nargs, unsigned int flags);

#endif
