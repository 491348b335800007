/*  hd_http: the broker's read-only web endpoint (libmicrohttpd, its own thread): GET /metrics
    (Prometheus text), /api/state (JSON), / (the dashboard page compiled into the binary) and
    /healthz. It serves only the latest snapshot the broker's loop published and never touches
    broker state. Peers on loopback are served as they come; any other peer must present the
    token (Authorization: Bearer TOKEN, or ?token=TOKEN), and a listen address beyond loopback
    is refused without one.  */
#ifndef HD_HTTP_H
#define HD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"
#include "hd_snapshot.h"

typedef struct hd_http hd_http_t;

//  Listen on `listen` ("HOST:PORT", "[V6]:PORT" or ":PORT" for every IPv4 address; port 0
//  picks a free one). `token` may be NULL (then only loopback addresses may be listened on).
//  HD_OK with *out; HD_EINVAL (bad address, or beyond loopback without a token); HD_EIO (the
//  address cannot be bound); HD_ENOMEM. errbuf says why.
hd_err_t hd_http_start (hd_http_t **out, const char *listen, const char *token, char *errbuf,
                        size_t errlen);
//  Stop serving (waits for the thread) and free. NULL-safe; sets *self_p = NULL.
void hd_http_destroy (hd_http_t **self_p);
//  "HOST:PORT" actually bound (the port resolved). Borrowed.
const char *hd_http_endpoint (const hd_http_t *self);
//  Snapshots are malloc'd blocks: the server frees the one it holds when destroyed.
//  Hand a new snapshot to the server without waiting: true when taken, and *snap_p is then the
//  previous one (NULL the first time) for the caller to refill; false when a request is
//  reading the current one right now (*snap_p unchanged: try again later).
bool hd_http_publish (hd_http_t *self, hd_snapshot_t **snap_p);
//  Requests answered so far (any status). For tests and the broker's stats line.
uint64_t hd_http_requests (const hd_http_t *self);
//  Whether a request may be served: a peer (struct sockaddr *) on loopback always; any other
//  only with the token ("" or NULL: none, then never), given as `authorization` ("Bearer
//  TOKEN") or as the query argument `token_arg`. Either may be NULL.
bool hd_http_allowed (const void *peer, const char *token, const char *authorization,
                      const char *token_arg);
//  Whether a socket address (struct sockaddr *) is on loopback (127.0.0.0/8, ::1, ::ffff:127/104).
bool hd_http_is_loopback (const void *sockaddr);

//  The dashboard page (broker/web/dashboard.html, compiled in by CMake).
extern const unsigned char hd_dashboard_html[];
extern const size_t hd_dashboard_html_len;

#endif
