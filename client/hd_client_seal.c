/*  hd_client_seal: libheddle's side of sealed payloads (hd_seal). With the cluster's payload
    public key at hand, every task input leaves this process sealed under a job key that only
    workers holding the payload secret can open, and every result is verified before it is
    delivered. The job key is derived from this client's secret key and its session, so a
    resumed session (same key, same session name) opens the results of the tasks it adopts;
    a detached job's results are sealed under the key of its session (the job id), which a
    reader on a session of its own takes too (hd_client_seal_setup_as).  */
#include "hd_client_int.h"

#include <limits.h>

#include "hd_log.h"
#include "hd_transport.h"

hd_err_t
hd_client_seal_setup (hd_client_t *self)
{
    return hd_client_seal_setup_as (self, self->session);
}

hd_err_t
hd_client_seal_setup_as (hd_client_t *self, const char *session)
{
    hd_seal_sender_destroy (&self->seal);
    const hd_client_config_t *c = &self->config;
    if (c->plain_payloads || !hd_transport_is_tcp (self->endpoint) || (!c->keys_dir && !c->payload_key))
        return HD_OK;
    char path[PATH_MAX], err[512] = "";
    uint8_t pub[32];
    hd_err_t rc;
    if (c->payload_key) {
        char text[HD_KEY_TEXT];
        rc = hd_keys_load_public (c->payload_key, text, err, sizeof err);
        if (rc == HD_OK && !zmq_z85_decode (pub, text))
            rc = HD_ECRYPTO;
    }
    else
        rc = hd_keys_load_payload_public (c->keys_dir, pub, err, sizeof err);
    if (rc == HD_ENOTFOUND) {
        hd_warn ("%s: no payload key, task payloads are not sealed (`heddle keys rotate-payload "
                 "%s` makes one; --plain-payloads silences this)",
                 hd_keys_path (path, sizeof path, c->keys_dir, "payload.cert"), c->keys_dir);
        return HD_OK;
    }
    if (rc != HD_OK)
        return hd_client_fail (self, rc, "payload key: %s", err);
    uint8_t job[32];
    hd_seal_job_key (self->cert ? zcert_secret_key (self->cert) : NULL, session,
                     strlen (session), job);
    rc = hd_seal_sender_new (&self->seal, pub, job);
    hd_seal_wipe (job, sizeof job);
    return rc == HD_OK ? HD_OK : hd_client_fail (self, rc, "cannot seal payloads: %s",
                                                 hd_strerror (rc));
}

hd_err_t
hd_client_seal_task (hd_client_t *self, hd_submit_t *s, const void *data, size_t size,
                     const void **out, size_t *out_size)
{
    if (s->ntags == HD_MAX_TAGS)
        return hd_client_fail (self, HD_EINVAL, "a sealed task takes at most %d tags (one more "
                               "names the payload key)", HD_MAX_TAGS - 1);
    hd_client_copy_text (s->tags[s->ntags++], sizeof s->tags[0],
                         hd_seal_sender_tag (self->seal));
    s->seal = HD_SEAL_VERSION;
    hd_buf_reset (&self->sealed);
    if (hd_buf_reserve (&self->sealed, size + HD_SEAL_TASK_OVERHEAD) != HD_OK)
        return hd_client_fail (self, HD_ENOMEM, "out of memory");
    hd_seal_task (self->seal, s->id.b, s->fn, data, size, self->sealed.data);
    self->sealed.size = size + HD_SEAL_TASK_OVERHEAD;
    *out = self->sealed.data;
    *out_size = self->sealed.size;
    return HD_OK;
}
