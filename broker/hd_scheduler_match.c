/*  hd_scheduler_match: whether one worker may take one job now: it offers the function, is
    READY (not draining), neither stale nor hot, has room under its lease limit, and meets the
    job's requirements (tags, where the worker's architecture counts as a tag; a pinned node
    name; free memory). Knows nothing of queues or of the order among workers.  */
#include "hd_scheduler_int.h"

#include <string.h>

//  Names users write for an architecture, and the name `uname -m` (a worker's arch) gives it.
static const char *const s_arch_alias[][2] = {
    { "arm64", "aarch64" },
    { "amd64", "x86_64" },
};

static const char *
s_arch_canonical (const char *name)
{
    for (size_t i = 0; i < sizeof s_arch_alias / sizeof s_arch_alias[0]; i++)
        if (strcmp (name, s_arch_alias[i][0]) == 0)
            return s_arch_alias[i][1];
    return name;
}

//  A node's architecture is an implicit tag: `arm64` is met by an aarch64 node that did not list
//  it, so a task can ask for an instruction set without every worker being configured for it.
static bool
s_node_has_tag (const hd_node_t *node, const char *tag)
{
    for (uint32_t i = 0; i < node->ntags; i++)
        if (strcmp (node->tags[i], tag) == 0)
            return true;
    return node->arch[0] && strcmp (s_arch_canonical (tag), s_arch_canonical (node->arch)) == 0;
}

static bool
s_node_meets (const hd_node_t *node, const hd_reqs_t *reqs)
{
    if (!reqs)
        return true;
    if (reqs->node[0] && strcmp (reqs->node, node->name) != 0)
        return false;
    for (uint32_t i = 0; i < reqs->ntags; i++)
        if (!s_node_has_tag (node, reqs->tags[i]))
            return false;
    return true;
}

//  Minimum free memory: a node without a memory figure cannot prove it has enough.
static bool
s_node_has_memory (const hd_node_t *node, const hd_reqs_t *reqs)
{
    if (!reqs || !reqs->min_mem_mb)
        return true;
    return (node->sys.present & HD_M_MEM_AVAIL) &&
           node->sys.mem_avail >= (uint64_t) reqs->min_mem_mb << 20;
}

//  Tasks beyond the node's slots wait in its local backlog (prefetch, so that many tasks travel
//  in one message); a task with a deadline must not spend it waiting there: it needs a slot.
bool
hd_scheduler_node_fits (const hd_node_t *node, const hd_job_t *job, int kind)
{
    return node->state == HD_NODE_READY && !node->stale && !node->hot &&
           node->in_flight < hd_scheduler_limit (node, kind) &&
           hd_registry_offers (node, job->fn) && s_node_meets (node, job->reqs) &&
           s_node_has_memory (node, job->reqs);
}
