/*  hd_runner: the worker's execution slots. The main loop queues tasks (envelope + payload
    frame); `slots` threads take them in order and run them; finished results (DONE envelope
    encoded, output frame) wait in a list until the main loop collects them, and an eventfd
    tells it there are some. Handing over costs no socket and no wake-up while slots are busy:
    a slot that finishes takes the next queued task at once, and the eventfd is written only
    when the result list goes from empty to non-empty, so one wake-up of the main loop collects
    a whole batch. Knows the function table and the task context, not the broker.
    A task of a function whose runs average a few microseconds, started while a slot is idle and
    none is queued, runs at once on the calling thread instead (no hand-over, which costs two
    thread wake-ups: more than the task), still counted against the slots.
    Task states:  QUEUED -> RUNNING -> FINISHED (collected by the main loop)
                  QUEUED -> FINISHED (CANCELLED)  when cancelled before a slot took it
                  (inline) RUNNING -> FINISHED  before hd_runner_start returns  */
#ifndef HD_RUNNER_H
#define HD_RUNNER_H

#include <czmq.h>

#include "hd_codec.h"
#include "hd_fnreg.h"
#include "hd_seal.h"

typedef struct hd_runner hd_runner_t;

//  Start `slots` threads. `capacity` bounds the tasks held at once (queued + running + results
//  not yet collected); 0 means 8 x slots + 16. `node` is written into each result envelope.
//  NULL on failure.
hd_runner_t *hd_runner_new (uint32_t slots, uint32_t capacity, const hd_fnreg_t *fns,
                            const char *node, size_t max_output);
//  Cancel running tasks, stop and join every thread, drop queued tasks and uncollected
//  results. NULL-safe; sets *self_p = NULL.
void hd_runner_destroy (hd_runner_t **self_p);
uint32_t hd_runner_slots (const hd_runner_t *self);
uint32_t hd_runner_capacity (const hd_runner_t *self);
//  Tasks running now (taken by a slot, not finished).
uint32_t hd_runner_running (hd_runner_t *self);
//  Tasks waiting for a slot.
uint32_t hd_runner_queued (hd_runner_t *self);
//  Queue a task, or run it inline (above); the payload frame is moved (consumed on HD_OK).
//  HD_EFULL: at capacity. HD_ENOTFOUND: no such function. Nothing is consumed on failure.
hd_err_t hd_runner_start (hd_runner_t *self, const hd_task_t *task, zmq_msg_t *payload);
//  Cancel task `id`: a queued task finishes at once as CANCELLED; a running one is asked to
//  stop (its function sees hd_task_cancelled). HD_OK or HD_ENOTFOUND.
hd_err_t hd_runner_cancel (hd_runner_t *self, const hd_id_t *id);
//  A file descriptor that polls readable while results wait to be collected (it may also be
//  readable when none are: collecting then returns 0).
int hd_runner_fd (const hd_runner_t *self);
//  Payload keys for sealed tasks (borrowed; set before the first task). A sealed task opens its
//  input on the slot's thread, runs on the plaintext, and its output is sealed back; without
//  a ring such tasks are refused DENIED, and one that fails verification TAMPERED.
void hd_runner_set_keyring (hd_runner_t *self, hd_seal_keyring_t *ring);
//  Run inline (above) tasks of functions whose runs average under `us` microseconds (default
//  50; 0: never inline).
void hd_runner_set_inline_us (hd_runner_t *self, double us);
//  Whether finished results wait (one ran inline, or a slot posted one since the last collect).
bool hd_runner_has_results (hd_runner_t *self);
//  Tasks run inline since start.
uint64_t hd_runner_inlined (const hd_runner_t *self);
//  Move up to `max` finished results, oldest first, into env[i] / out[i] (initialised
//  zmq_msg_t; their old content is closed). Returns how many.
uint32_t hd_runner_collect (hd_runner_t *self, zmq_msg_t *env, zmq_msg_t *out, uint32_t max);
//  Tasks done / failed since start.
uint64_t hd_runner_done (const hd_runner_t *self);
uint64_t hd_runner_failed (const hd_runner_t *self);

#endif
