/*  hd_runner: the worker's execution slots. Each slot is a thread with a PAIR socket to the
    worker's main loop: the loop hands it (task envelope, payload frame), the slot runs the
    function and hands back (DONE envelope, output frame), already encoded, so the loop only
    moves frames. Knows the function table and the task context, not the broker.  */
#ifndef HD_RUNNER_H
#define HD_RUNNER_H

#include <czmq.h>

#include "hd_codec.h"
#include "hd_fnreg.h"

typedef struct hd_runner hd_runner_t;

//  Start `slots` threads. `node` is written into each result envelope. NULL on failure.
hd_runner_t *hd_runner_new (uint32_t slots, const hd_fnreg_t *fns, const char *node,
                            size_t max_output);
//  Cancel running tasks, stop and join every thread. NULL-safe; sets *self_p = NULL.
void hd_runner_destroy (hd_runner_t **self_p);
uint32_t hd_runner_slots (const hd_runner_t *self);
uint32_t hd_runner_free (const hd_runner_t *self);
//  Hand a task to a free slot; the payload frame is moved (consumed on HD_OK).
//  HD_EFULL: no free slot. HD_ENOTFOUND: no such function (nothing consumed).
hd_err_t hd_runner_start (hd_runner_t *self, const hd_task_t *task, zmq_msg_t *payload);
//  Ask the slot running `id` to stop (CANCELLED). HD_OK or HD_ENOTFOUND.
hd_err_t hd_runner_cancel (hd_runner_t *self, const hd_id_t *id);
//  Poll items of the slot sockets (count = slots), to add to the caller's zmq_poll.
void hd_runner_pollitems (hd_runner_t *self, zmq_pollitem_t *items);
//  Collect the result of slot i (its socket is readable) into env/out frames (moved).
//  HD_OK or HD_ETIMEDOUT (nothing there).
hd_err_t hd_runner_collect (hd_runner_t *self, uint32_t i, zmq_msg_t *env, zmq_msg_t *out);
//  Tasks done / failed since start.
uint64_t hd_runner_done (const hd_runner_t *self);
uint64_t hd_runner_failed (const hd_runner_t *self);

#endif
