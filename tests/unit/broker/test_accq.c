/*  Unit tests for hd_accq: entries become due only once a commit covers them, a failed commit
    puts its range back, removal keeps the ranges consistent, the delay and batch rules.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hd_accq.h"

static hd_id_t
s_id (uint8_t n)
{
    hd_id_t id = { { n } };
    return id;
}

static void
s_push (hd_accq_t *q, uint32_t client, uint8_t n, int64_t now)
{
    hd_id_t id = s_id (n);
    assert_int_equal (hd_accq_push (q, client, &id, now), HD_OK);
}

static void
test_accq_nothing_due_before_a_commit (void **state)
{
    (void) state;
    hd_accq_t q;
    hd_accq_init (&q);
    s_push (&q, 0, 1, 100);
    assert_int_equal (hd_accq_due_in (&q, 100), -1);
    hd_accq_commit_begin (&q);
    s_push (&q, 0, 2, 101);  //  after the commit began: waits for the next one
    assert_int_equal (q.flight, 1);
    hd_accq_durable_to (&q, q.flight);
    assert_int_equal (q.durable, 1);
    assert_int_equal (hd_accq_due_in (&q, 101), HD_ACCQ_DELAY_MS - 1);
    assert_int_equal (hd_accq_due_in (&q, 100 + HD_ACCQ_DELAY_MS + 1), 0);
    hd_accq_sent (&q, 110);
    assert_int_equal (q.count, 1);
    assert_int_equal (q.durable, 0);
    assert_int_equal (q.items[0].id.b[0], 2);
    hd_accq_fini (&q);
    hd_accq_fini (&q);  //  harmless twice
}

static void
test_accq_failed_commit_puts_its_range_back (void **state)
{
    (void) state;
    hd_accq_t q;
    hd_accq_init (&q);
    s_push (&q, 0, 1, 0);
    hd_accq_commit_begin (&q);
    hd_accq_durable_to (&q, 1);
    s_push (&q, 1, 2, 0);
    s_push (&q, 1, 3, 0);
    hd_accq_commit_begin (&q);
    assert_int_equal (q.flight, 3);
    //  The disk is full: the broker refuses [durable, flight) and removes it.
    hd_accq_remove (&q, q.durable, q.flight);
    hd_accq_flight_failed (&q);
    assert_int_equal (q.count, 1);
    assert_int_equal (q.durable, 1);
    assert_int_equal (q.flight, 1);
    assert_int_equal (q.items[0].id.b[0], 1);  //  the durable one is still answered
    hd_accq_fini (&q);
}

static void
test_accq_remove_keeps_ranges_consistent (void **state)
{
    (void) state;
    hd_accq_t q;
    hd_accq_init (&q);
    for (uint8_t i = 0; i < 6; i++)
        s_push (&q, i, i, 0);
    q.durable = 2;
    q.flight = 4;
    hd_accq_remove (&q, 1, 3);  //  straddles durable
    assert_int_equal (q.count, 4);
    assert_int_equal (q.durable, 1);
    assert_int_equal (q.flight, 2);
    assert_int_equal (q.items[1].id.b[0], 3);
    hd_accq_remove (&q, 3, 10);  //  past the end: clamped
    assert_int_equal (q.count, 3);
    hd_accq_remove (&q, 2, 2);  //  empty: nothing
    assert_int_equal (q.count, 3);
    hd_accq_fini (&q);
}

static void
test_accq_a_full_batch_is_due_at_once (void **state)
{
    (void) state;
    hd_accq_t q;
    hd_accq_init (&q);
    for (uint32_t i = 0; i < HD_ACCQ_BATCH; i++)
        s_push (&q, 0, (uint8_t) i, 50);
    hd_accq_durable_to (&q, q.count + 7);  //  clamped to what is queued
    assert_int_equal (q.durable, HD_ACCQ_BATCH);
    assert_int_equal (hd_accq_due_in (&q, 50), 0);
    hd_accq_fini (&q);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_accq_nothing_due_before_a_commit),
        cmocka_unit_test (test_accq_failed_commit_puts_its_range_back),
        cmocka_unit_test (test_accq_remove_keeps_ranges_consistent),
        cmocka_unit_test (test_accq_a_full_batch_is_due_at_once),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
