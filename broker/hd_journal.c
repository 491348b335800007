/*  hd_journal: open (lock, header), append into the in-memory batch, group commit, and the
    timing the reactor needs to batch commits. Replay is in hd_journal_replay.c, compaction in
    hd_journal_compact.c, the byte format in hd_journal_format.c. Knows nothing of what the
    records mean and reads no clock.  */
//  armhf: 64-bit file offsets, so journal.log may pass 2 GiB (no off_t crosses a header).
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include "hd_journal_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

hd_err_t
hd_journal_fail (hd_journal_t *self, hd_err_t rc, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, ap);
    va_end (ap);
    if (rc == HD_EIO)
        self->failed = true;
    return rc;
}

hd_err_t
hd_journal_errno_rc (int err)
{
    //  EFBIG (file size limit) is a resource limit like a full disk: compaction can cure it.
    return err == ENOSPC || err == EDQUOT || err == EFBIG ? HD_EFULL : HD_EIO;
}

int
hd_journal_write_all (hd_journal_t *self, int fd, uint8_t *data, size_t len)
{
    while (len > 0) {
        struct iovec iov = { .iov_base = data, .iov_len = len };
        ssize_t n = self->io.writev_fn (fd, &iov, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        data += n;
        len -= (size_t) n;
    }
    return 0;
}

void
hd_journal_set_io (hd_journal_t *self, const hd_journal_io_t *io)
{
    assert (self);
    self->io.writev_fn = io && io->writev_fn ? io->writev_fn : writev;
    self->io.fdatasync_fn = io && io->fdatasync_fn ? io->fdatasync_fn : fdatasync;
}

static hd_err_t
s_lock_dir (hd_journal_t *self, const char *dir)
{
    self->dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0)
        return hd_journal_fail (self, HD_EIO, "cannot open journal dir %s: %s", dir,
                                strerror (errno));
    //  A separate lock file, not journal.log itself: compaction replaces journal.log by
    //  rename, and a lock on the old inode would not stop a second broker opening the new one.
    self->lock_fd = openat (self->dir_fd, HD_JOURNAL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0)
        return hd_journal_fail (self, HD_EIO, "cannot create %s/%s: %s", dir, HD_JOURNAL_LOCK,
                                strerror (errno));
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return hd_journal_fail (self, HD_EIO,
                                    "journal dir %s is locked by another process (a broker?)", dir);
        return hd_journal_fail (self, HD_EIO, "cannot lock %s/%s: %s", dir, HD_JOURNAL_LOCK,
                                strerror (errno));
    }
    return HD_OK;
}

//  A new file, or one cut short while being created (nothing but a header could be in it).
static hd_err_t
s_create_header (hd_journal_t *self)
{
    uint8_t hdr[HD_JOURNAL_HEADER];
    hd_journal_encode_header (hdr, self->cfg.wall_ms);
    int err = ftruncate (self->fd, 0) != 0 ? errno : 0;
    if (!err)
        err = hd_journal_write_all (self, self->fd, hdr, sizeof hdr);
    //  The directory entry of a new file is durable only once the directory is synced.
    if (!err && (fdatasync (self->fd) != 0 || fsync (self->dir_fd) != 0))
        err = errno;
    if (err)
        return hd_journal_fail (self, HD_EIO, "cannot create journal.log: %s", strerror (err));
    self->created_ms = self->cfg.wall_ms;
    self->version = HD_JOURNAL_VERSION;
    self->size = HD_JOURNAL_HEADER;
    return HD_OK;
}

static hd_err_t
s_load_header (hd_journal_t *self)
{
    struct stat st;
    uint8_t hdr[HD_JOURNAL_HEADER];
    if (fstat (self->fd, &st) != 0)
        return hd_journal_fail (self, HD_EIO, "cannot stat journal.log: %s", strerror (errno));
    size_t want = (uint64_t) st.st_size < HD_JOURNAL_HEADER ? (size_t) st.st_size : sizeof hdr;
    ssize_t got = pread (self->fd, hdr, want, 0);
    if (got < 0 || (size_t) got != want)
        return hd_journal_fail (self, HD_EIO, "cannot read journal.log: %s",
                                got < 0 ? strerror (errno) : "short read");
    if (want == sizeof hdr) {
        self->size = (uint64_t) st.st_size;
        return hd_journal_decode_header (self, hdr);
    }
    uint8_t fresh[HD_JOURNAL_HEADER];
    hd_journal_encode_header (fresh, 0);
    size_t magic = want < 4 ? want : 4;
    if (memcmp (hdr, fresh, magic) != 0)
        return hd_journal_fail (self, HD_EIO, "journal.log is not a heddle journal (bad magic)");
    return s_create_header (self);
}

static hd_err_t
s_open_log (hd_journal_t *self, const char *dir)
{
    hd_err_t rc = s_lock_dir (self, dir);
    if (rc != HD_OK)
        return rc;
    //  A leftover journal.log.tmp is an unfinished compaction: the rename is the commit point,
    //  so it holds nothing journal.log does not.
    if (unlinkat (self->dir_fd, HD_JOURNAL_TMP, 0) != 0 && errno != ENOENT)
        return hd_journal_fail (self, HD_EIO, "cannot remove %s/%s: %s", dir, HD_JOURNAL_TMP,
                                strerror (errno));
    self->fd = openat (self->dir_fd, HD_JOURNAL_LOG, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (self->fd < 0)
        return hd_journal_fail (self, HD_EIO, "cannot open %s/%s: %s", dir, HD_JOURNAL_LOG,
                                strerror (errno));
    return s_load_header (self);
}

static hd_err_t
s_check_config (const char *dir, const hd_journal_config_t *cfg, char *errbuf, size_t errlen)
{
    const char *why = NULL;
    if (cfg->mode != HD_JOURNAL_NONE && cfg->mode != HD_JOURNAL_BATCH &&
        cfg->mode != HD_JOURNAL_SYNC)
        why = "unknown journal mode";
    else if (cfg->mode != HD_JOURNAL_NONE && (!dir || !*dir))
        why = "a journal dir is needed unless the mode is none";
    if (why && errbuf && errlen)
        snprintf (errbuf, errlen, "%s", why);
    return why ? HD_EINVAL : HD_OK;
}

hd_err_t
hd_journal_open (const char *dir, const hd_journal_config_t *cfg, hd_journal_t **out, char *errbuf,
                 size_t errlen)
{
    assert (out);
    *out = NULL;
    hd_journal_config_t defaults = { .mode = HD_JOURNAL_SYNC };
    if (!cfg)
        cfg = &defaults;
    hd_err_t rc = s_check_config (dir, cfg, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    hd_journal_t *self = calloc (1, sizeof *self);
    if (!self) {
        if (errbuf && errlen)
            snprintf (errbuf, errlen, "%s", hd_strerror (HD_ENOMEM));
        return HD_ENOMEM;
    }
    self->cfg = *cfg;
    if (self->cfg.compact_bytes == 0)
        self->cfg.compact_bytes = HD_JOURNAL_DEFAULT_COMPACT;
    self->dir_fd = self->lock_fd = self->fd = self->tmp_fd = -1;
    hd_journal_set_io (self, NULL);
    if (cfg->mode != HD_JOURNAL_NONE && (rc = s_open_log (self, dir)) != HD_OK) {
        if (errbuf && errlen)
            snprintf (errbuf, errlen, "%s", self->error);
        hd_journal_destroy (&self);
        return rc;
    }
    *out = self;
    return HD_OK;
}

static void
s_close (int *fd)
{
    if (*fd >= 0)
        close (*fd);
    *fd = -1;
}

void
hd_journal_destroy (hd_journal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hd_journal_t *self = *self_p;
    if (!self->failed && self->batch_records > 0)
        (void) hd_journal_commit (self);
    s_close (&self->fd);
    s_close (&self->tmp_fd);
    s_close (&self->lock_fd);  //  releases the flock
    s_close (&self->dir_fd);
    hd_buf_fini (&self->batch);
    hd_buf_fini (&self->flight);
    hd_buf_fini (&self->cbuf);
    free (self);
    *self_p = NULL;
}

uint64_t
hd_journal_record_size (size_t alen, size_t blen)
{
    return (uint64_t) HD_JOURNAL_FRAME + HD_JOURNAL_MIN_BODY + (uint64_t) alen + blen;
}

hd_err_t
hd_journal_append (hd_journal_t *self, hd_jrec_type_t type, const hd_id_t *id, const void *a,
                   size_t alen, const void *b, size_t blen, uint64_t *lsn)
{
    assert (self && id && self->replayed);
    assert (type >= HD_JREC_ACCEPT && type <= HD_JREC_DROP);
    assert ((a || alen == 0) && (b || blen == 0));
    if (self->failed)
        return HD_EIO;
    if (hd_journal_record_size (alen, blen) > HD_JOURNAL_FRAME + HD_JOURNAL_MAX_RECORD)
        return HD_ETOOBIG;
    if (self->cfg.mode == HD_JOURNAL_NONE)
        self->durable_lsn = self->last_lsn + 1;
    else {
        hd_err_t rc = hd_journal_encode_record (&self->batch, type, id, a, alen, b, blen);
        if (rc != HD_OK)
            return rc;
        if (self->batch_records++ == 0)
            self->batch_since_ms = self->now_ms;
    }
    self->last_lsn++;
    if (lsn)
        *lsn = self->last_lsn;
    return HD_OK;
}

static void
s_discard_batch (hd_journal_t *self)
{
    //  Kept for reuse (no allocation per record), unless a burst of big records grew it.
    if (self->batch.cap > 2 * HD_JOURNAL_BATCH_SOFT)
        hd_buf_fini (&self->batch);
    hd_buf_reset (&self->batch);
    self->batch_records = 0;
}

//  The write failed part way: a full disk is survivable once the file ends on a record
//  boundary again, and that cut is synced so a crash cannot bring refused records back.
static hd_err_t
s_write_failed (hd_journal_t *self, int err, uint64_t lost)
{
    if (hd_journal_errno_rc (err) == HD_EIO)
        return hd_journal_fail (self, HD_EIO, "write to journal.log failed: %s", strerror (err));
    if (ftruncate (self->fd, (off_t) self->size) != 0 || self->io.fdatasync_fn (self->fd) != 0)
        return hd_journal_fail (self, HD_EIO, "cannot cut journal.log back after \"%s\": %s",
                                strerror (err), strerror (errno));
    return hd_journal_fail (self, HD_EFULL, "journal.log: %s; %" PRIu64 " records discarded",
                            strerror (err), lost);
}

hd_err_t
hd_journal_commit_begin (hd_journal_t *self, bool *started)
{
    assert (self && !self->compacting && !self->in_flight);
    *started = false;
    if (self->failed)
        return HD_EIO;
    if (self->batch_records == 0)
        return HD_OK;
    hd_buf_t t = self->flight;  //  swap: both keep their memory for reuse
    self->flight = self->batch;
    self->batch = t;
    self->flight_records = self->batch_records;
    self->flight_lsn = self->last_lsn;
    self->flight_stage = 0;
    self->in_flight = true;
    s_discard_batch (self);
    *started = true;
    return HD_OK;
}

int
hd_journal_commit_write (hd_journal_t *self)
{
    assert (self && self->in_flight);
    int err = hd_journal_write_all (self, self->fd, self->flight.data, self->flight.size);
    if (err) {
        self->flight_stage = 1;
        return err;
    }
    if (self->io.fdatasync_fn (self->fd) != 0) {
        self->flight_stage = 2;
        return errno ? errno : EIO;
    }
    return 0;
}

hd_err_t
hd_journal_commit_end (hd_journal_t *self, int write_err)
{
    assert (self && self->in_flight);
    self->in_flight = false;
    uint64_t size = self->flight.size, records = self->flight_records;
    if (self->flight.cap > 2 * HD_JOURNAL_BATCH_SOFT)
        hd_buf_fini (&self->flight);
    hd_buf_reset (&self->flight);
    self->flight_records = 0;
    if (write_err && self->flight_stage == 1)
        return s_write_failed (self, write_err, records);
    //  Never retried: after a failed fdatasync the kernel may have dropped the dirty pages
    //  and a second call can succeed without the data being on disk.
    if (write_err)
        return hd_journal_fail (self, HD_EIO, "fdatasync of journal.log failed: %s",
                                strerror (write_err));
    self->size += size;
    self->durable_lsn = self->flight_lsn;
    return HD_OK;
}

bool
hd_journal_in_flight (const hd_journal_t *self)
{
    return self && self->in_flight;
}

hd_err_t
hd_journal_commit (hd_journal_t *self)
{
    assert (self && !self->compacting && !self->in_flight);
    bool started;
    hd_err_t rc = hd_journal_commit_begin (self, &started);
    if (rc != HD_OK || !started)
        return rc;
    return hd_journal_commit_end (self, hd_journal_commit_write (self));
}

void
hd_journal_set_now (hd_journal_t *self, int64_t now_ms)
{
    assert (self);
    self->now_ms = now_ms;
}

int64_t
hd_journal_next_commit_ms (const hd_journal_t *self, int64_t now_ms)
{
    assert (self);
    if (self->batch_records == 0)
        return -1;
    if (self->cfg.mode == HD_JOURNAL_SYNC || self->batch.size >= HD_JOURNAL_BATCH_SOFT)
        return 0;
    int64_t due = self->batch_since_ms + (int64_t) self->cfg.batch_delay_ms;
    return due > now_ms ? due - now_ms : 0;
}

bool
hd_journal_commit_due (const hd_journal_t *self, int64_t now_ms)
{
    return hd_journal_next_commit_ms (self, now_ms) == 0;
}

uint64_t
hd_journal_durable_lsn (const hd_journal_t *self)
{
    assert (self);
    return self->durable_lsn;
}

uint64_t
hd_journal_pending (const hd_journal_t *self)
{
    assert (self);
    return self->batch_records;
}

uint32_t
hd_journal_version (const hd_journal_t *self)
{
    assert (self);
    return self->cfg.mode == HD_JOURNAL_NONE ? HD_JOURNAL_VERSION : self->version;
}

uint64_t
hd_journal_size (const hd_journal_t *self)
{
    assert (self);
    return self->cfg.mode == HD_JOURNAL_NONE ? 0 : self->size;
}

const char *
hd_journal_last_error (const hd_journal_t *self)
{
    assert (self);
    return self->error;
}
