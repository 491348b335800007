/*  hd_scheduler_pick: the dispatch decision and the leases it makes. Functions with queued jobs
    take turns; within a function, priority levels go highest first; within a level, clients
    take turns; within a client, FIFO. The job goes to the eligible worker with the earliest
    expected completion, (in_flight + 1) / capacity, ties to the lowest index: per function, the
    workers that could take a job now sit in a binary min-heap on that key, so the common case
    reads the top and pays O(log n) to re-sort the worker it leased to, where it used to scan
    every worker. The heaps follow the registry with no call from the broker: a new registry
    generation (a worker added, re-announced or removed) rebuilds a function's heaps before its
    next decision; workers whose capacity or flags changed come from the registry's change list;
    in_flight changes only here.  */
#include "hd_scheduler_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_SCAN_LIMIT 64   //  jobs looked at per client queue and decision
#define S_SCAN_TOTAL 256  //  jobs with requirements passed over per function and decision
#define S_WALK_MAX 32     //  heap entries visited in order before one plain scan

//  --- heap primitives: they read cached keys only, never a worker (a removed one is freed) ----

static void
s_place (hd_nheap_t *heap, uint32_t at, hd_nheap_ent_t ent)
{
    heap->ents[at] = ent;
    heap->pos[ent.index] = (int32_t) at;
}

static void
s_sift_up (hd_nheap_t *heap, uint32_t at)
{
    hd_nheap_ent_t ent = heap->ents[at];
    while (at > 0) {
        uint32_t parent = (at - 1) / 2;
        if (!hd_scheduler_heap_before (&ent, &heap->ents[parent]))
            break;
        s_place (heap, at, heap->ents[parent]);
        at = parent;
    }
    s_place (heap, at, ent);
}

static void
s_sift_down (hd_nheap_t *heap, uint32_t at)
{
    hd_nheap_ent_t ent = heap->ents[at];
    for (;;) {
        uint32_t child = 2 * at + 1;
        if (child >= heap->n)
            break;
        if (child + 1 < heap->n
            && hd_scheduler_heap_before (&heap->ents[child + 1], &heap->ents[child]))
            child++;
        if (!hd_scheduler_heap_before (&heap->ents[child], &ent))
            break;
        s_place (heap, at, heap->ents[child]);
        at = child;
    }
    s_place (heap, at, ent);
}

//  The entry at `at` changed its key or was replaced: move it up or down to its place.
static void
s_fix (hd_nheap_t *heap, uint32_t at)
{
    if (at > 0 && hd_scheduler_heap_before (&heap->ents[at], &heap->ents[(at - 1) / 2]))
        s_sift_up (heap, at);
    else
        s_sift_down (heap, at);
}

static void
s_remove (hd_nheap_t *heap, uint32_t at)
{
    heap->pos[heap->ents[at].index] = -1;
    if (at == --heap->n)
        return;
    s_place (heap, at, heap->ents[heap->n]);
    s_fix (heap, at);
}

static void
s_append (hd_nheap_t *heap, hd_node_t *node, double key)
{
    hd_nheap_ent_t ent = { .key = key, .index = node->index, .node = node };
    s_place (heap, heap->n++, ent);
}

//  --- heap membership -----------------------------------------------------------------------

//  In the heap of `kind`: READY, neither stale nor hot, and under the limit that kind counts.
static bool
s_wants (int kind, const hd_node_t *node)
{
    return node->state == HD_NODE_READY && !node->stale && !node->hot
           && node->in_flight < hd_scheduler_limit (node, kind == HD_HEAP_SLOT);
}

//  Bring the worker's membership and key in `heap` up to date. A heap left from an older
//  registry generation may be touched too (it is rebuilt before it is read): only cached keys
//  and this worker are read, so that is harmless.
static void
s_update (hd_nheap_t *heap, int kind, hd_node_t *node, double key)
{
    if (node->index >= heap->npos)
        return;  //  joined after the build: the generation changed, a rebuild comes first
    int32_t at = heap->pos[node->index];
    if (!s_wants (kind, node)) {
        if (at >= 0)
            s_remove (heap, (uint32_t) at);
    } else if (at < 0) {
        if (heap->n < heap->cap) {
            s_append (heap, node, key);
            s_sift_up (heap, heap->n - 1);
        }
    } else if (heap->ents[at].key != key) {
        heap->ents[at].key = key;
        s_fix (heap, (uint32_t) at);
    }
}

//  The worker's in_flight, capacity or flags changed: re-sort it in its functions' heaps.
static void
s_rekey (hd_scheduler_t *self, hd_node_t *node)
{
    double key = hd_scheduler_key (node);
    uint32_t words = node->fnset_words < self->fn_words ? node->fnset_words : self->fn_words;
    for (uint32_t word = 0; word < words; word++)
        for (uint64_t bits = node->fnset[word]; bits; bits &= bits - 1) {
            hd_fnqueue_t *fnq = self->fnqs[word * 64 + (uint32_t) __builtin_ctzll (bits)];
            if (!fnq || !fnq->heap_gen)
                continue;
            s_update (&fnq->heaps[HD_HEAP_CREDIT], HD_HEAP_CREDIT, node, key);
            if (fnq->slot_heap)
                s_update (&fnq->heaps[HD_HEAP_SLOT], HD_HEAP_SLOT, node, key);
        }
}

void
hd_scheduler_node_changed (hd_scheduler_t *self, hd_node_t *node)
{
    assert (self && node);
    s_rekey (self, node);
}

//  A new generation leaves every heap to be rebuilt at its function's next decision, so the
//  changes listed meanwhile need no re-sorting.
static void
s_heaps_sync (hd_scheduler_t *self)
{
    uint64_t gen = hd_registry_generation (self->registry);
    bool rebuild = gen != self->reg_gen;
    self->reg_gen = gen;
    hd_node_t *node;
    while ((node = hd_registry_take_changed (self->registry)))
        if (!rebuild)
            s_rekey (self, node);
}

//  --- building ---------------------------------------------------------------------------------

//  Room for `cap` entries and worker indexes below `npos` (doubling, so that workers joining one
//  by one do not reallocate each time); the heap is left empty. Unchanged on failure.
static bool
s_heap_reserve (hd_nheap_t *heap, uint32_t cap, uint32_t npos)
{
    if (heap->cap < cap) {
        uint32_t n = heap->cap * 2 > cap ? heap->cap * 2 : cap;
        hd_nheap_ent_t *ents = realloc (heap->ents, n * sizeof *ents);
        if (!ents)
            return false;
        heap->ents = ents;
        heap->cap = n;
    }
    if (heap->npos < npos) {
        uint32_t n = heap->npos * 2 > npos ? heap->npos * 2 : npos;
        int32_t *pos = realloc (heap->pos, n * sizeof *pos);
        if (!pos)
            return false;
        heap->pos = pos;
        heap->npos = n;
    }
    if (heap->npos)
        memset (heap->pos, 0xff, heap->npos * sizeof *heap->pos);  //  every int32_t -1
    heap->n = 0;
    return true;
}

//  O(workers): fill from the registry, then heapify bottom-up.
static bool
s_heaps_build (hd_scheduler_t *self, hd_fnqueue_t *fnq)
{
    hd_registry_t *reg = self->registry;
    uint32_t size = (uint32_t) hd_registry_size (reg), npos = 0;
    for (hd_node_t *node = hd_registry_first (reg); node; node = hd_registry_next (reg, node))
        npos = node->index + 1;
    int kinds = fnq->slot_heap ? HD_HEAPS : 1;
    for (int kind = 0; kind < kinds; kind++)
        if (!s_heap_reserve (&fnq->heaps[kind], size, npos))
            return false;
    for (hd_node_t *node = hd_registry_first (reg); node; node = hd_registry_next (reg, node))
        for (int kind = 0; kind < kinds; kind++)
            if (hd_registry_offers (node, fnq->fn) && s_wants (kind, node))
                s_append (&fnq->heaps[kind], node, hd_scheduler_key (node));
    for (int kind = 0; kind < kinds; kind++)
        for (uint32_t at = fnq->heaps[kind].n / 2; at-- > 0;)
            s_sift_down (&fnq->heaps[kind], at);
    fnq->heap_gen = self->reg_gen;
    return true;
}

//  fnq's heaps as of the registry's generation (also the slot heap once a job with a deadline
//  asks for it). false when memory runs out.
static bool
s_heaps_ready (hd_scheduler_t *self, hd_fnqueue_t *fnq, bool deadline)
{
    if (deadline && !fnq->slot_heap) {
        fnq->slot_heap = true;
        fnq->heap_gen = 0;
    }
    return fnq->heap_gen == self->reg_gen || s_heaps_build (self, fnq);
}

//  A worker whose fields were changed by hand, not through the registry, may sit at the top
//  unwanted: it leaves, so the answer is always a worker that may take a job of this kind. (Its
//  key, if stale, is made right when it is leased to, which re-sorts it.)
static hd_node_t *
s_heap_top (hd_nheap_t *heap, int kind)
{
    while (heap->n > 0) {
        hd_node_t *node = heap->ents[0].node;
        if (s_wants (kind, node))
            return node;
        s_remove (heap, 0);
    }
    return NULL;
}

void
hd_scheduler_heaps_free (hd_fnqueue_t *fnq)
{
    for (int kind = 0; kind < HD_HEAPS; kind++) {
        free (fnq->heaps[kind].ents);
        free (fnq->heaps[kind].pos);
    }
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
    s_rekey (self, node);
}

//  --- the worker for one job ------------------------------------------------------------------

//  Names are not indexed: a job pinned to a node costs one pass over the workers, as before.
//  Index order with a strict comparison sends ties to the lowest index.
static hd_node_t *
s_pick_pinned (const hd_scheduler_t *self, const hd_job_t *job)
{
    hd_node_t *best = NULL;
    for (hd_node_t *node = hd_registry_first (self->registry); node;
         node = hd_registry_next (self->registry, node))
        if (hd_scheduler_node_fits (node, job)
            && (!best || hd_scheduler_key (node) < hd_scheduler_key (best)))
            best = node;
    return best;
}

static hd_node_t *
s_heap_scan (const hd_nheap_t *heap, const hd_job_t *job)
{
    const hd_nheap_ent_t *best = NULL;
    for (uint32_t at = 0; at < heap->n; at++)
        if ((!best || hd_scheduler_heap_before (&heap->ents[at], best))
            && hd_scheduler_node_fits (heap->ents[at].node, job))
            best = &heap->ents[at];
    return best ? best->node : NULL;
}

//  Entries in heap order (best first from the root, keeping the open children in a small set)
//  until one meets the job's requirements. Requirements few workers meet would make that slow:
//  past S_WALK_MAX visits, one plain scan, O(workers) as the old rule always was.
static hd_node_t *
s_heap_walk (const hd_nheap_t *heap, const hd_job_t *job)
{
    uint32_t open[S_WALK_MAX + 1] = { 0 };
    uint32_t nopen = heap->n > 0;
    for (uint32_t visits = 0; nopen > 0; visits++) {
        if (visits == S_WALK_MAX)
            return s_heap_scan (heap, job);
        uint32_t best = 0;
        for (uint32_t i = 1; i < nopen; i++)
            if (hd_scheduler_heap_before (&heap->ents[open[i]], &heap->ents[open[best]]))
                best = i;
        uint32_t at = open[best];
        open[best] = open[--nopen];
        if (hd_scheduler_node_fits (heap->ents[at].node, job))
            return heap->ents[at].node;
        for (uint32_t child = 2 * at + 1; child <= 2 * at + 2 && child < heap->n; child++)
            open[nopen++] = child;
    }
    return NULL;
}

//  The common case (no requirements) is the heap's top.
static hd_node_t *
s_pick_node (hd_scheduler_t *self, hd_fnqueue_t *fnq, const hd_job_t *job)
{
    if (job->reqs && job->reqs->node[0])
        return s_pick_pinned (self, job);
    bool deadline = job->timeout_ms != 0;
    if (!s_heaps_ready (self, fnq, deadline))
        return NULL;
    int kind = deadline ? HD_HEAP_SLOT : HD_HEAP_CREDIT;
    hd_node_t *top = s_heap_top (&fnq->heaps[kind], kind);
    if (!top || !job->reqs || hd_scheduler_node_fits (top, job))
        return top;
    return s_heap_walk (&fnq->heaps[kind], job);
}

//  --- the job ---------------------------------------------------------------------------------

//  1: *job_out and *node_out are set; 0: nothing in this client queue; -1: stop searching.
static int
s_pick_in_queue (hd_scheduler_t *self, hd_fnqueue_t *fnq, const hd_cqueue_t *cq,
                 uint32_t *budget, hd_job_t **job_out, hd_node_t **node_out)
{
    uint32_t deep = 0;
    for (hd_job_t *job = cq->fifo.head; job; job = job->qnext) {
        if ((*node_out = s_pick_node (self, fnq, job))) {
            *job_out = job;
            return 1;
        }
        if (!job->reqs || --*budget == 0)
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
    s_heaps_sync (self);
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
