/*  hd_registry: workers by index and by routing id, and function names interned to small ids.
    Nodes sit in an array indexed by hd_node_t.index (a freed index is reused, lowest first); an
    open-addressing table maps routing ids to nodes and a fixed one maps names to function ids.
    Knows nothing of jobs, sockets or clocks: time arrives as now_ms.  */
#include "hd_registry.h"

#include <assert.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#define S_FN_WORDS (HD_MAX_FN_IDS / 64)
#define S_FN_TABLE (2 * HD_MAX_FN_IDS)  //  load factor stays <= 0.5, so probes always end
#define S_MIN_RIDS 16
#define S_MIN_NODES 8

//  A node and its function bitset in one allocation; `node` first so a hd_node_t * frees it.
typedef struct {
    hd_node_t node;
    uint64_t fnset[S_FN_WORDS];
} s_entry_t;

struct hd_registry {
    hd_node_t **nodes;  //  by index; NULL marks a free index
    uint32_t nodes_cap;
    size_t size;
    hd_node_t **rids;  //  linear probing, power-of-two capacity, load <= 0.5
    size_t rids_cap;
    uint32_t nfns;                  //  ids handed out so far (some may be free again)
    uint32_t nlive;                 //  names interned now
    uint64_t forgotten;
    char *fn_names[HD_MAX_FN_IDS];  //  NULL: a free id
    uint32_t providers[HD_MAX_FN_IDS];
    uint32_t holds[HD_MAX_FN_IDS];  //  jobs naming the function
    uint32_t pins[HD_MAX_FN_IDS];   //  == pin_epoch: interned by the HELLO being read
    uint32_t pin_epoch;
    uint32_t reclaim_at;            //  where the next search for a free id starts
    bool offered[HD_MAX_FN_IDS];    //  some worker announced it since the registry was made
    uint32_t fn_table[S_FN_TABLE];  //  function id + 1; 0 is an empty slot
    uint64_t generation;            //  bumped by add and remove
    hd_node_t *changed;             //  nodes changed since taken, through changed_next
};

//  FNV-1a: routing ids are chosen by libzmq or by the peer, names by the peer; both are short.
static uint64_t
s_hash (const uint8_t *data, size_t size)
{
    uint64_t hash = 14695981039346656037ull;
    for (size_t i = 0; i < size; i++) {
        hash ^= data[i];
        hash *= 1099511628211ull;
    }
    return hash;
}

hd_registry_t *
hd_registry_new (void)
{
    hd_registry_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->rids = calloc (S_MIN_RIDS, sizeof *self->rids);
    if (!self->rids) {
        free (self);
        return NULL;
    }
    self->rids_cap = S_MIN_RIDS;
    self->generation = 1;
    return self;
}

void
hd_registry_destroy (hd_registry_t **self_p)
{
    assert (self_p);
    hd_registry_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->nodes_cap; i++)
        free (self->nodes[i]);
    for (uint32_t fn = 0; fn < self->nfns; fn++)
        free (self->fn_names[fn]);  //  NULL for a forgotten one
    free (self->nodes);
    free (self->rids);
    free (self);
    *self_p = NULL;
}

//  --- function names ---------------------------------------------------------------------

//  Slot holding `name`, or the empty slot where it would go.
static size_t
s_fn_slot (const hd_registry_t *self, const char *name)
{
    size_t mask = S_FN_TABLE - 1;
    size_t i = s_hash ((const uint8_t *) name, strlen (name)) & mask;
    while (self->fn_table[i] && strcmp (self->fn_names[self->fn_table[i] - 1], name) != 0)
        i = (i + 1) & mask;
    return i;
}

//  Backward-shift deletion of the name in `slot` (as for routing ids below).
static void
s_fn_erase (hd_registry_t *self, size_t hole)
{
    size_t mask = S_FN_TABLE - 1;
    self->fn_table[hole] = 0;
    for (size_t j = (hole + 1) & mask; self->fn_table[j]; j = (j + 1) & mask) {
        const char *moving = self->fn_names[self->fn_table[j] - 1];
        size_t home = s_hash ((const uint8_t *) moving, strlen (moving)) & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            self->fn_table[hole] = self->fn_table[j];
            self->fn_table[j] = 0;
            hole = j;
        }
    }
}

//  A free id: a fresh one, else the first name no worker offers and no job holds, forgotten.
//  HD_EFULL when every name is in use. A scan of at most HD_MAX_FN_IDS, only when full.
static hd_err_t
s_fn_free_id (hd_registry_t *self, uint32_t *out)
{
    if (self->nfns < HD_MAX_FN_IDS) {
        *out = self->nfns++;
        return HD_OK;
    }
    for (uint32_t k = 0; k < HD_MAX_FN_IDS; k++) {
        uint32_t fn = (self->reclaim_at + k) % HD_MAX_FN_IDS;
        //  A name of the announcement being read has no provider yet, but is not free.
        if (self->fn_names[fn] && (self->providers[fn] || self->holds[fn]
                                   || (self->pin_epoch && self->pins[fn] == self->pin_epoch)))
            continue;
        self->reclaim_at = (fn + 1) % HD_MAX_FN_IDS;
        if (self->fn_names[fn]) {
            s_fn_erase (self, s_fn_slot (self, self->fn_names[fn]));
            free (self->fn_names[fn]);
            self->fn_names[fn] = NULL;
            self->offered[fn] = false;
            self->nlive--;
            self->forgotten++;
        }
        *out = fn;
        return HD_OK;
    }
    return HD_EFULL;
}

hd_err_t
hd_registry_fn_intern (hd_registry_t *self, const char *name, uint32_t *out)
{
    assert (self && name && out);
    size_t slot = s_fn_slot (self, name);
    if (self->fn_table[slot]) {
        *out = self->fn_table[slot] - 1;
        return HD_OK;
    }
    char *copy = strdup (name);
    if (!copy)
        return HD_ENOMEM;
    uint32_t fn;
    if (s_fn_free_id (self, &fn) != HD_OK) {
        free (copy);
        return HD_EFULL;
    }
    self->fn_names[fn] = copy;
    self->fn_table[s_fn_slot (self, name)] = fn + 1;  //  the erase may have moved the slot
    self->nlive++;
    *out = fn;
    return HD_OK;
}

void
hd_registry_fn_hold (hd_registry_t *self, uint32_t fn, int delta)
{
    assert (self && fn < HD_MAX_FN_IDS);
    self->holds[fn] = (uint32_t) ((int64_t) self->holds[fn] + delta);
}

uint32_t
hd_registry_fn_live (const hd_registry_t *self)
{
    assert (self);
    return self->nlive;
}

uint64_t
hd_registry_fn_forgotten (const hd_registry_t *self)
{
    assert (self);
    return self->forgotten;
}

hd_err_t
hd_registry_fn_find (const hd_registry_t *self, const char *name, uint32_t *out)
{
    assert (self && name && out);
    size_t slot = s_fn_slot (self, name);
    if (!self->fn_table[slot])
        return HD_ENOTFOUND;
    *out = self->fn_table[slot] - 1;
    return HD_OK;
}

const char *
hd_registry_fn_name (const hd_registry_t *self, uint32_t fn)
{
    assert (self);
    return fn < self->nfns ? self->fn_names[fn] : NULL;
}

uint32_t
hd_registry_fn_providers (const hd_registry_t *self, uint32_t fn)
{
    assert (self);
    return fn < self->nfns ? self->providers[fn] : 0;
}

uint32_t
hd_registry_fn_count (const hd_registry_t *self)
{
    assert (self);
    return self->nfns;
}

bool
hd_registry_fn_offered (const hd_registry_t *self, uint32_t fn)
{
    assert (self);
    return fn < self->nfns && self->offered[fn];
}

//  --- routing-id table ---------------------------------------------------------------------

static size_t
s_rid_slot (const hd_registry_t *self, const uint8_t *rid, size_t rid_len)
{
    size_t mask = self->rids_cap - 1;
    size_t i = s_hash (rid, rid_len) & mask;
    for (hd_node_t *node = self->rids[i]; node; node = self->rids[i]) {
        if (node->rid_len == rid_len && memcmp (node->rid, rid, rid_len) == 0)
            break;
        i = (i + 1) & mask;
    }
    return i;
}

static void
s_rid_insert (hd_registry_t *self, hd_node_t *node)
{
    self->rids[s_rid_slot (self, node->rid, node->rid_len)] = node;
}

//  Grow before an insert would push the load past one half; the table is unchanged on failure.
static hd_err_t
s_rid_reserve (hd_registry_t *self)
{
    if ((self->size + 1) * 2 <= self->rids_cap)
        return HD_OK;
    hd_node_t **old = self->rids;
    size_t old_cap = self->rids_cap;
    hd_node_t **rids = calloc (old_cap * 2, sizeof *rids);
    if (!rids)
        return HD_ENOMEM;
    self->rids = rids;
    self->rids_cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            s_rid_insert (self, old[i]);
    free (old);
    return HD_OK;
}

//  Backward-shift deletion keeps every probe chain unbroken without tombstones.
static void
s_rid_erase (hd_registry_t *self, const hd_node_t *node)
{
    size_t mask = self->rids_cap - 1;
    size_t hole = s_rid_slot (self, node->rid, node->rid_len);
    assert (self->rids[hole] == node);
    self->rids[hole] = NULL;
    for (size_t j = (hole + 1) & mask; self->rids[j]; j = (j + 1) & mask) {
        hd_node_t *moving = self->rids[j];
        size_t home = s_hash (moving->rid, moving->rid_len) & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            self->rids[hole] = moving;
            self->rids[j] = NULL;
            hole = j;
        }
    }
}

//  --- node slots ---------------------------------------------------------------------------

//  Lowest free index, growing the array when every index is taken. Unchanged on failure.
static hd_err_t
s_index_reserve (hd_registry_t *self, uint32_t *out)
{
    for (uint32_t i = 0; i < self->nodes_cap; i++)
        if (!self->nodes[i]) {
            *out = i;
            return HD_OK;
        }
    uint32_t cap = self->nodes_cap ? self->nodes_cap * 2 : S_MIN_NODES;
    hd_node_t **nodes = realloc (self->nodes, cap * sizeof *nodes);
    if (!nodes)
        return HD_ENOMEM;
    memset (nodes + self->nodes_cap, 0, (cap - self->nodes_cap) * sizeof *nodes);
    *out = self->nodes_cap;
    self->nodes = nodes;
    self->nodes_cap = cap;
    return HD_OK;
}

//  --- announcements ------------------------------------------------------------------------

static void
s_copy_name (char *dst, const char *src)
{
    size_t len = strnlen (src, HD_MAX_NAME);
    memcpy (dst, src, len);
    dst[len] = '\0';
}

//  Intern every announced function into `set`. Names interned before a failure stay interned
//  (with no provider), which is harmless.
static hd_err_t
s_fnset_build (hd_registry_t *self, const hd_hello_t *hello, uint64_t set[S_FN_WORDS])
{
    memset (set, 0, S_FN_WORDS * sizeof *set);
    self->pin_epoch++;
    uint32_t nfns = hello->nfns < HD_MAX_FNS ? hello->nfns : HD_MAX_FNS;
    for (uint32_t i = 0; i < nfns; i++) {
        char name[HD_MAX_FN + 1];
        size_t len = strnlen (hello->fns[i], HD_MAX_FN);
        memcpy (name, hello->fns[i], len);
        name[len] = '\0';
        uint32_t fn;
        hd_err_t rc = hd_registry_fn_intern (self, name, &fn);
        if (rc != HD_OK)
            return rc;
        self->pins[fn] = self->pin_epoch;
        set[fn / 64] |= UINT64_C (1) << (fn % 64);
    }
    return HD_OK;
}

//  Add `delta` (+1 or -1) to the provider count of every function in the node's set.
static void
s_providers_adjust (hd_registry_t *self, const hd_node_t *node, int delta)
{
    for (uint32_t word = 0; word < node->fnset_words; word++)
        for (uint64_t bits = node->fnset[word]; bits; bits &= bits - 1) {
            uint32_t fn = word * 64 + (uint32_t) __builtin_ctzll (bits);
            self->providers[fn] = (uint32_t) ((int64_t) self->providers[fn] + delta);
            self->offered[fn] |= delta > 0;
        }
}

static void
s_node_capacity (hd_node_t *node, uint32_t busy)
{
    uint32_t cores = node->cores ? node->cores : node->slots;
    double parallel = node->slots < cores ? node->slots : cores;
    double base = node->score > 0 ? node->score * parallel : (double) node->slots;
    double share = 1.0;
    if (node->sys.present & HD_M_CPU) {
        double own = (double) busy / cores;
        double others = node->sys.cpu_util - (own < 1.0 ? own : 1.0);
        share = others > 0 ? 1.0 - others : 1.0;
        share = share < 0.05 ? 0.05 : share;  //  a loaded node still gets a trickle
    }
    node->capacity = base * share;
}

//  The scheduler orders nodes by capacity and skips stale, hot and draining ones: it takes
//  this list to learn of changes made through the setters, which know only the node.
static void
s_note_changed (hd_node_t *node)
{
    hd_registry_t *self = node->registry;
    if (!self || node->changed)
        return;
    node->changed = true;
    node->changed_next = self->changed;
    self->changed = node;
}

void
hd_registry_update_metrics (hd_node_t *node, const hd_metrics_t *m, int64_t now_ms,
                            double temp_limit_c)
{
    double capacity = node->capacity;
    bool stale = node->stale, hot = node->hot;
    node->sys = m->sys;
    if ((m->present & HD_M_SCORE) && m->score > 0)
        node->score = m->score;
    node->metrics_ms = now_ms;
    node->stale = false;
    node->hot = temp_limit_c > 0 && (m->sys.present & HD_M_TEMP) && m->sys.temp_c >= temp_limit_c;
    s_node_capacity (node, (m->present & HD_M_BUSY) ? m->busy : node->in_flight);
    if (node->capacity != capacity || node->stale != stale || node->hot != hot)
        s_note_changed (node);
}

uint32_t
hd_registry_check_stale (hd_registry_t *self, int64_t now_ms, int64_t stale_ms)
{
    uint32_t n = 0;
    for (hd_node_t *node = hd_registry_first (self); node; node = hd_registry_next (self, node)) {
        bool stale = node->metrics_ms && now_ms - node->metrics_ms > stale_ms;
        if (stale != node->stale) {
            node->stale = stale;
            s_note_changed (node);
        }
        n += node->stale;
    }
    return n;
}

//  Copy what a HELLO announces; in_flight, counters, index and `user` are left alone.
static void
s_node_announce (hd_node_t *node, const hd_hello_t *hello, const uint64_t set[S_FN_WORDS],
                 int64_t now_ms)
{
    s_copy_name (node->name, hello->name);
    s_copy_name (node->arch, hello->arch);
    node->slots = hello->slots;
    node->queue = hello->queue;
    node->packs = hello->pack;
    node->cores = hello->cores;
    //  NaN and infinities fail these comparisons and fall back to slots.
    bool scored = hello->score > 0 && hello->score <= DBL_MAX;
    node->score = scored ? hello->score : 0;
    s_node_capacity (node, 0);
    node->state = HD_NODE_READY;
    node->ntags = hello->ntags < HD_MAX_TAGS ? hello->ntags : HD_MAX_TAGS;
    for (uint32_t i = 0; i < node->ntags; i++)
        s_copy_name (node->tags[i], hello->tags[i]);
    memcpy (node->fnset, set, S_FN_WORDS * sizeof *set);
    node->last_seen_ms = now_ms;
}

static hd_err_t
s_node_create (hd_registry_t *self, const uint8_t *rid, size_t rid_len, int64_t now_ms,
               hd_node_t **out)
{
    uint32_t index;
    hd_err_t rc = s_rid_reserve (self);
    if (rc == HD_OK)
        rc = s_index_reserve (self, &index);
    if (rc != HD_OK)
        return rc;
    s_entry_t *entry = calloc (1, sizeof *entry);
    if (!entry)
        return HD_ENOMEM;
    hd_node_t *node = &entry->node;
    node->index = index;
    memcpy (node->rid, rid, rid_len);
    node->rid_len = rid_len;
    node->fnset = entry->fnset;
    node->fnset_words = S_FN_WORDS;
    node->heap_pos = -1;
    node->registry = self;
    node->joined_ms = now_ms;
    self->nodes[index] = node;
    s_rid_insert (self, node);
    self->size++;
    *out = node;
    return HD_OK;
}

hd_err_t
hd_registry_add (hd_registry_t *self, const uint8_t *rid, size_t rid_len, const hd_hello_t *hello,
                 int64_t now_ms, hd_node_t **out)
{
    assert (self && hello && out);
    if (!rid || rid_len == 0 || rid_len > HD_MAX_RID || hello->slots == 0)
        return HD_EINVAL;
    uint64_t set[S_FN_WORDS];
    hd_err_t rc = s_fnset_build (self, hello, set);
    if (rc != HD_OK)
        return rc;
    hd_node_t *node = hd_registry_lookup (self, rid, rid_len);
    if (node)
        s_providers_adjust (self, node, -1);
    else if ((rc = s_node_create (self, rid, rid_len, now_ms, &node)) != HD_OK)
        return rc;
    s_node_announce (node, hello, set, now_ms);
    s_providers_adjust (self, node, +1);
    self->generation++;
    *out = node;
    return HD_OK;
}

hd_node_t *
hd_registry_lookup (const hd_registry_t *self, const uint8_t *rid, size_t rid_len)
{
    assert (self);
    if (!rid || rid_len == 0 || rid_len > HD_MAX_RID)
        return NULL;
    return self->rids[s_rid_slot (self, rid, rid_len)];
}

void
hd_registry_remove (hd_registry_t *self, hd_node_t *worker)
{
    assert (self && worker);
    assert (worker->index < self->nodes_cap && self->nodes[worker->index] == worker);
    //  Leases still pointing here would dangle: hd_scheduler_worker_lost comes first.
    assert (worker->in_flight == 0);
    if (worker->changed) {
        hd_node_t **link = &self->changed;
        while (*link != worker)
            link = &(*link)->changed_next;
        *link = worker->changed_next;
    }
    s_providers_adjust (self, worker, -1);
    s_rid_erase (self, worker);
    self->generation++;
    self->nodes[worker->index] = NULL;
    self->size--;
    free (worker);
}

bool
hd_registry_offers (const hd_node_t *worker, uint32_t fn)
{
    assert (worker);
    if (fn / 64 >= worker->fnset_words)
        return false;
    return (worker->fnset[fn / 64] >> (fn % 64)) & 1u;
}

void
hd_registry_touch (hd_node_t *worker, int64_t now_ms)
{
    assert (worker);
    worker->last_seen_ms = now_ms;
}

void
hd_registry_set_draining (hd_node_t *worker, bool on)
{
    assert (worker);
    hd_node_state_t state = on ? HD_NODE_DRAINING : HD_NODE_READY;
    if (worker->state != state) {
        worker->state = state;
        s_note_changed (worker);
    }
}

size_t
hd_registry_size (const hd_registry_t *self)
{
    assert (self);
    return self->size;
}

static hd_node_t *
s_node_from (const hd_registry_t *self, uint32_t index)
{
    for (uint32_t i = index; i < self->nodes_cap; i++)
        if (self->nodes[i])
            return self->nodes[i];
    return NULL;
}

hd_node_t *
hd_registry_first (const hd_registry_t *self)
{
    assert (self);
    return s_node_from (self, 0);
}

hd_node_t *
hd_registry_next (const hd_registry_t *self, const hd_node_t *worker)
{
    assert (self && worker);
    return s_node_from (self, worker->index + 1);
}

hd_node_t *
hd_registry_find_key (const hd_registry_t *self, const char *key)
{
    assert (self && key);
    for (hd_node_t *node = hd_registry_first (self); node; node = hd_registry_next (self, node))
        if (memcmp (node->key, key, HD_KEY_Z85) == 0)
            return node;
    return NULL;
}

hd_node_t *
hd_registry_find_name (const hd_registry_t *self, const char *name)
{
    assert (self && name);
    for (hd_node_t *node = hd_registry_first (self); node; node = hd_registry_next (self, node))
        if (strcmp (node->name, name) == 0)
            return node;
    return NULL;
}

uint64_t
hd_registry_generation (const hd_registry_t *self)
{
    assert (self);
    return self->generation;
}

hd_node_t *
hd_registry_take_changed (hd_registry_t *self)
{
    assert (self);
    hd_node_t *node = self->changed;
    if (node) {
        self->changed = node->changed_next;
        node->changed_next = NULL;
        node->changed = false;
    }
    return node;
}
