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

enum { S_OPT_HELP = 'h' };

static void
s_help (const char *action)
{
    if (strcmp (action, "pending") == 0)
        printf ("Usage: heddle nodes pending [OPTIONS]\n"
                "List the worker keys the broker refused and holds for approval, oldest first:\n"
                "ID (the key's fingerprint, first 16 hex digits), ADDRESS, LAST (seconds since\n"
                "its last attempt), ATTEMPTS, and the key itself. Approve one with\n"
                "'heddle nodes approve ID'.\n");
    else if (strcmp (action, "approve") == 0)
        printf ("Usage: heddle nodes approve [OPTIONS] ID\n"
                "Enroll a pending worker key: the worker joins at its next connection attempt,\n"
                "and the key is appended to the broker's KEYS/workers.keys so that it survives\n"
                "a restart. When KEYS holds the payload secret (payload.cert_secret), it is\n"
                "sealed to the worker's own key and handed to it through the broker, which\n"
                "cannot open it: the worker can then run sealed tasks.\n");
    else if (strcmp (action, "revoke") == 0)
        printf ("Usage: heddle nodes revoke [OPTIONS] ID\n"
                "Revoke an enrolled worker key (ID: a node name it owns, or the key's id as\n"
                "below), e.g. of a stolen or reflashed board: the key is removed\n"
                "from the broker's KEYS/workers.keys and memory, its node names are freed\n"
                "(KEYS/workers.names), every node connected with it is disconnected (its\n"
                "worker stops) and their tasks are requeued. The key can no longer connect;\n"
                "enroll the board again with a new key (heddle nodes approve).\n");
    else
        printf ("Usage: heddle nodes reject [OPTIONS] ID\n"
                "Refuse a pending worker key: it is no longer listed and stays refused (until\n"
                "the broker restarts, when it would be pending again).\n");
    if (strcmp (action, "pending") != 0)
        printf ("ID: the key's id as 'heddle nodes pending' and the worker's log print it (hex\n"
                "digits of its fingerprint; at least 8, enough to be unique), or the key in\n"
                "Z85 or its first 8+ characters (quote those: Z85 has shell characters).\n");
    printf ("Needs an admin key: KEYS/admin.cert_secret is used when it exists.\n\n"
            "Options:\n"
            "  -h, --help              show this help and exit\n");
    hd_cli_connect_help (stdout);
    printf ("\nExit status: 0 done; 1 refused (not an admin key, no such pending key, an\n"
            "ambiguous prefix) or the broker could not be asked; 2 bad usage.\n");
}

//  Parse argv (argv[0] is the action) into common and *id. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, const char *action, int argc, char **argv, const char **id)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, S_OPT_HELP },
        HD_CLI_CONNECT_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    hd_cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, ":h" HD_CLI_CONNECT_SHORT, longopts, NULL)) != -1) {
        if (c == S_OPT_HELP) {
            s_help (action);
            return HD_CLI_EXIT_OK;
        }
        if (c == '?' || c == ':')
            return hd_cli_bad_option ("nodes", c, argv);
        if (hd_cli_common_option (common, "nodes", c, optarg) != HD_CLI_OPT_TAKEN)
            return HD_CLI_EXIT_USAGE;
    }
    bool wants_id = strcmp (action, "pending") != 0;
    if (wants_id && optind >= argc)
        return hd_cli_usage ("nodes", "which key? (heddle nodes %s ID)", action);
    if (argc - optind > (wants_id ? 1 : 0))
        return hd_cli_usage ("nodes", "unexpected argument '%s'", argv[optind + wants_id]);
    *id = wants_id ? argv[optind] : "*";
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
