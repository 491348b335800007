/*  Fault injection on workers: real broker and worker processes on 127.0.0.1 with CURVE.
    Each scenario keeps a ledger of what the client submitted and what came back, and passes
    only with 0 lost, 0 delivered twice, 0 wrong and 0 unexpected results.
    Scenarios: workers SIGKILLed at random during a job and restarted; a worker SIGSTOPped
    (connected but silent) and resumed; a poison task that kills every worker that runs it.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "hd_testenv.h"

#define S_WORKERS 3
#define S_TASKS ((uint64_t) hd_testenv_scale (3000))

static hd_testenv_t s_env;
static char s_plugin[512];

typedef struct {
    uint8_t *seen;          //  results per task index
    uint64_t tasks, lost, duplicated, wrong, failed, reexecuted, results;
    pid_t pids[S_WORKERS];
    int64_t next_fault_ms;
    int faults;
    int kind;               //  0: kill + restart, 1: stop + continue
    pid_t stopped;
} s_ledger_t;

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t
s_start_worker (int i)
{
    char name[16];
    snprintf (name, sizeof name, "w%d", i + 1);
    const char *extra[] = { "--plugin", s_plugin, "--misses", "3", NULL };
    return hd_testenv_start_worker (&s_env, name, 2, extra);
}

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_plugin, sizeof s_plugin, "%s/hd_fault_plugin.so", HD_BIN_DIR);
    hd_testenv_init (&s_env);
    const char *extra[] = { "--heartbeat", "200", "--misses", "4", "--attempts", "20", NULL };
    hd_testenv_start_broker (&s_env, extra);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_testenv_stop (&s_env);
    return 0;
}

static void
s_input (uint64_t i, char *buf, size_t len)
{
    snprintf (buf, len, "3|result of task %llu", (unsigned long long) i);
}

static void
s_on_result (const hd_reply_t *r, void *arg)
{
    s_ledger_t *l = arg;
    char want[64];
    s_input (r->seq, want, sizeof want);
    l->results++;
    if (r->seq >= l->tasks) {
        l->wrong++;
        return;
    }
    if (l->seen[r->seq]++)
        l->duplicated++;
    if (r->status != 0) {
        if (l->failed++ < 3)  //  say why, so a failing run explains itself
            print_message ("failed result: task %llu status %u attempt %u on '%s': %s\n",
                           (unsigned long long) r->seq, r->status, r->attempt, r->node,
                           r->error);
    }
    else if (r->size != strlen (want) - 2 || memcmp (r->data, want + 2, r->size) != 0)
        l->wrong++;
    if (r->attempt > 1)
        l->reexecuted++;
}

//  Called by the job every ~100 ms: inject the next fault when it is due.
static void
s_on_progress (const hd_job_stats_t *stats, void *arg)
{
    (void) stats;
    s_ledger_t *l = arg;
    int64_t now = s_now_ms ();
    if (now < l->next_fault_ms || l->faults >= 6)
        return;
    int victim = rand () % S_WORKERS;
    if (l->kind == 0) {
        hd_testenv_kill (&s_env, l->pids[victim], SIGKILL);
        l->pids[victim] = s_start_worker (victim);
    }
    else if (!l->stopped) {
        l->stopped = l->pids[victim];
        kill (l->stopped, SIGSTOP);
    }
    else {
        kill (l->stopped, SIGCONT);
        l->stopped = 0;
    }
    l->faults++;
    //  A stop lasts longer than the broker's liveness limit (4 x 200 ms), so the stopped
    //  worker's leases are taken back and its late results must be fenced off.
    l->next_fault_ms = now + (l->kind == 1 && l->stopped ? 1500 : 250 + rand () % 250);
}

static void
s_run_job (s_ledger_t *l)
{
    for (int i = 0; i < S_WORKERS; i++)
        l->pids[i] = s_start_worker (i);
    hd_client_t *c = hd_testenv_client (&s_env, S_WORKERS);
    hd_client_job_t *job = hd_client_job_new (c, "slowecho", NULL);
    l->tasks = S_TASKS;
    l->seen = calloc (S_TASKS, 1);
    char in[64];
    for (uint64_t i = 0; i < S_TASKS; i++) {
        s_input (i, in, sizeof in);
        assert_int_equal (hd_client_job_add (job, in, strlen (in)), HD_OK);
    }
    l->next_fault_ms = s_now_ms () + 200;
    assert_int_equal (hd_client_job_run (job, HD_GATHER_COMPLETED, s_on_result, s_on_progress, l),
                      HD_OK);
    if (l->stopped)
        kill (l->stopped, SIGCONT);
    for (uint64_t i = 0; i < S_TASKS; i++)
        l->lost += !l->seen[i];
    print_message ("ledger: submitted %llu, lost %llu, duplicated %llu, wrong %llu, failed %llu, "
                   "re-executed %llu, faults injected %d\n", (unsigned long long) l->tasks,
                   (unsigned long long) l->lost, (unsigned long long) l->duplicated,
                   (unsigned long long) l->wrong, (unsigned long long) l->failed,
                   (unsigned long long) l->reexecuted, l->faults);
    hd_client_job_destroy (&job);
    hd_client_destroy (&c);
    for (int i = 0; i < S_WORKERS; i++)
        hd_testenv_kill (&s_env, l->pids[i], SIGTERM);
    free (l->seen);
}

static void
s_assert_clean (const s_ledger_t *l)
{
    assert_int_equal (l->results, S_TASKS);
    assert_int_equal (l->lost, 0);
    assert_int_equal (l->duplicated, 0);
    assert_int_equal (l->wrong, 0);
    assert_int_equal (l->failed, 0);
    assert_true (l->faults > 0);
}

static void
test_fault_workers_killed_and_restarted_lose_nothing (void **state)
{
    (void) state;
    s_ledger_t l = { .kind = 0 };
    s_run_job (&l);
    s_assert_clean (&l);
    assert_true (l.reexecuted > 0);  //  kills mid-task did force re-execution
}

static void
test_fault_stopped_worker_loses_its_leases_and_nothing_else (void **state)
{
    (void) state;
    s_ledger_t l = { .kind = 1 };
    s_run_job (&l);
    s_assert_clean (&l);
    assert_true (l.reexecuted > 0);  //  the stopped worker's tasks ran again elsewhere
}

static void
test_fault_poison_task_ends_failed_without_looping (void **state)
{
    (void) state;
    pid_t pids[S_WORKERS];
    for (int i = 0; i < S_WORKERS; i++)
        pids[i] = s_start_worker (i);
    hd_client_t *c = hd_testenv_client (&s_env, S_WORKERS);
    hd_task_opts_t opts = { .max_attempts = 2 };
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (c, "poison", "die", 3, &opts, &r), HD_OK);
    assert_int_equal (r->status, 11);  //  LOST: attempts exhausted
    assert_int_equal (r->attempt, 2);
    assert_non_null (strstr (r->error, "attempts"));
    hd_reply_destroy (&r);
    //  Two workers died running it; the third still serves, and so do restarted ones.
    int alive = 0;
    for (int i = 0; i < S_WORKERS; i++) {
        if (waitpid (pids[i], NULL, WNOHANG) == pids[i])
            pids[i] = s_start_worker (i);
        else
            alive++;
    }
    assert_int_equal (alive, 1);
    assert_int_equal (hd_client_call (c, "poison", "fine", 4, NULL, &r), HD_OK);
    assert_int_equal (r->status, 0);
    assert_string_equal ((char *) r->data, "fine");
    hd_reply_destroy (&r);
    hd_client_destroy (&c);
    for (int i = 0; i < S_WORKERS; i++)
        hd_testenv_kill (&s_env, pids[i], SIGTERM);
}

int
main (void)
{
    srand ((unsigned) time (NULL));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_fault_workers_killed_and_restarted_lose_nothing),
        cmocka_unit_test (test_fault_stopped_worker_loses_its_leases_and_nothing_else),
        cmocka_unit_test (test_fault_poison_task_ends_failed_without_looping),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
