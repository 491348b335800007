/*  hd_builtins: the task functions every worker offers: echo, sleep, sha256, pi, wordcount, and
    exec (worker/hd_exec.c) when allowed. Each treats its input as bytes (never as a C string),
    polls for cancellation wherever it loops, and fails with a message that names it. They see
    the worker only through the task context (hd_task.h).

    Formats (input -> output; all text is ASCII, outputs carry no trailing newline):
      echo       any bytes -> the same bytes
      sleep      "MS" (0..3600000, whitespace around allowed) -> "MS" as given, trimmed
      sha256     any bytes -> 64 lowercase hex digits of SHA-256(input)
      pi         "SAMPLES" or "SAMPLES SEED" (SAMPLES 1..10^10, SEED 0..2^64-1, default 1)
                 -> "HITS SAMPLES"; exact algorithm above s_pi_seed
      wordcount  any bytes -> "LINES WORDS BYTES", counted like wc(1)  */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hd_exec.h"
#include "hd_fnreg.h"
#include "hd_task.h"

#define HD_SLEEP_MAX_MS 3600000u
#define HD_SLEEP_STEP_MS 10
#define HD_PI_MAX_SAMPLES 10000000000ull
#define HD_PI_BATCH 65536u        //  samples between cancel checks
#define HD_SCAN_CHUNK (1u << 20)  //  bytes hashed or counted between cancel checks
#define HD_EXCERPT_MAX 40         //  bytes of bad input quoted in an error

//  --- helpers shared by the built-ins --------------------------------------------------------

//  The whitespace of wc(1) and isspace() in the C locale, without depending on the locale.
static bool
s_is_space (uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void
s_trim (const char **text_p, size_t *len_p)
{
    const char *text = *text_p;
    size_t len = *len_p;
    while (len && s_is_space ((uint8_t) text[0])) {
        text++;
        len--;
    }
    while (len && s_is_space ((uint8_t) text[len - 1]))
        len--;
    *text_p = text;
    *len_p = len;
}

//  Parse decimal digits at *pos (at least one), advancing *pos past them. false when there are
//  none or the value passes `max`.
static bool
s_parse_u64 (const char *text, size_t len, size_t *pos, uint64_t max, uint64_t *out)
{
    size_t i = *pos;
    uint64_t value = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
        uint64_t digit = (uint64_t) (text[i] - '0');
        if (value > (max - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    if (i == *pos)
        return false;
    *pos = i;
    *out = value;
    return true;
}

//  A printable excerpt of bad input for an error message, '?' for other bytes.
static const char *
s_excerpt (const char *text, size_t len, char *buf, size_t buflen)
{
    size_t n = len < HD_EXCERPT_MAX ? len : HD_EXCERPT_MAX;
    if (n > buflen - 4)
        n = buflen - 4;
    for (size_t i = 0; i < n; i++)
        buf[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
    strcpy (buf + n, n < len ? "..." : "");
    return buf;
}

//  hd_task_output, failing the task with a message when the output does not fit.
static int
s_output (heddle_task_t *task, const char *fn, const void *data, size_t size)
{
    if (hd_task_output (task, data, size) == 0)
        return 0;
    if (task->max_output)
        hd_task_fail (task, "%s: output over the limit of %zu bytes", fn, task->max_output);
    else
        hd_task_fail (task, "%s: out of memory", fn);
    return -1;
}

static int
s_cancelled (heddle_task_t *task)
{
    hd_task_fail (task, "cancelled");
    return -1;
}

//  --- echo ------------------------------------------------------------------------------------

static int
s_echo (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    return s_output (task, "echo", input, size);
}

//  --- sleep -----------------------------------------------------------------------------------

//  Sleeps in short steps so a cancel or deadline is noticed within HD_SLEEP_STEP_MS.
//  0, or -1 when the task was cancelled first.
static int
s_sleep_ms (heddle_task_t *task, int64_t ms)
{
    int64_t end = hd_now_ms () + ms;
    for (int64_t now = hd_now_ms (); now < end; now = hd_now_ms ()) {
        if (hd_task_cancelled (task))
            return -1;
        int64_t step = end - now < HD_SLEEP_STEP_MS ? end - now : HD_SLEEP_STEP_MS;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long) step * 1000000L };
        nanosleep (&ts, NULL);
    }
    return 0;
}

static int
s_sleep (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    const char *text = input;
    size_t len = size;
    s_trim (&text, &len);
    size_t pos = 0;
    uint64_t ms = 0;
    if (!s_parse_u64 (text, len, &pos, HD_SLEEP_MAX_MS, &ms) || pos != len) {
        char buf[HD_EXCERPT_MAX + 4];
        hd_task_fail (task, "sleep: expected milliseconds, got '%s' (0..%u)",
                      s_excerpt (text, len, buf, sizeof buf), HD_SLEEP_MAX_MS);
        return -1;
    }
    if (s_sleep_ms (task, (int64_t) ms) != 0)
        return s_cancelled (task);
    return s_output (task, "sleep", text, len);
}

//  --- sha256 ----------------------------------------------------------------------------------

static int
s_sha256 (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    const unsigned char *bytes = input;
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    for (size_t done = 0; done < size;) {
        if (hd_task_cancelled (task))
            return s_cancelled (task);
        size_t n = size - done < HD_SCAN_CHUNK ? size - done : HD_SCAN_CHUNK;
        crypto_hash_sha256_update (&state, bytes + done, n);
        done += n;
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (&state, digest);
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex (hex, sizeof hex, digest, sizeof digest);
    return s_output (task, "sha256", hex, 2 * crypto_hash_sha256_BYTES);
}

//  --- pi --------------------------------------------------------------------------------------
//  Monte Carlo estimate of pi, deterministic for a seed so results can be checked anywhere:
//    state = splitmix64 (seed), one step:
//        z = seed + 0x9E3779B97F4A7C15
//        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//        z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//        state = z ^ (z >> 31); if state == 0, state = 0x9E3779B97F4A7C15
//    one draw (xorshift64*):
//        x = state; x ^= x >> 12; x ^= x << 25; x ^= x >> 27; state = x
//        r = x * 0x2545F4914F6CDD1D;  u = (double) (r >> 11) * 0x1.0p-53   (u in [0, 1))
//    each sample draws X then Y, and is a hit when X*X + Y*Y <= 1.0 (all arithmetic in
//    uint64_t modulo 2^64, then IEEE double). Output "HITS SAMPLES"; pi ~ 4 * HITS / SAMPLES.

static uint64_t
s_pi_seed (uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 0x9E3779B97F4A7C15ull;
}

static double
s_pi_unit (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double) ((x * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

static uint64_t
s_pi_hits (uint64_t *state, uint64_t samples)
{
    uint64_t hits = 0;
    for (uint64_t i = 0; i < samples; i++) {
        double x = s_pi_unit (state);
        double y = s_pi_unit (state);
        hits += x * x + y * y <= 1.0;
    }
    return hits;
}

//  "SAMPLES" or "SAMPLES SEED", whitespace around and between.
static bool
s_pi_parse (const char *text, size_t len, uint64_t *samples, uint64_t *seed)
{
    s_trim (&text, &len);
    size_t pos = 0;
    *seed = 1;
    if (!s_parse_u64 (text, len, &pos, HD_PI_MAX_SAMPLES, samples) || *samples == 0)
        return false;
    if (pos == len)
        return true;
    if (!s_is_space ((uint8_t) text[pos]))
        return false;
    while (pos < len && s_is_space ((uint8_t) text[pos]))
        pos++;
    return s_parse_u64 (text, len, &pos, UINT64_MAX, seed) && pos == len;
}

static int
s_pi (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    uint64_t samples = 0, seed = 1;
    if (!s_pi_parse (input, size, &samples, &seed)) {
        char buf[HD_EXCERPT_MAX + 4];
        const char *text = input;
        s_trim (&text, &size);
        hd_task_fail (task,
                      "pi: expected 'SAMPLES [SEED]' with SAMPLES in 1..%" PRIu64 ", got '%s'",
                      (uint64_t) HD_PI_MAX_SAMPLES, s_excerpt (text, size, buf, sizeof buf));
        return -1;
    }
    uint64_t state = s_pi_seed (seed);
    uint64_t hits = 0;
    for (uint64_t done = 0; done < samples;) {
        if (hd_task_cancelled (task))
            return s_cancelled (task);
        uint64_t n = samples - done < HD_PI_BATCH ? samples - done : HD_PI_BATCH;
        hits += s_pi_hits (&state, n);
        done += n;
    }
    char out[64];
    int n = snprintf (out, sizeof out, "%" PRIu64 " %" PRIu64, hits, samples);
    return s_output (task, "pi", out, (size_t) n);
}

//  --- wordcount -------------------------------------------------------------------------------

typedef struct {
    uint64_t lines;
    uint64_t words;
    bool in_word;
} hd_wc_t;

static void
s_wc_feed (hd_wc_t *wc, const uint8_t *bytes, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        bool space = s_is_space (bytes[i]);
        wc->lines += bytes[i] == '\n';
        wc->words += !space && !wc->in_word;
        wc->in_word = !space;
    }
}

static int
s_wordcount (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    hd_wc_t wc = { 0, 0, false };
    for (size_t done = 0; done < size;) {
        if (hd_task_cancelled (task))
            return s_cancelled (task);
        size_t n = size - done < HD_SCAN_CHUNK ? size - done : HD_SCAN_CHUNK;
        s_wc_feed (&wc, (const uint8_t *) input + done, n);
        done += n;
    }
    char out[96];
    int n = snprintf (out, sizeof out, "%" PRIu64 " %" PRIu64 " %" PRIu64, wc.lines, wc.words,
                      (uint64_t) size);
    return s_output (task, "wordcount", out, (size_t) n);
}

//  --- registration ----------------------------------------------------------------------------

hd_err_t
hd_builtins_register (hd_fnreg_t *self, bool allow_exec)
{
    static const struct {
        const char *name;
        heddle_fn_t fn;
    } builtins[] = {
        { "echo", s_echo }, { "sleep", s_sleep },         { "sha256", s_sha256 },
        { "pi", s_pi },     { "wordcount", s_wordcount },
    };
    //  Idempotent and thread-safe; picks the implementations the CPU supports.
    if (sodium_init () < 0)
        return HD_ECRYPTO;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        hd_err_t rc = hd_fnreg_add (self, builtins[i].name, builtins[i].fn, NULL);
        if (rc != HD_OK)
            return rc;
    }
    return allow_exec ? hd_fnreg_add (self, "exec", hd_exec_run, NULL) : HD_OK;
}
