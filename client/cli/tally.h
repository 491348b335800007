/*  tally: how many results each node produced, for the summaries of `map` and `bench`. Nodes
    are few, so a small array searched linearly (last hit first) is enough.  */
#ifndef HD_CLI_TALLY_H
#define HD_CLI_TALLY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hd_err.h"

typedef struct {
    char name[64];
    uint64_t count;
} hd_cli_tally_entry_t;

typedef struct {
    hd_cli_tally_entry_t *entries;
    size_t size, cap;
    size_t last;  //  entry of the previous add, tried first
} hd_cli_tally_t;

//  A zeroed tally is valid and empty; _fini frees and re-zeroes.
void hd_cli_tally_init (hd_cli_tally_t *self);
void hd_cli_tally_fini (hd_cli_tally_t *self);
//  Count one result of `node` ("" or NULL is counted as "-"). HD_OK or HD_ENOMEM.
hd_err_t hd_cli_tally_add (hd_cli_tally_t *self, const char *node);
//  Order the entries by node name.
void hd_cli_tally_sort (hd_cli_tally_t *self);
//  "pi-a 5012, pi-b 4988" ("none" when empty).
void hd_cli_tally_print (const hd_cli_tally_t *self, FILE *out);
//  {"pi-a": 5012, "pi-b": 4988}
void hd_cli_tally_print_json (const hd_cli_tally_t *self, FILE *out);

#endif
