/*  hd_testweb: popen under coreutils `timeout`, so a hung program cannot hang the test.  */
#include "hd_testweb.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int
hd_testweb_sh (char **out, int timeout_s, const char *fmt, ...)
{
    char cmd[4096], line[8192];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    if (n < 0 || (size_t) n >= sizeof cmd)
        fail_msg ("command too long");
    snprintf (line, sizeof line, "timeout -k 5 %d sh -c '%s' 2>&1", timeout_s, cmd);
    FILE *p = popen (line, "r");
    if (!p)
        fail_msg ("cannot run: %s", cmd);
    size_t size = 0, cap = 65536;
    char *text = malloc (cap);
    assert_non_null (text);
    size_t got;
    while ((got = fread (text + size, 1, cap - size - 1, p)) > 0) {
        size += got;
        if (cap - size < 4096) {
            cap *= 2;
            text = realloc (text, cap);
            assert_non_null (text);
        }
    }
    text[size] = 0;
    int status = pclose (p);
    if (out)
        *out = text;
    else
        free (text);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

void
hd_testweb_require (const char *program, const char *package)
{
    if (hd_testweb_sh (NULL, 10, "command -v %s", program) != 0)
        fail_msg ("%s is missing: this test needs Debian's %s (scripts/install-deps web)", program,
                  package);
}

char *
hd_testweb_get (const char *ep, const char *path, int want_status)
{
    char *body = NULL;
    int rc =
        hd_testweb_sh (&body, 20, "curl -sS -o - -w \"\\n%%{http_code}\" http://%s%s", ep, path);
    if (rc != 0)
        fail_msg ("curl http://%s%s failed (%d): %s", ep, path, rc, body);
    char *last = strrchr (body, '\n');
    int status = last ? atoi (last + 1) : 0;
    if (status != want_status)
        fail_msg ("GET http://%s%s: status %d, want %d: %s", ep, path, status, want_status, body);
    *last = 0;
    return body;
}

void
hd_testweb_wait_completed (const char *ep, uint64_t want)
{
    uint64_t seen = 0;
    for (int i = 0; i < 100; i++) {
        char *body = hd_testweb_get (ep, "/api/state", 200);
        const char *c = strstr (body, "\"completed\":");
        seen = c ? strtoull (c + 12, NULL, 10) : 0;
        free (body);
        if (seen >= want)
            return;
        usleep (100 * 1000);
    }
    fail_msg ("/api/state shows %" PRIu64 " completed tasks after 10 s, want %" PRIu64, seen, want);
}
