/*  hd_nodenames: which worker key owns which node name. A key takes a name the first time it
    joins with it; another key claiming an owned name is refused, so a stolen or cloned board's
    key cannot pose as another node. A key shared by several boards (the one `heddle keys init`
    makes) owns each of their names, up to a bound per key. Kept in memory and, when a path is given, in a file next to the workers allowlist
    (KEYS/workers.names: lines "KEY NAME", rewritten whole through a temporary file and a
    rename). Knows nothing of sockets or nodes; looked up on HELLO and admin commands only.  */
#ifndef HD_NODENAMES_H
#define HD_NODENAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "hd_err.h"

typedef struct hd_nodenames hd_nodenames_t;

//  Read the bindings from `path` (a missing file is an empty table; NULL: memory only, the
//  string is copied). HD_OK; HD_EIO unreadable, HD_EINVAL a malformed line (text in errbuf,
//  naming the file and the line); HD_ENOMEM.
hd_err_t hd_nodenames_load (hd_nodenames_t **out, const char *path, char *errbuf, size_t errlen);
void hd_nodenames_destroy (hd_nodenames_t **self_p);
//  The key owning `name` (borrowed, valid until the next change), or NULL when none does.
const char *hd_nodenames_owner (const hd_nodenames_t *self, const char *name);
//  How many names `key` owns.
size_t hd_nodenames_count_of (const hd_nodenames_t *self, const char *key);
//  Whether `name` is one a node may have: 1..HD_MAX_NAME bytes, no control characters.
bool hd_nodenames_valid (const char *name);
//  `key` owns `name` from now on. HD_OK (also when it already did); HD_EINVAL a bad key or
//  name, or a name another key owns; HD_EFULL the key owns max_per_key names already (0: no
//  bound); HD_ENOMEM (nothing changed); HD_EIO changed in memory but not saved (errbuf).
hd_err_t hd_nodenames_bind (hd_nodenames_t *self, const char *key, const char *name,
                            size_t max_per_key, char *errbuf, size_t errlen);
//  `key` owns no name any more (revocation). HD_OK; HD_ENOTFOUND it owned none; HD_EIO as above.
hd_err_t hd_nodenames_forget (hd_nodenames_t *self, const char *key, char *errbuf,
                              size_t errlen);
size_t hd_nodenames_count (const hd_nodenames_t *self);

#endif
