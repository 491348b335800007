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
#include <poll.h>
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
s_client_n (s_fix_t *f, bool plain, uint32_t nodes)
{
    hd_client_config_t cfg = { .endpoint = f->env.clients_ep, .keys_dir = f->env.keys,
                               .plain_payloads = plain };
    hd_client_t *c = NULL;
    char err[512] = "";
    if (hd_client_connect_verbose (&cfg, &c, err, sizeof err) != HD_OK)
        fail_msg ("client connect: %s", err);
    if (nodes && hd_client_wait_nodes (c, nodes, 15000) != HD_OK)
        fail_msg ("workers did not join: %s", hd_client_last_error (c));
    return c;
}

static hd_client_t *
s_client (s_fix_t *f, bool plain)
{
    return s_client_n (f, plain, 2);
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

//  A job of n echo tasks through a broker that tampers as `mode` says: every result TAMPERED,
//  none OK, none delivered as data.
static void
s_expect_all_tampered (s_fix_t *f, const char *mode, uint32_t n)
{
    s_start (f, mode);
    hd_client_t *c = s_client (f, false);
    s_tally_t t = s_run_echo_job (c, n);
    assert_int_equal (t.tampered, n);
    assert_int_equal (t.ok + t.other + t.wrong, 0);
    hd_client_destroy (&c);
}

static void
test_sealed_tampered_task_is_never_run (void **state)
{
    s_expect_all_tampered (*state, "task", 300);
}

static void
test_sealed_tampered_result_is_never_delivered (void **state)
{
    s_expect_all_tampered (*state, "result", 300);
}

//  A broker that drops the seal flag: the worker runs the function on the ciphertext and its
//  plain output cannot pass for a sealed result.
static void
test_sealed_stripped_seal_is_never_delivered (void **state)
{
    s_expect_all_tampered (*state, "unseal", 200);
}

//  A fresh board (own key pair in its state directory, no payload key) is approved by an admin
//  whose keys hold payload.cert_secret: the key reaches the board sealed to the board's own key,
//  through the broker, which never holds it in the clear; sealed jobs then run there. After
//  `heddle keys rotate-payload`, the board gets the new key too, and jobs sealed to either run.
static void
s_fresh_worker (s_fix_t *f, const char *state)
{
    char bin[512], bkey[400];
    snprintf (bkey, sizeof bkey, "%s/broker.cert", f->env.keys);
    const char *argv[] = { hd_testenv_bin ("heddle-worker", bin, sizeof bin), "--broker",
                           f->env.workers_ep, "--broker-key", bkey, "--state-dir", state,
                           "--name", "fresh", "--slots", "2", "--log-level", "warn", NULL };
    hd_testenv_spawn (&f->env, argv, NULL);
}

static void
s_cli_ok (s_fix_t *f, const char *a, const char *b, const char *c, const char *d)
{
    const char *argv[] = { "--broker", f->env.clients_ep, "--keys", f->env.keys, a, b, c, d, NULL };
    hd_testcli_t run;
    hd_testcli_run (&run, argv, NULL, 0, 20000);
    if (run.code != 0)
        fail_msg ("heddle %s %s exited %d:\n%s\n%s", a, b ? b : "", run.code, run.out, run.err);
    hd_testcli_fini (&run);
}

//  The worker's public key, from the state directory it made.
static void
s_state_key (const char *state, char key[41])
{
    char path[512];
    snprintf (path, sizeof path, "%s/worker.cert", state);
    for (int i = 0; i < 100 && access (path, R_OK) != 0; i++)
        poll (NULL, 0, 50);  //  bounded wait for another process's file
    char *text = hd_testcli_read_file (path, NULL);
    assert_non_null (text);
    char *at = strstr (text, "public-key = \"");
    assert_non_null (at);
    snprintf (key, 41, "%.40s", at + 14);
    free (text);
}

//  Until the one node offers a payload key tag (granted keys come with the WELCOME that
//  follows its first HELLO; it then says HELLO again with the tag): bounded.
static void
s_wait_keyed (hd_client_t *c, const char *tag)
{
    for (int i = 0; i < 150; i++) {
        hd_node_info_t *nodes = NULL;
        uint32_t n = 0;
        bool keyed = false;
        if (hd_client_nodes (c, &nodes, &n) == HD_OK)
            for (uint32_t k = 0; k < n; k++)
                keyed |= strstr (nodes[k].tags, tag) != NULL;
        free (nodes);
        if (keyed)
            return;
        hd_client_process (c, 100, NULL);
    }
    fail_msg ("the node never offered %s", tag);
}

static void
test_sealed_enrolled_worker_gets_payload_key_through_grants (void **state)
{
    s_fix_t *f = *state;
    hd_testenv_start_broker (&f->env, NULL);
    char st[400], key[41];
    snprintf (st, sizeof st, "%s/state", f->env.dir);
    s_fresh_worker (f, st);
    s_state_key (st, key);
    for (int i = 0; i < 100; i++) {  //  bounded: the worker's first handshake makes it pending
        const char *argv[] = { "nodes", "--broker", f->env.clients_ep, "--keys", f->env.keys,
                               "pending", NULL };
        hd_testcli_t run;
        hd_testcli_run (&run, argv, NULL, 0, 20000);
        bool seen = strstr (run.out, key) != NULL;
        hd_testcli_fini (&run);
        if (seen)
            break;
        poll (NULL, 0, 100);
    }
    s_cli_ok (f, "nodes", "approve", "--", key);

    hd_client_t *c = s_client_n (f, false, 1);
    s_wait_keyed (c, "seal-");
    s_tally_t t = s_run_echo_job (c, 500);
    assert_int_equal (t.ok, 500);
    assert_int_equal (t.wrong + t.tampered + t.other, 0);
    hd_client_destroy (&c);

    //  The broker held the grant, never the payload secret.
    char path[512], secret_line[128];
    snprintf (path, sizeof path, "%s/payload.cert_secret", f->env.keys);
    char *cert = hd_testcli_read_file (path, NULL);
    char *at = strstr (cert, "secret-key = \"");
    assert_non_null (at);
    snprintf (secret_line, sizeof secret_line, "%.40s", at + 14);
    free (cert);
    snprintf (path, sizeof path, "%s/payload.grants", f->env.keys);
    size_t size = 0;
    assert_int_equal (s_grep_file (path, key, &size), 1);
    assert_int_equal (s_grep_file (path, secret_line, NULL), 0);
    assert_int_equal (s_grep_file (f->log, secret_line, NULL), 0);

    //  Rotation: a new pair, granted to every worker key; new clients seal to it.
    s_cli_ok (f, "keys", "rotate-payload", f->env.keys, NULL);
    c = s_client_n (f, false, 1);
    hd_reply_t *r = NULL;
    for (int i = 0; i < 100; i++) {  //  bounded: the worker says HELLO again with the new tag
        assert_int_equal (hd_client_call (c, "echo", "after-rotation", 14, NULL, &r), HD_OK);
        if (r->status == HD_ST_OK)
            break;
        hd_reply_destroy (&r);
        poll (NULL, 0, 100);
    }
    assert_non_null (r);
    assert_int_equal (r->status, HD_ST_OK);
    assert_int_equal (r->size, 14);
    assert_memory_equal (r->data, "after-rotation", 14);
    hd_reply_destroy (&r);
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
        cmocka_unit_test_setup_teardown (test_sealed_stripped_seal_is_never_delivered, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_sealed_enrolled_worker_gets_payload_key_through_grants,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
