/*  progress: the bar is drawn with '\r' and erased with ESC[K so it never leaves a trail in the
    terminal, and is kept under 80 columns so it does not wrap.  */
#include "progress.h"

#include <stdio.h>

#include "common.h"

#define S_BAR_WIDTH 24

void
hd_cli_progress_init (hd_cli_progress_t *self, bool enabled)
{
    self->enabled = enabled;
    self->drawn = false;
    self->last_draw = 0.0;
}

//  "1:05" or "2:03:04"; "?" when unknown.
static void
s_format_eta (char *buf, size_t size, double seconds)
{
    if (seconds < 0 || seconds > 360000.0) {
        snprintf (buf, size, "?");
        return;
    }
    unsigned long s = (unsigned long) (seconds + 0.5);
    if (s >= 3600)
        snprintf (buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf (buf, size, "%lu:%02lu", s / 60, s % 60);
}

static void
s_draw (uint64_t done, uint64_t total, double seconds)
{
    double share = total ? (double) done / (double) total : 0.0;
    char bar[S_BAR_WIDTH + 1];
    int filled = (int) (share * S_BAR_WIDTH);
    for (int i = 0; i < S_BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[S_BAR_WIDTH] = '\0';
    double rate = seconds > 0 ? (double) done / seconds : 0.0;
    char eta[32];
    s_format_eta (eta, sizeof eta, rate > 0 ? (double) (total - done) / rate : -1.0);
    fprintf (stderr, "\r[%s] %llu/%llu %3.0f%% %.0f tasks/s ETA %s\033[K", bar,
             (unsigned long long) done, (unsigned long long) total, share * 100.0, rate, eta);
    fflush (stderr);
}

void
hd_cli_progress_update (hd_cli_progress_t *self, uint64_t done, uint64_t total, double seconds)
{
    if (!self->enabled)
        return;
    double now = hd_cli_now ();
    if (self->drawn && now - self->last_draw < HD_CLI_PROGRESS_PERIOD)
        return;
    s_draw (done, total, seconds);
    self->drawn = true;
    self->last_draw = now;
}

void
hd_cli_progress_clear (hd_cli_progress_t *self)
{
    if (!self->drawn)
        return;
    fputs ("\r\033[K", stderr);
    fflush (stderr);
    self->drawn = false;
}
