/*  hd_config: the configuration file shared by heddle-broker, heddle-worker and `heddle`.
    An INI-like text: `[broker]`, `[worker]`, `[client]` sections of `key = value` lines whose
    keys are the programs' long options; `#` or `;` comment lines, and `#` after a space ends
    a value (write "..." to keep it). It parses the text into (section, key, value, line)
    entries. The programs' option tables (hd_opts) check and apply them; it knows nothing of
    what a key does.  */
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

//  Called by hd_opts_check once per problem, in line order.
typedef void (hd_config_report_fn) (const char *name, int line, const char *message, void *arg);

//  Parse `text` (a whole file's contents). `name` is the file name used in reports. Syntax
//  problems do not fail the parse: they are kept for hd_opts_check. HD_OK with *out set
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

//  Parse a boolean value: yes/no, true/false, on/off, 1/0. 0 on success, -1 otherwise.
int hd_config_parse_bool (const char *text, bool *out);

//  The file a program should read, from its argv (`--config FILE`, `--config=FILE`, scanned up
//  to a `--`), else $HEDDLE_CONFIG, else HD_CONFIG_DEFAULT_PATH. *explicit_out is true when the
//  file was named (flag or environment): then a missing file is an error. Borrowed.
const char *hd_config_path (int argc, char **argv, bool *explicit_out);

//  Find the config file hd_config_path names and load it. HD_OK with *out set (caller
//  destroys), or NULL when the default file does not exist; on failure prints
//  "PROG: FILE: why" or every problem as "FILE:LINE: message" on stderr and returns HD_EIO or
//  HD_EINVAL (the program exits with its usage status).
//  The file is checked against `sections` (hd_opts_check: every section of every program, so
//  that a typo in one program's section stops the others too).
struct hd_opts_section;
hd_err_t hd_config_open (hd_config_t **out, const char *prog,
                         const struct hd_opts_section *sections, size_t nsections, int argc,
                         char **argv);

#endif
