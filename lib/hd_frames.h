/*  hd_frames: receive one multipart ZeroMQ message into a reusable array of zmq_msg_t, so the
    reactors move frames (zmq_msg_move / zmq_msg_copy) instead of copying bytes, and allocate
    nothing per message once the array exists.  */
#ifndef HD_FRAMES_H
#define HD_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

#include "hd_err.h"

typedef struct {
    zmq_msg_t *msg;
    size_t count;     //  frames received in the current message
    size_t cap;       //  frames the array holds
    bool truncated;   //  the message had more than cap frames (the rest was discarded)
} hd_frames_t;

//  HD_OK or HD_ENOMEM. `cap` is the most frames a valid message may have.
hd_err_t hd_frames_init (hd_frames_t *self, size_t cap);
void hd_frames_fini (hd_frames_t *self);
//  Receive one whole message (flags: 0 or ZMQ_DONTWAIT). HD_OK; HD_ETIMEDOUT when
//  nothing waits (DONTWAIT); HD_ECLOSED on interrupt/termination. Frames beyond cap are read
//  and dropped, with truncated set.
hd_err_t hd_frames_recv (hd_frames_t *self, void *sock, int flags);
//  Close the frames of the last message (keeps the array).
void hd_frames_clear (hd_frames_t *self);
static inline const void *
hd_frames_data (hd_frames_t *self, size_t i)
{
    return zmq_msg_data (&self->msg[i]);
}
static inline size_t
hd_frames_size (hd_frames_t *self, size_t i)
{
    return zmq_msg_size (&self->msg[i]);
}

#endif
