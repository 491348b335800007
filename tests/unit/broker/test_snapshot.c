/*  Unit: hd_snapshot (histograms, folding past the label caps, text from peers) and its two
    renderers (Prometheus text, JSON).  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_snapshot.h"

static int
s_setup (void **state)
{
    hd_snapshot_t *s = malloc (sizeof *s);
    assert_non_null (s);
    hd_snapshot_clear (s);
    *state = s;
    return 0;
}

static int
s_teardown (void **state)
{
    free (*state);
    return 0;
}

static char *
s_render (const hd_snapshot_t *s, hd_err_t (*render) (const hd_snapshot_t *, hd_buf_t *))
{
    hd_buf_t buf = { 0 };
    assert_int_equal (render (s, &buf), HD_OK);
    assert_int_equal (hd_buf_append (&buf, "", 1), HD_OK);
    return (char *) buf.data;
}

static void
test_snapshot_hist_puts_values_in_their_bucket (void **state)
{
    (void) state;
    hd_promhist_t h = { 0 };
    hd_promhist_observe (&h, hd_promhist_task_bounds, 0.001);  //  on the bound: that bucket
    hd_promhist_observe (&h, hd_promhist_task_bounds, 0.002);
    hd_promhist_observe (&h, hd_promhist_task_bounds, 1000);  //  past the last: +Inf
    assert_int_equal (h.counts[0], 1);
    assert_int_equal (h.counts[1], 1);
    assert_int_equal (h.counts[HD_HIST_BOUNDS], 1);
    assert_int_equal (hd_promhist_count (&h), 3);
    assert_true (h.sum > 1000.002 && h.sum < 1000.004);
}

static void
test_snapshot_folds_functions_past_the_cap (void **state)
{
    hd_snapshot_t *s = *state;
    hd_snapshot_fn (s, 0, "echo")->queued = 1;
    hd_snapshot_fn (s, HD_SNAP_MAX_FNS, "f32")->queued += 2;
    hd_snapshot_fn (s, 900, "f900")->queued += 3;
    assert_int_equal (s->nfns, HD_SNAP_MAX_FNS + 1);
    assert_string_equal (s->fns[0].name, "echo");
    assert_string_equal (s->fns[HD_SNAP_MAX_FNS].name, "other");  //  not "f32"
    assert_int_equal (s->fns[HD_SNAP_MAX_FNS].queued, 5);
}

static void
test_snapshot_folds_nodes_past_the_cap (void **state)
{
    hd_snapshot_t *s = *state;
    hd_snap_node_t n = { .up = true, .slots = 2, .present = HD_SNAP_CPU | HD_SNAP_TEMP };
    for (int i = 0; i < HD_SNAP_MAX_NODES + 3; i++) {
        snprintf (n.name, sizeof n.name, "n%d", i);
        n.cpu = i >= HD_SNAP_MAX_NODES ? 0.25 * (i - HD_SNAP_MAX_NODES) : 0.9;
        n.temp = 40 + i;
        n.up = i != HD_SNAP_MAX_NODES + 2;
        hd_snapshot_add_node (s, &n);
    }
    assert_int_equal (s->nnodes, HD_SNAP_MAX_NODES + 1);
    const hd_snap_node_t *o = &s->nodes[HD_SNAP_MAX_NODES];
    assert_string_equal (o->name, "other");
    assert_int_equal (o->nodes, 3);
    assert_int_equal (o->nup, 2);
    assert_int_equal (o->slots, 6);
    assert_true (o->cpu > 0.249 && o->cpu < 0.251);        //  mean of 0, 0.25, 0.5
    assert_true (o->temp > 40 + HD_SNAP_MAX_NODES + 1.9);  //  the hottest
    assert_string_equal (s->nodes[0].name, "n0");
    assert_int_equal (s->nodes[0].nup, 1);
}

static void
test_snapshot_copy_text_keeps_utf8_and_replaces_the_rest (void **state)
{
    (void) state;
    char out[16];
    assert_string_equal (hd_snapshot_copy_text (out, sizeof out,
                                                "k\xc3\xbc"
                                                "che"),
                         "k\xc3\xbc"
                         "che");
    assert_string_equal (hd_snapshot_copy_text (out, sizeof out,
                                                "a\xff"
                                                "b\n"),
                         "a?b?");
    assert_string_equal (hd_snapshot_copy_text (out, sizeof out, "\xc0\xaf"), "??");  //  overlong
    assert_string_equal (hd_snapshot_copy_text (out, 4, "ab\xc3\xbc"), "ab");         //  cut whole
    assert_string_equal (hd_snapshot_copy_text (out, sizeof out, NULL), "");
}

static void
test_snapshot_prom_has_help_type_and_escapes_labels (void **state)
{
    hd_snapshot_t *s = *state;
    hd_snap_fn_t *f = hd_snapshot_fn (s, 0, "a\"b\\c");
    f->completed[0] = 7;
    f->completed[7] = 2;  //  timeout
    hd_promhist_observe (&f->duration, hd_promhist_task_bounds, 0.02);
    hd_snap_node_t n = { .name = "w1", .up = true, .slots = 4, .capacity = 4 };
    hd_snapshot_add_node (s, &n);
    s->c.submitted = 9;
    char *text = s_render (s, hd_snapshot_prom);
    assert_non_null (strstr (text, "# HELP heddle_tasks_submitted_total "));
    assert_non_null (strstr (text, "# TYPE heddle_tasks_submitted_total counter\n"
                                   "heddle_tasks_submitted_total 9\n"));
    assert_non_null (
        strstr (text, "heddle_tasks_completed_total{fn=\"a\\\"b\\\\c\",status=\"ok\"} 7\n"));
    assert_non_null (strstr (text, "status=\"timeout\"} 2\n"));
    assert_null (strstr (text, "status=\"busy\""));  //  zero and not ok/failed: left out
    assert_non_null (strstr (text, "le=\"0.05\"} 1\n"));
    assert_non_null (strstr (text, "le=\"0.01\"} 0\n"));
    assert_non_null (strstr (text, "heddle_node_up{node=\"w1\"} 1\n"));
    assert_null (strstr (text, "heddle_node_cpu_busy_ratio{"));  //  absent is not zero
    free (text);
}

static void
test_snapshot_prom_shows_a_down_node_as_down_only (void **state)
{
    hd_snapshot_t *s = *state;
    hd_snap_node_t n = { .name = "gone1", .up = false, .slots = 4, .done = 5 };
    hd_snapshot_add_node (s, &n);
    char *text = s_render (s, hd_snapshot_prom);
    assert_non_null (strstr (text, "heddle_node_up{node=\"gone1\"} 0\n"));
    assert_non_null (strstr (text, "heddle_node_tasks_done_total{node=\"gone1\"} 5\n"));
    assert_null (strstr (text, "heddle_node_slots{node=\"gone1\"}"));
    free (text);
}

static void
test_snapshot_json_lists_everything (void **state)
{
    hd_snapshot_t *s = *state;
    hd_snapshot_fn (s, 0, "echo")->completed[0] = 3;
    hd_snap_node_t n = { .name = "w\"1", .up = true, .present = HD_SNAP_TEMP, .temp = 51.5 };
    hd_snapshot_add_node (s, &n);
    s->nevents = 1;
    snprintf (s->events[0].type, sizeof s->events[0].type, "node");
    s->nseries = 1;
    s->series[0] = (hd_snap_sample_t){ .t_ms = 5, .completed = 3, .queued = 1 };
    char *text = s_render (s, hd_snapshot_json);
    assert_non_null (strstr (text, "\"functions\":[{\"name\":\"echo\",\"queued\":0,\"running\":0,"
                                   "\"done\":3,\"failed\":0"));
    assert_non_null (strstr (text, "\"name\":\"w\\\"1\""));
    assert_non_null (strstr (text, "\"temp\":51.5"));
    assert_null (strstr (text, "\"cpu\":"));
    assert_non_null (strstr (text, "\"samples\":[[5,3,1,0]]"));
    assert_non_null (strstr (text, "\"events\":[{\"t_ms\":0,\"type\":\"node\""));
    assert_non_null (strstr (text, "\"jobs_total\":0,\"jobs\":[]"));
    assert_int_equal (text[strlen (text) - 1], '}');
    free (text);
}

static void
test_snapshot_lists_jobs_with_progress (void **state)
{
    hd_snapshot_t *s = *state;
    s->jobs_total = 3;
    s->njobs = 1;
    s->jobs[0] = (hd_snap_job_t){
        .id = "j1", .name = "render", .state = "running", .tasks = 10, .done = 4, .failed = 1
    };
    char *json = s_render (s, hd_snapshot_json);
    assert_non_null (strstr (json, "\"jobs_total\":3,\"jobs\":[{\"id\":\"j1\",\"name\":"
                                   "\"render\",\"state\":\"running\",\"tasks\":10,\"done\":4,"
                                   "\"failed\":1}]}"));
    char *prom = s_render (s, hd_snapshot_prom);
    assert_non_null (strstr (prom, "# TYPE heddle_jobs gauge\nheddle_jobs 3\n"));
    free (json);
    free (prom);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_snapshot_hist_puts_values_in_their_bucket),
        cmocka_unit_test_setup_teardown (test_snapshot_folds_functions_past_the_cap, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_folds_nodes_past_the_cap, s_setup,
                                         s_teardown),
        cmocka_unit_test (test_snapshot_copy_text_keeps_utf8_and_replaces_the_rest),
        cmocka_unit_test_setup_teardown (test_snapshot_prom_has_help_type_and_escapes_labels,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_prom_shows_a_down_node_as_down_only, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_json_lists_everything, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_snapshot_lists_jobs_with_progress, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
