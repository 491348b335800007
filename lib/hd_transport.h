/*  hd_transport: socket set-up for heddle's processes: endpoints, CURVE (server and client
    side, with the ZAP domain enforced so the broker fails closed), the options every heddle
    socket needs (ROUTER_MANDATORY, handover, high-water marks, MAXMSGSIZE), a monitor that
    tells a peer its key was refused, and small helpers to send frames. Moves opaque frames;
    knows nothing of MessagePack.  */
#ifndef HD_TRANSPORT_H
#define HD_TRANSPORT_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "hd_err.h"
#include "hd_keys.h"

//  A client connection claims its session in this ZMTP connection property (ZMQ_METADATA),
//  sent inside the CURVE handshake and carried by every message the broker receives from it.
#define HD_SESSION_PROPERTY "X-Session"
#define HD_SESSION_MAX 255          //  a session id: 1..255 bytes, each 0x21..0x7e
//  A client connection's routing id: at least this many random bytes. It is where the broker
//  sends the session's results, so it must be unguessable (PROTOCOL §9, SECURITY §6).
#define HD_CLIENT_RID_MIN 16

//  Whether `id` (len bytes) is a valid session id: 1..HD_SESSION_MAX visible ASCII characters.
bool hd_transport_session_valid (const char *id, size_t len);
//  A fresh random client routing id: "r-" + 32 hex digits (16 random bytes), NUL-terminated.
#define HD_CLIENT_RID_TEXT 35
void hd_transport_client_rid (char out[HD_CLIENT_RID_TEXT]);
//  Set the X-Session property of a socket not yet connected (hd_sockopts_t.session does it for
//  hd_transport_connect). HD_EINVAL invalid id, HD_EIO libzmq refused; text in errbuf.
hd_err_t hd_transport_claim (zsock_t *sock, const char *session, char *errbuf, size_t errlen);

typedef struct {
    bool insecure;                  //  no CURVE (inproc://, or tcp with --insecure)
    zcert_t *cert;                  //  own certificate with its secret key (borrowed)
    char server_key[HD_KEY_TEXT];   //  connect side: the broker's public key
    const char *zap_domain;         //  bind side: HD_DOMAIN_CLIENTS / HD_DOMAIN_WORKERS
    int64_t max_msg_size;           //  ZMQ_MAXMSGSIZE, 0: unlimited
    int hwm;                        //  send and receive high-water marks, 0: 100000
    int sndhwm;                     //  send high-water mark alone, 0: hwm
    bool handover;                  //  ROUTER_HANDOVER (a reconnecting peer takes its id back)
    int handshake_ms;               //  ZMQ_HANDSHAKE_IVL: a connection whose handshake has not
                                    //  finished this long is closed; 0: libzmq's 30 s
    const char *routing_id;         //  connect side: ZMQ_ROUTING_ID, NULL: libzmq's choice
    const char *session;            //  connect side: the X-Session connection property a
                                    //  client claims its session with (PROTOCOL §9), or NULL
    zsock_t **monitor_out;          //  connect side: attach a handshake monitor (see
                                    //  hd_transport_monitor) BEFORE connecting, so that no
                                    //  event of the first handshake is missed; caller destroys
} hd_sockopts_t;

//  Create a socket of `type`, apply options, bind. HD_OK with *out (caller destroys);
//  HD_EIO with text when the bind fails; HD_ECRYPTO when CURVE is asked without a cert.
hd_err_t hd_transport_bind (zsock_t **out, int type, const char *endpoint, const hd_sockopts_t *o,
                            char *errbuf, size_t errlen);
//  Same, connecting. CURVE needs o->cert and o->server_key.
hd_err_t hd_transport_connect (zsock_t **out, int type, const char *endpoint,
                               const hd_sockopts_t *o, char *errbuf, size_t errlen);
//  Normalise "host", "host:port", "tcp://host:port", "inproc://x", "ipc://x" into `out`.
//  "*" or "" as host means all interfaces (bind side).
void hd_transport_endpoint (char *out, size_t outlen, const char *spec, int default_port);
bool hd_transport_is_tcp (const char *endpoint);

//  Handshake monitor on a connecting socket: *out is a PAIR receiving libzmq monitor events.
hd_err_t hd_transport_monitor (zsock_t *sock, zsock_t **out);
//  The reading end of a monitor started with zmq_socket_monitor on `endpoint`: a PAIR with no
//  receive limit, so libzmq's blocking event sends can never stop its I/O thread. NULL on
//  failure. Caller destroys.
zsock_t *hd_transport_monitor_reader (const char *endpoint);
//  End a monitor: stop it on the socket it watches (`watched`, NULL when that is gone already),
//  then destroy its reader; *reader is NULL after. Always in this order, before the watched socket
//  is closed: a monitor whose reader is gone makes libzmq's next event send (from the I/O thread,
//  blocking, on a PAIR with no peer) wait for ever, and every socket of the context with it. A
//  closed socket still emits events while its connections wind down (a refused handshake's
//  retry, a disconnect), so destroying the reader first froze processes at random.
void hd_transport_monitor_stop (zsock_t *watched, zsock_t **reader);
//  Read one monitor event (non-blocking when none waits: returns 0). Returns the event code.
int hd_transport_monitor_event (zsock_t *mon);
//  Same, with the event's value in *value (may be NULL): the ZAP status code (300, 400, 500)
//  of ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, the fd of ZMQ_EVENT_CONNECTED.
int hd_transport_monitor_next (zsock_t *mon, uint32_t *value);
//  The socket's ZMQ_FD (-1 for NULL): it polls readable when libzmq may have something for the
//  socket, edge-triggered. A loop may poll it as a plain fd (cheaper than a zmq item, for which
//  zmq_poll asks ZMQ_EVENTS on every pass) if, once woken, it reads until ZMQ_EVENTS shows no
//  POLLIN, as hd_transport_monitor_event's callers do.
int hd_transport_fd (void *sock);

//  Frame helpers on raw libzmq sockets (zsock_resolve). Each returns 0 or -1 (errno from zmq).
int hd_send_header (void *sock, uint8_t cmd, int flags);
static inline int
hd_send_frame (void *sock, const void *data, size_t size, int flags)
{
    return zmq_send (sock, data, size, flags) < 0 ? -1 : 0;
}

#endif
