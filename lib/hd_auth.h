/*  hd_auth: the broker's ZAP handler (RFC 27) with one allowlist per role. Each CURVE server
    socket carries a ZAP domain ("clients", "workers"); a key is admitted on a domain only if it
    is on that domain's list, so a client key cannot join as a worker and the reverse. The
    admitted key's role becomes the connection's User-Id ("client", "admin", "worker"), which
    the broker reads from each message. Runs inside the broker's reactor (no thread, no locks):
    an allowlist change takes effect for the next handshake. Sockets using it must set
    ZMQ_ZAP_ENFORCE_DOMAIN so that with no handler answering, nobody is admitted (fail closed).
    Enrollment: a key refused on the workers domain is remembered as pending (bounded, oldest
    forgotten first) until an admin approves it (admitted as "worker" from the next handshake,
    and appended to the workers allowlist file when one is set) or rejects it (refused, and not
    listed again until restart). With auto-approve, unknown worker keys are admitted at once.  */
#ifndef HD_AUTH_H
#define HD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"

#define HD_DOMAIN_CLIENTS "clients"
#define HD_DOMAIN_WORKERS "workers"
#define HD_AUTH_MAX_PENDING 256  //  pending keys remembered; the oldest is forgotten first
#define HD_AUTH_MIN_PREFIX 8     //  shortest key prefix approve/reject accept
#define HD_AUTH_USER_ID 64       //  "role:KEY" (role up to 15 chars, Z85 key of 40) + NUL

//  A worker key refused and waiting for an admin. Times are wall-clock seconds (time ()).
typedef struct {
    char key[41];        //  Z85
    char address[64];    //  peer address from the last ZAP request
    int64_t first_seen, last_seen;
    uint32_t attempts;
} hd_auth_pending_t;

typedef struct hd_auth hd_auth_t;

//  Bind the ZAP endpoint in czmq's shared context. HD_OK; HD_EIO when another handler already
//  holds it (one per process); HD_ENOMEM.
hd_err_t hd_auth_new (hd_auth_t **out);
//  Same on another endpoint: a handler libzmq does not consult, for tests of the decisions.
hd_err_t hd_auth_new_at (hd_auth_t **out, const char *endpoint);
void hd_auth_destroy (hd_auth_t **self_p);
//  Admit `key_z85` on `domain` with user id `role`. HD_OK, HD_EINVAL for a bad key, HD_ENOMEM.
hd_err_t hd_auth_allow (hd_auth_t *self, const char *domain, const char *key_z85, const char *role);
//  Load an allowlist file into a domain with a role (hd_keys_read_allowlist errors).
hd_err_t hd_auth_load (hd_auth_t *self, const char *domain, const char *path, const char *role,
                       char *errbuf, size_t errlen);
//  The decision for one handshake: the role admitting `key_z85` on `domain`, or NULL to refuse.
//  A refused worker key is recorded as pending (unless rejected); with auto-approve it is
//  admitted instead. `address` may be NULL. Counts admitted/refused.
const char *hd_auth_check (hd_auth_t *self, const char *domain, const char *key_z85,
                           const char *address);
//  Enrollment settings: the workers allowlist file approvals are appended to (NULL: memory
//  only; the string must outlive self), and whether unknown worker keys are admitted at once.
void hd_auth_set_enroll (hd_auth_t *self, const char *workers_file, bool auto_approve);
//  Pending keys, oldest first. Borrowed, valid until the next call that changes the list.
size_t hd_auth_pending_count (const hd_auth_t *self);
const hd_auth_pending_t *hd_auth_pending_at (const hd_auth_t *self, size_t index);
//  Approve the pending key matching `id` (the whole key, or a unique prefix of at least
//  HD_AUTH_MIN_PREFIX chars): admitted as "worker", removed from pending, appended to the
//  workers file. Reject: removed and remembered, stays refused. The full key goes to key_out.
//  HD_OK; HD_EINVAL prefix too short or ambiguous; HD_ENOTFOUND no pending key matches;
//  HD_EIO (approve) the key is admitted but could not be saved, text in errbuf.
hd_err_t hd_auth_approve (hd_auth_t *self, const char *id, char key_out[41], char *errbuf,
                          size_t errlen);
hd_err_t hd_auth_reject (hd_auth_t *self, const char *id, char key_out[41], char *errbuf,
                         size_t errlen);
//  Revoke an admitted worker key matching `id` (the whole key, or a unique prefix of at least
//  HD_AUTH_MIN_PREFIX chars): removed from the workers list and its file, refused from the next
//  handshake on and not listed as pending until restart (with auto-approve too). The full key
//  goes to key_out. HD_OK; HD_EINVAL prefix too short or ambiguous; HD_ENOTFOUND no admitted
//  worker key matches; HD_EIO revoked in memory but the file could not be rewritten (errbuf).
hd_err_t hd_auth_revoke (hd_auth_t *self, const char *id, char key_out[41], char *errbuf,
                         size_t errlen);
//  The role admitting `key_z85` on `domain` now, or NULL (no pending bookkeeping, no counts):
//  a connection admitted earlier may have lost its right since (revocation).
const char *hd_auth_role (const hd_auth_t *self, const char *domain, const char *key_z85);
//  Whether key_z85 is allowed on a domain other than `domain` (a client key offered to the
//  workers endpoint). The ZAP reply for such a key is 500 instead of 400.
bool hd_auth_known_elsewhere (hd_auth_t *self, const char *domain, const char *key_z85);
//  The raw socket to poll for ZAP requests, and the handler for one readable event (answers
//  every request waiting).
void *hd_auth_socket (hd_auth_t *self);
void hd_auth_handle (hd_auth_t *self);
//  Split a ZAP User-Id "ROLE:KEY" (as this handler sets it on every admitted connection, and
//  libzmq carries it in each message's metadata) into role and Z85 public key. false (both
//  set to "") when user_id is NULL or not of that form (an insecure socket has none).
bool hd_auth_split_user_id (const char *user_id, char role[16], char key[41]);
//  Log the summary of a window of refusals (or of new pending keys) that has closed: the first
//  refusal of a spell is logged in full, the others are counted (hd_ratelog). Call it now and
//  then (the broker does on every heartbeat) so that the last window of a flood is told too.
void hd_auth_tick (hd_auth_t *self);
//  Counters: handshakes admitted and refused since start.
uint64_t hd_auth_admitted (const hd_auth_t *self);
uint64_t hd_auth_refused (const hd_auth_t *self);

#endif
