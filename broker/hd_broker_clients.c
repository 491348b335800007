/*  hd_broker_clients: the clients ROUTER: SUBMIT (queue and answer ACCEPTED or REJECTED per
    task), CANCEL, ACK, PING, NODES. Message on this socket: [rid][header][env]([payload]...)  */
#include "hd_broker_int.h"
#include "hd_broker_jobs.h"

#include "hd_log.h"
#include "hd_seal.h"
#include "hd_transport.h"

#define S_BURST 256

int
hd_broker_send_to_client (hd_broker_t *self, uint32_t client, uint8_t cmd)
{
    //  No connection: the owner has not spoken since a restart, or its connection was taken by
    //  another key (ROUTER handover) or now speaks for another session. Nothing goes out until
    //  the owner speaks again; results wait.
    const hd_session_t *c = hd_sessions_at (self->sessions, client);
    if (!c || !c->rid_len)
        return -1;
    if (hd_send_frame (self->clients_raw, c->rid, c->rid_len, ZMQ_SNDMORE) != 0)
        return -1;  //  EHOSTUNREACH with ROUTER_MANDATORY: the client is gone
    return hd_send_header (self->clients_raw, cmd, ZMQ_SNDMORE);
}

//  Send the current envelope (self->env) as the last frame, or with an empty payload after it.
static void
s_send_env (hd_broker_t *self, bool with_empty_payload)
{
    hd_send_frame (self->clients_raw, self->env.data, self->env.size,
                   with_empty_payload ? ZMQ_SNDMORE : 0);
    if (with_empty_payload)
        hd_send_frame (self->clients_raw, NULL, 0, 0);
}

static void
s_reject_v (hd_broker_t *self, const void *rid, size_t rid_len, const hd_id_t *id, uint32_t code,
            uint32_t retry_ms, const char *fmt, va_list ap)
{
    hd_reject_t r = { .has_id = id != NULL, .code = code, .retry_ms = retry_ms };
    if (id)
        r.id = *id;
    vsnprintf (r.reason, sizeof r.reason, fmt, ap);
    if (code != HD_ST_OK)
        self->stats.rejected++;
    if (hd_codec_encode_reject (&self->env, &r) != HD_OK)
        return;
    if (hd_send_frame (self->clients_raw, rid, rid_len, ZMQ_SNDMORE) == 0
        && hd_send_header (self->clients_raw, HD_CMD_REJECTED, ZMQ_SNDMORE) == 0)
        s_send_env (self, false);
}

static void
s_reject_text_v (hd_broker_t *self, const hd_id_t *id, uint32_t code, uint32_t retry_ms,
                 const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_reject_v (self, hd_frames_data (&self->in, 0), hd_frames_size (&self->in, 0), id, code,
                retry_ms, fmt, ap);
    va_end (ap);
}

static void
s_reject_text (hd_broker_t *self, const hd_id_t *id, uint32_t code, uint32_t retry_ms,
               const char *reason)
{
    s_reject_text_v (self, id, code, retry_ms, "%s", reason);
}

//  REJECTED {id?, code, reason, retry?} straight to the sender of the current message.
void
hd_broker_reject (hd_broker_t *self, const hd_id_t *id, uint32_t code, uint32_t retry_ms,
                  const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    if (id && self->in_job && hd_broker_jobs_for_good (code)) {
        //  A detached job's task refused for good: its outcome is stored as its result (one
        //  outcome per task, and the job can end), answered ACCEPTED instead of REJECTED.
        char reason[HD_MAX_ERROR + 1];
        vsnprintf (reason, sizeof reason, fmt, ap);
        va_end (ap);
        if (hd_broker_jobs_refused (self, self->in_client, id, code, reason, hd_broker_now ()))
            return;
        s_reject_text (self, id, code, retry_ms, reason);
        return;
    }
    s_reject_v (self, hd_frames_data (&self->in, 0), hd_frames_size (&self->in, 0), id, code,
                retry_ms, fmt, ap);
    va_end (ap);
}

void
hd_broker_reject_to (hd_broker_t *self, uint32_t client, const hd_id_t *id, uint32_t code,
                     uint32_t retry_ms, const char *fmt, ...)
{
    const hd_session_t *c = hd_sessions_at (self->sessions, client);
    if (!c || !c->rid_len)
        return;
    va_list ap;
    va_start (ap, fmt);
    s_reject_v (self, c->rid, c->rid_len, id, code, retry_ms, fmt, ap);
    va_end (ap);
}

//  The session of the current message: the id its connection claims (X-Session property)
//  under the key that sent it, on its connection (routing id). The role, key and session come
//  from this message's own metadata (the ZAP User-Id, the handshake's properties), never from
//  an earlier message or the journal. UINT32_MAX: refused (answered here).
static uint32_t
s_client_index (hd_broker_t *self, int64_t now)
{
    const uint8_t *rid = hd_frames_data (&self->in, 0);
    size_t len = hd_frames_size (&self->in, 0);
    hd_auth_split_user_id (zmq_msg_gets (&self->in.msg[1], "User-Id"), self->in_role,
                           self->in_key);
    const char *session = zmq_msg_gets (&self->in.msg[1], HD_SESSION_PROPERTY);
    size_t slen = session ? strlen (session) : 0;
    if (!session && !zmq_msg_gets (&self->in.msg[1], "Socket-Type")) {
        //  inproc:// (the embedded cluster: this process) carries no connection properties at
        //  all; its peer's routing id is its session.
        session = (const char *) rid;
        slen = len;
    }
    else if (!hd_transport_session_valid (session, slen) || len < HD_CLIENT_RID_MIN) {
        self->stats.denied++;
        hd_broker_reject (self, NULL, HD_ST_DENIED, 0, "%s", !session
                          ? "no session: set the connection property " HD_SESSION_PROPERTY
                            " (ZMQ_METADATA) to a session id (PROTOCOL section 9)"
                          : len < HD_CLIENT_RID_MIN
                          ? "connect with a random routing id of at least 16 bytes "
                            "(PROTOCOL section 9)"
                          : "invalid session id: 1 to 255 visible ASCII characters");
        return UINT32_MAX;
    }
    uint32_t client;
    hd_err_t rc = hd_sessions_find (self->sessions, (const uint8_t *) session, slen, rid, len,
                                    self->in_key, now, &client);
    if (rc == HD_OK)
        return client;
    if (rc == HD_EDENIED) {
        self->stats.denied++;
        hd_broker_reject (self, NULL, HD_ST_DENIED, 0, "session id in use by another key: "
                          "connect with another session id (or none: a random one)");
    }
    else if (rc == HD_EFULL) {
        self->stats.denied++;
        hd_broker_reject (self, NULL, HD_ST_BUSY, 60000,
                          "this key has %u sessions (limit %u): reuse a session id, or wait "
                          "until idle ones are forgotten", self->config.max_key_sessions,
                          self->config.max_key_sessions);
    }
    else
        hd_broker_reject (self, NULL, rc == HD_ENOMEM ? HD_ST_BUSY : HD_ST_MALFORMED, 1000,
                          "no session: %s", hd_strerror (rc));
    return UINT32_MAX;
}

//  The same id again (a client resending what it saw no ACCEPTED for, or resuming a session):
//  never queued twice. It is durable already (no new journal record); it is answered ACCEPTED
//  again, moves to this session, and a result it already has is resent.
//  Task ids are scoped to their owner key: the same id from another key is refused, and never
//  reads, moves or resends the owner's task.
static void
s_resubmitted (hd_broker_t *self, hd_job_t *job, uint32_t client, int64_t now)
{
    if (!hd_sessions_same_owner (self->sessions, job->client, client)) {
        self->stats.denied++;
        hd_broker_reject (self, &job->id, HD_ST_DENIED, 0,
                          "task id in use by another key: submit with a new id");
        return;
    }
    hd_broker_accept_later (self, client, &job->id);
    if (job->client != client) {
        hd_sessions_move (self->sessions, job->client, client);
        job->client = client;
    }
    if (job->result && !self->in_job)  //  a job's results are read with JOB_FETCH only
        hd_broker_send_results (self, client, &job, 1, now);
}

//  A sealed task no node can take because none holds its payload key (the seal- tag): say so,
//  with what fixes it. false when the task is unsatisfiable for another reason too.
static bool
s_reject_unkeyed (hd_broker_t *self, const hd_submit_t *s)
{
    hd_submit_t t = *s;
    const char *tag = NULL;
    t.ntags = 0;
    for (uint32_t i = 0; i < s->ntags; i++) {
        if (strncmp (s->tags[i], HD_SEAL_TAG_PREFIX, strlen (HD_SEAL_TAG_PREFIX)) == 0)
            tag = s->tags[i];
        else
            memcpy (t.tags[t.ntags++], s->tags[i], sizeof t.tags[0]);
    }
    char why[HD_MAX_ERROR + 1];
    if (!tag || !hd_broker_satisfiable (self, &t, why, sizeof why))
        return false;
    hd_broker_reject (self, &s->id, HD_ST_UNSATISFIABLE, 0,
                      "no worker offering '%s' holds the payload key this task is sealed to (%s): "
                      "approve workers with `heddle nodes approve` using keys that hold "
                      "payload.cert_secret (it is granted to them), or copy that file to their "
                      "keys directory; --plain-payloads sends tasks unsealed",
                      s->fn, tag);
    return true;
}

//  Whether the SUBMIT's session is a plain one named like a job (j- + 16 hex digits): the job
//  was released or expired. Ids derived from its nonce are refused: they would run as a plain
//  session's, and a restart drops them (hd_broker_jobs_replay_gone).
static void
s_gone_job (hd_broker_t *self, uint32_t client)
{
    const hd_session_t *c = hd_sessions_at (self->sessions, client);
    char job[HD_JOB_ID_LEN + 1];
    self->in_gone_job = false;
    if (self->in_job || !self->jobs || c->id_len != HD_JOB_ID_LEN)
        return;
    memcpy (job, c->id, HD_JOB_ID_LEN);
    job[HD_JOB_ID_LEN] = 0;
    self->in_gone_job = hd_job_nonce (job, self->gone_nonce);
}

//  Queue one task: its envelope, and its payload as a frame (taken, `frame`) or as bytes inside
//  a packed frame (copied, `data`/`size`). On success its id joins the ACCEPTED list.
static void
s_submit_one (hd_broker_t *self, uint32_t client, const void *env, size_t env_size,
              zmq_msg_t *frame, const void *data, size_t size, int64_t now)
{
    hd_submit_t s;
    hd_err_t rc = hd_codec_decode_submit (env, env_size, &s);
    self->stats.submitted++;
    if (rc != HD_OK) {  //  the refusal names the task when its id can be read
        self->stats.malformed++;
        bool has_id = hd_codec_peek_id (env, env_size, &s.id) == HD_OK;
        hd_broker_reject (self, has_id ? &s.id : NULL,
                          rc == HD_ETOOBIG ? HD_ST_TOO_LARGE : HD_ST_MALFORMED, 0,
                          "malformed SUBMIT envelope: %s", hd_strerror (rc));
        return;
    }
    if (self->in_job && !hd_broker_jobs_submit (self, client, &s))
        return;  //  a detached job's session: only its own ids, each stored one never again
    if (self->in_gone_job && memcmp (s.id.b, self->gone_nonce, 8) == 0) {
        self->stats.denied++;  //  a restart would drop it (docs/JOURNAL.md): refused now
        hd_broker_reject (self, &s.id, HD_ST_DENIED, 0, "job %.*s is not open on this broker "
                          "(released or expired): 'heddle jobs' lists the open ones", HD_JOB_ID_LEN,
                          (const char *) hd_sessions_at (self->sessions, client)->id);
        return;
    }
    char why[HD_MAX_ERROR + 1];
    if (!hd_broker_satisfiable (self, &s, why, sizeof why)) {
        if (s.seal && s_reject_unkeyed (self, &s))
            return;
        hd_broker_reject (self, &s.id, HD_ST_UNSATISFIABLE, 0, "%s", why);
        return;
    }
    if (frame)
        size = zmq_msg_size (frame);
    //  The limit is on what the user sent: a sealed payload carries a fixed overhead on top.
    size_t user_size = s.seal && size >= HD_SEAL_TASK_OVERHEAD ? size - HD_SEAL_TASK_OVERHEAD : size;
    if (user_size > self->config.max_payload) {
        hd_broker_reject (self, &s.id, HD_ST_TOO_LARGE, 0, "payload of %zu bytes is over the broker's "
                  "limit of %u bytes", user_size, self->config.max_payload);
        return;
    }
    if (hd_sessions_hold (self->sessions, client) != HD_OK) {
        //  A resubmitted id is not a new task: it holds nothing more.
        hd_job_t *same = hd_scheduler_find (self->scheduler, &s.id);
        if (same) {
            s_resubmitted (self, same, client, now);
            return;
        }
        self->stats.busy++;
        uint32_t held = hd_sessions_at (self->sessions, client)->held;
        if (held >= self->config.max_client_tasks)
            hd_broker_reject (self, &s.id, HD_ST_BUSY, 500, "this client has %u tasks queued, "
                              "running or unacknowledged (limit %u)", held,
                              self->config.max_client_tasks);
        else
            hd_broker_reject (self, &s.id, HD_ST_BUSY, 500, "this key has %u tasks queued, running "
                              "or unacknowledged over its sessions (limit %u)",
                              hd_sessions_key_held (self->sessions, client),
                              self->config.max_key_tasks);
        return;
    }
    hd_payload_t *payload = frame ? hd_payload_take (frame) : hd_payload_from (data, size);
    HD_PAYLOAD_TEST_HOOK (payload, 'T');
    if (!payload) {
        hd_sessions_release (self->sessions, client);
        hd_broker_reject (self, &s.id, HD_ST_BUSY, 1000, "broker out of memory");
        return;
    }
    hd_job_t *job = NULL;
    rc = hd_scheduler_submit (self->scheduler, &s, client, payload, now, &job);
    uint32_t fn;
    if (rc == HD_ENOTFOUND && hd_registry_fn_find (self->registry, s.fn, &fn) == HD_OK
        && hd_registry_fn_offered (self->registry, fn))
        //  A function some worker offered before: its workers are away (restarting), not gone.
        rc = hd_scheduler_restore (self->scheduler, &s, client, payload, now, &job);
    if (rc == HD_ENOTFOUND)  //  no worker offered it yet: wait for one (hd_broker_wait.c)
        rc = hd_broker_wait_queue (self, &s, client, payload, now, &job);
    if (rc != HD_OK) {  //  not consumed, not held
        hd_payload_free (payload);
        hd_sessions_release (self->sessions, client);
    }
    switch (rc) {
        case HD_OK: break;
        case HD_EINVAL:  //  a resubmitted id: the same task, never run twice; a kept result is resent
            s_resubmitted (self, job, client, now);
            return;
        case HD_ENOTFOUND:
            hd_broker_reject (self, &s.id, HD_ST_UNKNOWN_FN, 0, "no worker offers function '%s'", s.fn);
            return;
        case HD_EFULL:
            hd_broker_reject (self, &s.id, HD_ST_BUSY, 100, "broker queue full (%u tasks)",
                      self->config.max_queue);
            return;
        default:
            hd_broker_reject (self, &s.id, HD_ST_INTERNAL, 1000, "cannot queue: %s", hd_strerror (rc));
            return;
    }
    self->stats.accepted++;
    hd_broker_journal_accept (self, job, env, env_size);
    if (hd_broker_accept_later (self, client, &s.id) != HD_OK)
        hd_error ("out of memory queueing an ACCEPTED reply");  //  the client resubmits
}

static void
s_on_submit (hd_broker_t *self, uint32_t client, int64_t now)
{
    hd_frames_t *in = &self->in;
    //  Packed (hd_pack): [rid][header][pack]; else [rid][header]([envelope][payload])+.
    //  A packed frame's pairs before a malformed byte stand; the rest is refused (PROTOCOL.md 2).
    bool bad = false;
    int packed = in->count == 3 && !in->truncated
                     ? hd_pack_count_readable (hd_frames_data (in, 2), hd_frames_size (in, 2), &bad)
                     : 0;
    if (in->truncated || packed > HD_MAX_BATCH) {
        self->stats.malformed++;
        hd_broker_reject (self, NULL, HD_ST_TOO_LARGE, 0, "more than %d tasks in one SUBMIT",
                          HD_MAX_BATCH);
        return;
    }
    if (in->count == 3 && !packed) {
        self->stats.malformed++;
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "malformed packed SUBMIT frame");
        return;
    }
    if (!packed && (in->count < 4 || (in->count - 2) % 2)) {
        self->stats.malformed++;
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0,
                          "SUBMIT needs ([envelope][payload])+ frames (got %d frames)",
                          (int) in->count - 1);
        return;
    }
    //  ACCEPTED goes out after the journal commit that covers these tasks (hd_broker_journal).
    self->noticed_fn = 0;
    self->in_job = hd_sessions_at (self->sessions, client)->job;
    self->in_client = client;
    s_gone_job (self, client);
    if (packed) {
        hd_sessions_at (self->sessions, client)->packs = true;
        hd_pack_reader_t r;
        hd_pack_reader_init (&r, hd_frames_data (in, 2), hd_frames_size (in, 2));
        const void *env, *data;
        size_t env_size, size;
        while (hd_pack_next (&r, &env, &env_size, &data, &size) == 1)
            s_submit_one (self, client, env, env_size, NULL, data, size, now);
        if (bad)
            hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "malformed packed SUBMIT frame "
                              "after %d tasks: the rest of it is dropped", packed);
        return;
    }
    for (size_t i = 2; i + 1 < in->count; i += 2)
        s_submit_one (self, client, hd_frames_data (in, i), hd_frames_size (in, i),
                      &in->msg[i + 1], NULL, 0, now);
}

static void
s_abort_on_worker (hd_broker_t *self, hd_job_t *job)
{
    hd_node_t *node = job->worker;
    if (!node || hd_codec_encode_ids (&self->env, &job->id, 1) != HD_OK)
        return;
    if (hd_send_frame (self->workers_raw, node->rid, node->rid_len, ZMQ_SNDMORE) == 0
        && hd_send_header (self->workers_raw, HD_CMD_ABORT, ZMQ_SNDMORE) == 0)
        hd_send_frame (self->workers_raw, self->env.data, self->env.size, 0);
}

//  An ids envelope that does not decode: over HD_MAX_BATCH ids is TOO_LARGE, else MALFORMED.
static void
s_reject_ids (hd_broker_t *self, hd_err_t rc, const char *cmd)
{
    bool big = rc == HD_ETOOBIG;
    hd_broker_reject (self, NULL, big ? HD_ST_TOO_LARGE : HD_ST_MALFORMED, 0,
                      big ? "%s with more than 1024 ids" : "malformed %s", cmd);
}

//  Only the sender key's own tasks: another key's id is ignored, as an unknown one is.
static void
s_on_cancel (hd_broker_t *self, uint32_t client)
{
    hd_idlist_t *ids = self->accepted;  //  reuse: no SUBMIT is being handled now
    hd_err_t rc =
        hd_codec_decode_ids (hd_frames_data (&self->in, 2), hd_frames_size (&self->in, 2), ids);
    if (rc != HD_OK) {
        s_reject_ids (self, rc, "CANCEL");
        return;
    }
    for (uint32_t i = 0; i < ids->count; i++) {
        hd_job_t *job = hd_scheduler_find (self->scheduler, &ids->ids[i]);
        if (!job || !hd_sessions_same_owner (self->sessions, job->client, client))
            continue;
        rc = hd_scheduler_cancel (self->scheduler, &ids->ids[i], &job);
        if (rc == HD_OK) {
            hd_broker_fail_job (self, job, HD_ST_CANCELLED, "cancelled by the client");
        }
        else if (rc == HD_EINVAL)  //  running: the worker stops it and answers CANCELLED
            s_abort_on_worker (self, hd_scheduler_find (self->scheduler, &ids->ids[i]));
    }
}

static void
s_on_ack (hd_broker_t *self, uint32_t client)
{
    hd_idlist_t *ids = self->accepted;  //  reuse: no SUBMIT is being handled now
    hd_err_t rc =
        hd_codec_decode_ids (hd_frames_data (&self->in, 2), hd_frames_size (&self->in, 2), ids);
    if (rc != HD_OK) {
        s_reject_ids (self, rc, "ACK");
        return;
    }
    hd_broker_on_ack (self, client, ids);
}

static void
s_on_ping (hd_broker_t *self, uint32_t client, int64_t now)
{
    bool resend = false;
    if (hd_codec_decode_ping (hd_frames_data (&self->in, 2), hd_frames_size (&self->in, 2),
                              &resend) != HD_OK) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "malformed PING");
        return;
    }
    //  PONG says the payload limit, so a client can learn it (PROTOCOL.md, section 5).
    if (hd_codec_encode_pong (&self->env, self->config.max_payload) == HD_OK
        && hd_broker_send_to_client (self, client, HD_CMD_PONG) == 0)
        s_send_env (self, false);
    if (resend)
        hd_broker_resend (self, client, now);
}

static void
s_on_client_cmd (hd_broker_t *self, uint32_t client, uint8_t cmd, int64_t now)
{
    if (cmd != HD_CMD_SUBMIT && self->in.count != 3) {
        self->stats.malformed++;
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "command 0x%02x takes exactly one envelope",
                  cmd);
        return;
    }
    switch (cmd) {
        case HD_CMD_SUBMIT:
            s_on_submit (self, client, now);
            self->in_job = 0;  //  read by hd_broker_reject: a SUBMIT's only
            self->in_gone_job = false;
            self->in_client = HD_SESSION_NONE;
            break;
        case HD_CMD_CANCEL: s_on_cancel (self, client); break;
        case HD_CMD_ACK: s_on_ack (self, client); break;
        case HD_CMD_PING: s_on_ping (self, client, now); break;
        case HD_CMD_NODES: hd_broker_on_nodes (self, client); break;
        case HD_CMD_FUNCTIONS: hd_broker_on_functions (self, client); break;
        case HD_CMD_ADMIN: hd_broker_on_admin (self, client); break;
        case HD_CMD_JOB_OPEN:
        case HD_CMD_JOBS:
        case HD_CMD_JOB_FETCH:
        case HD_CMD_JOB_CANCEL:
        case HD_CMD_JOB_RELEASE: hd_broker_on_job_cmd (self, client, cmd, now); break;
        default:
            self->stats.malformed++;
            hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "command 0x%02x is not a client command",
                      cmd);
    }
}

static void
s_on_one_client_message (hd_broker_t *self, int64_t now)
{
    hd_frames_t *in = &self->in;
    uint8_t version = 0, cmd = 0;
    hd_err_t rc = in->count >= 2 ? hd_codec_parse_header (hd_frames_data (in, 1),
                                                          hd_frames_size (in, 1), &version, &cmd)
                                 : HD_EPROTO;
    if (rc == HD_EVERSION) {
        hd_broker_reject (self, NULL, HD_ST_VERSION, 0, "protocol version %u not supported: this broker "
                  "speaks %d..%d", version, HD_PROTO_VERSION_MIN, HD_PROTO_VERSION);
        return;
    }
    if (rc != HD_OK || in->count < 3) {
        self->stats.malformed++;
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "malformed message: bad header frame");
        return;
    }
    uint32_t client = s_client_index (self, now);
    if (client == UINT32_MAX)
        return;
    s_on_client_cmd (self, client, cmd, now);
}

void
hd_broker_on_client (hd_broker_t *self)
{
    int64_t now = hd_broker_now ();
    for (int n = 0; n < S_BURST; n++) {
        if (hd_frames_recv (&self->in, self->clients_raw, ZMQ_DONTWAIT) != HD_OK)
            break;
        if (self->in.count >= 1)
            s_on_one_client_message (self, now);
    }
    hd_frames_clear (&self->in);
}
