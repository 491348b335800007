/*  hd_buf: a growable byte buffer meant to be reused (reset keeps the memory), so encoders on
    hot paths allocate only while a buffer grows to its working size.  */
#ifndef HD_BUF_H
#define HD_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"

typedef struct {
    uint8_t *data;
    size_t size;  //  bytes used
    size_t cap;   //  bytes allocated
} hd_buf_t;

//  A zeroed hd_buf_t is a valid empty buffer; _fini frees and re-zeroes (harmless when zeroed).
void hd_buf_init (hd_buf_t *self);
void hd_buf_fini (hd_buf_t *self);
static inline void
hd_buf_reset (hd_buf_t *self)
{
    self->size = 0;
}
//  Make room for `extra` more bytes. HD_ENOMEM when that fails (the buffer is unchanged).
hd_err_t hd_buf_reserve (hd_buf_t *self, size_t extra);
//  Append bytes. HD_ENOMEM when growing fails.
hd_err_t hd_buf_append (hd_buf_t *self, const void *data, size_t size);
//  Append printf-formatted text (no NUL is counted in size, but one is kept after the data).
hd_err_t hd_buf_printf (hd_buf_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#endif
