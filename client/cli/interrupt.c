/*  interrupt: the CLI's signal handling (interrupt.h). The handler does only what is safe in a
    signal handler: set the flag, or write(2) one line and _exit(2) on the second signal.  */
#include "interrupt.h"

#include <czmq.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t hd_cli_interrupted;

static void
s_on_signal (int sig)
{
    if (hd_cli_interrupted) {
        static const char msg[] = "\nheddle: interrupted again: exiting now\n";
        ssize_t n = write (STDERR_FILENO, msg, sizeof msg - 1);
        (void) n;
        _exit (128 + sig);
    }
    hd_cli_interrupted = sig;
}

void
hd_cli_interrupt_catch (void)
{
    //  NULL: czmq neither installs its handler now nor at its first socket, so zsys_interrupted
    //  stays 0 and the embedded cluster's loops (which stop on it) keep running.
    zsys_handler_set (NULL);
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
}

int
hd_cli_interrupt_code (void)
{
    return hd_cli_interrupted ? 128 + hd_cli_interrupted : 0;
}
