/*  hd_worker.h: a heddle worker as an object: connect to a broker, announce functions and slots,
    run tasks on slot threads, return results. heddle-worker is a thin program around it, and a
    program can embed one to serve its own functions (public, installed):

        hd_worker_config_t cfg;
        hd_worker_config_defaults (&cfg);
        cfg.endpoint = "tcp://broker:7701";  cfg.keys_dir = "/etc/heddle/keys";
        hd_worker_t *w;
        if (hd_worker_new (&cfg, &w, err, sizeof err) == HD_OK) {
            hd_worker_add_fn (w, "resize", my_resize, NULL);   //  output: hd_worker_host ()
            hd_worker_run (w);                                  //  until hd_worker_stop / SIGINT
            hd_worker_destroy (&w);
        }  */
#ifndef HD_WORKER_H
#define HD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"
#include "heddle_plugin.h"

typedef struct hd_worker hd_worker_t;

typedef struct {
    const char *endpoint;     //  broker's workers endpoint: tcp://host:7701 or inproc://...
    const char *keys_dir;     //  worker.cert_secret + broker.cert (from `heddle keys init`)
    const char *cert_path;    //  override: this worker's secret certificate
    const char *broker_key;   //  override: broker public key (Z85) or cert file
    const char *state_dir;    //  without a worker cert: own key pair made here on first start,
                              //  and broker.pin; default /var/lib/heddle
    bool insecure;            //  no CURVE (inproc, or a broker run with --insecure)
    bool insecure_key_perms;  //  a secret key open to group/others: warn instead of refusing
    const char *name;         //  node name, unique in the cluster; default: host name
    uint32_t slots;           //  tasks run at once; default: online cores
    const char *tags;         //  comma-separated tags offered to task requirements
    bool allow_exec;          //  register the `exec` function (runs commands, no shell)
    bool no_builtins;         //  do not register echo, sleep, sha256, pi, wordcount
    uint32_t max_output;      //  bytes of output per task at most; default 64 MiB
    uint32_t heartbeat_misses;//  broker silent this many intervals -> reconnect; default 5
    double capacity;          //  capacity score sent to the broker; 0: measured at start
                              //  (hd_bench_score), which every worker of a cluster runs alike
    uint32_t metrics_interval_ms;  //  capacity metrics period; default 1000
    const char *work_dir;     //  directory whose free disk space is advertised; default "."
    const char *broker_fingerprint;  //  refuse a broker whose key has another fingerprint
                                     //  (hd_keys_fingerprint, `heddle keys fingerprint`);
                                     //  NULL: any
} hd_worker_config_t;

void hd_worker_config_defaults (hd_worker_config_t *config);
//  Check and copy the config, load keys, register built-ins. Nothing connects yet.
//  HD_OK with *out; HD_ECRYPTO/HD_EINVAL with text in errbuf; HD_ENOMEM.
hd_err_t hd_worker_new (const hd_worker_config_t *config, hd_worker_t **out, char *errbuf,
                        size_t errlen);
void hd_worker_destroy (hd_worker_t **self_p);
//  Before run: add a function, or load a plugin (see hd_fnreg_add / hd_fnreg_load_plugin).
hd_err_t hd_worker_add_fn (hd_worker_t *self, const char *name, heddle_fn_t fn, void *arg);
hd_err_t hd_worker_load_plugin (hd_worker_t *self, const char *path, char *errbuf, size_t errlen);
//  Measure the capacity score (unless config.capacity is set), connect, HELLO, serve until
//  hd_worker_stop or SIGINT/SIGTERM; reconnects by itself when the broker goes silent. When the
//  broker's WELCOME names a metrics port (TCP brokers), capacity metrics are published there
//  every metrics_interval_ms. Running tasks are cancelled at stop and the broker is told BYE.
//  HD_OK after a stop; HD_EDENIED when the broker refused this worker for good (its name
//  belongs to another key, a value over the broker's bounds, its key revoked, or replaced by a
//  newer connection with the same key and name): the reason is logged.
hd_err_t hd_worker_run (hd_worker_t *self);
//  Thread-safe; returns at once.
void hd_worker_stop (hd_worker_t *self);
//  The host table for functions added with hd_worker_add_fn: output, fail, cancelled (the same
//  calls a plugin gets in heddle_plugin_init). Static, never NULL.
const heddle_host_t *hd_worker_host (void);
//  The node name in use (borrowed).
const char *hd_worker_name (const hd_worker_t *self);
//  The capacity score advertised (0 until hd_worker_run has measured it).
double hd_worker_score (const hd_worker_t *self);

#endif
