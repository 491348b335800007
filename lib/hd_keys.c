/*  hd_keys: key files through czmq's zcert (the well-kept format czmq tools read too), plus
    plain-text allowlists that operators can edit and review with ordinary tools.  */
#include "hd_keys.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_seal.h"
#include "hd_log.h"

static const char *s_roles[] = { "broker", "client", "worker", "admin" };
#define S_NROLES 4

char *
hd_keys_path (char *out, size_t outlen, const char *dir, const char *name)
{
    snprintf (out, outlen, "%s/%s", dir, name);
    return out;
}

bool
hd_keys_is_z85 (const char *text)
{
    if (!text || strlen (text) != 40)
        return false;
    uint8_t key[32];
    return zmq_z85_decode (key, text) != NULL;
}

static hd_err_t
s_save_cert_by (zcert_t *cert, const char *dir, const char *role, const char *by, char *errbuf,
                size_t errlen)
{
    char path[PATH_MAX], secret[PATH_MAX + 8];
    hd_keys_path (path, sizeof path, dir, role);
    strncat (path, ".cert", sizeof path - strlen (path) - 1);
    snprintf (secret, sizeof secret, "%s_secret", path);
    zcert_set_meta (cert, "role", "%s", role);
    zcert_set_meta (cert, "created-by", "%s", by);
    //  Create the secret file 0600 before zcert writes into it, so it is never world-readable.
    mode_t old = umask (077);
    int rc = zcert_save (cert, path);
    umask (old);
    if (rc != 0 || chmod (secret, 0600) != 0 || chmod (path, 0644) != 0) {
        snprintf (errbuf, errlen, "cannot write %s: %s", path, strerror (errno));
        return HD_EIO;
    }
    return HD_OK;
}

static hd_err_t
s_save_cert (zcert_t *cert, const char *dir, const char *role, char *errbuf, size_t errlen)
{
    return s_save_cert_by (cert, dir, role, "heddle keys init", errbuf, errlen);
}

//  fopen with the file made 0644 (readable, writable by its owner only), whatever the umask:
//  a group-writable allowlist is refused at start (hd_keys_check_mode).
static FILE *
s_open_allowlist (const char *path, int flags, const char *mode)
{
    int fd = open (path, flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return NULL;
    struct stat st;
    if ((flags & O_TRUNC) && fstat (fd, &st) == 0 && (st.st_mode & 022))
        fchmod (fd, 0644);
    FILE *f = fdopen (fd, mode);
    if (!f)
        close (fd);
    return f;
}

static hd_err_t
s_write_allowlist (const char *dir, const char *file, zcert_t *cert, const char *role,
                   char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    hd_keys_path (path, sizeof path, dir, file);
    FILE *f = s_open_allowlist (path, O_WRONLY | O_CREAT | O_TRUNC, "w");
    if (!f) {
        snprintf (errbuf, errlen, "cannot write %s: %s", path, strerror (errno));
        return HD_EIO;
    }
    fprintf (f, "# heddle allowlist: one Z85 CURVE public key per line; '#' starts a comment.\n");
    fprintf (f, "%s  # %s key from heddle keys init\n", zcert_public_txt (cert), role);
    if (fclose (f) != 0) {
        snprintf (errbuf, errlen, "cannot write %s: %s", path, strerror (errno));
        return HD_EIO;
    }
    return HD_OK;
}

//  dir/payload.cert (public, for clients) and payload.cert_secret (for workers): the cluster's
//  payload key pair (X25519, as CURVE keys are), made with zcert like every other key.
static hd_err_t
s_make_payload (const char *dir, const char *by, char *errbuf, size_t errlen)
{
    zcert_t *cert = zcert_new ();
    if (!cert)
        return HD_ENOMEM;
    hd_err_t rc = s_save_cert_by (cert, dir, "payload", by, errbuf, errlen);
    zcert_destroy (&cert);
    return rc;
}

static bool
s_dir_has_keys (const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    return stat (hd_keys_path (path, sizeof path, dir, "broker.cert_secret"), &st) == 0;
}

hd_err_t
hd_keys_init_dir (const char *dir, bool force, char *errbuf, size_t errlen)
{
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        snprintf (errbuf, errlen, "cannot create %s: %s", dir, strerror (errno));
        return HD_EIO;
    }
    if (!force && s_dir_has_keys (dir)) {
        snprintf (errbuf, errlen, "%s already holds keys (use --force to replace them)", dir);
        return HD_EIO;
    }
    //  It is about to hold secret keys: the broker, worker and client refuse a keys
    //  directory that group or others can enter (hd_keys_check_mode).
    if (chmod (dir, 0700) != 0) {
        snprintf (errbuf, errlen, "cannot make %s private (chmod 700): %s", dir, strerror (errno));
        return HD_EIO;
    }
    static const char *lists[] = { NULL, "clients.keys", "workers.keys", "admins.keys" };
    hd_err_t rc = HD_OK;
    for (int i = 0; i < S_NROLES && rc == HD_OK; i++) {
        zcert_t *cert = zcert_new ();
        if (!cert)
            return HD_ENOMEM;
        rc = s_save_cert (cert, dir, s_roles[i], errbuf, errlen);
        if (rc == HD_OK && lists[i])
            rc = s_write_allowlist (dir, lists[i], cert, s_roles[i], errbuf, errlen);
        zcert_destroy (&cert);
    }
    if (rc == HD_OK)
        rc = s_make_payload (dir, "heddle keys init", errbuf, errlen);
    return rc;
}

hd_err_t
hd_keys_load_secret (const char *path, zcert_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        snprintf (errbuf, errlen, "cannot load certificate %s (missing or unreadable)", path);
        return HD_ECRYPTO;
    }
    static const char zero[41] = "0000000000000000000000000000000000000000";
    if (strcmp (zcert_secret_txt (cert), zero) == 0) {
        snprintf (errbuf, errlen, "%s holds no secret key (use the _secret file)", path);
        zcert_destroy (&cert);
        return HD_ECRYPTO;
    }
    *out = cert;
    return HD_OK;
}

hd_err_t
hd_keys_check_mode (const char *path, hd_keys_kind_t kind, bool lax, char *errbuf, size_t errlen)
{
    static const struct {
        mode_t bad;
        const char *what, *fix;
    } rules[] = {
        [HD_KEYS_SECRET] = { 077, "a secret key must not be open to group or others", "600" },
        [HD_KEYS_DIR] = { 077, "a directory of secret keys must not be open to group or others",
                          "700" },
        [HD_KEYS_ALLOWLIST] = { 022, "only its owner may write an allowlist", "go-w" },
    };
    struct stat st;
    if (stat (path, &st) != 0 || !(st.st_mode & rules[kind].bad))
        return HD_OK;
    snprintf (errbuf, errlen, "%s has mode %04o: %s (fix: chmod %s %s%s)", path,
              (unsigned) (st.st_mode & 07777), rules[kind].what, rules[kind].fix, path,
              lax ? "; --insecure-key-perms: going on" : ", or start with --insecure-key-perms "
                                                         "to accept it");
    if (!lax)
        return HD_ECRYPTO;
    hd_warn ("%s", errbuf);
    errbuf[0] = '\0';
    return HD_OK;
}

hd_err_t
hd_keys_load_secret_checked (const char *path, const char *dir, bool lax, zcert_t **out,
                             char *errbuf, size_t errlen)
{
    *out = NULL;
    hd_err_t rc = dir ? hd_keys_check_mode (dir, HD_KEYS_DIR, lax, errbuf, errlen) : HD_OK;
    if (rc == HD_OK)
        rc = hd_keys_check_mode (path, HD_KEYS_SECRET, lax, errbuf, errlen);
    if (rc == HD_OK)
        rc = hd_keys_load_secret (path, out, errbuf, errlen);
    return rc;
}

hd_err_t
hd_keys_load_public (const char *path_or_text, char out[HD_KEY_TEXT], char *errbuf, size_t errlen)
{
    //  A file wins: a 40-character path of Z85-safe characters also decodes as a key (a test
    //  directory once made exactly such a path).
    if (access (path_or_text, R_OK) != 0 && hd_keys_is_z85 (path_or_text)) {
        memcpy (out, path_or_text, HD_KEY_TEXT);
        return HD_OK;
    }
    //  Not zcert_load: it reads PATH_secret first when that exists, so a stale secret file
    //  beside the public one would silently win. Read exactly the file named.
    zconfig_t *root = zconfig_load (path_or_text);
    const char *key = root ? zconfig_get (root, "curve/public-key", NULL) : NULL;
    hd_err_t rc = HD_OK;
    if (key && hd_keys_is_z85 (key))
        memcpy (out, key, HD_KEY_TEXT);
    else {
        snprintf (errbuf, errlen, "cannot load public key %s (not a Z85 key, not a cert file)",
                  path_or_text);
        rc = HD_ECRYPTO;
    }
    zconfig_destroy (&root);
    return rc;
}

static hd_err_t
s_allow_line (char *line, const char *path, int lineno, void (*add) (const char *, void *),
              void *arg, char *errbuf, size_t errlen)
{
    //  '#' is also a Z85 character: a line whose first word is a valid key is a key line (a key
    //  may start with '#'); otherwise a leading '#' makes the line a comment. After the key, a
    //  comment starts at a '#' that follows a blank.
    char *key = strtok (line, " \t\r\n");
    if (!key)
        return HD_OK;
    if (!hd_keys_is_z85 (key)) {
        if (key[0] == '#')
            return HD_OK;
        snprintf (errbuf, errlen, "%s:%d: expected one 40-character Z85 public key", path, lineno);
        return HD_EINVAL;
    }
    char *rest = strtok (NULL, " \t\r\n");
    if (rest && rest[0] != '#') {
        snprintf (errbuf, errlen, "%s:%d: expected one key per line, then an optional # comment",
                  path, lineno);
        return HD_EINVAL;
    }
    add (key, arg);
    return HD_OK;
}

hd_err_t
hd_keys_read_allowlist (const char *path, void (*add) (const char *key, void *arg), void *arg,
                        char *errbuf, size_t errlen)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (errbuf, errlen, "cannot read allowlist %s: %s", path, strerror (errno));
        return HD_EIO;
    }
    char line[512];
    int lineno = 0;
    hd_err_t rc = HD_OK;
    while (rc == HD_OK && fgets (line, sizeof line, f))
        rc = s_allow_line (line, path, ++lineno, add, arg, errbuf, errlen);
    fclose (f);
    return rc;
}

hd_err_t
hd_keys_append_allowlist (const char *path, const char *key, const char *comment, char *errbuf,
                          size_t errlen)
{
    FILE *f = s_open_allowlist (path, O_RDWR | O_CREAT | O_APPEND, "a+");
    //  A last line without its newline would swallow the comment and break the file.
    bool newline = true;
    if (f && fseek (f, -1, SEEK_END) == 0)
        newline = fgetc (f) == '\n';
    bool ok = f && fseek (f, 0, SEEK_END) == 0
              && fprintf (f, "%s# %s\n%s\n", newline ? "" : "\n", comment, key) > 0;
    if (f && fclose (f) != 0)
        ok = false;
    if (!ok) {
        snprintf (errbuf, errlen, "cannot append to %s: %s", path, strerror (errno));
        return HD_EIO;
    }
    return HD_OK;
}

//  Whether `line` holds `key` as its first word.
static bool
s_line_has_key (const char *line, const char *key)
{
    line += strspn (line, " \t");
    return strncmp (line, key, 40) == 0 && strchr (" \t\r\n", line[40]) && line[40];
}

hd_err_t
hd_keys_remove_allowlist (const char *path, const char *key, char *errbuf, size_t errlen)
{
    char tmp[PATH_MAX + 8];
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FILE *in = fopen (path, "r");
    FILE *out = in ? fopen (tmp, "w") : NULL;
    char *line = NULL;
    size_t cap = 0;
    bool ok = out != NULL, found = false;
    while (ok && getline (&line, &cap, in) > 0) {
        if (s_line_has_key (line, key))
            found = true;
        else
            ok = fputs (line, out) >= 0;
    }
    free (line);
    ok = ok && fflush (out) == 0 && fsync (fileno (out)) == 0;
    if (out && fclose (out) != 0)
        ok = false;
    if (in)
        fclose (in);
    if (ok && found && rename (tmp, path) != 0)
        ok = false;
    if (!ok)
        snprintf (errbuf, errlen, "cannot rewrite %s: %s", path, strerror (errno));
    if (!ok || !found)
        unlink (tmp);
    return !ok ? HD_EIO : found ? HD_OK : HD_ENOTFOUND;
}

hd_err_t
hd_keys_load_or_make (const char *dir, const char *name, bool lax, zcert_t **out, bool *made,
                      char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    hd_keys_path (path, sizeof path, dir, name);
    strncat (path, ".cert_secret", sizeof path - strlen (path) - 1);
    *made = false;
    if (access (path, F_OK) == 0)
        return hd_keys_load_secret_checked (path, dir, lax, out, errbuf, errlen);
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        snprintf (errbuf, errlen, "cannot create state directory %s: %s", dir, strerror (errno));
        return HD_EIO;
    }
    hd_err_t rc = hd_keys_check_mode (dir, HD_KEYS_DIR, lax, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    zcert_t *cert = zcert_new ();
    if (!cert)
        return HD_ENOMEM;
    rc = s_save_cert_by (cert, dir, name, "heddle-worker (first start)", errbuf, errlen);
    zcert_destroy (&cert);
    //  Load back what was written, so that a file zcert cannot read fails now, not later.
    if (rc == HD_OK && (rc = hd_keys_load_secret (path, out, errbuf, errlen)) == HD_OK)
        *made = true;
    return rc;
}

static hd_err_t
s_write_pin (const char *path, const char *key, char *errbuf, size_t errlen)
{
    FILE *f = fopen (path, "w");
    bool ok = f && fprintf (f, "%s\n", key) > 0;
    if (f && fclose (f) != 0)
        ok = false;
    if (!ok) {
        snprintf (errbuf, errlen, "cannot write %s: %s", path, strerror (errno));
        return HD_EIO;
    }
    return HD_OK;
}

hd_err_t
hd_keys_pin (const char *dir, const char *key, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    hd_keys_path (path, sizeof path, dir, "broker.pin");
    FILE *f = fopen (path, "r");
    if (!f)
        return errno == ENOENT ? s_write_pin (path, key, errbuf, errlen) : HD_EIO;
    char pinned[64] = "";
    bool read = fgets (pinned, sizeof pinned, f) != NULL;
    fclose (f);
    pinned[strcspn (pinned, "\r\n")] = 0;
    if (read && strcmp (pinned, key) == 0)
        return HD_OK;
    snprintf (errbuf, errlen,
              "the broker key %s is not the one this worker first trusted (%s, pinned in %s): "
              "refusing it. If the broker's keys really changed, delete %s and start again",
              key, read ? pinned : "unreadable", path, path);
    return HD_ECRYPTO;
}

hd_err_t
hd_keys_read_pin (const char *dir, char out[HD_KEY_TEXT])
{
    char path[PATH_MAX], line[64] = "";
    out[0] = '\0';
    FILE *f = fopen (hd_keys_path (path, sizeof path, dir, "broker.pin"), "r");
    if (!f)
        return errno == ENOENT ? HD_ENOTFOUND : HD_EIO;
    bool read = fgets (line, sizeof line, f) != NULL;
    fclose (f);
    line[strcspn (line, "\r\n")] = '\0';
    if (!read || !hd_keys_is_z85 (line))
        return HD_EIO;
    memcpy (out, line, HD_KEY_TEXT);
    return HD_OK;
}

static void
s_hex_groups (const uint8_t *bytes, char out[HD_FINGERPRINT_TEXT])
{
    static const char digits[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i && i % 2 == 0)
            *p++ = ':';
        *p++ = digits[bytes[i] >> 4];
        *p++ = digits[bytes[i] & 15];
    }
    *p = '\0';
}

hd_err_t
hd_keys_fingerprint (const char *key, char out[HD_FINGERPRINT_TEXT])
{
    uint8_t raw[32], hash[crypto_hash_sha256_BYTES];
    out[0] = '\0';
    if (!hd_keys_is_z85 (key) || !zmq_z85_decode (raw, key))
        return HD_EINVAL;
    if (sodium_init () < 0)
        return HD_ECRYPTO;
    crypto_hash_sha256 (hash, raw, sizeof raw);
    s_hex_groups (hash, out);
    return HD_OK;
}

hd_err_t
hd_keys_parse_fingerprint (const char *text, char out[HD_FINGERPRINT_TEXT])
{
    uint8_t bytes[16];
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = text; p && *p; p++) {
        if (*p == ':' && p != text && p[1] && p[1] != ':')
            continue;
        int v = isdigit ((unsigned char) *p)    ? *p - '0'
                : isxdigit ((unsigned char) *p) ? tolower ((unsigned char) *p) - 'a' + 10
                                                : -1;
        if (v < 0 || n == 32)
            return HD_EINVAL;
        bytes[n / 2] = (uint8_t) (n % 2 ? (bytes[n / 2] | v) : v << 4);
        n++;
    }
    if (n != 32)
        return HD_EINVAL;
    s_hex_groups (bytes, out);
    return HD_OK;
}

hd_err_t
hd_keys_id (const char *key, char out[HD_KEY_ID_TEXT])
{
    char fp[HD_FINGERPRINT_TEXT];
    out[0] = '\0';
    hd_err_t rc = hd_keys_fingerprint (key, fp);
    if (rc != HD_OK)
        return rc;
    size_t n = 0;
    for (const char *p = fp; *p && n < HD_KEY_ID_TEXT - 1; p++)
        if (*p != ':')
            out[n++] = *p;
    out[n] = '\0';
    return HD_OK;
}

//  Hex digits of a fingerprint prefix as typed, lower case and without ':'; false when `text`
//  holds anything else or more than 32 digits.
static bool
s_hex_prefix (const char *text, char out[33])
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ':')
            continue;
        if (!isxdigit ((unsigned char) *p) || n == 32)
            return false;
        out[n++] = (char) tolower ((unsigned char) *p);
    }
    out[n] = '\0';
    return true;
}

bool
hd_keys_matches (const char *key, const char *text, size_t min_len)
{
    size_t len = strlen (text);
    if (len >= min_len && len <= 40 && strncmp (key, text, len) == 0)
        return true;
    char hex[33], fp[HD_FINGERPRINT_TEXT], digits[33];
    if (!s_hex_prefix (text, hex) || strlen (hex) < min_len || hd_keys_fingerprint (key, fp) != HD_OK
        || !s_hex_prefix (fp, digits))
        return false;
    return strncmp (digits, hex, strlen (hex)) == 0;
}

hd_err_t
hd_keys_load_payload_public (const char *dir, uint8_t out[32], char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    hd_keys_path (path, sizeof path, dir, "payload.cert");
    if (access (path, F_OK) != 0) {
        snprintf (errbuf, errlen, "%s is missing", path);
        return HD_ENOTFOUND;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        snprintf (errbuf, errlen, "cannot load the payload key %s", path);
        return HD_ECRYPTO;
    }
    memcpy (out, zcert_public_key (cert), 32);
    zcert_destroy (&cert);
    return HD_OK;
}

//  One payload secret file: used only when no one but its owner can read it (like every other
//  secret key); an open one is named in a warning and skipped.
static void
s_payload_one (const char *path, void (*fn) (const uint8_t secret[32], void *arg), void *arg,
               size_t *count)
{
    char err[512] = "";
    if (access (path, F_OK) != 0)
        return;
    if (hd_keys_check_mode (path, HD_KEYS_SECRET, false, err, sizeof err) != HD_OK) {
        hd_warn ("%s: this payload key is not used", err);
        return;
    }
    zcert_t *cert = zcert_load (path);
    if (cert) {
        fn (zcert_secret_key (cert), arg);
        (*count)++;
        zcert_destroy (&cert);
    }
}

//  payload.cert_secret first (the current key), then payload-*.cert_secret (older ones, kept
//  after a rotation until their jobs are done).
hd_err_t
hd_keys_each_payload_secret (const char *dir, void (*fn) (const uint8_t secret[32], void *arg),
                             void *arg, size_t *count)
{
    *count = 0;
    char path[PATH_MAX];
    s_payload_one (hd_keys_path (path, sizeof path, dir, "payload.cert_secret"), fn, arg, count);
    DIR *d = opendir (dir);
    if (!d)
        return *count ? HD_OK : HD_ENOTFOUND;
    struct dirent *e;
    while ((e = readdir (d))) {
        size_t len = strlen (e->d_name);
        if (strncmp (e->d_name, "payload-", 8) != 0 || len < 20
            || strcmp (e->d_name + len - 12, ".cert_secret") != 0)
            continue;
        s_payload_one (hd_keys_path (path, sizeof path, dir, e->d_name), fn, arg, count);
    }
    closedir (d);
    return *count ? HD_OK : HD_ENOTFOUND;
}

hd_err_t
hd_keys_save_payload_secret (const char *dir, const uint8_t secret[32], const char *name,
                             char *errbuf, size_t errlen)
{
    uint8_t pub[32];
    if (crypto_scalarmult_base (pub, secret) != 0) {
        snprintf (errbuf, errlen, "invalid payload key");
        return HD_ECRYPTO;
    }
    zcert_t *cert = zcert_new_from (pub, secret);
    if (!cert)
        return HD_ENOMEM;
    hd_err_t rc = s_save_cert_by (cert, dir, name, "payload key grant", errbuf, errlen);
    zcert_destroy (&cert);
    return rc;
}

hd_err_t
hd_keys_rotate_payload (const char *dir, char old_name[64], char *errbuf, size_t errlen)
{
    uint8_t pub[32];
    old_name[0] = 0;
    hd_err_t rc = hd_keys_load_payload_public (dir, pub, errbuf, errlen);
    if (rc == HD_OK) {
        //  The old pair stays as payload-<id>: workers keep opening the jobs sealed to it.
        uint8_t id[HD_SEAL_ID_BYTES];
        hd_seal_key_id (pub, id);
        char hex[2 * HD_SEAL_ID_BYTES + 1];
        sodium_bin2hex (hex, sizeof hex, id, sizeof id);
        snprintf (old_name, 64, "payload-%s", hex);
        char from[PATH_MAX], to[PATH_MAX + 16];
        for (int secret = 0; secret < 2; secret++) {
            hd_keys_path (from, sizeof from, dir, secret ? "payload.cert_secret" : "payload.cert");
            snprintf (to, sizeof to, "%s/%s%s", dir, old_name, secret ? ".cert_secret" : ".cert");
            if (rename (from, to) != 0) {
                snprintf (errbuf, errlen, "cannot rename %s: %s", from, strerror (errno));
                return HD_EIO;
            }
        }
    }
    else if (rc != HD_ENOTFOUND)
        return rc;
    return s_make_payload (dir, "heddle keys rotate-payload", errbuf, errlen);
}
