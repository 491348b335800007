/*  cmd_keys: `heddle keys init [DIR]`: make a cluster's certificates and allowlists with
    hd_keys_init_dir, then say which file goes to which machine. The file list is read back from
    DIR and sorted by role from the names (ROLE...secret, broker.*, *.keys), so it stays right
    if the library adds or renames files. `heddle keys fingerprint [FILE|KEY]`: the short
    fingerprint of a public key (hd_keys_fingerprint), default the broker's, for a worker's
    --broker-fingerprint.  */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "hd_keys.h"

#define S_CMD "keys"
#define S_MAX_FILES 64

typedef struct {
    size_t count;
    char names[S_MAX_FILES][256];
} s_files_t;

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "Options:", .kind = HD_OPTS_HEADING },
    { .name = "force", .letter = 'f', .kind = HD_OPTS_FLAG,
      .help = "init: replace the keys already in DIR (default: refuse)", .offset = 0 },
    HD_CLI_HELP_OPT,
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle keys",
    .usage = "heddle keys init [OPTIONS] [DIR]\n"
             "       heddle keys fingerprint [FILE | KEY]\n"
             "       heddle keys rotate-payload [DIR]   (new payload key pair; --help)",
    .summary = "init: make the keys of a new cluster in DIR (default: $HEDDLE_KEYS, else "
               "~/.config/heddle/keys): certificates for the broker, a worker, a client and an "
               "admin, the broker's allowlists (clients.keys, workers.keys, admins.keys), and the "
               "payload key pair that seals task payloads end to end (payload.cert for clients, "
               "payload.cert_secret for workers; the broker needs neither). Secret files are "
               "written mode 0600. Missing parent directories are made (0700). It then tells "
               "which files to copy to the broker, the workers and the clients.\n"
               "fingerprint: print the fingerprint of a public key (a .cert or .cert_secret "
               "file, or 40 Z85 characters; default the broker.cert of the keys directory): the "
               "value for heddle-worker --broker-fingerprint. heddle-broker logs its own at "
               "start.",
    .epilog = "Exit status: 0 done; 1 could not write the keys (or DIR has keys and no --force), "
              "or could not read the key; 2 bad usage.\n",
    .words = "init fingerprint rotate-payload",
    .opts = s_opts,
};

//  Parse argv; *dir (DIR for init, FILE|KEY for fingerprint) stays NULL when not given.
//  Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, int argc, char **argv, bool *force, const char **action,
         const char **dir)
{
    int first;
    int code = hd_cli_parse (common, &s_prog, force, NULL, HD_CLI_NO_CONNECT, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first >= argc)
        return hd_cli_usage (S_CMD, "which action? (heddle keys init [DIR], heddle keys "
                                    "fingerprint [FILE])");
    *action = argv[first];
    if (strcmp (*action, "init") != 0 && strcmp (*action, "fingerprint") != 0)
        return hd_cli_usage (S_CMD, "no action '%s' (heddle keys init [DIR], heddle keys "
                                    "fingerprint [FILE])", argv[first]);
    if (argc - first > 2)
        return hd_cli_usage (S_CMD, "one %s at most", **action == 'i' ? "DIR" : "FILE or KEY");
    *dir = first + 1 < argc ? argv[first + 1] : NULL;
    return -1;
}

//  mkdir -p, each new directory 0700 (it will hold secrets). 0, or -1 with errno.
static int
s_make_dirs (const char *dir)
{
    char path[4096];
    if (snprintf (path, sizeof path, "%s", dir) >= (int) sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char was = *p;
        *p = '\0';
        if (mkdir (path, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = was;
        if (was == '\0')
            return 0;
    }
}

static int
s_by_name (const void *a, const void *b)
{
    return strcmp (a, b);
}

static void
s_list_files (const char *dir, s_files_t *files)
{
    files->count = 0;
    DIR *d = opendir (dir);
    if (!d)
        return;
    struct dirent *entry;
    while ((entry = readdir (d)) != NULL && files->count < S_MAX_FILES)
        if (entry->d_name[0] != '.')
            snprintf (files->names[files->count++], sizeof files->names[0], "%s", entry->d_name);
    closedir (d);
    qsort (files->names, files->count, sizeof files->names[0], s_by_name);
}

static bool
s_is_secret (const char *name)
{
    return strstr (name, "secret") != NULL;
}

//  The files for a machine of `role`: its secret certificate, the broker's public one, and
//  for the broker the allowlists.
static void
s_print_role (const s_files_t *files, const char *label, const char *role)
{
    printf ("  %-16s", label);
    bool is_broker = strcmp (role, "broker") == 0;
    for (size_t i = 0; i < files->count; i++) {
        const char *name = files->names[i];
        size_t len = strlen (name);
        bool mine = strncmp (name, role, strlen (role)) == 0 && s_is_secret (name);
        bool broker_public = !is_broker && strncmp (name, "broker", 6) == 0 && !s_is_secret (name);
        bool allowlist = is_broker && len > 5 && strcmp (name + len - 5, ".keys") == 0;
        //  payload.cert seals (clients); payload*.cert_secret opens (workers), and an admin
        //  seals it to each board it approves
        bool payload = strncmp (name, "payload", 7) == 0
                       && (((strcmp (role, "worker") == 0 || strcmp (role, "admin") == 0)
                            && s_is_secret (name))
                           || (strcmp (role, "client") == 0 && strcmp (name, "payload.cert") == 0));
        if (mine || broker_public || allowlist || payload)
            printf (" %s", name);
    }
    putchar ('\n');
}

static void
s_print_guide (const char *dir)
{
    s_files_t files;
    s_list_files (dir, &files);
    printf ("heddle: wrote the keys of a new cluster to %s:\n ", dir);
    for (size_t i = 0; i < files.count; i++)
        printf (" %s", files.names[i]);
    printf ("\n\nCopy to each machine only its files (secret files over a safe channel):\n");
    s_print_role (&files, "the broker:", "broker");
    s_print_role (&files, "each worker:", "worker");
    s_print_role (&files, "each client:", "client");
    s_print_role (&files, "admin machines:", "admin");
    printf ("\nThen, with DIR the directory holding a machine's files:\n"
            "  heddle-broker --keys DIR\n"
            "  heddle-worker --keys DIR --broker BROKER_HOST\n"
            "  heddle --keys DIR --broker BROKER_HOST nodes\n"
            "(or set HEDDLE_KEYS=DIR and HEDDLE_BROKER=BROKER_HOST for the heddle command)\n");
    char path[4096], key[HD_KEY_TEXT], fp[HD_FINGERPRINT_TEXT], err[512];
    if (hd_keys_load_public (hd_keys_path (path, sizeof path, dir, "broker.cert"), key, err,
                             sizeof err)
            == HD_OK
        && hd_keys_fingerprint (key, fp) == HD_OK)
        printf ("\nA new board needs no file at all: `heddle-worker` with no --broker finds the\n"
                "broker on the LAN and waits for `heddle nodes approve`. Discovery trusts the\n"
                "first broker that answers; to make sure it is this one, pin it with this line\n"
                "in the [worker] section of the board's heddle.conf (or --broker-fingerprint):\n"
                "\n  broker-fingerprint = %s\n",
                fp);
}

//  `heddle keys fingerprint [FILE|KEY]`: default the broker.cert of the keys directory.
static int
s_fingerprint (hd_cli_common_t *common, const char *what)
{
    char path[4096], key[HD_KEY_TEXT], fp[HD_FINGERPRINT_TEXT], err[512] = "";
    if (!what) {
        hd_cli_common_finish (common);
        const char *dir = common->keys_dir ? common->keys_dir : common->keys_default;
        if (!*dir)
            return hd_cli_usage (S_CMD, "no FILE given and no keys directory");
        what = hd_keys_path (path, sizeof path, dir, "broker.cert");
    }
    if (hd_keys_load_public (what, key, err, sizeof err) != HD_OK)
        return hd_cli_fail ("keys fingerprint: %s", err);
    hd_keys_fingerprint (key, fp);
    printf ("%s\n", fp);
    return HD_CLI_EXIT_OK;
}

int
hd_cmd_keys (hd_cli_common_t *common, int argc, char **argv)
{
    bool force = false;
    const char *dir = NULL, *action = NULL;
    for (int i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
        if (strcmp (argv[i], "rotate-payload") == 0)
            return hd_cmd_keys_rotate_payload (common, argc, argv);
    if (hd_cli_doc_mode == HD_CLI_DOC_MAN && argc == 2) {  //  the man page: rotate-payload too
        char *args[] = { argv[0], argv[1], (char *) "rotate-payload", NULL };
        int code = s_parse (common, argc, argv, &force, &action, &dir);
        return code >= 0 ? hd_cmd_keys_rotate_payload (common, 3, args) : code;
    }
    int code = s_parse (common, argc, argv, &force, &action, &dir);
    if (code >= 0)
        return code;
    if (strcmp (action, "fingerprint") == 0)
        return s_fingerprint (common, dir);
    if (!dir) {
        hd_cli_common_finish (common);
        dir = common->keys_dir ? common->keys_dir : common->keys_default;
    }
    if (!*dir)
        return hd_cli_usage (S_CMD, "no DIR given and no $HOME to put the keys in");
    if (s_make_dirs (dir) != 0)
        return hd_cli_fail ("keys init %s: %s", dir, strerror (errno));
    char reason[512] = "";
    hd_err_t rc = hd_keys_init_dir (dir, force, reason, sizeof reason);
    if (rc != HD_OK)
        return hd_cli_fail ("keys init %s: %s", dir, *reason ? reason : hd_strerror (rc));
    s_print_guide (dir);
    return HD_CLI_EXIT_OK;
}
