/*  hd-scale: scale and memory probes of a heddle broker, all from one process, for
    scripts/bench-scale. Default mode: N simulated workers, each its own CURVE DEALER (the keys
    dir's worker key, routing id and node name "sim-K"), offering "noop" alone and answering
    every TASK pair at once with a DONE pair (status 0, empty payload). --idle: they join and
    never answer. --submit N: a client that queues N tasks and waits until the broker accepted
    them all. Loopback only, bounded by --seconds. Speaks the wire protocol through lib/
    (codec, transport, keys) and the public client API; knows nothing of the broker's insides.  */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hd_client.h"
#include "hd_codec.h"
#include "hd_frames.h"
#include "hd_keys.h"
#include "hd_transport.h"

#define S_PROG "hd-scale"
#define S_FN "noop"
#define S_LOOPBACK "tcp://127.0.0.1:"
#define S_MAX_WORKERS 1000
#define S_MAX_THREADS 16
#define S_BURST 64             //  messages read from one socket per wake-up
#define S_TICK_MS 100          //  poll timeout: heartbeats and the deadline are checked this often
#define S_REHELLO_S 5.0        //  HELLO again when no WELCOME came in this long
#define S_SUBMIT_AHEAD 100000  //  submitted but not yet accepted, at most (see s_submit_all)
#define S_SUBMIT_CHECK 10000   //  tasks submitted between two looks at that count

typedef struct {
    const char *broker, *keys;
    uint32_t workers, slots, seconds, threads;
    bool idle;
    bool zmq_poll;          //  wait with zmq_poll over every socket instead of epoll
    uint32_t submit, size;  //  submit mode when submit > 0
} s_config_t;

//  One simulated worker: its socket and what the protocol needs it to remember.
typedef struct {
    zsock_t *sock;
    void *raw;
    char name[HD_MAX_NAME + 1];
    bool joined;
    uint32_t hb_ms;    //  from WELCOME
    double last_sent;  //  for HEARTBEAT after hb_ms of silence
    double hello_sent;
    int fd;        //  ZMQ_FD, in the group's epoll set
    bool pending;  //  in the group's pending list
} s_sim_t;

//  The workers one thread owns, waited on together: by default an epoll set of their ZMQ_FDs,
//  so a wake-up costs what the active sockets cost; with --zmq-poll one zmq_poll over all,
//  which asks every socket for its events on every call.
typedef struct {
    const s_config_t *cfg;
    s_sim_t *sims;
    uint32_t count;
    zmq_pollitem_t *items;
    int epfd;
    uint32_t *pending, *work;  //  sockets to look at without waiting for their descriptor
    uint32_t npending;
    hd_frames_t in;
    hd_buf_t env;
    hd_task_t *tasks;  //  HD_MAX_BATCH decoded TASK envelopes
    hd_result_t result;
    uint64_t answered, task_messages, messages, errors;
    pthread_t thread;
} s_group_t;

static atomic_uint s_joined;  //  workers that got their WELCOME, across every group

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static bool
s_is_loopback (const char *endpoint)
{
    return strncmp (endpoint, S_LOOPBACK, strlen (S_LOOPBACK)) == 0;
}

//  ZMQ_FD signals an edge, not a level: a send may process the command that would have woken
//  the descriptor, leaving a message readable that epoll will never report. Such a socket, and
//  one left with messages after S_BURST, is read on the next turn without waiting.
static void
s_mark_pending (s_group_t *self, s_sim_t *sim)
{
    if (!sim->pending) {
        sim->pending = true;
        self->pending[self->npending++] = (uint32_t) (sim - self->sims);
    }
}

//  --- sending --------------------------------------------------------------------------------

//  Every send is ZMQ_DONTWAIT: a DEALER whose broker is gone blocks a plain send forever, and
//  this program must end by its deadline. libzmq takes the later parts of a message once it
//  took the first, so a refused send loses one whole message, never half of one.
#define S_SEND (ZMQ_DONTWAIT | ZMQ_SNDMORE)

//  [header][env] where env is the group's buffer, outside the read loop of this socket.
static void
s_send_env (s_group_t *self, s_sim_t *sim, uint8_t cmd)
{
    if (hd_send_header (sim->raw, cmd, S_SEND) == 0 &&
        hd_send_frame (sim->raw, self->env.data, self->env.size, ZMQ_DONTWAIT) == 0)
        sim->last_sent = s_now ();
    s_mark_pending (self, sim);
}

static void
s_send_hello (s_group_t *self, s_sim_t *sim)
{
    hd_hello_t *hello = calloc (1, sizeof *hello);  //  ~9 KB, sent once per worker
    if (!hello)
        return;
    snprintf (hello->name, sizeof hello->name, "%s", sim->name);
    hello->slots = self->cfg->slots;
    hello->cores = 1;
    hello->nfns = 1;
    snprintf (hello->fns[0], sizeof hello->fns[0], "%s", S_FN);
    if (hd_codec_encode_hello (&self->env, hello) == HD_OK)
        s_send_env (self, sim, HD_CMD_HELLO);
    sim->hello_sent = s_now ();
    free (hello);
}

static void
s_send_empty (s_group_t *self, s_sim_t *sim, uint8_t cmd)
{
    if (hd_codec_encode_empty (&self->env) == HD_OK)
        s_send_env (self, sim, cmd);
}

//  One DONE message answering the `n` decoded tasks, in their order. An envelope that cannot be
//  encoded (out of memory) still gets a frame, empty, so the message stays well formed.
static void
s_send_done (s_group_t *self, s_sim_t *sim, uint32_t n)
{
    if (hd_send_header (sim->raw, HD_CMD_DONE, S_SEND) != 0) {
        self->errors++;
        return;
    }
    memcpy (self->result.node, sim->name, sizeof self->result.node);
    for (uint32_t k = 0; k < n; k++) {
        self->result.id = self->tasks[k].id;
        self->result.attempt = self->tasks[k].attempt;
        if (hd_codec_encode_result (&self->env, &self->result) != HD_OK)
            hd_buf_reset (&self->env);
        if (hd_send_frame (sim->raw, self->env.data, self->env.size, S_SEND) != 0 ||
            hd_send_frame (sim->raw, "", 0, k + 1 < n ? S_SEND : ZMQ_DONTWAIT) != 0)
            return;
    }
    sim->last_sent = s_now ();
    self->answered += n;
}

//  --- receiving ------------------------------------------------------------------------------

static void
s_on_task (s_group_t *self, s_sim_t *sim)
{
    hd_frames_t *in = &self->in;
    if (in->truncated || in->count < 3 || in->count % 2 == 0) {
        self->errors++;
        return;
    }
    uint32_t n = 0;
    self->task_messages++;
    for (size_t i = 1; i + 1 < in->count; i += 2)
        if (hd_codec_decode_task (hd_frames_data (in, i), hd_frames_size (in, i),
                                  &self->tasks[n]) == HD_OK)
            n++;
        else
            self->errors++;
    if (n && !self->cfg->idle)
        s_send_done (self, sim, n);
}

static void
s_on_welcome (s_group_t *self, s_sim_t *sim)
{
    hd_welcome_t w;
    if (self->in.count != 2 ||
        hd_codec_decode_welcome (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1),
                                 &w) != HD_OK) {
        self->errors++;
        return;
    }
    sim->hb_ms = w.heartbeat_ms ? w.heartbeat_ms : 1000;
    if (!sim->joined) {
        sim->joined = true;
        atomic_fetch_add (&s_joined, 1);
    }
}

//  ERROR DENIED after a broker restart or a loss: the broker wants a new HELLO.
static void
s_on_error (s_group_t *self, s_sim_t *sim)
{
    hd_error_t e;
    self->errors++;
    if (self->in.count != 2 || hd_codec_decode_error (hd_frames_data (&self->in, 1),
                                                      hd_frames_size (&self->in, 1), &e) != HD_OK)
        return;
    if (self->errors <= 5)
        fprintf (stderr, S_PROG ": %s: broker says %u: %s\n", sim->name, e.code, e.reason);
    if (e.code == HD_ST_DENIED && strstr (e.reason, "HELLO")) {
        if (sim->joined)
            atomic_fetch_sub (&s_joined, 1);
        sim->joined = false;
        s_send_hello (self, sim);
    }
}

//  BEAT, ABORT and DRAIN need nothing: every task is answered the moment it arrives.
static void
s_on_message (s_group_t *self, s_sim_t *sim)
{
    uint8_t version, cmd;
    self->messages++;
    if (self->in.count < 2 ||
        hd_codec_parse_header (hd_frames_data (&self->in, 0), hd_frames_size (&self->in, 0),
                               &version, &cmd) != HD_OK) {
        self->errors++;
        return;
    }
    switch (cmd) {
        case HD_CMD_TASK: s_on_task (self, sim); break;
        case HD_CMD_WELCOME: s_on_welcome (self, sim); break;
        case HD_CMD_ERROR: s_on_error (self, sim); break;
        default: break;
    }
}

//  Read until the socket is empty (the last, failed read lets libzmq re-arm ZMQ_FD), or
//  S_BURST messages so one busy worker does not starve the others.
static void
s_drain (s_group_t *self, s_sim_t *sim)
{
    int n = 0;
    while (hd_frames_recv (&self->in, sim->raw, ZMQ_DONTWAIT) == HD_OK) {
        s_on_message (self, sim);
        if (++n == S_BURST) {
            s_mark_pending (self, sim);
            break;
        }
    }
    hd_frames_clear (&self->in);
}

static void
s_drain_pending (s_group_t *self)
{
    uint32_t n = self->npending;
    memcpy (self->work, self->pending, n * sizeof *self->work);
    self->npending = 0;
    for (uint32_t k = 0; k < n; k++) {
        self->sims[self->work[k]].pending = false;
        s_drain (self, &self->sims[self->work[k]]);
    }
}

//  Wait up to S_TICK_MS (not at all when sockets are pending) and read what arrived.
static void
s_wait_and_read (s_group_t *self)
{
    int timeout = self->npending ? 0 : S_TICK_MS;
    if (self->cfg->zmq_poll) {
        if (zmq_poll (self->items, (int) self->count, timeout) > 0)
            for (uint32_t i = 0; i < self->count; i++)
                if (self->items[i].revents & ZMQ_POLLIN)
                    s_drain (self, &self->sims[i]);
    } else {
        struct epoll_event ev[256];
        int n = epoll_wait (self->epfd, ev, 256, timeout);
        for (int i = 0; i < n; i++)
            s_drain (self, &self->sims[ev[i].data.u32]);
    }
    s_drain_pending (self);
}

//  HEARTBEAT after hb_ms without sending; HELLO again when the WELCOME is late.
static void
s_keepalive (s_group_t *self, double now)
{
    for (uint32_t i = 0; i < self->count; i++) {
        s_sim_t *sim = &self->sims[i];
        if (!sim->joined && now - sim->hello_sent >= S_REHELLO_S)
            s_send_hello (self, sim);
        else if (sim->joined && (now - sim->last_sent) * 1000.0 >= sim->hb_ms)
            s_send_empty (self, sim, HD_CMD_HEARTBEAT);
    }
}

static void *
s_group_main (void *arg)
{
    s_group_t *self = arg;
    double deadline = s_now () + self->cfg->seconds, next_tick = 0;
    for (uint32_t i = 0; i < self->count; i++)
        s_send_hello (self, &self->sims[i]);
    while (!zsys_interrupted) {
        double now = s_now ();
        if (now >= deadline)
            break;
        if (now >= next_tick) {
            s_keepalive (self, now);
            next_tick = now + S_TICK_MS / 1000.0;
        }
        s_wait_and_read (self);
    }
    for (uint32_t i = 0; i < self->count; i++)
        s_send_empty (self, &self->sims[i], HD_CMD_BYE);
    return NULL;
}

//  --- set-up ---------------------------------------------------------------------------------

//  The worker certificate (caller destroys) and the broker's public key into o.
static int
s_worker_keys (const s_config_t *cfg, hd_sockopts_t *o, zcert_t **cert)
{
    char path[PATH_MAX], err[256];
    hd_keys_path (path, sizeof path, cfg->keys, "worker.cert_secret");
    if (hd_keys_load_secret (path, cert, err, sizeof err) == HD_OK) {
        hd_keys_path (path, sizeof path, cfg->keys, "broker.cert");
        if (hd_keys_load_public (path, o->server_key, err, sizeof err) == HD_OK) {
            o->cert = *cert;
            return 0;
        }
        zcert_destroy (cert);
    }
    fprintf (stderr, S_PROG ": %s\n", err);
    return -1;
}

static int
s_connect_sims (s_sim_t *sims, zmq_pollitem_t *items, const s_config_t *cfg)
{
    hd_sockopts_t o = { .hwm = 0 };
    zcert_t *cert = NULL;
    if (s_worker_keys (cfg, &o, &cert) != 0)
        return -1;
    int rc = 0;
    for (uint32_t k = 0; rc == 0 && k < cfg->workers; k++) {
        s_sim_t *sim = &sims[k];
        char err[256] = "";
        snprintf (sim->name, sizeof sim->name, "sim-%u", k + 1);
        o.routing_id = sim->name;  //  the broker knows a worker by its routing id
        if (hd_transport_connect (&sim->sock, ZMQ_DEALER, cfg->broker, &o, err, sizeof err) !=
            HD_OK) {
            fprintf (stderr, S_PROG ": %s: %s\n", sim->name, err);
            rc = -1;
            break;
        }
        sim->raw = zsock_resolve (sim->sock);
        sim->hb_ms = 1000;
        size_t len = sizeof sim->fd;
        zmq_getsockopt (sim->raw, ZMQ_FD, &sim->fd, &len);
        items[k] = (zmq_pollitem_t){ sim->raw, 0, ZMQ_POLLIN, 0 };
    }
    zcert_destroy (&cert);  //  libzmq copied the keys
    return rc;
}

//  Group g owns a contiguous share of the sockets.
static int
s_group_init (s_group_t *g, const s_config_t *cfg, s_sim_t *sims, zmq_pollitem_t *items,
              uint32_t g_index)
{
    uint32_t per = cfg->workers / cfg->threads, extra = cfg->workers % cfg->threads;
    uint32_t first = g_index * per + (g_index < extra ? g_index : extra);
    *g = (s_group_t){
        .cfg = cfg, .sims = sims + first, .items = items + first, .count = per + (g_index < extra)
    };
    g->result.status = HD_ST_OK;
    g->epfd = epoll_create1 (EPOLL_CLOEXEC);
    g->tasks = calloc (HD_MAX_BATCH, sizeof *g->tasks);
    g->pending = calloc (g->count, sizeof *g->pending);
    g->work = calloc (g->count, sizeof *g->work);
    if (g->epfd < 0 || !g->tasks || !g->pending || !g->work ||
        hd_frames_init (&g->in, 2 * HD_MAX_BATCH + 1) != HD_OK)
        return -1;
    for (uint32_t i = 0; i < g->count; i++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
        if (epoll_ctl (g->epfd, EPOLL_CTL_ADD, g->sims[i].fd, &ev) != 0)
            return -1;
    }
    return 0;
}

//  Harmless on a zeroed group (epfd 0 is never ours: stdin stays open).
static void
s_group_fini (s_group_t *g)
{
    if (g->epfd > 0)
        close (g->epfd);
    hd_frames_fini (&g->in);
    hd_buf_fini (&g->env);
    free (g->tasks);
    free (g->pending);
    free (g->work);
}

//  A thread that cannot start stops the others (through the interrupt flag): 0 or -1.
static int
s_run_groups (s_group_t *groups, uint32_t threads)
{
    uint32_t started = 0;
    while (started < threads &&
           pthread_create (&groups[started].thread, NULL, s_group_main, &groups[started]) == 0)
        started++;
    if (started < threads) {
        fprintf (stderr, S_PROG ": cannot start thread %u of %u\n", started + 1, threads);
        zsys_interrupted = 1;
    }
    for (uint32_t t = 0; t < started; t++)
        pthread_join (groups[t].thread, NULL);
    return started == threads ? 0 : -1;
}

static void
s_report (const s_group_t *groups, uint32_t threads, const s_config_t *cfg, double seconds)
{
    uint64_t answered = 0, task_messages = 0, messages = 0, errors = 0;
    for (uint32_t t = 0; t < threads; t++) {
        answered += groups[t].answered;
        task_messages += groups[t].task_messages;
        messages += groups[t].messages;
        errors += groups[t].errors;
    }
    //  scripts/bench-scale reads "N tasks answered in M TASK messages".
    fprintf (stderr,
             S_PROG ": %u workers (%u joined), %u thread(s): %llu tasks answered in %llu TASK "
                    "messages, %llu messages received, %llu errors, %.1f s\n",
             cfg->workers, atomic_load (&s_joined), threads, (unsigned long long) answered,
             (unsigned long long) task_messages, (unsigned long long) messages,
             (unsigned long long) errors, seconds);
}

static int
s_run_workers (const s_config_t *cfg)
{
    s_sim_t *sims = calloc (cfg->workers, sizeof *sims);
    zmq_pollitem_t *items = calloc (cfg->workers, sizeof *items);
    s_group_t *groups = calloc (cfg->threads, sizeof *groups);
    int rc = sims && items && groups ? s_connect_sims (sims, items, cfg) : -1;
    for (uint32_t t = 0; rc == 0 && t < cfg->threads; t++)
        rc = s_group_init (&groups[t], cfg, sims, items, t);
    double start = s_now ();
    if (rc == 0) {
        rc = s_run_groups (groups, cfg->threads);
        s_report (groups, cfg->threads, cfg, s_now () - start);
    }
    for (uint32_t t = 0; groups && t < cfg->threads; t++)
        s_group_fini (&groups[t]);
    for (uint32_t k = 0; sims && k < cfg->workers; k++)
        zsock_destroy (&sims[k].sock);
    free (groups);
    free (items);
    free (sims);
    return rc == 0 ? 0 : 1;
}

//  --- submit mode ----------------------------------------------------------------------------

//  Every answer in submit mode is a refusal (BUSY, ...): the idle worker completes nothing.
static void
s_on_reply (hd_client_t *client, hd_reply_t *reply, void *arg)
{
    (void) client;
    uint64_t *refused = arg;
    (*refused)++;
    hd_reply_destroy (&reply);
}

//  Wait until at most `left` submitted tasks are not yet ACCEPTED, or the deadline. 0 or -1.
static int
s_wait_accepted (hd_client_t *client, uint32_t left, double deadline)
{
    while (hd_client_unaccepted (client) > left) {
        if (zsys_interrupted || s_now () >= deadline)
            return -1;
        if (hd_client_process (client, S_TICK_MS, NULL) != HD_OK)
            return -1;
    }
    return 0;
}

//  The library resends a task not ACCEPTED within 3 s, one message per task. Queuing a million
//  tasks at once would trigger that for most of them, and the resends would sit in the broker's
//  socket buffers during the measurement; staying S_SUBMIT_AHEAD ahead of the broker avoids it.
//  hd_client_unaccepted walks every task in flight, so it is asked every S_SUBMIT_CHECK tasks.
static int
s_submit_all (hd_client_t *client, const s_config_t *cfg, const void *payload, double deadline)
{
    for (uint32_t i = 0; i < cfg->submit; i++) {
        if (i % S_SUBMIT_CHECK == 0 && i >= S_SUBMIT_AHEAD &&
            (hd_client_flush (client) != HD_OK ||
             s_wait_accepted (client, S_SUBMIT_AHEAD - S_SUBMIT_CHECK, deadline) != 0))
            return -1;
        if (hd_client_submit (client, S_FN, payload, cfg->size, NULL, i, NULL) != HD_OK)
            return -1;
    }
    if (hd_client_flush (client) != HD_OK)
        return -1;
    return s_wait_accepted (client, 0, deadline);
}

static int
s_run_submit (const s_config_t *cfg)
{
    hd_client_config_t cc = { .endpoint = cfg->broker,
                              .keys_dir = cfg->keys,
                              .window = cfg->submit };
    hd_client_t *client = NULL;
    char err[256] = "";
    if (hd_client_connect_verbose (&cc, &client, err, sizeof err) != HD_OK) {
        fprintf (stderr, S_PROG ": %s\n", err);
        return 1;
    }
    uint64_t refused = 0;
    hd_client_set_handler (client, s_on_reply, &refused);
    void *payload = malloc (cfg->size ? cfg->size : 1);
    int rc = -1;
    double start = s_now ();
    if (payload) {
        memset (payload, 'x', cfg->size);
        rc = s_submit_all (client, cfg, payload, start + cfg->seconds);
    }
    if (rc != 0)
        fprintf (stderr, S_PROG ": submit stopped: %s (%u not accepted)\n",
                 hd_client_last_error (client), hd_client_unaccepted (client));
    else
        printf ("done %u tasks of %u B accepted in %.2f s, %llu refused\n", cfg->submit, cfg->size,
                s_now () - start, (unsigned long long) refused);
    free (payload);
    hd_client_destroy (&client);
    return rc == 0 && refused == 0 ? 0 : 1;
}

//  --- command line ---------------------------------------------------------------------------

static void
s_help (void)
{
    printf ("Usage: " S_PROG " --broker EP --keys DIR [OPTIONS]\n"
            "Simulate many heddle workers from one process, or submit many tasks.\n\n"
            "  -b, --broker EP      workers endpoint (clients endpoint with --submit);\n"
            "                       tcp://127.0.0.1:PORT only\n"
            "  -k, --keys DIR       keys directory from `heddle keys init`\n"
            "  -n, --workers N      simulated workers, 1..%d (default 1)\n"
            "  -s, --slots S        slots each worker announces (default 1)\n"
            "  -t, --seconds T      hard time limit (default 60)\n"
            "      --threads T      threads sharing the workers' sockets, 1..%d (default 1)\n"
            "      --zmq-poll       wait with one zmq_poll over every socket (default: epoll\n"
            "                       on their ZMQ_FDs, which costs only the active sockets)\n"
            "      --idle           join and never answer a TASK\n"
            "      --submit N       instead: queue N '" S_FN "' tasks as a client, wait until\n"
            "                       all are ACCEPTED, print 'done ...'\n"
            "      --size B         payload bytes of each submitted task (default 64)\n"
            "  -h, --help           this text\n",
            S_MAX_WORKERS, S_MAX_THREADS);
}

static int
s_parse_u32 (const char *opt, const char *arg, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull (arg, &end, 10);
    if (end == arg || *end || arg[0] == '-' || v < min || v > max) {
        fprintf (stderr, S_PROG ": %s wants %u to %u, not '%s'\n", opt, min, max, arg);
        return -1;
    }
    *out = (uint32_t) v;
    return 0;
}

static int
s_parse_one (s_config_t *cfg, int c, const char *arg)
{
    switch (c) {
        case 'b': cfg->broker = arg; return 0;
        case 'k': cfg->keys = arg; return 0;
        case 'n': return s_parse_u32 ("--workers", arg, 1, S_MAX_WORKERS, &cfg->workers);
        case 's': return s_parse_u32 ("--slots", arg, 1, 1024, &cfg->slots);
        case 't': return s_parse_u32 ("--seconds", arg, 1, 3600, &cfg->seconds);
        case 'T': return s_parse_u32 ("--threads", arg, 1, S_MAX_THREADS, &cfg->threads);
        case 'i': cfg->idle = true; return 0;
        case 'P': cfg->zmq_poll = true; return 0;
        case 'S': return s_parse_u32 ("--submit", arg, 1, 10000000, &cfg->submit);
        case 'z': return s_parse_u32 ("--size", arg, 0, 1u << 20, &cfg->size);
        default: return -1;
    }
}

//  0: run; 1: --help shown; -1: bad usage (said why).
static int
s_parse_args (s_config_t *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "broker", required_argument, NULL, 'b' },  { "keys", required_argument, NULL, 'k' },
        { "workers", required_argument, NULL, 'n' }, { "slots", required_argument, NULL, 's' },
        { "seconds", required_argument, NULL, 't' }, { "threads", required_argument, NULL, 'T' },
        { "idle", no_argument, NULL, 'i' },          { "submit", required_argument, NULL, 'S' },
        { "size", required_argument, NULL, 'z' },    { "help", no_argument, NULL, 'h' },
        { "zmq-poll", no_argument, NULL, 'P' },      { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "b:k:n:s:t:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            s_help ();
            return 1;
        }
        if (s_parse_one (cfg, c, optarg) != 0)
            return -1;
    }
    if (optind < argc || !cfg->broker || !cfg->keys || cfg->threads > cfg->workers) {
        fprintf (stderr, S_PROG ": needs --broker and --keys, no extra arguments, and no more "
                                "threads than workers (try --help)\n");
        return -1;
    }
    if (!s_is_loopback (cfg->broker)) {
        fprintf (stderr, S_PROG ": %s is not " S_LOOPBACK "PORT: load stays on loopback\n",
                 cfg->broker);
        return -1;
    }
    return 0;
}

//  One socket per worker: raise libzmq's socket limit (czmq's default is 1024) and the file
//  limit (each socket holds a mailbox descriptor beside its TCP connection).
static void
s_raise_limits (uint32_t workers)
{
    zsys_set_max_sockets (workers + 64);
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
    }
}

int
main (int argc, char **argv)
{
    s_config_t cfg = { .workers = 1, .slots = 1, .seconds = 60, .threads = 1, .size = 64 };
    int rc = s_parse_args (&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    s_raise_limits (cfg.workers);
    return cfg.submit ? s_run_submit (&cfg) : s_run_workers (&cfg);
}
