/*  cmd_enroll: `heddle nodes pending`, `heddle nodes approve ID`, `heddle nodes reject ID`:
    worker keys the broker refused and holds for an admin; `heddle nodes revoke ID`: an
    enrolled worker key loses its right (a stolen board). ID is the key (Z85, 40 chars) or a
    unique prefix of at least 8 chars (revoke: or a node name the key owns). Needs an admin key,
    like drain and resume.  */
#include <string.h>

#include "commands.h"

enum { S_OPT_HELP = 'h' };

static void
s_help (const char *action)
{
    if (strcmp (action, "pending") == 0)
        printf ("Usage: heddle nodes pending [OPTIONS]\n"
                "List the worker keys the broker refused and holds for approval, oldest first:\n"
                "KEY ADDRESS SECONDS_AGO (last attempt) ATTEMPTS.\n");
    else if (strcmp (action, "approve") == 0)
        printf ("Usage: heddle nodes approve [OPTIONS] ID\n"
                "Enroll a pending worker key (ID: the key or a unique prefix of 8+ chars): the\n"
                "worker joins at its next connection attempt, and the key is appended to the\n"
                "broker's KEYS/workers.keys so that it survives a restart. When KEYS holds the\n"
                "payload secret (payload.cert_secret), it is sealed to the worker's own key and\n"
                "handed to it through the broker, which cannot open it: the worker can then run\n"
                "sealed tasks.\n");
    else if (strcmp (action, "revoke") == 0)
        printf ("Usage: heddle nodes revoke [OPTIONS] ID\n"
                "Revoke an enrolled worker key (ID: a node name it owns, the key, or a unique\n"
                "prefix of 8+ chars), e.g. of a stolen or reflashed board: the key is removed\n"
                "from the broker's KEYS/workers.keys and memory, its node names are freed\n"
                "(KEYS/workers.names), every node connected with it is disconnected (its\n"
                "worker stops) and their tasks are requeued. The key can no longer connect;\n"
                "enroll the board again with a new key (heddle nodes approve).\n");
    else
        printf ("Usage: heddle nodes reject [OPTIONS] ID\n"
                "Refuse a pending worker key (ID: the key or a unique prefix of 8+ chars): it is\n"
                "no longer listed and stays refused (until the broker restarts, when it would\n"
                "be pending again).\n");
    printf ("Needs an admin key: KEYS/admin.cert_secret is used when it exists. An ID that\n"
            "starts with '-' goes after '--': heddle nodes approve -- -Xy7abcd\n\n"
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

static void
s_print (const char *action, const char *text)
{
    if (strcmp (action, "pending") != 0)
        printf ("%s\n", text);
    else if (!*text)
        printf ("no pending worker keys\n");
    else
        printf ("%-40s %-21s %8s %8s\n%s", "KEY", "ADDRESS", "LAST(s)", "ATTEMPTS", text);
    //  Lines ending in "name-conflict: 'NAME' belongs to key ..." are boards refused because
    //  another key owns the node name they claim (hd_broker_hello.c).
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
