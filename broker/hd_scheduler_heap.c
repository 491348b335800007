/*  hd_scheduler_heap: for a function offered by many workers, those that could take one of its
    jobs now (READY, neither stale nor hot, under their lease limit) in a binary min-heap by
    (in_flight + 1) / capacity, ties to the lowest index: a decision reads the top, and a
    worker whose key changed is re-sorted in O(log n). Entries cache their key, so sifting never
    reads a worker: a heap left from an older registry generation (whose workers may be freed)
    can be touched safely; it is rebuilt before it is read. Which heap, when: _pick.c.  */
#include "hd_scheduler_int.h"

#include <stdlib.h>
#include <string.h>

#define S_WALK_MAX 32  //  entries visited in order, for a job with requirements, before a scan

//  --- primitives ------------------------------------------------------------------------------

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
        if (child + 1 < heap->n &&
            hd_scheduler_heap_before (&heap->ents[child + 1], &heap->ents[child]))
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

//  --- membership -------------------------------------------------------------------------------

static void
s_update (hd_nheap_t *heap, int kind, hd_node_t *node, double key)
{
    if (node->index >= heap->npos)
        return;  //  joined after the build: the generation changed, a rebuild comes first
    int32_t at = heap->pos[node->index];
    if (!hd_scheduler_wants (kind, node)) {
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

void
hd_scheduler_heaps_update (hd_fnqueue_t *fnq, hd_node_t *node, double key)
{
    s_update (&fnq->heaps[HD_HEAP_CREDIT], hd_scheduler_credit_kind (fnq), node, key);
    if (fnq->slot_heap)
        s_update (&fnq->heaps[HD_HEAP_SLOT], HD_HEAP_SLOT, node, key);
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

//  O(workers): every wanted worker, then heapify bottom-up.
bool
hd_scheduler_heaps_fill (hd_fnqueue_t *fnq, uint32_t max_index)
{
    int kinds = fnq->slot_heap ? HD_HEAPS : 1;
    for (int h = 0; h < kinds; h++) {
        hd_nheap_t *heap = &fnq->heaps[h];
        int kind = h == HD_HEAP_CREDIT ? hd_scheduler_credit_kind (fnq) : h;
        if (!s_heap_reserve (heap, fnq->nworkers, max_index + 1))
            return false;
        for (uint32_t i = 0; i < fnq->nworkers; i++)
            if (hd_scheduler_wants (kind, fnq->workers[i]))
                s_append (heap, fnq->workers[i], hd_scheduler_key (fnq->workers[i]));
        for (uint32_t at = heap->n / 2; at-- > 0;)
            s_sift_down (heap, at);
    }
    return true;
}

void
hd_scheduler_heaps_free (hd_fnqueue_t *fnq)
{
    for (int kind = 0; kind < HD_HEAPS; kind++) {
        free (fnq->heaps[kind].ents);
        free (fnq->heaps[kind].pos);
    }
}

//  --- choosing ---------------------------------------------------------------------------------

//  A worker whose fields were changed by hand, not through the registry, may sit at the top
//  unwanted: it leaves, so the answer is always a worker that may take a job of this kind. (Its
//  key, if stale, is made right when it is leased to, which re-sorts it.)
static hd_node_t *
s_top (hd_nheap_t *heap, int kind)
{
    while (heap->n > 0) {
        hd_node_t *node = heap->ents[0].node;
        if (hd_scheduler_wants (kind, node))
            return node;
        s_remove (heap, 0);
    }
    return NULL;
}

static hd_node_t *
s_scan (const hd_nheap_t *heap, const hd_job_t *job, int kind)
{
    const hd_nheap_ent_t *best = NULL;
    for (uint32_t at = 0; at < heap->n; at++)
        if ((!best || hd_scheduler_heap_before (&heap->ents[at], best)) &&
            hd_scheduler_node_fits (heap->ents[at].node, job, kind))
            best = &heap->ents[at];
    return best ? best->node : NULL;
}

//  Entries in heap order (best first from the root, keeping the open children in a small set)
//  until one meets the job's requirements. Requirements few workers meet would make that slow:
//  past S_WALK_MAX visits, one plain scan, O(workers) as the old rule always was.
static hd_node_t *
s_walk (const hd_nheap_t *heap, const hd_job_t *job, int kind)
{
    uint32_t open[S_WALK_MAX + 1] = { 0 };
    uint32_t nopen = heap->n > 0;
    for (uint32_t visits = 0; nopen > 0; visits++) {
        if (visits == S_WALK_MAX)
            return s_scan (heap, job, kind);
        uint32_t best = 0;
        for (uint32_t i = 1; i < nopen; i++)
            if (hd_scheduler_heap_before (&heap->ents[open[i]], &heap->ents[open[best]]))
                best = i;
        uint32_t at = open[best];
        open[best] = open[--nopen];
        if (hd_scheduler_node_fits (heap->ents[at].node, job, kind))
            return heap->ents[at].node;
        for (uint32_t child = 2 * at + 1; child <= 2 * at + 2 && child < heap->n; child++)
            open[nopen++] = child;
    }
    return NULL;
}

hd_node_t *
hd_scheduler_heap_pick (hd_nheap_t *heap, int kind, const hd_job_t *job)
{
    hd_node_t *top = s_top (heap, kind);
    if (!top || !job->reqs || hd_scheduler_node_fits (top, job, kind))
        return top;
    return s_walk (heap, job, kind);
}
