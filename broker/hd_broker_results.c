/*  hd_broker_results: results are kept until the client acknowledges them (ACK), so that each
    one reaches its client exactly once even when the client disconnects or the ACK is lost:
    the broker resends what is unacknowledged when the client pings, and forgets it after
    result_ttl_ms. The frames a worker sent are kept as they are (moved, not re-encoded) and
    sent as reference-counted copies.  */
#include "hd_broker_int.h"

#include "hd_log.h"
#include "hd_transport.h"

#define S_RESEND_AFTER_MS 2000  //  an unacknowledged result is resent on a ping after this long

typedef struct {
    zmq_msg_t env, data;
} s_result_t;

void
hd_broker_result_free (void *result)
{
    s_result_t *r = result;
    zmq_msg_close (&r->env);
    zmq_msg_close (&r->data);
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

void
hd_broker_release (hd_broker_t *self, hd_job_t *job)
{
    if (job->client < self->nclients && self->client_tab[job->client].held)
        self->client_tab[job->client].held--;
    hd_scheduler_release (self->scheduler, &job);
}

hd_err_t
hd_broker_keep_result (hd_broker_t *self, hd_job_t *job, zmq_msg_t *env, zmq_msg_t *data,
                       int64_t now)
{
    s_result_t *r = malloc (sizeof *r);
    if (!r || s_fifo_push (self, job, now) != HD_OK) {
        free (r);
        return HD_ENOMEM;
    }
    zmq_msg_init (&r->env);
    zmq_msg_init (&r->data);
    zmq_msg_move (&r->env, env);
    zmq_msg_move (&r->data, data);
    hd_payload_free (job->payload);  //  the task's input is not needed any more
    job->payload = NULL;
    job->result = r;
    job->result_ms = 0;
    return HD_OK;
}

int
hd_broker_send_results (hd_broker_t *self, uint32_t client, hd_job_t **jobs, uint32_t n,
                        int64_t now)
{
    if (!n || hd_broker_send_to_client (self, client, HD_CMD_RESULT) != 0) {
        self->stats.unroutable += n ? 1 : 0;
        return -1;  //  kept: resent when the client pings again
    }
    for (uint32_t i = 0; i < n; i++) {
        s_result_t *r = jobs[i]->result;
        zmq_msg_t env, data;
        zmq_msg_init (&env);
        zmq_msg_init (&data);
        zmq_msg_copy (&env, &r->env);
        zmq_msg_copy (&data, &r->data);
        zmq_msg_send (&env, self->clients_raw, ZMQ_SNDMORE);
        zmq_msg_send (&data, self->clients_raw, i + 1 < n ? ZMQ_SNDMORE : 0);
        zmq_msg_close (&env);
        zmq_msg_close (&data);
        jobs[i]->result_ms = now;
    }
    return 0;
}

void
hd_broker_fail_job (hd_broker_t *self, hd_job_t *job, uint32_t status, const char *reason)
{
    hd_result_t r = { .id = job->id, .attempt = job->attempt, .status = status };
    snprintf (r.error, sizeof r.error, "%s", reason);
    zmq_msg_t env, data;
    zmq_msg_init (&data);
    if (hd_codec_encode_result (&self->env, &r) != HD_OK
        || zmq_msg_init_size (&env, self->env.size) != 0) {
        hd_broker_release (self, job);
        return;
    }
    memcpy (zmq_msg_data (&env), self->env.data, self->env.size);
    job->state = HD_JOB_DEAD;
    int64_t now = hd_broker_now ();
    hd_broker_journal_result (self, job, &env, &data);
    if (hd_broker_keep_result (self, job, &env, &data, now) == HD_OK)
        hd_broker_send_results (self, job->client, &job, 1, now);
    else
        hd_broker_release (self, job);
    zmq_msg_close (&env);
    zmq_msg_close (&data);
}

void
hd_broker_result_emit (hd_broker_t *self, const hd_job_t *job)
{
    s_result_t *r = job->result;
    hd_journal_compact_emit (self->journal, HD_JREC_RESULT, &job->id, zmq_msg_data (&r->env),
                             zmq_msg_size (&r->env), zmq_msg_data (&r->data),
                             zmq_msg_size (&r->data));
}

void
hd_broker_on_ack (hd_broker_t *self, uint32_t client, const hd_idlist_t *ids)
{
    for (uint32_t i = 0; i < ids->count; i++) {
        hd_job_t *job = hd_scheduler_find (self->scheduler, &ids->ids[i]);
        if (job && job->result && job->client == client) {
            self->stats.acked++;
            hd_broker_journal_forget (self, job, true);
            hd_broker_release (self, job);
        }
    }
}

//  Resend every result of `client` that is unacknowledged and was last sent a while ago (or
//  never: it completed while the client was away), in messages of up to HD_MAX_BATCH.
void
hd_broker_resend (hd_broker_t *self, uint32_t client, int64_t now)
{
    hd_donefifo_t *f = &self->done;
    hd_job_t *batch[64];
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->count; i++) {
        hd_job_t *job = hd_scheduler_find (self->scheduler, &f->items[(f->head + i) % f->cap].id);
        if (!job || !job->result || job->client != client
            || (job->result_ms && now - job->result_ms < S_RESEND_AFTER_MS))
            continue;
        batch[n++] = job;
        if (n == 64) {
            self->stats.resent += n;
            hd_broker_send_results (self, client, batch, n, now);
            n = 0;
        }
    }
    self->stats.resent += n;
    hd_broker_send_results (self, client, batch, n, now);
}

//  Forget results nobody acknowledged within result_ttl_ms.
void
hd_broker_expire (hd_broker_t *self, int64_t now)
{
    hd_donefifo_t *f = &self->done;
    uint64_t expired = 0;
    while (f->count && now - f->items[f->head].done_ms > (int64_t) self->config.result_ttl_ms) {
        hd_job_t *job = hd_scheduler_find (self->scheduler, &f->items[f->head].id);
        if (job && job->result) {
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
