/*  hd_broker_commit: the broker's journal commits and compaction, and the order they keep with
    the detached jobs' result stores (docs/JOURNAL.md). A commit's writev + fdatasync runs on
    the syncer thread (hd_syncer) while the loop goes on; ACCEPTED answers wait in hd_accq for
    the commit that covers their tasks. A stored task's DROP record waits (hd_dropq) until a
    sync of its store covers it: the stores are synced every --jobs-sync ms (with a commit, or
    alone when the journal has nothing to commit), so a commit carries one fdatasync, not two.
    Compaction, and a commit before it, run on the loop thread once a second at most.  */
#include "hd_broker_int.h"

#include <errno.h>
#include <unistd.h>

#include "hd_dropq.h"
#include "hd_log.h"
#include "hd_syncer.h"
#include "hd_transport.h"

#define S_COMPACT_EVERY_MS 1000
#define S_STORAGE_RETRY_MS 2000    //  STORAGE's retry hint: compaction is tried every second

hd_err_t
hd_broker_accept_later (hd_broker_t *self, uint32_t client, const hd_id_t *id)
{
    return hd_accq_push (&self->acc, client, id, hd_broker_now ());
}

int64_t
hd_broker_accepts_due_in (const hd_broker_t *self, int64_t now)
{
    return hd_accq_due_in (&self->acc, now);
}

//  ACCEPTED to each client for the tasks now durable: consecutive ids of one client travel in
//  one message.
static void
s_send_accepts (hd_broker_t *self, int64_t now)
{
    const hd_accq_item_t *items = self->acc.items;
    for (uint32_t k = 0; k < self->acc.durable;) {
        uint32_t client = items[k].client, n = 0;
        while (k < self->acc.durable && items[k].client == client && n < HD_MAX_BATCH)
            self->accepted->ids[n++] = items[k++].id;
        self->accepted->count = n;
        if (hd_codec_encode_ids (&self->env, self->accepted->ids, n) == HD_OK
            && hd_broker_send_to_client (self, client, HD_CMD_ACCEPTED) == 0)
            hd_send_frame (self->clients_raw, self->env.data, self->env.size, 0);
    }
    hd_accq_sent (&self->acc, now);
}

//  The disk is full: the tasks of the refused batch, acc entries [from, to), were never
//  durable. Take them back and say so; work accepted earlier goes on. One outcome per task: a
//  task that already has its result (it ran before the commit failed), or whose result was
//  already delivered and acknowledged (not found any more), keeps that result as its only
//  outcome, with its durability lost (counted; docs/GUARANTEES.md): no REJECTED after it.
static void
s_refuse_accepts (hd_broker_t *self, uint32_t from, uint32_t to, const char *why)
{
    self->refused_storage = true;
    //  One line per refused commit was 52,000 lines in 6 s of full disk: the first of a spell
    //  is logged, the others counted and summed up (hd_broker_journal_tick).
    if (hd_ratelog_hit (&self->full_log, hd_broker_now (), NULL, to - from))
        hd_warn ("journal: %s: refusing %u new task(s) (more in the next %d s are counted, not "
                 "logged)", why, to - from, HD_RATELOG_WINDOW_MS / 1000);
    for (uint32_t k = from; k < to; k++) {
        const hd_accq_item_t *item = &self->acc.items[k];
        hd_job_t *job = hd_scheduler_find (self->scheduler, &item->id);
        if (!job || job->result) {
            self->stats.undurable++;
            continue;
        }
        hd_broker_release (self, job);
        hd_broker_reject_to (self, item->client, &item->id, HD_ST_STORAGE, S_STORAGE_RETRY_MS,
                             "the broker cannot store the task: %s", why);
        self->stats.storage++;
    }
    hd_accq_remove (&self->acc, from, to);
}

//  The outcome of a commit that covered acc entries up to `covered`.
static void
s_committed (hd_broker_t *self, hd_err_t rc, uint32_t covered)
{
    if (rc == HD_OK) {
        hd_accq_durable_to (&self->acc, covered);
        self->refused_storage = false;
    }
    else if (rc == HD_EFULL) {
        s_refuse_accepts (self, self->acc.durable, covered,
                          hd_journal_last_error (self->journal));
        hd_accq_flight_failed (&self->acc);
    }
    else {
        hd_error ("journal: %s: stopping (durability unknown)",
                  hd_journal_last_error (self->journal));
        self->fatal = true;
    }
}

//  Space is short: a commit failed for lack of it, the journal is over its budget, or the
//  file system has less than low_space free.
static bool
s_space_short (hd_broker_t *self)
{
    if (self->refused_storage || hd_journal_size (self->journal) > self->journal_budget)
        return true;
    const char *dir = self->config.journal_dir ? self->config.journal_dir : ".";
    return hd_broker_free_bytes (dir) < self->low_space;
}

static void
s_count_job (hd_job_t *job, void *arg)
{
    (void) job;
    (*(uint64_t *) arg)++;
}

//  No task queued, running or waiting for its ACK: nothing in the journal is live.
static bool
s_nothing_live (hd_broker_t *self)
{
    if (hd_scheduler_queued (self->scheduler) || hd_scheduler_leased (self->scheduler))
        return false;
    uint64_t n = 0;
    hd_scheduler_each (self->scheduler, s_count_job, &n);
    return n == 0;
}

//  A compaction leaves out every task not live, which forgets it as a DROP record would: it
//  may run only when no DROP waits for its store (the caller synced them all first).
static void
s_compact (hd_broker_t *self, int64_t now)
{
    if (now - self->last_compact_ms < S_COMPACT_EVERY_MS)
        return;
    self->last_compact_ms = now;
    if (self->config.journal_mode == HD_JOURNAL_NONE || hd_broker_jobs_deferred (self))
        return;
    hd_journal_set_urgent (self->journal, s_space_short (self));
    bool done = false;
    hd_err_t rc = hd_journal_maybe_compact (self->journal, self->live_bytes,
                                            hd_broker_journal_emit_live, self, &done);
    //  No room for even a small new file (the journal filled the disk itself): when nothing is
    //  live the file is cut back where it is.
    if (rc == HD_EFULL && s_nothing_live (self)) {
        rc = hd_journal_reset (self->journal);
        done = rc == HD_OK;
    }
    if (rc == HD_EIO) {
        hd_error ("journal compaction: %s: stopping", hd_journal_last_error (self->journal));
        self->fatal = true;
    }
    else if (done) {
        hd_info ("journal compacted to %" PRIu64 " bytes", hd_journal_size (self->journal));
        self->live_bytes = hd_journal_size (self->journal);  //  exact again: drift ends here
        self->refused_storage = false;
    }
}

//  On this thread, with nothing in flight: the commit when due, then maybe compaction. The
//  stores are synced here (and every deferred DROP appended) when their sync is due, or when a
//  compaction follows (looked at once a second).
static void
s_tick_here (hd_broker_t *self, int64_t now)
{
    bool compact = false;
    if (now - self->last_compact_ms >= S_COMPACT_EVERY_MS
        && self->config.journal_mode != HD_JOURNAL_NONE) {
        hd_journal_set_urgent (self->journal, s_space_short (self));
        compact = hd_journal_compact_wanted (self->journal, self->live_bytes);
    }
    if ((compact || hd_broker_jobs_sync_due_in (self, now) == 0)
        && !hd_broker_jobs_sync_all (self))
        return;
    if (hd_journal_pending (self->journal) && hd_journal_commit_due (self->journal, now)) {
        uint32_t covered = self->acc.count;
        s_committed (self, hd_journal_commit (self->journal), covered);
    }
    if (!self->fatal && !hd_journal_pending (self->journal))
        s_compact (self, now);
}

//  The syncer finished (a commit, a store sync, or both): its outcome. A store's fdatasync
//  failure stops the broker, as the journal's does.
static void
s_collect (hd_broker_t *self, int err)
{
    bool stores = hd_broker_jobs_syncing (self);
    bool store_failed = stores && hd_syncer_pre_failed (self->syncer);
    if (store_failed) {
        hd_error ("jobs: fdatasync of a result store failed: %s: stopping (durability unknown)",
                  strerror (err));
        self->fatal = true;
    }
    if (hd_journal_in_flight (self->journal))
        s_committed (self, hd_journal_commit_end (self->journal, err), self->acc.flight);
    if (stores)
        hd_broker_jobs_synced (self, !store_failed);
}

//  Start the commit that is due (with the stores' sync first when `stores`).
static void
s_start_commit (hd_broker_t *self, bool stores)
{
    uint32_t covered = self->acc.count;
    const int *fds = NULL;
    int nfds = stores ? hd_broker_jobs_sync_begin (self, &fds) : 0;
    if (nfds < 0)
        return;  //  stopping
    bool started = false;
    if (hd_journal_commit_begin (self->journal, &started) != HD_OK)
        s_committed (self, HD_EIO, covered);
    else if (started) {
        hd_accq_commit_begin (&self->acc);
        hd_syncer_start_after (self->syncer, fds, nfds);
        return;
    }
    int err = 0;
    for (int i = 0; i < nfds; i++) {  //  no commit after all: synced here, not lost
        if (fdatasync (fds[i]) != 0 && !err)
            err = errno ? errno : EIO;
        close (fds[i]);
    }
    if (nfds > 0)
        hd_broker_jobs_synced (self, err == 0);
    if (err) {
        hd_error ("jobs: fdatasync of a result store failed: %s: stopping", strerror (err));
        self->fatal = true;
    }
}

//  With a syncer: collect what finished, start the next commit when due (carrying the stores'
//  sync when that is due too), or the stores' sync alone when only it is due. Once a second
//  the rest runs on this thread (s_tick_here) for compaction.
static void
s_tick_async (hd_broker_t *self, int64_t now)
{
    int err;
    if (hd_broker_journal_busy (self)) {
        if (!hd_syncer_done (self->syncer, &err))
            return;
        s_collect (self, err);
        if (self->fatal)
            return;
    }
    if (now - self->last_compact_ms >= S_COMPACT_EVERY_MS) {
        s_tick_here (self, now);  //  rare: one commit on this thread, then maybe compaction
        return;
    }
    bool stores = hd_broker_jobs_sync_due_in (self, now) == 0;
    if (hd_journal_pending (self->journal) && hd_journal_commit_due (self->journal, now))
        s_start_commit (self, stores);
    else if (stores) {
        const int *fds = NULL;
        int nfds = hd_broker_jobs_sync_begin (self, &fds);
        if (nfds > 0)  //  0: every deferred DROP was durable already, and is now pending
            hd_syncer_start_stores (self->syncer, fds, nfds);
    }
}

//  Far too many DROPs wait (a store sync in flight for long while results pour in): wait for
//  it, sync every store here and append them all. The loop stands still for it: memory stays
//  bounded.
static void
s_drops_now (hd_broker_t *self)
{
    int err;
    if (self->syncer && hd_broker_journal_busy (self)) {
        hd_syncer_wait (self->syncer, &err);
        s_collect (self, err);
    }
    if (!self->fatal)
        (void) hd_broker_jobs_sync_all (self);
}

void
hd_broker_journal_tick (hd_broker_t *self, int64_t now)
{
    hd_ratelog_summary_t s;
    char tasks[27], commits[27];
    if (self->full_log.count && hd_ratelog_flush (&self->full_log, now, &s))
        hd_warn ("journal: refused %s new tasks in %s commits in the last %" PRId64 " s (%s)",
                 hd_ratelog_count_text (s.amount, tasks), hd_ratelog_count_text (s.count, commits),
                 s.seconds, hd_journal_last_error (self->journal));
    hd_journal_set_now (self->journal, now);
    if (hd_broker_jobs_deferred (self) >= HD_DROPQ_HARD)
        s_drops_now (self);
    if (self->fatal)
        return;
    if (self->syncer)
        s_tick_async (self, now);
    else
        s_tick_here (self, now);
    //  Nothing pending nor in flight: every accepted task is durable (with journal none, at
    //  once; a resubmitted one, since an earlier commit).
    if (!hd_broker_journal_busy (self) && !hd_journal_pending (self->journal))
        hd_accq_durable_to (&self->acc, self->acc.count);
    if (!self->fatal && hd_broker_accepts_due_in (self, now) == 0)
        s_send_accepts (self, now);
}

bool
hd_broker_journal_busy (const hd_broker_t *self)
{
    return hd_journal_in_flight (self->journal) || hd_broker_jobs_syncing (self);
}

int64_t
hd_broker_journal_due_in (const hd_broker_t *self, int64_t now)
{
    if (hd_broker_journal_busy (self))
        return -1;  //  the syncer's fd wakes the loop
    int64_t commit = hd_journal_next_commit_ms (self->journal, now);
    int64_t stores = hd_broker_jobs_sync_due_in (self, now);
    return commit < 0 || (stores >= 0 && stores < commit) ? stores : commit;
}

void
hd_broker_journal_close (hd_broker_t *self)
{
    bool store_failed = false;
    if (self->syncer && hd_broker_journal_busy (self)) {
        int err;
        hd_syncer_wait (self->syncer, &err);
        store_failed = hd_broker_jobs_syncing (self) && hd_syncer_pre_failed (self->syncer);
        if (hd_journal_in_flight (self->journal))
            (void) hd_journal_commit_end (self->journal, err);
        if (hd_broker_jobs_syncing (self))
            hd_broker_jobs_synced (self, !store_failed);
    }
    hd_syncer_destroy (&self->syncer);
    //  Every store synced, then the DROP records waiting for it (the journal's last commit).
    if (self->journal && (store_failed || !hd_broker_jobs_sync_all (self)))
        hd_error ("jobs: fdatasync of a result store failed at close: DROP records not written");
    hd_journal_destroy (&self->journal);  //  commits what is pending, best effort
}

int
hd_broker_journal_fd (const hd_broker_t *self)
{
    return self->syncer ? hd_syncer_fd (self->syncer) : -1;
}
