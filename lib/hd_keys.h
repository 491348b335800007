/*  hd_keys: CURVE key material on disk, through czmq certificates (zcert). A keys directory made
    by `heddle keys init` holds, for each role R in broker, client, worker, admin: R.cert (public)
    and R.cert_secret (0600); and the allowlists clients.keys, workers.keys, admins.keys: one Z85
    public key per line, '#' starts a comment. Knows nothing of sockets or of the protocol.  */
#ifndef HD_KEYS_H
#define HD_KEYS_H

#include <czmq.h>
#include <stdbool.h>

#include "hd_err.h"

#define HD_KEY_TEXT 41          //  Z85 public key, 40 chars + NUL
#define HD_FINGERPRINT_TEXT 40  //  "xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx" + NUL

//  Create the directory and every file above. HD_EIO with text in errbuf when the directory
//  already holds keys and force is false, or on any I/O error.
hd_err_t hd_keys_init_dir (const char *dir, bool force, char *errbuf, size_t errlen);
//  Load a secret certificate (zcert "…_secret" file). Caller destroys. HD_ECRYPTO (with text)
//  when the file is missing, unreadable, or has no secret key.
hd_err_t hd_keys_load_secret (const char *path, zcert_t **out, char *errbuf, size_t errlen);
//  Read a public key: from a cert file, or `text` itself when it is 40 Z85 chars.
//  HD_ECRYPTO with text otherwise.
hd_err_t hd_keys_load_public (const char *path_or_text, char out[HD_KEY_TEXT], char *errbuf,
                              size_t errlen);
//  Whether `text` is a syntactically valid Z85 CURVE public key (40 chars that decode).
bool hd_keys_is_z85 (const char *text);
//  Read an allowlist file, calling add(key, arg) for each key. HD_OK; HD_EIO when unreadable;
//  HD_EINVAL with "path:line: ..." in errbuf for a malformed line.
hd_err_t hd_keys_read_allowlist (const char *path, void (*add) (const char *key, void *arg),
                                 void *arg, char *errbuf, size_t errlen);
//  Append `key` to an allowlist file (created 0644 if missing), after a "# comment" line.
//  HD_OK; HD_EIO with text in errbuf.
hd_err_t hd_keys_append_allowlist (const char *path, const char *key, const char *comment,
                                   char *errbuf, size_t errlen);
//  Rewrite the allowlist at `path` without the lines holding `key` (through PATH.tmp and a
//  rename; comments and other keys stay). HD_OK; HD_ENOTFOUND the key was not there (file
//  unchanged); HD_EIO with text in errbuf.
hd_err_t hd_keys_remove_allowlist (const char *path, const char *key, char *errbuf,
                                   size_t errlen);
//  A node's own key pair in a state directory: load dir/name.cert_secret, or on first use
//  create dir (0700) and dir/name.cert + dir/name.cert_secret (0600). Caller destroys *out.
//  *made tells whether it was created now. HD_OK; HD_EIO/HD_ECRYPTO with text in errbuf.
hd_err_t hd_keys_load_or_make (const char *dir, const char *name, zcert_t **out, bool *made,
                               char *errbuf, size_t errlen);
//  Trust on first use: record `key` (Z85) in dir/broker.pin when that file is missing; else
//  compare. HD_OK; HD_ECRYPTO with a clear message when the pinned key differs; HD_EIO.
hd_err_t hd_keys_pin (const char *dir, const char *key, char *errbuf, size_t errlen);
//  The pinned broker key in dir/broker.pin, without changing anything. HD_OK with the key in
//  out; HD_ENOTFOUND when there is no pin yet; HD_EIO when the file cannot be read or holds no
//  Z85 key.
hd_err_t hd_keys_read_pin (const char *dir, char out[HD_KEY_TEXT]);
//  The fingerprint of a public key (Z85 text): the first 16 bytes of SHA-256 over the key's 32
//  raw bytes, in lower-case hex, 8 groups of 4 digits joined by ':' (39 characters). Short
//  enough to read over the phone, long enough that no one can make a key that matches it.
//  HD_OK; HD_EINVAL when key is not a Z85 key.
hd_err_t hd_keys_fingerprint (const char *key, char out[HD_FINGERPRINT_TEXT]);
//  A fingerprint as a person types it: 32 hex digits, any case, with or without ':' between
//  groups, into the canonical form above. HD_OK; HD_EINVAL for anything else.
hd_err_t hd_keys_parse_fingerprint (const char *text, char out[HD_FINGERPRINT_TEXT]);
//  Build "dir/name" into out (PATH_MAX-sized). Returns out.
char *hd_keys_path (char *out, size_t outlen, const char *dir, const char *name);

#endif
