/*  hd_scheduler_pick: the dispatch decision and the leases it makes. Functions with queued jobs
    take turns; within a function, priority levels go highest first; within a level, clients
    take turns; within a client, FIFO. The job goes to the eligible worker with the earliest
    expected completion, (in_flight + 1) / capacity, ties to the lowest index: a function
    offered by a handful of workers scans them; one offered by many keeps them in heaps
    (hd_scheduler_heap.c), so a decision stays O(log n). Both follow the registry with no call
    from the broker: a new registry generation (a worker added, re-announced or removed) rebuilds
    a function's worker list before its next decision; workers whose capacity or flags changed
    come from the registry's change list; in_flight changes only here, with each lease.  */
#include "hd_scheduler_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_SCAN_LIMIT 64   //  jobs looked at per client queue and decision
#define S_SCAN_TOTAL 256  //  jobs with requirements passed over per function and decision

//  --- following the registry ------------------------------------------------------------------

//  The worker's in_flight, capacity or flags changed: re-sort it where heaps are kept (a scanned
//  function reads the worker afresh at each decision).
static void
s_rekey (hd_scheduler_t *self, hd_node_t *node)
{
    if (!self->nheaped)
        return;
    double key = hd_scheduler_key (node);
    uint32_t words = node->fnset_words < self->fn_words ? node->fnset_words : self->fn_words;
    for (uint32_t word = 0; word < words; word++)
        for (uint64_t bits = node->fnset[word]; bits; bits &= bits - 1) {
            hd_fnqueue_t *fnq = self->fnqs[word * 64 + (uint32_t) __builtin_ctzll (bits)];
            if (fnq && fnq->heaped)
                hd_scheduler_heaps_update (fnq, node, key);
        }
}

void
hd_scheduler_node_changed (hd_scheduler_t *self, hd_node_t *node)
{
    assert (self && node);
    s_rekey (self, node);
}

//  A new generation leaves every function's workers to be rebuilt before its next decision, so
//  the changes listed meanwhile need no re-sorting.
static void
s_sync (hd_scheduler_t *self)
{
    uint64_t gen = hd_registry_generation (self->registry);
    bool rebuild = gen != self->reg_gen;
    self->reg_gen = gen;
    hd_node_t *node;
    while ((node = hd_registry_take_changed (self->registry)))
        if (!rebuild)
            s_rekey (self, node);
}

//  Every worker offering the function, in index order. *max_index: the highest registered
//  index. false when memory runs out (the list may then be incomplete: fnq->gen stays old).
static bool
s_workers_collect (const hd_scheduler_t *self, hd_fnqueue_t *fnq, uint32_t *max_index)
{
    hd_registry_t *reg = self->registry;
    uint32_t size = (uint32_t) hd_registry_size (reg);
    if (fnq->workers_cap < size) {
        hd_node_t **workers = realloc (fnq->workers, size * sizeof *workers);
        if (!workers)
            return false;
        fnq->workers = workers;
        fnq->workers_cap = size;
    }
    fnq->nworkers = 0;
    *max_index = 0;
    for (hd_node_t *node = hd_registry_first (reg); node; node = hd_registry_next (reg, node)) {
        if (hd_registry_offers (node, fnq->fn))
            fnq->workers[fnq->nworkers++] = node;
        *max_index = node->index;
    }
    return true;
}

//  fnq's workers as of the registry's generation, in heaps when there are many; the slot heap
//  too once a job with a deadline asks for it. O(workers) when rebuilding. false: no memory.
static bool
s_fnq_ready (hd_scheduler_t *self, hd_fnqueue_t *fnq, bool deadline)
{
    if (deadline && !fnq->slot_heap) {
        fnq->slot_heap = true;
        if (fnq->heaped)
            fnq->gen = 0;
    }
    if (fnq->gen == self->reg_gen)
        return true;
    uint32_t max_index;
    if (!s_workers_collect (self, fnq, &max_index))
        return false;
    bool heaped = fnq->nworkers >= self->config.heap_min_workers;
    if (heaped && !hd_scheduler_heaps_fill (fnq, max_index))
        return false;
    self->nheaped += (uint32_t) heaped - (uint32_t) fnq->heaped;
    fnq->heaped = heaped;
    fnq->gen = self->reg_gen;
    return true;
}

//  --- leases -----------------------------------------------------------------------------------

//  Make room for worker `index`'s lease list. Only a new, higher worker index allocates.
static bool
s_leases_reserve (hd_scheduler_t *self, uint32_t index)
{
    if (index < self->nleases)
        return true;
    uint32_t n = self->nleases ? self->nleases : 8;
    while (n <= index)
        n *= 2;
    hd_jlist_t *leases = realloc (self->leases, n * sizeof *leases);
    if (!leases)
        return false;
    memset (leases + self->nleases, 0, (n - self->nleases) * sizeof *leases);
    self->leases = leases;
    self->nleases = n;
    return true;
}

static bool
s_lease (hd_scheduler_t *self, hd_job_t *job, hd_node_t *node, int64_t now_ms)
{
    if (!s_leases_reserve (self, node->index))
        return false;
    hd_scheduler_queue_take (self, job);
    job->state = HD_JOB_LEASED;
    job->attempt++;
    job->worker = node;
    job->lease_deadline_ms = job->timeout_ms ? now_ms + job->timeout_ms : 0;
    hd_jlist_append (&self->leases[node->index], job);
    node->in_flight++;
    self->leased++;
    hd_scheduler_job_fnq (job)->nleased++;
    s_rekey (self, node);
    return true;
}

void
hd_scheduler_lease_end (hd_scheduler_t *self, hd_job_t *job)
{
    hd_node_t *node = job->worker;
    hd_jlist_remove (&self->leases[node->index], job);
    if (node->in_flight > 0)
        node->in_flight--;
    job->worker = NULL;
    self->leased--;
    hd_scheduler_job_fnq (job)->nleased--;
    s_rekey (self, node);
}

//  --- the worker for one job ------------------------------------------------------------------

//  The same order as the heaps' key, compared without dividing: a division's latency was most
//  of a decision among a handful of workers. Equal ratios are equal both ways (ties agree).
static bool
s_sooner (const hd_node_t *a, const hd_node_t *b)
{
    return (a->in_flight + 1.0) * b->capacity < (b->in_flight + 1.0) * a->capacity;
}

//  One pass over the function's workers: for a handful of them, or a job pinned to a node by
//  name (names are not indexed). Index order with a strict comparison sends ties to the lowest.
static hd_node_t *
s_scan_pick (const hd_fnqueue_t *fnq, int kind, const hd_job_t *job)
{
    hd_node_t *best = NULL;
    for (uint32_t i = 0; i < fnq->nworkers; i++) {
        hd_node_t *node = fnq->workers[i];
        bool fits =
            job->reqs ? hd_scheduler_node_fits (node, job, kind) : hd_scheduler_wants (kind, node);
        if (fits && (!best || s_sooner (node, best)))
            best = node;
    }
    return best;
}

static hd_node_t *
s_pick_node (hd_scheduler_t *self, hd_fnqueue_t *fnq, const hd_job_t *job)
{
    bool deadline = job->timeout_ms != 0;
    if (!s_fnq_ready (self, fnq, deadline))
        return NULL;
    int kind = deadline ? HD_HEAP_SLOT : hd_scheduler_credit_kind (fnq);
    if (!fnq->heaped || (job->reqs && job->reqs->node[0]))
        return s_scan_pick (fnq, kind, job);
    return hd_scheduler_heap_pick (&fnq->heaps[deadline ? HD_HEAP_SLOT : HD_HEAP_CREDIT], kind,
                                   job);
}

//  --- the job ---------------------------------------------------------------------------------

//  Whether some worker of fnq has room for a job of no particular requirement like `job` (its
//  deadline decides the kind of room). When none has, no later job can go either.
static bool
s_has_room (hd_scheduler_t *self, hd_fnqueue_t *fnq, const hd_job_t *job)
{
    hd_job_t probe = { .fn = job->fn, .timeout_ms = job->timeout_ms };
    return s_pick_node (self, fnq, &probe) != NULL;
}

//  1: *job_out and *node_out are set; 0: nothing in this client queue; -1: stop searching.
static int
s_pick_in_queue (hd_scheduler_t *self, hd_fnqueue_t *fnq, const hd_cqueue_t *cq, uint32_t *budget,
                 hd_job_t **job_out, hd_node_t **node_out)
{
    uint32_t deep = 0;
    for (hd_job_t *job = cq->fifo.head; job; job = job->qnext) {
        if ((*node_out = s_pick_node (self, fnq, job))) {
            *job_out = job;
            return 1;
        }
        //  A job with requirements is passed over only when a worker has room but not for it:
        //  when every worker is full (the usual state of a busy cluster) the search ends here
        //  instead of trying 256 jobs that cannot go either.
        if (!job->reqs || --*budget == 0 || (job->timeout_ms == 0 && !s_has_room (self, fnq, job)))
            return -1;
        if (++deep == S_SCAN_LIMIT)
            return 0;
    }
    return 0;
}

//  The first job of `fnq` some worker can take: levels by priority, then client turns from each
//  level's cursor, then FIFO. A job with no requirements that finds no worker ends the search
//  (no later job can do better); jobs with requirements are passed over (64 deep per client,
//  256 in all) so that unsatisfiable jobs block neither their client nor the others.
static hd_job_t *
s_pick_job (hd_scheduler_t *self, hd_fnqueue_t *fnq, hd_node_t **node_out)
{
    uint32_t budget = S_SCAN_TOTAL;
    hd_job_t *job = NULL;
    for (const hd_level_t *level = fnq->levels; level; level = level->next) {
        const hd_cqueue_t *cq = level->cursor;
        if (!cq)
            continue;
        do {
            int found = s_pick_in_queue (self, fnq, cq, &budget, &job, node_out);
            if (found)
                return found > 0 ? job : NULL;
        } while ((cq = cq->rnext) != level->cursor);
    }
    return NULL;
}

bool
hd_scheduler_next (hd_scheduler_t *self, int64_t now_ms, hd_job_t **job_out, hd_node_t **worker_out)
{
    assert (self && job_out && worker_out);
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
    s_sync (self);
    if (self->nparked > 0 && now_ms >= self->parked_due)
        hd_scheduler_unpark (self, now_ms);
    hd_fnqueue_t *fnq = self->cursor;
    for (uint32_t tried = 0; fnq && tried < self->nactive; tried++, fnq = fnq->anext) {
        hd_node_t *node;
        hd_job_t *job = s_pick_job (self, fnq, &node);
        if (!job)
            continue;
        hd_fnqueue_t *after = fnq->anext;
        if (!s_lease (self, job, node, now_ms))
            return false;
        //  Round-robin: the next decision starts with the function after this one.
        self->cursor = !self->nactive ? NULL : fnq->nqueued ? fnq->anext : after;
        *job_out = job;
        *worker_out = node;
        return true;
    }
    return false;
}
