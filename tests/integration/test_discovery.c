/*  Integration: zero-touch discovery on a private LAN. Two network namespaces made by this test
    (hd_testnet: a veth pair, 10.79.N.0/24 only inside them) hold a real heddle-broker with
    CURVE and its UDP beacon (namespace A) and heddle-workers started with no broker address
    (namespace B). A fresh worker finds the broker by its beacon, trusts its key on first use
    (and pins it), waits as pending and runs nothing until an admin approves it, then runs
    tasks. Workers whose --broker-fingerprint, pinned key or cluster do not match never
    connect. Clients run inside namespace A, against the broker's loopback.
    Needs root (ip netns); without it the test fails and says so.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <czmq.h>

#include "hd_keys.h"
#include "hd_testenv.h"
#include "hd_testnet.h"

#define S_A 0  //  the broker's namespace (and the clients')
#define S_B 1  //  the workers' namespace
#define S_RUN_MS 15000
#define S_FIND_MS 8000  //  beacons go out every second: a worker finds the broker within this
#define S_WRONG_FP "0000:1111:2222:3333:4444:5555:6666:7777"

static hd_testenv_t s_env;
static hd_testnet_t s_net;
static char s_fingerprint[HD_FINGERPRINT_TEXT], s_broker_key[HD_KEY_TEXT];
static char s_workers_ep[128];  //  as a worker in namespace B must reach it

//  Stop only the processes this test started, then delete its namespaces: also on an early
//  exit (a failed setup, a signal from ctest's timeout).
static void
s_cleanup (void)
{
    if (s_env.dir[0])
        hd_testenv_stop (&s_env);
    s_env.dir[0] = '\0';
    hd_testnet_fini (&s_net);
}

static void
s_on_signal (int sig)
{
    (void) sig;
    s_cleanup ();
    _exit (1);
}

static void
s_path (char *out, size_t len, const char *name)
{
    snprintf (out, len, "%s/%s", s_env.dir, name);
}

static void
s_start_broker (void)
{
    char bin[512], journal[320], out[320], line[512];
    s_path (journal, sizeof journal, "journal");
    s_path (out, sizeof out, "broker.log");
    const char *argv[] = { hd_testenv_bin ("heddle-broker", bin, sizeof bin),
                           "--keys",
                           s_env.keys,
                           "--journal-dir",
                           journal,
                           "--beacon-interface",
                           s_net.ifname[S_A],
                           "--print-endpoints",
                           "--log-level",
                           "info",
                           NULL };
    s_env.broker = hd_testnet_spawn (&s_net, &s_env, S_A, argv, out);
    if (!hd_testnet_wait_file (out, "fingerprint=", 10000))
        fail_msg ("the broker did not report its endpoints within 10 s (see %s)", out);
    FILE *f = fopen (out, "r");
    while (f && fgets (line, sizeof line, f) && !strstr (line, "fingerprint="))
        ;
    if (f)
        fclose (f);
    char *fp = strstr (line, "fingerprint=");
    assert_non_null (fp);
    snprintf (s_fingerprint, sizeof s_fingerprint, "%.39s", fp + 12);
    snprintf (s_workers_ep, sizeof s_workers_ep, "tcp://%s:7701", s_net.addr[S_A]);
}

static int
s_setup (void **state)
{
    (void) state;
    atexit (s_cleanup);
    signal (SIGTERM, s_on_signal);
    signal (SIGINT, s_on_signal);
    hd_testnet_init (&s_net);
    hd_testenv_init (&s_env);
    char cert[320], err[256];
    s_path (cert, sizeof cert, "keys/broker.cert");
    assert_int_equal (hd_keys_load_public (cert, s_broker_key, err, sizeof err), HD_OK);
    s_start_broker ();
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    s_cleanup ();
    return 0;
}

//  A worker in namespace B with its own state directory and no broker address unless `extra`
//  gives one; its log goes to DIR/NAME.log. Returns its pid.
static pid_t
s_start_worker (const char *name, const char *const *extra)
{
    char bin[512], state[320], log[320];
    snprintf (state, sizeof state, "%s/state-%s", s_env.dir, name);
    snprintf (log, sizeof log, "%s/%s.log", s_env.dir, name);
    const char *argv[32] = { hd_testenv_bin ("heddle-worker", bin, sizeof bin),
                             "--state-dir",
                             state,
                             "--name",
                             name,
                             "--slots",
                             "2",
                             "--log-level",
                             "info",
                             "--work-dir",
                             s_env.dir };
    int n = 11;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    return hd_testnet_spawn (&s_net, &s_env, S_B, argv, log);
}

static bool
s_log_says (const char *name, const char *needle, int timeout_ms)
{
    char log[320];
    snprintf (log, sizeof log, "%s/%s.log", s_env.dir, name);
    return hd_testnet_wait_file (log, needle, timeout_ms);
}

//  The end of a log (DIR/NAME.log), shown when a test fails: the directory goes at teardown.
static void
s_show_log (const char *name)
{
    char path[320], text[3000];
    snprintf (path, sizeof path, "%s/%s.log", s_env.dir, name);
    FILE *f = fopen (path, "r");
    if (!f)
        return;
    fseek (f, 0, SEEK_END);
    long size = ftell (f);
    fseek (f, size > (long) sizeof text - 1 ? size - (long) sizeof text + 1 : 0, SEEK_SET);
    size_t n = fread (text, 1, sizeof text - 1, f);
    fclose (f);
    text[n] = '\0';
    print_message ("--- end of %s.log:\n%s\n---\n", name, text);
}

static void
s_expect_log (const char *name, const char *needle, int timeout_ms)
{
    if (!s_log_says (name, needle, timeout_ms)) {
        s_show_log (name);
        fail_msg ("worker %s never logged \"%s\"", name, needle);
    }
}

//  `heddle CMD --broker 127.0.0.1 --keys KEYS ARGS...` inside namespace A (the admin key is
//  picked up from KEYS; the connection options go right after the command word, before any
//  "--"). Returns the exit status; stdout in out.
static int
s_cli (char *out, size_t outlen, const char *const *args)
{
    char bin[512], err[4096];
    const char *argv[32] = { hd_testenv_bin ("heddle", bin, sizeof bin),
                             args[0],
                             "--broker",
                             "127.0.0.1",
                             "--keys",
                             s_env.keys };
    int n = 6;
    for (int i = 1; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int code = hd_testnet_run (&s_net, S_A, argv, out, outlen, err, sizeof err, S_RUN_MS);
    if (code != 0)
        print_message ("(heddle %s: exit %d: %s)\n", args[0], code, err);
    return code;
}

//  The public key a worker made in its state directory (waits for the file).
static void
s_worker_key (const char *name, char key[HD_KEY_TEXT])
{
    char path[400];
    snprintf (path, sizeof path, "%s/state-%s/worker.cert", s_env.dir, name);
    zcert_t *cert = NULL;
    for (int i = 0; i < 250 && !(cert = zcert_load (path)); i++)
        poll (NULL, 0, 20);
    if (!cert)
        fail_msg ("worker %s made no key in its state directory", name);
    snprintf (key, HD_KEY_TEXT, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
}

//  Poll `heddle nodes ARGS` until its output contains needle (true) or ms pass (false).
static bool
s_nodes_show (const char *action, const char *needle, int ms)
{
    static char out[65536];
    for (int waited = 0; waited <= ms; waited += 250) {
        const char *args[] = { "nodes", action ? action : "--json", NULL };
        if (s_cli (out, sizeof out, args) == 0 && strstr (out, needle))
            return true;
        poll (NULL, 0, 250);
    }
    return false;
}

//  A worker that never accepts the broker gives up after --discover-timeout: exit status 1.
static void
s_expect_gives_up (const char *name, pid_t pid)
{
    int status = hd_testenv_kill (&s_env, pid, 0);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 1)
        fail_msg ("worker %s should have given up with status 1 (status 0x%x)", name, status);
    char path[400];
    snprintf (path, sizeof path, "%s/state-%s/worker.cert", s_env.dir, name);
    assert_int_not_equal (access (path, F_OK), 0);  //  never got as far as connecting
    snprintf (path, sizeof path, "%s/state-%s/broker.pin", s_env.dir, name);
    assert_int_not_equal (access (path, F_OK), 0);
}

// --- tests --------------------------------------------------------------------------------

static void
test_discovery_fresh_worker_is_pending_until_approved_then_runs_tasks (void **state)
{
    (void) state;
    char found[512], key[HD_KEY_TEXT], pin[HD_KEY_TEXT], path[400], out[4096];
    const char *extra[] = { "--broker", "auto", NULL };
    s_start_worker ("fresh", extra);
    snprintf (found, sizeof found, "found the broker of cluster heddle at %s", s_workers_ep);
    s_expect_log ("fresh", found, S_FIND_MS);
    //  Trusted on first use, and pinned (just after the worker logs that it found the broker).
    s_worker_key ("fresh", key);
    snprintf (path, sizeof path, "%s/state-fresh", s_env.dir);
    hd_err_t rc = HD_ENOTFOUND;
    for (int i = 0; i < 250 && (rc = hd_keys_read_pin (path, pin)) == HD_ENOTFOUND; i++)
        poll (NULL, 0, 20);
    assert_int_equal (rc, HD_OK);
    assert_string_equal (pin, s_broker_key);
    //  Pending: listed for approval, not a node, runs nothing.
    if (!s_nodes_show ("pending", key, 10000)) {
        s_show_log ("fresh");
        s_show_log ("broker");
        fail_msg ("key %s never listed by `heddle nodes pending`", key);
    }
    //  Long enough for its retries to back off to 4 s: an approval must still take effect (a
    //  blocking HELLO on the refused connection once hung the worker for good here).
    assert_false (s_nodes_show (NULL, "\"fresh\"", 5000));
    const char *call_hi[] = { "call", "--timeout", "2000", "echo", "hi", NULL };
    assert_int_not_equal (s_cli (out, sizeof out, call_hi), 0);
    //  Approved: it joins without a restart and runs tasks.
    const char *approve[] = { "nodes", "approve", "--", key, NULL };
    assert_int_equal (s_cli (out, sizeof out, approve), 0);
    if (!s_nodes_show (NULL, "\"fresh\"", 10000)) {
        s_show_log ("fresh");
        s_show_log ("broker");
        fail_msg ("the approved worker never joined");
    }
    const char *call_sha[] = { "call", "sha256", "hello", NULL };
    assert_int_equal (s_cli (out, sizeof out, call_sha), 0);
    assert_non_null (
        strstr (out, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"));
    const char *call_echo[] = { "call", "--node", "fresh", "echo", "found-by-beacon", NULL };
    assert_int_equal (s_cli (out, sizeof out, call_echo), 0);
    assert_non_null (strstr (out, "found-by-beacon"));
}

static void
test_discovery_wrong_fingerprint_never_connects (void **state)
{
    (void) state;
    char ignored[512];
    //  No --broker at all: discovery is the default.
    const char *extra[] = { "--broker-fingerprint", S_WRONG_FP, "--discover-timeout", "3", NULL };
    pid_t w = s_start_worker ("wrongfp", extra);
    snprintf (ignored, sizeof ignored,
              "ignoring broker at %s: key fingerprint %s differs from --broker-fingerprint %s",
              s_workers_ep, s_fingerprint, S_WRONG_FP);
    s_expect_log ("wrongfp", ignored, S_FIND_MS);
    s_expect_gives_up ("wrongfp", w);
    s_expect_log ("wrongfp", "no broker of cluster heddle found within 3 s", 1000);
}

static void
test_discovery_right_fingerprint_is_accepted_in_any_case (void **state)
{
    (void) state;
    char fp[64], found[512];
    size_t n = 0;
    for (const char *p = s_fingerprint; *p; p++)  //  as typed: upper case, no colons
        if (*p != ':')
            fp[n++] = (char) (*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    fp[n] = '\0';
    const char *extra[] = { "--broker-fingerprint", fp, NULL };
    s_start_worker ("rightfp", extra);
    snprintf (found, sizeof found, "found the broker of cluster heddle at %s (key fingerprint %s",
              s_workers_ep, s_fingerprint);
    s_expect_log ("rightfp", found, S_FIND_MS);
}

static void
test_discovery_broker_other_than_pinned_is_ignored (void **state)
{
    (void) state;
    char dir[320], path[400], other[HD_KEY_TEXT], err[256], ignored[512];
    snprintf (dir, sizeof dir, "%s/state-pinned", s_env.dir);
    assert_int_equal (mkdir (dir, 0700), 0);
    snprintf (path, sizeof path, "%s/keys/client.cert", s_env.dir);  //  any other key
    assert_int_equal (hd_keys_load_public (path, other, err, sizeof err), HD_OK);
    assert_int_equal (hd_keys_pin (dir, other, err, sizeof err), HD_OK);
    const char *extra[] = { "--broker", "auto", "--discover-timeout", "3", NULL };
    pid_t w = s_start_worker ("pinned", extra);
    snprintf (ignored, sizeof ignored,
              "ignoring broker at %s: key fingerprint %s differs from "
              "pinned",
              s_workers_ep, s_fingerprint);
    s_expect_log ("pinned", ignored, S_FIND_MS);
    int status = hd_testenv_kill (&s_env, w, 0);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 1);
    snprintf (path, sizeof path, "%s/worker.cert", dir);
    assert_int_not_equal (access (path, F_OK), 0);
}

static void
test_discovery_broker_of_another_cluster_is_ignored (void **state)
{
    (void) state;
    char ignored[512];
    const char *extra[] = {
        "--cluster", "lab", "--discover-timeout", "3", "--beacon-interface", s_net.ifname[S_B], NULL
    };
    pid_t w = s_start_worker ("lab", extra);
    snprintf (ignored, sizeof ignored,
              "ignoring broker at %s: it serves cluster 'heddle', "
              "not 'lab'",
              s_workers_ep);
    s_expect_log ("lab", ignored, S_FIND_MS);
    s_expect_gives_up ("lab", w);
}

static void
test_discovery_explicit_broker_with_wrong_fingerprint_is_refused (void **state)
{
    (void) state;
    char cert[320];
    s_path (cert, sizeof cert, "keys/broker.cert");
    const char *extra[] = { "--broker", s_workers_ep, "--broker-key", cert, "--broker-fingerprint",
                            S_WRONG_FP, NULL };
    pid_t w = s_start_worker ("explicit", extra);
    s_expect_log ("explicit", "(--broker-fingerprint): refusing it", 5000);
    int status = hd_testenv_kill (&s_env, w, 0);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 1);
    char path[400];
    snprintf (path, sizeof path, "%s/state-explicit/broker.pin", s_env.dir);
    assert_int_not_equal (access (path, F_OK), 0);  //  a refused key is never pinned
}

static void
test_discovery_cli_fingerprint_matches_the_broker (void **state)
{
    (void) state;
    char bin[512], cert[320], out[256] = "";
    s_path (cert, sizeof cert, "keys/broker.cert");
    const char *argv[] = { hd_testenv_bin ("heddle", bin, sizeof bin), "keys", "fingerprint", cert,
                           NULL };
    assert_int_equal (hd_testnet_run (&s_net, S_A, argv, out, sizeof out, NULL, 0, S_RUN_MS), 0);
    out[strcspn (out, "\n")] = '\0';
    assert_string_equal (out, s_fingerprint);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_discovery_fresh_worker_is_pending_until_approved_then_runs_tasks),
        cmocka_unit_test (test_discovery_wrong_fingerprint_never_connects),
        cmocka_unit_test (test_discovery_right_fingerprint_is_accepted_in_any_case),
        cmocka_unit_test (test_discovery_broker_other_than_pinned_is_ignored),
        cmocka_unit_test (test_discovery_broker_of_another_cluster_is_ignored),
        cmocka_unit_test (test_discovery_explicit_broker_with_wrong_fingerprint_is_refused),
        cmocka_unit_test (test_discovery_cli_fingerprint_matches_the_broker),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
