/*  hd_proto: wire constants of the heddle protocol, version 1 (docs/PROTOCOL.md is normative).
    A message is ZeroMQ frames: [header][envelope] or, for task-carrying commands,
    [header]([envelope][payload]){1..HD_MAX_BATCH}. The header is 4 bytes: 'H' 'D' version command.
    Status codes are the wire's: never renumber one, only add.  */
#ifndef HD_PROTO_H
#define HD_PROTO_H

#include <stdint.h>

#define HD_PROTO_SIG0 0x48  //  'H'
#define HD_PROTO_SIG1 0x44  //  'D'
#define HD_PROTO_VERSION 1
#define HD_PROTO_VERSION_MIN 1
#define HD_HEADER_BYTES 4

#define HD_ID_BYTES 16
#define HD_MAX_FN 63             //  function name, bytes
#define HD_MAX_NAME 63           //  node name, arch, tag, bytes
#define HD_MAX_TAGS 8            //  tags on a task or a worker
#define HD_MAX_FNS 128           //  functions a worker may announce
#define HD_MAX_GRANTS 4          //  payload-key grants per worker key (sealed payloads)
#define HD_GRANT_TEXT 101        //  one grant: 80 bytes as Z85, + NUL
#define HD_MAX_ERROR 1023        //  error / reason text, bytes
#define HD_MAX_BATCH 1024        //  tasks in one SUBMIT/TASK/RESULT message, ids in one list
#define HD_MAX_ENVELOPE 65536    //  an envelope frame larger than this is malformed
#define HD_MAX_DEPTH 4           //  MessagePack nesting the protocol needs at most
#define HD_DEFAULT_MAX_PAYLOAD (1024u * 1024u)  //  broker's default payload limit, bytes

typedef enum {
    //  client -> broker ("clients" socket)
    HD_CMD_SUBMIT = 0x01,    //  ([env][payload])+  tasks
    HD_CMD_CANCEL = 0x02,    //  {ids}
    HD_CMD_ACK = 0x03,       //  {ids}: results received, broker may forget them
    HD_CMD_NODES = 0x04,     //  {} admin: list nodes
    HD_CMD_PING = 0x05,      //  {} liveness
    HD_CMD_ADMIN = 0x06,     //  {op, node}: drain/resume (admin key)
    HD_CMD_FUNCTIONS = 0x07, //  {}: list functions (hd_codec_nodes.h)
    HD_CMD_JOB_OPEN = 0x08,  //  {job, name, total, ttl}: open a detached job (hd_codec_jobs.h)
    HD_CMD_JOBS = 0x09,      //  {job?}: the caller key's jobs (all when job is "" or absent)
    HD_CMD_JOB_FETCH = 0x0A, //  {job, off, max, wait}: stored results from byte offset `off`
    HD_CMD_JOB_CANCEL = 0x0B,//  {job}: cancel what still runs; the job stays until released
    HD_CMD_JOB_RELEASE = 0x0C,// {job}: cancel and forget the job and its stored results
    //  broker -> client
    HD_CMD_ACCEPTED = 0x11,  //  {ids}
    HD_CMD_REJECTED = 0x12,  //  {id?, code, reason, retry?}
    HD_CMD_RESULT = 0x13,    //  ([env][payload])+  results
    HD_CMD_NODES_REPLY = 0x14,
    HD_CMD_PONG = 0x15,      //  {maxpay?}
    HD_CMD_NOTICE = 0x16,    //  {fn, nodes, wait, reason}: tasks wait for a worker (hd_codec_nodes.h)
    HD_CMD_FUNCTIONS_REPLY = 0x17,
    HD_CMD_JOB_INFO = 0x18,  //  jobinfo: answers JOB_OPEN, JOB_CANCEL, JOB_RELEASE
    HD_CMD_JOBS_REPLY = 0x19,//  {jobs: [jobinfo, ...]}
    HD_CMD_JOB_DATA = 0x1A,  //  [env jobdata][pairs]: answers JOB_FETCH
    //  worker -> broker ("workers" socket)
    HD_CMD_HELLO = 0x21,     //  {name, slots, cores, arch, fns, tags, score?}
    HD_CMD_CREDIT = 0x22,    //  {n}: n more free slots
    HD_CMD_DONE = 0x23,      //  ([env][payload])+  results, same envelope as RESULT
    HD_CMD_HEARTBEAT = 0x24, //  {}
    HD_CMD_BYE = 0x25,       //  {}
    //  broker -> worker
    HD_CMD_WELCOME = 0x31,   //  {hb, maxpay}
    HD_CMD_TASK = 0x32,      //  ([env][payload])+  tasks
    HD_CMD_ABORT = 0x33,     //  {ids}: stop these tasks
    HD_CMD_BEAT = 0x34,      //  {} broker heartbeat
    HD_CMD_DRAIN = 0x35,     //  {on}
    HD_CMD_ERROR = 0x3F,     //  {code, reason}: sent to a worker or client whose message was refused
} hd_cmd_t;

//  Status of a task result, and code of a rejection. Stable wire values.
typedef enum {
    HD_ST_OK = 0,
    HD_ST_FAILED = 1,        //  the function reported an error
    HD_ST_UNKNOWN_FN = 2,    //  no worker offers this function
    HD_ST_TOO_LARGE = 3,     //  payload over the broker's limit
    HD_ST_BUSY = 4,          //  queue or in-flight limit full; retry after `retry` ms
    HD_ST_MALFORMED = 5,     //  the message could not be decoded
    HD_ST_VERSION = 6,       //  unsupported protocol version
    HD_ST_TIMEOUT = 7,       //  the task's deadline passed
    HD_ST_CANCELLED = 8,     //  cancelled by the client
    HD_ST_DENIED = 9,        //  not allowed (role, exec disabled, admin right)
    HD_ST_STORAGE = 10,      //  the broker could not make the task durable
    HD_ST_LOST = 11,         //  attempts exhausted: workers died running it
    HD_ST_INTERNAL = 12,     //  a bug or resource failure on the peer
    HD_ST_UNSATISFIABLE = 13,//  no worker meets the task's requirements
    HD_ST_TAMPERED = 14,     //  a sealed payload or result failed verification (hd_seal)
    HD_ST_REFUSED = 15,      //  the broker refused a worker's HELLO for good (its name belongs to
                             //  another key, a value over a bound, its key revoked, or a newer
                             //  connection with its key): the worker logs it and stops
    HD_ST_MAX_ = 15
} hd_status_t;

//  Static text for a status ("ok", "failed", "unknown function", ...), never NULL.
const char *hd_status_str (uint32_t status);

#endif
