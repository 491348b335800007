/*  cmd_top: `heddle top`: a live view of the cluster, redrawn every --interval ms: the node
    table (nodetable.h), a cluster line (rate, queued, running, done, failed) from the broker's
    last "stats" event, and its last node events. Without events (embedded cluster, events
    port closed) the cluster line is worked out from the NODES counters instead. On a terminal
    the screen is cleared before each frame and every line fits its width; elsewhere frames
    follow one another. A broker that stops answering (restarted, unreachable) is shown as
    such, with the last table, until it answers again: top does not exit for it.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "interrupt.h"
#include "nodetable.h"

#define S_CMD "top"
#define S_DEFAULT_INTERVAL_MS 1000
#define S_DEFAULT_EVENTS_PORT 7703
#define S_LOG_LINES 5
#define S_STATS_FRESH_S 3.0  //  a "stats" event older than this is not shown

typedef struct {
    uint32_t interval_ms, iterations, events_port;
} s_args_t;

typedef struct {
    const char *broker;  //  shown in the title
    bool tty;
    hd_events_t *events;  //  NULL: none (events_why says why)
    char events_why[256];
    hd_event_info_t stats;
    double stats_at;  //  0: no stats event yet
    char log[S_LOG_LINES][400];
    uint32_t nlog;
    uint64_t prev_total;  //  done + failed at the previous frame (fallback rate)
    double prev_at;       //  0: no previous frame
    int width;            //  terminal columns (0: not a terminal, no limit)
    hd_node_info_t *nodes;  //  the last node list the broker gave (shown while it is away)
    uint32_t count;
    char away[300];       //  "" or why the broker did not answer the last NODES
    double away_since;
} s_top_t;

#define S_XSTR(x) #x
#define S_STR(x) S_XSTR (x)

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "Options:", .kind = HD_OPTS_HEADING },
    { .name = "interval", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 100,
      .max = 3600000, .help = "time between frames", .offset = offsetof (s_args_t, interval_ms) },
    { .name = "iterations", .kind = HD_OPTS_UINT, .meta = "N", .min = 0, .max = UINT32_MAX,
      .help = "draw N frames, then exit (0: until Ctrl-C)",
      .offset = offsetof (s_args_t, iterations) },
    { .name = "events-port", .kind = HD_OPTS_UINT, .meta = "PORT", .min = 1, .max = 65535,
      .help = "the broker's events port, on the broker's host",
      .offset = offsetof (s_args_t, events_port) },
    HD_CLI_HELP_OPT,
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle top",
    .usage = "heddle top [OPTIONS]",
    .summary = "Show the cluster live: the nodes table of 'heddle nodes', a cluster line "
               "'tasks/s: R  queued Q  running N  done D  failed F' and the last "
               S_STR (S_LOG_LINES) " node events (joined, left, lost, draining, resumed, hot). "
               "Redrawn every --interval ms until Ctrl-C. Events come from the broker's events "
               "port; without them the cluster line is computed from the nodes' counters (queued "
               "is then '-').",
    .epilog = "Exit status: 0 stopped by Ctrl-C or after --iterations; 1 the broker could not be "
              "reached at start; 2 bad usage. Once running, top waits for a broker that stops "
              "answering (a restart) and shows it is away.\n",
    .opts = s_opts,
};

//  Parse argv into common and *a. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, int argc, char **argv, s_args_t *a)
{
    const s_args_t defaults = { S_DEFAULT_INTERVAL_MS, 0, S_DEFAULT_EVENTS_PORT };
    int first;
    int code = hd_cli_parse (common, &s_prog, a, &defaults, 0, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first < argc)
        return hd_cli_usage (S_CMD, "unexpected argument '%s'", argv[first]);
    return -1;
}

static void
s_open_events (s_top_t *top, const hd_cli_common_t *common, const s_args_t *a)
{
    if (!common->broker) {
        snprintf (top->events_why, sizeof top->events_why, "embedded cluster: no events");
        return;
    }
    hd_client_config_t config;
    hd_cli_client_config (common, &config);
    if (hd_events_open (&config, (uint16_t) a->events_port, &top->events, top->events_why,
                        sizeof top->events_why) != HD_OK)
        top->events = NULL;
}

//  One line of the events log (the oldest goes when it is full).
static void
s_log (s_top_t *top, const char *node, const char *state, const char *text)
{
    if (top->nlog == S_LOG_LINES) {
        memmove (top->log[0], top->log[1], sizeof top->log[0] * (S_LOG_LINES - 1));
        top->nlog--;
    }
    char when[16];
    time_t now = time (NULL);
    struct tm tm;
    strftime (when, sizeof when, "%H:%M:%S", localtime_r (&now, &tm));
    snprintf (top->log[top->nlog++], sizeof top->log[0], "%s  %-10.63s  %-9.15s  %.255s", when,
              node, state, text);
}

static void
s_on_event (s_top_t *top, const hd_event_info_t *e)
{
    if (strcmp (e->type, "stats") == 0) {
        top->stats = *e;
        top->stats_at = hd_cli_now ();
        return;
    }
    s_log (top, e->node, e->state, e->text);
}

//  Wait ms, taking in events meanwhile (a wait on sockets, woken by Ctrl-C).
static void
s_wait (s_top_t *top, hd_client_t *client, uint32_t ms)
{
    double deadline = hd_cli_now () + ms / 1000.0;
    for (int left = (int) ms; left > 0 && !hd_cli_interrupted;
         left = (int) ((deadline - hd_cli_now ()) * 1000.0)) {
        hd_event_info_t e;
        int step = left < 100 ? left : 100;  //  Ctrl-C is seen within 100 ms
        if (!top->events)
            hd_client_process (client, step, NULL);
        else if (hd_events_next (top->events, step, &e) == HD_OK)
            s_on_event (top, &e);
    }
}

//  One line of the frame, cut to the terminal's width so that it never wraps.
static void s_line (const s_top_t *top, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_line (const s_top_t *top, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    printf ("%.*s\n", top->width > 0 ? top->width : (int) sizeof line, line);
}

static void
s_cluster_line (s_top_t *top)
{
    double now = hd_cli_now ();
    if (top->stats_at && now - top->stats_at < S_STATS_FRESH_S) {
        const hd_event_info_t *s = &top->stats;
        s_line (top, "tasks/s: %.1f  queued %llu  running %llu  done %llu  failed %llu", s->rate,
                (unsigned long long) s->queued, (unsigned long long) s->running,
                (unsigned long long) s->done, (unsigned long long) s->failed);
        return;
    }
    uint64_t done = 0, failed = 0, running = 0;
    for (uint32_t i = 0; i < top->count; i++) {
        const hd_node_info_t *n = &top->nodes[i];
        done += n->done;
        failed += n->failed;
        running += n->busy < n->slots ? n->busy : n->slots;
    }
    char rate[32] = "-";
    if (top->prev_at && now > top->prev_at && done + failed >= top->prev_total && !top->away[0])
        snprintf (rate, sizeof rate, "%.1f",
                  (double) (done + failed - top->prev_total) / (now - top->prev_at));
    top->prev_total = done + failed;
    top->prev_at = now;
    s_line (top, "tasks/s: %s  queued -  running %llu  done %llu  failed %llu", rate,
            (unsigned long long) running, (unsigned long long) done, (unsigned long long) failed);
}

static void
s_draw (s_top_t *top, uint32_t interval_ms)
{
    char when[16];
    time_t now = time (NULL);
    struct tm tm;
    strftime (when, sizeof when, "%H:%M:%S", localtime_r (&now, &tm));
    if (top->tty) {
        top->width = hd_cli_term_width (STDOUT_FILENO);  //  follows a resized window
        fputs ("\033[H\033[2J", stdout);                 //  cursor home, clear screen
    }
    s_line (top, "heddle top: %s  %u node%s  every %u ms  %s", top->broker, top->count,
            top->count == 1 ? "" : "s", interval_ms, when);
    if (top->away[0])
        s_line (top, "broker not answering for %.0f s (%s): retrying; the table is the last "
                "one it gave", hd_cli_now () - top->away_since, top->away);
    putchar ('\n');
    hd_cli_nodes_table_fit (stdout, top->nodes, top->count, top->width);
    putchar ('\n');
    s_cluster_line (top);
    putchar ('\n');
    s_line (top, "events:%s%s", top->events ? "" : " unavailable: ",
            top->events ? "" : top->events_why);
    for (uint32_t i = 0; i < top->nlog; i++)
        s_line (top, "  %s", top->log[i]);
    if (!top->tty)
        putchar ('\n');
    fflush (stdout);
}

//  Ask for the nodes; on failure keep the last list and say why (the broker may be restarting:
//  the client reconnects on its own, and the next frame asks again).
static void
s_refresh (s_top_t *top, hd_client_t *client)
{
    hd_node_info_t *nodes = NULL;
    uint32_t count = 0;
    if (hd_client_nodes (client, &nodes, &count) != HD_OK) {
        if (!top->away[0])
            top->away_since = hd_cli_now ();
        snprintf (top->away, sizeof top->away, "%s", hd_client_last_error (client));
        return;
    }
    hd_cli_nodes_sort (nodes, count);
    free (top->nodes);
    top->nodes = nodes;
    top->count = count;
    if (top->away[0]) {
        char text[64];
        snprintf (text, sizeof text, "answering again after %.0f s",
                  hd_cli_now () - top->away_since);
        s_log (top, "(broker)", "back", text);
    }
    top->away[0] = 0;
}

static int
s_loop (s_top_t *top, hd_client_t *client, const s_args_t *a)
{
    for (uint32_t frame = 0; !hd_cli_interrupted; frame++) {
        s_refresh (top, client);
        if (hd_cli_interrupted)
            break;
        s_draw (top, a->interval_ms);
        if (a->iterations && frame + 1 >= a->iterations)
            break;
        s_wait (top, client, a->interval_ms);
    }
    return HD_CLI_EXIT_OK;
}

int
hd_cmd_top (hd_cli_common_t *common, int argc, char **argv)
{
    s_args_t a = { S_DEFAULT_INTERVAL_MS, 0, S_DEFAULT_EVENTS_PORT };
    int code = s_parse (common, argc, argv, &a);
    if (code >= 0)
        return code;
    hd_cli_common_finish (common);
    hd_cli_conn_t conn;
    if ((code = hd_cli_connect (common, 0, &conn)) != HD_CLI_EXIT_OK)
        return code;
    s_top_t top = { .broker = common->broker ? common->broker : "embedded cluster",
                    .tty = isatty (STDOUT_FILENO),
                    .width = hd_cli_term_width (STDOUT_FILENO) };
    s_open_events (&top, common, &a);
    code = s_loop (&top, conn.client, &a);
    free (top.nodes);
    hd_events_destroy (&top.events);
    hd_cli_disconnect (&conn);
    return code;
}
