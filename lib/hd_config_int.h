/*  hd_config_int: what hd_config.c (parsing) shares with hd_opts_check.c (checking a file against
    the option tables). Not for other modules.  */
#ifndef HD_CONFIG_INT_H
#define HD_CONFIG_INT_H

#include "hd_config.h"

//  A syntax problem found while parsing (a line that is neither a comment, a section header nor
//  `key = value`). Borrowed, valid until destroy.
typedef struct {
    int line;
    const char *message;  //  static text
} hd_config_syntax_t;

size_t hd_config_syntax_count (const hd_config_t *self);
const hd_config_syntax_t *hd_config_syntax (const hd_config_t *self, size_t index);

#endif
