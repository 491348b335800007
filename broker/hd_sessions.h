/*  hd_sessions: the broker's client sessions and the keys that own them. A session is the id a
    client claims on its connection (the X-Session connection property) *and* the authenticated
    key that opened it: (key, session) is the identity, and a message claiming the session id
    under another key is refused and inherits nothing (role, tasks, results). What the broker
    pushes to a session (results, notices) goes to one connection only: the routing id of the
    last message the owner sent on it. A connection that has sent nothing receives nothing, so
    taking a routing id over (ROUTER handover) without speaking gains nothing unless that
    routing id is known, and a client's routing id is a secret: 16 or more random bytes, never
    shown anywhere. Counts what each session and each key
    holds (tasks queued or running + results not yet acknowledged) against bounds, limits the
    sessions per key, and forgets sessions that hold nothing and stay idle. Pure: no sockets,
    no journal, no jobs (the broker keeps a session index in each job).

    A session restored from an old journal (format 1, no owner recorded) has the empty key "";
    the first authenticated key that speaks on it claims it. With --insecure every message has
    the empty key, so sessions are told apart by id only, as before.  */
#ifndef HD_SESSIONS_H
#define HD_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"

#define HD_SESSION_MAX_ID 255   //  a session id: 1..255 bytes
#define HD_SESSION_MAX_RID 255  //  ZeroMQ routing ids are 1..255 bytes
#define HD_SESSION_KEY 41       //  Z85 public key (40) + NUL; "" insecure / unknown
#define HD_SESSION_NONE UINT32_MAX

typedef struct {
    uint32_t max_session_tasks;  //  held per session (0: no bound)
    uint32_t max_key_tasks;      //  held per key, over all its sessions (0: no bound)
    uint32_t max_key_sessions;   //  sessions per key (0: no bound)
    uint32_t idle_ms;            //  a session holding nothing is forgotten after this (0: never)
} hd_sessions_config_t;

typedef struct {
    uint8_t id[HD_SESSION_MAX_ID];
    uint8_t id_len;  //  0: free slot
    uint8_t rid_len;  //  0: no connection to send to (restored from the journal, or its
                      //  connection was taken by another key or claimed by another session:
                      //  nothing is sent until the owner speaks again; results wait, kept)
    bool packs;       //  it sent a packed SUBMIT: its RESULTs go packed too
    uint32_t key;     //  owner: index in the key table
    uint32_t held;    //  tasks queued or running + results not acknowledged
    uint32_t job;     //  0: a plain session; else 1 + the broker's job slot (a detached job:
                      //  never forgotten while it is one, and not counted in max_key_sessions)
    int64_t last_seen_ms;
    int64_t resend_ms;      //  when its last resend was honoured (0: never)
    uint64_t resent_bytes;  //  result bytes resent since its last ACK (resend budget)
    uint8_t rid[HD_SESSION_MAX_RID];  //  the connection the owner spoke on last (kept last:
                                      //  a new session clears everything before it)
} hd_session_t;

typedef struct hd_sessions hd_sessions_t;

//  NULL only when memory runs out. The config is copied.
hd_sessions_t *hd_sessions_new (const hd_sessions_config_t *config);
void hd_sessions_destroy (hd_sessions_t **self_p);

//  The session a message claiming session `id` on the connection `rid` under the authenticated
//  key `key` ("" when none) belongs to, created on first sight; its index in *out. The owner's
//  message makes `rid` the session's connection; a session that had that connection before
//  loses it (a connection speaks for one session). The last session found is cached: a hit
//  needs the same id, connection and key (no hash lookup then).
//  A key at max_key_sessions makes room by forgetting its least recently seen session that
//  holds nothing. HD_OK; HD_EDENIED the id is held by another key (*out: that session, which
//  loses its connection when the message came on it); HD_EFULL the key has max_key_sessions
//  sessions and each holds something; HD_EINVAL empty or too long id or routing id; HD_ENOMEM.
hd_err_t hd_sessions_find (hd_sessions_t *self, const uint8_t *id, size_t id_len,
                           const uint8_t *rid, size_t rid_len, const char *key, int64_t now,
                           uint32_t *out);
//  The same, for a session restored from the journal: no connection, the owner as recorded.
hd_err_t hd_sessions_restore (hd_sessions_t *self, const uint8_t *id, size_t id_len,
                              const char *key, int64_t now, uint32_t *out);
//  Borrowed; valid until the next find/restore/expire. NULL for a free or unknown index.
//  A session can be sent to when its rid_len is not 0.
hd_session_t *hd_sessions_at (const hd_sessions_t *self, uint32_t index);
//  The owner key's text ("" none) and what the key holds over all its sessions.
const char *hd_sessions_key (const hd_sessions_t *self, uint32_t index);
uint32_t hd_sessions_key_held (const hd_sessions_t *self, uint32_t index);
uint32_t hd_sessions_key_sessions (const hd_sessions_t *self, uint32_t index);
//  Whether two sessions have the same owner key.
bool hd_sessions_same_owner (const hd_sessions_t *self, uint32_t a, uint32_t b);

//  One more task for a session: HD_OK, or HD_EFULL when the session or its key is at its bound
//  (nothing counted). hd_sessions_hold_anyway counts without bounds (the journal's replay).
hd_err_t hd_sessions_hold (hd_sessions_t *self, uint32_t index);
void hd_sessions_hold_anyway (hd_sessions_t *self, uint32_t index);
//  One task or result of the session released (acknowledged, expired, refused, cancelled).
void hd_sessions_release (hd_sessions_t *self, uint32_t index);
//  A held task moves to another session of the same key (a resubmission on reconnect).
void hd_sessions_move (hd_sessions_t *self, uint32_t from, uint32_t to);

//  Make the session a detached job's (job = 1 + its slot) or a plain one again (0).
void hd_sessions_set_job (hd_sessions_t *self, uint32_t index, uint32_t job);

//  Forget sessions holding nothing and idle for idle_ms (never a job's); returns how many.
uint32_t hd_sessions_expire (hd_sessions_t *self, int64_t now);
uint32_t hd_sessions_count (const hd_sessions_t *self);
//  Sessions holding something or seen within the last `within_ms` (a scan: for displays).
uint32_t hd_sessions_active (const hd_sessions_t *self, int64_t now, uint32_t within_ms);
//  The bounds in force (borrowed).
const hd_sessions_config_t *hd_sessions_config (const hd_sessions_t *self);

#endif
