/*  hd_opts: a program's options declared once, as a table. Each entry gives the long name (also
    the config file key), the short letter, the kind of value with its unit and range, the help
    text, and where the value goes (an offset into the caller's settings struct, and/or a setter).
    From one table come: the getopt_long parse of argv, the --help text, applying a config file
    section, checking a config file (hd_opts_check.c: line order, "did you mean", units), the
    effective configuration (--print-config), and the man page and completion words
    (hd_opts_doc.c). It knows nothing of what an option does.  */
#ifndef HD_OPTS_H
#define HD_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hd_config.h"

typedef enum {
    HD_OPTS_FLAG,      //  no argument: sets a bool; in a config file yes/no (no: left as is)
    HD_OPTS_UINT,      //  uint32_t in [min, max], with an optional unit
    HD_OPTS_U64,       //  uint64_t in [min, max]; opt->unset shown for UINT64_MAX ("auto")
    HD_OPTS_INT,       //  int32_t in [min, max]
    HD_OPTS_NUMBER,    //  double >= min (flag HD_OPTS_POSITIVE: > 0)
    HD_OPTS_STRING,    //  const char *, non-empty
    HD_OPTS_ENUM,      //  int: index of the value in `choices` "a|b|c" (or values[index])
    HD_OPTS_ENDPOINT,  //  const char *: tcp://HOST:PORT, HOST:PORT, HOST (or a word of choices)
    HD_OPTS_HELP,      //  --help: hd_opts_parse returns HD_OPTS_EXIT_HELP
    HD_OPTS_HEADING,   //  not an option: a heading line in --help and the man page
} hd_opts_kind_t;

//  Units of an integer value: told in help, in the man page and in config check errors
//  ("1s" gets "write the number alone, in milliseconds").
typedef enum {
    HD_OPTS_COUNT = 0,
    HD_OPTS_MS,
    HD_OPTS_SECONDS,
    HD_OPTS_BYTES,
    HD_OPTS_MIB,
    HD_OPTS_MB,  //  megabytes as the CLI counts memory (--min-mem)
    HD_OPTS_CELSIUS,
} hd_opts_unit_t;

enum {
    HD_OPTS_NOCONF = 1,    //  not a config file key (command-line only)
    HD_OPTS_HIDDEN = 2,    //  not in --help (still parsed)
    HD_OPTS_SECRET = 4,    //  --print-config shows "(set)", not the value
    HD_OPTS_POSITIVE = 8,  //  NUMBER: > 0
    HD_OPTS_NOPRINT = 16,  //  not in --print-config (actions: --print-config itself, --config)
};

typedef struct hd_opt hd_opt_t;

//  A setter: stores `arg` (NULL for a flag) into `target` (the settings struct the table's
//  offsets point into) when the plain store by kind is not enough. 0, or -1 with the reason in
//  err (without the option's name: the caller adds it).
typedef int (hd_opts_set_fn) (void *target, const hd_opt_t *opt, const char *arg, char *err,
                              size_t errlen);
//  An extra check of a value's form (cluster names, fingerprints), shared by parse and check.
typedef bool (hd_opts_valid_fn) (const char *value);

struct hd_opt {
    const char *name;      //  long name = config key; the text of a HEADING
    int letter;            //  short option, 0: none
    hd_opts_kind_t kind;
    const char *meta;      //  the value's placeholder in help: "MS", "DIR"
    const char *help;      //  one paragraph; wrapped by the printer
    hd_opts_unit_t unit;
    int64_t min, max;      //  UINT / INT range; NUMBER min
    const char *choices;   //  ENUM: "a|b|c"; ENDPOINT: the words it also takes ("none")
    const int *values;     //  ENUM: stored value of each choice (NULL: the index)
    const char *def;       //  default in help, when not the target's value ("" : none shown)
    const char *unset;     //  --print-config text of a NULL string or 0 integer ("auto")
    unsigned flags;
    ptrdiff_t offset;      //  where the value goes in the target; -1: only `set`
    hd_opts_set_fn *set;   //  after the store by kind (or instead of it when offset is -1)
    hd_opts_valid_fn *valid;
    const char *valid_text;  //  what `valid` wants, for errors: "a cluster name (1..32 ...)"
    int id;                  //  the caller's: one setter for several options switches on it
};

//  A program (or a `heddle` command) and its options.
typedef struct {
    const char *name;     //  "heddle-broker", "heddle map"
    const char *section;  //  config file section, NULL: none
    const char *usage;    //  after "Usage: "; several lines allowed
    const char *summary;  //  what it does, under the usage line
    const char *epilog;   //  after the options, or NULL
    const char *words;    //  subcommand words for completion ("init fingerprint"), or NULL
    const hd_opt_t *opts; //  ends with an entry whose name is NULL
} hd_opts_prog_t;

//  A table bound to the struct its offsets point into, for parsing or applying.
typedef struct {
    const hd_opts_prog_t *prog;
    void *target;
} hd_opts_use_t;

#define HD_OPTS_END { .name = NULL }
#define HD_OPTS_MAX 160  //  options in one parse, all tables together

//  What hd_opts_parse returns.
enum { HD_OPTS_OK = 0, HD_OPTS_EXIT_HELP = 1, HD_OPTS_EXIT_USAGE = 2 };
//  Parse flags.
enum {
    HD_OPTS_IN_ORDER = 1,  //  stop at the first non-option (commands before their args)
};

//  Parse argv[1..] against the tables of `uses` (the first names the program in messages).
//  Each value is checked and stored as its table says; *first_arg is the index of the first
//  non-option argument. HD_OPTS_OK; HD_OPTS_EXIT_HELP when --help was given (nothing printed);
//  HD_OPTS_EXIT_USAGE after printing "NAME: why" and "Try 'NAME --help'." on stderr.
int hd_opts_parse (int argc, char **argv, const hd_opts_use_t *uses, size_t nuses,
                   unsigned flags, int *first_arg);

//  Set one option by name from text (a config file value, or a test). 0, or -1 with the
//  reason in err ("--heartbeat wants ...").
int hd_opts_set (const hd_opts_use_t *use, const char *name, const char *value, char *err,
                 size_t errlen);

//  Apply `file`'s section of use->prog (its keys are the long options): each entry in file
//  order, as if given on the command line; a flag set to no is skipped. 0, or -1 after
//  printing "NAME: FILE:LINE: why" on stderr. NULL file: nothing to do.
int hd_opts_apply_file (const hd_opts_use_t *use, const hd_config_t *file);

//  The --help text: usage, summary, each option with its default (from `defaults`, a target
//  holding the built-in defaults, or NULL), the epilog.
void hd_opts_print_help (FILE *out, const hd_opts_prog_t *prog, const void *defaults);
//  Free text (a summary, an epilog) wrapped at 79 columns; a line that starts with a space (a
//  list, an example) is kept as written.
void hd_opts_print_text (FILE *out, const char *text);
//  Only the option lines of a table (a CLI command adds the shared tables' lines this way).
void hd_opts_print_options (FILE *out, const hd_opts_prog_t *prog, const void *defaults);

//  --print-config: "key = value" for each option stored in `target`, in table order.
void hd_opts_print_config (FILE *out, const hd_opts_prog_t *prog, const void *target);

//  The text of a value held in target as the option stores it ("none" for NULL ENDPOINTs of
//  choices "none", opt->unset, ...), in buf. Returns buf, or "" for an option with no store.
const char *hd_opts_value_text (const hd_opt_t *opt, const void *target, char *buf, size_t len);

//  --- config check (hd_opts_check.c) ---

//  One config file section and the table whose keys it takes.
typedef struct hd_opts_section {
    const char *name;
    const hd_opts_prog_t *prog;
} hd_opts_section_t;

//  Report every syntax error, unknown section, unknown key ("did you mean", "it belongs in
//  [other]") and bad value (kind, range, unit) of `file`, in line order, through `report` (may
//  be NULL). Returns the number of problems.
size_t hd_opts_check (const hd_config_t *file, const hd_opts_section_t *sections, size_t n,
                      hd_config_report_fn *report, void *arg);
//  Whether `value` is good for `opt` (the same test as the check); when not, what a good
//  value looks like in want (e.g. "an integer from 1 to 4294967295 (milliseconds)").
bool hd_opts_value_ok (const hd_opt_t *opt, const char *value, char *want, size_t wantlen);

//  --- documents (hd_opts_doc.c) ---

//  A man page (roff) for prog: .TH, NAME, SYNOPSIS, DESCRIPTION, OPTIONS (defaults from
//  `defaults`, may be NULL) and the epilog; the caller appends what else it has (COMMANDS,
//  SEE ALSO).
void hd_opts_print_man (FILE *out, const hd_opts_prog_t *prog, const void *defaults, int section,
                        const char *version, const char *date);
//  One table as a subsection (a CLI command): .SS NAME, its usage, summary, options, epilog.
void hd_opts_print_man_section (FILE *out, const hd_opts_prog_t *prog, const void *defaults);
//  Text as roff: backslashes escaped, a leading '.' or '\'' made harmless, kept as written (.nf).
void hd_opts_print_roff_text (FILE *out, const char *text);
//  The words a shell completes for prog: its subcommand words and "--long" options, each
//  followed by a space (no newline: a CLI command adds its shared tables' words).
void hd_opts_print_words (FILE *out, const hd_opts_prog_t *prog);

#endif
