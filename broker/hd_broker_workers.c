/*  hd_broker_workers: the workers ROUTER: HELLO/WELCOME, DONE (results), heartbeats, BYE;
    dispatch of leased tasks in one TASK message per worker per round; loss of a worker.
    Message on this socket: [rid][header][env]([payload][env]...)  */
#include "hd_broker_int.h"

#include <stdarg.h>

#include "hd_log.h"
#include "hd_transport.h"

#define S_BURST 256  //  messages handled per poll wake-up before dispatching

static int
s_send_rid (hd_broker_t *self, const hd_node_t *node, uint8_t cmd)
{
    if (hd_send_frame (self->workers_raw, node->rid, node->rid_len, ZMQ_SNDMORE) != 0)
        return -1;
    return hd_send_header (self->workers_raw, cmd, ZMQ_SNDMORE);
}

void
hd_broker_worker_error (hd_broker_t *self, const void *rid, size_t rid_len, uint32_t code,
                        const char *fmt, ...)
{
    hd_error_t e = { .code = code };
    va_list args;
    va_start (args, fmt);
    vsnprintf (e.reason, sizeof e.reason, fmt, args);
    va_end (args);
    if (hd_codec_encode_error (&self->env, &e) != HD_OK)
        return;
    if (hd_send_frame (self->workers_raw, rid, rid_len, ZMQ_SNDMORE) == 0
        && hd_send_header (self->workers_raw, HD_CMD_ERROR, ZMQ_SNDMORE) == 0)
        hd_send_frame (self->workers_raw, self->env.data, self->env.size, 0);
}

static void
s_on_dead (hd_job_t *job, void *arg)
{
    hd_broker_t *self = arg;
    char reason[128];
    snprintf (reason, sizeof reason, "lost: %u attempts, each worker died or went silent",
              job->attempt);
    self->stats.dead++;
    hd_broker_fail_job (self, job, HD_ST_LOST, reason);
}

void
hd_broker_node_lost (hd_broker_t *self, hd_node_t *node, const char *why)
{
    if (node->in_flight || strcmp (why, "said goodbye") != 0)
        hd_warn ("worker %s lost (%s): requeueing its %u task(s)", node->name, why,
                 node->in_flight);
    else
        hd_info ("worker %s left", node->name);
    self->stats.lost_workers++;
    hd_broker_event (self, "node", node->name, strcmp (why, "said goodbye") ? "lost" : "left", why);
    if (strcmp (why, "restarted") != 0 && strcmp (why, "replaced") != 0)
        hd_broker_node_down (self, node, "down");
    hd_scheduler_worker_lost (self->scheduler, node, s_on_dead, self);
    hd_nodeout_t *o = node->user;
    if (o)
        free (o->jobs);
    free (o);
    node->user = NULL;
    hd_registry_remove (self->registry, node);
}

//  Complete one result: its envelope, and its output as a frame (taken) or bytes (copied).
//  The job, or NULL when the result is not one to deliver (malformed, refused unrun, fenced).
static hd_job_t *
s_complete_one (hd_broker_t *self, hd_node_t *node, const void *env, size_t env_size)
{
    hd_result_t r;
    hd_job_t *job = NULL;
    if (hd_codec_decode_result (env, env_size, &r) != HD_OK) {
        self->stats.malformed++;
        return NULL;
    }
    if (r.status == HD_ST_BUSY && r.elapsed_ms == 0) {
        //  Refused unrun (no room on the worker): not an outcome; it goes elsewhere.
        if (hd_scheduler_requeue (self->scheduler, &r.id, r.attempt, node) == HD_OK)
            self->stats.requeued++;
        return NULL;
    }
    hd_err_t rc = hd_scheduler_complete (self->scheduler, &r.id, r.attempt, node, &job);
    if (rc != HD_OK) {
        if (rc == HD_EPROTO)
            self->stats.fenced++;  //  a late answer for a lease that is no longer current
        else
            self->stats.unknown_results++;
        return NULL;
    }
    self->stats.completed++;
    if (r.status == HD_ST_OK || r.status == HD_ST_FAILED)
        hd_scheduler_observe_run (self->scheduler, job->fn, r.elapsed_ms);
    hd_broker_web_result (self, job->fn, r.status, r.elapsed_ms);
    if (r.status != HD_ST_OK) {
        node->failed++;
        self->stats.failed++;
    }
    return job;
}

static void
s_outbox_push (hd_broker_t *self, hd_job_t *job)
{
    if (self->nout == self->out_cap) {
        uint32_t cap = self->out_cap ? self->out_cap * 2 : 1024;
        hd_job_t **out = realloc (self->outbox, cap * sizeof *out);
        if (!out) {  //  not sent now; the client's next ping resends it
            return;
        }
        self->outbox = out;
        self->out_cap = cap;
    }
    self->outbox[self->nout++] = job;
}

static int
s_by_client (const void *a, const void *b)
{
    const hd_job_t *x = *(hd_job_t *const *) a, *y = *(hd_job_t *const *) b;
    return x->client < y->client ? -1 : x->client > y->client;
}

//  One RESULT message per client (up to 256 results each) for everything finished this burst.
static void
s_flush_outbox (hd_broker_t *self)
{
    if (self->nout > 1)
        qsort (self->outbox, self->nout, sizeof *self->outbox, s_by_client);
    int64_t now = hd_broker_now ();
    for (uint32_t k = 0; k < self->nout;) {
        uint32_t end = k;
        while (end < self->nout && end - k < 256 && self->outbox[end]->client == self->outbox[k]->client)
            end++;
        hd_broker_send_results (self, self->outbox[k]->client, self->outbox + k, end - k, now);
        k = end;
    }
    self->nout = 0;
}

//  A completed job's result is journalled and kept until acknowledged, and queued for its
//  client (s_flush_outbox: results of many DONE messages share one RESULT message per client).
static void
s_keep (hd_broker_t *self, hd_job_t *job, const void *env, size_t env_size, hd_payload_t *data,
        int64_t now)
{
    HD_PAYLOAD_TEST_HOOK (data, 'R');
    if (data && hd_broker_is_job (self, job->client)) {  //  stored, not kept (hd_broker_jobs)
        hd_broker_jobs_batch_add (self, job, env, env_size, data, now);
        return;
    }
    if (!data || hd_broker_keep_result (self, job, env, env_size, data, now) != HD_OK) {
        hd_payload_free (data);
        hd_error ("out of memory keeping a result: task dropped");  //  say so loudly
        hd_broker_release (self, job);
        return;
    }
    hd_broker_journal_result (self, job, env, env_size, data);
    s_outbox_push (self, job);
}

//  DONE: [rid][header]([envelope][output])+, or packed: [rid][header][pack] (hd_pack). The
//  envelope is copied as the worker encoded it, never re-encoded.
static void
s_on_done (hd_broker_t *self, hd_node_t *node)
{
    hd_frames_t *in = &self->in;
    int64_t now = hd_broker_now ();
    if (!in->truncated && in->count == 3) {
        hd_pack_reader_t r;
        hd_pack_reader_init (&r, hd_frames_data (in, 2), hd_frames_size (in, 2));
        const void *env, *data;
        size_t env_size, size;
        int rc;
        while ((rc = hd_pack_next (&r, &env, &env_size, &data, &size)) == 1) {
            hd_job_t *job = s_complete_one (self, node, env, env_size);
            if (job)
                s_keep (self, job, env, env_size, hd_payload_from (data, size), now);
        }
        hd_broker_jobs_batch_end (self, now);  //  while the message's frames are still there
        if (rc < 0)
            self->stats.malformed++;
        return;
    }
    if (in->truncated || in->count < 4 || (in->count - 2) % 2) {
        self->stats.malformed++;
        return;
    }
    for (size_t i = 2; i + 1 < in->count; i += 2) {
        hd_job_t *job = s_complete_one (self, node, hd_frames_data (in, i), hd_frames_size (in, i));
        if (job)
            s_keep (self, job, hd_frames_data (in, i), hd_frames_size (in, i),
                    hd_payload_take (&in->msg[i + 1]), now);
    }
    hd_broker_jobs_batch_end (self, now);
}

static void
s_on_node_message (hd_broker_t *self, hd_node_t *node, uint8_t cmd)
{
    switch (cmd) {
        case HD_CMD_DONE: s_on_done (self, node); break;
        case HD_CMD_HEARTBEAT:
        case HD_CMD_CREDIT: break;  //  liveness only: credit is implicit in DONE
        case HD_CMD_BYE: hd_broker_node_lost (self, node, "said goodbye"); break;
        default: self->stats.malformed++; break;
    }
}

static void
s_on_one_worker_message (hd_broker_t *self, int64_t now)
{
    hd_frames_t *in = &self->in;
    if (in->count < 2)
        return;
    const void *rid = hd_frames_data (in, 0);
    size_t rid_len = hd_frames_size (in, 0);
    uint8_t version = 0, cmd = 0;
    hd_err_t rc = in->count >= 3 ? hd_codec_parse_header (hd_frames_data (in, 1),
                                                          hd_frames_size (in, 1), &version, &cmd)
                                 : HD_EPROTO;
    if (rc == HD_EVERSION) {
        hd_broker_worker_error (self, rid, rid_len, HD_ST_VERSION,
                                "unsupported protocol version: this broker speaks 1..1");
        return;
    }
    if (rc != HD_OK) {
        self->stats.malformed++;
        hd_broker_worker_error (self, rid, rid_len, HD_ST_MALFORMED, "malformed message");
        return;
    }
    if (cmd == HD_CMD_HELLO) {
        hd_broker_on_hello (self, rid, rid_len, now);
        return;
    }
    hd_node_t *node = hd_registry_lookup (self->registry, rid, rid_len);
    if (!node) {  //  e.g. the broker restarted, or we declared it lost: it must HELLO again
        if (cmd != HD_CMD_BYE)
            hd_broker_worker_error (self, rid, rid_len, HD_ST_DENIED, "unknown worker: send HELLO");
        return;
    }
    //  Authority comes from the key on this message, not from the routing id: a connection
    //  with another key that got hold of this routing id is refused, and its results fenced.
    if (!hd_broker_from_node (node, &in->msg[1])) {
        self->stats.foreign++;
        if (cmd == HD_CMD_DONE)
            self->stats.fenced++;
        return;
    }
    hd_registry_touch (node, now);
    s_on_node_message (self, node, cmd);
}

void
hd_broker_on_worker (hd_broker_t *self)
{
    int64_t now = hd_broker_now ();
    for (int n = 0; n < S_BURST; n++) {
        if (hd_frames_recv (&self->in, self->workers_raw, ZMQ_DONTWAIT) != HD_OK)
            break;
        s_on_one_worker_message (self, now);
    }
    hd_frames_clear (&self->in);
    s_flush_outbox (self);
}

static void
s_pick (hd_broker_t *self, hd_job_t *job, hd_node_t *node)
{
    //  hd_broker_on_hello sized both arrays: a node holds at most deep_credit leases (the
    //  scheduler's credit rule) and touched has room for every registered node.
    hd_nodeout_t *o = node->user;
    if (!o->listed) {
        self->touched[self->ntouched++] = node;
        o->listed = true;
    }
    o->jobs[o->count++] = job;
}

//  The TASK envelope of `job`, encoded into self->env.
static bool
s_encode_task (hd_broker_t *self, const hd_job_t *job)
{
    hd_task_t t = { .id = job->id, .attempt = job->attempt, .timeout_ms = job->timeout_ms,
                    .seal = job->seal };
#ifdef HD_TEST_HOOKS  //  a broker that strips the seal flag: the worker runs on ciphertext
    const char *tamper = getenv ("HEDDLE_TEST_TAMPER");
    if (tamper && strcmp (tamper, "unseal") == 0)
        t.seal = 0;
#endif
    const char *fn = hd_registry_fn_name (self->registry, job->fn);
    size_t fnlen = strlen (fn);
    memcpy (t.fn, fn, fnlen < sizeof t.fn ? fnlen + 1 : sizeof t.fn);
    t.fn[sizeof t.fn - 1] = 0;
    return hd_codec_encode_task (&self->env, &t) == HD_OK;
}

static bool
s_packable (const hd_node_t *node, const hd_job_t *job)
{
    //  A TASK envelope is under 200 bytes: the payload decides.
    return node->packs && hd_pack_fits (256, hd_payload_size (job->payload));
}

//  One packed TASK message with self->pack.
static bool
s_send_pack (hd_broker_t *self, hd_node_t *node)
{
    bool ok = s_send_rid (self, node, HD_CMD_TASK) == 0
              && hd_send_frame (self->workers_raw, self->pack.data, self->pack.size, 0) == 0;
    hd_buf_reset (&self->pack);
    return ok;
}

//  The TASK messages for every job picked for `node` this round: packed when the worker reads
//  that form (up to HD_PACK_MAX_BYTES a frame), and one message of frame pairs for the others.
static void
s_send_tasks (hd_broker_t *self, hd_node_t *node)
{
    hd_nodeout_t *o = node->user;
    bool ok = true;
    uint32_t framed = 0, last = 0;
    hd_buf_reset (&self->pack);
    for (uint32_t i = 0; ok && i < o->count; i++) {
        hd_job_t *job = o->jobs[i];
        hd_broker_journal_lease (self, job);
        if (!s_packable (node, job)) {
            framed++, last = i;
            continue;
        }
        ok = s_encode_task (self, job);
        size_t size = hd_payload_size (job->payload);
        if (ok && self->pack.size + hd_pack_pair_size (self->env.size, size) > HD_PACK_MAX_BYTES)
            ok = s_send_pack (self, node);
        ok = ok && hd_pack_add (&self->pack, self->env.data, self->env.size,
                                hd_payload_data (job->payload), size) == HD_OK;
    }
    if (ok && self->pack.size)
        ok = s_send_pack (self, node);
    if (ok && framed)
        ok = s_send_rid (self, node, HD_CMD_TASK) == 0;
    for (uint32_t i = 0; ok && framed && i < o->count; i++) {
        hd_job_t *job = o->jobs[i];
        if (s_packable (node, job))
            continue;
        ok = s_encode_task (self, job)
             && hd_send_frame (self->workers_raw, self->env.data, self->env.size, ZMQ_SNDMORE) == 0
             && hd_payload_send (job->payload, self->workers_raw, i < last ? ZMQ_SNDMORE : 0) == 0;
    }
    self->stats.dispatched += o->count;
    o->count = 0;
    o->listed = false;
    if (!ok) {  //  unroutable (gone) or a failed send: its leases go back to the queue
        self->stats.unroutable++;
        hd_broker_node_lost (self, node, "unreachable");
    }
}

void
hd_broker_dispatch (hd_broker_t *self)
{
    hd_job_t *job;
    hd_node_t *node;
    int64_t now = hd_broker_now ();
    while (hd_scheduler_next (self->scheduler, now, &job, &node))
        s_pick (self, job, node);
    for (uint32_t i = 0; i < self->ntouched; i++)
        s_send_tasks (self, self->touched[i]);
    self->ntouched = 0;
}

static void
s_on_expired (hd_job_t *job, void *arg)
{
    hd_broker_t *self = arg;
    char reason[160];
    snprintf (reason, sizeof reason, "deadline of %u ms passed with no answer from the worker",
              job->timeout_ms);
    hd_broker_fail_job (self, job, HD_ST_TIMEOUT, reason);
}

void
hd_broker_beat (hd_broker_t *self, int64_t now)
{
    //  The worker enforces a task's deadline itself and answers TIMEOUT; this catches the
    //  worker that cannot (a stuck function), after a grace for that answer to arrive.
    int64_t grace = 2 * (int64_t) self->config.heartbeat_ms + 1000;
    self->stats.expired_leases += hd_scheduler_expire (self->scheduler, now, grace, s_on_expired,
                                                       self);
    hd_broker_hello_tick (self, now);
    int64_t limit = (int64_t) self->config.heartbeat_ms * self->config.heartbeat_misses;
    hd_node_t *node = hd_registry_first (self->registry);
    while (node) {
        hd_node_t *next = hd_registry_next (self->registry, node);
        if (now - node->last_seen_ms > limit)
            hd_broker_node_lost (self, node, "missed heartbeats");
        else if (s_send_rid (self, node, HD_CMD_BEAT) != 0
                 || hd_codec_encode_empty (&self->env) != HD_OK
                 || hd_send_frame (self->workers_raw, self->env.data, self->env.size, 0) != 0)
            hd_broker_node_lost (self, node, "unreachable");
        node = next;
    }
}
