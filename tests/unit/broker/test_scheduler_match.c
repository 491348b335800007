/*  Unit tests for the one eligibility rule (hd_scheduler_eligible, hd_scheduler_match.c): the
    function, tags with the architecture as a tag and its aliases, a pinned node, memory now
    (free, reported) and ever (total, unknown counting as enough), and a submit's requirements
    (hd_scheduler_reqs_of). Nodes come from a real hd_registry. No sockets, no clock.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hd_scheduler.h"

#define S_MB (1ull << 20)

//  A node named `name` of architecture `arch` offering "echo", with one tag (NULL: none).
static hd_node_t *
s_node (hd_registry_t *registry, const char *name, const char *arch, const char *tag)
{
    hd_hello_t hello = { .slots = 2, .cores = 2, .nfns = 1 };
    snprintf (hello.name, sizeof hello.name, "%s", name);
    snprintf (hello.arch, sizeof hello.arch, "%s", arch);
    snprintf (hello.fns[0], sizeof hello.fns[0], "echo");
    if (tag)
        snprintf (hello.tags[hello.ntags++], sizeof hello.tags[0], "%s", tag);
    hd_node_t *node = NULL;
    assert_int_equal (hd_registry_add (registry, (const uint8_t *) name, strlen (name), &hello, 1,
                                       &node),
                      HD_OK);
    return node;
}

static uint32_t
s_fn (hd_registry_t *registry, const char *name)
{
    uint32_t fn;
    assert_int_equal (hd_registry_fn_intern (registry, name, &fn), HD_OK);
    return fn;
}

static hd_reqs_t
s_tags (const char *a, const char *b)
{
    hd_reqs_t reqs = { 0 };
    if (a)
        snprintf (reqs.tags[reqs.ntags++], sizeof reqs.tags[0], "%s", a);
    if (b)
        snprintf (reqs.tags[reqs.ntags++], sizeof reqs.tags[0], "%s", b);
    return reqs;
}

static void
test_match_function_is_required (void **state)
{
    (void) state;
    hd_registry_t *registry = hd_registry_new ();
    hd_node_t *node = s_node (registry, "pi-1", "aarch64", NULL);
    assert_true (hd_scheduler_eligible (node, s_fn (registry, "echo"), NULL, HD_ELIGIBLE_NOW));
    assert_false (hd_scheduler_eligible (node, s_fn (registry, "sha256"), NULL, HD_ELIGIBLE_EVER));
    hd_registry_destroy (&registry);
}

static void
test_match_tags_and_architecture (void **state)
{
    (void) state;
    hd_registry_t *registry = hd_registry_new ();
    hd_node_t *pc = s_node (registry, "pc", "x86_64", "gpu");
    hd_node_t *pi = s_node (registry, "pi", "aarch64", NULL);
    uint32_t echo = s_fn (registry, "echo");
    hd_reqs_t reqs = s_tags ("x86_64", NULL);  //  the architecture as given by uname -m
    assert_true (hd_scheduler_eligible (pc, echo, &reqs, HD_ELIGIBLE_EVER));
    assert_false (hd_scheduler_eligible (pi, echo, &reqs, HD_ELIGIBLE_EVER));
    reqs = s_tags ("amd64", "gpu");  //  an alias, and a listed tag
    assert_true (hd_scheduler_eligible (pc, echo, &reqs, HD_ELIGIBLE_NOW));
    reqs = s_tags ("arm64", NULL);
    assert_true (hd_scheduler_eligible (pi, echo, &reqs, HD_ELIGIBLE_NOW));
    assert_false (hd_scheduler_eligible (pc, echo, &reqs, HD_ELIGIBLE_NOW));
    reqs = s_tags ("gpu", "ssd");  //  every tag must be there
    assert_false (hd_scheduler_eligible (pc, echo, &reqs, HD_ELIGIBLE_EVER));
    hd_registry_destroy (&registry);
}

static void
test_match_pinned_node (void **state)
{
    (void) state;
    hd_registry_t *registry = hd_registry_new ();
    hd_node_t *a = s_node (registry, "pi-a", "aarch64", NULL);
    hd_node_t *b = s_node (registry, "pi-b", "aarch64", NULL);
    hd_reqs_t reqs = { 0 };
    snprintf (reqs.node, sizeof reqs.node, "pi-b");
    uint32_t echo = s_fn (registry, "echo");
    assert_false (hd_scheduler_eligible (a, echo, &reqs, HD_ELIGIBLE_EVER));
    assert_true (hd_scheduler_eligible (b, echo, &reqs, HD_ELIGIBLE_EVER));
    hd_registry_destroy (&registry);
}

static void
test_match_memory_now_and_ever (void **state)
{
    (void) state;
    hd_registry_t *registry = hd_registry_new ();
    hd_node_t *node = s_node (registry, "pi", "aarch64", NULL);
    uint32_t echo = s_fn (registry, "echo");
    hd_reqs_t reqs = { .min_mem_mb = 512 };
    //  No figures yet: it cannot prove it has the memory now, but it may have it.
    assert_false (hd_scheduler_eligible (node, echo, &reqs, HD_ELIGIBLE_NOW));
    assert_true (hd_scheduler_eligible (node, echo, &reqs, HD_ELIGIBLE_EVER));
    node->sys.present = HD_M_MEM_TOTAL | HD_M_MEM_AVAIL;
    node->sys.mem_total = 1024 * S_MB;
    node->sys.mem_avail = 256 * S_MB;
    assert_false (hd_scheduler_eligible (node, echo, &reqs, HD_ELIGIBLE_NOW));  //  busy now
    assert_true (hd_scheduler_eligible (node, echo, &reqs, HD_ELIGIBLE_EVER));
    node->sys.mem_avail = 600 * S_MB;
    assert_true (hd_scheduler_eligible (node, echo, &reqs, HD_ELIGIBLE_NOW));
    reqs.min_mem_mb = 2048;  //  more than the node has at all
    assert_false (hd_scheduler_eligible (node, echo, &reqs, HD_ELIGIBLE_EVER));
    hd_registry_destroy (&registry);
}

static void
test_match_reqs_of_submit (void **state)
{
    (void) state;
    hd_submit_t s = { .fn = "echo" };
    hd_reqs_t reqs;
    assert_false (hd_scheduler_reqs_of (&s, &reqs));
    s.min_mem_mb = 64;
    snprintf (s.node, sizeof s.node, "pi-1");
    snprintf (s.tags[s.ntags++], sizeof s.tags[0], "x86_64");
    assert_true (hd_scheduler_reqs_of (&s, &reqs));
    assert_int_equal (reqs.min_mem_mb, 64);
    assert_string_equal (reqs.node, "pi-1");
    assert_int_equal (reqs.ntags, 1);
    assert_string_equal (reqs.tags[0], "x86_64");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_match_function_is_required),
        cmocka_unit_test (test_match_tags_and_architecture),
        cmocka_unit_test (test_match_pinned_node),
        cmocka_unit_test (test_match_memory_now_and_ever),
        cmocka_unit_test (test_match_reqs_of_submit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
