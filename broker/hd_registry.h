/*  hd_registry: the broker's table of workers (by ZeroMQ routing id) and of function names
    (interned to small integers so a job carries 4 bytes, not a string). Pure: no sockets, no
    clock (callers pass now_ms). Owns hd_node_t objects; the scheduler reads and updates their
    in_flight counts through the functions below.

    Worker states:
        state      | on HELLO      | on set_draining(on) | on remove
        READY      | READY (reset) | DRAINING            | gone
        DRAINING   | READY         | READY (off)         | gone
    "busy" / "idle" are derived: in_flight == slots / in_flight == 0.  */
#ifndef HD_REGISTRY_H
#define HD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_codec.h"
#include "hd_codec_metrics.h"

#define HD_MAX_RID 256        //  ZeroMQ routing ids are 1..255 bytes
#define HD_MAX_FN_IDS 1024    //  distinct function names the broker holds at once
#define HD_KEY_Z85 40         //  a CURVE public key in Z85 text

typedef struct hd_registry hd_registry_t;
typedef enum { HD_NODE_READY = 0, HD_NODE_DRAINING } hd_node_state_t;

//  Read-mostly view of a worker. Fields are owned by the registry; callers treat them as
//  read-only except `user` (free for the reactor).
typedef struct hd_node {
    uint32_t index;                    //  stable small integer while registered (0..)
    uint8_t rid[HD_MAX_RID];
    size_t rid_len;
    char key[HD_KEY_Z85 + 1];          //  the worker key of its connection (Z85); "" insecure
    char address[64];                  //  the connection's peer address ("?" when unknown)
    char name[HD_MAX_NAME + 1];
    char arch[HD_MAX_NAME + 1];
    uint32_t slots;                    //  credit limit: in_flight never exceeds it
    uint32_t in_flight;                //  tasks leased to this worker now
    uint32_t credit;                   //  leases it may hold: slots + prefetch (0: slots); a
                                       //  task with a deadline still needs a free slot
    uint32_t deep_credit;              //  the same for tasks of short functions (0: credit)
    uint32_t queue;                    //  tasks the worker accepts at once (HELLO; 0: 5 x slots)
    bool packs;                        //  it reads packed TASK messages (HELLO pack)
    uint32_t cores;
    double capacity;                   //  C_j > 0 (see hd_registry_update_metrics)
    double score;                      //  per-core benchmark score, 0: none (capacity = slots)
    hd_sysinfo_t sys;                  //  last metrics snapshot (present bits say what is known)
    int64_t metrics_ms;                //  when it arrived; 0: never (metrics are optional)
    bool stale;                        //  metrics stopped arriving: not eligible until they resume
    bool hot;                          //  temperature at or over the broker's limit: not eligible
    hd_node_state_t state;
    uint32_t ntags;
    char tags[HD_MAX_TAGS][HD_MAX_NAME + 1];
    uint64_t done;                     //  results accepted from it
    uint64_t failed;                   //  of which status != OK
    int64_t joined_ms;
    int64_t last_seen_ms;
    void *user;
    //  private to the registry and scheduler (function set, heap position, links)
    uint64_t *fnset;                   //  bitset over function ids
    uint32_t fnset_words;
    int32_t heap_pos;
    struct hd_registry *registry;      //  owner: the setters below note changes there
    struct hd_node *changed_next;      //  the owner's list of changed nodes
    bool changed;                      //  on that list
} hd_node_t;

//  NULL only when memory runs out.
hd_registry_t *hd_registry_new (void);
//  NULL-safe; frees every worker. Sets *self_p = NULL.
void hd_registry_destroy (hd_registry_t **self_p);

//  Intern a function name. HD_OK with *out set; HD_EFULL when HD_MAX_FN_IDS names are held;
//  HD_ENOMEM. A name stays interned while a registered worker offers it or a job holds it
//  (hd_registry_fn_hold); when the table is full, names held by neither are forgotten and their
//  ids reused, so workers announcing throwaway names cannot fill the table for good.
hd_err_t hd_registry_fn_intern (hd_registry_t *self, const char *name, uint32_t *out);
//  A job (any state) starts (+1) or stops (-1) naming function `fn`: such a name is never
//  forgotten. The scheduler calls this when it creates and frees a job.
void hd_registry_fn_hold (hd_registry_t *self, uint32_t fn, int delta);
//  Names interned now (held or not), and how many were forgotten to make room since start.
uint32_t hd_registry_fn_live (const hd_registry_t *self);
uint64_t hd_registry_fn_forgotten (const hd_registry_t *self);
//  Look up without interning: HD_OK or HD_ENOTFOUND.
hd_err_t hd_registry_fn_find (const hd_registry_t *self, const char *name, uint32_t *out);
//  Name of an interned function (borrowed), NULL if out of range or forgotten.
const char *hd_registry_fn_name (const hd_registry_t *self, uint32_t fn);
//  Function ids handed out so far: 0 .. count - 1 (a forgotten one has no name: NULL).
uint32_t hd_registry_fn_count (const hd_registry_t *self);
//  Number of registered (READY or DRAINING) workers offering `fn` now (0 means "unknown
//  function"); 0 for an id never interned.
uint32_t hd_registry_fn_providers (const hd_registry_t *self, uint32_t fn);
//  Whether some worker has announced `fn` since the registry was made (interning it for a
//  task does not count): a function never offered is one no worker offers *yet*.
bool hd_registry_fn_offered (const hd_registry_t *self, uint32_t fn);

//  Register a worker from its HELLO (or re-register: same rid replaces the old entry's
//  announcement: name, arch, slots, cores, capacity, tags, functions, state READY, last_seen; it
//  keeps index, in_flight, done, failed, joined_ms and user). Announced functions are interned.
//  HD_OK with *out borrowed; HD_EINVAL for slots == 0 or an empty or over-long rid; HD_EFULL if
//  too many functions; HD_ENOMEM. On an error nothing changes (except names already interned).
hd_err_t hd_registry_add (hd_registry_t *self, const uint8_t *rid, size_t rid_len,
                          const hd_hello_t *hello, int64_t now_ms, hd_node_t **out);
//  Find by routing id; NULL when unknown. Borrowed.
hd_node_t *hd_registry_lookup (const hd_registry_t *self, const uint8_t *rid, size_t rid_len);
//  Remove and free a worker (the caller has already requeued its leases through the scheduler:
//  asserts in_flight == 0). Its index becomes free for the next new worker (lowest first).
void hd_registry_remove (hd_registry_t *self, hd_node_t *worker);
bool hd_registry_offers (const hd_node_t *worker, uint32_t fn);
void hd_registry_touch (hd_node_t *worker, int64_t now_ms);
void hd_registry_set_draining (hd_node_t *worker, bool on);
size_t hd_registry_size (const hd_registry_t *self);
//  Iterate: first/next in index order; NULL at the end. Safe while not adding or removing.
hd_node_t *hd_registry_first (const hd_registry_t *self);
hd_node_t *hd_registry_next (const hd_registry_t *self, const hd_node_t *worker);
//  A metrics snapshot from the node: keep its figures, note the time, and recompute
//      capacity C_j = score x min(slots, cores) x (1 - CPU share used by others)
//  where the others' share is the whole-machine CPU use less this node's own busy slots
//  (busy / cores), clamped so C_j stays > 0; without a score C_j = slots. hot = temperature
//  present and >= temp_limit_c (0: no limit). Clears stale.
void hd_registry_update_metrics (hd_node_t *node, const hd_metrics_t *m, int64_t now_ms,
                                 double temp_limit_c);
//  Mark stale every node whose metrics (once received) are older than stale_ms; returns how
//  many are stale now.
uint32_t hd_registry_check_stale (hd_registry_t *self, int64_t now_ms, int64_t stale_ms);
//  Find by node name (first match), NULL when none.
hd_node_t *hd_registry_find_name (const hd_registry_t *self, const char *name);
//  Find by worker key (Z85, HD_KEY_Z85 chars), NULL when none. A scan: for HELLO and admin
//  commands, not for every message.
hd_node_t *hd_registry_find_key (const hd_registry_t *self, const char *key);

//  For the scheduler's node ordering (hd_scheduler keeps workers sorted per function).
//  The generation changes whenever a worker is added, re-announced (HELLO again) or removed,
//  that is whenever the set of workers, their functions, slots or tags may have changed.
uint64_t hd_registry_generation (const hd_registry_t *self);
//  Take one worker whose capacity, state, hot or stale flag changed through update_metrics,
//  set_draining or check_stale since it was last taken (each worker is listed once however
//  often it changed); NULL when none. Borrowed. A removed worker leaves the list.
hd_node_t *hd_registry_take_changed (hd_registry_t *self);

#endif
