/*  common: what every `heddle` command shares: the connection options (--broker, --keys,
    --insecure, embedded cluster sizing, log level), the per-task options (--timeout,
    --priority, ...), number parsing, error and usage reporting with the CLI's exit codes, and
    "connect to the broker, or start an embedded cluster when none is given".
    It knows nothing of what a command does with the connection.  */
#ifndef HD_CLI_COMMON_H
#define HD_CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hd_buf.h"
#include "hd_client.h"
#include "hd_config.h"
#include "hd_opts.h"

//  Exit codes of every command.
#define HD_CLI_EXIT_OK 0
#define HD_CLI_EXIT_FAIL 1     //  a runtime failure, or a task failed
#define HD_CLI_EXIT_USAGE 2    //  bad command line
#define HD_CLI_EXIT_TIMEOUT 3  //  `call`: the task timed out

#define HD_CLI_CONNECT_TIMEOUT_MS 5000  //  default --connect-timeout
#define HD_CLI_WAIT_NODES_MS 5000       //  how long an embedded cluster's workers may take to join

//  hd_cli_parse flags.
enum {
    HD_CLI_TASK = 1 << 4,        //  the command takes the per-task options (--timeout, ...)
    HD_CLI_NO_CONNECT = 1 << 5,  //  the command takes no connection options (keys)
    //  HD_OPTS_IN_ORDER (1): stop at the first argument (run: its command's own options)
};

//  What `heddle --help-man` / `--help-words` asks of each command's --help (main.c sets it).
typedef enum { HD_CLI_DOC_HELP = 0, HD_CLI_DOC_MAN, HD_CLI_DOC_WORDS } hd_cli_doc_t;
extern hd_cli_doc_t hd_cli_doc_mode;

//  The --help entry every command table holds.
#define HD_CLI_HELP_OPT                                                                        \
    { .name = "help", .letter = 'h', .kind = HD_OPTS_HELP, .help = "show this help and exit",  \
      .offset = -1 }

typedef struct {
    const char *broker;    //  NULL after hd_cli_common_finish: run an embedded cluster
    const char *keys_dir;  //  NULL: none found
    const char *cert_path; //  --cert; after finish also KEYS/admin.cert_secret when the command
                           //  prefers an admin key and that file exists. NULL: KEYS/client...
    bool prefer_admin;     //  set by a command before finish: drain, resume, run
    bool insecure;
    bool plain_payloads;   //  do not seal payloads (--plain-payloads, HEDDLE_PLAIN_PAYLOADS=1)
    bool insecure_key_perms;  //  a secret key open to group/others: warn, do not refuse
    uint32_t connect_timeout_ms;
    uint32_t workers;  //  embedded cluster: workers (default: online cores)
    uint32_t slots;    //  embedded cluster: slots per worker (default 1)
    bool verbose;
    int log_level;           //  hd_log_level_t, default warn
    hd_task_opts_t task;     //  per-task options
    char keys_default[512];  //  storage for the default keys path
    char cert_default[600];  //  storage for the admin certificate's path
    hd_config_t *file;       //  the config file read by hd_cli_common_load, or NULL
    const char *config_path; //  --config FILE as given (before or after the command word)
} hd_cli_common_t;

//  Built-in defaults (no environment read yet).
void hd_cli_common_init (hd_cli_common_t *self);
//  Apply the [client] section of the config file (--config FILE anywhere before a `--`, else
//  $HEDDLE_CONFIG, else /etc/heddle/heddle.conf when it exists), then the environment
//  (HEDDLE_BROKER, HEDDLE_KEYS) over it; flags parsed afterwards win. HD_CLI_EXIT_OK, or
//  HD_CLI_EXIT_USAGE after printing what is wrong with the file. self->file keeps the values.
int hd_cli_common_load (hd_cli_common_t *self, int argc, char **argv);
//  Release what hd_cli_common_load kept. Harmless after init alone.
void hd_cli_common_fini (hd_cli_common_t *self);
//  Parse a command's argv (argv[0] is the command): its own table `cmd` (bound to `target`;
//  its name is the command's, "heddle map"), then the task options (HD_CLI_TASK, into
//  common->task) and the connection options (into common) unless HD_CLI_NO_CONNECT. --help
//  prints the command's help (hd_cli_help; the man section or completion words in the
//  generator modes). Returns -1 to go on with *first the index of the first argument, else the
//  exit code (0 after --help, HD_CLI_EXIT_USAGE after printing why).
int hd_cli_parse (hd_cli_common_t *common, const hd_opts_prog_t *cmd, void *target,
                  const void *defaults, unsigned flags, int argc, char **argv, int *first);
//  A command's --help: usage and summary, its options (defaults from `defaults`, may be NULL),
//  the task options (HD_CLI_TASK), the connection options, then its epilog.
void hd_cli_help (FILE *out, const hd_opts_prog_t *cmd, const void *defaults, unsigned flags);
//  The task options' and the connection options' tables.
extern const hd_opts_prog_t hd_cli_task_opts;
//  Fill what the file, the environment and the flags left unset with defaults
//  ($HOME/.config/heddle/keys when it exists, core count, the admin certificate when
//  prefer_admin is set and KEYS/admin.cert_secret exists).
void hd_cli_common_finish (hd_cli_common_t *self);

//  A connection: a client, and the embedded cluster it talks to when no broker was given.
typedef struct {
    hd_cluster_t *cluster;
    hd_client_t *client;
} hd_cli_conn_t;

//  Connect to self->broker or start an embedded cluster and wait for its workers. `window`
//  bounds tasks in flight (0: library default). HD_CLI_EXIT_OK, or HD_CLI_EXIT_FAIL after
//  printing why (then conn holds nothing).
int hd_cli_connect (const hd_cli_common_t *self, uint32_t window, hd_cli_conn_t *conn);
//  The notice handler hd_cli_connect installs (tasks wait for a worker: said once per function).
void hd_cli_on_notice (hd_client_t *client, const char *fn, uint32_t nodes, uint32_t wait_ms,
                       const char *text, void *arg);
//  Destroy the client, then stop the cluster. Harmless on a zeroed conn.
void hd_cli_disconnect (hd_cli_conn_t *conn);
//  The client configuration for self->broker (not for an embedded cluster): endpoint, keys,
//  certificate, insecure, connect timeout. Borrowed strings point into self.
void hd_cli_client_config (const hd_cli_common_t *self, hd_client_config_t *out);

//  "heddle: <message>" on stderr; returns HD_CLI_EXIT_FAIL.
int hd_cli_fail (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
//  "heddle CMD: <message>" and a hint to run --help, on stderr; returns HD_CLI_EXIT_USAGE.
int hd_cli_usage (const char *cmd, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  Parse a decimal integer within [min, max]. 0 on success, -1 (nothing written) otherwise.
int hd_cli_parse_u32 (const char *text, uint32_t min, uint32_t max, uint32_t *out);
int hd_cli_parse_i32 (const char *text, int32_t min, int32_t max, int32_t *out);

//  Read a whole file ("-" is stdin) into buf. HD_OK, or HD_EIO / HD_ENOMEM with errno-ish text
//  in errbuf.
hd_err_t hd_cli_read_file (const char *path, hd_buf_t *buf, char *errbuf, size_t errlen);

//  Write `text` as a JSON string (quoted, escaped) to out.
void hd_cli_json_string (FILE *out, const char *text);
//  Seconds on a monotonic clock.
double hd_cli_now (void);

#endif
