/*  hd-gearman-worker: the Gearman reference worker. Registers "echo" with a gearmand on loopback
    and returns each job's workload as its result, one job at a time (Gearman's own model), until
    its time limit or a signal. Knows nothing of heddle.  */
#include <getopt.h>
#include <libgearman/gearman.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define S_PROG "hd-gearman-worker"
#define S_WAIT_MS 200  //  gearman_worker_work returns this often when idle, to see the clock

typedef struct {
    const char *host;
    uint32_t port, limit_s;
    uint64_t handled;
} s_worker_t;

//  libgearman frees the returned buffer after sending it.
static void *
s_echo (gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret_ptr)
{
    s_worker_t *self = context;
    size_t size = gearman_job_workload_size (job);
    void *out = malloc (size ? size : 1);
    if (!out) {
        *ret_ptr = GEARMAN_WORK_FAIL;
        return NULL;
    }
    if (size)
        memcpy (out, gearman_job_workload (job), size);
    *result_size = size;
    *ret_ptr = GEARMAN_SUCCESS;
    self->handled++;
    return out;
}

static int
s_loop (s_worker_t *self, gearman_worker_st *gw)
{
    double deadline = hd_bench_now () + self->limit_s;
    while (!hd_bench_interrupted && hd_bench_now () < deadline) {
        gearman_return_t rc = gearman_worker_work (gw);
        if (rc == GEARMAN_SUCCESS || rc == GEARMAN_TIMEOUT || rc == GEARMAN_IO_WAIT ||
            rc == GEARMAN_NO_JOBS)
            continue;
        //  gearmand not there yet, or gone: libgearman reconnects on the next call. The pause
        //  keeps a worker without a server from spinning.
        if (rc == GEARMAN_COULD_NOT_CONNECT || rc == GEARMAN_LOST_CONNECTION ||
            rc == GEARMAN_NO_ACTIVE_FDS) {
            poll (NULL, 0, 50);
            continue;
        }
        fprintf (stderr, S_PROG ": %s\n", gearman_worker_error (gw));
        return 1;
    }
    return 0;
}

static int
s_run (s_worker_t *self)
{
    gearman_worker_st *gw = gearman_worker_create (NULL);
    if (!gw)
        return 1;
    int code = 1;
    if (gearman_failed (gearman_worker_add_server (gw, self->host, (in_port_t) self->port)) ||
        gearman_failed (gearman_worker_add_function (gw, "echo", 0, s_echo, self)))
        fprintf (stderr, S_PROG ": %s\n", gearman_worker_error (gw));
    else {
        gearman_worker_set_timeout (gw, S_WAIT_MS);
        code = s_loop (self, gw);
        fprintf (stderr, S_PROG ": handled %llu\n", (unsigned long long) self->handled);
    }
    gearman_worker_free (gw);
    return code;
}

static void
s_help (void)
{
    printf ("Usage: " S_PROG " [OPTIONS]\n"
            "Offer the 'echo' function to a gearmand on loopback until the time limit.\n\n"
            "  -H, --host HOST         gearmand address, loopback only (default 127.0.0.1)\n"
            "  -p, --port PORT         gearmand port (default 4730)\n"
            "      --time-limit S      stop after S seconds (default %d)\n"
            "  -h, --help              this text\n",
            HD_BENCH_DEFAULT_LIMIT_S);
}

int
main (int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "time-limit", required_argument, NULL, 'L' },
        { NULL, 0, NULL, 0 },
    };
    s_worker_t self = { .host = "127.0.0.1", .port = 4730, .limit_s = HD_BENCH_DEFAULT_LIMIT_S };
    int c, bad = 0;
    while (!bad && (c = getopt_long (argc, argv, "hH:p:", longopts, NULL)) != -1) {
        if (c == 'h') {
            s_help ();
            return 0;
        }
        if (c == 'H')
            self.host = optarg;
        else if (c == 'p')
            bad = hd_bench_parse_u32 (S_PROG, "--port", optarg, 1, 65535, &self.port);
        else if (c == 'L')
            bad = hd_bench_parse_u32 (S_PROG, "--time-limit", optarg, 1, 86400, &self.limit_s);
        else
            bad = -1;
    }
    char endpoint[300];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", self.host, self.port);
    if (bad || optind < argc || !hd_bench_is_local (endpoint)) {
        fprintf (stderr, S_PROG ": bad argument, or %s is not on loopback (try --help)\n",
                 endpoint);
        return 2;
    }
    hd_bench_catch_signals ();
    return s_run (&self);
}
