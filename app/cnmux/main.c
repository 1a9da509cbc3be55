/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmux: parse arguments, bring up EAL and the ports, launch one worker per
 * public RX queue, run the control loop (lib/loop) on the main lcore, report
 * at the end.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_version.h>

#include "budget.h"
#include "cnm_config.h"
#include "cnm_dataplane.h"
#include "cnm_log.h"
#include "cnm_loop.h"
#include "cnm_service.h"
#include "cnm_stats.h"
#include "cnm_version.h"
#include "explain_offline.h"
#include "pdump_sync.h"
#include "ports.h"

#define MBUFS_DEFAULT 16383
#define MBUF_CACHE 256

struct opts {
	const char *config;
	const char *stats_json;
	unsigned long idle_exit_ms;   /* 0: never */
	unsigned long stats_period_s; /* 0: never */
	unsigned long mbufs;
	int quiet;
	int log_timestamp;            /* log lines start with the time */
	int check; /* --check: validate the configuration, touch nothing */
};

/*
 * The teardown's bound. DPDK 22.11 keeps a lock of its shared memory in the
 * hugepage state that secondary processes map; a dpdk-dumpcap that fails in
 * its EAL start (it could not map the memory where cnmux has it) takes that
 * lock and crashes with it held, and rte_eal_cleanup() (rte_free too, when
 * it gives pages back) then spins for ever. The counters and the status are
 * settled before the teardown starts, so past this bound cnmux says why and
 * leaves with that status instead of never ending (docs/capture.md).
 */
#define TEARDOWN_MAX_S 20
static volatile sig_atomic_t teardown_rc = 1;

static void
teardown_stuck(int sig)
{
	static const char msg[] = "cnmux: the teardown is stuck (20 s): EAL's shared "
		"memory lock is held, most likely by a secondary process (dpdk-dumpcap) that "
		"died starting; exiting without the rest of it\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(teardown_rc);
}

static void
ctl_ring_drain(struct rte_ring *r)
{
	void *m = NULL;

	while (r != NULL && rte_ring_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
}

static void
usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- --config FILE [options]\n"
	       "       %s --check --config FILE\n"
	       "       %s --version\n"
	       "  --config FILE        configuration (JSON, schema v1; cnmux.json(5), docs/config.md)\n"
	       "  --check              validate the configuration and exit (no EAL, no port touched)\n"
	       "  --check-config FILE  the same as --check --config FILE (what a reload would\n"
	       "                       change in a running cnmux: cnmuxctl reload --dry-run FILE)\n"
	       "  --idle-exit MS       stop once no frame has arrived for MS milliseconds\n"
	       "  --stats-period S     print statistics every S seconds\n"
	       "  --stats-json FILE    write the final statistics as JSON to FILE\n"
	       "  --mbufs N            mbufs in the pool (default %u)\n"
	       "  --quiet              no final per-service/per-node report\n"
	       "  --log-timestamp      start every log line with the time (UTC)\n"
	       "  --explain CAPTURE    with --config: what cnmux would do with each frame of\n"
	       "                       CAPTURE (pcap), one line each, offline; no EAL options\n"
	       "  --list-drop-reasons  print the drop reasons and exit\n"
	       "  --list-counters      print every key of the statistics and exit\n"
	       "  --version            print the version (and DPDK's) and exit\n"
	       "  --help               this text\n", prog, prog, prog, MBUFS_DEFAULT);
}

/* --list-drop-reasons, --list-counters, --version: print, and say so (1). */
static int
list_opt(const char *arg)
{
	unsigned int i;

	if (strcmp(arg, "--list-drop-reasons") == 0) {
		for (i = 1; i < CNM_DROP_MAX; i++)
			printf("%-20s %s\n", cnm_drop_name(i), cnm_drop_help(i));
		return 1;
	}
	if (strcmp(arg, "--list-counters") == 0) {
		cnm_stats_list(stdout);
		return 1;
	}
	if (strcmp(arg, "--version") == 0) {
		printf("cnmux %s%s%s%s, %s\n", CNM_VERSION, CNM_GIT_DESCRIBE[0] ? " (git " : "",
		       CNM_GIT_DESCRIBE, CNM_GIT_DESCRIBE[0] ? ")" : "", rte_version());
		return 1;
	}
	return 0;
}

static int
parse_ulong(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *out > max || s[0] == '-') {
		fprintf(stderr, "cnmux: %s: expected an integer 0..%lu, got '%s'\n", opt, max, s);
		return -1;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "idle-exit", required_argument, NULL, 'i' },
		{ "stats-period", required_argument, NULL, 'p' },
		{ "stats-json", required_argument, NULL, 'j' },
		{ "mbufs", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "log-timestamp", no_argument, NULL, 'T' },
		{ "list-drop-reasons", no_argument, NULL, 'L' },
		{ "list-counters", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "check", no_argument, NULL, 'k' },
		{ "check-config", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->mbufs = MBUFS_DEFAULT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'i':
			if (parse_ulong("--idle-exit", optarg, 86400000UL, &o->idle_exit_ms) < 0)
				return -1;
			break;
		case 'p':
			if (parse_ulong("--stats-period", optarg, 86400UL, &o->stats_period_s) < 0)
				return -1;
			break;
		case 'j':
			o->stats_json = optarg;
			break;
		case 'm':
			if (parse_ulong("--mbufs", optarg, 1UL << 26, &o->mbufs) < 0)
				return -1;
			if (o->mbufs < 64) {
				fprintf(stderr, "cnmux: --mbufs: expected at least 64\n");
				return -1;
			}
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'T':
			o->log_timestamp = 1;
			break;
		case 'L':
		case 'C':
		case 'V':
			list_opt(argv[optind - 1]);
			exit(0);
		case 'k':
			o->check = 1;
			break;
		case 'K':
			/* --check-config FILE: --check --config FILE */
			o->check = 1;
			o->config = optarg;
			break;
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			usage(argv[0]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cnmux: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->config == NULL) {
		fprintf(stderr, "cnmux: --config FILE is required\n");
		usage(argv[0]);
		return -1;
	}
	return 0;
}

/*
 * --check: the configuration file validated as cnmux start-up would (every
 * rule of cnmux.json(5)), without EAL: nothing is allocated and no port is
 * touched, so it runs beside a live cnmux (systemd's ExecStartPre, a CI job).
 * Whether the devices named in "ports" exist is known only once EAL is up.
 * The arguments are cnmux's own, after "--" when there is one.
 */
static int
check_config(int argc, char **argv)
{
	struct cnm_config *cfg;
	struct opts o = { 0 };
	char err[CNM_ERR_MAX];
	struct cnm_mem_estimate e;
	struct cnm_mem_env env;
	struct cnm_eal_mem eal;
	long ncpu;
	int i;

	/* the memory budget: the EAL's memory and lcores from its arguments,
	 * one worker per lcore but the main one (at most: the public port's
	 * queues may allow fewer) */
	cnm_eal_mem_args(argc, argv, &eal);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (eal.lcores == 0)
		eal.lcores = ncpu > 1 ? (uint32_t)ncpu : 2;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			argv[i] = argv[0];
			argc -= i;
			argv += i;
			break;
		}
	argv[0] = (char *)"cnmux";
	if (parse_args(argc, argv, &o) < 0)
		return 1;
	cnm_mem_env_fill(&env, eal.lcores > 1 ? eal.lcores - 1 : 1, o.mbufs, &eal);
	cnm_config_set_env(&env);
	cfg = cnm_config_load(o.config, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "cnmux: %s\n", err);
		return 1;
	}
	printf("cnmux: %s: ok: %u service(s), %u node(s), public %s, %u private, local %s, control socket %s\n",
	       o.config, cfg->n_services, cfg->n_nodes, cfg->public_port, cfg->n_private,
	       cfg->local_port[0] ? cfg->local_port : "(none)",
	       cfg->control_socket[0] ? cfg->control_socket : "(none)");
	cnm_config_mem(cfg, &env, &e);
	printf("cnmux: memory: about %.1f MiB with %u worker(s) and %lu mbufs (%.1f MiB of it from "
	       "the EAL), limit %.1f MiB (%s)\n", (double)e.total / (1 << 20), env.workers,
	       o.mbufs, (double)e.eal / (1 << 20),
	       (double)(cfg->mem_limit_mb ? cfg->mem_limit_mb << 20 : env.eal_bytes) / (1 << 20),
	       cfg->mem_limit_mb ? "memory.limit_mb" : env.eal_bytes ? eal.from : "none known");
	cnm_config_free(cfg);
	return 0;
}

/*
 * control.state_file: when the configuration names one and it is newer than
 * the configuration file, cnmux starts from it (the operator's run-time
 * changes, saved on each change, survive a restart); a configuration file
 * edited since wins (docs/control.md, "save").
 */
static struct cnm_config *
config_or_state(struct cnm_config *cfg, const char *file)
{
	char err[CNM_ERR_MAX];
	struct cnm_config *sc;
	struct stat a, b;

	if (cfg->state_file[0] == '\0' || stat(cfg->state_file, &b) != 0)
		return cfg;
	if (stat(file, &a) == 0 && (a.st_mtim.tv_sec > b.st_mtim.tv_sec ||
				    (a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
				     a.st_mtim.tv_nsec > b.st_mtim.tv_nsec))) {
		printf("cnmux: %s is newer than the state file %s: starting from %s\n", file,
		       cfg->state_file, file);
		return cfg;
	}
	sc = cnm_config_load(cfg->state_file, err, sizeof(err));
	if (sc == NULL) {
		fprintf(stderr, "cnmux: the state file is not usable, starting from %s: %s\n", file,
			err);
		return cfg;
	}
	printf("cnmux: starting from the state file %s (the run-time changes saved there)\n",
	       cfg->state_file);
	/* it stands for the configuration file: reload reads that one */
	snprintf(sc->path, sizeof(sc->path), "%s", cfg->path);
	cnm_config_free(cfg);
	return sc;
}

/* --stats-json: the statistics as every output has them (cnm_stats_json()). */
static int
write_json(const char *path, const struct cnm_lb *lb, const struct cnm_stats_total *t)
{
	json_t *root = cnm_stats_json(t, lb);
	int ret = -1;

	if (root != NULL)
		ret = json_dump_file(root, path, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	if (ret != 0)
		fprintf(stderr, "cnmux: --stats-json: cannot write %s\n", path);
	return ret;
}

int
main(int argc, char **argv)
{
	static struct cnm_dp dp;
	static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
	static struct cnm_eal_mem eal;     /* its from string outlives main's config */
	static struct cnm_mem_env mem_env;
	struct cnm_worker *workers[CNM_MAX_WORKERS];
	struct cnm_stats_total *tot = NULL;
	struct cnm_loop *loop = NULL;
	struct cnm_config *cfg = NULL;
	struct rte_mempool *mp = NULL;
	struct opts o = { 0 };
	char err[CNM_ERR_MAX];
	uint16_t ports[CNM_MAX_PRIVATE + 2];
	unsigned int nports = 0, nw, nalloc = 0, lcore, i;
	int ret, rc = 1, pdump = 0;

	/* answered without EAL: they only print */
	for (i = 1; i < (unsigned int)argc; i++)
		if (list_opt(argv[i]))
			return 0;
	/* offline: a configuration and a capture, its own EAL */
	{
		const char *config = NULL, *capture = NULL;

		for (i = 1; i < (unsigned int)argc; i++) {
			const char **to = strcmp(argv[i], "--explain") == 0 ? &capture :
				strcmp(argv[i], "--config") == 0 ? &config : NULL;

			if (to != NULL && i + 1 < (unsigned int)argc)
				*to = argv[++i];
			else if (strncmp(argv[i], "--explain=", 10) == 0)
				capture = argv[i] + 10;
			else if (strncmp(argv[i], "--config=", 9) == 0)
				config = argv[i] + 9;
		}
		if (capture != NULL) {
			if (config == NULL) {
				fprintf(stderr, "cnmux: --explain needs --config FILE\n");
				return 1;
			}
			return cnm_explain_offline(config, capture);
		}
	}
	for (i = 1; i < (unsigned int)argc; i++)
		if (strcmp(argv[i], "--check") == 0 || strcmp(argv[i], "--check-config") == 0 ||
		    strncmp(argv[i], "--check-config=", 15) == 0)
			return check_config(argc, argv);

	/* before EAL takes its arguments away: what memory it is given */
	cnm_eal_mem_args(argc, argv, &eal);
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "cnmux: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	argv[0] = (char *)"cnmux";
	/* live capture with DPDK's own tools (dpdk-dumpcap, dpdk-pdump): they
	 * attach as secondary processes, which needs the memory shared, so
	 * hugepages (docs/capture.md); without, cnmux runs on and says so */
	pdump = rte_pdump_init() == 0;
	if (!pdump)
		fprintf(stderr, "cnmux: live capture (pdump) unavailable: %s\n",
			rte_strerror(rte_errno));
	if (parse_args(argc, argv, &o) < 0)
		goto out;
	/* from here on, every log line carries its level (and the time) */
	if (cnm_log_init(o.log_timestamp ? CNM_LOG_TIMESTAMP : 0) < 0)
		fprintf(stderr, "cnmux: log lines without level: cannot open the log stream\n");

	cfg = cnm_config_load(o.config, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "cnmux: %s\n", err);
		goto out;
	}
	cfg = config_or_state(cfg, o.config);
	if (cnm_ports_find(cfg, &dp) < 0)
		goto out;
	nw = cnm_ports_workers(dp.pub_port);
	if (nw == 0)
		goto out;
	/* the memory the whole configuration takes, before anything of it is
	 * allocated; every configuration from now on (reload, service add, an
	 * HA state) is checked against the same */
	cnm_mem_env_fill(&mem_env, nw, o.mbufs, &eal);
	cnm_config_set_env(&mem_env);
	if (cnm_config_check_memory(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "cnmux: %s\n", err);
		goto out;
	}

	mp = rte_pktmbuf_pool_create("cnm_mbufs", (unsigned int)o.mbufs,
		RTE_MIN((unsigned int)MBUF_CACHE, (unsigned int)o.mbufs / 4), 0,
		RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "cnmux: mbuf pool of %lu: %s\n", o.mbufs, rte_strerror(rte_errno));
		goto out;
	}

	/* RCU: one reader thread id per worker, and the control lcore's */
	dp.qsbr = rte_zmalloc("cnm_qsbr", rte_rcu_qsbr_get_memsize(nw + 1), RTE_CACHE_LINE_SIZE);
	dp.qsbr_ctl = nw;
	if (dp.qsbr == NULL || rte_rcu_qsbr_init(dp.qsbr, nw + 1) != 0 ||
	    rte_rcu_qsbr_thread_register(dp.qsbr, dp.qsbr_ctl) != 0) {
		fprintf(stderr, "cnmux: RCU init failed\n");
		goto out;
	}
	/* a capture tool's stop waits for the lcores' callbacks to end */
	cnm_pdump_sync_set(dp.qsbr);

	dp.ctl_tx = rte_ring_create("cnm_ctl_tx", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (dp.ctl_tx == NULL) {
		fprintf(stderr, "cnmux: control ring: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	dp.conn_max = cfg->conn_max;
	dp.conn_max6 = cfg->conn_max6;
	dp.conn_timeouts.syn = cfg->conn_syn_s * 1000;
	dp.conn_timeouts.established = cfg->conn_timeout_s * 1000;
	dp.conn_timeouts.closing = cfg->conn_closing_s * 1000;

	dp.lb = cnm_lb_create(cfg, "main", dp.qsbr);
	if (dp.lb == NULL) {
		fprintf(stderr, "cnmux: building the service tables failed: %s\n",
			rte_strerror(rte_errno));
		goto out;
	}
	if (cnm_ports_start(cfg, &dp, nw, mp, ports, &nports) < 0)
		goto out;

	for (i = 0; i < nw; i++) {
		workers[i] = rte_zmalloc("cnm_worker", sizeof(struct cnm_worker),
			RTE_CACHE_LINE_SIZE);
		if (workers[i] == NULL || cnm_worker_init(workers[i], &dp, (uint16_t)i) < 0) {
			fprintf(stderr, "cnmux: out of memory for worker %u\n", i);
			rte_free(workers[i]);
			goto out;
		}
		nalloc = i + 1;
	}
	tot = malloc(sizeof(*tot));
	if (tot == NULL)
		goto out;

	{
		struct cnm_loop_conf lc = {
			.dp = &dp, .workers = workers, .n_workers = nw, .pool = mp,
			.cfg = cfg, .config_path = o.config, .ctl_lock = &ctl_lock,
			.idle_exit_ms = o.idle_exit_ms, .stats_period_s = o.stats_period_s,
		};

		loop = cnm_loop_create(&lc);
		if (loop == NULL)
			goto out;
	}
	printf("cnmux: %u worker(s), %u service(s), %u node(s), public %s, %u private, local %s\n",
		nw, cfg->n_services, cfg->n_nodes, cfg->public_port, cfg->n_private,
		dp.local_port >= 0 ? cfg->local_port : "(none)");
	fflush(stdout);
	cfg = NULL; /* the loop's now: a reload may replace it */

	i = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i == nw)
			break;
		rte_eal_remote_launch(cnm_worker_main, workers[i], lcore);
		i++;
	}
	cnm_loop_run(loop);

	dp.quit = 1;
	rte_eal_mp_wait_lcore();
	/* the final counters, the public port's among them, before it closes */
	cnm_loop_totals(loop, tot);
	/* ports first: what waits in RX queues (a loopback ring, a NIC ring) is
	 * taken and freed, the PMDs give their mbufs back, so the pool can be
	 * checked to hold every mbuf again */
	cnm_ports_close(ports, nports, 1);
	nports = 0;
	ctl_ring_drain(dp.ctl_tx);
	tot->mbufs_in_use = rte_mempool_in_use_count(mp);
	tot->mbufs_free = rte_mempool_avail_count(mp);
	if (!o.quiet)
		cnm_stats_print(stdout, tot, dp.lb, 1);
	if (o.stats_json != NULL && write_json(o.stats_json, dp.lb, tot) != 0)
		goto out;
	rc = tot->rx == tot->forwarded + tot->local + tot->dropped ? 0 : 3;
	if (rc == 0 && tot->mbufs_in_use != 0)
		rc = 4;
out:
	cnm_pdump_sync_set(NULL);
	teardown_rc = rc;
	signal(SIGALRM, teardown_stuck);
	alarm(TEARDOWN_MAX_S);
	cnm_ports_close(ports, nports, 0);
	cnm_loop_free(loop);
	for (i = 0; i < nalloc; i++) {
		cnm_worker_fini(workers[i]);
		rte_free(workers[i]);
	}
	free(tot);
	ctl_ring_drain(dp.ctl_tx);
	rte_ring_free(dp.ctl_tx);
	cnm_lb_free(dp.lb);
	rte_free(dp.qsbr);
	cnm_config_free(cfg);
	if (pdump)
		rte_pdump_uninit();
	rte_eal_cleanup();
	return rc;
}
