/*  tally: per-node result counts. Names longer than a node name may be are cut, which only
    merges counts of nodes the broker would have refused anyway.  */
#include "tally.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

void
hd_cli_tally_init (hd_cli_tally_t *self)
{
    memset (self, 0, sizeof *self);
}

void
hd_cli_tally_fini (hd_cli_tally_t *self)
{
    free (self->entries);
    memset (self, 0, sizeof *self);
}

static hd_cli_tally_entry_t *
s_find (hd_cli_tally_t *self, const char *node)
{
    if (self->last < self->size && strcmp (self->entries[self->last].name, node) == 0)
        return &self->entries[self->last];
    for (size_t i = 0; i < self->size; i++)
        if (strcmp (self->entries[i].name, node) == 0) {
            self->last = i;
            return &self->entries[i];
        }
    return NULL;
}

static hd_cli_tally_entry_t *
s_append (hd_cli_tally_t *self, const char *node)
{
    if (self->size == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        hd_cli_tally_entry_t *entries = realloc (self->entries, cap * sizeof *entries);
        if (!entries)
            return NULL;
        self->entries = entries;
        self->cap = cap;
    }
    hd_cli_tally_entry_t *entry = &self->entries[self->size];
    snprintf (entry->name, sizeof entry->name, "%s", node);
    entry->count = 0;
    self->last = self->size++;
    return entry;
}

hd_err_t
hd_cli_tally_add (hd_cli_tally_t *self, const char *node)
{
    if (!node || !*node)
        node = "-";
    hd_cli_tally_entry_t *entry = s_find (self, node);
    if (!entry)
        entry = s_append (self, node);
    if (!entry)
        return HD_ENOMEM;
    entry->count++;
    return HD_OK;
}

static int
s_by_name (const void *a, const void *b)
{
    return strcmp (((const hd_cli_tally_entry_t *) a)->name,
                   ((const hd_cli_tally_entry_t *) b)->name);
}

void
hd_cli_tally_sort (hd_cli_tally_t *self)
{
    if (self->size > 1)
        qsort (self->entries, self->size, sizeof self->entries[0], s_by_name);
    self->last = 0;
}

void
hd_cli_tally_print (const hd_cli_tally_t *self, FILE *out)
{
    if (self->size == 0)
        fputs ("none", out);
    for (size_t i = 0; i < self->size; i++)
        fprintf (out, "%s%s %llu", i ? ", " : "", self->entries[i].name,
                 (unsigned long long) self->entries[i].count);
}

void
hd_cli_tally_print_json (const hd_cli_tally_t *self, FILE *out)
{
    fputc ('{', out);
    for (size_t i = 0; i < self->size; i++) {
        fputs (i ? ", " : "", out);
        hd_cli_json_string (out, self->entries[i].name);
        fprintf (out, ": %llu", (unsigned long long) self->entries[i].count);
    }
    fputc ('}', out);
}
