/*  hd_jobstore: job slots in a growable array (a job's slot index is stable while it lives),
    one open store descriptor per job, a bitmap of stored indices per job. Lookup by id is a
    scan: jobs are few (--max-key-jobs per key) and looked up per client command, never per
    task (the broker keeps the slot in the job's session).  */
#include "hd_jobstore_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hd_codec.h"
#include "hd_pack.h"

void
hd_jobstore_path (const hd_jobstore_t *self, const char *job, const char *ext, char *out, size_t len)
{
    snprintf (out, len, "%s/%s%s", self->dir, job, ext);
}

//  --- meta files -------------------------------------------------------------------------------

static int
s_fsync_dir (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int err = fsync (fd) == 0 ? 0 : errno;
    close (fd);
    return err;
}

static hd_err_t
s_errno_rc (int err)
{
    return err == ENOSPC || err == EDQUOT ? HD_EFULL : err == ENOMEM ? HD_ENOMEM : HD_EIO;
}

//  tmp + fsync + rename + fsync of the directory.
static hd_err_t
s_write_meta (hd_jobstore_t *self, const hd_jobrec_t *r)
{
    char path[4200], tmp[4210], text[512];
    hd_jobstore_path (self, r->job, ".meta", path, sizeof path);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf (text, sizeof text,
                      "heddle-job 1\njob %s\nowner %s\nname %s\ntotal %" PRIu32 "\ncreated %" PRId64
                      "\nttl %" PRIu32 "\ncancelled %d\n",
                      r->job, r->owner, r->name, r->total, r->created_ms, r->ttl_s,
                      r->cancelled ? 1 : 0);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return s_errno_rc (errno);
    int err = write (fd, text, (size_t) n) == n ? 0 : errno ? errno : ENOSPC;
    if (!err && fsync (fd) != 0)
        err = errno;
    close (fd);
    if (!err && rename (tmp, path) != 0)
        err = errno;
    if (!err)
        err = s_fsync_dir (self->dir);
    if (err)
        unlink (tmp);
    return err ? s_errno_rc (err) : HD_OK;
}

//  --- slots ------------------------------------------------------------------------------------

static hd_err_t
s_slot (hd_jobstore_t *self, uint32_t *out)
{
    for (uint32_t i = 0; i < self->n; i++)
        if (!self->jobs[i].used) {
            *out = i;
            return HD_OK;
        }
    if (self->n == self->cap) {
        uint32_t cap = self->cap ? self->cap * 2 : 16;
        hd_jobslot_t *jobs = realloc (self->jobs, cap * sizeof *jobs);
        if (!jobs)
            return HD_ENOMEM;
        self->jobs = jobs;
        self->cap = cap;
    }
    *out = self->n++;
    return HD_OK;
}

hd_err_t
hd_jobstore_take (hd_jobstore_t *self, const hd_jobrec_t *r, int fd, uint32_t *out)
{
    uint32_t i;
    hd_err_t rc = s_slot (self, &i);
    uint64_t *bits = rc == HD_OK ? calloc ((r->total + 63) / 64, sizeof *bits) : NULL;
    if (!bits)
        return HD_ENOMEM;
    hd_jobslot_t *j = &self->jobs[i];
    memset (j, 0, sizeof *j);
    j->rec = *r;
    j->rec.stored = j->rec.ok = j->rec.failed = j->rec.ncancelled = 0;
    j->rec.bytes = 0;
    (void) hd_job_nonce (j->rec.job, j->rec.nonce);  //  valid: checked at create and load
    j->used = true;
    j->fd = fd;
    j->bits = bits;
    self->count++;
    *out = i;
    return HD_OK;
}

void
hd_jobstore_mark (hd_jobslot_t *j, uint64_t index, uint32_t status, uint64_t pair)
{
    j->bits[index / 64] |= 1ull << (index % 64);
    j->rec.stored++;
    j->rec.bytes += pair;
    if (status == HD_ST_OK)
        j->rec.ok++;
    else if (status == HD_ST_CANCELLED)
        j->rec.ncancelled++;
    else
        j->rec.failed++;
}

void
hd_jobstore_destroy (hd_jobstore_t **self_p)
{
    hd_jobstore_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->n; i++)
        if (self->jobs[i].used) {
            close (self->jobs[i].fd);
            free (self->jobs[i].bits);
        }
    free (self->jobs);
    free (self);
    *self_p = NULL;
}

//  --- queries ----------------------------------------------------------------------------------

uint32_t
hd_jobstore_slots (const hd_jobstore_t *self)
{
    return self->n;
}

hd_jobrec_t *
hd_jobstore_at (const hd_jobstore_t *self, uint32_t i)
{
    return i < self->n && self->jobs[i].used ? &self->jobs[i].rec : NULL;
}

uint32_t
hd_jobstore_find (const hd_jobstore_t *self, const char *job)
{
    for (uint32_t i = 0; i < self->n; i++)
        if (self->jobs[i].used && !strcmp (self->jobs[i].rec.job, job))
            return i;
    return HD_JOBSTORE_NONE;
}

uint32_t
hd_jobstore_count (const hd_jobstore_t *self)
{
    return self->count;
}

uint32_t
hd_jobstore_owner_jobs (const hd_jobstore_t *self, const char *owner)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < self->n; i++)
        n += self->jobs[i].used && !strcmp (self->jobs[i].rec.owner, owner);
    return n;
}

uint64_t
hd_jobstore_bytes (const hd_jobstore_t *self)
{
    return self->bytes;
}

bool
hd_jobstore_has (const hd_jobstore_t *self, uint32_t i, uint64_t index)
{
    const hd_jobslot_t *j = &self->jobs[i];
    return index < j->rec.total && (j->bits[index / 64] >> (index % 64) & 1);
}

uint64_t
hd_jobstore_next_missing (const hd_jobstore_t *self, uint32_t i, uint64_t from)
{
    const hd_jobslot_t *j = &self->jobs[i];
    uint64_t total = j->rec.total;
    while (from < total) {
        uint64_t word = ~j->bits[from / 64] >> (from % 64);  //  missing ones from `from` on
        if (word)
            return from + (uint64_t) __builtin_ctzll (word) < total
                       ? from + (uint64_t) __builtin_ctzll (word) : total;
        from = (from / 64 + 1) * 64;
    }
    return total;
}

double
hd_jobstore_rate (const hd_jobrec_t *rec, int64_t now_ms)
{
    int64_t now_s = now_ms / 10000, sum = 0;
    for (int64_t k = 0; k < HD_JOBSTORE_RATE_SLOTS; k++) {
        int64_t slot = rec->rate_at_s - k;
        if (slot >= 0 && now_s - slot < HD_JOBSTORE_RATE_SLOTS)
            sum += rec->rate[slot % HD_JOBSTORE_RATE_SLOTS];
    }
    return (double) sum / (HD_JOBSTORE_RATE_SLOTS * 10.0);
}

static void
s_rate_add (hd_jobrec_t *rec, int64_t now_ms)
{
    int64_t now_s = now_ms / 10000;  //  10-second slots
    if (now_s < 0)
        return;
    for (int64_t s = rec->rate_at_s + 1; s <= now_s && s - rec->rate_at_s <= HD_JOBSTORE_RATE_SLOTS;
         s++)
        rec->rate[s % HD_JOBSTORE_RATE_SLOTS] = 0;
    if (now_s > rec->rate_at_s)
        rec->rate_at_s = now_s;
    rec->rate[rec->rate_at_s % HD_JOBSTORE_RATE_SLOTS]++;
}

//  --- changes ----------------------------------------------------------------------------------

hd_err_t
hd_jobstore_create (hd_jobstore_t *self, const hd_jobrec_t *meta, uint32_t *out)
{
    if (!hd_job_id_valid (meta->job) || !meta->total || meta->total > HD_JOBSTORE_MAX_TOTAL
        || hd_jobstore_find (self, meta->job) != HD_JOBSTORE_NONE)
        return HD_EINVAL;
    char path[4200];
    hd_jobstore_path (self, meta->job, ".results", path, sizeof path);
    int fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return s_errno_rc (errno);
    hd_err_t rc = s_write_meta (self, meta);
    if (rc == HD_OK)
        rc = hd_jobstore_take (self, meta, fd, out);
    if (rc != HD_OK) {
        close (fd);
        unlink (path);
        hd_jobstore_path (self, meta->job, ".meta", path, sizeof path);
        unlink (path);
    }
    return rc;
}

hd_err_t
hd_jobstore_cancel (hd_jobstore_t *self, uint32_t i)
{
    hd_jobslot_t *j = &self->jobs[i];
    if (j->rec.cancelled)
        return HD_OK;
    j->rec.cancelled = true;
    hd_err_t rc = s_write_meta (self, &j->rec);
    if (rc != HD_OK)
        j->rec.cancelled = false;
    return rc;
}

void
hd_jobstore_remove (hd_jobstore_t *self, uint32_t i)
{
    if (i >= self->n || !self->jobs[i].used)
        return;
    hd_jobslot_t *j = &self->jobs[i];
    char path[4200];
    hd_jobstore_path (self, j->rec.job, ".meta", path, sizeof path);
    unlink (path);
    hd_jobstore_path (self, j->rec.job, ".results", path, sizeof path);
    unlink (path);
    (void) s_fsync_dir (self->dir);
    close (j->fd);
    free (j->bits);
    self->bytes -= j->rec.bytes;
    j->used = false;
    self->count--;
}

//  One bin header at `p` (`left` bytes readable): its length in *n, header size returned; 0 when
//  it is not a bin header or cut short.
size_t
hd_jobstore_bin_head (const uint8_t *p, size_t left, uint64_t *n)
{
    if (left >= 2 && p[0] == 0xc4)
        return *n = p[1], 2;
    if (left >= 3 && p[0] == 0xc5)
        return *n = (uint64_t) p[1] << 8 | p[2], 3;
    if (left >= 5 && p[0] == 0xc6)
        return *n = (uint64_t) p[1] << 24 | (uint64_t) p[2] << 16 | (uint64_t) p[3] << 8 | p[4], 5;
    return 0;
}

static size_t
s_put_head (uint8_t *p, uint64_t n)
{
    if (n <= UINT8_MAX)
        return p[0] = 0xc4, p[1] = (uint8_t) n, 2;
    if (n <= UINT16_MAX)
        return p[0] = 0xc5, p[1] = (uint8_t) (n >> 8), p[2] = (uint8_t) n, 3;
    p[0] = 0xc6;
    for (int k = 0; k < 4; k++)
        p[1 + k] = (uint8_t) (n >> (24 - 8 * k));
    return 5;
}

//  One pwritev of the pair (4 pieces); a short write goes on with what is left. 0 or an errno.
static int
s_pwritev_all (int fd, struct iovec *iov, int n, uint64_t off)
{
    while (n) {
        ssize_t w = pwritev (fd, iov, n, (off_t) off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : ENOSPC;
        off += (uint64_t) w;
        while (n && (size_t) w >= iov->iov_len) {
            w -= (ssize_t) iov->iov_len;
            iov++, n--;
        }
        if (n) {
            iov->iov_base = (uint8_t *) iov->iov_base + w;
            iov->iov_len -= (size_t) w;
        }
    }
    return 0;
}

hd_err_t
hd_jobstore_append (hd_jobstore_t *self, uint32_t i, uint64_t index, uint32_t status,
                    const void *env, size_t env_size, const void *out, size_t out_size,
                    int64_t now_ms)
{
    hd_jobslot_t *j = &self->jobs[i];
    if (index >= j->rec.total || hd_jobstore_has (self, i, index) || env_size > UINT32_MAX
        || out_size > UINT32_MAX)
        return HD_EINVAL;
    uint8_t h1[5], h2[5];
    struct iovec iov[4] = { { h1, s_put_head (h1, env_size) }, { (void *) env, env_size },
                            { h2, s_put_head (h2, out_size) }, { (void *) out, out_size } };
    uint64_t at = j->rec.bytes, pair = iov[0].iov_len + env_size + iov[2].iov_len + out_size;
    int err = s_pwritev_all (j->fd, iov, out_size ? 4 : 3, at);
    if (err) {
        (void) !ftruncate (j->fd, (off_t) at);  //  nothing of it stays
        return s_errno_rc (err);
    }
    hd_jobstore_mark (j, index, status, pair);
    self->bytes += pair;
    j->dirty = true;
    s_rate_add (&j->rec, now_ms);
    return HD_OK;
}

//  Items [0, n) as iovecs (4 per item, 3 when its output is empty) with their bin headers in
//  `heads` (10 bytes per item). Returns the iovecs used; *bytes their total.
static int
s_items_iov (const hd_jobstore_item_t *items, uint32_t n, uint8_t *heads, struct iovec *iov,
             uint64_t *bytes)
{
    int k = 0;
    *bytes = 0;
    for (uint32_t m = 0; m < n; m++) {
        const hd_jobstore_item_t *it = &items[m];
        uint8_t *h1 = heads + 10 * m, *h2 = h1 + 5;
        size_t l1 = s_put_head (h1, it->env_size), l2 = s_put_head (h2, it->out_size);
        iov[k++] = (struct iovec) { h1, l1 };
        iov[k++] = (struct iovec) { (void *) it->env, it->env_size };
        iov[k++] = (struct iovec) { h2, l2 };
        if (it->out_size)
            iov[k++] = (struct iovec) { (void *) it->out, it->out_size };
        *bytes += l1 + it->env_size + l2 + it->out_size;
    }
    return k;
}

hd_err_t
hd_jobstore_append_many (hd_jobstore_t *self, uint32_t i, const hd_jobstore_item_t *items,
                         uint32_t n, int64_t now_ms)
{
    hd_jobslot_t *j = &self->jobs[i];
    for (uint32_t m = 0; m < n; m++) {
        const hd_jobstore_item_t *it = &items[m];
        if (it->index >= j->rec.total || hd_jobstore_has (self, i, it->index)
            || it->env_size > UINT32_MAX || it->out_size > UINT32_MAX)
            return HD_EINVAL;
        for (uint32_t o = 0; o < m; o++)
            if (items[o].index == it->index)
                return HD_EINVAL;
    }
    uint8_t heads[10 * HD_JOBSTORE_BATCH];
    struct iovec iov[4 * HD_JOBSTORE_BATCH];
    uint64_t start = j->rec.bytes, at = start;
    for (uint32_t m = 0; m < n; m += HD_JOBSTORE_BATCH) {
        uint32_t c = n - m < HD_JOBSTORE_BATCH ? n - m : HD_JOBSTORE_BATCH;
        uint64_t bytes;
        int k = s_items_iov (items + m, c, heads, iov, &bytes);
        int err = s_pwritev_all (j->fd, iov, k, at);
        if (err) {
            (void) !ftruncate (j->fd, (off_t) start);  //  nothing of the batch stays
            return s_errno_rc (err);
        }
        at += bytes;
    }
    for (uint32_t m = 0; m < n; m++) {
        const hd_jobstore_item_t *it = &items[m];
        uint8_t h[5];
        uint64_t pair = s_put_head (h, it->env_size) + it->env_size
                        + s_put_head (h, it->out_size) + it->out_size;
        hd_jobstore_mark (j, it->index, it->status, pair);
        self->bytes += pair;
        s_rate_add (&j->rec, now_ms);
    }
    j->dirty = true;
    return HD_OK;
}

//  The size of the whole pair at `off` in memory (`n` bytes there): 1 with *pair, 0 when it is
//  not all there, -1 when the bytes are not a pair.
static int
s_mem_pair (const uint8_t *p, uint64_t n, uint64_t *pair)
{
    uint64_t e, o;
    size_t h1 = hd_jobstore_bin_head (p, n < 5 ? (size_t) n : 5, &e);
    if (!h1)
        return n >= 5 || (n && p[0] != 0xc4 && p[0] != 0xc5 && p[0] != 0xc6) ? -1 : 0;
    if (h1 + e >= n)
        return 0;
    uint64_t rest = n - h1 - e;
    size_t h2 = hd_jobstore_bin_head (p + h1 + e, rest < 5 ? (size_t) rest : 5, &o);
    if (!h2)
        return rest >= 5 ? -1 : 0;
    *pair = h1 + e + h2 + o;
    return *pair <= n ? 1 : 0;
}

//  The size of the pair at `off` read from the file (a pair larger than the bytes read at once).
static bool
s_file_pair (int fd, uint64_t off, uint64_t size, uint64_t *pair)
{
    uint8_t head[5];
    uint64_t e, o, left = size - off;
    size_t n = left < 5 ? (size_t) left : 5;
    if (pread (fd, head, n, (off_t) off) != (ssize_t) n)
        return false;
    size_t h1 = hd_jobstore_bin_head (head, n, &e);
    if (!h1 || off + h1 + e >= size)
        return false;
    left = size - off - h1 - e;
    n = left < 5 ? (size_t) left : 5;
    if (pread (fd, head, n, (off_t) (off + h1 + e)) != (ssize_t) n)
        return false;
    size_t h2 = hd_jobstore_bin_head (head, n, &o);
    *pair = h1 + e + h2 + o;
    return h2 && off + *pair <= size;
}

hd_err_t
hd_jobstore_read (hd_jobstore_t *self, uint32_t i, uint64_t off, uint32_t max, hd_buf_t *buf,
                  uint64_t *next, uint32_t *count)
{
    hd_jobslot_t *j = &self->jobs[i];
    uint64_t size = j->rec.bytes, end = 0, pair;
    hd_buf_reset (buf);
    *next = off;
    *count = 0;
    if (off >= size)
        return HD_OK;
    //  One read of up to `max` bytes, cut after its last whole pair; a first pair larger than
    //  `max` is read alone.
    uint64_t want = size - off < max ? size - off : max;
    if (hd_buf_reserve (buf, (size_t) want) != HD_OK)
        return HD_ENOMEM;
    if (pread (j->fd, buf->data, (size_t) want, (off_t) off) != (ssize_t) want)
        return HD_EIO;
    int rc;
    while ((rc = s_mem_pair (buf->data + end, want - end, &pair)) == 1) {
        end += pair;
        (*count)++;
    }
    if (rc < 0 && !*count)
        return HD_EIO;
    if (!*count) {
        if (!s_file_pair (j->fd, off, size, &pair) || pair > SIZE_MAX)
            return HD_EIO;
        if (hd_buf_reserve (buf, (size_t) pair) != HD_OK)
            return HD_ENOMEM;
        if (pread (j->fd, buf->data, (size_t) pair, (off_t) off) != (ssize_t) pair)
            return HD_EIO;
        end = pair;
        *count = 1;
    }
    buf->size = (size_t) end;
    *next = off + end;
    return HD_OK;
}

int
hd_jobstore_dirty_fds (hd_jobstore_t *self, int *fds, int max)
{
    int n = 0;
    for (uint32_t i = 0; i < self->n; i++) {
        hd_jobslot_t *j = &self->jobs[i];
        if (!j->used || !j->dirty)
            continue;
        int fd = n < max ? fcntl (j->fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (fd < 0) {
            while (n)
                close (fds[--n]);
            return -1;
        }
        fds[n++] = fd;
    }
    for (uint32_t i = 0; i < self->n; i++)
        self->jobs[i].dirty = false;
    return n;
}

int
hd_jobstore_sync (hd_jobstore_t *self)
{
    int first = 0;
    for (uint32_t i = 0; i < self->n; i++) {
        hd_jobslot_t *j = &self->jobs[i];
        if (j->used && j->dirty) {
            if (fdatasync (j->fd) != 0 && !first)
                first = errno;
            j->dirty = false;
        }
    }
    return first;
}

void
hd_jobstore_touch (hd_jobstore_t *self, uint32_t i)
{
    if (i < self->n && self->jobs[i].used)
        self->jobs[i].dirty = true;
}
