/*  hd_nofile: raise RLIMIT_NOFILE's soft limit (see the header).  */
#include "hd_nofile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "hd_log.h"

//  An unlimited hard limit cannot be the soft one: the kernel caps open files at
//  /proc/sys/fs/nr_open (1048576 by default).
static rlim_t
s_nr_open (void)
{
    unsigned long n = 0;
    FILE *f = fopen ("/proc/sys/fs/nr_open", "r");
    if (f) {
        if (fscanf (f, "%lu", &n) != 1)
            n = 0;
        fclose (f);
    }
    return n ? (rlim_t) n : 1048576;
}

int
hd_nofile_raise (hd_nofile_t *out)
{
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
        return -1;
    out->before = out->soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
    out->hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : rl.rlim_max;
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? s_nr_open () : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
        return 0;
    rl.rlim_cur = want;
    if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
        return -1;
    out->soft = want;
    return 0;
}

uint64_t
hd_nofile_raise_and_log (uint64_t need)
{
    hd_nofile_t n;
    if (hd_nofile_raise (&n) != 0)
        hd_warn ("open files: cannot raise the soft limit %" PRIu64 " to the hard limit: %s",
                 n.soft, strerror (errno));
    else if (n.soft != n.before)
        hd_info ("open files: soft limit raised from %" PRIu64 " to %" PRIu64 " (the hard limit%s)",
                 n.before, n.soft, n.hard == UINT64_MAX ? " is unlimited: nr_open" : "");
    else
        hd_info ("open files: limit %" PRIu64, n.soft);
    if (n.soft < need)
        hd_warn ("open files: the limit %" PRIu64 " is low (raise the hard limit: LimitNOFILE= "
                 "in the systemd unit, or ulimit -Hn)", n.soft);
    return n.soft;
}
