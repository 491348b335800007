/*  hd_metrics_pub: the worker's capacity publisher (hd_metrics_pub.h). The PUB socket keeps a
    small high-water mark: a snapshot that cannot leave soon is worthless, and a long backlog
    would reach a restarted broker as a burst of stale figures.  */
#include "hd_metrics_pub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec.h"
#include "hd_codec_metrics.h"
#include "hd_log.h"
#include "hd_sysinfo.h"
#include "hd_task.h"

#define S_DEFAULT_INTERVAL_MS 1000
#define S_PUB_HWM 4  //  snapshots queued at most while the broker is unreachable
#define S_FIRST_MS 250  //  first snapshot this long after connecting (at most one period)

struct hd_metrics_pub {
    char name[HD_MAX_NAME + 1];
    uint32_t interval_ms;
    double score;
    hd_sampler_t *sampler;
    zsock_t *pub;
    void *pub_raw;
    hd_buf_t env;
    uint64_t seq, sent;
    int64_t last_ms;  //  when the last snapshot was due; 0: none yet
};

hd_metrics_pub_t *
hd_metrics_pub_new (const char *name, const char *work_dir, uint32_t interval_ms, double score)
{
    hd_metrics_pub_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->name, sizeof self->name, "%s", name);
    self->interval_ms = interval_ms ? interval_ms : S_DEFAULT_INTERVAL_MS;
    self->score = score > 0 ? score : 0;
    self->sampler = hd_sampler_new (work_dir, "");
    if (!self->sampler) {
        free (self);
        return NULL;
    }
    //  The CPU share is a delta: a baseline now makes the first snapshot complete.
    hd_sysinfo_t baseline;
    hd_sampler_sample (self->sampler, hd_now_ms (), &baseline);
    return self;
}

void
hd_metrics_pub_destroy (hd_metrics_pub_t **self_p)
{
    hd_metrics_pub_t *self = *self_p;
    if (!self)
        return;
    hd_metrics_pub_disconnect (self);
    hd_sampler_destroy (&self->sampler);
    hd_buf_fini (&self->env);
    free (self);
    *self_p = NULL;
}

void
hd_metrics_pub_disconnect (hd_metrics_pub_t *self)
{
    zsock_destroy (&self->pub);
    self->pub_raw = NULL;
}

bool
hd_metrics_pub_is_connected (const hd_metrics_pub_t *self)
{
    return self->pub != NULL;
}

//  "tcp://HOST:PORT" -> "tcp://HOST:port". -1 when there is no host to keep.
static int
s_metrics_endpoint (char *out, size_t len, const char *broker_endpoint, uint32_t port)
{
    const char *host = strstr (broker_endpoint, "://");
    if (!host)
        return -1;
    host += 3;
    const char *colon = strrchr (host, ':');
    size_t host_len = colon && !strchr (colon, ']') ? (size_t) (colon - host) : strlen (host);
    if (host_len == 0)
        return -1;
    int n = snprintf (out, len, "tcp://%.*s:%u", (int) host_len, host, port);
    return n > 0 && (size_t) n < len ? 0 : -1;
}

hd_err_t
hd_metrics_pub_connect (hd_metrics_pub_t *self, const char *broker_endpoint, uint32_t port,
                        const hd_sockopts_t *opts, char *errbuf, size_t errlen)
{
    hd_metrics_pub_disconnect (self);
    if (port == 0 || port > 65535 || !hd_transport_is_tcp (broker_endpoint))
        return HD_OK;
    char endpoint[300];
    if (s_metrics_endpoint (endpoint, sizeof endpoint, broker_endpoint, port) != 0) {
        snprintf (errbuf, errlen, "no host in the broker endpoint %s", broker_endpoint);
        return HD_EINVAL;
    }
    hd_sockopts_t o = *opts;
    o.hwm = S_PUB_HWM;
    o.routing_id = NULL;
    o.handover = false;
    o.monitor_out = NULL;  //  the DEALER's monitor is the worker's; this PUB needs none
    hd_err_t rc = hd_transport_connect (&self->pub, ZMQ_PUB, endpoint, &o, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    self->pub_raw = zsock_resolve (self->pub);
    //  The first snapshot goes out soon, but not at once: the CPU share is a delta, and one
    //  over a few ms (the handshake) reads 0 % or nonsense.
    uint32_t first = self->interval_ms < S_FIRST_MS ? self->interval_ms : S_FIRST_MS;
    self->last_ms = hd_now_ms () - self->interval_ms + first;
    hd_info ("publishing capacity metrics to %s every %u ms", endpoint, self->interval_ms);
    return HD_OK;
}

static void
s_fill (hd_metrics_pub_t *self, int64_t now_ms, const hd_metrics_counts_t *counts, hd_metrics_t *m)
{
    memset (m, 0, sizeof *m);
    snprintf (m->name, sizeof m->name, "%s", self->name);
    m->seq = ++self->seq;
    m->present = HD_M_SLOTS | HD_M_BUSY | HD_M_DONE | HD_M_FAILED | HD_M_INTERVAL;
    m->slots = counts->slots;
    m->busy = counts->busy;
    m->done = counts->done;
    m->failed = counts->failed;
    m->interval_ms = self->interval_ms;
    if (self->score > 0) {
        m->present |= HD_M_SCORE;
        m->score = self->score;
    }
    hd_sampler_sample (self->sampler, now_ms, &m->sys);
}

hd_err_t
hd_metrics_pub_tick (hd_metrics_pub_t *self, int64_t now_ms, const hd_metrics_counts_t *counts)
{
    if (!self->pub_raw || hd_metrics_pub_due_in (self, now_ms) > 0)
        return HD_OK;
    //  Keep the period steady: a late tick does not shift every later snapshot.
    self->last_ms = self->last_ms && now_ms - self->last_ms < 2 * (int64_t) self->interval_ms
                        ? self->last_ms + self->interval_ms
                        : now_ms;
    hd_metrics_t m;
    s_fill (self, now_ms, counts, &m);
    hd_err_t rc = hd_codec_encode_metrics (&self->env, &m);
    if (rc != HD_OK) {
        hd_warn ("cannot encode a metrics snapshot: %s", hd_strerror (rc));
        return rc;
    }
    uint8_t header[HD_HEADER_BYTES];
    hd_codec_metrics_header (header);
    //  PUB never blocks: at the high-water mark the message is dropped, which is what a lossy
    //  hint should do.
    if (hd_send_frame (self->pub_raw, header, sizeof header, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0 &&
        hd_send_frame (self->pub_raw, self->env.data, self->env.size, ZMQ_DONTWAIT) == 0)
        self->sent++;
    return HD_OK;
}

int64_t
hd_metrics_pub_due_in (const hd_metrics_pub_t *self, int64_t now_ms)
{
    if (!self->pub_raw)
        return -1;
    if (!self->last_ms)
        return 0;
    int64_t due = self->last_ms + self->interval_ms - now_ms;
    return due > 0 ? due : 0;
}

uint64_t
hd_metrics_pub_sent (const hd_metrics_pub_t *self)
{
    return self->sent;
}
