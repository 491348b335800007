/*  hd_metrics_pub: the worker's capacity publisher. Owns the PUB socket to the broker's metrics
    endpoint, the machine sampler and the publishing period; every period it sends one METRICS
    message [header][envelope] (docs/METRICS.md). The worker's loop tells it where to connect
    (after each WELCOME) and hands it the slot counters at each tick; it knows nothing of tasks,
    the DEALER conversation or the scheduler. Metrics are lossy hints: a failed send is dropped.  */
#ifndef HD_METRICS_PUB_H
#define HD_METRICS_PUB_H

#include <stdbool.h>
#include <stdint.h>

#include "hd_err.h"
#include "hd_transport.h"

typedef struct hd_metrics_pub hd_metrics_pub_t;

//  The worker's own figures at the moment of a snapshot.
typedef struct {
    uint32_t slots, busy;
    uint64_t done, failed;
} hd_metrics_counts_t;

//  A publisher for node `name` (copied), sampling the file system of `work_dir` (copied; NULL:
//  no disk figures), every `interval_ms` (0: 1000), advertising `score`. Takes the sampler's
//  baseline now, so the first snapshot already carries the CPU share. Nothing connects yet.
//  NULL only when memory runs out. Caller destroys.
hd_metrics_pub_t *hd_metrics_pub_new (const char *name, const char *work_dir, uint32_t interval_ms,
                                      double score);
//  Close the socket, free the sampler. NULL-safe; sets *self_p = NULL.
void hd_metrics_pub_destroy (hd_metrics_pub_t **self_p);

//  (Re)connect to the broker's metrics endpoint: the host of `broker_endpoint` (the workers
//  endpoint, tcp://HOST:PORT) at `port`, with the CURVE settings of `opts` (borrowed for the
//  call). An existing socket is closed first. port 0 or a non-TCP broker endpoint: nothing to
//  publish to, HD_OK with no socket. HD_OK; HD_EINVAL when the endpoint has no host; the
//  errors of hd_transport_connect (text in errbuf).
hd_err_t hd_metrics_pub_connect (hd_metrics_pub_t *self, const char *broker_endpoint, uint32_t port,
                                 const hd_sockopts_t *opts, char *errbuf, size_t errlen);
//  Close the socket (a lost broker); the next connect opens a new one.
void hd_metrics_pub_disconnect (hd_metrics_pub_t *self);
//  Whether a socket is open.
bool hd_metrics_pub_is_connected (const hd_metrics_pub_t *self);

//  Publish one snapshot when a period has passed since the last one (on the hd_now_ms clock),
//  else nothing. HD_OK (also when not connected, or when PUB dropped the message at its
//  high-water mark); HD_EINVAL when the snapshot could not be encoded.
hd_err_t hd_metrics_pub_tick (hd_metrics_pub_t *self, int64_t now_ms,
                              const hd_metrics_counts_t *counts);
//  Milliseconds until the next snapshot is due (0: now), or -1 when not connected: a bound
//  for the caller's poll timeout.
int64_t hd_metrics_pub_due_in (const hd_metrics_pub_t *self, int64_t now_ms);
//  Snapshots sent since creation.
uint64_t hd_metrics_pub_sent (const hd_metrics_pub_t *self);

#endif
