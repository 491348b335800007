/*  hd_client_diag: why a client could not reach the broker, in words a person can act on:
    unknown host (getaddrinfo), nothing listening or no route (a plain TCP connect to the same
    address when libzmq never got a connection), a handshake that never finished, the workers
    endpoint (ZAP 500 from heddle's handler: the key belongs to another role), a key not on clients.keys (ZAP 400).
    libzmq retries quietly and tells none of this apart, so the checks are made here, once the
    connection has failed; none of them runs on the path of a working client.  */
#include "hd_client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_PROBE_MS 1000

//  "tcp://HOST:PORT" into host and port ("[v6]" loses its brackets). false for other endpoints.
static bool
s_split (const char *endpoint, char *host, size_t hostlen, char *port, size_t portlen)
{
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *h = endpoint + 6, *colon = strrchr (h, ':');
    if (!colon || colon == h)
        return false;
    size_t n = (size_t) (colon - h);
    if (*h == '[' && n >= 2 && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    snprintf (host, hostlen, "%.*s", (int) n, h);
    snprintf (port, portlen, "%s", colon + 1);
    return true;
}

hd_err_t
hd_client_check_host (hd_client_t *self)
{
    char host[256], port[16];
    if (!s_split (self->endpoint, host, sizeof host, port, sizeof port) || strcmp (host, "*") == 0)
        return HD_OK;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    int rc = getaddrinfo (host, port, &hints, &res);
    if (res)
        freeaddrinfo (res);
    if (rc == 0)
        return HD_OK;
    return hd_client_fail (self, HD_EINVAL,
                           "unknown host '%s' (%s): check the name in --broker or "
                           "$HEDDLE_BROKER, or give the broker's IP address",
                           host, rc == EAI_SYSTEM ? strerror (errno) : gai_strerror (rc));
}

//  A TCP connect to the first address of host:port within S_PROBE_MS: 0 when it connected,
//  else the errno (ETIMEDOUT when nothing answered).
static int
s_probe (const char *host, const char *port)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo (host, port, &hints, &res) != 0 || !res)
        return EHOSTUNREACH;
    int fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0 && connect (fd, res->ai_addr, res->ai_addrlen) != 0) {
        err = errno;
        struct pollfd p = { fd, POLLOUT, 0 };
        socklen_t len = sizeof err;
        if (err == EINPROGRESS)
            err = poll (&p, 1, S_PROBE_MS) == 1
                          && getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0
                      ? err
                      : ETIMEDOUT;
    }
    if (fd >= 0)
        close (fd);
    freeaddrinfo (res);
    return err;
}

//  No TCP connection was ever made: ask the network why.
static void
s_explain_no_connection (hd_client_t *self)
{
    char host[256], port[16];
    if (!s_split (self->endpoint, host, sizeof host, port, sizeof port))
        return;
    int err = s_probe (host, port);
    if (err == ECONNREFUSED)
        hd_client_fail (self, HD_ETIMEDOUT,
                        "nothing is listening on %s port %s: is heddle-broker running there, "
                        "with its clients endpoint on that port (--clients, default 7700)?",
                        host, port);
    else if (err == EHOSTUNREACH || err == ENETUNREACH || err == EADDRNOTAVAIL)
        hd_client_fail (self, HD_ETIMEDOUT,
                        "no route to %s (%s): check the address and this machine's network",
                        host, strerror (err));
    else if (err == ETIMEDOUT)
        hd_client_fail (self, HD_ETIMEDOUT,
                        "no answer from %s port %s within %d ms: the host is down, or a "
                        "firewall drops the packets (the broker needs TCP %s open)",
                        host, port, S_PROBE_MS, port);
    else if (err != 0)
        hd_client_fail (self, HD_ETIMEDOUT, "cannot connect to %s port %s: %s", host, port,
                        strerror (err));
}

void
hd_client_diagnose (hd_client_t *self)
{
    if (self->denied || self->handshake_failed)
        return;  //  the handshake failed or was refused: the monitor's event said why
    if (!self->tcp_connected)
        s_explain_no_connection (self);
    else if (!self->handshaken && !self->config.insecure)
        hd_client_fail (self, HD_ETIMEDOUT,
                        "%s accepted the connection but the CURVE handshake never finished: "
                        "is that a heddle broker's clients endpoint (not its metrics or events "
                        "port, not another program)?",
                        self->endpoint);
}

void
hd_client_on_auth_failure (hd_client_t *self, uint32_t status)
{
    char id[HD_KEY_ID_TEXT] = "?";
    const char *key = self->cert ? zcert_public_txt (self->cert) : "?";
    hd_keys_id (key, id);
    self->denied = true;
    if (status == 500)
        hd_client_fail (self, HD_EDENIED,
                        "handshake refused: the broker at %s knows this key (id %s) for another "
                        "role. Either %s is its workers endpoint (clients connect to its "
                        "clients endpoint, port 7700 unless its --clients says otherwise), or "
                        "this is a worker's key (use a client's or admin's: --cert "
                        "KEYS/client.cert_secret)",
                        self->endpoint, id, self->endpoint);
    else
        hd_client_fail (self, HD_EDENIED,
                        "handshake refused: this client's key (id %s, public key %s) is not on "
                        "the broker's clients.keys or admins.keys: add that line to the "
                        "broker's KEYS/clients.keys and restart it, or use the keys made for "
                        "this cluster (--keys DIR, --cert FILE)",
                        id, key);
}
