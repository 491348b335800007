/*  nodetable: how the `heddle` commands show a node list (hd_node_info_t): an aligned table with
    the live figures in human units ("-" for a figure the broker does not have), or a JSON array
    where absent figures are left out. Used by `nodes` and `top`; knows nothing of connections.  */
#ifndef HD_CLI_NODETABLE_H
#define HD_CLI_NODETABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hd_client.h"

//  Sort nodes by name.
void hd_cli_nodes_sort (hd_node_info_t *nodes, uint32_t count);
//  Header row and one row per node, columns sized to the data.
void hd_cli_nodes_table (FILE *out, const hd_node_info_t *nodes, uint32_t count);
//  Same, at most `width` columns wide (0: no limit): the less useful columns are left out and
//  the tags cut, so that a terminal never wraps a row.
void hd_cli_nodes_table_fit (FILE *out, const hd_node_info_t *nodes, uint32_t count, int width);
//  The width of the terminal on fd, or 0 when fd is no terminal (80 when it cannot be read).
int hd_cli_term_width (int fd);
//  A JSON array of one object per node (live figures only when present).
void hd_cli_nodes_json (FILE *out, const hd_node_info_t *nodes, uint32_t count);
//  Bytes in binary units with one decimal: "512B", "1.5K", "3.8G".
void hd_cli_human_bytes (char *out, size_t len, uint64_t bytes);

#endif
