/*  hd_jobstore: job slots in a growable array (a job's slot index is stable while it lives),
    one open store descriptor per job, a bitmap of stored indices per job. Lookup by id is a
    scan: jobs are few (--max-key-jobs per key) and looked up per client command, never per
    task (the broker keeps the slot in the job's session).  */
#include "hd_jobstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_codec.h"
#include "hd_pack.h"

typedef struct {
    hd_jobrec_t rec;
    bool used, dirty;
    int fd;
    uint64_t *bits;
} s_job_t;

struct hd_jobstore {
    char dir[4096];
    s_job_t *jobs;
    uint32_t n, cap, count;
    uint64_t bytes;
};

static void
s_path (const hd_jobstore_t *self, const char *job, const char *ext, char *out, size_t len)
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
    s_path (self, r->job, ".meta", path, sizeof path);
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

static bool
s_meta_line (hd_jobrec_t *r, const char *key, const char *v, uint32_t *seen)
{
    char *end = NULL;
    errno = 0;
    if (!strcmp (key, "job"))
        return *seen |= 1, snprintf (r->job, sizeof r->job, "%s", v) < (int) sizeof r->job;
    if (!strcmp (key, "owner"))
        return snprintf (r->owner, sizeof r->owner, "%s", v) < (int) sizeof r->owner;
    if (!strcmp (key, "name"))
        return snprintf (r->name, sizeof r->name, "%s", v) < (int) sizeof r->name;
    if (!strcmp (key, "total")) {
        unsigned long long t = strtoull (v, &end, 10);
        r->total = (uint32_t) t;
        return *seen |= 2, !errno && *end == 0 && t >= 1 && t <= HD_JOBSTORE_MAX_TOTAL;
    }
    if (!strcmp (key, "created"))
        return r->created_ms = strtoll (v, &end, 10), !errno && *end == 0;
    if (!strcmp (key, "ttl")) {
        unsigned long long t = strtoull (v, &end, 10);
        r->ttl_s = (uint32_t) t;
        return !errno && *end == 0 && t <= UINT32_MAX;
    }
    if (!strcmp (key, "cancelled"))
        return r->cancelled = v[0] == '1', true;
    return true;  //  unknown: a newer writer's
}

static bool
s_read_meta (const char *path, hd_jobrec_t *r)
{
    FILE *f = fopen (path, "re");
    if (!f)
        return false;
    char line[512];
    uint32_t seen = 0;
    bool ok = fgets (line, sizeof line, f) && strcmp (line, "heddle-job 1\n") == 0;
    while (ok && fgets (line, sizeof line, f)) {
        size_t n = strlen (line);
        if (!n || line[n - 1] != '\n')
            ok = false;
        line[n ? n - 1 : 0] = 0;
        char *sp = strchr (line, ' ');
        if (ok && sp) {
            *sp = 0;
            ok = s_meta_line (r, line, sp + 1, &seen);
        }
    }
    fclose (f);
    return ok && seen == 3 && hd_job_id_valid (r->job);
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
        s_job_t *jobs = realloc (self->jobs, cap * sizeof *jobs);
        if (!jobs)
            return HD_ENOMEM;
        self->jobs = jobs;
        self->cap = cap;
    }
    *out = self->n++;
    return HD_OK;
}

static hd_err_t
s_take (hd_jobstore_t *self, const hd_jobrec_t *r, int fd, uint32_t *out)
{
    uint32_t i;
    hd_err_t rc = s_slot (self, &i);
    uint64_t *bits = rc == HD_OK ? calloc ((r->total + 63) / 64, sizeof *bits) : NULL;
    if (!bits)
        return HD_ENOMEM;
    s_job_t *j = &self->jobs[i];
    memset (j, 0, sizeof *j);
    j->rec = *r;
    j->rec.stored = j->rec.ok = j->rec.failed = j->rec.ncancelled = 0;
    j->rec.bytes = 0;
    j->used = true;
    j->fd = fd;
    j->bits = bits;
    self->count++;
    *out = i;
    return HD_OK;
}

static void
s_mark (s_job_t *j, uint64_t index, uint32_t status, uint64_t pair)
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

//  --- loading ----------------------------------------------------------------------------------

//  One bin header at `p` (`left` bytes readable): its length in *n, header size returned; 0 when
//  it is not a bin header or cut short.
static size_t
s_bin_head (const uint8_t *p, size_t left, uint64_t *n)
{
    if (left >= 2 && p[0] == 0xc4)
        return *n = p[1], 2;
    if (left >= 3 && p[0] == 0xc5)
        return *n = (uint64_t) p[1] << 8 | p[2], 3;
    if (left >= 5 && p[0] == 0xc6)
        return *n = (uint64_t) p[1] << 24 | (uint64_t) p[2] << 16 | (uint64_t) p[3] << 8 | p[4], 5;
    return 0;
}

#define S_SCAN_BUF (HD_MAX_ENVELOPE + 16)

//  The pair at `off` of a store of `size` bytes: its envelope decoded into *res, its total size
//  in *pair. false: torn, not a pair, or not a result.
static bool
s_pair_at (int fd, uint64_t off, uint64_t size, uint8_t *buf, hd_result_t *res, uint64_t *pair)
{
    size_t want = size - off < S_SCAN_BUF ? (size_t) (size - off) : S_SCAN_BUF;
    ssize_t got = pread (fd, buf, want, (off_t) off);
    if (got <= 0)
        return false;
    uint64_t env, out;
    size_t h1 = s_bin_head (buf, (size_t) got, &env);
    if (!h1 || env > HD_MAX_ENVELOPE || h1 + env > (uint64_t) got)
        return false;
    size_t h2 = s_bin_head (buf + h1 + env, (size_t) got - h1 - env, &out);
    if (!h2 || off + h1 + env + h2 + out > size)
        return false;
    *pair = h1 + env + h2 + out;
    return hd_codec_decode_result (buf + h1, (size_t) env, res) == HD_OK;
}

//  Rebuild bitmap and counts; cut the store at the first pair that is torn or not this job's.
static hd_err_t
s_scan (hd_jobstore_t *self, s_job_t *j, uint64_t *cut)
{
    struct stat st;
    if (fstat (j->fd, &st) != 0)
        return HD_EIO;
    uint64_t size = (uint64_t) st.st_size, off = 0, pair, index;
    uint8_t *buf = malloc (S_SCAN_BUF);
    if (!buf)
        return HD_ENOMEM;
    hd_result_t res;
    while (off < size && s_pair_at (j->fd, off, size, buf, &res, &pair)
           && hd_job_task_index (j->rec.job, res.id.b, &index) && index < j->rec.total
           && !hd_jobstore_has (self, (uint32_t) (j - self->jobs), index)) {
        s_mark (j, index, res.status, pair);
        off += pair;
    }
    free (buf);
    *cut = size - off;
    if (off < size && (ftruncate (j->fd, (off_t) off) != 0 || fdatasync (j->fd) != 0))
        return HD_EIO;
    return HD_OK;
}

static void
s_load_one (hd_jobstore_t *self, const char *file, void (*warn) (const char *))
{
    char path[4400], text[4600];
    hd_jobrec_t r;
    memset (&r, 0, sizeof r);
    snprintf (path, sizeof path, "%s/%s", self->dir, file);
    size_t n = strlen (file);
    if (!s_read_meta (path, &r) || strlen (r.job) + 5 != n || strncmp (file, r.job, n - 5)) {
        snprintf (text, sizeof text, "jobs: %s does not read as a job's meta file: left alone",
                  path);
        if (warn)
            warn (text);
        return;
    }
    s_path (self, r.job, ".results", path, sizeof path);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    uint32_t i;
    if (fd < 0 || s_take (self, &r, fd, &i) != HD_OK) {
        snprintf (text, sizeof text, "jobs: cannot open %s: %s", path, strerror (errno));
        if (fd >= 0)
            close (fd);
        if (warn)
            warn (text);
        return;
    }
    uint64_t cut = 0;
    if (s_scan (self, &self->jobs[i], &cut) != HD_OK || cut) {
        snprintf (text, sizeof text, "jobs: %s: cut a torn or foreign tail of %" PRIu64
                  " bytes after %" PRIu32 " results", path, cut, self->jobs[i].rec.stored);
        if (warn)
            warn (text);
    }
    self->bytes += self->jobs[i].rec.bytes;
}

hd_err_t
hd_jobstore_open (const char *dir, hd_jobstore_t **out, void (*warn) (const char *text),
                  char *errbuf, size_t errlen)
{
    *out = NULL;
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        snprintf (errbuf, errlen, "cannot create %s: %s", dir, strerror (errno));
        return HD_EIO;
    }
    DIR *d = opendir (dir);
    hd_jobstore_t *self = d ? calloc (1, sizeof *self) : NULL;
    if (!self) {
        snprintf (errbuf, errlen, "cannot read %s: %s", dir, d ? "out of memory" : strerror (errno));
        if (d)
            closedir (d);
        return d ? HD_ENOMEM : HD_EIO;
    }
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    struct dirent *e;
    while ((e = readdir (d))) {
        size_t n = strlen (e->d_name);
        if (n == HD_JOB_ID_LEN + 5 && !strcmp (e->d_name + HD_JOB_ID_LEN, ".meta"))
            s_load_one (self, e->d_name, warn);
    }
    closedir (d);
    *out = self;
    return HD_OK;
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
    const s_job_t *j = &self->jobs[i];
    return index < j->rec.total && (j->bits[index / 64] >> (index % 64) & 1);
}

uint64_t
hd_jobstore_next_missing (const hd_jobstore_t *self, uint32_t i, uint64_t from)
{
    const s_job_t *j = &self->jobs[i];
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
    s_path (self, meta->job, ".results", path, sizeof path);
    int fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return s_errno_rc (errno);
    hd_err_t rc = s_write_meta (self, meta);
    if (rc == HD_OK)
        rc = s_take (self, meta, fd, out);
    if (rc != HD_OK) {
        close (fd);
        unlink (path);
        s_path (self, meta->job, ".meta", path, sizeof path);
        unlink (path);
    }
    return rc;
}

hd_err_t
hd_jobstore_cancel (hd_jobstore_t *self, uint32_t i)
{
    s_job_t *j = &self->jobs[i];
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
    s_job_t *j = &self->jobs[i];
    char path[4200];
    s_path (self, j->rec.job, ".meta", path, sizeof path);
    unlink (path);
    s_path (self, j->rec.job, ".results", path, sizeof path);
    unlink (path);
    (void) s_fsync_dir (self->dir);
    close (j->fd);
    free (j->bits);
    self->bytes -= j->rec.bytes;
    j->used = false;
    self->count--;
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

static int
s_pwrite_all (int fd, const void *data, size_t size, uint64_t off)
{
    const uint8_t *p = data;
    while (size) {
        ssize_t n = pwrite (fd, p, size, (off_t) off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : ENOSPC;
        p += n, size -= (size_t) n, off += (uint64_t) n;
    }
    return 0;
}

hd_err_t
hd_jobstore_append (hd_jobstore_t *self, uint32_t i, uint64_t index, uint32_t status,
                    const void *env, size_t env_size, const void *out, size_t out_size,
                    int64_t now_ms)
{
    s_job_t *j = &self->jobs[i];
    if (index >= j->rec.total || hd_jobstore_has (self, i, index) || env_size > UINT32_MAX
        || out_size > UINT32_MAX)
        return HD_EINVAL;
    uint8_t h1[5], h2[5];
    size_t n1 = s_put_head (h1, env_size), n2 = s_put_head (h2, out_size);
    uint64_t at = j->rec.bytes;
    int err = s_pwrite_all (j->fd, h1, n1, at);
    if (!err)
        err = s_pwrite_all (j->fd, env, env_size, at + n1);
    if (!err)
        err = s_pwrite_all (j->fd, h2, n2, at + n1 + env_size);
    if (!err && out_size)
        err = s_pwrite_all (j->fd, out, out_size, at + n1 + env_size + n2);
    if (err) {
        (void) !ftruncate (j->fd, (off_t) at);  //  nothing of it stays
        return s_errno_rc (err);
    }
    uint64_t pair = n1 + env_size + n2 + out_size;
    s_mark (j, index, status, pair);
    self->bytes += pair;
    j->dirty = true;
    s_rate_add (&j->rec, now_ms);
    return HD_OK;
}

hd_err_t
hd_jobstore_read (hd_jobstore_t *self, uint32_t i, uint64_t off, uint32_t max, hd_buf_t *buf,
                  uint64_t *next, uint32_t *count)
{
    s_job_t *j = &self->jobs[i];
    uint64_t size = j->rec.bytes, end = off;
    hd_buf_reset (buf);
    *next = off;
    *count = 0;
    if (off >= size)
        return HD_OK;
    uint8_t head[16];
    while (end < size && (*count == 0 || end - off < max)) {
        size_t want = size - end < 10 ? (size_t) (size - end) : 10;
        uint64_t env, out;
        if (pread (j->fd, head, want, (off_t) end) != (ssize_t) want)
            return HD_EIO;
        size_t h1 = s_bin_head (head, want, &env);
        if (!h1 || end + h1 + env >= size)
            return HD_EIO;
        uint8_t h2b[5];
        size_t left = size - end - h1 - env < 5 ? (size_t) (size - end - h1 - env) : 5;
        if (pread (j->fd, h2b, left, (off_t) (end + h1 + env)) != (ssize_t) left)
            return HD_EIO;
        size_t h2 = s_bin_head (h2b, left, &out);
        uint64_t pair = h1 + env + h2 + out;
        if (!h2 || end + pair > size)
            return HD_EIO;
        if (*count && end + pair - off > max)
            break;
        end += pair;
        (*count)++;
    }
    if (end - off > SIZE_MAX || hd_buf_reserve (buf, (size_t) (end - off)) != HD_OK)
        return HD_ENOMEM;
    if (pread (j->fd, buf->data, (size_t) (end - off), (off_t) off) != (ssize_t) (end - off))
        return HD_EIO;
    buf->size = (size_t) (end - off);
    *next = end;
    return HD_OK;
}

int
hd_jobstore_dirty_fds (hd_jobstore_t *self, int *fds, int max)
{
    int n = 0;
    for (uint32_t i = 0; i < self->n; i++) {
        s_job_t *j = &self->jobs[i];
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
        s_job_t *j = &self->jobs[i];
        if (j->used && j->dirty) {
            if (fdatasync (j->fd) != 0 && !first)
                first = errno;
            j->dirty = false;
        }
    }
    return first;
}
