/*  raw_client: hd-raw's client. Keeps up to W messages in flight, N in all, one message per task
    (no batching), and records each round trip (send to reply) in an hd_hist, as `heddle bench`
    does. The task's sequence number rides in the first 8 bytes of its 16-byte id.  */
#include "raw.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define S_ZONE_CHUNK 2048

typedef struct {
    const hd_raw_config_t *cfg;
    void *sock;
    uint8_t *payload;
    double *sent_at;  //  by seq
    uint64_t submitted;
    hd_bench_report_t report;
    msgpack_sbuffer out;
    msgpack_packer pk;
    msgpack_zone zone;
} s_client_t;

static void
s_pack_key (msgpack_packer *pk, const char *key)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
}

//  One task: [env {id, fn: "echo"}][payload].
static int
s_send_one (s_client_t *self)
{
    uint8_t id[HD_RAW_ID_BYTES] = { 0 };
    uint64_t seq = self->submitted;
    memcpy (id, &seq, sizeof seq);
    msgpack_sbuffer_clear (&self->out);
    msgpack_pack_map (&self->pk, 2);
    s_pack_key (&self->pk, "id");
    msgpack_pack_bin_with_body (&self->pk, id, sizeof id);
    s_pack_key (&self->pk, "fn");
    msgpack_pack_str_with_body (&self->pk, "echo", 4);
    self->sent_at[seq] = hd_bench_now ();
    if (zmq_send (self->sock, self->out.data, self->out.size, ZMQ_SNDMORE) < 0 ||
        zmq_send (self->sock, self->payload, self->cfg->size, 0) < 0)
        return -1;
    self->submitted++;
    return 0;
}

static bool
s_key_is (const msgpack_object *key, const char *text)
{
    size_t len = strlen (text);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len &&
           memcmp (key->via.str.ptr, text, len) == 0;
}

//  Read seq and node from a reply envelope. Returns 0, or -1 when malformed or not ours.
static int
s_decode_reply (s_client_t *self, zmq_msg_t *env, uint64_t *seq, msgpack_object_str *node)
{
    msgpack_object obj;
    size_t off = 0;
    if (msgpack_unpack (zmq_msg_data (env), zmq_msg_size (env), &off, &self->zone, &obj) !=
            MSGPACK_UNPACK_SUCCESS ||
        obj.type != MSGPACK_OBJECT_MAP)
        return -1;
    int found = -1;
    for (uint32_t i = 0; i < obj.via.map.size; i++) {
        const msgpack_object_kv *kv = &obj.via.map.ptr[i];
        if (s_key_is (&kv->key, "id") && kv->val.type == MSGPACK_OBJECT_BIN &&
            kv->val.via.bin.size == HD_RAW_ID_BYTES) {
            memcpy (seq, kv->val.via.bin.ptr, sizeof *seq);
            found = *seq < self->submitted ? 0 : -1;
        } else if (s_key_is (&kv->key, "node") && kv->val.type == MSGPACK_OBJECT_STR)
            *node = kv->val.via.str;
    }
    return found;
}

//  parts: [reply env][payload]; consumed.
static void
s_account (s_client_t *self, zmq_msg_t *parts, int count, double now)
{
    uint64_t seq = 0;
    msgpack_object_str node = { 0, NULL };
    hd_bench_report_t *r = &self->report;
    if (count == 2 && s_decode_reply (self, &parts[0], &seq, &node) == 0) {
        r->received++;
        hd_hist_record (r->hist, (uint64_t) ((now - self->sent_at[seq]) * 1e6));
        hd_bench_tally (r, node.ptr ? node.ptr : "", node.size);
        if (zmq_msg_size (&parts[1]) != self->cfg->size ||
            memcmp (zmq_msg_data (&parts[1]), self->payload, self->cfg->size) != 0)
            r->failed++;
    } else
        fprintf (stderr, "%s: dropped a malformed reply\n", self->cfg->prog);
    msgpack_zone_clear (&self->zone);
    for (int i = 0; i < count; i++)
        zmq_msg_close (&parts[i]);
}

//  Wait up to wait_ms for a reply, then take every reply already there.
static void
s_receive_some (s_client_t *self, int wait_ms)
{
    zmq_pollitem_t item = { self->sock, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, wait_ms) <= 0)
        return;
    zmq_msg_t parts[2];
    for (;;) {
        zmq_msg_init (&parts[0]);
        if (zmq_msg_recv (&parts[0], self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&parts[0]);
            return;
        }
        int count = hd_raw_recv_rest (self->sock, parts, 2);
        if (count > 0)
            s_account (self, parts, count, hd_bench_now ());
    }
}

static int
s_loop (s_client_t *self)
{
    hd_bench_report_t *r = &self->report;
    double started = hd_bench_now ();
    double deadline = started + self->cfg->limit_s;
    while (r->received < r->tasks) {
        while (self->submitted < r->tasks && self->submitted - r->received < r->window)
            if (s_send_one (self) != 0) {
                fprintf (stderr, "%s: send: %s\n", self->cfg->prog, zmq_strerror (zmq_errno ()));
                return 1;
            }
        s_receive_some (self, 100);
        if (hd_bench_interrupted || hd_bench_now () > deadline) {
            fprintf (stderr, "%s: stopped after %.0f s with %llu of %u tasks done\n",
                     self->cfg->prog, hd_bench_now () - started, (unsigned long long) r->received,
                     r->tasks);
            return 1;
        }
    }
    r->seconds = hd_bench_now () - started;
    return 0;
}

static int
s_run (s_client_t *self)
{
    const hd_raw_config_t *cfg = self->cfg;
    self->payload = malloc (cfg->size ? cfg->size : 1);
    self->sent_at = calloc (cfg->tasks, sizeof (double));
    self->report.hist = hd_hist_new ();
    if (!self->payload || !self->sent_at || !self->report.hist) {
        fprintf (stderr, "%s: out of memory\n", cfg->prog);
        return 1;
    }
    for (uint32_t i = 0; i < cfg->size; i++)
        self->payload[i] = (uint8_t) ('a' + i % 26);
    int code = s_loop (self);
    if (code == 0) {
        hd_bench_report_json (&self->report, stdout);
        code = self->report.failed ? 1 : 0;
    }
    return code;
}

int
hd_raw_client_run (const hd_raw_config_t *cfg)
{
    zsock_t *sock = NULL;
    if (hd_raw_connect (&sock, "client", cfg) != 0)
        return 1;
    s_client_t self = { .cfg = cfg, .sock = zsock_resolve (sock) };
    self.report = (hd_bench_report_t){ .fn = "echo",
                                       .broker = cfg->broker_ep,
                                       .tasks = cfg->tasks,
                                       .size = cfg->size,
                                       .window = cfg->window };
    msgpack_sbuffer_init (&self.out);
    msgpack_packer_init (&self.pk, &self.out, msgpack_sbuffer_write);
    msgpack_zone_init (&self.zone, S_ZONE_CHUNK);
    int code = s_run (&self);
    msgpack_zone_destroy (&self.zone);
    msgpack_sbuffer_destroy (&self.out);
    hd_hist_destroy (&self.report.hist);
    free (self.sent_at);
    free (self.payload);
    zsock_destroy (&sock);
    return code;
}
