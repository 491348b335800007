/*  Unit tests for hd_sessions: a session belongs to the key that opened it, another key on the
    same id is refused and inherits nothing, what is pushed goes to the owner's last
    connection only, bounds per session and per key, sessions per key,
    idle expiry and slot reuse, the journal's restore and claim of an owner-less session.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hd_sessions.h"

#define KEY_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define KEY_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static hd_sessions_t *
s_new (uint32_t session_tasks, uint32_t key_tasks, uint32_t key_sessions, uint32_t idle_ms)
{
    hd_sessions_config_t c = { session_tasks, key_tasks, key_sessions, idle_ms };
    hd_sessions_t *s = hd_sessions_new (&c);
    assert_non_null (s);
    return s;
}

//  A message claiming session `id` on connection `conn` under `key`.
static hd_err_t
s_find (hd_sessions_t *s, const char *id, const char *conn, const char *key, int64_t now,
        uint32_t *out)
{
    return hd_sessions_find (s, (const uint8_t *) id, strlen (id), (const uint8_t *) conn,
                             strlen (conn), key, now, out);
}

//  Whether what the broker pushes to the session goes to connection `conn`.
static bool
s_sends_to (hd_sessions_t *s, uint32_t i, const char *conn)
{
    const hd_session_t *x = hd_sessions_at (s, i);
    return x && x->rid_len == strlen (conn) && memcmp (x->rid, conn, x->rid_len) == 0;
}

//  The session `id` on its own connection "conn-<id>".
static uint32_t
s_open (hd_sessions_t *s, const char *id, const char *key, int64_t now)
{
    char conn[300];
    snprintf (conn, sizeof conn, "conn-%s", id);
    uint32_t i = HD_SESSION_NONE;
    assert_int_equal (s_find (s, id, conn, key, now, &i), HD_OK);
    assert_non_null (hd_sessions_at (s, i));
    assert_true (s_sends_to (s, i, conn));
    return i;
}

static void
test_sessions_same_key_same_session (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 0, 0);
    uint32_t a = s_open (s, "c-1", KEY_A, 1);
    uint32_t other = s_open (s, "c-2", KEY_A, 2);  //  defeats the cache
    assert_int_not_equal (a, other);
    assert_int_equal (s_open (s, "c-1", KEY_A, 3), a);
    assert_string_equal (hd_sessions_key (s, a), KEY_A);
    assert_true (hd_sessions_same_owner (s, a, other));
    assert_int_equal (hd_sessions_count (s), 2);
    hd_sessions_destroy (&s);
    assert_null (s);
}

static void
test_sessions_other_key_is_denied_and_inherits_nothing (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 0, 0);
    uint32_t a = s_open (s, "victim", KEY_A, 1);
    assert_int_equal (hd_sessions_hold (s, a), HD_OK);
    uint32_t i = HD_SESSION_NONE;
    //  Another key claiming the id on its own connection: refused, the owner keeps receiving.
    assert_int_equal (s_find (s, "victim", "conn-mallory", KEY_B, 2, &i), HD_EDENIED);
    assert_int_equal (i, a);
    assert_true (s_sends_to (s, a, "conn-victim"));
    assert_string_equal (hd_sessions_key (s, a), KEY_A);
    s_open (s, "elsewhere", KEY_A, 3);
    //  ... on the owner's connection (taken by ROUTER handover): nothing goes there any more.
    assert_int_equal (s_find (s, "victim", "conn-victim", KEY_B, 4, &i), HD_EDENIED);
    assert_int_equal (hd_sessions_at (s, a)->rid_len, 0);
    assert_int_equal (hd_sessions_at (s, a)->held, 1);
    //  The owner speaking again, on any connection, is sent to there.
    assert_int_equal (s_find (s, "victim", "conn-victim-2", KEY_A, 5, &i), HD_OK);
    assert_int_equal (i, a);
    assert_true (s_sends_to (s, a, "conn-victim-2"));
    hd_sessions_destroy (&s);
}

//  A connection speaks for one session: the last one claimed on it. The session it spoke for
//  before, whoever owns it, receives nothing until its owner speaks again.
static void
test_sessions_a_connection_speaks_for_one_session (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 0, 0);
    uint32_t a = s_open (s, "a", KEY_A, 1), b = HD_SESSION_NONE;
    //  Key B holding a's connection (handover) and speaking for its own session "b".
    assert_int_equal (s_find (s, "b", "conn-a", KEY_B, 2, &b), HD_OK);
    assert_true (s_sends_to (s, b, "conn-a"));
    assert_int_equal (hd_sessions_at (s, a)->rid_len, 0);
    //  The owner of "a" comes back on a new connection; "b" keeps its own.
    uint32_t i;
    assert_int_equal (s_find (s, "a", "conn-a2", KEY_A, 3, &i), HD_OK);
    assert_true (s_sends_to (s, a, "conn-a2"));
    assert_true (s_sends_to (s, b, "conn-a"));
    //  A session moving to another connection frees its old one for anybody.
    assert_int_equal (s_find (s, "a", "conn-a3", KEY_A, 4, &i), HD_OK);
    assert_int_equal (s_find (s, "c", "conn-a2", KEY_A, 5, &i), HD_OK);
    assert_true (s_sends_to (s, a, "conn-a3"));
    hd_sessions_destroy (&s);
}

static void
test_sessions_bound_per_session_and_per_key (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (3, 4, 0, 0);
    uint32_t a = s_open (s, "s1", KEY_A, 1), b = s_open (s, "s2", KEY_A, 1);
    uint32_t c = s_open (s, "s3", KEY_B, 1);
    for (int k = 0; k < 3; k++)
        assert_int_equal (hd_sessions_hold (s, a), HD_OK);
    assert_int_equal (hd_sessions_hold (s, a), HD_EFULL);  //  the session's bound
    assert_int_equal (hd_sessions_hold (s, b), HD_OK);
    assert_int_equal (hd_sessions_hold (s, b), HD_EFULL);  //  the key's bound, over sessions
    assert_int_equal (hd_sessions_key_held (s, b), 4);
    assert_int_equal (hd_sessions_hold (s, c), HD_OK);  //  another key is not affected
    hd_sessions_release (s, a);
    assert_int_equal (hd_sessions_hold (s, b), HD_OK);
    hd_sessions_destroy (&s);
}

static void
test_sessions_per_key_session_limit (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 2, 0);
    uint32_t s1 = s_open (s, "s1", KEY_A, 1), s2 = s_open (s, "s2", KEY_A, 1);
    assert_int_equal (hd_sessions_hold (s, s1), HD_OK);
    assert_int_equal (hd_sessions_hold (s, s2), HD_OK);
    uint32_t i;
    assert_int_equal (s_find (s, "s3", "conn-s3", KEY_A, 1, &i), HD_EFULL);
    assert_int_equal (i, HD_SESSION_NONE);
    s_open (s, "s3", KEY_B, 1);  //  another key is not affected
    assert_int_equal (hd_sessions_key_sessions (s, s_open (s, "s1", KEY_A, 1)), 2);
    hd_sessions_destroy (&s);
}

//  At its limit, a key's new session takes the place of its oldest session holding nothing
//  (a command-line tool run in a loop opens one session per run).
static void
test_sessions_limit_forgets_the_oldest_empty_session (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 2, 0);
    uint32_t s1 = s_open (s, "s1", KEY_A, 1), s2 = s_open (s, "s2", KEY_A, 2);
    (void) s1;
    assert_int_equal (hd_sessions_hold (s, s2), HD_OK);
    uint32_t s3 = s_open (s, "s3", KEY_A, 3);
    assert_int_equal (s3, s1);  //  the slot of the forgotten one
    assert_int_equal (hd_sessions_key_sessions (s, s3), 2);
    assert_int_equal (hd_sessions_count (s), 2);
    assert_non_null (hd_sessions_at (s, s2));
    uint32_t s4 = s_open (s, "s4", KEY_A, 4);  //  s3 holds nothing: it goes, s2 stays
    assert_int_equal (hd_sessions_at (s, s2)->held, 1);
    assert_int_equal (hd_sessions_key_sessions (s, s4), 2);
    hd_sessions_destroy (&s);
}

static void
test_sessions_idle_empty_sessions_expire (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 1, 1000);
    uint32_t a = s_open (s, "busy", KEY_A, 0);
    assert_int_equal (hd_sessions_hold (s, a), HD_OK);
    uint32_t b = s_open (s, "idle", KEY_B, 0);
    assert_int_equal (hd_sessions_expire (s, 999), 0);
    assert_int_equal (hd_sessions_expire (s, 1000), 1);  //  "idle"; "busy" holds a task
    assert_null (hd_sessions_at (s, b));
    assert_non_null (hd_sessions_at (s, a));
    //  Its key has no session left: the id is free for any key, the slot is reused.
    assert_int_equal (s_open (s, "idle", KEY_B, 2000), b);
    uint32_t i;
    assert_int_equal (s_find (s, "other", "conn-other", KEY_A, 2000, &i), HD_EFULL);
    hd_sessions_release (s, a);
    assert_int_equal (hd_sessions_expire (s, 5000), 2);
    assert_int_equal (hd_sessions_count (s), 0);
    hd_sessions_destroy (&s);
}

static void
test_sessions_restored_ownerless_session_is_claimed (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 0, 0);
    uint32_t r;
    assert_int_equal (hd_sessions_restore (s, (const uint8_t *) "old", 3, "", 1, &r), HD_OK);
    assert_int_equal (hd_sessions_at (s, r)->rid_len, 0);  //  no connection until it speaks
    hd_sessions_hold_anyway (s, r);
    assert_int_equal (s_open (s, "old", KEY_A, 2), r);
    assert_string_equal (hd_sessions_key (s, r), KEY_A);
    assert_int_equal (hd_sessions_key_held (s, r), 1);
    uint32_t i;
    assert_int_equal (s_find (s, "old", "conn-b", KEY_B, 3, &i), HD_EDENIED);
    hd_sessions_destroy (&s);
}

static void
test_sessions_restore_keeps_the_recorded_owner (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 1, 0);
    uint32_t r, i;
    assert_int_equal (hd_sessions_restore (s, (const uint8_t *) "x", 1, KEY_A, 1, &r), HD_OK);
    hd_sessions_hold_anyway (s, r);
    //  Restoring ignores the sessions-per-key bound.
    assert_int_equal (hd_sessions_restore (s, (const uint8_t *) "y", 1, KEY_A, 1, &i), HD_OK);
    assert_int_equal (hd_sessions_restore (s, (const uint8_t *) "x", 1, KEY_B, 1, &i), HD_EDENIED);
    assert_int_equal (s_find (s, "x", "conn-b", KEY_B, 2, &i), HD_EDENIED);
    assert_int_equal (s_find (s, "x", "conn-a", KEY_A, 3, &i), HD_OK);
    assert_true (s_sends_to (s, r, "conn-a"));
    hd_sessions_destroy (&s);
}

static void
test_sessions_move_between_sessions (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 0, 0);
    uint32_t a = s_open (s, "a", KEY_A, 1), b = s_open (s, "b", KEY_A, 1);
    hd_sessions_hold_anyway (s, a);
    hd_sessions_move (s, a, b);
    assert_int_equal (hd_sessions_at (s, a)->held, 0);
    assert_int_equal (hd_sessions_at (s, b)->held, 1);
    assert_int_equal (hd_sessions_key_held (s, a), 1);
    hd_sessions_release (s, b);
    hd_sessions_release (s, b);  //  never below zero
    assert_int_equal (hd_sessions_key_held (s, a), 0);
    hd_sessions_destroy (&s);
}

static void
test_sessions_rejects_bad_ids (void **state)
{
    (void) state;
    hd_sessions_t *s = s_new (0, 0, 0, 0);
    uint8_t big[300] = { 0 };
    uint32_t i;
    assert_int_equal (hd_sessions_find (s, big, 0, big, 16, KEY_A, 1, &i), HD_EINVAL);
    assert_int_equal (hd_sessions_find (s, big, sizeof big, big, 16, KEY_A, 1, &i), HD_EINVAL);
    assert_int_equal (hd_sessions_find (s, big, 4, big, 0, KEY_A, 1, &i), HD_EINVAL);
    assert_int_equal (hd_sessions_find (s, big, 4, big, sizeof big, KEY_A, 1, &i), HD_EINVAL);
    assert_int_equal (hd_sessions_find (s, big, 4, NULL, 16, KEY_A, 1, &i), HD_EINVAL);
    assert_null (hd_sessions_at (s, 0));
    assert_null (hd_sessions_at (s, HD_SESSION_NONE));
    hd_sessions_destroy (&s);
    hd_sessions_destroy (&s);  //  NULL-safe
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sessions_same_key_same_session),
        cmocka_unit_test (test_sessions_other_key_is_denied_and_inherits_nothing),
        cmocka_unit_test (test_sessions_a_connection_speaks_for_one_session),
        cmocka_unit_test (test_sessions_bound_per_session_and_per_key),
        cmocka_unit_test (test_sessions_per_key_session_limit),
        cmocka_unit_test (test_sessions_limit_forgets_the_oldest_empty_session),
        cmocka_unit_test (test_sessions_idle_empty_sessions_expire),
        cmocka_unit_test (test_sessions_restored_ownerless_session_is_claimed),
        cmocka_unit_test (test_sessions_restore_keeps_the_recorded_owner),
        cmocka_unit_test (test_sessions_move_between_sessions),
        cmocka_unit_test (test_sessions_rejects_bad_ids),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
