/*  hd_ratelog: one window of counted events at a time (see the header).  */
#include "hd_ratelog.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

void
hd_ratelog_init (hd_ratelog_t *self, int64_t window_ms)
{
    assert (self && window_ms > 0);
    memset (self, 0, sizeof *self);
    self->window_ms = window_ms;
}

bool
hd_ratelog_hit (hd_ratelog_t *self, int64_t now_ms, const char *source, uint64_t amount)
{
    self->total++;
    if (!source)
        source = "";
    if (self->count == 0) {
        self->start_ms = now_ms;
        self->count = 1;
        self->amount = amount;
        self->mixed = false;
        snprintf (self->source, sizeof self->source, "%s", source);
        return true;
    }
    self->count++;
    self->amount += amount;
    //  Compared on the kept (possibly cut) text, as the summary shows it.
    if (strncmp (self->source, source, sizeof self->source - 1) != 0)
        self->mixed = true;
    return false;
}

bool
hd_ratelog_flush (hd_ratelog_t *self, int64_t now_ms, hd_ratelog_summary_t *out)
{
    if (self->count == 0 || now_ms - self->start_ms < self->window_ms)
        return false;
    bool summary = self->count > 1;
    if (summary) {
        out->count = self->count;
        out->amount = self->amount;
        out->seconds = (now_ms - self->start_ms + 500) / 1000;
        out->mixed = self->mixed;
        memcpy (out->source, self->source, sizeof out->source);
    }
    self->count = 0;
    self->amount = 0;
    return summary;
}

char *
hd_ratelog_count_text (uint64_t n, char out[27])
{
    char digits[21];
    int len = snprintf (digits, sizeof digits, "%llu", (unsigned long long) n);
    char *p = out;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            *p++ = ',';
        *p++ = digits[i];
    }
    *p = '\0';
    return out;
}
