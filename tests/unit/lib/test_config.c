/*  test_config: parsing of the configuration file (sections, comments, quoting, syntax errors),
    the check of keys and values with their line numbers, loading from disk and choosing the
    file from --config / $HEDDLE_CONFIG.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>  //  after the four above, which it needs

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd_config.h"
#include "hd_opts_tables.h"

#define S_MAX_REPORTS 8

typedef struct {
    size_t count;
    int lines[S_MAX_REPORTS];
    char messages[S_MAX_REPORTS][256];
} s_reports_t;

static void
s_collect (const char *name, int line, const char *message, void *arg)
{
    s_reports_t *r = arg;
    assert_string_equal (name, "test.conf");
    assert_true (r->count < S_MAX_REPORTS);
    r->lines[r->count] = line;
    snprintf (r->messages[r->count++], 256, "%s", message);
}

//  Parse `text` as test.conf and check it; returns the parsed file (caller destroys).
static hd_config_t *
s_check (const char *text, s_reports_t *r)
{
    hd_config_t *config = NULL;
    assert_int_equal (hd_config_parse (&config, text, "test.conf"), HD_OK);
    memset (r, 0, sizeof *r);
    size_t problems = hd_opts_check (config, hd_opts_sections, HD_OPTS_NSECTIONS, s_collect, r);
    assert_int_equal (problems, r->count);  //  every problem counted is reported
    return config;
}

static void
test_config_parses_sections_and_keys (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\nclients = tcp://*:7700\n\n[worker]\n"
                                   "slots=4\n  tags =  gpu,arm64  \n",
                                   &r);
    assert_int_equal (r.count, 0);
    assert_int_equal (hd_config_size (config), 3);
    const hd_config_entry_t *e = hd_config_entry (config, 2);
    assert_string_equal (e->section, "worker");
    assert_string_equal (e->key, "tags");
    assert_string_equal (e->value, "gpu,arm64");
    assert_int_equal (e->line, 6);
    assert_string_equal (hd_config_get (config, "broker", "clients"), "tcp://*:7700");
    assert_string_equal (hd_config_get (config, "worker", "slots"), "4");
    hd_config_destroy (&config);
    assert_null (config);
}

static void
test_config_skips_comments (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("# a comment\n; another\n[client]\n   # indented comment\n"
                                   "broker = pi1\n",
                                   &r);
    assert_int_equal (r.count, 0);
    assert_int_equal (hd_config_size (config), 1);
    assert_int_equal (hd_config_entry (config, 0)->line, 5);
    hd_config_destroy (&config);
}

static void
test_config_keeps_hash_inside_a_value (void **state)
{
    (void) state;
    s_reports_t r;
    //  Z85 keys may hold '#': only whole-line comments exist.
    hd_config_t *config = s_check ("[worker]\nbroker-key = ab#cd\nname = \" pi2 \"\n", &r);
    assert_int_equal (r.count, 0);
    assert_string_equal (hd_config_get (config, "worker", "broker-key"), "ab#cd");
    assert_string_equal (hd_config_get (config, "worker", "name"), " pi2 ");
    hd_config_destroy (&config);
}

static void
test_config_ends_a_value_at_an_inline_comment (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\njournal = batch   # group commit\n"
                                   "keys = \"/a #b\"  # quoted\nclients = \"x\" y\n",
                                   &r);
    assert_int_equal (r.count, 1);  //  text after the closing quote
    assert_int_equal (r.lines[0], 4);
    assert_string_equal (hd_config_get (config, "broker", "journal"), "batch");
    assert_string_equal (hd_config_get (config, "broker", "keys"), "/a #b");
    hd_config_destroy (&config);
}

static void
test_config_last_value_wins (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[worker]\nslots = 2\nslots = 8\n", &r);
    assert_string_equal (hd_config_get (config, "worker", "slots"), "8");
    assert_null (hd_config_get (config, "broker", "slots"));
    hd_config_destroy (&config);
}

static void
test_config_reports_unknown_key_with_line (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\njournal = sync\njurnal-dir = /tmp\n", &r);
    assert_int_equal (r.count, 1);
    assert_int_equal (r.lines[0], 3);
    assert_string_equal (r.messages[0],
                         "unknown key 'jurnal-dir' in [broker] (did you mean 'journal-dir'?)");
    hd_config_destroy (&config);
}

static void
test_config_reports_problems_in_line_order (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[client]\nbrokr = x\nnot a pair\nslots = many\n", &r);
    assert_int_equal (r.count, 3);
    assert_int_equal (r.lines[0], 2);  //  the syntax error of line 3 came first before
    assert_int_equal (r.lines[1], 3);
    assert_int_equal (r.lines[2], 4);
    hd_config_destroy (&config);
}

static void
test_config_says_which_key_was_meant (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[worker]\nslotz = 2\nconnect-timeout = 5\nzzzzzz = 1\n", &r);
    assert_int_equal (r.count, 3);
    assert_non_null (strstr (r.messages[0], "(did you mean 'slots'?)"));
    assert_non_null (strstr (r.messages[1], "(it belongs in [client])"));
    assert_null (strstr (r.messages[2], "did you mean"));  //  nothing close
    hd_config_destroy (&config);
}

static void
test_config_says_the_unit_of_a_duration (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\nheartbeat = 1s\n[client]\nconnect-timeout = 2000\n",
                                   &r);
    assert_int_equal (r.count, 1);
    assert_int_equal (r.lines[0], 2);
    assert_non_null (strstr (r.messages[0], "(milliseconds)"));
    assert_non_null (strstr (r.messages[0], "no unit suffix"));
    hd_config_destroy (&config);
}

static void
test_config_reports_key_of_another_section (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[client]\nallow-exec = yes\n", &r);  //  a worker's key
    assert_int_equal (r.count, 1);
    assert_int_equal (r.lines[0], 2);
    hd_config_destroy (&config);
}

static void
test_config_reports_unknown_section_once (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[brokr]\nclients = pi1\nworkers = pi1\n", &r);
    assert_int_equal (r.count, 1);
    assert_int_equal (r.lines[0], 2);
    assert_non_null (strstr (r.messages[0], "unknown section [brokr]"));
    hd_config_destroy (&config);
}

static void
test_config_rejects_bad_uint (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[worker]\nslots = four\nmisses = 0\nmax-output = -1\n"
                                   "metrics-interval = 99999999999\n",
                                   &r);
    assert_int_equal (r.count, 4);
    assert_int_equal (r.lines[0], 2);
    assert_int_equal (r.lines[3], 5);
    assert_string_equal (r.messages[0],
                         "bad value for 'slots': 'four' is not an integer from 1 to 4294967295");
    hd_config_destroy (&config);
}

static void
test_config_checks_uint_range (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\nprefetch = 0\nprefetch = 5\n", &r);
    assert_int_equal (r.count, 1);
    assert_int_equal (r.lines[0], 3);
    hd_config_destroy (&config);
}

static void
test_config_accepts_enum_values (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\njournal = sync\njournal = batch\njournal = none\n"
                                   "log-level = debug\n",
                                   &r);
    assert_int_equal (r.count, 0);
    hd_config_destroy (&config);
}

static void
test_config_rejects_unknown_enum_value (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\njournal = fast\n", &r);
    assert_int_equal (r.count, 1);
    assert_string_equal (r.messages[0],
                         "bad value for 'journal': 'fast' is not one of sync|batch|none");
    hd_config_destroy (&config);
}

static void
test_config_checks_bools (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[worker]\nallow-exec = yes\ninsecure = off\n"
                                   "allow-exec = maybe\n",
                                   &r);
    assert_int_equal (r.count, 1);
    assert_int_equal (r.lines[0], 4);
    bool b = false;
    assert_int_equal (hd_config_parse_bool ("true", &b), 0);
    assert_true (b);
    assert_int_equal (hd_config_parse_bool ("0", &b), 0);
    assert_false (b);
    hd_config_destroy (&config);
}

static void
test_config_accepts_enrollment_keys (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\nauto-approve = yes\n[worker]\n"
                                   "state-dir = /var/lib/heddle\n",
                                   &r);
    assert_int_equal (r.count, 0);
    hd_config_destroy (&config);
}

static void
test_config_accepts_discovery_keys (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\ncluster = lab-2\nbeacon-port = 7709\n"
                                   "beacon-interface = eth0\nno-beacon = no\n[worker]\n"
                                   "broker = auto\ncluster = lab-2\nbeacon-port = 7709\n"
                                   "beacon-interface = wlan0\ndiscover-timeout = 0\n"
                                   "broker-fingerprint = ebb3:af4d:d99c:eff3:6e9f:90b5:db3e:450e\n",
                                   &r);
    assert_int_equal (r.count, 0);
    hd_config_destroy (&config);
}

static void
test_config_checks_discovery_values (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\ncluster = two words\nbeacon-port = 70000\n"
                                   "[worker]\nbroker-fingerprint = ebb3:af4d\n"
                                   "discover-timeout = -1\n",
                                   &r);
    assert_int_equal (r.count, 4);
    assert_int_equal (r.lines[0], 2);
    assert_non_null (strstr (r.messages[0], "cluster name"));
    assert_int_equal (r.lines[1], 3);
    assert_int_equal (r.lines[2], 5);
    assert_non_null (strstr (r.messages[2], "fingerprint"));
    assert_int_equal (r.lines[3], 6);
    hd_config_destroy (&config);
}

static void
test_config_checks_endpoints (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[broker]\nclients = tcp://*:7700\nworkers = pi1:7701\n"
                                   "metrics = none\nevents = pi1\nclients = tcp://pi1\n"
                                   "workers = pi1:http\nclients = udp://pi1:1\n",
                                   &r);
    assert_int_equal (r.count, 3);
    assert_int_equal (r.lines[0], 6);
    assert_int_equal (r.lines[1], 7);
    assert_int_equal (r.lines[2], 8);
    hd_config_destroy (&config);
}

static void
test_config_rejects_empty_value (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("[worker]\nname =\n", &r);
    assert_int_equal (r.count, 1);
    assert_int_equal (r.lines[0], 2);
    hd_config_destroy (&config);
}

static void
test_config_reports_syntax_errors (void **state)
{
    (void) state;
    s_reports_t r;
    hd_config_t *config = s_check ("slots = 2\n[worker\n[worker]\njust words\n= 3\n", &r);
    assert_int_equal (r.count, 4);
    assert_int_equal (r.lines[0], 1);
    assert_string_equal (r.messages[0], "a key outside any [section]");
    assert_int_equal (r.lines[1], 2);
    assert_int_equal (r.lines[2], 4);
    assert_string_equal (r.messages[2], "expected 'key = value'");
    assert_int_equal (r.lines[3], 5);
    assert_int_equal (hd_config_size (config), 0);
    hd_config_destroy (&config);
}

static void
test_config_load_reads_a_file (void **state)
{
    (void) state;
    char path[] = "/tmp/hd_test_config_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char text[] = "[client]\nbroker = pi1\n";
    assert_int_equal (write (fd, text, sizeof text - 1), sizeof text - 1);
    close (fd);
    hd_config_t *config = NULL;
    assert_int_equal (hd_config_load (&config, path), HD_OK);
    assert_string_equal (hd_config_get (config, "client", "broker"), "pi1");
    assert_string_equal (hd_config_name (config), path);
    hd_config_destroy (&config);
    unlink (path);
}

static void
test_config_load_missing_file_is_eio (void **state)
{
    (void) state;
    hd_config_t *config = NULL;
    assert_int_equal (hd_config_load (&config, "/nonexistent/heddle.conf"), HD_EIO);
    assert_null (config);
}

static void
test_config_load_refuses_a_huge_file (void **state)
{
    (void) state;
    char path[] = "/tmp/hd_test_config_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (ftruncate (fd, (1 << 20) + 1), 0);  //  1 MiB of NULs, plus one
    close (fd);
    hd_config_t *config = NULL;
    assert_int_equal (hd_config_load (&config, path), HD_ETOOBIG);
    assert_null (config);
    unlink (path);
}

static void
test_config_path_prefers_flag_then_env (void **state)
{
    (void) state;
    char *with_flag[] = { "prog", "-v", "--config", "/a.conf", NULL };
    char *with_eq[] = { "prog", "--config=/b.conf", NULL };
    char *after_dashes[] = { "prog", "--", "--config", "/c.conf", NULL };
    bool named = false;
    setenv (HD_CONFIG_ENV, "/env.conf", 1);
    assert_string_equal (hd_config_path (4, with_flag, &named), "/a.conf");
    assert_true (named);
    assert_string_equal (hd_config_path (2, with_eq, &named), "/b.conf");
    assert_string_equal (hd_config_path (4, after_dashes, &named), "/env.conf");
    assert_true (named);
    unsetenv (HD_CONFIG_ENV);
    assert_string_equal (hd_config_path (4, after_dashes, &named), HD_CONFIG_DEFAULT_PATH);
    assert_false (named);
}

static void
test_config_open_named_missing_file_fails (void **state)
{
    (void) state;
    char *argv[] = { "prog", "--config", "/nonexistent/heddle.conf", NULL };
    hd_config_t *config = NULL;
    assert_int_equal (hd_config_open (&config, "prog", hd_opts_sections, HD_OPTS_NSECTIONS, 3, argv), HD_EIO);
    assert_null (config);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_config_parses_sections_and_keys),
        cmocka_unit_test (test_config_skips_comments),
        cmocka_unit_test (test_config_keeps_hash_inside_a_value),
        cmocka_unit_test (test_config_ends_a_value_at_an_inline_comment),
        cmocka_unit_test (test_config_last_value_wins),
        cmocka_unit_test (test_config_reports_unknown_key_with_line),
        cmocka_unit_test (test_config_reports_key_of_another_section),
        cmocka_unit_test (test_config_reports_problems_in_line_order),
        cmocka_unit_test (test_config_says_which_key_was_meant),
        cmocka_unit_test (test_config_says_the_unit_of_a_duration),
        cmocka_unit_test (test_config_reports_unknown_section_once),
        cmocka_unit_test (test_config_rejects_bad_uint),
        cmocka_unit_test (test_config_checks_uint_range),
        cmocka_unit_test (test_config_accepts_enum_values),
        cmocka_unit_test (test_config_rejects_unknown_enum_value),
        cmocka_unit_test (test_config_checks_bools),
        cmocka_unit_test (test_config_accepts_enrollment_keys),
        cmocka_unit_test (test_config_accepts_discovery_keys),
        cmocka_unit_test (test_config_checks_discovery_values),
        cmocka_unit_test (test_config_checks_endpoints),
        cmocka_unit_test (test_config_rejects_empty_value),
        cmocka_unit_test (test_config_reports_syntax_errors),
        cmocka_unit_test (test_config_load_reads_a_file),
        cmocka_unit_test (test_config_load_missing_file_is_eio),
        cmocka_unit_test (test_config_load_refuses_a_huge_file),
        cmocka_unit_test (test_config_path_prefers_flag_then_env),
        cmocka_unit_test (test_config_open_named_missing_file_fails),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
