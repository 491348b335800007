/*  progress: a one-line progress bar on stderr (done/total, percent, rate, ETA), redrawn in
    place at most every 100 ms. It draws only when enabled, which callers decide (stderr is a
    terminal and the user did not ask for quiet). It knows nothing of tasks or clients.  */
#ifndef HD_CLI_PROGRESS_H
#define HD_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool enabled;
    bool drawn;        //  a bar is on screen and must be erased before other output
    double last_draw;  //  hd_cli_now () of the last redraw
} hd_cli_progress_t;

#define HD_CLI_PROGRESS_PERIOD 0.1  //  seconds between redraws at most

void hd_cli_progress_init (hd_cli_progress_t *self, bool enabled);
//  Redraw with `done` of `total` finished after `seconds`, unless the last redraw is too recent.
void hd_cli_progress_update (hd_cli_progress_t *self, uint64_t done, uint64_t total,
                             double seconds);
//  Erase the bar (before printing anything else on stderr); the next update draws it again.
void hd_cli_progress_clear (hd_cli_progress_t *self);

#endif
