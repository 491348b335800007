/*  hd_conns: the broker's TCP connections against its open-files limit. libzmq accepts
    connections by itself; at the limit its accept() fails with EMFILE and it retries at once,
    for ever (one core at 100 %), while new peers wait in the kernel's backlog and the broker's
    own files cannot be opened. So the broker watches each listening socket (the libzmq monitor
    events ACCEPTED and DISCONNECTED carry the connection's fd), counts the connections open,
    and closes at once (shutdown) every one over a cap set below the limit: HD_CONNS_RESERVE
    files stay for the broker itself. A connection that never finishes its handshake frees its
    place after the handshake timeout (ZMQ_HANDSHAKE_IVL, set where the sockets are made).
    The count (hd_conns_accepted / hd_conns_closed) is pure; knows nothing of the protocol.  */
#ifndef HD_CONNS_H
#define HD_CONNS_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "hd_err.h"

#define HD_CONNS_RESERVE 64        //  files kept below the open-files limit for the broker
#define HD_CONNS_DEFAULT_MAX 4096  //  the cap when none is given, whatever the limit
#define HD_CONNS_MAX_WATCH 4       //  listening sockets watched at most

typedef struct hd_conns hd_conns_t;

//  The cap for `wanted` (0: the default) under an open-files limit: wanted, or the default,
//  never more than fd_limit - HD_CONNS_RESERVE (and at least 1).
uint32_t hd_conns_cap (uint32_t wanted, uint64_t fd_limit);
//  A counter of at most `max` connections on fds below fd_limit. NULL when memory runs out.
hd_conns_t *hd_conns_new (uint32_t max, uint64_t fd_limit);
//  NULL-safe; stops and closes the monitors (before the watched sockets are closed: see
//  hd_transport_monitor_stop); sets *self_p = NULL.
void hd_conns_destroy (hd_conns_t **self_p);

//  A connection was accepted on fd. true when it is counted; false when it is over the cap
//  (or fd is out of range) and the caller must close it. An fd already counted (its close was
//  never seen, and the number was given out again) is counted once.
bool hd_conns_accepted (hd_conns_t *self, int fd);
//  The connection on fd is gone (counted or not).
void hd_conns_closed (hd_conns_t *self, int fd);
uint32_t hd_conns_count (const hd_conns_t *self);
uint32_t hd_conns_max (const hd_conns_t *self);
//  Connections closed at once because the cap was reached, since start.
uint64_t hd_conns_refused (const hd_conns_t *self);

//  Watch a bound socket: a monitor of its ACCEPTED and DISCONNECTED events, read by
//  hd_conns_handle. HD_OK; HD_EINVAL when HD_CONNS_MAX_WATCH sockets are watched already;
//  HD_EIO when libzmq refuses the monitor; HD_ENOMEM. `sock` must outlive this counter.
hd_err_t hd_conns_watch (hd_conns_t *self, zsock_t *sock);
//  The monitors' ZMQ_FDs (edge-triggered: poll them readable, then call hd_conns_handle),
//  into fds[HD_CONNS_MAX_WATCH]; unused entries are -1.
void hd_conns_fds (const hd_conns_t *self, int fds[HD_CONNS_MAX_WATCH]);
//  Read every monitor event waiting; shut down each connection over the cap. The first one
//  of a spell is logged, the others counted (hd_ratelog) and told by hd_conns_tick.
void hd_conns_handle (hd_conns_t *self, int64_t now_ms);
//  Log the summary of a closed window of refused connections.
void hd_conns_tick (hd_conns_t *self, int64_t now_ms);

#endif
