/*  hd_split: streaming input splitter. Invariant between feeds: `pending` holds the bytes of the
    piece still open (for lines:N, including the terminators of its lines so far) and `seen`
    counts those terminators. A piece that lies wholly inside one chunk is passed straight from
    the caller's memory; only a piece cut by a chunk boundary is copied.  */
#include "hd_split.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_buf.h"

#define S_MODES "expected lines, lines:N, bytes:N, whole or null"

struct hd_split {
    hd_split_spec_t spec;
    hd_split_fn *fn;
    void *arg;
    hd_buf_t pending;
    uint64_t seen;  //  terminators inside the open piece
    uint64_t pieces;
};

// --- spec parsing -------------------------------------------------------------------------

static hd_err_t s_invalid (char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static hd_err_t
s_invalid (char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (errbuf, errlen, fmt, ap);
        va_end (ap);
    }
    return HD_EINVAL;
}

//  Binary multiplier of a size suffix, 0 when `suffix` is not one ("" is 1).
static uint64_t
s_multiplier (const char *suffix)
{
    if (*suffix == '\0')
        return 1;
    if (suffix[1] != '\0')
        return 0;
    switch (*suffix) {
    case 'k':
    case 'K':
        return 1ULL << 10;
    case 'm':
    case 'M':
        return 1ULL << 20;
    case 'g':
    case 'G':
        return 1ULL << 30;
    default:
        return 0;
    }
}

//  A count in 1..HD_SPLIT_MAX_COUNT: decimal digits, then a K/M/G suffix when allowed.
static int
s_parse_count (const char *text, int allow_suffix, uint64_t *out)
{
    if (!isdigit ((unsigned char) *text))
        return -1;
    errno = 0;
    char *end;
    unsigned long long n = strtoull (text, &end, 10);
    uint64_t mult = allow_suffix ? s_multiplier (end) : (*end ? 0 : 1);
    if (errno || mult == 0 || n == 0 || n > HD_SPLIT_MAX_COUNT / mult)
        return -1;
    *out = n * mult;
    return 0;
}

static hd_err_t
s_parse_mode (const char *name, size_t len, hd_split_spec_t *out)
{
    static const struct {
        const char *name;
        hd_split_mode_t mode;
    } modes[] = { { "lines", HD_SPLIT_LINES },
                  { "bytes", HD_SPLIT_BYTES },
                  { "whole", HD_SPLIT_WHOLE },
                  { "null", HD_SPLIT_NULL } };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strlen (modes[i].name) == len && memcmp (modes[i].name, name, len) == 0) {
            out->mode = modes[i].mode;
            out->count = 1;
            return HD_OK;
        }
    return HD_EINVAL;
}

hd_err_t
hd_split_parse (const char *text, hd_split_spec_t *out, char *errbuf, size_t errlen)
{
    assert (out);
    if (!text)
        text = "lines";
    const char *colon = strchr (text, ':');
    size_t len = colon ? (size_t) (colon - text) : strlen (text);
    hd_split_spec_t spec;
    if (s_parse_mode (text, len, &spec) != HD_OK)
        return s_invalid (errbuf, errlen, "unknown split mode '%.*s' (%s)", (int) len, text,
                          S_MODES);
    int takes_count = spec.mode == HD_SPLIT_LINES || spec.mode == HD_SPLIT_BYTES;
    if (colon && !takes_count)
        return s_invalid (errbuf, errlen, "split mode '%.*s' takes no ':N' (%s)", (int) len, text,
                          S_MODES);
    if (!colon && spec.mode == HD_SPLIT_BYTES)
        return s_invalid (errbuf, errlen, "split mode 'bytes' needs a size: bytes:N");
    if (colon && s_parse_count (colon + 1, spec.mode == HD_SPLIT_BYTES, &spec.count) != 0)
        return s_invalid (errbuf, errlen,
                          "bad count '%s' in split spec '%s': expected an integer from 1 to %llu",
                          colon + 1, text, (unsigned long long) HD_SPLIT_MAX_COUNT);
    //  "lines:N" hands out the input's own bytes: a chunk of 100 lines counts 100 lines (it
    //  counted 99 when its last '\n' was removed), and summing the chunks' counts gives the
    //  whole file's. One line ("lines") is a record: its terminator is not part of it.
    spec.keep = colon && spec.mode == HD_SPLIT_LINES;
    *out = spec;
    return HD_OK;
}

// --- splitting ----------------------------------------------------------------------------

hd_split_t *
hd_split_new (const hd_split_spec_t *spec, hd_split_fn *fn, void *arg)
{
    assert (spec && fn);
    assert (spec->count >= 1);
    hd_split_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->spec = *spec;
    self->fn = fn;
    self->arg = arg;
    hd_buf_init (&self->pending);
    return self;
}

void
hd_split_destroy (hd_split_t **self_p)
{
    assert (self_p);
    hd_split_t *self = *self_p;
    if (!self)
        return;
    hd_buf_fini (&self->pending);
    free (self);
    *self_p = NULL;
}

uint64_t
hd_split_pieces (const hd_split_t *self)
{
    assert (self);
    return self->pieces;
}

static hd_err_t
s_emit (hd_split_t *self, const void *piece, size_t size)
{
    self->pieces++;
    return self->fn (piece ? piece : "", size, self->arg);  //  never NULL, even when empty
}

//  Close the open piece with its last part `tail` (in the caller's chunk). Passes the chunk's
//  memory directly when nothing of the piece came in an earlier chunk.
static hd_err_t
s_close_piece (hd_split_t *self, const uint8_t *tail, size_t size)
{
    self->seen = 0;
    if (self->pending.size == 0)
        return s_emit (self, tail, size);
    hd_err_t rc = hd_buf_append (&self->pending, tail, size);
    if (rc == HD_OK)
        rc = s_emit (self, self->pending.data, self->pending.size);
    hd_buf_reset (&self->pending);
    return rc;
}

static hd_err_t
s_feed_delimited (hd_split_t *self, const uint8_t *data, size_t size, int delim)
{
    size_t start = 0;  //  where the open piece's part in this chunk begins
    size_t pos = 0;
    while (pos < size) {
        const uint8_t *hit = memchr (data + pos, delim, size - pos);
        if (!hit)
            break;
        pos = (size_t) (hit - data) + 1;
        if (++self->seen < self->spec.count)
            continue;
        hd_err_t rc = s_close_piece (self, data + start, pos - (self->spec.keep ? 0 : 1) - start);
        if (rc != HD_OK)
            return rc;
        start = pos;
    }
    return hd_buf_append (&self->pending, data + start, size - start);
}

static hd_err_t
s_feed_bytes (hd_split_t *self, const uint8_t *data, size_t size)
{
    size_t n = (size_t) self->spec.count;
    while (size > 0) {
        size_t want = n - self->pending.size;
        if (size < want)
            return hd_buf_append (&self->pending, data, size);
        hd_err_t rc = s_close_piece (self, data, want);
        if (rc != HD_OK)
            return rc;
        data += want;
        size -= want;
    }
    return HD_OK;
}

hd_err_t
hd_split_feed (hd_split_t *self, const void *data, size_t size)
{
    assert (self);
    assert (data || size == 0);
    switch (self->spec.mode) {
    case HD_SPLIT_LINES:
        return s_feed_delimited (self, data, size, '\n');
    case HD_SPLIT_NULL:
        return s_feed_delimited (self, data, size, '\0');
    case HD_SPLIT_BYTES:
        return s_feed_bytes (self, data, size);
    case HD_SPLIT_WHOLE:
        return hd_buf_append (&self->pending, data, size);
    }
    return HD_EINVAL;
}

hd_err_t
hd_split_end (hd_split_t *self)
{
    assert (self);
    hd_buf_t *pending = &self->pending;
    if (self->spec.mode == HD_SPLIT_WHOLE)
        return s_close_piece (self, pending->data, 0);
    if (pending->size == 0)
        return HD_OK;
    //  A group of lines cut short by the end: its last line's terminator is not part of it,
    //  unless pieces keep their terminators.
    int delim = self->spec.mode == HD_SPLIT_NULL ? '\0' : '\n';
    if (self->spec.mode != HD_SPLIT_BYTES && !self->spec.keep && self->seen > 0 &&
        pending->data[pending->size - 1] == delim)
        pending->size--;
    return s_close_piece (self, pending->data, 0);
}

hd_err_t
hd_split_run (const hd_split_spec_t *spec, const void *data, size_t size, hd_split_fn *fn,
              void *arg)
{
    assert (spec && fn);
    if (spec->mode == HD_SPLIT_WHOLE)
        return fn (data ? data : "", size, arg);  //  no copy for the common "whole" case
    hd_split_t *self = hd_split_new (spec, fn, arg);
    if (!self)
        return HD_ENOMEM;
    hd_err_t rc = hd_split_feed (self, data, size);
    if (rc == HD_OK)
        rc = hd_split_end (self);
    hd_split_destroy (&self);
    return rc;
}
