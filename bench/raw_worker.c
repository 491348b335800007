/*  raw_worker: hd-raw's worker. Says HELLO once, then for each [client id][env][payload] decodes
    the envelope with msgpack-c, encodes a reply envelope and sends the payload back as it came
    (the echo). No slots, no threads, no credits: messages are handled in arrival order.  */
#include "raw.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "bench_util.h"

#define S_ZONE_CHUNK 2048

typedef struct {
    void *sock;
    const char *name;
    msgpack_zone zone;  //  reused for every decode, cleared after each
    msgpack_sbuffer out;
    msgpack_packer pk;
    uint64_t handled, malformed;
} s_worker_t;

static bool
s_key_is (const msgpack_object *key, const char *text)
{
    size_t len = strlen (text);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len &&
           memcmp (key->via.str.ptr, text, len) == 0;
}

//  Find the 16-byte id of a {id: bin 16, fn: str} envelope. Returns a pointer into the zone's
//  object (valid until the zone is cleared), or NULL when the envelope is malformed.
static const char *
s_decode_id (s_worker_t *self, zmq_msg_t *env)
{
    msgpack_object obj;
    size_t off = 0;
    if (msgpack_unpack (zmq_msg_data (env), zmq_msg_size (env), &off, &self->zone, &obj) !=
            MSGPACK_UNPACK_SUCCESS ||
        obj.type != MSGPACK_OBJECT_MAP)
        return NULL;
    const char *id = NULL;
    bool has_fn = false;
    for (uint32_t i = 0; i < obj.via.map.size; i++) {
        const msgpack_object_kv *kv = &obj.via.map.ptr[i];
        if (s_key_is (&kv->key, "id") && kv->val.type == MSGPACK_OBJECT_BIN &&
            kv->val.via.bin.size == HD_RAW_ID_BYTES)
            id = kv->val.via.bin.ptr;
        else if (s_key_is (&kv->key, "fn") && kv->val.type == MSGPACK_OBJECT_STR)
            has_fn = kv->val.via.str.size > 0;
    }
    return has_fn ? id : NULL;
}

static void
s_pack_key (msgpack_packer *pk, const char *key)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
}

//  {id, attempt: 1, status: 0, node}: the same keys as a heddle result envelope.
static void
s_encode_reply (s_worker_t *self, const char *id)
{
    msgpack_sbuffer_clear (&self->out);
    msgpack_pack_map (&self->pk, 4);
    s_pack_key (&self->pk, "id");
    msgpack_pack_bin_with_body (&self->pk, id, HD_RAW_ID_BYTES);
    s_pack_key (&self->pk, "attempt");
    msgpack_pack_uint32 (&self->pk, 1);
    s_pack_key (&self->pk, "status");
    msgpack_pack_uint32 (&self->pk, 0);
    s_pack_key (&self->pk, "node");
    msgpack_pack_str_with_body (&self->pk, self->name, strlen (self->name));
}

//  parts: [client id][env][payload]. Every part is consumed.
static void
s_handle (s_worker_t *self, zmq_msg_t *parts, int count)
{
    const char *id = count == 3 ? s_decode_id (self, &parts[1]) : NULL;
    if (!id) {
        self->malformed++;
        for (int i = 0; i < count; i++)
            zmq_msg_close (&parts[i]);
        msgpack_zone_clear (&self->zone);
        return;
    }
    s_encode_reply (self, id);
    msgpack_zone_clear (&self->zone);
    zmq_msg_close (&parts[1]);
    zmq_msg_init_size (&parts[1], self->out.size);
    memcpy (zmq_msg_data (&parts[1]), self->out.data, self->out.size);
    if (hd_raw_send_parts (self->sock, parts, 0, 3) == 0)
        self->handled++;
}

static void
s_loop (s_worker_t *self, double deadline)
{
    zmq_msg_t parts[4];
    while (!hd_bench_interrupted && hd_bench_now () < deadline) {
        zmq_pollitem_t item = { self->sock, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 200) <= 0)
            continue;  //  timeout, or EINTR: the loop condition decides
        for (int n = 0; n < 256; n++) {
            zmq_msg_init (&parts[0]);
            if (zmq_msg_recv (&parts[0], self->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&parts[0]);
                break;
            }
            int count = hd_raw_recv_rest (self->sock, parts, 4);
            if (count > 0)
                s_handle (self, parts, count);
        }
    }
}

int
hd_raw_worker_run (const hd_raw_config_t *cfg)
{
    zsock_t *sock = NULL;
    if (hd_raw_connect (&sock, "worker", cfg) != 0)
        return 1;
    s_worker_t self = { .sock = zsock_resolve (sock), .name = cfg->name };
    msgpack_zone_init (&self.zone, S_ZONE_CHUNK);
    msgpack_sbuffer_init (&self.out);
    msgpack_packer_init (&self.pk, &self.out, msgpack_sbuffer_write);
    int code = 1;
    if (zmq_send (self.sock, HD_RAW_HELLO, strlen (HD_RAW_HELLO), 0) >= 0) {
        s_loop (&self, hd_bench_now () + cfg->limit_s);
        code = 0;
    }
    fprintf (stderr, "%s: %s handled %llu, malformed %llu\n", cfg->prog, cfg->name,
             (unsigned long long) self.handled, (unsigned long long) self.malformed);
    msgpack_sbuffer_destroy (&self.out);
    msgpack_zone_destroy (&self.zone);
    zsock_destroy (&sock);
    return code;
}
