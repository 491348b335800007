/*  hd_jobstore_load: a job store directory read back at open: each <job>.meta parsed, each
    store scanned through a read window, its bitmap and counts rebuilt and a torn or foreign
    tail cut away (hd_jobstore.h).  */
#include "hd_jobstore_int.h"

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

//  --- loading ----------------------------------------------------------------------------------

//  Loading reads a store through a window of S_WINDOW bytes (a pair's heads and envelope always
//  fit: the envelope is at most HD_MAX_ENVELOPE), so a store of many small pairs costs one read
//  per window, not per pair; outputs are skipped by their length.
#define S_WINDOW (256u << 10)

typedef struct {
    int fd;
    uint64_t size;  //  the file's
    uint8_t *buf;
    uint64_t at;    //  file offset of buf[0]
    size_t len;     //  bytes valid in buf
} s_win_t;

//  Bytes [off, off + need) readable in the window (need <= S_WINDOW). false: past the end of the
//  file or a read error.
static bool
s_win_have (s_win_t *w, uint64_t off, uint64_t need)
{
    if (off >= w->at && off + need <= w->at + w->len)
        return true;
    if (off + need > w->size)
        return false;
    size_t want = w->size - off < S_WINDOW ? (size_t) (w->size - off) : S_WINDOW;
    ssize_t got = pread (w->fd, w->buf, want, (off_t) off);
    w->at = off;
    w->len = got > 0 ? (size_t) got : 0;
    return got >= 0 && (uint64_t) got >= need;
}

//  The pair at `off`: its envelope (in the window) and whole size. false: torn or not a pair.
static bool
s_win_pair (s_win_t *w, uint64_t off, const uint8_t **env, uint64_t *env_size, uint64_t *pair)
{
    uint64_t left = w->size - off, e, o;
    if (!left || !s_win_have (w, off, left < 5 ? left : 5))
        return false;
    size_t h1 = hd_jobstore_bin_head (w->buf + (off - w->at), w->len - (size_t) (off - w->at), &e);
    if (!h1 || e > HD_MAX_ENVELOPE || off + h1 + e >= w->size)
        return false;
    uint64_t after = off + h1 + e, tail = w->size - after < 5 ? w->size - after : 5;
    if (!s_win_have (w, off, h1 + e + tail))
        return false;
    const uint8_t *p = w->buf + (off - w->at);
    size_t h2 = hd_jobstore_bin_head (p + h1 + e, w->len - (size_t) (off - w->at) - h1 - (size_t) e, &o);
    if (!h2 || after + h2 + o > w->size)
        return false;
    *env = p + h1;
    *env_size = e;
    *pair = h1 + e + h2 + o;
    return true;
}

//  Rebuild bitmap and counts; cut the store at the first pair that is torn or not this job's.
static hd_err_t
s_scan (hd_jobstore_t *self, hd_jobslot_t *j, uint64_t *cut)
{
    struct stat st;
    if (fstat (j->fd, &st) != 0)
        return HD_EIO;
    s_win_t w = { j->fd, (uint64_t) st.st_size, malloc (S_WINDOW), 0, 0 };
    if (!w.buf)
        return HD_ENOMEM;
    uint64_t off = 0, pair, index, env_size;
    const uint8_t *env;
    hd_result_t res;
    while (off < w.size && s_win_pair (&w, off, &env, &env_size, &pair)
           && hd_codec_decode_result (env, (size_t) env_size, &res) == HD_OK
           && hd_job_task_index (j->rec.job, res.id.b, &index) && index < j->rec.total
           && !hd_jobstore_has (self, (uint32_t) (j - self->jobs), index)) {
        hd_jobstore_mark (j, index, res.status, pair);
        off += pair;
    }
    free (w.buf);
    *cut = w.size - off;
    if (off < w.size && (ftruncate (j->fd, (off_t) off) != 0 || fdatasync (j->fd) != 0))
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
    hd_jobstore_path (self, r.job, ".results", path, sizeof path);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    uint32_t i;
    if (fd < 0 || hd_jobstore_take (self, &r, fd, &i) != HD_OK) {
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

