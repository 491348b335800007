/*  test_fnreg: the function table: add, find, order, name rules, duplicates and the size limit.
    Plugin loading is in test_plugin.c.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hd_fnreg.h"

static int
s_fn_a (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) task;
    (void) input;
    (void) size;
    (void) arg;
    return 0;
}

static int
s_fn_b (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) task;
    (void) input;
    (void) size;
    (void) arg;
    return 1;
}

static int
setup (void **state)
{
    *state = hd_fnreg_new ();
    return *state ? 0 : -1;
}

static int
teardown (void **state)
{
    hd_fnreg_t *reg = *state;
    hd_fnreg_destroy (&reg);
    return 0;
}

static void
test_fnreg_new_is_empty (void **state)
{
    hd_fnreg_t *reg = *state;
    assert_int_equal (hd_fnreg_count (reg), 0);
    assert_null (hd_fnreg_find (reg, "echo"));
}

static void
test_fnreg_add_then_find (void **state)
{
    hd_fnreg_t *reg = *state;
    int arg = 7;
    assert_int_equal (hd_fnreg_add (reg, "my.fn-1_x", s_fn_a, &arg), HD_OK);
    const hd_fnentry_t *entry = hd_fnreg_find (reg, "my.fn-1_x");
    assert_non_null (entry);
    assert_string_equal (entry->name, "my.fn-1_x");
    assert_true (entry->fn == s_fn_a);
    assert_ptr_equal (entry->arg, &arg);
}

static void
test_fnreg_find_unknown_is_null (void **state)
{
    hd_fnreg_t *reg = *state;
    assert_int_equal (hd_fnreg_add (reg, "alpha", s_fn_a, NULL), HD_OK);
    assert_null (hd_fnreg_find (reg, "alph"));
    assert_null (hd_fnreg_find (reg, "alphabet"));
}

static void
test_fnreg_at_keeps_registration_order (void **state)
{
    hd_fnreg_t *reg = *state;
    assert_int_equal (hd_fnreg_add (reg, "zeta", s_fn_a, NULL), HD_OK);
    assert_int_equal (hd_fnreg_add (reg, "alpha", s_fn_b, NULL), HD_OK);
    assert_int_equal (hd_fnreg_count (reg), 2);
    assert_string_equal (hd_fnreg_at (reg, 0)->name, "zeta");
    assert_string_equal (hd_fnreg_at (reg, 1)->name, "alpha");
    assert_true (hd_fnreg_at (reg, 1)->fn == s_fn_b);
}

static void
test_fnreg_rejects_duplicate (void **state)
{
    hd_fnreg_t *reg = *state;
    assert_int_equal (hd_fnreg_add (reg, "dup", s_fn_a, NULL), HD_OK);
    assert_int_equal (hd_fnreg_add (reg, "dup", s_fn_b, NULL), HD_EINVAL);
    assert_int_equal (hd_fnreg_count (reg), 1);
    assert_true (hd_fnreg_find (reg, "dup")->fn == s_fn_a);
}

static void
test_fnreg_rejects_empty_name (void **state)
{
    hd_fnreg_t *reg = *state;
    assert_int_equal (hd_fnreg_add (reg, "", s_fn_a, NULL), HD_EINVAL);
    assert_int_equal (hd_fnreg_count (reg), 0);
}

static void
test_fnreg_rejects_bad_characters (void **state)
{
    hd_fnreg_t *reg = *state;
    assert_int_equal (hd_fnreg_add (reg, "has space", s_fn_a, NULL), HD_EINVAL);
    assert_int_equal (hd_fnreg_add (reg, "slash/name", s_fn_a, NULL), HD_EINVAL);
    assert_int_equal (hd_fnreg_add (reg, "caf\xc3\xa9", s_fn_a, NULL), HD_EINVAL);
    assert_int_equal (hd_fnreg_count (reg), 0);
}

static void
test_fnreg_accepts_longest_name (void **state)
{
    hd_fnreg_t *reg = *state;
    char name[HD_MAX_FN + 1];
    memset (name, 'n', HD_MAX_FN);
    name[HD_MAX_FN] = '\0';
    assert_int_equal (hd_fnreg_add (reg, name, s_fn_a, NULL), HD_OK);
    assert_non_null (hd_fnreg_find (reg, name));
}

static void
test_fnreg_rejects_too_long_name (void **state)
{
    hd_fnreg_t *reg = *state;
    char name[HD_MAX_FN + 2];
    memset (name, 'n', HD_MAX_FN + 1);
    name[HD_MAX_FN + 1] = '\0';
    assert_int_equal (hd_fnreg_add (reg, name, s_fn_a, NULL), HD_EINVAL);
}

static void
test_fnreg_rejects_null_function (void **state)
{
    hd_fnreg_t *reg = *state;
    assert_int_equal (hd_fnreg_add (reg, "nofn", NULL, NULL), HD_EINVAL);
}

static void
test_fnreg_full_past_max (void **state)
{
    hd_fnreg_t *reg = *state;
    char name[32];
    for (int i = 0; i < HD_MAX_FNS; i++) {
        snprintf (name, sizeof name, "fn%d", i);
        assert_int_equal (hd_fnreg_add (reg, name, s_fn_a, NULL), HD_OK);
    }
    assert_int_equal (hd_fnreg_add (reg, "one_more", s_fn_a, NULL), HD_EFULL);
    assert_int_equal (hd_fnreg_count (reg), HD_MAX_FNS);
    assert_null (hd_fnreg_find (reg, "one_more"));
}

static void
test_fnreg_destroy_sets_null (void **state)
{
    (void) state;
    hd_fnreg_t *reg = hd_fnreg_new ();
    assert_non_null (reg);
    hd_fnreg_destroy (&reg);
    assert_null (reg);
    hd_fnreg_destroy (&reg);  //  NULL-safe
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_fnreg_new_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_add_then_find, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_find_unknown_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_at_keeps_registration_order, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_rejects_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_rejects_empty_name, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_rejects_bad_characters, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_accepts_longest_name, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_rejects_too_long_name, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_rejects_null_function, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fnreg_full_past_max, setup, teardown),
        cmocka_unit_test (test_fnreg_destroy_sets_null),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
