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

//  Create the directory (0700, also when it existed) and every file above: secret key files
//  0600, public ones and allowlists 0644. HD_EIO with text in errbuf when the directory
//  already holds keys and force is false, or on any I/O error.
hd_err_t hd_keys_init_dir (const char *dir, bool force, char *errbuf, size_t errlen);
//  Load a secret certificate (zcert "…_secret" file). Caller destroys. HD_ECRYPTO (with text)
//  when the file is missing, unreadable, or has no secret key.
hd_err_t hd_keys_load_secret (const char *path, zcert_t **out, char *errbuf, size_t errlen);
//  What a file is, for hd_keys_check_mode.
typedef enum {
    HD_KEYS_SECRET,     //  a secret key file: no access at all for group or others (0600)
    HD_KEYS_DIR,        //  a directory holding secret keys: the same (0700)
    HD_KEYS_ALLOWLIST,  //  an allowlist: nobody but the owner may write it (0644 is fine)
} hd_keys_kind_t;

//  Key hygiene, as ssh does it: a secret key file or a directory holding one that group or
//  others may read, write or enter (mode & 077), or an allowlist that group or others may
//  write (mode & 022), is refused: HD_ECRYPTO with a text naming the file, its mode and the
//  chmod that fixes it. With lax (--insecure-key-perms) the same text is logged as a warning
//  and the result is HD_OK. A path that cannot be examined is HD_OK: the load that follows
//  says why it cannot be read.
hd_err_t hd_keys_check_mode (const char *path, hd_keys_kind_t kind, bool lax, char *errbuf,
                             size_t errlen);
//  hd_keys_check_mode on `dir` (when not NULL) and on the secret file `path`, then
//  hd_keys_load_secret. Caller destroys *out.
hd_err_t hd_keys_load_secret_checked (const char *path, const char *dir, bool lax, zcert_t **out,
                                      char *errbuf, size_t errlen);
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
//  Append `key` to an allowlist file (created 0644 if missing, whatever the umask), after a "# comment" line.
//  HD_OK; HD_EIO with text in errbuf.
hd_err_t hd_keys_append_allowlist (const char *path, const char *key, const char *comment,
                                   char *errbuf, size_t errlen);
//  Rewrite the allowlist at `path` without the lines holding `key` (through PATH.tmp and a
//  rename; comments and other keys stay). HD_OK; HD_ENOTFOUND the key was not there (file
//  unchanged); HD_EIO with text in errbuf.
hd_err_t hd_keys_remove_allowlist (const char *path, const char *key, char *errbuf,
                                   size_t errlen);
//  A node's own key pair in a state directory: load dir/name.cert_secret, or on first use
//  create dir (0700) and dir/name.cert + dir/name.cert_secret (0600). Both the directory and
//  the secret file go through hd_keys_check_mode (lax: only warn). Caller destroys *out.
//  *made tells whether it was created now. HD_OK; HD_EIO/HD_ECRYPTO with text in errbuf.
hd_err_t hd_keys_load_or_make (const char *dir, const char *name, bool lax, zcert_t **out,
                               bool *made, char *errbuf, size_t errlen);
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
//  A key's id, as `heddle nodes pending` prints it and approve/reject take it: the first 16 hex
//  digits of its fingerprint, no ':' (shell-safe, unlike Z85 with its '(' and '!'). HD_OK;
//  HD_EINVAL when key is not a Z85 key.
#define HD_KEY_ID_TEXT 17
hd_err_t hd_keys_id (const char *key, char out[HD_KEY_ID_TEXT]);
//  Does `text` name `key`: a prefix of its Z85 form (the old way), or a prefix of its
//  fingerprint in hex (any case, ':' between groups allowed, as fingerprints print)? Prefixes
//  shorter than min_len characters (not counting ':') never match.
bool hd_keys_matches (const char *key, const char *text, size_t min_len);
//  --- payload keys (sealed payloads, hd_seal) ------------------------------------------------
//  A keys directory also holds the cluster's payload key pair: payload.cert (public: clients
//  seal job keys to it) and payload.cert_secret (workers open them); after a rotation the older
//  pairs stay as payload-<id>.cert[_secret]. hd_keys_init_dir makes the first pair.
//  The current payload public key (32 raw bytes). HD_OK; HD_ENOTFOUND no payload.cert (plain
//  payloads); HD_ECRYPTO unreadable.
hd_err_t hd_keys_load_payload_public (const char *dir, uint8_t out[32], char *errbuf,
                                      size_t errlen);
//  Call fn for every payload secret key in dir (current first). *count gets how many. HD_OK;
//  HD_ENOTFOUND none.
hd_err_t hd_keys_each_payload_secret (const char *dir,
                                      void (*fn) (const uint8_t secret[32], void *arg), void *arg,
                                      size_t *count);
//  Save a payload secret key as dir/name.cert + name.cert_secret (0600). HD_OK; HD_EIO.
hd_err_t hd_keys_save_payload_secret (const char *dir, const uint8_t secret[32], const char *name,
                                      char *errbuf, size_t errlen);
//  Make a new payload pair in dir; the current one (if any) is kept as payload-<id>, whose
//  name goes to old_name ("" when there was none). HD_OK; HD_EIO/HD_ECRYPTO with text.
hd_err_t hd_keys_rotate_payload (const char *dir, char old_name[64], char *errbuf, size_t errlen);
//  Build "dir/name" into out (PATH_MAX-sized). Returns out.
char *hd_keys_path (char *out, size_t outlen, const char *dir, const char *name);

#endif
