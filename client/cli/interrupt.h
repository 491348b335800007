/*  interrupt: Ctrl-C for every `heddle` command. The first SIGINT or SIGTERM sets the CLI's
    only global, which libheddle's waits read through hd_client_config_t.interrupt: a running
    job is cancelled, what has come back is written, and the command reports what was done,
    failed and cancelled. A second signal ends the process at once. czmq's own handler is kept
    out, so an embedded cluster's broker and workers keep serving while a command winds down.  */
#ifndef HD_CLI_INTERRUPT_H
#define HD_CLI_INTERRUPT_H

#include <signal.h>

//  0, or the number of the first SIGINT/SIGTERM received.
extern volatile sig_atomic_t hd_cli_interrupted;

//  Install the handlers. Call first thing in main, before any socket exists (czmq installs its
//  own with its first socket unless told not to).
void hd_cli_interrupt_catch (void);
//  The exit status for an interrupted command (128 + the signal), or 0 when none came.
int hd_cli_interrupt_code (void);

#endif
