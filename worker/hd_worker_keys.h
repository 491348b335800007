/*  hd_worker_keys: which key pair and which broker key a worker uses. In order: --cert FILE;
    KEYS_DIR/worker.cert_secret when it exists; else the worker's own pair in its state
    directory, made on first start (enrollment: the broker holds it as pending until an admin
    approves it). The broker key comes from --broker-key or KEYS_DIR/broker.cert; a worker using
    its state directory pins the first broker key it used (broker.pin) and refuses another.
    Knows nothing of sockets.  */
#ifndef HD_WORKER_KEYS_H
#define HD_WORKER_KEYS_H

#include <czmq.h>

#include "hd_err.h"
#include "hd_keys.h"
#include "hd_worker.h"

//  Load (or make) the worker's certificate into *cert (caller destroys) and the broker's public
//  key into server_key. HD_OK; HD_ECRYPTO (missing or pinned-key mismatch) or HD_EIO with text
//  in errbuf; HD_ENOMEM.
hd_err_t hd_worker_keys_load (const hd_worker_config_t *config, zcert_t **cert,
                              char server_key[HD_KEY_TEXT], char *errbuf, size_t errlen);

#endif
