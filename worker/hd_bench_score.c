/*  hd_bench_score: the benchmark kernel and its timing (hd_bench_score.h). A work unit is
    S_ROUNDS rounds of xorshift64, a 64-bit multiply-add, a sha-like rotate/add/xor pass over
    eight 32-bit words, and a double multiply-add-divide-floor step: the mix of integer ALU,
    multiplier and FPU work a typical task function does, sized to stay in L1.  */
#include "hd_bench_score.h"

#include <math.h>
#include <stdbool.h>
#include <time.h>

#define S_ROUNDS 64               //  rounds per work unit: part of the score's definition
#define S_RUNS 3                  //  timed runs; the best one counts
#define S_MAX_UNITS (1ull << 40)  //  calibration bound, far past any real budget

typedef struct {
    uint64_t x;     //  xorshift64 state, never 0
    uint64_t acc;   //  multiply-add accumulator
    uint32_t w[8];  //  mixing words
    double f;       //  integer-valued, kept in [0, 2^40) so every operation on it is exact
} s_state_t;

static uint32_t
s_rotl (uint32_t v, unsigned n)
{
    return (v << n) | (v >> (32 - n));
}

static void
s_round (s_state_t *st)
{
    st->x ^= st->x << 13;
    st->x ^= st->x >> 7;
    st->x ^= st->x << 17;
    st->acc = st->acc * 6364136223846793005ull + st->x;
    uint32_t carry = (uint32_t) st->x;
    for (unsigned i = 0; i < 8; i++) {
        uint32_t t = st->w[i] + s_rotl (st->w[(i + 1) & 7], 7) + carry;
        carry = s_rotl (t ^ st->w[(i + 3) & 7], 13) + (t >> 3);
        st->w[i] = t ^ carry;
    }
    //  f < 2^40, so f * 3 + 65535 < 2^42: exact in a double, fused or not.
    st->f = st->f * 3.0 + (double) (st->x & 0xffff);
    st->f -= 0x1p40 * floor (st->f / 0x1p40);
}

uint64_t
hd_bench_score_kernel (uint64_t units)
{
    s_state_t st = { .x = 0x9e3779b97f4a7c15ull, .acc = 1, .f = 1.0 };
    for (unsigned i = 0; i < 8; i++)
        st.w[i] = 0x6a09e667u + 0x9e3779b9u * i;
    for (uint64_t u = 0; u < units; u++)
        for (unsigned r = 0; r < S_ROUNDS; r++)
            s_round (&st);
    uint64_t sum = st.acc ^ st.x ^ (uint64_t) st.f;
    for (unsigned i = 0; i < 8; i++)
        sum = sum * 31 + st.w[i];
    return sum;
}

//  This thread's CPU time, so other processes do not lower the score; the monotonic clock
//  where the thread clock is unavailable.
static double
s_now_ns (void)
{
    struct timespec ts;
    if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) != 0 &&
        clock_gettime (CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}

//  Nanoseconds to run `units` (at least 1, so callers can divide by it).
static double
s_time_units (uint64_t units)
{
    volatile uint64_t sink;  //  keeps the kernel from being optimised away
    double start = s_now_ns ();
    sink = hd_bench_score_kernel (units);
    (void) sink;
    double ns = s_now_ns () - start;
    return ns >= 1 ? ns : 1;
}

//  Double the work until a run takes an eighth of `run_ns`, then scale it to fill `run_ns`.
//  Calibration costs at most half a run.
static uint64_t
s_calibrate (double run_ns)
{
    uint64_t units = 1;
    for (;;) {
        double ns = s_time_units (units);
        if (ns >= run_ns / 8 || units >= S_MAX_UNITS) {
            double scaled = (double) units * run_ns / ns;
            return scaled < 1 ? 1 : scaled > (double) S_MAX_UNITS ? S_MAX_UNITS : (uint64_t) scaled;
        }
        units *= 2;
    }
}

double
hd_bench_score (uint32_t budget_ms)
{
    if (budget_ms == 0)
        budget_ms = HD_BENCH_DEFAULT_MS;
    double run_ns = (double) budget_ms * 1e6 / (S_RUNS + 1);  //  one share for calibration
    uint64_t units = s_calibrate (run_ns);
    double best = 0;
    for (int i = 0; i < S_RUNS; i++) {
        double per_ms = (double) units / (s_time_units (units) / 1e6);
        if (per_ms > best)
            best = per_ms;
    }
    return best;
}
