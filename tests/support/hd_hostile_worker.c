/*  hd_hostile_worker: a raw worker peer that obeys no rule (see the header).  */
#include "hd_hostile_worker.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "hd_buf.h"
#include "hd_frames.h"
#include "hd_keys.h"
#include "hd_transport.h"

struct hd_hostile_worker {
    zsock_t *sock;
    void *raw;
    hd_buf_t env;
    hd_frames_t in;
};

zcert_t *
hd_hostile_cert (void)
{
    zcert_t *cert = zcert_new ();
    if (!cert)
        fail_msg ("zcert_new failed");
    return cert;
}

void
hd_hostile_enroll (hd_testenv_t *env, zcert_t *cert)
{
    char path[400], err[512] = "";
    snprintf (path, sizeof path, "%s/workers.keys", env->keys);
    if (hd_keys_append_allowlist (path, zcert_public_txt (cert), "hostile test key", err,
                                  sizeof err) != HD_OK)
        fail_msg ("enroll: %s", err);
}

void
hd_hostile_save (hd_testenv_t *env, zcert_t *cert, const char *name, char *out, size_t len)
{
    char path[400];
    snprintf (path, sizeof path, "%s/%s.cert", env->dir, name);
    if (zcert_save (cert, path) != 0)
        fail_msg ("cannot save %s", path);
    snprintf (out, len, "%s_secret", path);
}

static void
s_server_key (hd_testenv_t *env, char out[HD_KEY_TEXT])
{
    char path[400], err[512] = "";
    snprintf (path, sizeof path, "%s/broker.cert", env->keys);
    if (hd_keys_load_public (path, out, err, sizeof err) != HD_OK)
        fail_msg ("broker key: %s", err);
}

hd_hostile_worker_t *
hd_hostile_worker_new (hd_testenv_t *env, zcert_t *cert, const char *rid)
{
    hd_hostile_worker_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    hd_sockopts_t o = { .cert = cert, .routing_id = rid };
    s_server_key (env, o.server_key);
    char err[512] = "";
    if (hd_transport_connect (&self->sock, ZMQ_DEALER, env->workers_ep, &o, err, sizeof err)
        != HD_OK)
        fail_msg ("hostile worker connect: %s", err);
    self->raw = zsock_resolve (self->sock);
    hd_buf_init (&self->env);
    assert_int_equal (hd_frames_init (&self->in, 2 + 2 * HD_MAX_BATCH), HD_OK);
    return self;
}

void
hd_hostile_worker_destroy (hd_hostile_worker_t **self_p)
{
    hd_hostile_worker_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->sock);
    hd_buf_fini (&self->env);
    hd_frames_fini (&self->in);
    free (self);
    *self_p = NULL;
}

int
hd_hostile_worker_send (hd_hostile_worker_t *self, uint8_t cmd, const void *env, size_t size)
{
    if (hd_send_header (self->raw, cmd, ZMQ_SNDMORE) != 0)
        return -1;
    return hd_send_frame (self->raw, env, size, 0);
}

int
hd_hostile_worker_hello_msg (hd_hostile_worker_t *self, const hd_hello_t *hello)
{
    if (hd_codec_encode_hello (&self->env, hello) != HD_OK)
        return -1;
    return hd_hostile_worker_send (self, HD_CMD_HELLO, self->env.data, self->env.size);
}

int
hd_hostile_worker_hello (hd_hostile_worker_t *self, const char *name, const char *fn,
                         uint32_t slots, uint32_t queue)
{
    hd_hello_t *h = calloc (1, sizeof *h);
    assert_non_null (h);
    snprintf (h->name, sizeof h->name, "%s", name);
    snprintf (h->arch, sizeof h->arch, "hostile");
    h->slots = slots;
    h->queue = queue;
    h->cores = 1;
    if (fn) {
        h->nfns = 1;
        snprintf (h->fns[0], sizeof h->fns[0], "%s", fn);
    }
    int rc = hd_hostile_worker_hello_msg (self, h);
    free (h);
    return rc;
}

int
hd_hostile_worker_done (hd_hostile_worker_t *self, const hd_result_t *r, const void *data,
                        size_t size)
{
    if (hd_codec_encode_result (&self->env, r) != HD_OK
        || hd_send_header (self->raw, HD_CMD_DONE, ZMQ_SNDMORE) != 0
        || hd_send_frame (self->raw, self->env.data, self->env.size, ZMQ_SNDMORE) != 0)
        return -1;
    return hd_send_frame (self->raw, data, size, 0);
}

int
hd_hostile_worker_recv (hd_hostile_worker_t *self, int timeout_ms, hd_task_t *task,
                        hd_error_t *error)
{
    zmq_pollitem_t item = { self->raw, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0 || hd_frames_recv (&self->in, self->raw, 0) != HD_OK)
        return -1;
    uint8_t version, cmd;
    int result = -1;
    if (self->in.count >= 2
        && hd_codec_parse_header (hd_frames_data (&self->in, 0), hd_frames_size (&self->in, 0),
                                  &version, &cmd) == HD_OK) {
        result = cmd;
        if (cmd == HD_CMD_TASK && task)
            hd_codec_decode_task (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1),
                                  task);
        if (cmd == HD_CMD_ERROR && error)
            hd_codec_decode_error (hd_frames_data (&self->in, 1), hd_frames_size (&self->in, 1),
                                   error);
    }
    hd_frames_clear (&self->in);
    return result;
}

bool
hd_hostile_worker_expect (hd_hostile_worker_t *self, uint8_t cmd, int timeout_ms,
                          hd_task_t *task, hd_error_t *error)
{
    int64_t end = zclock_mono () + timeout_ms;
    for (int64_t left = timeout_ms; left > 0; left = end - zclock_mono ()) {
        int got = hd_hostile_worker_recv (self, (int) left, task, error);
        if (got == cmd)
            return true;
    }
    return false;
}

zsock_t *
hd_hostile_metrics_new (hd_testenv_t *env, zcert_t *cert)
{
    hd_sockopts_t o = { .cert = cert };
    s_server_key (env, o.server_key);
    zsock_t *pub = NULL;
    char err[512] = "";
    if (hd_transport_connect (&pub, ZMQ_PUB, env->metrics_ep, &o, err, sizeof err) != HD_OK)
        fail_msg ("hostile metrics connect: %s", err);
    return pub;
}

int
hd_hostile_metrics_send (zsock_t *pub, const hd_metrics_t *m)
{
    hd_buf_t buf;
    hd_buf_init (&buf);
    uint8_t header[HD_HEADER_BYTES];
    hd_codec_metrics_header (header);
    int rc = hd_codec_encode_metrics (&buf, m) == HD_OK
                     && zmq_send (zsock_resolve (pub), header, sizeof header, ZMQ_SNDMORE) >= 0
                     && zmq_send (zsock_resolve (pub), buf.data, buf.size, 0) >= 0
                 ? 0
                 : -1;
    hd_buf_fini (&buf);
    return rc;
}

bool
hd_hostile_alive (pid_t pid)
{
    return waitpid (pid, NULL, WNOHANG) == 0 && kill (pid, 0) == 0;
}
