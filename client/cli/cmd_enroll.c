/*  cmd_enroll: `heddle nodes pending`, `heddle nodes approve ID`, `heddle nodes reject ID`:
    worker keys the broker refused and holds for an admin. ID is the key's id as `pending`
    prints it (a hex fingerprint prefix: shell-safe), or the Z85 key or a prefix of it as
    before; 8 characters at least. `heddle nodes revoke ID`: an enrolled worker key loses its
    right (a stolen board); ID may also be a node name the key owns. Needs an admin key, like
    drain and resume.  */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hd_keys.h"

// clang-format off
static const hd_opt_t s_opts[] = { { .name = "Options:", .kind = HD_OPTS_HEADING }, HD_CLI_HELP_OPT,
                                   HD_OPTS_END };
// clang-format on

#define S_ID                                                                                   \
    "ID: the key's id as 'heddle nodes pending' and the worker's log print it (hex digits of "  \
    "its fingerprint; at least 8, enough to be unique), or the key in Z85 or its first 8+ "     \
    "characters (quote those: Z85 has shell characters).\n"
#define S_ADMIN "Needs an admin key: KEYS/admin.cert_secret is used when it exists."
#define S_EXIT                                                                                 \
    "Exit status: 0 done; 1 refused (not an admin key, no such pending key, an ambiguous "      \
    "prefix) or the broker could not be asked; 2 bad usage.\n"

static const hd_opts_prog_t s_progs[] = {
    { .name = "heddle nodes pending", .usage = "heddle nodes pending [OPTIONS]",
      .summary = "List the worker keys the broker refused and holds for approval, oldest first: "
                 "ID (the key's fingerprint, first 16 hex digits), ADDRESS, LAST (seconds since "
                 "its last attempt), ATTEMPTS, and the key itself. Approve one with 'heddle "
                 "nodes approve ID'.\n" S_ADMIN,
      .epilog = S_EXIT, .opts = s_opts },
    { .name = "heddle nodes approve", .usage = "heddle nodes approve [OPTIONS] ID",
      .summary = "Enroll a pending worker key: the worker joins at its next connection attempt, "
                 "and the key is appended to the broker's KEYS/workers.keys so that it survives "
                 "a restart. When KEYS holds the payload secret (payload.cert_secret), it is "
                 "sealed to the worker's own key and handed to it through the broker, which "
                 "cannot open it: the worker can then run sealed tasks.\n" S_ID S_ADMIN,
      .epilog = S_EXIT, .opts = s_opts },
    { .name = "heddle nodes reject", .usage = "heddle nodes reject [OPTIONS] ID",
      .summary = "Refuse a pending worker key: it is no longer listed and stays refused (until "
                 "the broker restarts, when it would be pending again).\n" S_ID S_ADMIN,
      .epilog = S_EXIT, .opts = s_opts },
    { .name = "heddle nodes revoke", .usage = "heddle nodes revoke [OPTIONS] ID",
      .summary = "Revoke an enrolled worker key (ID: a node name it owns, or the key's id as "
                 "below), e.g. of a stolen or reflashed board: the key is removed from the "
                 "broker's KEYS/workers.keys and memory, its node names are freed "
                 "(KEYS/workers.names), every node connected with it is disconnected (its worker "
                 "stops) and their tasks are requeued. The key can no longer connect; enroll the "
                 "board again with a new key (heddle nodes approve).\n" S_ID S_ADMIN,
      .epilog = S_EXIT, .opts = s_opts },
};

static const hd_opts_prog_t *
s_prog_of (const char *action)
{
    for (size_t i = 0; i < sizeof s_progs / sizeof s_progs[0]; i++)
        if (strcmp (s_progs[i].name + strlen ("heddle nodes "), action) == 0)
            return &s_progs[i];
    return &s_progs[0];
}

//  Parse argv (argv[0] is the action) into common and *id. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, const char *action, int argc, char **argv, const char **id)
{
    int first;
    int code = hd_cli_parse (common, s_prog_of (action), NULL, NULL, 0, argc, argv, &first);
    if (code >= 0)
        return code;
    bool wants_id = strcmp (action, "pending") != 0;
    if (wants_id && first >= argc)
        return hd_cli_usage ("nodes", "which key? (heddle nodes %s ID)", action);
    if (argc - first > (wants_id ? 1 : 0))
        return hd_cli_usage ("nodes", "unexpected argument '%s'", argv[first + wants_id]);
    *id = wants_id ? argv[first] : "*";
    return -1;
}

//  One line of the broker's pending list, "KEY ADDRESS SECONDS_AGO ATTEMPTS", with the key's
//  id in front (the broker speaks Z85; a person pastes the id).
static void
s_print_pending_line (const char *line)
{
    char key[64], address[64], id[HD_KEY_ID_TEXT];
    unsigned long long ago, attempts;
    int used = 0;
    if (sscanf (line, "%63s %63s %llu %llu%n", key, address, &ago, &attempts, &used) != 4
        || hd_keys_id (key, id) != HD_OK) {
        printf ("%s\n", line);  //  "+N more", or a line of a newer broker: as it is
        return;
    }
    //  What follows the four fields: "name-conflict: 'NAME' belongs to key ..." for a board
    //  refused because another key owns the node name it claims.
    printf ("%-16s  %-21s %7llu %8llu  %s%s\n", id, address, ago, attempts, key, line + used);
}

static void
s_print (const char *action, const char *text)
{
    if (strcmp (action, "pending") != 0) {
        //  "KEY approved: ...": name it by its id too
        char key[64], id[HD_KEY_ID_TEXT];
        if (sscanf (text, "%63s", key) == 1 && hd_keys_id (key, id) == HD_OK)
            printf ("%s (key %s) %s\n", id, key, text + strlen (key) + (text[strlen (key)] ? 1 : 0));
        else
            printf ("%s\n", text);
        return;
    }
    if (!*text) {
        printf ("no pending worker keys\n");
        return;
    }
    printf ("%-16s  %-21s %7s %8s  %s\n", "ID", "ADDRESS", "LAST(s)", "ATTEMPTS", "KEY");
    char copy[1100];
    snprintf (copy, sizeof copy, "%s", text);
    for (char *save = NULL, *line = strtok_r (copy, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save))
        s_print_pending_line (line);
    printf ("approve one with: heddle nodes approve ID\n");
}

int
hd_cmd_nodes_enroll (hd_cli_common_t *common, int argc, char **argv)
{
    const char *action = argv[0], *id = NULL;
    int code = s_parse (common, action, argc, argv, &id);
    if (code >= 0)
        return code;
    common->prefer_admin = true;
    hd_cli_common_finish (common);
    if (!common->broker)
        return hd_cli_usage ("nodes", "which broker? (--broker HOST or $HEDDLE_BROKER)");
    hd_cli_conn_t conn;
    if ((code = hd_cli_connect (common, 0, &conn)) != HD_CLI_EXIT_OK)
        return code;
    char text[1024];
    hd_err_t rc = hd_client_admin_text (conn.client, action, id, text, sizeof text);
    if (rc == HD_OK) {
        s_print (action, text);
        if (strcmp (action, "approve") == 0)
            code = hd_cli_grant_payload (conn.client, text, common->keys_dir);
    }
    else if (rc == HD_EDENIED)
        code = hd_cli_fail ("%s; use an admin key: --keys DIR holding admin.cert_secret, or "
                            "--cert FILE",
                            hd_client_last_error (conn.client));
    else
        code = hd_cli_fail ("%s", hd_client_last_error (conn.client));
    hd_cli_disconnect (&conn);
    return code;
}
