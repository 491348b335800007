/*  hd_seal: sealed task payloads, end to end between the client and the worker, so that the
    broker (and its journal) only ever holds ciphertext. The cluster has a payload key pair
    (X25519): clients hold the public half, workers the secret half. A client seals its job key
    (32 random-looking bytes, derived from its own secret key and session) once to the payload
    public key; every task input is XChaCha20-Poly1305 under the job key, with the task id, the
    function name and a direction byte as associated data, so no payload can be moved to another
    task, function or direction. Results are sealed by the worker with the same job key, their
    status in the associated data. Pure: no sockets, no files (hd_keys loads the keys).

    Task payload:   [1 version][8 payload key id][80 sealed job key][24 nonce][ciphertext][16 tag]
    Result payload: [1 version][24 nonce][ciphertext][16 tag]
    Nonces are a random 16-byte prefix per sealer and a 64-bit counter: unique without a system
    call per message.  */
#ifndef HD_SEAL_H
#define HD_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"

#define HD_SEAL_VERSION 1
#define HD_SEAL_KEY_BYTES 32
#define HD_SEAL_ID_BYTES 8
#define HD_SEAL_SEALED_KEY_BYTES 80  //  crypto_box_SEALBYTES + HD_SEAL_KEY_BYTES
#define HD_SEAL_NONCE_BYTES 24
#define HD_SEAL_MAC_BYTES 16
#define HD_SEAL_TASK_OVERHEAD \
    (1 + HD_SEAL_ID_BYTES + HD_SEAL_SEALED_KEY_BYTES + HD_SEAL_NONCE_BYTES + HD_SEAL_MAC_BYTES)
#define HD_SEAL_RESULT_OVERHEAD (1 + HD_SEAL_NONCE_BYTES + HD_SEAL_MAC_BYTES)
#define HD_SEAL_TAG_PREFIX "seal-"   //  a worker holding payload key ID offers tag seal-<ID hex>
#define HD_SEAL_TAG_TEXT 22          //  "seal-" + 16 hex digits + NUL
#define HD_SEAL_MAX_KEYS 4           //  payload keys a worker holds at once (rotation)

//  --- client side ---------------------------------------------------------------------------
typedef struct hd_seal_sender hd_seal_sender_t;

//  A sender for one job key. payload_pub: the cluster's payload public key (32 bytes).
//  job_key: 32 bytes (hd_seal_job_key). Seals the job key once (crypto_box_seal).
//  HD_OK; HD_ENOMEM; HD_ECRYPTO when libsodium cannot start or the key is invalid.
hd_err_t hd_seal_sender_new (hd_seal_sender_t **out, const uint8_t payload_pub[32],
                             const uint8_t job_key[32]);
//  NULL-safe; wipes the key. Sets *self_p = NULL.
void hd_seal_sender_destroy (hd_seal_sender_t **self_p);
//  The tag every node that can open this sender's tasks offers ("seal-" + key id in hex).
const char *hd_seal_sender_tag (const hd_seal_sender_t *self);
//  Seal a task input of `size` bytes into out (HD_SEAL_TASK_OVERHEAD + size bytes). id: the
//  task id (16 bytes); fn: its function name.
void hd_seal_task (hd_seal_sender_t *self, const uint8_t id[16], const char *fn, const void *in,
                   size_t size, uint8_t *out);
//  Open a result sealed by a worker for task id with `status`: the plaintext (size -
//  HD_SEAL_RESULT_OVERHEAD bytes) goes to out, its size to *out_size. HD_OK; HD_ECRYPTO when it
//  fails verification (altered, moved from another task or status, or not sealed at all).
hd_err_t hd_seal_open_result (const hd_seal_sender_t *self, const uint8_t id[16], uint32_t status,
                              const void *in, size_t size, uint8_t *out,
                              size_t *out_size);
//  A job key derived from a client's secret key and its session name, so that the same key and
//  session (a resumed client, a detached job fetched later) find the same job key again:
//  BLAKE2b keyed by the secret, over a label and the session. secret NULL: random.
void hd_seal_job_key (const uint8_t *secret32, const void *session, size_t session_len,
                      uint8_t out[32]);

//  --- worker side ---------------------------------------------------------------------------
typedef struct hd_seal_keyring hd_seal_keyring_t;

//  An empty keyring (payload secret keys and a small cache of opened job keys). Thread-safe:
//  slot threads open tasks concurrently. NULL when memory runs out.
hd_seal_keyring_t *hd_seal_keyring_new (void);
void hd_seal_keyring_destroy (hd_seal_keyring_t **self_p);
//  Add a payload secret key (32 bytes). HD_OK (also when already held); HD_EFULL when
//  HD_SEAL_MAX_KEYS are held; HD_ECRYPTO.
hd_err_t hd_seal_keyring_add (hd_seal_keyring_t *self, const uint8_t secret[32]);
size_t hd_seal_keyring_count (const hd_seal_keyring_t *self);
//  The tag of the index-th key ("seal-<id hex>"); "" past the end.
const char *hd_seal_keyring_tag (const hd_seal_keyring_t *self, size_t index);
//  Open a sealed task input into out (size - HD_SEAL_TASK_OVERHEAD bytes, *out_size), and give
//  the job key for its result in job_key. HD_OK; HD_ECRYPTO when it fails verification or is
//  not sealed at all; HD_ENOTFOUND when it was sealed to a payload key this ring does not hold.
hd_err_t hd_seal_open_task (hd_seal_keyring_t *self, const uint8_t id[16], const char *fn,
                            const void *in, size_t size, uint8_t *out, size_t *out_size,
                            uint8_t job_key[32]);
//  Seal a result of `size` bytes into out (HD_SEAL_RESULT_OVERHEAD + size bytes).
void hd_seal_result (const uint8_t job_key[32], const uint8_t id[16], uint32_t status,
                     const void *in, size_t size, uint8_t *out);

//  Zero memory that held plaintext (the compiler cannot drop it).
void hd_seal_wipe (void *data, size_t size);

//  --- keys --------------------------------------------------------------------------------
//  The 8-byte id of a payload public key (BLAKE2b of it), and its tag text.
void hd_seal_key_id (const uint8_t pub[32], uint8_t id[HD_SEAL_ID_BYTES]);
void hd_seal_key_tag (const uint8_t pub[32], char out[HD_SEAL_TAG_TEXT]);
//  Seal a payload secret key to a worker's CURVE public key (32 raw bytes) for enrollment:
//  out gets HD_SEAL_SEALED_KEY_BYTES. Open it with the worker's key pair. HD_OK; HD_ECRYPTO.
hd_err_t hd_seal_grant (const uint8_t secret[32], const uint8_t worker_pub[32],
                        uint8_t out[HD_SEAL_SEALED_KEY_BYTES]);
hd_err_t hd_seal_open_grant (const uint8_t grant[HD_SEAL_SEALED_KEY_BYTES],
                             const uint8_t worker_pub[32], const uint8_t worker_secret[32],
                             uint8_t secret_out[32]);

#endif
