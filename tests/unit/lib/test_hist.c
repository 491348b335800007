/*  test_hist: the latency histogram against known distributions: exact low values, percentiles
    within 1% of the true value, exact min/max/mean, merging, clamping, and the empty case.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>  //  after the four above, which it needs

#include <math.h>

#include "hd_hist.h"

static int
s_setup (void **state)
{
    hd_hist_t *hist = hd_hist_new ();
    *state = hist;
    return hist ? 0 : -1;
}

static int
s_teardown (void **state)
{
    hd_hist_t *hist = *state;
    hd_hist_destroy (&hist);
    return 0;
}

static void
s_record_range (hd_hist_t *hist, uint64_t from, uint64_t to)
{
    for (uint64_t v = from; v <= to; v++)
        hd_hist_record (hist, v);
}

static void
s_assert_near (uint64_t got, double want, double tolerance)
{
    double err = fabs ((double) got - want) / want;
    if (err > tolerance)
        fail_msg ("got %llu, want %.1f (error %.3f%% > %.3f%%)", (unsigned long long) got, want,
                  err * 100.0, tolerance * 100.0);
}

static void
test_hist_empty_reports_zero (void **state)
{
    hd_hist_t *hist = *state;
    assert_int_equal (hd_hist_count (hist), 0);
    assert_int_equal (hd_hist_min (hist), 0);
    assert_int_equal (hd_hist_max (hist), 0);
    assert_int_equal (hd_hist_percentile (hist, 50.0), 0);
    assert_true (hd_hist_mean (hist) == 0.0);
}

static void
test_hist_uniform_p50_within_one_percent (void **state)
{
    hd_hist_t *hist = *state;
    s_record_range (hist, 1, 10000);
    s_assert_near (hd_hist_percentile (hist, 50.0), 5000.0, 0.01);
}

static void
test_hist_uniform_tail_percentiles_within_one_percent (void **state)
{
    hd_hist_t *hist = *state;
    s_record_range (hist, 1, 10000);
    s_assert_near (hd_hist_percentile (hist, 90.0), 9000.0, 0.01);
    s_assert_near (hd_hist_percentile (hist, 99.0), 9900.0, 0.01);
    s_assert_near (hd_hist_percentile (hist, 99.9), 9990.0, 0.01);
}

static void
test_hist_uniform_min_max_count_mean_are_exact (void **state)
{
    hd_hist_t *hist = *state;
    s_record_range (hist, 1, 10000);
    assert_int_equal (hd_hist_count (hist), 10000);
    assert_int_equal (hd_hist_min (hist), 1);
    assert_int_equal (hd_hist_max (hist), 10000);
    assert_int_equal (hd_hist_percentile (hist, 100.0), 10000);
    assert_int_equal (hd_hist_percentile (hist, 0.0), 1);
    assert_true (fabs (hd_hist_mean (hist) - 5000.5) < 1e-9);
}

static void
test_hist_small_values_are_exact (void **state)
{
    hd_hist_t *hist = *state;
    s_record_range (hist, 0, 199);  //  200 samples, each value once
    assert_int_equal (hd_hist_percentile (hist, 50.0), 99);
    assert_int_equal (hd_hist_percentile (hist, 25.0), 49);
    assert_int_equal (hd_hist_percentile (hist, 0.5), 0);
}

static void
test_hist_percentile_never_leaves_min_max (void **state)
{
    hd_hist_t *hist = *state;
    hd_hist_record (hist, 1000003);  //  a bucket ~8000 wide: the midpoint is not a sample
    assert_int_equal (hd_hist_percentile (hist, 50.0), 1000003);
    assert_int_equal (hd_hist_percentile (hist, 99.0), 1000003);
}

static void
test_hist_large_values_keep_precision (void **state)
{
    hd_hist_t *hist = *state;
    for (uint64_t v = 1; v <= 1000; v++)
        hd_hist_record (hist, v * 3000000);  //  3 s .. 3000 s
    s_assert_near (hd_hist_percentile (hist, 50.0), 1500000000.0, 0.01);
    s_assert_near (hd_hist_percentile (hist, 99.0), 2970000000.0, 0.01);
}

static void
test_hist_values_past_one_hour_are_clamped_but_max_is_exact (void **state)
{
    hd_hist_t *hist = *state;
    hd_hist_record (hist, 10);
    hd_hist_record (hist, HD_HIST_MAX_USEC * 10);
    assert_int_equal (hd_hist_max (hist), HD_HIST_MAX_USEC * 10);
    assert_int_equal (hd_hist_percentile (hist, 100.0), HD_HIST_MAX_USEC * 10);
    s_assert_near (hd_hist_percentile (hist, 99.0), (double) HD_HIST_MAX_USEC, 0.01);
}

static void
test_hist_bimodal_percentiles_pick_the_right_mode (void **state)
{
    hd_hist_t *hist = *state;
    for (int i = 0; i < 900; i++)
        hd_hist_record (hist, 1000);
    for (int i = 0; i < 100; i++)
        hd_hist_record (hist, 50000);
    s_assert_near (hd_hist_percentile (hist, 90.0), 1000.0, 0.01);
    s_assert_near (hd_hist_percentile (hist, 90.1), 50000.0, 0.01);
}

static void
test_hist_merge_equals_recording_everything (void **state)
{
    hd_hist_t *hist = *state;
    hd_hist_t *other = hd_hist_new ();
    assert_non_null (other);
    s_record_range (hist, 5001, 10000);
    s_record_range (other, 1, 5000);
    hd_hist_merge (hist, other);
    hd_hist_destroy (&other);
    assert_int_equal (hd_hist_count (hist), 10000);
    assert_int_equal (hd_hist_min (hist), 1);
    assert_int_equal (hd_hist_max (hist), 10000);
    s_assert_near (hd_hist_percentile (hist, 50.0), 5000.0, 0.01);
}

static void
test_hist_merge_of_empty_changes_nothing (void **state)
{
    hd_hist_t *hist = *state;
    hd_hist_t *other = hd_hist_new ();
    assert_non_null (other);
    hd_hist_record (hist, 42);
    hd_hist_merge (hist, other);
    hd_hist_destroy (&other);
    assert_int_equal (hd_hist_count (hist), 1);
    assert_int_equal (hd_hist_min (hist), 42);
}

static void
test_hist_reset_forgets_samples (void **state)
{
    hd_hist_t *hist = *state;
    s_record_range (hist, 1, 100);
    hd_hist_reset (hist);
    assert_int_equal (hd_hist_count (hist), 0);
    hd_hist_record (hist, 7);
    assert_int_equal (hd_hist_min (hist), 7);
    assert_int_equal (hd_hist_max (hist), 7);
}

static void
test_hist_destroy_is_null_safe (void **state)
{
    (void) state;
    hd_hist_t *hist = NULL;
    hd_hist_destroy (&hist);
    assert_null (hist);
}

#define S_TEST(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_hist_empty_reports_zero),
        S_TEST (test_hist_uniform_p50_within_one_percent),
        S_TEST (test_hist_uniform_tail_percentiles_within_one_percent),
        S_TEST (test_hist_uniform_min_max_count_mean_are_exact),
        S_TEST (test_hist_small_values_are_exact),
        S_TEST (test_hist_percentile_never_leaves_min_max),
        S_TEST (test_hist_large_values_keep_precision),
        S_TEST (test_hist_values_past_one_hour_are_clamped_but_max_is_exact),
        S_TEST (test_hist_bimodal_percentiles_pick_the_right_mode),
        S_TEST (test_hist_merge_equals_recording_everything),
        S_TEST (test_hist_merge_of_empty_changes_nothing),
        S_TEST (test_hist_reset_forgets_samples),
        cmocka_unit_test (test_hist_destroy_is_null_safe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
