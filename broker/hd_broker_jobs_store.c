/*  hd_broker_jobs_store: the life of detached jobs beside the client commands: load at start
    (sessions restored bound to their owners, before the journal's replay), results of a job's
    tasks appended to its store and the tasks forgotten, held fetches answered, cancel, release
    and TTL. The order a store keeps with the journal (its tasks' DROP records wait for its
    fdatasync) is hd_broker_jobs_sync.c.  */
#include "hd_broker_jobs.h"

#include <errno.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "hd_log.h"
#include "hd_transport.h"

#define S_BUDGET_MAX (4ull << 30)  //  default budget: 10% of the free space, at most this

static void
s_warn (const char *text)
{
    hd_warn ("%s", text);
}

static uint64_t
s_default_budget (const char *dir)
{
    struct statvfs vfs;
    if (statvfs (dir, &vfs) != 0)
        return 256ull << 20;
    uint64_t tenth = (uint64_t) vfs.f_bavail * vfs.f_frsize / 10;
    return tenth > S_BUDGET_MAX ? S_BUDGET_MAX : tenth;
}

//  Each loaded job's session, restored under its owner key and marked as the job's.
static void
s_restore_sessions (hd_broker_t *self)
{
    hd_jobstore_t *store = self->jobs->store;
    for (uint32_t i = 0; i < hd_jobstore_slots (store); i++) {
        hd_jobrec_t *r = hd_jobstore_at (store, i);
        uint32_t client;
        if (!r)
            continue;
        if (hd_sessions_restore (self->sessions, (const uint8_t *) r->job, HD_JOB_ID_LEN,
                                 r->owner, hd_broker_now (), &client) != HD_OK) {
            hd_warn ("job %s: its session cannot be restored (no memory): not served", r->job);
            continue;
        }
        r->session = client;
        hd_sessions_set_job (self->sessions, client, i + 1);
    }
}

hd_err_t
hd_broker_jobs_open (hd_broker_t *self, const char *journal_dir, char *errbuf, size_t errlen)
{
    if (self->config.journal_mode == HD_JOURNAL_NONE)
        return HD_OK;  //  no journal, no jobs: JOB_OPEN is refused (STORAGE)
    hd_jobs_t *js = calloc (1, sizeof *js);
    if (!js || !(js->list = malloc (sizeof *js->list))) {
        free (js);
        return HD_ENOMEM;
    }
    self->jobs = js;
    hd_dropq_init (&js->drops);
    hd_ratelog_init (&js->refuse_log, HD_RATELOG_WINDOW_MS);
    char dir[4200];
    snprintf (dir, sizeof dir, "%s/jobs", journal_dir);
    hd_err_t rc = hd_jobstore_open (dir, &js->store, s_warn, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    js->budget = self->config.results_max_bytes == HD_RESULTS_BUDGET_AUTO
                     ? s_default_budget (journal_dir) : self->config.results_max_bytes;
    s_restore_sessions (self);
    hd_info ("jobs %s: %u loaded, %" PRIu64 " bytes of results; budget %" PRIu64 " bytes (%s)",
             dir, hd_jobstore_count (js->store), hd_jobstore_bytes (js->store), js->budget,
             self->config.results_max_bytes == HD_RESULTS_BUDGET_AUTO
                 ? "10% of the free space, at most 4 GiB" : "--results-max-bytes");
    return HD_OK;
}

void
hd_broker_jobs_close (hd_broker_t *self)
{
    hd_jobs_t *js = self->jobs;
    if (!js)
        return;
    hd_jobstore_destroy (&js->store);
    hd_buf_fini (&js->data);
    free (js->holds);
    free (js->fds);
    free (js->batch);
    free (js->items);
    hd_dropq_fini (&js->drops);
    free (js->retry);
    free (js->list);
    free (js);
    self->jobs = NULL;
}

bool
hd_broker_jobs_replay_skip (hd_broker_t *self, uint32_t client, const hd_id_t *id)
{
    uint32_t slot;
    const hd_jobrec_t *r = hd_broker_jobs_rec (self, client, &slot);
    uint64_t index;
    if (!r)
        return false;
    if (!hd_jobrec_index (r, id->b, &index))
        return true;
    if (!hd_jobstore_has (self->jobs->store, slot, index))
        return false;
    //  Stored, its DROP lost in the crash: deferred again, after a sync of the store (what the
    //  crash left in the page cache may not be on the disk yet).
    hd_jobstore_touch (self->jobs->store, slot);
    (void) hd_dropq_push (&self->jobs->drops, id, slot, hd_broker_now ());
    return true;
}

bool
hd_broker_jobs_replay_gone (hd_broker_t *self, const uint8_t *rid, size_t rid_len,
                            const hd_id_t *id)
{
    char job[HD_JOB_ID_LEN + 1];
    uint64_t index;
    if (!self->jobs || rid_len != HD_JOB_ID_LEN)
        return false;
    memcpy (job, rid, HD_JOB_ID_LEN);
    job[HD_JOB_ID_LEN] = 0;
    return hd_job_task_index (job, id->b, &index)
           && hd_jobstore_find (self->jobs->store, job) == HD_JOBSTORE_NONE;
}

//  --- results ----------------------------------------------------------------------------------

//  Forget a task that must not run (no result stored): a DROP record now, then released.
static void
s_forget (hd_broker_t *self, hd_job_t *job)
{
    hd_broker_journal_forget (self, job, false);
    hd_broker_release (self, job);
}

//  Append a result to the job's store. HD_OK (stored, or stored before: the task is then
//  forgotten either way, *slot its job's store; HD_JOBSTORE_NONE: not a job's task after all);
//  else the store's error.
static hd_err_t
s_store (hd_broker_t *self, hd_job_t *job, const void *env, size_t env_size, const void *out,
         size_t out_size, int64_t now, uint32_t *slot)
{
    hd_jobrec_t *r = hd_broker_jobs_rec (self, job->client, slot);
    uint64_t index;
    if (!r)
        *slot = HD_JOBSTORE_NONE;
    if (!r || !hd_jobrec_index (r, job->id.b, &index)
        || hd_jobstore_has (self->jobs->store, *slot, index))
        return HD_OK;  //  cannot happen (SUBMIT checked the id): nothing to store
    hd_result_t res;
    uint32_t status = hd_codec_decode_result (env, env_size, &res) == HD_OK ? res.status
                                                                          : HD_ST_INTERNAL;
    hd_err_t rc = hd_jobstore_append (self->jobs->store, *slot, index, status, env, env_size,
                                      out, out_size, now);
    if (rc == HD_OK)
        self->jobs->woken = true;
    return rc;
}

bool
hd_broker_jobs_for_good (uint32_t code)
{
    return code == HD_ST_TOO_LARGE || code == HD_ST_UNSATISFIABLE || code == HD_ST_UNKNOWN_FN
           || code == HD_ST_MALFORMED;
}

bool
hd_broker_jobs_refused (hd_broker_t *self, uint32_t client, const hd_id_t *id, uint32_t code,
                        const char *reason, int64_t now)
{
    uint32_t slot;
    hd_jobrec_t *r = hd_broker_jobs_rec (self, client, &slot);
    uint64_t index;
    if (!r || !hd_jobrec_index (r, id->b, &index))
        return false;
    if (!hd_jobstore_has (self->jobs->store, slot, index)) {
        hd_result_t res = { .id = *id, .status = code };
        snprintf (res.error, sizeof res.error, "%s", reason);
        hd_buf_t env;
        hd_buf_init (&env);
        hd_err_t rc = hd_codec_encode_result (&env, &res);
        if (rc == HD_OK)
            rc = hd_jobstore_append (self->jobs->store, slot, index, code, env.data, env.size,
                                     NULL, 0, now);
        hd_buf_fini (&env);
        if (rc != HD_OK)
            return false;
        self->jobs->woken = true;
        self->jobs->sync_soon = true;  //  no DROP waits for it, and ACCEPTED is answered
    }
    self->stats.rejected++;
    hd_broker_accept_later (self, client, id);
    return true;
}

static void
s_retry_push (hd_broker_t *self, const hd_id_t *id)
{
    hd_jobs_t *js = self->jobs;
    if (js->nretry == js->retry_cap) {
        uint32_t cap = js->retry_cap ? js->retry_cap * 2 : 64;
        hd_id_t *ids = realloc (js->retry, cap * sizeof *ids);
        if (!ids)
            return;  //  kept all the same; a restart runs it again (its ACCEPT is in the journal)
        js->retry = ids;
        js->retry_cap = cap;
    }
    js->retry[js->nretry++] = *id;
}

void
hd_broker_jobs_result (hd_broker_t *self, hd_job_t *job, const void *env, size_t env_size,
                       hd_payload_t *data, int64_t now)
{
    uint32_t slot;
    hd_err_t rc = s_store (self, job, env, env_size, hd_payload_data (data),
                           hd_payload_size (data), now, &slot);
    if (rc == HD_OK) {
        hd_payload_free (data);
        hd_broker_jobs_forget_stored (self, job, slot, now);
        return;
    }
    //  As a full journal disk is handled: the result is held back (kept in memory, not lost,
    //  never a second outcome) and the store is tried again every beat.
    if (hd_ratelog_hit (&self->jobs->refuse_log, now, NULL, 1))
        hd_warn ("jobs: cannot store a result (%s): held back and retried every beat (more in "
                 "the next %d s are counted, not logged)", rc == HD_EFULL ? "disk full"
                 : hd_strerror (rc), HD_RATELOG_WINDOW_MS / 1000);
    if (hd_broker_keep_result (self, job, env, env_size, data, now) != HD_OK) {
        hd_payload_free (data);
        hd_error ("out of memory keeping a result: task dropped");
        hd_broker_release (self, job);
        return;
    }
    s_retry_push (self, &job->id);
}

void
hd_broker_jobs_batch_add (hd_broker_t *self, hd_job_t *job, const void *env, size_t env_size,
                          hd_payload_t *data, int64_t now)
{
    hd_jobs_t *js = self->jobs;
    if (js->nbatch == js->batch_cap) {
        uint32_t cap = js->batch_cap ? js->batch_cap * 2 : 64;
        hd_jobres_t *b = realloc (js->batch, cap * sizeof *b);
        if (b)
            js->batch = b;
        hd_jobstore_item_t *it = b ? realloc (js->items, cap * sizeof *it) : NULL;
        if (!it) {
            hd_broker_jobs_result (self, job, env, env_size, data, now);  //  alone, at once
            return;
        }
        js->items = it;
        js->batch_cap = cap;
    }
    js->batch[js->nbatch++] = (hd_jobres_t) { job, env, env_size, data, 0 };
}

//  Entries [from, to) of the batch, all of store `slot`, in one write; each forgotten, or on a
//  refusal handled alone (tried again, then held back).
static void
s_batch_run (hd_broker_t *self, uint32_t from, uint32_t to, int64_t now)
{
    hd_jobs_t *js = self->jobs;
    uint32_t slot = js->batch[from].slot;
    hd_err_t rc = hd_jobstore_append_many (js->store, slot, js->items + from, to - from, now);
    for (uint32_t k = from; k < to; k++) {
        hd_jobres_t *b = &js->batch[k];
        if (rc != HD_OK)
            hd_broker_jobs_result (self, b->job, b->env, b->env_size, b->data, now);
        else {
            hd_payload_free (b->data);
            hd_broker_jobs_forget_stored (self, b->job, slot, now);
        }
    }
    if (rc == HD_OK)
        js->woken = true;
}

void
hd_broker_jobs_batch_end (hd_broker_t *self, int64_t now)
{
    hd_jobs_t *js = self->jobs;
    if (!js || !js->nbatch)
        return;
    uint32_t n = 0;
    for (uint32_t k = 0; k < js->nbatch; k++) {
        hd_jobres_t b = js->batch[k];
        hd_jobrec_t *r = hd_broker_jobs_rec (self, b.job->client, &b.slot);
        uint64_t index;
        hd_result_t res;
        if (!r || !hd_jobrec_index (r, b.job->id.b, &index)
            || hd_jobstore_has (js->store, b.slot, index)) {
            hd_broker_jobs_result (self, b.job, b.env, b.env_size, b.data, now);
            continue;  //  nothing to write: handled as ever
        }
        uint32_t status = hd_codec_decode_result (b.env, b.env_size, &res) == HD_OK
                              ? res.status : HD_ST_INTERNAL;
        js->items[n] = (hd_jobstore_item_t) { index, status, b.env, hd_payload_data (b.data),
                                              b.env_size, hd_payload_size (b.data) };
        js->batch[n++] = b;
    }
    for (uint32_t k = 0, end; k < n; k = end) {  //  runs of one store
        for (end = k + 1; end < n && js->batch[end].slot == js->batch[k].slot; end++)
            ;
        s_batch_run (self, k, end, now);
    }
    js->nbatch = 0;
}

//  Results the stores refused: try again (in order; stop at the first refusal).
static void
s_retry (hd_broker_t *self, int64_t now)
{
    hd_jobs_t *js = self->jobs;
    uint32_t k = 0;
    for (; k < js->nretry; k++) {
        hd_job_t *job = hd_scheduler_find (self->scheduler, &js->retry[k]);
        if (!job || !job->result || !hd_broker_is_job (self, job->client))
            continue;  //  released meanwhile
        const void *env;
        size_t env_size;
        const hd_payload_t *data;
        hd_broker_result_parts (job, &env, &env_size, &data);
        uint32_t slot;
        if (s_store (self, job, env, env_size, hd_payload_data (data), hd_payload_size (data),
                     now, &slot) != HD_OK)
            break;
        hd_broker_jobs_forget_stored (self, job, slot, now);
    }
    memmove (js->retry, js->retry + k, (js->nretry - k) * sizeof *js->retry);
    js->nretry -= k;
}

//  --- held fetches -----------------------------------------------------------------------------

void
hd_broker_jobs_hold (hd_broker_t *self, uint32_t slot, uint32_t client, uint64_t off,
                     uint32_t max, int64_t due_ms)
{
    hd_jobs_t *js = self->jobs;
    if (slot >= js->holds_cap) {
        uint32_t cap = hd_jobstore_slots (js->store) + 16;
        hd_jobhold_t *h = realloc (js->holds, cap * sizeof *h);
        if (!h) {
            hd_broker_jobs_send_data (self, slot, client, off, max, due_ms, NULL);
            return;  //  answered at once instead
        }
        memset (h + js->holds_cap, 0, (cap - js->holds_cap) * sizeof *h);
        js->holds = h;
        js->holds_cap = cap;
    }
    js->holds[slot] = (hd_jobhold_t) { true, client, off, max, due_ms, 0 };
    js->nholds++;
}

void
hd_broker_jobs_unhold (hd_broker_t *self, uint32_t slot, int64_t now)
{
    hd_jobs_t *js = self->jobs;
    if (slot >= js->holds_cap || !js->holds[slot].on)
        return;
    hd_jobhold_t h = js->holds[slot];
    js->holds[slot].on = false;
    js->nholds--;
    if (hd_jobstore_at (js->store, slot))
        hd_broker_jobs_send_data (self, slot, h.client, h.off, h.max, now, NULL);
}

void
hd_broker_jobs_tick (hd_broker_t *self, int64_t now)
{
    hd_jobs_t *js = self->jobs;
    if (!js || !js->nholds)
        return;
    js->woken = false;
    for (uint32_t i = 0; i < js->holds_cap && js->nholds; i++) {
        hd_jobhold_t *h = &js->holds[i];
        if (!h->on)
            continue;
        const hd_jobrec_t *r = hd_jobstore_at (js->store, i);
        if (r && r->bytes > h->off && !h->data_ms)
            h->data_ms = now;
        if (!r || now >= h->due_ms || hd_broker_jobs_finished (self, r)
            || (h->data_ms && (now - h->data_ms >= HD_JOB_GATHER_MS
                               || r->bytes - h->off >= h->max / 2)))
            hd_broker_jobs_unhold (self, i, now);
    }
}

int64_t
hd_broker_jobs_due_in (const hd_broker_t *self, int64_t now)
{
    const hd_jobs_t *js = self->jobs;
    if (!js || !js->nholds)
        return -1;
    if (js->woken)
        return 0;
    int64_t due = INT64_MAX;
    for (uint32_t i = 0; i < js->holds_cap; i++) {
        const hd_jobhold_t *h = &js->holds[i];
        int64_t at = h->data_ms ? h->data_ms + HD_JOB_GATHER_MS : h->due_ms;
        if (h->on && at < due)
            due = at;
    }
    return due > now ? due - now : 0;
}

//  --- cancel, release, TTL ---------------------------------------------------------------------

typedef struct {
    uint32_t client;
    hd_job_t **jobs;
    uint32_t count, cap;
} s_collect_t;

static void
s_collect_one (hd_job_t *job, void *arg)
{
    s_collect_t *c = arg;
    if (job->client != c->client)
        return;
    if (c->count == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 256;
        hd_job_t **jobs = realloc (c->jobs, cap * sizeof *jobs);
        if (!jobs)
            return;  //  the rest is left to run (cancel) or to the session (release)
        c->jobs = jobs;
        c->cap = cap;
    }
    c->jobs[c->count++] = job;
}

//  The session's tasks, every one the scheduler holds (caller frees c->jobs).
static void
s_collect (hd_broker_t *self, uint32_t client, s_collect_t *c)
{
    memset (c, 0, sizeof *c);
    c->client = client;
    hd_scheduler_each (self->scheduler, s_collect_one, c);
}

static void
s_abort (hd_broker_t *self, const hd_job_t *job)
{
    const hd_node_t *node = job->worker;
    if (!node || hd_codec_encode_ids (&self->env, &job->id, 1) != HD_OK)
        return;
    if (hd_send_frame (self->workers_raw, node->rid, node->rid_len, ZMQ_SNDMORE) == 0
        && hd_send_header (self->workers_raw, HD_CMD_ABORT, ZMQ_SNDMORE) == 0)
        hd_send_frame (self->workers_raw, self->env.data, self->env.size, 0);
}

//  Stop the job's tasks: queued ones end CANCELLED (stored), running ones are aborted (the
//  worker answers CANCELLED, stored). Returns how many.
static uint32_t
s_stop (hd_broker_t *self, const hd_jobrec_t *r)
{
    s_collect_t c;
    s_collect (self, r->session, &c);
    for (uint32_t k = 0; k < c.count; k++) {
        hd_job_t *job = c.jobs[k], *same = NULL;
        if (job->state == HD_JOB_LEASED)
            s_abort (self, job);
        else if (job->state == HD_JOB_QUEUED
                 && hd_scheduler_cancel (self->scheduler, &job->id, &same) == HD_OK)
            hd_broker_fail_job (self, same, HD_ST_CANCELLED, "cancelled with its job");
    }
    free (c.jobs);
    self->jobs->woken = true;  //  a fetch held may be finished now
    return c.count;
}

hd_err_t
hd_broker_jobs_cancel (hd_broker_t *self, uint32_t slot)
{
    hd_jobrec_t *r = hd_jobstore_at (self->jobs->store, slot);
    bool was = r->cancelled;
    hd_err_t rc = hd_jobstore_cancel (self->jobs->store, slot);
    if (rc != HD_OK || was)
        return rc;
    hd_info ("job %s cancelled: %u tasks stopped", r->job, s_stop (self, r));
    return HD_OK;
}

void
hd_broker_jobs_replayed (hd_broker_t *self)
{
    hd_jobstore_t *store = self->jobs ? self->jobs->store : NULL;
    for (uint32_t i = 0; store && i < hd_jobstore_slots (store); i++) {
        const hd_jobrec_t *r = hd_jobstore_at (store, i);
        const hd_session_t *c = r && r->cancelled ? hd_sessions_at (self->sessions, r->session)
                                                  : NULL;
        if (c && c->held)
            hd_info ("job %s is cancelled: %u tasks back from the journal end cancelled", r->job,
                     s_stop (self, r));
    }
}

void
hd_broker_jobs_end (hd_broker_t *self, uint32_t slot, int64_t now, const char *why)
{
    hd_jobs_t *js = self->jobs;
    hd_jobrec_t *r = hd_jobstore_at (js->store, slot);
    if (slot < js->holds_cap && js->holds[slot].on) {  //  the fetch held is told it is gone
        js->holds[slot].on = false;
        js->nholds--;
        hd_broker_jobs_send_data (self, slot, js->holds[slot].client, js->holds[slot].off, 0,
                                  now, "released");
    }
    s_collect_t c;
    s_collect (self, r->session, &c);
    for (uint32_t k = 0; k < c.count; k++) {
        if (c.jobs[k]->state == HD_JOB_LEASED)
            s_abort (self, c.jobs[k]);
        s_forget (self, c.jobs[k]);  //  a running one's lease ends; its late result is ignored
    }
    free (c.jobs);
    hd_broker_jobs_drops_of (self, slot);
    hd_info ("job %s %s: %u of %u results stored, %u tasks dropped", r->job, why, r->stored,
             r->total, c.count);
    hd_sessions_set_job (self->sessions, r->session, 0);
    hd_jobstore_remove (js->store, slot);
}

void
hd_broker_jobs_beat (hd_broker_t *self, int64_t now)
{
    hd_jobs_t *js = self->jobs;
    if (!js)
        return;
    if (js->nretry)
        s_retry (self, now);
    int64_t wall = hd_broker_wall_ms ();
    for (uint32_t i = 0; i < hd_jobstore_slots (js->store); i++) {
        const hd_jobrec_t *r = hd_jobstore_at (js->store, i);
        if (r && wall >= r->created_ms + (int64_t) r->ttl_s * 1000)
            hd_broker_jobs_end (self, i, now, "expired (its TTL passed)");
    }
}
