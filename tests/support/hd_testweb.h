/*  hd_testweb: helpers for the web endpoint's integration tests: run an outside program
    (curl, promtool, chromium, python3) through the shell with a time bound and capture what it
    prints, require such a program with a clear message naming its install group, and wait for
    the broker's published state to show a figure. It knows nothing of the broker's code.  */
#ifndef HD_TESTWEB_H
#define HD_TESTWEB_H

#include <stdbool.h>
#include <stdint.h>

//  Run `sh -c COMMAND` under `timeout SECONDS`; *out (may be NULL) gets stdout and stderr
//  together, NUL-terminated (caller frees). Returns the exit status (124: timed out; -1: could
//  not run). Fails the test when the shell cannot be started.
int hd_testweb_sh (char **out, int timeout_s, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Fail the test unless `program` is on PATH, naming the Debian package and install group.
void hd_testweb_require (const char *program, const char *package);
//  GET http://EP/PATH with curl; returns the body (caller frees); fails the test on a transport
//  error or when the HTTP status differs from want_status.
char *hd_testweb_get (const char *ep, const char *path, int want_status);
//  Poll /api/state until `"completed":N` with N >= want (up to 10 s); fails the test otherwise.
void hd_testweb_wait_completed (const char *ep, uint64_t want);

#endif
