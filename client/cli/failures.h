/*  failures: how `map` and `bench` report failed tasks without flooding stderr. The first few
    are printed one by one with their index; the rest are only counted, grouped by status and
    error text, and summed up at the end ("9995 more failed: UNKNOWN_FN: no worker offers ...").
    It knows nothing of clients or tasks beyond a status and a text.  */
#ifndef HD_CLI_FAILURES_H
#define HD_CLI_FAILURES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HD_CLI_FAILURES_SHOWN 5   //  printed one by one
#define HD_CLI_FAILURES_GROUPS 8  //  distinct reasons counted; the rest are "other"

typedef struct {
    uint32_t status;
    char error[200];
    uint64_t count;
} hd_cli_failure_group_t;

typedef struct {
    uint64_t total;   //  every failure seen
    uint64_t others;  //  hidden failures that fit no group
    uint32_t ngroups;
    hd_cli_failure_group_t groups[HD_CLI_FAILURES_GROUPS];
} hd_cli_failures_t;

void hd_cli_failures_init (hd_cli_failures_t *self);
//  Count one failure. true when the caller should print it (one of the first
//  HD_CLI_FAILURES_SHOWN); else it is counted under its reason for hd_cli_failures_report.
bool hd_cli_failures_add (hd_cli_failures_t *self, uint32_t status, const char *error);
//  "heddle CMD: N more failed: STATUS: ERROR" per reason of the failures not printed, and one
//  line for the others. Nothing when every failure was printed.
void hd_cli_failures_report (const hd_cli_failures_t *self, const char *cmd, FILE *out);

#endif
