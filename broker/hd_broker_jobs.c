/*  hd_broker_jobs: detached jobs (docs/PROTOCOL.md section 15): JOB_OPEN, JOBS, JOB_FETCH (with
    its held long-poll), JOB_CANCEL, JOB_RELEASE. A job is a session marked in hd_sessions (its
    `job` field: 1 + the job's slot in hd_jobstore), so the only cost a plain session pays is one
    branch on that field. Results of a job's tasks go to its store and the tasks are forgotten
    (hd_broker_jobs_store.c); this file answers the client commands.  */
#include "hd_broker_jobs.h"

#include "hd_log.h"
#include "hd_transport.h"

#define S_RUNNING_SCAN 4096  //  indices looked at to count a job's running tasks
#define S_RUNNING_EVERY_MS 100  //  JOB_DATA's count is at most this old (one per answer cost a
                                //  lookup per task held, every few ms)

hd_jobrec_t *
hd_broker_jobs_rec (hd_broker_t *self, uint32_t client, uint32_t *slot)
{
    const hd_session_t *c = hd_sessions_at (self->sessions, client);
    if (!c || !c->job || !self->jobs)
        return NULL;
    *slot = c->job - 1;
    return hd_jobstore_at (self->jobs->store, *slot);
}

int64_t
hd_broker_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Tasks of the job running now: LEASED among the lowest S_RUNNING_SCAN indices not stored (the
//  queue is FIFO, so the running ones are there), at most `held`.
static uint32_t
s_running (hd_broker_t *self, uint32_t slot, const hd_jobrec_t *r, uint32_t held)
{
    uint32_t running = 0, looked = 0;
    for (uint64_t i = hd_jobstore_next_missing (self->jobs->store, slot, 0);
         i < r->total && looked < S_RUNNING_SCAN && running < held;
         i = hd_jobstore_next_missing (self->jobs->store, slot, i + 1)) {
        looked++;
        hd_id_t id;
        memcpy (id.b, r->nonce, 8);
        for (int k = 0; k < 8; k++)
            id.b[8 + k] = (uint8_t) (i >> (56 - 8 * k));
        const hd_job_t *job = hd_scheduler_find (self->scheduler, &id);
        running += job && job->state == HD_JOB_LEASED;
    }
    return running;
}

static void
s_info (hd_broker_t *self, uint32_t slot, int64_t now, hd_jobinfo_t *out, bool exact)
{
    hd_jobrec_t *r = hd_jobstore_at (self->jobs->store, slot);
    const hd_session_t *c = hd_sessions_at (self->sessions, r->session);
    uint32_t held = c ? c->held : 0;
    memset (out, 0, sizeof *out);
    memcpy (out->job, r->job, sizeof out->job);
    memcpy (out->name, r->name, sizeof out->name);
    snprintf (out->state, sizeof out->state, "%s",
              r->cancelled ? "cancelled" : r->stored >= r->total ? "done" : "running");
    out->total = r->total;
    if (exact || now - r->running_ms >= S_RUNNING_EVERY_MS) {
        r->running = s_running (self, slot, r, held);
        r->running_ms = now;
    }
    out->running = r->running < held ? r->running : held;
    out->queued = held - out->running;
    out->ok = r->ok;
    out->failed = r->failed;
    out->cancelled = r->ncancelled;
    out->stored = r->stored;
    out->bytes = r->bytes;
    out->created_ms = r->created_ms;
    out->expires_ms = r->created_ms + (int64_t) r->ttl_s * 1000;
    out->rate = hd_jobstore_rate (r, now);
}

void
hd_broker_jobs_info (hd_broker_t *self, uint32_t slot, int64_t now, hd_jobinfo_t *out)
{
    s_info (self, slot, now, out, true);
}

//  Send JOB_INFO (the envelope already in self->env) or any one-envelope answer.
static void
s_send_env (hd_broker_t *self, uint32_t client, uint8_t cmd)
{
    if (hd_broker_send_to_client (self, client, cmd) == 0)
        hd_send_frame (self->clients_raw, self->env.data, self->env.size, 0);
}

static void
s_send_info (hd_broker_t *self, uint32_t client, const hd_jobinfo_t *info)
{
    if (hd_codec_encode_jobinfo (&self->env, info) == HD_OK)
        s_send_env (self, client, HD_CMD_JOB_INFO);
}

//  The job `job` if the caller's key owns it; else DENIED with the same text whether it exists
//  or not (existence is not revealed).
static uint32_t
s_owned (hd_broker_t *self, uint32_t client, const char *job)
{
    uint32_t slot = hd_jobstore_find (self->jobs->store, job);
    const hd_jobrec_t *r = slot == HD_JOBSTORE_NONE ? NULL : hd_jobstore_at (self->jobs->store,
                                                                             slot);
    if (r && strcmp (r->owner, hd_sessions_key (self->sessions, client)) == 0)
        return slot;
    self->stats.denied++;
    hd_broker_reject (self, NULL, HD_ST_DENIED, 0, "no job %s for this key", job);
    return HD_JOBSTORE_NONE;
}

//  --- JOB_OPEN ---------------------------------------------------------------------------------

//  Refusals before a job is made: the session, the bounds, the key's count, the budget.
static bool
s_open_allowed (hd_broker_t *self, uint32_t client, const hd_jobopen_t *m)
{
    const hd_session_t *c = hd_sessions_at (self->sessions, client);
    hd_jobs_t *js = self->jobs;
    uint32_t max_total = self->config.max_key_tasks && self->config.max_key_tasks
                         < HD_JOBSTORE_MAX_TOTAL ? self->config.max_key_tasks : HD_JOBSTORE_MAX_TOTAL;
    if (c->id_len != HD_JOB_ID_LEN || memcmp (c->id, m->job, HD_JOB_ID_LEN) != 0)
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "JOB_OPEN must come on the job's own "
                          "session (session id = job id %s)", m->job);
    else if (c->held)
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "session %s holds %u plain tasks: "
                          "open a job on a fresh session id", m->job, c->held);
    else if (m->total > max_total)
        hd_broker_reject (self, NULL, HD_ST_TOO_LARGE, 0, "a job of %u tasks is over this "
                          "broker's bound of %u (--max-key-tasks)", m->total, max_total);
    else if (hd_jobstore_owner_jobs (js->store, hd_sessions_key (self->sessions, client))
             >= self->config.max_key_jobs)
        hd_broker_reject (self, NULL, HD_ST_BUSY, 0, "%u jobs open for this key (max %u): "
                          "release some", hd_jobstore_owner_jobs (js->store,
                          hd_sessions_key (self->sessions, client)), self->config.max_key_jobs);
    else if (hd_jobstore_bytes (js->store) >= js->budget)
        hd_broker_reject (self, NULL, HD_ST_STORAGE, 0, "results budget full (%" PRIu64 " of %"
                          PRIu64 " bytes used by %u jobs): release jobs with 'heddle release "
                          "JOB'", hd_jobstore_bytes (js->store), js->budget,
                          hd_jobstore_count (js->store));
    else
        return true;
    return false;
}

//  JOB_OPEN again on an open job (its session): idempotent when it says the same.
static void
s_open_again (hd_broker_t *self, uint32_t client, const hd_jobopen_t *m, uint32_t slot,
              int64_t now)
{
    const hd_jobrec_t *r = hd_jobstore_at (self->jobs->store, slot);
    if (strcmp (r->job, m->job) != 0)
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "JOB_OPEN must come on the job's "
                          "own session (session id = job id %s)", m->job);
    else if (r->total != m->total)
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "job %s was opened with total %u",
                          r->job, r->total);
    else {
        hd_jobinfo_t info;
        hd_broker_jobs_info (self, slot, now, &info);
        s_send_info (self, client, &info);
    }
}

//  A new job on this session: its files, then the session marked, then JOB_INFO.
static void
s_open_new (hd_broker_t *self, uint32_t client, const hd_jobopen_t *m, int64_t now)
{
    hd_jobrec_t meta;
    memset (&meta, 0, sizeof meta);
    memcpy (meta.job, m->job, sizeof meta.job);
    memcpy (meta.name, m->name, sizeof meta.name);
    snprintf (meta.owner, sizeof meta.owner, "%s", hd_sessions_key (self->sessions, client));
    meta.total = m->total;
    meta.ttl_s = !m->ttl_s ? self->config.job_ttl_s
                 : m->ttl_s > HD_JOB_TTL_MAX ? HD_JOB_TTL_MAX : m->ttl_s;
    meta.created_ms = hd_broker_wall_ms ();
    uint32_t slot;
    hd_err_t rc = hd_jobstore_create (self->jobs->store, &meta, &slot);
    if (rc != HD_OK) {
        hd_broker_reject (self, NULL, rc == HD_EFULL ? HD_ST_STORAGE : HD_ST_INTERNAL, 0,
                          "cannot store job %s: %s", m->job, rc == HD_EFULL ? "no space left on "
                          "the journal's disk" : hd_strerror (rc));
        return;
    }
    hd_jobstore_at (self->jobs->store, slot)->session = client;
    hd_sessions_set_job (self->sessions, client, slot + 1);
    hd_info ("job %s opened: %u tasks, ttl %u s%s%s", m->job, m->total, meta.ttl_s,
             m->name[0] ? ", " : "", m->name);
    hd_jobinfo_t info;
    hd_broker_jobs_info (self, slot, now, &info);
    s_send_info (self, client, &info);
}

static void
s_on_open (hd_broker_t *self, uint32_t client, int64_t now)
{
    hd_jobopen_t m;
    hd_err_t rc = hd_codec_decode_jobopen (hd_frames_data (&self->in, 2),
                                           hd_frames_size (&self->in, 2), &m);
    uint32_t slot;
    if (rc != HD_OK)
        hd_broker_reject (self, NULL, rc == HD_ETOOBIG ? HD_ST_TOO_LARGE : HD_ST_MALFORMED, 0,
                          "malformed JOB_OPEN (job j- + 16 hex digits, total >= 1, name <= %d "
                          "bytes): %s", HD_MAX_JOB_NAME, hd_strerror (rc));
    else if (hd_broker_jobs_rec (self, client, &slot))  //  opened before by this key
        s_open_again (self, client, &m, slot, now);
    else if (self->jobs->budget == 0)
        hd_broker_reject (self, NULL, HD_ST_STORAGE, 0, "this broker keeps no detached jobs "
                          "(--results-max-bytes 0)");
    else if (s_open_allowed (self, client, &m))
        s_open_new (self, client, &m, now);
}

//  --- JOBS -------------------------------------------------------------------------------------

static int
s_newest_first (const void *a, const void *b)
{
    const hd_jobinfo_t *x = a, *y = b;
    return x->created_ms > y->created_ms ? -1 : x->created_ms < y->created_ms;
}

static void
s_on_list (hd_broker_t *self, uint32_t client, int64_t now)
{
    hd_jobref_t ref;
    if (hd_codec_decode_jobref (hd_frames_data (&self->in, 2), hd_frames_size (&self->in, 2),
                                &ref) != HD_OK) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "malformed JOBS (job: \"\" or j- + 16 "
                          "hex digits)");
        return;
    }
    hd_joblist_t *list = self->jobs->list;
    list->count = 0;
    if (ref.job[0]) {
        uint32_t slot = s_owned (self, client, ref.job);
        if (slot == HD_JOBSTORE_NONE)
            return;
        hd_broker_jobs_info (self, slot, now, &list->jobs[list->count++]);
    }
    else {
        const char *key = hd_sessions_key (self->sessions, client);
        //  newest first: collect every one of the key's jobs' creation times, keep the newest
        for (uint32_t i = 0; i < hd_jobstore_slots (self->jobs->store); i++) {
            const hd_jobrec_t *r = hd_jobstore_at (self->jobs->store, i);
            if (!r || strcmp (r->owner, key) != 0)
                continue;
            if (list->count < HD_MAX_JOBS_LIST)
                hd_broker_jobs_info (self, i, now, &list->jobs[list->count++]);
            else {  //  full: replace the oldest held if this one is newer
                qsort (list->jobs, list->count, sizeof list->jobs[0], s_newest_first);
                if (r->created_ms > list->jobs[list->count - 1].created_ms)
                    hd_broker_jobs_info (self, i, now, &list->jobs[list->count - 1]);
            }
        }
        qsort (list->jobs, list->count, sizeof list->jobs[0], s_newest_first);
    }
    if (hd_codec_encode_joblist (&self->env, list) == HD_OK)
        s_send_env (self, client, HD_CMD_JOBS_REPLY);
}

//  --- JOB_FETCH --------------------------------------------------------------------------------

bool
hd_broker_jobs_finished (hd_broker_t *self, const hd_jobrec_t *r)
{
    const hd_session_t *c = hd_sessions_at (self->sessions, r->session);
    return r->stored >= r->total || (r->cancelled && (!c || !c->held));
}

void
hd_broker_jobs_send_data (hd_broker_t *self, uint32_t slot, uint32_t client, uint64_t off,
                          uint32_t max, int64_t now, const char *state)
{
    hd_jobs_t *js = self->jobs;
    static hd_jobdata_t d;  //  the reactor's thread only; large (its info)
    memset (&d, 0, sizeof d);
    s_info (self, slot, now, &d.info, false);
    if (state)
        snprintf (d.info.state, sizeof d.info.state, "%s", state);
    memcpy (d.job, d.info.job, sizeof d.job);
    d.off = off;
    d.size = d.info.bytes;
    hd_err_t rc = state ? (hd_buf_reset (&js->data), d.next = off, HD_OK)
                        : hd_jobstore_read (js->store, slot, off, max, &js->data, &d.next,
                                            &d.count);
    if (rc != HD_OK) {
        hd_broker_reject_to (self, client, NULL, rc == HD_ENOMEM ? HD_ST_BUSY : HD_ST_MALFORMED,
                             rc == HD_ENOMEM ? 1000 : 0, "cannot read job %s at offset %" PRIu64
                             ": %s (fetch from 0 or a `next` the broker gave)", d.job, off,
                             hd_strerror (rc));
        return;
    }
    if (hd_codec_encode_jobdata (&self->env, &d) != HD_OK
        || hd_broker_send_to_client (self, client, HD_CMD_JOB_DATA) != 0)
        return;
    hd_send_frame (self->clients_raw, self->env.data, self->env.size, ZMQ_SNDMORE);
    hd_send_frame (self->clients_raw, js->data.data, js->data.size, 0);
}

static void
s_on_fetch (hd_broker_t *self, uint32_t client, int64_t now)
{
    hd_jobfetch_t f;
    if (hd_codec_decode_jobfetch (hd_frames_data (&self->in, 2), hd_frames_size (&self->in, 2),
                                  &f) != HD_OK) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "malformed JOB_FETCH (job, off, max, "
                          "wait)");
        return;
    }
    uint32_t slot = s_owned (self, client, f.job);
    if (slot == HD_JOBSTORE_NONE)
        return;
    uint32_t max = f.max < HD_JOB_FETCH_MIN ? HD_JOB_FETCH_MIN
                   : f.max > HD_JOB_FETCH_MAX ? HD_JOB_FETCH_MAX : f.max;
    uint32_t wait = f.wait_ms > HD_JOB_WAIT_MAX ? HD_JOB_WAIT_MAX : f.wait_ms;
    hd_jobrec_t *r = hd_jobstore_at (self->jobs->store, slot);
    hd_broker_jobs_unhold (self, slot, now);  //  a new fetch replaces the one held
    if (f.off < r->bytes || !wait || hd_broker_jobs_finished (self, r)) {
        hd_broker_jobs_send_data (self, slot, client, f.off, max, now, NULL);
        return;
    }
    hd_broker_jobs_hold (self, slot, client, f.off, max, now + wait);
}

//  --- JOB_CANCEL, JOB_RELEASE ------------------------------------------------------------------

static void
s_on_cancel (hd_broker_t *self, uint32_t client, int64_t now, bool release)
{
    hd_jobref_t ref;
    if (hd_codec_decode_jobref (hd_frames_data (&self->in, 2), hd_frames_size (&self->in, 2),
                                &ref) != HD_OK || !ref.job[0]) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "malformed %s (job: j- + 16 hex "
                          "digits)", release ? "JOB_RELEASE" : "JOB_CANCEL");
        return;
    }
    uint32_t slot = s_owned (self, client, ref.job);
    if (slot == HD_JOBSTORE_NONE)
        return;
    hd_jobinfo_t info;
    if (release) {
        hd_broker_jobs_info (self, slot, now, &info);
        snprintf (info.state, sizeof info.state, "released");
        hd_broker_jobs_end (self, slot, now, "released by its owner");
        s_send_info (self, client, &info);
        return;
    }
    hd_err_t rc = hd_broker_jobs_cancel (self, slot);
    if (rc != HD_OK) {
        hd_broker_reject (self, NULL, rc == HD_EFULL ? HD_ST_STORAGE : HD_ST_INTERNAL, 0,
                          "cannot record the cancel of job %s: %s", ref.job, hd_strerror (rc));
        return;
    }
    hd_broker_jobs_info (self, slot, now, &info);
    s_send_info (self, client, &info);
}

void
hd_broker_on_job_cmd (hd_broker_t *self, uint32_t client, uint8_t cmd, int64_t now)
{
    if (!self->jobs) {
        hd_broker_reject (self, NULL, HD_ST_STORAGE, 0, "this broker keeps no detached jobs "
                          "(journal none)");
        return;
    }
    hd_jobs_t *js = self->jobs;
    if (cmd != HD_CMD_JOBS && cmd != HD_CMD_JOB_FETCH) {
        if (now - js->ops_since_ms >= 1000) {
            js->ops_since_ms = now;
            js->ops = 0;
        }
        if (++js->ops > HD_JOB_OPS_PER_S) {
            hd_broker_reject (self, NULL, HD_ST_BUSY, 1000, "more than %d job opens, cancels "
                              "and releases this second: retry", HD_JOB_OPS_PER_S);
            return;
        }
    }
    switch (cmd) {
        case HD_CMD_JOB_OPEN: s_on_open (self, client, now); break;
        case HD_CMD_JOBS: s_on_list (self, client, now); break;
        case HD_CMD_JOB_FETCH: s_on_fetch (self, client, now); break;
        case HD_CMD_JOB_CANCEL: s_on_cancel (self, client, now, false); break;
        default: s_on_cancel (self, client, now, true); break;
    }
}

bool
hd_broker_jobs_submit (hd_broker_t *self, uint32_t client, const hd_submit_t *s)
{
    uint32_t slot;
    const hd_jobrec_t *r = hd_broker_jobs_rec (self, client, &slot);
    uint64_t index;
    if (!r || !hd_jobrec_index (r, s->id.b, &index)) {
        self->stats.denied++;
        hd_broker_reject (self, &s->id, HD_ST_DENIED, 0, "task id is not one of job %s's "
                          "(index < %u)", r ? r->job : "?", r ? r->total : 0);
        return false;
    }
    if (hd_jobstore_has (self->jobs->store, slot, index)) {  //  done and stored: never again
        hd_broker_accept_later (self, client, &s->id);
        return false;
    }
    if (r->cancelled) {
        hd_broker_reject (self, &s->id, HD_ST_CANCELLED, 0, "job %s is cancelled", r->job);
        return false;
    }
    return true;
}
