/*  hd_broker: the broker as an object, so the heddle-broker program and the embedded cluster
    (libheddle) run the same code. One thread owns it: hd_broker_run loops until
    hd_broker_stop (callable from any thread) or SIGINT/SIGTERM (czmq's zsys_interrupted).  */
#ifndef HD_BROKER_H
#define HD_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"
#include "hd_journal.h"

typedef struct hd_broker hd_broker_t;

typedef struct {
    const char *clients_endpoint;  //  default tcp://*:7700
    const char *workers_endpoint;  //  default tcp://*:7701
    const char *metrics_endpoint;  //  SUB for worker metrics, default tcp://*:7702; NULL: none
    const char *events_endpoint;   //  PUB of cluster events, default tcp://*:7703; NULL: none
    const char *keys_dir;          //  broker.cert_secret + clients.keys, workers.keys, admins.keys
    bool insecure;                 //  plain TCP, no CURVE (logs a warning)
    bool auto_approve;             //  admit unknown worker keys (WARN; added to workers.keys)
    bool insecure_key_perms;       //  keys open to group/others: warn instead of refusing
    uint32_t max_connections;      //  TCP connections at once, all endpoints; 0: from the
                                   //  open-files limit (hd_conns: limit - reserve, at most
                                   //  HD_CONNS_DEFAULT_MAX)
    uint32_t handshake_ms;         //  a connection that has not finished its CURVE handshake
                                   //  this long is closed (ZMQ_HANDSHAKE_IVL); default 10000
    uint32_t max_payload;          //  bytes; a larger task payload is REJECTED TOO_LARGE
    uint32_t max_queue;            //  tasks queued + running; past it REJECTED BUSY
    uint32_t heartbeat_ms;         //  interval of BEAT to workers, told to them in WELCOME
    uint32_t heartbeat_misses;     //  a worker silent this many intervals is lost
    uint32_t default_attempts;     //  dispatches per task at most (when the task gives 0)
    uint32_t max_client_tasks;     //  per session: queued + running + unacknowledged results
    uint32_t max_key_tasks;        //  the same per client key, over all its sessions
    uint32_t max_key_sessions;     //  sessions one client key may hold
    uint32_t session_idle_ms;      //  a session holding nothing is forgotten after this
    uint32_t client_hwm;           //  messages queued to one client connection at most
    uint32_t result_ttl_ms;        //  an unacknowledged result is forgotten after this long
    uint32_t worker_wait_ms;       //  a task for a function no worker offered yet waits this
                                   //  long for one (capped by its timeout), then UNKNOWN_FN;
                                   //  0: UNKNOWN_FN at once (REJECTED). Default 60000
    uint32_t stale_ms;             //  a node whose metrics are older than this gets no task
    double temp_limit_c;           //  a node at or over this temperature gets no task; 0: none
    hd_journal_mode_t journal_mode;//  sync (default): ACCEPTED after fdatasync; batch; none
    const char *journal_dir;       //  where journal.log lives; default "heddle-journal"
    uint32_t journal_batch_ms;     //  batch mode: commit at most this long after a record
    uint32_t journal_max_mb;       //  space the journal may use (MiB): it is compacted past a
                                   //  quarter of it (at most 64 MiB); 0: half the free space of
                                   //  its file system at start (docs/OPERATIONS.md)
    uint32_t prefetch;             //  tasks per slot a worker may hold beyond its slots (0..4)
    uint32_t prefetch_short;       //  the same for short functions (0..1023; see SCHEDULING.md)
    const char *cluster;           //  cluster name in the discovery beacon; default "heddle"
    uint32_t beacon_port;          //  UDP port of the discovery beacon; 0: no beacon (default
                                   //  7709; never sent for a loopback or non-TCP workers socket)
    uint32_t max_worker_slots;     //  a HELLO declaring more slots is refused (default 1024)
    uint32_t max_worker_queue;     //  ... or a larger queue (default 65536)
    uint32_t max_worker_fns;       //  ... or more functions (1..128, default 128)
    uint32_t max_names_per_key;    //  node names one worker key may own (default 256; 0: none)
    const char *http_endpoint;     //  web endpoint HOST:PORT (/metrics, /api/state, dashboard);
                                   //  NULL: none (the library's default; the program's is
                                   //  127.0.0.1:7780)
    const char *http_token;        //  needed by peers beyond loopback; NULL: loopback only
    bool http_optional;            //  a bind failure only warns (the program's default address)
    const char *beacon_interface;  //  interface of the beacon; NULL: $ZSYS_INTERFACE, else the
                                   //  one holding the workers address, else czmq's first
    uint32_t job_ttl_s;            //  a detached job's TTL when JOB_OPEN gives 0 (default 7 days)
    uint64_t results_max_bytes;    //  bytes the jobs' result stores may use before JOB_OPEN is
                                   //  refused; HD_RESULTS_BUDGET_AUTO: 10% of the journal file
                                   //  system's free space at start, at most 4 GiB; 0: no jobs
    uint32_t max_key_jobs;         //  open jobs per client key (default 64)
    uint32_t jobs_sync_ms;         //  the jobs' result stores are fdatasync'ed this often (the
                                   //  DROP records of their stored tasks wait for it; default
                                   //  100; docs/JOURNAL.md)
} hd_broker_config_t;

#define HD_RESULTS_BUDGET_AUTO UINT64_MAX

void hd_broker_config_defaults (hd_broker_config_t *config);
//  Load keys, bind both sockets (and the ZAP handler unless insecure). HD_OK with *out;
//  else an error with text in errbuf (HD_ECRYPTO keys, HD_EIO bind, HD_EINVAL config).
hd_err_t hd_broker_new (const hd_broker_config_t *config, hd_broker_t **out, char *errbuf,
                        size_t errlen);
void hd_broker_destroy (hd_broker_t **self_p);
//  Serve until stopped. HD_OK after a stop or interrupt.
hd_err_t hd_broker_run (hd_broker_t *self);
//  Ask a running broker to stop (thread-safe, returns at once).
void hd_broker_stop (hd_broker_t *self);
//  Endpoints actually bound (a "*" port resolved), borrowed.
const char *hd_broker_clients_endpoint (const hd_broker_t *self);
const char *hd_broker_workers_endpoint (const hd_broker_t *self);
//  "" when that socket is off.
const char *hd_broker_metrics_endpoint (const hd_broker_t *self);
const char *hd_broker_events_endpoint (const hd_broker_t *self);
//  "HOST:PORT" of the web endpoint; "" when off.
const char *hd_broker_http_endpoint (const hd_broker_t *self);
//  The broker's public key (Z85) and its fingerprint (hd_keys_fingerprint); "" when insecure.
const char *hd_broker_public_key (const hd_broker_t *self);
const char *hd_broker_fingerprint (const hd_broker_t *self);

#endif
