/*  Unit tests for hd_scheduler over a real hd_registry: credits, eligibility, priority and FIFO
    order, requeue and fencing after a worker loss, cancel, limits, requirements, capacity shares,
    payload ownership and leaks (run the sanitized build for the last). No sockets, no clock.
    Fairness between clients, retry backoff and the node heaps: test_scheduler_fairness.c.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_scheduler.h"

typedef struct {
    hd_registry_t *registry;
    hd_scheduler_t *sched;
} s_fx_t;

static int s_freed;  //  payload_free calls in this test

//  Each test payload is an int counting how often it was freed.
static void
s_count_free (void *payload)
{
    (*(int *) payload)++;
    s_freed++;
}

static hd_scheduler_t *
s_sched_new (hd_registry_t *registry, uint32_t max_queued, uint32_t attempts)
{
    hd_scheduler_config_t config = { .max_queued = max_queued,
                                     .default_attempts = attempts,
                                     .payload_free = s_count_free };
    hd_scheduler_t *sched = hd_scheduler_new (registry, &config);
    assert_non_null (sched);
    return sched;
}

static int
s_setup (void **state)
{
    s_fx_t *fx = calloc (1, sizeof *fx);
    fx->registry = hd_registry_new ();
    fx->sched = s_sched_new (fx->registry, 0, 3);
    s_freed = 0;
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

//  A worker named `name` (also its routing id) offering `fn`, with one optional tag.
static hd_node_t *
s_worker (s_fx_t *fx, const char *name, uint32_t slots, double score, const char *fn,
          const char *tag)
{
    hd_hello_t hello = { .slots = slots, .score = score, .nfns = 1 };
    snprintf (hello.name, sizeof hello.name, "%s", name);
    snprintf (hello.fns[0], sizeof hello.fns[0], "%s", fn);
    if (tag)
        snprintf (hello.tags[hello.ntags++], sizeof hello.tags[0], "%s", tag);
    hd_node_t *node = NULL;
    assert_int_equal (
        hd_registry_add (fx->registry, (const uint8_t *) name, strlen (name), &hello, 0, &node),
        HD_OK);
    return node;
}

//  Random-looking ids, as clients make them, so the id table spreads them.
static hd_id_t
s_id (uint64_t n)
{
    hd_id_t id;
    uint64_t mixed = (n + 1) * 0x9E3779B97F4A7C15ull;
    memcpy (id.b, &mixed, 8);
    memcpy (id.b + 8, &n, 8);
    return id;
}

static hd_submit_t
s_msg (uint64_t n, const char *fn, int32_t priority)
{
    hd_submit_t msg = { .id = s_id (n), .priority = priority };
    snprintf (msg.fn, sizeof msg.fn, "%s", fn);
    return msg;
}

static hd_job_t *
s_submit_msg (s_fx_t *fx, const hd_submit_t *msg, void *payload)
{
    hd_job_t *job = NULL;
    assert_int_equal (hd_scheduler_submit (fx->sched, msg, 7, payload, 1000, &job), HD_OK);
    assert_non_null (job);
    return job;
}

static hd_job_t *
s_submit (s_fx_t *fx, uint64_t n, const char *fn, int32_t priority)
{
    hd_submit_t msg = s_msg (n, fn, priority);
    return s_submit_msg (fx, &msg, NULL);
}

//  Dispatch one job at `now_ms` and return it; fails the test when nothing can be dispatched.
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

static hd_job_t *
s_next (s_fx_t *fx, hd_node_t **node_out)
{
    return s_next_at (fx, 2000, node_out);
}

//  A job requeued by a worker loss at 2000 (first attempt) waits 100 ms: due from 2100.
#define S_AFTER_BACKOFF 2100

static bool
s_nothing_next (s_fx_t *fx)
{
    hd_job_t *job = NULL;
    hd_node_t *node = NULL;
    return !hd_scheduler_next (fx->sched, 2000, &job, &node);
}

static void
s_complete (s_fx_t *fx, hd_job_t *job, const hd_node_t *node)
{
    hd_job_t *done = NULL;
    hd_id_t id = job->id;
    assert_int_equal (hd_scheduler_complete (fx->sched, &id, job->attempt, node, &done), HD_OK);
    hd_scheduler_release (fx->sched, &done);
}

//  --- credits and eligibility -----------------------------------------------------------------

//  Jobs asking the same requirements share one copy (a sealed job's tasks all name one tag);
//  it lives as long as any job holding it, and different requirements get their own.
static void
test_scheduler_jobs_share_equal_requirements (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *node = s_worker (fx, "w1", 4, 1.0, "f", "seal-aa");
    hd_submit_t a = s_msg (1, "f", 0), b = s_msg (2, "f", 0), c = s_msg (3, "f", 0);
    snprintf (a.tags[a.ntags++], sizeof a.tags[0], "seal-aa");
    snprintf (b.tags[b.ntags++], sizeof b.tags[0], "seal-aa");
    c.min_mem_mb = 1;
    hd_job_t *ja = s_submit_msg (fx, &a, NULL), *jb = s_submit_msg (fx, &b, NULL);
    hd_job_t *jc = s_submit_msg (fx, &c, NULL);
    assert_non_null (ja->reqs);
    assert_ptr_equal (ja->reqs, jb->reqs);
    assert_ptr_not_equal (ja->reqs, jc->reqs);
    hd_job_t *first = s_next (fx, NULL);
    assert_ptr_equal (first, ja);
    s_complete (fx, first, node);  //  released: b still holds the shared copy
    hd_job_t *second = s_next (fx, NULL);
    assert_ptr_equal (second, jb);
    assert_string_equal (second->reqs->tags[0], "seal-aa");
    s_complete (fx, second, node);
}

static void
test_scheduler_respects_credits (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 2, 0, "echo", NULL);
    for (int i = 0; i < 3; i++)
        s_submit (fx, i, "echo", 0);
    hd_job_t *first = s_next (fx, NULL);
    s_next (fx, NULL);
    assert_int_equal (a->in_flight, 2);
    assert_true (s_nothing_next (fx));
    s_complete (fx, first, a);
    assert_int_equal (a->in_flight, 1);
    hd_node_t *node = NULL;
    s_next (fx, &node);
    assert_ptr_equal (node, a);
}

//  A short function (runs reported under 0.5 ms) may fill a node's deep credit; a long one, or
//  one that turns long, only its credit. `heap`: with the node heaps (rebuilt on the change).
static void
s_short_function_fills_deep_credit (s_fx_t *fx, bool heap)
{
    if (heap) {
        hd_scheduler_destroy (&fx->sched);
        hd_scheduler_config_t config = { .default_attempts = 3, .payload_free = s_count_free,
                                         .heap_min_workers = 1 };
        fx->sched = hd_scheduler_new (fx->registry, &config);
        assert_non_null (fx->sched);
    }
    hd_node_t *a = s_worker (fx, "a", 1, 0, "echo", NULL);
    a->credit = 2;
    a->deep_credit = 6;
    hd_scheduler_node_changed (fx->sched, a);
    for (int i = 0; i < 40; i++)
        s_submit (fx, i, "echo", 0);
    hd_job_t *held[8] = { NULL };
    held[0] = s_next (fx, NULL);
    held[1] = s_next (fx, NULL);
    assert_true (s_nothing_next (fx));  //  not known to be short yet: credit 2
    uint32_t fn = held[0]->fn;
    assert_false (hd_scheduler_is_short (fx->sched, fn));
    //  Eight sub-millisecond runs make it short.
    for (int k = 0; k < 8; k++) {
        s_complete (fx, held[0], a);
        hd_scheduler_observe_run (fx->sched, fn, 0);
        held[0] = s_next (fx, NULL);
    }
    assert_true (hd_scheduler_is_short (fx->sched, fn));
    for (int k = 2; k < 6; k++)
        held[k] = s_next (fx, NULL);
    assert_int_equal (a->in_flight, 6);
    assert_true (s_nothing_next (fx));
    //  Runs of 50 ms: within a few results it is long again, and the node drains to its credit.
    int k = 0;
    for (; k < 6 && hd_scheduler_is_short (fx->sched, fn); k++) {
        s_complete (fx, held[k], a);
        hd_scheduler_observe_run (fx->sched, fn, 50);
    }
    assert_false (hd_scheduler_is_short (fx->sched, fn));
    assert_true (a->in_flight > 2);
    assert_true (s_nothing_next (fx));
    for (; a->in_flight > 1; k++)
        s_complete (fx, held[k], a);
    s_next (fx, NULL);
    assert_int_equal (a->in_flight, 2);
    assert_true (s_nothing_next (fx));
}

static void
test_scheduler_short_function_fills_deep_credit (void **state)
{
    s_short_function_fills_deep_credit (*state, false);
}

static void
test_scheduler_short_function_fills_deep_credit_heaped (void **state)
{
    s_short_function_fills_deep_credit (*state, true);
}

static void
test_scheduler_skips_node_without_function (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0, "echo", NULL);
    s_worker (fx, "b", 4, 0, "sum", NULL);
    s_submit (fx, 1, "echo", 0);
    s_submit (fx, 2, "echo", 0);
    hd_node_t *node = NULL;
    s_next (fx, &node);
    assert_ptr_equal (node, a);
    assert_true (s_nothing_next (fx));
}

static void
test_scheduler_rejects_unknown_function (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_submit_t msg = s_msg (1, "nope", 0);
    int payload = 0;
    hd_job_t *job = NULL;
    assert_int_equal (hd_scheduler_submit (fx->sched, &msg, 0, &payload, 0, &job), HD_ENOTFOUND);
    assert_null (job);
    assert_int_equal (payload, 0);
    uint32_t fn;
    assert_int_equal (hd_registry_fn_find (fx->registry, "nope", &fn), HD_ENOTFOUND);
}

static void
test_scheduler_rejects_function_without_providers (void **state)
{
    s_fx_t *fx = *state;
    hd_registry_remove (fx->registry, s_worker (fx, "a", 1, 0, "echo", NULL));
    hd_submit_t msg = s_msg (1, "echo", 0);
    hd_job_t *job = NULL;
    assert_int_equal (hd_scheduler_submit (fx->sched, &msg, 0, NULL, 0, &job), HD_ENOTFOUND);
    assert_int_equal (hd_scheduler_queued (fx->sched), 0);
}

static void
test_scheduler_draining_node_gets_nothing (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 4, 0, "echo", NULL);
    hd_registry_set_draining (a, true);
    s_submit (fx, 1, "echo", 0);
    assert_true (s_nothing_next (fx));
    hd_node_t *b = s_worker (fx, "b", 1, 0, "echo", NULL);
    hd_node_t *node = NULL;
    s_next (fx, &node);
    assert_ptr_equal (node, b);
}

static void
test_scheduler_ties_go_to_lowest_index (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 2, 0, "echo", NULL);
    s_worker (fx, "b", 2, 0, "echo", NULL);
    s_submit (fx, 1, "echo", 0);
    hd_node_t *node = NULL;
    s_next (fx, &node);
    assert_ptr_equal (node, a);
}

static void
test_scheduler_prefers_least_loaded (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 2, 0, "echo", NULL);
    hd_node_t *b = s_worker (fx, "b", 2, 0, "echo", NULL);
    s_submit (fx, 1, "echo", 0);
    s_submit (fx, 2, "echo", 0);
    hd_node_t *first = NULL, *second = NULL;
    s_next (fx, &first);
    s_next (fx, &second);
    assert_ptr_equal (first, a);
    assert_ptr_equal (second, b);
}

//  --- order -------------------------------------------------------------------------------------

static void
test_scheduler_fifo_within_priority (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 3, 0, "echo", NULL);
    hd_job_t *jobs[3];
    for (int i = 0; i < 3; i++)
        jobs[i] = s_submit (fx, i, "echo", 0);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal (s_next (fx, NULL), jobs[i]);
}

static void
test_scheduler_higher_priority_first (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 4, 0, "echo", NULL);
    hd_job_t *low = s_submit (fx, 1, "echo", -1);
    hd_job_t *mid = s_submit (fx, 2, "echo", 0);
    hd_job_t *high1 = s_submit (fx, 3, "echo", 5);
    hd_job_t *high2 = s_submit (fx, 4, "echo", 5);
    assert_ptr_equal (s_next (fx, NULL), high1);
    assert_ptr_equal (s_next (fx, NULL), high2);
    assert_ptr_equal (s_next (fx, NULL), mid);
    assert_ptr_equal (s_next (fx, NULL), low);
}

static void
test_scheduler_rotates_between_functions (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 8, 0, "echo", NULL);
    s_worker (fx, "b", 8, 0, "sum", NULL);
    for (int i = 0; i < 3; i++)
        s_submit (fx, i, "echo", 0);
    for (int i = 3; i < 6; i++)
        s_submit (fx, i, "sum", 0);
    uint32_t echo;
    assert_int_equal (hd_registry_fn_find (fx->registry, "echo", &echo), HD_OK);
    for (int i = 0; i < 6; i++)
        assert_int_equal (s_next (fx, NULL)->fn == echo, i % 2 == 0);
}

//  --- worker loss, retries, fencing ------------------------------------------------------------

static void
test_scheduler_requeues_lost_job_at_front (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_job_t *first = s_submit (fx, 1, "echo", 0);
    s_submit (fx, 2, "echo", 0);
    assert_ptr_equal (s_next (fx, NULL), first);
    hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    assert_int_equal (first->state, HD_JOB_QUEUED);
    assert_int_equal (a->in_flight, 0);
    hd_registry_remove (fx->registry, a);
    hd_node_t *b = s_worker (fx, "b", 1, 0, "echo", NULL);
    hd_node_t *node = NULL;
    assert_ptr_equal (s_next_at (fx, S_AFTER_BACKOFF, &node), first);
    assert_ptr_equal (node, b);
    assert_int_equal (first->attempt, 2);
}

static void
test_scheduler_requeue_keeps_lease_order (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 2, 0, "echo", NULL);
    hd_job_t *jobs[3];
    for (int i = 0; i < 3; i++)
        jobs[i] = s_submit (fx, i, "echo", 0);
    s_next (fx, NULL);
    s_next (fx, NULL);
    hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    assert_int_equal (hd_scheduler_queued (fx->sched), 3);
    assert_int_equal (hd_scheduler_leased (fx->sched), 0);
    for (int i = 0; i < 2; i++)
        assert_ptr_equal (s_next_at (fx, S_AFTER_BACKOFF, NULL), jobs[i]);
}

static int s_dead_calls;

//  Reports and releases the dead job, as the reactor does.
static void
s_on_dead (hd_job_t *job, void *arg)
{
    assert_int_equal (job->state, HD_JOB_DEAD);
    s_dead_calls++;
    hd_scheduler_release (arg, &job);
}

static void
test_scheduler_dead_after_max_attempts (void **state)
{
    s_fx_t *fx = *state;
    hd_submit_t msg = s_msg (1, "echo", 0);
    msg.max_attempts = 2;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    int payload = 0;
    s_submit_msg (fx, &msg, &payload);
    s_dead_calls = 0;
    for (int round = 0; round < 2; round++) {
        hd_node_t *node = NULL;
        s_next_at (fx, 2000 + 1000 * round, &node);  //  past the backoff of the first loss
        hd_scheduler_worker_lost (fx->sched, node, s_on_dead, fx->sched);
    }
    assert_int_equal (s_dead_calls, 1);
    assert_int_equal (payload, 1);
    assert_null (hd_scheduler_find (fx->sched, &msg.id));
    assert_int_equal (hd_scheduler_queued (fx->sched), 0);
}

static void
test_scheduler_default_attempts_apply (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    assert_int_equal (s_submit (fx, 1, "echo", 0)->max_attempts, 3);
}

static void
test_scheduler_fences_stale_attempt (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_job_t *job = s_submit (fx, 1, "echo", 0);
    s_next (fx, NULL);
    hd_scheduler_worker_lost (fx->sched, a, NULL, NULL);
    s_next_at (fx, S_AFTER_BACKOFF, NULL);
    hd_job_t *done = NULL;
    assert_int_equal (hd_scheduler_complete (fx->sched, &job->id, 1, a, &done), HD_EPROTO);
    assert_null (done);
    assert_int_equal (job->state, HD_JOB_LEASED);
    assert_int_equal (a->in_flight, 1);
}

static void
test_scheduler_fences_wrong_worker (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_node_t *b = s_worker (fx, "b", 1, 0, "sum", NULL);
    hd_job_t *job = s_submit (fx, 1, "echo", 0);
    s_next (fx, NULL);
    hd_job_t *done = NULL;
    assert_int_equal (hd_scheduler_complete (fx->sched, &job->id, 1, b, &done), HD_EPROTO);
    assert_int_equal (job->state, HD_JOB_LEASED);
}

static void
test_scheduler_complete_unknown_id (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_id_t id = s_id (42);
    hd_job_t *done = NULL;
    assert_int_equal (hd_scheduler_complete (fx->sched, &id, 1, a, &done), HD_ENOTFOUND);
}

static void
test_scheduler_complete_marks_done_and_counts (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_job_t *job = s_submit (fx, 1, "echo", 0);
    s_next (fx, NULL);
    hd_job_t *done = NULL;
    assert_int_equal (hd_scheduler_complete (fx->sched, &job->id, 1, a, &done), HD_OK);
    assert_ptr_equal (done, job);
    assert_int_equal (job->state, HD_JOB_DONE);
    assert_int_equal (a->in_flight, 0);
    assert_int_equal (a->done, 1);
    assert_int_equal (hd_scheduler_leased (fx->sched), 0);
}

static hd_metrics_t
s_metrics (double cpu, double temp, uint64_t mem_avail_mb)
{
    hd_metrics_t m = { .present = HD_M_BUSY, .busy = 0 };
    m.sys.present = HD_M_CPU | HD_M_MEM_AVAIL | HD_M_MEM_TOTAL;
    m.sys.cpu_util = cpu;
    m.sys.mem_avail = mem_avail_mb << 20;
    m.sys.mem_total = 2 * (mem_avail_mb << 20);
    if (temp > 0) {
        m.sys.present |= HD_M_TEMP;
        m.sys.temp_c = temp;
    }
    return m;
}

static void
test_scheduler_stale_metrics_exclude_a_node_until_it_reports (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *node = s_worker (fx, "w1", 2, 0, "f", NULL);
    hd_metrics_t m = s_metrics (0.1, 0, 512);
    hd_registry_update_metrics (node, &m, 1000, 0);
    s_submit (fx, 1, "f", 0);
    assert_int_equal (hd_registry_check_stale (fx->registry, 1500, 3000), 0);
    assert_int_equal (hd_registry_check_stale (fx->registry, 5000, 3000), 1);
    assert_true (s_nothing_next (fx));
    hd_registry_update_metrics (node, &m, 5001, 0);  //  reports again
    assert_non_null (s_next (fx, NULL));
}

static void
test_scheduler_hot_node_is_not_eligible (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *hot = s_worker (fx, "hot", 2, 0, "f", NULL);
    hd_node_t *cool = s_worker (fx, "cool", 2, 0, "f", NULL);
    hd_metrics_t m = s_metrics (0.1, 85.0, 512);
    hd_registry_update_metrics (hot, &m, 1000, 80.0);
    m = s_metrics (0.1, 50.0, 512);
    hd_registry_update_metrics (cool, &m, 1000, 80.0);
    s_submit (fx, 1, "f", 0);
    s_submit (fx, 2, "f", 0);
    hd_node_t *got = NULL;
    s_next (fx, &got);
    assert_ptr_equal (got, cool);
    s_next (fx, &got);
    assert_ptr_equal (got, cool);  //  never the hot one, even with free slots there
    assert_true (s_nothing_next (fx));
}

static void
test_scheduler_min_memory_requirement (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *small = s_worker (fx, "small", 2, 0, "f", NULL);
    hd_node_t *big = s_worker (fx, "big", 2, 0, "f", NULL);
    s_worker (fx, "unknown", 2, 0, "f", NULL);  //  no metrics: cannot prove its memory
    hd_metrics_t m = s_metrics (0.1, 0, 256);
    hd_registry_update_metrics (small, &m, 1000, 0);
    m = s_metrics (0.1, 0, 4096);
    hd_registry_update_metrics (big, &m, 1000, 0);
    hd_submit_t msg = s_msg (1, "f", 0);
    msg.min_mem_mb = 1024;
    s_submit_msg (fx, &msg, NULL);
    hd_node_t *got = NULL;
    s_next (fx, &got);
    assert_ptr_equal (got, big);
}

static void
test_scheduler_capacity_follows_free_cpu_share (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *node = s_worker (fx, "w1", 4, 2.0, "f", NULL);
    node->cores = 4;
    hd_metrics_t m = s_metrics (0.0, 0, 512);
    hd_registry_update_metrics (node, &m, 1000, 0);
    assert_true (node->capacity > 7.99 && node->capacity < 8.01);  //  2.0 x 4 cores
    m = s_metrics (0.5, 0, 512);  //  half the machine busy with someone else's work
    hd_registry_update_metrics (node, &m, 2000, 0);
    assert_true (node->capacity > 3.99 && node->capacity < 4.01);
}

static void
test_scheduler_requeue_after_refusal_does_not_count_an_attempt (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *w1 = s_worker (fx, "w1", 1, 0, "f", NULL);
    hd_job_t *job = s_submit (fx, 1, "f", 0);
    s_next (fx, NULL);
    assert_int_equal (hd_scheduler_requeue (fx->sched, &job->id, 2, w1), HD_EPROTO);  //  stale
    assert_int_equal (hd_scheduler_requeue (fx->sched, &job->id, 1, w1), HD_OK);
    assert_int_equal (job->state, HD_JOB_QUEUED);
    assert_int_equal (job->attempt, 0);
    assert_int_equal (w1->in_flight, 0);
    assert_ptr_equal (s_next (fx, NULL), job);
    assert_int_equal (job->attempt, 1);
}

static int s_expired_calls;

static void
s_on_expired (hd_job_t *job, void *arg)
{
    s_fx_t *fx = arg;
    s_expired_calls++;
    assert_int_equal (job->state, HD_JOB_DEAD);
    assert_null (job->worker);
    hd_scheduler_release (fx->sched, &job);
}

static void
test_scheduler_expired_lease_ends_and_returns_credit (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *node = s_worker (fx, "w1", 1, 0, "f", NULL);
    hd_submit_t msg = s_msg (1, "f", 0);
    msg.timeout_ms = 500;  //  leased at 2000: deadline 2500
    s_submit_msg (fx, &msg, NULL);
    s_submit (fx, 2, "f", 0);  //  no timeout: never expires
    s_next (fx, NULL);
    s_expired_calls = 0;
    assert_int_equal (hd_scheduler_expire (fx->sched, 2900, 500, s_on_expired, fx), 0);
    assert_int_equal (hd_scheduler_expire (fx->sched, 3001, 500, s_on_expired, fx), 1);
    assert_int_equal (s_expired_calls, 1);
    assert_int_equal (node->in_flight, 0);
    assert_non_null (s_next (fx, NULL));  //  the credit came back: job 2 goes out
    assert_int_equal (hd_scheduler_expire (fx->sched, 100000, 500, s_on_expired, fx), 0);
}

static void
test_scheduler_lease_deadline_follows_timeout (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_submit_t msg = s_msg (1, "echo", 0);
    msg.timeout_ms = 500;
    s_submit_msg (fx, &msg, NULL);
    assert_int_equal (s_next (fx, NULL)->lease_deadline_ms, 2500);
}

//  --- cancel, limits, duplicates --------------------------------------------------------------

static void
test_scheduler_cancel_queued (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_job_t *job = s_submit (fx, 1, "echo", 0);
    hd_job_t *cancelled = NULL;
    assert_int_equal (hd_scheduler_cancel (fx->sched, &job->id, &cancelled), HD_OK);
    assert_ptr_equal (cancelled, job);
    assert_int_equal (job->state, HD_JOB_DEAD);
    assert_int_equal (hd_scheduler_queued (fx->sched), 0);
    assert_true (s_nothing_next (fx));
    hd_scheduler_release (fx->sched, &cancelled);
}

static void
test_scheduler_cancel_leased_is_invalid (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_job_t *job = s_submit (fx, 1, "echo", 0);
    s_next (fx, NULL);
    hd_job_t *found = NULL;
    assert_int_equal (hd_scheduler_cancel (fx->sched, &job->id, &found), HD_EINVAL);
    assert_ptr_equal (found, job);
    assert_int_equal (job->state, HD_JOB_LEASED);
}

static void
test_scheduler_cancel_unknown (void **state)
{
    s_fx_t *fx = *state;
    hd_id_t id = s_id (9);
    hd_job_t *found = NULL;
    assert_int_equal (hd_scheduler_cancel (fx->sched, &id, &found), HD_ENOTFOUND);
    assert_null (found);
}

static void
test_scheduler_queue_full (void **state)
{
    s_fx_t *fx = *state;
    hd_scheduler_destroy (&fx->sched);
    fx->sched = s_sched_new (fx->registry, 2, 3);
    s_worker (fx, "a", 1, 0, "echo", NULL);
    s_submit (fx, 1, "echo", 0);
    s_next (fx, NULL);  //  leased jobs count too
    s_submit (fx, 2, "echo", 0);
    hd_submit_t msg = s_msg (3, "echo", 0);
    hd_job_t *job = NULL;
    int payload = 0;
    assert_int_equal (hd_scheduler_submit (fx->sched, &msg, 0, &payload, 0, &job), HD_EFULL);
    assert_null (job);
    assert_int_equal (payload, 0);
}

static void
test_scheduler_duplicate_id_returns_existing (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_job_t *first = s_submit (fx, 1, "echo", 0);
    hd_submit_t msg = s_msg (1, "echo", 0);
    hd_job_t *job = NULL;
    int payload = 0;
    assert_int_equal (hd_scheduler_submit (fx->sched, &msg, 0, &payload, 0, &job), HD_EINVAL);
    assert_ptr_equal (job, first);
    assert_int_equal (hd_scheduler_queued (fx->sched), 1);
    assert_int_equal (payload, 0);
}

//  --- requirements ------------------------------------------------------------------------------

static void
test_scheduler_tags_requirement (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 4, 0, "echo", NULL);
    hd_node_t *b = s_worker (fx, "b", 4, 0, "echo", "gpu");
    hd_submit_t msg = s_msg (1, "echo", 0);
    snprintf (msg.tags[msg.ntags++], sizeof msg.tags[0], "gpu");
    s_submit_msg (fx, &msg, NULL);
    hd_node_t *node = NULL;
    s_next (fx, &node);
    assert_ptr_equal (node, b);
}

static void
test_scheduler_node_pinning (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 4, 0, "echo", NULL);
    hd_node_t *b = s_worker (fx, "b", 4, 0, "echo", NULL);
    hd_submit_t msg = s_msg (1, "echo", 0);
    snprintf (msg.node, sizeof msg.node, "b");
    s_submit_msg (fx, &msg, NULL);
    hd_node_t *node = NULL;
    s_next (fx, &node);
    assert_ptr_equal (node, b);
}

static void
test_scheduler_unsatisfiable_job_does_not_block (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 4, 0, "echo", NULL);
    hd_submit_t msg = s_msg (1, "echo", 0);
    snprintf (msg.tags[msg.ntags++], sizeof msg.tags[0], "tpu");
    hd_job_t *stuck = s_submit_msg (fx, &msg, NULL);
    hd_job_t *plain = s_submit (fx, 2, "echo", 0);
    assert_ptr_equal (s_next (fx, NULL), plain);
    assert_true (s_nothing_next (fx));
    assert_int_equal (stuck->state, HD_JOB_QUEUED);
}

//  --- capacity shares -------------------------------------------------------------------------

#define S_JOBS 400
#define S_WINDOW 40

//  Capacities 3 and 1, slots to spare on both, 40 leases outstanding, completed oldest first (a
//  completion order that favours neither node). The rule "least (in_flight + 1) / capacity"
//  keeps in_flight near 3:1 at every step, so dispatches split 3:1 as well.
static void
test_scheduler_capacity_weighting (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *fast = s_worker (fx, "fast", S_JOBS, 3.0, "echo", NULL);
    hd_node_t *slow = s_worker (fx, "slow", S_JOBS, 1.0, "echo", NULL);
    for (int i = 0; i < S_JOBS; i++)
        s_submit (fx, i, "echo", 0);
    hd_job_t *ring[S_JOBS];
    hd_node_t *holder[S_JOBS];
    int issued = 0, finished = 0, to_fast = 0;
    while (finished < S_JOBS) {
        while (issued - finished < S_WINDOW && issued < S_JOBS) {
            ring[issued] = s_next (fx, &holder[issued]);
            to_fast += holder[issued] == fast;
            issued++;
            int skew = (int) fast->in_flight - 3 * (int) slow->in_flight;
            assert_true (skew >= -3 && skew <= 3);
        }
        s_complete (fx, ring[finished], holder[finished]);
        finished++;
    }
    assert_in_range (to_fast, 285, 315);
}

//  --- ownership and leaks ---------------------------------------------------------------------

static void
test_scheduler_payload_freed_once (void **state)
{
    s_fx_t *fx = *state;
    hd_node_t *a = s_worker (fx, "a", 1, 0, "echo", NULL);
    int payloads[3] = { 0 };
    hd_job_t *jobs[3];
    for (int i = 0; i < 3; i++) {
        hd_submit_t msg = s_msg (i, "echo", 0);
        jobs[i] = s_submit_msg (fx, &msg, &payloads[i]);
    }
    s_next (fx, NULL);
    s_complete (fx, jobs[0], a);
    hd_job_t *cancelled = NULL;
    assert_int_equal (hd_scheduler_cancel (fx->sched, &jobs[1]->id, &cancelled), HD_OK);
    hd_scheduler_release (fx->sched, &cancelled);
    assert_null (cancelled);
    hd_scheduler_destroy (&fx->sched);  //  jobs[2] is still queued
    for (int i = 0; i < 3; i++)
        assert_int_equal (payloads[i], 1);
    assert_int_equal (s_freed, 3);
}

static void
test_scheduler_release_queued_job_leaves_queue (void **state)
{
    s_fx_t *fx = *state;
    s_worker (fx, "a", 1, 0, "echo", NULL);
    hd_job_t *first = s_submit (fx, 1, "echo", 0);
    hd_job_t *second = s_submit (fx, 2, "echo", 0);
    hd_scheduler_release (fx->sched, &first);
    assert_int_equal (hd_scheduler_queued (fx->sched), 1);
    assert_ptr_equal (s_next (fx, NULL), second);
}

//  Payloads are heap blocks freed by the hook: the sanitized build reports any job, level,
//  requirement or payload left behind.
static void
test_scheduler_cycles_leave_nothing (void **state)
{
    s_fx_t *fx = *state;
    hd_scheduler_config_t config = { .payload_free = free };
    hd_scheduler_destroy (&fx->sched);
    fx->sched = hd_scheduler_new (fx->registry, &config);
    hd_node_t *a = s_worker (fx, "a", 1, 0, "echo", "gpu");
    for (int i = 0; i < 1000; i++) {
        hd_submit_t msg = s_msg (i, "echo", i % 7 - 3);
        if (i % 3 == 0)
            snprintf (msg.tags[msg.ntags++], sizeof msg.tags[0], "gpu");
        s_submit_msg (fx, &msg, malloc (16));
        s_complete (fx, s_next (fx, NULL), a);
    }
    assert_int_equal (hd_scheduler_queued (fx->sched), 0);
    assert_int_equal (hd_scheduler_leased (fx->sched), 0);
    assert_int_equal (a->done, 1000);
}

static void
test_scheduler_destroy_is_null_safe (void **state)
{
    (void) state;
    hd_scheduler_t *sched = NULL;
    hd_scheduler_destroy (&sched);
    assert_null (sched);
}

#define S_TEST(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_scheduler_respects_credits),
        S_TEST (test_scheduler_short_function_fills_deep_credit),
        S_TEST (test_scheduler_short_function_fills_deep_credit_heaped),
        S_TEST (test_scheduler_skips_node_without_function),
        S_TEST (test_scheduler_rejects_unknown_function),
        S_TEST (test_scheduler_rejects_function_without_providers),
        S_TEST (test_scheduler_draining_node_gets_nothing),
        S_TEST (test_scheduler_ties_go_to_lowest_index),
        S_TEST (test_scheduler_prefers_least_loaded),
        S_TEST (test_scheduler_fifo_within_priority),
        S_TEST (test_scheduler_higher_priority_first),
        S_TEST (test_scheduler_rotates_between_functions),
        S_TEST (test_scheduler_requeues_lost_job_at_front),
        S_TEST (test_scheduler_requeue_keeps_lease_order),
        S_TEST (test_scheduler_dead_after_max_attempts),
        S_TEST (test_scheduler_default_attempts_apply),
        S_TEST (test_scheduler_fences_stale_attempt),
        S_TEST (test_scheduler_fences_wrong_worker),
        S_TEST (test_scheduler_complete_unknown_id),
        S_TEST (test_scheduler_complete_marks_done_and_counts),
        S_TEST (test_scheduler_lease_deadline_follows_timeout),
        S_TEST (test_scheduler_expired_lease_ends_and_returns_credit),
        S_TEST (test_scheduler_requeue_after_refusal_does_not_count_an_attempt),
        S_TEST (test_scheduler_stale_metrics_exclude_a_node_until_it_reports),
        S_TEST (test_scheduler_hot_node_is_not_eligible),
        S_TEST (test_scheduler_min_memory_requirement),
        S_TEST (test_scheduler_capacity_follows_free_cpu_share),
        S_TEST (test_scheduler_cancel_queued),
        S_TEST (test_scheduler_cancel_leased_is_invalid),
        S_TEST (test_scheduler_cancel_unknown),
        S_TEST (test_scheduler_queue_full),
        S_TEST (test_scheduler_duplicate_id_returns_existing),
        S_TEST (test_scheduler_tags_requirement),
        S_TEST (test_scheduler_node_pinning),
        S_TEST (test_scheduler_unsatisfiable_job_does_not_block),
        S_TEST (test_scheduler_capacity_weighting),
        S_TEST (test_scheduler_payload_freed_once),
        S_TEST (test_scheduler_release_queued_job_leaves_queue),
        S_TEST (test_scheduler_cycles_leave_nothing),
        S_TEST (test_scheduler_jobs_share_equal_requirements),
        cmocka_unit_test (test_scheduler_destroy_is_null_safe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
