/*  raw_broker: hd-raw's broker. Routes each client message to the next worker, round-robin,
    and each reply back to its client, moving zmq_msg_t parts without copying them. It keeps no
    task state at all: no queue beyond libzmq's pipes, no leases, no journal.  */
#include "raw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define S_MAX_WORKERS 64
#define S_MAX_PARTS 8      //  [id][id][env][payload] is 4; more is malformed
#define S_DRAIN_BATCH 256  //  messages read from one socket before looking at the other
#define S_ID_MAX 256       //  ZeroMQ routing ids are at most 255 bytes

typedef struct {
    zsock_t *front, *back;
    uint8_t workers[S_MAX_WORKERS][S_ID_MAX];
    size_t worker_len[S_MAX_WORKERS];
    size_t worker_count, next;
    uint64_t routed, dropped;
} s_broker_t;

static void
s_add_worker (s_broker_t *self, zmq_msg_t *id)
{
    size_t len = zmq_msg_size (id);
    for (size_t i = 0; i < self->worker_count; i++)
        if (self->worker_len[i] == len && memcmp (self->workers[i], zmq_msg_data (id), len) == 0)
            return;
    if (self->worker_count == S_MAX_WORKERS || len > S_ID_MAX)
        return;
    memcpy (self->workers[self->worker_count], zmq_msg_data (id), len);
    self->worker_len[self->worker_count++] = len;
    //  scripts wait for this line before starting a client
    fprintf (stderr, "hd-raw broker: worker %zu joined\n", self->worker_count);
}

static void
s_drop_worker (s_broker_t *self, size_t index)
{
    self->worker_count--;
    memmove (self->workers[index], self->workers[self->worker_count], S_ID_MAX);
    self->worker_len[index] = self->worker_len[self->worker_count];
    self->next = 0;
}

//  [client id][env][payload] -> next worker: [worker id][client id][env][payload]. A worker that
//  has gone (EHOSTUNREACH under ROUTER_MANDATORY) is forgotten and the next one is tried.
static void
s_to_worker (s_broker_t *self, zmq_msg_t *parts, int count)
{
    void *back = zsock_resolve (self->back);
    while (self->worker_count > 0) {
        size_t w = self->next++ % self->worker_count;
        if (zmq_send (back, self->workers[w], self->worker_len[w], ZMQ_SNDMORE) >= 0) {
            if (hd_raw_send_parts (back, parts, 0, count) == 0)
                self->routed++;
            return;
        }
        if (zmq_errno () != EHOSTUNREACH)
            break;  //  full pipe (cannot happen below the HWM): drop this message
        s_drop_worker (self, w);
    }
    for (int i = 0; i < count; i++)
        zmq_msg_close (&parts[i]);
    self->dropped++;
}

//  [worker id][client id][env][payload] -> [client id][env][payload]; [worker id][HELLO] joins.
static void
s_to_client (s_broker_t *self, zmq_msg_t *parts, int count)
{
    if (count == 2) {
        s_add_worker (self, &parts[0]);
        zmq_msg_close (&parts[0]);
        zmq_msg_close (&parts[1]);
        return;
    }
    zmq_msg_close (&parts[0]);
    if (hd_raw_send_parts (zsock_resolve (self->front), parts, 1, count) != 0)
        self->dropped++;
}

//  Read up to S_DRAIN_BATCH messages from `sock` without blocking. Returns how many.
static int
s_drain (s_broker_t *self, zsock_t *sock)
{
    int n = 0;
    zmq_msg_t parts[S_MAX_PARTS];
    for (; n < S_DRAIN_BATCH; n++) {
        zmq_msg_init (&parts[0]);
        if (zmq_msg_recv (&parts[0], zsock_resolve (sock), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&parts[0]);
            break;
        }
        int count = hd_raw_recv_rest (zsock_resolve (sock), parts, S_MAX_PARTS);
        if (count == 1)
            zmq_msg_close (&parts[0]);
        if (count < 2)
            self->dropped++;
        else if (sock == self->front)
            s_to_worker (self, parts, count);
        else
            s_to_client (self, parts, count);
    }
    return n;
}

static void
s_loop (s_broker_t *self, double deadline)
{
    zmq_pollitem_t items[] = { { zsock_resolve (self->front), 0, ZMQ_POLLIN, 0 },
                               { zsock_resolve (self->back), 0, ZMQ_POLLIN, 0 } };
    while (!hd_bench_interrupted && hd_bench_now () < deadline) {
        if (zmq_poll (items, 2, 200) < 0 && zmq_errno () != EINTR)
            break;
        //  Replies first: they free the client's window sooner.
        if (items[1].revents & ZMQ_POLLIN)
            s_drain (self, self->back);
        if (items[0].revents & ZMQ_POLLIN)
            s_drain (self, self->front);
    }
}

static void
s_print_endpoints (s_broker_t *self)
{
    char *front = zsock_last_endpoint (self->front);
    char *back = zsock_last_endpoint (self->back);
    printf ("clients=%s workers=%s\n", front, back);
    fflush (stdout);
    zstr_free (&front);
    zstr_free (&back);
}

int
hd_raw_broker_run (const hd_raw_config_t *cfg)
{
    s_broker_t *self = calloc (1, sizeof *self);
    if (!self)
        return 1;
    int code = 1;
    if (hd_raw_bind (&self->front, cfg->clients_ep, cfg) == 0 &&
        hd_raw_bind (&self->back, cfg->workers_ep, cfg) == 0) {
        if (cfg->print_endpoints)
            s_print_endpoints (self);
        s_loop (self, hd_bench_now () + cfg->limit_s);
        fprintf (stderr, "%s: routed %llu, dropped %llu\n", cfg->prog,
                 (unsigned long long) self->routed, (unsigned long long) self->dropped);
        code = 0;
    }
    zsock_destroy (&self->front);
    zsock_destroy (&self->back);
    free (self);
    return code;
}
