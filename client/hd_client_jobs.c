/*  hd_client_jobs: libheddle's requests about detached jobs (docs/PROTOCOL.md section 15):
    list (JOBS), info, cancel and release, on any session of the owner key, and the routing of
    the broker's answers (JOB_INFO, JOBS_REPLY, JOB_DATA) from the receive loop. A refusal comes
    as a REJECTED without id, read the way ADMIN's answer is (admin_pending, admin_code).  */
#include "hd_client_int.h"

#include "hd_transport.h"

void
hd_job_info_from_wire (const hd_jobinfo_t *in, hd_job_info_t *out)
{
    memset (out, 0, sizeof *out);
    snprintf (out->job, sizeof out->job, "%s", in->job);
    snprintf (out->name, sizeof out->name, "%s", in->name);
    snprintf (out->state, sizeof out->state, "%s", in->state);
    out->total = in->total;
    out->queued = in->queued;
    out->running = in->running;
    out->ok = in->ok;
    out->failed = in->failed;
    out->cancelled = in->cancelled;
    out->stored = in->stored;
    out->bytes = in->bytes;
    out->created_ms = in->created_ms;
    out->expires_ms = in->expires_ms;
    out->rate = in->rate;
}

static void
s_on_info (hd_client_t *self, hd_jobreq_t *req)
{
    hd_jobinfo_t info;
    if (hd_codec_decode_jobinfo (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1),
                                 &info) != HD_OK)
        return;
    if (!req || req->want != HD_CMD_JOB_INFO || (req->job && strcmp (req->job, info.job) != 0))
        return;
    hd_job_info_from_wire (&info, &req->info);
    req->seen = true;
    self->admin_pending = false;
}

static void
s_on_list (hd_client_t *self, hd_jobreq_t *req)
{
    if (!req || req->want != HD_CMD_JOBS_REPLY)
        return;
    hd_joblist_t *list = malloc (sizeof *list);
    if (!list)
        return;
    if (hd_codec_decode_joblist (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1),
                                 list) == HD_OK) {
        free (req->list);
        req->list = calloc (list->count ? list->count : 1, sizeof *req->list);
        req->count = req->list ? list->count : 0;
        for (uint32_t i = 0; i < req->count; i++)
            hd_job_info_from_wire (&list->jobs[i], &req->list[i]);
        req->seen = true;
        self->admin_pending = false;
    }
    free (list);
}

void
hd_client_job_hook (hd_client_t *self, uint8_t cmd, void *arg)
{
    hd_jobhook_t *hook = arg;
    if (cmd == HD_CMD_JOB_INFO)
        s_on_info (self, hook->req);
    else if (cmd == HD_CMD_JOBS_REPLY)
        s_on_list (self, hook->req);
    else if (cmd == HD_CMD_JOB_DATA && hook->det)
        hd_detached_on_data (hook->det);
}

static bool
s_answered (hd_client_t *self, void *arg)
{
    hd_jobreq_t *req = arg;
    return req->seen || !self->admin_pending;
}

//  The broker's refusal as an error, its reason kept in last_error.
static hd_err_t
s_refused (hd_client_t *self)
{
    const char *why = self->admin_reason[0] ? self->admin_reason
                                            : hd_status_str (self->admin_code);
    hd_err_t rc = HD_EPROTO;
    if (strstr (why, "no detached jobs") || strstr (why, "not a client command"))
        rc = HD_ENOTSUP;
    else if (self->admin_code == HD_ST_DENIED)
        rc = HD_ENOTFOUND;
    else if (self->admin_code == HD_ST_STORAGE || self->admin_code == HD_ST_BUSY)
        rc = HD_EFULL;
    else if (self->admin_code == HD_ST_MALFORMED)
        rc = HD_EINVAL;
    else if (self->admin_code == HD_ST_TOO_LARGE)
        rc = HD_ETOOBIG;
    return hd_client_fail (self, rc, "%s", why);
}

//  Send the request (its envelope is in `env`) and wait for the answer or a refusal.
static hd_err_t
s_ask (hd_client_t *self, uint8_t cmd, hd_jobreq_t *req, const hd_buf_t *env)
{
    req->seen = false;
    self->admin_pending = true;
    self->admin_code = 0;
    self->admin_retry_ms = 0;
    self->admin_reason[0] = 0;
    hd_err_t rc = hd_client_flush (self);
    if (rc == HD_OK && (hd_send_header (self->raw, cmd, ZMQ_SNDMORE) != 0
                        || hd_send_frame (self->raw, env->data, env->size, 0) != 0))
        rc = hd_client_fail (self, HD_ECLOSED, "send failed: %s", zmq_strerror (zmq_errno ()));
    if (rc == HD_OK)
        rc = hd_client_wait_for (self, s_answered, req,
                                 hd_client_now_us () + (int64_t) self->config.timeout_ms * 1000,
                                 cmd == HD_CMD_JOBS ? "JOBS" : "a job request");
    return rc;
}

//  A refusal with a retry hint (BUSY: too many job opens, cancels and releases this second)
//  is asked again after it, for up to config.retry_ms. True when it is time to ask again.
static bool
s_again (hd_client_t *self, int64_t first_us)
{
    if (self->admin_code != HD_ST_BUSY || !self->admin_retry_ms || self->config.retry_ms < 0
        || hd_client_now_us () - first_us > (int64_t) self->config.retry_ms * 1000)
        return false;
    int64_t until = hd_client_now_us () + (int64_t) self->admin_retry_ms * 1000;
    while (hd_client_now_us () < until && !hd_client_interrupted (self))
        hd_client_process (self, 100, NULL);  //  a wait on the socket, not a sleep
    return !hd_client_interrupted (self);
}

hd_err_t
hd_client_job_request (hd_client_t *self, uint8_t cmd, hd_jobreq_t *req)
{
    hd_jobhook_t local = { NULL, NULL }, *hook = &local;
    bool own_hook = self->job_hook != hd_client_job_hook;
    if (own_hook) {
        self->job_hook = hd_client_job_hook;
        self->job_hook_arg = &local;
    }
    else
        hook = self->job_hook_arg;
    hd_jobreq_t *outer = hook->req;
    hook->req = req;
    //  Cancel and release are what a program does when it is interrupted: wait for them all
    //  the same (bounded by timeout_ms).
    bool ignoring = self->ignore_interrupt;
    self->ignore_interrupt = cmd == HD_CMD_JOB_CANCEL || cmd == HD_CMD_JOB_RELEASE;
    //  The envelope is kept: `env` serves the heartbeat's PING meanwhile.
    hd_buf_t env;
    hd_buf_init (&env);
    hd_err_t rc = hd_buf_append (&env, self->env.data, self->env.size);
    int64_t first = hd_client_now_us ();
    do
        rc = rc == HD_OK ? s_ask (self, cmd, req, &env) : rc;
    while (rc == HD_OK && !req->seen && s_again (self, first));
    hd_buf_fini (&env);
    if (rc == HD_OK && !req->seen)
        rc = s_refused (self);
    self->admin_pending = false;
    self->ignore_interrupt = ignoring;
    hook->req = outer;
    if (own_hook) {
        self->job_hook = NULL;
        self->job_hook_arg = NULL;
    }
    return rc;
}

static hd_err_t
s_ref (hd_client_t *self, uint8_t cmd, const char *job, hd_jobreq_t *req)
{
    hd_jobref_t ref;
    memset (&ref, 0, sizeof ref);
    if (job && *job && !hd_job_id_valid (job))
        return hd_client_fail (self, HD_EINVAL, "'%s' is not a job id (j- and 16 hex digits; "
                               "'heddle jobs' lists yours)", job);
    snprintf (ref.job, sizeof ref.job, "%s", job ? job : "");
    hd_err_t rc = hd_codec_encode_jobref (&self->env, &ref);
    if (rc != HD_OK)
        return hd_client_fail (self, rc, "cannot encode the request: %s", hd_strerror (rc));
    req->job = job && *job ? job : NULL;
    return hd_client_job_request (self, cmd, req);
}

hd_err_t
hd_client_jobs_list (hd_client_t *self, hd_job_info_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    hd_jobreq_t req = { .want = HD_CMD_JOBS_REPLY };
    hd_err_t rc = s_ref (self, HD_CMD_JOBS, NULL, &req);
    if (rc == HD_OK && !req.list)
        rc = hd_client_fail (self, HD_ENOMEM, "out of memory");
    if (rc != HD_OK) {
        free (req.list);
        return rc;
    }
    *out = req.list;
    *count = req.count;
    return HD_OK;
}

hd_err_t
hd_client_jobs_info (hd_client_t *self, const char *job, hd_job_info_t *out)
{
    if (!job || !*job)
        return hd_client_fail (self, HD_EINVAL, "which job?");
    hd_jobreq_t req = { .want = HD_CMD_JOBS_REPLY };
    hd_err_t rc = s_ref (self, HD_CMD_JOBS, job, &req);
    uint32_t i = 0;
    while (rc == HD_OK && i < req.count && strcmp (req.list[i].job, job) != 0)
        i++;
    if (rc == HD_OK && i == req.count)
        rc = hd_client_fail (self, HD_ENOTFOUND, "no job %s for this key", job);
    if (rc == HD_OK)
        *out = req.list[i];
    free (req.list);
    return rc;
}

static hd_err_t
s_act (hd_client_t *self, uint8_t cmd, const char *job, hd_job_info_t *out)
{
    if (!job || !*job)
        return hd_client_fail (self, HD_EINVAL, "which job?");
    hd_jobreq_t req = { .want = HD_CMD_JOB_INFO };
    hd_err_t rc = s_ref (self, cmd, job, &req);
    if (rc == HD_OK && out)
        *out = req.info;
    return rc;
}

hd_err_t
hd_client_jobs_cancel (hd_client_t *self, const char *job, hd_job_info_t *out)
{
    return s_act (self, HD_CMD_JOB_CANCEL, job, out);
}

hd_err_t
hd_client_jobs_release (hd_client_t *self, const char *job, hd_job_info_t *out)
{
    return s_act (self, HD_CMD_JOB_RELEASE, job, out);
}
