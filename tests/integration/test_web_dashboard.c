/*  Integration: the dashboard page in a real browser. A real heddle-broker (CURVE) with two
    workers runs a job; headless Chromium (Debian's chromium) loads the page from the broker's
    web endpoint, runs its script (which polls /api/state), and the rendered DOM must show both
    node names and the task count. Screenshots at phone and desktop sizes are left in the build
    directory (web-dashboard-phone.png, web-dashboard-desktop.png) for a person to look at.
    Needs chromium and curl: scripts/install-deps web.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_testcli.h"
#include "hd_testenv.h"
#include "hd_testweb.h"

#define S_TASKS 240
#define S_FLAGS                                                                                    \
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "                         \
    "--disable-background-networking --disable-component-update --disable-sync "                   \
    "--hide-scrollbars --virtual-time-budget=5000"

static hd_testenv_t s_env;
static hd_client_t *s_client;

static int
s_setup (void **state)
{
    (void) state;
    hd_testweb_require ("chromium", "chromium");
    hd_testweb_require ("curl", "curl");
    hd_testenv_init (&s_env);
    const char *extra[] = { "--http", "127.0.0.1:0", NULL };
    hd_testenv_start_broker (&s_env, extra);
    if (strcmp (s_env.http_ep, "none") == 0)
        fail_msg ("the broker reported no web endpoint");
    hd_testenv_start_worker (&s_env, "pi-alpha", 2, NULL);
    hd_testenv_start_worker (&s_env, "pi-beta", 2, NULL);
    s_client = hd_testenv_client (&s_env, 2);
    hd_client_job_t *job = hd_client_job_new (s_client, "sha256", NULL);
    for (int i = 0; i < S_TASKS; i++)
        assert_int_equal (hd_client_job_add (job, "some bytes to hash", 18), HD_OK);
    assert_int_equal (hd_client_job_run (job, HD_GATHER_COMPLETED, NULL, NULL, NULL), HD_OK);
    hd_job_stats_t st;
    hd_client_job_stats (job, &st);
    assert_int_equal (st.done, S_TASKS);
    hd_client_job_destroy (&job);
    hd_testweb_wait_completed (s_env.http_ep, S_TASKS);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_client_destroy (&s_client);
    hd_testenv_stop (&s_env);
    return 0;
}

//  Run chromium with a fresh profile directory (removed after); `what` is its last flags.
static char *
s_chromium (const char *what)
{
    char *out = NULL;
    int rc = hd_testweb_sh (&out, 90,
                            "d=$(mktemp -d) && chromium " S_FLAGS " --user-data-dir=$d %s "
                            "http://%s/ 2>/dev/null; rc=$?; rm -rf $d; exit $rc",
                            what, s_env.http_ep);
    if (rc != 0)
        fail_msg ("chromium %s failed (%d): %s", what, rc, out);
    return out;
}

static void
test_web_dashboard_shows_nodes_and_task_count (void **state)
{
    (void) state;
    char *dom = s_chromium ("--window-size=1280,1000 --dump-dom");
    if (!strstr (dom, "<b>pi-alpha</b>") || !strstr (dom, "<b>pi-beta</b>"))
        fail_msg ("the rendered page does not list both nodes:\n%.3000s", dom);
    char want[64];
    snprintf (want, sizeof want, "id=\"done-total\">%d<", S_TASKS);
    if (!strstr (dom, want))
        fail_msg ("the rendered page does not show %d tasks done (%s):\n%.3000s", S_TASKS, want,
                  dom);
    if (!strstr (dom, "<b>sha256</b>"))
        fail_msg ("the rendered page does not list the function sha256");
    if (!strstr (dom, "live ·"))
        fail_msg ("the page's status does not say live (a failed poll?)");
    free (dom);
}

static void
s_screenshot (const char *name, const char *size)
{
    char path[512], flags[700];
    snprintf (path, sizeof path, "%s/%s", HD_BIN_DIR, name);
    remove (path);
    snprintf (flags, sizeof flags, "--window-size=%s --screenshot=%s", size, path);
    free (s_chromium (flags));
    FILE *f = fopen (path, "rb");
    unsigned char sig[8] = { 0 };
    size_t got = f ? fread (sig, 1, sizeof sig, f) : 0;
    if (f)
        fclose (f);
    if (got != 8 || memcmp (sig, "\x89PNG\r\n\x1a\n", 8) != 0)
        fail_msg ("no PNG screenshot at %s", path);
    printf ("screenshot: %s\n", path);
}

static void
test_web_dashboard_screenshots (void **state)
{
    (void) state;
    s_screenshot ("web-dashboard-phone.png", "412,1500");
    s_screenshot ("web-dashboard-desktop.png", "1280,1000");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_web_dashboard_shows_nodes_and_task_count),
        cmocka_unit_test (test_web_dashboard_screenshots),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
