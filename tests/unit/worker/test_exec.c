/*  test_exec: the `exec` built-in: argv parsing, output capture and its cap, exit status and
    signals, missing commands, timeouts and cancellation (the whole process group dies), and
    registration only when allowed. Runs ordinary POSIX tools: sh, echo, printf, false, sleep.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hd_exec.h"
#include "hd_fnreg.h"
#include "hd_task.h"

typedef struct {
    hd_fnreg_t *reg;
    heddle_task_t task;
    char input[512];
    size_t input_size;
} fixture_t;

static int
setup (void **state)
{
    static fixture_t fix;
    fix.reg = hd_fnreg_new ();
    if (!fix.reg || hd_builtins_register (fix.reg, true) != HD_OK)
        return -1;
    hd_task_init (&fix.task);
    hd_task_reset (&fix.task, 0, 0);
    fix.input_size = 0;
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

//  Builds the input "arg0\0arg1\0...\0" from a NULL-terminated list.
static void
s_argv (fixture_t *fix, const char *arg, ...)
{
    va_list ap;
    va_start (ap, arg);
    fix->input_size = 0;
    for (; arg; arg = va_arg (ap, const char *)) {
        size_t len = strlen (arg) + 1;
        assert_true (fix->input_size + len <= sizeof fix->input);
        memcpy (fix->input + fix->input_size, arg, len);
        fix->input_size += len;
    }
    va_end (ap);
}

static int
s_exec (fixture_t *fix)
{
    const hd_fnentry_t *entry = hd_fnreg_find (fix->reg, "exec");
    assert_non_null (entry);
    return entry->fn (&fix->task, fix->input, fix->input_size, entry->arg);
}

//  The output as a C string (the buffer is not NUL-terminated).
static const char *
s_output (fixture_t *fix)
{
    static char text[512];
    size_t n = fix->task.out.size < sizeof text - 1 ? fix->task.out.size : sizeof text - 1;
    memcpy (text, fix->task.out.data, n);
    text[n] = '\0';
    return text;
}

static void
test_exec_not_registered_unless_allowed (void **state)
{
    (void) state;
    hd_fnreg_t *reg = hd_fnreg_new ();
    assert_int_equal (hd_builtins_register (reg, false), HD_OK);
    assert_null (hd_fnreg_find (reg, "exec"));
    hd_fnreg_destroy (&reg);
}

static void
test_exec_registered_when_allowed (void **state)
{
    fixture_t *fix = *state;
    assert_non_null (hd_fnreg_find (fix->reg, "exec"));
}

static void
test_exec_echo_output (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "echo", "hi", NULL);
    assert_int_equal (s_exec (fix), 0);
    assert_string_equal (s_output (fix), "hi\n");
    assert_string_equal (fix->task.error, "");
}

static void
test_exec_trailing_nul_is_optional (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "echo", "a b", NULL);
    fix->input_size--;
    assert_int_equal (s_exec (fix), 0);
    assert_string_equal (s_output (fix), "a b\n");
}

static void
test_exec_keeps_empty_arguments (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "printf", "[%s]", "a", "", "b", NULL);
    assert_int_equal (s_exec (fix), 0);
    assert_string_equal (s_output (fix), "[a][][b]");
}

static void
test_exec_runs_without_shell (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "echo", "$HOME;", "*", NULL);
    assert_int_equal (s_exec (fix), 0);
    assert_string_equal (s_output (fix), "$HOME; *\n");
}

static void
test_exec_collects_stderr (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "sh", "-c", "echo out; echo err >&2", NULL);
    assert_int_equal (s_exec (fix), 0);
    assert_string_equal (s_output (fix), "out\nerr\n");
}

static void
test_exec_stdin_is_dev_null (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "cat", NULL);
    assert_int_equal (s_exec (fix), 0);
    assert_int_equal (fix->task.out.size, 0);
}

static void
test_exec_false_fails_with_exit_status (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "false", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    assert_string_equal (fix->task.error, "exit status 1");
}

static void
test_exec_failure_keeps_output (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "sh", "-c", "echo partial; exit 3", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    assert_string_equal (fix->task.error, "exit status 3");
    assert_string_equal (s_output (fix), "partial\n");
}

static void
test_exec_reports_signal (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "sh", "-c", "kill -9 $$", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    assert_string_equal (fix->task.error, "killed by signal 9");
}

static void
test_exec_missing_command (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "heddle-no-such-command", "x", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    assert_string_equal (fix->task.error,
                         "exec: cannot run 'heddle-no-such-command': No such file or directory");
}

static void
test_exec_rejects_empty_command (void **state)
{
    fixture_t *fix = *state;
    fix->input_size = 0;
    assert_int_not_equal (s_exec (fix), 0);
    assert_non_null (strstr (fix->task.error, "exec: expected argv as NUL-separated strings"));
    s_argv (fix, "", "echo", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    assert_non_null (strstr (fix->task.error, "empty command"));
}

static void
test_exec_timeout_kills_within_deadline (void **state)
{
    fixture_t *fix = *state;
    int64_t start = hd_now_ms ();
    hd_task_reset (&fix->task, start + 200, 0);
    s_argv (fix, "sleep", "5", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    int64_t elapsed = hd_now_ms () - start;
    assert_string_equal (fix->task.error, "exec: timed out");
    assert_true (elapsed >= 200 && elapsed < 2000);
}

//  A process is gone once kill(pid, 0) fails or /proc shows it as a zombie: in a container
//  nobody may reap an orphan, but a zombie runs no more.
static bool
s_process_is_gone (long pid)
{
    if (kill ((pid_t) pid, 0) != 0)
        return errno == ESRCH;
    char path[64], stat[256] = "";
    snprintf (path, sizeof path, "/proc/%ld/stat", pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return true;
    size_t n = fread (stat, 1, sizeof stat - 1, file);
    fclose (file);
    stat[n] = '\0';
    const char *paren = strrchr (stat, ')');
    return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

static void
test_exec_timeout_kills_process_group (void **state)
{
    fixture_t *fix = *state;
    hd_task_reset (&fix->task, hd_now_ms () + 300, 0);
    s_argv (fix, "sh", "-c", "sleep 30 & echo $!; wait", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    long pid = strtol (s_output (fix), NULL, 10);
    assert_true (pid > 1);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = s_process_is_gone (pid);
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000000L };
        nanosleep (&ts, NULL);
    }
    assert_true (gone);
}

static void *
s_cancel_later (void *arg)
{
    heddle_task_t *task = arg;
    struct timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000000L };
    nanosleep (&ts, NULL);
    atomic_store (&task->cancel, 1);
    return NULL;
}

static void
test_exec_cancel_kills_command (void **state)
{
    fixture_t *fix = *state;
    pthread_t thread;
    int64_t start = hd_now_ms ();
    assert_int_equal (pthread_create (&thread, NULL, s_cancel_later, &fix->task), 0);
    s_argv (fix, "sleep", "5", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    pthread_join (thread, NULL);
    assert_string_equal (fix->task.error, "cancelled");
    assert_true (hd_now_ms () - start < 2000);
}

static void
test_exec_cancelled_before_start_runs_nothing (void **state)
{
    fixture_t *fix = *state;
    atomic_store (&fix->task.cancel, 1);
    s_argv (fix, "echo", "never", NULL);
    assert_int_not_equal (s_exec (fix), 0);
    assert_string_equal (fix->task.error, "cancelled");
    assert_int_equal (fix->task.out.size, 0);
}

static bool
s_output_ends_with_note (fixture_t *fix)
{
    size_t note = strlen (HD_EXEC_TRUNCATED_NOTE);
    return fix->task.out.size >= note && memcmp (fix->task.out.data + fix->task.out.size - note,
                                                 HD_EXEC_TRUNCATED_NOTE, note) == 0;
}

static void
test_exec_output_capped_at_one_mebibyte (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "head", "-c", "3000000", "/dev/zero", NULL);
    assert_int_equal (s_exec (fix), 0);
    assert_int_equal (fix->task.out.size, HD_EXEC_MAX_OUTPUT);
    assert_true (s_output_ends_with_note (fix));
    assert_int_equal (fix->task.out.data[0], 0);
}

static void
test_exec_output_within_cap_is_whole (void **state)
{
    fixture_t *fix = *state;
    s_argv (fix, "head", "-c", "1048576", "/dev/zero", NULL);
    assert_int_equal (s_exec (fix), 0);
    assert_int_equal (fix->task.out.size, HD_EXEC_MAX_OUTPUT);
    assert_false (s_output_ends_with_note (fix));
}

static void
test_exec_output_capped_at_task_limit (void **state)
{
    fixture_t *fix = *state;
    hd_task_reset (&fix->task, 0, 100);
    s_argv (fix, "head", "-c", "1000", "/dev/zero", NULL);
    assert_int_equal (s_exec (fix), 0);
    assert_int_equal (fix->task.out.size, 100);
    assert_true (s_output_ends_with_note (fix));
}

#define T(name) cmocka_unit_test_setup_teardown (name, setup, teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_exec_not_registered_unless_allowed),
        T (test_exec_registered_when_allowed),
        T (test_exec_echo_output),
        T (test_exec_trailing_nul_is_optional),
        T (test_exec_keeps_empty_arguments),
        T (test_exec_runs_without_shell),
        T (test_exec_collects_stderr),
        T (test_exec_stdin_is_dev_null),
        T (test_exec_false_fails_with_exit_status),
        T (test_exec_failure_keeps_output),
        T (test_exec_reports_signal),
        T (test_exec_missing_command),
        T (test_exec_rejects_empty_command),
        T (test_exec_timeout_kills_within_deadline),
        T (test_exec_timeout_kills_process_group),
        T (test_exec_cancel_kills_command),
        T (test_exec_cancelled_before_start_runs_nothing),
        T (test_exec_output_capped_at_one_mebibyte),
        T (test_exec_output_within_cap_is_whole),
        T (test_exec_output_capped_at_task_limit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
