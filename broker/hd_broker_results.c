/*  hd_broker_results: results are kept until the client acknowledges them (ACK), so that each
    one reaches its client exactly once even when the client disconnects or the ACK is lost:
    the broker resends what is unacknowledged when the client pings, and forgets it after
    result_ttl_ms. A result is kept as the worker sent it, never re-encoded: its envelope bytes
    and its output (hd_payload: copied when small, the frame itself when large).  */
#include "hd_broker_int.h"

#include "hd_log.h"
#include "hd_transport.h"

#define S_RESEND_AFTER_MS 2000  //  an unacknowledged result is resent on a ping after this long
//  Resend work a session can cause (PING {resend: true}), whatever it sends: one resend per
//  S_RESEND_AFTER_MS, and while it acknowledges nothing, at most S_RESEND_BUDGET bytes of results
//  per S_RESEND_STALL_MS. A client that never reads then costs at most its kept results plus
//  one budget (and never more than the socket's high-water mark: a resend stops at the first
//  send that fails). A reading client ACKs, which renews its budget at once.
#define S_RESEND_BUDGET (8u << 20)
#define S_RESEND_STALL_MS 30000

typedef struct {
    hd_payload_t *data;
    uint32_t env_size;
    uint8_t env[];
} s_result_t;

void
hd_broker_result_free (void *result)
{
    s_result_t *r = result;
    hd_payload_free (r->data);
    free (r);
}

static hd_err_t
s_fifo_push (hd_broker_t *self, const hd_job_t *job, int64_t now)
{
    hd_donefifo_t *f = &self->done;
    if (f->count == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 1024;
        hd_doneref_t *items = malloc (cap * sizeof *items);
        if (!items)
            return HD_ENOMEM;
        for (uint32_t i = 0; i < f->count; i++)
            items[i] = f->items[(f->head + i) % f->cap];
        free (f->items);
        f->items = items;
        f->head = 0;
        f->cap = cap;
    }
    f->items[(f->head + f->count++) % f->cap] = (hd_doneref_t) { job->id, now };
    return HD_OK;
}

//  The journal's live bytes (for compaction) a job holds: its ACCEPT record, with the payload
//  while it has one (the envelope's size is not kept: S_ACCEPT_EST stands for it), and its
//  RESULT once kept. An estimate: compaction sets the exact figure again.
#define S_ACCEPT_EST 88

static uint64_t
s_result_bytes (const s_result_t *r)
{
    return hd_journal_record_size (r->env_size, hd_payload_size (r->data));
}

static void
s_live_less (hd_broker_t *self, uint64_t bytes)
{
    self->live_bytes = self->live_bytes > bytes ? self->live_bytes - bytes : 0;
}

void
hd_broker_release (hd_broker_t *self, hd_job_t *job)
{
    hd_sessions_release (self->sessions, job->client);
    s_live_less (self, hd_journal_record_size (S_ACCEPT_EST, job->payload
                                               ? hd_payload_size (job->payload) : 0)
                           + (job->result ? s_result_bytes (job->result) : 0));
    hd_scheduler_release (self->scheduler, &job);
}

hd_err_t
hd_broker_keep_result (hd_broker_t *self, hd_job_t *job, const void *env, size_t env_size,
                       hd_payload_t *data, int64_t now)
{
    s_result_t *r = malloc (sizeof *r + env_size);
    if (!r || s_fifo_push (self, job, now) != HD_OK) {
        free (r);
        return HD_ENOMEM;
    }
    r->data = data;
    r->env_size = (uint32_t) env_size;
    if (env_size)
        memcpy (r->env, env, env_size);
    if (job->payload)
        s_live_less (self, hd_payload_size (job->payload));
    hd_payload_free (job->payload);  //  the task's input is not needed any more
    job->payload = NULL;
    job->result = r;
    self->live_bytes += s_result_bytes (r);
    job->result_ms = 0;
    return HD_OK;
}

static bool
s_packable (const s_result_t *r)
{
    return hd_pack_fits (r->env_size, hd_payload_size (r->data));
}

//  Which results of a batch one RESULT message holds.
typedef enum { S_ALL_FRAMED, S_PACKED, S_REST_FRAMED } s_form_t;

static bool
s_takes (s_form_t form, const s_result_t *r)
{
    return form == S_ALL_FRAMED || s_packable (r) == (form == S_PACKED);
}

//  One RESULT message with the results k in [0, n) that `form` takes; returns how many it held.
//  The envelope bytes are copied into the message, the output is shared.
static int
s_send_some (hd_broker_t *self, uint32_t client, hd_job_t **jobs, uint32_t n, s_form_t form,
             int64_t now)
{
    bool packed = form == S_PACKED;
    uint32_t count = 0, last = 0;
    for (uint32_t k = 0; k < n; k++)
        if (s_takes (form, jobs[k]->result))
            count++, last = k;
    if (!count)
        return 0;
    if (hd_broker_send_to_client (self, client, HD_CMD_RESULT) != 0) {
        self->stats.unroutable++;
        return -1;  //  kept: resent when the client pings again
    }
    if (packed)
        hd_buf_reset (&self->pack);
    for (uint32_t k = 0; k < n; k++) {
        s_result_t *r = jobs[k]->result;
        if (!s_takes (form, r))
            continue;
        jobs[k]->result_ms = now;
        if (packed)
            hd_pack_add (&self->pack, r->env, r->env_size, hd_payload_data (r->data),
                         hd_payload_size (r->data));
        else {
            hd_send_frame (self->clients_raw, r->env, r->env_size, ZMQ_SNDMORE);
            hd_payload_send (r->data, self->clients_raw, k < last ? ZMQ_SNDMORE : 0);
        }
    }
    if (packed)
        hd_send_frame (self->clients_raw, self->pack.data, self->pack.size, 0);
    return (int) count;
}

int
hd_broker_send_results (hd_broker_t *self, uint32_t client, hd_job_t **jobs, uint32_t n,
                        int64_t now)
{
    if (!n)
        return -1;
    const hd_session_t *c = hd_sessions_at (self->sessions, client);
    if (!c || !c->packs)
        return s_send_some (self, client, jobs, n, S_ALL_FRAMED, now) < 0 ? -1 : 0;
    //  Packed in frames of at most HD_PACK_MAX_BYTES; large outputs in a message of their own.
    uint32_t k = 0;
    while (k < n) {
        uint32_t end = k;
        size_t bytes = 0;
        for (; end < n; end++) {
            s_result_t *r = jobs[end]->result;
            size_t pair = hd_pack_pair_size (r->env_size, hd_payload_size (r->data));
            if (s_packable (r) && bytes + pair > HD_PACK_MAX_BYTES)
                break;
            if (s_packable (r))
                bytes += pair;
        }
        if (s_send_some (self, client, jobs + k, end - k, S_PACKED, now) < 0
            || s_send_some (self, client, jobs + k, end - k, S_REST_FRAMED, now) < 0)
            return -1;
        k = end;
    }
    return 0;
}

void
hd_broker_fail_job (hd_broker_t *self, hd_job_t *job, uint32_t status, const char *reason)
{
    hd_result_t r = { .id = job->id, .attempt = job->attempt, .status = status };
    snprintf (r.error, sizeof r.error, "%s", reason);
    hd_broker_web_result (self, job->fn, status, -1);
    hd_payload_t *data = hd_payload_from (NULL, 0);
    if (!data || hd_codec_encode_result (&self->env, &r) != HD_OK) {
        hd_payload_free (data);
        hd_broker_release (self, job);
        return;
    }
    job->state = HD_JOB_DEAD;
    int64_t now = hd_broker_now ();
    if (hd_broker_is_job (self, job->client)) {
        hd_broker_jobs_result (self, job, self->env.data, self->env.size, data, now);
        return;
    }
    hd_broker_journal_result (self, job, self->env.data, self->env.size, data);
    if (hd_broker_keep_result (self, job, self->env.data, self->env.size, data, now) == HD_OK)
        hd_broker_send_results (self, job->client, &job, 1, now);
    else {
        hd_payload_free (data);
        hd_broker_release (self, job);
    }
}

void
hd_broker_result_parts (const hd_job_t *job, const void **env, size_t *env_size,
                        const hd_payload_t **data)
{
    const s_result_t *r = job->result;
    *env = r->env;
    *env_size = r->env_size;
    *data = r->data;
}

void
hd_broker_result_emit (hd_broker_t *self, const hd_job_t *job)
{
    s_result_t *r = job->result;
    hd_journal_compact_emit (self->journal, HD_JREC_RESULT, &job->id, r->env, r->env_size,
                             hd_payload_data (r->data), hd_payload_size (r->data));
}

void
hd_broker_on_ack (hd_broker_t *self, uint32_t client, const hd_idlist_t *ids)
{
    if (hd_broker_is_job (self, client))
        return;  //  accepted and ignored: a job's results stay stored until it is released
    for (uint32_t i = 0; i < ids->count; i++) {
        hd_job_t *job = hd_scheduler_find (self->scheduler, &ids->ids[i]);
        if (job && job->result && job->client == client) {
            hd_sessions_at (self->sessions, client)->resent_bytes = 0;
            self->stats.acked++;
            hd_broker_journal_forget (self, job, true);
            hd_broker_release (self, job);
        }
    }
}

//  Resend every result of `client` that is unacknowledged and was last sent a while ago (or
//  never: it completed while the client was away), in messages of up to HD_MAX_BATCH.
//  Whether the session may have a resend now (see S_RESEND_BUDGET); starts its interval.
static bool
s_resend_allowed (hd_session_t *s, int64_t now)
{
    if (s->resend_ms && now - s->resend_ms < S_RESEND_AFTER_MS)
        return false;
    if (s->resend_ms && now - s->resend_ms >= S_RESEND_STALL_MS)
        s->resent_bytes = 0;
    if (s->resent_bytes >= S_RESEND_BUDGET)
        return false;
    s->resend_ms = now;
    return true;
}

static uint64_t
s_batch_bytes (hd_job_t **jobs, uint32_t n)
{
    uint64_t bytes = 0;
    for (uint32_t k = 0; k < n; k++)
        bytes += s_result_bytes (jobs[k]->result);
    return bytes;
}

void
hd_broker_resend (hd_broker_t *self, uint32_t client, int64_t now)
{
    hd_session_t *s = hd_sessions_at (self->sessions, client);
    if (!s || !s->rid_len || s->job || !s_resend_allowed (s, now))
        return;  //  a job's results are read with JOB_FETCH only
    hd_donefifo_t *f = &self->done;
    hd_job_t *batch[64];
    uint32_t n = 0;
    for (uint32_t i = 0; i <= f->count && s->resent_bytes < S_RESEND_BUDGET; i++) {
        hd_job_t *job = i < f->count ? hd_scheduler_find (self->scheduler,
                                                          &f->items[(f->head + i) % f->cap].id)
                                     : NULL;
        if (job && (!job->result || job->client != client
                    || (job->result_ms && now - job->result_ms < S_RESEND_AFTER_MS)))
            continue;
        if (job)
            batch[n++] = job;
        if (n == 64 || (i == f->count && n)) {
            s->resent_bytes += s_batch_bytes (batch, n);
            self->stats.resent += n;
            if (hd_broker_send_results (self, client, batch, n, now) != 0)
                return;  //  its queue is full (high-water mark) or it is gone: no more now
            n = 0;
        }
    }
}

//  Forget results nobody acknowledged within result_ttl_ms.
void
hd_broker_expire (hd_broker_t *self, int64_t now)
{
    hd_donefifo_t *f = &self->done;
    uint64_t expired = 0;
    while (f->count && now - f->items[f->head].done_ms > (int64_t) self->config.result_ttl_ms) {
        hd_job_t *job = hd_scheduler_find (self->scheduler, &f->items[f->head].id);
        if (job && job->result && !hd_broker_is_job (self, job->client)) {  //  a job's: stored
            hd_broker_journal_forget (self, job, false);
            hd_broker_release (self, job);
            expired++;
        }
        f->head = (f->head + 1) % f->cap;
        f->count--;
    }
    if (expired) {
        self->stats.expired += expired;
        hd_warn ("forgot %" PRIu64 " result(s) unacknowledged for %u s", expired,
                 self->config.result_ttl_ms / 1000);
    }
}
