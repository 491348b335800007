/*  hd_http: libmicrohttpd with one internal polling thread. The only shared state is the
    published snapshot, under `lock`: a request renders it while holding the lock (well under
    a millisecond for a small cluster) and the broker's loop only ever try-locks to swap in a
    newer one, so the loop never waits for a slow client. Nothing here reads broker state.  */
#include "hd_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hd_log.h"

#define S_MAX_CONNECTIONS 32  //  at once; a scraper and a few dashboards need a handful
#define S_MAX_PER_PEER 8      //  so one LAN host cannot take every slot
#define S_TIMEOUT_S 10

struct hd_http {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;
    hd_snapshot_t *shared;  //  under lock; NULL until the first publish
    char token[128];        //  "" none
    char endpoint[128];
    atomic_uint_fast64_t requests;
};

bool
hd_http_is_loopback (const void *sockaddr)
{
    const struct sockaddr *sa = sockaddr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = sockaddr;
        return (ntohl (in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *) sockaddr)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK (a))
            return true;
        return IN6_IS_ADDR_V4MAPPED (a) && a->s6_addr[12] == 127;
    }
    return false;
}

//  Constant-time comparison, so a remote peer cannot find the token byte by byte.
static bool
s_token_ok (const char *token, const char *given)
{
    if (!given)
        return false;
    size_t n = strlen (token), m = strlen (given);
    unsigned char diff = (unsigned char) (n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char) (token[i] ^ (i < m ? given[i] : 0));
    return diff == 0;
}

bool
hd_http_allowed (const void *peer, const char *token, const char *authorization,
                 const char *token_arg)
{
    if (peer && hd_http_is_loopback (peer))
        return true;
    if (!token || !*token)
        return false;
    if (authorization && strncmp (authorization, "Bearer ", 7) == 0 &&
        s_token_ok (token, authorization + 7))
        return true;
    return s_token_ok (token, token_arg);
}

static bool
s_allowed (const hd_http_t *self, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return hd_http_allowed (
        ci ? ci->client_addr : NULL, self->token,
        MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, "token"));
}

static enum MHD_Result
s_respond (struct MHD_Connection *conn, unsigned int status, const char *type, void *data,
           size_t size, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer (size, data, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header (r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header (r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (r, "X-Frame-Options", "DENY");
    MHD_add_response_header (r, "Content-Security-Policy",
                             "default-src 'none'; script-src 'unsafe-inline'; style-src "
                             "'unsafe-inline'; connect-src 'self'; img-src data:");
    enum MHD_Result ret = MHD_queue_response (conn, status, r);
    MHD_destroy_response (r);
    return ret;
}

static enum MHD_Result
s_text (struct MHD_Connection *conn, unsigned int status, const char *text)
{
    return s_respond (conn, status, "text/plain; charset=utf-8", (void *) (uintptr_t) text,
                      strlen (text), MHD_RESPMEM_PERSISTENT);
}

//  Render the shared snapshot with `render` and send it.
static enum MHD_Result
s_render (hd_http_t *self, struct MHD_Connection *conn, const char *type,
          hd_err_t (*render) (const hd_snapshot_t *, hd_buf_t *))
{
    hd_buf_t buf = { 0 };
    pthread_mutex_lock (&self->lock);
    hd_err_t rc = self->shared ? render (self->shared, &buf) : HD_ENOTFOUND;
    pthread_mutex_unlock (&self->lock);
    if (rc != HD_OK) {
        hd_buf_fini (&buf);
        return rc == HD_ENOTFOUND ? s_text (conn, 503, "starting: no snapshot yet, retry\n")
                                  : s_text (conn, 500, "out of memory\n");
    }
    //  MHD frees the block with free () once sent: it is the buffer's own.
    return s_respond (conn, 200, type, buf.data, buf.size, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result
s_handle (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void) version, (void) upload_data, (void) con_cls;
    hd_http_t *self = cls;
    atomic_fetch_add (&self->requests, 1);
    if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
        return s_text (conn, 405, "read-only endpoint: GET only\n");
    if (*upload_size)
        return s_text (conn, 400, "no request body expected\n");
    if (!s_allowed (self, conn))
        return s_text (conn, 401,
                       "this address needs the broker's --http-token: send "
                       "'Authorization: Bearer TOKEN' or add ?token=TOKEN\n");
    if (strcmp (url, "/metrics") == 0)
        return s_render (self, conn, "text/plain; version=0.0.4; charset=utf-8", hd_snapshot_prom);
    if (strcmp (url, "/api/state") == 0)
        return s_render (self, conn, "application/json", hd_snapshot_json);
    if (strcmp (url, "/") == 0 || strcmp (url, "/index.html") == 0)
        return s_respond (conn, 200, "text/html; charset=utf-8",
                          (void *) (uintptr_t) hd_dashboard_html, hd_dashboard_html_len,
                          MHD_RESPMEM_PERSISTENT);
    if (strcmp (url, "/healthz") == 0)
        return s_text (conn, 200, "ok\n");
    return s_text (conn, 404, "not found: try /, /metrics, /api/state or /healthz\n");
}

static void
s_log (void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char text[256];
    vsnprintf (text, sizeof text, fmt, ap);
    text[strcspn (text, "\n")] = 0;
    hd_debug ("http: %s", text);
}

//  Split "HOST:PORT" / "[V6]:PORT" / ":PORT" and resolve numerically into *sa.
static hd_err_t
s_resolve (const char *listen, struct sockaddr_storage *sa, socklen_t *salen, char *errbuf,
           size_t errlen)
{
    char host[128] = "";
    const char *colon = strrchr (listen, ':');
    const char *port = colon ? colon + 1 : "";
    size_t hlen = colon ? (size_t) (colon - listen) : 0;
    if (hlen >= 2 && listen[0] == '[' && listen[hlen - 1] == ']') {
        listen++;
        hlen -= 2;
    }
    char *end;
    unsigned long p = strtoul (port, &end, 10);
    if (!colon || !*port || *end || p > 65535 || hlen >= sizeof host) {
        snprintf (errbuf, errlen, "--http takes HOST:PORT (e.g. 127.0.0.1:7780), got '%s'", listen);
        return HD_EINVAL;
    }
    memcpy (host, listen, hlen);
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                              .ai_socktype = SOCK_STREAM },
                    *res = NULL;
    int rc = getaddrinfo (hlen ? host : "0.0.0.0", port, &hints, &res);
    if (rc != 0 || !res || res->ai_addrlen > sizeof *sa) {
        snprintf (errbuf, errlen, "--http: '%s' is not a numeric address (%s)", host,
                  rc ? gai_strerror (rc) : "none");
        if (res)
            freeaddrinfo (res);
        return HD_EINVAL;
    }
    memcpy (sa, res->ai_addr, res->ai_addrlen);
    *salen = res->ai_addrlen;
    freeaddrinfo (res);
    return HD_OK;
}

static void
s_set_endpoint (hd_http_t *self, const struct sockaddr_storage *sa)
{
    char host[INET6_ADDRSTRLEN] = "?";
    const union MHD_DaemonInfo *di = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : 0;
    if (sa->ss_family == AF_INET6) {
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, host, sizeof host);
        snprintf (self->endpoint, sizeof self->endpoint, "[%s]:%u", host, port);
        return;
    }
    inet_ntop (AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, host, sizeof host);
    snprintf (self->endpoint, sizeof self->endpoint, "%s:%u", host, port);
}

hd_err_t
hd_http_start (hd_http_t **out, const char *listen, const char *token, char *errbuf, size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage sa;
    socklen_t salen;
    hd_err_t rc = s_resolve (listen, &sa, &salen, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    if (token && (!*token || strlen (token) >= 128)) {
        snprintf (errbuf, errlen, "--http-token must be 1..127 characters");
        return HD_EINVAL;
    }
    if (!token && !hd_http_is_loopback (&sa)) {
        snprintf (errbuf, errlen,
                  "--http %s is beyond loopback: give --http-token TOKEN too "
                  "(in the config file, not on the command line), or listen "
                  "on 127.0.0.1",
                  listen);
        return HD_EINVAL;
    }
    hd_http_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    snprintf (self->token, sizeof self->token, "%s", token ? token : "");
    pthread_mutex_init (&self->lock, NULL);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                     (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    self->daemon = MHD_start_daemon (flags, 0, NULL, NULL, s_handle, self, MHD_OPTION_SOCK_ADDR,
                                     (struct sockaddr *) &sa, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned) S_MAX_CONNECTIONS,
                                     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) S_MAX_PER_PEER,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) S_TIMEOUT_S,
                                     MHD_OPTION_EXTERNAL_LOGGER, s_log, NULL, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (errbuf, errlen, "cannot listen for HTTP on %s (address in use or not here?)",
                  listen);
        hd_http_destroy (&self);
        return HD_EIO;
    }
    s_set_endpoint (self, &sa);
    *out = self;
    return HD_OK;
}

void
hd_http_destroy (hd_http_t **self_p)
{
    hd_http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    pthread_mutex_destroy (&self->lock);
    free (self->shared);
    free (self);
    *self_p = NULL;
}

const char *
hd_http_endpoint (const hd_http_t *self)
{
    return self->endpoint;
}

bool
hd_http_publish (hd_http_t *self, hd_snapshot_t **snap_p)
{
    if (pthread_mutex_trylock (&self->lock) != 0)
        return false;
    hd_snapshot_t *old = self->shared;
    self->shared = *snap_p;
    pthread_mutex_unlock (&self->lock);
    *snap_p = old;
    return true;
}

uint64_t
hd_http_requests (const hd_http_t *self)
{
    return atomic_load (&((hd_http_t *) (uintptr_t) self)->requests);
}
