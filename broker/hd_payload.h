/*  hd_payload: a task's input as the broker keeps it from SUBMIT until the result. Small inputs
    are copied into one block with their length (a 64-byte input costs one 80-byte allocation);
    large ones keep the frame libzmq delivered (no copy; a frame shares libzmq's receive buffer,
    which for small frames would hold far more memory than the input: docs/PERFORMANCE.md).
    Opaque bytes: nothing here decodes them.  */
#ifndef HD_PAYLOAD_H
#define HD_PAYLOAD_H

#include <stddef.h>
#include <zmq.h>

typedef struct hd_payload hd_payload_t;

//  Inputs under this many bytes are copied.
#define HD_PAYLOAD_COPY_BELOW 1024

//  Take a received frame: copied when small (the frame is left as it was), else moved (the
//  frame is left empty). NULL when memory runs out (the frame is unchanged).
hd_payload_t *hd_payload_take (zmq_msg_t *frame);
//  A copy of `size` bytes (journal replay). NULL when memory runs out.
hd_payload_t *hd_payload_from (const void *data, size_t size);
const void *hd_payload_data (const hd_payload_t *self);
size_t hd_payload_size (const hd_payload_t *self);
//  Send it as one frame on `sock` with zmq flags (ZMQ_SNDMORE ...); the payload stays (a large
//  one is shared by reference count, a small one copied into the message). 0, or -1 (errno).
int hd_payload_send (const hd_payload_t *self, void *sock, int flags);
//  NULL-safe.
void hd_payload_free (hd_payload_t *self);

#ifdef HD_TEST_HOOKS
//  Test builds only (the test suite's heddle-broker-testhooks, never installed): every payload
//  the broker takes in ('T' a task input, 'R' a result output) is appended to the file named by
//  $HEDDLE_TEST_PAYLOAD_LOG, and with $HEDDLE_TEST_TAMPER set to "task" or "result" one byte of
//  each such payload is flipped: a stand-in for a compromised broker. NULL-safe.
void hd_payload_test_hook (hd_payload_t *self, char dir);
#define HD_PAYLOAD_TEST_HOOK(p, dir) hd_payload_test_hook (p, dir)
#else
#define HD_PAYLOAD_TEST_HOOK(p, dir) ((void) 0)
#endif

#endif
