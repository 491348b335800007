/*  hd_client.h: libheddle, the public API for programs that submit work to a heddle cluster,
    start an embedded cluster, or create keys. Installed as <hd_client.h>.

    Threading: an hd_client_t is used by one thread at a time. Several clients may live in one
    process. Nothing here calls exit() or aborts on bad input from the network.

    Quick use:
        hd_client_t *c;
        hd_client_config_t cfg = { .endpoint = "tcp://pi1:7700", .keys_dir = "/etc/heddle/keys" };
        if (hd_client_connect (&cfg, &c) == HD_OK) {
            hd_reply_t *r;
            if (hd_client_call (c, "sha256", "abc", 3, NULL, &r) == HD_OK && r->status == 0)
                printf ("%.*s\n", (int) r->size, (char *) r->data);
            hd_reply_destroy (&r);
            hd_client_destroy (&c);
        }  */
#ifndef HD_CLIENT_H
#define HD_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HD_CLIENT_PORT 7700  //  default clients endpoint port
#define HD_WORKER_PORT 7701  //  default workers endpoint port

typedef struct hd_client hd_client_t;

typedef struct {
    const char *endpoint;     //  "tcp://host:7700", "host", "host:port" or "inproc://name"
    const char *keys_dir;     //  directory made by `heddle keys init` (broker.cert + client.cert_secret)
    const char *cert_path;    //  override: this client's secret certificate file
    const char *broker_key;   //  override: the broker's public key, Z85 (40 chars)
    bool insecure;            //  plain TCP (no CURVE): only against a broker run with --insecure
    uint32_t timeout_ms;      //  connect + first answer; default 5000
    uint32_t window;          //  tasks in flight at most for jobs; default 1000
    const char *session;      //  this client's identity at the broker, with its key (1..255
                              //  visible ASCII characters; claimed on the connection, never
                              //  its routing id); results of a session survive its
                              //  reconnects. Default: random
    bool plain_payloads;      //  do not seal payloads even when the keys directory holds the
                              //  cluster's payload key (payload.cert): the broker then sees them
    const char *payload_key;  //  override: the payload public key file (payload.cert)
    int32_t retry_ms;         //  a task refused BUSY or STORAGE (queue full, disk full) is sent
                              //  again after the broker's `retry` hint, for up to this long
                              //  after its first refusal; then the refusal is its result.
                              //  0: default 60000; negative: never retry
    bool insecure_key_perms;  //  a secret key (or keys_dir) open to group or others: log a
                              //  warning instead of refusing (HD_ECRYPTO)
    const volatile sig_atomic_t *interrupt;  //  a program's signal flag (NULL: none). Once
                              //  it is non-zero, waits inside the library (connect, call,
                              //  nodes, admin) return HD_ECLOSED "interrupted" within 100 ms,
                              //  and hd_client_job_run cancels its job (see there). czmq's
                              //  zsys_interrupted stops them too, as before
} hd_client_config_t;

//  Per-task options; NULL means all defaults.
typedef struct {
    int32_t priority;         //  higher first, default 0, [-1000, 1000]
    uint32_t timeout_ms;      //  deadline enforced by the worker; 0: none
    uint32_t max_attempts;    //  0: broker default
    const char *tags;         //  comma-separated tags every chosen node must have; NULL: none
    uint32_t min_mem_mb;      //  0: none
    const char *node;         //  run only on this node (by name); NULL: any
} hd_task_opts_t;

//  A task's outcome. status is a wire status: 0 OK, 1 FAILED, 2 UNKNOWN_FN, 3 TOO_LARGE,
//  4 BUSY, 5 MALFORMED, 6 VERSION, 7 TIMEOUT, 8 CANCELLED, 9 DENIED, 10 STORAGE, 11 LOST,
//  12 INTERNAL, 13 UNSATISFIABLE, 14 TAMPERED (a sealed payload or result failed
//  verification: never delivered as data) (hd_client_status_str gives the text).
typedef struct {
    uint8_t id[16];
    uint64_t seq;             //  caller's value given at submit (a job: the task's index)
    uint32_t status;
    uint32_t attempt;
    uint32_t elapsed_ms;      //  run time on the worker
    char node[64];            //  node that ran it ("" if none did)
    char error[1024];         //  reason when status != 0
    void *data;               //  output bytes (owned by the reply; NUL-terminated for convenience)
    size_t size;
} hd_reply_t;

//  Connect and check the broker answers (PING/PONG) within timeout_ms.
//  HD_OK; HD_EINVAL bad config; HD_ECRYPTO keys missing/invalid; HD_EDENIED the broker refused
//  this key; HD_ETIMEDOUT no answer; HD_ENOMEM. On failure hd_client_last_error-like text is in
//  `errbuf` when given (may be NULL).
hd_err_t hd_client_connect (const hd_client_config_t *config, hd_client_t **out);
hd_err_t hd_client_connect_verbose (const hd_client_config_t *config, hd_client_t **out,
                                    char *errbuf, size_t errlen);
//  The same in two steps, for a program that resumes a session: hd_client_open sets the client
//  up and starts connecting but reads nothing from the broker; the program then adopts the ids
//  it waits for (hd_client_adopt), and hd_client_start checks the broker answers. Results the
//  broker kept for the session can arrive as soon as the connection is up: adopting before
//  anything is read is what makes each of them reach this process (an id not adopted when its
//  result arrives is taken for a duplicate, ACKed and dropped).
hd_err_t hd_client_open (const hd_client_config_t *config, hd_client_t **out, char *errbuf,
                         size_t errlen);
hd_err_t hd_client_start (hd_client_t *self);
//  NULL-safe; sets *self_p = NULL. Unfinished tasks are abandoned (their results are dropped).
void hd_client_destroy (hd_client_t **self_p);
//  Text of the last error on this client (static or owned, never NULL).
const char *hd_client_last_error (const hd_client_t *self);
const char *hd_client_status_str (uint32_t status);
//  The largest task payload the broker accepts, bytes, as its PONG said at connect (a larger
//  one is answered TOO_LARGE); 0 when the broker did not say (an older broker).
uint32_t hd_client_max_payload (const hd_client_t *self);

//  Synchronous call: submit one task and wait for its result (up to opts->timeout_ms plus a
//  margin, or forever when 0). HD_OK with *out (caller destroys) whatever the task's status;
//  HD_ETIMEDOUT; HD_EDENIED; HD_ECLOSED; other errors with hd_client_last_error.
hd_err_t hd_client_call (hd_client_t *self, const char *fn, const void *data, size_t size,
                         const hd_task_opts_t *opts, hd_reply_t **out);
void hd_reply_destroy (hd_reply_t **self_p);

//  Asynchronous use. submit queues one task (copying data) and returns at once; id_out (16
//  bytes, may be NULL) receives its id. Results come back through hd_client_next or the callback.
//  HD_EFULL when `window` tasks are already in flight (process results first).
hd_err_t hd_client_submit (hd_client_t *self, const char *fn, const void *data, size_t size,
                           const hd_task_opts_t *opts, uint64_t seq, uint8_t *id_out);
//  Send what submit queued (submit flushes on its own when a batch fills; call before waiting).
hd_err_t hd_client_flush (hd_client_t *self);
//  A file descriptor that becomes readable when messages may be waiting (ZMQ_FD semantics:
//  after it fires, call hd_client_process until it reports 0 handled). For poll/epoll loops.
int hd_client_fd (hd_client_t *self);
//  Callback for results; the reply is the callee's to keep (destroy it when done).
typedef void (hd_reply_fn) (hd_client_t *self, hd_reply_t *reply, void *arg);
void hd_client_set_handler (hd_client_t *self, hd_reply_fn *fn, void *arg);
//  The broker queued tasks for a function no connected worker offers yet (none of `nodes` does):
//  they wait up to wait_ms for a worker that offers it, then end with status UNKNOWN_FN. `text`
//  says so in a sentence ("waiting for a worker that offers 'sha256' (0 nodes connected)").
//  Called for each NOTICE (one per SUBMIT message and function), from hd_client_process.
typedef void (hd_notice_fn) (hd_client_t *self, const char *fn, uint32_t nodes, uint32_t wait_ms,
                             const char *text, void *arg);
void hd_client_set_notice_handler (hd_client_t *self, hd_notice_fn *fn, void *arg);
//  Receive and handle what has arrived, waiting up to timeout_ms (0: do not wait, -1: forever)
//  for the first message. Each result goes to the handler if set, else to an internal queue read
//  by hd_client_next. *handled (may be NULL) gets the number of results. HD_OK or an error.
hd_err_t hd_client_process (hd_client_t *self, int timeout_ms, uint32_t *handled);
//  Next result as completed, waiting up to timeout_ms. HD_OK with *out (caller destroys);
//  HD_ETIMEDOUT; HD_ENOTFOUND when nothing is in flight.
hd_err_t hd_client_next (hd_client_t *self, int timeout_ms, hd_reply_t **out);
//  Tasks submitted and not yet answered. A result received and waiting for hd_client_next
//  counts as answered: to take every result, call hd_client_next until it returns HD_ENOTFOUND
//  (or count the results), not while this is above 0.
uint32_t hd_client_in_flight (const hd_client_t *self);
//  Of those, tasks the broker has not yet ACCEPTED (made durable). The library resends them
//  until it does; a program about to exit can wait for 0 before it lets go.
uint32_t hd_client_unaccepted (const hd_client_t *self);
//  After a restart with the same `session`: expect the result of task `id` (as seq), so that
//  results the broker kept for the old process are delivered to this one. Call it between
//  hd_client_open and hd_client_start: after connect, results may already have been dropped.
hd_err_t hd_client_adopt (hd_client_t *self, const uint8_t id[16], uint64_t seq);
//  Refusals (BUSY, STORAGE) answered by sending the task again (config.retry_ms).
uint64_t hd_client_retried (const hd_client_t *self);
//  REJECTED answers for tasks not in flight (one that already had its outcome): counted and
//  logged, never delivered. The broker sends none (one outcome per task, GUARANTEES.md).
uint64_t hd_client_stray_rejects (const hd_client_t *self);
//  Cancel a task by id (queued tasks are answered CANCELLED; running ones are stopped).
hd_err_t hd_client_cancel (hd_client_t *self, const uint8_t id[16]);
//  Cancel every task in flight on this client (each still ends with a result: CANCELLED, or its
//  real status when it finished first). Returns how many CANCEL requests went out.
uint32_t hd_client_cancel_all (hd_client_t *self);

//  Jobs: many tasks of one function, gathered in submission order or as they complete.
typedef struct hd_client_job hd_client_job_t;
typedef enum { HD_GATHER_ORDERED = 0, HD_GATHER_COMPLETED } hd_gather_t;
typedef struct {
    uint64_t tasks, done, failed;
    uint64_t cancelled;       //  tasks never run because the job was cancelled
    double seconds;           //  wall time of run
} hd_job_stats_t;
//  NULL only when memory runs out. opts apply to every task (copied).
hd_client_job_t *hd_client_job_new (hd_client_t *client, const char *fn, const hd_task_opts_t *opts);
void hd_client_job_destroy (hd_client_job_t **self_p);
//  Add a task's input (copied). Its seq is its index (0, 1, ...).
hd_err_t hd_client_job_add (hd_client_job_t *self, const void *data, size_t size);
//  Run to the end: keeps up to `window` tasks in flight and calls fn for each result, in index
//  order (ORDERED) or arrival order (COMPLETED). The reply passed to fn is borrowed for the
//  call. progress (may be NULL) is called at most every 100 ms with the stats so far.
//  Returns HD_OK when every task has a result (some may have failed: see stats), else the
//  transport error that stopped it.
typedef void (hd_job_result_fn) (const hd_reply_t *reply, void *arg);
typedef void (hd_job_progress_fn) (const hd_job_stats_t *stats, void *arg);
hd_err_t hd_client_job_run (hd_client_job_t *self, hd_gather_t gather, hd_job_result_fn *fn,
                            hd_job_progress_fn *progress, void *arg);
void hd_client_job_stats (const hd_client_job_t *self, hd_job_stats_t *out);
//  Cancel the job (callable from its result or progress callback, e.g. to stop at the first
//  failure): no more tasks are submitted, those in flight are cancelled (each still ends with a
//  result, CANCELLED or its real status if it finished first), and hd_client_job_run returns
//  once none is in flight, with stats.cancelled counting the tasks that got no result.
//  The client's interrupt flag (hd_client_config_t) cancels the job the same way, but the run
//  then waits at most HD_CLIENT_CANCEL_WAIT_MS for the answers (a person pressed Ctrl-C).
void hd_client_job_cancel (hd_client_job_t *self);
#define HD_CLIENT_CANCEL_WAIT_MS 500

//  Detached jobs (docs/GUARANTEES.md, promise 18): the broker keeps a job's tasks and their
//  results (in a result store beside its journal) until the job is released or its TTL ends,
//  across broker restarts and whatever becomes of the client that submitted it. A job's id is
//  "j-" and 16 lowercase hex digits; its tasks are its inputs 0 .. total-1 (a reply's seq is
//  its index). Only the key that opened a job sees it. Needs a broker with a journal (not the
//  embedded cluster) and a results budget (heddle-broker --results-max-bytes).
#define HD_JOB_ID_SIZE 19   //  "j-" + 16 hex digits + NUL
typedef struct {
    char job[HD_JOB_ID_SIZE];
    char name[65];
    char state[16];          //  running | done | cancelled | released
    uint32_t total;          //  tasks of the job
    uint32_t queued, running;   //  held by the broker now
    uint32_t ok, failed, cancelled;  //  results stored, by outcome (failed: any other status)
    uint32_t stored;         //  results stored (ok + failed + cancelled)
    uint64_t bytes;          //  size of the job's result store
    int64_t created_ms, expires_ms;  //  ms since the epoch
    double rate;             //  results per second over about the last minute
} hd_job_info_t;

//  Listing and control, on any client connected with the owner's key. *out is an array of
//  *count entries, newest first, at most 256 (caller frees with free()).
hd_err_t hd_client_jobs_list (hd_client_t *self, hd_job_info_t **out, uint32_t *count);
//  One job's info. HD_ENOTFOUND: no such job for this key (also when it belongs to another key).
hd_err_t hd_client_jobs_info (hd_client_t *self, const char *job, hd_job_info_t *out);
//  Cancel what still runs (the job and its results stay until released): out (may be NULL)
//  gets the job's state after the act. HD_ENOTFOUND as above.
hd_err_t hd_client_jobs_cancel (hd_client_t *self, const char *job, hd_job_info_t *out);
//  Cancel what runs and forget the job and its stored results at the broker.
hd_err_t hd_client_jobs_release (hd_client_t *self, const char *job, hd_job_info_t *out);

//  A handle on one detached job: submit its tasks, and read its results from the broker's
//  store (in index order or as stored), as often as wanted until the job is released.
typedef struct hd_detached hd_detached_t;
typedef struct {
    const char *job;          //  NULL: open a new job; else attach to this one
    const char *fn;           //  the function of its tasks (NULL when nothing is submitted)
    const char *name;         //  a new job's name in listings, <= 64 bytes (NULL: "")
    uint32_t total;           //  a new job's task count (>= 1). Attaching: 0 takes the broker's
                              //  count, else it must match it (HD_EINVAL otherwise)
    uint32_t ttl_s;           //  a new job's lifetime, seconds (0: the broker's, 7 days)
    const hd_task_opts_t *opts;   //  per-task options of what is submitted (copied)
    bool read_only;           //  attach only to read results (a session of its own, so that a
                              //  process still submitting to the job is not disturbed)
} hd_detached_config_t;
//  Connect (config as hd_client_connect; its `session` is ignored: the job's id is the
//  session) and open or attach to the job. HD_OK; HD_ENOTFOUND no such job for this key;
//  HD_EFULL the broker refused a new job (results budget full, or too many jobs open for this
//  key: errbuf says which and what to do); HD_ETOOBIG more tasks than the broker takes in a
//  job (--max-key-tasks); HD_ENOTSUP the broker keeps no detached jobs (no journal,
//  --results-max-bytes 0, or an older broker); other errors as hd_client_connect.
hd_err_t hd_detached_open (const hd_client_config_t *config, const hd_detached_config_t *job,
                           hd_detached_t **out, char *errbuf, size_t errlen);
//  NULL-safe. The job stays at the broker (release it with hd_detached_release).
void hd_detached_destroy (hd_detached_t **self_p);
const char *hd_detached_id (const hd_detached_t *self);
//  The client underneath (hd_client_last_error, hd_client_unaccepted, ...). Borrowed.
hd_client_t *hd_detached_client (hd_detached_t *self);
//  The job's info as the broker last said it.
void hd_detached_info (const hd_detached_t *self, hd_job_info_t *out);
//  Read every result stored up to now (no waiting), so that hd_detached_has tells which tasks
//  need no submitting. Results read are kept for hd_detached_next.
hd_err_t hd_detached_sync (hd_detached_t *self);
//  Whether task `index`'s result has been read here.
bool hd_detached_has (const hd_detached_t *self, uint64_t index);
//  Submit task `index` (< total) with its input (copied), unless its result was read here
//  (HD_OK, nothing sent) or this handle submitted it already. A task the broker already holds
//  or stored is answered ACCEPTED again and does not run twice. HD_EFULL when `window` tasks
//  wait for ACCEPTED: let the library work (hd_client_process on hd_detached_client, or
//  hd_detached_next) and submit again. To bound the results held here, compare
//  hd_detached_out with a limit of your own. Not on a read_only handle (HD_EINVAL).
hd_err_t hd_detached_submit (hd_detached_t *self, uint64_t index, const void *data, size_t size);
//  Tasks this handle submitted whose result it has not read yet.
uint32_t hd_detached_out (const hd_detached_t *self);
//  Wait until the broker has ACCEPTED (made durable) every task submitted, up to timeout_ms
//  (-1: forever): after that the program may exit and the job goes on. HD_OK; HD_ETIMEDOUT.
hd_err_t hd_detached_wait_accepted (hd_detached_t *self, int timeout_ms);
//  Next result not yet returned, in index order (ORDERED) or as stored (COMPLETED), waiting
//  up to timeout_ms (-1: forever). HD_OK with *out (caller destroys); HD_ETIMEDOUT;
//  HD_ENOTFOUND every result has been returned, or the job is cancelled and none is left;
//  HD_EDENIED the broker refused to read the job any more (released, or its TTL ended).
//  Replies of tasks the broker refused (REJECTED) come here too, with the refusal's status.
//  A cancelled job: results held back for ORDERED come out in index order, gaps skipped.
hd_err_t hd_detached_next (hd_detached_t *self, hd_gather_t gather, int timeout_ms,
                           hd_reply_t **out);
//  Read nothing more from the broker: hd_detached_next hands out what was read (ORDERED: in
//  index order, gaps skipped), then HD_ENOTFOUND. For a partial read or a cancelled job.
void hd_detached_drain (hd_detached_t *self);
//  Results returned by hd_detached_next so far.
uint64_t hd_detached_returned (const hd_detached_t *self);
//  hd_client_jobs_cancel / _release on this job (waited for even when the client's interrupt
//  flag is set). After cancel, hd_detached_next hands out what the cancel brings back, whatever
//  the interrupt flag says.
hd_err_t hd_detached_cancel (hd_detached_t *self);
hd_err_t hd_detached_release (hd_detached_t *self);

//  Cluster administration.
#define HD_NODE_HAS_CPU 0x01    //  present bits of hd_node_info_t: a figure is absent (no source,
#define HD_NODE_HAS_MEM 0x02    //  or no metrics from that node yet) unless its bit is set
#define HD_NODE_HAS_TEMP 0x04
#define HD_NODE_HAS_SCORE 0x08
#define HD_NODE_HAS_LOAD 0x10
#define HD_NODE_HAS_AGE 0x20
typedef struct {
    char name[64], arch[64], state[16];  //  state: idle | busy | draining | stale | hot
    uint32_t slots, busy, cores;
    double capacity;                     //  C_j the scheduler uses now
    uint64_t done, failed;
    uint32_t present;                    //  HD_NODE_HAS_* bits
    double cpu;                          //  whole-machine CPU busy, 0..1
    uint64_t mem_total, mem_avail;       //  bytes
    double temp;                         //  degrees C
    double score;                        //  benchmark score
    double load1;
    uint32_t age_ms;                     //  age of the node's last metrics snapshot
    char tags[512];                      //  comma-separated
} hd_node_info_t;
//  List the broker's nodes. *out is an array of *count entries (caller frees with free()).
hd_err_t hd_client_nodes (hd_client_t *self, hd_node_info_t **out, uint32_t *count);
//  Administration (needs an admin key; any key on an --insecure broker): op "drain" (the node
//  gets no new task, running ones finish) or "resume". HD_OK; HD_EDENIED not an admin key;
//  HD_ENOTFOUND no such node; HD_EINVAL unknown op; text in hd_client_last_error.
hd_err_t hd_client_admin (hd_client_t *self, const char *op, const char *node);
//  Same, keeping the broker's reply text in out (always NUL-terminated; at most 1023 bytes).
//  Enrollment ops: "pending" (arg "*"; out: one line per key waiting for approval,
//  "KEY ADDRESS SECONDS_AGO ATTEMPTS", oldest first, and "+N more" when some did not fit);
//  "approve" / "reject" (arg: the worker key, or a unique prefix of at least 8 chars).
//  HD_ENOTFOUND no pending key matches; HD_EINVAL prefix too short or ambiguous.
hd_err_t hd_client_admin_text (hd_client_t *self, const char *op, const char *arg, char *out,
                               size_t len);
//  Sealed payloads: seal every payload secret key in keys_dir (payload.cert_secret and older
//  payload-*.cert_secret, at most 4) to worker key `worker_key` (Z85, 40 chars) and hand the
//  grants to the broker, which gives them to that worker in its WELCOME (it cannot open them).
//  Needs an admin key. *granted (may be NULL) gets how many. HD_OK; HD_ENOTFOUND keys_dir holds
//  no payload secret; HD_EINVAL bad key; other errors as hd_client_admin.
hd_err_t hd_client_grant_payload (hd_client_t *self, const char *worker_key, const char *keys_dir,
                                  uint32_t *granted);
//  The functions the cluster offers (FUNCTIONS): each function some worker offered since the
//  broker started, or with tasks queued or running, in the broker's order.
typedef struct {
    char name[64];
    uint32_t nodes;          //  nodes offering it now
    char names[1040];        //  comma-separated names of (up to 16 of) those nodes
    uint32_t queued, running;
    uint64_t done;           //  results since the broker started
    double mean_ms;          //  their mean run time on the workers, ms (0: none yet)
} hd_function_info_t;
//  *out is an array of *count entries (caller frees with free()).
hd_err_t hd_client_functions (hd_client_t *self, hd_function_info_t **out, uint32_t *count);
//  Wait until at least `count` nodes are registered (polling NODES), up to timeout_ms.
hd_err_t hd_client_wait_nodes (hd_client_t *self, uint32_t count, uint32_t timeout_ms);

//  Cluster events from the broker's events PUB socket (node joined/left/lost/drain/resume, and
//  a "stats" event every second). Lossy by nature: for display, not for bookkeeping.
typedef struct hd_events hd_events_t;
typedef struct {
    char type[16];        //  "node" or "stats"
    char node[64], state[16], text[256];
    uint64_t queued, running, done, failed;
    double rate;          //  results per second over the last interval
} hd_event_info_t;
//  Subscribe. config->endpoint names the broker (its clients endpoint); the events endpoint is
//  the same host at `port` (0: 7703). Same keys as a client. HD_OK or an error with errbuf text.
hd_err_t hd_events_open (const hd_client_config_t *config, uint16_t port, hd_events_t **out,
                         char *errbuf, size_t errlen);
//  Next event within timeout_ms: HD_OK, HD_ETIMEDOUT.
hd_err_t hd_events_next (hd_events_t *self, int timeout_ms, hd_event_info_t *out);
void hd_events_destroy (hd_events_t **self_p);

//  Embedded cluster: a broker and `workers` workers (each with `slots` slots, 0: one per core)
//  running in threads of this process over inproc://, no keys needed. For tests, demos and
//  single-machine use. hd_cluster_endpoint gives the endpoint to connect a client to.
typedef struct hd_cluster hd_cluster_t;
hd_err_t hd_cluster_start (uint32_t workers, uint32_t slots, hd_cluster_t **out);
const char *hd_cluster_endpoint (const hd_cluster_t *self);
void hd_cluster_stop (hd_cluster_t **self_p);

//  Keys: create DIR with the broker's, a client's, a worker's and an admin's certificates and
//  the allowlists (clients.keys, workers.keys, admins.keys). Secret files are 0600.
//  HD_OK; HD_EIO (with errbuf text) when DIR exists with keys and force is false, or on I/O error.
hd_err_t hd_keys_init_dir (const char *dir, bool force, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
