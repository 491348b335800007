/*  hd_job: one task as the broker holds it, from SUBMIT until its result is delivered.
    Allocated and freed by the scheduler; the payload is opaque here (the reactor stores its
    zmq_msg_t) and released through the scheduler's payload_free hook. Kept small: memory per
    queued task is a product figure (docs/PERFORMANCE.md).

    Job states (the scheduler's switch follows this table):
        state   | dispatch        | result (current lease) | worker lost            | lease expired
        QUEUED  | LEASED          | -                      | -                      | -
        LEASED  | -               | DONE                   | QUEUED (attempt < max) | DEAD
                |                 |                        | or DEAD                |
        DONE and DEAD are terminal: the reactor sends the result and the job is freed.
    A job requeued after a worker loss is QUEUED but not dispatched before not_before_ms
    (retry backoff); a worker's refusal (hd_scheduler_requeue) requeues it with no backoff.  */
#ifndef HD_JOB_H
#define HD_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "hd_codec.h"

typedef enum { HD_JOB_QUEUED = 0, HD_JOB_LEASED, HD_JOB_DONE, HD_JOB_DEAD } hd_job_state_t;

struct hd_node;

//  Requirements beyond the function; NULL on a job when there are none (the common case).
//  Shared by the jobs that ask the same (a job's tasks usually do: every sealed task names its
//  payload key's tag), counted by `refs`; immutable once made.
typedef struct {
    uint32_t min_mem_mb;
    uint32_t ntags;
    char tags[HD_MAX_TAGS][HD_MAX_NAME + 1];
    char node[HD_MAX_NAME + 1];
    uint32_t refs;  //  scheduler-private: jobs (and the scheduler's cache) holding it
} hd_reqs_t;

typedef struct hd_job {
    hd_id_t id;
    uint32_t fn;              //  interned function id (hd_registry_fn_intern)
    int32_t priority;
    uint32_t timeout_ms;
    uint32_t max_attempts;
    uint32_t attempt;         //  dispatches so far (the lease number of the current one)
    uint32_t client;          //  the reactor's client index
    hd_job_state_t state;
    bool parked;              //  scheduler-private: QUEUED, waiting out its retry backoff
    uint8_t seal;             //  SUBMIT's seal: passed on in TASK (the payload stays opaque)
    bool waits_fn;            //  queued for a function no worker offered yet: UNKNOWN_FN once
                              //  submitted_ms + the broker's worker wait (or its timeout) pass
    hd_reqs_t *reqs;          //  owned; NULL: none
    struct hd_node *worker; //  lease holder while LEASED; NULL in every other state
    union {                         //  one time whose meaning follows the state (8 bytes a job)
        int64_t lease_deadline_ms;  //  LEASED: the lease ends unanswered then (0: no timeout)
        int64_t not_before_ms;      //  QUEUED: retry backoff, not dispatched before (0: at once)
    };
    int64_t submitted_ms;
    void *payload;            //  opaque, owned through the scheduler's payload_free hook
    void *result;             //  opaque result kept until the client ACKs it (result_free hook)
    int64_t result_ms;        //  when the result was last sent to the client
    //  scheduler-private links: qnext/qprev chain a QUEUED job in its client's queue of its
    //  priority level (or in a backoff list while parked) and a LEASED job in its worker's lease
    //  list; qowner is that client queue for the job's life
    struct hd_job *qnext, *qprev;
    struct hd_job *hnext;
    void *qowner;
} hd_job_t;

#endif
