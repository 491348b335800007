/*  hd_hostile: see hd_hostile.h. Uses lib/'s encoders for the envelopes it sends, so what it
    sends is well-formed unless a test builds the frames itself.  */
#include "hd_hostile.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "hd_codec_nodes.h"
#include "hd_keys.h"
#include "hd_transport.h"

struct hd_hostile {
    zsock_t *dealer;
    hd_buf_t env;
};

void
hd_hostile_make_key (hd_testenv_t *env, const char *name)
{
    zcert_t *cert = NULL;
    bool made = false;
    char err[512] = "", path[PATH_MAX];
    if (hd_keys_load_or_make (env->keys, name, false, &cert, &made, err, sizeof err) != HD_OK)
        fail_msg ("hostile key %s: %s", name, err);
    if (hd_keys_append_allowlist (hd_keys_path (path, sizeof path, env->keys, "clients.keys"),
                                  zcert_public_txt (cert), name, err, sizeof err) != HD_OK)
        fail_msg ("allowlisting %s: %s", name, err);
    zcert_destroy (&cert);
}

hd_hostile_t *
hd_hostile_connect (hd_testenv_t *env, const char *cert_name, const char *session, int rcvhwm)
{
    char rid[HD_CLIENT_RID_TEXT];
    hd_transport_client_rid (rid);
    return hd_hostile_connect_rid (env, cert_name, session, rid, rcvhwm);
}

hd_hostile_t *
hd_hostile_connect_rid (hd_testenv_t *env, const char *cert_name, const char *session,
                        const char *rid, int rcvhwm)
{
    char path[PATH_MAX], name[128], err[512] = "", server[HD_KEY_TEXT];
    snprintf (name, sizeof name, "%s.cert_secret", cert_name);
    zcert_t *cert = NULL;
    if (hd_keys_load_secret (hd_keys_path (path, sizeof path, env->keys, name), &cert, err,
                             sizeof err) != HD_OK ||
        hd_keys_load_public (hd_keys_path (path, sizeof path, env->keys, "broker.cert"), server,
                             err, sizeof err) != HD_OK)
        fail_msg ("hostile peer keys: %s", err);
    hd_hostile_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    self->dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (self->dealer);
    zsock_set_linger (self->dealer, 0);
    if (rcvhwm)
        zsock_set_rcvhwm (self->dealer, rcvhwm);
    zcert_apply (cert, zsock_resolve (self->dealer));
    zsock_set_curve_serverkey (self->dealer, server);
    if (rid)
        zmq_setsockopt (zsock_resolve (self->dealer), ZMQ_ROUTING_ID, rid, strlen (rid));
    if (session && hd_transport_claim (self->dealer, session, err, sizeof err) != HD_OK)
        fail_msg ("hostile peer session: %s", err);
    zcert_destroy (&cert);
    if (zsock_connect (self->dealer, "%s", env->clients_ep) != 0)
        fail_msg ("hostile peer cannot connect to %s", env->clients_ep);
    return self;
}

void
hd_hostile_destroy (hd_hostile_t **self_p)
{
    hd_hostile_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->dealer);
    hd_buf_fini (&self->env);
    free (self);
    *self_p = NULL;
}

void
hd_hostile_send (hd_hostile_t *self, uint8_t cmd, const void *const *frames, const size_t *sizes,
                 size_t nframes)
{
    uint8_t header[HD_HEADER_BYTES];
    hd_codec_header (header, cmd);
    void *raw = zsock_resolve (self->dealer);
    int rc = zmq_send (raw, header, sizeof header, nframes ? ZMQ_SNDMORE : 0);
    for (size_t i = 0; rc >= 0 && i < nframes; i++)
        rc = zmq_send (raw, frames[i], sizes[i], i + 1 < nframes ? ZMQ_SNDMORE : 0);
    assert_true (rc >= 0);
}

static void
s_send_env (hd_hostile_t *self, uint8_t cmd)
{
    const void *frames[] = { self->env.data };
    size_t sizes[] = { self->env.size };
    hd_hostile_send (self, cmd, frames, sizes, 1);
}

void
hd_hostile_submit (hd_hostile_t *self, const hd_id_t *id, const char *fn, const char *input)
{
    hd_submit_t s = { .id = *id };
    snprintf (s.fn, sizeof s.fn, "%s", fn);
    assert_int_equal (hd_codec_encode_submit (&self->env, &s), HD_OK);
    const void *frames[] = { self->env.data, input };
    size_t sizes[] = { self->env.size, strlen (input) };
    hd_hostile_send (self, HD_CMD_SUBMIT, frames, sizes, 2);
}

static void
s_ids (hd_hostile_t *self, uint8_t cmd, const hd_id_t *id)
{
    assert_int_equal (hd_codec_encode_ids (&self->env, id, 1), HD_OK);
    s_send_env (self, cmd);
}

void
hd_hostile_cancel (hd_hostile_t *self, const hd_id_t *id)
{
    s_ids (self, HD_CMD_CANCEL, id);
}

void
hd_hostile_ack (hd_hostile_t *self, const hd_id_t *id)
{
    s_ids (self, HD_CMD_ACK, id);
}

void
hd_hostile_ping (hd_hostile_t *self, bool resend)
{
    assert_int_equal (hd_codec_encode_ping (&self->env, resend), HD_OK);
    s_send_env (self, HD_CMD_PING);
}

void
hd_hostile_admin (hd_hostile_t *self, const char *op, const char *node)
{
    hd_admin_t a = { .op = "" };
    snprintf (a.op, sizeof a.op, "%s", op);
    snprintf (a.node, sizeof a.node, "%s", node);
    assert_int_equal (hd_codec_encode_admin (&self->env, &a), HD_OK);
    s_send_env (self, HD_CMD_ADMIN);
}

zmsg_t *
hd_hostile_recv (hd_hostile_t *self, int timeout_ms)
{
    zmq_pollitem_t item = { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return NULL;
    return zmsg_recv (self->dealer);
}

int
hd_hostile_cmd (zmsg_t *msg)
{
    zframe_t *h = zmsg_first (msg);
    uint8_t version = 0, cmd = 0;
    if (!h || hd_codec_parse_header (zframe_data (h), zframe_size (h), &version, &cmd) != HD_OK)
        return -1;
    return cmd;
}

static bool
s_contains (zframe_t *f, const char *needle)
{
    size_t n = strlen (needle), size = zframe_size (f);
    const uint8_t *d = zframe_data (f);
    for (size_t i = 0; n && i + n <= size; i++)
        if (memcmp (d + i, needle, n) == 0)
            return true;
    return false;
}

//  RESULT [header]([env][output])+ (never packed: this peer never packs its SUBMITs).
static bool
s_note_results (zmsg_t *msg, const hd_id_t *id, hd_hostile_seen_t *out)
{
    bool found = false;
    zframe_t *env = zmsg_next (msg);
    while (env) {
        zframe_t *data = zmsg_next (msg);
        hd_result_t r;
        if (hd_codec_decode_result (zframe_data (env), zframe_size (env), &r) == HD_OK &&
            (!id || hd_id_eq (&r.id, id))) {
            out->results++;
            out->status = r.status;
            size_t n = data ? zframe_size (data) : 0;
            n = n < sizeof out->output - 1 ? n : sizeof out->output - 1;
            if (n)
                memcpy (out->output, zframe_data (data), n);
            out->output[n] = 0;
            found = true;
        }
        env = data ? zmsg_next (msg) : NULL;
    }
    return found;
}

static void
s_note_reject (zmsg_t *msg, const hd_id_t *id, hd_hostile_seen_t *out)
{
    zframe_t *env = zmsg_next (msg);
    hd_reject_t r;
    if (env && hd_codec_decode_reject (zframe_data (env), zframe_size (env), &r) == HD_OK &&
        (!r.has_id || !id || hd_id_eq (&r.id, id))) {
        out->rejected++;
        out->busy += r.code == HD_ST_BUSY;
        out->reject_code = r.code;
        snprintf (out->reject_reason, sizeof out->reject_reason, "%s", r.reason);
    }
}

void
hd_hostile_watch (hd_hostile_t *self, int ms, const hd_id_t *id, bool until_result,
                  const char *needle, hd_hostile_seen_t *out)
{
    memset (out, 0, sizeof *out);
    int64_t end = zclock_mono () + ms;
    for (int64_t now = zclock_mono (); now < end; now = zclock_mono ()) {
        zmsg_t *msg = hd_hostile_recv (self, (int) (end - now));
        if (!msg)
            break;
        out->messages++;
        for (zframe_t *f = zmsg_first (msg); needle && f; f = zmsg_next (msg))
            out->saw_bytes |= s_contains (f, needle);
        int cmd = hd_hostile_cmd (msg);
        zmsg_first (msg);
        bool got = false;
        if (cmd == HD_CMD_RESULT)
            got = s_note_results (msg, id, out);
        else if (cmd == HD_CMD_REJECTED)
            got = (s_note_reject (msg, id, out), true);
        else if (cmd == HD_CMD_ACCEPTED) {
            zframe_t *env = zmsg_next (msg);
            hd_idlist_t *ids = malloc (sizeof *ids);
            assert_non_null (ids);
            if (env && hd_codec_decode_ids (zframe_data (env), zframe_size (env), ids) == HD_OK)
                out->accepted += ids->count;
            free (ids);
        }
        zmsg_destroy (&msg);
        if (got && until_result)
            break;
    }
}

hd_id_t
hd_hostile_id (void)
{
    hd_id_t id;
    hd_id_random (&id);
    return id;
}

long
hd_hostile_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        fail_msg ("cannot read %s", path);
    long kb = -1;
    while (fgets (line, sizeof line, f))
        if (sscanf (line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose (f);
    if (kb < 0)
        fail_msg ("no VmRSS in %s", path);
    return kb;
}
