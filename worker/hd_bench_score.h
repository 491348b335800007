/*  hd_bench_score: the CPU benchmark a worker runs once at start to advertise how fast one of its
    cores is (the `score` of HELLO and METRICS). A fixed, deterministic integer + float kernel is
    timed on the calling thread's CPU clock; the score is kernel work units per millisecond, so a
    core twice as fast scores twice as high. Every worker of a cluster must run the same kernel
    for scores to compare: changing it is a wire-visible change (docs/METRICS.md).  */
#ifndef HD_BENCH_SCORE_H
#define HD_BENCH_SCORE_H

#include <stdint.h>

#define HD_BENCH_DEFAULT_MS 50  //  budget used when hd_bench_score is given 0

//  Run the kernel for `units` work units from its fixed seed and return its checksum. The same
//  `units` gives the same checksum on every machine and build (the float part stays in exactly
//  representable integers, so FMA contraction and instruction choice cannot change it).
uint64_t hd_bench_score_kernel (uint64_t units);

//  Measure this core: calibrate the work size, then time the kernel three times and keep the
//  best run (noise only ever slows a run down). Takes about `budget_ms` of this thread's CPU
//  time (0: HD_BENCH_DEFAULT_MS); wall time is longer when the machine is busy, but the score is
//  not lowered by other processes. Returns work units per ms, always > 0.
double hd_bench_score (uint32_t budget_ms);

#endif
