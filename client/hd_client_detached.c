/*  hd_client_detached: a handle on one detached job (hd_client.h). It runs on the job's own
    session (the job id; its tasks' ids are derived from the id and their index, so a task sent
    again by a later process is the same task), or on a session of its own when read_only.
    Results are read from the broker's result store with JOB_FETCH, one request out at a time,
    long-polled; `cursor` is the store offset read up to. Every index is delivered once: a
    bitmap marks what was read, and results wait in `held` (by index) until handed out.  */
#include "hd_client_int.h"

#include "hd_log.h"

#define S_FETCH_MAX (1u << 20)     //  bytes of results asked per JOB_FETCH
#define S_FETCH_WAIT_MS 2000       //  a fetch with nothing new waits this long at the broker
#define S_FETCH_GRACE_MS 3000      //  no answer by wait + this: ask again (broker restarted)

struct hd_detached {
    hd_client_t *client;
    hd_jobhook_t hook;
    char job[HD_JOB_ID_SIZE];
    char fn[HD_MAX_FN + 1];
    hd_task_opts_t opts;
    char tags[HD_MAX_TAGS * (HD_MAX_NAME + 1)], node[HD_MAX_NAME + 1];
    bool read_only;
    uint32_t total;
    hd_job_info_t info;       //  as the broker last said
    uint8_t *got, *sent;      //  bitmaps: result read here; submitted by this handle
    uint64_t ngot, nsent_got, nsent, returned;
    hd_reply_t **held;        //  read and not yet handed out, by index
    uint32_t *order;          //  indices in the order read (COMPLETED), fifo
    uint64_t order_head, order_tail;
    uint64_t next_index;      //  ORDERED: the next index to hand out
    uint64_t cursor, size;    //  store offset read up to; the store's size at the last answer
    bool fetch_out, fetch_refused;
    uint64_t fetch_off;       //  the offset the request out asked for
    bool draining;            //  hd_detached_drain: nothing more is read
    bool cancelled;           //  hd_detached_cancel: next goes on past the interrupt flag
    int64_t fetch_deadline_us;
};

static bool
s_bit (const uint8_t *map, uint64_t i)
{
    return map[i >> 3] & (1u << (i & 7));
}

static void
s_set (uint8_t *map, uint64_t i)
{
    map[i >> 3] |= (uint8_t) (1u << (i & 7));
}

//  A result (or a refusal) for task `index`: kept for hd_detached_next unless one was read.
static void
s_keep (hd_detached_t *self, uint64_t index, hd_reply_t *reply)
{
    if (index >= self->total || s_bit (self->got, index)) {
        hd_reply_destroy (&reply);
        return;
    }
    s_set (self->got, index);
    self->ngot++;
    self->nsent_got += s_bit (self->sent, index);
    self->held[index] = reply;
    self->order[self->order_tail++] = (uint32_t) index;
}

//  REJECTED for one of this handle's tasks (hd_client_io.c hands it over as a reply).
static void
s_on_refused (hd_client_t *client, hd_reply_t *reply, void *arg)
{
    (void) client;
    s_keep (arg, reply->seq, reply);
}

void
hd_detached_on_data (hd_detached_t *self)
{
    hd_frames_t *in = &self->client->in;
    hd_jobdata_t d;
    if (hd_codec_decode_jobdata (hd_frames_data (in, 1), hd_frames_size (in, 1), &d) != HD_OK
        || strcmp (d.job, self->job) != 0)
        return;
    hd_job_info_from_wire (&d.info, &self->info);
    self->size = d.size;
    if (d.off > d.size) {  //  the store was shortened (a torn tail cut away): read it again
        self->cursor = 0;
        self->fetch_out = false;
        return;
    }
    //  The answer to an older request (one this handle re-asked, or a killed process's fetch
    //  of the same session, answered empty when ours replaced it) is not the one out.
    if (d.off == self->fetch_off)
        self->fetch_out = false;
    if (d.off != self->cursor || in->count < 3)
        return;
    hd_pack_reader_t r;
    hd_pack_reader_init (&r, hd_frames_data (in, 2), hd_frames_size (in, 2));
    const void *env, *out;
    size_t env_size, out_size;
    while (hd_pack_next (&r, &env, &env_size, &out, &out_size) == 1) {
        hd_result_t res;
        uint64_t index;
        if (hd_codec_decode_result (env, env_size, &res) != HD_OK
            || !hd_job_task_index (self->job, res.id.b, &index) || index >= self->total
            || s_bit (self->got, index))
            continue;
        hd_reply_t *reply = hd_client_reply_for (self->client, &res, index, out, out_size);
        if (reply)
            s_keep (self, index, reply);
    }
    self->cursor = d.next;
}

//  Ask for what is stored past the cursor, unless a request is out and may still be answered.
static hd_err_t
s_fetch (hd_detached_t *self, uint32_t wait_ms)
{
    int64_t now = hd_client_now_us ();
    if (self->fetch_out && now < self->fetch_deadline_us && !self->fetch_refused)
        return HD_OK;
    hd_jobfetch_t f = { .off = self->cursor, .max = S_FETCH_MAX, .wait_ms = wait_ms };
    snprintf (f.job, sizeof f.job, "%s", self->job);
    hd_client_t *c = self->client;
    hd_err_t rc = hd_codec_encode_jobfetch (&c->env, &f);
    if (rc == HD_OK)
        rc = hd_client_send_env (c, HD_CMD_JOB_FETCH);
    if (rc != HD_OK)
        return rc;
    //  A refusal (the job was released) comes as a REJECTED without id.
    c->admin_pending = true;
    c->admin_code = 0;
    c->admin_reason[0] = 0;
    self->fetch_out = true;
    self->fetch_off = self->cursor;
    self->fetch_refused = false;
    self->fetch_deadline_us = now + (int64_t) (wait_ms + S_FETCH_GRACE_MS) * 1000;
    return HD_OK;
}

//  Process what arrived for up to timeout_ms; a REJECTED answering the fetch ends the job here.
static hd_err_t
s_pump (hd_detached_t *self, int timeout_ms)
{
    hd_client_t *c = self->client;
    hd_err_t rc = hd_client_process (c, timeout_ms, NULL);
    if (rc == HD_OK && self->fetch_out && !c->admin_pending && c->admin_code) {
        self->fetch_out = false;
        self->fetch_refused = true;
        return hd_client_fail (c, HD_EDENIED, "job %s: %s", self->job,
                               c->admin_reason[0] ? c->admin_reason
                                                  : hd_status_str (c->admin_code));
    }
    return rc;
}

static hd_err_t
s_alloc (hd_detached_t *self)
{
    size_t bits = (self->total + 7) / 8;
    self->got = calloc (1, bits);
    self->sent = calloc (1, bits);
    self->held = calloc (self->total, sizeof *self->held);
    self->order = calloc (self->total, sizeof *self->order);
    return self->got && self->sent && self->held && self->order ? HD_OK : HD_ENOMEM;
}

static void
s_copy_opts (hd_detached_t *self, const hd_detached_config_t *job)
{
    snprintf (self->fn, sizeof self->fn, "%s", job->fn ? job->fn : "");
    if (!job->opts)
        return;
    self->opts = *job->opts;
    snprintf (self->tags, sizeof self->tags, "%s", job->opts->tags ? job->opts->tags : "");
    snprintf (self->node, sizeof self->node, "%s", job->opts->node ? job->opts->node : "");
    self->opts.tags = job->opts->tags ? self->tags : NULL;
    self->opts.node = job->opts->node ? self->node : NULL;
}

//  JOB_OPEN on the job's session (new, or again to attach: the broker answers JOB_INFO).
static hd_err_t
s_open_job (hd_detached_t *self, const hd_detached_config_t *job)
{
    hd_client_t *c = self->client;
    hd_jobopen_t m = { .total = job->total, .ttl_s = job->ttl_s };
    snprintf (m.job, sizeof m.job, "%s", self->job);
    if (job->name && strlen (job->name) > HD_MAX_JOB_NAME)
        return hd_client_fail (c, HD_EINVAL, "job name longer than %d bytes", HD_MAX_JOB_NAME);
    snprintf (m.name, sizeof m.name, "%s", job->name ? job->name : "");
    hd_jobreq_t req = { .want = HD_CMD_JOB_INFO, .job = self->job };
    hd_err_t rc = hd_codec_encode_jobopen (&c->env, &m);
    if (rc == HD_OK)
        rc = hd_client_job_request (c, HD_CMD_JOB_OPEN, &req);
    if (rc == HD_OK)
        self->info = req.info;
    return rc;
}

//  Attach (the job must exist for this key: JOB_OPEN alone would open a new one under that id,
//  e.g. after it was released) or open a new job.
static hd_err_t
s_attach (hd_detached_t *self, const hd_detached_config_t *job)
{
    hd_client_t *c = self->client;
    hd_err_t rc;
    if (job->job) {
        rc = hd_client_jobs_info (c, self->job, &self->info);
        if (rc == HD_ENOTFOUND)
            return hd_client_fail (c, rc, "no job %s for this key (released, expired, or "
                                   "another key's)", self->job);
        if (rc == HD_OK && job->total && self->info.total != job->total)
            return hd_client_fail (c, HD_EINVAL, "job %s has %u tasks, not %u (another input?)",
                                   self->job, self->info.total, job->total);
        if (rc == HD_OK && !self->read_only) {
            hd_detached_config_t again = *job;
            again.total = self->info.total;
            rc = s_open_job (self, &again);
        }
    }
    else if (!job->total)
        return hd_client_fail (c, HD_EINVAL, "a new job needs its task count");
    else
        rc = s_open_job (self, job);
    if (rc != HD_OK)
        return rc;
    self->total = self->info.total;
    if (!self->total)
        return hd_client_fail (c, HD_EPROTO, "the broker says job %s has no task", self->job);
    return s_alloc (self) == HD_OK ? HD_OK : hd_client_fail (c, HD_ENOMEM, "out of memory");
}

static hd_err_t
s_connect (hd_detached_t *self, const hd_client_config_t *config, char *errbuf, size_t errlen)
{
    hd_client_config_t cc = *config;
    cc.session = self->read_only ? NULL : self->job;
    hd_err_t rc = hd_client_open (&cc, &self->client, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    hd_client_t *c = self->client;
    c->job_session = !self->read_only;
    //  Results are sealed under the job session's key: a reader on its own session takes it.
    if (self->read_only && c->seal && (rc = hd_client_seal_setup_as (c, self->job)) != HD_OK) {
        if (errbuf)
            snprintf (errbuf, errlen, "%s", c->last_error);
        return rc;
    }
    self->hook.det = self;
    c->job_hook = hd_client_job_hook;
    c->job_hook_arg = &self->hook;
    hd_client_set_handler (c, s_on_refused, self);
    rc = hd_client_start (c);
    if (rc != HD_OK && errbuf)
        snprintf (errbuf, errlen, "%s", c->last_error);
    return rc;
}

hd_err_t
hd_detached_open (const hd_client_config_t *config, const hd_detached_config_t *job,
                  hd_detached_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (job->job && !hd_job_id_valid (job->job)) {
        if (errbuf)
            snprintf (errbuf, errlen, "'%s' is not a job id (j- and 16 hex digits; 'heddle "
                      "jobs' lists yours)", job->job);
        return HD_EINVAL;
    }
    hd_detached_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    self->read_only = job->read_only;
    if (job->job)
        snprintf (self->job, sizeof self->job, "%s", job->job);
    else
        hd_job_id_new (self->job);
    s_copy_opts (self, job);
    hd_err_t rc = s_connect (self, config, errbuf, errlen);
    if (rc == HD_OK && (rc = s_attach (self, job)) != HD_OK && errbuf)
        snprintf (errbuf, errlen, "%s", self->client->last_error);
    if (rc != HD_OK) {
        hd_detached_destroy (&self);
        return rc;
    }
    *out = self;
    return HD_OK;
}

void
hd_detached_destroy (hd_detached_t **self_p)
{
    hd_detached_t *self = *self_p;
    if (!self)
        return;
    for (uint64_t i = 0; self->held && i < self->total; i++)
        hd_reply_destroy (&self->held[i]);
    hd_client_destroy (&self->client);
    free (self->got);
    free (self->sent);
    free (self->held);
    free (self->order);
    free (self);
    *self_p = NULL;
}

const char *
hd_detached_id (const hd_detached_t *self)
{
    return self->job;
}

hd_client_t *
hd_detached_client (hd_detached_t *self)
{
    return self->client;
}

void
hd_detached_info (const hd_detached_t *self, hd_job_info_t *out)
{
    *out = self->info;
}

bool
hd_detached_has (const hd_detached_t *self, uint64_t index)
{
    return index < self->total && s_bit (self->got, index);
}

uint32_t
hd_detached_out (const hd_detached_t *self)
{
    return (uint32_t) (self->nsent - self->nsent_got);
}

uint64_t
hd_detached_returned (const hd_detached_t *self)
{
    return self->returned;
}

hd_err_t
hd_detached_sync (hd_detached_t *self)
{
    hd_client_t *c = self->client;
    int64_t deadline = hd_client_now_us () + (int64_t) c->config.timeout_ms * 1000;
    int stalls = 0;
    for (;;) {
        uint64_t before = self->cursor;
        self->fetch_out = false;  //  ask now, without waiting at the broker
        hd_err_t rc = s_fetch (self, 0);
        while (rc == HD_OK && self->fetch_out && hd_client_now_us () < deadline)
            rc = s_pump (self, 100);
        if (rc != HD_OK)
            return rc;
        if (self->fetch_out)
            return hd_client_fail (c, HD_ETIMEDOUT, "no answer from %s to JOB_FETCH",
                                   c->endpoint);
        if (self->cursor >= self->size)
            return HD_OK;  //  read up to the size the broker said
        if (self->cursor == before && ++stalls == 3)
            return HD_OK;  //  nothing more comes, whatever the size said
        deadline = hd_client_now_us () + (int64_t) c->config.timeout_ms * 1000;
    }
}

hd_err_t
hd_detached_submit (hd_detached_t *self, uint64_t index, const void *data, size_t size)
{
    hd_client_t *c = self->client;
    if (self->read_only || !self->fn[0])
        return hd_client_fail (c, HD_EINVAL, "job %s: this handle submits nothing (read_only, "
                               "or no function given)", self->job);
    if (index >= self->total)
        return hd_client_fail (c, HD_EINVAL, "task %llu is past the job's %u tasks",
                               (unsigned long long) index, self->total);
    if (s_bit (self->got, index) || s_bit (self->sent, index))
        return HD_OK;
    hd_id_t id;
    hd_job_task_id (self->job, index, id.b);
    hd_err_t rc = hd_client_submit_id (c, self->fn, data, size, &self->opts, index, &id);
    if (rc == HD_EFULL)
        hd_client_flush (c);  //  what waits in the batch must leave to be ACCEPTED
    if (rc != HD_OK)
        return rc;
    s_set (self->sent, index);
    self->nsent++;
    return HD_OK;
}

static bool
s_all_accepted (hd_client_t *self, void *arg)
{
    (void) arg;
    return hd_client_unaccepted (self) == 0;
}

hd_err_t
hd_detached_wait_accepted (hd_detached_t *self, int timeout_ms)
{
    hd_err_t rc = hd_client_flush (self->client);
    int64_t deadline = timeout_ms < 0 ? 0 : hd_client_now_us () + (int64_t) timeout_ms * 1000;
    return rc == HD_OK ? hd_client_wait_for (self->client, s_all_accepted, NULL, deadline,
                                             "the tasks (ACCEPTED)")
                       : rc;
}

//  The job will bring nothing more: finished at the broker (done, cancelled, released, nothing
//  queued or running) and its store read to the end.
static bool
s_drained (const hd_detached_t *self)
{
    if (self->ngot == self->total || self->draining)
        return true;
    bool over = strcmp (self->info.state, "running") != 0;
    return over && !self->info.queued && !self->info.running && self->cursor >= self->size
           && self->info.stored <= self->ngot;
}

//  The next reply ready to hand out, or NULL.
static hd_reply_t *
s_ready (hd_detached_t *self, hd_gather_t gather)
{
    hd_reply_t *r = NULL;
    if (gather == HD_GATHER_COMPLETED) {
        while (!r && self->order_head < self->order_tail) {
            uint32_t i = self->order[self->order_head++];
            r = self->held[i];
            self->held[i] = NULL;
        }
        return r;
    }
    //  ORDERED: past a gap only when no more will come (cancelled tasks never run)
    bool skip = s_drained (self);
    while (!r && self->next_index < self->total
           && (self->held[self->next_index] || skip || s_bit (self->got, self->next_index))) {
        r = self->held[self->next_index];
        self->held[self->next_index++] = NULL;
    }
    return r;
}

hd_err_t
hd_detached_next (hd_detached_t *self, hd_gather_t gather, int timeout_ms, hd_reply_t **out)
{
    *out = NULL;
    hd_client_t *c = self->client;
    hd_err_t rc = hd_client_flush (c);
    int64_t deadline = timeout_ms < 0 ? 0 : hd_client_now_us () + (int64_t) timeout_ms * 1000;
    while (rc == HD_OK) {
        if ((*out = s_ready (self, gather)) != NULL) {
            self->returned++;
            return HD_OK;
        }
        if (self->returned == self->total || s_drained (self))
            return HD_ENOTFOUND;  //  s_ready found nothing, and nothing more will come
        int64_t left_ms = deadline ? (deadline - hd_client_now_us ()) / 1000 : 100;
        if (deadline && left_ms <= 0)
            return HD_ETIMEDOUT;
        if (hd_client_interrupted (c) && !self->cancelled)
            return hd_client_fail (c, HD_ECLOSED, "interrupted");
        rc = self->draining ? HD_OK : s_fetch (self, S_FETCH_WAIT_MS);
        if (rc == HD_OK)
            rc = s_pump (self, left_ms < 100 ? (int) left_ms : 100);
    }
    return rc;
}

void
hd_detached_drain (hd_detached_t *self)
{
    self->draining = true;
}

static void
s_after (hd_detached_t *self, hd_err_t rc, const hd_job_info_t *info)
{
    if (rc == HD_OK)
        self->info = *info;
}

hd_err_t
hd_detached_cancel (hd_detached_t *self)
{
    hd_job_info_t info;
    hd_err_t rc = hd_client_jobs_cancel (self->client, self->job, &info);
    s_after (self, rc, &info);
    self->cancelled = true;
    return rc;
}

hd_err_t
hd_detached_release (hd_detached_t *self)
{
    hd_job_info_t info;
    hd_err_t rc = hd_client_jobs_release (self->client, self->job, &info);
    s_after (self, rc, &info);
    return rc;
}
