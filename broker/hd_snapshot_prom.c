/*  hd_snapshot_prom: a snapshot as Prometheus text format 0.0.4. Each family has its HELP and
    TYPE lines once, then its samples; label values are escaped (\\, \", \n). Families and
    their meaning are listed in docs/OPERATIONS.md ("Scraping"): a rename there and here is a
    breaking change for every dashboard and alert built on them.  */
#include "hd_snapshot.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

//  Escape a label value into buf (always NUL-terminated; over-long values are cut).
static const char *
s_esc (char *buf, size_t len, const char *text)
{
    size_t k = 0;
    for (; *text && k + 3 < len; text++) {
        char c = *text;
        if (c == '\\' || c == '"' || c == '\n') {
            buf[k++] = '\\';
            c = c == '\n' ? 'n' : c;
        }
        buf[k++] = c;
    }
    buf[k] = 0;
    return buf;
}

static hd_err_t
s_family (hd_buf_t *out, const char *name, const char *type, const char *help)
{
    return hd_buf_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static hd_err_t
s_counter (hd_buf_t *out, const char *name, const char *help, uint64_t value)
{
    hd_err_t rc = s_family (out, name, "counter", help);
    return rc ? rc : hd_buf_printf (out, "%s %" PRIu64 "\n", name, value);
}

static hd_err_t
s_gauge (hd_buf_t *out, const char *name, const char *help, double value)
{
    hd_err_t rc = s_family (out, name, "gauge", help);
    return rc ? rc : hd_buf_printf (out, "%s %.17g\n", name, value);
}

//  One histogram's samples with a label (`label` NULL: none): cumulative buckets, sum, count.
static hd_err_t
s_hist (hd_buf_t *out, const char *name, const char *label, const char *value,
        const hd_promhist_t *h, const double *bounds)
{
    char esc[2 * HD_SNAP_NAME + 4], lab[160] = "";
    if (label)
        snprintf (lab, sizeof lab, "%s=\"%s\",", label, s_esc (esc, sizeof esc, value));
    uint64_t cum = 0;
    hd_err_t rc = HD_OK;
    for (uint32_t i = 0; rc == HD_OK && i <= HD_HIST_BOUNDS; i++) {
        cum += h->counts[i];
        if (i < HD_HIST_BOUNDS)
            rc = hd_buf_printf (out, "%s_bucket{%sle=\"%g\"} %" PRIu64 "\n", name, lab, bounds[i],
                                cum);
        else
            rc = hd_buf_printf (out, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, lab, cum);
    }
    if (label)
        lab[strlen (lab) - 1] = 0;  //  the trailing comma
    if (rc == HD_OK)
        rc = hd_buf_printf (out, "%s_sum%s%s%s %.17g\n%s_count%s%s%s %" PRIu64 "\n", name,
                            label ? "{" : "", lab, label ? "}" : "", h->sum, name, label ? "{" : "",
                            lab, label ? "}" : "", cum);
    return rc;
}

static hd_err_t
s_broker (const hd_snapshot_t *s, hd_buf_t *out)
{
    const hd_snap_counts_t *c = &s->c;
    char esc[80];
    hd_err_t rc = s_family (out, "heddle_build_info", "gauge", "Broker version (always 1).");
    if (rc == HD_OK)
        rc = hd_buf_printf (out, "heddle_build_info{version=\"%s\",cluster=\"%s\"} 1\n", s->version,
                            s_esc (esc, sizeof esc, s->cluster));
    if (rc == HD_OK)
        rc = s_gauge (out, "heddle_start_time_seconds", "When the broker started (Unix time).",
                      (double) s->start_ms / 1000.0);
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
#define S_C(name, field, help) { name, help, offsetof (hd_snap_counts_t, field) }
        S_C ("heddle_tasks_submitted_total", submitted, "Tasks submitted by clients."),
        S_C ("heddle_tasks_accepted_total", accepted, "Tasks accepted (queued)."),
        S_C ("heddle_tasks_rejected_total", rejected, "Tasks refused at submission."),
        S_C ("heddle_tasks_dispatched_total", dispatched, "Task leases sent to workers."),
        S_C ("heddle_tasks_requeued_total", requeued, "Tasks a worker handed back unrun."),
        S_C ("heddle_tasks_dead_total", dead, "Tasks that ran out of attempts."),
        S_C ("heddle_tasks_storage_refused_total", storage,
             "Tasks refused because the journal could not store them."),
        S_C ("heddle_tasks_undurable_total", undurable,
             "Tasks whose result stands though the journal could not store them (they had run)."),
        S_C ("heddle_submit_busy_total", busy, "Submissions answered BUSY (queue full)."),
        S_C ("heddle_results_fenced_total", fenced,
             "Results refused because their lease was no longer current."),
        S_C ("heddle_results_resent_total", resent, "Results sent again to a client."),
        S_C ("heddle_leases_expired_total", expired_leases, "Leases that passed their deadline."),
        S_C ("heddle_workers_lost_total", lost_workers, "Workers lost (silent or gone)."),
        S_C ("heddle_messages_malformed_total", malformed, "Messages dropped as malformed."),
        S_C ("heddle_handshakes_refused_total", handshakes_refused,
             "CURVE handshakes refused (unknown or rejected keys)."),
        S_C ("heddle_handshakes_admitted_total", handshakes_admitted, "CURVE handshakes admitted."),
        S_C ("heddle_connections_refused_total", connections_refused,
             "TCP connections closed at once: over --max-connections."),
        S_C ("heddle_worker_metrics_total", metrics, "Worker metrics snapshots received."),
        S_C ("heddle_worker_metrics_rejected_total", bad_metrics,
             "Worker metrics snapshots dropped (malformed or from an unknown node)."),
#undef S_C
    };
    for (size_t i = 0; rc == HD_OK && i < sizeof counters / sizeof counters[0]; i++)
        rc = s_counter (out, counters[i].name, counters[i].help,
                        *(const uint64_t *) ((const char *) c + counters[i].off));
    if (rc == HD_OK)
        rc = s_gauge (out, "heddle_sessions",
                      "Client sessions holding work or heard from in the last 30 s.", c->sessions);
    if (rc == HD_OK)
        rc = s_gauge (out, "heddle_connections", "TCP connections open (clients and workers).",
                      c->connections);
    if (rc == HD_OK)
        rc = s_gauge (out, "heddle_jobs", "Detached jobs the broker holds.", s->jobs_total);
    if (rc == HD_OK)
        rc = s_gauge (out, "heddle_pending_worker_keys", "Worker keys waiting for approval.",
                      s->pending_total);
    return rc;
}

static hd_err_t
s_journal (const hd_snapshot_t *s, hd_buf_t *out)
{
    hd_err_t rc = s_gauge (out, "heddle_journal_bytes", "Size of the journal file.",
                           (double) s->journal_bytes);
    if (rc == HD_OK)
        rc = s_family (out, "heddle_journal_commit_seconds", "histogram",
                       "Journal commits (write + fdatasync) by duration.");
    return rc ? rc
              : s_hist (out, "heddle_journal_commit_seconds", NULL, NULL, &s->commit,
                        hd_promhist_commit_bounds);
}

static hd_err_t
s_fns (const hd_snapshot_t *s, hd_buf_t *out)
{
    char esc[2 * HD_SNAP_NAME + 4];
    hd_err_t rc = s_family (out, "heddle_tasks_completed_total", "counter",
                            "Tasks finished, by function and result status.");
    for (uint32_t i = 0; rc == HD_OK && i < s->nfns; i++)
        for (uint32_t st = 0; rc == HD_OK && st < HD_SNAP_NSTATUS; st++)
            if (st <= 1 || s->fns[i].completed[st])
                rc = hd_buf_printf (out,
                                    "heddle_tasks_completed_total{fn=\"%s\",status=\"%s\"} "
                                    "%" PRIu64 "\n",
                                    s_esc (esc, sizeof esc, s->fns[i].name),
                                    hd_snapshot_status_name (st), s->fns[i].completed[st]);
    static const char *gauges[2][2] = {
        { "heddle_queue_depth", "Tasks queued, by function (retry backoffs included)." },
        { "heddle_tasks_in_flight", "Tasks leased to workers, by function." }
    };
    for (int g = 0; g < 2; g++) {
        if (rc == HD_OK)
            rc = s_family (out, gauges[g][0], "gauge", gauges[g][1]);
        for (uint32_t i = 0; rc == HD_OK && i < s->nfns; i++)
            rc = hd_buf_printf (out, "%s{fn=\"%s\"} %u\n", gauges[g][0],
                                s_esc (esc, sizeof esc, s->fns[i].name),
                                g ? s->fns[i].running : s->fns[i].queued);
    }
    if (rc == HD_OK)
        rc = s_family (out, "heddle_task_duration_seconds", "histogram",
                       "Run times reported by workers, by function.");
    for (uint32_t i = 0; rc == HD_OK && i < s->nfns; i++)
        rc = s_hist (out, "heddle_task_duration_seconds", "fn", s->fns[i].name, &s->fns[i].duration,
                     hd_promhist_task_bounds);
    return rc;
}

typedef enum {
    S_UP,
    S_SLOTS,
    S_RUNNING,
    S_CAP,
    S_CPU,
    S_MEM,
    S_MEMT,
    S_TEMP,
    S_DONE,
    S_FAILED,
    S_AGE,
    S_NODE_FAMILIES
} s_node_family_t;

static const struct {
    const char *name, *type, *help;
    uint32_t needs;
} s_node_fams[] = {
    [S_UP] = { "heddle_node_up", "gauge", "1 when the node is registered (\"other\": how many).",
               0 },
    [S_SLOTS] = { "heddle_node_slots", "gauge", "Execution slots.", 0 },
    [S_RUNNING] = { "heddle_node_tasks_running", "gauge", "Tasks leased to the node now.", 0 },
    [S_CAP] = { "heddle_node_capacity", "gauge", "Effective capacity the scheduler uses.", 0 },
    [S_CPU] = { "heddle_node_cpu_busy_ratio", "gauge", "Whole-machine CPU busy share 0..1.",
                HD_SNAP_CPU },
    [S_MEM] = { "heddle_node_memory_available_bytes", "gauge", "MemAvailable.", HD_SNAP_MEM },
    [S_MEMT] = { "heddle_node_memory_total_bytes", "gauge", "MemTotal.", HD_SNAP_MEM },
    [S_TEMP] = { "heddle_node_temperature_celsius", "gauge", "Hottest thermal zone.",
                 HD_SNAP_TEMP },
    [S_DONE] = { "heddle_node_tasks_done_total", "counter", "Results accepted from the node.", 0 },
    [S_FAILED] = { "heddle_node_tasks_failed_total", "counter",
                   "Results from the node with a status other than ok.", 0 },
    [S_AGE] = { "heddle_node_metrics_age_seconds", "gauge", "Age of the node's last metrics.", 0 },
};

static double
s_node_value (const hd_snap_node_t *n, s_node_family_t f)
{
    switch (f) {
        case S_UP: return n->nup;
        case S_SLOTS: return n->slots;
        case S_RUNNING: return n->running;
        case S_CAP: return n->capacity;
        case S_CPU: return n->cpu;
        case S_MEM: return (double) n->mem_avail;
        case S_MEMT: return (double) n->mem_total;
        case S_TEMP: return n->temp;
        case S_DONE: return (double) n->done;
        case S_FAILED: return (double) n->failed;
        default: return n->age_ms / 1000.0;
    }
}

//  Node families: a node down shows node_up 0 and its totals; live figures only when known.
static hd_err_t
s_nodes (const hd_snapshot_t *s, hd_buf_t *out)
{
    char esc[2 * HD_SNAP_NAME + 4];
    hd_err_t rc = HD_OK;
    for (int f = 0; rc == HD_OK && f < S_NODE_FAMILIES; f++) {
        rc = s_family (out, s_node_fams[f].name, s_node_fams[f].type, s_node_fams[f].help);
        for (uint32_t i = 0; rc == HD_OK && i < s->nnodes; i++) {
            const hd_snap_node_t *n = &s->nodes[i];
            bool live = f == S_UP || f == S_DONE || f == S_FAILED || n->nup;
            uint32_t needs = s_node_fams[f].needs;
            if (!live || (needs && !(n->present & needs)) || (f == S_AGE && !n->present))
                continue;
            rc = hd_buf_printf (out, "%s{node=\"%s\"} %.17g\n", s_node_fams[f].name,
                                s_esc (esc, sizeof esc, n->name), s_node_value (n, f));
        }
    }
    return rc;
}

hd_err_t
hd_snapshot_prom (const hd_snapshot_t *self, hd_buf_t *out)
{
    hd_err_t rc = s_broker (self, out);
    if (rc == HD_OK)
        rc = s_journal (self, out);
    if (rc == HD_OK)
        rc = s_fns (self, out);
    if (rc == HD_OK)
        rc = s_nodes (self, out);
    return rc;
}
