/*  Integration: worker enrollment on a real heddle-broker with CURVE. A worker started with
    --state-dir and no worker cert makes its own key pair there; the broker holds that key as
    pending until `heddle nodes approve` (then the worker joins without any restart) or
    `heddle nodes reject` (it never joins). Also --auto-approve, approval across a broker
    restart (the key is in workers.keys), and the worker's pin of the broker key.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

#include <czmq.h>

#include "hd_testcli.h"
#include "hd_testenv.h"

#define S_RUN_MS 20000      //  bound on any one CLI run
#define S_PENDING_MS 10000  //  the broker lists a fresh worker's key within this
#define S_JOIN_MS 10000     //  an approved worker joins within this

static hd_testenv_t s_env;
static char s_state[320];  //  the fresh worker's state directory

static int
s_setup (void **state)
{
    (void) state;
    hd_testenv_init (&s_env);
    snprintf (s_state, sizeof s_state, "%s/state", s_env.dir);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_testenv_stop (&s_env);
    return 0;
}

//  A worker with no worker cert: its key comes from (or is made in) s_state.
static pid_t
s_start_fresh_worker (const char *broker_key)
{
    char bin[512], bkey[320];
    snprintf (bkey, sizeof bkey, "%s/broker.cert", s_env.keys);
    const char *argv[] = { hd_testenv_bin ("heddle-worker", bin, sizeof bin),
                           "--broker",
                           s_env.workers_ep,
                           "--broker-key",
                           broker_key ? broker_key : bkey,
                           "--state-dir",
                           s_state,
                           "--name",
                           "fresh",
                           "--slots",
                           "2",
                           "--log-level",
                           "warn",
                           NULL };
    return hd_testenv_spawn (&s_env, argv, NULL);
}

//  `heddle nodes ARGS... --broker EP --keys KEYS` (the admin key is picked up from KEYS).
static void
s_nodes (hd_testcli_t *run, const char *action, const char *id)
{
    //  "--": a Z85 key may start with '-'.
    const char *argv[] = { "nodes", "--broker", s_env.clients_ep, "--keys", s_env.keys,
                           action, "--", id, NULL };
    hd_testcli_run (run, argv, NULL, 0, S_RUN_MS);
}

static void
s_expect_code (const hd_testcli_t *run, int code)
{
    if (run->code != code)
        fail_msg ("heddle exited %d (want %d); stdout:\n%s\nstderr:\n%s", run->code, code, run->out,
                  run->err);
}

//  Bounded polling of another process's state (files, the broker's lists), not a handshake.
static void
s_pause (int ms)
{
    poll (NULL, 0, ms);
}

//  `heddle CMD --broker EP --keys KEYS ARGS...`.
static void
s_cli (hd_testcli_t *run, const char *cmd, const char *arg1, const char *arg2)
{
    const char *argv[] = { cmd, "--broker", s_env.clients_ep, "--keys", s_env.keys, arg1, arg2,
                           NULL };
    hd_testcli_run (run, argv, NULL, 0, S_RUN_MS);
}

//  Whether node "fresh" is in `heddle nodes` within ms.
static bool
s_joined_within (int ms)
{
    for (int waited = 0; waited <= ms; waited += 250) {
        hd_testcli_t run;
        s_cli (&run, "nodes", "--json", NULL);
        bool there = run.code == 0 && strstr (run.out, "\"fresh\"") != NULL;
        hd_testcli_fini (&run);
        if (there)
            return true;
        s_pause (250);
    }
    return false;
}

//  The public key the worker made, read from its state directory (waits for the file).
static void
s_worker_key (char key[41])
{
    char path[400];
    snprintf (path, sizeof path, "%s/worker.cert", s_state);
    zcert_t *cert = NULL;
    for (int i = 0; i < 500 && !(cert = zcert_load (path)); i++)
        s_pause (20);
    assert_non_null (cert);
    snprintf (key, 41, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
}

//  Poll `heddle nodes pending` until it lists `key`.
static void
s_wait_pending (const char *key)
{
    for (int i = 0; i < S_PENDING_MS / 250; i++) {
        hd_testcli_t run;
        s_nodes (&run, "pending", NULL);
        s_expect_code (&run, 0);
        bool listed = strstr (run.out, key) != NULL;
        hd_testcli_fini (&run);
        if (listed)
            return;
        s_pause (200);
    }
    fail_msg ("key %s never listed by `heddle nodes pending`", key);
}

//  Start the broker (extra args), a client, a fresh worker; return its key once pending.
static void
s_start_pending (const char *const *broker_extra, char key[41])
{
    hd_testenv_start_broker (&s_env, broker_extra);
    s_start_fresh_worker (NULL);
    s_worker_key (key);
    s_wait_pending (key);
}

static void
s_expect_echo_runs (void)
{
    hd_testcli_t run;
    s_cli (&run, "call", "echo", "hello-enrolled");
    s_expect_code (&run, 0);
    assert_non_null (strstr (run.out, "hello-enrolled"));
    hd_testcli_fini (&run);
}

// --- tests --------------------------------------------------------------------------------

static void
test_enroll_fresh_worker_is_pending_and_runs_nothing (void **state)
{
    (void) state;
    char key[41], path[400];
    s_start_pending (NULL, key);
    assert_false (s_joined_within (1500));
    hd_testcli_t run;
    s_cli (&run, "call", "echo", "hi");
    assert_int_not_equal (run.code, 0);  //  no worker offers echo: nothing ran it
    hd_testcli_fini (&run);
    struct stat st;
    snprintf (path, sizeof path, "%s/worker.cert_secret", s_state);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
}

static void
test_enroll_approve_by_prefix_joins_and_runs (void **state)
{
    (void) state;
    char key[41], prefix[9];
    s_start_pending (NULL, key);
    snprintf (prefix, sizeof prefix, "%.8s", key);
    hd_testcli_t run;
    s_nodes (&run, "approve", prefix);
    s_expect_code (&run, 0);
    assert_non_null (strstr (run.out, key));
    hd_testcli_fini (&run);
    assert_true (s_joined_within (S_JOIN_MS));
    s_expect_echo_runs ();
}

//  Issue 12: the Z85 prefix printed before held '(' or '!', and the pasted command broke. The
//  id printed now is hex digits only (a fingerprint prefix), and approve takes it.
static void
test_enroll_approve_by_the_printed_hex_id_joins_and_runs (void **state)
{
    (void) state;
    char key[41], id[64] = "";
    s_start_pending (NULL, key);
    hd_testcli_t run;
    s_nodes (&run, "pending", NULL);
    s_expect_code (&run, 0);
    const char *line = strstr (run.out, key);
    assert_non_null (line);
    while (line > run.out && line[-1] != '\n')
        line--;
    assert_int_equal (sscanf (line, "%63s", id), 1);
    hd_testcli_fini (&run);
    assert_int_equal (strlen (id), 16);
    assert_int_equal (strspn (id, "0123456789abcdef"), 16);
    s_nodes (&run, "approve", id);
    s_expect_code (&run, 0);
    assert_non_null (strstr (run.out, id));
    hd_testcli_fini (&run);
    assert_true (s_joined_within (S_JOIN_MS));
    s_expect_echo_runs ();
}

static void
test_enroll_rejected_key_never_joins (void **state)
{
    (void) state;
    char key[41];
    s_start_pending (NULL, key);
    hd_testcli_t run;
    s_nodes (&run, "reject", key);
    s_expect_code (&run, 0);
    hd_testcli_fini (&run);
    assert_false (s_joined_within (3000));
    s_nodes (&run, "pending", NULL);
    s_expect_code (&run, 0);
    assert_null (strstr (run.out, key));
    hd_testcli_fini (&run);
}

static void
test_enroll_unknown_id_fails (void **state)
{
    (void) state;
    hd_testenv_start_broker (&s_env, NULL);
    hd_testcli_t run;
    s_nodes (&run, "approve", "abcdefgh");
    s_expect_code (&run, 1);
    assert_non_null (strstr (run.err, "no pending key"));
    hd_testcli_fini (&run);
    s_nodes (&run, "approve", "abc");
    s_expect_code (&run, 1);
    hd_testcli_fini (&run);
}

static void
test_enroll_auto_approve_admits_at_once (void **state)
{
    (void) state;
    const char *extra[] = { "--auto-approve", NULL };
    hd_testenv_start_broker (&s_env, extra);
    s_start_fresh_worker (NULL);
    assert_true (s_joined_within (S_JOIN_MS));
    //  No admin approved it, so no one granted it the payload key: sealed tasks are not sent
    //  there (and the refusal says why), plain ones run.
    hd_testcli_t run;
    s_cli (&run, "call", "echo", "hello-enrolled");
    assert_int_equal (run.code, 1);
    assert_non_null (strstr (run.err, "payload key"));
    hd_testcli_fini (&run);
    s_cli (&run, "call", "--plain-payloads", "echo");
    s_expect_code (&run, 0);
    hd_testcli_fini (&run);
    char key[41], path[400];
    s_worker_key (key);
    snprintf (path, sizeof path, "%s/workers.keys", s_env.keys);
    char *list = hd_testcli_read_file (path, NULL);
    assert_non_null (list);
    assert_non_null (strstr (list, key));
    free (list);
}

static void
test_enroll_approval_survives_broker_restart (void **state)
{
    (void) state;
    char key[41];
    s_start_pending (NULL, key);
    hd_testcli_t run;
    s_nodes (&run, "approve", key);
    s_expect_code (&run, 0);
    hd_testcli_fini (&run);
    assert_true (s_joined_within (S_JOIN_MS));
    hd_testenv_kill (&s_env, s_env.broker, SIGTERM);
    hd_testenv_restart_broker (&s_env, NULL);
    assert_true (s_joined_within (S_JOIN_MS));
    s_expect_echo_runs ();
}

static void
test_enroll_worker_keeps_its_key (void **state)
{
    (void) state;
    char first[41], again[41];
    hd_testenv_start_broker (&s_env, NULL);
    pid_t w = s_start_fresh_worker (NULL);
    s_worker_key (first);
    hd_testenv_kill (&s_env, w, SIGTERM);
    s_start_fresh_worker (NULL);
    s_wait_pending (first);
    s_worker_key (again);
    assert_string_equal (first, again);
}

static void
test_enroll_worker_refuses_changed_broker_key (void **state)
{
    (void) state;
    char key[41], other[400], bin[512];
    s_start_pending (NULL, key);                                   //  pins broker.cert
    snprintf (other, sizeof other, "%s/client.cert", s_env.keys);  //  any other public key
    const char *argv[] = { hd_testenv_bin ("heddle-worker", bin, sizeof bin),
                           "--broker",
                           s_env.workers_ep,
                           "--broker-key",
                           other,
                           "--state-dir",
                           s_state,
                           "--name",
                           "fresh2",
                           NULL };
    int fd;
    pid_t w = hd_testenv_spawn_fd (&s_env, argv, &fd, true);
    assert_true (hd_testenv_wait_text (fd, "not the one this worker first trusted", 10000));
    close (fd);
    assert_int_not_equal (hd_testenv_kill (&s_env, w, 0), 0);
}

static void
test_enroll_commands_have_help (void **state)
{
    (void) state;
    const char *actions[] = { "pending", "approve", "reject" };
    for (int i = 0; i < 3; i++) {
        hd_testcli_t run;
        const char *argv[] = { "nodes", actions[i], "--help", NULL };
        hd_testcli_run (&run, argv, NULL, 0, S_RUN_MS);
        s_expect_code (&run, 0);
        char usage[64];
        snprintf (usage, sizeof usage, "Usage: heddle nodes %s", actions[i]);
        assert_non_null (strstr (run.out, usage));
        hd_testcli_fini (&run);
    }
}

static void
test_enroll_needs_admin_key (void **state)
{
    (void) state;
    char cert[400];
    hd_testenv_start_broker (&s_env, NULL);
    snprintf (cert, sizeof cert, "%s/client.cert_secret", s_env.keys);
    const char *argv[] = { "nodes", "--broker", s_env.clients_ep, "--keys", s_env.keys,
                           "--cert", cert, "pending", NULL };
    hd_testcli_t run;
    hd_testcli_run (&run, argv, NULL, 0, S_RUN_MS);
    s_expect_code (&run, 1);
    assert_non_null (strstr (run.err, "denied"));
    hd_testcli_fini (&run);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_enroll_fresh_worker_is_pending_and_runs_nothing,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_approve_by_prefix_joins_and_runs, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_approve_by_the_printed_hex_id_joins_and_runs,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_rejected_key_never_joins, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_unknown_id_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_auto_approve_admits_at_once, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_approval_survives_broker_restart, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_worker_keeps_its_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_commands_have_help, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_needs_admin_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_enroll_worker_refuses_changed_broker_key, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
