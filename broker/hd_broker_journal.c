/*  hd_broker_journal: the broker's use of the journal. Every state change that matters after a
    crash is a record: ACCEPT (client session and its owner key + SUBMIT envelope + payload), LEASE (attempt),
    RESULT (envelope + payload as the worker sent them), ACK and DROP (forget). ACCEPTED replies
    wait in a list until the commit that covers their records (group commit: one fdatasync per
    loop pass in sync mode, per batch delay in batch mode). A full disk rejects that batch's
    submissions with STORAGE and keeps serving; an fsync failure stops the broker.  */
#include "hd_broker_int.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "hd_log.h"
#include "hd_syncer.h"
#include "hd_transport.h"

#define S_COMPACT_EVERY_MS 1000
#define S_STORAGE_RETRY_MS 2000    //  STORAGE's retry hint: compaction is tried every second
#define S_COMPACT_MAX (64ull << 20) //  compaction threshold: a quarter of the budget, at most this
#define S_COMPACT_MIN (16ull << 10) //  ... and at least this

//  --- records ------------------------------------------------------------------------------

static void
s_append (hd_broker_t *self, hd_jrec_type_t type, const hd_id_t *id, const void *a, size_t alen,
          const void *b, size_t blen)
{
    if (!self->journal)
        return;
    hd_err_t rc = hd_journal_append (self->journal, type, id, a, alen, b, blen, NULL);
    if (rc == HD_EIO) {
        hd_error ("journal: %s: stopping", hd_journal_last_error (self->journal));
        self->fatal = true;
    }
}

//  ACCEPT's first blob (format 2): [u8 session length][session][u8 key length][owner key]
//  [SUBMIT envelope]; format 1 had no key: [u8 session length][session][SUBMIT envelope].
static hd_err_t
s_accept_blob (hd_broker_t *self, uint32_t client, const void *env, size_t size)
{
    const hd_session_t *c = hd_sessions_at (self->sessions, client);
    if (!c)
        return HD_EINVAL;
    const char *key = hd_sessions_key (self->sessions, client);
    uint8_t len = c->id_len, klen = (uint8_t) strlen (key);
    hd_buf_t *a = &self->jbuf;
    hd_buf_reset (a);  //  one reserve, then copies: this runs for every task accepted
    if (hd_buf_reserve (a, 2 + (size_t) len + klen + size) != HD_OK)
        return HD_ENOMEM;
    uint8_t *p = a->data;
    *p++ = len;
    memcpy (p, c->id, len);
    p += len;
    *p++ = klen;
    memcpy (p, key, klen);
    p += klen;
    if (size)
        memcpy (p, env, size);
    a->size = 2 + (size_t) len + klen + size;
    return HD_OK;
}

void
hd_broker_journal_accept (hd_broker_t *self, const hd_job_t *job, const void *env, size_t size)
{
    if (!self->journal || s_accept_blob (self, job->client, env, size) != HD_OK)
        return;
    hd_buf_t *a = &self->jbuf;
    const hd_payload_t *payload = job->payload;
    s_append (self, HD_JREC_ACCEPT, &job->id, a->data, a->size, hd_payload_data (payload),
              hd_payload_size (payload));
    self->live_bytes += hd_journal_record_size (a->size, hd_payload_size (payload));
}

static void
s_attempt_bytes (uint32_t attempt, uint8_t out[4])
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t) (attempt >> (8 * i));  //  little-endian, whatever the host
}

void
hd_broker_journal_lease (hd_broker_t *self, const hd_job_t *job)
{
    uint8_t attempt[4];
    s_attempt_bytes (job->attempt, attempt);
    s_append (self, HD_JREC_LEASE, &job->id, attempt, sizeof attempt, NULL, 0);
}

//  Compaction: a job's attempt count and kept result, as records of the new file.
void
hd_broker_journal_lease_emit (hd_broker_t *self, const hd_job_t *job)
{
    if (job->attempt) {
        uint8_t attempt[4];
        s_attempt_bytes (job->attempt, attempt);
        hd_journal_compact_emit (self->journal, HD_JREC_LEASE, &job->id, attempt, 4, NULL, 0);
    }
    if (job->result)
        hd_broker_result_emit (self, job);
}

void
hd_broker_journal_result (hd_broker_t *self, const hd_job_t *job, const void *env,
                          size_t env_size, const hd_payload_t *data)
{
    s_append (self, HD_JREC_RESULT, &job->id, env, env_size, hd_payload_data (data),
              hd_payload_size (data));
}

void
hd_broker_journal_forget (hd_broker_t *self, const hd_job_t *job, bool acked)
{
    s_append (self, acked ? HD_JREC_ACK : HD_JREC_DROP, &job->id, NULL, 0, NULL, 0);
}

//  --- replay -------------------------------------------------------------------------------

typedef struct {
    hd_broker_t *self;
    uint64_t accepted, results, forgotten, gone;
} s_replay_t;

//  The session (and, from format 2, its owner key) an ACCEPT record names: the offset of its
//  SUBMIT envelope, or 0 when the blob does not add up.
static size_t
s_accept_owner (uint32_t version, const uint8_t *a, size_t alen, char key[41])
{
    key[0] = 0;
    if (alen < 1 || alen < 1u + a[0])
        return 0;
    size_t at = 1u + a[0];
    if (version < 2)
        return at;  //  format 1: no owner recorded; the first key to speak claims the session
    if (alen < at + 1 || a[at] > 40 || alen < at + 1 + a[at])
        return 0;
    memcpy (key, a + at + 1, a[at]);
    key[a[at]] = 0;
    return at + 1 + a[at];
}

static void
s_replay_accept (hd_broker_t *self, const hd_id_t *id, const uint8_t *a, size_t alen,
                 const void *b, size_t blen, s_replay_t *r)
{
    hd_submit_t s;
    char key[41];
    size_t at = s_accept_owner (hd_journal_version (self->journal), a, alen, key);
    if (!at || hd_codec_decode_submit (a + at, alen - at, &s) != HD_OK || !hd_id_eq (&s.id, id))
        return;  //  a record this broker cannot read: CRC was fine, so it is a newer format
    uint32_t client;
    if (hd_sessions_restore (self->sessions, a + 1, a[0], key, hd_broker_now (), &client)
        != HD_OK) {
        hd_warn ("journal: task of a session another key holds, or no memory: not restored");
        return;
    }
    if (hd_broker_is_job (self, client) ? hd_broker_jobs_replay_skip (self, client, id)
                                        : hd_broker_jobs_replay_gone (self, a + 1, a[0], id)) {
        r->gone += !hd_broker_is_job (self, client);
        return;  //  a job's task stored, or of a job released: it never runs again
    }
    hd_payload_t *payload = hd_payload_from (b, blen);
    if (!payload)
        return;
    hd_job_t *job = NULL;
    if (hd_scheduler_restore (self->scheduler, &s, client, payload, hd_broker_now (), &job)
        != HD_OK) {
        hd_payload_free (payload);
        return;
    }
    hd_sessions_hold_anyway (self->sessions, client);
    self->live_bytes += hd_journal_record_size (alen, blen);
    r->accepted++;
}

static void
s_replay_result (hd_broker_t *self, hd_job_t *job, const void *a, size_t alen, const void *b,
                 size_t blen, s_replay_t *r)
{
    hd_job_t *same = NULL;
    //  A detached job's task with a result kept (its store refused it before the crash): it
    //  runs again, and its result goes to the store (nothing may be appended during replay).
    if (job->result || hd_broker_is_job (self, job->client)
        || hd_scheduler_cancel (self->scheduler, &job->id, &same) != HD_OK)
        return;
    job->state = HD_JOB_DONE;
    hd_payload_t *data = hd_payload_from (b, blen);
    if (data && hd_broker_keep_result (self, job, a, alen, data, hd_broker_now ()) == HD_OK)
        r->results++;
    else
        hd_payload_free (data);
}

static int
s_on_record (hd_jrec_type_t type, const hd_id_t *id, const void *a, size_t alen, const void *b,
             size_t blen, void *arg)
{
    s_replay_t *r = arg;
    hd_broker_t *self = r->self;
    if (type == HD_JREC_ACCEPT) {
        s_replay_accept (self, id, a, alen, b, blen, r);
        return 0;
    }
    hd_job_t *job = hd_scheduler_find (self->scheduler, id);
    if (!job)
        return 0;
    if (type == HD_JREC_LEASE && alen == 4) {
        const uint8_t *p = a;
        uint32_t attempt = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t) p[3] << 24;
        if (attempt > job->attempt)
            job->attempt = attempt;  //  that dispatch may have run: it counts
    }
    else if (type == HD_JREC_RESULT)
        s_replay_result (self, job, a, alen, b, blen, r);
    else if (type == HD_JREC_ACK || type == HD_JREC_DROP) {
        hd_broker_release (self, job);
        r->forgotten++;
    }
    return 0;
}

//  --- open, commit, compaction ------------------------------------------------------------

static void s_emit_live (hd_journal_t *journal, void *arg);

//  Free bytes of the journal's file system for an unprivileged writer; UINT64_MAX unknown.
static uint64_t
s_free_bytes (const char *dir)
{
    struct statvfs vfs;
    if (statvfs (dir, &vfs) != 0)
        return UINT64_MAX;
    return (uint64_t) vfs.f_bavail * vfs.f_frsize;
}

//  The space the journal may use: --journal-max-mb, else half of what it could have at start
//  (free space plus its own file). It compacts past a quarter of that (16 KiB .. 64 MiB), and
//  space counts as short when the free space falls under the same figure.
static void
s_budget (hd_broker_t *self, const char *dir, hd_journal_config_t *jc)
{
    char path[4096];
    struct stat st;
    snprintf (path, sizeof path, "%s/journal.log", dir);
    uint64_t have = stat (path, &st) == 0 ? (uint64_t) st.st_size : 0;
    uint64_t free_bytes = s_free_bytes (dir);
    if (self->config.journal_max_mb)
        self->journal_budget = (uint64_t) self->config.journal_max_mb << 20;
    else
        self->journal_budget = free_bytes == UINT64_MAX ? 4 * S_COMPACT_MAX
                                                        : (free_bytes + have) / 2;
    uint64_t q = self->journal_budget / 4;
    jc->compact_bytes = q > S_COMPACT_MAX ? S_COMPACT_MAX : q < S_COMPACT_MIN ? S_COMPACT_MIN : q;
    self->low_space = jc->compact_bytes;
    if (jc->mode != HD_JOURNAL_NONE)
        hd_info ("journal %s: may use %" PRIu64 " KiB (%s), compacts past %" PRIu64 " KiB or "
                 "when under %" PRIu64 " KiB are free", dir, self->journal_budget >> 10,
                 self->config.journal_max_mb ? "--journal-max-mb" : "half the free space",
                 jc->compact_bytes >> 10, self->low_space >> 10);
}

hd_err_t
hd_broker_journal_open (hd_broker_t *self, char *errbuf, size_t errlen)
{
    hd_journal_config_t jc = { .mode = self->config.journal_mode,
                               .batch_delay_ms = self->config.journal_batch_ms };
    const char *dir = self->config.journal_dir ? self->config.journal_dir : ".";
    if (jc.mode != HD_JOURNAL_NONE && mkdir (dir, 0700) != 0 && errno != EEXIST) {
        snprintf (errbuf, errlen, "cannot create journal directory %s: %s", dir, strerror (errno));
        return HD_EIO;
    }
    if (jc.mode != HD_JOURNAL_NONE)
        s_budget (self, dir, &jc);
    hd_err_t rc = hd_journal_open (dir, &jc, &self->journal, errbuf, errlen);
    if (rc == HD_OK)  //  before the replay: the jobs' sessions are restored bound to their owners
        rc = hd_broker_jobs_open (self, dir, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    s_replay_t r = { self, 0, 0, 0, 0 };
    hd_journal_replay_stats_t st = { 0 };
    rc = hd_journal_replay (self->journal, s_on_record, &r, &st);
    if (rc != HD_OK) {
        snprintf (errbuf, errlen, "journal replay: %s", hd_journal_last_error (self->journal));
        return rc;
    }
    if (st.records)
        hd_info ("journal %s: replayed %" PRIu64 " records; %u tasks queued again, %" PRIu64
                 " results waiting for their client", dir, st.records,
                 hd_scheduler_queued (self->scheduler), r.results);
    if (r.gone)
        hd_info ("journal %s: %" PRIu64 " tasks of jobs released or expired not restored", dir,
                 r.gone);
    if (st.truncated_bytes)
        hd_warn ("journal %s: truncated a torn or corrupt tail of %" PRIu64 " bytes", dir,
                 st.truncated_bytes);
    if (hd_journal_version (self->journal) < HD_JOURNAL_VERSION) {
        //  Records appended from now on have the current layout: rewrite the file first.
        bool done = false;
        rc = hd_journal_maybe_compact (self->journal, self->live_bytes, s_emit_live, self, &done);
        if (rc != HD_OK) {
            snprintf (errbuf, errlen, "journal: rewriting format %u as %u: %s",
                      hd_journal_version (self->journal), HD_JOURNAL_VERSION,
                      hd_journal_last_error (self->journal));
            return rc;
        }
        hd_info ("journal %s: rewritten in format %u", dir, HD_JOURNAL_VERSION);
    }
    hd_broker_jobs_replayed (self);  //  after the replay and any rewrite: may append records
    if (jc.mode != HD_JOURNAL_NONE && !(self->syncer = hd_syncer_new (self->journal)))
        hd_warn ("journal: no thread for commits: the loop waits for each fdatasync itself");
    return HD_OK;
}

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

static void
s_emit_job (hd_job_t *job, void *arg)
{
    hd_broker_t *self = arg;
    hd_submit_t s = { .id = job->id, .priority = job->priority, .timeout_ms = job->timeout_ms,
                      .max_attempts = job->max_attempts, .seal = job->seal };
    snprintf (s.fn, sizeof s.fn, "%s", hd_registry_fn_name (self->registry, job->fn));
    if (job->reqs) {
        s.min_mem_mb = job->reqs->min_mem_mb;
        s.ntags = job->reqs->ntags;
        memcpy (s.tags, job->reqs->tags, sizeof s.tags);
        memcpy (s.node, job->reqs->node, sizeof s.node);
    }
    hd_buf_t *a = &self->jbuf;
    if (hd_codec_encode_submit (&self->env, &s) != HD_OK
        || s_accept_blob (self, job->client, self->env.data, self->env.size) != HD_OK)
        return;
    const hd_payload_t *payload = job->payload;
    hd_journal_compact_emit (self->journal, HD_JREC_ACCEPT, &job->id, a->data, a->size,
                             payload ? hd_payload_data (payload) : NULL,
                             payload ? hd_payload_size (payload) : 0);
    hd_broker_journal_lease_emit (self, job);
}

static void
s_emit_live (hd_journal_t *journal, void *arg)
{
    (void) journal;
    hd_broker_t *self = arg;
    hd_scheduler_each (self->scheduler, s_emit_job, self);
}

//  Space is short: a commit failed for lack of it, the journal is over its budget, or the
//  file system has less than low_space free.
static bool
s_space_short (hd_broker_t *self)
{
    if (self->refused_storage || hd_journal_size (self->journal) > self->journal_budget)
        return true;
    const char *dir = self->config.journal_dir ? self->config.journal_dir : ".";
    return s_free_bytes (dir) < self->low_space;
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

static void
s_compact (hd_broker_t *self, int64_t now)
{
    if (now - self->last_compact_ms < S_COMPACT_EVERY_MS)
        return;
    self->last_compact_ms = now;
    if (self->config.journal_mode == HD_JOURNAL_NONE)
        return;
    hd_journal_set_urgent (self->journal, s_space_short (self));
    bool done = false;
    hd_err_t rc = hd_journal_maybe_compact (self->journal, self->live_bytes, s_emit_live, self,
                                            &done);
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

//  The jobs' stores written since the last commit are made durable before the journal records
//  that forget their tasks (docs/JOURNAL.md); here, on this thread. false: stopping.
static bool
s_sync_stores (hd_broker_t *self)
{
    int err = hd_broker_jobs_sync (self);
    if (err) {
        hd_error ("jobs: fdatasync of a result store failed: %s: stopping (durability unknown)",
                  strerror (err));
        self->fatal = true;
    }
    return !err;
}

//  Without a syncer (journal none, or no thread could be had): commit on this thread.
static void
s_tick_here (hd_broker_t *self, int64_t now)
{
    if (!s_sync_stores (self))
        return;
    if (hd_journal_pending (self->journal) && hd_journal_commit_due (self->journal, now)) {
        uint32_t covered = self->acc.count;
        s_committed (self, hd_journal_commit (self->journal), covered);
    }
    if (!self->fatal && !hd_journal_pending (self->journal))
        s_compact (self, now);
}

//  With a syncer: collect the commit in flight, start the next one when due. Compaction runs
//  between commits, once a second at most, after committing what is pending here.
static void
s_tick_async (hd_broker_t *self, int64_t now)
{
    int err;
    if (hd_journal_in_flight (self->journal)) {
        if (!hd_syncer_done (self->syncer, &err))
            return;
        if (err && hd_syncer_pre_failed (self->syncer))
            hd_error ("jobs: fdatasync of a result store failed: %s", strerror (err));
        s_committed (self, hd_journal_commit_end (self->journal, err), self->acc.flight);
        if (self->fatal)
            return;
    }
    if (now - self->last_compact_ms >= S_COMPACT_EVERY_MS) {
        s_tick_here (self, now);  //  rare: one commit on this thread, then maybe compaction
        return;
    }
    bool started = false;
    if (hd_journal_pending (self->journal) && hd_journal_commit_due (self->journal, now)) {
        uint32_t covered = self->acc.count;
        const int *fds = NULL;
        int nfds = hd_broker_jobs_dirty (self, &fds);  //  synced by the syncer before it writes
        if (nfds < 0 && !s_sync_stores (self))
            return;
        if (hd_journal_commit_begin (self->journal, &started) != HD_OK)
            s_committed (self, HD_EIO, covered);
        else if (started) {
            hd_accq_commit_begin (&self->acc);
            hd_syncer_start_after (self->syncer, fds, nfds > 0 ? nfds : 0);
        }
        else
            for (int i = 0; i < nfds; i++) {  //  no commit after all: synced here, not lost
                (void) fdatasync (fds[i]);
                close (fds[i]);
            }
    }
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
    if (self->syncer)
        s_tick_async (self, now);
    else
        s_tick_here (self, now);
    //  Nothing pending nor in flight: every accepted task is durable (with journal none, at
    //  once; a resubmitted one, since an earlier commit).
    if (!hd_journal_in_flight (self->journal) && !hd_journal_pending (self->journal))
        hd_accq_durable_to (&self->acc, self->acc.count);
    if (!self->fatal && hd_broker_accepts_due_in (self, now) == 0)
        s_send_accepts (self, now);
}

bool
hd_broker_journal_busy (const hd_broker_t *self)
{
    return hd_journal_in_flight (self->journal);
}

void
hd_broker_journal_close (hd_broker_t *self)
{
    if (self->syncer && hd_journal_in_flight (self->journal)) {
        int err;
        hd_syncer_wait (self->syncer, &err);
        (void) hd_journal_commit_end (self->journal, err);
    }
    hd_syncer_destroy (&self->syncer);
    if (self->journal && hd_broker_jobs_sync (self) != 0)  //  before the last DROP records
        hd_error ("jobs: fdatasync of a result store failed at close");
    hd_journal_destroy (&self->journal);  //  commits what is pending, best effort
}

int
hd_broker_journal_fd (const hd_broker_t *self)
{
    return self->syncer ? hd_syncer_fd (self->syncer) : -1;
}
