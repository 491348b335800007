/*  hd_broker_journal: the broker's use of the journal. Every state change that matters after a
    crash is a record: ACCEPT (client session and its owner key + SUBMIT envelope + payload), LEASE (attempt),
    RESULT (envelope + payload as the worker sent them), ACK and DROP (forget). ACCEPTED replies
    wait in a list until the commit that covers their records (group commit: one fdatasync per
    loop pass in sync mode, per batch delay in batch mode). A full disk rejects that batch's
    submissions with STORAGE and keeps serving; an fsync failure stops the broker. This file:
    the records, the replay and the open; the commits and compaction are hd_broker_commit.c.  */
#include "hd_broker_int.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "hd_log.h"
#include "hd_syncer.h"
#include "hd_transport.h"

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

void
hd_broker_journal_drop (hd_broker_t *self, const hd_id_t *id)
{
    s_append (self, HD_JREC_DROP, id, NULL, 0, NULL, 0);
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

uint64_t
hd_broker_free_bytes (const char *dir)
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
    uint64_t free_bytes = hd_broker_free_bytes (dir);
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
        rc = hd_journal_maybe_compact (self->journal, self->live_bytes, hd_broker_journal_emit_live, self, &done);
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

void
hd_broker_journal_emit_live (hd_journal_t *journal, void *arg)
{
    (void) journal;
    hd_broker_t *self = arg;
    hd_scheduler_each (self->scheduler, s_emit_job, self);
}

