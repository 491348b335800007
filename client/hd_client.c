/*  hd_client: libheddle's client: one DEALER to the broker's clients endpoint. Tasks are
    batched into SUBMIT messages (one encrypted message for many tasks), results come back in
    RESULT messages and are matched to the in-flight table by id. Single-threaded by contract.  */
#include "hd_client_int.h"

#include <limits.h>
#include <stdarg.h>
#include <time.h>

#include "hd_codec_nodes.h"
#include "hd_log.h"
#include "hd_transport.h"

int64_t
hd_client_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

hd_err_t
hd_client_fail (hd_client_t *self, hd_err_t rc, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->last_error, sizeof self->last_error, fmt, ap);
    va_end (ap);
    return rc;
}

const char *
hd_client_last_error (const hd_client_t *self)
{
    return self && self->last_error[0] ? self->last_error : "no error";
}

const char *
hd_client_status_str (uint32_t status)
{
    return hd_status_str (status);
}

static hd_err_t
s_load_keys (hd_client_t *self)
{
    const hd_client_config_t *c = &self->config;
    char path[PATH_MAX], bpath[PATH_MAX], err[512] = "";
    const char *cert = c->cert_path, *broker = c->broker_key;
    if ((!cert || !broker) && !c->keys_dir)
        return hd_client_fail (self, HD_ECRYPTO, "no keys: give a keys directory (--keys DIR, "
                               "HEDDLE_KEYS; see `heddle keys init`) or use --insecure");
    if (!cert)
        cert = hd_keys_path (path, sizeof path, c->keys_dir, "client.cert_secret");
    if (!broker)
        broker = hd_keys_path (bpath, sizeof bpath, c->keys_dir, "broker.cert");
    hd_err_t rc = hd_keys_load_secret_checked (cert, c->keys_dir, c->insecure_key_perms,
                                               &self->cert, err, sizeof err);
    if (rc == HD_OK)
        rc = hd_keys_load_public (broker, self->server_key, err, sizeof err);
    return rc == HD_OK ? HD_OK : hd_client_fail (self, rc, "%s", err);
}

static hd_err_t
s_open_socket (hd_client_t *self)
{
    if (self->config.session && *self->config.session)
        snprintf (self->session, sizeof self->session, "%s", self->config.session);
    else {
        hd_id_t rnd;
        hd_id_random (&rnd);
        char hex[2 * HD_ID_BYTES + 1];
        hd_id_hex (&rnd, hex);
        snprintf (self->session, sizeof self->session, "c-%.16s", hex);
    }
    //  The session is claimed in a connection property; the routing id, where the broker sends
    //  this session's results, is a fresh secret for each socket (PROTOCOL §9). inproc:// (the
    //  embedded cluster, one process) carries no properties: there the routing id is the session.
    char rid[HD_CLIENT_RID_TEXT];
    hd_transport_client_rid (rid);
    bool inproc = strncmp (self->endpoint, "inproc://", 9) == 0;
    hd_sockopts_t o = { .insecure = self->config.insecure, .cert = self->cert,
                        .routing_id = inproc ? self->session : rid, .session = self->session,
                        .monitor_out = &self->monitor };
    memcpy (o.server_key, self->server_key, sizeof o.server_key);
    char err[512] = "";
    hd_err_t rc = hd_transport_connect (&self->dealer, ZMQ_DEALER, self->endpoint, &o, err,
                                        sizeof err);
    if (rc != HD_OK)
        return hd_client_fail (self, rc, "%s", err[0] ? err : hd_strerror (rc));
    self->raw = zsock_resolve (self->dealer);
    return HD_OK;
}

static hd_err_t
s_init (hd_client_t *self, const hd_client_config_t *config)
{
    self->config = *config;
    if (!config->endpoint)
        return hd_client_fail (self, HD_EINVAL, "no broker endpoint");
    hd_transport_endpoint (self->endpoint, sizeof self->endpoint, config->endpoint, 7700);
    if (!self->config.timeout_ms)
        self->config.timeout_ms = 5000;
    if (!self->config.window)
        self->config.window = 1000;
    if (!self->config.retry_ms)
        self->config.retry_ms = 60000;
    if (!hd_transport_is_tcp (self->endpoint))
        self->config.insecure = true;  //  inproc/ipc: same machine, no CURVE needed
    self->inflight = hd_idmap_new ();
    self->acks = malloc (sizeof *self->acks);
    self->scratch = malloc (sizeof *self->scratch);
    if (self->acks)
        self->acks->count = 0;
    self->pending = calloc (2 * HD_CLIENT_FLUSH_TASKS, sizeof (zmq_msg_t));
    if (!self->inflight || !self->pending || !self->acks || !self->scratch || hd_frames_init (&self->in, 2 + 2 * HD_MAX_BATCH))
        return hd_client_fail (self, HD_ENOMEM, "out of memory");
    hd_err_t rc = hd_client_check_host (self);
    if (rc == HD_OK && !self->config.insecure)
        rc = s_load_keys (self);
    if (rc == HD_OK)
        rc = s_open_socket (self);
    return rc == HD_OK ? hd_client_seal_setup (self) : rc;
}

hd_err_t hd_client_ping (hd_client_t *self);

hd_err_t
hd_client_open (const hd_client_config_t *config, hd_client_t **out, char *errbuf,
                size_t errlen)
{
    *out = NULL;
    hd_client_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    hd_err_t rc = s_init (self, config);
    if (rc != HD_OK) {
        if (errbuf)
            snprintf (errbuf, errlen, "%s", self->last_error);
        hd_client_destroy (&self);
        return rc;
    }
    *out = self;
    return HD_OK;
}

hd_err_t
hd_client_start (hd_client_t *self)
{
    hd_err_t rc = hd_client_ping (self);
    if (rc == HD_ETIMEDOUT)
        hd_client_diagnose (self);  //  "no answer" says nothing: find out why
    return rc;
}

hd_err_t
hd_client_connect_verbose (const hd_client_config_t *config, hd_client_t **out, char *errbuf,
                           size_t errlen)
{
    hd_client_t *self;
    hd_err_t rc = hd_client_open (config, &self, errbuf, errlen);
    if (rc == HD_OK && (rc = hd_client_start (self)) != HD_OK) {
        if (errbuf)
            snprintf (errbuf, errlen, "%s", self->last_error);
        hd_client_destroy (&self);
    }
    *out = self;
    return rc;
}

hd_err_t
hd_client_connect (const hd_client_config_t *config, hd_client_t **out)
{
    return hd_client_connect_verbose (config, out, NULL, 0);
}

void
hd_client_unkeep (hd_idval_t *val)
{
    hd_kept_t *kept = val->keep;
    if (kept) {
        if (kept->framed) {
            zmq_msg_close (&hd_kept_frames (kept)[0]);
            zmq_msg_close (&hd_kept_frames (kept)[1]);
        }
        free (kept);
        val->keep = NULL;
    }
}

static void
s_unkeep_each (const hd_id_t *id, hd_idval_t *val, void *arg)
{
    (void) id;
    (void) arg;
    hd_client_unkeep (val);
}

void
hd_client_destroy (hd_client_t **self_p)
{
    hd_client_t *self = *self_p;
    if (!self)
        return;
    if (self->raw && self->acks && self->acks->count) {
        //  Best effort, waiting at most 200 ms for them to leave: a result never ACKed is kept
        //  by the broker until its result TTL.
        hd_client_send_acks (self);
        zsock_set_linger (self->dealer, 200);
    }
    if (self->raw && self->cancels_sent)
        zsock_set_linger (self->dealer, 200);  //  an interrupted call's CANCEL, likewise
    for (uint32_t i = 0; self->pending && i < 2 * self->npending; i++)
        zmq_msg_close (&self->pending[i]);
    free (self->pending);
    while (self->head) {
        hd_queued_t *q = self->head;
        self->head = q->next;
        hd_reply_t *r = &q->reply;
        hd_reply_destroy (&r);
    }
    hd_reply_destroy (&self->captured);
    free (self->nodes);
    free (self->fns);
    free (self->acks);
    free (self->scratch);
    if (self->inflight)
        hd_idmap_each (self->inflight, s_unkeep_each, NULL);
    hd_idmap_destroy (&self->inflight);
    hd_frames_fini (&self->in);
    hd_buf_fini (&self->env);
    hd_buf_fini (&self->pack);
    hd_buf_fini (&self->ack_env);
    hd_transport_monitor_stop (self->dealer, &self->monitor);
    zsock_destroy (&self->dealer);
    zcert_destroy (&self->cert);
    hd_seal_sender_destroy (&self->seal);
    if (self->sealed.data)
        hd_seal_wipe (self->sealed.data, self->sealed.size);
    hd_buf_fini (&self->sealed);
    free (self);
    *self_p = NULL;
}

void
hd_reply_destroy (hd_reply_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->data);
    free (*self_p);  //  the hd_queued_t around it: reply is its first member
    *self_p = NULL;
}

hd_err_t
hd_client_send_env (hd_client_t *self, uint8_t cmd)
{
    if (hd_send_header (self->raw, cmd, ZMQ_SNDMORE) != 0
        || hd_send_frame (self->raw, self->env.data, self->env.size, 0) != 0)
        return hd_client_fail (self, HD_ECLOSED, "send failed: %s", zmq_strerror (zmq_errno ()));
    return HD_OK;
}
