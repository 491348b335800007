/*  hd_ratelog: the first event of a spell is logged, the rest of the window only counted, and
    one summary carries the count (with the source, or "several") when the window closes.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "hd_ratelog.h"

static void
test_ratelog_logs_the_first_event_and_counts_the_rest (void **state)
{
    (void) state;
    hd_ratelog_t r;
    hd_ratelog_init (&r, 10000);
    assert_true (hd_ratelog_hit (&r, 1000, "127.0.0.1", 1));
    for (int i = 0; i < 3911; i++)
        assert_false (hd_ratelog_hit (&r, 1000 + i, "127.0.0.1", 1));
    hd_ratelog_summary_t s;
    assert_false (hd_ratelog_flush (&r, 10999, &s));  //  the window is still open
    assert_true (hd_ratelog_flush (&r, 11000, &s));
    assert_int_equal (s.count, 3912);
    assert_int_equal (s.amount, 3912);
    assert_int_equal (s.seconds, 10);
    assert_string_equal (s.source, "127.0.0.1");
    assert_false (s.mixed);
    assert_int_equal (r.total, 3912);
}

static void
test_ratelog_a_lone_event_needs_no_summary (void **state)
{
    (void) state;
    hd_ratelog_t r;
    hd_ratelog_init (&r, 10000);
    assert_true (hd_ratelog_hit (&r, 0, NULL, 5));
    hd_ratelog_summary_t s;
    assert_false (hd_ratelog_flush (&r, 20000, &s));
    //  The window closed: the next event opens a new one and is logged in full again.
    assert_true (hd_ratelog_hit (&r, 20001, NULL, 5));
    assert_false (hd_ratelog_flush (&r, 20002, &s));
}

static void
test_ratelog_a_flood_costs_two_lines_per_window (void **state)
{
    (void) state;
    hd_ratelog_t r;
    hd_ratelog_init (&r, 10000);
    hd_ratelog_summary_t s;
    int lines = 0;
    for (int64_t t = 0; t < 60000; t++) {  //  one event every ms for a minute
        lines += hd_ratelog_flush (&r, t, &s);
        lines += hd_ratelog_hit (&r, t, "10.0.0.9", 1);
    }
    lines += hd_ratelog_flush (&r, 70000, &s);
    assert_int_equal (lines, 12);
    assert_int_equal (r.total, 60000);
}

static void
test_ratelog_says_when_sources_differ_and_sums_amounts (void **state)
{
    (void) state;
    hd_ratelog_t r;
    hd_ratelog_init (&r, 1000);
    assert_true (hd_ratelog_hit (&r, 0, "10.0.0.1", 3));
    assert_false (hd_ratelog_hit (&r, 10, "10.0.0.2", 4));
    hd_ratelog_summary_t s;
    assert_true (hd_ratelog_flush (&r, 1500, &s));
    assert_int_equal (s.count, 2);
    assert_int_equal (s.amount, 7);
    assert_int_equal (s.seconds, 2);
    assert_true (s.mixed);
}

static void
test_ratelog_count_text_groups_thousands (void **state)
{
    (void) state;
    char text[27];
    assert_string_equal (hd_ratelog_count_text (0, text), "0");
    assert_string_equal (hd_ratelog_count_text (999, text), "999");
    assert_string_equal (hd_ratelog_count_text (3912, text), "3,912");
    assert_string_equal (hd_ratelog_count_text (52000, text), "52,000");
    assert_string_equal (hd_ratelog_count_text (1234567, text), "1,234,567");
    assert_string_equal (hd_ratelog_count_text (UINT64_MAX, text), "18,446,744,073,709,551,615");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_ratelog_logs_the_first_event_and_counts_the_rest),
        cmocka_unit_test (test_ratelog_a_lone_event_needs_no_summary),
        cmocka_unit_test (test_ratelog_a_flood_costs_two_lines_per_window),
        cmocka_unit_test (test_ratelog_says_when_sources_differ_and_sums_amounts),
        cmocka_unit_test (test_ratelog_count_text_groups_thousands),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
