/*  hd_discovery: the beacon payload, as pure functions (encode, strict decode, what a broker
    bound on an endpoint announces, where a beacon points). The zbeacon actors that send and
    receive it are in hd_discovery_net.c.  */
#include "hd_discovery.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FIELDS 5  //  magic+version, cluster, host, port, key

bool
hd_discovery_cluster_ok (const char *name)
{
    size_t n = name ? strlen (name) : 0;
    if (n == 0 || n > HD_CLUSTER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum ((unsigned char) name[i]) && !strchr ("._-", name[i]))
            return false;
    return true;
}

//  "*", or a host name / IPv4 / IPv6 literal without brackets: no blank, nothing a shell or the
//  endpoint syntax would read differently.
static bool
s_host_ok (const char *host)
{
    size_t n = strlen (host);
    if (strcmp (host, "*") == 0)
        return true;
    if (n == 0 || n > HD_BEACON_HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum ((unsigned char) host[i]) && !strchr (".:-", host[i]))
            return false;
    return true;
}

//  Decimal 1..65535 without sign or leading zero. 0 when the text is anything else.
static uint16_t
s_port (const char *text)
{
    size_t n = strlen (text);
    if (n == 0 || n > 5 || text[0] == '0')
        return 0;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) text[i]))
            return 0;
        v = v * 10 + (unsigned long) (text[i] - '0');
    }
    return v <= 65535 ? (uint16_t) v : 0;
}

hd_err_t
hd_discovery_encode_beacon (const hd_beacon_t *beacon, char *out, size_t outlen, size_t *size)
{
    if (!hd_discovery_cluster_ok (beacon->cluster) || !s_host_ok (beacon->host) || !beacon->port ||
        (beacon->key[0] && !hd_keys_is_z85 (beacon->key)))
        return HD_EINVAL;
    int n = snprintf (out, outlen, "%s%d %s %s %u %s", HD_BEACON_MAGIC, HD_BEACON_VERSION,
                      beacon->cluster, beacon->host, (unsigned) beacon->port,
                      beacon->key[0] ? beacon->key : "-");
    if (n < 0 || (size_t) n >= outlen || n > HD_BEACON_MAX)
        return HD_ETOOBIG;
    *size = (size_t) n;
    return HD_OK;
}

//  "HEDDLE<digits>": HD_OK for our version, HD_EVERSION for another, HD_EPROTO for no magic.
static hd_err_t
s_check_magic (const char *word)
{
    size_t m = strlen (HD_BEACON_MAGIC);
    if (strncmp (word, HD_BEACON_MAGIC, m) != 0)
        return HD_EPROTO;
    const char *v = word + m;
    size_t n = strlen (v);
    if (n == 0 || n > 3)
        return HD_EPROTO;
    for (size_t i = 0; i < n; i++)
        if (!isdigit ((unsigned char) v[i]))
            return HD_EPROTO;
    return atoi (v) == HD_BEACON_VERSION ? HD_OK : HD_EVERSION;
}

//  Cut `text` at single spaces into at most max words. Returns the number of words, or -1 for
//  an empty word (two spaces, a leading or trailing space) or more than max words.
static int
s_split (char *text, char **words, int max)
{
    int n = 0;
    for (char *p = text;;) {
        char *space = strchr (p, ' ');
        if (n == max || space == p || *p == '\0')
            return -1;
        words[n++] = p;
        if (!space)
            return n;
        *space = '\0';
        p = space + 1;
    }
}

static hd_err_t
s_fill (char **w, hd_beacon_t *out)
{
    if (!hd_discovery_cluster_ok (w[1]) || !s_host_ok (w[2]) || !(out->port = s_port (w[3])))
        return HD_EPROTO;
    if (strcmp (w[4], "-") != 0 && !hd_keys_is_z85 (w[4]))
        return HD_EPROTO;
    snprintf (out->cluster, sizeof out->cluster, "%s", w[1]);
    snprintf (out->host, sizeof out->host, "%s", w[2]);
    snprintf (out->key, sizeof out->key, "%s", strcmp (w[4], "-") == 0 ? "" : w[4]);
    return HD_OK;
}

hd_err_t
hd_discovery_decode_beacon (const void *data, size_t size, hd_beacon_t *out)
{
    memset (out, 0, sizeof *out);
    if (size > HD_BEACON_MAX)
        return HD_ETOOBIG;
    char text[HD_BEACON_MAX + 1];
    if (size == 0 || memchr (data, '\0', size))
        return HD_EPROTO;
    memcpy (text, data, size);
    text[size] = '\0';
    //  The version is read before the fields are counted: another version may have others.
    char first[16];
    size_t m = strcspn (text, " ");
    if (m >= sizeof first)
        return HD_EPROTO;
    memcpy (first, text, m);
    first[m] = '\0';
    hd_err_t rc = s_check_magic (first);
    if (rc != HD_OK)
        return rc;
    char *words[S_FIELDS];
    if (s_split (text, words, S_FIELDS) != S_FIELDS || (rc = s_fill (words, out)) != HD_OK) {
        memset (out, 0, sizeof *out);
        return HD_EPROTO;
    }
    return HD_OK;
}

static bool
s_is_wildcard (const char *host)
{
    return !*host || strcmp (host, "*") == 0 || strcmp (host, "0.0.0.0") == 0 ||
           strcmp (host, "::") == 0;
}

static bool
s_is_loopback (const char *host)
{
    return strncmp (host, "127.", 4) == 0 || strcmp (host, "::1") == 0 ||
           strcmp (host, "localhost") == 0;
}

hd_err_t
hd_discovery_beacon_for (hd_beacon_t *out, const char *cluster, const char *bound_endpoint,
                         const char *key, char *errbuf, size_t errlen)
{
    memset (out, 0, sizeof *out);
    char host[256];
    const char *colon = strrchr (bound_endpoint, ':');
    if (strncmp (bound_endpoint, "tcp://", 6) != 0 || !colon || colon < bound_endpoint + 6) {
        snprintf (errbuf, errlen, "the workers endpoint %s is not TCP", bound_endpoint);
        return HD_EINVAL;
    }
    snprintf (host, sizeof host, "%.*s", (int) (colon - bound_endpoint - 6), bound_endpoint + 6);
    size_t n = strlen (host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove (host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (s_is_loopback (host)) {
        snprintf (errbuf, errlen, "the workers endpoint %s is loopback only", bound_endpoint);
        return HD_EINVAL;
    }
    snprintf (out->cluster, sizeof out->cluster, "%s", cluster ? cluster : "");
    const char *shown = s_is_wildcard (host) ? "*" : host;
    if (strlen (shown) >= sizeof out->host) {
        snprintf (errbuf, errlen, "the workers endpoint's host is longer than %zu bytes",
                  sizeof out->host - 1);
        return HD_EINVAL;
    }
    memcpy (out->host, shown, strlen (shown) + 1);
    snprintf (out->key, sizeof out->key, "%s", key ? key : "");
    out->port = s_port (colon + 1);
    char text[HD_BEACON_MAX + 1];
    size_t size;
    if (hd_discovery_encode_beacon (out, text, sizeof text, &size) != HD_OK) {
        snprintf (errbuf, errlen,
                  "cannot announce %s for cluster '%s' (cluster: 1..%d of "
                  "A-Z a-z 0-9 . _ -)",
                  bound_endpoint, cluster ? cluster : "", HD_CLUSTER_MAX);
        return HD_EINVAL;
    }
    return HD_OK;
}

char *
hd_discovery_endpoint (const hd_beacon_t *beacon, const char *sender, char *out, size_t outlen)
{
    const char *host = strcmp (beacon->host, "*") == 0 ? sender : beacon->host;
    bool v6 = strchr (host, ':') != NULL;
    snprintf (out, outlen, "tcp://%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
              (unsigned) beacon->port);
    return out;
}
