/*  Integration: the broker's web endpoint on a real heddle-broker (CURVE) with two workers
    that ran a job of echo tasks: `promtool check metrics` accepts a real /metrics scrape, the
    figures in it match the job (completed by function and status, run-time histogram count,
    both nodes up), /api/state is valid JSON with both nodes, the Grafana dashboard in
    packaging/grafana/ is valid JSON whose every metric name exists in that scrape, and the
    example alert rules pass `promtool check rules` and use only scraped metrics, and the
    endpoint is read-only (POST refused) and refuses a non-loopback address without a token.
    Needs curl, promtool (Debian's prometheus) and python3: scripts/install-deps web.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd_testcli.h"
#include "hd_testenv.h"
#include "hd_testweb.h"

#define S_TASKS 300

static hd_testenv_t s_env;
static hd_client_t *s_client;
static char s_scrape[512];  //  the file holding the scrape after the job

static int
s_setup (void **state)
{
    (void) state;
    hd_testweb_require ("curl", "curl");
    hd_testweb_require ("promtool", "prometheus");
    hd_testweb_require ("python3", "python3");
    hd_testenv_init (&s_env);
    const char *extra[] = { "--http", "127.0.0.1:0", NULL };
    hd_testenv_start_broker (&s_env, extra);
    if (strcmp (s_env.http_ep, "none") == 0)
        fail_msg ("the broker reported no web endpoint");
    hd_testenv_start_worker (&s_env, "w1", 2, NULL);
    hd_testenv_start_worker (&s_env, "w2", 2, NULL);
    s_client = hd_testenv_client (&s_env, 2);
    //  The job every test looks at: S_TASKS echo tasks over both workers.
    hd_client_job_t *job = hd_client_job_new (s_client, "echo", NULL);
    for (int i = 0; i < S_TASKS; i++)
        assert_int_equal (hd_client_job_add (job, "hello", 5), HD_OK);
    assert_int_equal (hd_client_job_run (job, HD_GATHER_COMPLETED, NULL, NULL, NULL), HD_OK);
    hd_job_stats_t st;
    hd_client_job_stats (job, &st);
    assert_int_equal (st.done, S_TASKS);
    hd_client_job_destroy (&job);
    hd_testweb_wait_completed (s_env.http_ep, S_TASKS);
    snprintf (s_scrape, sizeof s_scrape, "%s/metrics.txt", s_env.dir);
    char *body = hd_testweb_get (s_env.http_ep, "/metrics", 200);
    hd_testcli_write_file (s_scrape, body, strlen (body));
    free (body);
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

static void
s_expect_line (const char *text, const char *line)
{
    char want[512];
    snprintf (want, sizeof want, "\n%s\n", line);
    if (!strstr (text, want))
        fail_msg ("the scrape lacks the line '%s'", line);
}

static void
test_web_metrics_pass_promtool (void **state)
{
    (void) state;
    char *out = NULL;
    int rc = hd_testweb_sh (&out, 30, "promtool check metrics < %s", s_scrape);
    if (rc != 0)
        fail_msg ("promtool check metrics failed (%d):\n%s", rc, out);
    free (out);
}

static void
test_web_metrics_match_the_job (void **state)
{
    (void) state;
    char *text = hd_testweb_get (s_env.http_ep, "/metrics", 200);
    s_expect_line (text, "heddle_tasks_completed_total{fn=\"echo\",status=\"ok\"} 300");
    s_expect_line (text, "heddle_tasks_completed_total{fn=\"echo\",status=\"failed\"} 0");
    s_expect_line (text, "heddle_task_duration_seconds_count{fn=\"echo\"} 300");
    s_expect_line (text, "heddle_task_duration_seconds_bucket{fn=\"echo\",le=\"+Inf\"} 300");
    s_expect_line (text, "heddle_queue_depth{fn=\"echo\"} 0");
    s_expect_line (text, "heddle_node_up{node=\"w1\"} 1");
    s_expect_line (text, "heddle_node_up{node=\"w2\"} 1");
    s_expect_line (text, "heddle_node_slots{node=\"w1\"} 2");
    s_expect_line (text, "# TYPE heddle_journal_commit_seconds histogram");
    s_expect_line (text, "# TYPE heddle_handshakes_refused_total counter");
    s_expect_line (text, "# TYPE heddle_results_fenced_total counter");
    s_expect_line (text, "# TYPE heddle_sessions gauge");
    free (text);
}

//  Node figures come from the worker metrics (PUB/SUB, about one a second): within 10 s each
//  node's memory shows in a scrape.
static void
test_web_metrics_carry_node_figures (void **state)
{
    (void) state;
    for (int i = 0; i < 100; i++) {
        char *text = hd_testweb_get (s_env.http_ep, "/metrics", 200);
        bool both = strstr (text, "\nheddle_node_memory_available_bytes{node=\"w1\"} ")
                    && strstr (text, "\nheddle_node_memory_available_bytes{node=\"w2\"} ")
                    && strstr (text, "\nheddle_node_metrics_age_seconds{node=\"w2\"} ");
        free (text);
        if (both)
            return;
        usleep (100 * 1000);
    }
    fail_msg ("no memory figures for w1 and w2 in /metrics after 10 s");
}

static void
test_web_state_is_json_with_both_nodes (void **state)
{
    (void) state;
    char *out = NULL;
    int rc = hd_testweb_sh (&out, 30,
                            "curl -sS http://%s/api/state | python3 -c \"import json,sys; "
                            "s=json.load(sys.stdin); n=sorted(x[\\\"name\\\"] for x in "
                            "s[\\\"nodes\\\"]); print(n, s[\\\"counters\\\"][\\\"completed\\\"], "
                            "sum(x[\\\"done\\\"] for x in s[\\\"nodes\\\"]))\"",
                            s_env.http_ep);
    if (rc != 0 || !strstr (out, "['w1', 'w2'] 300 300"))
        fail_msg ("/api/state (%d): %s", rc, out);
    free (out);
}

static void
test_web_grafana_dashboard_uses_scraped_metrics (void **state)
{
    (void) state;
    char *out = NULL;
    int rc = hd_testweb_sh (
        &out, 30,
        "python3 %s/tests/integration/check_grafana.py %s/packaging/grafana/heddle.json %s",
        HD_SRC_DIR, HD_SRC_DIR, s_scrape);
    if (rc != 0)
        fail_msg ("the Grafana dashboard does not match the scrape (%d):\n%s", rc, out);
    free (out);
}

static void
test_web_alert_rules_pass_promtool (void **state)
{
    (void) state;
    char *out = NULL;
    int rc = hd_testweb_sh (
        &out, 30, "promtool check rules %s/packaging/prometheus/heddle-rules.yml", HD_SRC_DIR);
    if (rc != 0)
        fail_msg ("promtool check rules failed (%d):\n%s", rc, out);
    free (out);
    //  every metric the rules use is in the scrape (up{} is Prometheus' own)
    rc = hd_testweb_sh (&out, 30,
                        "for m in $(grep -o \"heddle_[a-z_]*\" "
                        "%s/packaging/prometheus/heddle-rules.yml | sort -u); do "
                        "grep -q \"^# TYPE $m \" %s || echo missing $m; done",
                        HD_SRC_DIR, s_scrape);
    if (rc != 0 || *out)
        fail_msg ("rules use metrics the scrape lacks: %s", out);
    free (out);
}

static void
test_web_is_read_only (void **state)
{
    (void) state;
    char *out = NULL;
    int rc = hd_testweb_sh (&out, 20,
                            "curl -sS -o /dev/null -w %%{http_code} -X POST "
                            "http://%s/metrics",
                            s_env.http_ep);
    if (rc != 0 || strcmp (out, "405") != 0)
        fail_msg ("POST /metrics: %d %s (want 405)", rc, out);
    free (out);
    free (hd_testweb_get (s_env.http_ep, "/nothing-here", 404));
    free (hd_testweb_get (s_env.http_ep, "/healthz", 200));
}

static void
test_web_refuses_lan_address_without_token (void **state)
{
    (void) state;
    char bin[512], *out = NULL;
    hd_testenv_bin ("heddle-broker", bin, sizeof bin);
    int rc = hd_testweb_sh (&out, 20,
                            "%s --insecure --journal none --no-beacon --clients "
                            "tcp://127.0.0.1:* --workers tcp://127.0.0.1:* --metrics "
                            "none --events none --http 0.0.0.0:0",
                            bin);
    if (rc != 1 || !strstr (out, "--http-token"))
        fail_msg ("--http 0.0.0.0:0 without a token: exit %d, output: %s", rc, out);
    free (out);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_web_metrics_pass_promtool),
        cmocka_unit_test (test_web_metrics_match_the_job),
        cmocka_unit_test (test_web_metrics_carry_node_figures),
        cmocka_unit_test (test_web_state_is_json_with_both_nodes),
        cmocka_unit_test (test_web_grafana_dashboard_uses_scraped_metrics),
        cmocka_unit_test (test_web_alert_rules_pass_promtool),
        cmocka_unit_test (test_web_is_read_only),
        cmocka_unit_test (test_web_refuses_lan_address_without_token),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
