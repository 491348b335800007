/*  failures: the first few failures shown, the rest grouped by reason (failures.h).  */
#include "failures.h"

#include <string.h>

#include "hd_client.h"

void
hd_cli_failures_init (hd_cli_failures_t *self)
{
    memset (self, 0, sizeof *self);
}

bool
hd_cli_failures_add (hd_cli_failures_t *self, uint32_t status, const char *error)
{
    if (++self->total <= HD_CLI_FAILURES_SHOWN)
        return true;
    const char *text = error ? error : "";
    for (uint32_t i = 0; i < self->ngroups; i++) {
        hd_cli_failure_group_t *g = &self->groups[i];
        if (g->status == status && strncmp (g->error, text, sizeof g->error - 1) == 0) {
            g->count++;
            return false;
        }
    }
    if (self->ngroups == HD_CLI_FAILURES_GROUPS) {
        self->others++;
        return false;
    }
    hd_cli_failure_group_t *g = &self->groups[self->ngroups++];
    g->status = status;
    snprintf (g->error, sizeof g->error, "%s", text);
    g->count = 1;
    return false;
}

void
hd_cli_failures_report (const hd_cli_failures_t *self, const char *cmd, FILE *out)
{
    for (uint32_t i = 0; i < self->ngroups; i++) {
        const hd_cli_failure_group_t *g = &self->groups[i];
        fprintf (out, "heddle %s: %llu more failed: %s%s%s\n", cmd, (unsigned long long) g->count,
                 hd_client_status_str (g->status), *g->error ? ": " : "", g->error);
    }
    if (self->others)
        fprintf (out, "heddle %s: %llu more failed for other reasons\n", cmd,
                 (unsigned long long) self->others);
}
