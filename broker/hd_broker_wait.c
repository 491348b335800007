/*  hd_broker_wait: tasks for a function no worker has offered yet wait for one (boards still
    booting, workers started after the job) instead of failing at once. Such a task is queued
    like any other, marked waits_fn; the client is told once per SUBMIT and function (NOTICE);
    and once the wait ends (the broker's --worker-wait, or the task's own timeout when shorter)
    with still no worker offering the function, the task ends UNKNOWN_FN (or UNSATISFIABLE when
    workers offering it came but none meets the task's requirements). A function some worker
    offered since the broker started is not waited on this way: its workers are away (restarting)
    and its tasks stay queued as before. The broker keeps one entry per waiting function with the
    earliest deadline of its tasks, so the check costs nothing until a deadline comes.  */
#include "hd_broker_int.h"

#include "hd_log.h"
#include "hd_transport.h"

//  When the task gives up waiting: the broker's wait, or its own timeout when shorter.
static int64_t
s_deadline (const hd_broker_t *self, const hd_job_t *job)
{
    uint32_t wait = self->config.worker_wait_ms;
    if (job->timeout_ms && job->timeout_ms < wait)
        wait = job->timeout_ms;
    return job->submitted_ms + wait;
}

static hd_fnwait_t *
s_entry (hd_broker_t *self, uint32_t fn)
{
    for (uint32_t i = 0; i < self->nfnwait; i++)
        if (self->fnwait[i].fn == fn)
            return &self->fnwait[i];
    if (!self->fnwait && !(self->fnwait = calloc (HD_MAX_FN_IDS, sizeof *self->fnwait)))
        return NULL;
    hd_fnwait_t *w = &self->fnwait[self->nfnwait++];  //  fn ids are < HD_MAX_FN_IDS: room
    *w = (hd_fnwait_t){ .fn = fn, .due_ms = INT64_MAX };
    return w;
}

static void
s_send_notice (hd_broker_t *self, uint32_t client, const hd_job_t *job)
{
    hd_notice_t n = { .nodes = (uint32_t) hd_registry_size (self->registry) };
    snprintf (n.fn, sizeof n.fn, "%s", hd_registry_fn_name (self->registry, job->fn));
    n.wait_ms = (uint32_t) (s_deadline (self, job) - job->submitted_ms);
    snprintf (n.reason, sizeof n.reason, "waiting for a worker that offers '%s' (%u node%s "
              "connected)", n.fn, n.nodes, n.nodes == 1 ? "" : "s");
    if (hd_codec_encode_notice (&self->env, &n) == HD_OK
        && hd_broker_send_to_client (self, client, HD_CMD_NOTICE) == 0)
        hd_send_frame (self->clients_raw, self->env.data, self->env.size, 0);
}

hd_err_t
hd_broker_wait_queue (hd_broker_t *self, const hd_submit_t *s, uint32_t client, void *payload,
                      int64_t now, hd_job_t **job)
{
    if (!self->config.worker_wait_ms)
        return HD_ENOTFOUND;
    if (hd_scheduler_queued (self->scheduler) + hd_scheduler_leased (self->scheduler)
        >= self->config.max_queue)
        return HD_EFULL;
    hd_err_t rc = hd_scheduler_restore (self->scheduler, s, client, payload, now, job);
    if (rc != HD_OK)
        return rc;
    (*job)->waits_fn = true;
    hd_fnwait_t *w = s_entry (self, (*job)->fn);
    int64_t due = s_deadline (self, *job);
    if (w && due < w->due_ms)
        w->due_ms = due;
    //  One NOTICE per function and SUBMIT message: the first task of it that waits says so.
    if (self->noticed_fn != (*job)->fn + 1) {
        self->noticed_fn = (*job)->fn + 1;
        s_send_notice (self, client, *job);
    }
    return HD_OK;
}

typedef struct {
    hd_broker_t *self;
    uint32_t fn;
    int64_t now, next_due;
    hd_job_t **due;
    uint32_t ndue, cap;
} s_scan_t;

static void
s_collect (hd_job_t *job, void *arg)
{
    s_scan_t *scan = arg;
    if (job->fn != scan->fn || !job->waits_fn || job->state != HD_JOB_QUEUED)
        return;
    int64_t deadline = s_deadline (scan->self, job);
    if (deadline > scan->now) {
        if (deadline < scan->next_due)
            scan->next_due = deadline;
        return;
    }
    if (scan->ndue == scan->cap) {
        uint32_t cap = scan->cap ? scan->cap * 2 : 256;
        hd_job_t **t = realloc (scan->due, cap * sizeof *t);
        if (!t) {
            scan->next_due = scan->now;  //  try the rest again at the next beat
            return;
        }
        scan->due = t;
        scan->cap = cap;
    }
    scan->due[scan->ndue++] = job;
}

//  Some registered node could ever run the job (hd_scheduler_eligible, total memory).
static bool
s_runnable (hd_broker_t *self, const hd_job_t *job)
{
    for (hd_node_t *node = hd_registry_first (self->registry); node;
         node = hd_registry_next (self->registry, node))
        if (hd_scheduler_eligible (node, job->fn, job->reqs, HD_ELIGIBLE_EVER))
            return true;
    return false;
}

//  A task whose wait is over: UNKNOWN_FN when no worker offered its function yet; UNSATISFIABLE
//  when workers offer it now but none meets its requirements (it would wait for ever); else it
//  stays queued as any task (its workers are busy, or away after having offered it).
static void
s_wait_over (hd_broker_t *self, hd_job_t *job, const char *name, uint32_t nodes,
             uint32_t *failed)
{
    bool offered = hd_registry_fn_offered (self->registry, job->fn);
    bool stuck = offered && job->reqs && hd_registry_fn_providers (self->registry, job->fn)
                 && !s_runnable (self, job);
    job->waits_fn = false;
    if (offered && !stuck)
        return;
    char reason[256];
    if (stuck)
        snprintf (reason, sizeof reason, "no node offering '%s' meets the task's requirements "
                  "(waited for one; see heddle nodes)", name);
    else
        snprintf (reason, sizeof reason, "no worker offers function '%s' (waited for one; %u "
                  "node%s connected)", name, nodes, nodes == 1 ? "" : "s");
    hd_job_t *dead = NULL;
    if (hd_scheduler_cancel (self->scheduler, &job->id, &dead) == HD_OK) {
        hd_broker_fail_job (self, dead, stuck ? HD_ST_UNSATISFIABLE : HD_ST_UNKNOWN_FN, reason);
        (*failed)++;
    }
}

//  The tasks of one waited-for function whose wait is over are decided (s_wait_over); returns
//  the earliest deadline of those still waiting (INT64_MAX: none).
static int64_t
s_expire_fn (hd_broker_t *self, uint32_t fn, int64_t now)
{
    s_scan_t scan = { .self = self, .fn = fn, .now = now, .next_due = INT64_MAX };
    hd_scheduler_each (self->scheduler, s_collect, &scan);
    const char *name = hd_registry_fn_name (self->registry, fn);
    uint32_t nodes = (uint32_t) hd_registry_size (self->registry), failed = 0;
    for (uint32_t i = 0; i < scan.ndue; i++)
        s_wait_over (self, scan.due[i], name, nodes, &failed);
    if (failed)
        hd_info ("%u task(s) for function '%s' failed: no worker that could run them came in "
                 "time", failed, name);
    free (scan.due);
    return scan.next_due;
}

void
hd_broker_wait_expire (hd_broker_t *self, int64_t now)
{
    for (uint32_t i = 0; i < self->nfnwait;) {
        hd_fnwait_t *w = &self->fnwait[i];
        if (now >= w->due_ms)
            w->due_ms = s_expire_fn (self, w->fn, now);
        if (w->due_ms == INT64_MAX)
            *w = self->fnwait[--self->nfnwait];  //  none of its tasks waits any more
        else
            i++;
    }
}
