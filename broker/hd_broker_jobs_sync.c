/*  hd_broker_jobs_sync: the order a job's result store keeps with the journal (docs/JOURNAL.md).
    A result is appended to its store (page cache, no fdatasync) and its task forgotten at
    once, but the DROP record that forgets it in the journal must not be durable before the
    result is. So it waits (hd_dropq) for a sync of the stores: every --jobs-sync ms (default
    100), as soon as HD_DROPQ_SOFT wait, before a compaction and at close. The syncer thread
    fdatasyncs the stores (first in a journal commit, or alone), and the DROPs that sync
    covered go into the commit after it. Until then a crash loses nothing: the task's ACCEPT is
    still live in the journal, and the replay skips it because its index is in the store
    (hd_broker_jobs_replay_skip); after a power loss that took the result too, it runs again.
    A commit thus carries one fdatasync, not two (docs/PERFORMANCE.md).  */
#include "hd_broker_jobs.h"

#include <errno.h>

#include "hd_log.h"

static void
s_drop (const hd_dropq_item_t *item, void *arg)
{
    hd_broker_journal_drop ((hd_broker_t *) arg, &item->id);
}

void
hd_broker_jobs_forget_stored (hd_broker_t *self, hd_job_t *job, uint32_t slot, int64_t now)
{
    if (slot == HD_JOBSTORE_NONE)
        hd_broker_journal_forget (self, job, false);  //  no store holds it: forgotten now
    //  No memory to wait with: no DROP at all. The ACCEPT stays in the journal until a
    //  compaction leaves it out, and a replay skips it (its index is stored).
    else if (hd_dropq_push (&self->jobs->drops, &job->id, slot, now) != HD_OK)
        hd_warn ("jobs: no memory for a DROP record: left to the next compaction");
    hd_broker_release (self, job);
}

void
hd_broker_jobs_drops_of (hd_broker_t *self, uint32_t slot)
{
    hd_dropq_take_slot (&self->jobs->drops, slot, s_drop, self);
}

int64_t
hd_broker_jobs_sync_due_in (const hd_broker_t *self, int64_t now)
{
    const hd_jobs_t *js = self->jobs;
    if (!js)
        return -1;
    if (js->sync_soon && !js->syncing)
        return 0;
    return hd_dropq_due_in (&js->drops, now, self->config.jobs_sync_ms);
}

//  The stores written since the last sync, dup'ed (-1: a dup failed). Their dirty mark clears.
static int
s_dirty (hd_broker_t *self, const int **fds)
{
    hd_jobs_t *js = self->jobs;
    uint32_t need = hd_jobstore_slots (js->store);
    if (need > js->fds_cap) {
        int *f = realloc (js->fds, need * sizeof *f);
        if (!f)
            return -1;
        js->fds = f;
        js->fds_cap = need;
    }
    *fds = js->fds;
    return hd_jobstore_dirty_fds (js->store, js->fds, (int) js->fds_cap);
}

int
hd_broker_jobs_sync_begin (hd_broker_t *self, const int **fds)
{
    hd_jobs_t *js = self->jobs;
    *fds = NULL;
    if (!js)
        return 0;
    int n = s_dirty (self, fds);
    if (n < 0)  //  no descriptor to hand over: synced here instead
        return hd_broker_jobs_sync_all (self) ? 0 : -1;
    js->sync_soon = false;
    hd_dropq_sync_begin (&js->drops);
    if (n == 0) {  //  every store was synced since its last write: the DROPs may go now
        hd_dropq_synced (&js->drops, s_drop, self);
        return 0;
    }
    js->syncing = true;
    return n;
}

void
hd_broker_jobs_synced (hd_broker_t *self, bool ok)
{
    hd_jobs_t *js = self->jobs;
    if (!js || !js->syncing)
        return;
    js->syncing = false;
    if (ok)
        hd_dropq_synced (&js->drops, s_drop, self);
    else
        hd_dropq_sync_failed (&js->drops);
}

bool
hd_broker_jobs_syncing (const hd_broker_t *self)
{
    return self->jobs && self->jobs->syncing;
}

bool
hd_broker_jobs_sync_all (hd_broker_t *self)
{
    hd_jobs_t *js = self->jobs;
    if (!js)
        return true;
    int err = hd_jobstore_sync (js->store);
    if (err) {
        hd_error ("jobs: fdatasync of a result store failed: %s: stopping (durability unknown)",
                  strerror (err));
        self->fatal = true;
        return false;
    }
    js->sync_soon = false;
    hd_dropq_sync_begin (&js->drops);
    hd_dropq_synced (&js->drops, s_drop, self);
    return true;
}

uint32_t
hd_broker_jobs_deferred (const hd_broker_t *self)
{
    return self->jobs ? self->jobs->drops.count : 0;
}
