/*  hd_snapshot_json: a snapshot as the JSON document of GET /api/state, which the dashboard
    polls. The layout is documented in docs/OPERATIONS.md ("The web endpoint"); fields are
    only ever added. Text from peers was made valid UTF-8 when the snapshot was filled
    (hd_snapshot_copy_text); here it is escaped.  */
#include "hd_snapshot.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static hd_err_t
s_str (hd_buf_t *out, const char *text)
{
    hd_err_t rc = hd_buf_append (out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *) text; rc == HD_OK && *p; p++) {
        if (*p == '"' || *p == '\\')
            rc = hd_buf_printf (out, "\\%c", *p);
        else if (*p < 0x20)
            rc = hd_buf_printf (out, "\\u%04x", *p);
        else
            rc = hd_buf_append (out, p, 1);
    }
    return rc ? rc : hd_buf_append (out, "\"", 1);
}

//  "key":"text" with a leading comma unless first.
static hd_err_t
s_kstr (hd_buf_t *out, bool first, const char *key, const char *text)
{
    hd_err_t rc = hd_buf_printf (out, "%s\"%s\":", first ? "" : ",", key);
    return rc ? rc : s_str (out, text);
}

static double
s_finite (double v)
{
    return isfinite (v) ? v : 0;
}

static hd_err_t
s_counts (const hd_snapshot_t *s, hd_buf_t *out)
{
    const hd_snap_counts_t *c = &s->c;
    return hd_buf_printf (
        out,
        ",\"counters\":{\"submitted\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64
        ",\"dispatched\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"failed\":%" PRIu64
        ",\"fenced\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"requeued\":%" PRIu64
        ",\"lost_workers\":%" PRIu64 ",\"expired_leases\":%" PRIu64 ",\"busy\":%" PRIu64
        ",\"dead\":%" PRIu64 ",\"handshakes_refused\":%" PRIu64 "}"
        ",\"queued\":%u,\"running\":%u,\"sessions\":%u"
        ",\"journal\":{\"mode\":\"%s\",\"bytes\":%" PRIu64 ",\"commits\":%" PRIu64
        ",\"commit_mean_ms\":%.3f}",
        c->submitted, c->accepted, c->rejected, c->dispatched, c->completed, c->failed, c->fenced,
        c->malformed, c->requeued, c->lost_workers, c->expired_leases, c->busy, c->dead,
        c->handshakes_refused, c->queued, c->running, c->sessions, s->journal_mode,
        s->journal_bytes, hd_promhist_count (&s->commit),
        hd_promhist_count (&s->commit)
            ? s->commit.sum * 1000.0 / (double) hd_promhist_count (&s->commit)
            : 0.0);
}

static hd_err_t
s_fns (const hd_snapshot_t *s, hd_buf_t *out)
{
    hd_err_t rc = hd_buf_printf (out, ",\"functions\":[");
    for (uint32_t i = 0; rc == HD_OK && i < s->nfns; i++) {
        const hd_snap_fn_t *f = &s->fns[i];
        if (!f->name[0])
            continue;  //  a row below the last one used that no id reached: none
        uint64_t done = 0, runs = hd_promhist_count (&f->duration);
        for (uint32_t st = 0; st < HD_SNAP_NSTATUS; st++)
            done += f->completed[st];
        rc = hd_buf_printf (out, "%s{", out->data[out->size - 1] == '[' ? "" : ",");
        if (rc == HD_OK)
            rc = s_kstr (out, true, "name", f->name);
        if (rc == HD_OK)
            rc = hd_buf_printf (out,
                                ",\"queued\":%u,\"running\":%u,\"done\":%" PRIu64
                                ",\"failed\":%" PRIu64 ",\"runs\":%" PRIu64 ",\"mean_ms\":%.3f}",
                                f->queued, f->running, done, done - f->completed[0], runs,
                                runs ? s_finite (f->duration.sum) * 1000.0 / (double) runs : 0.0);
    }
    return rc ? rc : hd_buf_append (out, "]", 1);
}

static hd_err_t
s_node (const hd_snap_node_t *n, hd_buf_t *out)
{
    hd_err_t rc = s_kstr (out, true, "name", n->name);
    if (rc == HD_OK)
        rc = s_kstr (out, false, "arch", n->arch);
    if (rc == HD_OK)
        rc = s_kstr (out, false, "state", n->state);
    if (rc == HD_OK)
        rc = hd_buf_printf (out,
                            ",\"up\":%s,\"nodes\":%u,\"slots\":%u,\"running\":%u,\"cores\":%u"
                            ",\"capacity\":%.3f,\"done\":%" PRIu64 ",\"failed\":%" PRIu64
                            ",\"age_ms\":%u",
                            n->up ? "true" : "false", n->nodes, n->slots, n->running, n->cores,
                            s_finite (n->capacity), n->done, n->failed, n->age_ms);
    if (rc == HD_OK && n->present & HD_SNAP_CPU)
        rc = hd_buf_printf (out, ",\"cpu\":%.4f", s_finite (n->cpu));
    if (rc == HD_OK && n->present & HD_SNAP_MEM)
        rc = hd_buf_printf (out, ",\"mem_avail\":%" PRIu64 ",\"mem_total\":%" PRIu64, n->mem_avail,
                            n->mem_total);
    if (rc == HD_OK && n->present & HD_SNAP_TEMP)
        rc = hd_buf_printf (out, ",\"temp\":%.1f", s_finite (n->temp));
    return rc;
}

static hd_err_t
s_nodes (const hd_snapshot_t *s, hd_buf_t *out)
{
    hd_err_t rc = hd_buf_printf (out, ",\"nodes\":[");
    for (uint32_t i = 0; rc == HD_OK && i < s->nnodes; i++) {
        rc = hd_buf_printf (out, "%s{", i ? "," : "");
        if (rc == HD_OK)
            rc = s_node (&s->nodes[i], out);
        if (rc == HD_OK)
            rc = hd_buf_append (out, "}", 1);
    }
    return rc ? rc : hd_buf_append (out, "]", 1);
}

static hd_err_t
s_pending (const hd_snapshot_t *s, hd_buf_t *out)
{
    hd_err_t rc = hd_buf_printf (out, ",\"pending\":{\"total\":%u,\"keys\":[", s->pending_total);
    for (uint32_t i = 0; rc == HD_OK && i < s->npending; i++) {
        const hd_snap_pending_t *p = &s->pending[i];
        rc = hd_buf_printf (out, "%s{", i ? "," : "");
        if (rc == HD_OK)
            rc = s_kstr (out, true, "key", p->key);
        if (rc == HD_OK)
            rc = s_kstr (out, false, "address", p->address);
        if (rc == HD_OK)
            rc = hd_buf_printf (out, ",\"age_s\":%" PRId64 ",\"attempts\":%u}", p->age_s,
                                p->attempts);
    }
    return rc ? rc : hd_buf_append (out, "]}", 2);
}

static hd_err_t
s_events (const hd_snapshot_t *s, hd_buf_t *out)
{
    hd_err_t rc = hd_buf_printf (out, ",\"events\":[");
    for (uint32_t i = 0; rc == HD_OK && i < s->nevents; i++) {
        const hd_snap_event_t *e = &s->events[i];
        rc = hd_buf_printf (out, "%s{\"t_ms\":%" PRId64, i ? "," : "", e->t_ms);
        if (rc == HD_OK)
            rc = s_kstr (out, false, "type", e->type);
        if (rc == HD_OK)
            rc = s_kstr (out, false, "node", e->node);
        if (rc == HD_OK)
            rc = s_kstr (out, false, "state", e->state);
        if (rc == HD_OK)
            rc = s_kstr (out, false, "text", e->text);
        if (rc == HD_OK)
            rc = hd_buf_append (out, "}", 1);
    }
    return rc ? rc : hd_buf_append (out, "]", 1);
}

static hd_err_t
s_series (const hd_snapshot_t *s, hd_buf_t *out)
{
    hd_err_t rc =
        hd_buf_printf (out, ",\"series\":{\"step_ms\":%d,\"samples\":[", HD_SNAP_SAMPLE_MS);
    for (uint32_t i = 0; rc == HD_OK && i < s->nseries; i++) {
        const hd_snap_sample_t *x = &s->series[i];
        rc = hd_buf_printf (out, "%s[%" PRId64 ",%" PRIu64 ",%u,%u]", i ? "," : "", x->t_ms,
                            x->completed, x->queued, x->running);
    }
    return rc ? rc : hd_buf_append (out, "]}", 2);
}

static hd_err_t
s_jobs (const hd_snapshot_t *s, hd_buf_t *out)
{
    hd_err_t rc = hd_buf_printf (out, ",\"jobs_total\":%u,\"jobs\":[", s->jobs_total);
    for (uint32_t i = 0; rc == HD_OK && i < s->njobs; i++) {
        const hd_snap_job_t *j = &s->jobs[i];
        rc = hd_buf_printf (out, "%s{", i ? "," : "");
        if (rc == HD_OK)
            rc = s_kstr (out, true, "id", j->id);
        if (rc == HD_OK)
            rc = s_kstr (out, false, "name", j->name);
        if (rc == HD_OK)
            rc = s_kstr (out, false, "state", j->state);
        if (rc == HD_OK)
            rc = hd_buf_printf (
                out, ",\"tasks\":%" PRIu64 ",\"done\":%" PRIu64 ",\"failed\":%" PRIu64 "}",
                j->tasks, j->done, j->failed);
    }
    return rc ? rc : hd_buf_append (out, "]", 1);
}

hd_err_t
hd_snapshot_json (const hd_snapshot_t *self, hd_buf_t *out)
{
    hd_err_t rc = hd_buf_printf (out, "{\"time_ms\":%" PRId64 ",\"start_ms\":%" PRId64,
                                 self->time_ms, self->start_ms);
    if (rc == HD_OK)
        rc = s_kstr (out, false, "version", self->version);
    if (rc == HD_OK)
        rc = s_kstr (out, false, "cluster", self->cluster);
    if (rc == HD_OK)
        rc = s_counts (self, out);
    if (rc == HD_OK)
        rc = s_fns (self, out);
    if (rc == HD_OK)
        rc = s_nodes (self, out);
    if (rc == HD_OK)
        rc = s_pending (self, out);
    if (rc == HD_OK)
        rc = s_events (self, out);
    if (rc == HD_OK)
        rc = s_series (self, out);
    if (rc == HD_OK)
        rc = s_jobs (self, out);
    return rc ? rc : hd_buf_append (out, "}", 1);
}
