/*  hd_seal: sealed payloads (see hd_seal.h for the formats). The only module besides hd_keys
    that holds payload key material; it keeps it in sodium_malloc memory and wipes it.
    Associated data binds a payload to its direction, format version, task id, function and
    (for results) status: the broker can drop or delay what it relays, never move or alter it.  */
#include "hd_seal.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "hd_proto.h"

#define S_CACHE 8  //  job keys a worker keeps opened (one X25519 operation per job, not per task)

typedef struct {
    uint8_t prefix[16];
    _Atomic uint64_t counter;
} s_nonces_t;

struct hd_seal_sender {
    uint8_t key[HD_SEAL_KEY_BYTES];
    uint8_t key_id[HD_SEAL_ID_BYTES];
    uint8_t sealed[HD_SEAL_SEALED_KEY_BYTES];
    char tag[HD_SEAL_TAG_TEXT];
    s_nonces_t nonces;
};

typedef struct {
    uint8_t secret[32], pub[32];
    uint8_t id[HD_SEAL_ID_BYTES];
    char tag[HD_SEAL_TAG_TEXT];
} s_pkey_t;

typedef struct {
    uint8_t sealed[HD_SEAL_SEALED_KEY_BYTES];
    uint8_t key[HD_SEAL_KEY_BYTES];
    bool used;
} s_cached_t;

struct hd_seal_keyring {
    pthread_mutex_t lock;
    s_pkey_t keys[HD_SEAL_MAX_KEYS];
    size_t nkeys;
    s_cached_t cache[S_CACHE];
    uint32_t next;  //  cache slot replaced next
};

//  Result nonces of this process (workers seal results on several slot threads).
static s_nonces_t s_result_nonces;
static pthread_once_t s_result_once = PTHREAD_ONCE_INIT;

static void
s_nonces_init (s_nonces_t *n)
{
    randombytes_buf (n->prefix, sizeof n->prefix);
    atomic_store (&n->counter, 0);
}

static void
s_result_nonces_init (void)
{
    s_nonces_init (&s_result_nonces);
}

static void
s_next_nonce (s_nonces_t *n, uint8_t out[HD_SEAL_NONCE_BYTES])
{
    uint64_t c = atomic_fetch_add (&n->counter, 1);
    memcpy (out, n->prefix, 16);
    for (int i = 0; i < 8; i++)
        out[16 + i] = (uint8_t) (c >> (8 * i));
}

//  direction, version, id, status (results), fn: at most 1 + 1 + 16 + 4 + HD_MAX_FN bytes.
static size_t
s_ad (uint8_t *ad, char dir, const uint8_t id[16], const char *fn, const uint32_t *status)
{
    size_t n = 0;
    ad[n++] = (uint8_t) dir;
    ad[n++] = HD_SEAL_VERSION;
    memcpy (ad + n, id, 16);
    n += 16;
    if (status) {
        for (int i = 0; i < 4; i++)
            ad[n++] = (uint8_t) (*status >> (8 * i));
    }
    size_t len = strnlen (fn, HD_MAX_FN);
    memcpy (ad + n, fn, len);
    return n + len;
}

void
hd_seal_key_id (const uint8_t pub[32], uint8_t id[HD_SEAL_ID_BYTES])
{
    crypto_generichash (id, HD_SEAL_ID_BYTES, pub, 32, (const uint8_t *) "heddle-payload-id", 17);
}

void
hd_seal_key_tag (const uint8_t pub[32], char out[HD_SEAL_TAG_TEXT])
{
    uint8_t id[HD_SEAL_ID_BYTES];
    hd_seal_key_id (pub, id);
    memcpy (out, HD_SEAL_TAG_PREFIX, sizeof HD_SEAL_TAG_PREFIX - 1);
    sodium_bin2hex (out + sizeof HD_SEAL_TAG_PREFIX - 1, 2 * HD_SEAL_ID_BYTES + 1, id, sizeof id);
}

void
hd_seal_job_key (const uint8_t *secret32, const void *session, size_t session_len, uint8_t out[32])
{
    if (sodium_init () < 0 || !secret32) {
        randombytes_buf (out, 32);
        return;
    }
    crypto_generichash_state st;
    crypto_generichash_init (&st, secret32, 32, 32);
    crypto_generichash_update (&st, (const uint8_t *) "heddle job key v1", 17);
    crypto_generichash_update (&st, session, session_len);
    crypto_generichash_final (&st, out, 32);
    sodium_memzero (&st, sizeof st);
}

hd_err_t
hd_seal_sender_new (hd_seal_sender_t **out, const uint8_t payload_pub[32], const uint8_t job_key[32])
{
    *out = NULL;
    if (sodium_init () < 0)
        return HD_ECRYPTO;
    hd_seal_sender_t *self = sodium_malloc (sizeof *self);
    if (!self)
        return HD_ENOMEM;
    memset (self, 0, sizeof *self);
    memcpy (self->key, job_key, HD_SEAL_KEY_BYTES);
    hd_seal_key_id (payload_pub, self->key_id);
    hd_seal_key_tag (payload_pub, self->tag);
    if (crypto_box_seal (self->sealed, self->key, HD_SEAL_KEY_BYTES, payload_pub) != 0) {
        sodium_free (self);
        return HD_ECRYPTO;
    }
    s_nonces_init (&self->nonces);
    *out = self;
    return HD_OK;
}

void
hd_seal_sender_destroy (hd_seal_sender_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sodium_free (*self_p);  //  wipes
    *self_p = NULL;
}

const char *
hd_seal_sender_tag (const hd_seal_sender_t *self)
{
    return self->tag;
}

void
hd_seal_task (hd_seal_sender_t *self, const uint8_t id[16], const char *fn, const void *in,
              size_t size, uint8_t *out)
{
    uint8_t ad[2 + 16 + 4 + HD_MAX_FN];
    size_t adlen = s_ad (ad, 'T', id, fn, NULL);
    uint8_t *p = out;
    *p++ = HD_SEAL_VERSION;
    memcpy (p, self->key_id, HD_SEAL_ID_BYTES);
    p += HD_SEAL_ID_BYTES;
    memcpy (p, self->sealed, HD_SEAL_SEALED_KEY_BYTES);
    p += HD_SEAL_SEALED_KEY_BYTES;
    uint8_t *nonce = p;
    s_next_nonce (&self->nonces, nonce);
    p += HD_SEAL_NONCE_BYTES;
    crypto_aead_xchacha20poly1305_ietf_encrypt (p, NULL, in, size, ad, adlen, NULL, nonce,
                                                self->key);
}

static hd_err_t
s_open (const uint8_t key[32], const uint8_t *nonce, const uint8_t *c, size_t clen,
        const uint8_t *ad, size_t adlen, uint8_t *out, size_t *out_size)
{
    unsigned long long n = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt (out, &n, NULL, c, clen, ad, adlen, nonce, key)
        != 0)
        return HD_ECRYPTO;
    *out_size = (size_t) n;
    return HD_OK;
}

hd_err_t
hd_seal_open_result (const hd_seal_sender_t *self, const uint8_t id[16], uint32_t status,
                     const void *in, size_t size, uint8_t *out, size_t *out_size)
{
    const uint8_t *p = in;
    *out_size = 0;
    if (size < HD_SEAL_RESULT_OVERHEAD || p[0] != HD_SEAL_VERSION)
        return HD_ECRYPTO;
    uint8_t ad[2 + 16 + 4 + HD_MAX_FN];
    size_t adlen = s_ad (ad, 'R', id, "", &status);
    return s_open (self->key, p + 1, p + 1 + HD_SEAL_NONCE_BYTES, size - 1 - HD_SEAL_NONCE_BYTES,
                   ad, adlen, out, out_size);
}

void
hd_seal_result (const uint8_t job_key[32], const uint8_t id[16], uint32_t status,
                const void *in, size_t size, uint8_t *out)
{
    pthread_once (&s_result_once, s_result_nonces_init);
    uint8_t ad[2 + 16 + 4 + HD_MAX_FN];
    size_t adlen = s_ad (ad, 'R', id, "", &status);
    out[0] = HD_SEAL_VERSION;
    s_next_nonce (&s_result_nonces, out + 1);
    crypto_aead_xchacha20poly1305_ietf_encrypt (out + 1 + HD_SEAL_NONCE_BYTES, NULL, in, size, ad,
                                                adlen, NULL, out + 1, job_key);
}

hd_seal_keyring_t *
hd_seal_keyring_new (void)
{
    if (sodium_init () < 0)
        return NULL;
    hd_seal_keyring_t *self = sodium_malloc (sizeof *self);
    if (!self)
        return NULL;
    memset (self, 0, sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
hd_seal_keyring_destroy (hd_seal_keyring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy (&(*self_p)->lock);
    sodium_free (*self_p);
    *self_p = NULL;
}

hd_err_t
hd_seal_keyring_add (hd_seal_keyring_t *self, const uint8_t secret[32])
{
    s_pkey_t k;
    memcpy (k.secret, secret, 32);
    if (crypto_scalarmult_base (k.pub, k.secret) != 0) {
        sodium_memzero (&k, sizeof k);
        return HD_ECRYPTO;
    }
    hd_seal_key_id (k.pub, k.id);
    hd_seal_key_tag (k.pub, k.tag);
    hd_err_t rc = HD_OK;
    pthread_mutex_lock (&self->lock);
    size_t i = 0;
    while (i < self->nkeys && memcmp (self->keys[i].id, k.id, HD_SEAL_ID_BYTES) != 0)
        i++;
    if (i == self->nkeys) {
        if (self->nkeys == HD_SEAL_MAX_KEYS)
            rc = HD_EFULL;
        else
            self->keys[self->nkeys++] = k;
    }
    pthread_mutex_unlock (&self->lock);
    sodium_memzero (&k, sizeof k);
    return rc;
}

size_t
hd_seal_keyring_count (const hd_seal_keyring_t *self)
{
    return self->nkeys;
}

const char *
hd_seal_keyring_tag (const hd_seal_keyring_t *self, size_t index)
{
    return index < self->nkeys ? self->keys[index].tag : "";
}

//  Under the lock: the job key sealed in `sealed`, from the cache or opened now.
static hd_err_t
s_job_key (hd_seal_keyring_t *self, const uint8_t *key_id, const uint8_t *sealed, uint8_t out[32])
{
    for (uint32_t i = 0; i < S_CACHE; i++) {
        s_cached_t *c = &self->cache[i];
        if (c->used && memcmp (c->sealed, sealed, HD_SEAL_SEALED_KEY_BYTES) == 0) {
            memcpy (out, c->key, 32);
            return HD_OK;
        }
    }
    size_t k = 0;
    while (k < self->nkeys && memcmp (self->keys[k].id, key_id, HD_SEAL_ID_BYTES) != 0)
        k++;
    if (k == self->nkeys)
        return HD_ENOTFOUND;
    if (crypto_box_seal_open (out, sealed, HD_SEAL_SEALED_KEY_BYTES, self->keys[k].pub,
                              self->keys[k].secret)
        != 0)
        return HD_ECRYPTO;
    s_cached_t *c = &self->cache[self->next];
    self->next = (self->next + 1) % S_CACHE;
    memcpy (c->sealed, sealed, HD_SEAL_SEALED_KEY_BYTES);
    memcpy (c->key, out, 32);
    c->used = true;
    return HD_OK;
}

hd_err_t
hd_seal_open_task (hd_seal_keyring_t *self, const uint8_t id[16], const char *fn, const void *in,
                   size_t size, uint8_t *out, size_t *out_size, uint8_t job_key[32])
{
    const uint8_t *p = in;
    *out_size = 0;
    if (size < HD_SEAL_TASK_OVERHEAD || p[0] != HD_SEAL_VERSION)
        return HD_ECRYPTO;
    pthread_mutex_lock (&self->lock);
    hd_err_t rc = s_job_key (self, p + 1, p + 1 + HD_SEAL_ID_BYTES, job_key);
    pthread_mutex_unlock (&self->lock);
    if (rc != HD_OK)
        return rc;
    const uint8_t *nonce = p + 1 + HD_SEAL_ID_BYTES + HD_SEAL_SEALED_KEY_BYTES;
    uint8_t ad[2 + 16 + 4 + HD_MAX_FN];
    size_t adlen = s_ad (ad, 'T', id, fn, NULL);
    size_t head = (size_t) (nonce + HD_SEAL_NONCE_BYTES - p);
    return s_open (job_key, nonce, p + head, size - head, ad, adlen, out, out_size);
}

hd_err_t
hd_seal_grant (const uint8_t secret[32], const uint8_t worker_pub[32],
               uint8_t out[HD_SEAL_SEALED_KEY_BYTES])
{
    if (sodium_init () < 0)
        return HD_ECRYPTO;
    return crypto_box_seal (out, secret, 32, worker_pub) == 0 ? HD_OK : HD_ECRYPTO;
}

hd_err_t
hd_seal_open_grant (const uint8_t grant[HD_SEAL_SEALED_KEY_BYTES], const uint8_t worker_pub[32],
                    const uint8_t worker_secret[32], uint8_t secret_out[32])
{
    if (sodium_init () < 0)
        return HD_ECRYPTO;
    return crypto_box_seal_open (secret_out, grant, HD_SEAL_SEALED_KEY_BYTES, worker_pub,
                                 worker_secret)
                   == 0
               ? HD_OK
               : HD_ECRYPTO;
}

void
hd_seal_wipe (void *data, size_t size)
{
    if (data && size)
        sodium_memzero (data, size);
}
