/*  Integration: jobs wait for workers, and one eligibility rule (issue 12, items 2 and 8). A real
    heddle-broker run with --worker-wait 8000 and, at first, no worker, on 127.0.0.1 with CURVE:
    a job submitted 5 s before its workers start completes with every result correct; tasks of a
    typo'd function are told they wait (NOTICE) and end UNKNOWN_FN once the wait is over (one
    whose tags the workers that came lack ends UNSATISFIABLE), and the CLI says it is waiting once. Then: `--tags ARCH` (the node's architecture) is met, and
    memory no node has, or a node pinned that does not offer the function, is UNSATISFIABLE at
    once. Last, `heddle functions` (the FUNCTIONS query): nodes, queued, running, done.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "hd_testcli.h"
#include "hd_testenv.h"

#define S_GOOD 200  //  sha256 tasks submitted before any worker
#define S_TYPO 50   //  tasks of a function no worker offers

static hd_testenv_t s_env;

typedef struct {
    char fns[8][64];
    uint32_t n;
    uint32_t nodes_seen;
} s_notices_t;

static void
s_on_notice (hd_client_t *client, const char *fn, uint32_t nodes, uint32_t wait_ms,
             const char *text, void *arg)
{
    (void) client;
    s_notices_t *n = arg;
    assert_true (strstr (text, "waiting for a worker that offers") != NULL);
    assert_true (wait_ms > 0 && wait_ms <= 8000);
    n->nodes_seen += nodes;
    if (n->n < 8)
        snprintf (n->fns[n->n++], sizeof n->fns[0], "%s", fn);
}

static bool
s_noticed (const s_notices_t *n, const char *fn)
{
    for (uint32_t i = 0; i < n->n; i++)
        if (strcmp (n->fns[i], fn) == 0)
            return true;
    return false;
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static hd_client_t *
s_connect (void)
{
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys,
                               .window = 10000 };
    hd_client_t *client = NULL;
    assert_int_equal (hd_client_connect (&cfg, &client), HD_OK);
    return client;
}

static void
s_expect_sha (const hd_reply_t *r)
{
    char input[32], hex[65];
    int n = snprintf (input, sizeof input, "input %llu", (unsigned long long) r->seq);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const unsigned char *) input, (size_t) n);
    sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
    if (r->status != 0)
        fail_msg ("task %llu: status %u (%s)", (unsigned long long) r->seq, r->status, r->error);
    assert_int_equal (r->size, 64);
    assert_memory_equal (r->data, hex, 64);
}

//  A job submitted before any worker joined: it waits, and completes once workers come 5 s
//  later; the typo'd function's tasks end UNKNOWN_FN after the broker's wait.
static void
test_job_waits_for_workers (void **state)
{
    (void) state;
    hd_client_t *client = s_connect ();
    s_notices_t notices = { 0 };
    hd_client_set_notice_handler (client, s_on_notice, &notices);
    for (uint64_t i = 0; i < S_GOOD; i++) {
        char input[32];
        int n = snprintf (input, sizeof input, "input %llu", (unsigned long long) i);
        assert_int_equal (hd_client_submit (client, "sha256", input, (size_t) n, NULL, i, NULL),
                          HD_OK);
    }
    hd_task_opts_t short_wait = { .timeout_ms = 1000 };  //  its own timeout caps the wait
    for (uint64_t i = 0; i < S_TYPO; i++)
        assert_int_equal (hd_client_submit (client, "sha265", "x", 1, i ? NULL : &short_wait,
                                            1000000 + i, NULL),
                          HD_OK);
    //  A requirement the workers that come will not meet: UNSATISFIABLE once its wait is over.
    hd_task_opts_t tagged = { .tags = "no-such-tag" };
    assert_int_equal (hd_client_submit (client, "sha256", "x", 1, &tagged, 2000000, NULL), HD_OK);
    assert_int_equal (hd_client_flush (client), HD_OK);
    //  5 s with no worker: nothing may fail yet but the task with a 1 s timeout.
    uint32_t good = 0, typo = 0;
    double start = s_now ();
    while (s_now () - start < 5.0) {
        hd_reply_t *r = NULL;
        if (hd_client_next (client, 200, &r) != HD_OK)
            continue;
        if (r->seq != 1000000)
            fail_msg ("task %llu ended (%s) before any worker joined", (unsigned long long) r->seq,
                      r->error);
        assert_int_equal (r->status, 2);  //  UNKNOWN_FN
        typo++;
        hd_reply_destroy (&r);
    }
    assert_true (s_noticed (&notices, "sha256"));
    assert_true (s_noticed (&notices, "sha265"));
    assert_int_equal (notices.nodes_seen, 0);
    hd_testenv_start_worker (&s_env, "w1", 2, NULL);
    hd_testenv_start_worker (&s_env, "w2", 2, NULL);
    uint32_t unsatisfiable = 0;
    while (good + typo + unsatisfiable < S_GOOD + S_TYPO + 1) {
        hd_reply_t *r = NULL;
        hd_err_t rc = hd_client_next (client, 30000, &r);
        if (rc != HD_OK)
            fail_msg ("waiting for results: %s (%u good, %u typo so far)", hd_strerror (rc), good,
                      typo);
        if (r->seq == 2000000) {
            if (r->status != 13)
                fail_msg ("tagged task: status %u (%s), want UNSATISFIABLE", r->status, r->error);
            unsatisfiable++;
        }
        else if (r->seq >= 1000000) {
            assert_int_equal (r->status, 2);
            assert_true (strstr (r->error, "sha265") != NULL);
            typo++;
        }
        else {
            s_expect_sha (r);
            good++;
        }
        hd_reply_destroy (&r);
    }
    hd_client_destroy (&client);
}

//  The CLI says once that it waits, then fails each task with the broker's reason.
static void
test_cli_says_it_waits (void **state)
{
    (void) state;
    char path[400];
    snprintf (path, sizeof path, "%s/three.txt", s_env.dir);
    hd_testcli_write_file (path, "a\nb\nc\n", 6);
    const char *args[] = { "map", "sha265", path, "--broker", s_env.clients_ep, "--keys",
                           s_env.keys, NULL };
    hd_testcli_t run;
    hd_testcli_run (&run, args, NULL, 0, 30000);
    if (hd_testcli_count (run.err, "waiting for a worker that offers 'sha265'") != 1)
        fail_msg ("want the waiting line once; stderr:\n%s", run.err);
    assert_true (strstr (run.err, "unknown function") != NULL);
    assert_int_not_equal (run.code, 0);
    hd_testcli_fini (&run);
}

//  The node's architecture is a tag for the broker's check as for the scheduler; memory no
//  node has is refused at once.
static void
test_one_eligibility_rule (void **state)
{
    (void) state;
    struct utsname u;
    assert_int_equal (uname (&u), 0);
    hd_client_t *client = s_connect ();
    assert_int_equal (hd_client_wait_nodes (client, 2, 10000), HD_OK);
    hd_task_opts_t arch = { .tags = u.machine };
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (client, "echo", "hi", 2, &arch, &r), HD_OK);
    if (r->status != 0)
        fail_msg ("--tags %s: %s", u.machine, r->error);
    hd_reply_destroy (&r);
    //  Wait for the nodes' memory figures, then ask for more than any has.
    for (int i = 0; i < 100; i++) {
        hd_node_info_t *nodes = NULL;
        uint32_t n = 0;
        assert_int_equal (hd_client_nodes (client, &nodes, &n), HD_OK);
        bool mem = n == 2 && (nodes[0].present & nodes[1].present & HD_NODE_HAS_MEM);
        free (nodes);
        if (mem)
            break;
        struct timespec ts = { 0, 100000000 };
        nanosleep (&ts, NULL);
    }
    //  Pinned to a node that is here and does not offer the function: refused, not waiting.
    hd_task_opts_t pinned = { .node = "w1" };
    assert_int_equal (hd_client_call (client, "exec", "true", 4, &pinned, &r), HD_OK);
    assert_int_equal (r->status, 13);  //  UNSATISFIABLE
    assert_true (strstr (r->error, "w1") != NULL);
    hd_reply_destroy (&r);
    hd_task_opts_t huge = { .min_mem_mb = 64u << 20 };  //  64 TB
    assert_int_equal (hd_client_call (client, "echo", "hi", 2, &huge, &r), HD_OK);
    assert_int_equal (r->status, 13);  //  UNSATISFIABLE
    assert_true (strstr (r->error, "memory") != NULL);
    hd_reply_destroy (&r);
    hd_client_destroy (&client);
}

//  `heddle functions --json`: stdout, or a failed test.
static char *
s_functions_json (void)
{
    const char *args[] = { "functions", "--json", "--broker", s_env.clients_ep, "--keys",
                           s_env.keys, NULL };
    hd_testcli_t run;
    hd_testcli_run (&run, args, NULL, 0, 30000);
    if (run.code != 0)
        fail_msg ("heddle functions: exit %d; stderr:\n%s", run.code, run.err);
    char *out = run.out;
    run.out = NULL;
    hd_testcli_fini (&run);
    return out;
}

//  heddle functions: the nodes offering each function, tasks queued and running now (tasks
//  with a deadline need a free slot: 4 slots, 6 tasks: 4 run, 2 wait), results and mean time.
static void
test_functions_lists_nodes_and_counts (void **state)
{
    (void) state;
    hd_client_t *client = s_connect ();
    hd_task_opts_t opts = { .timeout_ms = 20000 };
    for (uint64_t i = 0; i < 6; i++)
        assert_int_equal (hd_client_submit (client, "sleep", "1500", 4, &opts, i, NULL), HD_OK);
    assert_int_equal (hd_client_flush (client), HD_OK);
    char *json = NULL;
    for (int tries = 0; tries < 50; tries++) {  //  until all 6 are at the broker
        free (json);
        json = s_functions_json ();
        if (strstr (json, "\"queued\": 2, \"running\": 4"))
            break;
        hd_client_process (client, 100, NULL);
    }
    const char *sleep = strstr (json, "{\"name\": \"sleep\", \"nodes\": 2, \"offered_by\": [");
    if (!sleep || !strstr (sleep, "\"queued\": 2, \"running\": 4"))
        fail_msg ("want sleep offered by 2 nodes, 2 queued and 4 running:\n%s", json);
    assert_non_null (strstr (sleep, "\"w1\""));
    assert_non_null (strstr (sleep, "\"w2\""));
    //  The 200 sha256 results of the first test, with a mean run time.
    const char *sha = strstr (json, "{\"name\": \"sha256\", \"nodes\": 2,");
    if (!sha || !strstr (sha, "\"queued\": 0, \"running\": 0, \"done\": 200, \"mean_ms\": "))
        fail_msg ("want sha256 with 200 results:\n%s", json);
    assert_null (strstr (json, "sha265"));  //  never offered, no task left
    free (json);
    for (int got = 0; got < 6; got++) {
        hd_reply_t *r = NULL;
        assert_int_equal (hd_client_next (client, 30000, &r), HD_OK);
        assert_int_equal (r->status, 0);
        hd_reply_destroy (&r);
    }
    hd_client_destroy (&client);
    //  The table: a header and one line per function.
    const char *args[] = { "functions", "--broker", s_env.clients_ep, "--keys", s_env.keys, NULL };
    hd_testcli_t run;
    hd_testcli_run (&run, args, NULL, 0, 30000);
    assert_int_equal (run.code, 0);
    assert_non_null (strstr (run.out, "FUNCTION "));
    assert_non_null (strstr (run.out, "\nsleep "));
    hd_testcli_fini (&run);
}

static int
s_setup (void **state)
{
    (void) state;
    assert_true (sodium_init () >= 0);
    hd_testenv_init (&s_env);
    const char *extra[] = { "--worker-wait", "8000", NULL };
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

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_job_waits_for_workers),
        cmocka_unit_test (test_cli_says_it_waits),
        cmocka_unit_test (test_one_eligibility_rule),
        cmocka_unit_test (test_functions_lists_nodes_and_counts),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
