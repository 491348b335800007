/*  hd_transport: every heddle socket is made here, so the security and reliability options are
    set in one place and cannot be forgotten by one caller.  */
#include "hd_transport.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hd_codec.h"
#include "hd_log.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93  //  draft option in libzmq 4.3; Debian's build has it
#endif

void
hd_transport_endpoint (char *out, size_t outlen, const char *spec, int default_port)
{
    if (!spec || !*spec)
        spec = "*";
    if (strstr (spec, "://")) {
        snprintf (out, outlen, "%s", spec);
        return;
    }
    const char *colon = strrchr (spec, ':');
    if (colon && colon[1] && !strchr (colon + 1, ']'))
        snprintf (out, outlen, "tcp://%s", spec);
    else
        snprintf (out, outlen, "tcp://%s:%d", spec, default_port);
}

bool
hd_transport_is_tcp (const char *endpoint)
{
    return strncmp (endpoint, "tcp://", 6) == 0;
}

bool
hd_transport_session_valid (const char *id, size_t len)
{
    if (!id || !len || len > HD_SESSION_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (id[i] < 0x21 || id[i] > 0x7e)
            return false;
    return true;
}

void
hd_transport_client_rid (char out[HD_CLIENT_RID_TEXT])
{
    uint8_t rnd[16];
    randombytes_buf (rnd, sizeof rnd);
    static const char digits[] = "0123456789abcdef";
    out[0] = 'r';
    out[1] = '-';
    for (size_t i = 0; i < sizeof rnd; i++) {
        out[2 + 2 * i] = digits[rnd[i] >> 4];
        out[3 + 2 * i] = digits[rnd[i] & 15];
    }
    out[HD_CLIENT_RID_TEXT - 1] = 0;
}

//  ZMQ_METADATA (libzmq 4.3, built in Debian's package; its number is stable).
#ifndef ZMQ_METADATA
#    define ZMQ_METADATA 95
#endif

hd_err_t
hd_transport_claim (zsock_t *sock, const char *session, char *errbuf, size_t errlen)
{
    if (!hd_transport_session_valid (session, strlen (session))) {
        snprintf (errbuf, errlen, "invalid session id '%.64s': 1 to %d visible ASCII characters",
                  session, HD_SESSION_MAX);
        return HD_EINVAL;
    }
    char prop[sizeof HD_SESSION_PROPERTY + HD_SESSION_MAX + 1];
    int n = snprintf (prop, sizeof prop, "%s:%s", HD_SESSION_PROPERTY, session);
    if (zmq_setsockopt (zsock_resolve (sock), ZMQ_METADATA, prop, (size_t) n) != 0) {
        snprintf (errbuf, errlen, "libzmq refuses ZMQ_METADATA (%s): heddle needs libzmq 4.3 "
                  "or later", zmq_strerror (zmq_errno ()));
        return HD_EIO;
    }
    return HD_OK;
}

static void
s_common_options (zsock_t *sock, int type, const hd_sockopts_t *o)
{
    int hwm = o->hwm ? o->hwm : 100000;
    zsock_set_sndhwm (sock, o->sndhwm ? o->sndhwm : hwm);
    zsock_set_rcvhwm (sock, hwm);
    zsock_set_linger (sock, 0);
    if (o->max_msg_size > 0)
        zsock_set_maxmsgsize (sock, (int) o->max_msg_size);
    if (o->handshake_ms > 0)
        zsock_set_handshake_ivl (sock, o->handshake_ms);
    if (type == ZMQ_ROUTER) {
        //  An unroutable message is an error we count, never a silent drop. With mandatory
        //  routing a send to a peer whose queue is full would block the broker's only thread
        //  until that peer reads: it fails at once instead (EAGAIN), like an unroutable one.
        zsock_set_router_mandatory (sock, 1);
        zsock_set_sndtimeo (sock, 0);
        if (o->handover)
            zsock_set_router_handover (sock, 1);
    }
    if (o->routing_id)
        zmq_setsockopt (zsock_resolve (sock), ZMQ_ROUTING_ID, o->routing_id,
                        strlen (o->routing_id));
}

static hd_err_t
s_server_curve (zsock_t *sock, const hd_sockopts_t *o, char *errbuf, size_t errlen)
{
    if (!o->cert) {
        snprintf (errbuf, errlen, "CURVE needs the broker's secret certificate");
        return HD_ECRYPTO;
    }
    zcert_apply (o->cert, zsock_resolve (sock));
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, o->zap_domain ? o->zap_domain : "");
    int one = 1;
    if (zmq_setsockopt (zsock_resolve (sock), ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0) {
        snprintf (errbuf, errlen, "libzmq lacks ZMQ_ZAP_ENFORCE_DOMAIN: cannot fail closed");
        return HD_ECRYPTO;
    }
    return HD_OK;
}

static hd_err_t
s_client_curve (zsock_t *sock, const hd_sockopts_t *o, char *errbuf, size_t errlen)
{
    if (!o->cert || !hd_keys_is_z85 (o->server_key)) {
        snprintf (errbuf, errlen, "CURVE needs this peer's secret certificate and the broker's "
                                  "public key (see heddle keys init, or use --insecure)");
        return HD_ECRYPTO;
    }
    zcert_apply (o->cert, zsock_resolve (sock));
    zsock_set_curve_serverkey (sock, o->server_key);
    return HD_OK;
}

hd_err_t
hd_transport_bind (zsock_t **out, int type, const char *endpoint, const hd_sockopts_t *o,
                   char *errbuf, size_t errlen)
{
    *out = NULL;
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return HD_ENOMEM;
    s_common_options (sock, type, o);
    hd_err_t rc = o->insecure ? HD_OK : s_server_curve (sock, o, errbuf, errlen);
    if (rc == HD_OK && zsock_bind (sock, "%s", endpoint) < 0) {
        snprintf (errbuf, errlen, "cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        rc = HD_EIO;
    }
    if (rc != HD_OK)
        zsock_destroy (&sock);
    *out = sock;
    return rc;
}

hd_err_t
hd_transport_connect (zsock_t **out, int type, const char *endpoint, const hd_sockopts_t *o,
                      char *errbuf, size_t errlen)
{
    *out = NULL;
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return HD_ENOMEM;
    s_common_options (sock, type, o);
    hd_err_t rc = o->insecure ? HD_OK : s_client_curve (sock, o, errbuf, errlen);
    if (rc == HD_OK && o->session)
        rc = hd_transport_claim (sock, o->session, errbuf, errlen);
    if (rc == HD_OK && o->monitor_out)
        rc = hd_transport_monitor (sock, o->monitor_out);
    if (rc == HD_OK && zsock_connect (sock, "%s", endpoint) < 0) {
        snprintf (errbuf, errlen, "cannot connect to %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        rc = HD_EIO;
    }
    if (rc != HD_OK) {
        if (o->monitor_out)
            zsock_destroy (o->monitor_out);
        zsock_destroy (&sock);
    }
    *out = sock;
    return rc;
}

zsock_t *
hd_transport_monitor_reader (const char *endpoint)
{
    //  libzmq sends each monitor event from the I/O thread with a blocking send: once the
    //  reader's pipe is full (high-water mark 1000 each side), that thread stops, and with it
    //  every socket of the context. A reader with no receive limit makes the pipe unbounded
    //  (libzmq sizes an inproc pipe from both ends' marks; 0 at one end means none), so a
    //  monitor read late costs memory, never a frozen process.
    zsock_t *mon = zsock_new (ZMQ_PAIR);
    if (!mon)
        return NULL;
    zsock_set_rcvhwm (mon, 0);
    if (zsock_connect (mon, "%s", endpoint) != 0)
        zsock_destroy (&mon);
    return mon;
}

hd_err_t
hd_transport_monitor (zsock_t *sock, zsock_t **out)
{
    char ep[64];
    static int counter = 0;
    snprintf (ep, sizeof ep, "inproc://hd-monitor-%p-%d", (void *) sock,
              __atomic_fetch_add (&counter, 1, __ATOMIC_RELAXED));
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                 | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECTED;
    if (zmq_socket_monitor (zsock_resolve (sock), ep, events) != 0)
        return HD_EIO;
    *out = hd_transport_monitor_reader (ep);
    if (!*out)
        return HD_ENOMEM;
    //  Arm the edge of its ZMQ_FD (hd_transport_fd): libzmq signals a new message only to a
    //  reader that has found its pipe empty, so look once now, while nothing can be there yet
    //  (the socket it watches has not connected).
    zsock_events (*out);
    return HD_OK;
}

void
hd_transport_monitor_stop (zsock_t *watched, zsock_t **reader)
{
    if (watched && *reader)
        zmq_socket_monitor (zsock_resolve (watched), NULL, 0);
    zsock_destroy (reader);
}

int
hd_transport_fd (void *sock)
{
    int fd = -1;
    size_t len = sizeof fd;
    return sock && zmq_getsockopt (sock, ZMQ_FD, &fd, &len) == 0 ? fd : -1;
}

int
hd_transport_monitor_event (zsock_t *mon)
{
    return hd_transport_monitor_next (mon, NULL);
}

int
hd_transport_monitor_next (zsock_t *mon, uint32_t *value)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt (zsock_resolve (mon), ZMQ_EVENTS, &events, &len) != 0
        || !(events & ZMQ_POLLIN))
        return 0;  //  a failed getsockopt (EINTR) leaves `events` unset: nothing, this time
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int event = 0;
    if (zmq_msg_recv (&msg, zsock_resolve (mon), ZMQ_DONTWAIT) >= 6) {
        uint16_t ev;
        uint32_t val;
        memcpy (&ev, zmq_msg_data (&msg), 2);
        memcpy (&val, (const uint8_t *) zmq_msg_data (&msg) + 2, 4);
        event = ev;
        if (value)
            *value = val;  //  e.g. the ZAP status code of HANDSHAKE_FAILED_AUTH
    }
    while (zmq_msg_more (&msg))  //  the second frame is the endpoint
        zmq_msg_recv (&msg, zsock_resolve (mon), 0);
    zmq_msg_close (&msg);
    return event;
}

int
hd_send_header (void *sock, uint8_t cmd, int flags)
{
    uint8_t hdr[HD_HEADER_BYTES];
    hd_codec_header (hdr, (hd_cmd_t) cmd);
    return hd_send_frame (sock, hdr, sizeof hdr, flags);
}
