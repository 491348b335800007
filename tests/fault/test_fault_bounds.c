/*  Bounds: a client cannot make the broker's memory grow without limit. A client over its
    limit of tasks queued, running or unacknowledged gets BUSY with a retry hint while its
    accepted tasks complete (the client library sends such a task again after the hint, unless
    told not to); a client that stops reading leaves results that expire after the
    result TTL. Real broker and worker processes, CURVE, loopback.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hd_testenv.h"

static hd_testenv_t s_env;

static int
s_setup (void **state)
{
    (void) state;
    char plugin[512];
    snprintf (plugin, sizeof plugin, "%s/hd_fault_plugin.so", HD_BIN_DIR);
    hd_testenv_init (&s_env);
    const char *extra[] = { "--max-client-tasks", "20", "--result-ttl", "1500", NULL };
    hd_testenv_start_broker (&s_env, extra);
    const char *wextra[] = { "--plugin", plugin, NULL };
    hd_testenv_start_worker (&s_env, "w1", 2, wextra);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_testenv_stop (&s_env);
    return 0;
}

static hd_client_t *
s_client (int32_t retry_ms)
{
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys,
                               .retry_ms = retry_ms };
    hd_client_t *c = NULL;
    assert_int_equal (hd_client_connect (&cfg, &c), HD_OK);
    assert_int_equal (hd_client_wait_nodes (c, 1, 10000), HD_OK);
    return c;
}

//  Submit 60 tasks of 50 ms at once against a limit of 20; count the outcomes.
static void
s_sixty (hd_client_t *c, uint64_t *ok, uint64_t *busy, uint64_t *other)
{
    for (uint64_t i = 0; i < 60; i++)
        assert_int_equal (hd_client_submit (c, "slowecho", "50|x", 4, NULL, i, NULL), HD_OK);
    hd_reply_t *r;
    while (hd_client_next (c, 20000, &r) == HD_OK) {
        if (r->status == 0)
            (*ok)++;
        else if (r->status == 4 && strstr (r->error, "(limit"))
            (*busy)++;
        else
            (*other)++;
        hd_reply_destroy (&r);
    }
}

//  Without retries (retry_ms < 0) the refusals are the tasks' results.
static void
test_fault_bounds_client_over_its_limit_gets_busy_with_a_retry_hint (void **state)
{
    (void) state;
    hd_client_t *c = s_client (-1);
    uint64_t ok = 0, busy = 0, other = 0;
    s_sixty (c, &ok, &busy, &other);
    print_message ("limit 20, no retry: %llu completed, %llu BUSY, %llu other\n",
                   (unsigned long long) ok, (unsigned long long) busy, (unsigned long long) other);
    assert_int_equal (ok + busy, 60);
    assert_true (ok >= 20);
    assert_true (busy > 0);
    assert_int_equal (other, 0);
    assert_int_equal (hd_client_retried (c), 0);
    hd_client_destroy (&c);
}

//  By default the library honours the hint: the job is slowed down, no task fails.
static void
test_fault_bounds_busy_is_retried_and_every_task_completes (void **state)
{
    (void) state;
    hd_client_t *c = s_client (0);
    uint64_t ok = 0, busy = 0, other = 0;
    s_sixty (c, &ok, &busy, &other);
    print_message ("limit 20, retry: %llu completed, %llu BUSY, %llu other, %llu refusals "
                   "retried\n", (unsigned long long) ok, (unsigned long long) busy,
                   (unsigned long long) other, (unsigned long long) hd_client_retried (c));
    assert_int_equal (ok, 60);
    assert_true (hd_client_retried (c) > 0);
    hd_client_destroy (&c);
}

//  A client submits, stops reading, goes away; after the TTL a resumed session finds nothing.
static void
test_fault_bounds_unclaimed_results_expire (void **state)
{
    (void) state;
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys,
                               .session = "bounds-ttl" };
    hd_client_t *c = NULL;
    assert_int_equal (hd_client_connect (&cfg, &c), HD_OK);
    uint8_t id[16];
    assert_int_equal (hd_client_submit (c, "echo", "kept?", 5, NULL, 0, id), HD_OK);
    for (int k = 0; k < 100 && hd_client_unaccepted (c); k++)
        hd_client_process (c, 20, NULL);
    hd_client_destroy (&c);  //  never reads the result
    //  Wait past the TTL (1.5 s) and the broker's next sweep (every heartbeat, 1 s).
    struct timespec ts = { 3, 0 };
    nanosleep (&ts, NULL);
    assert_int_equal (hd_client_connect (&cfg, &c), HD_OK);
    assert_int_equal (hd_client_adopt (c, id, 0), HD_OK);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_next (c, 3000, &r), HD_ETIMEDOUT);
    assert_null (r);
    hd_client_destroy (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_fault_bounds_client_over_its_limit_gets_busy_with_a_retry_hint),
        cmocka_unit_test (test_fault_bounds_busy_is_retried_and_every_task_completes),
        cmocka_unit_test (test_fault_bounds_unclaimed_results_expire),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
