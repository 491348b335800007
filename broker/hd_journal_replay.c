/*  hd_journal_replay: read journal.log back after a restart, record by record, and cut off
    a torn or corrupt tail so new appends start on a record boundary. Reads through one
    reusable window (1 MiB, or one record when larger), never the whole file at once: a
    journal may be bigger than a small board's memory or, on armhf, its address space.  */
//  armhf: 64-bit file offsets, so journal.log may pass 2 GiB (no off_t crosses a header).
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include "hd_journal_int.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define S_CHUNK (1u << 20)

//  A window on the file: buf holds the bytes from file offset `base`; `pos` is the next
//  record's position in buf; `end` is the file size when the replay began.
typedef struct {
    int fd;
    hd_buf_t buf;
    size_t pos;
    uint64_t base, end;
} hd_jreader_t;

//  Make `need` bytes available at pos; the caller has checked they exist before `end`.
//  HD_OK; HD_ENOMEM; HD_EIO (read failed or the file shrank under us: errno says which).
static hd_err_t
s_reader_need (hd_jreader_t *r, size_t need)
{
    size_t have = r->buf.size - r->pos;
    if (have >= need)
        return HD_OK;
    if (have)
        memmove (r->buf.data, r->buf.data + r->pos, have);
    r->base += r->pos;
    r->pos = 0;
    r->buf.size = have;
    uint64_t left = r->end - r->base;
    size_t want = need > S_CHUNK ? need : S_CHUNK;
    if (want > left)
        want = (size_t) left;
    if (hd_buf_reserve (&r->buf, want - have) != HD_OK)
        return HD_ENOMEM;
    while (r->buf.size < want) {
        ssize_t n = pread (r->fd, r->buf.data + r->buf.size, want - r->buf.size,
                           (off_t) (r->base + r->buf.size));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errno = n < 0 ? errno : ENODATA;
            return HD_EIO;
        }
        r->buf.size += (size_t) n;
    }
    return HD_OK;
}

//  The intact record at the reader's position: HD_OK with *body and *len set. HD_ENOTFOUND
//  when the log ends here, cleanly or not (a frame cut short, a length out of bounds or past
//  the end of the file, a CRC mismatch). HD_EIO / HD_ENOMEM when reading failed. A bogus
//  length is refused before anything is allocated for it.
static hd_err_t
s_read_record (hd_jreader_t *r, const uint8_t **body, uint32_t *len)
{
    uint64_t left = r->end - (r->base + r->pos);
    if (left < HD_JOURNAL_FRAME)
        return HD_ENOTFOUND;
    hd_err_t rc = s_reader_need (r, HD_JOURNAL_FRAME);
    if (rc != HD_OK)
        return rc;
    uint32_t n = hd_journal_get32 (r->buf.data + r->pos);
    if (n < HD_JOURNAL_MIN_BODY || n > HD_JOURNAL_MAX_RECORD || n > left - HD_JOURNAL_FRAME)
        return HD_ENOTFOUND;
    if ((rc = s_reader_need (r, HD_JOURNAL_FRAME + (size_t) n)) != HD_OK)
        return rc;
    const uint8_t *p = r->buf.data + r->pos;
    if (hd_journal_get32 (p + 4) != hd_journal_crc32c (0, p + HD_JOURNAL_FRAME, n))
        return HD_ENOTFOUND;
    *body = p + HD_JOURNAL_FRAME;
    *len = n;
    return HD_OK;
}

//  Hand one intact record to fn. A record with a good CRC but impossible contents was
//  written that way (newer format, bug): it is refused, never truncated, so nothing a
//  newer heddle wrote is destroyed by an older one.
static hd_err_t
s_deliver (hd_journal_t *self, const uint8_t *body, uint32_t len, uint64_t off,
           hd_journal_replay_fn *fn, void *arg)
{
    uint8_t type = body[0];
    hd_id_t id;
    memcpy (id.b, body + 1, sizeof id.b);
    uint32_t alen = hd_journal_get32 (body + 17);
    uint32_t blen = alen <= len - HD_JOURNAL_MIN_BODY ? hd_journal_get32 (body + 21 + alen) : 0;
    if (alen > len - HD_JOURNAL_MIN_BODY || blen != len - HD_JOURNAL_MIN_BODY - alen)
        return hd_journal_fail (self, HD_EIO,
                                "journal.log record at offset %" PRIu64
                                " has a good CRC but inconsistent lengths",
                                off);
    if (type < HD_JREC_ACCEPT || type > HD_JREC_DROP)
        return hd_journal_fail (self, HD_EIO,
                                "journal.log record at offset %" PRIu64
                                " has unknown type %u (written by a newer heddle?)",
                                off, type);
    if (fn ((hd_jrec_type_t) type, &id, body + 21, alen, body + 25 + alen, blen, arg) != 0) {
        self->failed = true;
        hd_journal_fail (self, HD_EINVAL, "replay stopped by its caller at offset %" PRIu64, off);
        return HD_EINVAL;
    }
    return HD_OK;
}

//  Everything from `good` on is torn or corrupt. The cut is synced before any append, or a
//  crash could leave new records behind garbage that hides them from the next replay.
static hd_err_t
s_cut_tail (hd_journal_t *self, uint64_t good, hd_journal_replay_stats_t *stats)
{
    stats->truncated_bytes = self->size - good;
    if (good == self->size)
        return HD_OK;
    if (ftruncate (self->fd, (off_t) good) != 0 || self->io.fdatasync_fn (self->fd) != 0)
        return hd_journal_fail (self, HD_EIO, "cannot cut the torn tail of journal.log: %s",
                                strerror (errno));
    self->size = good;
    return HD_OK;
}

static hd_err_t
s_replay_records (hd_journal_t *self, hd_jreader_t *r, hd_journal_replay_fn *fn, void *arg,
                  hd_journal_replay_stats_t *stats)
{
    for (;;) {
        const uint8_t *body = NULL;
        uint32_t len = 0;
        uint64_t off = r->base + r->pos;
        hd_err_t rc = s_read_record (r, &body, &len);
        if (rc == HD_ENOTFOUND)
            return s_cut_tail (self, off, stats);
        if (rc != HD_OK)
            return hd_journal_fail (self, HD_EIO, "reading journal.log at offset %" PRIu64 ": %s",
                                    off, rc == HD_ENOMEM ? hd_strerror (rc) : strerror (errno));
        if ((rc = s_deliver (self, body, len, off, fn, arg)) != HD_OK)
            return rc;
        stats->records++;
        stats->bytes += HD_JOURNAL_FRAME + (uint64_t) len;
        r->pos += HD_JOURNAL_FRAME + (size_t) len;
    }
}

hd_err_t
hd_journal_replay (hd_journal_t *self, hd_journal_replay_fn *fn, void *arg,
                   hd_journal_replay_stats_t *stats)
{
    assert (self && fn && !self->replayed);
    hd_journal_replay_stats_t local;
    if (!stats)
        stats = &local;
    memset (stats, 0, sizeof *stats);
    self->replayed = true;
    if (self->failed)
        return HD_EIO;
    if (self->cfg.mode == HD_JOURNAL_NONE)
        return HD_OK;
    hd_jreader_t r = { .fd = self->fd, .base = HD_JOURNAL_HEADER, .end = self->size };
    hd_err_t rc = s_replay_records (self, &r, fn, arg, stats);
    hd_buf_fini (&r.buf);
    return rc;
}
