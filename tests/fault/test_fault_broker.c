/*  Fault injection on the broker: SIGKILL at random moments during a job and a restart on the
    same journal and endpoints; a torn journal tail; a full disk (a small tmpfs under the
    journal). Ledger rule as everywhere: 0 lost, 0 delivered twice, 0 wrong, 0 unexpected.
    Real processes on 127.0.0.1 with CURVE; the tmpfs needs root, and says so when it fails.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>

#include "hd_testenv.h"

#define S_TASKS ((uint64_t) hd_testenv_scale (2000))

static char s_plugin[512];
static hd_testenv_t s_env;
static char s_mounted[4200];  //  tmpfs to unmount at teardown, "" when none

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_plugin, sizeof s_plugin, "%s/hd_fault_plugin.so", HD_BIN_DIR);
    hd_testenv_init (&s_env);
    s_mounted[0] = 0;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    if (s_mounted[0])  //  detached at once, freed once the broker below lets go of it
        umount2 (s_mounted, MNT_DETACH);
    hd_testenv_stop (&s_env);  //  every process this test started, even after a failure
    return 0;
}

static void
s_start (hd_testenv_t *env, const char *const *broker_extra)
{
    hd_testenv_start_broker (env, broker_extra);
    const char *extra[] = { "--plugin", s_plugin, "--misses", "3", NULL };
    hd_testenv_start_worker (env, "w1", 2, extra);
    hd_testenv_start_worker (env, "w2", 2, extra);
}

typedef struct {
    hd_testenv_t *env;
    uint8_t *seen;
    uint64_t duplicated, wrong, failed, results;
    int64_t next_kill_ms;
    int kills;
} s_ledger_t;

static void
s_input (uint64_t i, char *buf, size_t len)
{
    snprintf (buf, len, "2|broker fault %llu", (unsigned long long) i);
}

static void
s_on_result (const hd_reply_t *r, void *arg)
{
    s_ledger_t *l = arg;
    char want[64];
    s_input (r->seq, want, sizeof want);
    l->results++;
    if (r->seq >= S_TASKS) {
        l->wrong++;
        return;
    }
    if (l->seen[r->seq]++)
        l->duplicated++;
    if (r->status != 0)
        l->failed++;
    else if (r->size != strlen (want) - 2 || memcmp (r->data, want + 2, r->size) != 0)
        l->wrong++;
}

//  Every 700..1200 ms, at most 3 times: SIGKILL the broker and start it again at once.
static void
s_on_progress (const hd_job_stats_t *stats, void *arg)
{
    (void) stats;
    s_ledger_t *l = arg;
    if (s_now_ms () < l->next_kill_ms || l->kills >= 3)
        return;
    hd_testenv_kill (l->env, l->env->broker, SIGKILL);
    hd_testenv_restart_broker (l->env, NULL);
    l->kills++;
    l->next_kill_ms = s_now_ms () + 700 + rand () % 500;
}

static void
test_fault_broker_killed_and_restarted_loses_nothing (void **state)
{
    (void) state;
    hd_testenv_t *env = &s_env;
    s_start (env, NULL);
    hd_client_t *c = hd_testenv_client (env, 2);
    hd_client_job_t *job = hd_client_job_new (c, "slowecho", NULL);
    char in[64];
    for (uint64_t i = 0; i < S_TASKS; i++) {
        s_input (i, in, sizeof in);
        hd_client_job_add (job, in, strlen (in));
    }
    s_ledger_t *l = calloc (1, sizeof *l);
    l->seen = calloc (S_TASKS, 1);
    l->env = env;
    l->next_kill_ms = s_now_ms () + 300;
    assert_int_equal (hd_client_job_run (job, HD_GATHER_COMPLETED, s_on_result, s_on_progress, l),
                      HD_OK);
    uint64_t lost = 0;
    for (uint64_t i = 0; i < S_TASKS; i++)
        lost += !l->seen[i];
    print_message ("ledger: submitted %llu, lost %llu, duplicated %llu, wrong %llu, failed %llu, "
                   "broker kills %d\n", (unsigned long long) S_TASKS, (unsigned long long) lost,
                   (unsigned long long) l->duplicated, (unsigned long long) l->wrong,
                   (unsigned long long) l->failed, l->kills);
    assert_int_equal (lost, 0);
    assert_int_equal (l->duplicated, 0);
    assert_int_equal (l->wrong, 0);
    assert_int_equal (l->failed, 0);
    assert_true (l->kills > 0);
    free (l->seen);
    free (l);
    hd_client_job_destroy (&job);
    hd_client_destroy (&c);
}

static void
test_fault_broker_torn_journal_tail_is_truncated_on_restart (void **state)
{
    (void) state;
    hd_testenv_t *env = &s_env;
    s_start (env, NULL);
    hd_client_t *c = hd_testenv_client (env, 2);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (c, "echo", "before", 6, NULL, &r), HD_OK);
    hd_reply_destroy (&r);
    hd_testenv_kill (env, env->broker, SIGKILL);
    char path[4200];
    snprintf (path, sizeof path, "%s/journal/journal.log", env->dir);
    int fd = open (path, O_WRONLY | O_APPEND);
    assert_true (fd >= 0);
    const char torn[] = "\x40\x00\x00\x00\x12\x34";  //  a record header cut short
    assert_int_equal (write (fd, torn, sizeof torn - 1), (ssize_t) sizeof torn - 1);
    close (fd);
    hd_testenv_restart_broker (env, NULL);
    //  The restarted broker answers at once; the workers rejoin within their liveness limit.
    assert_int_equal (hd_client_wait_nodes (c, 2, 10000), HD_OK);
    assert_int_equal (hd_client_call (c, "echo", "after", 5, NULL, &r), HD_OK);
    assert_int_equal (r->status, 0);
    assert_string_equal ((char *) r->data, "after");
    hd_reply_destroy (&r);
    hd_client_destroy (&c);
}

typedef struct {
    uint64_t ok, storage, other, long_ok;
} s_disk_t;

static void
s_count (s_disk_t *d, hd_reply_t *r, size_t payload)
{
    if (r->status == 0 && r->seq == 999)
        d->long_ok++;
    else if (r->status == 0 && r->size == payload - 2)
        d->ok++;
    else if (r->status == 10 && strstr (r->error, "cannot store"))
        d->storage++;
    else
        d->other++;
    hd_reply_destroy (&r);
}

static hd_client_t *
s_client (hd_testenv_t *env, int32_t retry_ms)
{
    hd_client_config_t cfg = { .endpoint = env->clients_ep, .keys_dir = env->keys,
                               .retry_ms = retry_ms };
    hd_client_t *c = NULL;
    assert_int_equal (hd_client_connect (&cfg, &c), HD_OK);
    assert_int_equal (hd_client_wait_nodes (c, 1, 10000), HD_OK);
    return c;
}

//  Phase 1 on a full disk: a client that takes refusals as results (retry_ms < 0) submits
//  8 KiB tasks 4 at a time until one is refused STORAGE with a clear reason; every accepted
//  task still completes (one long task accepted before the disk filled finishes after).
static void
s_fill_disk (hd_testenv_t *env, char *payload, size_t size)
{
    hd_client_t *c = s_client (env, -1);
    assert_int_equal (hd_client_submit (c, "slowecho", "1500|long", 9, NULL, 999, NULL), HD_OK);
    s_disk_t d = { 0 };
    hd_reply_t *r;
    for (uint64_t round = 0; round < 400 && !d.storage; round++) {
        for (uint64_t i = 0; i < 4; i++)
            assert_int_equal (hd_client_submit (c, "slowecho", payload, size, NULL,
                                                round * 4 + i, NULL), HD_OK);
        for (int k = 0; k < 4 && hd_client_next (c, 20000, &r) == HD_OK; k++)
            s_count (&d, r, size);
    }
    while (hd_client_next (c, 20000, &r) == HD_OK)
        s_count (&d, r, size);
    print_message ("full disk: %llu completed, %llu refused with STORAGE, %llu other, long task "
                   "accepted before: %s\n", (unsigned long long) d.ok,
                   (unsigned long long) d.storage, (unsigned long long) d.other,
                   d.long_ok ? "completed" : "LOST");
    assert_true (d.storage > 0);
    assert_true (d.ok > 0);
    assert_int_equal (d.long_ok, 1);
    assert_int_equal (d.other, 0);
    //  One outcome per task: no REJECTED came for a task that had its result.
    assert_int_equal (hd_client_stray_rejects (c), 0);
    hd_client_destroy (&c);
}

//  Phase 2, nobody having freed anything: a new job of 8 KiB tasks, several times the disk's
//  size in all, completes with every task OK (the broker compacts away the finished job's
//  records; a task refused while it does is sent again at the broker's retry hint).
static void
s_new_job_succeeds (hd_testenv_t *env, char *payload, size_t size)
{
    hd_client_t *c = s_client (env, 0);
    s_disk_t d = { 0 };
    hd_reply_t *r;
    assert_int_equal (hd_client_call (c, "echo", "alive", 5, NULL, &r), HD_OK);
    assert_int_equal (r->status, 0);
    hd_reply_destroy (&r);
    for (uint64_t round = 0; round < 25; round++) {
        for (uint64_t i = 0; i < 4; i++)
            assert_int_equal (hd_client_submit (c, "slowecho", payload, size, NULL,
                                                round * 4 + i, NULL), HD_OK);
        for (int k = 0; k < 4 && hd_client_next (c, 30000, &r) == HD_OK; k++)
            s_count (&d, r, size);
    }
    while (hd_client_next (c, 30000, &r) == HD_OK)
        s_count (&d, r, size);
    print_message ("after the full disk, a new job: %llu completed, %llu STORAGE, %llu other, "
                   "%llu refusals retried\n", (unsigned long long) d.ok,
                   (unsigned long long) d.storage, (unsigned long long) d.other,
                   (unsigned long long) hd_client_retried (c));
    assert_int_equal (d.ok, 100);
    assert_int_equal (hd_client_stray_rejects (c), 0);
    hd_client_destroy (&c);
}

//  A 256 KiB tmpfs as the journal directory, then the broker on it.
static void
s_small_disk (hd_testenv_t *env, const char *const *broker_extra)
{
    snprintf (s_mounted, sizeof s_mounted, "%s/journal", env->dir);
    assert_int_equal (mkdir (s_mounted, 0700), 0);
    if (mount ("tmpfs", s_mounted, "tmpfs", 0, "size=256k") != 0) {
        s_mounted[0] = 0;
        fail_msg ("cannot mount a tmpfs (%s): this scenario needs root", strerror (errno));
    }
    hd_testenv_start_broker (env, broker_extra);
}

static void
s_full_disk (const char *const *broker_extra)
{
    hd_testenv_t *env = &s_env;
    s_small_disk (env, broker_extra);
    const char *extra[] = { "--plugin", s_plugin, NULL };
    hd_testenv_start_worker (env, "w1", 2, extra);
    static char payload[8192];
    memset (payload, 'p', sizeof payload);
    memcpy (payload, "1|", 2);
    int64_t t0 = s_now_ms ();
    s_fill_disk (env, payload, sizeof payload);
    int64_t t1 = s_now_ms ();
    s_new_job_succeeds (env, payload, sizeof payload);
    print_message ("phases: fill %lld ms, new job %lld ms\n", (long long) (t1 - t0),
                   (long long) (s_now_ms () - t1));
}

//  A 256 KiB tmpfs under the journal fills up: new tasks come back STORAGE with a clear
//  reason, every accepted task still completes, the broker keeps serving; then, with nothing
//  freed by hand, a new job succeeds. Journal budget by default (half the free space at
//  start: compaction past 32 KiB).
static void
test_fault_broker_full_disk_refuses_new_work_and_recovers (void **state)
{
    (void) state;
    s_full_disk (NULL);
}

//  The same with a budget far above the disk's size (compaction past 64 MiB, never reached):
//  the free space falling low is what makes the broker compact.
static void
test_fault_broker_full_disk_recovers_by_free_space_alone (void **state)
{
    (void) state;
    const char *extra[] = { "--journal-max-mb", "1024", NULL };
    s_full_disk (extra);
}

//  One outcome per task. Commits 5 s apart: 40 quick tasks of 8 KiB (with their results, more
//  than the 256 KiB disk holds) all run and answer before the commit that covers them fails;
//  one task of 60 s is still running then. The quick ones keep their result (durability lost,
//  counted by the broker), the long one is refused STORAGE, and no task gets both (a REJECTED
//  after a RESULT reaches the library as a stray rejection: the old code sent 41).
static void
test_fault_broker_full_disk_gives_each_task_one_outcome (void **state)
{
    (void) state;
    hd_testenv_t *env = &s_env;
    const char *bextra[] = { "--journal", "batch", "--journal-batch", "5000", NULL };
    s_small_disk (env, bextra);
    const char *extra[] = { "--plugin", s_plugin, NULL };
    hd_testenv_start_worker (env, "w1", 3, extra);
    hd_client_t *c = s_client (env, -1);
    static char payload[8192];
    memset (payload, 'p', sizeof payload);
    memcpy (payload, "1|", 2);
    uint32_t outcomes[41] = { 0 };
    assert_int_equal (hd_client_submit (c, "slowecho", "60000|long", 10, NULL, 40, NULL), HD_OK);
    for (uint64_t i = 0; i < 40; i++)
        assert_int_equal (hd_client_submit (c, "slowecho", payload, sizeof payload, NULL, i, NULL),
                          HD_OK);
    hd_reply_t *r;
    uint64_t ok = 0, storage = 0, other = 0, long_storage = 0;
    while (hd_client_next (c, 30000, &r) == HD_OK) {
        outcomes[r->seq <= 40 ? r->seq : 0]++;
        ok += r->status == 0 && r->size == sizeof payload - 2;
        storage += r->status == 10;
        long_storage += r->status == 10 && r->seq == 40;
        other += r->status != 0 && r->status != 10;
        hd_reply_destroy (&r);
    }
    //  A REJECTED after a RESULT would come with that commit's other answers; give it time.
    hd_client_process (c, 500, NULL);
    hd_client_process (c, 100, NULL);
    print_message ("one outcome: %llu OK, %llu STORAGE (the long task: %s), %llu other, %llu "
                   "stray REJECTED\n", (unsigned long long) ok, (unsigned long long) storage,
                   long_storage ? "STORAGE" : "not refused", (unsigned long long) other,
                   (unsigned long long) hd_client_stray_rejects (c));
    for (int i = 0; i <= 40; i++)
        assert_int_equal (outcomes[i], 1);
    assert_int_equal (other, 0);
    assert_int_equal (long_storage, 1);
    if (!ok)
        fail_msg ("no quick task ran within the 5 s before the failing commit: nothing tested");
    assert_int_equal (hd_client_stray_rejects (c), 0);
    hd_client_destroy (&c);
}

//  A detached job's result store cannot grow: the disk under the journal and the stores is
//  filled (a file takes every free byte) after the job's tasks were accepted and before any
//  ran. The results that cannot be stored are held back, not lost, and the store is tried
//  again every beat; once the file is removed, with nothing else done, every task has its
//  result in the store exactly once, with its output (docs/JOURNAL.md, GUARANTEES 18).
#define S_STORE_TASKS 24
#define S_STORE_OUT 4000

static void
s_store_input (uint64_t i, char *buf, size_t len)
{
    int n = snprintf (buf, len, "1|task %llu ", (unsigned long long) i);
    memset (buf + n, 'r', S_STORE_OUT - (size_t) n + 2);
    buf[S_STORE_OUT + 2] = 0;
}

//  Write zeros to `path` until the disk is full; returns the bytes written.
static uint64_t
s_fill_file (const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true (fd >= 0);
    static char zeros[4096];
    uint64_t total = 0;
    for (size_t chunk = sizeof zeros; chunk; chunk /= 2) {
        ssize_t n;
        while ((n = write (fd, zeros, chunk)) > 0)
            total += (uint64_t) n;
        assert_true (n == 0 || errno == ENOSPC);
    }
    close (fd);
    return total;
}

static void
test_fault_broker_full_disk_holds_job_results_back_until_space (void **state)
{
    (void) state;
    hd_testenv_t *env = &s_env;
    const char *bextra[] = { "--results-max-bytes", "1048576", NULL };
    s_small_disk (env, bextra);
    const char *wextra[] = { "--plugin", s_plugin, NULL };
    pid_t w = hd_testenv_start_worker (env, "w1", 2, wextra);
    hd_client_t *c = s_client (env, 0);  //  slowecho is known: the job's tasks wait for w1
    hd_client_destroy (&c);
    hd_testenv_kill (env, w, SIGKILL);

    hd_client_config_t cfg = { .endpoint = env->clients_ep, .keys_dir = env->keys };
    hd_detached_config_t jc = { .fn = "slowecho", .total = S_STORE_TASKS };
    hd_detached_t *job = NULL;
    char err[512] = "", in[S_STORE_OUT + 3];
    if (hd_detached_open (&cfg, &jc, &job, err, sizeof err) != HD_OK)
        fail_msg ("job: %s", err);
    for (uint64_t i = 0; i < S_STORE_TASKS; i++) {
        s_store_input (i, in, sizeof in);
        assert_int_equal (hd_detached_submit (job, i, in, strlen (in)), HD_OK);
    }
    assert_int_equal (hd_detached_wait_accepted (job, 20000), HD_OK);
    char filler[4300];
    snprintf (filler, sizeof filler, "%s/filler", s_mounted);
    uint64_t filled = s_fill_file (filler);

    hd_testenv_start_worker (env, "w1", 2, wextra);
    hd_job_info_t info = { 0 };
    hd_client_t *ctl = s_client (env, 0);
    for (int k = 0; k < 30; k++) {  //  3 s: every task has run by then
        zclock_sleep (100);
        assert_int_equal (hd_client_jobs_info (ctl, hd_detached_id (job), &info), HD_OK);
    }
    print_message ("store on a full disk (%llu bytes of filler): %u of %u results stored, %u "
                   "queued, %u running\n", (unsigned long long) filled, info.stored,
                   S_STORE_TASKS, info.queued, info.running);
    assert_true (info.stored < S_STORE_TASKS);  //  something was held back: the case is tested

    assert_int_equal (unlink (filler), 0);
    uint8_t seen[S_STORE_TASKS] = { 0 };
    for (int i = 0; i < S_STORE_TASKS; i++) {
        hd_reply_t *r = NULL;
        hd_err_t rc = hd_detached_next (job, HD_GATHER_ORDERED, 30000, &r);
        if (rc != HD_OK)
            fail_msg ("result %d of %d: %s", i, S_STORE_TASKS, hd_strerror (rc));
        assert_true (r->seq < S_STORE_TASKS);
        assert_int_equal (seen[r->seq]++, 0);
        assert_int_equal (r->status, 0);
        s_store_input (r->seq, in, sizeof in);
        assert_int_equal (r->size, strlen (in) - 2);
        assert_memory_equal (r->data, in + 2, r->size);
        hd_reply_destroy (&r);
    }
    hd_reply_t *r = NULL;
    assert_int_equal (hd_detached_next (job, HD_GATHER_ORDERED, 1000, &r), HD_ENOTFOUND);
    assert_int_equal (hd_client_jobs_info (ctl, hd_detached_id (job), &info), HD_OK);
    assert_int_equal (info.stored, S_STORE_TASKS);
    assert_int_equal (info.ok, S_STORE_TASKS);
    assert_int_equal (hd_detached_release (job), HD_OK);
    hd_detached_destroy (&job);
    hd_client_destroy (&ctl);
}

int
main (void)
{
    srand ((unsigned) time (NULL));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_fault_broker_killed_and_restarted_loses_nothing,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fault_broker_torn_journal_tail_is_truncated_on_restart,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fault_broker_full_disk_refuses_new_work_and_recovers,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fault_broker_full_disk_recovers_by_free_space_alone,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fault_broker_full_disk_gives_each_task_one_outcome,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_fault_broker_full_disk_holds_job_results_back_until_space,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
