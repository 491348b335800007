/*  hd_worker: the worker's main loop. One DEALER to the broker, the runner's slot sockets, a
    monitor (to tell a refused key from a silent broker), a stop pipe, and the capacity metrics
    publisher (hd_metrics_pub), connected after each WELCOME that names a metrics port.
    Connection states:
        state    | WELCOME | broker silent (misses x hb) | refused key (monitor)
        JOINING  | READY   | reconnect + HELLO           | log, libzmq retries
        READY    | READY   | reconnect + HELLO           | log, libzmq retries
    Tasks keep running across a reconnect; their results go out on the new connection, and the
    broker fences those whose lease it has since given away.  */
#include "hd_worker.h"

#include <limits.h>
#include <math.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hd_bench_score.h"
#include "hd_codec.h"
#include "hd_fnreg.h"
#include "hd_frames.h"
#include "hd_keys.h"
#include "hd_log.h"
#include "hd_metrics_pub.h"
#include "hd_pack.h"
#include "hd_runner.h"
#include "hd_seal.h"
#include "hd_task.h"
#include "hd_transport.h"
#include "hd_worker_keys.h"

//  Tasks per slot this worker takes at once (running or waiting), capped at HD_MAX_BATCH. The
//  broker fills it only with tasks of short functions (docs/SCHEDULING.md).
#define S_QUEUE_PER_SLOT 257

struct hd_worker {
    hd_worker_config_t config;
    char endpoint[256], name[HD_MAX_NAME + 1], tags[512], work_dir[PATH_MAX];
    hd_sockopts_t opts;
    zcert_t *cert;
    hd_fnreg_t *fns;
    hd_runner_t *runner;
    hd_seal_keyring_t *ring;    //  payload keys: sealed tasks are opened with them
    hd_metrics_pub_t *metrics;  //  NULL until a WELCOME names a metrics port
    double score;               //  capacity score in HELLO and METRICS
    zsock_t *dealer, *monitor;
    void *dealer_raw;
    int stop_fd;  //  eventfd written by hd_worker_stop (any thread)
    hd_frames_t in;
    hd_buf_t env;
    //  Results gathered for one DONE message. Tasks beyond the free slots wait in the runner's
    //  queue (the broker's prefetch credit, and after a reconnect stale tasks still running).
    zmq_msg_t *out_env, *out_data;
    uint32_t out_cap;
    uint32_t queue;  //  tasks announced in HELLO as taken at once (running + waiting)
    bool broker_packs;  //  WELCOME said the broker reads packed DONE messages
    hd_buf_t pack;      //  the packed DONE frame being built
    bool ready;
    uint32_t heartbeat_ms;
    int64_t last_recv_ms, last_send_ms, hello_ms;
    uint64_t refused_logs;
    //  libzmq never retries a connection whose key the broker refused (ZAP 400 ends the
    //  session): the worker reconnects itself, so that an approval takes effect promptly.
    int64_t retry_ms;     //  reconnect at this time; 0: none planned
    uint32_t backoff_ms;  //  250 ms doubling to 4 s; reset by any broker message
    char rid[HD_MAX_NAME + 2 + 2 * HD_ID_BYTES];  //  routing id of the current connection
    bool refused;         //  the broker refused this worker for good (HD_ST_REFUSED): stop
};

void
hd_worker_config_defaults (hd_worker_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->max_output = 64u << 20;
    config->heartbeat_misses = 5;
    config->metrics_interval_ms = 1000;
    config->work_dir = ".";
    config->state_dir = "/var/lib/heddle";
}

static hd_err_t
s_load_keys (hd_worker_t *self, char *errbuf, size_t errlen)
{
    hd_err_t rc =
        hd_worker_keys_load (&self->config, &self->cert, self->opts.server_key, errbuf, errlen);
    self->opts.cert = self->cert;
    return rc;
}

static void
s_add_payload_key (const uint8_t secret[32], void *arg)
{
    hd_err_t rc = hd_seal_keyring_add (arg, secret);
    if (rc != HD_OK)
        hd_warn ("payload key not used: %s (at most %d are held)", hd_strerror (rc),
                 HD_SEAL_MAX_KEYS);
}

//  Payload secret keys, for sealed tasks: KEYS/payload*.cert_secret (copied from the broker's
//  keys directory) and STATE/payload*.cert_secret (granted at enrollment). None is fine: the
//  worker then offers no seal- tag and is sent no sealed task.
static hd_err_t
s_load_payload_keys (hd_worker_t *self)
{
    if (!(self->ring = hd_seal_keyring_new ()))
        return HD_ENOMEM;
    size_t n = 0;
    if (self->config.keys_dir)
        hd_keys_each_payload_secret (self->config.keys_dir, s_add_payload_key, self->ring, &n);
    if (self->config.state_dir && *self->config.state_dir)
        hd_keys_each_payload_secret (self->config.state_dir, s_add_payload_key, self->ring, &n);
    if (hd_seal_keyring_count (self->ring))
        hd_info ("%zu payload key(s): sealed tasks are opened here (%s)",
                 hd_seal_keyring_count (self->ring), hd_seal_keyring_tag (self->ring, 0));
    return HD_OK;
}

//  The capacity and metrics settings: a score of 0 means "measure it at start".
static hd_err_t
s_check_metrics (hd_worker_t *self, char *errbuf, size_t errlen)
{
    hd_worker_config_t *c = &self->config;
    if (!c->metrics_interval_ms)
        c->metrics_interval_ms = 1000;
    if (!(c->capacity >= 0) || !isfinite (c->capacity)) {
        snprintf (errbuf, errlen, "capacity must be a positive number");
        return HD_EINVAL;
    }
    snprintf (self->work_dir, sizeof self->work_dir, "%s",
              c->work_dir && *c->work_dir ? c->work_dir : ".");
    c->work_dir = self->work_dir;
    return HD_OK;
}

static hd_err_t
s_check_config (hd_worker_t *self, char *errbuf, size_t errlen)
{
    hd_worker_config_t *c = &self->config;
    if (!c->endpoint) {
        snprintf (errbuf, errlen, "no broker endpoint (--broker tcp://HOST:7701)");
        return HD_EINVAL;
    }
    hd_transport_endpoint (self->endpoint, sizeof self->endpoint, c->endpoint, 7701);
    if (!c->name || !*c->name) {
        char host[HD_MAX_NAME + 1] = "worker";
        gethostname (host, sizeof host - 1);
        snprintf (self->name, sizeof self->name, "%s", host);
    }
    else if (strlen (c->name) > HD_MAX_NAME) {
        snprintf (errbuf, errlen, "node name longer than %d bytes", HD_MAX_NAME);
        return HD_EINVAL;
    }
    else
        snprintf (self->name, sizeof self->name, "%s", c->name);
    if (!c->slots) {
        long n = sysconf (_SC_NPROCESSORS_ONLN);
        c->slots = n > 0 ? (uint32_t) n : 1;
    }
    if (!c->heartbeat_misses)
        c->heartbeat_misses = 5;
    snprintf (self->tags, sizeof self->tags, "%s", c->tags ? c->tags : "");
    c->endpoint = self->endpoint;
    c->name = self->name;
    c->tags = self->tags;
    self->opts.insecure = c->insecure;
    return s_check_metrics (self, errbuf, errlen);
}

hd_err_t
hd_worker_new (const hd_worker_config_t *config, hd_worker_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    hd_worker_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    self->config = *config;
    self->heartbeat_ms = 1000;
    self->stop_fd = -1;
    hd_err_t rc = s_check_config (self, errbuf, errlen);
    if (rc == HD_OK && !self->config.insecure)
        rc = s_load_keys (self, errbuf, errlen);
    if (rc == HD_OK)
        rc = s_load_payload_keys (self);
    if (rc == HD_OK && !(self->fns = hd_fnreg_new ()))
        rc = HD_ENOMEM;
    if (rc == HD_OK && !self->config.no_builtins)
        rc = hd_builtins_register (self->fns, self->config.allow_exec);
    if (rc == HD_OK)
        rc = hd_frames_init (&self->in, 2 + 2 * HD_MAX_BATCH);
    self->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rc == HD_OK && self->stop_fd < 0)
        rc = HD_ENOMEM;
    if (rc != HD_OK) {
        if (!errbuf[0])
            snprintf (errbuf, errlen, "%s", hd_strerror (rc));
        hd_worker_destroy (&self);
        return rc;
    }
    *out = self;
    return HD_OK;
}

static void
s_disconnect (hd_worker_t *self)
{
    hd_transport_monitor_stop (self->dealer, &self->monitor);
    zsock_destroy (&self->dealer);
    self->dealer_raw = NULL;
    self->ready = false;
    if (self->metrics)
        hd_metrics_pub_disconnect (self->metrics);  //  reconnected after the next WELCOME
}

void
hd_worker_destroy (hd_worker_t **self_p)
{
    hd_worker_t *self = *self_p;
    if (!self)
        return;
    hd_runner_destroy (&self->runner);
    s_disconnect (self);
    hd_metrics_pub_destroy (&self->metrics);
    for (uint32_t i = 0; self->out_env && self->out_data && i < self->out_cap; i++) {
        zmq_msg_close (&self->out_env[i]);
        zmq_msg_close (&self->out_data[i]);
    }
    free (self->out_env);
    free (self->out_data);
    hd_fnreg_destroy (&self->fns);
    hd_frames_fini (&self->in);
    hd_buf_fini (&self->env);
    hd_buf_fini (&self->pack);
    if (self->stop_fd >= 0)
        close (self->stop_fd);
    zcert_destroy (&self->cert);
    hd_seal_keyring_destroy (&self->ring);
    free (self);
    *self_p = NULL;
}

hd_err_t
hd_worker_add_fn (hd_worker_t *self, const char *name, heddle_fn_t fn, void *arg)
{
    return hd_fnreg_add (self->fns, name, fn, arg);
}

hd_err_t
hd_worker_load_plugin (hd_worker_t *self, const char *path, char *errbuf, size_t errlen)
{
    return hd_fnreg_load_plugin (self->fns, path, errbuf, errlen);
}

const heddle_host_t *
hd_worker_host (void)
{
    return hd_task_host ();
}

const char *
hd_worker_name (const hd_worker_t *self)
{
    return self->name;
}

double
hd_worker_score (const hd_worker_t *self)
{
    return self->score;
}

void
hd_worker_stop (hd_worker_t *self)
{
    uint64_t one = 1;
    if (write (self->stop_fd, &one, sizeof one) < 0)
        hd_error ("cannot signal the worker to stop: %s", strerror (errno));
}

//  HELLO, HEARTBEAT and BYE never block: after a refused handshake the DEALER has no pipe, and a
//  blocking send hung the worker for good (no retry after an approval, no exit on SIGTERM).
static int
s_send_simple (hd_worker_t *self, uint8_t cmd)
{
    if (!self->dealer_raw || hd_codec_encode_empty (&self->env) != HD_OK)
        return -1;
    self->last_send_ms = hd_now_ms ();
    if (hd_send_header (self->dealer_raw, cmd, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0)
        return -1;
    return hd_send_frame (self->dealer_raw, self->env.data, self->env.size, 0);
}

static void
s_fill_hello (hd_worker_t *self, hd_hello_t *h)
{
    memset (h, 0, sizeof *h);
    snprintf (h->name, sizeof h->name, "%s", self->name);
    h->slots = self->config.slots;
    h->queue = self->queue;
    h->pack = true;
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    h->cores = cores > 0 ? (uint32_t) cores : 1;
    struct utsname u;
    snprintf (h->arch, sizeof h->arch, "%.63s", uname (&u) == 0 ? u.machine : "unknown");
    uint32_t n = hd_fnreg_count (self->fns);
    for (uint32_t i = 0; i < n && h->nfns < HD_MAX_FNS; i++)
        snprintf (h->fns[h->nfns++], sizeof h->fns[0], "%s", hd_fnreg_at (self->fns, i)->name);
    char tags[512];
    snprintf (tags, sizeof tags, "%s", self->tags);
    for (char *save = NULL, *t = strtok_r (tags, ",", &save); t && h->ntags < HD_MAX_TAGS;
         t = strtok_r (NULL, ",", &save))
        snprintf (h->tags[h->ntags++], sizeof h->tags[0], "%.63s", t);
    //  One tag per payload key held: clients require it on sealed tasks, so that only workers
    //  able to open them are sent them.
    for (size_t i = 0; self->ring && i < hd_seal_keyring_count (self->ring); i++)
        if (h->ntags < HD_MAX_TAGS)
            snprintf (h->tags[h->ntags++], sizeof h->tags[0], "%s",
                      hd_seal_keyring_tag (self->ring, i));
    h->score = self->score;
}

static hd_err_t
s_send_hello (hd_worker_t *self)
{
    hd_hello_t *h = malloc (sizeof *h);
    if (!h)
        return HD_ENOMEM;
    s_fill_hello (self, h);
    hd_err_t rc = hd_codec_encode_hello (&self->env, h);
    free (h);
    if (rc != HD_OK)
        return rc;
    self->hello_ms = self->last_send_ms = hd_now_ms ();
    if (hd_send_header (self->dealer_raw, HD_CMD_HELLO, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0
        || hd_send_frame (self->dealer_raw, self->env.data, self->env.size, 0) != 0)
        return HD_ECLOSED;
    return HD_OK;
}

static hd_err_t
s_connect (hd_worker_t *self)
{
    char err[256] = "";
    //  A fresh random routing id per connection: the broker knows a worker by its key and
    //  name, and ignores a connection claiming a routing id in use, so a stable one would keep
    //  a reconnecting worker out while the broker still holds its old, half-open connection.
    //  The name in front is only for people reading traces.
    hd_id_t id;
    char hex[2 * HD_ID_BYTES + 1];
    hd_id_random (&id);
    hd_id_hex (&id, hex);
    snprintf (self->rid, sizeof self->rid, "%s.%s", self->name, hex);
    self->opts.routing_id = self->rid;
    self->opts.monitor_out = &self->monitor;  //  attached before connecting: no event missed
    hd_err_t rc = hd_transport_connect (&self->dealer, ZMQ_DEALER, self->endpoint, &self->opts,
                                        err, sizeof err);
    if (rc != HD_OK) {
        hd_error ("cannot connect to %s: %s", self->endpoint, err[0] ? err : hd_strerror (rc));
        return rc;
    }
    self->dealer_raw = zsock_resolve (self->dealer);
    self->last_recv_ms = hd_now_ms ();
    return s_send_hello (self);
}

//  Answer a task this worker cannot start (unknown function, no slot) at once with a result.
static void
s_refuse_task (hd_worker_t *self, const hd_task_t *t, uint32_t status, const char *why)
{
    hd_result_t r = { .id = t->id, .attempt = t->attempt, .status = status };
    snprintf (r.node, sizeof r.node, "%s", self->name);
    snprintf (r.error, sizeof r.error, "%s", why);
    if (hd_codec_encode_result (&self->env, &r) != HD_OK)
        return;
    hd_send_header (self->dealer_raw, HD_CMD_DONE, ZMQ_SNDMORE);
    hd_send_frame (self->dealer_raw, self->env.data, self->env.size, ZMQ_SNDMORE);
    hd_send_frame (self->dealer_raw, NULL, 0, 0);
    self->last_send_ms = hd_now_ms ();
}

//  Queue one task (its payload frame is moved on success).
static void
s_start_task (hd_worker_t *self, const void *env, size_t env_size, zmq_msg_t *payload)
{
    hd_task_t t;
    if (hd_codec_decode_task (env, env_size, &t) != HD_OK) {
        hd_warn ("malformed TASK envelope from the broker: ignored");
        return;
    }
    hd_err_t rc = hd_runner_start (self->runner, &t, payload);
    if (rc == HD_ENOTFOUND)
        s_refuse_task (self, &t, HD_ST_UNKNOWN_FN, "function not on this worker");
    else if (rc != HD_OK)
        s_refuse_task (self, &t, HD_ST_BUSY, "no free slot on this worker");
}

//  TASK: [header]([envelope][payload])+, or packed: [header][pack] (hd_pack).
static void
s_on_task (hd_worker_t *self)
{
    hd_frames_t *in = &self->in;
    if (!in->truncated && in->count == 2) {
        hd_pack_reader_t r;
        hd_pack_reader_init (&r, hd_frames_data (in, 1), hd_frames_size (in, 1));
        const void *env, *data;
        size_t env_size, size;
        int rc;
        while ((rc = hd_pack_next (&r, &env, &env_size, &data, &size)) == 1) {
            zmq_msg_t payload;
            if (zmq_msg_init_size (&payload, size) != 0)
                continue;  //  out of memory: the lease runs out and the broker sends it again
            if (size)
                memcpy (zmq_msg_data (&payload), data, size);
            s_start_task (self, env, env_size, &payload);
            zmq_msg_close (&payload);
        }
        if (rc < 0)
            hd_warn ("malformed packed TASK message from the broker: rest ignored");
        return;
    }
    if (in->truncated || in->count < 3 || (in->count - 1) % 2) {
        hd_warn ("malformed TASK message from the broker (%zu frames): ignored", in->count);
        return;
    }
    for (size_t i = 1; i + 1 < in->count; i += 2)
        s_start_task (self, hd_frames_data (in, i), hd_frames_size (in, i), &in->msg[i + 1]);
}

static void
s_on_abort (hd_worker_t *self)
{
    hd_idlist_t *ids = malloc (sizeof *ids);
    if (ids && self->in.count == 2
        && hd_codec_decode_ids (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1), ids)
               == HD_OK)
        for (uint32_t i = 0; i < ids->count; i++)
            hd_runner_cancel (self->runner, &ids->ids[i]);
    free (ids);
}

static void
s_on_error (hd_worker_t *self)
{
    hd_error_t e;
    if (self->in.count != 2
        || hd_codec_decode_error (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1), &e)
               != HD_OK)
        return;
    if (e.code == HD_ST_REFUSED) {
        hd_error ("the broker refused this worker: %s; stopping", e.reason);
        self->refused = true;
        return;
    }
    if (e.code == HD_ST_DENIED && hd_now_ms () - self->hello_ms > 1000) {
        hd_info ("broker does not know this worker (%s): saying HELLO again", e.reason);
        self->ready = false;
        s_send_hello (self);
    }
    else if (e.code != HD_ST_DENIED)
        hd_error ("broker refused this worker: %s (%s)", e.reason, hd_status_str (e.code));
}

//  (Re)open the metrics PUB after joining: the broker may have restarted on another port. The
//  publisher closes its socket when the broker has no metrics port (or is not on TCP).
static void
s_start_metrics (hd_worker_t *self, uint32_t port)
{
    if (!self->metrics && port && hd_transport_is_tcp (self->endpoint)
        && !(self->metrics = hd_metrics_pub_new (self->name, self->work_dir,
                                                 self->config.metrics_interval_ms, self->score)))
        hd_warn ("capacity metrics disabled: %s", hd_strerror (HD_ENOMEM));
    char err[256] = "";
    hd_err_t rc = self->metrics ? hd_metrics_pub_connect (self->metrics, self->endpoint, port,
                                                          &self->opts, err, sizeof err)
                                : HD_OK;
    if (rc != HD_OK)
        hd_warn ("capacity metrics disabled: %s", err[0] ? err : hd_strerror (rc));
}

//  Payload keys granted to this worker's key (sealed to it by an admin, relayed by the broker):
//  opened, kept in the state directory (0600), and announced by a new HELLO whose tags now
//  include them. Returns whether the key ring grew.
static bool
s_take_grants (hd_worker_t *self, const hd_welcome_t *w)
{
    size_t before = hd_seal_keyring_count (self->ring);
    for (uint32_t i = 0; self->cert && i < w->ngrants; i++) {
        uint8_t grant[HD_SEAL_SEALED_KEY_BYTES], secret[32];
        if (strlen (w->grants[i]) != HD_GRANT_TEXT - 1 || !zmq_z85_decode (grant, w->grants[i])
            || hd_seal_open_grant (grant, zcert_public_key (self->cert),
                                   zcert_secret_key (self->cert), secret)
                   != HD_OK) {
            hd_warn ("a payload key grant from the broker does not open with this worker's key: "
                     "ignored (was it sealed for another worker?)");
            continue;
        }
        size_t had = hd_seal_keyring_count (self->ring);
        if (hd_seal_keyring_add (self->ring, secret) == HD_OK
            && hd_seal_keyring_count (self->ring) > had && self->config.state_dir
            && *self->config.state_dir) {
            char name[64], err[256] = "";
            snprintf (name, sizeof name, "payload-%s",
                      hd_seal_keyring_tag (self->ring, had) + strlen (HD_SEAL_TAG_PREFIX));
            if (hd_keys_save_payload_secret (self->config.state_dir, secret, name, err,
                                             sizeof err)
                != HD_OK)
                hd_warn ("granted payload key not saved: %s", err);
        }
        hd_seal_wipe (secret, sizeof secret);
    }
    size_t after = hd_seal_keyring_count (self->ring);
    if (after > before)
        hd_info ("%zu payload key(s) granted: sealed tasks are opened here", after - before);
    return after > before;
}

static void
s_on_welcome (hd_worker_t *self)
{
    hd_welcome_t w;
    if (hd_codec_decode_welcome (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1), &w)
        != HD_OK) {
        hd_warn ("malformed WELCOME from the broker: ignored");
        return;
    }
    if (s_take_grants (self, &w))
        s_send_hello (self);  //  the new seal- tags: sealed tasks may now come here
    self->heartbeat_ms = w.heartbeat_ms ? w.heartbeat_ms : 1000;
    self->broker_packs = w.pack;
    if (!self->ready) {
        hd_info ("joined the broker at %s as %s (%u slots, capacity %.1f)", self->endpoint,
                 self->name, self->config.slots, self->score);
        s_start_metrics (self, w.metrics_port);
    }
    self->ready = true;
}

static void
s_on_broker_message (hd_worker_t *self)
{
    hd_frames_t *in = &self->in;
    uint8_t version, cmd;
    if (in->count < 2
        || hd_codec_parse_header (hd_frames_data (in, 0), hd_frames_size (in, 0), &version, &cmd)
               != HD_OK) {
        hd_warn ("malformed message from the broker: ignored");
        return;
    }
    self->last_recv_ms = hd_now_ms ();
    self->backoff_ms = 0;
    switch (cmd) {
        case HD_CMD_WELCOME: s_on_welcome (self); break;
        case HD_CMD_TASK: s_on_task (self); break;
        case HD_CMD_ABORT: s_on_abort (self); break;
        case HD_CMD_ERROR: s_on_error (self); break;
        case HD_CMD_BEAT: break;
        case HD_CMD_DRAIN: break;  //  the broker stops sending; nothing to do here yet
        default: hd_warn ("unexpected command 0x%02x from the broker: ignored", cmd);
    }
}

//  Send one DONE message with every result finished since the last one.
static void
s_flush_results (hd_worker_t *self)
{
    uint32_t n = hd_runner_collect (self->runner, self->out_env, self->out_data, self->out_cap);
    if (!n || !self->dealer_raw)
        return;  //  results computed while disconnected are lost here; the broker re-runs them
    //  Packed when the broker reads that form (HD_PACK_MAX_BYTES a frame); results with a large
    //  output go in frames of their own, in one more message.
    uint32_t framed = 0, last = 0;
    hd_buf_reset (&self->pack);
    for (uint32_t k = 0; k < n; k++) {
        size_t env_size = zmq_msg_size (&self->out_env[k]), size = zmq_msg_size (&self->out_data[k]);
        if (!self->broker_packs || !hd_pack_fits (env_size, size)) {
            framed++, last = k;
            continue;
        }
        if (self->pack.size + hd_pack_pair_size (env_size, size) > HD_PACK_MAX_BYTES) {
            hd_send_header (self->dealer_raw, HD_CMD_DONE, ZMQ_SNDMORE);
            hd_send_frame (self->dealer_raw, self->pack.data, self->pack.size, 0);
            hd_buf_reset (&self->pack);
        }
        if (hd_pack_add (&self->pack, zmq_msg_data (&self->out_env[k]), env_size,
                         zmq_msg_data (&self->out_data[k]), size) != HD_OK)
            hd_error ("out of memory packing a result: the broker will run the task again");
    }
    if (self->pack.size) {
        hd_send_header (self->dealer_raw, HD_CMD_DONE, ZMQ_SNDMORE);
        hd_send_frame (self->dealer_raw, self->pack.data, self->pack.size, 0);
    }
    if (framed)
        hd_send_header (self->dealer_raw, HD_CMD_DONE, ZMQ_SNDMORE);
    for (uint32_t k = 0; framed && k <= last; k++) {
        size_t env_size = zmq_msg_size (&self->out_env[k]), size = zmq_msg_size (&self->out_data[k]);
        if (self->broker_packs && hd_pack_fits (env_size, size))
            continue;
        zmq_msg_send (&self->out_env[k], self->dealer_raw, ZMQ_SNDMORE);
        zmq_msg_send (&self->out_data[k], self->dealer_raw, k < last ? ZMQ_SNDMORE : 0);
    }
    self->last_send_ms = hd_now_ms ();
}

static void
s_plan_retry (hd_worker_t *self)
{
    self->backoff_ms = self->backoff_ms ? self->backoff_ms * 2 : 250;
    if (self->backoff_ms > 4000)
        self->backoff_ms = 4000;
    self->retry_ms = hd_now_ms () + self->backoff_ms;
}

static void
s_watch_monitor (hd_worker_t *self)
{
    int event;
    while (self->monitor && (event = hd_transport_monitor_event (self->monitor)) != 0) {
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            s_plan_retry (self);
        char id[HD_KEY_ID_TEXT] = "?";
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            hd_keys_id (zcert_public_txt (self->cert), id);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && self->refused_logs++ % 30 == 0)
            hd_error ("the broker at %s refused this worker's key %s: an admin enrolls it with "
                      "`heddle nodes approve %s` (retrying)", self->endpoint,
                      zcert_public_txt (self->cert), id);
        else if ((event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                  || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
                 && self->refused_logs++ % 30 == 0)
            hd_error ("CURVE handshake with %s failed: wrong broker key, or the broker is "
                      "insecure? (retrying)", self->endpoint);
    }
}

static void
s_timers (hd_worker_t *self)
{
    int64_t now = hd_now_ms ();
    int64_t silent_limit = (int64_t) self->heartbeat_ms * self->config.heartbeat_misses;
    if (self->retry_ms && now >= self->retry_ms) {
        self->retry_ms = 0;
        s_disconnect (self);
        s_connect (self);
    }
    else if (now - self->last_recv_ms > silent_limit) {
        hd_warn ("broker at %s silent for %" PRId64 " ms: reconnecting", self->endpoint,
                 now - self->last_recv_ms);
        s_disconnect (self);
        s_connect (self);
    }
    else if (self->ready && now - self->last_send_ms >= (int64_t) self->heartbeat_ms)
        s_send_simple (self, HD_CMD_HEARTBEAT);
    else if (!self->ready && now - self->hello_ms >= (int64_t) self->heartbeat_ms * 2)
        s_send_hello (self);  //  no WELCOME yet: the broker may have started after us
    if (self->metrics && hd_metrics_pub_due_in (self->metrics, now) == 0) {
        uint32_t slots = hd_runner_slots (self->runner);
        hd_metrics_counts_t counts = { .slots = slots,
                                       .busy = hd_runner_running (self->runner),
                                       .done = hd_runner_done (self->runner),
                                       .failed = hd_runner_failed (self->runner) };
        hd_metrics_pub_tick (self->metrics, now, &counts);
    }
}

//  Wait no longer than half a heartbeat, nor past the next metrics snapshot.
static long
s_poll_timeout (const hd_worker_t *self)
{
    long timeout = (long) self->heartbeat_ms / 2;
    int64_t due = self->metrics ? hd_metrics_pub_due_in (self->metrics, hd_now_ms ()) : -1;
    return due >= 0 && due < timeout ? (long) due : timeout;
}

//  Poll items: the DEALER, the runner's results, the stop eventfd and the handshake monitor.
//  Only the DEALER is a zmq item: zmq_poll asks each zmq item for ZMQ_EVENTS on every pass (two
//  syscalls), so the monitor is polled as a plain fd (hd_transport_fd).
enum { S_DEALER, S_RESULTS, S_STOP, S_MONITOR, S_NITEMS };

static void
s_loop (hd_worker_t *self)
{
    zmq_pollitem_t items[S_NITEMS] = {
        [S_DEALER] = { NULL, 0, ZMQ_POLLIN, 0 },
        [S_RESULTS] = { NULL, hd_runner_fd (self->runner), ZMQ_POLLIN, 0 },
        [S_STOP] = { NULL, self->stop_fd, ZMQ_POLLIN, 0 },
        [S_MONITOR] = { NULL, 0, ZMQ_POLLIN, 0 },
    };
    while (!zsys_interrupted && !self->refused) {
        items[S_DEALER].socket = self->dealer_raw;
        items[S_DEALER].fd = self->dealer_raw ? 0 : -1;
        items[S_MONITOR].fd = hd_transport_fd (self->monitor ? zsock_resolve (self->monitor) : NULL);
        if (zmq_poll (items, S_NITEMS, s_poll_timeout (self)) < 0)
            break;
        if (items[S_STOP].revents & ZMQ_POLLIN)
            break;
        if (items[S_MONITOR].revents & ZMQ_POLLIN)
            s_watch_monitor (self);
        for (int k = 0; k < 256 && self->dealer_raw && (items[S_DEALER].revents & ZMQ_POLLIN);
             k++) {
            if (hd_frames_recv (&self->in, self->dealer_raw, ZMQ_DONTWAIT) != HD_OK)
                break;
            s_on_broker_message (self);
        }
        hd_frames_clear (&self->in);
        //  Results of tasks run inline just now go out at once, not on the next wake-up.
        if ((items[S_RESULTS].revents & ZMQ_POLLIN) || hd_runner_has_results (self->runner))
            s_flush_results (self);
        s_timers (self);
    }
}

static void
s_measure_score (hd_worker_t *self)
{
    if (self->config.capacity > 0) {
        self->score = self->config.capacity;
        return;
    }
    self->score = hd_bench_score (HD_BENCH_DEFAULT_MS);
    hd_info ("capacity score %.1f (measured; --capacity overrides it)", self->score);
}

hd_err_t
hd_worker_run (hd_worker_t *self)
{
    //  A deep queue lets the broker send short tasks many per message (its --prefetch-short);
    //  the runner holds twice that, so that after a reconnect the tasks of the old connection
    //  still running and a full new credit both fit.
    uint32_t nslots = self->config.slots;
    uint64_t queue = (uint64_t) nslots * S_QUEUE_PER_SLOT;
    self->queue = (uint32_t) (queue < HD_MAX_BATCH ? queue : HD_MAX_BATCH);
    if (self->queue < nslots)
        self->queue = nslots;
    self->runner = hd_runner_new (nslots, 2 * self->queue + 16, self->fns, self->name,
                                  self->config.max_output);
    if (!self->runner)
        return HD_ENOMEM;
    hd_runner_set_keyring (self->runner, self->ring);
    uint32_t cap = hd_runner_capacity (self->runner);
    self->out_cap = cap < HD_MAX_BATCH ? cap : HD_MAX_BATCH;
    self->out_env = calloc (self->out_cap, sizeof (zmq_msg_t));
    self->out_data = calloc (self->out_cap, sizeof (zmq_msg_t));
    if (!self->out_env || !self->out_data) {
        self->out_cap = 0;
        return HD_ENOMEM;
    }
    for (uint32_t i = 0; i < self->out_cap; i++) {
        zmq_msg_init (&self->out_env[i]);
        zmq_msg_init (&self->out_data[i]);
    }
    s_measure_score (self);
    hd_err_t rc = s_connect (self);
    if (rc == HD_OK || rc == HD_ECLOSED)
        s_loop (self);
    if (!self->refused)
        s_send_simple (self, HD_CMD_BYE);
    hd_runner_destroy (&self->runner);  //  cancels running tasks and joins the slots
    if (self->refused)
        return HD_EDENIED;
    return rc == HD_ECLOSED ? HD_OK : rc;
}
