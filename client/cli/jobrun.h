/*  jobrun: what `map`, `submit` and `results` share for detached jobs (hd_detached_t): a job's
    inputs held in memory (fed by the splitter), the loop that submits the tasks whose results
    the broker has not stored yet and gathers every result from its result store, and the way a
    result is written to stdout (the separator of --sep / --raw). It knows nothing of options.  */
#ifndef HD_CLI_JOBRUN_H
#define HD_CLI_JOBRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hd_buf.h"
#include "hd_client.h"

//  The inputs of a job, back to back: input i is data[offsets[i] .. offsets[i + 1]).
typedef struct {
    hd_buf_t data;
    size_t *offsets;
    uint64_t count, cap;
} hd_cli_inputs_t;

void hd_cli_inputs_init (hd_cli_inputs_t *self);
void hd_cli_inputs_fini (hd_cli_inputs_t *self);
//  Append one input (an hd_split callback: arg is the hd_cli_inputs_t). HD_OK or HD_ENOMEM.
hd_err_t hd_cli_inputs_add (const void *piece, size_t size, void *arg);

//  What is written after each result: `given` false means a newline unless the result ends
//  with one (the default of map and results).
typedef struct {
    bool given;
    char text[64];
    size_t len;
} hd_cli_sep_t;

//  --sep STR with C-style escapes (\n \t \0 \r \\). 0, or -1 when longer than 64 bytes.
int hd_cli_sep_parse (hd_cli_sep_t *self, const char *text);
//  The option handler map and results share: --sep TEXT, or --raw when text is NULL (nothing
//  after each result). 0, or -1 with the reason in err.
int hd_cli_sep_option (hd_cli_sep_t *self, const char *text, char *err, size_t errlen);
//  A result's output and the separator.
void hd_cli_write_result (FILE *out, const hd_reply_t *reply, const hd_cli_sep_t *sep);

//  One run of a detached job: submit what is missing (all of it for a new job), then gather
//  every result (on_result) unless submit_only, where it returns once the broker has ACCEPTED
//  every task (on_result then gets the tasks it refused instead, counted in stats.failed). Ctrl-C (the client's interrupt flag) or hd_cli_jobrun_cancel cancel the job at
//  the broker: what came back is handed out (ordered: in index order, gaps skipped).
typedef struct {
    hd_detached_t *job;
    const hd_cli_inputs_t *inputs;
    hd_gather_t gather;
    uint32_t window;              //  tasks submitted and not yet read back, at most
    bool submit_only;
    hd_job_result_fn *on_result;  //  each result, borrowed for the call
    hd_job_progress_fn *on_progress;  //  at most every 100 ms
    void *arg;
    hd_job_stats_t stats;         //  tasks, done (results handed out), failed, cancelled, seconds
    bool cancelling, cancel_sent;
    uint64_t skipped;             //  tasks whose results were stored before this run (resume)
} hd_cli_jobrun_t;

//  HD_OK when every task has a result (or, cancelled, once the job has wound down), else the
//  error that stopped it (hd_client_last_error of the job's client says more).
hd_err_t hd_cli_jobrun (hd_cli_jobrun_t *self);
//  Cancel (callable from on_result, e.g. at the first failure).
void hd_cli_jobrun_cancel (hd_cli_jobrun_t *self);

//  "1d 2h", "3h 05m", "4m 10s", "12s" for a duration in seconds (negative: "-").
void hd_cli_duration (char *out, size_t len, double seconds);
//  Parse a duration for --ttl: N with an optional unit s, m, h, d (no unit: seconds), within
//  [1, max_s]. 0, or -1.
int hd_cli_parse_duration (const char *text, uint32_t max_s, uint32_t *out);

#endif
