/*  hd_hostile: a hostile but authenticated client for tests/security/: a raw DEALER on the
    broker's clients endpoint with a chosen certificate (one of the env's keys, or a fresh key
    allowlisted for the test) and a chosen routing id, that sends any frames it is told to and
    receives with a timeout. It follows no protocol rule of its own (no ACK unless told, no
    reading unless told): the tests decide. Failures fail the test (cmocka).  */
#ifndef HD_HOSTILE_H
#define HD_HOSTILE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_codec.h"
#include "hd_testenv.h"

typedef struct hd_hostile hd_hostile_t;

//  Make a fresh client key, save it as env->keys/NAME.cert(_secret) and add it to
//  clients.keys (role "client"). Call before the broker starts: it reads allowlists at start.
void hd_hostile_make_key (hd_testenv_t *env, const char *name);
//  Connect with the certificate env->keys/CERT.cert_secret ("client", "admin", or a name given
//  to hd_hostile_make_key), claiming session `session` (the X-Session connection property;
//  NULL: none) on a fresh random routing id, as the client library does. `rcvhwm` 0: default.
hd_hostile_t *hd_hostile_connect (hd_testenv_t *env, const char *cert, const char *session,
                                  int rcvhwm);
//  The same with routing id `rid` (NULL: libzmq picks one), for instance another connection's
//  to take it over (ROUTER handover).
hd_hostile_t *hd_hostile_connect_rid (hd_testenv_t *env, const char *cert, const char *session,
                                      const char *rid, int rcvhwm);
void hd_hostile_destroy (hd_hostile_t **self_p);
//  Send [header cmd] and then `nframes` frames.
void hd_hostile_send (hd_hostile_t *self, uint8_t cmd, const void *const *frames,
                      const size_t *sizes, size_t nframes);
//  SUBMIT one task ([env][input]); CANCEL / ACK one id; PING; ADMIN op on a node.
void hd_hostile_submit (hd_hostile_t *self, const hd_id_t *id, const char *fn, const char *input);
void hd_hostile_cancel (hd_hostile_t *self, const hd_id_t *id);
void hd_hostile_ack (hd_hostile_t *self, const hd_id_t *id);
void hd_hostile_ping (hd_hostile_t *self, bool resend);
void hd_hostile_admin (hd_hostile_t *self, const char *op, const char *node);
//  One message, or NULL after timeout_ms. Its first frame is the header (hd_hostile_cmd).
//  Caller destroys.
zmsg_t *hd_hostile_recv (hd_hostile_t *self, int timeout_ms);
int hd_hostile_cmd (zmsg_t *msg);

//  What a peer saw while reading for a while: results by id and the REJECTED codes.
typedef struct {
    uint32_t results;      //  RESULT entries of the id looked for
    uint32_t status;       //  the status of the last of them
    char output[256];      //  its output (NUL-terminated, cut to fit)
    uint32_t rejected;     //  REJECTED messages (for the id, or with no id)
    uint32_t reject_code;  //  the code of the last of them
    char reject_reason[HD_MAX_ERROR + 1];
    uint32_t accepted;  //  ids in ACCEPTED messages
    uint32_t busy;      //  REJECTED messages with code BUSY
    bool saw_bytes;     //  some frame held the bytes looked for
    uint32_t messages;
} hd_hostile_seen_t;

//  Read everything arriving for `ms` (or, when until_result, until the first RESULT for `id`
//  or the first REJECTED, or the end of ms), noting RESULT entries for `id` (NULL: any), REJECTED,
//  and whether any frame contained `needle` (NULL: none).
void hd_hostile_watch (hd_hostile_t *self, int ms, const hd_id_t *id, bool until_result,
                       const char *needle, hd_hostile_seen_t *out);
//  A random task id.
hd_id_t hd_hostile_id (void);
//  VmRSS of a process in kB (from /proc/PID/status); fails the test when unreadable.
long hd_hostile_rss_kb (pid_t pid);

#endif
