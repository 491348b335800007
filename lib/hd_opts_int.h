/*  hd_opts_int: what hd_opts.c, hd_opts_check.c and hd_opts_doc.c share. Not for other
    modules.  */
#ifndef HD_OPTS_INT_H
#define HD_OPTS_INT_H

#include "hd_opts.h"

//  Whether the option takes a value (not a flag, not --help).
bool hd_opts_takes_value (const hd_opt_t *opt);
//  Index of `value` in "a|b|c", or -1.
int hd_opts_choice_index (const char *choices, const char *value);
//  The choice whose stored value is `value` (opt->values or the index), or "?".
void hd_opts_choice_text (const hd_opt_t *opt, int value, char *out, size_t len);
//  "; write the number alone, in milliseconds (no unit suffix)" when `value` is a number
//  followed by a unit for an integer option that has a unit; else "".
const char *hd_opts_unit_hint (const hd_opt_t *opt, const char *value);
//  The unit's name ("milliseconds"), or NULL for a count.
const char *hd_opts_unit_name (hd_opts_unit_t unit);
//  The closest of `names` (NULL-terminated) to `word` by edit distance, or NULL when none is
//  close enough to be a likely typo.
const char *hd_opts_closest (const char *word, const char *const *names);
//  "(default X)" for opt from `defaults` or opt->def, or "" when it shows none.
void hd_opts_default_text (const hd_opt_t *opt, const void *defaults, char *out, size_t len);

#endif
