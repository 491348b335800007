/*  hd_client_job: a job of many tasks of one function, run with a window of tasks in flight
    and gathered in submission order or as completed. In ORDERED mode a task is submitted only
    while it is within `window` of the oldest result not yet handed out, so the results held
    for reordering never exceed the window, whatever the job's size.  */
#include "hd_client_int.h"

struct hd_client_job {
    hd_client_t *client;
    char fn[HD_MAX_FN + 1];
    hd_task_opts_t opts;
    char tags[HD_MAX_TAGS * (HD_MAX_NAME + 1)], node[HD_MAX_NAME + 1];
    hd_buf_t data;         //  every input, back to back
    size_t *offsets;       //  offsets[i] .. offsets[i + 1] is input i
    uint64_t count, cap;
    hd_reply_t **held;     //  ORDERED: results waiting for their turn, by index % window
    hd_job_stats_t stats;
    bool cancelling;       //  hd_client_job_cancel was called (or the interrupt flag was set)
    bool cancel_sent;
    int64_t give_up_us;    //  interrupted: stop waiting for the cancelled tasks' answers then
};

hd_client_job_t *
hd_client_job_new (hd_client_t *client, const char *fn, const hd_task_opts_t *opts)
{
    hd_client_job_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->client = client;
    snprintf (self->fn, sizeof self->fn, "%s", fn ? fn : "");
    if (opts) {
        self->opts = *opts;
        snprintf (self->tags, sizeof self->tags, "%s", opts->tags ? opts->tags : "");
        snprintf (self->node, sizeof self->node, "%s", opts->node ? opts->node : "");
        self->opts.tags = opts->tags ? self->tags : NULL;
        self->opts.node = opts->node ? self->node : NULL;
    }
    self->offsets = calloc (1, sizeof *self->offsets);
    if (!self->offsets) {
        free (self);
        return NULL;
    }
    return self;
}

void
hd_client_job_destroy (hd_client_job_t **self_p)
{
    hd_client_job_t *self = *self_p;
    if (!self)
        return;
    hd_buf_fini (&self->data);
    free (self->offsets);
    free (self->held);
    free (self);
    *self_p = NULL;
}

hd_err_t
hd_client_job_add (hd_client_job_t *self, const void *data, size_t size)
{
    if (self->count + 1 >= self->cap) {
        uint64_t cap = self->cap ? self->cap * 2 : 1024;
        size_t *o = realloc (self->offsets, (cap + 1) * sizeof *o);
        if (!o)
            return HD_ENOMEM;
        self->offsets = o;
        self->cap = cap;
    }
    hd_err_t rc = hd_buf_append (&self->data, data, size);
    if (rc != HD_OK)
        return rc;
    self->offsets[++self->count] = self->data.size;
    return HD_OK;
}

void
hd_client_job_stats (const hd_client_job_t *self, hd_job_stats_t *out)
{
    *out = self->stats;
}

typedef struct {
    hd_client_job_t *job;
    hd_gather_t gather;
    hd_job_result_fn *fn;
    void *arg;
    uint64_t next_emit;
    uint32_t window;
} s_run_t;

static void
s_emit (s_run_t *run, hd_reply_t *reply)
{
    run->job->stats.done++;
    if (reply->status != 0)
        run->job->stats.failed++;
    if (run->fn)
        run->fn (reply, run->arg);
    hd_reply_destroy (&reply);
}

static void
s_on_reply (hd_client_t *client, hd_reply_t *reply, void *arg)
{
    (void) client;
    s_run_t *run = arg;
    if (run->gather == HD_GATHER_COMPLETED) {
        s_emit (run, reply);
        return;
    }
    hd_reply_t **held = run->job->held;
    held[reply->seq % run->window] = reply;
    while (run->next_emit < run->job->count && held[run->next_emit % run->window]) {
        hd_reply_t *next = held[run->next_emit % run->window];
        held[run->next_emit % run->window] = NULL;
        run->next_emit++;
        s_emit (run, next);
    }
}

void
hd_client_job_cancel (hd_client_job_t *self)
{
    self->cancelling = true;
}

//  A cancelled job: results still held for ordering go out in index order, gaps skipped.
static void
s_drain_held (s_run_t *run)
{
    for (uint64_t k = 0; k < run->window; k++) {
        hd_reply_t **slot = &run->job->held[(run->next_emit + k) % run->window];
        if (*slot) {
            s_emit (run, *slot);
            *slot = NULL;
        }
    }
}

static hd_err_t
s_submit_more (s_run_t *run, uint64_t *next_submit)
{
    hd_client_job_t *job = run->job;
    hd_client_t *c = job->client;
    if (!job->cancelling && hd_client_interrupted (c)) {
        job->cancelling = true;
        job->give_up_us = hd_client_now_us () + HD_CLIENT_CANCEL_WAIT_MS * 1000LL;
    }
    if (job->cancelling) {
        //  Every task of the job in flight (all the client's while the job runs): queued ones
        //  come back CANCELLED at once, running ones when their worker stops them.
        if (!job->cancel_sent)
            hd_client_cancel_all (c);
        job->cancel_sent = true;
        return hd_client_flush (c);
    }
    while (*next_submit < job->count && hd_client_in_flight (c) < run->window
           && (run->gather == HD_GATHER_COMPLETED || *next_submit < run->next_emit + run->window)) {
        uint64_t i = *next_submit;
        hd_err_t rc = hd_client_submit (c, job->fn, job->data.data + job->offsets[i],
                                        job->offsets[i + 1] - job->offsets[i], &job->opts, i, NULL);
        if (rc != HD_OK)
            return rc;
        (*next_submit)++;
    }
    return hd_client_flush (c);
}

hd_err_t
hd_client_job_run (hd_client_job_t *self, hd_gather_t gather, hd_job_result_fn *fn,
                   hd_job_progress_fn *progress, void *arg)
{
    s_run_t run = { self, gather, fn, arg, 0, self->client->config.window };
    free (self->held);
    self->held = calloc (run.window, sizeof *self->held);
    if (!self->held)
        return HD_ENOMEM;
    memset (&self->stats, 0, sizeof self->stats);
    self->stats.tasks = self->count;
    hd_client_set_handler (self->client, s_on_reply, &run);
    int64_t start = hd_client_now_us (), last_progress = 0;
    uint64_t next_submit = 0;
    hd_err_t rc = HD_OK;
    self->cancelling = self->cancel_sent = false;
    self->give_up_us = 0;
    while (rc == HD_OK && self->stats.done < self->count
           && !(self->cancelling && !hd_client_in_flight (self->client))
           && !(self->give_up_us && hd_client_now_us () >= self->give_up_us)) {
        rc = s_submit_more (&run, &next_submit);
        if (rc == HD_OK)
            rc = hd_client_process (self->client, 100, NULL);
        int64_t now = hd_client_now_us ();
        self->stats.seconds = (double) (now - start) / 1e6;
        if (progress && now - last_progress >= 100000) {
            progress (&self->stats, arg);
            last_progress = now;
        }
    }
    if (self->cancelling) {
        s_drain_held (&run);
        self->stats.cancelled = self->count - self->stats.done;
    }
    hd_client_set_handler (self->client, NULL, NULL);
    if (progress && rc == HD_OK)
        progress (&self->stats, arg);
    return rc;
}
