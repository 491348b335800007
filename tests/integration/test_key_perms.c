/*  Key hygiene (issue 11, item 6): like ssh, the broker, a worker and the `heddle` client
    refuse to start with a secret key, or a keys directory, that group or others may read, and
    say which file, its mode and the chmod that fixes it; --insecure-key-perms turns the refusal
    into a warning. An allowlist that others may write is refused the same way.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hd_testcli.h"
#include "hd_testenv.h"

static hd_testenv_t s_env;

static int
setup (void **state)
{
    (void) state;
    hd_testenv_init (&s_env);
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    hd_testenv_stop (&s_env);
    return 0;
}

//  Run a program to its end (bounded: it must refuse at once) and capture its stderr.
static int
s_run (const char *const *argv, char *err, size_t len)
{
    int fd;
    pid_t pid = hd_testenv_spawn_fd (&s_env, argv, &fd, true);
    size_t n = 0;
    struct pollfd p = { fd, POLLIN, 0 };
    while (n + 1 < len && poll (&p, 1, 10000) == 1) {
        ssize_t r = read (fd, err + n, len - n - 1);
        if (r <= 0)
            break;
        n += (size_t) r;
    }
    err[n] = 0;
    close (fd);
    return hd_testenv_kill (&s_env, pid, SIGTERM);
}

static void
s_broker_argv (const char **argv, const char *extra)
{
    static char bin[512], journal[320];
    snprintf (journal, sizeof journal, "%s/journal", s_env.dir);
    const char *a[] = { hd_testenv_bin ("heddle-broker", bin, sizeof bin), "--keys", s_env.keys,
                        "--clients", "tcp://127.0.0.1:*", "--workers", "tcp://127.0.0.1:*",
                        "--metrics", "none", "--events", "none", "--no-beacon",
                        "--journal-dir", journal, extra, NULL };
    memcpy (argv, a, sizeof a);
}

static void
s_chmod (const char *name, mode_t mode)
{
    char path[600];
    snprintf (path, sizeof path, "%s/%s", s_env.keys, name);
    assert_int_equal (chmod (path, mode), 0);
}

static void
test_key_perms_broker_refuses_a_0644_secret_and_names_the_fix (void **state)
{
    (void) state;
    s_chmod ("broker.cert_secret", 0644);
    const char *argv[16];
    s_broker_argv (argv, NULL);
    char err[4096], want[600];
    int status = s_run (argv, err, sizeof err);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) != 0);
    snprintf (want, sizeof want, "%s/broker.cert_secret has mode 0644", s_env.keys);
    if (!strstr (err, want) || !strstr (err, "chmod 600"))
        fail_msg ("the broker's error does not name the file, its mode and the fix:\n%s", err);
}

static void
test_key_perms_override_starts_the_broker_with_a_warning (void **state)
{
    (void) state;
    s_chmod ("broker.cert_secret", 0644);
    s_chmod ("workers.keys", 0666);
    const char *argv[16];
    s_broker_argv (argv, "--insecure-key-perms");
    int fd;
    pid_t pid = hd_testenv_spawn_fd (&s_env, argv, &fd, true);
    assert_true (hd_testenv_wait_text (fd, "chmod go-w", 10000));
    assert_true (hd_testenv_wait_text (fd, "serving clients", 10000));
    close (fd);
    assert_int_equal (waitpid (pid, NULL, WNOHANG), 0);  //  still running
}

static void
test_key_perms_broker_refuses_an_open_keys_dir_and_a_writable_allowlist (void **state)
{
    (void) state;
    const char *argv[16];
    s_broker_argv (argv, NULL);
    char err[4096];
    assert_int_equal (chmod (s_env.keys, 0755), 0);
    assert_int_not_equal (s_run (argv, err, sizeof err), 0);
    if (!strstr (err, "mode 0755") || !strstr (err, "chmod 700"))
        fail_msg ("no word of the open keys directory:\n%s", err);
    assert_int_equal (chmod (s_env.keys, 0700), 0);
    s_chmod ("clients.keys", 0666);
    assert_int_not_equal (s_run (argv, err, sizeof err), 0);
    if (!strstr (err, "clients.keys has mode 0666") || !strstr (err, "chmod go-w"))
        fail_msg ("no word of the writable allowlist:\n%s", err);
    s_chmod ("clients.keys", 0644);
    //  workers.names binds node names to worker keys: the same rule.
    char names[600];
    snprintf (names, sizeof names, "%s/workers.names", s_env.keys);
    hd_testcli_write_file (names, "# heddle node names\n", 20);
    assert_int_equal (chmod (names, 0664), 0);
    assert_int_not_equal (s_run (argv, err, sizeof err), 0);
    if (!strstr (err, "workers.names has mode 0664"))
        fail_msg ("no word of the writable names file:\n%s", err);
}

static void
test_key_perms_worker_and_client_refuse_an_open_secret (void **state)
{
    (void) state;
    s_chmod ("worker.cert_secret", 0640);
    s_chmod ("client.cert_secret", 0604);
    char bin[512], err[4096];
    const char *worker[] = { hd_testenv_bin ("heddle-worker", bin, sizeof bin), "--broker",
                             "tcp://127.0.0.1:9", "--keys", s_env.keys, "--name", "w1",
                             "--capacity", "1", NULL };
    int status = s_run (worker, err, sizeof err);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) != 0);
    if (!strstr (err, "worker.cert_secret has mode 0640") || !strstr (err, "chmod 600"))
        fail_msg ("the worker's error does not name the file and the fix:\n%s", err);
    hd_testcli_t cli = { 0 };
    hd_testcli_run (&cli, (const char *[]) { "--broker", "tcp://127.0.0.1:9", "--keys",
                                             s_env.keys, "nodes", NULL },
                    NULL, 0, 20000);
    assert_int_not_equal (cli.code, 0);
    if (!strstr (cli.err, "client.cert_secret has mode 0604") || !strstr (cli.err, "chmod 600")
        || strstr (cli.err, "give --keys DIR"))  //  the keys are there: no hint to make them
        fail_msg ("the client's error does not name the file and the fix alone:\n%s", cli.err);
    hd_testcli_fini (&cli);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_key_perms_broker_refuses_a_0644_secret_and_names_the_fix, setup, teardown),
        cmocka_unit_test_setup_teardown (test_key_perms_override_starts_the_broker_with_a_warning,
                                         setup, teardown),
        cmocka_unit_test_setup_teardown (
            test_key_perms_broker_refuses_an_open_keys_dir_and_a_writable_allowlist, setup,
            teardown),
        cmocka_unit_test_setup_teardown (test_key_perms_worker_and_client_refuse_an_open_secret,
                                         setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
