/*  Security: task ids are scoped to the key that submitted them. A second client key that
    learns a victim's task id can neither read the victim's result by submitting the same id
    (its SUBMIT is refused DENIED; the victim still gets its result, the attacker never sees
    the victim's output bytes) nor cancel the victim's task (the victim's task still finishes
    with status OK).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hd_hostile.h"

#define S_SECRET "VICTIM-SECRET-OUTPUT-5e1f"

static void
s_start (hd_testenv_t *env)
{
    hd_testenv_init (env);
    hd_hostile_make_key (env, "mallory");
    hd_testenv_start_broker (env, NULL);
    hd_testenv_start_worker (env, "w1", 2, NULL);
    hd_client_t *c = hd_testenv_client (env, 1);  //  waits for the worker
    hd_client_destroy (&c);
}

static void
test_client_resubmitted_id_of_other_key_is_refused (void **state)
{
    hd_testenv_t *env = *state;
    s_start (env);
    hd_hostile_t *victim = hd_hostile_connect (env, "client", "victim-session", 0);
    hd_id_t id = hd_hostile_id ();
    hd_hostile_submit (victim, &id, "echo", S_SECRET);
    hd_hostile_seen_t seen;
    hd_hostile_watch (victim, 10000, &id, true, NULL, &seen);
    assert_int_equal (seen.results, 1);
    assert_int_equal (seen.status, HD_ST_OK);
    assert_non_null (strstr (seen.output, S_SECRET));  //  kept: the victim does not ACK yet

    hd_hostile_t *attacker = hd_hostile_connect (env, "mallory", "mallory-session", 0);
    hd_hostile_submit (attacker, &id, "echo", "anything");
    hd_hostile_watch (attacker, 2500, &id, false, S_SECRET, &seen);
    assert_false (seen.saw_bytes);
    assert_int_equal (seen.results, 0);
    assert_int_equal (seen.rejected, 1);
    assert_int_equal (seen.reject_code, HD_ST_DENIED);
    hd_hostile_ping (attacker, true);  //  results kept for "its" session: none
    hd_hostile_watch (attacker, 1500, NULL, false, S_SECRET, &seen);
    assert_false (seen.saw_bytes);
    assert_int_equal (seen.results, 0);

    //  More than the resend interval after the first send: the victim's ping resends it.
    hd_hostile_ping (victim, true);
    hd_hostile_watch (victim, 5000, &id, true, NULL, &seen);
    assert_int_equal (seen.results, 1);
    assert_non_null (strstr (seen.output, S_SECRET));
    hd_hostile_ack (victim, &id);

    hd_hostile_destroy (&attacker);
    hd_hostile_destroy (&victim);
}

static void
test_client_cancel_of_other_key_task_is_ignored (void **state)
{
    hd_testenv_t *env = *state;
    s_start (env);
    hd_hostile_t *victim = hd_hostile_connect (env, "client", "victim-session", 0);
    hd_id_t id = hd_hostile_id ();
    hd_hostile_submit (victim, &id, "sleep", "2000");
    hd_hostile_seen_t seen;
    hd_hostile_watch (victim, 500, &id, true, NULL, &seen);  //  queued, then running
    assert_int_equal (seen.results, 0);

    hd_hostile_t *attacker = hd_hostile_connect (env, "mallory", "mallory-session", 0);
    hd_hostile_cancel (attacker, &id);
    hd_hostile_ping (attacker, false);  //  its PONG shows the CANCEL was handled before it
    zmsg_t *pong = NULL;
    for (int i = 0; i < 50 && !pong; i++) {
        pong = hd_hostile_recv (attacker, 100);
        if (pong && hd_hostile_cmd (pong) != HD_CMD_PONG)
            zmsg_destroy (&pong);
    }
    assert_non_null (pong);
    zmsg_destroy (&pong);

    hd_hostile_watch (victim, 10000, &id, true, NULL, &seen);
    assert_int_equal (seen.results, 1);
    assert_int_equal (seen.status, HD_ST_OK);  //  ran to its end, not CANCELLED
    hd_hostile_ack (victim, &id);

    hd_hostile_destroy (&attacker);
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
        cmocka_unit_test_setup_teardown (test_client_resubmitted_id_of_other_key_is_refused,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_cancel_of_other_key_task_is_ignored, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
