/*  hd_opts_tables: the option tables of heddle-broker, heddle-worker and the connection options
    of `heddle` (the three sections of the config file), with the settings structs their offsets
    point into. Every program links all three: each checks the whole config file at start, and
    `heddle config check` checks it against the same tables. The per-command options of `heddle`
    are declared in their own client/cli/cmd_*.c (they are not config keys).  */
#ifndef HD_OPTS_TABLES_H
#define HD_OPTS_TABLES_H

#include "hd_broker.h"
#include "hd_opts.h"
#include "hd_worker.h"

#define HD_OPTS_EP_MAX 256

//  heddle-broker's settings: the broker's config and what only the program uses.
typedef struct {
    hd_broker_config_t config;
    char clients[HD_OPTS_EP_MAX], workers[HD_OPTS_EP_MAX];  //  endpoints as given, completed
    char metrics[HD_OPTS_EP_MAX], events[HD_OPTS_EP_MAX], http[HD_OPTS_EP_MAX];
    const char *config_path;  //  --config (read before the other options)
    int log_level;            //  hd_log_level_t
    bool print_config, print_endpoints;
    bool no_beacon;  //  wins over --beacon-port, whatever their order
} hd_broker_settings_t;

#define HD_WORKER_MAX_PLUGINS 32

//  heddle-worker's settings.
typedef struct {
    hd_worker_config_t config;
    const char *plugins[HD_WORKER_MAX_PLUGINS];
    int nplugins;
    const char *cluster, *beacon_iface;  //  discovery (--broker auto)
    uint32_t beacon_port, discover_timeout_s;
    const char *config_path;
    int log_level;
    bool print_config;
} hd_worker_settings_t;

extern const hd_opts_prog_t hd_opts_broker;  //  targets an hd_broker_settings_t
extern const hd_opts_prog_t hd_opts_worker;  //  targets an hd_worker_settings_t
extern const hd_opts_prog_t hd_opts_client;  //  targets an hd_cli_common_t (client/cli/common.h)

//  The config file's sections: broker, worker, client.
#define HD_OPTS_NSECTIONS 3
extern const hd_opts_section_t hd_opts_sections[HD_OPTS_NSECTIONS];

//  Shared setter of --log-level: stores the level (an int at the offset) and sets it.
hd_opts_set_fn hd_opts_set_log_level;
#define HD_OPTS_LEVELS "error|warn|info|debug"

#endif
