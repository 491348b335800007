/*  jobrun: inputs in memory, the submit-and-gather loop of a detached job, the result writer
    (jobrun.h). The loop bounds what it holds as hd_client_job_run does: in ORDERED mode a task
    is submitted only within `window` of the next index to hand out.  */
#include "jobrun.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "interrupt.h"

#define S_CANCEL_WAIT_S 0.5   //  interrupted: wait this long for the cancelled tasks' answers
#define S_STOP_WAIT_S 10.0    //  --fail-fast: likewise (no one is waiting at the keyboard)

void
hd_cli_inputs_init (hd_cli_inputs_t *self)
{
    memset (self, 0, sizeof *self);
}

void
hd_cli_inputs_fini (hd_cli_inputs_t *self)
{
    hd_buf_fini (&self->data);
    free (self->offsets);
    memset (self, 0, sizeof *self);
}

hd_err_t
hd_cli_inputs_add (const void *piece, size_t size, void *arg)
{
    hd_cli_inputs_t *self = arg;
    if (self->count + 1 >= self->cap) {
        uint64_t cap = self->cap ? self->cap * 2 : 1024;
        size_t *o = realloc (self->offsets, (cap + 1) * sizeof *o);
        if (!o)
            return HD_ENOMEM;
        if (!self->offsets)
            o[0] = 0;
        self->offsets = o;
        self->cap = cap;
    }
    hd_err_t rc = hd_buf_append (&self->data, piece, size);
    if (rc == HD_OK)
        self->offsets[++self->count] = self->data.size;
    return rc;
}

int
hd_cli_sep_parse (hd_cli_sep_t *self, const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            const char *from = "nt0r\\", *to = "\n\t\0\r\\";
            const char *hit = strchr (from, p[1]);
            if (hit) {
                c = to[hit - from];
                p++;
            }
        }
        if (n == sizeof self->text)
            return -1;
        self->text[n++] = c;
    }
    self->len = n;
    self->given = true;
    return 0;
}

int
hd_cli_sep_option (hd_cli_sep_t *self, const char *text, char *err, size_t errlen)
{
    if (!text) {
        self->given = true;
        self->len = 0;
        return 0;
    }
    if (hd_cli_sep_parse (self, text) == 0)
        return 0;
    snprintf (err, errlen, "at most %zu bytes", sizeof self->text);
    return -1;
}

void
hd_cli_write_result (FILE *out, const hd_reply_t *reply, const hd_cli_sep_t *sep)
{
    const char *data = reply->data;
    fwrite (data, 1, reply->size, out);
    if (sep->given)
        fwrite (sep->text, 1, sep->len, out);
    else if (reply->size == 0 || data[reply->size - 1] != '\n')
        fputc ('\n', out);
}

void
hd_cli_jobrun_cancel (hd_cli_jobrun_t *self)
{
    self->cancelling = true;
}

//  Submit what the window allows, and send it. HD_EFULL from the client (too many tasks not
//  yet ACCEPTED) only means "later".
static hd_err_t
s_submit_more (hd_cli_jobrun_t *self, uint64_t *next)
{
    const hd_cli_inputs_t *in = self->inputs;
    while (*next < in->count
           && (self->submit_only || hd_detached_out (self->job) < self->window)
           && (self->submit_only || self->gather == HD_GATHER_COMPLETED
               || *next < hd_detached_returned (self->job) + self->window)) {
        uint64_t i = *next;
        hd_err_t rc = hd_detached_submit (self->job, i, in->data.data + in->offsets[i],
                                          in->offsets[i + 1] - in->offsets[i]);
        if (rc == HD_EFULL)
            break;  //  but what is queued must leave, or no ACCEPTED ever frees the window
        if (rc != HD_OK)
            return rc;
        (*next)++;
    }
    return hd_client_flush (hd_detached_client (self->job));
}

static void
s_emit (hd_cli_jobrun_t *self, hd_reply_t *reply)
{
    self->stats.done++;
    if (reply->status != 0)
        self->stats.failed++;
    if (self->on_result)
        self->on_result (reply, self->arg);
    hd_reply_destroy (&reply);
}

//  Cancel at the broker once, then hand out what comes back within `wait_s`.
static hd_err_t
s_wind_down (hd_cli_jobrun_t *self, double wait_s)
{
    if (!self->cancel_sent) {
        self->cancel_sent = true;
        hd_err_t rc = hd_detached_cancel (self->job);
        if (rc != HD_OK)
            return rc;
    }
    double end = hd_cli_now () + wait_s;
    hd_reply_t *reply;
    hd_err_t rc = HD_OK;
    while (rc != HD_ENOTFOUND) {
        if (hd_cli_now () >= end)
            hd_detached_drain (self->job);
        rc = hd_detached_next (self->job, self->gather, 100, &reply);
        if (rc == HD_OK)
            s_emit (self, reply);
        else if (rc != HD_ETIMEDOUT && rc != HD_ENOTFOUND && rc != HD_ECLOSED)
            return rc;  //  ECLOSED: interrupted, which is why we are here
    }
    return HD_OK;
}

static void
s_progress (hd_cli_jobrun_t *self, double start, double *last)
{
    double now = hd_cli_now ();
    self->stats.seconds = now - start;
    if (self->on_progress && now - *last >= 0.1) {
        self->on_progress (&self->stats, self->arg);
        *last = now;
    }
}

//  submit_only: every task sent. Once all are ACCEPTED, the ones the broker refused instead
//  (denied, cancelled; refusals for good are stored as results by the broker) are handed to
//  on_result: they have no result to wait for.
static hd_err_t
s_submitted (hd_cli_jobrun_t *self)
{
    hd_err_t rc = hd_detached_wait_accepted (self->job, -1);
    hd_reply_t *reply;
    while (rc == HD_OK && hd_detached_next (self->job, HD_GATHER_COMPLETED, 0, &reply) == HD_OK)
        s_emit (self, reply);
    return rc;
}

static hd_err_t
s_loop (hd_cli_jobrun_t *self, double start)
{
    hd_client_t *c = hd_detached_client (self->job);
    uint64_t next = 0;
    double last = 0;
    hd_err_t rc = HD_OK;
    while (rc == HD_OK && !self->cancelling && !hd_cli_interrupted) {
        rc = s_submit_more (self, &next);
        if (rc != HD_OK)
            break;
        if (self->submit_only) {
            if (next == self->inputs->count)
                return s_submitted (self);
            rc = hd_client_process (c, 100, NULL);
            continue;
        }
        hd_reply_t *reply;
        rc = hd_detached_next (self->job, self->gather, 100, &reply);
        if (rc == HD_OK)
            s_emit (self, reply);
        else if (rc == HD_ETIMEDOUT)
            rc = HD_OK;
        else if (rc == HD_ENOTFOUND)
            return HD_OK;
        s_progress (self, start, &last);
    }
    return rc;
}

hd_err_t
hd_cli_jobrun (hd_cli_jobrun_t *self)
{
    double start = hd_cli_now ();
    hd_job_info_t info;
    hd_detached_info (self->job, &info);
    memset (&self->stats, 0, sizeof self->stats);
    self->stats.tasks = info.total;
    hd_err_t rc = hd_detached_sync (self->job);  //  a resumed job: what is stored already
    for (uint64_t i = 0; i < self->inputs->count; i++)
        self->skipped += hd_detached_has (self->job, i);
    if (rc == HD_OK)
        rc = s_loop (self, start);
    bool interrupted = (rc == HD_ECLOSED || rc == HD_OK) && hd_cli_interrupted;
    if (interrupted || self->cancelling) {
        self->cancelling = true;
        rc = s_wind_down (self, interrupted ? S_CANCEL_WAIT_S : S_STOP_WAIT_S);
        self->stats.cancelled = self->stats.tasks - self->stats.done;
    }
    self->stats.seconds = hd_cli_now () - start;
    if (self->on_progress && rc == HD_OK)
        self->on_progress (&self->stats, self->arg);
    return rc;
}

void
hd_cli_duration (char *out, size_t len, double seconds)
{
    if (seconds < 0) {
        snprintf (out, len, "-");
        return;
    }
    unsigned long s = (unsigned long) (seconds + 0.5);
    if (s >= 86400)
        snprintf (out, len, "%lud %luh", s / 86400, s / 3600 % 24);
    else if (s >= 3600)
        snprintf (out, len, "%luh %02lum", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf (out, len, "%lum %02lus", s / 60, s % 60);
    else
        snprintf (out, len, "%lus", s);
}

int
hd_cli_parse_duration (const char *text, uint32_t max_s, uint32_t *out)
{
    if (!text || !*text)
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull (text, &end, 10);
    if (errno || end == text || text[0] == '-')
        return -1;
    unsigned long long unit = 1;
    if (*end) {
        const char *units = "smhd";
        const unsigned long long mult[] = { 1, 60, 3600, 86400 };
        const char *hit = strchr (units, *end);
        if (!hit || end[1])
            return -1;
        unit = mult[hit - units];
    }
    if (n == 0 || n > max_s / unit)
        return -1;
    *out = (uint32_t) (n * unit);
    return 0;
}
