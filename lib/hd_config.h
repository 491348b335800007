/*  hd_config: the configuration file shared by heddle-broker, heddle-worker and `heddle`.
    An INI-like text: `[broker]`, `[worker]`, `[client]` sections of `key = value` lines whose
    keys are the programs' long options; `#` or `;` comment lines, and `#` after a space ends
    a value (write "..." to keep it). It parses the text into
    (section, key, value, line) entries and checks them against a table of known keys and value
    types. It knows nothing of what a key does: each program applies its own section.  */
#ifndef HD_CONFIG_H
#define HD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "hd_err.h"

#define HD_CONFIG_DEFAULT_PATH "/etc/heddle/heddle.conf"
#define HD_CONFIG_ENV "HEDDLE_CONFIG"

typedef struct hd_config hd_config_t;

//  One `key = value` line, in file order. Strings belong to the hd_config_t.
typedef struct {
    const char *section;  //  the last `[section]` above it, lower case as written
    const char *key;
    const char *value;  //  trimmed; may be empty
    int line;           //  1-based
} hd_config_entry_t;

//  Called by hd_config_check once per problem, in file order within each kind (syntax first).
typedef void (hd_config_report_fn) (const char *name, int line, const char *message, void *arg);

//  Parse `text` (a whole file's contents). `name` is the file name used in reports. Syntax
//  problems do not fail the parse: they are kept for hd_config_check. HD_OK with *out set
//  (caller destroys), or HD_ENOMEM.
hd_err_t hd_config_parse (hd_config_t **out, const char *text, const char *name);
//  Read and parse the file at `path`. HD_OK (caller destroys), HD_EIO when it cannot be read
//  (errno tells why), HD_ETOOBIG over 1 MiB, HD_ENOMEM.
hd_err_t hd_config_load (hd_config_t **out, const char *path);
//  NULL-safe; sets *self_p = NULL.
void hd_config_destroy (hd_config_t **self_p);

//  Entries in file order; index < hd_config_size. Borrowed, valid until destroy.
size_t hd_config_size (const hd_config_t *self);
const hd_config_entry_t *hd_config_entry (const hd_config_t *self, size_t index);
//  The value of the last `key` in `section`, or NULL. Borrowed.
const char *hd_config_get (const hd_config_t *self, const char *section, const char *key);
//  The file name given to parse or load. Borrowed.
const char *hd_config_name (const hd_config_t *self);

//  Report every syntax error, unknown section, unknown key and bad value through `report`
//  (may be NULL). Returns the number of problems; 0 means the whole file is valid.
size_t hd_config_check (const hd_config_t *self, hd_config_report_fn *report, void *arg);

//  Parse a boolean value: yes/no, true/false, on/off, 1/0. 0 on success, -1 otherwise.
int hd_config_parse_bool (const char *text, bool *out);

//  Apply the entries of `section` as if their keys were the long options in `opts` (a getopt
//  `struct option` table ending with a zeroed entry): option(val, arg or NULL, ctx) for each, in
//  file order; a boolean option whose value is false is skipped (the default). 0, or -1 after
//  printing "PROG: (FILE:LINE)" for the entry that option() refused.
struct option;
int hd_config_apply (const hd_config_t *self, const char *section, const struct option *opts,
                     int (*option) (int val, const char *arg, void *ctx), void *ctx,
                     const char *prog);

//  The file a program should read, from its argv (`--config FILE`, `--config=FILE`, scanned up
//  to a `--`), else $HEDDLE_CONFIG, else HD_CONFIG_DEFAULT_PATH. *explicit_out is true when the
//  file was named (flag or environment): then a missing file is an error. Borrowed.
const char *hd_config_path (int argc, char **argv, bool *explicit_out);

//  Find the config file hd_config_path names and load it. HD_OK with *out set (caller
//  destroys), or NULL when the default file does not exist; on failure prints
//  "PROG: FILE: why" or every problem as "FILE:LINE: message" on stderr and returns HD_EIO or
//  HD_EINVAL (the program exits with its usage status).
hd_err_t hd_config_open (hd_config_t **out, const char *prog, int argc, char **argv);

#endif
