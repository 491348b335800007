/*  hd_jobstore_int: hd_jobstore's private state, shared by hd_jobstore.c (slots, appends,
    reads) and hd_jobstore_load.c (meta files and stores read back at open). Not a public
    header.  */
#ifndef HD_JOBSTORE_INT_H
#define HD_JOBSTORE_INT_H

#include "hd_jobstore.h"

typedef struct {
    hd_jobrec_t rec;
    bool used, dirty;
    int fd;
    uint64_t *bits;
} hd_jobslot_t;

struct hd_jobstore {
    char dir[4096];
    hd_jobslot_t *jobs;
    uint32_t n, cap, count;
    uint64_t bytes;
};

//  DIR/<job><ext>.
void hd_jobstore_path (const hd_jobstore_t *self, const char *job, const char *ext, char *out,
                       size_t len);
//  A free slot filled from `r` (counts zero) with store descriptor `fd`. HD_OK; HD_ENOMEM.
hd_err_t hd_jobstore_take (hd_jobstore_t *self, const hd_jobrec_t *r, int fd, uint32_t *out);
//  Index stored: bitmap, counts and bytes of the job.
void hd_jobstore_mark (hd_jobslot_t *j, uint64_t index, uint32_t status, uint64_t pair);
//  One MessagePack bin header at `p` (`left` bytes readable): its length in *n and the header's
//  size; 0 when it is not a bin header or is cut short.
size_t hd_jobstore_bin_head (const uint8_t *p, size_t left, uint64_t *n);

#endif
