/*  hd_discovery_net: the zbeacon actors behind hd_discovery (announce, listen) and the worker's
    wait for a broker of its cluster. zbeacon works on one interface per process (czmq's
    zsys_interface: ZSYS_INTERFACE or zsys_set_interface, else its first broadcast-capable
    one): it binds the UDP port on that interface's broadcast address and sends to it; "*"
    binds every address (what a listener uses by default) and sends to 255.255.255.255.  */
#include <czmq.h>
#include <poll.h>

#include "hd_discovery.h"
#include "hd_log.h"

#define S_WAIT_LOG_MS 10000  //  "waiting for a broker" this often
#define S_RETRY_MS 2000      //  no broadcast interface yet: try again this often
#define S_IGNORED_MAX 16     //  brokers whose ignoring was logged (then logged again)

struct hd_discovery {
    zactor_t *actor;
    char address[64], iface[64];
};

//  The interface whose address is `address` (ziflist), or "".
static void
s_iface_of (const char *address, char *out, size_t outlen)
{
    out[0] = '\0';
    ziflist_t *list = ziflist_new ();
    for (const char *name = list ? ziflist_first (list) : NULL; name; name = ziflist_next (list))
        if (strcmp (ziflist_address (list), address) == 0) {
            snprintf (out, outlen, "%s", name);
            break;
        }
    ziflist_destroy (&list);
}

//  The interface zbeacon will use: the caller's, else $ZSYS_INTERFACE (czmq reads it at
//  zsys_init), else for a sender the one holding `prefer` (a specific address the broker
//  bound) or czmq's first, and for a listener "*". zsys_set_interface is process-wide: a
//  process runs one kind of beacon.
static void
s_choose_iface (const hd_discovery_opts_t *opts, bool listener, const char *prefer)
{
    zsys_init ();
    char found[64] = "";
    if (opts && opts->iface && *opts->iface)
        zsys_set_interface (opts->iface);
    else if (*zsys_interface ())
        return;
    else if (listener)
        //  "*" binds INADDR_ANY: beacons arrive on whichever interface the broker is on (a board
        //  with Ethernet and Wi-Fi), and from the moment the process starts, network or not.
        //  A sender cannot do the same: it would send to 255.255.255.255, which needs a route.
        zsys_set_interface ("*");
    else if (prefer && *prefer) {
        s_iface_of (prefer, found, sizeof found);
        if (*found)
            zsys_set_interface (found);
    }
}

static hd_discovery_t *
s_start (const hd_discovery_opts_t *opts)
{
    hd_discovery_t *self = calloc (1, sizeof *self);
    if (!self || !(self->actor = zactor_new (zbeacon, NULL))) {
        free (self);
        return NULL;
    }
    int port = opts && opts->port ? opts->port : HD_BEACON_PORT;
    zsock_send (self->actor, "si", "CONFIGURE", port);
    char *address = zstr_recv (self->actor);
    snprintf (self->address, sizeof self->address, "%s", address ? address : "");
    zstr_free (&address);
    const char *iface = zsys_interface ();
    if (*iface)
        snprintf (self->iface, sizeof self->iface, "%s", strcmp (iface, "*") ? iface : "* (all)");
    else if (*self->address)
        s_iface_of (self->address, self->iface, sizeof self->iface);
    return self;
}

hd_err_t
hd_discovery_announce (hd_discovery_t **out, const hd_beacon_t *beacon,
                       const hd_discovery_opts_t *opts)
{
    *out = NULL;
    char text[HD_BEACON_MAX + 1];
    size_t size;
    hd_err_t rc = hd_discovery_encode_beacon (beacon, text, sizeof text, &size);
    if (rc != HD_OK)
        return rc;
    s_choose_iface (opts, false, strcmp (beacon->host, "*") != 0 ? beacon->host : NULL);
    hd_discovery_t *self = s_start (opts);
    if (!self)
        return HD_ENOMEM;
    int interval = opts && opts->interval_ms ? (int) opts->interval_ms : HD_BEACON_INTERVAL_MS;
    zsock_send (self->actor, "sbi", "PUBLISH", text, size, interval);
    *out = self;
    return HD_OK;
}

hd_err_t
hd_discovery_listen (hd_discovery_t **out, const hd_discovery_opts_t *opts)
{
    *out = NULL;
    s_choose_iface (opts, true, NULL);
    hd_discovery_t *self = s_start (opts);
    if (!self)
        return HD_ENOMEM;
    if (!*self->address) {
        hd_discovery_destroy (&self);
        return HD_EIO;
    }
    zsock_send (self->actor, "sb", "SUBSCRIBE", HD_BEACON_MAGIC, strlen (HD_BEACON_MAGIC));
    *out = self;
    return HD_OK;
}

const char *
hd_discovery_address (const hd_discovery_t *self)
{
    return self->address;
}

const char *
hd_discovery_iface (const hd_discovery_t *self)
{
    return self->iface;
}

hd_err_t
hd_discovery_recv (hd_discovery_t *self, int timeout_ms, hd_beacon_t *out, char sender[64])
{
    sender[0] = '\0';
    zmq_pollitem_t item = { zsock_resolve (self->actor), 0, ZMQ_POLLIN, 0 };
    int n = zmq_poll (&item, 1, timeout_ms);
    if (zsys_interrupted)
        return HD_ECLOSED;
    if (n <= 0)
        return HD_ETIMEDOUT;  //  or EINTR from a signal that did not ask us to stop
    zmsg_t *msg = zmsg_recv (self->actor);
    if (!msg)
        return HD_ECLOSED;
    char *from = zmsg_popstr (msg);
    zframe_t *data = zmsg_pop (msg);
    snprintf (sender, 64, "%s", from ? from : "");
    hd_err_t rc =
        data ? hd_discovery_decode_beacon (zframe_data (data), zframe_size (data), out) : HD_EPROTO;
    zstr_free (&from);
    zframe_destroy (&data);
    zmsg_destroy (&msg);
    return rc;
}

void
hd_discovery_destroy (hd_discovery_t **self_p)
{
    hd_discovery_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);  //  $TERM: the actor closes its UDP socket and returns
    free (self);
    *self_p = NULL;
}

// --- waiting for a broker (worker) ------------------------------------------------------------

typedef struct {
    const hd_discovery_find_t *find;
    const char *cluster;
    hd_discovery_t *listener;
    int64_t start_ms, next_log_ms, retry_ms;
    bool said_no_iface;
    char ignored[S_IGNORED_MAX][HD_ENDPOINT_MAX + HD_KEY_TEXT + HD_CLUSTER_MAX + 4];
    int nignored;
} s_find_t;

//  True the first time (since the table was last full) this broker is seen for this reason.
static bool
s_first_time (s_find_t *f, const char *endpoint, const hd_beacon_t *b)
{
    char sig[sizeof f->ignored[0]];
    snprintf (sig, sizeof sig, "%s %s %s", endpoint, b->key, b->cluster);
    for (int i = 0; i < f->nignored; i++)
        if (strcmp (f->ignored[i], sig) == 0)
            return false;
    if (f->nignored == S_IGNORED_MAX)
        f->nignored = 0;
    snprintf (f->ignored[f->nignored++], sizeof f->ignored[0], "%s", sig);
    return true;
}

//  Open the listener when there is none; false while no interface can receive broadcasts.
static bool
s_ensure_listener (s_find_t *f, int64_t now)
{
    if (f->listener)
        return true;
    if (now < f->retry_ms)
        return false;
    hd_err_t rc = hd_discovery_listen (&f->listener, &f->find->net);
    if (rc == HD_OK) {
        hd_info ("listening for brokers of cluster %s on UDP port %u (interface %s)", f->cluster,
                 f->find->net.port ? f->find->net.port : HD_BEACON_PORT,
                 *f->listener->iface ? f->listener->iface : f->listener->address);
        return true;
    }
    if (!f->said_no_iface)
        hd_warn ("no network interface can receive discovery beacons (%s%s): retrying every "
                 "%d s",
                 *zsys_interface () ? "interface " : "no up interface with broadcast",
                 zsys_interface (), S_RETRY_MS / 1000);
    f->said_no_iface = true;
    f->retry_ms = now + S_RETRY_MS;
    return false;
}

//  One received beacon: true when it is the broker to use.
static bool
s_consider (s_find_t *f, hd_err_t rc, const hd_beacon_t *b, const char *sender, char *endpoint,
            size_t len)
{
    if (rc == HD_EVERSION) {
        hd_beacon_t none = { .cluster = "?" };
        if (s_first_time (f, sender, &none))
            hd_warn ("ignoring a discovery beacon from %s: another protocol version (this "
                     "worker reads %s%d)",
                     sender, HD_BEACON_MAGIC, HD_BEACON_VERSION);
        return false;
    }
    if (rc != HD_OK) {
        hd_debug ("ignoring a malformed discovery beacon from %s (%s)", sender, hd_strerror (rc));
        return false;
    }
    hd_discovery_endpoint (b, sender, endpoint, len);
    char why[512] = "";
    if (strcmp (b->cluster, f->cluster) != 0) {
        if (s_first_time (f, endpoint, b))
            hd_info ("ignoring broker at %s: it serves cluster '%s', not '%s'", endpoint,
                     b->cluster, f->cluster);
        return false;
    }
    if (f->find->accept && !f->find->accept (b, endpoint, f->find->arg, why, sizeof why)) {
        if (s_first_time (f, endpoint, b))
            hd_warn ("ignoring broker at %s: %s", endpoint, why);
        return false;
    }
    return true;
}

hd_err_t
hd_discovery_find (const hd_discovery_find_t *find, hd_beacon_t *out, char *endpoint,
                   size_t endpoint_len)
{
    s_find_t *f = calloc (1, sizeof *f);
    if (!f)
        return HD_ENOMEM;
    f->find = find;
    f->cluster = find->cluster ? find->cluster : HD_CLUSTER_DEFAULT;
    f->start_ms = f->next_log_ms = zclock_mono ();
    int64_t deadline = find->timeout_s ? f->start_ms + (int64_t) find->timeout_s * 1000 : 0;
    hd_err_t rc = HD_ETIMEDOUT;
    while (!zsys_interrupted) {
        int64_t now = zclock_mono ();
        if (deadline && now >= deadline)
            break;
        if (now >= f->next_log_ms) {
            hd_info ("waiting for a broker of cluster %s%s", f->cluster,
                     now > f->start_ms ? " (none accepted yet)" : "");
            f->next_log_ms = now + S_WAIT_LOG_MS;
        }
        int64_t wait = f->next_log_ms - now;
        if (deadline && deadline - now < wait)
            wait = deadline - now;
        if (!s_ensure_listener (f, now)) {
            poll (NULL, 0, (int) (wait < 250 ? wait : 250));  //  an interface may come up
            continue;
        }
        char sender[64];
        rc = hd_discovery_recv (f->listener, (int) (wait < 500 ? wait : 500), out, sender);
        if (rc == HD_ECLOSED)
            break;
        if (rc != HD_ETIMEDOUT && s_consider (f, rc, out, sender, endpoint, endpoint_len)) {
            rc = HD_OK;
            break;
        }
        rc = HD_ETIMEDOUT;
    }
    if (zsys_interrupted && rc != HD_OK)
        rc = HD_ECLOSED;
    hd_discovery_destroy (&f->listener);
    free (f);
    return rc;
}
