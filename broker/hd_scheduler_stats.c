/*  hd_scheduler_stats: per-function counts for the operator's view (the web endpoint). Walks
    the function queues, the backoff lists and the lease lists: O(functions + parked + leased),
    never the queued jobs themselves, so it stays cheap with a million tasks waiting.  */
#include "hd_scheduler_int.h"

#include <assert.h>
#include <string.h>

static uint32_t
s_row (uint32_t fn, uint32_t nrows)
{
    return fn < nrows - 1 ? fn : nrows - 1;
}

void
hd_scheduler_fn_counts (const hd_scheduler_t *self, uint32_t *queued, uint32_t *running,
                        uint32_t nrows)
{
    assert (self && nrows > 0);
    memset (queued, 0, nrows * sizeof *queued);
    memset (running, 0, nrows * sizeof *running);
    for (uint32_t fn = 0; fn < HD_MAX_FN_IDS; fn++)
        if (self->fnqs[fn])
            queued[s_row (fn, nrows)] += self->fnqs[fn]->nqueued;
    for (uint32_t b = 0; b < HD_BACKOFF_STEPS; b++)
        for (const hd_job_t *job = self->parked[b].head; job; job = job->qnext)
            queued[s_row (job->fn, nrows)]++;
    for (uint32_t w = 0; w < self->nleases; w++)
        for (const hd_job_t *job = self->leases[w].head; job; job = job->qnext)
            running[s_row (job->fn, nrows)]++;
}
