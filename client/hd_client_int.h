/*  hd_client_int: libheddle's private client state, shared by hd_client.c (connection,
    submit, receive), hd_client_job.c (jobs) and hd_client_admin.c (nodes). Not installed.  */
#ifndef HD_CLIENT_INT_H
#define HD_CLIENT_INT_H

#include <czmq.h>

#include "hd_client.h"
#include "hd_codec.h"
#include "hd_codec_jobs.h"
#include "hd_frames.h"
#include "hd_idmap.h"
#include "hd_keys.h"
#include "hd_pack.h"
#include "hd_seal.h"
#include "hd_transport.h"

//  snprintf (dst, cap, "%s", src) without its cost (it ran three times a task: a sixth of the
//  client's instructions per task): src cut to cap - 1 bytes, always terminated. cap >= 1.
static inline void
hd_client_copy_text (char *dst, size_t cap, const char *src)
{
    size_t n = strnlen (src, cap - 1);
    memcpy (dst, src, n);
    dst[n] = '\0';
}

#define HD_CLIENT_FLUSH_TASKS 256      //  a SUBMIT message carries at most this many tasks
#define HD_CLIENT_FLUSH_BYTES (1u << 20)

//  What a task keeps until ACCEPTED, to resend it after a broker crash: one block with its
//  envelope and payload bytes (a small, packed task), or reference-counted copies of the two
//  frames a large task was sent as (framed). Freed by hd_client_unkeep.
typedef struct {
    uint32_t env_size, size;
    bool framed;
    int64_t refused_us;  //  first BUSY/STORAGE refusal of this task (0: none): retries end
                         //  config.retry_ms after it
    uint64_t align_;  //  what follows is 8-byte aligned (zmq_msg_t)
} hd_kept_t;

static inline zmq_msg_t *
hd_kept_frames (hd_kept_t *k)
{
    return (zmq_msg_t *) (void *) (k + 1);
}

static inline uint8_t *
hd_kept_bytes (hd_kept_t *k)
{
    return (uint8_t *) (k + 1);
}

typedef struct s_queued {
    hd_reply_t reply;  //  first member: hd_reply_destroy frees the whole node
    struct s_queued *next;
} hd_queued_t;

struct hd_client {
    hd_client_config_t config;
    char endpoint[256];
    zsock_t *dealer, *monitor;
    void *raw;
    zcert_t *cert;
    char server_key[HD_KEY_TEXT];
    hd_frames_t in;
    hd_buf_t env;
    zmq_msg_t *pending;            //  frames of the SUBMIT being built: env, payload, ...
    uint32_t npending;             //  tasks in it
    hd_buf_t pack;                 //  the packed SUBMIT being built (hd_pack): small tasks
    uint32_t npacked;              //  tasks in it
    size_t pending_bytes;
    hd_kept_t *pending_keep;       //  handed from s_append to the in-flight entry
    hd_idmap_t *inflight;
    hd_queued_t *head, *tail;      //  results waiting for hd_client_next
    hd_reply_fn *handler;
    void *handler_arg;
    hd_notice_fn *notice_fn;       //  NOTICE from the broker: tasks wait for a worker
    void *notice_arg;
    //  hd_client_call waits for one id: its result lands here instead of the queue
    bool capturing;
    hd_id_t capture_id;
    hd_reply_t *captured;
    //  NODES_REPLY / PONG seen by the receive loop
    bool pong;
    uint32_t max_payload;          //  the broker's, from its last PONG (0: not said)
    void *nodes;                   //  hd_nodeinfo_t array from the last NODES_REPLY
    uint32_t nnodes;
    bool nodes_seen;
    void *fns;                     //  hd_fninfo_t array from the last FUNCTIONS_REPLY
    uint32_t nfns;
    bool fns_seen;
    //  ADMIN sent and its answer (a REJECTED without id) not yet seen; then its code and reason
    bool admin_pending;
    uint32_t admin_code;
    uint32_t admin_retry_ms;       //  its retry hint (a job request refused BUSY for a moment)
    char admin_reason[HD_MAX_ERROR + 1];
    bool denied;
    bool tcp_connected, handshaken, handshake_failed;  //  monitor events seen (hd_client_diag)
    char session[HD_SESSION_MAX + 1];
    int64_t last_ping_us;
    uint64_t resubmitted;
    uint64_t retried;              //  refusals (BUSY, STORAGE) answered by a later resend
    uint64_t stray_rejects;        //  REJECTED for a task not in flight
    hd_idlist_t *acks;             //  ids of results received and not yet ACKed
    int64_t acks_since_us;         //  when the oldest of them came
    hd_buf_t ack_env;              //  their ACK envelope: sent from inside a submit too, so not
                                   //  in `env`, which holds the SUBMIT being queued
    hd_idlist_t *scratch;          //  decoding ACCEPTED
    bool cancels_sent;             //  destroy lingers so that they leave
    char last_error[512];
    hd_seal_sender_t *seal;        //  sealed payloads: NULL plain (hd_client_seal.c)
    hd_buf_t sealed;               //  a sealed task input being queued
    uint64_t tampered;             //  results that failed verification
    //  Detached jobs (hd_client_detached.c): a job's own session forgets a task once ACCEPTED
    //  (its result comes by JOB_FETCH, never as RESULT); replies to the job commands go to
    //  job_hook (JOB_INFO, JOBS_REPLY, JOB_DATA), refusals without id to admin_* as for ADMIN.
    bool job_session;
    bool ignore_interrupt;         //  a JOB_CANCEL / JOB_RELEASE is waited for even after Ctrl-C
    void (*job_hook) (hd_client_t *self, uint8_t cmd, void *arg);
    void *job_hook_arg;
};

//  The program's interrupt flag (config.interrupt) or czmq's is set.
static inline bool
hd_client_interrupted (const hd_client_t *self)
{
    return !self->ignore_interrupt
           && (zsys_interrupted || (self->config.interrupt && *self->config.interrupt));
}

//  hd_client.c
hd_err_t hd_client_fail (hd_client_t *self, hd_err_t rc, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Send [header][env] with the current self->env.
hd_err_t hd_client_send_env (hd_client_t *self, uint8_t cmd);
int64_t hd_client_now_us (void);
//  hd_client_diag.c: the broker's host resolves (before connecting); why no PONG came (after
//  the connect timed out: rewrites last_error); a ZAP refusal with its status code.
hd_err_t hd_client_check_host (hd_client_t *self);
void hd_client_diagnose (hd_client_t *self);
void hd_client_on_auth_failure (hd_client_t *self, uint32_t status);
//  hd_client_seal.c: payloads sealed end to end when the keys directory holds payload.cert and
//  the broker is reached over TCP (unless config.plain_payloads). HD_OK or a key error.
hd_err_t hd_client_seal_setup (hd_client_t *self);
//  The same with the job key of another session of this key (a detached job's id).
hd_err_t hd_client_seal_setup_as (hd_client_t *self, const char *session);
//  Seal `data` for task `s` (its tag and seal version are added to s): the bytes to send go to
//  *out / *out_size (self->sealed). HD_OK; HD_EINVAL no room for the tag; HD_ENOMEM.
hd_err_t hd_client_seal_task (hd_client_t *self, hd_submit_t *s, const void *data, size_t size,
                              const void **out, size_t *out_size);
//  hd_client_io.c
hd_err_t hd_client_ping (hd_client_t *self);
//  Send the ACK for every result received so far (nothing when there is none).
void hd_client_send_acks (hd_client_t *self);
hd_err_t hd_client_fetch_nodes (hd_client_t *self);
hd_err_t hd_client_fetch_functions (hd_client_t *self);
//  Free what an in-flight entry keeps (the frames to resend until accepted).
void hd_client_unkeep (hd_idval_t *val);
//  hd_client_diag.c: the broker's host resolves (before connecting); why no PONG came (after
//  the connect timed out: rewrites last_error); a ZAP refusal with its status code.
hd_err_t hd_client_check_host (hd_client_t *self);
void hd_client_diagnose (hd_client_t *self);
void hd_client_on_auth_failure (hd_client_t *self, uint32_t status);
//  A reply for result `r` of the task known as `seq`, its output opened when payloads are
//  sealed (status TAMPERED when it fails verification). NULL when memory runs out.
hd_reply_t *hd_client_reply_for (hd_client_t *self, hd_result_t *r, uint64_t seq,
                                 const void *out, size_t out_size);
//  Wait for `done (self, arg)` while processing messages, up to deadline_us (0: none); `what`
//  names the request in the timeout's error.
hd_err_t hd_client_wait_for (hd_client_t *self, bool (*done) (hd_client_t *, void *), void *arg,
                             int64_t deadline_us, const char *what);
//  hd_client_submit.c: submit with a given id (hd_client_submit draws a random one).
hd_err_t hd_client_submit_id (hd_client_t *self, const char *fn, const void *data, size_t size,
                              const hd_task_opts_t *opts, uint64_t seq, const hd_id_t *id);
//  hd_client_jobs.c: a request about a detached job (JOB_OPEN, JOBS, JOB_CANCEL, JOB_RELEASE)
//  and its answer. The client's job_hook (hd_client_job_hook, arg an hd_jobhook_t) routes
//  JOB_INFO and JOBS_REPLY to the request waiting, JOB_DATA to the detached job of the session.
typedef struct {
    uint8_t want;              //  HD_CMD_JOB_INFO or HD_CMD_JOBS_REPLY
    const char *job;           //  JOB_INFO of this job only
    bool seen;
    hd_job_info_t info;        //  JOB_INFO
    hd_job_info_t *list;       //  JOBS_REPLY (malloc'ed; the caller frees)
    uint32_t count;
} hd_jobreq_t;
typedef struct {
    hd_jobreq_t *req;          //  the request waiting, or NULL
    hd_detached_t *det;        //  the job of this session, or NULL
} hd_jobhook_t;
void hd_client_job_hook (hd_client_t *self, uint8_t cmd, void *arg);
//  Send `cmd` with the current self->env and wait for its answer (up to config.timeout_ms).
//  HD_OK; the broker's refusal as HD_ENOTFOUND (DENIED: no such job for this key), HD_EFULL
//  (STORAGE, BUSY), HD_ENOTSUP (the broker keeps no jobs), HD_EINVAL (MALFORMED), HD_ETOOBIG
//  (TOO_LARGE: more tasks than the broker takes in one job), with its
//  reason in last_error; HD_ETIMEDOUT.
hd_err_t hd_client_job_request (hd_client_t *self, uint8_t cmd, hd_jobreq_t *req);
void hd_job_info_from_wire (const hd_jobinfo_t *in, hd_job_info_t *out);
//  hd_client_detached.c: JOB_DATA for the job of this session (the frames are in self->in).
void hd_detached_on_data (hd_detached_t *det);
//  hd_client_io.c: a refused task is resent this long after the broker's `retry` hint
hd_err_t hd_client_wait_capture (hd_client_t *self, const hd_id_t *id, int64_t deadline_us);

#endif
