/*  hd_scheduler_match: the one eligibility rule. Whether a node meets a task's requirements:
    it offers the function; every tag asked for is on it (its architecture counts as a tag, with
    the usual aliases: arm64 = aarch64, amd64 = x86_64); a pinned node name is its name; and it
    has the memory asked for. The scheduler asks "now" (free memory, READY, under its limit:
    hd_scheduler_node_fits); the broker's check at SUBMIT asks "ever" (total memory), so that
    a task no registered node could ever run is refused UNSATISFIABLE instead of waiting for
    ever. Knows nothing of queues or of the order among workers.  */
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

//  Memory, now: free memory the node reported (a node without that figure cannot prove it has
//  enough). Ever: its total memory, when known (metrics arrive after HELLO: unknown may still do).
static bool
s_node_has_memory (const hd_node_t *node, uint32_t min_mem_mb, hd_when_t when)
{
    uint64_t need = (uint64_t) min_mem_mb << 20;
    if (!min_mem_mb)
        return true;
    if (when == HD_ELIGIBLE_NOW)
        return (node->sys.present & HD_M_MEM_AVAIL) && node->sys.mem_avail >= need;
    return !(node->sys.present & HD_M_MEM_TOTAL) || node->sys.mem_total >= need;
}

bool
hd_scheduler_eligible (const hd_node_t *node, uint32_t fn, const hd_reqs_t *reqs, hd_when_t when)
{
    if (!hd_registry_offers (node, fn))
        return false;
    if (!reqs)
        return true;
    if (reqs->node[0] && strcmp (reqs->node, node->name) != 0)
        return false;
    for (uint32_t i = 0; i < reqs->ntags; i++)
        if (!s_node_has_tag (node, reqs->tags[i]))
            return false;
    return s_node_has_memory (node, reqs->min_mem_mb, when);
}

bool
hd_scheduler_reqs_of (const hd_submit_t *msg, hd_reqs_t *out)
{
    if (msg->ntags == 0 && msg->min_mem_mb == 0 && msg->node[0] == '\0')
        return false;  //  the common case: no 600-byte memset per task
    memset (out, 0, sizeof *out);
    out->min_mem_mb = msg->min_mem_mb;
    out->ntags = msg->ntags < HD_MAX_TAGS ? msg->ntags : HD_MAX_TAGS;
    for (uint32_t i = 0; i < out->ntags; i++)
        memcpy (out->tags[i], msg->tags[i], sizeof out->tags[i]);
    memcpy (out->node, msg->node, sizeof out->node);
    return true;
}

//  Tasks beyond the node's slots wait in its local backlog (prefetch, so that many tasks travel
//  in one message); a task with a deadline must not spend it waiting there: it needs a slot.
bool
hd_scheduler_node_fits (const hd_node_t *node, const hd_job_t *job, int kind)
{
    return hd_scheduler_wants (kind, node)
           && hd_scheduler_eligible (node, job->fn, job->reqs, HD_ELIGIBLE_NOW);
}
