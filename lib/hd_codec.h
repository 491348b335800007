/*  hd_codec: encode and decode every heddle message: the 4-byte header frame and the MessagePack
    envelope frame of each command (docs/PROTOCOL.md is the normative text). Payload frames are
    opaque and never pass through here.
    Decoders are strict and allocate nothing: they walk the bytes with bounds checks, refuse any
    declared length or count that cannot fit in the bytes received, nesting deeper than
    HD_MAX_DEPTH, wrong types, missing required keys, over-long strings. Unknown map keys are
    skipped (forward compatibility). Encoders write into a caller's reusable hd_buf_t (reset first).
    Knows nothing of sockets.  */
#ifndef HD_CODEC_H
#define HD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_buf.h"
#include "hd_err.h"
#include "hd_proto.h"

typedef struct {
    uint8_t b[HD_ID_BYTES];
} hd_id_t;

//  A list of task ids (ACCEPTED, CANCEL, ACK, ABORT).
typedef struct {
    uint32_t count;
    hd_id_t ids[HD_MAX_BATCH];
} hd_idlist_t;

//  SUBMIT envelope, one per task. Keys: id (bin 16, required), fn (str, required), pri (int),
//  timeout (uint ms), attempts (uint), tags (array of str), mem (uint MB), node (str),
//  seal (uint: the payload is sealed end to end in hd_seal format version N; absent: plain).
typedef struct {
    hd_id_t id;
    char fn[HD_MAX_FN + 1];
    int32_t priority;          //  higher first; default 0; clamped to [-1000, 1000] by decode
    uint32_t timeout_ms;       //  0: none
    uint32_t max_attempts;     //  0: broker default
    uint32_t min_mem_mb;       //  0: no requirement
    uint32_t ntags;
    char tags[HD_MAX_TAGS][HD_MAX_NAME + 1];  //  every tag must be on the worker
    char node[HD_MAX_NAME + 1];               //  "" any node; else only that node
    uint32_t seal;                            //  0 plain; else hd_seal format version
} hd_submit_t;

//  TASK envelope (broker -> worker). Keys: id, fn, attempt (uint, required), timeout (uint ms),
//  seal (uint, as in SUBMIT: the broker passes it on).
typedef struct {
    hd_id_t id;
    char fn[HD_MAX_FN + 1];
    uint32_t attempt;     //  1 for the first dispatch
    uint32_t timeout_ms;  //  0: none; else the worker stops the task after this long
    uint32_t seal;        //  0 plain; else the payload is sealed (hd_seal format version)
} hd_task_t;

//  RESULT / DONE envelope. Keys: id, attempt, status (uint), node (str), error (str), ms (uint).
//  The broker forwards a worker's DONE envelope to the client unchanged as RESULT.
typedef struct {
    hd_id_t id;
    uint32_t attempt;
    uint32_t status;                //  hd_status_t
    uint32_t elapsed_ms;            //  run time on the worker (0 when the broker produced it)
    char node[HD_MAX_NAME + 1];     //  node that ran it; "" when the broker produced it
    char error[HD_MAX_ERROR + 1];   //  "" unless status != OK
} hd_result_t;

//  REJECTED envelope. Keys: id (bin 16, optional), code (uint), reason (str), retry (uint ms).
typedef struct {
    bool has_id;
    hd_id_t id;
    uint32_t code;                  //  hd_status_t
    uint32_t retry_ms;              //  0: do not retry; else a hint for BUSY
    char reason[HD_MAX_ERROR + 1];
} hd_reject_t;

//  HELLO envelope (worker -> broker). Keys: name, slots, queue, cores, arch, fns, tags, score
//  (float), pack (bool: it reads packed TASK messages).
typedef struct {
    char name[HD_MAX_NAME + 1];
    uint32_t slots;    //  >= 1
    uint32_t queue;    //  tasks it accepts at once, running + waiting; 0: not said (5 x slots)
    uint32_t cores;
    char arch[HD_MAX_NAME + 1];
    uint32_t nfns;
    char fns[HD_MAX_FNS][HD_MAX_FN + 1];
    uint32_t ntags;
    char tags[HD_MAX_TAGS][HD_MAX_NAME + 1];
    double score;      //  benchmark / capacity score; 0 when not measured
    bool pack;         //  it reads packed TASK messages (hd_pack)
} hd_hello_t;

//  WELCOME envelope. Keys: hb (uint ms, heartbeat interval), maxpay (uint bytes), mport (uint:
//  TCP port of the broker's metrics SUB endpoint on the same host; absent or 0: none).
//  pack (bool): the broker reads packed DONE messages. grants (array of str): payload keys
//  sealed to this worker's key by an admin (hd_seal_grant, Z85), which only the worker opens.
//  A WELCOME may come again on a live connection: it then brings new grants.
typedef struct {
    uint32_t heartbeat_ms;
    uint32_t max_payload;
    uint32_t metrics_port;
    bool pack;
    uint32_t ngrants;
    char grants[HD_MAX_GRANTS][HD_GRANT_TEXT];
} hd_welcome_t;

//  ERROR envelope. Keys: code (uint), reason (str).
typedef struct {
    uint32_t code;
    char reason[HD_MAX_ERROR + 1];
} hd_error_t;

//  --- header frame ---------------------------------------------------------------------------
//  Write the 4-byte header for `cmd` at the current protocol version.
void hd_codec_header (uint8_t out[HD_HEADER_BYTES], hd_cmd_t cmd);
//  Parse a header frame. HD_OK: *version and *cmd set, cmd is a known command.
//  HD_EPROTO: wrong size or signature, or unknown command (*version set when the size allowed).
//  HD_EVERSION: signature fine but version outside [HD_PROTO_VERSION_MIN, HD_PROTO_VERSION];
//  *version and *cmd are set so the caller can answer.
hd_err_t hd_codec_parse_header (const void *data, size_t size, uint8_t *version, uint8_t *cmd);
//  Whether `cmd` carries ([env][payload])+ rather than a single [env].
bool hd_codec_cmd_has_payload (uint8_t cmd);

//  --- envelopes: each decode returns HD_OK or HD_EPROTO (and HD_ETOOBIG for an over-long
//  string or list, or an envelope over HD_MAX_ENVELOPE: the caller may answer TOO_LARGE).
//  `out` is zeroed first and fully written on HD_OK only; on an error it may hold part of the
//  message and must not be used. Encoders omit optional keys holding their default (0, "", none).
//  Each encode resets `buf` and writes one envelope: HD_OK, HD_ENOMEM, or HD_EINVAL when `msg`
//  breaks a limit the decoder would refuse (bad fn name, unterminated string, count over its
//  maximum, hello without name or slots); `buf` is then left empty.
hd_err_t hd_codec_encode_submit (hd_buf_t *buf, const hd_submit_t *msg);
hd_err_t hd_codec_decode_submit (const void *data, size_t size, hd_submit_t *out);
hd_err_t hd_codec_encode_task (hd_buf_t *buf, const hd_task_t *msg);
hd_err_t hd_codec_decode_task (const void *data, size_t size, hd_task_t *out);
hd_err_t hd_codec_encode_result (hd_buf_t *buf, const hd_result_t *msg);
hd_err_t hd_codec_decode_result (const void *data, size_t size, hd_result_t *out);
hd_err_t hd_codec_encode_reject (hd_buf_t *buf, const hd_reject_t *msg);
hd_err_t hd_codec_decode_reject (const void *data, size_t size, hd_reject_t *out);
hd_err_t hd_codec_encode_hello (hd_buf_t *buf, const hd_hello_t *msg);
hd_err_t hd_codec_decode_hello (const void *data, size_t size, hd_hello_t *out);
hd_err_t hd_codec_encode_welcome (hd_buf_t *buf, const hd_welcome_t *msg);
hd_err_t hd_codec_decode_welcome (const void *data, size_t size, hd_welcome_t *out);
hd_err_t hd_codec_encode_error (hd_buf_t *buf, const hd_error_t *msg);
hd_err_t hd_codec_decode_error (const void *data, size_t size, hd_error_t *out);
//  {ids: [bin16, ...]} for ACCEPTED, CANCEL, ACK, ABORT. count <= HD_MAX_BATCH.
//  Decoding sets count and ids[0..count) only; the ids beyond count are left as they were.
hd_err_t hd_codec_encode_ids (hd_buf_t *buf, const hd_id_t *ids, uint32_t count);
hd_err_t hd_codec_decode_ids (const void *data, size_t size, hd_idlist_t *out);
//  {n: uint} for CREDIT.
hd_err_t hd_codec_encode_credit (hd_buf_t *buf, uint32_t n);
hd_err_t hd_codec_decode_credit (const void *data, size_t size, uint32_t *out);
//  {} for PING, PONG, HEARTBEAT, BEAT, BYE, NODES: decode accepts any map with str keys
//  (the keys and their values are ignored).
hd_err_t hd_codec_encode_empty (hd_buf_t *buf);
hd_err_t hd_codec_decode_empty (const void *data, size_t size);
//  PING {resend: bool (optional, default false)}: a client's heartbeat sets resend to ask the
//  broker for the results it has not acknowledged; the PING of a new connection does not (its
//  owner may still have to adopt the ids it expects).
hd_err_t hd_codec_encode_ping (hd_buf_t *buf, bool resend);
hd_err_t hd_codec_decode_ping (const void *data, size_t size, bool *resend);
//  {on: bool} for DRAIN.
hd_err_t hd_codec_encode_drain (hd_buf_t *buf, bool on);
hd_err_t hd_codec_decode_drain (const void *data, size_t size, bool *out);

//  Validate that `data` is exactly one well-formed MessagePack value within HD_MAX_DEPTH nesting,
//  every declared length fitting in the bytes present. HD_OK or HD_EPROTO. Used by every decoder
//  before it reads a field, and exposed for the fuzz targets.
hd_err_t hd_codec_validate (const void *data, size_t size);
//  An envelope's top-level "id" (bin 16) when it can be read, even if the envelope is otherwise
//  malformed (so a refusal can name the task): HD_OK with *out, else HD_ENOTFOUND (not a map,
//  no readable id before the first malformed entry, an id that is not bin 16, or two ids).
hd_err_t hd_codec_peek_id (const void *data, size_t size, hd_id_t *out);

//  Id helpers: fresh random id (libsodium), hex text (33 bytes with NUL), equality.
void hd_id_random (hd_id_t *out);
void hd_id_hex (const hd_id_t *id, char out[2 * HD_ID_BYTES + 1]);
static inline bool
hd_id_eq (const hd_id_t *a, const hd_id_t *b)
{
    for (int i = 0; i < HD_ID_BYTES; i++)
        if (a->b[i] != b->b[i])
            return false;
    return true;
}

//  Whether `name` is a valid function name: 1..HD_MAX_FN bytes of [A-Za-z0-9_.-], NUL-terminated.
bool hd_codec_fn_is_valid (const char *name);

#endif
