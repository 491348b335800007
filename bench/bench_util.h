/*  bench_util: what the reference programs of bench/ share: a monotonic clock, number parsing,
    the interrupt flag, a check that endpoints stay on loopback, a per-node tally, and the JSON
    report in the same keys as `heddle bench --json`, so scripts/bench-compare reads every
    program alike. It knows nothing of sockets, MessagePack or Gearman.  */
#ifndef HD_BENCH_UTIL_H
#define HD_BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hd_hist.h"

#define HD_BENCH_MAX_NODES 16        //  distinct node names tallied; more are counted as "other"
#define HD_BENCH_NODE_NAME 64        //  bytes of a node name kept, NUL included
#define HD_BENCH_MAX_TASKS 10000000  //  same bounds as `heddle bench`
#define HD_BENCH_MAX_WINDOW 1000000
#define HD_BENCH_MAX_SIZE (1u << 20)
#define HD_BENCH_DEFAULT_LIMIT_S 60  //  hard time limit of every program

//  The one global: set by SIGINT/SIGTERM once hd_bench_catch_signals has run.
extern volatile int hd_bench_interrupted;

typedef struct {
    char name[HD_BENCH_NODE_NAME];
    uint64_t count;
} hd_bench_node_t;

//  What one client run measured, printed as `heddle bench --json` prints it.
typedef struct {
    const char *fn;
    const char *broker;  //  endpoint text
    uint32_t tasks, size, window;
    double seconds;  //  first send to last result
    uint64_t received, failed;
    hd_hist_t *hist;                                //  round trips in microseconds (borrowed)
    hd_bench_node_t nodes[HD_BENCH_MAX_NODES + 1];  //  last one: "other"
    size_t node_count;
} hd_bench_report_t;

//  Seconds on the monotonic clock.
double hd_bench_now (void);
//  Parse a decimal in [min, max] into *out. Returns 0, or -1 after printing "PROG: OPT wants ...".
int hd_bench_parse_u32 (const char *prog, const char *opt, const char *arg, uint32_t min,
                        uint32_t max, uint32_t *out);
//  Install SIGINT/SIGTERM handlers that set hd_bench_interrupted (no SA_RESTART, so blocking
//  calls return EINTR).
void hd_bench_catch_signals (void);
//  Whether `endpoint` is tcp:// on a loopback address (127.0.0.0/8, localhost, [::1]), or ipc://.
//  The reference programs refuse anything else: load goes only to this machine.
bool hd_bench_is_local (const char *endpoint);

//  Count one result for `node` ("" counts as "-").
void hd_bench_tally (hd_bench_report_t *self, const char *node, size_t len);
//  Print the report as one JSON object and a newline.
void hd_bench_report_json (const hd_bench_report_t *self, FILE *out);

#endif
