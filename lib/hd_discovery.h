/*  hd_discovery: how a worker finds its broker on the LAN without being told. The broker
    announces itself once a second with a UDP broadcast (czmq's zbeacon actor, which runs in its
    own thread, so the broker's loop pays nothing); a worker listens, picks the first beacon of
    its cluster that its key policy accepts, and connects to the endpoint it names.
    The beacon payload (docs/PROTOCOL.md, "Discovery") is one line of ASCII text:
        HEDDLE1 CLUSTER HOST PORT KEY
    encoded and decoded here by pure functions. This module knows nothing of which keys a worker
    trusts (the caller's accept function decides) nor of the broker's sockets.  */
#ifndef HD_DISCOVERY_H
#define HD_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"
#include "hd_keys.h"

#define HD_BEACON_MAGIC "HEDDLE"
#define HD_BEACON_VERSION 1
#define HD_BEACON_MAX 255  //  zbeacon's UDP_FRAME_MAX: a longer payload asserts inside czmq
#define HD_BEACON_PORT 7709
#define HD_BEACON_INTERVAL_MS 1000
#define HD_CLUSTER_MAX 32      //  cluster name: 1..32 of [A-Za-z0-9._-]
#define HD_BEACON_HOST_MAX 63  //  "*" or a host name / IPv4 / IPv6 address
#define HD_CLUSTER_DEFAULT "heddle"
#define HD_ENDPOINT_MAX 128  //  "tcp://HOST:PORT" built from a beacon

//  What a beacon says. key is "" when the broker runs without CURVE (sent as "-").
typedef struct {
    char cluster[HD_CLUSTER_MAX + 1];
    char host[HD_BEACON_HOST_MAX + 1];  //  "*": connect to the address the beacon came from
    uint16_t port;                      //  the broker's workers port
    char key[HD_KEY_TEXT];              //  the broker's public key, Z85; "" insecure
} hd_beacon_t;

//  Whether `name` is a valid cluster name (1..32 of A-Z a-z 0-9 . _ -).
bool hd_discovery_cluster_ok (const char *name);

//  Write the payload of `beacon` into out (NUL-terminated, at most HD_BEACON_MAX bytes before
//  the NUL) and its length into *size. HD_OK; HD_EINVAL for a field that could not be decoded
//  back (bad cluster name, host, port 0, key not Z85); HD_ETOOBIG when outlen is too small.
hd_err_t hd_discovery_encode_beacon (const hd_beacon_t *beacon, char *out, size_t outlen,
                                     size_t *size);
//  Decode a received payload (not NUL-terminated). HD_OK with *out; HD_ETOOBIG over
//  HD_BEACON_MAX bytes; HD_EVERSION for HEDDLE<n> with another n; HD_EPROTO for anything else
//  that is not exactly the format above (wrong magic, missing or extra fields, bad values).
hd_err_t hd_discovery_decode_beacon (const void *data, size_t size, hd_beacon_t *out);

//  The beacon a broker bound on `bound_endpoint` (as zsock_endpoint reports it, e.g.
//  tcp://0.0.0.0:7701) should send. HD_OK with *out; HD_EINVAL with the reason in errbuf when
//  there is nothing to announce: not TCP, or a loopback address no other host can reach.
hd_err_t hd_discovery_beacon_for (hd_beacon_t *out, const char *cluster, const char *bound_endpoint,
                                  const char *key, char *errbuf, size_t errlen);
//  The workers endpoint a beacon points at: tcp://HOST:PORT, HOST being the sender's address
//  when the beacon says "*". Returns out.
char *hd_discovery_endpoint (const hd_beacon_t *beacon, const char *sender, char *out,
                             size_t outlen);

//  A running beacon actor: announcing (broker) or listening (worker).
typedef struct hd_discovery hd_discovery_t;

typedef struct {
    uint16_t port;         //  UDP port; 0: HD_BEACON_PORT
    const char *iface;     //  network interface, "*" for all; NULL or "": $ZSYS_INTERFACE, else
                           //  listening: "*"; announcing: the interface holding the address
                           //  the broker bound, else czmq's first broadcast-capable one.
                           //  Process-wide (zsys_set_interface).
    uint32_t interval_ms;  //  announcing: the period; 0: HD_BEACON_INTERVAL_MS
} hd_discovery_opts_t;

//  Start broadcasting `beacon`. HD_OK with *out (caller destroys) even when no interface can
//  broadcast yet: zbeacon retries at every interval, and hd_discovery_address says "".
//  HD_EINVAL (payload does not encode), HD_ENOMEM.
hd_err_t hd_discovery_announce (hd_discovery_t **out, const hd_beacon_t *beacon,
                                const hd_discovery_opts_t *opts);
//  Start listening for heddle beacons. HD_OK with *out (caller destroys); HD_EIO when no
//  interface can receive broadcasts (hd_discovery_address is then ""); HD_ENOMEM.
hd_err_t hd_discovery_listen (hd_discovery_t **out, const hd_discovery_opts_t *opts);
//  The local address zbeacon chose ("" when it found no broadcast interface), and the name of
//  that interface ("" when unknown). Borrowed.
const char *hd_discovery_address (const hd_discovery_t *self);
const char *hd_discovery_iface (const hd_discovery_t *self);
//  Wait up to timeout_ms for the next beacon. HD_OK with *out and the sender's IPv4 address in
//  sender; HD_ETIMEDOUT; HD_ECLOSED when interrupted (SIGINT/SIGTERM); HD_EPROTO, HD_EVERSION
//  or HD_ETOOBIG for a payload that does not decode (sender is filled; the caller skips it).
hd_err_t hd_discovery_recv (hd_discovery_t *self, int timeout_ms, hd_beacon_t *out,
                            char sender[64]);
//  Stop the actor. NULL-safe; sets *self_p = NULL.
void hd_discovery_destroy (hd_discovery_t **self_p);

//  The caller's trust policy for a beacon of the right cluster: true to use it; false to ignore
//  it, with the reason in why (logged once per broker).
typedef bool (hd_discovery_accept_fn) (const hd_beacon_t *beacon, const char *endpoint, void *arg,
                                       char *why, size_t whylen);

typedef struct {
    hd_discovery_opts_t net;
    const char *cluster;             //  NULL: HD_CLUSTER_DEFAULT
    uint32_t timeout_s;              //  0: wait forever
    hd_discovery_accept_fn *accept;  //  NULL: accept any
    void *arg;
} hd_discovery_find_t;

//  Listen until a beacon of `cluster` arrives that accept() takes; logs "waiting for a broker
//  of cluster X" every 10 s and each ignored broker once. HD_OK with *out and the endpoint to
//  connect to; HD_ETIMEDOUT after timeout_s; HD_ECLOSED when interrupted; HD_ENOMEM.
//  With no broadcast interface it keeps retrying (an interface may come up later).
hd_err_t hd_discovery_find (const hd_discovery_find_t *find, hd_beacon_t *out, char *endpoint,
                            size_t endpoint_len);

#endif
