/*  hd_auth: the broker's ZAP handler (RFC 27) with one allowlist per role. Each CURVE server
    socket carries a ZAP domain ("clients", "workers"); a key is admitted on a domain only if it
    is on that domain's list, so a client key cannot join as a worker and the reverse. The
    admitted key's role becomes the connection's User-Id ("client", "admin", "worker"), which
    the broker reads from each message. Runs inside the broker's reactor (no thread, no locks):
    an allowlist change takes effect for the next handshake. Sockets using it must set
    ZMQ_ZAP_ENFORCE_DOMAIN so that with no handler answering, nobody is admitted (fail closed).  */
#ifndef HD_AUTH_H
#define HD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"

#define HD_DOMAIN_CLIENTS "clients"
#define HD_DOMAIN_WORKERS "workers"

typedef struct hd_auth hd_auth_t;

//  Bind the ZAP endpoint in czmq's shared context. HD_OK; HD_EIO when another handler already
//  holds it (one per process); HD_ENOMEM.
hd_err_t hd_auth_new (hd_auth_t **out);
void hd_auth_destroy (hd_auth_t **self_p);
//  Admit `key_z85` on `domain` with user id `role`. HD_OK, HD_EINVAL for a bad key, HD_ENOMEM.
hd_err_t hd_auth_allow (hd_auth_t *self, const char *domain, const char *key_z85, const char *role);
//  Load an allowlist file into a domain with a role (hd_keys_read_allowlist errors).
hd_err_t hd_auth_load (hd_auth_t *self, const char *domain, const char *path, const char *role,
                       char *errbuf, size_t errlen);
//  The raw socket to poll for ZAP requests, and the handler for one readable event (answers
//  every request waiting).
void *hd_auth_socket (hd_auth_t *self);
void hd_auth_handle (hd_auth_t *self);
//  Counters: handshakes admitted and refused since start.
uint64_t hd_auth_admitted (const hd_auth_t *self);
uint64_t hd_auth_refused (const hd_auth_t *self);

#endif
