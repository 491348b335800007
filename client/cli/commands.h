/*  commands: the entry points of the `heddle` subcommands, each in its own cmd_<name>.c.
    Each takes the shared options already parsed from before the command word, parses the rest
    of its own argv (argv[0] is the command's name) and returns the process exit code.  */
#ifndef HD_CLI_COMMANDS_H
#define HD_CLI_COMMANDS_H

#include "common.h"

#ifndef HD_CLI_VERSION
#define HD_CLI_VERSION "0.1.0"
#endif

//  heddle call FN [DATA | @FILE | -]: run one task, print its output.
int hd_cmd_call (hd_cli_common_t *common, int argc, char **argv);
//  heddle map FN [INPUT]: one task per piece of the input, results in order.
int hd_cmd_map (hd_cli_common_t *common, int argc, char **argv);
//  heddle submit FN [INPUT]: map as a detached job; prints its id (cmd_map.c).
int hd_cmd_submit (hd_cli_common_t *common, int argc, char **argv);
//  cmd_jobs.c: heddle jobs | status JOB | results JOB | cancel JOB | release JOB.
int hd_cmd_jobs (hd_cli_common_t *common, int argc, char **argv);
int hd_cmd_status (hd_cli_common_t *common, int argc, char **argv);
int hd_cmd_results (hd_cli_common_t *common, int argc, char **argv);
int hd_cmd_cancel (hd_cli_common_t *common, int argc, char **argv);
int hd_cmd_release (hd_cli_common_t *common, int argc, char **argv);
//  heddle bench: throughput and latency of many small tasks.
int hd_cmd_bench (hd_cli_common_t *common, int argc, char **argv);
//  heddle keys init [DIR]: make a key directory; heddle keys fingerprint [FILE|KEY].
int hd_cmd_keys (hd_cli_common_t *common, int argc, char **argv);
//  heddle nodes: list the cluster's nodes.
int hd_cmd_nodes (hd_cli_common_t *common, int argc, char **argv);
//  heddle nodes pending | approve ID | reject ID: worker enrollment (admin key). argv[0] is
//  the action.
int hd_cmd_nodes_enroll (hd_cli_common_t *common, int argc, char **argv);
//  cmd_payload.c: `keys rotate-payload`, and the payload-key grant after `nodes approve`
//  (approved_text: the broker's answer, which starts with the whole worker key).
int hd_cmd_keys_rotate_payload (hd_cli_common_t *common, int argc, char **argv);
int hd_cli_grant_payload (hd_client_t *client, const char *approved_text, const char *keys_dir);
//  heddle functions: the functions offered, the nodes offering each, queued and running tasks.
int hd_cmd_functions (hd_cli_common_t *common, int argc, char **argv);
//  heddle top: the nodes, the cluster's rate and its events, redrawn live.
int hd_cmd_top (hd_cli_common_t *common, int argc, char **argv);
//  heddle drain NODE / heddle resume NODE: stop or restart giving a node tasks (admin key).
int hd_cmd_drain (hd_cli_common_t *common, int argc, char **argv);
int hd_cmd_resume (hd_cli_common_t *common, int argc, char **argv);
//  heddle run (--all | --nodes A,B | --tag T) -- CMD ARGS: run a command on nodes (exec).
int hd_cmd_run (hd_cli_common_t *common, int argc, char **argv);
//  heddle config check [FILE]: report unknown keys and bad values of a config file.
int hd_cmd_config (hd_cli_common_t *common, int argc, char **argv);

#endif
