/*  nodetable: node list as a table or JSON (nodetable.h). Column widths follow the data so
    long node names stay aligned. Absent figures print "-": a node without a thermal sensor is
    not a node at 0 degrees.  */
#include "nodetable.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"

static int
s_by_name (const void *a, const void *b)
{
    return strcmp (((const hd_node_info_t *) a)->name, ((const hd_node_info_t *) b)->name);
}

void
hd_cli_nodes_sort (hd_node_info_t *nodes, uint32_t count)
{
    if (count > 1)
        qsort (nodes, count, sizeof nodes[0], s_by_name);
}

void
hd_cli_human_bytes (char *out, size_t len, uint64_t bytes)
{
    static const char units[] = "KMGTP";
    if (bytes < 1024) {
        snprintf (out, len, "%lluB", (unsigned long long) bytes);
        return;
    }
    double value = (double) bytes / 1024.0;
    size_t u = 0;
    while (value >= 1024.0 && u + 1 < sizeof units - 1) {
        value /= 1024.0;
        u++;
    }
    snprintf (out, len, "%.1f%c", value, units[u]);
}

//  The table's columns, left to right. `drop` orders what goes first when the table is wider
//  than the terminal (1 first; 0 never): a narrow terminal keeps who is up and how busy.
enum { C_NODE, C_STATE, C_ARCH, C_CORES, C_SLOTS, C_QUEUED, C_CAPACITY, C_CPU, C_MEM, C_TEMP,
       C_SCORE, C_DONE, C_FAILED, C_TAGS, C_COUNT };

static const struct {
    const char *header;
    bool left;  //  left-aligned (text); numbers are right-aligned
    int drop;
} s_columns[C_COUNT] = {
    [C_NODE] = { "NODE", true, 0 },      [C_STATE] = { "STATE", true, 0 },
    [C_ARCH] = { "ARCH", true, 3 },      [C_CORES] = { "CORES", false, 2 },
    [C_SLOTS] = { "SLOTS", false, 0 },   [C_QUEUED] = { "QUEUED", false, 6 },
    [C_CAPACITY] = { "CAPACITY", false, 4 }, [C_CPU] = { "CPU%", false, 8 },
    [C_MEM] = { "MEMORY", true, 7 },     [C_TEMP] = { "TEMP", false, 5 },
    [C_SCORE] = { "SCORE", false, 1 },   [C_DONE] = { "DONE", false, 0 },
    [C_FAILED] = { "FAILED", false, 9 }, [C_TAGS] = { "TAGS", true, 0 },
};

typedef char s_row_t[C_COUNT][80];

static void
s_live_cells (const hd_node_info_t *n, s_row_t row)
{
    snprintf (row[C_CPU], sizeof row[0], "-");
    snprintf (row[C_MEM], sizeof row[0], "-");
    snprintf (row[C_TEMP], sizeof row[0], "-");
    snprintf (row[C_SCORE], sizeof row[0], "-");
    if (n->present & HD_NODE_HAS_CPU)
        snprintf (row[C_CPU], sizeof row[0], "%.0f%%", n->cpu * 100.0);
    if (n->present & HD_NODE_HAS_MEM) {
        char avail[12], total[12];
        hd_cli_human_bytes (avail, sizeof avail, n->mem_avail);
        hd_cli_human_bytes (total, sizeof total, n->mem_total);
        snprintf (row[C_MEM], sizeof row[0], "%s/%s", avail, total);
    }
    if (n->present & HD_NODE_HAS_TEMP)
        snprintf (row[C_TEMP], sizeof row[0], "%.1fC", n->temp);
    if (n->present & HD_NODE_HAS_SCORE)
        snprintf (row[C_SCORE], sizeof row[0], "%.0f", n->score);
}

//  The broker's `busy` counts every task leased to the node, including those its prefetch
//  credit let it take ahead (waiting in the node's own queue): on a 2-slot node that showed as
//  SLOTS 10/2. SLOTS shows the tasks running (at most one per slot), QUEUED the ones waiting.
static void
s_cells (const hd_node_info_t *n, s_row_t row)
{
    uint32_t running = n->busy < n->slots ? n->busy : n->slots;
    snprintf (row[C_NODE], sizeof row[0], "%.63s", n->name);
    snprintf (row[C_STATE], sizeof row[0], "%.15s", n->state);
    snprintf (row[C_ARCH], sizeof row[0], "%.63s", n->arch);
    snprintf (row[C_CORES], sizeof row[0], "%u", n->cores);
    snprintf (row[C_SLOTS], sizeof row[0], "%u/%u", running, n->slots);
    snprintf (row[C_QUEUED], sizeof row[0], "%u", n->busy - running);
    snprintf (row[C_CAPACITY], sizeof row[0], "%.1f", n->capacity);
    snprintf (row[C_DONE], sizeof row[0], "%llu", (unsigned long long) n->done);
    snprintf (row[C_FAILED], sizeof row[0], "%llu", (unsigned long long) n->failed);
    snprintf (row[C_TAGS], sizeof row[0], "%.79s", n->tags[0] ? n->tags : "-");
    s_live_cells (n, row);
}

//  Column widths (the widest cell or header) and which columns fit in `width` (0: all).
static void
s_layout (const s_row_t *rows, uint32_t count, int width, int *widths, bool *shown)
{
    int total = 0;
    for (int c = 0; c < C_COUNT; c++) {
        widths[c] = (int) strlen (s_columns[c].header);
        for (uint32_t i = 0; i < count; i++)
            if ((int) strlen (rows[i][c]) > widths[c])
                widths[c] = (int) strlen (rows[i][c]);
        shown[c] = true;
        total += widths[c] + (c ? 2 : 0);
    }
    //  TAGS is cut to what is left (at least its header) before any other column goes.
    int tags_min = (int) strlen (s_columns[C_TAGS].header);
    total -= widths[C_TAGS] - tags_min;
    for (int round = 1; width > 0 && total > width && round <= 9; round++)
        for (int c = 0; c < C_COUNT; c++)
            if (s_columns[c].drop == round) {
                shown[c] = false;
                total -= widths[c] + 2;
            }
    if (width > 0 && widths[C_TAGS] > tags_min + (width - total))
        widths[C_TAGS] = tags_min + (width - total > 0 ? width - total : 0);
}

static void
s_print_row (FILE *out, const char *const *cells, const int *widths, const bool *shown)
{
    const char *sep = "";
    for (int c = 0; c < C_COUNT; c++) {
        if (!shown[c])
            continue;
        if (c == C_TAGS)  //  last: no padding, cut to its width
            fprintf (out, "%s%.*s", sep, widths[c], cells[c]);
        else
            fprintf (out, s_columns[c].left ? "%s%-*s" : "%s%*s", sep, widths[c], cells[c]);
        sep = "  ";
    }
    fputc ('\n', out);
}

void
hd_cli_nodes_table_fit (FILE *out, const hd_node_info_t *nodes, uint32_t count, int width)
{
    s_row_t *rows = calloc (count ? count : 1, sizeof *rows);
    if (!rows)
        return;
    for (uint32_t i = 0; i < count; i++)
        s_cells (&nodes[i], rows[i]);
    int widths[C_COUNT];
    bool shown[C_COUNT];
    s_layout ((const s_row_t *) rows, count, width, widths, shown);
    const char *cells[C_COUNT];
    for (int c = 0; c < C_COUNT; c++)
        cells[c] = s_columns[c].header;
    s_print_row (out, cells, widths, shown);
    for (uint32_t i = 0; i < count; i++) {
        for (int c = 0; c < C_COUNT; c++)
            cells[c] = rows[i][c];
        s_print_row (out, cells, widths, shown);
    }
    free (rows);
}

void
hd_cli_nodes_table (FILE *out, const hd_node_info_t *nodes, uint32_t count)
{
    hd_cli_nodes_table_fit (out, nodes, count, 0);
}

int
hd_cli_term_width (int fd)
{
    struct winsize ws;
    if (!isatty (fd)) {
        //  Not a terminal: no limit, unless $COLUMNS names one (as for ls(1) and tests).
        const char *columns = getenv ("COLUMNS");
        int n = columns ? atoi (columns) : 0;
        return n > 0 && n < 10000 ? n : 0;
    }
    if (ioctl (fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

static void
s_json_tags (FILE *out, const char *tags)
{
    fprintf (out, ", \"tags\": [");
    char copy[sizeof ((hd_node_info_t *) 0)->tags];
    snprintf (copy, sizeof copy, "%s", tags);
    int k = 0;
    for (char *save = NULL, *t = strtok_r (copy, ",", &save); t; t = strtok_r (NULL, ",", &save)) {
        fprintf (out, "%s", k++ ? ", " : "");
        hd_cli_json_string (out, t);
    }
    fputc (']', out);
}

static void
s_json_live (FILE *out, const hd_node_info_t *n)
{
    if (n->present & HD_NODE_HAS_CPU)
        fprintf (out, ", \"cpu\": %.3f", n->cpu);
    if (n->present & HD_NODE_HAS_MEM)
        fprintf (out, ", \"mem_total\": %llu, \"mem_avail\": %llu",
                 (unsigned long long) n->mem_total, (unsigned long long) n->mem_avail);
    if (n->present & HD_NODE_HAS_TEMP)
        fprintf (out, ", \"temp\": %.1f", n->temp);
    if (n->present & HD_NODE_HAS_SCORE)
        fprintf (out, ", \"score\": %.1f", n->score);
    if (n->present & HD_NODE_HAS_LOAD)
        fprintf (out, ", \"load1\": %.2f", n->load1);
    if (n->present & HD_NODE_HAS_AGE)
        fprintf (out, ", \"age_ms\": %u", n->age_ms);
}

void
hd_cli_nodes_json (FILE *out, const hd_node_info_t *nodes, uint32_t count)
{
    fputc ('[', out);
    for (uint32_t i = 0; i < count; i++) {
        const hd_node_info_t *n = &nodes[i];
        fprintf (out, "%s\n  {\"name\": ", i ? "," : "");
        hd_cli_json_string (out, n->name);
        fprintf (out, ", \"state\": ");
        hd_cli_json_string (out, n->state);
        fprintf (out, ", \"arch\": ");
        hd_cli_json_string (out, n->arch);
        fprintf (out,
                 ", \"cores\": %u, \"slots\": %u, \"busy\": %u, \"running\": %u, "
                 "\"capacity\": %.3f, \"done\": %llu, \"failed\": %llu",
                 n->cores, n->slots, n->busy, n->busy < n->slots ? n->busy : n->slots,
                 n->capacity, (unsigned long long) n->done, (unsigned long long) n->failed);
        s_json_tags (out, n->tags);
        s_json_live (out, n);
        fputc ('}', out);
    }
    fprintf (out, "%s]\n", count ? "\n" : "");
}
