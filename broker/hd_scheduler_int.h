/*  hd_scheduler_int: the scheduler's private state, shared by hd_scheduler.c (jobs and their
    states: submit, results, losses, cancels), hd_scheduler_queue.c (priority levels, per-client
    queues, the ring of functions, retry backoff), hd_scheduler_match.c (may this worker take
    this job) and hd_scheduler_pick.c (workers ordered per function, leases, the decision).
    Not a public header: the broker includes hd_scheduler.h only.  */
#ifndef HD_SCHEDULER_INT_H
#define HD_SCHEDULER_INT_H

#include <float.h>

#include "hd_scheduler.h"

#define HD_BACKOFF_BASE_MS 100  //  first retry after a worker loss waits this long
#define HD_BACKOFF_MAX_MS 5000  //  each later one twice as long, up to this
#define HD_BACKOFF_STEPS 7      //  distinct waits: 100, 200, ..., 3200, 5000 ms

typedef struct hd_fnqueue hd_fnqueue_t;
typedef struct hd_level hd_level_t;
typedef struct hd_cqueue hd_cqueue_t;

//  A doubly linked list of jobs through qnext/qprev: a client's FIFO, a worker's leases, or a
//  backoff list.
typedef struct {
    hd_job_t *head, *tail;
} hd_jlist_t;

//  One client's QUEUED jobs at one priority level of one function, oldest first. It lives while
//  any job names it as qowner, queued or not, so requeueing a leased job never allocates.
struct hd_cqueue {
    uint32_t client;
    uint32_t refs;               //  jobs whose qowner is this queue
    hd_jlist_t fifo;             //  oldest first; parked jobs are on a backoff list instead
    hd_cqueue_t *rnext, *rprev;  //  the level's ring of client queues holding jobs
    hd_cqueue_t *hnext;          //  lookup chain by (level, client); the free list
    hd_level_t *level;
};

//  One priority level of one function: a ring of client queues served in turn.
struct hd_level {
    int32_t priority;
    uint32_t refs;            //  client queues of this level
    hd_cqueue_t *cursor;      //  served next; NULL when no job is queued at this level
    hd_cqueue_t *last;        //  queue of the latest submit here: saves a lookup
    hd_level_t *next, *prev;  //  the function's levels, highest priority first
    hd_fnqueue_t *fnq;
};

//  A binary min-heap of workers by (key, index): key = (in_flight + 1) / capacity as of the
//  worker's last change, so that sifting never reads a worker (a removed one may be gone).
typedef struct {
    double key;
    uint32_t index;
    hd_node_t *node;
} hd_nheap_ent_t;

typedef struct {
    hd_nheap_ent_t *ents;
    uint32_t n, cap;
    int32_t *pos;  //  by worker index: its place in ents, -1 when absent
    uint32_t npos;
} hd_nheap_t;

//  Which leases a heap counts: free credit (slots + prefetch) for a job without a deadline, a
//  free slot for a job with one (it must not wait in the worker's local backlog). A limit kind
//  is one of these, or HD_LIMIT_DEEP: the deep credit of a short function (its jobs use the
//  CREDIT heap, whose members then follow that limit).
enum { HD_HEAP_CREDIT = 0, HD_HEAP_SLOT = 1, HD_HEAPS = 2, HD_LIMIT_DEEP = 2 };

//  Per function: its levels, its place in the ring of functions with queued jobs, and its
//  workers: all that offer it, by index (scanned when few), and when many, also those that could
//  take a job now (READY, neither stale nor hot, under their limit) in heaps.
struct hd_fnqueue {
    hd_level_t *levels;
    uint32_t nqueued;  //  jobs in its client queues (parked jobs are not counted)
    hd_fnqueue_t *anext, *aprev;
    uint32_t fn;
    uint64_t gen;         //  registry generation `workers` and heaps follow; 0: never built
    hd_node_t **workers;  //  every worker offering fn, lowest index first
    uint32_t nworkers, workers_cap;
    bool heaped;     //  nworkers >= config.heap_min_workers: heaps are kept
    bool slot_heap;  //  a job with a deadline came: heaps[HD_HEAP_SLOT] is kept too
    //  Short function: its runs take well under a millisecond (a moving average of the run
    //  times workers report), so its jobs may fill a worker's deep credit (docs/SCHEDULING.md).
    bool deep;
    double run_ms;   //  that average
    uint32_t runs;   //  results it has seen, up to S_RUNS_MIN
    //  For the operator's view (heddle functions): jobs parked and leased now, and every run
    //  time reported since the scheduler was made.
    uint32_t nparked, nleased;
    uint64_t done;
    double total_ms;
    hd_nheap_t heaps[HD_HEAPS];
};

struct hd_scheduler {
    hd_registry_t *registry;
    hd_scheduler_config_t config;
    hd_job_t **buckets;  //  chained through hnext; every job not yet released
    size_t nbuckets;
    size_t njobs;
    hd_fnqueue_t *fnqs[HD_MAX_FN_IDS];
    uint32_t fn_words;     //  words of a worker's function set that may name a queue
    hd_fnqueue_t *cursor;  //  function tried first by the next decision; NULL: none queued
    uint32_t nactive;      //  functions in the ring
    hd_jlist_t *leases;    //  by worker index
    uint32_t nleases;
    hd_reqs_t *reqs_cache[4];  //  requirements asked recently, shared by the jobs asking them
    uint32_t reqs_next;        //  cache slot replaced next
    hd_job_t *free_jobs;  //  chained through hnext
    uint32_t nfree_jobs;
    hd_level_t *free_levels;   //  chained through next
    hd_cqueue_t **cq_buckets;  //  client queues by (level, client), chained through hnext
    size_t ncq_buckets;
    size_t ncqs;
    hd_cqueue_t *free_cqs;  //  chained through hnext
    uint32_t nfree_cqs;
    hd_jlist_t parked[HD_BACKOFF_STEPS];  //  by backoff step; each in not_before order
    uint32_t nparked;
    int64_t parked_due;  //  no parked job is due before this
    int64_t now_ms;      //  latest clock value seen (set_now, or any call passing now_ms)
    uint64_t reg_gen;    //  registry generation the heaps follow
    uint32_t nheaped;    //  function queues with heaps (none: a lease re-sorts nothing)
    uint32_t queued;     //  parked jobs included
    uint32_t leased;
};

//  Leases `node` may hold for a job of limit kind `kind` (HD_HEAP_SLOT: a job with a deadline;
//  HD_HEAP_CREDIT: without; HD_LIMIT_DEEP: a job of a short function without a deadline).
static inline uint32_t
hd_scheduler_limit (const hd_node_t *node, int kind)
{
    uint32_t credit = node->credit < node->slots ? node->slots : node->credit;
    if (kind == HD_HEAP_SLOT)
        return node->slots;
    return kind == HD_LIMIT_DEEP && node->deep_credit > credit ? node->deep_credit : credit;
}

//  The limit kind of fnq's jobs without a deadline.
static inline int
hd_scheduler_credit_kind (const hd_fnqueue_t *fnq)
{
    return fnq->deep ? HD_LIMIT_DEEP : HD_HEAP_CREDIT;
}

//  Earliest expected completion: the worker with the least key gets the next job. Never NaN
//  (a heap with NaN keys would not be ordered): a capacity that is not > 0 sorts last.
static inline double
hd_scheduler_key (const hd_node_t *node)
{
    return node->capacity > 0 ? (node->in_flight + 1.0) / node->capacity : DBL_MAX;
}

//  Could take a job of this kind now: READY, neither stale nor hot, under the kind's limit. The
//  heaps hold exactly such workers.
static inline bool
hd_scheduler_wants (int kind, const hd_node_t *node)
{
    return node->state == HD_NODE_READY && !node->stale && !node->hot &&
           node->in_flight < hd_scheduler_limit (node, kind);
}

//  Heap order: least key first, ties to the lowest worker index.
static inline bool
hd_scheduler_heap_before (const hd_nheap_ent_t *a, const hd_nheap_ent_t *b)
{
    return a->key < b->key || (a->key == b->key && a->index < b->index);
}

//  The function queue a job belongs to (its client queue's level's).
static inline hd_fnqueue_t *
hd_scheduler_job_fnq (const hd_job_t *job)
{
    return ((const hd_cqueue_t *) job->qowner)->level->fnq;
}

static inline void
hd_jlist_append (hd_jlist_t *list, hd_job_t *job)
{
    job->qnext = NULL;
    job->qprev = list->tail;
    *(list->tail ? &list->tail->qnext : &list->head) = job;
    list->tail = job;
}

static inline void
hd_jlist_prepend (hd_jlist_t *list, hd_job_t *job)
{
    job->qprev = NULL;
    job->qnext = list->head;
    *(list->head ? &list->head->qprev : &list->tail) = job;
    list->head = job;
}

static inline void
hd_jlist_remove (hd_jlist_t *list, hd_job_t *job)
{
    *(job->qprev ? &job->qprev->qnext : &list->head) = job->qnext;
    *(job->qnext ? &job->qnext->qprev : &list->tail) = job->qprev;
    job->qnext = job->qprev = NULL;
}

//  hd_scheduler_queue.c: levels, client queues, the ring of functions, retry backoff
//  The function's queue, created on first use. NULL when memory runs out.
hd_fnqueue_t *hd_scheduler_fnq_get (hd_scheduler_t *self, uint32_t fn);
//  Take a reference on the client queue for (fnq, priority, client), creating it and its level
//  when missing. HD_OK with *out set, or HD_ENOMEM with nothing changed.
hd_err_t hd_scheduler_cq_attach (hd_scheduler_t *self, hd_fnqueue_t *fnq, int32_t priority,
                                 uint32_t client, hd_cqueue_t **out);
//  Drop a reference; an unreferenced queue (and then level) is kept for reuse.
void hd_scheduler_cq_detach (hd_scheduler_t *self, hd_cqueue_t *cq);
//  QUEUED at the back of its client queue, or at the front (served at its level's next turn).
void hd_scheduler_queue_push (hd_scheduler_t *self, hd_job_t *job, bool front);
//  A QUEUED job (in its client queue or parked) leaves it, to be released or cancelled.
void hd_scheduler_queue_remove (hd_scheduler_t *self, hd_job_t *job);
//  The job leaves its client queue to be leased; its level's next turn goes to the next client.
void hd_scheduler_queue_take (hd_scheduler_t *self, hd_job_t *job);
//  QUEUED, but parked until now + backoff(attempt): not dispatched before job->not_before_ms.
void hd_scheduler_park (hd_scheduler_t *self, hd_job_t *job);
//  Every parked job due at now_ms goes back to the front of its client queue.
void hd_scheduler_unpark (hd_scheduler_t *self, int64_t now_ms);
//  Free every function queue, level and client queue (jobs are freed by the caller).
void hd_scheduler_queues_free (hd_scheduler_t *self);

//  hd_scheduler_match.c: may `node` take `job` now (function, state, limit, requirements)
//  `kind`: the limit kind the job is held to (hd_scheduler_limit).
bool hd_scheduler_node_fits (const hd_node_t *node, const hd_job_t *job, int kind);

//  hd_scheduler_heap.c: the heaps of one function (see hd_fnqueue_t)
//  Rebuild fnq's heaps from fnq->workers. false when memory runs out (fnq unchanged).
bool hd_scheduler_heaps_fill (hd_fnqueue_t *fnq, uint32_t max_index);
//  Bring the worker's membership and key (given) in fnq's heaps up to date.
void hd_scheduler_heaps_update (hd_fnqueue_t *fnq, hd_node_t *node, double key);
//  The least worker of the heap that fits `job`; NULL when none. O(log n) for a job with no
//  requirements; with requirements, entries in order until one fits (at worst O(n)).
hd_node_t *hd_scheduler_heap_pick (hd_nheap_t *heap, int kind, const hd_job_t *job);
void hd_scheduler_heaps_free (hd_fnqueue_t *fnq);

//  hd_scheduler_pick.c: leases (the decision itself is hd_scheduler_next)
//  Ends the lease: the job leaves its worker's list, the worker gets the credit back and is
//  re-sorted; job->worker is NULL after.
void hd_scheduler_lease_end (hd_scheduler_t *self, hd_job_t *job);

#endif
