/*  hd_broker_int: the broker's private state, shared by its three source files:
    hd_broker.c (life cycle, loop, timers), hd_broker_workers.c (the workers socket) and
    hd_broker_clients.c (the clients socket). Not a public header.  */
#ifndef HD_BROKER_INT_H
#define HD_BROKER_INT_H

#include <czmq.h>

#include "hd_accq.h"
#include "hd_auth.h"
#include "hd_broker.h"
#include "hd_buf.h"
#include "hd_codec.h"
#include "hd_codec_nodes.h"
#include "hd_conns.h"
#include "hd_discovery.h"
#include "hd_frames.h"
#include "hd_nodenames.h"
#include "hd_pack.h"
#include "hd_payload.h"
#include "hd_ratelog.h"
#include "hd_registry.h"
#include "hd_scheduler.h"
#include "hd_sessions.h"

//  Completed jobs in completion order, for resending and expiry (looked up by id, so an entry
//  whose job was acknowledged meanwhile is simply skipped).
typedef struct {
    hd_id_t id;
    int64_t done_ms;
} hd_doneref_t;

typedef struct {
    hd_doneref_t *items;
    uint32_t head, count, cap;
} hd_donefifo_t;

//  Tasks picked for one node in the current dispatch round (batched into one TASK message).
typedef struct {
    hd_job_t **jobs;
    uint32_t count, cap;
    bool listed;
    char key[41];  //  the worker key its HELLO came with (ZAP User-Id); "" insecure
} hd_nodeout_t;

//  A HELLO refused because its node name belongs to another key (two boards started with one
//  name, e.g. cloned images sharing a host name): listed in `heddle nodes` (state "conflict")
//  and `heddle nodes pending` until that key joins under a name of its own or is revoked.
typedef struct {
    char key[HD_KEY_Z85 + 1];
    char owner[HD_KEY_Z85 + 1];
    char name[HD_MAX_NAME + 1];
    char arch[HD_MAX_NAME + 1];
    char address[64];
    int64_t last_seen;  //  wall-clock seconds
    uint32_t attempts;
} hd_conflict_t;

//  A function no worker offered yet with tasks waiting for one (hd_broker_wait.c).
typedef struct {
    uint32_t fn;
    int64_t due_ms;  //  the earliest deadline among its waiting tasks
} hd_fnwait_t;

typedef struct {
    uint64_t submitted, accepted, rejected, dispatched, completed, failed;
    uint64_t fenced, unknown_results, malformed, unroutable, lost_workers, dead;
    uint64_t acked, resent, expired, busy, expired_leases, metrics, bad_metrics, storage;
    uint64_t undurable;            //  tasks whose result stands though their ACCEPT was not stored
    uint64_t requeued, denied;      //  denied: messages refused for their key (session, task, role)
    uint64_t refused_hellos, replaced, foreign;  //  foreign: a message or metrics from a key
                                                 //  that is not the node's (dropped)
} hd_broker_stats_t;

typedef struct hd_web hd_web_t;  //  hd_broker_web.c

struct hd_broker {
    hd_broker_config_t config;
    zsock_t *clients, *workers, *metrics, *events;
    int stop_fd;                   //  eventfd: hd_broker_stop (any thread) writes it
    void *clients_raw, *workers_raw;
    hd_auth_t *auth;
    char workers_keys[4096];       //  KEYS_DIR/workers.keys: approvals are appended here
    char workers_names[4096];      //  KEYS_DIR/workers.names: which key owns which node name
    hd_nodenames_t *names;         //  NULL when insecure
    hd_conflict_t *conflicts;      //  HD_BROKER_MAX_CONFLICTS, oldest first
    uint32_t nconflicts;
    zcert_t *cert;
    char fingerprint[HD_FINGERPRINT_TEXT];  //  of the public key; "" insecure
    struct hd_grants *grants;      //  payload-key grants relayed to workers (sealed payloads)
    char grants_path[4096];        //  KEYS_DIR/payload.grants; "" none
    hd_discovery_t *beacon;        //  the discovery beacon's actor; NULL when off
    char clients_ep[256], workers_ep[256], metrics_ep[256], events_ep[256];
    uint32_t metrics_port;
    uint64_t last_completed;       //  for the stats event's rate
    hd_registry_t *registry;
    hd_scheduler_t *scheduler;
    hd_frames_t in;              //  the message being handled
    hd_buf_t env;                //  reused envelope encoder buffer
    hd_buf_t pack;               //  reused packed frame (hd_pack) of a TASK or RESULT message
    hd_idlist_t *accepted;       //  ids accepted from the current SUBMIT
    hd_sessions_t *sessions;     //  client sessions, owned by keys; a job's client indexes it
    char in_role[16];            //  the current client message's role ("client", "admin")
    char in_key[41];             //  ... and key, from its own ZAP User-Id ("" insecure)
    hd_nodeinfo_t *down;         //  nodes lost or gone, shown as "down" until they return
    uint32_t ndown;
    hd_job_t **outbox;           //  results finished in this burst, sent at its end
    uint32_t nout, out_cap;
    hd_node_t **touched;         //  nodes with tasks picked in this dispatch round
    uint32_t ntouched, touched_cap;
    hd_donefifo_t done;
    hd_journal_t *journal;
    hd_buf_t jbuf;                 //  reused record buffer
    uint64_t live_bytes;           //  estimate of the journal's live records, for compaction
    int64_t last_compact_ms;
    uint64_t journal_budget;       //  bytes the journal may use (journal_max_mb or default)
    uint64_t low_space;            //  free bytes under which space is short
    bool refused_storage;          //  a commit failed for lack of space since the last compaction
    hd_accq_t acc;                 //  ACCEPTED replies waiting for their commit (hd_accq)
    struct hd_syncer *syncer;      //  runs commits off this thread; NULL: journal none
    bool fatal;                    //  the journal failed: stop
    int64_t next_beat_ms;
    hd_fnwait_t *fnwait;           //  functions waited for (HD_MAX_FN_IDS entries, lazily)
    uint32_t nfnwait;
    uint32_t noticed_fn;           //  fn + 1 a NOTICE went out for in this SUBMIT; 0: none
    hd_broker_stats_t stats;
    hd_web_t *web;                 //  the web endpoint (--http); NULL when off
    hd_ratelog_t full_log;         //  "disk full: refusing tasks": once per window, then counted
    hd_ratelog_t refuse_log;       //  "refused worker ...": the same for refused HELLOs
    hd_conns_t *conns;             //  TCP connections counted against --max-connections
    struct hd_jobs *jobs;          //  detached jobs (hd_broker_jobs.c); NULL: none kept
    uint32_t in_job;               //  the current SUBMIT's session is a job's (its job field)
    uint32_t in_client;            //  the current SUBMIT's session (HD_SESSION_NONE after it)
    bool in_gone_job;              //  ... is a plain one named like a job (released, expired)
    uint8_t gone_nonce[8];         //  ... that job's nonce: ids derived from it are refused
};

#define HD_BROKER_MAX_CONFLICTS 64

//  hd_broker_workers.c
void hd_broker_on_worker (hd_broker_t *self);
//  ERROR {code, reason} to a workers-socket peer.
void hd_broker_worker_error (hd_broker_t *self, const void *rid, size_t rid_len, uint32_t code,
                             const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));
//  hd_broker_hello.c: who may join as which node (bounds, key and name, replacement)
hd_err_t hd_broker_names_open (hd_broker_t *self, char *errbuf, size_t errlen);
void hd_broker_on_hello (hd_broker_t *self, const void *rid, size_t rid_len, int64_t now);
//  Once a beat: the summary line of HELLOs refused in the last window, if any.
void hd_broker_hello_tick (hd_broker_t *self, int64_t now);
//  Whether `msg` (a frame of a message received from `node`'s connection, or of its metrics)
//  was sent with the node's key: the key in its User-Id, compared in full (40 bytes).
static inline bool
hd_broker_from_node (const hd_node_t *node, zmq_msg_t *msg)
{
    const char *user = zmq_msg_gets (msg, "User-Id");
    if (!node->key[0])
        return !user || !*user;  //  insecure: no keys anywhere
    return user && strncmp (user, "worker:", 7) == 0
           && strncmp (user + 7, node->key, HD_KEY_Z85 + 1) == 0;
}
//  ADMIN revoke: the worker key `id` (key, prefix or node name) leaves the allowlist and its
//  nodes are disconnected, their tasks requeued.
void hd_broker_revoke (hd_broker_t *self, const char *id);
//  Text lines for `heddle nodes pending` about name conflicts; and NODES entries.
size_t hd_broker_conflicts_text (const hd_broker_t *self, char *out, size_t len);
void hd_broker_conflicts_info (const hd_broker_t *self, hd_nodeinfo_t *out);
void hd_broker_dispatch (hd_broker_t *self);
void hd_broker_beat (hd_broker_t *self, int64_t now_ms);
void hd_broker_node_lost (hd_broker_t *self, hd_node_t *node, const char *why);
//  hd_broker_clients.c
void hd_broker_on_client (hd_broker_t *self);
//  Finish `job` with a broker-made result (status != OK): kept until ACKed, sent now.
void hd_broker_fail_job (hd_broker_t *self, hd_job_t *job, uint32_t status, const char *reason);
//  Send frames [rid][header] prefix to a client; 0 or -1 (client gone).
int hd_broker_send_to_client (hd_broker_t *self, uint32_t client, uint8_t cmd);
int64_t hd_broker_now (void);
//  hd_broker_admin.c: metrics, events, ADMIN, NODES, requirement checks
hd_err_t hd_broker_bind_extra (hd_broker_t *self, char *errbuf, size_t errlen);
//  true when more metrics wait than one call reads.
bool hd_broker_on_metrics (hd_broker_t *self);
void hd_broker_event (hd_broker_t *self, const char *type, const char *node, const char *state,
                      const char *text);
void hd_broker_stats_event (hd_broker_t *self, int64_t elapsed_ms);
void hd_broker_on_admin (hd_broker_t *self, uint32_t client);
void hd_broker_on_nodes (hd_broker_t *self, uint32_t client);
void hd_broker_on_functions (hd_broker_t *self, uint32_t client);
//  Remember a node that left (state "down"), or forget it when it returns.
void hd_broker_node_down (hd_broker_t *self, const hd_node_t *node, const char *state);
void hd_broker_node_up (hd_broker_t *self, const char *name);
//  Whether some registered node could ever take this task (hd_scheduler_eligible: function,
//  tags with the architecture as one, pinned node, total memory); if not, why (for REJECTED).
bool hd_broker_satisfiable (hd_broker_t *self, const hd_submit_t *s, char *why, size_t len);
//  REJECTED {id?, code, reason} to the sender of the current message.
void hd_broker_reject (hd_broker_t *self, const hd_id_t *id, uint32_t code, uint32_t retry_ms,
                       const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));
//  hd_broker_grants.c: payload-key grants (sealed payloads). Open: load KEYS/payload.grants.
hd_err_t hd_broker_grants_open (hd_broker_t *self, char *errbuf, size_t errlen);
//  Fill w's grants for the key that sent the current message (a HELLO) and remember that key
//  as the node's.
void hd_broker_grants_welcome (hd_broker_t *self, hd_node_t *node, hd_welcome_t *w);
//  Keep (and save) a grant for worker `key`, and send it to that worker if connected.
hd_err_t hd_broker_grants_add (hd_broker_t *self, const char *key, const char *grant,
                               char *errbuf, size_t errlen);
void hd_broker_admin_grant (hd_broker_t *self, const hd_admin_t *a);
//  hd_broker_web.c: the web endpoint; every hook is a no-op while it is off.
hd_err_t hd_broker_web_start (hd_broker_t *self, char *errbuf, size_t errlen);
void hd_broker_web_stop (hd_broker_t *self);
//  Once a loop pass: publishes a snapshot when one is due (at most 4 a second).
void hd_broker_web_tick (hd_broker_t *self, int64_t now);
//  Milliseconds until a snapshot is due for passes that came too early (0: now); -1: none is.
//  A bound for the loop's poll timeout, so the endpoint is never more than 250 ms behind.
int64_t hd_broker_web_due_in (const hd_broker_t *self, int64_t now);
//  A task of `fn` finished with `status`; its run time (-1: none, a broker-made result).
void hd_broker_web_result (hd_broker_t *self, uint32_t fn, uint32_t status, int64_t elapsed_ms);
void hd_broker_web_event (hd_broker_t *self, const char *type, const char *node,
                          const char *state, const char *text);
//  hd_broker_wait.c: tasks for a function no worker offered yet
//  Queue a task whose function no worker has offered (hd_scheduler_submit said HD_ENOTFOUND)
//  to wait for one, and tell the client (NOTICE) once per SUBMIT and function. HD_ENOTFOUND
//  when the broker does not wait (--worker-wait 0); else as hd_scheduler_restore.
hd_err_t hd_broker_wait_queue (hd_broker_t *self, const hd_submit_t *s, uint32_t client,
                               void *payload, int64_t now, hd_job_t **job);
//  Once a beat: waiting tasks whose wait is over end UNKNOWN_FN.
void hd_broker_wait_expire (hd_broker_t *self, int64_t now);
//  hd_broker_journal.c
hd_err_t hd_broker_journal_open (hd_broker_t *self, char *errbuf, size_t errlen);
void hd_broker_journal_accept (hd_broker_t *self, const hd_job_t *job, const void *env,
                               size_t size);
void hd_broker_journal_lease (hd_broker_t *self, const hd_job_t *job);
void hd_broker_journal_lease_emit (hd_broker_t *self, const hd_job_t *job);
void hd_broker_journal_result (hd_broker_t *self, const hd_job_t *job, const void *env,
                               size_t env_size, const hd_payload_t *data);
void hd_broker_journal_forget (hd_broker_t *self, const hd_job_t *job, bool acked);
void hd_broker_journal_drop (hd_broker_t *self, const hd_id_t *id);
//  Compaction's live(): every task the scheduler holds, as records.
void hd_broker_journal_emit_live (hd_journal_t *journal, void *arg);
//  Free bytes of DIR's file system for an unprivileged writer; UINT64_MAX unknown.
uint64_t hd_broker_free_bytes (const char *dir);
//  hd_broker_commit.c
//  Queue the ACCEPTED answer for a task; sent after the commit that makes it durable.
hd_err_t hd_broker_accept_later (hd_broker_t *self, uint32_t client, const hd_id_t *id);
//  Milliseconds until ACCEPTED replies are due (0: now), or -1 when none waits: a bound for the
//  loop's poll timeout.
int64_t hd_broker_accepts_due_in (const hd_broker_t *self, int64_t now);
//  End of a loop pass: collect a commit that finished, start one when due, then send the
//  ACCEPTED answers that are due for what is durable.
void hd_broker_journal_tick (hd_broker_t *self, int64_t now);
//  Whether a commit or a store sync is in flight (the loop then waits for the syncer's fd).
bool hd_broker_journal_busy (const hd_broker_t *self);
//  Ms until a commit or the stores' sync is due (-1: none, or one in flight): a bound for the
//  loop's poll timeout.
int64_t hd_broker_journal_due_in (const hd_broker_t *self, int64_t now);
//  The syncer's fd (-1: none).
int hd_broker_journal_fd (const hd_broker_t *self);
//  Wait for a commit in flight, stop the syncer, close the journal (committing what is left).
void hd_broker_journal_close (hd_broker_t *self);
//  hd_broker_clients.c
void hd_broker_reject_to (hd_broker_t *self, uint32_t client, const hd_id_t *id, uint32_t code,
                          uint32_t retry_ms, const char *fmt, ...)
    __attribute__ ((format (printf, 6, 7)));
//  hd_broker_results.c
void hd_broker_result_emit (hd_broker_t *self, const hd_job_t *job);
void hd_broker_result_free (void *result);
//  A kept result's envelope and output (borrowed).
void hd_broker_result_parts (const hd_job_t *job, const void **env, size_t *env_size,
                             const hd_payload_t **data);
//  Release a job (any state) and its client's count.
void hd_broker_release (hd_broker_t *self, hd_job_t *job);
//  Keep the result (its envelope copied, its output `data` taken on HD_OK) in the DONE job until
//  the client ACKs it. HD_ENOMEM: nothing taken.
hd_err_t hd_broker_keep_result (hd_broker_t *self, hd_job_t *job, const void *env,
                                size_t env_size, hd_payload_t *data, int64_t now);
//  RESULT messages with the jobs' kept results (packed when the client packs; results with a
//  large output in frames of their own); 0, or -1 when the client is away.
int hd_broker_send_results (hd_broker_t *self, uint32_t client, hd_job_t **jobs, uint32_t n,
                            int64_t now);
void hd_broker_on_ack (hd_broker_t *self, uint32_t client, const hd_idlist_t *ids);
void hd_broker_resend (hd_broker_t *self, uint32_t client, int64_t now);
void hd_broker_expire (hd_broker_t *self, int64_t now);

//  hd_broker_jobs.c: detached jobs (docs/PROTOCOL.md section 15)
//  Whether the session is a detached job's: one branch on the session, the only cost a plain
//  session pays for jobs.
static inline bool
hd_broker_is_job (const hd_broker_t *self, uint32_t client)
{
    const hd_session_t *c = hd_sessions_at (self->sessions, client);
    return c && c->job;
}
//  Load the jobs of JOURNAL_DIR/jobs (before the journal's replay: their sessions are restored
//  bound to their owners) and set the results budget. Jobs are off with journal none.
hd_err_t hd_broker_jobs_open (hd_broker_t *self, const char *journal_dir, char *errbuf,
                              size_t errlen);
void hd_broker_jobs_close (hd_broker_t *self);
//  Replay: whether an ACCEPT of this session must not come back (its result is stored: its DROP
//  record is then deferred again, as the result's was; or the id is not one of the job's).
bool hd_broker_jobs_replay_skip (hd_broker_t *self, uint32_t client, const hd_id_t *id);
//  Replay: whether an ACCEPT of session `rid` is a task of a job that is gone (the session id is
//  a job id, the task id derived from it, and no such job is loaded: released, expired, or its
//  meta file unreadable). Such a task never comes back: its job's files may have been removed
//  before the journal records that forget it were durable (docs/JOURNAL.md).
bool hd_broker_jobs_replay_gone (hd_broker_t *self, const uint8_t *rid, size_t rid_len,
                                 const hd_id_t *id);
//  After the replay: the tasks of a cancelled job that came back (they were running when the
//  broker stopped, their abort unanswered) end CANCELLED in its store, as JOB_CANCEL does.
void hd_broker_jobs_replayed (hd_broker_t *self);
//  JOB_OPEN, JOBS, JOB_FETCH, JOB_CANCEL, JOB_RELEASE from `client`.
void hd_broker_on_job_cmd (hd_broker_t *self, uint32_t client, uint8_t cmd, int64_t now);
//  SUBMIT of `s` on a job's session: false when it is answered here (not one of the job's ids:
//  DENIED; stored already: ACCEPTED again; the job cancelled: CANCELLED).
bool hd_broker_jobs_submit (hd_broker_t *self, uint32_t client, const hd_submit_t *s);
//  The result of a job's task (env and its output `data`, taken): appended to the job's store,
//  the task forgotten (a DROP record); held back and retried when the store cannot take it.
void hd_broker_jobs_result (hd_broker_t *self, hd_job_t *job, const void *env, size_t env_size,
                            hd_payload_t *data, int64_t now);
//  The results of jobs' tasks in one DONE message, stored together (one write per store, not
//  one per result; docs/PERFORMANCE.md): _add takes what hd_broker_jobs_result takes (`env`
//  must stay valid until _end: the message's frames), _end stores and forgets them all, each
//  one a store refuses as hd_broker_jobs_result does.
void hd_broker_jobs_batch_add (hd_broker_t *self, hd_job_t *job, const void *env,
                               size_t env_size, hd_payload_t *data, int64_t now);
void hd_broker_jobs_batch_end (hd_broker_t *self, int64_t now);
//  Each loop pass: answer held fetches that have data or whose wait ended.
void hd_broker_jobs_tick (hd_broker_t *self, int64_t now);
//  Once a beat: expire jobs past their TTL, retry results a store refused.
void hd_broker_jobs_beat (hd_broker_t *self, int64_t now);
//  Ms until a held fetch's wait ends (-1: none), for the loop's poll timeout.
int64_t hd_broker_jobs_due_in (const hd_broker_t *self, int64_t now);
//  hd_broker_jobs_sync.c: a stored task's DROP record waits until a sync of its store covers
//  it (docs/JOURNAL.md). Ms until the stores' sync is due (0: now; -1: nothing waits for one):
//  a DROP waited --jobs-sync ms, HD_DROPQ_SOFT wait, or a refusal was stored.
int64_t hd_broker_jobs_sync_due_in (const hd_broker_t *self, int64_t now);
//  With no sync in flight, a store sync starts: the stores written since the last one, dup'ed
//  for the syncer (*fds borrowed), and how many. 0: none was written, so every DROP waiting is
//  durable already: appended to the journal here. -1: stopping (a sync here failed). When > 0
//  the DROPs waiting are that sync's: hd_broker_jobs_synced when it ends.
int hd_broker_jobs_sync_begin (hd_broker_t *self, const int **fds);
//  The store sync begun last ended (ok: every fdatasync succeeded): the DROPs it covered go to
//  the journal; else they wait again.
void hd_broker_jobs_synced (hd_broker_t *self, bool ok);
//  Whether a store sync is in flight.
bool hd_broker_jobs_syncing (const hd_broker_t *self);
//  With no sync in flight: every store written fdatasync'ed here, then every DROP waiting
//  appended to the journal. false: an fdatasync failed (logged; the broker stops).
bool hd_broker_jobs_sync_all (hd_broker_t *self);
//  DROP records waiting (compaction waits for none).
uint32_t hd_broker_jobs_deferred (const hd_broker_t *self);

#endif
