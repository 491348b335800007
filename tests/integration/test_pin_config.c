/*  Pinning the broker from the config file (issue 11, item 9): `heddle keys init` prints the
    line "broker-fingerprint = FP" for the [worker] section of heddle.conf; a worker given that
    file joins the broker whose key has that fingerprint, and refuses (exit status 1, before any
    handshake) a broker whose key has another.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hd_keys.h"
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

//  `heddle keys init --force DIR`: the "broker-fingerprint = FP" line it prints, into line.
static void
s_keys_init (const char *dir, char *line, size_t len)
{
    hd_testcli_t cli = { 0 };
    hd_testcli_run (&cli, (const char *[]) { "keys", "init", "--force", dir, NULL }, NULL, 0,
                    20000);
    assert_int_equal (cli.code, 0);
    const char *at = strstr (cli.out, "broker-fingerprint = ");
    if (!at)
        fail_msg ("keys init printed no broker-fingerprint line:\n%s", cli.out);
    snprintf (line, len, "%.*s", (int) strcspn (at, "\n"), at);
    hd_testcli_fini (&cli);
}

static void
s_write_config (const char *path, const char *line)
{
    char text[256];
    int n = snprintf (text, sizeof text, "[worker]\n%s\n", line);
    hd_testcli_write_file (path, text, (size_t) n);
}

static pid_t
s_start_worker (const char *name, const char *config, int *err_fd)
{
    char bin[512];
    const char *argv[] = { hd_testenv_bin ("heddle-worker", bin, sizeof bin), "--config", config,
                           "--broker", s_env.workers_ep, "--keys", s_env.keys, "--name", name,
                           "--capacity", "1", "--log-level", "info", NULL };
    return hd_testenv_spawn_fd (&s_env, argv, err_fd, true);
}

static void
test_pin_config_keys_init_line_pins_the_broker (void **state)
{
    (void) state;
    char line[128], want[160], path[600], key[HD_KEY_TEXT], fp[HD_FINGERPRINT_TEXT], err[256];
    s_keys_init (s_env.keys, line, sizeof line);
    snprintf (path, sizeof path, "%s/broker.cert", s_env.keys);
    assert_int_equal (hd_keys_load_public (path, key, err, sizeof err), HD_OK);
    assert_int_equal (hd_keys_fingerprint (key, fp), HD_OK);
    snprintf (want, sizeof want, "broker-fingerprint = %s", fp);
    assert_string_equal (line, want);

    hd_testenv_start_broker (&s_env, NULL);
    char config[320];
    snprintf (config, sizeof config, "%s/right.conf", s_env.dir);
    s_write_config (config, line);
    int fd;
    s_start_worker ("pinned", config, &fd);
    hd_client_t *client = hd_testenv_client (&s_env, 1);  //  it joined
    hd_client_destroy (&client);
    close (fd);
}

static void
test_pin_config_another_fingerprint_is_refused (void **state)
{
    (void) state;
    char other[320], line[128], config[320];
    snprintf (other, sizeof other, "%s/other-keys", s_env.dir);
    s_keys_init (other, line, sizeof line);  //  another cluster's broker
    hd_testenv_start_broker (&s_env, NULL);
    snprintf (config, sizeof config, "%s/wrong.conf", s_env.dir);
    s_write_config (config, line);
    int fd;
    pid_t w = s_start_worker ("impostor", config, &fd);
    assert_true (hd_testenv_wait_text (fd, "refusing it", 10000));
    int status = hd_testenv_kill (&s_env, w, 0);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 1);
    close (fd);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_pin_config_keys_init_line_pins_the_broker, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_pin_config_another_fingerprint_is_refused, setup,
                                         teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
