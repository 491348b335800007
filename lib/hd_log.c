/*  hd_log: levelled logging. A line is formatted into a stack buffer and written with one call,
    so lines from several threads do not interleave.  */
#include "hd_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static hd_log_level_t s_level = HD_LOG_WARN;
static const char *s_name = "heddle";

hd_log_level_t
hd_log_set_level (hd_log_level_t level)
{
    hd_log_level_t old = s_level;
    s_level = level;
    return old;
}

int
hd_log_parse_level (const char *text, hd_log_level_t *out)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (text && strcmp (text, names[i]) == 0) {
            *out = (hd_log_level_t) i;
            return 0;
        }
    return -1;
}

void
hd_log_set_name (const char *name)
{
    s_name = name ? name : "heddle";
}

int
hd_log_enabled (hd_log_level_t level)
{
    return level <= s_level;
}

void
hd_log (hd_log_level_t level, const char *fmt, ...)
{
    static const char *tags[] = { "ERROR", "WARN", "INFO", "DEBUG" };
    if (level > s_level)
        return;
    char line[1024];
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    int n = snprintf (line, sizeof line, "%02d:%02d:%02d.%03ld %s[%d] %s: ", tm.tm_hour, tm.tm_min,
                      tm.tm_sec, ts.tv_nsec / 1000000, s_name, (int) getpid (), tags[level]);
    va_list ap;
    va_start (ap, fmt);
    if (n > 0 && (size_t) n < sizeof line)
        n += vsnprintf (line + n, sizeof line - (size_t) n, fmt, ap);
    va_end (ap);
    if (n < 0)
        return;
    if ((size_t) n >= sizeof line - 1)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    fwrite (line, 1, (size_t) n, stderr);
}
