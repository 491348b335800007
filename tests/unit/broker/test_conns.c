/*  hd_conns: the count of the broker's connections against its cap, and the cap under an
    open-files limit (a reserve stays for the broker's own files).  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hd_conns.h"

static void
test_conns_cap_keeps_a_reserve_under_the_limit (void **state)
{
    (void) state;
    assert_int_equal (hd_conns_cap (0, 1024), 1024 - HD_CONNS_RESERVE);
    assert_int_equal (hd_conns_cap (0, 1048576), HD_CONNS_DEFAULT_MAX);
    assert_int_equal (hd_conns_cap (100, 1048576), 100);
    assert_int_equal (hd_conns_cap (5000, 1024), 1024 - HD_CONNS_RESERVE);
    assert_int_equal (hd_conns_cap (0, 10), 1);  //  a limit under the reserve: one at a time
}

static void
test_conns_refuses_over_the_cap_until_one_closes (void **state)
{
    (void) state;
    hd_conns_t *c = hd_conns_new (2, 64);
    assert_non_null (c);
    assert_true (hd_conns_accepted (c, 10));
    assert_true (hd_conns_accepted (c, 11));
    assert_false (hd_conns_accepted (c, 12));
    assert_int_equal (hd_conns_count (c), 2);
    assert_int_equal (hd_conns_refused (c), 1);
    hd_conns_closed (c, 12);  //  the refused one goes: nothing changes
    assert_int_equal (hd_conns_count (c), 2);
    hd_conns_closed (c, 10);
    assert_int_equal (hd_conns_count (c), 1);
    assert_true (hd_conns_accepted (c, 12));
    assert_int_equal (hd_conns_count (c), 2);
    hd_conns_destroy (&c);
    assert_null (c);
}

static void
test_conns_counts_a_reused_fd_once (void **state)
{
    (void) state;
    hd_conns_t *c = hd_conns_new (4, 64);
    assert_true (hd_conns_accepted (c, 7));
    assert_true (hd_conns_accepted (c, 7));  //  its close was never seen
    assert_int_equal (hd_conns_count (c), 1);
    hd_conns_closed (c, 7);
    hd_conns_closed (c, 7);
    assert_int_equal (hd_conns_count (c), 0);
    hd_conns_destroy (&c);
}

static void
test_conns_refuses_an_fd_out_of_range (void **state)
{
    (void) state;
    hd_conns_t *c = hd_conns_new (4, 64);
    assert_false (hd_conns_accepted (c, 64));
    assert_false (hd_conns_accepted (c, -1));
    hd_conns_closed (c, 64);
    assert_int_equal (hd_conns_count (c), 0);
    assert_int_equal (hd_conns_refused (c), 2);
    assert_int_equal (hd_conns_max (c), 4);
    hd_conns_destroy (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_conns_cap_keeps_a_reserve_under_the_limit),
        cmocka_unit_test (test_conns_refuses_over_the_cap_until_one_closes),
        cmocka_unit_test (test_conns_counts_a_reused_fd_once),
        cmocka_unit_test (test_conns_refuses_an_fd_out_of_range),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
