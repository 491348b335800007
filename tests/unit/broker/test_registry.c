/*  Unit tests for hd_registry: adding, finding and removing workers, re-HELLO, index reuse,
    function interning and provider counts, capacity, draining. No sockets, no clock.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_registry.h"

//  A HELLO for `name` with `slots` and up to two functions (NULL: none).
static hd_hello_t
s_hello (const char *name, uint32_t slots, const char *fn1, const char *fn2)
{
    hd_hello_t hello = { .slots = slots, .cores = 1 };
    snprintf (hello.name, sizeof hello.name, "%s", name);
    if (fn1)
        snprintf (hello.fns[hello.nfns++], sizeof hello.fns[0], "%s", fn1);
    if (fn2)
        snprintf (hello.fns[hello.nfns++], sizeof hello.fns[0], "%s", fn2);
    return hello;
}

static hd_node_t *
s_add (hd_registry_t *registry, const char *rid, const hd_hello_t *hello)
{
    hd_node_t *node = NULL;
    assert_int_equal (
        hd_registry_add (registry, (const uint8_t *) rid, strlen (rid), hello, 100, &node), HD_OK);
    assert_non_null (node);
    return node;
}

static uint32_t
s_fn (const hd_registry_t *registry, const char *name)
{
    uint32_t fn = UINT32_MAX;
    assert_int_equal (hd_registry_fn_find (registry, name, &fn), HD_OK);
    return fn;
}

static int
s_setup (void **state)
{
    *state = hd_registry_new ();
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    hd_registry_t *registry = *state;
    hd_registry_destroy (&registry);
    assert_null (registry);
    return 0;
}

static void
test_registry_add_then_lookup_by_rid (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("pi-1", 4, "echo", NULL);
    hd_node_t *node = s_add (registry, "rid-a", &hello);
    assert_ptr_equal (hd_registry_lookup (registry, (const uint8_t *) "rid-a", 5), node);
    assert_string_equal (node->name, "pi-1");
    assert_int_equal (node->slots, 4);
    assert_int_equal (node->in_flight, 0);
    assert_int_equal (node->state, HD_NODE_READY);
    assert_int_equal (node->joined_ms, 100);
    assert_int_equal (hd_registry_size (registry), 1);
}

static void
test_registry_lookup_unknown_is_null (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("pi-1", 1, "echo", NULL);
    s_add (registry, "rid-a", &hello);
    assert_null (hd_registry_lookup (registry, (const uint8_t *) "rid-b", 5));
    assert_null (hd_registry_lookup (registry, (const uint8_t *) "rid-a", 4));
}

static void
test_registry_add_rejects_zero_slots (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("pi-1", 0, "echo", NULL);
    hd_node_t *node = NULL;
    assert_int_equal (hd_registry_add (registry, (const uint8_t *) "r", 1, &hello, 0, &node),
                      HD_EINVAL);
    assert_null (node);
    assert_int_equal (hd_registry_size (registry), 0);
}

static void
test_registry_add_rejects_empty_rid (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("pi-1", 1, "echo", NULL);
    hd_node_t *node = NULL;
    assert_int_equal (hd_registry_add (registry, (const uint8_t *) "", 0, &hello, 0, &node),
                      HD_EINVAL);
    assert_int_equal (hd_registry_size (registry), 0);
}

static void
test_registry_remove_forgets_worker (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("pi-1", 1, "echo", NULL);
    hd_registry_remove (registry, s_add (registry, "rid-a", &hello));
    assert_null (hd_registry_lookup (registry, (const uint8_t *) "rid-a", 5));
    assert_null (hd_registry_first (registry));
    assert_int_equal (hd_registry_size (registry), 0);
}

static void
test_registry_readd_keeps_in_flight_and_index (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("pi-1", 4, "echo", NULL);
    s_add (registry, "rid-a", &hello);
    hd_node_t *node = s_add (registry, "rid-b", &hello);
    node->in_flight = 3;
    hd_hello_t again = s_hello ("pi-1b", 8, "sum", NULL);
    assert_ptr_equal (s_add (registry, "rid-b", &again), node);
    assert_int_equal (node->index, 1);
    assert_int_equal (node->in_flight, 3);
    assert_int_equal (node->slots, 8);
    assert_string_equal (node->name, "pi-1b");
    assert_int_equal (hd_registry_size (registry), 2);
}

static void
test_registry_readd_replaces_functions (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("pi-1", 1, "echo", NULL);
    hd_node_t *node = s_add (registry, "rid-a", &hello);
    hd_hello_t again = s_hello ("pi-1", 1, "sum", NULL);
    s_add (registry, "rid-a", &again);
    assert_false (hd_registry_offers (node, s_fn (registry, "echo")));
    assert_true (hd_registry_offers (node, s_fn (registry, "sum")));
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "echo")), 0);
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "sum")), 1);
}

static void
test_registry_reuses_freed_index (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("pi", 1, "echo", NULL);
    s_add (registry, "rid-a", &hello);
    hd_node_t *b = s_add (registry, "rid-b", &hello);
    s_add (registry, "rid-c", &hello);
    assert_int_equal (b->index, 1);
    hd_registry_remove (registry, b);
    assert_int_equal (s_add (registry, "rid-d", &hello)->index, 1);
    assert_int_equal (s_add (registry, "rid-e", &hello)->index, 3);
}

static void
test_registry_interns_function_once (void **state)
{
    hd_registry_t *registry = *state;
    uint32_t first = 99, second = 98, other = 97;
    assert_int_equal (hd_registry_fn_intern (registry, "echo", &first), HD_OK);
    assert_int_equal (hd_registry_fn_intern (registry, "sum", &other), HD_OK);
    assert_int_equal (hd_registry_fn_intern (registry, "echo", &second), HD_OK);
    assert_int_equal (first, second);
    assert_int_not_equal (first, other);
    assert_string_equal (hd_registry_fn_name (registry, first), "echo");
    assert_null (hd_registry_fn_name (registry, 2));
}

static void
test_registry_fn_find_does_not_intern (void **state)
{
    hd_registry_t *registry = *state;
    uint32_t fn;
    assert_int_equal (hd_registry_fn_find (registry, "echo", &fn), HD_ENOTFOUND);
    assert_int_equal (hd_registry_fn_find (registry, "echo", &fn), HD_ENOTFOUND);
    assert_null (hd_registry_fn_name (registry, 0));
}

static void
test_registry_fn_intern_full_past_limit (void **state)
{
    hd_registry_t *registry = *state;
    char name[32];
    uint32_t fn;
    for (int i = 0; i < HD_MAX_FN_IDS; i++) {
        snprintf (name, sizeof name, "fn-%d", i);
        assert_int_equal (hd_registry_fn_intern (registry, name, &fn), HD_OK);
        assert_int_equal (fn, (uint32_t) i);
        hd_registry_fn_hold (registry, fn, +1);  //  a job names it: never forgotten
    }
    assert_int_equal (hd_registry_fn_intern (registry, "one-more", &fn), HD_EFULL);
    assert_int_equal (hd_registry_fn_intern (registry, "fn-7", &fn), HD_OK);
    assert_int_equal (fn, 7);
}

static void
test_registry_add_full_when_functions_exhausted (void **state)
{
    hd_registry_t *registry = *state;
    char name[32];
    uint32_t fn;
    for (int i = 0; i < HD_MAX_FN_IDS; i++) {
        snprintf (name, sizeof name, "fn-%d", i);
        assert_int_equal (hd_registry_fn_intern (registry, name, &fn), HD_OK);
        hd_registry_fn_hold (registry, fn, +1);
    }
    hd_hello_t hello = s_hello ("pi", 1, "fn-1", "brand-new");
    hd_node_t *node = NULL;
    assert_int_equal (hd_registry_add (registry, (const uint8_t *) "r", 1, &hello, 0, &node),
                      HD_EFULL);
    assert_int_equal (hd_registry_size (registry), 0);
    assert_int_equal (hd_registry_fn_providers (registry, 1), 0);
}

//  A worker key announcing throwaway names cannot fill the table for good: names no worker
//  offers and no job holds make room, held and offered ones stay.
static void
test_registry_fn_forgets_unused_names_when_full (void **state)
{
    hd_registry_t *registry = *state;
    char name[32];
    uint32_t fn;
    hd_hello_t hello = s_hello ("real", 1, "fn-0", "fn-1");
    hd_node_t *node = NULL;
    assert_int_equal (hd_registry_add (registry, (const uint8_t *) "r", 1, &hello, 0, &node),
                      HD_OK);
    for (int i = 2; i < HD_MAX_FN_IDS; i++) {
        snprintf (name, sizeof name, "fn-%d", i);
        assert_int_equal (hd_registry_fn_intern (registry, name, &fn), HD_OK);
    }
    hd_registry_fn_hold (registry, 2, +1);  //  "fn-2": a queued task names it
    for (int i = 0; i < HD_MAX_FN_IDS; i++) {
        snprintf (name, sizeof name, "flood-%d", i);
        if (i < HD_MAX_FN_IDS - 3)
            assert_int_equal (hd_registry_fn_intern (registry, name, &fn), HD_OK);
    }
    assert_int_equal (hd_registry_fn_find (registry, "fn-0", &fn), HD_OK);
    assert_int_equal (fn, 0);
    assert_int_equal (hd_registry_fn_find (registry, "fn-2", &fn), HD_OK);
    assert_int_equal (fn, 2);
    assert_string_equal (hd_registry_fn_name (registry, 2), "fn-2");
    assert_int_equal (hd_registry_fn_find (registry, "fn-3", &fn), HD_ENOTFOUND);
    assert_int_equal (hd_registry_fn_find (registry, "flood-0", &fn), HD_OK);
    assert_int_equal (hd_registry_fn_find (registry, "flood-1020", &fn), HD_OK);
    assert_int_equal (hd_registry_fn_forgotten (registry), HD_MAX_FN_IDS - 3);
    assert_int_equal (hd_registry_fn_live (registry), HD_MAX_FN_IDS);
    //  Every name left is found under its own id, after all the erasures from the table.
    for (uint32_t id = 0; id < HD_MAX_FN_IDS; id++) {
        const char *left = hd_registry_fn_name (registry, id);
        assert_non_null (left);
        assert_int_equal (hd_registry_fn_find (registry, left, &fn), HD_OK);
        assert_int_equal (fn, id);
    }
}

//  A full table of names nobody uses: a HELLO's new names all find room, none taking the id
//  of another name of the same HELLO.
static void
test_registry_hello_names_fit_a_full_table (void **state)
{
    hd_registry_t *registry = *state;
    char name[32];
    uint32_t fn;
    for (int i = 0; i < HD_MAX_FN_IDS; i++) {
        snprintf (name, sizeof name, "old-%d", i);
        assert_int_equal (hd_registry_fn_intern (registry, name, &fn), HD_OK);
    }
    hd_hello_t *hello = calloc (1, sizeof *hello);
    assert_non_null (hello);
    snprintf (hello->name, sizeof hello->name, "pi");
    hello->slots = 1;
    hello->nfns = HD_MAX_FNS;
    for (int i = 0; i < HD_MAX_FNS; i++)
        snprintf (hello->fns[i], sizeof hello->fns[i], "new-%d", i);
    hd_node_t *node = NULL;
    assert_int_equal (hd_registry_add (registry, (const uint8_t *) "r", 1, hello, 0, &node),
                      HD_OK);
    for (int i = 0; i < HD_MAX_FNS; i++) {
        assert_int_equal (hd_registry_fn_find (registry, hello->fns[i], &fn), HD_OK);
        assert_true (hd_registry_offers (node, fn));
        assert_int_equal (hd_registry_fn_providers (registry, fn), 1);
    }
    free (hello);
}

static void
test_registry_counts_providers (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t both = s_hello ("a", 1, "echo", "sum");
    hd_hello_t echo = s_hello ("b", 1, "echo", "echo");  //  a duplicate counts once
    hd_node_t *a = s_add (registry, "rid-a", &both);
    s_add (registry, "rid-b", &echo);
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "echo")), 2);
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "sum")), 1);
    hd_registry_remove (registry, a);
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "echo")), 1);
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "sum")), 0);
}

//  Offered: announced by some worker since the registry was made, even if it left since;
//  interning the name for a task does not count.
static void
test_registry_remembers_functions_offered (void **state)
{
    hd_registry_t *registry = *state;
    uint32_t typo;
    assert_int_equal (hd_registry_fn_intern (registry, "sha265", &typo), HD_OK);
    assert_false (hd_registry_fn_offered (registry, typo));
    hd_hello_t hello = s_hello ("a", 1, "echo", NULL);
    hd_node_t *a = s_add (registry, "rid-a", &hello);
    assert_true (hd_registry_fn_offered (registry, s_fn (registry, "echo")));
    hd_registry_remove (registry, a);
    assert_true (hd_registry_fn_offered (registry, s_fn (registry, "echo")));
    assert_false (hd_registry_fn_offered (registry, typo));
    assert_false (hd_registry_fn_offered (registry, 999));
}

static void
test_registry_readd_does_not_double_count_providers (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("a", 1, "echo", NULL);
    s_add (registry, "rid-a", &hello);
    s_add (registry, "rid-a", &hello);
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "echo")), 1);
}

static void
test_registry_capacity_is_score_else_slots (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t plain = s_hello ("a", 4, "echo", NULL);
    hd_hello_t scored = s_hello ("b", 4, "echo", NULL);
    scored.score = 2.5;
    assert_true (s_add (registry, "rid-a", &plain)->capacity == 4.0);
    assert_true (s_add (registry, "rid-b", &scored)->capacity == 2.5);
}

static void
test_registry_draining_toggles_state (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("a", 1, "echo", NULL);
    hd_node_t *node = s_add (registry, "rid-a", &hello);
    hd_registry_set_draining (node, true);
    assert_int_equal (node->state, HD_NODE_DRAINING);
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "echo")), 1);
    hd_registry_set_draining (node, false);
    assert_int_equal (node->state, HD_NODE_READY);
}

static void
test_registry_hello_ends_draining (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("a", 1, "echo", NULL);
    hd_node_t *node = s_add (registry, "rid-a", &hello);
    hd_registry_set_draining (node, true);
    s_add (registry, "rid-a", &hello);
    assert_int_equal (node->state, HD_NODE_READY);
}

static void
test_registry_touch_sets_last_seen (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("a", 1, "echo", NULL);
    hd_node_t *node = s_add (registry, "rid-a", &hello);
    assert_int_equal (node->last_seen_ms, 100);
    hd_registry_touch (node, 250);
    assert_int_equal (node->last_seen_ms, 250);
}

static void
test_registry_iterates_in_index_order (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("a", 1, "echo", NULL);
    hd_node_t *a = s_add (registry, "rid-a", &hello);
    hd_node_t *b = s_add (registry, "rid-b", &hello);
    hd_node_t *c = s_add (registry, "rid-c", &hello);
    hd_registry_remove (registry, b);
    assert_ptr_equal (hd_registry_first (registry), a);
    assert_ptr_equal (hd_registry_next (registry, a), c);
    assert_null (hd_registry_next (registry, c));
}

static void
test_registry_find_name_returns_first_match (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t a = s_hello ("alpha", 1, "echo", NULL);
    hd_hello_t b = s_hello ("beta", 1, "echo", NULL);
    s_add (registry, "rid-a", &a);
    hd_node_t *beta = s_add (registry, "rid-b", &b);
    s_add (registry, "rid-c", &b);
    assert_ptr_equal (hd_registry_find_name (registry, "beta"), beta);
    assert_null (hd_registry_find_name (registry, "gamma"));
}

//  Enough workers to grow every table several times, then half removed: the rest stay reachable.
static void
test_registry_many_workers_stay_reachable (void **state)
{
    hd_registry_t *registry = *state;
    hd_hello_t hello = s_hello ("n", 1, "echo", NULL);
    char rid[16];
    for (int i = 0; i < 1000; i++) {
        snprintf (rid, sizeof rid, "w%d", i);
        s_add (registry, rid, &hello);
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf (rid, sizeof rid, "w%d", i);
        hd_registry_remove (registry, hd_registry_lookup (registry, (uint8_t *) rid, strlen (rid)));
    }
    for (int i = 1; i < 1000; i += 2) {
        snprintf (rid, sizeof rid, "w%d", i);
        hd_node_t *node = hd_registry_lookup (registry, (uint8_t *) rid, strlen (rid));
        assert_non_null (node);
        assert_int_equal (node->index, (uint32_t) i);
    }
    assert_int_equal (hd_registry_size (registry), 500);
    assert_int_equal (hd_registry_fn_providers (registry, s_fn (registry, "echo")), 500);
}

static void
test_registry_destroy_is_null_safe (void **state)
{
    (void) state;
    hd_registry_t *registry = NULL;
    hd_registry_destroy (&registry);
    assert_null (registry);
}

#define S_TEST(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_registry_add_then_lookup_by_rid),
        S_TEST (test_registry_lookup_unknown_is_null),
        S_TEST (test_registry_add_rejects_zero_slots),
        S_TEST (test_registry_add_rejects_empty_rid),
        S_TEST (test_registry_remove_forgets_worker),
        S_TEST (test_registry_readd_keeps_in_flight_and_index),
        S_TEST (test_registry_readd_replaces_functions),
        S_TEST (test_registry_reuses_freed_index),
        S_TEST (test_registry_interns_function_once),
        S_TEST (test_registry_fn_find_does_not_intern),
        S_TEST (test_registry_fn_intern_full_past_limit),
        S_TEST (test_registry_add_full_when_functions_exhausted),
        S_TEST (test_registry_fn_forgets_unused_names_when_full),
        S_TEST (test_registry_hello_names_fit_a_full_table),
        S_TEST (test_registry_counts_providers),
        S_TEST (test_registry_readd_does_not_double_count_providers),
        S_TEST (test_registry_remembers_functions_offered),
        S_TEST (test_registry_capacity_is_score_else_slots),
        S_TEST (test_registry_draining_toggles_state),
        S_TEST (test_registry_hello_ends_draining),
        S_TEST (test_registry_touch_sets_last_seen),
        S_TEST (test_registry_iterates_in_index_order),
        S_TEST (test_registry_find_name_returns_first_match),
        S_TEST (test_registry_many_workers_stay_reachable),
        cmocka_unit_test (test_registry_destroy_is_null_safe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
