/*  test_opts: one option table driving getopt (values, units, ranges, enums, setters, errors),
    config file values, the config check (line order, "did you mean", "belongs in", units),
    --help, --print-config, the man page and the completion words.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>  //  after the four above, which it needs

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_opts.h"

typedef struct {
    bool fast;
    uint32_t wait_ms;
    int32_t level;
    double ratio;
    const char *name;
    const char *peer;
    int mode;
    int added;
    const char *config;
} s_set_t;

static int
s_count (void *target, const hd_opt_t *opt, const char *arg, char *err, size_t errlen)
{
    (void) opt;
    s_set_t *s = target;
    if (strcmp (arg, "bad") == 0) {
        snprintf (err, errlen, "not that one");
        return -1;
    }
    s->added++;
    return 0;
}

static const int s_modes[] = { 7, 8, 9 };

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "fast", .letter = 'f', .kind = HD_OPTS_FLAG, .help = "go fast",
      .offset = offsetof (s_set_t, fast) },
    { .name = "wait", .letter = 'w', .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS,
      .min = 1, .max = 60000, .help = "how long", .offset = offsetof (s_set_t, wait_ms) },
    { .name = "level", .kind = HD_OPTS_INT, .meta = "N", .min = -5, .max = 5, .help = "a level",
      .offset = offsetof (s_set_t, level) },
    { .name = "ratio", .kind = HD_OPTS_NUMBER, .meta = "X", .flags = HD_OPTS_POSITIVE,
      .help = "a ratio", .offset = offsetof (s_set_t, ratio) },
    { .name = "name", .kind = HD_OPTS_STRING, .meta = "NAME", .help = "a name", .unset = "anon",
      .offset = offsetof (s_set_t, name) },
    { .name = "Peers:", .kind = HD_OPTS_HEADING },
    { .name = "peer", .kind = HD_OPTS_ENDPOINT, .meta = "EP", .choices = "none", .help = "a peer",
      .flags = HD_OPTS_SECRET, .offset = offsetof (s_set_t, peer) },
    { .name = "mode", .kind = HD_OPTS_ENUM, .meta = "M", .choices = "low|mid|high",
      .values = s_modes, .help = "the mode", .offset = offsetof (s_set_t, mode) },
    { .name = "add", .letter = 'a', .kind = HD_OPTS_STRING, .meta = "X", .help = "repeatable",
      .offset = -1, .set = s_count },
    { .name = "config", .kind = HD_OPTS_STRING, .meta = "FILE", .help = "a file",
      .flags = HD_OPTS_NOCONF | HD_OPTS_NOPRINT, .offset = offsetof (s_set_t, config) },
    { .name = "help", .letter = 'h', .kind = HD_OPTS_HELP, .help = "this text", .offset = -1 },
    HD_OPTS_END,
};
static const hd_opt_t s_other_opts[] = {
    { .name = "color", .kind = HD_OPTS_STRING, .meta = "C", .help = "a colour", .offset = -1,
      .set = s_count },
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_prog = { .name = "prog", .section = "prog", .usage = "prog [OPTIONS]",
                                       .summary = "Test things.", .epilog = "The end.\n",
                                       .words = "run stop", .opts = s_opts };
static const hd_opts_prog_t s_other = { .name = "other", .section = "other", .usage = "other",
                                        .opts = s_other_opts };

static void
s_defaults (s_set_t *s)
{
    memset (s, 0, sizeof *s);
    s->wait_ms = 500;
    s->mode = 8;
}

static int
s_parse (s_set_t *s, int argc, const char **argv, int *first)
{
    hd_opts_use_t use = { &s_prog, s };
    return hd_opts_parse (argc, (char **) argv, &use, 1, 0, first);
}

static void
test_opts_parse_stores_each_kind (void **state)
{
    (void) state;
    s_set_t s;
    s_defaults (&s);
    const char *argv[] = { "prog", "-f", "--wait", "250", "--level=-3", "--ratio", "0.5", "--name",
                           "pi", "--peer", "tcp://h:1", "--mode", "high", "-a", "x", "-ay", "rest",
                           NULL };
    int first = 0;
    assert_int_equal (s_parse (&s, 17, argv, &first), HD_OPTS_OK);
    assert_true (s.fast);
    assert_int_equal (s.wait_ms, 250);
    assert_int_equal (s.level, -3);
    assert_true (s.ratio == 0.5);
    assert_string_equal (s.name, "pi");
    assert_string_equal (s.peer, "tcp://h:1");
    assert_int_equal (s.mode, 9);  //  values[] of the choice
    assert_int_equal (s.added, 2);
    assert_int_equal (first, 16);
    assert_string_equal (argv[first], "rest");
}

static void
test_opts_parse_refuses_bad_values (void **state)
{
    (void) state;
    s_set_t s;
    s_defaults (&s);
    const char *bad[][3] = { { "prog", "--wait", "0" },      { "prog", "--wait", "1s" },
                             { "prog", "--level", "6" },     { "prog", "--ratio", "0" },
                             { "prog", "--mode", "max" },    { "prog", "--name", "" },
                             { "prog", "--peer", "a b" },    { "prog", "--add", "bad" },
                             { "prog", "--wat", "1" },       { "prog", "--bogus", "1" } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[] = { bad[i][0], bad[i][1], bad[i][2], NULL };
        assert_int_equal (s_parse (&s, 3, argv, NULL), HD_OPTS_EXIT_USAGE);
    }
    const char *missing[] = { "prog", "--wait", NULL };
    assert_int_equal (s_parse (&s, 2, missing, NULL), HD_OPTS_EXIT_USAGE);
    assert_int_equal (s.wait_ms, 500);  //  nothing stored by a refused value
    const char *help[] = { "prog", "-f", "--help", NULL };
    assert_int_equal (s_parse (&s, 3, help, NULL), HD_OPTS_EXIT_HELP);
}

static void
test_opts_set_tells_the_unit (void **state)
{
    (void) state;
    s_set_t s;
    s_defaults (&s);
    hd_opts_use_t use = { &s_prog, &s };
    char err[256];
    assert_int_equal (hd_opts_set (&use, "wait", "1s", err, sizeof err), -1);
    assert_non_null (strstr (err, "--wait wants an integer from 1 to 60000 (milliseconds)"));
    assert_non_null (strstr (err, "in milliseconds (no unit suffix)"));
    assert_int_equal (hd_opts_set (&use, "wait", "1000", err, sizeof err), 0);
    assert_int_equal (s.wait_ms, 1000);
    assert_int_equal (hd_opts_set (&use, "fast", NULL, err, sizeof err), 0);
    assert_true (s.fast);
    assert_int_equal (hd_opts_set (&use, "nope", "1", err, sizeof err), -1);
}

static void
test_opts_parse_several_tables_in_order (void **state)
{
    (void) state;
    s_set_t s, t;
    s_defaults (&s);
    s_defaults (&t);
    hd_opts_use_t uses[] = { { &s_prog, &s }, { &s_other, &t } };
    const char *argv[] = { "prog", "--color", "red", "cmd", "--fast", NULL };
    int first = 0;
    assert_int_equal (hd_opts_parse (5, (char **) argv, uses, 2, HD_OPTS_IN_ORDER, &first),
                      HD_OPTS_OK);
    assert_int_equal (t.added, 1);
    assert_false (s.fast);  //  after the command word: not parsed
    assert_int_equal (first, 3);
}

static hd_config_t *
s_file (const char *text)
{
    hd_config_t *file = NULL;
    assert_int_equal (hd_config_parse (&file, text, "t.conf"), HD_OK);
    return file;
}

static void
test_opts_apply_file_section (void **state)
{
    (void) state;
    s_set_t s;
    s_defaults (&s);
    hd_config_t *file = s_file ("[prog]\nwait = 30\nfast = no\nadd = a\nadd = b\nmode = low\n"
                                "[other]\ncolor = red\n");
    hd_opts_use_t use = { &s_prog, &s };
    assert_int_equal (hd_opts_apply_file (&use, file), 0);
    assert_int_equal (s.wait_ms, 30);
    assert_false (s.fast);
    assert_int_equal (s.added, 2);
    assert_int_equal (s.mode, 7);
    hd_config_destroy (&file);
    file = s_file ("[prog]\nadd = bad\n");
    assert_int_equal (hd_opts_apply_file (&use, file), -1);  //  the setter refused it
    hd_config_destroy (&file);
    assert_int_equal (hd_opts_apply_file (&use, NULL), 0);
}

typedef struct {
    size_t count;
    int lines[8];
    char messages[8][300];
} s_reports_t;

static void
s_collect (const char *name, int line, const char *message, void *arg)
{
    s_reports_t *r = arg;
    assert_string_equal (name, "t.conf");
    assert_true (r->count < 8);
    r->lines[r->count] = line;
    snprintf (r->messages[r->count++], 300, "%s", message);
}

static void
test_opts_check_reports_in_line_order (void **state)
{
    (void) state;
    const hd_opts_section_t sections[] = { { "prog", &s_prog }, { "other", &s_other } };
    hd_config_t *file = s_file ("[prog]\nwiat = 5\nwait = 1s\ncolor = red\nbroken line\n"
                                "config = x\nmode = low\n[nope]\na = 1\nb = 2\n");
    s_reports_t r = { 0 };
    assert_int_equal (hd_opts_check (file, sections, 2, s_collect, &r), 6);
    assert_int_equal (r.count, 6);
    int want[] = { 2, 3, 4, 5, 6, 9 };
    for (size_t i = 0; i < 6; i++)
        assert_int_equal (r.lines[i], want[i]);
    assert_string_equal (r.messages[0], "unknown key 'wiat' in [prog] (did you mean 'wait'?)");
    assert_non_null (strstr (r.messages[1], "'1s' is not an integer from 1 to 60000"));
    assert_non_null (strstr (r.messages[1], "milliseconds (no unit suffix)"));
    assert_string_equal (r.messages[2], "unknown key 'color' in [prog] (it belongs in [other])");
    assert_non_null (strstr (r.messages[4], "unknown key 'config'"));  //  command line only
    assert_string_equal (r.messages[5], "unknown section [nope] (known: prog, other)");
    hd_config_destroy (&file);
}

static char *
s_capture (void (*print) (FILE *, const void *), const void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    assert_non_null (out);
    print (out, arg);
    fclose (out);
    return text;
}

static void
s_help (FILE *out, const void *defaults)
{
    hd_opts_print_help (out, &s_prog, defaults);
}

static void
s_config (FILE *out, const void *target)
{
    hd_opts_print_config (out, &s_prog, target);
}

static void
s_man (FILE *out, const void *defaults)
{
    hd_opts_print_man (out, &s_prog, defaults, 8, "1.0", "2026-01-01");
}

static void
s_words (FILE *out, const void *arg)
{
    (void) arg;
    hd_opts_print_words (out, &s_prog);
}

static void
test_opts_help_and_config_from_the_table (void **state)
{
    (void) state;
    s_set_t s;
    s_defaults (&s);
    char *help = s_capture (s_help, &s);
    assert_non_null (strstr (help, "Usage: prog [OPTIONS]\nTest things.\n"));
    assert_non_null (strstr (help, "  -w, --wait MS            how long (default 500)\n"));
    assert_non_null (strstr (help, "      --mode M             the mode (default mid)\n"));
    assert_non_null (strstr (help, "Peers:\n"));
    assert_non_null (strstr (help, "The end.\n"));
    free (help);
    s.peer = "tcp://secret:1";
    char *config = s_capture (s_config, &s);
    assert_string_equal (config, "fast = no\nwait = 500\nlevel = 0\nratio = 0\nname = anon\n"
                                 "peer = (set)\nmode = mid\n");
    free (config);
    char *man = s_capture (s_man, &s);
    assert_non_null (strstr (man, ".TH PROG 8 \"2026-01-01\" \"heddle 1.0\""));
    assert_non_null (strstr (man, "\\fB\\-w\\fR, \\fB\\-\\-wait\\fR \\fIMS\\fR\nhow long (default 500) [config: wait]"));
    free (man);
    char *words = s_capture (s_words, NULL);
    assert_string_equal (words, "run stop --fast --wait --level --ratio --name --peer --mode "
                                "--add --config --help ");
    free (words);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_opts_parse_stores_each_kind),
        cmocka_unit_test (test_opts_parse_refuses_bad_values),
        cmocka_unit_test (test_opts_set_tells_the_unit),
        cmocka_unit_test (test_opts_parse_several_tables_in_order),
        cmocka_unit_test (test_opts_apply_file_section),
        cmocka_unit_test (test_opts_check_reports_in_line_order),
        cmocka_unit_test (test_opts_help_and_config_from_the_table),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
