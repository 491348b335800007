/*  hd_payload: small inputs inline after an 8-byte header; large ones as a zmq_msg_t there.  */
#include "hd_payload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hd_payload {
    uint32_t size;
    uint32_t framed;  //  1: a zmq_msg_t follows; 0: `size` bytes follow
    //  followed by the bytes or the frame (8-byte aligned: malloc's block + 8)
};

static zmq_msg_t *
s_frame (const hd_payload_t *self)
{
    return (zmq_msg_t *) (void *) (uintptr_t) (self + 1);
}

static const uint8_t *
s_bytes (const hd_payload_t *self)
{
    return (const uint8_t *) (self + 1);
}

hd_payload_t *
hd_payload_from (const void *data, size_t size)
{
    hd_payload_t *self = malloc (sizeof *self + size);
    if (!self)
        return NULL;
    self->size = (uint32_t) size;
    self->framed = 0;
    if (size)
        memcpy ((uint8_t *) (self + 1), data, size);
    return self;
}

hd_payload_t *
hd_payload_take (zmq_msg_t *frame)
{
    size_t size = zmq_msg_size (frame);
    if (size < HD_PAYLOAD_COPY_BELOW)
        return hd_payload_from (zmq_msg_data (frame), size);
    hd_payload_t *self = malloc (sizeof *self + sizeof (zmq_msg_t));
    if (!self)
        return NULL;
    self->size = (uint32_t) size;
    self->framed = 1;
    zmq_msg_init (s_frame (self));
    zmq_msg_move (s_frame (self), frame);
    return self;
}

const void *
hd_payload_data (const hd_payload_t *self)
{
    return self->framed ? zmq_msg_data (s_frame (self)) : s_bytes (self);
}

size_t
hd_payload_size (const hd_payload_t *self)
{
    return self->size;
}

int
hd_payload_send (const hd_payload_t *self, void *sock, int flags)
{
    if (!self->framed)
        return zmq_send (sock, s_bytes (self), self->size, flags) < 0 ? -1 : 0;
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, s_frame (self));  //  reference counted, not a byte copy
    int rc = zmq_msg_send (&copy, sock, flags) < 0 ? -1 : 0;
    zmq_msg_close (&copy);
    return rc;
}

void
hd_payload_free (hd_payload_t *self)
{
    if (!self)
        return;
    if (self->framed)
        zmq_msg_close (s_frame (self));
    free (self);
}

#ifdef HD_TEST_HOOKS
#include <stdio.h>

void
hd_payload_test_hook (hd_payload_t *self, char dir)
{
    if (!self)
        return;
    uint8_t *bytes = self->framed ? zmq_msg_data (s_frame (self)) : (uint8_t *) (self + 1);
    const char *log = getenv ("HEDDLE_TEST_PAYLOAD_LOG");
    if (log && *log) {
        FILE *f = fopen (log, "ab");
        if (f) {
            fprintf (f, "%c %u:", dir, self->size);
            fwrite (bytes, 1, self->size, f);
            fputc ('\n', f);
            fclose (f);
        }
    }
    const char *tamper = getenv ("HEDDLE_TEST_TAMPER");
    if (tamper && self->size
        && ((dir == 'T' && strcmp (tamper, "task") == 0)
            || (dir == 'R' && strcmp (tamper, "result") == 0)))
        bytes[self->size - 1] ^= 0x01;  //  the last byte: ciphertext or tag, never the header
}
#endif
