/*  hd_client_events: libheddle's subscriber to the broker's events PUB socket (node joined, left,
    lost, draining, resumed; a "stats" event every second), for displays such as `heddle top`.
    A SUB socket on the host of the client endpoint, with the client's keys. Lossy by nature:
    an event missed is not resent, and no answer is not an error, only silence.  */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_client.h"
#include "hd_codec_nodes.h"
#include "hd_frames.h"
#include "hd_keys.h"
#include "hd_transport.h"

#define S_DEFAULT_PORT 7703

struct hd_events {
    zsock_t *sub;
    zcert_t *cert;
    hd_frames_t in;
};

void
hd_events_destroy (hd_events_t **self_p)
{
    hd_events_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->sub);
    zcert_destroy (&self->cert);
    hd_frames_fini (&self->in);
    free (self);
    *self_p = NULL;
}

//  CURVE options of the subscriber: the client's certificate and the broker's public key, from
//  the same places hd_client_connect reads them.
static hd_err_t
s_keys (hd_events_t *self, const hd_client_config_t *c, hd_sockopts_t *o, char *errbuf,
        size_t errlen)
{
    char path[PATH_MAX], bpath[PATH_MAX];
    const char *cert = c->cert_path, *broker = c->broker_key;
    if ((!cert || !broker) && !c->keys_dir) {
        snprintf (errbuf, errlen,
                  "no keys: give a keys directory (see `heddle keys init`) or "
                  "use insecure");
        return HD_ECRYPTO;
    }
    if (!cert)
        cert = hd_keys_path (path, sizeof path, c->keys_dir, "client.cert_secret");
    if (!broker)
        broker = hd_keys_path (bpath, sizeof bpath, c->keys_dir, "broker.cert");
    hd_err_t rc = hd_keys_load_secret_checked (cert, c->keys_dir, c->insecure_key_perms,
                                               &self->cert, errbuf, errlen);
    if (rc == HD_OK)
        rc = hd_keys_load_public (broker, o->server_key, errbuf, errlen);
    o->cert = self->cert;
    return rc;
}

//  "tcp://HOST:PORT" (the clients endpoint) -> "tcp://HOST:port". -1 when there is no host.
static int
s_events_endpoint (char *out, size_t len, const char *clients, uint16_t port)
{
    const char *host = clients + strlen ("tcp://");
    const char *colon = strrchr (host, ':');
    size_t host_len = colon && !strchr (colon, ']') ? (size_t) (colon - host) : strlen (host);
    if (host_len == 0 || (host_len == 1 && host[0] == '*'))
        return -1;
    int n = snprintf (out, len, "tcp://%.*s:%u", (int) host_len, host, port);
    return n > 0 && (size_t) n < len ? 0 : -1;
}

static hd_err_t
s_open (hd_events_t *self, const hd_client_config_t *config, uint16_t port, char *errbuf,
        size_t errlen)
{
    char clients[256], endpoint[300];
    hd_transport_endpoint (clients, sizeof clients, config->endpoint, HD_CLIENT_PORT);
    if (!hd_transport_is_tcp (clients)) {
        snprintf (errbuf, errlen, "events need a TCP broker (%s has none)", clients);
        return HD_EINVAL;
    }
    if (s_events_endpoint (endpoint, sizeof endpoint, clients, port ? port : S_DEFAULT_PORT)) {
        snprintf (errbuf, errlen, "no host in the broker endpoint %s", clients);
        return HD_EINVAL;
    }
    hd_sockopts_t o = { .insecure = config->insecure, .hwm = 1000 };
    hd_err_t rc = config->insecure ? HD_OK : s_keys (self, config, &o, errbuf, errlen);
    if (rc == HD_OK)
        rc = hd_frames_init (&self->in, 4);
    if (rc == HD_OK)
        rc = hd_transport_connect (&self->sub, ZMQ_SUB, endpoint, &o, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    uint8_t topic[HD_HEADER_BYTES] = { HD_PROTO_SIG0, HD_PROTO_SIG1, HD_PROTO_VERSION,
                                       HD_CMD_EVENT };
    zmq_setsockopt (zsock_resolve (self->sub), ZMQ_SUBSCRIBE, topic, sizeof topic);
    return HD_OK;
}

hd_err_t
hd_events_open (const hd_client_config_t *config, uint16_t port, hd_events_t **out, char *errbuf,
                size_t errlen)
{
    char scratch[1];
    if (!errbuf) {
        errbuf = scratch;
        errlen = sizeof scratch;
    }
    errbuf[0] = 0;
    *out = NULL;
    if (!config || !config->endpoint) {
        snprintf (errbuf, errlen, "no broker endpoint");
        return HD_EINVAL;
    }
    hd_events_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    hd_err_t rc = s_open (self, config, port, errbuf, errlen);
    if (rc != HD_OK) {
        hd_events_destroy (&self);
        return rc;
    }
    *out = self;
    return HD_OK;
}

static void
s_copy_event (const hd_event_t *e, hd_event_info_t *out)
{
    memset (out, 0, sizeof *out);
    snprintf (out->type, sizeof out->type, "%s", e->type);
    snprintf (out->node, sizeof out->node, "%s", e->node);
    snprintf (out->state, sizeof out->state, "%s", e->state);
    snprintf (out->text, sizeof out->text, "%s", e->text);
    out->queued = e->queued;
    out->running = e->running;
    out->done = e->done;
    out->failed = e->failed;
    out->rate = e->rate;
}

//  Decode the message in self->in. HD_OK, or HD_EPROTO for anything that is not one EVENT.
static hd_err_t
s_decode (hd_events_t *self, hd_event_info_t *out)
{
    hd_frames_t *in = &self->in;
    const uint8_t *h = hd_frames_data (in, 0);
    if (in->truncated || in->count != 2 || hd_frames_size (in, 0) != HD_HEADER_BYTES ||
        h[0] != HD_PROTO_SIG0 || h[1] != HD_PROTO_SIG1 || h[3] != HD_CMD_EVENT)
        return HD_EPROTO;
    hd_event_t e;
    if (hd_codec_decode_event (hd_frames_data (in, 1), hd_frames_size (in, 1), &e) != HD_OK)
        return HD_EPROTO;
    s_copy_event (&e, out);
    return HD_OK;
}

hd_err_t
hd_events_next (hd_events_t *self, int timeout_ms, hd_event_info_t *out)
{
    void *sock = zsock_resolve (self->sub);
    int64_t deadline = zclock_mono () + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int64_t left = timeout_ms < 0 ? -1 : deadline - zclock_mono ();
        zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
        int n = zmq_poll (&item, 1, left < 0 && timeout_ms >= 0 ? 0 : (long) left);
        if (n < 0)
            return HD_ECLOSED;  //  interrupted
        if (n == 0)
            return HD_ETIMEDOUT;
        hd_err_t rc = hd_frames_recv (&self->in, sock, ZMQ_DONTWAIT);
        if (rc == HD_OK)
            rc = s_decode (self, out);
        hd_frames_clear (&self->in);
        if (rc == HD_OK)
            return HD_OK;
        //  A malformed event is skipped: a display has nothing better to do with it.
    }
}
