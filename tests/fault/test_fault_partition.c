/*  Fault injection: a network partition. One worker runs inside a network namespace made by
    this test (a veth pair to the host, addresses 10.231.N.1/.2 that exist only here); halfway
    through a job iptables DROPs everything in that namespace while the worker holds leases,
    then the partition heals. The broker must take those leases back, the other worker must
    finish the work, and the partitioned worker's late answers must be fenced off.
    Needs root (ip netns, iptables); without it the test fails and says so.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hd_testenv.h"

#define S_TASKS ((uint64_t) hd_testenv_scale (2500))

static hd_testenv_t s_env;
static char s_ns[32], s_host_ip[32], s_plugin[512];

static int
s_sh (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static int
s_sh (const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    return system (cmd);
}

static int
s_setup (void **state)
{
    (void) state;
    int n = (int) (getpid () % 200) + 20;
    snprintf (s_ns, sizeof s_ns, "hdpart%d", (int) getpid ());
    snprintf (s_host_ip, sizeof s_host_ip, "10.231.%d.1", n);
    s_sh ("ip netns del %s 2>/dev/null", s_ns);
    if (s_sh ("ip netns add %s && ip link add hdv%da type veth peer name hdv%db && "
              "ip link set hdv%db netns %s && ip addr add %s/30 dev hdv%da && "
              "ip link set hdv%da up && ip netns exec %s ip addr add 10.231.%d.2/30 dev hdv%db && "
              "ip netns exec %s ip link set hdv%db up && ip netns exec %s ip link set lo up",
              s_ns, n, n, n, s_ns, s_host_ip, n, n, s_ns, n, n, s_ns, n, s_ns) != 0)
        fail_msg ("cannot build the test network (ip netns, veth): this scenario needs root");
    snprintf (s_plugin, sizeof s_plugin, "%s/hd_fault_plugin.so", HD_BIN_DIR);
    hd_testenv_init (&s_env);
    char workers[64];
    snprintf (workers, sizeof workers, "tcp://%s:*", s_host_ip);
    const char *extra[] = { "--workers", workers, "--heartbeat", "200", "--misses", "4",
                            "--attempts", "10", NULL };
    hd_testenv_start_broker (&s_env, extra);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_testenv_stop (&s_env);
    s_sh ("ip netns del %s 2>/dev/null", s_ns);  //  takes the veth pair with it
    return 0;
}

typedef struct {
    uint8_t *seen;
    uint64_t duplicated, wrong, failed, reexecuted, from_partitioned;
    int64_t start_ms;
    int phase;  //  0 before, 1 partitioned, 2 healed
} s_ledger_t;

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_on_result (const hd_reply_t *r, void *arg)
{
    s_ledger_t *l = arg;
    char want[64];
    snprintf (want, sizeof want, "partition %llu", (unsigned long long) r->seq);
    if (r->seq >= S_TASKS || strcmp ((char *) r->data, want) != 0)
        l->wrong += r->status == 0;
    if (r->seq < S_TASKS && l->seen[r->seq]++)
        l->duplicated++;
    l->failed += r->status != 0;
    l->reexecuted += r->attempt > 1;
    l->from_partitioned += strcmp (r->node, "inside") == 0;
}

static void
s_on_progress (const hd_job_stats_t *stats, void *arg)
{
    (void) stats;
    s_ledger_t *l = arg;
    int64_t t = s_now_ms () - l->start_ms;
    if (l->phase == 0 && t > 400) {
        s_sh ("ip netns exec %s iptables -A INPUT -j DROP && "
              "ip netns exec %s iptables -A OUTPUT -j DROP", s_ns, s_ns);
        l->phase = 1;
    }
    else if (l->phase == 1 && t > 2400) {
        s_sh ("ip netns exec %s iptables -F", s_ns);
        l->phase = 2;
    }
}

static void
test_fault_partitioned_worker_loses_its_leases_and_late_answers_are_fenced (void **state)
{
    (void) state;
    char bin[512];
    const char *argv[] = { "/usr/sbin/ip", "netns", "exec", s_ns,
                           hd_testenv_bin ("heddle-worker", bin, sizeof bin), "--broker",
                           s_env.workers_ep, "--keys", s_env.keys, "--name", "inside", "--slots",
                           "2", "--plugin", s_plugin, "--misses", "3", "--log-level", "error",
                           NULL };
    hd_testenv_spawn (&s_env, argv, NULL);
    const char *extra[] = { "--plugin", s_plugin, NULL };
    hd_testenv_start_worker (&s_env, "outside", 2, extra);
    hd_client_t *c = hd_testenv_client (&s_env, 2);
    hd_client_job_t *job = hd_client_job_new (c, "slowecho", NULL);
    char in[64];
    for (uint64_t i = 0; i < S_TASKS; i++) {
        snprintf (in, sizeof in, "2|partition %llu", (unsigned long long) i);
        hd_client_job_add (job, in, strlen (in));
    }
    s_ledger_t *l = calloc (1, sizeof *l);
    l->seen = calloc (S_TASKS, 1);
    l->start_ms = s_now_ms ();
    assert_int_equal (hd_client_job_run (job, HD_GATHER_COMPLETED, s_on_result, s_on_progress, l),
                      HD_OK);
    uint64_t lost = 0;
    for (uint64_t i = 0; i < S_TASKS; i++)
        lost += !l->seen[i];
    print_message ("ledger: submitted %llu, lost %llu, duplicated %llu, wrong %llu, failed %llu, "
                   "re-executed %llu, done inside the partitioned namespace %llu, phase %d\n",
                   (unsigned long long) S_TASKS, (unsigned long long) lost, (unsigned long long) l->duplicated,
                   (unsigned long long) l->wrong, (unsigned long long) l->failed,
                   (unsigned long long) l->reexecuted, (unsigned long long) l->from_partitioned,
                   l->phase);
    assert_int_equal (lost, 0);
    assert_int_equal (l->duplicated, 0);
    assert_int_equal (l->wrong, 0);
    assert_int_equal (l->failed, 0);
    assert_true (l->phase >= 1);       //  the partition happened during the job
    assert_true (l->reexecuted > 0);   //  and it held leases that had to run again elsewhere
    free (l->seen);
    free (l);
    hd_client_job_destroy (&job);
    hd_client_destroy (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (
            test_fault_partitioned_worker_loses_its_leases_and_late_answers_are_fenced),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
