/*  Security: a second client key cannot take over a victim's session by claiming the victim's
    session id. The victim's results wait, unacknowledged, while it is away; the attacker
    connects with its id and asks for a resend. Asserted: the attacker is refused DENIED and
    never receives the victim's output bytes; the victim, back on its session, still gets every
    result. And an attacker that connects on the victim's session id and never sends anything
    (the routing id the client library used to connect with, taken by ROUTER handover, or the
    session claimed in the connection property) is pushed nothing: results go only to the
    connection the owner last spoke on.  */
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

//  Silent attackers: another key's connections on the victim's session id, one claiming it in
//  the X-Session property on its own routing id, one also taking the routing id
//  "victim-session" by ROUTER handover (the client library connected with its session id as
//  routing id before sessions were claimed in a property). Neither ever sends a message, so the broker never
//  refuses them; the victim's results complete while they are connected. They must receive
//  nothing at all, and the victim every result.
static void
test_client_silent_connection_on_victims_session_gets_nothing (void **state)
{
    hd_testenv_t *env = *state;
    hd_testenv_init (env);
    hd_hostile_make_key (env, "mallory");
    hd_testenv_start_broker (env, NULL);
    pid_t worker = hd_testenv_start_worker (env, "w1", 2, NULL);
    hd_client_t *c = hd_testenv_client (env, 1);  //  echo is offered: its tasks wait for w1
    hd_client_destroy (&c);
    hd_testenv_kill (env, worker, SIGKILL);

    //  The victim is the client library, on a named session (a program that resumes one).
    hd_client_config_t cfg = { .endpoint = env->clients_ep, .keys_dir = env->keys,
                               .session = S_SESSION };
    hd_client_t *victim = NULL;
    assert_int_equal (hd_client_connect (&cfg, &victim), HD_OK);
    for (uint64_t i = 0; i < S_TASKS; i++)
        assert_int_equal (hd_client_submit (victim, "echo", S_SECRET, strlen (S_SECRET), NULL,
                                            i, NULL), HD_OK);
    assert_int_equal (hd_client_flush (victim), HD_OK);
    int64_t end = zclock_mono () + 10000;
    while (hd_client_unaccepted (victim) && zclock_mono () < end)
        assert_int_equal (hd_client_process (victim, 100, NULL), HD_OK);
    assert_int_equal (hd_client_unaccepted (victim), 0);  //  queued, waiting for a worker

    hd_hostile_t *by_property = hd_hostile_connect (env, "mallory", S_SESSION, 0);
    hd_hostile_t *by_route = hd_hostile_connect_rid (env, "mallory", S_SESSION, S_SESSION, 0);
    zclock_sleep (500);  //  both handshakes done: they hold their routes
    hd_testenv_start_worker (env, "w1", 2, NULL);
    for (int i = 0; i < S_TASKS; i++) {
        hd_reply_t *r = NULL;
        assert_int_equal (hd_client_next (victim, 15000, &r), HD_OK);
        assert_int_equal (r->status, HD_ST_OK);
        assert_string_equal (r->data, S_SECRET);
        hd_reply_destroy (&r);
    }
    hd_hostile_t *attackers[] = { by_property, by_route };
    for (int k = 0; k < 2; k++) {
        hd_hostile_seen_t seen;
        hd_hostile_watch (attackers[k], k ? 200 : 1000, NULL, false, S_SECRET, &seen);
        assert_int_equal (seen.messages, 0);
        assert_false (seen.saw_bytes);
        hd_hostile_destroy (&attackers[k]);
    }
    hd_client_destroy (&victim);
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
        cmocka_unit_test_setup_teardown (test_client_silent_connection_on_victims_session_gets_nothing,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_ownership_survives_broker_restart, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
