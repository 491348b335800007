/*  hd_idmap: a hash map from 16-byte task ids to a small value (seq, time), open addressing
    with linear probing and backward-shift deletion (no tombstones), grown by doubling. The hash
    mixes all 16 bytes (a detached job's task ids share their first 8). Used for the client's
    in-flight table.  */
#ifndef HD_IDMAP_H
#define HD_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "hd_codec.h"

typedef struct {
    uint64_t seq;
    int64_t t_us;     //  submit time, for latency
    int64_t deadline_ms;
    void *keep;       //  caller's: e.g. the frames to resend until the broker accepts the task
} hd_idval_t;

typedef struct hd_idmap hd_idmap_t;

hd_idmap_t *hd_idmap_new (void);
void hd_idmap_destroy (hd_idmap_t **self_p);
//  HD_OK, HD_EINVAL when the id is present, HD_ENOMEM.
hd_err_t hd_idmap_put (hd_idmap_t *self, const hd_id_t *id, const hd_idval_t *val);
//  Borrowed pointer to the value, NULL when absent (valid until the next put/take).
hd_idval_t *hd_idmap_get (const hd_idmap_t *self, const hd_id_t *id);
//  Remove; true (and *out filled when not NULL) if it was present.
bool hd_idmap_take (hd_idmap_t *self, const hd_id_t *id, hd_idval_t *out);
uint32_t hd_idmap_size (const hd_idmap_t *self);
//  Visit every entry (no put/take during the walk).
void hd_idmap_each (const hd_idmap_t *self, void (*fn) (const hd_id_t *, hd_idval_t *, void *),
                    void *arg);

#endif
