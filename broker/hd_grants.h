/*  hd_grants: payload-key grants the broker relays to workers (sealed payloads, hd_seal). An
    admin seals the cluster's payload secret to an approved worker's public key and hands the
    sealed blob to the broker, which keeps it here (and in KEYS/payload.grants) and gives it to
    that worker key in every WELCOME. The broker cannot open a grant: only the worker's own
    secret key does. At most HD_MAX_GRANTS per worker key (a rotation adds one; the oldest goes).
    Pure bookkeeping plus the append-only file; knows nothing of sockets.  */
#ifndef HD_GRANTS_H
#define HD_GRANTS_H

#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"
#include "hd_proto.h"

typedef struct hd_grants hd_grants_t;

//  An empty set; NULL when memory runs out.
hd_grants_t *hd_grants_new (void);
void hd_grants_destroy (hd_grants_t **self_p);
//  Read a grants file ("grant WORKERKEY GRANT" per line, Z85; a line starting
//  with '#' is a comment). A missing file is an
//  empty set (HD_OK). HD_EINVAL "path:line: ..." in errbuf for a malformed line; HD_EIO.
hd_err_t hd_grants_load (hd_grants_t *self, const char *path, char *errbuf, size_t errlen);
//  Keep `grant` (HD_GRANT_TEXT - 1 Z85 chars) for worker `key` (40 Z85 chars), and append it to
//  `path` when not NULL. A grant already held is not added again (HD_OK). HD_EINVAL bad text;
//  HD_EIO the file could not be written (kept in memory all the same); HD_ENOMEM.
hd_err_t hd_grants_add (hd_grants_t *self, const char *key, const char *grant, const char *path,
                        char *errbuf, size_t errlen);
//  The grants held for worker `key`, oldest first, copied into out (at most max). Returns how
//  many.
uint32_t hd_grants_for (const hd_grants_t *self, const char *key, char out[][HD_GRANT_TEXT],
                        uint32_t max);
//  Forget every grant of worker `key` (revoked). Returns how many.
uint32_t hd_grants_drop (hd_grants_t *self, const char *key);
//  Worker keys with grants.
size_t hd_grants_keys (const hd_grants_t *self);

#endif
