/*  Integration: the `heddle` command-line tool run as a child process, against its embedded
    cluster (no --broker, no $HEDDLE_BROKER) and against a real heddle-broker with two
    heddle-workers on 127.0.0.1 with CURVE. Checks stdout byte for byte against values computed
    here, the stderr summaries and messages, exit codes (0, 1, 2, 3) and the files of keys init.
    It does not look inside the tool: only argv, stdin, stdout, stderr, exit status and files.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_testcli.h"
#include "hd_testenv.h"

#define S_MAP_LINES 2000
#define S_RUN_MS 30000  //  bound on any one run; the checks on speed are tighter

static hd_testenv_t s_env;
static char s_lines_path[400];  //  S_MAP_LINES distinct lines
static char *s_lines_sha;       //  their SHA-256, hex, one per line, in input order

// --- fixtures -----------------------------------------------------------------------------

static void
s_sha256_hex (const void *data, size_t size, char hex[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, data, size);
    sodium_bin2hex (hex, 65, digest, sizeof digest);
}

//  Lines of varied length and content, all distinct (each starts with its index).
static void
s_make_lines (void)
{
    static const char pad[] = "the quick brown fox jumps over the lazy dog \t@%~";
    size_t cap = S_MAP_LINES * 128, size = 0;
    char *text = malloc (cap);
    s_lines_sha = malloc (S_MAP_LINES * 65 + 1);
    assert_true (text && s_lines_sha);
    for (int i = 0; i < S_MAP_LINES; i++) {
        char line[128];
        int n = snprintf (line, sizeof line, "%d:%.*s%x", i, (i * 7) % (int) (sizeof pad - 1), pad,
                          (unsigned) i * 2654435761u);
        memcpy (text + size, line, (size_t) n);
        text[size + (size_t) n] = '\n';
        size += (size_t) n + 1;
        s_sha256_hex (line, (size_t) n, s_lines_sha + i * 65);
        s_lines_sha[i * 65 + 64] = '\n';
    }
    s_lines_sha[S_MAP_LINES * 65] = 0;
    snprintf (s_lines_path, sizeof s_lines_path, "%s/lines.txt", s_env.dir);
    hd_testcli_write_file (s_lines_path, text, size);
    free (text);
}

static int
s_setup (void **state)
{
    (void) state;
    assert_true (sodium_init () >= 0);
    hd_testenv_init (&s_env);
    hd_testenv_start_broker (&s_env, NULL);
    hd_testenv_start_worker (&s_env, "w1", 2, NULL);
    hd_testenv_start_worker (&s_env, "w2", 2, NULL);
    hd_client_t *client = hd_testenv_client (&s_env, 2);  //  returns once both have joined
    hd_client_destroy (&client);
    s_make_lines ();
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    free (s_lines_sha);
    s_lines_sha = NULL;
    hd_testenv_stop (&s_env);
    return 0;
}

//  Run heddle against the real cluster: args, then --broker (the env's) and --keys KEYS.
static void
s_run_remote (hd_testcli_t *run, const char *const *args, const char *keys)
{
    const char *argv[32];
    size_t n = 0;
    for (; args[n]; n++) {
        assert_true (n < 27);
        argv[n] = args[n];
    }
    const char *connect[] = { "--broker", s_env.clients_ep, "--keys", keys, NULL };
    for (size_t i = 0; connect[i]; i++)
        argv[n++] = connect[i];
    argv[n] = NULL;
    hd_testcli_run (run, argv, NULL, 0, S_RUN_MS);
}

static void
s_run (hd_testcli_t *run, const char *const *args)
{
    hd_testcli_run (run, args, NULL, 0, S_RUN_MS);
}

//  Fail with the child's stderr in the message, which is what one needs to see.
static void
s_expect_code (const hd_testcli_t *run, int code)
{
    if (run->code != code)
        fail_msg ("heddle exited %d (want %d)%s; stderr:\n%s", run->code, code,
                  run->timed_out ? " after the time limit" : "", run->err);
}

// --- map ----------------------------------------------------------------------------------

static void
test_cli_map_sha256_embedded_matches_libsodium (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "map", "sha256", s_lines_path, NULL };
    s_run (&run, args);
    s_expect_code (&run, 0);
    assert_string_equal (run.out, s_lines_sha);
    hd_testcli_fini (&run);
}

static void
test_cli_map_sha256_remote_matches_libsodium (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "map", "sha256", s_lines_path, NULL };
    s_run_remote (&run, args, s_env.keys);
    s_expect_code (&run, 0);
    assert_string_equal (run.out, s_lines_sha);
    hd_testcli_fini (&run);
}

static void
test_cli_map_sha256_remote_output_equals_embedded (void **state)
{
    (void) state;
    const char *args[] = { "map", "sha256", s_lines_path, NULL };
    hd_testcli_t embedded, remote;
    s_run (&embedded, args);
    s_run_remote (&remote, args, s_env.keys);
    s_expect_code (&embedded, 0);
    s_expect_code (&remote, 0);
    assert_int_equal (embedded.out_size, remote.out_size);
    assert_memory_equal (embedded.out, remote.out, remote.out_size);
    hd_testcli_fini (&embedded);
    hd_testcli_fini (&remote);
}

static void
test_cli_map_embedded_summary_counts_every_task (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "map", "sha256", s_lines_path, NULL };
    s_run (&run, args);
    s_expect_code (&run, 0);
    assert_non_null (strstr (run.err, "2000 tasks (0 failed)"));
    hd_testcli_fini (&run);
}

static void
test_cli_map_remote_summary_counts_tasks_per_worker (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "map", "sha256", s_lines_path, NULL };
    s_run_remote (&run, args, s_env.keys);
    s_expect_code (&run, 0);
    assert_non_null (strstr (run.err, "2000 tasks (0 failed)"));
    const char *per_node = strstr (run.err, "per node:");
    assert_non_null (per_node);
    unsigned long w1 = 0, w2 = 0;  //  sorted by name: "w1 N, w2 M"
    assert_int_equal (sscanf (per_node, "per node: w1 %lu, w2 %lu", &w1, &w2), 2);
    assert_true (w1 > 0 && w2 > 0);
    assert_int_equal (w1 + w2, S_MAP_LINES);
    hd_testcli_fini (&run);
}

//  Pieces of three lines, the last '\n' of each removed (lib/hd_split.h), counted like wc(1).
static void
test_cli_map_split_lines_3_counts_words_per_piece (void **state)
{
    (void) state;
    char path[400];
    snprintf (path, sizeof path, "%s/words.txt", s_env.dir);
    const char text[] = "one two\nthree\n\nfour five six\nseven\neight nine\nten\n";
    hd_testcli_write_file (path, text, sizeof text - 1);
    hd_testcli_t run;
    const char *args[] = { "map", "--split", "lines:3", "wordcount", path, NULL };
    s_run (&run, args);
    s_expect_code (&run, 0);
    //  "one two\nthree\n\n" | "four five six\nseven\neight nine\n" | "ten\n": each chunk with
    //  its lines' newlines, so the counts add up to wc's for the whole file (7 10 50)
    assert_string_equal (run.out, "3 3 15\n3 6 31\n1 1 4\n");
    hd_testcli_fini (&run);
}

// --- call ---------------------------------------------------------------------------------

static void
test_cli_call_echo_prints_its_argument (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "call", "echo", "hello", NULL };
    s_run (&run, args);
    s_expect_code (&run, 0);
    assert_string_equal (run.out, "hello");  //  stdout is no terminal: nothing added
    hd_testcli_fini (&run);
}

static void
test_cli_call_echo_prints_its_argument_via_broker (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "call", "echo", "hello", NULL };
    s_run_remote (&run, args, s_env.keys);
    s_expect_code (&run, 0);
    assert_string_equal (run.out, "hello");
    hd_testcli_fini (&run);
}

static void
test_cli_call_sha256_reads_at_file (void **state)
{
    (void) state;
    char path[400], arg[402], want[65];
    snprintf (path, sizeof path, "%s/blob.bin", s_env.dir);
    unsigned char blob[3000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (unsigned char) (i * 31 + 7);  //  every byte value, NULs included
    hd_testcli_write_file (path, blob, sizeof blob);
    s_sha256_hex (blob, sizeof blob, want);
    snprintf (arg, sizeof arg, "@%s", path);
    hd_testcli_t run;
    const char *args[] = { "call", "sha256", arg, NULL };
    s_run (&run, args);
    s_expect_code (&run, 0);
    assert_string_equal (run.out, want);
    hd_testcli_fini (&run);
}

static void
test_cli_call_echo_dash_reads_stdin (void **state)
{
    (void) state;
    const char input[] = "from standard input\nsecond line\n";
    hd_testcli_t run;
    const char *args[] = { "call", "echo", "-", NULL };
    hd_testcli_run (&run, args, input, sizeof input - 1, S_RUN_MS);
    s_expect_code (&run, 0);
    assert_string_equal (run.out, input);
    hd_testcli_fini (&run);
}

static void
test_cli_call_unknown_function_exits_1_naming_it (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "call", "no-such-fn", "x", NULL };
    s_run (&run, args);
    s_expect_code (&run, 1);
    assert_string_equal (run.out, "");
    assert_non_null (strstr (run.err, "unknown function"));
    assert_non_null (strstr (run.err, "'no-such-fn'"));
    hd_testcli_fini (&run);
}

static void
test_cli_call_past_its_timeout_exits_3 (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "call", "sleep", "2000", "--timeout", "200", NULL };
    s_run (&run, args);
    s_expect_code (&run, 3);
    assert_true (run.seconds < 3.0);  //  the deadline, not the sleep, ended it
    assert_non_null (strstr (run.err, "timed out"));
    hd_testcli_fini (&run);
}

// --- keys ---------------------------------------------------------------------------------

static const char *const s_key_files[] = {
    "broker.cert",       "broker.cert_secret", "client.cert_secret", "worker.cert_secret",
    "admin.cert_secret", "clients.keys",       "workers.keys",       "admins.keys",
};
#define S_KEY_FILES (sizeof s_key_files / sizeof s_key_files[0])

//  heddle keys init DIR, DIR under the env's temp dir; returns the run's exit code.
static int
s_keys_init (const char *name, char *dir, size_t len)
{
    snprintf (dir, len, "%s/%s", s_env.dir, name);
    hd_testcli_t run;
    const char *args[] = { "keys", "init", dir, NULL };
    s_run (&run, args);
    int code = run.code;
    hd_testcli_fini (&run);
    return code;
}

static void
test_cli_keys_init_creates_every_file (void **state)
{
    (void) state;
    char dir[400], path[500];
    assert_int_equal (s_keys_init ("keys-new", dir, sizeof dir), 0);
    for (size_t i = 0; i < S_KEY_FILES; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, s_key_files[i]);
        struct stat st;
        if (stat (path, &st) != 0 || st.st_size == 0)
            fail_msg ("keys init did not write %s", path);
    }
}

static void
test_cli_keys_init_writes_secrets_mode_0600 (void **state)
{
    (void) state;
    char dir[400], path[500];
    assert_int_equal (s_keys_init ("keys-modes", dir, sizeof dir), 0);
    for (size_t i = 0; i < S_KEY_FILES; i++) {
        if (!strstr (s_key_files[i], "_secret"))
            continue;
        snprintf (path, sizeof path, "%s/%s", dir, s_key_files[i]);
        struct stat st;
        assert_int_equal (stat (path, &st), 0);
        if ((st.st_mode & 07777) != 0600)
            fail_msg ("%s has mode %04o, not 0600", path, (unsigned) (st.st_mode & 07777));
    }
}

static void
test_cli_keys_init_twice_without_force_exits_1_untouched (void **state)
{
    (void) state;
    char dir[400], path[500];
    assert_int_equal (s_keys_init ("keys-twice", dir, sizeof dir), 0);
    char *before[S_KEY_FILES];
    for (size_t i = 0; i < S_KEY_FILES; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, s_key_files[i]);
        before[i] = hd_testcli_read_file (path, NULL);
        assert_non_null (before[i]);
    }
    hd_testcli_t run;
    const char *args[] = { "keys", "init", dir, NULL };
    s_run (&run, args);
    s_expect_code (&run, 1);
    assert_non_null (strstr (run.err, "--force"));
    hd_testcli_fini (&run);
    for (size_t i = 0; i < S_KEY_FILES; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, s_key_files[i]);
        char *after = hd_testcli_read_file (path, NULL);
        assert_non_null (after);
        assert_string_equal (after, before[i]);
        free (after);
        free (before[i]);
    }
}

// --- nodes and bench ----------------------------------------------------------------------

static void
test_cli_nodes_lists_both_workers (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "nodes", NULL };
    s_run_remote (&run, args, s_env.keys);
    s_expect_code (&run, 0);
    assert_true (strncmp (run.out, "NODE ", 5) == 0);  //  the header row
    assert_non_null (strstr (run.out, "\nw1 "));
    assert_non_null (strstr (run.out, "\nw2 "));
    assert_int_equal (hd_testcli_count (run.out, "\n"), 3);
    hd_testcli_fini (&run);
}

static void
test_cli_nodes_json_is_an_array_of_two (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "nodes", "--json", NULL };
    s_run_remote (&run, args, s_env.keys);
    s_expect_code (&run, 0);
    assert_int_equal (run.out[0], '[');
    assert_true (run.out_size >= 2 && strcmp (run.out + run.out_size - 2, "]\n") == 0);
    assert_int_equal (hd_testcli_count (run.out, "{"), 2);
    assert_int_equal (hd_testcli_count (run.out, "}"), 2);
    assert_int_equal (hd_testcli_count (run.out, "},"), 1);  //  a comma between, none after
    assert_non_null (strstr (run.out, "{\"name\": \"w1\""));
    assert_non_null (strstr (run.out, "{\"name\": \"w2\""));
    hd_testcli_fini (&run);
}

static void
test_cli_bench_json_reports_positive_throughput (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "bench", "--tasks", "500", "--json", NULL };
    s_run_remote (&run, args, s_env.keys);
    s_expect_code (&run, 0);
    const char *rate = strstr (run.out, "\"tasks_per_s\": ");
    assert_non_null (rate);
    char *end;
    double tasks_per_s = strtod (rate + strlen ("\"tasks_per_s\": "), &end);
    assert_true (end > rate + strlen ("\"tasks_per_s\": "));
    assert_true (tasks_per_s > 0);
    assert_non_null (strstr (run.out, "\"failed\": 0,"));
    hd_testcli_fini (&run);
}

// --- usage --------------------------------------------------------------------------------

//  `heddle CMD --help` exits 0 with a usage line and each of `options` on stdout.
static void
s_expect_help (const char *cmd, const char *const *options)
{
    hd_testcli_t run;
    const char *args[] = { cmd, "--help", NULL };
    s_run (&run, args);
    s_expect_code (&run, 0);
    char usage[64];
    snprintf (usage, sizeof usage, "Usage: heddle %s", cmd);
    assert_non_null (strstr (run.out, usage));
    for (size_t i = 0; options[i]; i++)
        if (!strstr (run.out, options[i]))
            fail_msg ("heddle %s --help does not mention %s", cmd, options[i]);
    hd_testcli_fini (&run);
}

static void
test_cli_help_lists_commands_and_connection_options (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "--help", NULL };
    s_run (&run, args);
    s_expect_code (&run, 0);
    const char *want[] = { "call",     "map",    "bench",      "nodes",     "keys",
                           "--broker", "--keys", "--insecure", "--workers", NULL };
    for (size_t i = 0; want[i]; i++)
        if (!strstr (run.out, want[i]))
            fail_msg ("heddle --help does not mention %s", want[i]);
    hd_testcli_fini (&run);
}

static void
test_cli_call_help_lists_its_options (void **state)
{
    (void) state;
    const char *const options[] = { "@FILE",    "--timeout", "--priority", "--node",
                                    "--broker", "--keys",    NULL };
    s_expect_help ("call", options);
}

static void
test_cli_map_help_lists_its_options (void **state)
{
    (void) state;
    const char *const options[] = { "--split", "lines:N", "--unordered", "--window", "--fail-fast",
                                    "--sep",   "--quiet", "--broker",    NULL };
    s_expect_help ("map", options);
}

static void
test_cli_bench_help_lists_its_options (void **state)
{
    (void) state;
    const char *const options[] = { "--tasks",   "--window", "--size",   "--fn",
                                    "--latency", "--json",   "--broker", NULL };
    s_expect_help ("bench", options);
}

static void
test_cli_keys_help_lists_its_options (void **state)
{
    (void) state;
    const char *const options[] = { "init", "--force", "0600", NULL };
    s_expect_help ("keys", options);
}

static void
test_cli_nodes_help_lists_its_options (void **state)
{
    (void) state;
    const char *const options[] = { "--json", "--broker", "--keys", NULL };
    s_expect_help ("nodes", options);
}

static void
test_cli_unknown_command_exits_2 (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "frobnicate", NULL };
    s_run (&run, args);
    s_expect_code (&run, 2);
    assert_non_null (strstr (run.err, "unknown command 'frobnicate'"));
    hd_testcli_fini (&run);
}

static void
test_cli_unknown_global_option_exits_2 (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "--frobnicate", "nodes", NULL };
    s_run (&run, args);
    s_expect_code (&run, 2);
    assert_non_null (strstr (run.err, "--frobnicate"));
    hd_testcli_fini (&run);
}

static void
test_cli_unknown_command_option_exits_2 (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *args[] = { "map", "--frobnicate", "sha256", NULL };
    s_run (&run, args);
    s_expect_code (&run, 2);
    assert_non_null (strstr (run.err, "heddle map: unknown or ambiguous option '--frobnicate'"));
    hd_testcli_fini (&run);
}

//  A separator longer than the 64 bytes map and results keep for it is refused, not cut.
static void
test_cli_separator_over_64_bytes_exits_2 (void **state)
{
    (void) state;
    char sep[66];
    memset (sep, 'x', 65);
    sep[65] = 0;
    const char *map[] = { "map", "--sep", sep, "echo", NULL };
    const char *results[] = { "results", "--sep", sep, "j-0000000000000000", NULL };
    const char *const *runs[] = { map, results };
    for (int k = 0; k < 2; k++) {
        hd_testcli_t run;
        s_run (&run, runs[k]);
        s_expect_code (&run, 2);
        assert_non_null (strstr (run.err, "--sep: at most 64 bytes"));
        hd_testcli_fini (&run);
    }
}

// --- keys the broker does not know ----------------------------------------------------------

//  A second `heddle keys init` DIR2 whose broker.cert is replaced by the test broker's public
//  certificate, as a user does on a client machine; `drop_broker_secret` also deletes
//  DIR2/broker.cert_secret, which keys init wrote there for DIR2's own (unused) broker.
static void
s_foreign_client_dir (const char *name, bool drop_broker_secret, char *dir, size_t len)
{
    assert_int_equal (s_keys_init (name, dir, len), 0);
    char src[400], dst[500];
    snprintf (src, sizeof src, "%s/broker.cert", s_env.keys);
    snprintf (dst, sizeof dst, "%s/broker.cert", dir);
    size_t size;
    char *cert = hd_testcli_read_file (src, &size);
    assert_non_null (cert);
    hd_testcli_write_file (dst, cert, size);
    free (cert);
    if (drop_broker_secret) {
        snprintf (dst, sizeof dst, "%s/broker.cert_secret", dir);
        assert_int_equal (unlink (dst), 0);
    }
}

static void
s_expect_refused (const char *keys)
{
    hd_testcli_t run;
    const char *args[] = { "call", "echo", "x", NULL };
    s_run_remote (&run, args, keys);
    s_expect_code (&run, 1);
    assert_true (run.seconds < 10.0);
    assert_string_equal (run.out, "");
    char message[1024];  //  kept past fini, so a failure here leaks nothing
    snprintf (message, sizeof message, "%s", run.err);
    hd_testcli_fini (&run);
    if (!strstr (message, "refused"))
        fail_msg ("no 'refused' in: %s", message);
}

//  KNOWN BUG (fails on purpose): the client loads DIR/broker.cert with czmq's zcert_load, which
//  reads DIR/broker.cert_secret instead whenever that exists (lib/hd_keys.c
//  hd_keys_load_public). A directory from `heddle keys init` has one, so the copied
//  broker.cert is ignored and the handshake fails with "wrong broker key" instead.
static void
test_cli_client_key_off_the_allowlist_is_refused (void **state)
{
    (void) state;
    char dir[400];
    s_foreign_client_dir ("keys-foreign", false, dir, sizeof dir);
    s_expect_refused (dir);
}

static void
test_cli_client_key_off_the_allowlist_is_refused_without_broker_secret (void **state)
{
    (void) state;
    char dir[400];
    s_foreign_client_dir ("keys-foreign-public", true, dir, sizeof dir);
    s_expect_refused (dir);
}

//  An untouched DIR2 holds another broker's key: the broker cannot open the client's CURVE
//  hello, so it never sees the client key and cannot refuse it. The CLI says which key is wrong.
static void
test_cli_foreign_key_dir_fails_on_the_broker_key (void **state)
{
    (void) state;
    char dir[400];
    assert_int_equal (s_keys_init ("keys-other-cluster", dir, sizeof dir), 0);
    hd_testcli_t run;
    const char *args[] = { "call", "echo", "x", NULL };
    s_run_remote (&run, args, dir);
    s_expect_code (&run, 1);
    assert_true (run.seconds < 10.0);
    assert_string_equal (run.out, "");
    assert_non_null (strstr (run.err, "wrong broker key"));
    hd_testcli_fini (&run);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_cli_map_sha256_embedded_matches_libsodium),
        cmocka_unit_test (test_cli_map_sha256_remote_matches_libsodium),
        cmocka_unit_test (test_cli_map_sha256_remote_output_equals_embedded),
        cmocka_unit_test (test_cli_map_embedded_summary_counts_every_task),
        cmocka_unit_test (test_cli_map_remote_summary_counts_tasks_per_worker),
        cmocka_unit_test (test_cli_map_split_lines_3_counts_words_per_piece),
        cmocka_unit_test (test_cli_call_echo_prints_its_argument),
        cmocka_unit_test (test_cli_call_echo_prints_its_argument_via_broker),
        cmocka_unit_test (test_cli_call_sha256_reads_at_file),
        cmocka_unit_test (test_cli_call_echo_dash_reads_stdin),
        cmocka_unit_test (test_cli_call_unknown_function_exits_1_naming_it),
        cmocka_unit_test (test_cli_call_past_its_timeout_exits_3),
        cmocka_unit_test (test_cli_keys_init_creates_every_file),
        cmocka_unit_test (test_cli_keys_init_writes_secrets_mode_0600),
        cmocka_unit_test (test_cli_keys_init_twice_without_force_exits_1_untouched),
        cmocka_unit_test (test_cli_nodes_lists_both_workers),
        cmocka_unit_test (test_cli_nodes_json_is_an_array_of_two),
        cmocka_unit_test (test_cli_bench_json_reports_positive_throughput),
        cmocka_unit_test (test_cli_help_lists_commands_and_connection_options),
        cmocka_unit_test (test_cli_call_help_lists_its_options),
        cmocka_unit_test (test_cli_map_help_lists_its_options),
        cmocka_unit_test (test_cli_bench_help_lists_its_options),
        cmocka_unit_test (test_cli_keys_help_lists_its_options),
        cmocka_unit_test (test_cli_nodes_help_lists_its_options),
        cmocka_unit_test (test_cli_unknown_command_exits_2),
        cmocka_unit_test (test_cli_unknown_global_option_exits_2),
        cmocka_unit_test (test_cli_unknown_command_option_exits_2),
        cmocka_unit_test (test_cli_separator_over_64_bytes_exits_2),
        cmocka_unit_test (test_cli_client_key_off_the_allowlist_is_refused),
        cmocka_unit_test (test_cli_client_key_off_the_allowlist_is_refused_without_broker_secret),
        cmocka_unit_test (test_cli_foreign_key_dir_fails_on_the_broker_key),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
