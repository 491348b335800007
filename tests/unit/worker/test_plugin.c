/*  test_plugin: loading plugins into the registry, with plugins/example_plugin.c as the subject.
    Needs the heddle_example_plugin target built first (HD_BIN_DIR/heddle_example_plugin.so):
        cmake --build <build-dir> --target heddle_example_plugin
    A missing plugin file fails the tests that need it, with that instruction; it never skips.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

#include "hd_fnreg.h"
#include "hd_task.h"

#define EXAMPLE_PLUGIN HD_BIN_DIR "/heddle_example_plugin.so"

typedef struct {
    hd_fnreg_t *reg;
    heddle_task_t task;
    char err[512];
} fixture_t;

static int
setup (void **state)
{
    static fixture_t fix;
    fix.reg = hd_fnreg_new ();
    if (!fix.reg)
        return -1;
    hd_task_init (&fix.task);
    hd_task_reset (&fix.task, 0, 0);
    strcpy (fix.err, "unchanged");
    *state = &fix;
    return 0;
}

static int
teardown (void **state)
{
    fixture_t *fix = *state;
    hd_task_fini (&fix->task);
    hd_fnreg_destroy (&fix->reg);
    return 0;
}

static void
s_require_example_plugin (void)
{
    if (access (EXAMPLE_PLUGIN, R_OK) != 0)
        fail_msg ("%s is missing: build it first with "
                  "`cmake --build %s --target heddle_example_plugin`",
                  EXAMPLE_PLUGIN, HD_BIN_DIR);
}

static void
s_load_example (fixture_t *fix)
{
    s_require_example_plugin ();
    hd_err_t rc = hd_fnreg_load_plugin (fix->reg, EXAMPLE_PLUGIN, fix->err, sizeof fix->err);
    if (rc != HD_OK)
        fail_msg ("loading %s: %s: %s", EXAMPLE_PLUGIN, hd_strerror (rc), fix->err);
}

static int
s_run (fixture_t *fix, const char *fn, const void *input, size_t size)
{
    const hd_fnentry_t *entry = hd_fnreg_find (fix->reg, fn);
    assert_non_null (entry);
    return entry->fn (&fix->task, input, size, entry->arg);
}

static void
test_plugin_example_registers_its_functions (void **state)
{
    fixture_t *fix = *state;
    s_load_example (fix);
    assert_string_equal (fix->err, "");
    assert_int_equal (hd_fnreg_count (fix->reg), 2);
    assert_non_null (hd_fnreg_find (fix->reg, "reverse"));
    assert_non_null (hd_fnreg_find (fix->reg, "upper"));
}

static void
test_plugin_reverse_reverses_bytes (void **state)
{
    fixture_t *fix = *state;
    s_load_example (fix);
    const char input[] = { 'a', 'b', '\0', 'c' };
    assert_int_equal (s_run (fix, "reverse", input, sizeof input), 0);
    assert_int_equal (fix->task.out.size, 4);
    assert_memory_equal (fix->task.out.data, "c\0ba", 4);
}

static void
test_plugin_upper_changes_ascii_only (void **state)
{
    fixture_t *fix = *state;
    s_load_example (fix);
    const char *input = "Hello, w\xc3\xb6rld 42";
    assert_int_equal (s_run (fix, "upper", input, strlen (input)), 0);
    assert_int_equal (fix->task.out.size, strlen (input));
    assert_memory_equal (fix->task.out.data, "HELLO, W\xc3\xb6RLD 42", strlen (input));
}

static void
test_plugin_function_fails_past_output_limit (void **state)
{
    fixture_t *fix = *state;
    s_load_example (fix);
    hd_task_reset (&fix->task, 0, 2);
    assert_int_not_equal (s_run (fix, "upper", "abc", 3), 0);
    assert_string_equal (fix->task.error, "upper: output over the limit");
}

static void
test_plugin_missing_file_is_eio_with_loader_text (void **state)
{
    fixture_t *fix = *state;
    const char *path = "/nonexistent/heddle/missing_plugin.so";
    assert_int_equal (hd_fnreg_load_plugin (fix->reg, path, fix->err, sizeof fix->err), HD_EIO);
    assert_non_null (strstr (fix->err, path));
    assert_non_null (strstr (fix->err, "No such file or directory"));
    assert_int_equal (hd_fnreg_count (fix->reg), 0);
}

static void
test_plugin_library_without_init_is_eio (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (hd_fnreg_load_plugin (fix->reg, "libm.so.6", fix->err, sizeof fix->err),
                      HD_EIO);
    assert_non_null (strstr (fix->err, HEDDLE_PLUGIN_INIT_SYMBOL));
    assert_int_equal (hd_fnreg_count (fix->reg), 0);
}

static int
s_mine (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) task;
    (void) input;
    (void) size;
    (void) arg;
    return 0;
}

static void
test_plugin_taken_name_rolls_back (void **state)
{
    fixture_t *fix = *state;
    s_require_example_plugin ();
    assert_int_equal (hd_fnreg_add (fix->reg, "upper", s_mine, NULL), HD_OK);
    assert_int_equal (hd_fnreg_load_plugin (fix->reg, EXAMPLE_PLUGIN, fix->err, sizeof fix->err),
                      HD_EINVAL);
    assert_non_null (strstr (fix->err, "function name 'upper' invalid or taken"));
    //  "reverse", registered before the failure, was removed again.
    assert_int_equal (hd_fnreg_count (fix->reg), 1);
    assert_null (hd_fnreg_find (fix->reg, "reverse"));
    assert_true (hd_fnreg_find (fix->reg, "upper")->fn == s_mine);
}

static void
test_plugin_second_load_is_refused (void **state)
{
    fixture_t *fix = *state;
    s_load_example (fix);
    assert_int_equal (hd_fnreg_load_plugin (fix->reg, EXAMPLE_PLUGIN, fix->err, sizeof fix->err),
                      HD_EINVAL);
    assert_non_null (strstr (fix->err, "already loaded"));
    //  The first load still works.
    assert_int_equal (hd_fnreg_count (fix->reg), 2);
    assert_int_equal (s_run (fix, "reverse", "ab", 2), 0);
    assert_memory_equal (fix->task.out.data, "ba", 2);
}

static void
test_plugin_example_refuses_other_abi (void **state)
{
    (void) state;
    s_require_example_plugin ();
    void *handle = dlopen (EXAMPLE_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    assert_non_null (handle);
    void *sym = dlsym (handle, HEDDLE_PLUGIN_INIT_SYMBOL);
    assert_non_null (sym);
    heddle_plugin_init_fn init;
    memcpy (&init, &sym, sizeof init);
    heddle_host_t host = *hd_task_host ();
    host.abi = HEDDLE_PLUGIN_ABI + 1;
    assert_int_not_equal (init (&host), 0);
    dlclose (handle);
}

static void
test_plugin_load_accepts_null_errbuf (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (hd_fnreg_load_plugin (fix->reg, "/nonexistent.so", NULL, 0), HD_EIO);
}

#define T(name) cmocka_unit_test_setup_teardown (name, setup, teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        T (test_plugin_example_registers_its_functions),
        T (test_plugin_reverse_reverses_bytes),
        T (test_plugin_upper_changes_ascii_only),
        T (test_plugin_function_fails_past_output_limit),
        T (test_plugin_missing_file_is_eio_with_loader_text),
        T (test_plugin_library_without_init_is_eio),
        T (test_plugin_taken_name_rolls_back),
        T (test_plugin_second_load_is_refused),
        T (test_plugin_example_refuses_other_abi),
        T (test_plugin_load_accepts_null_errbuf),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
