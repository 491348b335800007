/*  raw_net: sockets and multipart helpers of hd-raw. The connect side goes through
    hd_transport_connect, so clients and workers carry exactly heddle's socket options; the bind
    side sets the same options by hand but installs no ZAP handler (admission is per connection,
    not per message, so it costs nothing in a run and is left out).  */
#include "raw.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "bench_util.h"
#include "hd_keys.h"
#include "hd_transport.h"

static void
s_router_options (zsock_t *sock)
{
    zsock_set_sndhwm (sock, HD_RAW_HWM);
    zsock_set_rcvhwm (sock, HD_RAW_HWM);
    zsock_set_linger (sock, 0);
    zsock_set_router_mandatory (sock, 1);
}

static int
s_server_curve (zsock_t *sock, const hd_raw_config_t *cfg)
{
    char path[PATH_MAX], err[256];
    zcert_t *cert = NULL;
    hd_keys_path (path, sizeof path, cfg->keys_dir, "broker.cert_secret");
    if (hd_keys_load_secret (path, &cert, err, sizeof err) != HD_OK) {
        fprintf (stderr, "%s: %s\n", cfg->prog, err);
        return -1;
    }
    zcert_apply (cert, zsock_resolve (sock));
    zsock_set_curve_server (sock, 1);
    zcert_destroy (&cert);
    return 0;
}

int
hd_raw_bind (zsock_t **out, const char *endpoint, const hd_raw_config_t *cfg)
{
    *out = NULL;
    if (!hd_bench_is_local (endpoint)) {
        fprintf (stderr, "%s: %s is not a loopback endpoint\n", cfg->prog, endpoint);
        return -1;
    }
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    if (!sock)
        return -1;
    s_router_options (sock);
    int rc = cfg->insecure ? 0 : s_server_curve (sock, cfg);
    if (rc == 0 && zsock_bind (sock, "%s", endpoint) < 0) {
        fprintf (stderr, "%s: cannot bind %s: %s\n", cfg->prog, endpoint,
                 zmq_strerror (zmq_errno ()));
        rc = -1;
    }
    if (rc != 0)
        zsock_destroy (&sock);
    *out = sock;
    return rc;
}

//  Fill o with this role's certificate and the broker's public key. *cert_p: caller destroys.
static int
s_client_keys (hd_sockopts_t *o, zcert_t **cert_p, const char *role, const hd_raw_config_t *cfg)
{
    char path[PATH_MAX], name[64], err[256];
    snprintf (name, sizeof name, "%s.cert_secret", role);
    hd_keys_path (path, sizeof path, cfg->keys_dir, name);
    if (hd_keys_load_secret (path, cert_p, err, sizeof err) == HD_OK) {
        hd_keys_path (path, sizeof path, cfg->keys_dir, "broker.cert");
        if (hd_keys_load_public (path, o->server_key, err, sizeof err) == HD_OK) {
            o->cert = *cert_p;
            return 0;
        }
        zcert_destroy (cert_p);
    }
    fprintf (stderr, "%s: %s\n", cfg->prog, err);
    return -1;
}

int
hd_raw_connect (zsock_t **out, const char *role, const hd_raw_config_t *cfg)
{
    *out = NULL;
    if (!hd_bench_is_local (cfg->broker_ep)) {
        fprintf (stderr, "%s: %s is not a loopback endpoint\n", cfg->prog, cfg->broker_ep);
        return -1;
    }
    hd_sockopts_t o = { .insecure = cfg->insecure, .hwm = HD_RAW_HWM };
    zcert_t *cert = NULL;
    if (!cfg->insecure && s_client_keys (&o, &cert, role, cfg) != 0)
        return -1;
    char err[256] = "";
    hd_err_t rc = hd_transport_connect (out, ZMQ_DEALER, cfg->broker_ep, &o, err, sizeof err);
    zcert_destroy (&cert);  //  libzmq copied the keys
    if (rc != HD_OK) {
        fprintf (stderr, "%s: %s\n", cfg->prog, *err ? err : hd_strerror (rc));
        return -1;
    }
    return 0;
}

int
hd_raw_recv_rest (void *sock, zmq_msg_t *parts, int max)
{
    int count = 1;
    bool overflow = false;
    while (zmq_msg_more (&parts[count - 1])) {
        if (count == max) {
            overflow = true;
            zmq_msg_recv (&parts[count - 1], sock, 0);  //  reuse the last part as a sink
            continue;
        }
        zmq_msg_init (&parts[count]);
        if (zmq_msg_recv (&parts[count], sock, 0) < 0) {
            zmq_msg_close (&parts[count]);
            overflow = true;  //  cannot happen mid-message; treat as malformed
            break;
        }
        count++;
    }
    if (!overflow)
        return count;
    for (int i = 0; i < count; i++)
        zmq_msg_close (&parts[i]);
    return -1;
}

int
hd_raw_send_parts (void *sock, zmq_msg_t *parts, int from, int count)
{
    int rc = 0;
    for (int i = from; i < count; i++) {
        if (rc == 0 && zmq_msg_send (&parts[i], sock, i + 1 < count ? ZMQ_SNDMORE : 0) < 0)
            rc = -1;
        zmq_msg_close (&parts[i]);  //  harmless after a successful send (the part is empty)
    }
    return rc;
}
