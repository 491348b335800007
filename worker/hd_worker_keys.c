/*  hd_worker_keys: the worker's key choice. The state directory is the zero-touch path: a fresh
    board makes its own pair, so no secret is ever copied to it by hand.  */
#include "hd_worker_keys.h"

#include <limits.h>
#include <unistd.h>

#include "hd_log.h"

//  Whether the worker's own key lives in the state directory (no --cert, no
//  KEYS/worker.cert_secret): only then does it pin the broker key.
static bool
s_uses_state_dir (const hd_worker_config_t *c)
{
    char path[PATH_MAX];
    if (c->cert_path)
        return false;
    if (c->keys_dir
        && access (hd_keys_path (path, sizeof path, c->keys_dir, "worker.cert_secret"), F_OK) == 0)
        return false;
    return c->state_dir && *c->state_dir;
}

//  The worker's own certificate. *own tells whether it lives in the state directory.
static hd_err_t
s_load_cert (const hd_worker_config_t *c, zcert_t **cert, bool *own, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    *own = false;
    bool lax = c->insecure_key_perms;
    if (c->cert_path)
        return hd_keys_load_secret_checked (c->cert_path, NULL, lax, cert, errbuf, errlen);
    if (c->keys_dir &&
        access (hd_keys_path (path, sizeof path, c->keys_dir, "worker.cert_secret"), F_OK) == 0)
        return hd_keys_load_secret_checked (path, c->keys_dir, lax, cert, errbuf, errlen);
    if (!c->state_dir || !*c->state_dir) {
        snprintf (errbuf, errlen,
                  "no worker key (--cert FILE, --keys DIR holding "
                  "worker.cert_secret, or --state-dir DIR to make one)");
        return HD_ECRYPTO;
    }
    bool made = false;
    hd_err_t rc = hd_keys_load_or_make (c->state_dir, "worker", lax, cert, &made, errbuf,
                                        errlen);
    if (rc != HD_OK)
        return rc;
    *own = true;
    const char *key = zcert_public_txt (*cert);
    char id[HD_KEY_ID_TEXT] = "?";
    hd_keys_id (key, id);
    if (made)
        hd_warn ("made a new key pair in %s; public key %s: an admin enrolls it with "
                 "`heddle nodes approve %s`",
                 c->state_dir, key, id);
    else
        hd_info ("worker key %s (from %s)", key, c->state_dir);
    return HD_OK;
}

static hd_err_t
s_parse_fingerprint (const hd_worker_config_t *c, char out[HD_FINGERPRINT_TEXT], char *errbuf,
                     size_t errlen)
{
    out[0] = '\0';
    if (!c->broker_fingerprint || hd_keys_parse_fingerprint (c->broker_fingerprint, out) == HD_OK)
        return HD_OK;
    snprintf (errbuf, errlen,
              "--broker-fingerprint %s is not a fingerprint (32 hex digits, as `heddle keys "
              "fingerprint` prints it)",
              c->broker_fingerprint);
    return HD_EINVAL;
}

//  A broker key that does not have the fingerprint the operator gave is refused before use:
//  before the handshake and before it is pinned.
static hd_err_t
s_check_fingerprint (const hd_worker_config_t *c, const char *key, char *errbuf, size_t errlen)
{
    char want[HD_FINGERPRINT_TEXT], have[HD_FINGERPRINT_TEXT];
    hd_err_t rc = s_parse_fingerprint (c, want, errbuf, errlen);
    if (rc != HD_OK || !want[0])
        return rc;
    if (hd_keys_fingerprint (key, have) == HD_OK && strcmp (have, want) == 0)
        return HD_OK;
    snprintf (errbuf, errlen,
              "the broker key %s has fingerprint %s, not %s (--broker-fingerprint): refusing it",
              key, have, want);
    return HD_ECRYPTO;
}

hd_err_t
hd_worker_keys_load (const hd_worker_config_t *config, zcert_t **cert, char server_key[HD_KEY_TEXT],
                     char *errbuf, size_t errlen)
{
    char bpath[PATH_MAX];
    const char *broker = config->broker_key;
    if (!broker && config->keys_dir)
        broker = hd_keys_path (bpath, sizeof bpath, config->keys_dir, "broker.cert");
    if (!broker) {
        snprintf (errbuf, errlen,
                  "no broker key (--broker-key KEY or --keys DIR holding "
                  "broker.cert), or run with --insecure");
        return HD_ECRYPTO;
    }
    bool own = false;
    hd_err_t rc = s_load_cert (config, cert, &own, errbuf, errlen);
    if (rc == HD_OK)
        rc = hd_keys_load_public (broker, server_key, errbuf, errlen);
    if (rc == HD_OK)
        rc = s_check_fingerprint (config, server_key, errbuf, errlen);
    if (rc == HD_OK && own)
        rc = hd_keys_pin (config->state_dir, server_key, errbuf, errlen);
    if (rc != HD_OK)
        zcert_destroy (cert);
    return rc;
}

//  The key the broker must have: configured (--broker-key, KEYS/broker.cert), else pinned.
static hd_err_t
s_expected_key (const hd_worker_config_t *c, hd_worker_trust_t *t, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    const char *broker = c->broker_key;
    if (!broker && c->keys_dir
        && access (hd_keys_path (path, sizeof path, c->keys_dir, "broker.cert"), F_OK) == 0)
        broker = path;
    if (broker) {
        snprintf (t->source, sizeof t->source, "%s", broker == path ? path : "--broker-key");
        return hd_keys_load_public (broker, t->key, errbuf, errlen);
    }
    if (!s_uses_state_dir (c))
        return HD_OK;
    hd_err_t rc = hd_keys_read_pin (c->state_dir, t->key);
    t->pinned = true;
    snprintf (t->source, sizeof t->source, "%s",
              hd_keys_path (path, sizeof path, c->state_dir, "broker.pin"));
    if (rc == HD_EIO)
        snprintf (errbuf, errlen, "cannot read %s (delete it to trust a broker anew)", path);
    return rc == HD_ENOTFOUND ? HD_OK : rc;
}

hd_err_t
hd_worker_keys_trust (const hd_worker_config_t *config, hd_worker_trust_t *out, char *errbuf,
                      size_t errlen)
{
    memset (out, 0, sizeof *out);
    out->insecure = config->insecure;
    hd_err_t rc = s_parse_fingerprint (config, out->fingerprint, errbuf, errlen);
    if (rc == HD_OK && !config->insecure)
        rc = s_expected_key (config, out, errbuf, errlen);
    return rc;
}

bool
hd_worker_keys_trusts (const hd_worker_trust_t *trust, const char *key, char *why, size_t whylen)
{
    char have[HD_FINGERPRINT_TEXT] = "", want[HD_FINGERPRINT_TEXT] = "";
    if (trust->insecure != !*key) {
        snprintf (why, whylen, "%s", trust->insecure ? "it runs with CURVE and this worker "
                                                       "runs --insecure"
                                                     : "it runs without CURVE (--insecure)");
        return false;
    }
    if (trust->insecure)
        return true;
    hd_keys_fingerprint (key, have);
    if (trust->fingerprint[0] && strcmp (have, trust->fingerprint) != 0) {
        snprintf (why, whylen, "key fingerprint %s differs from --broker-fingerprint %s", have,
                  trust->fingerprint);
        return false;
    }
    if (trust->key[0] && strcmp (key, trust->key) != 0) {
        hd_keys_fingerprint (trust->key, want);
        snprintf (why, whylen, "key fingerprint %s differs from %s %s (%s)", have,
                  trust->pinned ? "pinned" : "configured", want, trust->source);
        return false;
    }
    return true;
}
