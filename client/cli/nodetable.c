/*  nodetable: node list as a table or JSON (nodetable.h). Column widths follow the data so
    long node names stay aligned. Absent figures print "-": a node without a thermal sensor is
    not a node at 0 degrees.  */
#include "nodetable.h"

#include <stdlib.h>
#include <string.h>

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

//  The live columns of one node: CPU%, MEM (avail/total), TEMP, SCORE.
typedef struct {
    char cpu[16], mem[32], temp[16], score[24];
} s_live_t;

static void
s_live (const hd_node_info_t *n, s_live_t *l)
{
    snprintf (l->cpu, sizeof l->cpu, "-");
    snprintf (l->mem, sizeof l->mem, "-");
    snprintf (l->temp, sizeof l->temp, "-");
    snprintf (l->score, sizeof l->score, "-");
    if (n->present & HD_NODE_HAS_CPU)
        snprintf (l->cpu, sizeof l->cpu, "%.0f%%", n->cpu * 100.0);
    if (n->present & HD_NODE_HAS_MEM) {
        char avail[12], total[12];
        hd_cli_human_bytes (avail, sizeof avail, n->mem_avail);
        hd_cli_human_bytes (total, sizeof total, n->mem_total);
        snprintf (l->mem, sizeof l->mem, "%s/%s", avail, total);
    }
    if (n->present & HD_NODE_HAS_TEMP)
        snprintf (l->temp, sizeof l->temp, "%.1fC", n->temp);
    if (n->present & HD_NODE_HAS_SCORE)
        snprintf (l->score, sizeof l->score, "%.0f", n->score);
}

static int
s_max (int a, int b)
{
    return a > b ? a : b;
}

typedef struct {
    int name, state, arch, mem;
} s_widths_t;

static void
s_widths (const hd_node_info_t *nodes, uint32_t count, s_widths_t *w)
{
    *w = (s_widths_t){ 4, 5, 4, 14 };
    for (uint32_t i = 0; i < count; i++) {
        s_live_t l;
        s_live (&nodes[i], &l);
        w->name = s_max (w->name, (int) strnlen (nodes[i].name, sizeof nodes[i].name));
        w->state = s_max (w->state, (int) strnlen (nodes[i].state, sizeof nodes[i].state));
        w->arch = s_max (w->arch, (int) strnlen (nodes[i].arch, sizeof nodes[i].arch));
        w->mem = s_max (w->mem, (int) strlen (l.mem));
    }
}

static void
s_row (FILE *out, const hd_node_info_t *n, const s_widths_t *w)
{
    s_live_t l;
    s_live (n, &l);
    char slots[32];
    snprintf (slots, sizeof slots, "%u/%u", n->busy, n->slots);
    fprintf (out,
             "%-*.*s  %-*.*s  %-*.*s  %5u  %9s  %8.1f  %4s  %-*s  %6s  %6s  %8llu  %6llu  %s\n",
             w->name, (int) sizeof n->name, n->name, w->state, (int) sizeof n->state, n->state,
             w->arch, (int) sizeof n->arch, n->arch, n->cores, slots, n->capacity, l.cpu, w->mem,
             l.mem, l.temp, l.score, (unsigned long long) n->done, (unsigned long long) n->failed,
             n->tags[0] ? n->tags : "-");
}

void
hd_cli_nodes_table (FILE *out, const hd_node_info_t *nodes, uint32_t count)
{
    s_widths_t w;
    s_widths (nodes, count, &w);
    fprintf (out, "%-*s  %-*s  %-*s  %5s  %9s  %8s  %4s  %-*s  %6s  %6s  %8s  %6s  %s\n", w.name,
             "NODE", w.state, "STATE", w.arch, "ARCH", "CORES", "SLOTS", "CAPACITY", "CPU%", w.mem,
             "MEM(AVAIL/TOT)", "TEMP", "SCORE", "DONE", "FAILED", "TAGS");
    for (uint32_t i = 0; i < count; i++)
        s_row (out, &nodes[i], &w);
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
                 ", \"cores\": %u, \"slots\": %u, \"busy\": %u, \"capacity\": %.3f, "
                 "\"done\": %llu, \"failed\": %llu",
                 n->cores, n->slots, n->busy, n->capacity, (unsigned long long) n->done,
                 (unsigned long long) n->failed);
        s_json_tags (out, n->tags);
        s_json_live (out, n);
        fputc ('}', out);
    }
    fprintf (out, "%s]\n", count ? "\n" : "");
}
