/*  Unit tests for hd_scheduler, the rules added after the first dispatch rule: clients take turns
    within a priority level, a job requeued after a worker loss waits out a backoff, the worker
    choice (a heap per function) matches a brute-force scan of the rule on a large cluster and
    follows capacity changes, and a node's architecture counts as a tag. The fixture keeps heaps
    even for one worker (test_scheduler.c covers the scan used for a handful). No sockets, no
    clock.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_scheduler.h"

#define S_CLIENT_A 1
#define S_CLIENT_B 2

typedef struct {
    hd_registry_t *registry;
    hd_scheduler_t *sched;
    uint64_t ids;  //  next job number
} s_fx_t;

static int
s_setup (void **state)
{
    s_fx_t *fx = calloc (1, sizeof *fx);
    fx->registry = hd_registry_new ();
    hd_scheduler_config_t config = { .default_attempts = 3, .heap_min_workers = 1 };
    fx->sched = hd_scheduler_new (fx->registry, &config);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fx_t *fx = *state;
    hd_scheduler_destroy (&fx->sched);
    hd_registry_destroy (&fx->registry);
    free (fx);
    return 0;
}

//  A worker named `name` (also its routing id) offering "f", with an architecture.
static hd_node_t *
s_worker_arch (s_fx_t *fx, const char *name, uint32_t slots, double score, const char *arch)
{
    hd_hello_t hello = { .slots = slots, .score = score, .nfns = 1 };
    snprintf (hello.name, sizeof hello.name, "%s", name);
    snprintf (hello.arch, sizeof hello.arch, "%s", arch);
    snprintf (hello.fns[0], sizeof hello.fns[0], "f");
    hd_node_t *node = NULL;
    assert_int_equal (
        hd_registry_add (fx->registry, (const uint8_t *) name, strlen (name), &hello, 0, &node),
        HD_OK);
    return node;
}

static hd_node_t *
s_worker (s_fx_t *fx, const char *name, uint32_t slots, double score)
{
    return s_worker_arch (fx, name, slots, score, "");
}

static hd_submit_t
s_msg (s_fx_t *fx, int32_t priority)
{
    uint64_t n = fx->ids++;
    hd_submit_t msg = { .priority = priority };
    uint64_t mixed = (n + 1) * 0x9E3779B97F4A7C15ull;
    memcpy (msg.id.b, &mixed, 8);
    memcpy (msg.id.b + 8, &n, 8);
    snprintf (msg.fn, sizeof msg.fn, "f");
    return msg;
}

static hd_job_t *
s_submit_msg (s_fx_t *fx, const hd_submit_t *msg, uint32_t client)
{
    hd_job_t *job = NULL;
    assert_int_equal (hd_scheduler_submit (fx->sched, msg, client, NULL, 1000, &job), HD_OK);
    return job;
}

static hd_job_t *
s_submit (s_fx_t *fx, uint32_t client, int32_t priority)
{
    hd_submit_t msg = s_msg (fx, priority);
    return s_submit_msg (fx, &msg, client);
}

static hd_job_t *
s_next_at (s_fx_t *fx, int64_t now_ms, hd_node_t **node_out)
{
    hd_job_t *job = NULL;
    hd_node_t *node = NULL;
    assert_true (hd_scheduler_next (fx->sched, now_ms, &job, &node));
    if (node_out)
        *node_out = node;
    return job;
}

static bool
s_nothing_at (s_fx_t *fx, int64_t now_ms)
{
    hd_job_t *job = NULL;
    hd_node_t *node = NULL;
    return !hd_scheduler_next (fx->sched, now_ms, &job, &node);
}

static void
s_complete (s_fx_t *fx, hd_job_t *job, const hd_node_t *node)
{
    hd_job_t *done = NULL;
    hd_id_t id = job->id;
    assert_int_equal (hd_scheduler_complete (fx->sched, &id, job->attempt, node, &done), HD_OK);
    hd_scheduler_release (fx->sched, &done);
}

//  --- fairness between clients --------------------------------------------------------------

static void
test_scheduler_small_client_is_not_starved_by_a_flood (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 2000, 0);
    for (int i = 0; i < 1000; i++)
        s_submit (fx, S_CLIENT_A, 0);
    for (int i = 0; i < 10; i++)
        s_submit (fx, S_CLIENT_B, 0);
    int from_b = 0;
    for (int i = 0; i < 20; i++) {
        hd_job_t *job = s_next_at (fx, 2000, NULL);
        assert_int_equal (job->client, i % 2 ? S_CLIENT_B : S_CLIENT_A);  //  alternating
        from_b += job->client == S_CLIENT_B;
    }
    assert_int_equal (from_b, 10);
}

static void
test_scheduler_fifo_within_one_client (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 100, 0);
    hd_job_t *a[5], *b[5];
    for (int i = 0; i < 5; i++) {
        a[i] = s_submit (fx, S_CLIENT_A, 0);
        b[i] = s_submit (fx, S_CLIENT_B, 0);
    }
    int na = 0, nb = 0;
    for (int i = 0; i < 10; i++) {
        hd_job_t *job = s_next_at (fx, 2000, NULL);
        if (job->client == S_CLIENT_A)
            assert_ptr_equal (job, a[na++]);
        else
            assert_ptr_equal (job, b[nb++]);
    }
}

static void
test_scheduler_priority_beats_fairness (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 100, 0);
    for (int i = 0; i < 3; i++)
        s_submit (fx, S_CLIENT_A, 0);
    for (int i = 0; i < 3; i++)
        s_submit (fx, S_CLIENT_B, 0);
    s_next_at (fx, 2000, NULL);  //  A's turn: B's is next
    hd_job_t *urgent = s_submit (fx, S_CLIENT_A, 5);
    assert_ptr_equal (s_next_at (fx, 2000, NULL), urgent);
}

//  The lost job goes back to the front of its client's queue, and that client's turn is next.
static void
test_scheduler_lost_job_is_served_first_once_due (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    hd_job_t *first = s_submit (fx, S_CLIENT_A, 0);
    s_submit (fx, S_CLIENT_A, 0);
    s_submit (fx, S_CLIENT_B, 0);
    assert_ptr_equal (s_next_at (fx, 2000, NULL), first);  //  B's turn is next
    hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    assert_ptr_equal (s_next_at (fx, 2100, NULL), first);
}

//  --- retry backoff -------------------------------------------------------------------------

static void
test_scheduler_lost_job_waits_out_its_backoff (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    hd_job_t *job = s_submit (fx, S_CLIENT_A, 0);
    s_next_at (fx, 2000, NULL);
    hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    assert_int_equal (job->state, HD_JOB_QUEUED);
    assert_int_equal (job->not_before_ms, 2100);
    assert_true (s_nothing_at (fx, 2050));
    assert_int_equal (hd_scheduler_next_due_ms (fx->sched), 2100);
    assert_ptr_equal (s_next_at (fx, 2150, NULL), job);
    assert_int_equal (hd_scheduler_next_due_ms (fx->sched), -1);
}

//  Lost at 2000 (attempt 1), 3000 (attempt 2), 4000 (attempt 3): the third wait is 400 ms.
static void
test_scheduler_backoff_doubles_with_each_attempt (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    hd_submit_t msg = s_msg (fx, 0);
    msg.max_attempts = 5;
    hd_job_t *job = s_submit_msg (fx, &msg, S_CLIENT_A);
    for (int64_t now = 2000; now <= 4000; now += 1000) {
        s_next_at (fx, now, NULL);
        hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    }
    assert_int_equal (job->attempt, 3);
    assert_int_equal (job->not_before_ms, 4400);
    assert_true (s_nothing_at (fx, 4399));
    assert_ptr_equal (s_next_at (fx, 4400, NULL), job);
}

static void
test_scheduler_backoff_stops_growing_at_five_seconds (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    hd_submit_t msg = s_msg (fx, 0);
    msg.max_attempts = 20;
    hd_job_t *job = s_submit_msg (fx, &msg, S_CLIENT_A);
    int64_t now = 2000;
    for (int lost = 0; lost < 9; lost++, now += 10000) {
        s_next_at (fx, now, NULL);
        hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    }
    assert_int_equal (job->not_before_ms - (now - 10000), 5000);
}

static void
test_scheduler_jobs_behind_a_waiting_retry_go_first (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    hd_job_t *first = s_submit (fx, S_CLIENT_A, 0);
    hd_job_t *second = s_submit (fx, S_CLIENT_A, 0);
    s_next_at (fx, 2000, NULL);
    hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    assert_ptr_equal (s_next_at (fx, 2010, NULL), second);
    assert_int_equal (first->state, HD_JOB_QUEUED);
}

static void
test_scheduler_set_now_dates_the_backoff (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    hd_job_t *job = s_submit (fx, S_CLIENT_A, 0);
    s_next_at (fx, 2000, NULL);
    hd_scheduler_set_now (fx->sched, 7000);  //  the broker's loop pass that finds the loss
    hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    assert_int_equal (job->not_before_ms, 7100);
}

static void
test_scheduler_refusal_requeues_without_backoff (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    hd_submit_t msg = s_msg (fx, 0);
    msg.timeout_ms = 500;  //  a lease deadline while leased; no retry time once back in queue
    hd_job_t *job = s_submit_msg (fx, &msg, S_CLIENT_A);
    s_next_at (fx, 2000, NULL);
    assert_int_equal (hd_scheduler_requeue (fx->sched, &job->id, 1, a), HD_OK);
    assert_int_equal (job->not_before_ms, 0);
    assert_ptr_equal (s_next_at (fx, 2000, NULL), job);
}

static void
test_scheduler_cancel_job_waiting_out_its_backoff (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    hd_job_t *job = s_submit (fx, S_CLIENT_A, 0);
    s_next_at (fx, 2000, NULL);
    hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    hd_job_t *cancelled = NULL;
    assert_int_equal (hd_scheduler_cancel (fx->sched, &job->id, &cancelled), HD_OK);
    hd_scheduler_release (fx->sched, &cancelled);
    assert_int_equal (hd_scheduler_queued (fx->sched), 0);
    assert_true (s_nothing_at (fx, 10000));
}

//  --- the worker choice ---------------------------------------------------------------------

//  The rule, by brute force: least (in_flight + 1) / capacity among nodes under their slots,
//  ties to the lowest index.
static hd_node_t *
s_best_by_scan (const s_fx_t *fx)
{
    hd_node_t *best = NULL;
    double best_key = 0;
    for (hd_node_t *n = hd_registry_first (fx->registry); n;
         n = hd_registry_next (fx->registry, n)) {
        double key = (n->in_flight + 1.0) / n->capacity;
        if (n->in_flight < n->slots && (!best || key < best_key)) {
            best = n;
            best_key = key;
        }
    }
    return best;
}

typedef struct {
    hd_job_t *job;
    hd_node_t *node;
} s_lease_t;

//  Complete one lease chosen by `rng`, keeping the array packed.
static void
s_complete_some (s_fx_t *fx, s_lease_t *leases, uint32_t *nleases, uint64_t *rng)
{
    *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t k = (uint32_t) (*rng >> 33) % *nleases;
    s_complete (fx, leases[k].job, leases[k].node);
    leases[k] = leases[--*nleases];
}

#define S_NODES 1000
#define S_DISPATCHES 10000

//  1000 nodes of mixed capacity and slots, 10000 dispatches with completions in random order:
//  every choice is the one a scan of all nodes would make (no timing is asserted).
static void
test_scheduler_choice_matches_scan_on_1000_nodes (void **state)
{
    s_fx_t *fx = *state;
    for (int i = 0; i < S_NODES; i++) {
        char name[16];
        snprintf (name, sizeof name, "n%d", i);
        s_worker (fx, name, 1 + i % 4, 0.5 + (i * 37 % 11) * 0.25);
    }
    for (int i = 0; i < S_DISPATCHES; i++)
        s_submit (fx, (uint32_t) i % 3, 0);
    s_lease_t *leases = calloc (S_DISPATCHES, sizeof *leases);
    uint32_t nleases = 0;
    uint64_t rng = 42;
    for (int i = 0; i < S_DISPATCHES; i++) {
        while (nleases > 0 && ((rng >> 40) % 3 == 0 || !s_best_by_scan (fx)))
            s_complete_some (fx, leases, &nleases, &rng);
        hd_node_t *expected = s_best_by_scan (fx), *got = NULL;
        leases[nleases].job = s_next_at (fx, 2000, &got);
        leases[nleases++].node = got;
        assert_ptr_equal (got, expected);
    }
    assert_int_equal (hd_scheduler_queued (fx->sched), 0);
    free (leases);
}

#define S_JOINING 40

//  With the default threshold, workers joining one by one take the function from a scan to heaps:
//  every choice on the way matches the scan of the rule.
static void
test_scheduler_choice_matches_scan_as_nodes_join (void **state)
{
    s_fx_t *fx = *state;
    hd_scheduler_destroy (&fx->sched);
    hd_scheduler_config_t config = { .default_attempts = 3 };  //  heaps from 12 workers
    fx->sched = hd_scheduler_new (fx->registry, &config);
    s_lease_t leases[S_JOINING * 8];
    uint32_t nleases = 0;
    uint64_t rng = 3;
    for (int i = 0; i < S_JOINING; i++) {
        char name[16];
        snprintf (name, sizeof name, "n%d", i);
        s_worker (fx, name, 1 + i % 3, 0.5 + (i * 7 % 5) * 0.5);
        for (int k = 0; k < 8; k++) {
            s_submit (fx, S_CLIENT_A, 0);
            while (nleases > 0 && ((rng >> 40) % 2 == 0 || !s_best_by_scan (fx)))
                s_complete_some (fx, leases, &nleases, &rng);
            hd_node_t *expected = s_best_by_scan (fx), *got = NULL;
            leases[nleases].job = s_next_at (fx, 2000, &got);
            leases[nleases++].node = got;
            assert_ptr_equal (got, expected);
        }
    }
}

static hd_metrics_t
s_cpu_metrics (double cpu_util)
{
    hd_metrics_t m = { .present = HD_M_BUSY, .busy = 0 };
    m.sys.present = HD_M_CPU;
    m.sys.cpu_util = cpu_util;
    return m;
}

//  Capacities change under the scheduler (metrics from the workers, through the registry):
//  choices still match the scan.
static void
test_scheduler_choice_follows_capacity_changes (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *nodes[64];
    for (int i = 0; i < 64; i++) {
        char name[16];
        snprintf (name, sizeof name, "n%d", i);
        nodes[i] = s_worker (fx, name, 4, 1.0);
    }
    for (int i = 0; i < 2000; i++)
        s_submit (fx, S_CLIENT_A, 0);
    s_lease_t leases[2000];
    uint32_t nleases = 0;
    uint64_t rng = 7;
    for (int i = 0; i < 2000; i++) {
        hd_metrics_t m = s_cpu_metrics ((double) ((rng >> 35) % 90) / 100.0);
        hd_registry_update_metrics (nodes[(rng >> 20) % 64], &m, 1000 + i, 0);
        while (nleases > 0 && ((rng >> 40) % 2 == 0 || !s_best_by_scan (fx)))
            s_complete_some (fx, leases, &nleases, &rng);
        hd_node_t *expected = s_best_by_scan (fx), *got = NULL;
        leases[nleases].job = s_next_at (fx, 2000, &got);
        leases[nleases++].node = got;
        assert_ptr_equal (got, expected);
    }
}

static void
test_scheduler_resumed_node_gets_work_again (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 4, 4.0);
    hd_node_t *b = s_worker (fx, "b", 4, 1.0);
    s_submit (fx, S_CLIENT_A, 0);
    s_submit (fx, S_CLIENT_A, 0);
    hd_registry_set_draining (a, true);
    hd_node_t *got = NULL;
    s_next_at (fx, 2000, &got);
    assert_ptr_equal (got, b);
    hd_registry_set_draining (a, false);
    s_next_at (fx, 2000, &got);
    assert_ptr_equal (got, a);
}

//  A capacity written by hand (not through the registry) counts once the scheduler is told.
static void
test_scheduler_node_changed_by_hand_is_re_sorted (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 4, 2.0);
    s_worker (fx, "b", 4, 2.0);
    hd_node_t *c = s_worker (fx, "c", 4, 1.0);
    s_submit (fx, S_CLIENT_A, 0);
    s_submit (fx, S_CLIENT_A, 0);
    s_next_at (fx, 2000, NULL);  //  the heap is built: c is not at its top
    c->capacity = 100.0;
    hd_scheduler_node_changed (fx->sched, c);
    hd_node_t *got = NULL;
    s_next_at (fx, 2000, &got);
    assert_ptr_equal (got, c);
}

//  Free credit (prefetch) takes jobs without a deadline; a job with one waits for a free slot.
static void
test_scheduler_deadline_job_waits_for_a_slot (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0);
    a->credit = 3;  //  as the broker sets it: slots + prefetch
    hd_job_t *plain = s_submit (fx, S_CLIENT_A, 0);
    hd_submit_t msg = s_msg (fx, 0);
    msg.timeout_ms = 1000;
    hd_job_t *timed = s_submit_msg (fx, &msg, S_CLIENT_A);
    hd_job_t *other = s_submit (fx, S_CLIENT_B, 0);
    assert_ptr_equal (s_next_at (fx, 2000, NULL), plain);
    assert_ptr_equal (s_next_at (fx, 2000, NULL), other);  //  into the prefetch credit
    assert_true (s_nothing_at (fx, 2000));                 //  credit left, no slot
    s_complete (fx, plain, a);
    s_complete (fx, other, a);
    assert_ptr_equal (s_next_at (fx, 2000, NULL), timed);
}

#define S_TAGGED_OF 100

//  Only the last of 100 nodes has the tag: found past the ordered walk's limit.
static void
test_scheduler_finds_the_one_tagged_node (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *last = NULL;
    for (int i = 0; i < S_TAGGED_OF; i++) {
        char name[16];
        snprintf (name, sizeof name, "n%d", i);
        last = s_worker_arch (fx, name, 2, 1.0, i + 1 == S_TAGGED_OF ? "riscv64" : "x86_64");
    }
    hd_submit_t msg = s_msg (fx, 0);
    snprintf (msg.tags[msg.ntags++], sizeof msg.tags[0], "riscv64");
    s_submit_msg (fx, &msg, S_CLIENT_A);
    hd_node_t *got = NULL;
    s_next_at (fx, 2000, &got);
    assert_ptr_equal (got, last);
}

//  --- architecture as a tag -----------------------------------------------------------------

static void
test_scheduler_arch_counts_as_a_tag (void **state)
{
    s_fx_t *fx = *state;
    s_worker_arch (fx, "pi3", 4, 0, "armv7l");
    hd_node_t *x86 = s_worker_arch (fx, "pc", 4, 0, "x86_64");
    hd_submit_t msg = s_msg (fx, 0);
    snprintf (msg.tags[msg.ntags++], sizeof msg.tags[0], "x86_64");
    s_submit_msg (fx, &msg, S_CLIENT_A);
    hd_node_t *got = NULL;
    s_next_at (fx, 2000, &got);
    assert_ptr_equal (got, x86);
}

static void
test_scheduler_arm64_tag_matches_aarch64_node (void **state)
{
    s_fx_t *fx = *state;
    s_worker_arch (fx, "pi3", 4, 0, "armv7l");
    hd_node_t *pi5 = s_worker_arch (fx, "pi5", 4, 0, "aarch64");
    hd_submit_t msg = s_msg (fx, 0);
    snprintf (msg.tags[msg.ntags++], sizeof msg.tags[0], "arm64");
    s_submit_msg (fx, &msg, S_CLIENT_A);
    hd_node_t *got = NULL;
    s_next_at (fx, 2000, &got);
    assert_ptr_equal (got, pi5);
}

static void
test_scheduler_other_arch_does_not_match (void **state)
{
    s_fx_t *fx = *state;
    s_worker_arch (fx, "pc", 4, 0, "x86_64");
    hd_submit_t msg = s_msg (fx, 0);
    snprintf (msg.tags[msg.ntags++], sizeof msg.tags[0], "arm64");
    s_submit_msg (fx, &msg, S_CLIENT_A);
    assert_true (s_nothing_at (fx, 2000));
}

#define S_TEST(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_scheduler_small_client_is_not_starved_by_a_flood),
        S_TEST (test_scheduler_fifo_within_one_client),
        S_TEST (test_scheduler_priority_beats_fairness),
        S_TEST (test_scheduler_lost_job_is_served_first_once_due),
        S_TEST (test_scheduler_lost_job_waits_out_its_backoff),
        S_TEST (test_scheduler_backoff_doubles_with_each_attempt),
        S_TEST (test_scheduler_backoff_stops_growing_at_five_seconds),
        S_TEST (test_scheduler_jobs_behind_a_waiting_retry_go_first),
        S_TEST (test_scheduler_set_now_dates_the_backoff),
        S_TEST (test_scheduler_refusal_requeues_without_backoff),
        S_TEST (test_scheduler_cancel_job_waiting_out_its_backoff),
        S_TEST (test_scheduler_choice_matches_scan_on_1000_nodes),
        S_TEST (test_scheduler_choice_follows_capacity_changes),
        S_TEST (test_scheduler_choice_matches_scan_as_nodes_join),
        S_TEST (test_scheduler_resumed_node_gets_work_again),
        S_TEST (test_scheduler_node_changed_by_hand_is_re_sorted),
        S_TEST (test_scheduler_deadline_job_waits_for_a_slot),
        S_TEST (test_scheduler_finds_the_one_tagged_node),
        S_TEST (test_scheduler_arch_counts_as_a_tag),
        S_TEST (test_scheduler_arm64_tag_matches_aarch64_node),
        S_TEST (test_scheduler_other_arch_does_not_match),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
