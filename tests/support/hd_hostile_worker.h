/*  hd_hostile_worker: a hostile but authenticated worker peer for tests/security/: a DEALER with
    a given worker key (enrolled or not) and a routing id of its choosing, that sends what the
    test says (HELLO, DONE with any result, any frames) with the lib/ encoders, and a PUB that
    publishes METRICS under any name. Failures of set-up fail the test (cmocka).  */
#ifndef HD_HOSTILE_WORKER_H
#define HD_HOSTILE_WORKER_H

#include <czmq.h>
#include <stdint.h>
#include <sys/types.h>

#include "hd_codec.h"
#include "hd_codec_metrics.h"
#include "hd_hostile.h"  //  hd_hostile_rss_kb
#include "hd_testenv.h"

typedef struct hd_hostile_worker hd_hostile_worker_t;

//  A new key pair. Caller destroys (zcert_destroy).
zcert_t *hd_hostile_cert (void);
//  Append the key to the env's workers.keys (before the broker starts: lists are read then).
void hd_hostile_enroll (hd_testenv_t *env, zcert_t *cert);
//  Save the key pair as ENV/NAME.cert(+_secret); the secret file's path (for --cert) in out.
void hd_hostile_save (hd_testenv_t *env, zcert_t *cert, const char *name, char *out, size_t len);

//  Connect to the env's workers endpoint with `cert` (borrowed, must outlive the peer) and
//  routing id `rid` (NULL: libzmq's choice).
hd_hostile_worker_t *hd_hostile_worker_new (hd_testenv_t *env, zcert_t *cert, const char *rid);
void hd_hostile_worker_destroy (hd_hostile_worker_t **self_p);
//  [header cmd][envelope]: any command, any bytes. 0 or -1.
int hd_hostile_worker_send (hd_hostile_worker_t *self, uint8_t cmd, const void *env, size_t size);
//  HELLO of a worker `name` offering `fn` (NULL: none) with the given slots and queue.
int hd_hostile_worker_hello (hd_hostile_worker_t *self, const char *name, const char *fn,
                             uint32_t slots, uint32_t queue);
//  HELLO as given.
int hd_hostile_worker_hello_msg (hd_hostile_worker_t *self, const hd_hello_t *hello);
//  DONE with one result and its output bytes.
int hd_hostile_worker_done (hd_hostile_worker_t *self, const hd_result_t *r, const void *data,
                            size_t size);
//  The next message's command within timeout_ms (-1: none). A TASK's first task goes to *task
//  and an ERROR to *error when given (NULL: not decoded).
int hd_hostile_worker_recv (hd_hostile_worker_t *self, int timeout_ms, hd_task_t *task,
                            hd_error_t *error);
//  Wait for a command, skipping others (BEAT ...), within timeout_ms: true when it came.
bool hd_hostile_worker_expect (hd_hostile_worker_t *self, uint8_t cmd, int timeout_ms,
                               hd_task_t *task, hd_error_t *error);

//  A PUB to the env's metrics endpoint with `cert`. Caller destroys (zsock_destroy).
zsock_t *hd_hostile_metrics_new (hd_testenv_t *env, zcert_t *cert);
int hd_hostile_metrics_send (zsock_t *pub, const hd_metrics_t *m);

//  Whether the process still runs (not exited, not a zombie we reaped).
bool hd_hostile_alive (pid_t pid);

#endif
