/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Starting commands (health scripts and notify hooks, the announce command):
 * one way for all, so that none inherits cnmux's sockets or its blocked
 * signals.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>

#include "cnm_proc.h"

#define CMD_MAX 4096

pid_t
cnm_proc_spawn(const char *command, char *const *args, uint32_t nargs, unsigned int flags)
{
	extern char **environ;
	char cmd[CMD_MAX + 16];
	char *argv[8];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	pid_t pid;
	uint32_t i;
	int ret;

	if (snprintf(cmd, sizeof(cmd), (flags & CNM_PROC_APPEND) ? "%s \"$@\"" : "%s",
			command) >= (int)sizeof(cmd))
		return -ENAMETOOLONG;
	argv[0] = (char *)(uintptr_t)"sh";
	argv[1] = (char *)(uintptr_t)"-c";
	argv[2] = cmd;
	argv[3] = (char *)(uintptr_t)"sh";
	for (i = 0; i < nargs && i < 3; i++)
		argv[4 + i] = args[i];
	argv[4 + i] = NULL;
	ret = posix_spawn_file_actions_init(&fa);
	if (ret != 0)
		return -ret;
	ret = posix_spawnattr_init(&at);
	if (ret != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -ret;
	}
	sigemptyset(&none);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
		((flags & CNM_PROC_GROUP) ? POSIX_SPAWN_SETPGROUP : 0));
	ret = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return ret == 0 ? pid : -ret;
}
