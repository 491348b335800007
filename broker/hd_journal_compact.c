/*  hd_journal_compact: rewrite journal.log to hold only the live records, emitted by the
    caller (the journal cannot tell which records are live: that is the broker's state).
    The new file is built beside the old one and renamed over it, so a crash at any moment
    leaves one complete journal: the old file before the rename, the new one after.  */
//  armhf: 64-bit file offsets, so journal.log may pass 2 GiB (no off_t crosses a header).
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include "hd_journal_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  //  renameat
#include <string.h>
#include <unistd.h>

#define S_FLUSH (1u << 20)  //  write the new file in pieces this big: memory stays bounded

//  Rewriting costs the live bytes; waiting until they are under half the file keeps that
//  cost below what was appended since the last compaction (amortised O(1) per record). When
//  space is short (hd_journal_set_urgent) any file with a quarter (and 4 KiB) to gain goes.
//  A file of an older format version is rewritten in the current one at the first chance.
#define S_URGENT_GAIN 4096

static bool
s_wanted (const hd_journal_t *self, uint64_t live_bytes)
{
    if (self->version < HD_JOURNAL_VERSION)
        return true;
    if (self->urgent && live_bytes + S_URGENT_GAIN <= self->size
        && live_bytes < self->size - self->size / 4)
        return true;
    return self->size > self->cfg.compact_bytes && live_bytes < self->size / 2;
}

bool
hd_journal_compact_wanted (const hd_journal_t *self, uint64_t live_bytes_estimate)
{
    return !self->failed && self->cfg.mode != HD_JOURNAL_NONE
           && s_wanted (self, live_bytes_estimate);
}

void
hd_journal_set_urgent (hd_journal_t *self, bool urgent)
{
    self->urgent = urgent;
}

static hd_err_t
s_flush (hd_journal_t *self)
{
    int err = hd_journal_write_all (self, self->tmp_fd, self->cbuf.data, self->cbuf.size);
    if (err)
        return hd_journal_fail (self, hd_journal_errno_rc (err), "writing %s: %s", HD_JOURNAL_TMP,
                                strerror (err));
    self->csize += self->cbuf.size;
    hd_buf_reset (&self->cbuf);
    return HD_OK;
}

static hd_err_t
s_begin (hd_journal_t *self)
{
    self->tmp_fd = openat (self->dir_fd, HD_JOURNAL_TMP,
                           O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (self->tmp_fd < 0)
        return hd_journal_fail (self, hd_journal_errno_rc (errno), "cannot create %s: %s",
                                HD_JOURNAL_TMP, strerror (errno));
    self->compacting = true;
    self->compact_err = HD_OK;
    self->csize = 0;
    hd_buf_reset (&self->cbuf);
    uint8_t hdr[HD_JOURNAL_HEADER];
    hd_journal_encode_header (hdr, self->created_ms);
    return hd_buf_append (&self->cbuf, hdr, sizeof hdr);
}

//  Once the rename is done the new file is journal.log whatever fails next, so the journal
//  switches to it before the directory sync.
static hd_err_t
s_finish (hd_journal_t *self)
{
    hd_err_t rc = self->compact_err != HD_OK ? self->compact_err : s_flush (self);
    if (rc != HD_OK)
        return rc;
    if (self->io.fdatasync_fn (self->tmp_fd) != 0)
        return hd_journal_fail (self, HD_EIO, "fdatasync of %s failed: %s", HD_JOURNAL_TMP,
                                strerror (errno));
    if (renameat (self->dir_fd, HD_JOURNAL_TMP, self->dir_fd, HD_JOURNAL_LOG) != 0)
        return hd_journal_fail (self, HD_EIO, "cannot rename %s over %s: %s", HD_JOURNAL_TMP,
                                HD_JOURNAL_LOG, strerror (errno));
    close (self->fd);
    self->fd = self->tmp_fd;
    self->tmp_fd = -1;
    self->size = self->csize;
    self->version = HD_JOURNAL_VERSION;
    self->compacting = false;
    if (fsync (self->dir_fd) != 0)
        return hd_journal_fail (self, HD_EIO, "fsync of the journal dir failed: %s",
                                strerror (errno));
    return HD_OK;
}

//  The old journal.log is untouched until the rename, so giving up is always safe.
static void
s_abort (hd_journal_t *self)
{
    if (self->tmp_fd >= 0) {
        close (self->tmp_fd);
        self->tmp_fd = -1;
        (void) unlinkat (self->dir_fd, HD_JOURNAL_TMP, 0);
    }
    self->compacting = false;
}

hd_err_t
hd_journal_compact_emit (hd_journal_t *self, hd_jrec_type_t type, const hd_id_t *id, const void *a,
                         size_t alen, const void *b, size_t blen)
{
    assert (self && id && self->compacting);
    assert (type >= HD_JREC_ACCEPT && type <= HD_JREC_DROP);
    assert ((a || alen == 0) && (b || blen == 0));
    if (self->compact_err != HD_OK)
        return self->compact_err;
    hd_err_t rc = hd_journal_encode_record (&self->cbuf, type, id, a, alen, b, blen);
    if (rc == HD_OK && self->cbuf.size >= S_FLUSH)
        rc = s_flush (self);
    if (rc != HD_OK && rc != HD_EFULL && rc != HD_EIO)
        hd_journal_fail (self, rc, "compaction: %s", hd_strerror (rc));
    self->compact_err = rc;
    return rc;
}

//  Nothing is live: cut the file back to its header where it is. Needs no room at all, which
//  is what a disk filled by the journal itself lacks for a compaction's new file. A crash at
//  any moment leaves either the old records, every task of which has ended, or none.
hd_err_t
hd_journal_reset (hd_journal_t *self)
{
    assert (self && !self->compacting && !self->in_flight);
    if (self->failed)
        return HD_EIO;
    if (self->cfg.mode == HD_JOURNAL_NONE || self->size <= HD_JOURNAL_HEADER)
        return HD_OK;
    hd_err_t rc = hd_journal_commit (self);  //  HD_EFULL: those records were cut off: fine here
    if (rc == HD_EIO)
        return rc;
    if (ftruncate (self->fd, HD_JOURNAL_HEADER) != 0 || self->io.fdatasync_fn (self->fd) != 0)
        return hd_journal_fail (self, HD_EIO, "cannot cut %s back to its header: %s",
                                HD_JOURNAL_LOG, strerror (errno));
    self->size = HD_JOURNAL_HEADER;
    return HD_OK;
}

hd_err_t
hd_journal_maybe_compact (hd_journal_t *self, uint64_t live_bytes_estimate,
                          hd_journal_live_fn *live, void *arg, bool *done)
{
    assert (self && live && !self->compacting);
    if (done)
        *done = false;
    if (self->failed)
        return HD_EIO;
    if (self->cfg.mode == HD_JOURNAL_NONE || !s_wanted (self, live_bytes_estimate))
        return HD_OK;
    assert (self->replayed);
    //  Pending records are part of the state live() emits: commit them first, or they
    //  would be written twice (in the new file, then appended after it).
    hd_err_t rc = hd_journal_commit (self);
    if (rc != HD_OK)
        return rc;
    rc = s_begin (self);
    if (rc == HD_OK) {
        live (self, arg);
        rc = s_finish (self);
    }
    s_abort (self);
    hd_buf_fini (&self->cbuf);  //  compaction is rare: give its memory back
    if (rc == HD_OK && done)
        *done = true;
    return rc;
}
