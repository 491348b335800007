/*  hd_nofile: the open-files limit (RLIMIT_NOFILE). A service started by systemd gets a soft
    limit of 1024 whatever its unit's LimitNOFILE hard limit; every TCP connection costs the
    broker one file, so the broker and the worker raise the soft limit to the hard one at start
    and log what they got. Knows nothing of sockets.  */
#ifndef HD_NOFILE_H
#define HD_NOFILE_H

#include <stdint.h>

//  The limits before and after. hard may be UINT64_MAX (unlimited).
typedef struct {
    uint64_t before, soft, hard;
} hd_nofile_t;

//  Raise the soft limit to the hard one (to the kernel's nr_open when the hard limit is
//  unlimited), and fill *out. 0; -1 (errno) when the limits cannot be read or set: then out
//  holds the limits in force.
int hd_nofile_raise (hd_nofile_t *out);
//  hd_nofile_raise, then log the outcome (info; a warning when the soft limit stays under
//  1024 + the caller's need, or cannot be raised). Returns the soft limit in force.
uint64_t hd_nofile_raise_and_log (uint64_t need);

#endif
