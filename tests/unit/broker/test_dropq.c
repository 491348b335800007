/*  Unit tests for hd_dropq: a deferred DROP leaves only through a store sync that covers it
    (one begun after it was queued waits for the next), in order; a failed sync puts its range
    back, due at once; a released job's entries leave from anywhere with the ranges kept
    consistent; the cadence and the bound that make a sync due.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hd_dropq.h"

typedef struct {
    uint8_t seen[64];
    uint32_t n;
} s_log_t;

static void
s_note (const hd_dropq_item_t *item, void *arg)
{
    s_log_t *log = arg;
    log->seen[log->n++] = item->id.b[0];
}

static void
s_push (hd_dropq_t *q, uint8_t n, uint32_t slot, int64_t now)
{
    hd_id_t id = { { n } };
    assert_int_equal (hd_dropq_push (q, &id, slot, now), HD_OK);
}

static void
test_dropq_only_a_covering_sync_releases (void **state)
{
    (void) state;
    hd_dropq_t q;
    hd_dropq_init (&q);
    assert_int_equal (hd_dropq_due_in (&q, 0, 100), -1);
    s_push (&q, 1, 0, 1000);
    s_push (&q, 2, 1, 1010);
    assert_int_equal (hd_dropq_due_in (&q, 1050, 100), 50);  //  the oldest waits 100 ms
    assert_int_equal (hd_dropq_due_in (&q, 1100, 100), 0);
    hd_dropq_sync_begin (&q);
    assert_int_equal (hd_dropq_due_in (&q, 1100, 100), -1);  //  all in flight
    s_push (&q, 3, 0, 1120);  //  stored after the sync began: not covered by it
    assert_int_equal (hd_dropq_waiting (&q), 1);
    assert_int_equal (hd_dropq_due_in (&q, 1150, 100), 70);
    s_log_t log = { { 0 }, 0 };
    hd_dropq_synced (&q, s_note, &log);
    assert_int_equal (log.n, 2);
    assert_int_equal (log.seen[0], 1);
    assert_int_equal (log.seen[1], 2);
    assert_int_equal (q.count, 1);
    assert_int_equal (q.flight, 0);
    hd_dropq_synced (&q, s_note, &log);  //  no sync began since: nothing leaves
    assert_int_equal (log.n, 2);
    hd_dropq_sync_begin (&q);
    hd_dropq_synced (&q, s_note, &log);
    assert_int_equal (log.n, 3);
    assert_int_equal (log.seen[2], 3);
    assert_int_equal (q.count, 0);
    hd_dropq_fini (&q);
    hd_dropq_fini (&q);  //  harmless twice
}

static void
test_dropq_failed_sync_waits_again_due_at_once (void **state)
{
    (void) state;
    hd_dropq_t q;
    hd_dropq_init (&q);
    s_push (&q, 1, 0, 500);
    hd_dropq_sync_begin (&q);
    s_push (&q, 2, 0, 510);
    hd_dropq_sync_failed (&q);
    assert_int_equal (q.flight, 0);
    assert_int_equal (hd_dropq_waiting (&q), 2);
    assert_int_equal (hd_dropq_due_in (&q, 511, 100000), 0);
    s_log_t log = { { 0 }, 0 };
    hd_dropq_synced (&q, s_note, &log);  //  nothing in flight: nothing leaves
    assert_int_equal (log.n, 0);
    hd_dropq_fini (&q);
}

static void
test_dropq_take_slot_keeps_order_and_ranges (void **state)
{
    (void) state;
    hd_dropq_t q;
    hd_dropq_init (&q);
    s_push (&q, 1, 7, 0);
    s_push (&q, 2, 3, 0);
    s_push (&q, 3, 7, 0);
    hd_dropq_sync_begin (&q);  //  [1 2 3] in flight
    s_push (&q, 4, 3, 0);
    s_push (&q, 5, 7, 0);
    s_log_t log = { { 0 }, 0 };
    assert_int_equal (hd_dropq_take_slot (&q, 7, s_note, &log), 3);
    assert_int_equal (log.n, 3);
    assert_memory_equal (log.seen, "\x01\x03\x05", 3);
    assert_int_equal (q.count, 2);
    assert_int_equal (q.flight, 1);  //  2 is still in flight, 4 waits
    assert_int_equal (q.items[0].id.b[0], 2);
    assert_int_equal (q.items[1].id.b[0], 4);
    assert_int_equal (hd_dropq_take_slot (&q, 9, s_note, &log), 0);
    log.n = 0;
    hd_dropq_synced (&q, s_note, &log);
    assert_int_equal (log.n, 1);
    assert_int_equal (log.seen[0], 2);
    assert_int_equal (q.items[0].id.b[0], 4);
    hd_dropq_fini (&q);
}

static void
test_dropq_the_bound_makes_a_sync_due (void **state)
{
    (void) state;
    hd_dropq_t q;
    hd_dropq_init (&q);
    for (uint32_t i = 0; i < HD_DROPQ_SOFT - 1; i++)
        s_push (&q, (uint8_t) i, 0, 0);
    assert_true (hd_dropq_due_in (&q, 0, 60000) > 0);
    s_push (&q, 0, 0, 0);
    assert_int_equal (hd_dropq_due_in (&q, 0, 60000), 0);
    assert_int_equal (q.count, HD_DROPQ_SOFT);
    hd_dropq_fini (&q);
}

//  A store sync with nothing queued, on a queue that never allocated (the broker syncs its
//  stores before a compaction whatever waits): nothing happens, and nothing touches the
//  absent array (UBSan: memmove given NULL).
static void
test_dropq_sync_of_an_empty_queue (void **state)
{
    (void) state;
    hd_dropq_t q;
    hd_dropq_init (&q);
    s_log_t log = { 0 };
    hd_dropq_sync_begin (&q);
    hd_dropq_synced (&q, s_note, &log);
    assert_int_equal (hd_dropq_take_slot (&q, 0, s_note, &log), 0);
    hd_dropq_sync_begin (&q);
    hd_dropq_sync_failed (&q);
    assert_int_equal (log.n, 0);
    assert_int_equal (hd_dropq_due_in (&q, 0, 100), -1);
    hd_dropq_fini (&q);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_dropq_only_a_covering_sync_releases),
        cmocka_unit_test (test_dropq_failed_sync_waits_again_due_at_once),
        cmocka_unit_test (test_dropq_take_slot_keeps_order_and_ranges),
        cmocka_unit_test (test_dropq_the_bound_makes_a_sync_due),
        cmocka_unit_test (test_dropq_sync_of_an_empty_queue),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
