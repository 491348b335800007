/*  hd_scheduler: owns every job from submit to release: an id table (chained, keyed by the first
    8 bytes of the random id), per-function ready queues (priority levels, each a FIFO), and a
    lease list per worker. The dispatch decision lives in s_pick_node alone so it can be replaced.
    Knows nothing of sockets, clocks or payload contents; workers come from hd_registry.  */
#include "hd_scheduler.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_SCAN_LIMIT 64       //  jobs looked at per function and decision
#define S_FREE_JOBS_MAX 4096  //  recycled job structs kept for reuse
#define S_MIN_BUCKETS 64

typedef struct s_fnq s_fnq_t;

//  One priority level of one function: a FIFO of its QUEUED jobs (qnext/qprev). It lives while
//  any job names it as qowner, queued or not, so requeueing a leased job never allocates.
typedef struct s_level {
    int32_t priority;
    uint32_t refs;                //  jobs whose qowner is this level
    hd_job_t *head, *tail;        //  QUEUED jobs, oldest first
    struct s_level *next, *prev;  //  the function's levels, highest priority first
    s_fnq_t *fnq;
} s_level_t;

//  Per function: its levels, and its place in the ring of functions that have queued jobs.
struct s_fnq {
    s_level_t *levels;
    uint32_t nqueued;
    s_fnq_t *anext, *aprev;
};

//  Jobs LEASED to one worker, in lease order, linked through qnext/qprev (free while leased).
typedef struct {
    hd_job_t *head, *tail;
} s_leases_t;

struct hd_scheduler {
    hd_registry_t *registry;
    hd_scheduler_config_t config;
    hd_job_t **buckets;  //  chained through hnext; every job not yet released
    size_t nbuckets;
    size_t njobs;
    s_fnq_t *fnqs[HD_MAX_FN_IDS];
    s_fnq_t *cursor;     //  function tried first by the next decision; NULL: none queued
    uint32_t nactive;    //  functions in the ring
    s_leases_t *leases;  //  by worker index
    uint32_t nleases;
    hd_job_t *free_jobs;  //  chained through hnext
    uint32_t nfree_jobs;
    s_level_t *free_levels;  //  chained through next
    uint32_t queued;
    uint32_t leased;
};

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
    self->config = *config;
    if (self->config.default_attempts == 0)
        self->config.default_attempts = 3;
    return self;
}

//  Hand the payload to its hook and free the requirements: exactly once per job.
static void
s_job_empty (const hd_scheduler_t *self, hd_job_t *job)
{
    if (job->payload && self->config.payload_free)
        self->config.payload_free (job->payload);
    if (job->result && self->config.result_free)
        self->config.result_free (job->result);
    free (job->reqs);
    job->payload = NULL;
    job->result = NULL;
    job->reqs = NULL;
}

static void
s_levels_free (s_level_t *level)
{
    while (level) {
        s_level_t *next = level->next;
        free (level);
        level = next;
    }
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
    for (uint32_t fn = 0; fn < HD_MAX_FN_IDS; fn++)
        if (self->fnqs[fn]) {
            s_levels_free (self->fnqs[fn]->levels);
            free (self->fnqs[fn]);
        }
    s_levels_free (self->free_levels);
    free (self->leases);
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

//  --- id table -----------------------------------------------------------------------------

//  Ids are random, so their first 8 bytes are already a good hash.
static size_t
s_bucket (const hd_scheduler_t *self, const hd_id_t *id)
{
    uint64_t hash;
    memcpy (&hash, id->b, sizeof hash);
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

//  --- function ring, levels and queues ------------------------------------------------------

//  A function that gains queued jobs joins the ring just before the cursor: last in this round.
static void
s_ring_link (hd_scheduler_t *self, s_fnq_t *fnq)
{
    if (!self->cursor) {
        fnq->anext = fnq->aprev = fnq;
        self->cursor = fnq;
    } else {
        fnq->anext = self->cursor;
        fnq->aprev = self->cursor->aprev;
        fnq->aprev->anext = fnq;
        self->cursor->aprev = fnq;
    }
    self->nactive++;
}

static void
s_ring_unlink (hd_scheduler_t *self, s_fnq_t *fnq)
{
    if (self->cursor == fnq)
        self->cursor = fnq->anext == fnq ? NULL : fnq->anext;
    fnq->aprev->anext = fnq->anext;
    fnq->anext->aprev = fnq->aprev;
    fnq->anext = fnq->aprev = NULL;
    self->nactive--;
}

static s_fnq_t *
s_fnq_get (hd_scheduler_t *self, uint32_t fn)
{
    assert (fn < HD_MAX_FN_IDS);
    if (!self->fnqs[fn])
        self->fnqs[fn] = calloc (1, sizeof (s_fnq_t));
    return self->fnqs[fn];
}

//  The level for `priority`, created in sorted place when missing. NULL when memory runs out.
static s_level_t *
s_level_get (hd_scheduler_t *self, s_fnq_t *fnq, int32_t priority)
{
    s_level_t *prev = NULL, *at = fnq->levels;
    for (; at && at->priority >= priority; prev = at, at = at->next)
        if (at->priority == priority)
            return at;
    s_level_t *level = self->free_levels;
    if (level)
        self->free_levels = level->next;
    else if (!(level = malloc (sizeof *level)))
        return NULL;
    *level = (s_level_t){ .priority = priority, .fnq = fnq, .prev = prev, .next = at };
    if (prev)
        prev->next = level;
    else
        fnq->levels = level;
    if (at)
        at->prev = level;
    return level;
}

//  Drop a job's reference; an unreferenced level leaves its function and is kept for reuse.
static void
s_level_put (hd_scheduler_t *self, s_level_t *level)
{
    assert (level->refs > 0);
    if (--level->refs > 0)
        return;
    assert (!level->head);
    if (level->prev)
        level->prev->next = level->next;
    else
        level->fnq->levels = level->next;
    if (level->next)
        level->next->prev = level->prev;
    level->next = self->free_levels;
    self->free_levels = level;
}

static void
s_queue_push (hd_scheduler_t *self, hd_job_t *job, bool front)
{
    s_level_t *level = job->qowner;
    if (front) {
        job->qprev = NULL;
        job->qnext = level->head;
        *(level->head ? &level->head->qprev : &level->tail) = job;
        level->head = job;
    } else {
        job->qnext = NULL;
        job->qprev = level->tail;
        *(level->tail ? &level->tail->qnext : &level->head) = job;
        level->tail = job;
    }
    job->state = HD_JOB_QUEUED;
    self->queued++;
    if (level->fnq->nqueued++ == 0)
        s_ring_link (self, level->fnq);
}

static void
s_queue_unlink (hd_scheduler_t *self, hd_job_t *job)
{
    s_level_t *level = job->qowner;
    *(job->qprev ? &job->qprev->qnext : &level->head) = job->qnext;
    *(job->qnext ? &job->qnext->qprev : &level->tail) = job->qprev;
    job->qnext = job->qprev = NULL;
    self->queued--;
    if (--level->fnq->nqueued == 0)
        s_ring_unlink (self, level->fnq);
}

//  --- leases ---------------------------------------------------------------------------------

//  Make room for worker `index`'s lease list. Only a new, higher worker index allocates.
static bool
s_leases_reserve (hd_scheduler_t *self, uint32_t index)
{
    if (index < self->nleases)
        return true;
    uint32_t n = self->nleases ? self->nleases : 8;
    while (n <= index)
        n *= 2;
    s_leases_t *leases = realloc (self->leases, n * sizeof *leases);
    if (!leases)
        return false;
    memset (leases + self->nleases, 0, (n - self->nleases) * sizeof *leases);
    self->leases = leases;
    self->nleases = n;
    return true;
}

static void
s_lease_link (hd_scheduler_t *self, hd_job_t *job)
{
    s_leases_t *list = &self->leases[job->worker->index];
    job->qnext = NULL;
    job->qprev = list->tail;
    *(list->tail ? &list->tail->qnext : &list->head) = job;
    list->tail = job;
    job->worker->in_flight++;
    self->leased++;
}

//  Ends the lease: the job leaves its worker's list and gives the credit back.
static void
s_lease_unlink (hd_scheduler_t *self, hd_job_t *job)
{
    s_leases_t *list = &self->leases[job->worker->index];
    *(job->qprev ? &job->qprev->qnext : &list->head) = job->qnext;
    *(job->qnext ? &job->qnext->qprev : &list->tail) = job->qprev;
    job->qnext = job->qprev = NULL;
    if (job->worker->in_flight > 0)
        job->worker->in_flight--;
    job->worker = NULL;
    self->leased--;
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

//  NULL in *out when the submit asks for nothing beyond the function (the common case).
static hd_err_t
s_reqs_new (const hd_submit_t *msg, hd_reqs_t **out)
{
    *out = NULL;
    if (msg->ntags == 0 && msg->min_mem_mb == 0 && msg->node[0] == '\0')
        return HD_OK;
    hd_reqs_t *reqs = calloc (1, sizeof *reqs);
    if (!reqs)
        return HD_ENOMEM;
    reqs->min_mem_mb = msg->min_mem_mb;
    reqs->ntags = msg->ntags < HD_MAX_TAGS ? msg->ntags : HD_MAX_TAGS;
    for (uint32_t i = 0; i < reqs->ntags; i++)
        memcpy (reqs->tags[i], msg->tags[i], sizeof reqs->tags[i]);
    memcpy (reqs->node, msg->node, sizeof reqs->node);
    *out = reqs;
    return HD_OK;
}

static void
s_job_init (const hd_scheduler_t *self, hd_job_t *job, const hd_submit_t *msg, uint32_t fn,
            uint32_t client)
{
    *job = (hd_job_t){ .id = msg->id, .fn = fn, .priority = msg->priority, .client = client };
    job->timeout_ms = msg->timeout_ms;
    job->max_attempts = msg->max_attempts ? msg->max_attempts : self->config.default_attempts;
}

//  Every allocation happens before the job becomes visible, so a failure leaves no trace.
static hd_err_t
s_job_create (hd_scheduler_t *self, const hd_submit_t *msg, uint32_t fn, uint32_t client,
              hd_job_t **out)
{
    s_fnq_t *fnq = s_fnq_get (self, fn);
    hd_reqs_t *reqs = NULL;
    if (s_table_reserve (self) != HD_OK || !fnq || s_reqs_new (msg, &reqs) != HD_OK)
        return HD_ENOMEM;
    hd_job_t *job = s_job_alloc (self);
    s_level_t *level = job ? s_level_get (self, fnq, msg->priority) : NULL;
    if (!level) {
        if (job)
            s_job_recycle (self, job);
        free (reqs);
        return HD_ENOMEM;
    }
    s_job_init (self, job, msg, fn, client);
    job->reqs = reqs;
    job->qowner = level;
    level->refs++;
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
    job->submitted_ms = now_ms;
    job->payload = payload;
    s_table_insert (self, job);
    s_queue_push (self, job, false);
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
        s_queue_unlink (self, job);
        break;
    case HD_JOB_LEASED:  //  the worker gets its credit back
        s_lease_unlink (self, job);
        break;
    case HD_JOB_DONE:
    case HD_JOB_DEAD:
        break;
    }
    s_table_erase (self, job);
    s_level_put (self, job->qowner);
    s_job_empty (self, job);
    s_job_recycle (self, job);
    *job_p = NULL;
}

//  --- dispatch -------------------------------------------------------------------------------

static bool
s_node_has_tag (const hd_node_t *node, const char *tag)
{
    for (uint32_t i = 0; i < node->ntags; i++)
        if (strcmp (node->tags[i], tag) == 0)
            return true;
    return false;
}

//  min_mem_mb is not checked yet: workers report no memory figures until issue 4 adds them.
static bool
s_node_meets (const hd_node_t *node, const hd_reqs_t *reqs)
{
    if (!reqs)
        return true;
    if (reqs->node[0] && strcmp (reqs->node, node->name) != 0)
        return false;
    for (uint32_t i = 0; i < reqs->ntags; i++)
        if (!s_node_has_tag (node, reqs->tags[i]))
            return false;
    return true;
}

//  Tasks beyond the node's slots wait in its local backlog (prefetch, so that many tasks travel
//  in one message); a task with a deadline must not spend it waiting there: it needs a slot.
static uint32_t
s_credit (const hd_node_t *node, const hd_job_t *job)
{
    return job->timeout_ms || node->credit < node->slots ? node->slots : node->credit;
}

//  Minimum free memory: a node without a memory figure cannot prove it has enough.
static bool
s_node_has_memory (const hd_node_t *node, const hd_reqs_t *reqs)
{
    if (!reqs || !reqs->min_mem_mb)
        return true;
    return (node->sys.present & HD_M_MEM_AVAIL)
           && node->sys.mem_avail >= (uint64_t) reqs->min_mem_mb << 20;
}

static bool
s_node_eligible (const hd_node_t *node, const hd_job_t *job)
{
    return node->state == HD_NODE_READY && !node->stale && !node->hot
           && node->in_flight < s_credit (node, job) && hd_registry_offers (node, job->fn)
           && s_node_meets (node, job->reqs) && s_node_has_memory (node, job->reqs);
}

//  Earlier expected completion: (in_flight + 1) / capacity, compared without dividing.
static bool
s_node_sooner (const hd_node_t *a, const hd_node_t *b)
{
    return (a->in_flight + 1.0) * b->capacity < (b->in_flight + 1.0) * a->capacity;
}

//  The decision itself, O(workers): walking in index order with a strict comparison sends
//  ties to the lowest index.
static hd_node_t *
s_pick_node (const hd_scheduler_t *self, const hd_job_t *job)
{
    hd_node_t *best = NULL;
    for (hd_node_t *node = hd_registry_first (self->registry); node;
         node = hd_registry_next (self->registry, node))
        if (s_node_eligible (node, job) && (!best || s_node_sooner (node, best)))
            best = node;
    return best;
}

//  The first job of `fnq` in priority-then-FIFO order that some worker can take. A job with no
//  requirements that finds no worker ends the scan (no later job can do better); jobs with
//  requirements are skipped so one unsatisfiable job does not block its function.
static hd_job_t *
s_pick_job (const hd_scheduler_t *self, const s_fnq_t *fnq, hd_node_t **node_out)
{
    uint32_t scanned = 0;
    for (const s_level_t *level = fnq->levels; level; level = level->next)
        for (hd_job_t *job = level->head; job; job = job->qnext) {
            if ((*node_out = s_pick_node (self, job)))
                return job;
            if (!job->reqs || ++scanned >= S_SCAN_LIMIT)
                return NULL;
        }
    return NULL;
}

static void
s_lease (hd_scheduler_t *self, hd_job_t *job, hd_node_t *node, int64_t now_ms)
{
    s_queue_unlink (self, job);
    job->state = HD_JOB_LEASED;
    job->attempt++;
    job->worker = node;
    job->lease_deadline_ms = job->timeout_ms ? now_ms + job->timeout_ms : 0;
    s_lease_link (self, job);
}

bool
hd_scheduler_next (hd_scheduler_t *self, int64_t now_ms, hd_job_t **job_out, hd_node_t **worker_out)
{
    assert (self && job_out && worker_out);
    s_fnq_t *fnq = self->cursor;
    for (uint32_t tried = 0; fnq && tried < self->nactive; tried++, fnq = fnq->anext) {
        hd_node_t *node;
        hd_job_t *job = s_pick_job (self, fnq, &node);
        if (!job)
            continue;
        if (!s_leases_reserve (self, node->index))
            return false;
        s_fnq_t *after = fnq->anext;
        s_lease (self, job, node, now_ms);
        //  Round-robin: the next decision starts with the function after this one.
        self->cursor = !self->nactive ? NULL : fnq->nqueued ? fnq->anext : after;
        *job_out = job;
        *worker_out = node;
        return true;
    }
    return false;
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
    s_lease_unlink (self, job);
    job->state = HD_JOB_DONE;
    *out = job;
    return HD_OK;
}

//  Newest lease first, each pushed to its queue front: the oldest ends up first, as it was.
void
hd_scheduler_worker_lost (hd_scheduler_t *self, hd_node_t *worker,
                          void (*on_dead) (hd_job_t *job, void *arg), void *arg)
{
    assert (self && worker);
    hd_job_t *job = worker->index < self->nleases ? self->leases[worker->index].tail : NULL;
    while (job) {
        //  Read the link first: on_dead may release the job.
        hd_job_t *prev = job->qprev;
        s_lease_unlink (self, job);
        if (job->attempt < job->max_attempts)
            s_queue_push (self, job, true);
        else {
            job->state = HD_JOB_DEAD;
            if (on_dead)
                on_dead (job, arg);
        }
        job = prev;
    }
    worker->in_flight = 0;
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
    s_queue_unlink (self, *out);
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
    uint32_t n = 0;
    for (uint32_t w = 0; w < self->nleases; w++) {
        hd_job_t *job = self->leases[w].head;
        while (job) {
            hd_job_t *next = job->qnext;  //  on_expired may release the job
            if (job->lease_deadline_ms && now_ms > job->lease_deadline_ms + grace_ms) {
                s_lease_unlink (self, job);
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
    job->submitted_ms = now_ms;
    job->payload = payload;
    s_table_insert (self, job);
    s_queue_push (self, job, false);
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
    s_lease_unlink (self, job);
    job->state = HD_JOB_QUEUED;
    job->attempt--;  //  it never ran: the refusal does not count as an attempt
    s_queue_push (self, job, true);
    return HD_OK;
}
