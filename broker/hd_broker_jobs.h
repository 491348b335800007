/*  hd_broker_jobs: the broker's private state for detached jobs, shared by hd_broker_jobs.c
    (the client commands) and hd_broker_jobs_store.c (results into the stores, held fetches,
    TTL, durability). Not a public header.  */
#ifndef HD_BROKER_JOBS_H
#define HD_BROKER_JOBS_H

#include "hd_broker_int.h"
#include "hd_codec_jobs.h"
#include "hd_dropq.h"
#include "hd_jobstore.h"

#define HD_JOB_TTL_MAX (90u * 86400)  //  a job lives at most 90 days

//  A JOB_FETCH held until a result is stored or its wait ends (one per job).
typedef struct {
    bool on;
    uint32_t client;  //  the session that asked (any of the owner key's)
    uint64_t off;
    uint32_t max;
    int64_t due_ms;
    int64_t data_ms;  //  when data past `off` was first seen (0: none yet): answered
                      //  HD_JOB_GATHER_MS later, or at once when half of `max` is there
} hd_jobhold_t;

//  A held fetch with data waits this long for more before it is answered: each answer then
//  carries the results of a few ms, not one (the client fetches again only after an answer).
#define HD_JOB_GATHER_MS 5

//  A result waiting in a batch (hd_broker_jobs_batch_add).
typedef struct {
    hd_job_t *job;
    const void *env;
    size_t env_size;
    hd_payload_t *data;
    uint32_t slot;
} hd_jobres_t;

typedef struct hd_jobs {
    hd_jobstore_t *store;
    uint64_t budget;        //  --results-max-bytes in force (0: no new job)
    hd_jobhold_t *holds;    //  one per store slot
    uint32_t holds_cap, nholds;
    bool woken;             //  a result was stored since the held fetches were looked at
    hd_buf_t data;          //  the pairs of a JOB_DATA answer
    int *fds;               //  dirty stores handed to the syncer
    uint32_t fds_cap;
    hd_jobres_t *batch;     //  results of the DONE message being handled
    hd_jobstore_item_t *items;  //  ... as the store takes them
    uint32_t nbatch, batch_cap;
    hd_dropq_t drops;       //  DROP records of stored tasks waiting for their stores' sync
    bool syncing;           //  a store sync is in flight on the syncer (covering drops' flight)
    bool sync_soon;         //  a refusal was stored: sync the stores with the next commit
    hd_id_t *retry;         //  tasks whose result a store refused (disk full): kept, retried
    uint32_t nretry, retry_cap;
    hd_joblist_t *list;     //  a JOBS_REPLY being built
    hd_ratelog_t refuse_log;
    int64_t ops_since_ms;   //  the second JOB_OPEN, JOB_CANCEL and JOB_RELEASE are counted in
    uint32_t ops;           //  (each may fsync on the loop: at most HD_JOB_OPS_PER_S)
} hd_jobs_t;

//  JOB_OPEN + JOB_CANCEL + JOB_RELEASE handled per second, over all keys: each writes or removes
//  files with fsync on the broker's loop, so a key opening and releasing in a loop could stall
//  it; past this they are REJECTED BUSY (retry 1000).
#define HD_JOB_OPS_PER_S 64

//  The job record of a job's session (and its slot); NULL for a plain session.
hd_jobrec_t *hd_broker_jobs_rec (hd_broker_t *self, uint32_t client, uint32_t *slot);
int64_t hd_broker_wall_ms (void);
void hd_broker_jobs_info (hd_broker_t *self, uint32_t slot, int64_t now, hd_jobinfo_t *out);
//  Every result is in, or it was cancelled and nothing of it runs any more.
bool hd_broker_jobs_finished (hd_broker_t *self, const hd_jobrec_t *r);
//  JOB_DATA with the pairs from `off` (state: an info state to force, with no pairs: "released").
void hd_broker_jobs_send_data (hd_broker_t *self, uint32_t slot, uint32_t client, uint64_t off,
                               uint32_t max, int64_t now, const char *state);
void hd_broker_jobs_hold (hd_broker_t *self, uint32_t slot, uint32_t client, uint64_t off,
                          uint32_t max, int64_t due_ms);
//  Answer the fetch held for the job, if any, with what is there.
void hd_broker_jobs_unhold (hd_broker_t *self, uint32_t slot, int64_t now);
//  Refusals a job's task gets for good (TOO_LARGE, UNSATISFIABLE, UNKNOWN_FN, MALFORMED): its
//  outcome then goes to the store (hd_broker_jobs_refused). BUSY, STORAGE and INTERNAL are for
//  now (the client sends it again), DENIED and CANCELLED are about the id or the job, not the
//  task: those stay REJECTED.
bool hd_broker_jobs_for_good (uint32_t code);
//  Store the refusal of task `id` of the job on session `client` as its result (status `code`,
//  `reason`, no output) and answer ACCEPTED. false (nothing done: send REJECTED) when the id is
//  not one of the job's, or the store refuses the write.
bool hd_broker_jobs_refused (hd_broker_t *self, uint32_t client, const hd_id_t *id, uint32_t code,
                             const char *reason, int64_t now);
//  A task whose result is stored in the job of store slot `slot`: released now, its DROP record
//  deferred until a sync of the stores covers it (hd_broker_jobs_sync.c).
void hd_broker_jobs_forget_stored (hd_broker_t *self, hd_job_t *job, uint32_t slot,
                                   int64_t now);
//  A job ending: the DROP records of its stored tasks still waiting go to the journal now (its
//  files are removed next, so its tasks never come back whatever those records' fate).
void hd_broker_jobs_drops_of (hd_broker_t *self, uint32_t slot);
//  JOB_CANCEL: recorded durably, queued tasks end CANCELLED (stored), running ones are aborted.
hd_err_t hd_broker_jobs_cancel (hd_broker_t *self, uint32_t slot);
//  JOB_RELEASE or TTL: every task forgotten (running ones aborted), files removed, the session
//  a plain one again.
void hd_broker_jobs_end (hd_broker_t *self, uint32_t slot, int64_t now, const char *why);

#endif
