/*  test_task: the task context: output limit, error text, cancel flag and deadline, reset, and
    the host table given to built-ins.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hd_task.h"

static int
setup (void **state)
{
    static heddle_task_t task;
    hd_task_init (&task);
    hd_task_reset (&task, 0, 0);
    *state = &task;
    return 0;
}

static int
teardown (void **state)
{
    hd_task_fini ((heddle_task_t *) *state);
    return 0;
}

static void
test_task_output_appends (void **state)
{
    heddle_task_t *task = *state;
    assert_int_equal (hd_task_output (task, "ab", 2), 0);
    assert_int_equal (hd_task_output (task, "cd", 2), 0);
    assert_int_equal (task->out.size, 4);
    assert_memory_equal (task->out.data, "abcd", 4);
}

static void
test_task_output_allows_exactly_the_limit (void **state)
{
    heddle_task_t *task = *state;
    hd_task_reset (task, 0, 4);
    assert_int_equal (hd_task_output (task, "abc", 3), 0);
    assert_int_equal (hd_task_output (task, "d", 1), 0);
    assert_int_equal (task->out.size, 4);
}

static void
test_task_output_refuses_past_limit (void **state)
{
    heddle_task_t *task = *state;
    hd_task_reset (task, 0, 4);
    assert_int_equal (hd_task_output (task, "abc", 3), 0);
    assert_int_equal (hd_task_output (task, "de", 2), -1);
    assert_int_equal (task->out.size, 3);  //  unchanged by the refused append
}

static void
test_task_output_refuses_huge_size_without_overflow (void **state)
{
    heddle_task_t *task = *state;
    hd_task_reset (task, 0, 16);
    assert_int_equal (hd_task_output (task, "a", 1), 0);
    assert_int_equal (hd_task_output (task, "b", SIZE_MAX), -1);
}

static void
test_task_fail_formats_error (void **state)
{
    heddle_task_t *task = *state;
    hd_task_fail (task, "bad %s %d", "thing", 42);
    assert_string_equal (task->error, "bad thing 42");
}

static void
test_task_fail_truncates_long_error (void **state)
{
    heddle_task_t *task = *state;
    char text[2000];
    memset (text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    hd_task_fail (task, "%s", text);
    assert_int_equal (strlen (task->error), HD_MAX_ERROR);
}

static void
test_task_not_cancelled_by_default (void **state)
{
    heddle_task_t *task = *state;
    assert_int_equal (hd_task_cancelled (task), 0);
}

static void
test_task_cancelled_by_flag (void **state)
{
    heddle_task_t *task = *state;
    atomic_store (&task->cancel, 1);
    assert_int_not_equal (hd_task_cancelled (task), 0);
}

static void
test_task_cancelled_past_deadline (void **state)
{
    heddle_task_t *task = *state;
    hd_task_reset (task, hd_now_ms () - 1, 0);
    assert_int_not_equal (hd_task_cancelled (task), 0);
}

static void
test_task_not_cancelled_before_deadline (void **state)
{
    heddle_task_t *task = *state;
    hd_task_reset (task, hd_now_ms () + 60000, 0);
    assert_int_equal (hd_task_cancelled (task), 0);
}

static void
test_task_reset_clears_previous_run (void **state)
{
    heddle_task_t *task = *state;
    hd_task_output (task, "x", 1);
    hd_task_fail (task, "old");
    atomic_store (&task->cancel, 2);
    hd_task_reset (task, 0, 0);
    assert_int_equal (task->out.size, 0);
    assert_string_equal (task->error, "");
    //  A cancel that came before the run started stands (the runner clears the flag itself).
    assert_int_not_equal (hd_task_cancelled (task), 0);
}

static void
test_task_host_table_points_at_task_functions (void **state)
{
    (void) state;
    const heddle_host_t *host = hd_task_host ();
    assert_non_null (host);
    assert_int_equal (host->abi, HEDDLE_PLUGIN_ABI);
    assert_true (host->output == hd_task_output);
    assert_true (host->fail == hd_task_fail);
    assert_true (host->cancelled == hd_task_cancelled);
}

static int
s_dummy_fn (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) task;
    (void) input;
    (void) size;
    (void) arg;
    return 0;
}

static void
test_task_host_table_refuses_register (void **state)
{
    (void) state;
    const heddle_host_t *host = hd_task_host ();
    assert_non_null (host->register_fn);
    assert_int_equal (host->register_fn (host->ctx, "name", s_dummy_fn, NULL), -1);
}

static void
test_task_now_is_monotonic (void **state)
{
    (void) state;
    int64_t a = hd_now_ms ();
    int64_t b = hd_now_ms ();
    assert_true (a > 0);
    assert_true (b >= a);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_task_output_appends, setup, teardown),
        cmocka_unit_test_setup_teardown (test_task_output_allows_exactly_the_limit, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_task_output_refuses_past_limit, setup, teardown),
        cmocka_unit_test_setup_teardown (test_task_output_refuses_huge_size_without_overflow, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_task_fail_formats_error, setup, teardown),
        cmocka_unit_test_setup_teardown (test_task_fail_truncates_long_error, setup, teardown),
        cmocka_unit_test_setup_teardown (test_task_not_cancelled_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown (test_task_cancelled_by_flag, setup, teardown),
        cmocka_unit_test_setup_teardown (test_task_cancelled_past_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown (test_task_not_cancelled_before_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown (test_task_reset_clears_previous_run, setup, teardown),
        cmocka_unit_test (test_task_host_table_points_at_task_functions),
        cmocka_unit_test (test_task_host_table_refuses_register),
        cmocka_unit_test (test_task_now_is_monotonic),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
