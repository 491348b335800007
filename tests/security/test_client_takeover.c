/*  Security: a second client key cannot take over a victim's session by connecting with the
    victim's session id (routing id). The victim's results wait, unacknowledged, while it is
    away; the attacker connects with its id and asks for a resend. Asserted: the attacker is
    refused DENIED and never receives the victim's output bytes; the victim, back on its
    session, still gets every result.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "hd_hostile.h"

#define S_SECRET "VICTIM-SECRET-OUTPUT-77aa"
#define S_SESSION "victim-session"
#define S_TASKS 3

//  RESULT entries of any id until n arrived or ms passed; each output must hold the secret.
//  With `ping`, a PING {resend: true} every half second, as the client library's heartbeat.
static uint32_t
s_collect (hd_hostile_t *h, uint32_t n, int ms, bool ping)
{
    uint32_t got = 0;
    int64_t end = zclock_mono () + ms;
    while (got < n && zclock_mono () < end) {
        hd_hostile_seen_t seen;
        if (ping)
            hd_hostile_ping (h, true);
        int64_t left = end - zclock_mono ();
        hd_hostile_watch (h, (int) (ping && left > 500 ? 500 : left), NULL, true, NULL, &seen);
        got += seen.results;
        if (seen.results)
            assert_non_null (strstr (seen.output, S_SECRET));
    }
    return got;
}

static void
test_client_session_takeover_by_other_key_fails (void **state)
{
    hd_testenv_t *env = *state;
    hd_testenv_init (env);
    hd_hostile_make_key (env, "mallory");
    hd_testenv_start_broker (env, NULL);
    hd_testenv_start_worker (env, "w1", 2, NULL);
    hd_client_t *c = hd_testenv_client (env, 1);
    hd_client_destroy (&c);

    hd_hostile_t *victim = hd_hostile_connect (env, "client", S_SESSION, 0);
    hd_id_t ids[S_TASKS];
    for (int i = 0; i < S_TASKS; i++) {
        ids[i] = hd_hostile_id ();
        hd_hostile_submit (victim, &ids[i], "echo", S_SECRET);
    }
    hd_hostile_seen_t seen;
    assert_int_equal (s_collect (victim, S_TASKS, 10000, false), S_TASKS);
    hd_hostile_destroy (&victim);  //  away, nothing acknowledged

    hd_hostile_t *attacker = hd_hostile_connect (env, "mallory", S_SESSION, 0);
    zclock_sleep (2100);  //  past the resend interval of the results' first sending
    hd_hostile_ping (attacker, true);
    hd_hostile_watch (attacker, 3000, NULL, false, S_SECRET, &seen);
    assert_false (seen.saw_bytes);
    assert_int_equal (seen.results, 0);
    assert_true (seen.rejected >= 1);
    assert_int_equal (seen.reject_code, HD_ST_DENIED);
    hd_hostile_destroy (&attacker);

    victim = hd_hostile_connect (env, "client", S_SESSION, 0);
    hd_hostile_ping (victim, true);
    assert_int_equal (s_collect (victim, S_TASKS, 5000, false), S_TASKS);
    for (int i = 0; i < S_TASKS; i++)
        hd_hostile_ack (victim, &ids[i]);
    hd_hostile_destroy (&victim);
}

//  Ownership is journaled: after the broker is killed and restarted, the victim's kept results
//  still belong to its key, whatever session id another key connects with.
static void
test_client_ownership_survives_broker_restart (void **state)
{
    hd_testenv_t *env = *state;
    hd_testenv_init (env);
    hd_hostile_make_key (env, "mallory");
    hd_testenv_start_broker (env, NULL);
    pid_t worker = hd_testenv_start_worker (env, "w1", 2, NULL);
    hd_client_t *c = hd_testenv_client (env, 1);
    hd_client_destroy (&c);
    hd_hostile_t *victim = hd_hostile_connect (env, "client", S_SESSION, 0);
    hd_id_t ids[S_TASKS];
    for (int i = 0; i < S_TASKS; i++) {
        ids[i] = hd_hostile_id ();
        hd_hostile_submit (victim, &ids[i], "echo", S_SECRET);
    }
    assert_int_equal (s_collect (victim, S_TASKS, 10000, false), S_TASKS);
    hd_hostile_destroy (&victim);

    //  No worker while the attacker is connected: a result the journal had not committed yet
    //  (only ACCEPT is durable at once) runs again, and must not complete meanwhile.
    hd_testenv_kill (env, worker, SIGKILL);
    hd_testenv_kill (env, env->broker, SIGKILL);
    hd_testenv_restart_broker (env, NULL);
    hd_hostile_t *attacker = hd_hostile_connect (env, "mallory", S_SESSION, 0);
    hd_hostile_ping (attacker, true);
    hd_hostile_submit (attacker, &ids[0], "echo", "anything");
    hd_hostile_seen_t seen;
    hd_hostile_watch (attacker, 3000, NULL, false, S_SECRET, &seen);
    assert_false (seen.saw_bytes);
    assert_int_equal (seen.results, 0);
    assert_int_equal (seen.reject_code, HD_ST_DENIED);
    hd_hostile_destroy (&attacker);

    hd_testenv_start_worker (env, "w1", 2, NULL);
    victim = hd_hostile_connect (env, "client", S_SESSION, 0);
    assert_int_equal (s_collect (victim, S_TASKS, 15000, true), S_TASKS);
    hd_hostile_destroy (&victim);
}

//  The env lives in the test's state, so that teardown stops its processes even when an
//  assertion failed half-way.
static int
s_setup (void **state)
{
    *state = calloc (1, sizeof (hd_testenv_t));
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    hd_testenv_t *env = *state;
    if (env->dir[0])
        hd_testenv_stop (env);
    free (env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_client_session_takeover_by_other_key_fails, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_client_ownership_survives_broker_restart, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
