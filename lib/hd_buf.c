/*  hd_buf: growable reusable byte buffer. Grows by doubling so appends are amortised O(1).  */
#include "hd_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
hd_buf_init (hd_buf_t *self)
{
    memset (self, 0, sizeof *self);
}

void
hd_buf_fini (hd_buf_t *self)
{
    free (self->data);
    memset (self, 0, sizeof *self);
}

hd_err_t
hd_buf_reserve (hd_buf_t *self, size_t extra)
{
    if (extra > SIZE_MAX - self->size)
        return HD_ENOMEM;
    size_t need = self->size + extra;
    if (need <= self->cap)
        return HD_OK;
    size_t cap = self->cap ? self->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *data = realloc (self->data, cap);
    if (!data)
        return HD_ENOMEM;
    self->data = data;
    self->cap = cap;
    return HD_OK;
}

hd_err_t
hd_buf_append (hd_buf_t *self, const void *data, size_t size)
{
    if (size == 0)
        return HD_OK;
    hd_err_t rc = hd_buf_reserve (self, size);
    if (rc != HD_OK)
        return rc;
    memcpy (self->data + self->size, data, size);
    self->size += size;
    return HD_OK;
}

hd_err_t
hd_buf_printf (hd_buf_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (NULL, 0, fmt, ap);
    va_end (ap);
    if (n < 0)
        return HD_EINVAL;
    hd_err_t rc = hd_buf_reserve (self, (size_t) n + 1);
    if (rc != HD_OK)
        return rc;
    va_start (ap, fmt);
    vsnprintf ((char *) self->data + self->size, (size_t) n + 1, fmt, ap);
    va_end (ap);
    self->size += (size_t) n;
    return HD_OK;
}
