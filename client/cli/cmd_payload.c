/*  cmd_payload: the CLI's part in sealed payloads. `heddle keys rotate-payload [DIR]` makes a
    new payload key pair in DIR (the old one stays, so jobs sealed to it can still be opened)
    and, given a broker and an admin key, grants the new key to every worker key in
    DIR/workers.keys through the broker (sealed to each worker's own key: the broker cannot
    open it). After `heddle nodes approve`, hd_cli_grant_payload grants the keys to the new
    worker the same way.  */
#include <string.h>

#include "commands.h"
#include "hd_keys.h"

// clang-format off
static const hd_opt_t s_opts[] = { { .name = "Options:", .kind = HD_OPTS_HEADING }, HD_CLI_HELP_OPT,
                                   HD_OPTS_END };
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle keys rotate-payload",
    .usage = "heddle keys rotate-payload [OPTIONS] [DIR]",
    .summary = "Make a new payload key pair in DIR (default: the keys directory): clients seal "
               "the tasks they submit from now on to the new payload.cert; the old pair stays as "
               "payload-ID.cert[_secret], so workers still open the jobs sealed before. With a "
               "broker (--broker or $HEDDLE_BROKER) and an admin key, the new key is granted to "
               "every worker key in DIR/workers.keys (enrolled boards get it at once, sealed to "
               "their own key). Copy payload.cert to the client machines, and to workers that "
               "use a copied keys directory, payload.cert_secret.",
    .epilog = "Exit status: 0 done; 1 the keys could not be written or a grant failed; 2 bad "
              "usage.\n",
    .opts = s_opts,
};

typedef struct {
    hd_client_t *client;
    const char *dir;
    uint32_t granted, failed;
} s_rotate_t;

static void
s_grant_key (const char *key, void *arg)
{
    s_rotate_t *r = arg;
    uint32_t n = 0;
    if (hd_client_grant_payload (r->client, key, r->dir, &n) == HD_OK)
        r->granted++;
    else {
        r->failed++;
        fprintf (stderr, "heddle: grant to %.12s...: %s\n", key, hd_client_last_error (r->client));
    }
}

static int
s_grant_all (hd_cli_common_t *common, const char *dir)
{
    hd_cli_conn_t conn;
    int code = hd_cli_connect (common, 0, &conn);
    if (code != HD_CLI_EXIT_OK)
        return code;
    s_rotate_t r = { .client = conn.client, .dir = dir };
    char path[4096], err[512] = "";
    if (hd_keys_read_allowlist (hd_keys_path (path, sizeof path, dir, "workers.keys"), s_grant_key,
                                &r, err, sizeof err)
        != HD_OK)
        code = hd_cli_fail ("keys rotate-payload: %s", err[0] ? err : "cannot read workers.keys");
    else
        printf ("granted the payload keys to %u worker key(s)%s\n", r.granted,
                r.failed ? "; some grants failed (see above)" : "");
    hd_cli_disconnect (&conn);
    return code == HD_CLI_EXIT_OK && r.failed ? HD_CLI_EXIT_FAIL : code;
}

int
hd_cmd_keys_rotate_payload (hd_cli_common_t *common, int argc, char **argv)
{
    int first;
    int code = hd_cli_parse (common, &s_prog, NULL, NULL, 0, argc, argv, &first);
    if (code >= 0)
        return code;
    //  argv[first] is the action word itself
    if (argc - first > 2)
        return hd_cli_usage ("keys", "one DIR at most");
    if (first + 1 < argc && !common->keys_dir)
        common->keys_dir = argv[first + 1];  //  its admin key grants, unless --keys says
    common->prefer_admin = true;
    hd_cli_common_finish (common);
    const char *dir = first + 1 < argc ? argv[first + 1] : common->keys_dir;
    if (!dir || !*dir)
        return hd_cli_usage ("keys", "which keys directory? (heddle keys rotate-payload DIR)");
    char old[64], err[512] = "";
    if (hd_keys_rotate_payload (dir, old, err, sizeof err) != HD_OK)
        return hd_cli_fail ("keys rotate-payload: %s", err);
    printf ("new payload key pair in %s/payload.cert[_secret]%s%s%s\n", dir,
            old[0] ? "; the old one kept as " : "", old, old[0] ? ".cert[_secret]" : "");
    if (!common->broker) {
        printf ("no broker given: grant it to enrolled workers with --broker HOST (admin key)\n");
        return HD_CLI_EXIT_OK;
    }
    return s_grant_all (common, dir);
}

int
hd_cli_grant_payload (hd_client_t *client, const char *approved_text, const char *keys_dir)
{
    char key[HD_KEY_TEXT];
    if (!keys_dir || sscanf (approved_text, "%40s", key) != 1 || !hd_keys_is_z85 (key))
        return HD_CLI_EXIT_OK;
    uint32_t n = 0;
    hd_err_t rc = hd_client_grant_payload (client, key, keys_dir, &n);
    if (rc == HD_ENOTFOUND) {
        printf ("no payload secret in %s: this worker gets no payload key and runs no sealed "
                "task\n", keys_dir);
        return HD_CLI_EXIT_OK;
    }
    if (rc != HD_OK)
        return hd_cli_fail ("approved, but the payload key grant failed: %s",
                            hd_client_last_error (client));
    printf ("payload key(s) granted: %u, sealed to the worker's own key\n", n);
    return HD_CLI_EXIT_OK;
}
