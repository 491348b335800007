/*  hd_worker_keys: which key pair and which broker key a worker uses. In order: --cert FILE;
    KEYS_DIR/worker.cert_secret when it exists; else the worker's own pair in its state
    directory, made on first start (enrollment: the broker holds it as pending until an admin
    approves it). The broker key comes from --broker-key or KEYS_DIR/broker.cert (or from a
    discovery beacon, which the worker passes as --broker-key); a worker using its state
    directory pins the first broker key it used (broker.pin) and refuses another. A
    --broker-fingerprint refuses any broker key with another fingerprint. Knows nothing of
    sockets.  */
#ifndef HD_WORKER_KEYS_H
#define HD_WORKER_KEYS_H

#include <czmq.h>

#include "hd_err.h"
#include "hd_keys.h"
#include "hd_worker.h"

//  Load (or make) the worker's certificate into *cert (caller destroys) and the broker's public
//  key into server_key. HD_OK; HD_ECRYPTO (missing, pinned-key or fingerprint mismatch),
//  HD_EINVAL (malformed --broker-fingerprint) or HD_EIO with text in errbuf; HD_ENOMEM.
hd_err_t hd_worker_keys_load (const hd_worker_config_t *config, zcert_t **cert,
                              char server_key[HD_KEY_TEXT], char *errbuf, size_t errlen);

//  What a worker knows of its broker's key before it has found the broker (discovery).
typedef struct {
    bool insecure;                          //  the worker runs without CURVE
    char key[HD_KEY_TEXT];                  //  the key it must be; "": any (trust on first use)
    bool pinned;                            //  key comes from the pin, not from the config
    char source[4096];                      //  the file key came from, or "--broker-key"
    char fingerprint[HD_FINGERPRINT_TEXT];  //  --broker-fingerprint, canonical; "": none
} hd_worker_trust_t;

//  Gather it from the config: --broker-fingerprint, then --broker-key or KEYS_DIR/broker.cert,
//  else (a worker using its state directory) the pinned key. HD_OK; HD_EINVAL (malformed
//  fingerprint), HD_ECRYPTO (unreadable key) or HD_EIO (unreadable pin) with text in errbuf.
hd_err_t hd_worker_keys_trust (const hd_worker_config_t *config, hd_worker_trust_t *out,
                               char *errbuf, size_t errlen);
//  Whether a broker announcing `key` (Z85; "" for a broker without CURVE) passes. true; false
//  with the reason in why ("key fingerprint F differs from pinned P (FILE)", ...).
bool hd_worker_keys_trusts (const hd_worker_trust_t *trust, const char *key, char *why,
                            size_t whylen);

#endif
