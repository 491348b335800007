/*  hd_sysinfo: the machine sampler (hd_sysinfo.h). Every source is a small text file read with
    open/read into the sampler's one buffer, line by line, so a sample allocates nothing (fopen
    and opendir would). A source that is missing or does not parse leaves its field absent: a
    worker on a board without thermal zones or on a non-Pi keeps publishing the rest.  */
#include "hd_sysinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define S_BUF_BYTES 4096  //  longest line we parse; longer lines are skipped whole
#define S_PATH_BYTES 4096
#define S_MAX_ZONES 64

struct hd_sampler {
    char *work_dir;  //  NULL: no disk fields
    char *root;      //  "" for the real /proc and /sys
    uint32_t nzones;
    uint32_t zones[S_MAX_ZONES];   //  N of each /sys/class/thermal/thermal_zoneN
    bool have_cpu;                 //  cpu_busy/cpu_total hold a baseline
    uint64_t cpu_busy, cpu_total;  //  USER_HZ ticks
    bool have_net;                 //  rx/tx/net_ms hold a baseline
    uint64_t rx, tx;               //  bytes
    int64_t net_ms;
    char path[S_PATH_BYTES];
    char buf[S_BUF_BYTES];
};

//  --- reading -----------------------------------------------------------------------------

//  A line reader over one fd and the sampler's buffer. /proc/stat's "intr" line can outgrow
//  any fixed buffer on a large machine, so over-long lines are dropped rather than split.
typedef struct {
    int fd;
    char *buf;
    size_t start, end;  //  unread bytes are buf[start, end); buf[end] stays writable for a NUL
    bool eof;
    bool skipping;  //  inside an over-long line
} s_reader_t;

static void s_path (hd_sampler_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Write root + the formatted path into self->path; a path that does not fit becomes "",
//  which no open() finds, so the source is simply absent.
static void
s_path (hd_sampler_t *self, const char *fmt, ...)
{
    size_t n = strlen (self->root);
    if (n >= sizeof self->path) {
        self->path[0] = 0;
        return;
    }
    memcpy (self->path, self->root, n);
    va_list args;
    va_start (args, fmt);
    int rc = vsnprintf (self->path + n, sizeof self->path - n, fmt, args);
    va_end (args);
    if (rc < 0 || (size_t) rc >= sizeof self->path - n)
        self->path[0] = 0;
}

static int
s_open (const hd_sampler_t *self)
{
    if (self->path[0] == 0)
        return -1;
    int fd;
    do
        fd = open (self->path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static void
s_fill (s_reader_t *r)
{
    if (r->start > 0) {
        memmove (r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == S_BUF_BYTES - 1) {
        r->skipping = true;  //  a full buffer and no newline: drop this line
        r->end = 0;
    }
    ssize_t n;
    do
        n = read (r->fd, r->buf + r->end, S_BUF_BYTES - 1 - r->end);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        r->eof = true;
        if (n < 0)
            r->end = r->start;  //  a read error: do not trust a partial last line
    } else
        r->end += (size_t) n;
}

//  The next line without its newline, NUL-terminated; NULL at end of file. The line is valid
//  until the next call.
static char *
s_next_line (s_reader_t *r)
{
    for (;;) {
        char *nl = memchr (r->buf + r->start, '\n', r->end - r->start);
        if (nl || (r->eof && r->start < r->end)) {
            char *line = r->buf + r->start;
            size_t stop = nl ? (size_t) (nl - r->buf) : r->end;
            r->buf[stop] = 0;
            r->start = nl ? stop + 1 : r->end;
            if (!r->skipping)
                return line;
            r->skipping = false;
            continue;
        }
        if (r->eof)
            return NULL;
        s_fill (r);
    }
}

//  Open self->path for s_next_line. false when the source is absent.
static bool
s_reader_open (hd_sampler_t *self, s_reader_t *r)
{
    *r = (s_reader_t){ .fd = s_open (self), .buf = self->buf };
    return r->fd >= 0;
}

static void
s_reader_close (s_reader_t *r)
{
    close (r->fd);
    r->fd = -1;
}

//  The first line of self->path (small one-value files), or NULL when absent or empty.
static char *
s_read_first_line (hd_sampler_t *self)
{
    s_reader_t r;
    if (!s_reader_open (self, &r))
        return NULL;
    char *line = s_next_line (&r);
    s_reader_close (&r);
    return line;
}

//  --- parsing -----------------------------------------------------------------------------

//  Parse an unsigned decimal at *p and move *p past it. false when there is no number.
static bool
s_take_u64 (char **p, uint64_t *out)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p < '0' || **p > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull (*p, &end, 10);
    if (errno != 0)
        return false;
    *p = end;
    *out = v;
    return true;
}

static bool
s_take_double (char **p, double *out)
{
    char *end;
    double v = strtod (*p, &end);
    if (end == *p)
        return false;
    *p = end;
    *out = v;
    return true;
}

//  A CPU list as in /sys/devices/system/cpu/online: "0-3,6,8-9".
static bool
s_count_cpu_list (char *p, uint32_t *out)
{
    uint64_t count = 0, a, b;
    while (s_take_u64 (&p, &a)) {
        b = a;
        if (*p == '-') {
            p++;
            if (!s_take_u64 (&p, &b) || b < a)
                return false;
        }
        count += b - a + 1;
        if (*p != ',')
            break;
        p++;
    }
    if (count == 0 || count > UINT32_MAX)
        return false;
    *out = (uint32_t) count;
    return true;
}

//  --- sources -----------------------------------------------------------------------------

//  cores: the kernel's online list under root, else sysconf (which reads the same list on
//  the real machine), else 1: cores is always present.
static void
s_sample_cores (hd_sampler_t *self, hd_sysinfo_t *out)
{
    s_path (self, "/sys/devices/system/cpu/online");
    char *line = s_read_first_line (self);
    if (!line || !s_count_cpu_list (line, &out->cores)) {
        long n = sysconf (_SC_NPROCESSORS_ONLN);
        out->cores = n > 0 && n <= (long) UINT32_MAX ? (uint32_t) n : 1;
    }
    out->present |= HD_M_CORES;
}

//  The aggregate "cpu" line: user nice system idle iowait irq softirq steal [guest guest_nice].
//  guest time is already inside user, so only the first eight count. Idle = idle + iowait.
static bool
s_parse_cpu_line (char *line, uint64_t *busy, uint64_t *total)
{
    if (strncmp (line, "cpu ", 4) != 0)
        return false;
    char *p = line + 4;
    uint64_t v[8] = { 0 }, sum = 0;
    int n = 0;
    while (n < 8 && s_take_u64 (&p, &v[n]))
        sum += v[n++];
    if (n < 4)
        return false;
    *total = sum;
    *busy = sum - v[3] - v[4];
    return true;
}

//  iowait may step backwards on NO_HZ kernels, so a busy count that shrank is clamped to no
//  busy time; a total that shrank (counters reset) makes this sample the new baseline.
static void
s_sample_cpu (hd_sampler_t *self, hd_sysinfo_t *out)
{
    s_path (self, "/proc/stat");
    uint64_t busy, total;
    char *line = s_read_first_line (self);
    if (!line || !s_parse_cpu_line (line, &busy, &total))
        return;
    if (self->have_cpu && total == self->cpu_total)
        return;  //  no tick since the baseline: keep it
    bool usable = self->have_cpu && total > self->cpu_total;
    uint64_t dtotal = total - self->cpu_total;
    uint64_t dbusy = busy > self->cpu_busy ? busy - self->cpu_busy : 0;
    self->have_cpu = true;
    self->cpu_busy = busy;
    self->cpu_total = total;
    if (!usable)
        return;
    out->cpu_util = dbusy >= dtotal ? 1.0 : (double) dbusy / (double) dtotal;
    out->present |= HD_M_CPU;
}

//  "0.52 0.58 0.59 1/467 12345"
static void
s_sample_load (hd_sampler_t *self, hd_sysinfo_t *out)
{
    s_path (self, "/proc/loadavg");
    char *p = s_read_first_line (self);
    double v[3];
    for (int i = 0; i < 3; i++)
        if (!p || !s_take_double (&p, &v[i]) || !(v[i] >= 0 && v[i] < 1e9))
            return;
    out->load1 = v[0];
    out->load5 = v[1];
    out->load15 = v[2];
    out->present |= HD_M_LOAD1 | HD_M_LOAD5 | HD_M_LOAD15;
}

//  "MemTotal:       16318480 kB": the value in bytes when `line` is `key`.
static bool
s_meminfo_value (char *line, const char *key, uint64_t *out)
{
    size_t n = strlen (key);
    if (strncmp (line, key, n) != 0 || line[n] != ':')
        return false;
    char *p = line + n + 1;
    uint64_t v;
    if (!s_take_u64 (&p, &v))
        return false;
    uint64_t unit = strcmp (p, " kB") == 0 ? 1024 : 1;
    if (v > UINT64_MAX / unit)
        return false;
    *out = v * unit;
    return true;
}

//  MemAvailable appeared in Linux 3.14; older kernels leave mem_avail absent.
static void
s_sample_mem (hd_sampler_t *self, hd_sysinfo_t *out)
{
    s_path (self, "/proc/meminfo");
    s_reader_t r;
    if (!s_reader_open (self, &r))
        return;
    char *line;
    while ((line = s_next_line (&r)) != NULL) {
        if (s_meminfo_value (line, "MemTotal", &out->mem_total))
            out->present |= HD_M_MEM_TOTAL;
        else if (s_meminfo_value (line, "MemAvailable", &out->mem_avail))
            out->present |= HD_M_MEM_AVAIL;
    }
    s_reader_close (&r);
}

//  f_bavail, not f_bfree: the blocks an unprivileged worker can actually write.
static void
s_sample_disk (const hd_sampler_t *self, hd_sysinfo_t *out)
{
    struct statvfs st;
    if (!self->work_dir || statvfs (self->work_dir, &st) != 0)
        return;
    uint64_t unit = st.f_frsize ? st.f_frsize : st.f_bsize;
    out->disk_total = (uint64_t) st.f_blocks * unit;
    out->disk_free = (uint64_t) st.f_bavail * unit;
    out->present |= HD_M_DISK_TOTAL | HD_M_DISK_FREE;
}

//  "  eth0: rxbytes rxpackets errs drop fifo frame compressed multicast txbytes ...".
//  Header lines have no colon. false for loopback and lines that do not parse.
static bool
s_parse_net_line (char *line, uint64_t *rx, uint64_t *tx)
{
    char *colon = strchr (line, ':');
    if (!colon)
        return false;
    *colon = 0;
    char *name = line + strspn (line, " \t");
    if (strcmp (name, "lo") == 0)
        return false;
    char *p = colon + 1;
    uint64_t skip;
    if (!s_take_u64 (&p, rx))
        return false;
    for (int i = 0; i < 7; i++)
        if (!s_take_u64 (&p, &skip))
            return false;
    return s_take_u64 (&p, tx);
}

//  Sum of rx and tx bytes over non-loopback interfaces. false when /proc/net/dev is absent.
static bool
s_read_net_totals (hd_sampler_t *self, uint64_t *rx, uint64_t *tx)
{
    s_path (self, "/proc/net/dev");
    s_reader_t r;
    if (!s_reader_open (self, &r))
        return false;
    *rx = *tx = 0;
    char *line;
    uint64_t a, b;
    while ((line = s_next_line (&r)) != NULL)
        if (s_parse_net_line (line, &a, &b)) {
            *rx += a;
            *tx += b;
        }
    s_reader_close (&r);
    return true;
}

//  An interface that goes away takes its counters out of the sum; a sum that shrank makes this
//  sample the new baseline instead of a huge or negative rate.
static void
s_sample_net (hd_sampler_t *self, int64_t now_ms, hd_sysinfo_t *out)
{
    uint64_t rx, tx;
    if (!s_read_net_totals (self, &rx, &tx))
        return;
    if (self->have_net && now_ms <= self->net_ms)
        return;  //  no time passed: keep the baseline
    bool usable = self->have_net && rx >= self->rx && tx >= self->tx;
    double seconds = (double) (now_ms - self->net_ms) / 1000.0;
    uint64_t drx = rx - self->rx, dtx = tx - self->tx;
    self->have_net = true;
    self->rx = rx;
    self->tx = tx;
    self->net_ms = now_ms;
    if (!usable)
        return;
    out->net_rx_bps = (double) drx / seconds;
    out->net_tx_bps = (double) dtx / seconds;
    out->present |= HD_M_RX | HD_M_TX;
}

//  Zones that cannot be read right now (some sensors answer EAGAIN or ENODATA while powered
//  down) are skipped; temp is present when at least one zone answered.
static void
s_sample_temp (hd_sampler_t *self, hd_sysinfo_t *out)
{
    bool any = false;
    double max = 0;
    for (uint32_t i = 0; i < self->nzones; i++) {
        s_path (self, "/sys/class/thermal/thermal_zone%u/temp", (unsigned) self->zones[i]);
        char *p = s_read_first_line (self);
        char *end;
        if (!p)
            continue;
        errno = 0;
        long milli = strtol (p, &end, 10);
        if (end == p || errno != 0)
            continue;
        double c = (double) milli / 1000.0;
        if (!any || c > max)
            max = c;
        any = true;
    }
    if (any) {
        out->temp_c = max;
        out->present |= HD_M_TEMP;
    }
}

//  The firmware's get_throttled bits, printed in hex ("0", "50005"). Only Raspberry Pi kernels
//  have the file; vcgencmd is deliberately not run (a process per sample, and not everywhere).
static void
s_sample_throttled (hd_sampler_t *self, hd_sysinfo_t *out)
{
    s_path (self, "/sys/devices/platform/soc/soc:firmware/get_throttled");
    char *p = s_read_first_line (self);
    if (!p)
        return;
    char *end;
    errno = 0;
    unsigned long v = strtoul (p, &end, 16);
    if (end == p || errno != 0 || v > UINT32_MAX || (*end != 0 && *end != ' '))
        return;
    out->throttled = (uint32_t) v;
    out->present |= HD_M_THROTTLED;
}

//  --- sampler -----------------------------------------------------------------------------

//  "thermal_zoneN" -> N. false for cooling_deviceN and anything else.
static bool
s_zone_index (const char *name, uint32_t *out)
{
    const char *prefix = "thermal_zone";
    size_t n = strlen (prefix);
    if (strncmp (name, prefix, n) != 0 || name[n] < '0' || name[n] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul (name + n, &end, 10);
    if (*end != 0 || errno != 0 || v > UINT32_MAX)
        return false;
    *out = (uint32_t) v;
    return true;
}

//  Zones are fixed by the kernel at boot, so they are listed once here rather than per sample
//  (opendir allocates).
static void
s_find_zones (hd_sampler_t *self)
{
    s_path (self, "/sys/class/thermal");
    DIR *dir = self->path[0] ? opendir (self->path) : NULL;
    if (!dir)
        return;
    struct dirent *e;
    while (self->nzones < S_MAX_ZONES && (e = readdir (dir)) != NULL)
        if (s_zone_index (e->d_name, &self->zones[self->nzones]))
            self->nzones++;
    closedir (dir);
}

hd_sampler_t *
hd_sampler_new (const char *work_dir, const char *root)
{
    hd_sampler_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->root = strdup (root ? root : "");
    self->work_dir = work_dir ? strdup (work_dir) : NULL;
    if (!self->root || (work_dir && !self->work_dir)) {
        hd_sampler_destroy (&self);
        return NULL;
    }
    s_find_zones (self);
    return self;
}

void
hd_sampler_destroy (hd_sampler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hd_sampler_t *self = *self_p;
    free (self->root);
    free (self->work_dir);
    free (self);
    *self_p = NULL;
}

hd_err_t
hd_sampler_sample (hd_sampler_t *self, int64_t now_ms, hd_sysinfo_t *out)
{
    memset (out, 0, sizeof *out);
    s_sample_cores (self, out);
    s_sample_cpu (self, out);
    s_sample_load (self, out);
    s_sample_mem (self, out);
    s_sample_disk (self, out);
    s_sample_net (self, now_ms, out);
    s_sample_temp (self, out);
    s_sample_throttled (self, out);
    return HD_OK;
}
