/*  test_builtins: echo, sleep, sha256, pi and wordcount called through the registry, on known
    inputs, on bad inputs, and when cancelled. exec is in test_exec.c.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hd_fnreg.h"
#include "hd_task.h"

typedef struct {
    hd_fnreg_t *reg;
    heddle_task_t task;
} fixture_t;

static int
setup (void **state)
{
    static fixture_t fix;
    fix.reg = hd_fnreg_new ();
    if (!fix.reg || hd_builtins_register (fix.reg, false) != HD_OK)
        return -1;
    hd_task_init (&fix.task);
    hd_task_reset (&fix.task, 0, 0);
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

static int
s_run (fixture_t *fix, const char *fn, const void *input, size_t size)
{
    const hd_fnentry_t *entry = hd_fnreg_find (fix->reg, fn);
    assert_non_null (entry);
    return entry->fn (&fix->task, input, size, entry->arg);
}

static int
s_run_text (fixture_t *fix, const char *fn, const char *input)
{
    return s_run (fix, fn, input, strlen (input));
}

//  The output as a C string (the buffer is not NUL-terminated).
static const char *
s_output (fixture_t *fix)
{
    static char text[256];
    size_t n = fix->task.out.size < sizeof text - 1 ? fix->task.out.size : sizeof text - 1;
    memcpy (text, fix->task.out.data, n);
    text[n] = '\0';
    return text;
}

//  --- registration ----------------------------------------------------------------------------

static void
test_builtins_registers_all_but_exec (void **state)
{
    fixture_t *fix = *state;
    const char *names[] = { "echo", "sleep", "sha256", "pi", "wordcount" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_non_null (hd_fnreg_find (fix->reg, names[i]));
    assert_null (hd_fnreg_find (fix->reg, "exec"));
    assert_int_equal (hd_fnreg_count (fix->reg), 5);
}

static void
test_builtins_register_twice_fails (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (hd_builtins_register (fix->reg, false), HD_EINVAL);
}

//  --- echo ------------------------------------------------------------------------------------

static void
test_builtins_echo_returns_input (void **state)
{
    fixture_t *fix = *state;
    const uint8_t input[] = { 'h', 0, 'i', 0xff };
    assert_int_equal (s_run (fix, "echo", input, sizeof input), 0);
    assert_int_equal (fix->task.out.size, sizeof input);
    assert_memory_equal (fix->task.out.data, input, sizeof input);
}

static void
test_builtins_echo_fails_past_output_limit (void **state)
{
    fixture_t *fix = *state;
    hd_task_reset (&fix->task, 0, 3);
    assert_int_not_equal (s_run_text (fix, "echo", "abcdef"), 0);
    assert_string_equal (fix->task.error, "echo: output over the limit of 3 bytes");
}

//  --- sha256 ----------------------------------------------------------------------------------

static void
test_builtins_sha256_of_abc (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_run_text (fix, "sha256", "abc"), 0);
    assert_string_equal (s_output (fix),
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_builtins_sha256_of_empty_input (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_run (fix, "sha256", "", 0), 0);
    assert_string_equal (s_output (fix),
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_builtins_sha256_stops_when_cancelled (void **state)
{
    fixture_t *fix = *state;
    atomic_store (&fix->task.cancel, 1);
    assert_int_not_equal (s_run_text (fix, "sha256", "abc"), 0);
    assert_string_equal (fix->task.error, "cancelled");
}

//  --- pi --------------------------------------------------------------------------------------

//  The documented algorithm, written again independently of hd_builtins.c.
static uint64_t
s_reference_pi_hits (uint64_t seed, uint64_t samples)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    uint64_t s = z ^ (z >> 31);
    if (s == 0)
        s = 0x9E3779B97F4A7C15ull;
    uint64_t hits = 0;
    for (uint64_t i = 0; i < samples; i++) {
        double u[2];
        for (int k = 0; k < 2; k++) {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            u[k] = (double) ((s * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
        }
        if (u[0] * u[0] + u[1] * u[1] <= 1.0)
            hits++;
    }
    return hits;
}

static void
test_builtins_pi_matches_reference (void **state)
{
    fixture_t *fix = *state;
    char expected[64];
    snprintf (expected, sizeof expected, "%" PRIu64 " 200000", s_reference_pi_hits (42, 200000));
    assert_int_equal (s_run_text (fix, "pi", "200000 42"), 0);
    assert_string_equal (s_output (fix), expected);
}

static void
test_builtins_pi_default_seed_is_one (void **state)
{
    fixture_t *fix = *state;
    char expected[64];
    snprintf (expected, sizeof expected, "%" PRIu64 " 70000", s_reference_pi_hits (1, 70000));
    assert_int_equal (s_run_text (fix, "pi", " 70000\n"), 0);
    assert_string_equal (s_output (fix), expected);
}

static void
test_builtins_pi_estimate_is_close (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_run_text (fix, "pi", "1000000 7"), 0);
    uint64_t hits = 0, samples = 0;
    assert_int_equal (sscanf (s_output (fix), "%" SCNu64 " %" SCNu64, &hits, &samples), 2);
    double pi = 4.0 * (double) hits / (double) samples;
    assert_true (pi > 3.13 && pi < 3.15);
}

static void
test_builtins_pi_rejects_bad_input (void **state)
{
    fixture_t *fix = *state;
    const char *bad[] = { "", "0", "abc", "10 x", "10000000001", "-5", "5 -1", "10 1 2", "1e6" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hd_task_reset (&fix->task, 0, 0);
        assert_int_not_equal (s_run_text (fix, "pi", bad[i]), 0);
        assert_non_null (strstr (fix->task.error, "pi: expected 'SAMPLES [SEED]'"));
    }
}

static void
test_builtins_pi_quotes_bad_input (void **state)
{
    fixture_t *fix = *state;
    assert_int_not_equal (s_run_text (fix, "pi", "many"), 0);
    assert_non_null (strstr (fix->task.error, "got 'many'"));
}

static void
test_builtins_pi_stops_when_cancelled (void **state)
{
    fixture_t *fix = *state;
    atomic_store (&fix->task.cancel, 1);
    assert_int_not_equal (s_run_text (fix, "pi", "10000000000"), 0);
    assert_string_equal (fix->task.error, "cancelled");
}

//  --- wordcount -------------------------------------------------------------------------------

static void
test_builtins_wordcount_counts_like_wc (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_run_text (fix, "wordcount", "hello world\nfoo  bar\tbaz\n"), 0);
    assert_string_equal (s_output (fix), "2 5 25");
}

static void
test_builtins_wordcount_without_final_newline (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_run_text (fix, "wordcount", " a\vb\fc\rd "), 0);
    assert_string_equal (s_output (fix), "0 4 9");
}

static void
test_builtins_wordcount_of_empty_input (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_run (fix, "wordcount", "", 0), 0);
    assert_string_equal (s_output (fix), "0 0 0");
}

static void
test_builtins_wordcount_counts_binary_bytes (void **state)
{
    fixture_t *fix = *state;
    const char input[] = { 'a', '\0', 'b', '\n', (char) 0xff };
    assert_int_equal (s_run (fix, "wordcount", input, sizeof input), 0);
    assert_string_equal (s_output (fix), "1 2 5");
}

//  --- sleep -----------------------------------------------------------------------------------

static void
test_builtins_sleep_waits_and_echoes_trimmed_input (void **state)
{
    fixture_t *fix = *state;
    int64_t start = hd_now_ms ();
    assert_int_equal (s_run_text (fix, "sleep", "  30 \n"), 0);
    assert_true (hd_now_ms () - start >= 30);
    assert_string_equal (s_output (fix), "30");
}

static void
test_builtins_sleep_rejects_bad_input (void **state)
{
    fixture_t *fix = *state;
    const char *bad[] = { "", "abc", "-5", "3600001", "10 ms", "1.5", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hd_task_reset (&fix->task, 0, 0);
        assert_int_not_equal (s_run_text (fix, "sleep", bad[i]), 0);
        assert_non_null (strstr (fix->task.error, "sleep: expected milliseconds, got '"));
    }
}

static void
test_builtins_sleep_quotes_bad_input (void **state)
{
    fixture_t *fix = *state;
    assert_int_not_equal (s_run_text (fix, "sleep", "soon\n"), 0);
    assert_non_null (strstr (fix->task.error, "got 'soon'"));
}

static void
test_builtins_sleep_stops_when_cancelled (void **state)
{
    fixture_t *fix = *state;
    atomic_store (&fix->task.cancel, 1);
    int64_t start = hd_now_ms ();
    assert_int_not_equal (s_run_text (fix, "sleep", "5000"), 0);
    assert_true (hd_now_ms () - start < 1000);
    assert_string_equal (fix->task.error, "cancelled");
}

static void *
s_cancel_later (void *arg)
{
    heddle_task_t *task = arg;
    struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000000L };
    nanosleep (&ts, NULL);
    atomic_store (&task->cancel, 1);
    return NULL;
}

static void
test_builtins_sleep_stops_when_cancelled_meanwhile (void **state)
{
    fixture_t *fix = *state;
    pthread_t thread;
    int64_t start = hd_now_ms ();
    assert_int_equal (pthread_create (&thread, NULL, s_cancel_later, &fix->task), 0);
    assert_int_not_equal (s_run_text (fix, "sleep", "5000"), 0);
    pthread_join (thread, NULL);
    assert_true (hd_now_ms () - start < 2000);
    assert_string_equal (fix->task.error, "cancelled");
}

static void
test_builtins_sleep_stops_past_deadline (void **state)
{
    fixture_t *fix = *state;
    int64_t start = hd_now_ms ();
    hd_task_reset (&fix->task, start + 50, 0);
    assert_int_not_equal (s_run_text (fix, "sleep", "5000"), 0);
    int64_t elapsed = hd_now_ms () - start;
    assert_true (elapsed >= 50 && elapsed < 2000);
}

//  --- cancellation of the scanning built-ins --------------------------------------------------

static void
test_builtins_wordcount_stops_when_cancelled (void **state)
{
    fixture_t *fix = *state;
    atomic_store (&fix->task.cancel, 1);
    assert_int_not_equal (s_run_text (fix, "wordcount", "a b c"), 0);
    assert_string_equal (fix->task.error, "cancelled");
}

#define T(name) cmocka_unit_test_setup_teardown (name, setup, teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        T (test_builtins_registers_all_but_exec),
        T (test_builtins_register_twice_fails),
        T (test_builtins_echo_returns_input),
        T (test_builtins_echo_fails_past_output_limit),
        T (test_builtins_sha256_of_abc),
        T (test_builtins_sha256_of_empty_input),
        T (test_builtins_sha256_stops_when_cancelled),
        T (test_builtins_pi_matches_reference),
        T (test_builtins_pi_default_seed_is_one),
        T (test_builtins_pi_estimate_is_close),
        T (test_builtins_pi_rejects_bad_input),
        T (test_builtins_pi_quotes_bad_input),
        T (test_builtins_pi_stops_when_cancelled),
        T (test_builtins_wordcount_counts_like_wc),
        T (test_builtins_wordcount_without_final_newline),
        T (test_builtins_wordcount_of_empty_input),
        T (test_builtins_wordcount_counts_binary_bytes),
        T (test_builtins_wordcount_stops_when_cancelled),
        T (test_builtins_sleep_waits_and_echoes_trimmed_input),
        T (test_builtins_sleep_rejects_bad_input),
        T (test_builtins_sleep_quotes_bad_input),
        T (test_builtins_sleep_stops_when_cancelled),
        T (test_builtins_sleep_stops_when_cancelled_meanwhile),
        T (test_builtins_sleep_stops_past_deadline),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
