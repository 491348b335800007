/*  test_opts_tables: the real option tables of heddle-broker, heddle-worker and `heddle`'s
    connection options (opts/): names and letters unique, every option documented, and the
    effective configuration a program prints is a config file that passes the check and, applied
    again, prints the same (so --print-config, the keys and their checks agree); the example
    config file lists every key.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>  //  after the four above, which it needs

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_opts_tables.h"

static void
s_check_table (const hd_opts_prog_t *prog)
{
    for (const hd_opt_t *a = prog->opts; a->name; a++) {
        if (a->kind == HD_OPTS_HEADING)
            continue;
        assert_non_null (a->help);
        assert_true (a->kind == HD_OPTS_FLAG || a->kind == HD_OPTS_HELP || a->meta);
        for (const hd_opt_t *b = a + 1; b->name; b++) {
            if (b->kind == HD_OPTS_HEADING)
                continue;
            if (strcmp (a->name, b->name) == 0 || (a->letter && a->letter == b->letter))
                fail_msg ("%s: --%s and --%s clash", prog->name, a->name, b->name);
        }
    }
}

static void
test_opts_tables_are_consistent (void **state)
{
    (void) state;
    for (size_t i = 0; i < HD_OPTS_NSECTIONS; i++) {
        s_check_table (hd_opts_sections[i].prog);
        assert_string_equal (hd_opts_sections[i].prog->section, hd_opts_sections[i].name);
    }
}

static void
s_collect (const char *name, int line, const char *message, void *arg)
{
    (void) arg;
    fprintf (stderr, "%s:%d: %s\n", name, line, message);
}

static char *
s_print_config (const hd_opts_prog_t *prog, const void *target)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    assert_non_null (out);
    fprintf (out, "[%s]\n", prog->section);
    hd_opts_print_config (out, prog, target);
    fclose (out);
    return text;
}

//  The printed configuration, without the lines that show an unset value ("(none)", "auto")
//  as a config file it must pass the check and reproduce itself.
static void
s_round_trip (const hd_opts_prog_t *prog, void *target, void *fresh)
{
    char *printed = s_print_config (prog, target);
    char *file_text = calloc (1, strlen (printed) + 1);
    assert_non_null (file_text);
    for (char *save = NULL, *line = strtok_r (printed, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save)) {
        const char *eq = strstr (line, " = ");
        bool unset = false;
        for (const hd_opt_t *o = prog->opts; eq && o->name; o++)
            if (strncmp (line, o->name, strlen (o->name)) == 0 && line[strlen (o->name)] == ' ')
                unset = strcmp (eq + 3, "auto") == 0 || eq[3] == '(';
        if (!unset) {
            strcat (file_text, line);
            strcat (file_text, "\n");
        }
    }
    hd_config_t *file = NULL;
    assert_int_equal (hd_config_parse (&file, file_text, "printed.conf"), HD_OK);
    assert_int_equal (hd_opts_check (file, hd_opts_sections, HD_OPTS_NSECTIONS, s_collect, NULL), 0);
    hd_opts_use_t use = { prog, fresh };
    assert_int_equal (hd_opts_apply_file (&use, file), 0);
    char *again = s_print_config (prog, fresh), *first = s_print_config (prog, target);
    assert_string_equal (again, first);
    free (again);
    free (first);
    hd_config_destroy (&file);
    free (file_text);
    free (printed);
}

static void
test_opts_tables_broker_config_round_trip (void **state)
{
    (void) state;
    hd_broker_settings_t s, fresh;
    memset (&s, 0, sizeof s);
    hd_broker_config_defaults (&s.config);
    s.config.http_endpoint = "127.0.0.1:7780";
    s.log_level = 2;
    hd_opts_use_t use = { &hd_opts_broker, &s };
    char err[256];
    assert_int_equal (hd_opts_set (&use, "heartbeat", "250", err, sizeof err), 0);
    assert_int_equal (hd_opts_set (&use, "journal", "batch", err, sizeof err), 0);
    assert_int_equal (hd_opts_set (&use, "metrics", "none", err, sizeof err), 0);
    assert_int_equal (hd_opts_set (&use, "clients", "pi1", err, sizeof err), 0);
    assert_string_equal (s.config.clients_endpoint, "tcp://pi1:7700");
    assert_null (s.config.metrics_endpoint);
    assert_int_equal (hd_opts_set (&use, "results-max-bytes", "4096", err, sizeof err), 0);
    assert_int_equal (hd_opts_set (&use, "max-key-jobs", "0", err, sizeof err), -1);
    memset (&fresh, 0, sizeof fresh);
    hd_broker_config_defaults (&fresh.config);
    fresh.config.http_endpoint = "127.0.0.1:7780";
    s_round_trip (&hd_opts_broker, &s, &fresh);
    assert_int_equal (fresh.config.journal_mode, s.config.journal_mode);
}

static void
test_opts_tables_worker_config_round_trip (void **state)
{
    (void) state;
    hd_worker_settings_t s, fresh;
    memset (&s, 0, sizeof s);
    hd_worker_config_defaults (&s.config);
    hd_opts_use_t use = { &hd_opts_worker, &s };
    char err[256];
    assert_int_equal (hd_opts_set (&use, "slots", "3", err, sizeof err), 0);
    assert_int_equal (hd_opts_set (&use, "capacity", "2.5", err, sizeof err), 0);
    assert_int_equal (hd_opts_set (&use, "cluster", "lab-2", err, sizeof err), 0);
    assert_int_equal (hd_opts_set (&use, "cluster", "two words", err, sizeof err), -1);
    assert_int_equal (hd_opts_set (&use, "discover-timeout", "10s", err, sizeof err), -1);
    assert_non_null (strstr (err, "in seconds (no unit suffix)"));
    memset (&fresh, 0, sizeof fresh);
    hd_worker_config_defaults (&fresh.config);
    s_round_trip (&hd_opts_worker, &s, &fresh);
}

//  packaging/heddle.conf.example: every key of every table is there, commented out in its
//  section, and the file with every line uncommented passes the check.
static void
test_opts_tables_example_lists_every_key (void **state)
{
    (void) state;
    FILE *f = fopen (HD_SRC_DIR "/packaging/heddle.conf.example", "r");
    assert_non_null (f);
    static char text[65536], uncommented[65536];
    size_t n = fread (text, 1, sizeof text - 1, f);
    fclose (f);
    text[n] = '\0';
    //  "# key = value   # comment" -> "key = value"; other comment lines stay comments.
    char *out = uncommented;
    for (char *save = NULL, *line = strtok_r (text, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save)) {
        const char *eq = strstr (line, " = ");
        if (line[0] == '#' && line[1] == ' ' && line[2] != ' ' && eq
            && strcspn (line + 2, " ") == (size_t) (eq - line - 2))
            out += sprintf (out, "%s\n", line + 2);
        else
            out += sprintf (out, "%s\n", line);
    }
    hd_config_t *file = NULL;
    assert_int_equal (hd_config_parse (&file, uncommented, "heddle.conf.example"), HD_OK);
    assert_int_equal (hd_opts_check (file, hd_opts_sections, HD_OPTS_NSECTIONS, s_collect, NULL), 0);
    for (size_t i = 0; i < HD_OPTS_NSECTIONS; i++)
        for (const hd_opt_t *o = hd_opts_sections[i].prog->opts; o->name; o++)
            if (o->kind != HD_OPTS_HEADING && o->kind != HD_OPTS_HELP
                && !(o->flags & HD_OPTS_NOCONF)
                && !hd_config_get (file, hd_opts_sections[i].name, o->name))
                fail_msg ("heddle.conf.example: [%s] has no '%s'", hd_opts_sections[i].name,
                          o->name);
    hd_config_destroy (&file);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_opts_tables_are_consistent),
        cmocka_unit_test (test_opts_tables_broker_config_round_trip),
        cmocka_unit_test (test_opts_tables_worker_config_round_trip),
        cmocka_unit_test (test_opts_tables_example_lists_every_key),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
