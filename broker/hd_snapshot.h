/*  hd_snapshot: a copy of what the broker shows on its web endpoint (counters, functions, nodes,
    pending keys, recent events, a short history), made by the broker's loop a few times a second
    and read by the HTTP thread, which never touches broker state. Pure: plain values and text,
    no pointers into the broker, no clock, no sockets. The renderers turn one snapshot into
    Prometheus text (hd_snapshot_prom.c) or the JSON of /api/state (hd_snapshot_json.c).
    Cardinality is bounded here: HD_SNAP_MAX_FNS functions and HD_SNAP_MAX_NODES nodes keep
    their own rows; the rest fold into one row named "other".  */
#ifndef HD_SNAPSHOT_H
#define HD_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_buf.h"
#include "hd_err.h"

#define HD_SNAP_MAX_FNS 32      //  functions with a label of their own (the first interned)
#define HD_SNAP_MAX_NODES 64    //  nodes with a label of their own (registered first, then down)
#define HD_SNAP_MAX_PENDING 16  //  pending worker keys listed (the count covers them all)
#define HD_SNAP_MAX_EVENTS 32   //  recent events kept, oldest dropped first
#define HD_SNAP_MAX_JOBS 16     //  detached jobs listed (the count covers them all)
#define HD_SNAP_SERIES 180      //  history samples kept (one per HD_SNAP_SAMPLE_MS: 6 minutes)
#define HD_SNAP_SAMPLE_MS 2000
#define HD_SNAP_NSTATUS 14  //  result status codes 0..13 (hd_proto.h HD_ST_*)
#define HD_HIST_BOUNDS 11   //  finite bucket bounds per histogram (+Inf is one more)
#define HD_SNAP_NAME 64     //  names (functions, nodes) fit in 63 bytes

//  A histogram: per-bucket counts (not cumulative; the last bucket is +Inf) and the sum.
typedef struct {
    uint64_t counts[HD_HIST_BOUNDS + 1];
    double sum;
} hd_promhist_t;

//  Bounds in seconds: task run times (1 ms .. 5 min) and journal commits (0.5 ms .. 1 s).
extern const double hd_promhist_task_bounds[HD_HIST_BOUNDS];
extern const double hd_promhist_commit_bounds[HD_HIST_BOUNDS];
void hd_promhist_observe (hd_promhist_t *self, const double *bounds, double value);
uint64_t hd_promhist_count (const hd_promhist_t *self);
//  Add `other` into self (folding rows).
void hd_promhist_add (hd_promhist_t *self, const hd_promhist_t *other);

//  One function: queue figures now and totals since the broker started.
typedef struct {
    char name[HD_SNAP_NAME];
    uint32_t queued, running;
    uint64_t completed[HD_SNAP_NSTATUS];  //  by result status
    hd_promhist_t duration;               //  run times reported by workers (OK and FAILED)
} hd_snap_fn_t;

enum { HD_SNAP_CPU = 1, HD_SNAP_MEM = 2, HD_SNAP_TEMP = 4 };  //  hd_snap_node_t.present

typedef struct {
    char name[HD_SNAP_NAME];
    char arch[HD_SNAP_NAME];
    char state[16];  //  idle, busy, draining, stale, hot; lost or gone when down
    bool up;         //  registered now
    uint32_t nodes;  //  nodes in this row: 1, or how many "other" holds
    uint32_t nup;    //  of which registered now
    uint32_t ncpu;   //  of which report cpu (the mean is over them)
    uint32_t slots, running, cores;
    double capacity;
    uint32_t present;               //  HD_SNAP_* bits: which of cpu, memory, temperature are known
    double cpu;                     //  busy share 0..1 (the mean over "other")
    double temp;                    //  degrees C (the hottest of "other")
    uint64_t mem_avail, mem_total;  //  bytes (summed over "other")
    uint64_t done, failed;
    uint32_t age_ms;  //  age of its metrics
} hd_snap_node_t;

typedef struct {
    int64_t t_ms;        //  wall clock, ms since the epoch
    uint64_t completed;  //  results so far (a rate is the difference of two samples)
    uint32_t queued, running;
} hd_snap_sample_t;

typedef struct {
    int64_t t_ms;  //  wall clock
    char type[16], node[HD_SNAP_NAME], state[16], text[128];
} hd_snap_event_t;

//  A detached job (docs/OPERATIONS.md): filled by the broker once it holds such jobs.
typedef struct {
    char id[40], name[HD_SNAP_NAME], state[16];
    uint64_t tasks, done, failed;
} hd_snap_job_t;

typedef struct {
    char key[48], address[64];
    int64_t age_s;
    uint32_t attempts;
} hd_snap_pending_t;

//  Broker-wide counters (monotonic since start) and gauges.
typedef struct {
    uint64_t submitted, accepted, rejected, dispatched, completed, failed, fenced, malformed;
    uint64_t requeued, lost_workers, expired_leases, busy, resent, dead;
    uint64_t handshakes_refused, handshakes_admitted, metrics, bad_metrics, storage;
    uint64_t undurable;
    uint64_t connections_refused;
    uint32_t queued, running, sessions, connections;
} hd_snap_counts_t;

typedef struct {
    int64_t time_ms;   //  wall clock when made
    int64_t start_ms;  //  wall clock when the broker started
    char cluster[64], version[32], journal_mode[8];
    hd_snap_counts_t c;
    uint64_t journal_bytes;
    hd_promhist_t commit;  //  journal commit latency (write + fdatasync), seconds
    hd_snap_fn_t fns[HD_SNAP_MAX_FNS + 1];
    uint32_t nfns;  //  rows used; row HD_SNAP_MAX_FNS is "other" when used
    hd_snap_node_t nodes[HD_SNAP_MAX_NODES + 1];
    uint32_t nnodes;  //  rows used; the last is "other" when more nodes came
    hd_snap_pending_t pending[HD_SNAP_MAX_PENDING];
    uint32_t npending, pending_total;
    hd_snap_event_t events[HD_SNAP_MAX_EVENTS];  //  oldest first
    uint32_t nevents;
    hd_snap_sample_t series[HD_SNAP_SERIES];  //  oldest first
    uint32_t nseries;
    hd_snap_job_t jobs[HD_SNAP_MAX_JOBS];
    uint32_t njobs, jobs_total;
} hd_snapshot_t;

//  Empty every list and counter (keeps nothing). The snapshot is a plain struct: callers may
//  allocate it themselves (it is about 40 KB; do not put it on a small stack).
void hd_snapshot_clear (hd_snapshot_t *self);
//  The row a function id goes to: its own below HD_SNAP_MAX_FNS, else "other". Rows up to it
//  are marked used (nfns grows); a row's name is set when it is first used.
hd_snap_fn_t *hd_snapshot_fn (hd_snapshot_t *self, uint32_t fn, const char *name);
//  Add a node: a row of its own while there is room, else folded into "other" (counts and
//  capacity summed, cpu averaged, the hottest temperature, up = some node up).
void hd_snapshot_add_node (hd_snapshot_t *self, const hd_snap_node_t *node);
//  Copy text from a peer into dst (len bytes, NUL-terminated, cut at a character boundary):
//  control characters and bytes that are not well-formed UTF-8 become '?', so both renderers
//  emit valid UTF-8 whatever a node calls itself. Returns dst.
char *hd_snapshot_copy_text (char *dst, size_t len, const char *src);
//  Lower-case name of a result status ("ok", "failed", "timeout", ...); "unknown" past the end.
const char *hd_snapshot_status_name (uint32_t status);

//  Render as Prometheus text format 0.0.4 (HELP and TYPE for each family) into out (appended).
//  HD_ENOMEM when the buffer cannot grow.
hd_err_t hd_snapshot_prom (const hd_snapshot_t *self, hd_buf_t *out);
//  Render as the JSON of /api/state (docs/OPERATIONS.md "The web endpoint"), appended to out.
hd_err_t hd_snapshot_json (const hd_snapshot_t *self, hd_buf_t *out);

#endif
