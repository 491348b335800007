/*  hd_worker_keys: the worker's key choice. The state directory is the zero-touch path: a fresh
    board makes its own pair, so no secret is ever copied to it by hand.  */
#include "hd_worker_keys.h"

#include <limits.h>
#include <unistd.h>

#include "hd_log.h"

//  The worker's own certificate. *own tells whether it lives in the state directory.
static hd_err_t
s_load_cert (const hd_worker_config_t *c, zcert_t **cert, bool *own, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    *own = false;
    if (c->cert_path)
        return hd_keys_load_secret (c->cert_path, cert, errbuf, errlen);
    if (c->keys_dir &&
        access (hd_keys_path (path, sizeof path, c->keys_dir, "worker.cert_secret"), F_OK) == 0)
        return hd_keys_load_secret (path, cert, errbuf, errlen);
    if (!c->state_dir || !*c->state_dir) {
        snprintf (errbuf, errlen,
                  "no worker key (--cert FILE, --keys DIR holding "
                  "worker.cert_secret, or --state-dir DIR to make one)");
        return HD_ECRYPTO;
    }
    bool made = false;
    hd_err_t rc = hd_keys_load_or_make (c->state_dir, "worker", cert, &made, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    *own = true;
    const char *key = zcert_public_txt (*cert);
    if (made)
        hd_warn ("made a new key pair in %s; public key %s: an admin enrolls it with "
                 "`heddle nodes approve %.8s`",
                 c->state_dir, key, key);
    else
        hd_info ("worker key %s (from %s)", key, c->state_dir);
    return HD_OK;
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
    if (rc == HD_OK && own)
        rc = hd_keys_pin (config->state_dir, server_key, errbuf, errlen);
    if (rc != HD_OK)
        zcert_destroy (cert);
    return rc;
}
