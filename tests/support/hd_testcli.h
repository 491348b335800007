/*  hd_testcli: run the `heddle` command-line tool as a child process in integration tests: feed
    its standard input, capture its standard output and error, and wait a bounded time for its
    exit status. The child gets the test's environment without HEDDLE_BROKER and HEDDLE_KEYS, so
    a command given no --broker runs its embedded cluster. Also whole-file read and write for
    the inputs and key files such tests handle. It knows nothing of the commands.  */
#ifndef HD_TESTCLI_H
#define HD_TESTCLI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *out, *err;  //  captured stdout and stderr, each NUL-terminated (owned)
    size_t out_size, err_size;
    int code;        //  exit status; -1 when a signal ended it (or the timeout did)
    bool timed_out;  //  still running after timeout_ms, so it was killed
    double seconds;  //  wall time from start to exit
} hd_testcli_t;

//  Run HD_BIN_DIR "/heddle" with `args` (NULL-terminated, without the program's name) and
//  `input` on its standard input (NULL: empty), for at most timeout_ms. Fails the test
//  (cmocka) when the program cannot be started. Release the captures with hd_testcli_fini.
void hd_testcli_run (hd_testcli_t *self, const char *const *args, const void *input,
                     size_t input_size, int timeout_ms);
//  Free the captures. Harmless on a zeroed struct.
void hd_testcli_fini (hd_testcli_t *self);
//  Number of (non-overlapping) occurrences of needle in text.
size_t hd_testcli_count (const char *text, const char *needle);
//  Write size bytes to path (created or truncated). Fails the test on error.
void hd_testcli_write_file (const char *path, const void *data, size_t size);
//  The whole file, NUL-terminated, its length in *size (may be NULL); NULL when it cannot be
//  opened. Caller frees.
char *hd_testcli_read_file (const char *path, size_t *size);

#endif
