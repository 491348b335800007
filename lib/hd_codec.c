/*  hd_codec: the 4-byte header frame and the MessagePack envelope of every heddle command
    (hd_codec.h). This file holds the encoders, which use msgpack-c's packer writing straight into
    the caller's hd_buf_t, the header frame, status text and id helpers. The decoders live in
    hd_codec_decode.c and never use msgpack-c. Knows nothing of sockets or payloads.  */
#include "hd_codec.h"
#include "hd_mpw.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

//  --- encoders -------------------------------------------------------------------------------

//  The shared writer (hd_mpw) latches the first failed write: the encoder checks once, at the end.
typedef hd_mpw_t s_enc_t;

static void
s_enc_start (s_enc_t *enc, hd_buf_t *buf, size_t nkeys)
{
    msgpack_pack_map (hd_mpw_start (enc, buf), nkeys);
}

static hd_err_t
s_enc_end (const s_enc_t *enc)
{
    return hd_mpw_end (enc);
}

static void
s_pack_text (s_enc_t *enc, const char *text)
{
    size_t len = strlen (text);
    msgpack_pack_str_with_body (&enc->pk, text, len);
}

static void
s_pack_uint (s_enc_t *enc, const char *key, uint32_t v)
{
    s_pack_text (enc, key);
    msgpack_pack_uint32 (&enc->pk, v);
}

static void
s_pack_str (s_enc_t *enc, const char *key, const char *v)
{
    s_pack_text (enc, key);
    s_pack_text (enc, v);
}

static void
s_pack_id (s_enc_t *enc, const char *key, const hd_id_t *id)
{
    s_pack_text (enc, key);
    msgpack_pack_bin_with_body (&enc->pk, id->b, HD_ID_BYTES);
}

//  `count` C strings, `stride` bytes apart.
static void
s_pack_strs (s_enc_t *enc, const char *key, const char *first, size_t stride, uint32_t count)
{
    s_pack_text (enc, key);
    msgpack_pack_array (&enc->pk, count);
    for (uint32_t i = 0; i < count; i++)
        s_pack_text (enc, first + i * stride);
}

//  Encoders refuse (HD_EINVAL) what the decoders would refuse, so a caller's mistake is reported
//  where it is made instead of as a MALFORMED answer from the peer. Strings must end inside their
//  field: strnlen bounds every read.
static bool
s_fits (const char *s, size_t size)
{
    return strnlen (s, size) < size;
}

static bool
s_strs_fit (const char *first, size_t stride, uint32_t count, bool fn)
{
    for (uint32_t i = 0; i < count; i++) {
        const char *s = first + i * stride;
        if (!s_fits (s, stride) || (fn && !hd_codec_fn_is_valid (s)))
            return false;
    }
    return true;
}

static bool
s_submit_is_valid (const hd_submit_t *msg)
{
    return s_strs_fit (msg->fn, sizeof msg->fn, 1, true) && msg->ntags <= HD_MAX_TAGS &&
           s_strs_fit (msg->tags[0], sizeof msg->tags[0], msg->ntags, false) &&
           s_fits (msg->node, sizeof msg->node);
}

hd_err_t
hd_codec_encode_submit (hd_buf_t *buf, const hd_submit_t *msg)
{
    hd_buf_reset (buf);
    if (!s_submit_is_valid (msg))
        return HD_EINVAL;
    s_enc_t enc;
    s_enc_start (&enc, buf,
                 2 + (msg->priority != 0) + (msg->timeout_ms != 0) + (msg->max_attempts != 0) +
                     (msg->ntags != 0) + (msg->min_mem_mb != 0) + (msg->node[0] != 0) +
                     (msg->seal != 0));
    s_pack_id (&enc, "id", &msg->id);
    s_pack_str (&enc, "fn", msg->fn);
    if (msg->priority != 0) {
        s_pack_text (&enc, "pri");
        msgpack_pack_int32 (&enc.pk, msg->priority);
    }
    if (msg->timeout_ms != 0)
        s_pack_uint (&enc, "timeout", msg->timeout_ms);
    if (msg->max_attempts != 0)
        s_pack_uint (&enc, "attempts", msg->max_attempts);
    if (msg->ntags != 0)
        s_pack_strs (&enc, "tags", msg->tags[0], sizeof msg->tags[0], msg->ntags);
    if (msg->min_mem_mb != 0)
        s_pack_uint (&enc, "mem", msg->min_mem_mb);
    if (msg->node[0] != 0)
        s_pack_str (&enc, "node", msg->node);
    if (msg->seal != 0)
        s_pack_uint (&enc, "seal", msg->seal);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_task (hd_buf_t *buf, const hd_task_t *msg)
{
    hd_buf_reset (buf);
    if (!s_strs_fit (msg->fn, sizeof msg->fn, 1, true))
        return HD_EINVAL;
    s_enc_t enc;
    s_enc_start (&enc, buf, 3 + (msg->timeout_ms != 0) + (msg->seal != 0));
    s_pack_id (&enc, "id", &msg->id);
    s_pack_str (&enc, "fn", msg->fn);
    s_pack_uint (&enc, "attempt", msg->attempt);
    if (msg->timeout_ms != 0)
        s_pack_uint (&enc, "timeout", msg->timeout_ms);
    if (msg->seal != 0)
        s_pack_uint (&enc, "seal", msg->seal);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_result (hd_buf_t *buf, const hd_result_t *msg)
{
    hd_buf_reset (buf);
    if (!s_fits (msg->node, sizeof msg->node) || !s_fits (msg->error, sizeof msg->error))
        return HD_EINVAL;
    s_enc_t enc;
    s_enc_start (&enc, buf,
                 3 + (msg->node[0] != 0) + (msg->error[0] != 0) + (msg->elapsed_ms != 0));
    s_pack_id (&enc, "id", &msg->id);
    s_pack_uint (&enc, "attempt", msg->attempt);
    s_pack_uint (&enc, "status", msg->status);
    if (msg->node[0] != 0)
        s_pack_str (&enc, "node", msg->node);
    if (msg->error[0] != 0)
        s_pack_str (&enc, "error", msg->error);
    if (msg->elapsed_ms != 0)
        s_pack_uint (&enc, "ms", msg->elapsed_ms);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_reject (hd_buf_t *buf, const hd_reject_t *msg)
{
    hd_buf_reset (buf);
    if (!s_fits (msg->reason, sizeof msg->reason))
        return HD_EINVAL;
    s_enc_t enc;
    s_enc_start (&enc, buf, 2 + msg->has_id + (msg->retry_ms != 0));
    if (msg->has_id)
        s_pack_id (&enc, "id", &msg->id);
    s_pack_uint (&enc, "code", msg->code);
    s_pack_str (&enc, "reason", msg->reason);
    if (msg->retry_ms != 0)
        s_pack_uint (&enc, "retry", msg->retry_ms);
    return s_enc_end (&enc);
}

static bool
s_hello_is_valid (const hd_hello_t *msg)
{
    return msg->slots >= 1 && msg->name[0] != 0 && s_fits (msg->name, sizeof msg->name) &&
           s_fits (msg->arch, sizeof msg->arch) && msg->nfns <= HD_MAX_FNS &&
           s_strs_fit (msg->fns[0], sizeof msg->fns[0], msg->nfns, true) &&
           msg->ntags <= HD_MAX_TAGS &&
           s_strs_fit (msg->tags[0], sizeof msg->tags[0], msg->ntags, false) &&
           isfinite (msg->score) && msg->score >= 0;
}

hd_err_t
hd_codec_encode_hello (hd_buf_t *buf, const hd_hello_t *msg)
{
    hd_buf_reset (buf);
    if (!s_hello_is_valid (msg))
        return HD_EINVAL;
    s_enc_t enc;
    s_enc_start (&enc, buf,
                 3 + (msg->queue != 0) + (msg->cores != 0) + (msg->arch[0] != 0) +
                     (msg->ntags != 0) + (msg->score != 0) + msg->pack);
    s_pack_str (&enc, "name", msg->name);
    s_pack_uint (&enc, "slots", msg->slots);
    if (msg->queue != 0)
        s_pack_uint (&enc, "queue", msg->queue);
    if (msg->cores != 0)
        s_pack_uint (&enc, "cores", msg->cores);
    if (msg->arch[0] != 0)
        s_pack_str (&enc, "arch", msg->arch);
    s_pack_strs (&enc, "fns", msg->fns[0], sizeof msg->fns[0], msg->nfns);
    if (msg->ntags != 0)
        s_pack_strs (&enc, "tags", msg->tags[0], sizeof msg->tags[0], msg->ntags);
    if (msg->score != 0) {
        s_pack_text (&enc, "score");
        msgpack_pack_double (&enc.pk, msg->score);
    }
    if (msg->pack) {
        s_pack_text (&enc, "pack");
        msgpack_pack_true (&enc.pk);
    }
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_welcome (hd_buf_t *buf, const hd_welcome_t *msg)
{
    hd_buf_reset (buf);
    s_enc_t enc;
    if (msg->ngrants > HD_MAX_GRANTS || !s_strs_fit (msg->grants[0], sizeof msg->grants[0],
                                                     msg->ngrants, false))
        return HD_EINVAL;
    s_enc_start (&enc, buf,
                 1 + (msg->max_payload != 0) + (msg->metrics_port != 0) + msg->pack +
                     (msg->ngrants != 0));
    s_pack_uint (&enc, "hb", msg->heartbeat_ms);
    if (msg->max_payload != 0)
        s_pack_uint (&enc, "maxpay", msg->max_payload);
    if (msg->metrics_port != 0)
        s_pack_uint (&enc, "mport", msg->metrics_port);
    if (msg->pack) {
        s_pack_text (&enc, "pack");
        msgpack_pack_true (&enc.pk);
    }
    if (msg->ngrants != 0)
        s_pack_strs (&enc, "grants", msg->grants[0], sizeof msg->grants[0], msg->ngrants);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_error (hd_buf_t *buf, const hd_error_t *msg)
{
    hd_buf_reset (buf);
    if (!s_fits (msg->reason, sizeof msg->reason))
        return HD_EINVAL;
    s_enc_t enc;
    s_enc_start (&enc, buf, 2);
    s_pack_uint (&enc, "code", msg->code);
    s_pack_str (&enc, "reason", msg->reason);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_ids (hd_buf_t *buf, const hd_id_t *ids, uint32_t count)
{
    hd_buf_reset (buf);
    if (count > HD_MAX_BATCH || (count > 0 && !ids))
        return HD_EINVAL;
    s_enc_t enc;
    s_enc_start (&enc, buf, 1);
    s_pack_text (&enc, "ids");
    msgpack_pack_array (&enc.pk, count);
    for (uint32_t i = 0; i < count; i++)
        msgpack_pack_bin_with_body (&enc.pk, ids[i].b, HD_ID_BYTES);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_credit (hd_buf_t *buf, uint32_t n)
{
    hd_buf_reset (buf);
    s_enc_t enc;
    s_enc_start (&enc, buf, 1);
    s_pack_uint (&enc, "n", n);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_empty (hd_buf_t *buf)
{
    hd_buf_reset (buf);
    s_enc_t enc;
    s_enc_start (&enc, buf, 0);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_ping (hd_buf_t *buf, bool resend)
{
    if (!resend)
        return hd_codec_encode_empty (buf);
    hd_buf_reset (buf);
    s_enc_t enc;
    s_enc_start (&enc, buf, 1);
    s_pack_text (&enc, "resend");
    msgpack_pack_true (&enc.pk);
    return s_enc_end (&enc);
}

hd_err_t
hd_codec_encode_drain (hd_buf_t *buf, bool on)
{
    hd_buf_reset (buf);
    s_enc_t enc;
    s_enc_start (&enc, buf, 1);
    s_pack_text (&enc, "on");
    if (on)
        msgpack_pack_true (&enc.pk);
    else
        msgpack_pack_false (&enc.pk);
    return s_enc_end (&enc);
}

//  --- header frame, status text, ids ---------------------------------------------------------

void
hd_codec_header (uint8_t out[HD_HEADER_BYTES], hd_cmd_t cmd)
{
    out[0] = HD_PROTO_SIG0;
    out[1] = HD_PROTO_SIG1;
    out[2] = HD_PROTO_VERSION;
    out[3] = (uint8_t) cmd;
}

static bool
s_cmd_is_known (uint8_t cmd)
{
    switch ((hd_cmd_t) cmd) {
    case HD_CMD_SUBMIT:
    case HD_CMD_CANCEL:
    case HD_CMD_ACK:
    case HD_CMD_NODES:
    case HD_CMD_PING:
    case HD_CMD_ADMIN:
    case HD_CMD_FUNCTIONS:
    case HD_CMD_JOB_OPEN:
    case HD_CMD_JOBS:
    case HD_CMD_JOB_FETCH:
    case HD_CMD_JOB_CANCEL:
    case HD_CMD_JOB_RELEASE:
    case HD_CMD_ACCEPTED:
    case HD_CMD_REJECTED:
    case HD_CMD_RESULT:
    case HD_CMD_NODES_REPLY:
    case HD_CMD_PONG:
    case HD_CMD_NOTICE:
    case HD_CMD_FUNCTIONS_REPLY:
    case HD_CMD_JOB_INFO:
    case HD_CMD_JOBS_REPLY:
    case HD_CMD_JOB_DATA:
    case HD_CMD_HELLO:
    case HD_CMD_CREDIT:
    case HD_CMD_DONE:
    case HD_CMD_HEARTBEAT:
    case HD_CMD_BYE:
    case HD_CMD_WELCOME:
    case HD_CMD_TASK:
    case HD_CMD_ABORT:
    case HD_CMD_BEAT:
    case HD_CMD_DRAIN:
    case HD_CMD_ERROR:
        return true;
    }
    return false;
}

//  The version is checked before the command: a newer peer may use commands we do not know,
//  and it deserves a VERSION answer rather than MALFORMED.
hd_err_t
hd_codec_parse_header (const void *data, size_t size, uint8_t *version, uint8_t *cmd)
{
    assert (version && cmd);
    const uint8_t *b = data;
    *version = size >= 3 ? b[2] : 0;
    *cmd = size >= 4 ? b[3] : 0;
    if (size != HD_HEADER_BYTES || b[0] != HD_PROTO_SIG0 || b[1] != HD_PROTO_SIG1)
        return HD_EPROTO;
    if (*version < HD_PROTO_VERSION_MIN || *version > HD_PROTO_VERSION)
        return HD_EVERSION;
    return s_cmd_is_known (*cmd) ? HD_OK : HD_EPROTO;
}

bool
hd_codec_cmd_has_payload (uint8_t cmd)
{
    return cmd == HD_CMD_SUBMIT || cmd == HD_CMD_RESULT || cmd == HD_CMD_DONE || cmd == HD_CMD_TASK;
}

//  Function names travel as map keys in logs and registries and as file-like names in plugins:
//  keep them to a portable alphabet.
bool
hd_codec_fn_is_valid (const char *name)
{
    size_t len = strnlen (name, HD_MAX_FN + 1);
    if (len < 1 || len > HD_MAX_FN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

const char *
hd_status_str (uint32_t status)
{
    //  Indexed by value so a renumbering cannot shift the texts; a gap would be NULL (checked).
    static const char *const text[HD_ST_MAX_ + 1] = {
        [HD_ST_OK] = "ok",
        [HD_ST_FAILED] = "failed",
        [HD_ST_UNKNOWN_FN] = "unknown function",
        [HD_ST_TOO_LARGE] = "too large",
        [HD_ST_BUSY] = "busy",
        [HD_ST_MALFORMED] = "malformed",
        [HD_ST_VERSION] = "unsupported version",
        [HD_ST_TIMEOUT] = "timed out",
        [HD_ST_CANCELLED] = "cancelled",
        [HD_ST_DENIED] = "denied",
        [HD_ST_STORAGE] = "storage failure",
        [HD_ST_LOST] = "lost",
        [HD_ST_INTERNAL] = "internal error",
        [HD_ST_UNSATISFIABLE] = "unsatisfiable",
        [HD_ST_TAMPERED] = "tampered",
        [HD_ST_REFUSED] = "refused",
    };
    if (status > HD_ST_MAX_ || !text[status])
        return "unknown status";
    return text[status];
}

//  Ids are drawn from libsodium 64 at a time into a per-thread buffer: one getrandom syscall
//  per id was 7% of a client's CPU in a big job. A forked child must not hand out its parent's
//  remaining ids again, so fork empties the buffer (pthread_atfork; only the forking thread
//  lives on in the child). sodium_init is idempotent but takes a lock: once per refill.
#define S_IDS_AHEAD 64
static _Thread_local uint8_t s_ids[S_IDS_AHEAD * HD_ID_BYTES];
static _Thread_local uint32_t s_ids_left;
static pthread_once_t s_ids_once = PTHREAD_ONCE_INIT;

static void
s_ids_forget (void)
{
    sodium_memzero (s_ids, sizeof s_ids);
    s_ids_left = 0;
}

static void
s_ids_init (void)
{
    int rc = sodium_init ();
    (void) rc;
    pthread_atfork (NULL, NULL, s_ids_forget);
}

void
hd_id_random (hd_id_t *out)
{
    if (!s_ids_left) {
        pthread_once (&s_ids_once, s_ids_init);
        randombytes_buf (s_ids, sizeof s_ids);
        s_ids_left = S_IDS_AHEAD;
    }
    s_ids_left--;
    memcpy (out->b, s_ids + s_ids_left * HD_ID_BYTES, HD_ID_BYTES);
    sodium_memzero (s_ids + s_ids_left * HD_ID_BYTES, HD_ID_BYTES);
}

void
hd_id_hex (const hd_id_t *id, char out[2 * HD_ID_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < HD_ID_BYTES; i++) {
        out[2 * i] = digits[id->b[i] >> 4];
        out[2 * i + 1] = digits[id->b[i] & 0x0f];
    }
    out[2 * HD_ID_BYTES] = 0;
}
