//  Sealed payloads end to end (issue 16), with the real broker and workers over CURVE on
//  127.0.0.1. The broker is heddle-broker-testhooks: it records every payload byte it holds
//  (HEDDLE_TEST_PAYLOAD_LOG) and, asked to, flips one in each task or result
//  (HEDDLE_TEST_TAMPER): a compromised broker. Each test checks every result.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd_client.h"
#include "hd_proto.h"
#include "hd_testcli.h"
#include "hd_testenv.h"

#define S_TASKS 2000

typedef struct {
    hd_testenv_t env;
    char log[400];
} s_fix_t;

static int
s_setup (void **state)
{
    s_fix_t *f = calloc (1, sizeof *f);
    hd_testenv_init (&f->env);
    f->env.broker_bin = "heddle-broker-testhooks";
    snprintf (f->log, sizeof f->log, "%s/payloads.log", f->env.dir);
    setenv ("HEDDLE_TEST_PAYLOAD_LOG", f->log, 1);
    unsetenv ("HEDDLE_TEST_TAMPER");
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fix_t *f = *state;
    hd_testenv_stop (&f->env);
    unsetenv ("HEDDLE_TEST_PAYLOAD_LOG");
    unsetenv ("HEDDLE_TEST_TAMPER");
    free (f);
    return 0;
}

static void
s_start (s_fix_t *f, const char *tamper)
{
    if (tamper)
        setenv ("HEDDLE_TEST_TAMPER", tamper, 1);
    hd_testenv_start_broker (&f->env, NULL);
    unsetenv ("HEDDLE_TEST_TAMPER");
    hd_testenv_start_worker (&f->env, "sealed-a", 2, NULL);
    hd_testenv_start_worker (&f->env, "sealed-b", 2, NULL);
}

static hd_client_t *
s_client (s_fix_t *f, bool plain)
{
    hd_client_config_t cfg = { .endpoint = f->env.clients_ep, .keys_dir = f->env.keys,
                               .plain_payloads = plain };
    hd_client_t *c = NULL;
    char err[512] = "";
    if (hd_client_connect_verbose (&cfg, &c, err, sizeof err) != HD_OK)
        fail_msg ("client connect: %s", err);
    if (hd_client_wait_nodes (c, 2, 15000) != HD_OK)
        fail_msg ("workers did not join: %s", hd_client_last_error (c));
    return c;
}

typedef struct {
    uint64_t ok, tampered, other, wrong;
} s_tally_t;

static void
s_check (const hd_reply_t *r, void *arg)
{
    s_tally_t *t = arg;
    char want[64];
    snprintf (want, sizeof want, "plain-secret-%05llu", (unsigned long long) r->seq);
    if (r->status == HD_ST_OK) {
        t->ok++;
        if (r->size != strlen (want) || memcmp (r->data, want, r->size) != 0)
            t->wrong++;
    }
    else if (r->status == HD_ST_TAMPERED) {
        t->tampered++;
        if (r->size != 0)
            t->wrong++;  //  never data with TAMPERED
    }
    else
        t->other++;
}

static s_tally_t
s_run_echo_job (hd_client_t *c, uint32_t n)
{
    hd_client_job_t *job = hd_client_job_new (c, "echo", NULL);
    assert_non_null (job);
    char line[64];
    for (uint32_t i = 0; i < n; i++) {
        int len = snprintf (line, sizeof line, "plain-secret-%05u", i);
        assert_int_equal (hd_client_job_add (job, line, (size_t) len), HD_OK);
    }
    s_tally_t t = { 0 };
    assert_int_equal (hd_client_job_run (job, HD_GATHER_COMPLETED, s_check, NULL, &t), HD_OK);
    hd_client_job_destroy (&job);
    return t;
}

//  Occurrences of `needle` in every file under dir (the journal).
static size_t
s_grep_dir (const char *dir, const char *needle)
{
    DIR *d = opendir (dir);
    assert_non_null (d);
    size_t hits = 0;
    struct dirent *e;
    char path[1024];
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size = 0;
        char *text = hd_testcli_read_file (path, &size);
        if (!text)
            continue;
        for (size_t i = 0; i + strlen (needle) <= size; i++)
            hits += memcmp (text + i, needle, strlen (needle)) == 0;
        free (text);
    }
    closedir (d);
    return hits;
}

static size_t
s_grep_file (const char *path, const char *needle, size_t *file_size)
{
    size_t size = 0, hits = 0;
    char *text = hd_testcli_read_file (path, &size);
    if (file_size)
        *file_size = text ? size : 0;
    for (size_t i = 0; text && i + strlen (needle) <= size; i++)
        hits += memcmp (text + i, needle, strlen (needle)) == 0;
    free (text);
    return hits;
}

static void
test_sealed_job_is_exact_and_broker_holds_no_plaintext (void **state)
{
    s_fix_t *f = *state;
    s_start (f, NULL);
    hd_client_t *c = s_client (f, false);
    s_tally_t t = s_run_echo_job (c, S_TASKS);
    assert_int_equal (t.ok, S_TASKS);
    assert_int_equal (t.wrong + t.tampered + t.other, 0);
    //  A large input travels as its own frame: sealed too.
    size_t big = 100 * 1024;
    char *in = malloc (big);
    for (size_t i = 0; i < big; i++)
        in[i] = "plain-secret-"[i % 13];
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (c, "echo", in, big, NULL, &r), HD_OK);
    assert_int_equal (r->status, HD_ST_OK);
    assert_int_equal (r->size, big);
    assert_memory_equal (r->data, in, big);
    hd_reply_destroy (&r);
    free (in);
    hd_client_destroy (&c);
    hd_testenv_kill (&f->env, f->env.broker, SIGTERM);  //  the journal is flushed and closed

    size_t log_size = 0;
    assert_int_equal (s_grep_file (f->log, "plain-secret", &log_size), 0);
    assert_true (log_size > (size_t) S_TASKS * 2 * 100);  //  the hook saw every input and output
    char journal[400];
    snprintf (journal, sizeof journal, "%s/journal", f->env.dir);
    assert_int_equal (s_grep_dir (journal, "plain-secret"), 0);
}

//  The control: the same job with --plain-payloads puts the plaintext in the broker's hands,
//  so the test above would see it if sealing failed.
static void
test_sealed_plain_payloads_are_seen_by_the_broker (void **state)
{
    s_fix_t *f = *state;
    s_start (f, NULL);
    hd_client_t *c = s_client (f, true);
    s_tally_t t = s_run_echo_job (c, 200);
    assert_int_equal (t.ok, 200);
    assert_int_equal (t.wrong, 0);
    hd_client_destroy (&c);
    assert_true (s_grep_file (f->log, "plain-secret", NULL) >= 400);
}

static void
test_sealed_tampered_task_is_never_run (void **state)
{
    s_fix_t *f = *state;
    s_start (f, "task");
    hd_client_t *c = s_client (f, false);
    s_tally_t t = s_run_echo_job (c, 300);
    assert_int_equal (t.tampered, 300);
    assert_int_equal (t.ok + t.other + t.wrong, 0);
    hd_client_destroy (&c);
}

static void
test_sealed_tampered_result_is_never_delivered (void **state)
{
    s_fix_t *f = *state;
    s_start (f, "result");
    hd_client_t *c = s_client (f, false);
    s_tally_t t = s_run_echo_job (c, 300);
    assert_int_equal (t.tampered, 300);
    assert_int_equal (t.ok + t.other + t.wrong, 0);
    hd_client_destroy (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_sealed_job_is_exact_and_broker_holds_no_plaintext,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sealed_plain_payloads_are_seen_by_the_broker,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sealed_tampered_task_is_never_run, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_sealed_tampered_result_is_never_delivered, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
