/*  Security: bounds per client key. A key's tasks + unacknowledged results are bounded over all
    its sessions (--max-key-tasks), not only per session, and a key holds at most
    --max-key-sessions sessions that hold something: more sessions do not buy more room.
    Another key is not affected by the first one's bounds.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hd_hostile.h"

#define S_SESSIONS 3
#define S_PER_SESSION 5

static void
s_start (hd_testenv_t *env, const char *option, const char *value)
{
    hd_testenv_init (env);
    hd_hostile_make_key (env, "mallory");
    const char *extra[] = { option, value, NULL };
    hd_testenv_start_broker (env, extra);
    hd_testenv_start_worker (env, "w1", 1, NULL);
    hd_client_t *c = hd_testenv_client (env, 1);
    hd_client_destroy (&c);
}

//  Each session submits S_PER_SESSION tasks that outlast the test; counts what was accepted
//  and refused BUSY over all of them.
static void
s_submit_from_sessions (hd_testenv_t *env, hd_hostile_t **h, uint32_t *accepted, uint32_t *busy)
{
    *accepted = *busy = 0;
    for (int k = 0; k < S_SESSIONS; k++) {
        char rid[32];
        snprintf (rid, sizeof rid, "session-%d", k);
        h[k] = hd_hostile_connect (env, "client", rid, 0);
        for (int i = 0; i < S_PER_SESSION; i++) {
            hd_id_t id = hd_hostile_id ();
            hd_hostile_submit (h[k], &id, "sleep", "25000");
        }
        hd_hostile_seen_t seen;
        hd_hostile_watch (h[k], 1500, NULL, false, NULL, &seen);
        *accepted += seen.accepted;
        *busy += seen.busy;
    }
}

static void
s_other_key_still_served (hd_testenv_t *env)
{
    hd_hostile_t *other = hd_hostile_connect (env, "mallory", "other", 0);
    hd_id_t id = hd_hostile_id ();
    hd_hostile_submit (other, &id, "sleep", "25000");
    hd_hostile_seen_t seen;
    hd_hostile_watch (other, 1500, NULL, false, NULL, &seen);
    assert_int_equal (seen.accepted, 1);
    assert_int_equal (seen.busy, 0);
    hd_hostile_destroy (&other);
}

static void
test_client_task_bound_is_per_key_across_sessions (void **state)
{
    hd_testenv_t *env = *state;
    s_start (env, "--max-key-tasks", "10");
    hd_hostile_t *h[S_SESSIONS];
    uint32_t accepted, busy;
    s_submit_from_sessions (env, h, &accepted, &busy);
    assert_int_equal (accepted, 10);
    assert_int_equal (busy, S_SESSIONS * S_PER_SESSION - 10);
    s_other_key_still_served (env);
    for (int k = 0; k < S_SESSIONS; k++)
        hd_hostile_destroy (&h[k]);
}

static void
test_client_sessions_per_key_are_bounded (void **state)
{
    hd_testenv_t *env = *state;
    s_start (env, "--max-key-sessions", "2");
    hd_hostile_t *h[S_SESSIONS];
    uint32_t accepted, busy;
    s_submit_from_sessions (env, h, &accepted, &busy);
    //  Two sessions hold tasks; the third is refused (each of its messages: BUSY).
    assert_int_equal (accepted, 2 * S_PER_SESSION);
    assert_int_equal (busy, S_PER_SESSION);
    s_other_key_still_served (env);
    for (int k = 0; k < S_SESSIONS; k++)
        hd_hostile_destroy (&h[k]);
}

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
        cmocka_unit_test_setup_teardown (test_client_task_bound_is_per_key_across_sessions, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_client_sessions_per_key_are_bounded, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
