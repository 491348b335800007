/*  hd_snapshot: histograms, the folding of functions and nodes past their caps into "other",
    and status names. The renderers are in hd_snapshot_prom.c and hd_snapshot_json.c.  */
#include "hd_snapshot.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

const double hd_promhist_task_bounds[HD_HIST_BOUNDS] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
                                                         1,     5,     10,   60,   300 };
const double hd_promhist_commit_bounds[HD_HIST_BOUNDS] = { 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                           0.05,   0.1,   0.25,  0.5,   1 };

void
hd_promhist_observe (hd_promhist_t *self, const double *bounds, double value)
{
    uint32_t i = 0;
    while (i < HD_HIST_BOUNDS && value > bounds[i])
        i++;
    self->counts[i]++;
    self->sum += value;
}

uint64_t
hd_promhist_count (const hd_promhist_t *self)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i <= HD_HIST_BOUNDS; i++)
        n += self->counts[i];
    return n;
}

void
hd_promhist_add (hd_promhist_t *self, const hd_promhist_t *other)
{
    for (uint32_t i = 0; i <= HD_HIST_BOUNDS; i++)
        self->counts[i] += other->counts[i];
    self->sum += other->sum;
}

void
hd_snapshot_clear (hd_snapshot_t *self)
{
    memset (self, 0, sizeof *self);
}

hd_snap_fn_t *
hd_snapshot_fn (hd_snapshot_t *self, uint32_t fn, const char *name)
{
    uint32_t row = fn < HD_SNAP_MAX_FNS ? fn : HD_SNAP_MAX_FNS;
    hd_snap_fn_t *f = &self->fns[row];
    if (!f->name[0])
        hd_snapshot_copy_text (f->name, sizeof f->name, row == HD_SNAP_MAX_FNS ? "other" : name);
    if (self->nfns <= row)
        self->nfns = row + 1;
    return f;
}

static void
s_fold_node (hd_snap_node_t *o, const hd_snap_node_t *n)
{
    if (n->present & HD_SNAP_CPU) {
        o->cpu = (o->cpu * o->ncpu + n->cpu) / (o->ncpu + 1);
        o->ncpu++;
        o->present |= HD_SNAP_CPU;
    }
    if (n->present & HD_SNAP_TEMP && (!(o->present & HD_SNAP_TEMP) || n->temp > o->temp)) {
        o->temp = n->temp;
        o->present |= HD_SNAP_TEMP;
    }
    if (n->present & HD_SNAP_MEM) {
        o->mem_avail += n->mem_avail;
        o->mem_total += n->mem_total;
        o->present |= HD_SNAP_MEM;
    }
    o->up = o->up || n->up;
    o->nodes++;
    o->nup += n->up ? 1 : 0;
    o->slots += n->slots;
    o->running += n->running;
    o->cores += n->cores;
    o->capacity += n->capacity;
    o->done += n->done;
    o->failed += n->failed;
    if (n->age_ms > o->age_ms)
        o->age_ms = n->age_ms;
}

void
hd_snapshot_add_node (hd_snapshot_t *self, const hd_snap_node_t *node)
{
    if (self->nnodes < HD_SNAP_MAX_NODES) {
        hd_snap_node_t *row = &self->nodes[self->nnodes++];
        *row = *node;
        row->nodes = 1;
        row->nup = node->up ? 1 : 0;
        row->ncpu = node->present & HD_SNAP_CPU ? 1 : 0;
        return;
    }
    hd_snap_node_t *o = &self->nodes[HD_SNAP_MAX_NODES];
    if (self->nnodes == HD_SNAP_MAX_NODES) {
        memset (o, 0, sizeof *o);
        snprintf (o->name, sizeof o->name, "other");
        snprintf (o->state, sizeof o->state, "other");
        self->nnodes++;
    }
    s_fold_node (o, node);
}

const char *
hd_snapshot_status_name (uint32_t status)
{
    static const char *names[HD_SNAP_NSTATUS] = {
        "ok",      "failed",    "unknown_fn", "too_large", "busy", "malformed", "version",
        "timeout", "cancelled", "denied",     "storage",   "lost", "internal",  "unsatisfiable"
    };
    return status < HD_SNAP_NSTATUS ? names[status] : "unknown";
}

//  Length of the well-formed UTF-8 sequence at s (1..4), or 0 when it is not one (overlong
//  forms, surrogates and code points past U+10FFFF included).
static size_t
s_utf8_len (const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

char *
hd_snapshot_copy_text (char *dst, size_t len, const char *src)
{
    assert (len > 0);
    const unsigned char *s = (const unsigned char *) (src ? src : "");
    size_t k = 0;
    while (*s) {
        size_t n = s_utf8_len (s);
        if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f))) {
            if (k + 1 >= len)
                break;
            dst[k++] = '?';
            s++;
            continue;
        }
        if (k + n >= len)
            break;
        memcpy (dst + k, s, n);
        k += n;
        s += n;
    }
    dst[k] = 0;
    return dst;
}
