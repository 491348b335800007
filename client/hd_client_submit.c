/*  hd_client_submit: the public submit / flush / next / call / cancel calls of libheddle.
    Tasks accumulate in a pending SUBMIT and leave in batches (HD_CLIENT_FLUSH_TASKS or
    HD_CLIENT_FLUSH_BYTES): small ones packed, many to a frame (hd_pack), large ones as frame
    pairs, so a job of many small tasks costs few encrypted messages and frames.  */
#include "hd_client_int.h"

#include "hd_transport.h"

static hd_err_t
s_fill_submit (hd_client_t *self, hd_submit_t *s, const char *fn, const hd_task_opts_t *opts)
{
    memset (s, 0, sizeof *s);
    if (!fn || !*fn || strlen (fn) > HD_MAX_FN)
        return hd_client_fail (self, HD_EINVAL, "function name must be 1..%d bytes", HD_MAX_FN);
    memcpy (s->fn, fn, strlen (fn) + 1);
    if (!opts)
        return HD_OK;
    s->priority = opts->priority;
    s->timeout_ms = opts->timeout_ms;
    s->max_attempts = opts->max_attempts;
    s->min_mem_mb = opts->min_mem_mb;
    if (opts->node && strlen (opts->node) > HD_MAX_NAME)
        return hd_client_fail (self, HD_EINVAL, "node name longer than %d bytes", HD_MAX_NAME);
    if (opts->node)
        hd_client_copy_text (s->node, sizeof s->node, opts->node);
    char tags[HD_MAX_TAGS * (HD_MAX_NAME + 1)];
    hd_client_copy_text (tags, sizeof tags, opts->tags ? opts->tags : "");
    for (char *save = NULL, *t = strtok_r (tags, ",", &save); t; t = strtok_r (NULL, ",", &save)) {
        if (s->ntags == HD_MAX_TAGS || strlen (t) > HD_MAX_NAME)
            return hd_client_fail (self, HD_EINVAL, "at most %d tags of %d bytes", HD_MAX_TAGS,
                                   HD_MAX_NAME);
        memcpy (s->tags[s->ntags++], t, strlen (t) + 1);
    }
    return HD_OK;
}

hd_err_t
hd_client_flush (hd_client_t *self)
{
    if (!self->npending && !self->npacked)
        return HD_OK;
    hd_client_send_acks (self);  //  results' ACKs travel with the next SUBMIT
    if (self->npacked) {
        int prc = hd_send_header (self->raw, HD_CMD_SUBMIT, ZMQ_SNDMORE) == 0
                      ? hd_send_frame (self->raw, self->pack.data, self->pack.size, 0)
                      : -1;
        hd_buf_reset (&self->pack);
        self->npacked = 0;
        if (prc != 0 && !self->npending)
            return hd_client_fail (self, HD_ECLOSED, "send failed: %s",
                                   zmq_strerror (zmq_errno ()));
    }
    if (!self->npending) {
        self->pending_bytes = 0;
        return HD_OK;
    }
    uint32_t frames = 2 * self->npending;
    int rc = hd_send_header (self->raw, HD_CMD_SUBMIT, ZMQ_SNDMORE);
    for (uint32_t i = 0; i < frames; i++) {
        if (rc == 0 && zmq_msg_send (&self->pending[i], self->raw, i + 1 < frames ? ZMQ_SNDMORE : 0)
                           < 0)
            rc = -1;
        zmq_msg_close (&self->pending[i]);
    }
    self->npending = 0;
    self->pending_bytes = 0;
    if (rc != 0)
        return hd_client_fail (self, HD_ECLOSED, "send failed: %s", zmq_strerror (zmq_errno ()));
    return HD_OK;
}

static hd_err_t
s_append (hd_client_t *self, const void *data, size_t size)
{
    bool packed = hd_pack_fits (self->env.size, size);
    if (packed && (self->npacked == HD_MAX_BATCH
                   || self->pack.size + hd_pack_pair_size (self->env.size, size)
                          > HD_PACK_MAX_BYTES)) {
        hd_err_t rc = hd_client_flush (self);
        if (rc != HD_OK)
            return rc;
    }
    //  Kept until ACCEPTED, to resend (as a frame pair) after a broker crash (hd_kept_t): a
    //  small task's bytes in one block; a large task's frames, which its SUBMIT shares.
    size_t env_size = self->env.size;
    hd_kept_t *kept = malloc (sizeof *kept + (packed ? env_size + size : 2 * sizeof (zmq_msg_t)));
    if (!kept)
        return HD_ENOMEM;
    *kept = (hd_kept_t) { .env_size = (uint32_t) env_size, .size = (uint32_t) size,
                          .framed = !packed };
    if (packed) {
        memcpy (hd_kept_bytes (kept), self->env.data, env_size);
        if (size)
            memcpy (hd_kept_bytes (kept) + env_size, data, size);
        if (hd_pack_add (&self->pack, self->env.data, env_size, data, size) != HD_OK) {
            free (kept);
            return HD_ENOMEM;
        }
        self->npacked++;
    }
    else {
        zmq_msg_t *frames = hd_kept_frames (kept);
        if (zmq_msg_init_size (&frames[0], env_size) != 0) {
            free (kept);
            return HD_ENOMEM;
        }
        if (zmq_msg_init_size (&frames[1], size) != 0) {
            zmq_msg_close (&frames[0]);
            free (kept);
            return HD_ENOMEM;
        }
        memcpy (zmq_msg_data (&frames[0]), self->env.data, env_size);
        if (size)
            memcpy (zmq_msg_data (&frames[1]), data, size);
        zmq_msg_t *env = &self->pending[2 * self->npending];
        zmq_msg_init (&env[0]);
        zmq_msg_init (&env[1]);
        zmq_msg_copy (&env[0], &frames[0]);
        zmq_msg_copy (&env[1], &frames[1]);
        self->npending++;
    }
    self->pending_keep = kept;
    self->pending_bytes += size + self->env.size;
    return HD_OK;
}

hd_err_t
hd_client_submit (hd_client_t *self, const char *fn, const void *data, size_t size,
                  const hd_task_opts_t *opts, uint64_t seq, uint8_t *id_out)
{
    hd_id_t id;
    hd_id_random (&id);
    hd_err_t rc = hd_client_submit_id (self, fn, data, size, opts, seq, &id);
    if (rc == HD_OK && id_out)
        memcpy (id_out, id.b, HD_ID_BYTES);
    return rc;
}

hd_err_t
hd_client_submit_id (hd_client_t *self, const char *fn, const void *data, size_t size,
                     const hd_task_opts_t *opts, uint64_t seq, const hd_id_t *id)
{
    if (hd_idmap_size (self->inflight) >= self->config.window)
        return hd_client_fail (self, HD_EFULL, "window of %u tasks in flight is full",
                               self->config.window);
    hd_submit_t s;
    hd_err_t rc = s_fill_submit (self, &s, fn, opts);
    if (rc != HD_OK)
        return rc;
    s.id = *id;
    if (self->seal && (rc = hd_client_seal_task (self, &s, data, size, &data, &size)) != HD_OK)
        return rc;
    if ((rc = hd_codec_encode_submit (&self->env, &s)) != HD_OK
        || (rc = s_append (self, data, size)) != HD_OK)
        return hd_client_fail (self, rc, "cannot queue the task: %s", hd_strerror (rc));
    int64_t now = hd_client_now_us ();
    hd_idval_t v = { .seq = seq, .t_us = now,
                     .deadline_ms = s.timeout_ms ? now / 1000 + s.timeout_ms : 0,
                     .keep = self->pending_keep };
    self->pending_keep = NULL;
    if (hd_idmap_put (self->inflight, &s.id, &v) != HD_OK) {
        hd_client_unkeep (&v);
        return hd_client_fail (self, HD_ENOMEM, "out of memory");
    }
    if (self->npending == HD_CLIENT_FLUSH_TASKS || self->npacked == HD_MAX_BATCH
        || self->pending_bytes >= HD_CLIENT_FLUSH_BYTES)
        return hd_client_flush (self);
    return HD_OK;
}

int
hd_client_fd (hd_client_t *self)
{
    int fd = -1;
    size_t len = sizeof fd;
    zmq_getsockopt (self->raw, ZMQ_FD, &fd, &len);
    return fd;
}

void
hd_client_set_handler (hd_client_t *self, hd_reply_fn *fn, void *arg)
{
    self->handler = fn;
    self->handler_arg = arg;
}

void
hd_client_set_notice_handler (hd_client_t *self, hd_notice_fn *fn, void *arg)
{
    self->notice_fn = fn;
    self->notice_arg = arg;
}

uint32_t
hd_client_max_payload (const hd_client_t *self)
{
    return self->max_payload;
}

uint32_t
hd_client_in_flight (const hd_client_t *self)
{
    return hd_idmap_size (self->inflight);
}

uint64_t
hd_client_retried (const hd_client_t *self)
{
    return self->retried;
}

uint64_t
hd_client_stray_rejects (const hd_client_t *self)
{
    return self->stray_rejects;
}

static void
s_count_unaccepted (const hd_id_t *id, hd_idval_t *v, void *arg)
{
    (void) id;
    *(uint32_t *) arg += v->keep != NULL;
}

uint32_t
hd_client_unaccepted (const hd_client_t *self)
{
    uint32_t n = 0;
    hd_idmap_each (self->inflight, s_count_unaccepted, &n);
    return n;
}

hd_err_t
hd_client_next (hd_client_t *self, int timeout_ms, hd_reply_t **out)
{
    *out = NULL;
    hd_err_t rc = hd_client_flush (self);
    int64_t deadline = timeout_ms < 0 ? 0 : hd_client_now_us () + (int64_t) timeout_ms * 1000;
    while (rc == HD_OK && !self->head) {
        if (!hd_idmap_size (self->inflight))
            return HD_ENOTFOUND;
        int64_t left = deadline ? (deadline - hd_client_now_us ()) / 1000 : 100;
        if (deadline && left <= 0)
            return HD_ETIMEDOUT;
        rc = hd_client_process (self, (int) left, NULL);
    }
    if (rc != HD_OK)
        return rc;
    hd_queued_t *q = self->head;
    self->head = q->next;
    if (!self->head)
        self->tail = NULL;
    *out = &q->reply;
    return HD_OK;
}

hd_err_t
hd_client_adopt (hd_client_t *self, const uint8_t id[16], uint64_t seq)
{
    hd_id_t one;
    memcpy (one.b, id, HD_ID_BYTES);
    hd_idval_t v = { .seq = seq, .t_us = hd_client_now_us () };
    return hd_idmap_put (self->inflight, &one, &v);
}

hd_err_t
hd_client_cancel (hd_client_t *self, const uint8_t id[16])
{
    hd_id_t one;
    memcpy (one.b, id, HD_ID_BYTES);
    hd_err_t rc = hd_client_flush (self);
    if (rc == HD_OK)
        rc = hd_codec_encode_ids (&self->env, &one, 1);
    if (rc == HD_OK)
        rc = hd_client_send_env (self, HD_CMD_CANCEL);
    self->cancels_sent = self->cancels_sent || rc == HD_OK;
    return rc;
}

typedef struct {
    hd_client_t *self;
    hd_idlist_t *ids;
    uint32_t sent;
} s_cancel_all_t;

static void
s_send_cancels (s_cancel_all_t *c)
{
    hd_client_t *self = c->self;
    if (c->ids->count && hd_codec_encode_ids (&self->env, c->ids->ids, c->ids->count) == HD_OK
        && hd_client_send_env (self, HD_CMD_CANCEL) == HD_OK) {
        c->sent += c->ids->count;
        self->cancels_sent = true;
    }
    c->ids->count = 0;
}

static void
s_cancel_one (const hd_id_t *id, hd_idval_t *v, void *arg)
{
    (void) v;
    s_cancel_all_t *c = arg;
    c->ids->ids[c->ids->count++] = *id;
    if (c->ids->count == HD_MAX_BATCH)
        s_send_cancels (c);
}

uint32_t
hd_client_cancel_all (hd_client_t *self)
{
    if (hd_client_flush (self) != HD_OK)
        return 0;
    //  One CANCEL per HD_MAX_BATCH ids (more is MALFORMED at the broker). `scratch` is free
    //  here: it holds ids only while an ACCEPTED is decoded.
    s_cancel_all_t c = { self, self->scratch, 0 };
    c.ids->count = 0;
    hd_idmap_each (self->inflight, s_cancel_one, &c);
    s_send_cancels (&c);
    return c.sent;
}

//  The grace a call waits past the task's own deadline for the worker's TIMEOUT to arrive.
#define S_CALL_GRACE_MS 5000

hd_err_t
hd_client_call (hd_client_t *self, const char *fn, const void *data, size_t size,
                const hd_task_opts_t *opts, hd_reply_t **out)
{
    *out = NULL;
    uint8_t id[16];
    hd_err_t rc = hd_client_submit (self, fn, data, size, opts, 0, id);
    if (rc == HD_OK)
        rc = hd_client_flush (self);
    if (rc != HD_OK)
        return rc;
    hd_id_t want;
    memcpy (want.b, id, sizeof id);
    uint32_t limit = opts && opts->timeout_ms ? opts->timeout_ms + S_CALL_GRACE_MS : 0;
    rc = hd_client_wait_capture (self, &want, limit ? hd_client_now_us () + limit * 1000LL : 0);
    if (rc == HD_OK) {
        *out = self->captured;
        self->captured = NULL;
    }
    else {
        hd_idval_t v;
        if (hd_idmap_take (self->inflight, &want, &v))
            hd_client_unkeep (&v);
        if (rc == HD_ETIMEDOUT || hd_client_interrupted (self))
            hd_client_cancel (self, id);
    }
    return rc;
}
