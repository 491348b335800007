/*  hd_frames: multipart receive into reused zmq_msg_t slots.  */
#include "hd_frames.h"

#include <errno.h>
#include <stdlib.h>

hd_err_t
hd_frames_init (hd_frames_t *self, size_t cap)
{
    self->msg = calloc (cap, sizeof (zmq_msg_t));
    self->count = 0;
    self->cap = self->msg ? cap : 0;
    self->truncated = false;
    if (!self->msg)
        return HD_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        zmq_msg_init (&self->msg[i]);
    return HD_OK;
}

void
hd_frames_fini (hd_frames_t *self)
{
    for (size_t i = 0; i < self->cap; i++)
        zmq_msg_close (&self->msg[i]);
    free (self->msg);
    self->msg = NULL;
    self->cap = self->count = 0;
}

void
hd_frames_clear (hd_frames_t *self)
{
    //  zmq_msg_close then init releases the content; a moved-from message is already empty.
    for (size_t i = 0; i < self->count; i++) {
        zmq_msg_close (&self->msg[i]);
        zmq_msg_init (&self->msg[i]);
    }
    self->count = 0;
    self->truncated = false;
}

hd_err_t
hd_frames_recv (hd_frames_t *self, void *sock, int flags)
{
    hd_frames_clear (self);
    zmq_msg_t spill;
    zmq_msg_init (&spill);
    bool more = true;
    while (more) {
        zmq_msg_t *m = self->count < self->cap ? &self->msg[self->count] : &spill;
        if (zmq_msg_recv (m, sock, self->count ? 0 : flags) < 0) {
            zmq_msg_close (&spill);
            return errno == EAGAIN ? HD_ETIMEDOUT : HD_ECLOSED;
        }
        more = zmq_msg_more (m);
        if (m == &spill)
            self->truncated = true;
        else
            self->count++;
    }
    zmq_msg_close (&spill);
    return HD_OK;
}
