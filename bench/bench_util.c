/*  bench_util: shared helpers of the bench/ programs. The JSON keys and number formats follow
    client/cli/cmd_bench.c (s_print_json) so one parser reads heddle, raw and Gearman runs.  */
#include "bench_util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile int hd_bench_interrupted = 0;

double
hd_bench_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
hd_bench_parse_u32 (const char *prog, const char *opt, const char *arg, uint32_t min, uint32_t max,
                    uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull (arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
        fprintf (stderr, "%s: %s wants %u to %u, not '%s'\n", prog, opt, min, max, arg);
        return -1;
    }
    *out = (uint32_t) v;
    return 0;
}

static void
s_on_signal (int sig)
{
    (void) sig;
    hd_bench_interrupted = 1;
}

void
hd_bench_catch_signals (void)
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
}

bool
hd_bench_is_local (const char *endpoint)
{
    static const char *const local[] = { "tcp://127.",
                                         "tcp://localhost:", "tcp://[::1]:", "ipc://" };
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (strncmp (endpoint, local[i], strlen (local[i])) == 0)
            return true;
    return false;
}

void
hd_bench_tally (hd_bench_report_t *self, const char *node, size_t len)
{
    if (len == 0) {
        node = "-";
        len = 1;
    }
    if (len >= HD_BENCH_NODE_NAME)
        len = HD_BENCH_NODE_NAME - 1;
    for (size_t i = 0; i < self->node_count; i++)
        if (strlen (self->nodes[i].name) == len && memcmp (self->nodes[i].name, node, len) == 0) {
            self->nodes[i].count++;
            return;
        }
    if (self->node_count >= HD_BENCH_MAX_NODES) {
        //  The last slot gathers every name past the first HD_BENCH_MAX_NODES.
        hd_bench_node_t *other = &self->nodes[HD_BENCH_MAX_NODES];
        snprintf (other->name, sizeof other->name, "other");
        other->count++;
        self->node_count = HD_BENCH_MAX_NODES + 1;
        return;
    }
    hd_bench_node_t *slot = &self->nodes[self->node_count++];
    memcpy (slot->name, node, len);
    slot->name[len] = '\0';
    slot->count = 1;
}

//  Node names come from the network: print only safe characters.
static void
s_json_string (FILE *out, const char *text)
{
    fputc ('"', out);
    for (const char *p = text; *p; p++)
        fputc ((*p == '"' || *p == '\\' || (unsigned char) *p < 0x20) ? '?' : *p, out);
    fputc ('"', out);
}

static double
s_ms (const hd_hist_t *hist, double p)
{
    return (double) hd_hist_percentile (hist, p) / 1000.0;
}

static void
s_print_latency (const hd_hist_t *hist, FILE *out)
{
    fprintf (out,
             "\"latency_ms\": {\"min\": %.3f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
             "\"p99_9\": %.3f, \"max\": %.3f, \"mean\": %.3f}",
             s_ms (hist, 0), s_ms (hist, 50), s_ms (hist, 90), s_ms (hist, 99), s_ms (hist, 99.9),
             s_ms (hist, 100), hd_hist_mean (hist) / 1000.0);
}

void
hd_bench_report_json (const hd_bench_report_t *self, FILE *out)
{
    double rate = self->seconds > 0 ? (double) self->received / self->seconds : 0.0;
    fprintf (out, "{\"fn\": ");
    s_json_string (out, self->fn);
    fprintf (out, ", \"tasks\": %u, \"size\": %u, \"window\": %u, \"broker\": ", self->tasks,
             self->size, self->window);
    s_json_string (out, self->broker);
    fprintf (out, ", \"workers\": 0, \"seconds\": %.6f, \"tasks_per_s\": %.1f, \"failed\": %llu, ",
             self->seconds, rate, (unsigned long long) self->failed);
    s_print_latency (self->hist, out);
    fprintf (out, ", \"per_node\": {");
    for (size_t i = 0; i < self->node_count; i++) {
        fprintf (out, "%s", i ? ", " : "");
        s_json_string (out, self->nodes[i].name);
        fprintf (out, ": %llu", (unsigned long long) self->nodes[i].count);
    }
    fprintf (out, "}}\n");
}
