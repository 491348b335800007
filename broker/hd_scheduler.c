/*  hd_scheduler: owns every job from submit to release: an id table (chained, keyed by the first
    8 bytes of the random id), a lease list per worker, and the job's way through its states.
    Where queued jobs wait is hd_scheduler_queue.c; which worker gets one, hd_scheduler_pick.c
    and hd_scheduler_heap.c. Knows nothing of sockets or payload contents; time arrives as
    now_ms; workers come from hd_registry.  */
#include "hd_scheduler_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_FREE_JOBS_MAX 4096  //  recycled job structs kept for reuse
#define S_MIN_BUCKETS 64
#define S_HEAP_MIN_WORKERS 12  //  dispatch + completion measured: a scan wins at 8, heaps at 16

hd_scheduler_t *
hd_scheduler_new (hd_registry_t *registry, const hd_scheduler_config_t *config)
{
    assert (registry && config);
    hd_scheduler_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->buckets = calloc (S_MIN_BUCKETS, sizeof *self->buckets);
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    self->nbuckets = S_MIN_BUCKETS;
    self->registry = registry;
    self->reg_gen = hd_registry_generation (registry);  //  never 0: no heap is built yet
    self->config = *config;
    if (self->config.default_attempts == 0)
        self->config.default_attempts = 3;
    if (self->config.heap_min_workers == 0)
        self->config.heap_min_workers = S_HEAP_MIN_WORKERS;
    return self;
}

static void
s_reqs_unref (hd_reqs_t *reqs)
{
    if (reqs && --reqs->refs == 0)
        free (reqs);
}

//  Hand the payload to its hook and let go of the requirements: exactly once per job.
static void
s_job_empty (const hd_scheduler_t *self, hd_job_t *job)
{
    if (job->payload && self->config.payload_free)
        self->config.payload_free (job->payload);
    if (job->result && self->config.result_free)
        self->config.result_free (job->result);
    s_reqs_unref (job->reqs);
    job->payload = NULL;
    job->result = NULL;
    job->reqs = NULL;
}

void
hd_scheduler_destroy (hd_scheduler_t **self_p)
{
    assert (self_p);
    hd_scheduler_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nbuckets; i++)
        for (hd_job_t *job = self->buckets[i], *next; job; job = next) {
            next = job->hnext;
            s_job_empty (self, job);
            free (job);
        }
    for (hd_job_t *job = self->free_jobs, *next; job; job = next) {
        next = job->hnext;
        free (job);
    }
    hd_scheduler_queues_free (self);
    for (uint32_t i = 0; i < 4; i++)
        s_reqs_unref (self->reqs_cache[i]);
    free (self->leases);
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

//  --- id table -----------------------------------------------------------------------------

//  Both halves of the id, mixed (murmur3's finaliser): the ids of a detached job's tasks share
//  their first 8 bytes (the job's nonce) and differ only in the index (big-endian) after it,
//  so the first half alone would put a whole job in one bucket.
static size_t
s_bucket (const hd_scheduler_t *self, const hd_id_t *id)
{
    uint64_t a, b;
    memcpy (&a, id->b, sizeof a);
    memcpy (&b, id->b + 8, sizeof b);
    uint64_t hash = a ^ b;
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
    return (size_t) (hash & (self->nbuckets - 1));
}

static void
s_table_insert (hd_scheduler_t *self, hd_job_t *job)
{
    size_t bucket = s_bucket (self, &job->id);
    job->hnext = self->buckets[bucket];
    self->buckets[bucket] = job;
    self->njobs++;
}

//  Double the buckets before an insert would exceed one job per bucket. Unchanged on failure.
static hd_err_t
s_table_reserve (hd_scheduler_t *self)
{
    if (self->njobs < self->nbuckets)
        return HD_OK;
    hd_job_t **old = self->buckets;
    size_t old_n = self->nbuckets;
    hd_job_t **buckets = calloc (old_n * 2, sizeof *buckets);
    if (!buckets)
        return HD_ENOMEM;
    self->buckets = buckets;
    self->nbuckets = old_n * 2;
    self->njobs = 0;
    for (size_t i = 0; i < old_n; i++)
        for (hd_job_t *job = old[i], *next; job; job = next) {
            next = job->hnext;
            s_table_insert (self, job);
        }
    free (old);
    return HD_OK;
}

static void
s_table_erase (hd_scheduler_t *self, hd_job_t *job)
{
    hd_job_t **link = &self->buckets[s_bucket (self, &job->id)];
    while (*link != job)
        link = &(*link)->hnext;
    *link = job->hnext;
    job->hnext = NULL;
    self->njobs--;
}

hd_job_t *
hd_scheduler_find (const hd_scheduler_t *self, const hd_id_t *id)
{
    assert (self && id);
    hd_job_t *job = self->buckets[s_bucket (self, id)];
    while (job && !hd_id_eq (&job->id, id))
        job = job->hnext;
    return job;
}

//  --- submit and release ---------------------------------------------------------------------

static hd_job_t *
s_job_alloc (hd_scheduler_t *self)
{
    hd_job_t *job = self->free_jobs;
    if (!job)
        return malloc (sizeof *job);
    self->free_jobs = job->hnext;
    self->nfree_jobs--;
    return job;
}

static void
s_job_recycle (hd_scheduler_t *self, hd_job_t *job)
{
    if (self->nfree_jobs >= S_FREE_JOBS_MAX) {
        free (job);
        return;
    }
    job->hnext = self->free_jobs;
    self->free_jobs = job;
    self->nfree_jobs++;
}

//  NULL in *out when the submit asks for nothing beyond the function (the common case). Jobs
//  asking the same share one copy (one reference each): a sealed job's every task names the
//  same payload-key tag, and 600 bytes a task would have tripled a queued task's memory.
static hd_err_t
s_reqs_new (hd_scheduler_t *self, const hd_submit_t *msg, hd_reqs_t **out)
{
    hd_reqs_t reqs;
    *out = NULL;
    if (!hd_scheduler_reqs_of (msg, &reqs))
        return HD_OK;
    const size_t cmp = offsetof (hd_reqs_t, refs);  //  reqs_of zeroes the padding too
    for (uint32_t i = 0; i < 4; i++) {
        hd_reqs_t *c = self->reqs_cache[i];
        if (c && c->ntags == reqs.ntags && memcmp (c, &reqs, cmp) == 0) {
            c->refs++;
            *out = c;
            return HD_OK;
        }
    }
    if (!(*out = malloc (sizeof reqs)))
        return HD_ENOMEM;
    **out = reqs;
    (*out)->refs = 2;  //  the job's and the cache's
    s_reqs_unref (self->reqs_cache[self->reqs_next]);
    self->reqs_cache[self->reqs_next] = *out;
    self->reqs_next = (self->reqs_next + 1) % 4;
    return HD_OK;
}

static void
s_job_init (const hd_scheduler_t *self, hd_job_t *job, const hd_submit_t *msg, uint32_t fn,
            uint32_t client)
{
    *job = (hd_job_t){ .id = msg->id, .fn = fn, .priority = msg->priority, .client = client };
    job->timeout_ms = msg->timeout_ms;
    job->seal = msg->seal > UINT8_MAX ? UINT8_MAX : (uint8_t) msg->seal;
    job->max_attempts = msg->max_attempts ? msg->max_attempts : self->config.default_attempts;
}

//  Every allocation happens before the job becomes visible, so a failure leaves no trace.
static hd_err_t
s_job_create (hd_scheduler_t *self, const hd_submit_t *msg, uint32_t fn, uint32_t client,
              hd_job_t **out)
{
    hd_fnqueue_t *fnq = hd_scheduler_fnq_get (self, fn);
    hd_reqs_t *reqs = NULL;
    if (s_table_reserve (self) != HD_OK || !fnq || s_reqs_new (self, msg, &reqs) != HD_OK)
        return HD_ENOMEM;
    hd_job_t *job = s_job_alloc (self);
    hd_cqueue_t *cq = NULL;
    if (!job || hd_scheduler_cq_attach (self, fnq, msg->priority, client, &cq) != HD_OK) {
        if (job)
            s_job_recycle (self, job);
        s_reqs_unref (reqs);
        return HD_ENOMEM;
    }
    s_job_init (self, job, msg, fn, client);
    hd_registry_fn_hold (self->registry, fn, +1);  //  its name is not forgotten while it lives
    job->reqs = reqs;
    job->qowner = cq;  //  the client's queue for the job's life, even if job->client changes
    *out = job;
    return HD_OK;
}

hd_err_t
hd_scheduler_submit (hd_scheduler_t *self, const hd_submit_t *msg, uint32_t client, void *payload,
                     int64_t now_ms, hd_job_t **out)
{
    assert (self && msg && out);
    *out = hd_scheduler_find (self, &msg->id);
    if (*out)
        return HD_EINVAL;
    uint32_t fn;
    if (hd_registry_fn_find (self->registry, msg->fn, &fn) != HD_OK ||
        hd_registry_fn_providers (self->registry, fn) == 0)
        return HD_ENOTFOUND;
    if (self->config.max_queued && self->queued + self->leased >= self->config.max_queued)
        return HD_EFULL;
    hd_job_t *job;
    hd_err_t rc = s_job_create (self, msg, fn, client, &job);
    if (rc != HD_OK)
        return rc;
    hd_scheduler_set_now (self, now_ms);
    job->submitted_ms = now_ms;
    job->payload = payload;
    s_table_insert (self, job);
    hd_scheduler_queue_push (self, job, false);
    *out = job;
    return HD_OK;
}

void
hd_scheduler_release (hd_scheduler_t *self, hd_job_t **job_p)
{
    assert (self && job_p);
    hd_job_t *job = *job_p;
    if (!job)
        return;
    switch (job->state) {
    case HD_JOB_QUEUED:
        hd_scheduler_queue_remove (self, job);
        break;
    case HD_JOB_LEASED:  //  the worker gets its credit back
        hd_scheduler_lease_end (self, job);
        break;
    case HD_JOB_DONE:
    case HD_JOB_DEAD:
        break;
    }
    s_table_erase (self, job);
    hd_scheduler_cq_detach (self, job->qowner);
    hd_registry_fn_hold (self->registry, job->fn, -1);
    s_job_empty (self, job);
    s_job_recycle (self, job);
    *job_p = NULL;
}

//  --- results, losses, cancels -----------------------------------------------------------------

hd_err_t
hd_scheduler_complete (hd_scheduler_t *self, const hd_id_t *id, uint32_t attempt,
                       const hd_node_t *worker, hd_job_t **out)
{
    assert (self && id && out);
    *out = NULL;
    hd_job_t *job = hd_scheduler_find (self, id);
    if (!job)
        return HD_ENOTFOUND;
    if (job->state != HD_JOB_LEASED || job->attempt != attempt || job->worker != worker)
        return HD_EPROTO;
    job->worker->done++;
    hd_scheduler_lease_end (self, job);
    job->state = HD_JOB_DONE;
    *out = job;
    return HD_OK;
}

//  Newest lease first, each parked (to its queue front once due): the oldest ends up first, as
//  it was. The backoff keeps a task that kills its workers from killing them back to back.
void
hd_scheduler_worker_lost (hd_scheduler_t *self, hd_node_t *worker,
                          void (*on_dead) (hd_job_t *job, void *arg), void *arg)
{
    assert (self && worker);
    hd_job_t *job = worker->index < self->nleases ? self->leases[worker->index].tail : NULL;
    while (job) {
        //  Read the link first: on_dead may release the job.
        hd_job_t *prev = job->qprev;
        hd_scheduler_lease_end (self, job);
        if (job->attempt < job->max_attempts)
            hd_scheduler_park (self, job);
        else {
            job->state = HD_JOB_DEAD;
            if (on_dead)
                on_dead (job, arg);
        }
        job = prev;
    }
    if (worker->in_flight) {  //  leases not known here: the count was out of step
        worker->in_flight = 0;
        hd_scheduler_node_changed (self, worker);
    }
}

hd_err_t
hd_scheduler_cancel (hd_scheduler_t *self, const hd_id_t *id, hd_job_t **out)
{
    assert (self && id && out);
    *out = hd_scheduler_find (self, id);
    if (!*out)
        return HD_ENOTFOUND;
    if ((*out)->state != HD_JOB_QUEUED)
        return HD_EINVAL;
    hd_scheduler_queue_remove (self, *out);
    (*out)->state = HD_JOB_DEAD;
    return HD_OK;
}

uint32_t
hd_scheduler_queued (const hd_scheduler_t *self)
{
    assert (self);
    return self->queued;
}

uint32_t
hd_scheduler_leased (const hd_scheduler_t *self)
{
    assert (self);
    return self->leased;
}

//  --- lease deadlines ------------------------------------------------------------------------

uint32_t
hd_scheduler_expire (hd_scheduler_t *self, int64_t now_ms, int64_t grace_ms,
                     void (*on_expired) (hd_job_t *job, void *arg), void *arg)
{
    assert (self);
    hd_scheduler_set_now (self, now_ms);
    uint32_t n = 0;
    for (uint32_t w = 0; w < self->nleases; w++) {
        hd_job_t *job = self->leases[w].head;
        while (job) {
            hd_job_t *next = job->qnext;  //  on_expired may release the job
            if (job->lease_deadline_ms && now_ms > job->lease_deadline_ms + grace_ms) {
                hd_scheduler_lease_end (self, job);
                job->state = HD_JOB_DEAD;
                n++;
                on_expired (job, arg);
            }
            job = next;
        }
    }
    return n;
}

//  --- recovery and compaction ----------------------------------------------------------------

hd_err_t
hd_scheduler_restore (hd_scheduler_t *self, const hd_submit_t *msg, uint32_t client,
                      void *payload, int64_t now_ms, hd_job_t **out)
{
    assert (self && msg && out);
    *out = hd_scheduler_find (self, &msg->id);
    if (*out)
        return HD_EINVAL;
    uint32_t fn;
    hd_err_t rc = hd_registry_fn_intern (self->registry, msg->fn, &fn);
    hd_job_t *job = NULL;
    if (rc == HD_OK)
        rc = s_job_create (self, msg, fn, client, &job);
    if (rc != HD_OK)
        return rc;
    hd_scheduler_set_now (self, now_ms);
    job->submitted_ms = now_ms;
    job->payload = payload;
    s_table_insert (self, job);
    hd_scheduler_queue_push (self, job, false);
    *out = job;
    return HD_OK;
}

void
hd_scheduler_each (const hd_scheduler_t *self, void (*fn) (hd_job_t *job, void *arg), void *arg)
{
    for (size_t b = 0; b < self->nbuckets; b++)
        for (hd_job_t *job = self->buckets[b]; job; job = job->hnext)
            fn (job, arg);
}

hd_err_t
hd_scheduler_requeue (hd_scheduler_t *self, const hd_id_t *id, uint32_t attempt,
                      const hd_node_t *worker)
{
    hd_job_t *job = hd_scheduler_find (self, id);
    if (!job)
        return HD_ENOTFOUND;
    if (job->state != HD_JOB_LEASED || job->attempt != attempt || job->worker != worker)
        return HD_EPROTO;
    hd_scheduler_lease_end (self, job);
    job->attempt--;  //  it never ran: the refusal does not count as an attempt, nor backs off
    job->not_before_ms = 0;
    hd_scheduler_queue_push (self, job, true);
    return HD_OK;
}

//  --- the clock -------------------------------------------------------------------------------

//  Results before a function may count as short, and the thresholds (ms, with hysteresis).
#define S_RUNS_MIN 8
#define S_SHORT_MS 0.5
#define S_LONG_MS  2.0

void
hd_scheduler_observe_run (hd_scheduler_t *self, uint32_t fn, uint32_t run_ms)
{
    assert (self);
    hd_fnqueue_t *fnq = fn < HD_MAX_FN_IDS ? self->fnqs[fn] : NULL;
    if (!fnq)
        return;
    //  A moving average over about 16 results: a function that turns slow stops being short
    //  within a few of them, and one slow run among many short ones does not flip it.
    fnq->done++;
    fnq->total_ms += run_ms;
    fnq->run_ms = fnq->runs ? fnq->run_ms + ((double) run_ms - fnq->run_ms) / 16.0 : run_ms;
    if (fnq->runs < S_RUNS_MIN)
        fnq->runs++;
    bool deep = fnq->deep ? fnq->run_ms < S_LONG_MS
                          : fnq->runs >= S_RUNS_MIN && fnq->run_ms < S_SHORT_MS;
    if (deep != fnq->deep) {
        fnq->deep = deep;
        if (fnq->heaped)
            fnq->gen = 0;  //  the CREDIT heap's members follow the other limit now: rebuild
    }
}

void
hd_scheduler_fn_stats (const hd_scheduler_t *self, uint32_t fn, hd_fnstats_t *out)
{
    assert (self && out);
    const hd_fnqueue_t *fnq = fn < HD_MAX_FN_IDS ? self->fnqs[fn] : NULL;
    *out = (hd_fnstats_t){ 0 };
    if (!fnq)
        return;
    out->queued = fnq->nqueued + fnq->nparked;
    out->running = fnq->nleased;
    out->done = fnq->done;
    out->mean_ms = fnq->done ? fnq->total_ms / (double) fnq->done : 0;
}

bool
hd_scheduler_is_short (const hd_scheduler_t *self, uint32_t fn)
{
    assert (self);
    return fn < HD_MAX_FN_IDS && self->fnqs[fn] && self->fnqs[fn]->deep;
}

void
hd_scheduler_set_now (hd_scheduler_t *self, int64_t now_ms)
{
    assert (self);
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
}

int64_t
hd_scheduler_next_due_ms (const hd_scheduler_t *self)
{
    assert (self);
    return self->nparked ? self->parked_due : -1;
}
