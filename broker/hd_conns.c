/*  hd_conns: count the broker's connections, refuse those over the cap (see the header).
    Monitor events of one socket arrive in order, and libzmq emits DISCONNECTED before it
    closes the fd, so an fd number given out again is seen closed before it is seen accepted.  */
#include "hd_conns.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hd_log.h"
#include "hd_ratelog.h"
#include "hd_transport.h"

struct hd_conns {
    uint32_t max, count;
    uint64_t refused;
    uint8_t *open;     //  one bit per fd below nfds: a counted connection
    uint64_t nfds;
    zsock_t *mon[HD_CONNS_MAX_WATCH];
    zsock_t *watched[HD_CONNS_MAX_WATCH];  //  borrowed: the socket each monitor watches
    int nmon;
    hd_ratelog_t log;
};

uint32_t
hd_conns_cap (uint32_t wanted, uint64_t fd_limit)
{
    uint64_t room = fd_limit > HD_CONNS_RESERVE ? fd_limit - HD_CONNS_RESERVE : 1;
    uint64_t cap = wanted ? wanted : HD_CONNS_DEFAULT_MAX;
    return (uint32_t) (cap < room ? cap : room);
}

hd_conns_t *
hd_conns_new (uint32_t max, uint64_t fd_limit)
{
    hd_conns_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    //  An fd is below the soft limit, which the kernel's nr_open bounds (1 << 20 by default).
    self->nfds = fd_limit < (1u << 26) ? fd_limit : (1u << 26);
    self->open = calloc ((size_t) (self->nfds + 7) / 8, 1);
    if (!self->open) {
        free (self);
        return NULL;
    }
    self->max = max ? max : 1;
    hd_ratelog_init (&self->log, HD_RATELOG_WINDOW_MS);
    return self;
}

void
hd_conns_destroy (hd_conns_t **self_p)
{
    hd_conns_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->nmon; i++)
        hd_transport_monitor_stop (self->watched[i], &self->mon[i]);
    free (self->open);
    free (self);
    *self_p = NULL;
}

static bool
s_is_open (const hd_conns_t *self, int fd)
{
    return (self->open[fd / 8] >> (fd % 8)) & 1;
}

bool
hd_conns_accepted (hd_conns_t *self, int fd)
{
    if (fd < 0 || (uint64_t) fd >= self->nfds) {
        self->refused++;
        return false;
    }
    if (s_is_open (self, fd))
        return true;
    if (self->count >= self->max) {
        self->refused++;
        return false;
    }
    self->open[fd / 8] |= (uint8_t) (1u << (fd % 8));
    self->count++;
    return true;
}

void
hd_conns_closed (hd_conns_t *self, int fd)
{
    if (fd < 0 || (uint64_t) fd >= self->nfds || !s_is_open (self, fd))
        return;
    self->open[fd / 8] &= (uint8_t) ~(1u << (fd % 8));
    self->count--;
}

uint32_t
hd_conns_count (const hd_conns_t *self)
{
    return self->count;
}

uint32_t
hd_conns_max (const hd_conns_t *self)
{
    return self->max;
}

uint64_t
hd_conns_refused (const hd_conns_t *self)
{
    return self->refused;
}

hd_err_t
hd_conns_watch (hd_conns_t *self, zsock_t *sock)
{
    if (self->nmon == HD_CONNS_MAX_WATCH)
        return HD_EINVAL;
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://hd-conns-%p-%d", (void *) self, self->nmon);
    if (zmq_socket_monitor (zsock_resolve (sock), ep,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED)
        != 0)
        return HD_EIO;
    zsock_t *mon = hd_transport_monitor_reader (ep);
    if (!mon)
        return HD_ENOMEM;
    //  Arm the edge of its ZMQ_FD: libzmq signals only a reader that has found its pipe empty.
    zsock_events (mon);
    self->watched[self->nmon] = sock;
    self->mon[self->nmon++] = mon;
    return HD_OK;
}

void
hd_conns_fds (const hd_conns_t *self, int fds[HD_CONNS_MAX_WATCH])
{
    for (int i = 0; i < HD_CONNS_MAX_WATCH; i++) {
        fds[i] = -1;
        size_t len = sizeof fds[i];
        if (i < self->nmon)
            zmq_getsockopt (zsock_resolve (self->mon[i]), ZMQ_FD, &fds[i], &len);
    }
}

static void
s_refuse (hd_conns_t *self, int fd, int64_t now_ms)
{
    //  shutdown, not close: the fd is libzmq's. Its engine reads the end of the stream,
    //  closes the fd and says DISCONNECTED. Should libzmq have closed this fd already and
    //  given the number to a newer connection, that one (also over the cap) goes instead.
    if (fd >= 0)
        shutdown (fd, SHUT_RDWR);
    hd_conns_tick (self, now_ms);
    if (hd_ratelog_hit (&self->log, now_ms, NULL, 1))
        hd_warn ("connections: %u open, the most allowed (--max-connections): closing new ones "
                 "at once (more in the next %d s are counted, not logged)",
                 self->count, HD_RATELOG_WINDOW_MS / 1000);
}

//  One event: frame 1 is uint16 event + uint32 value (the fd), frame 2 the endpoint.
static bool
s_read_event (zsock_t *mon, uint16_t *event, uint32_t *value)
{
    if (!(zsock_events (mon) & ZMQ_POLLIN))
        return false;
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    bool ok = zmq_msg_recv (&msg, zsock_resolve (mon), ZMQ_DONTWAIT) >= 6;
    if (ok) {
        memcpy (event, zmq_msg_data (&msg), 2);
        memcpy (value, (uint8_t *) zmq_msg_data (&msg) + 2, 4);
    }
    while (zmq_msg_more (&msg))
        zmq_msg_recv (&msg, zsock_resolve (mon), 0);
    zmq_msg_close (&msg);
    return ok;
}

void
hd_conns_handle (hd_conns_t *self, int64_t now_ms)
{
    for (int i = 0; i < self->nmon; i++) {
        uint16_t event;
        uint32_t value;
        while (s_read_event (self->mon[i], &event, &value)) {
            if (event == ZMQ_EVENT_ACCEPTED && !hd_conns_accepted (self, (int) value))
                s_refuse (self, (int) value, now_ms);
            else if (event == ZMQ_EVENT_DISCONNECTED)
                hd_conns_closed (self, (int) value);
        }
    }
}

void
hd_conns_tick (hd_conns_t *self, int64_t now_ms)
{
    hd_ratelog_summary_t s;
    char count[27];
    if (hd_ratelog_flush (&self->log, now_ms, &s))
        hd_warn ("connections: closed %s new connections at once in the last %" PRId64
                 " s (at most %u at a time: --max-connections); %u open now",
                 hd_ratelog_count_text (s.count, count), s.seconds, self->max, self->count);
}
