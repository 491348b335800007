/*  hd_scheduler_queue: where QUEUED jobs wait. Per function, priority levels (highest first);
    per level, one FIFO per client, served in turn (a ring), so one client's flood does not
    starve another client's handful at the same priority. Functions with queued jobs form a
    ring too. Jobs requeued after a worker loss wait out a backoff on lists of their own.
    Knows nothing of workers: the decision is in hd_scheduler_pick.c.  */
#include "hd_scheduler_int.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#define S_MIN_CQ_BUCKETS 64
#define S_FREE_CQS_MAX 1024  //  recycled client queues kept for reuse

//  --- the ring of functions ------------------------------------------------------------------

//  A function that gains queued jobs joins the ring just before the cursor: last in this round.
static void
s_ring_link (hd_scheduler_t *self, hd_fnqueue_t *fnq)
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
s_ring_unlink (hd_scheduler_t *self, hd_fnqueue_t *fnq)
{
    if (self->cursor == fnq)
        self->cursor = fnq->anext == fnq ? NULL : fnq->anext;
    fnq->aprev->anext = fnq->anext;
    fnq->anext->aprev = fnq->aprev;
    fnq->anext = fnq->aprev = NULL;
    self->nactive--;
}

hd_fnqueue_t *
hd_scheduler_fnq_get (hd_scheduler_t *self, uint32_t fn)
{
    assert (fn < HD_MAX_FN_IDS);
    if (self->fnqs[fn])
        return self->fnqs[fn];
    hd_fnqueue_t *fnq = calloc (1, sizeof *fnq);
    if (!fnq)
        return NULL;
    fnq->fn = fn;
    self->fnqs[fn] = fnq;
    if (self->fn_words < fn / 64 + 1)
        self->fn_words = fn / 64 + 1;
    return fnq;
}

//  --- levels ------------------------------------------------------------------------------

//  The level for `priority`, created in sorted place when missing. NULL when memory runs out.
static hd_level_t *
s_level_get (hd_scheduler_t *self, hd_fnqueue_t *fnq, int32_t priority)
{
    hd_level_t *prev = NULL, *at = fnq->levels;
    for (; at && at->priority >= priority; prev = at, at = at->next)
        if (at->priority == priority)
            return at;
    hd_level_t *level = self->free_levels;
    if (level)
        self->free_levels = level->next;
    else if (!(level = malloc (sizeof *level)))
        return NULL;
    *level = (hd_level_t){ .priority = priority, .fnq = fnq, .prev = prev, .next = at };
    if (prev)
        prev->next = level;
    else
        fnq->levels = level;
    if (at)
        at->prev = level;
    return level;
}

//  A level no client queue refers to leaves its function and is kept for reuse.
static void
s_level_drop_unused (hd_scheduler_t *self, hd_level_t *level)
{
    if (level->refs > 0)
        return;
    assert (!level->cursor);
    if (level->prev)
        level->prev->next = level->next;
    else
        level->fnq->levels = level->next;
    if (level->next)
        level->next->prev = level->prev;
    level->next = self->free_levels;
    self->free_levels = level;
}

//  --- client queues: lookup by (level, client) ---------------------------------------------

static size_t
s_cq_bucket (size_t nbuckets, const hd_level_t *level, uint32_t client)
{
    uint64_t hash = (uint64_t) (uintptr_t) level ^ ((uint64_t) client << 32 | client);
    hash *= 0x9E3779B97F4A7C15ull;
    return (size_t) (hash >> 32) & (nbuckets - 1);
}

static hd_cqueue_t *
s_cq_find (const hd_scheduler_t *self, const hd_level_t *level, uint32_t client)
{
    if (!self->cq_buckets)
        return NULL;
    hd_cqueue_t *cq = self->cq_buckets[s_cq_bucket (self->ncq_buckets, level, client)];
    while (cq && (cq->level != level || cq->client != client))
        cq = cq->hnext;
    return cq;
}

//  Double the buckets before an insert would exceed one queue per bucket. Unchanged on failure.
static bool
s_cq_reserve (hd_scheduler_t *self)
{
    if (self->ncqs < self->ncq_buckets)
        return true;
    size_t n = self->ncq_buckets ? self->ncq_buckets * 2 : S_MIN_CQ_BUCKETS;
    hd_cqueue_t **buckets = calloc (n, sizeof *buckets);
    if (!buckets)
        return false;
    for (size_t i = 0; i < self->ncq_buckets; i++)
        for (hd_cqueue_t *cq = self->cq_buckets[i], *next; cq; cq = next) {
            next = cq->hnext;
            size_t b = s_cq_bucket (n, cq->level, cq->client);
            cq->hnext = buckets[b];
            buckets[b] = cq;
        }
    free (self->cq_buckets);
    self->cq_buckets = buckets;
    self->ncq_buckets = n;
    return true;
}

static hd_cqueue_t *
s_cq_new (hd_scheduler_t *self, hd_level_t *level, uint32_t client)
{
    if (!s_cq_reserve (self))
        return NULL;
    hd_cqueue_t *cq = self->free_cqs;
    if (cq) {
        self->free_cqs = cq->hnext;
        self->nfree_cqs--;
    } else if (!(cq = malloc (sizeof *cq)))
        return NULL;
    size_t b = s_cq_bucket (self->ncq_buckets, level, client);
    *cq = (hd_cqueue_t){ .client = client, .level = level, .hnext = self->cq_buckets[b] };
    self->cq_buckets[b] = cq;
    self->ncqs++;
    level->refs++;
    return cq;
}

hd_err_t
hd_scheduler_cq_attach (hd_scheduler_t *self, hd_fnqueue_t *fnq, int32_t priority, uint32_t client,
                        hd_cqueue_t **out)
{
    hd_level_t *level = s_level_get (self, fnq, priority);
    if (!level)
        return HD_ENOMEM;
    hd_cqueue_t *cq = level->last;
    if (!cq || cq->client != client)
        cq = s_cq_find (self, level, client);
    if (!cq && !(cq = s_cq_new (self, level, client))) {
        s_level_drop_unused (self, level);
        return HD_ENOMEM;
    }
    level->last = cq;
    cq->refs++;
    *out = cq;
    return HD_OK;
}

void
hd_scheduler_cq_detach (hd_scheduler_t *self, hd_cqueue_t *cq)
{
    assert (cq->refs > 0);
    if (--cq->refs > 0)
        return;
    assert (!cq->fifo.head);
    hd_level_t *level = cq->level;
    hd_cqueue_t **link = &self->cq_buckets[s_cq_bucket (self->ncq_buckets, level, cq->client)];
    while (*link != cq)
        link = &(*link)->hnext;
    *link = cq->hnext;
    self->ncqs--;
    if (level->last == cq)
        level->last = NULL;
    level->refs--;
    s_level_drop_unused (self, level);
    if (self->nfree_cqs >= S_FREE_CQS_MAX)
        free (cq);
    else {
        cq->hnext = self->free_cqs;
        self->free_cqs = cq;
        self->nfree_cqs++;
    }
}

//  --- queueing ------------------------------------------------------------------------------

//  A client queue that gains jobs joins its level's ring just before the cursor (last in this
//  round); at the front, it takes the cursor, so a job put back is served at the next turn.
static void
s_cq_link (hd_level_t *level, hd_cqueue_t *cq, bool front)
{
    hd_cqueue_t *at = level->cursor;
    if (!at) {
        cq->rnext = cq->rprev = cq;
        level->cursor = cq;
        return;
    }
    cq->rnext = at;
    cq->rprev = at->rprev;
    at->rprev->rnext = cq;
    at->rprev = cq;
    if (front)
        level->cursor = cq;
}

static void
s_cq_unlink (hd_level_t *level, hd_cqueue_t *cq)
{
    if (level->cursor == cq)
        level->cursor = cq->rnext == cq ? NULL : cq->rnext;
    cq->rprev->rnext = cq->rnext;
    cq->rnext->rprev = cq->rprev;
    cq->rnext = cq->rprev = NULL;
}

void
hd_scheduler_queue_push (hd_scheduler_t *self, hd_job_t *job, bool front)
{
    hd_cqueue_t *cq = job->qowner;
    bool was_empty = !cq->fifo.head;
    if (front)
        hd_jlist_prepend (&cq->fifo, job);
    else
        hd_jlist_append (&cq->fifo, job);
    if (was_empty)
        s_cq_link (cq->level, cq, front);
    else if (front)
        cq->level->cursor = cq;
    job->state = HD_JOB_QUEUED;
    self->queued++;
    hd_fnqueue_t *fnq = cq->level->fnq;
    if (fnq->nqueued++ == 0)
        s_ring_link (self, fnq);
}

static void
s_fifo_unlink (hd_scheduler_t *self, hd_job_t *job)
{
    hd_cqueue_t *cq = job->qowner;
    hd_jlist_remove (&cq->fifo, job);
    if (!cq->fifo.head)
        s_cq_unlink (cq->level, cq);
    self->queued--;
    hd_fnqueue_t *fnq = cq->level->fnq;
    if (--fnq->nqueued == 0)
        s_ring_unlink (self, fnq);
}

void
hd_scheduler_queue_take (hd_scheduler_t *self, hd_job_t *job)
{
    hd_cqueue_t *cq = job->qowner;
    hd_level_t *level = cq->level;
    hd_cqueue_t *after = cq->rnext;
    s_fifo_unlink (self, job);
    //  Round-robin between clients: the level's next turn is the next client's, whether or not
    //  this one still has jobs (an emptied queue has left the ring, and `after` is still in it).
    level->cursor = cq->fifo.head ? cq->rnext : after == cq ? NULL : after;
}

//  --- retry backoff ---------------------------------------------------------------------------

//  min(100 ms x 2^(attempt - 1), 5000 ms): one list per distinct wait, so that each list, filled
//  as the clock moves forward, stays in not_before order and only its head needs looking at.
static uint32_t
s_backoff_step (uint32_t attempt)
{
    return attempt <= 1 ? 0 : attempt - 1 < HD_BACKOFF_STEPS ? attempt - 1 : HD_BACKOFF_STEPS - 1;
}

static int64_t
s_backoff_ms (uint32_t step)
{
    int64_t ms = (int64_t) HD_BACKOFF_BASE_MS << step;
    return ms < HD_BACKOFF_MAX_MS ? ms : HD_BACKOFF_MAX_MS;
}

void
hd_scheduler_park (hd_scheduler_t *self, hd_job_t *job)
{
    uint32_t step = s_backoff_step (job->attempt);
    job->not_before_ms = self->now_ms + s_backoff_ms (step);
    job->parked = true;
    job->state = HD_JOB_QUEUED;
    hd_jlist_append (&self->parked[step], job);
    hd_scheduler_job_fnq (job)->nparked++;
    self->queued++;
    if (self->nparked++ == 0 || job->not_before_ms < self->parked_due)
        self->parked_due = job->not_before_ms;
}

static void
s_unpark_one (hd_scheduler_t *self, hd_jlist_t *list, hd_job_t *job)
{
    hd_jlist_remove (list, job);
    job->parked = false;
    hd_scheduler_job_fnq (job)->nparked--;
    self->nparked--;
    self->queued--;
}

//  Jobs parked by one worker loss, newest lease first, come back in that order, each to the
//  front of its client queue: the oldest ends up first, as it was before the loss.
void
hd_scheduler_unpark (hd_scheduler_t *self, int64_t now_ms)
{
    int64_t due = INT64_MAX;
    for (uint32_t step = 0; step < HD_BACKOFF_STEPS; step++) {
        hd_jlist_t *list = &self->parked[step];
        hd_job_t *job;
        while ((job = list->head) && job->not_before_ms <= now_ms) {
            s_unpark_one (self, list, job);
            hd_scheduler_queue_push (self, job, true);
        }
        if (job && job->not_before_ms < due)
            due = job->not_before_ms;
    }
    self->parked_due = due;
}

void
hd_scheduler_queue_remove (hd_scheduler_t *self, hd_job_t *job)
{
    assert (job->state == HD_JOB_QUEUED);
    if (job->parked)
        s_unpark_one (self, &self->parked[s_backoff_step (job->attempt)], job);
    else
        s_fifo_unlink (self, job);
}

//  --- teardown ----------------------------------------------------------------------------------

static void
s_cqs_free (hd_cqueue_t *cq)
{
    while (cq) {
        hd_cqueue_t *next = cq->hnext;
        free (cq);
        cq = next;
    }
}

static void
s_levels_free (hd_level_t *level)
{
    while (level) {
        hd_level_t *next = level->next;
        free (level);
        level = next;
    }
}

void
hd_scheduler_queues_free (hd_scheduler_t *self)
{
    for (uint32_t fn = 0; fn < HD_MAX_FN_IDS; fn++)
        if (self->fnqs[fn]) {
            s_levels_free (self->fnqs[fn]->levels);
            hd_scheduler_heaps_free (self->fnqs[fn]);
            free (self->fnqs[fn]->workers);
            free (self->fnqs[fn]);
        }
    s_levels_free (self->free_levels);
    for (size_t b = 0; b < self->ncq_buckets; b++)
        s_cqs_free (self->cq_buckets[b]);
    s_cqs_free (self->free_cqs);
    free (self->cq_buckets);
}
