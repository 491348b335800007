/*  hd_scheduler: the broker's queues and dispatch decision. Pure: no sockets, no clock (callers
    pass now_ms), no payload knowledge. Owns every hd_job_t (an id table plus one ready queue per
    function, ordered by priority, then clients in turn, then FIFO) and decides which queued job
    goes to which worker: among eligible workers (offers the function, in_flight < slots, READY
    not DRAINING, meets the job's requirements) the one with the smallest
    (in_flight + 1) / capacity; ties to the lowest index; O(log workers) per decision for a job
    without requirements (a function offered by a handful of workers is scanned: cheaper there).
    Credits: a worker never holds more than `slots` leases. A job requeued after its worker was
    lost waits min(100 ms x 2^(attempt - 1), 5 s) before its next dispatch. Later issues extend
    this module: metrics.  */
#ifndef HD_SCHEDULER_H
#define HD_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "hd_job.h"
#include "hd_registry.h"

typedef struct hd_scheduler hd_scheduler_t;

typedef struct {
    uint32_t max_queued;         //  jobs QUEUED + LEASED at most; past it submit says HD_EFULL
                                 //  (0: no limit)
    uint32_t default_attempts;   //  max_attempts for a job that gives 0 (0 here: 3)
    void (*payload_free) (void *payload);  //  called when a job holding a payload is freed
    void (*result_free) (void *result);    //  same, for a job holding a result
    uint32_t heap_min_workers;   //  a function offered by at least this many workers keeps them
                                 //  in a heap: O(log n) per decision; fewer are scanned, which
                                 //  is cheaper for a handful (0 here: 12; 1: always a heap)
} hd_scheduler_config_t;

//  `registry` is borrowed and must outlive the scheduler. NULL only when memory runs out.
hd_scheduler_t *hd_scheduler_new (hd_registry_t *registry, const hd_scheduler_config_t *config);
//  Frees every job (payload_free on each payload). NULL-safe; sets *self_p = NULL.
void hd_scheduler_destroy (hd_scheduler_t **self_p);

//  Queue a task. On HD_OK *out is the new QUEUED job, holding `payload` (consumed).
//  Checked in this order: HD_EINVAL: a job with this id is still held, in any state until it is
//  released (*out is set to it: the caller treats the resubmission as a duplicate).
//  HD_ENOTFOUND: no registered worker offers `msg->fn` (the name is not interned).
//  HD_EFULL: max_queued reached. HD_ENOMEM. On every error the payload is not consumed and,
//  except for HD_EINVAL, *out is NULL.
hd_err_t hd_scheduler_submit (hd_scheduler_t *self, const hd_submit_t *msg, uint32_t client,
                              void *payload, int64_t now_ms, hd_job_t **out);

//  Pick the next (job, worker) pair and lease it: job -> LEASED, attempt + 1, worker->in_flight
//  + 1, job->worker = worker, lease_deadline_ms = now_ms + timeout_ms (0 when no timeout).
//  Functions with queued jobs take turns (round-robin between calls); within a function the
//  highest priority goes first; within a priority, the clients with queued jobs take turns (one
//  job each, round-robin between calls), and each client's jobs go FIFO. A job whose
//  requirements no worker meets is passed over (up to 64 deep per client) so it does not block
//  the jobs behind it. A job waiting out its retry backoff is not due before job->not_before_ms
//  (compared with now_ms; also advances the scheduler's clock, see hd_scheduler_set_now).
//  Returns false when nothing can be dispatched now (or memory ran out): call again after a
//  submit, completion, HELLO, resume or worker loss, and once hd_scheduler_next_due_ms has
//  come. The job stays owned by the scheduler.
bool hd_scheduler_next (hd_scheduler_t *self, int64_t now_ms, hd_job_t **job_out,
                        hd_node_t **worker_out);

//  A worker ran a job of function `fn` in `run_ms` (the run time it reports, whole ms, so a
//  sub-millisecond run says 0). A function whose runs average under half a millisecond (after
//  S_RUNS_MIN results; it stops being one above 2 ms) is short: its jobs may fill a worker up to
//  node->deep_credit instead of node->credit, so that many travel in each TASK message. Jobs
//  with a deadline still need a free slot. Unknown fn: ignored.
void hd_scheduler_observe_run (hd_scheduler_t *self, uint32_t fn, uint32_t run_ms);
//  One function's figures for the operator's view (heddle functions): jobs queued (waiting out
//  a retry backoff included) and leased now, results observed (hd_scheduler_observe_run) and
//  their mean run time in ms (0 when none). All 0 for a function with no job ever.
typedef struct {
    uint32_t queued, running;
    uint64_t done;
    double mean_ms;
} hd_fnstats_t;
void hd_scheduler_fn_stats (const hd_scheduler_t *self, uint32_t fn, hd_fnstats_t *out);
//  Whether `fn` counts as short now (for tests and the operator's view).
bool hd_scheduler_is_short (const hd_scheduler_t *self, uint32_t fn);

//  A worker reported a result for (id, attempt). HD_OK: the lease was current, the job is DONE,
//  *out is it, job->worker is NULL again, and the worker's in_flight dropped by one and its
//  `done` rose by one (the caller counts `failed` itself); the caller delivers the result and
//  then calls hd_scheduler_release. HD_ENOTFOUND: unknown id. HD_EPROTO: stale lease (not
//  LEASED, other attempt or other worker): fenced, nothing changes. *out is NULL on errors.
hd_err_t hd_scheduler_complete (hd_scheduler_t *self, const hd_id_t *id, uint32_t attempt,
                                const hd_node_t *worker, hd_job_t **out);

//  Free a DONE or DEAD job (payload_free on its payload), removing it from the id table.
//  NULL-safe; sets *job_p = NULL. A QUEUED job leaves its queue; a LEASED one ends its lease
//  (the worker gets the credit back; a late result is then HD_ENOTFOUND).
void hd_scheduler_release (hd_scheduler_t *self, hd_job_t **job_p);

//  The worker is gone: every job it leased goes back to its queue front (attempt kept, so the
//  next dispatch is attempt + 1) after a backoff: it stays QUEUED but is not dispatched before
//  job->not_before_ms = now + min(100 ms x 2^(attempt - 1), 5000 ms), `now` being the
//  scheduler's clock (hd_scheduler_set_now, or the latest now_ms any call passed); jobs behind
//  it may go first meanwhile. Or it becomes DEAD when attempt >= max_attempts. Each DEAD job is
//  passed to `on_dead` (the caller reports it and releases it). Also drops the worker's
//  in_flight to 0. Call before hd_registry_remove. `on_dead` may be NULL (DEAD jobs then wait
//  for the caller's release) and may release the job it is given, but must not release other
//  jobs, dispatch (hd_scheduler_next) or call this function: the worker is still registered.
void hd_scheduler_worker_lost (hd_scheduler_t *self, hd_node_t *worker,
                               void (*on_dead) (hd_job_t *job, void *arg), void *arg);

//  Cancel a job by id: a QUEUED job is removed from its queue and returned in *out with state
//  DEAD (the caller reports CANCELLED and releases it): HD_OK. HD_EINVAL with *out set for any
//  other state: LEASED (running: the caller asks job->worker to abort), or DONE / DEAD not yet
//  released. HD_ENOTFOUND (*out NULL) when unknown.
hd_err_t hd_scheduler_cancel (hd_scheduler_t *self, const hd_id_t *id, hd_job_t **out);

//  Leases whose deadline (dispatch + the task's timeout) passed more than grace_ms ago, with no
//  result from the worker: each ends (the worker's credit comes back; a late result is fenced),
//  becomes DEAD and is passed to on_expired, which reports it and may release it.
//  Returns how many expired. O(leases).
uint32_t hd_scheduler_expire (hd_scheduler_t *self, int64_t now_ms, int64_t grace_ms,
                              void (*on_expired) (hd_job_t *job, void *arg), void *arg);

//  The worker refused a leased task without running it (no room): back to the front of its
//  queue, the attempt not counted, and no backoff (the refusal is not a failure). HD_OK;
//  HD_ENOTFOUND; HD_EPROTO when the lease is not current.
hd_err_t hd_scheduler_requeue (hd_scheduler_t *self, const hd_id_t *id, uint32_t attempt,
                               const hd_node_t *worker);

//  Recovery: queue a task read back from the journal, whether or not a worker offers its
//  function yet (workers join after a restart). Same results as submit, without HD_ENOTFOUND
//  and HD_EFULL.
hd_err_t hd_scheduler_restore (hd_scheduler_t *self, const hd_submit_t *msg, uint32_t client,
                               void *payload, int64_t now_ms, hd_job_t **out);
//  Visit every job not yet released (compaction). fn must not submit or release.
void hd_scheduler_each (const hd_scheduler_t *self, void (*fn) (hd_job_t *job, void *arg),
                        void *arg);

//  The one eligibility rule (hd_scheduler_match.c): `node` offers `fn` and meets `reqs` (NULL:
//  none): every tag is on it (its architecture counts as a tag: arm64 = aarch64, amd64 =
//  x86_64), a pinned name is its name, and its memory is enough: HD_ELIGIBLE_NOW asks for free
//  memory the node reported (what dispatch uses, with state and credit on top); HD_ELIGIBLE_EVER
//  for total memory, unknown counting as enough (what the broker checks at SUBMIT: no registered
//  node eligible ever means UNSATISFIABLE).
typedef enum { HD_ELIGIBLE_NOW = 0, HD_ELIGIBLE_EVER } hd_when_t;
bool hd_scheduler_eligible (const hd_node_t *node, uint32_t fn, const hd_reqs_t *reqs,
                            hd_when_t when);
//  A submit's requirements as a job holds them; false when it has none (*out is
//  then left as it was); when true, *out's padding is zeroed too (it is compared whole).
bool hd_scheduler_reqs_of (const hd_submit_t *msg, hd_reqs_t *out);

//  Lookup by id; NULL when unknown. Borrowed.
hd_job_t *hd_scheduler_find (const hd_scheduler_t *self, const hd_id_t *id);
//  Counters for status and benchmarks. Queued includes jobs waiting out a retry backoff.
uint32_t hd_scheduler_queued (const hd_scheduler_t *self);
uint32_t hd_scheduler_leased (const hd_scheduler_t *self);
//  Per function (hd_scheduler_stats.c): queued[fn] (backoffs included) and running[fn] (leased)
//  for fn < nrows - 1; every higher id is added into row nrows - 1. O(functions + parked +
//  leased): never walks the queues.
void hd_scheduler_fn_counts (const hd_scheduler_t *self, uint32_t *queued, uint32_t *running,
                             uint32_t nrows);

//  The clock, for retry backoffs: hd_scheduler_worker_lost takes no time, so it reads the
//  latest value given here or passed as now_ms to submit, restore, next or expire. The broker
//  calls this once per loop pass, before anything that may lose a worker. Never moves back.
void hd_scheduler_set_now (hd_scheduler_t *self, int64_t now_ms);
//  When the earliest job waiting out its retry backoff becomes due; -1 when none waits. The
//  broker may bound its poll timeout with it so such a job goes out on time in a quiet loop.
int64_t hd_scheduler_next_due_ms (const hd_scheduler_t *self);
//  The node's capacity, state, stale or hot flag, slots or credit were changed by hand: re-sort
//  it among the workers of its functions. Optional: changes made through hd_registry_add,
//  hd_registry_remove, hd_registry_update_metrics, hd_registry_set_draining and
//  hd_registry_check_stale are noticed without it, and a node changed by hand is re-checked
//  before it is chosen (it is then never chosen wrongly, only perhaps passed over until its
//  in_flight next changes).
void hd_scheduler_node_changed (hd_scheduler_t *self, hd_node_t *node);

#endif
