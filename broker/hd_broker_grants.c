/*  hd_broker_grants: the broker's part in sealed payloads. It relays payload-key grants from an
    admin to a worker key (ADMIN approve with a grant, ADMIN grant) and hands each worker the
    grants of the key it authenticated with in its WELCOME: the key comes from the connection's
    ZAP User-Id, never from the worker's name. A grant is sealed to that key: the broker only
    stores and forwards bytes it cannot open.  */
#include "hd_broker_int.h"

#include <limits.h>

#include "hd_grants.h"
#include "hd_keys.h"
#include "hd_log.h"
#include "hd_transport.h"

hd_err_t
hd_broker_grants_open (hd_broker_t *self, char *errbuf, size_t errlen)
{
    if (!(self->grants = hd_grants_new ()))
        return HD_ENOMEM;
    if (!self->config.keys_dir)
        return HD_OK;
    hd_keys_path (self->grants_path, sizeof self->grants_path, self->config.keys_dir,
                  "payload.grants");
    return hd_grants_load (self->grants, self->grants_path, errbuf, errlen);
}

//  The worker key of the message being handled ("" on an insecure socket).
static void
s_sender_key (hd_broker_t *self, char key[HD_KEY_TEXT])
{
    char role[16];
    hd_auth_split_user_id (zmq_msg_gets (&self->in.msg[1], "User-Id"), role, key);
}

void
hd_broker_grants_welcome (hd_broker_t *self, hd_node_t *node, hd_welcome_t *w)
{
    hd_nodeout_t *o = node->user;
    if (o)
        s_sender_key (self, o->key);
    w->ngrants = o && o->key[0] && self->grants
                     ? hd_grants_for (self->grants, o->key, w->grants, HD_MAX_GRANTS)
                     : 0;
}

//  Send the node its WELCOME again, with the grants now held for its key.
static void
s_push (hd_broker_t *self, const char *key)
{
    for (hd_node_t *n = hd_registry_first (self->registry); n;
         n = hd_registry_next (self->registry, n)) {
        hd_nodeout_t *o = n->user;
        if (!o || strcmp (o->key, key) != 0)
            continue;
        hd_welcome_t *w = calloc (1, sizeof *w);
        if (!w)
            return;
        *w = (hd_welcome_t) { .heartbeat_ms = self->config.heartbeat_ms,
                              .max_payload = self->config.max_payload,
                              .metrics_port = self->metrics_port, .pack = true };
        w->ngrants = hd_grants_for (self->grants, key, w->grants, HD_MAX_GRANTS);
        if (hd_codec_encode_welcome (&self->env, w) == HD_OK
            && hd_send_frame (self->workers_raw, n->rid, n->rid_len, ZMQ_SNDMORE) == 0
            && hd_send_header (self->workers_raw, HD_CMD_WELCOME, ZMQ_SNDMORE) == 0)
            hd_send_frame (self->workers_raw, self->env.data, self->env.size, 0);
        free (w);
    }
}

hd_err_t
hd_broker_grants_add (hd_broker_t *self, const char *key, const char *grant, char *errbuf,
                      size_t errlen)
{
    hd_err_t rc = hd_grants_add (self->grants, key, grant,
                                 self->grants_path[0] ? self->grants_path : NULL, errbuf, errlen);
    if (rc == HD_OK || rc == HD_EIO)
        s_push (self, key);
    return rc;
}

//  ADMIN grant {node: worker key, grant}: a payload key (after a rotation) for an approved key.
void
hd_broker_admin_grant (hd_broker_t *self, const hd_admin_t *a)
{
    char err[256] = "";
    if (!a->grant[0] || !hd_keys_is_z85 (a->node)) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0,
                          "grant needs the whole worker key (40 Z85 characters) and a grant");
        return;
    }
    hd_err_t rc = hd_broker_grants_add (self, a->node, a->grant, err, sizeof err);
    if (rc != HD_OK && rc != HD_EIO) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "%s", err);
        return;
    }
    hd_info ("payload key granted to worker key %s by an admin", a->node);
    hd_broker_reject (self, NULL, HD_ST_OK, 0, "payload key granted to %s%s%s", a->node,
                      rc == HD_EIO ? "; NOT saved: " : "", rc == HD_EIO ? err : "");
}
