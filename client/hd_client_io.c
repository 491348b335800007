/*  hd_client_io: libheddle's submit and receive paths: batching tasks into SUBMIT messages,
    matching RESULT and REJECTED envelopes to the in-flight table, and delivering replies to
    the handler, the call in progress, or the queue read by hd_client_next.  */
#include "hd_client_int.h"

#include "hd_codec_nodes.h"
#include "hd_log.h"
#include "hd_transport.h"

static hd_reply_t *
s_reply_new (const hd_id_t *id, uint64_t seq, const void *data, size_t size)
{
    hd_queued_t *q = calloc (1, sizeof *q);
    if (!q)
        return NULL;
    q->reply.data = malloc (size + 1);
    if (!q->reply.data) {
        free (q);
        return NULL;
    }
    if (size && data)
        memcpy (q->reply.data, data, size);
    ((char *) q->reply.data)[size] = 0;
    q->reply.size = size;
    q->reply.seq = seq;
    memcpy (q->reply.id, id->b, HD_ID_BYTES);
    return &q->reply;
}

static void
s_deliver (hd_client_t *self, hd_reply_t *reply)
{
    if (self->capturing && memcmp (reply->id, self->capture_id.b, HD_ID_BYTES) == 0) {
        self->captured = reply;
        self->capturing = false;
    }
    else if (self->handler)
        self->handler (self, reply, self->handler_arg);
    else {
        hd_queued_t *q = (hd_queued_t *) reply;
        q->next = NULL;
        if (self->tail)
            self->tail->next = q;
        else
            self->head = q;
        self->tail = q;
    }
}

//  ACK every result id received, delivered now or a duplicate of one delivered before (the
//  broker resends until it sees an ACK, so a lost ACK must be repeated). ACKs wait up to
//  S_ACK_DELAY_US, or until the next SUBMIT goes out (hd_client_flush sends them first, so both
//  travel together), or until S_ACK_BATCH are due: with few tasks in flight, one ACK message per
//  result cost the broker a wake-up per task.
#define S_ACK_DELAY_US 20000
#define S_ACK_BATCH 256

void
hd_client_send_acks (hd_client_t *self)
{
    if (!self->acks->count)
        return;
    if (hd_codec_encode_ids (&self->ack_env, self->acks->ids, self->acks->count) == HD_OK
        && (hd_send_header (self->raw, HD_CMD_ACK, ZMQ_SNDMORE) != 0
            || hd_send_frame (self->raw, self->ack_env.data, self->ack_env.size, 0) != 0))
        hd_client_fail (self, HD_ECLOSED, "send failed: %s", zmq_strerror (zmq_errno ()));
    self->acks->count = 0;
}

//  A sealed task's reply: its output opened and verified. Output that fails verification (or
//  an OK result without any) is never delivered as data: the status becomes TAMPERED. A result
//  without output and with an error status is the broker's own (unknown function, lost...).
static hd_reply_t *
s_sealed_reply (hd_client_t *self, hd_result_t *r, uint64_t seq, const void *out, size_t size)
{
    if (!size && r->status != HD_ST_OK)
        return s_reply_new (&r->id, seq, NULL, 0);
    size_t plain = size > HD_SEAL_RESULT_OVERHEAD ? size - HD_SEAL_RESULT_OVERHEAD : 0;
    hd_reply_t *reply = s_reply_new (&r->id, seq, NULL, plain);
    if (!reply)
        return NULL;
    if (hd_seal_open_result (self->seal, r->id.b, r->status, out, size, reply->data, &reply->size)
        != HD_OK) {
        reply->size = 0;
        ((char *) reply->data)[0] = 0;
        r->status = HD_ST_TAMPERED;
        snprintf (r->error, sizeof r->error, "the result failed verification (altered, moved "
                                             "from another task, or not sealed): dropped");
        self->tampered++;
    }
    else
        ((char *) reply->data)[reply->size] = 0;
    return reply;
}

//  One result: 1 when it was delivered (not a duplicate, not malformed).
static uint32_t
s_on_result (hd_client_t *self, const void *env, size_t env_size, const void *out,
             size_t out_size)
{
    hd_result_t r;
    hd_idval_t v;
    if (hd_codec_decode_result (env, env_size, &r) != HD_OK)
        return 0;
    if (self->acks->count == HD_MAX_BATCH)
        hd_client_send_acks (self);
    if (!self->acks->count)
        self->acks_since_us = hd_client_now_us ();
    self->acks->ids[self->acks->count++] = r.id;
    if (!hd_idmap_take (self->inflight, &r.id, &v))
        return 0;  //  a duplicate of a result already delivered
    hd_client_unkeep (&v);
    hd_reply_t *reply = hd_client_reply_for (self, &r, v.seq, out, out_size);
    if (!reply)
        return 0;
    s_deliver (self, reply);
    return 1;
}

hd_reply_t *
hd_client_reply_for (hd_client_t *self, hd_result_t *r, uint64_t seq, const void *out,
                     size_t out_size)
{
    hd_reply_t *reply = self->seal ? s_sealed_reply (self, r, seq, out, out_size)
                                   : s_reply_new (&r->id, seq, out, out_size);
    if (!reply)
        return NULL;
    reply->status = r->status;
    reply->attempt = r->attempt;
    reply->elapsed_ms = r->elapsed_ms;
    hd_client_copy_text (reply->node, sizeof reply->node, r->node);
    hd_client_copy_text (reply->error, sizeof reply->error, r->error);
    return reply;
}

//  RESULT: [header]([envelope][output])+, or packed: [header][pack] (hd_pack).
static uint32_t
s_on_results (hd_client_t *self)
{
    hd_frames_t *in = &self->in;
    uint32_t handled = 0;
    if (in->count == 2) {
        hd_pack_reader_t r;
        hd_pack_reader_init (&r, hd_frames_data (in, 1), hd_frames_size (in, 1));
        const void *env, *out;
        size_t env_size, out_size;
        while (hd_pack_next (&r, &env, &env_size, &out, &out_size) == 1)
            handled += s_on_result (self, env, env_size, out, out_size);
        return handled;
    }
    for (size_t i = 1; i + 1 < in->count; i += 2)
        handled += s_on_result (self, hd_frames_data (in, i), hd_frames_size (in, i),
                                hd_frames_data (in, i + 1), hd_frames_size (in, i + 1));
    return handled;  //  ACKs go out later, many at a time (hd_client_send_acks)
}

static void
s_on_accepted (hd_client_t *self)
{
    hd_idlist_t *ids = self->scratch;
    if (hd_codec_decode_ids (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1), ids)
        != HD_OK)
        return;
    for (uint32_t i = 0; i < ids->count; i++) {
        hd_idval_t *v = hd_idmap_get (self->inflight, &ids->ids[i]);
        if (v)
            hd_client_unkeep (v);  //  durable at the broker: no need to resend it any more
        hd_idval_t gone;
        if (v && self->job_session && hd_idmap_take (self->inflight, &ids->ids[i], &gone))
            hd_client_unkeep (&gone);  //  its result comes by JOB_FETCH, not here
    }
}

#define S_RESUBMIT_US 3000000  //  a task not ACCEPTED by then is sent again (same id)

//  BUSY or STORAGE with a retry hint, for a task whose copy is kept (not accepted yet): resend
//  it after the hint (s_resubmit_one, at the next heartbeat past it) unless it has been refused
//  for longer than config.retry_ms. True when it will be resent.
static bool
s_retry_later (hd_client_t *self, const hd_reject_t *r)
{
    if ((r->code != HD_ST_BUSY && r->code != HD_ST_STORAGE) || !r->retry_ms
        || self->config.retry_ms < 0)
        return false;
    hd_idval_t *v = hd_idmap_get (self->inflight, &r->id);
    hd_kept_t *kept = v ? v->keep : NULL;
    int64_t now = hd_client_now_us ();
    if (!kept)
        return false;
    if (!kept->refused_us)
        kept->refused_us = now;
    if (now - kept->refused_us > (int64_t) self->config.retry_ms * 1000)
        return false;
    v->t_us = now + (int64_t) r->retry_ms * 1000 - S_RESUBMIT_US;
    self->retried++;
    return true;
}

static uint32_t
s_on_rejected (hd_client_t *self)
{
    hd_reject_t r;
    hd_idval_t v;
    if (hd_codec_decode_reject (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1), &r)
        != HD_OK)
        return 0;
    if (r.has_id && s_retry_later (self, &r))
        return 0;
    if (r.has_id && hd_idmap_take (self->inflight, &r.id, &v))
        hd_client_unkeep (&v);
    else if (!r.has_id && self->admin_pending) {
        //  The broker answers ADMIN with a REJECTED without id, code 0 when done.
        self->admin_code = r.code;
        self->admin_retry_ms = r.retry_ms;
        snprintf (self->admin_reason, sizeof self->admin_reason, "%s", r.reason);
        self->admin_pending = false;
        return 0;
    }
    else {
        self->stray_rejects += r.has_id;
        hd_client_fail (self, HD_EPROTO, "broker rejected a message: %s (%s)", r.reason,
                        hd_status_str (r.code));
        hd_warn ("%s", self->last_error);
        return 0;
    }
    hd_reply_t *reply = s_reply_new (&r.id, v.seq, NULL, 0);
    if (!reply)
        return 0;
    reply->status = r.code;
    hd_client_copy_text (reply->error, sizeof reply->error, r.reason);
    s_deliver (self, reply);
    return 1;
}

static void
s_on_nodes (hd_client_t *self)
{
    free (self->nodes);
    self->nodes = NULL;
    hd_nodeinfo_t *nodes = NULL;
    if (hd_codec_decode_nodes (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1),
                               &nodes, &self->nnodes) == HD_OK)
        self->nodes = nodes;
    self->nodes_seen = true;
}

static void
s_on_pong (hd_client_t *self)
{
    uint32_t maxpay = 0;
    if (hd_codec_decode_pong (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1),
                              &maxpay) == HD_OK && maxpay)
        self->max_payload = maxpay;
    self->pong = true;
}

static void
s_on_notice (hd_client_t *self)
{
    hd_notice_t n;
    if (hd_codec_decode_notice (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1), &n)
        != HD_OK)
        return;
    if (self->notice_fn)
        self->notice_fn (self, n.fn, n.nodes, n.wait_ms, n.reason, self->notice_arg);
    else
        hd_debug ("%s", n.reason);
}

static void
s_on_functions (hd_client_t *self)
{
    free (self->fns);
    self->fns = NULL;
    hd_fninfo_t *fns = NULL;
    if (hd_codec_decode_functions (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1),
                                   &fns, &self->nfns) == HD_OK)
        self->fns = fns;
    self->fns_seen = true;
}

static uint32_t
s_on_message (hd_client_t *self)
{
    hd_frames_t *in = &self->in;
    uint8_t version, cmd;
    if (in->count < 2
        || hd_codec_parse_header (hd_frames_data (in, 0), hd_frames_size (in, 0), &version, &cmd)
               != HD_OK)
        return 0;
    switch (cmd) {
        case HD_CMD_RESULT: return s_on_results (self);
        case HD_CMD_REJECTED: return s_on_rejected (self);
        case HD_CMD_PONG: s_on_pong (self); return 0;
        case HD_CMD_NODES_REPLY: s_on_nodes (self); return 0;
        case HD_CMD_ACCEPTED: s_on_accepted (self); return 0;
        case HD_CMD_NOTICE: s_on_notice (self); return 0;
        case HD_CMD_FUNCTIONS_REPLY: s_on_functions (self); return 0;
        case HD_CMD_JOB_INFO:
        case HD_CMD_JOBS_REPLY:
        case HD_CMD_JOB_DATA:
            if (self->job_hook)
                self->job_hook (self, cmd, self->job_hook_arg);
            return 0;
        default: return 0;
    }
}

static void
s_watch_monitor (hd_client_t *self)
{
    int event;
    uint32_t value = 0;
    while ((event = hd_transport_monitor_next (self->monitor, &value)) != 0) {
        if (event == ZMQ_EVENT_CONNECTED)
            self->tcp_connected = true;
        else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            self->handshaken = true;
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            hd_client_on_auth_failure (self, value);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                 || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        {
            self->handshake_failed = true;
            hd_client_fail (self, HD_ECRYPTO, "CURVE handshake with %s failed: wrong broker key, "
                            "or the broker runs --insecure?", self->endpoint);
        }
    }
}

#define S_PING_US 1000000      //  heartbeat while tasks are in flight

typedef struct {
    hd_client_t *self;
    int64_t now;
    uint32_t count;
} s_resubmit_t;

static void
s_resubmit_one (const hd_id_t *id, hd_idval_t *v, void *arg)
{
    (void) id;
    s_resubmit_t *r = arg;
    hd_kept_t *kept = v->keep;
    if (!kept || r->now - v->t_us < S_RESUBMIT_US)
        return;
    hd_send_header (r->self->raw, HD_CMD_SUBMIT, ZMQ_SNDMORE);
    if (kept->framed) {
        zmq_msg_t env, data;
        zmq_msg_init (&env);
        zmq_msg_init (&data);
        zmq_msg_copy (&env, &hd_kept_frames (kept)[0]);
        zmq_msg_copy (&data, &hd_kept_frames (kept)[1]);
        zmq_msg_send (&env, r->self->raw, ZMQ_SNDMORE);
        zmq_msg_send (&data, r->self->raw, 0);
        zmq_msg_close (&env);
        zmq_msg_close (&data);
    }
    else {
        hd_send_frame (r->self->raw, hd_kept_bytes (kept), kept->env_size, ZMQ_SNDMORE);
        hd_send_frame (r->self->raw, hd_kept_bytes (kept) + kept->env_size, kept->size, 0);
    }
    v->t_us = r->now;
    r->count++;
}

//  While tasks are in flight: PING (the broker answers PONG and resends results we have not
//  acknowledged), and resend SUBMITs the broker never accepted (it lost them in a crash, or
//  they were in flight then); the broker recognises a resent id, so nothing runs twice.
static void
s_heartbeat (hd_client_t *self)
{
    int64_t now = hd_client_now_us ();
    if (!hd_idmap_size (self->inflight) || now - self->last_ping_us < S_PING_US)
        return;
    self->last_ping_us = now;
    if (hd_codec_encode_ping (&self->env, true) == HD_OK)
        hd_client_send_env (self, HD_CMD_PING);
    s_resubmit_t r = { self, now, 0 };
    hd_idmap_each (self->inflight, s_resubmit_one, &r);
    self->resubmitted += r.count;
}

hd_err_t
hd_client_process (hd_client_t *self, int timeout_ms, uint32_t *handled)
{
    uint32_t n = 0;
    s_heartbeat (self);
    if (handled)
        *handled = 0;
    //  The monitor is a plain fd (hd_transport_fd; s_watch_monitor reads until none is left):
    //  a second zmq item would cost two syscalls on every pass.
    zmq_pollitem_t items[2] = {
        { self->raw, 0, ZMQ_POLLIN, 0 },
        { NULL, hd_transport_fd (self->monitor ? zsock_resolve (self->monitor) : NULL), ZMQ_POLLIN,
          0 } };
    //  While tasks are in flight, wait no longer than a heartbeat: the next call must ping, or
    //  results lost with a dropped connection would never be resent. Callers loop anyway.
    if (hd_idmap_size (self->inflight) && (timeout_ms < 0 || timeout_ms > S_PING_US / 1000))
        timeout_ms = S_PING_US / 1000;
    if (self->acks->count) {  //  nor past the time the ACKs waiting are due
        int64_t left_ms = (self->acks_since_us + S_ACK_DELAY_US - hd_client_now_us ()) / 1000;
        int due = left_ms > 0 ? (int) left_ms + 1 : 0;
        if (timeout_ms < 0 || timeout_ms > due)
            timeout_ms = due;
    }
    if (zmq_poll (items, 2, timeout_ms) < 0) {
        //  EINTR from a signal czmq did not take (the program's own handler, which reads its
        //  flag when this returns) is no error: nothing arrived yet.
        if (zmq_errno () == EINTR && !zsys_interrupted)
            return HD_OK;
        return hd_client_fail (self, HD_ECLOSED, "interrupted");
    }
    if (items[1].revents & ZMQ_POLLIN)
        s_watch_monitor (self);
    if (self->denied)
        return HD_EDENIED;
    for (int k = 0; k < 1024; k++) {
        if (hd_frames_recv (&self->in, self->raw, ZMQ_DONTWAIT) != HD_OK)
            break;
        n += s_on_message (self);
    }
    hd_frames_clear (&self->in);
    if (self->acks->count >= S_ACK_BATCH
        || hd_client_now_us () - self->acks_since_us >= S_ACK_DELAY_US)
        hd_client_send_acks (self);
    if (handled)
        *handled = n;
    return HD_OK;
}

//  Wait until `done (self)` or the deadline; HD_ETIMEDOUT with `what` in the error.
static hd_err_t
s_wait (hd_client_t *self, bool (*done) (hd_client_t *, void *), void *arg, int64_t deadline_us,
        const char *what)
{
    while (!done (self, arg)) {
        int64_t left = deadline_us - hd_client_now_us ();
        if (deadline_us && left <= 0) {
            if (self->last_error[0] && !strstr (self->last_error, "no answer"))
                return HD_ETIMEDOUT;  //  keep the handshake failure text: it says why
            return hd_client_fail (self, HD_ETIMEDOUT, "no answer from %s to %s", self->endpoint,
                                   what);
        }
        int wait_ms = deadline_us && left / 1000 + 1 < 100 ? (int) (left / 1000) + 1 : 100;
        hd_err_t rc = hd_client_process (self, wait_ms, NULL);
        if (rc != HD_OK)
            return rc;
        if (hd_client_interrupted (self))
            return hd_client_fail (self, HD_ECLOSED, "interrupted");
    }
    return HD_OK;
}

hd_err_t
hd_client_wait_for (hd_client_t *self, bool (*done) (hd_client_t *, void *), void *arg,
                    int64_t deadline_us, const char *what)
{
    return s_wait (self, done, arg, deadline_us, what);
}

static bool
s_pong_seen (hd_client_t *self, void *arg)
{
    (void) arg;
    return self->pong;
}

static bool
s_nodes_seen (hd_client_t *self, void *arg)
{
    (void) arg;
    return self->nodes_seen;
}

hd_err_t
hd_client_ping (hd_client_t *self)
{
    self->pong = false;
    hd_err_t rc = hd_codec_encode_empty (&self->env);
    if (rc == HD_OK)
        rc = hd_client_send_env (self, HD_CMD_PING);
    if (rc != HD_OK)
        return rc;
    return s_wait (self, s_pong_seen, NULL,
                   hd_client_now_us () + (int64_t) self->config.timeout_ms * 1000, "PING");
}

hd_err_t
hd_client_fetch_nodes (hd_client_t *self)
{
    self->nodes_seen = false;
    hd_err_t rc = hd_codec_encode_empty (&self->env);
    if (rc == HD_OK)
        rc = hd_client_send_env (self, HD_CMD_NODES);
    if (rc != HD_OK)
        return rc;
    rc = s_wait (self, s_nodes_seen, NULL,
                 hd_client_now_us () + (int64_t) self->config.timeout_ms * 1000, "NODES");
    if (rc == HD_OK && !self->nodes)
        return hd_client_fail (self, HD_EPROTO, "malformed NODES_REPLY from the broker");
    return rc;
}

static bool
s_fns_seen (hd_client_t *self, void *arg)
{
    (void) arg;
    return self->fns_seen;
}

hd_err_t
hd_client_fetch_functions (hd_client_t *self)
{
    self->fns_seen = false;
    hd_err_t rc = hd_codec_encode_empty (&self->env);
    if (rc == HD_OK)
        rc = hd_client_send_env (self, HD_CMD_FUNCTIONS);
    if (rc != HD_OK)
        return rc;
    rc = s_wait (self, s_fns_seen, NULL,
                 hd_client_now_us () + (int64_t) self->config.timeout_ms * 1000, "FUNCTIONS");
    if (rc == HD_OK && !self->fns)
        return hd_client_fail (self, HD_EPROTO, "malformed FUNCTIONS_REPLY from the broker (an "
                               "older broker? it answers FUNCTIONS as an unknown command)");
    return rc;
}

static bool
s_captured (hd_client_t *self, void *arg)
{
    (void) arg;
    return self->captured != NULL;
}

hd_err_t
hd_client_wait_capture (hd_client_t *self, const hd_id_t *id, int64_t deadline_us)
{
    self->capturing = true;
    self->capture_id = *id;
    hd_err_t rc = s_wait (self, s_captured, NULL, deadline_us, "the task");
    self->capturing = false;
    return rc;
}
