/*  hd_config_check: the table of keys each section of the configuration file accepts, with the
    type and range of their values, and the check that reports every problem with its line.
    The keys are the long options of heddle-broker, heddle-worker and `heddle` (connection
    options); each program maps a key to its option, so the table and the programs must agree
    (docs/OPERATIONS.md, "Configuration file", lists the same keys).  */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_config_int.h"
#include "hd_discovery.h"
#include "hd_keys.h"

typedef enum {
    S_STRING,    //  any non-empty text
    S_UINT,      //  decimal integer in [min, max]
    S_DOUBLE,    //  number >= 0
    S_POSITIVE,  //  number > 0
    S_BOOL,      //  yes/no, true/false, on/off, 1/0
    S_ENUM,      //  one of `choices` ("a|b|c")
    S_ENDPOINT,  //  tcp://HOST:PORT, HOST:PORT, HOST, ipc://, inproc://; or a choice ("none")
    S_CLUSTER,   //  a cluster name for discovery: 1..32 of A-Z a-z 0-9 . _ -
    S_FINGERPRINT,  //  a key fingerprint: 32 hex digits, ':' between groups allowed
} s_type_t;

typedef struct {
    const char *section;
    const char *key;
    s_type_t type;
    uint32_t min, max;
    const char *choices;
} s_key_t;

#define S_LEVELS "error|warn|info|debug"
#define S_DAY_MS 86400000u

// clang-format off
static const s_key_t s_keys[] = {
    { "broker", "clients", S_ENDPOINT, 0, 0, NULL },
    { "broker", "workers", S_ENDPOINT, 0, 0, NULL },
    { "broker", "metrics", S_ENDPOINT, 0, 0, "none" },
    { "broker", "events", S_ENDPOINT, 0, 0, "none" },
    { "broker", "keys", S_STRING, 0, 0, NULL },
    { "broker", "insecure", S_BOOL, 0, 0, NULL },
    { "broker", "auto-approve", S_BOOL, 0, 0, NULL },
    { "broker", "insecure-key-perms", S_BOOL, 0, 0, NULL },
    { "broker", "max-connections", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "handshake-timeout", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "journal", S_ENUM, 0, 0, "sync|batch|none" },
    { "broker", "journal-dir", S_STRING, 0, 0, NULL },
    { "broker", "journal-batch", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "journal-max-mb", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "prefetch", S_UINT, 0, 4, NULL },
    { "broker", "prefetch-short", S_UINT, 0, 1023, NULL },
    { "broker", "max-payload", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "max-queue", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "heartbeat", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "misses", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "attempts", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "max-client-tasks", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "result-ttl", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "worker-wait", S_UINT, 0, UINT32_MAX, NULL },
    { "broker", "stale", S_UINT, 1, UINT32_MAX, NULL },
    { "broker", "temp-limit", S_DOUBLE, 0, 0, NULL },
    { "broker", "log-level", S_ENUM, 0, 0, S_LEVELS },
    { "broker", "cluster", S_CLUSTER, 0, 0, NULL },
    { "broker", "beacon-port", S_UINT, 1, 65535, NULL },
    { "broker", "beacon-interface", S_STRING, 0, 0, NULL },
    { "broker", "no-beacon", S_BOOL, 0, 0, NULL },
    { "broker", "http", S_STRING, 0, 0, NULL },
    { "broker", "http-token", S_STRING, 0, 0, NULL },
    { "worker", "broker", S_ENDPOINT, 0, 0, "auto" },
    { "worker", "keys", S_STRING, 0, 0, NULL },
    { "worker", "cert", S_STRING, 0, 0, NULL },
    { "worker", "broker-key", S_STRING, 0, 0, NULL },
    { "worker", "insecure", S_BOOL, 0, 0, NULL },
    { "worker", "insecure-key-perms", S_BOOL, 0, 0, NULL },
    { "worker", "state-dir", S_STRING, 0, 0, NULL },
    { "worker", "name", S_STRING, 0, 0, NULL },
    { "worker", "slots", S_UINT, 1, UINT32_MAX, NULL },
    { "worker", "tags", S_STRING, 0, 0, NULL },
    { "worker", "plugin", S_STRING, 0, 0, NULL },
    { "worker", "allow-exec", S_BOOL, 0, 0, NULL },
    { "worker", "max-output", S_UINT, 1, UINT32_MAX, NULL },
    { "worker", "misses", S_UINT, 1, UINT32_MAX, NULL },
    { "worker", "capacity", S_POSITIVE, 0, 0, NULL },
    { "worker", "metrics-interval", S_UINT, 1, UINT32_MAX, NULL },
    { "worker", "work-dir", S_STRING, 0, 0, NULL },
    { "worker", "log-level", S_ENUM, 0, 0, S_LEVELS },
    { "worker", "cluster", S_CLUSTER, 0, 0, NULL },
    { "worker", "beacon-port", S_UINT, 1, 65535, NULL },
    { "worker", "beacon-interface", S_STRING, 0, 0, NULL },
    { "worker", "discover-timeout", S_UINT, 0, UINT32_MAX, NULL },
    { "worker", "broker-fingerprint", S_FINGERPRINT, 0, 0, NULL },
    { "client", "broker", S_ENDPOINT, 0, 0, NULL },
    { "client", "keys", S_STRING, 0, 0, NULL },
    { "client", "cert", S_STRING, 0, 0, NULL },
    { "client", "insecure", S_BOOL, 0, 0, NULL },
    { "client", "insecure-key-perms", S_BOOL, 0, 0, NULL },
    { "client", "connect-timeout", S_UINT, 1, S_DAY_MS, NULL },
    { "client", "workers", S_UINT, 1, 1024, NULL },
    { "client", "slots", S_UINT, 0, 1024, NULL },
    { "client", "log-level", S_ENUM, 0, 0, S_LEVELS },
    { "client", "verbose", S_BOOL, 0, 0, NULL },
};
// clang-format on
#define S_NKEYS (sizeof s_keys / sizeof s_keys[0])

static const s_key_t *
s_find_key (const char *section, const char *key, bool *section_known)
{
    *section_known = false;
    for (size_t i = 0; i < S_NKEYS; i++) {
        if (strcmp (s_keys[i].section, section) != 0)
            continue;
        *section_known = true;
        if (strcmp (s_keys[i].key, key) == 0)
            return &s_keys[i];
    }
    return NULL;
}

static bool
s_is_choice (const char *choices, const char *value)
{
    size_t n = strlen (value);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr (p, '|');
        size_t len = bar ? (size_t) (bar - p) : strlen (p);
        if (len == n && strncmp (p, value, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

static bool
s_is_uint (const char *text, uint32_t min, uint32_t max)
{
    if (!isdigit ((unsigned char) *text))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull (text, &end, 10);
    return !errno && !*end && v >= min && v <= max;
}

static bool
s_is_number (const char *text, bool positive)
{
    errno = 0;
    char *end;
    double v = strtod (text, &end);
    return *text && !errno && !*end && isfinite (v) && (positive ? v > 0 : v >= 0);
}

//  PORT in HOST:PORT, or in tcp://HOST:PORT ('*' picks a free port when binding).
static bool
s_is_port (const char *text)
{
    return strcmp (text, "*") == 0 || s_is_uint (text, 1, 65535);
}

static bool
s_is_endpoint (const char *value)
{
    for (const char *p = value; *p; p++)
        if (isspace ((unsigned char) *p))
            return false;
    const char *scheme_end = strstr (value, "://");
    if (scheme_end) {
        const char *rest = scheme_end + 3;
        size_t n = (size_t) (scheme_end - value);
        if (n == 3 && strncmp (value, "ipc", 3) == 0)
            return *rest;
        if (n == 6 && strncmp (value, "inproc", 6) == 0)
            return *rest;
        const char *colon = strrchr (rest, ':');
        return n == 3 && strncmp (value, "tcp", 3) == 0 && colon && colon > rest
               && s_is_port (colon + 1);
    }
    const char *colon = strrchr (value, ':');
    if (strchr (value, '/') || colon == value)
        return false;
    return !colon || strchr (value, ']') || s_is_port (colon + 1);
}

//  The unit of a key's integer, or NULL. A value like "1s" or "500ms" gets told the unit
//  rather than only "not an integer".
static const char *
s_unit (const s_key_t *k)
{
    static const char *const ms[] = { "handshake-timeout", "journal-batch", "heartbeat",
                                      "result-ttl", "worker-wait", "stale", "metrics-interval",
                                      "connect-timeout" };
    if (strcmp (k->key, "discover-timeout") == 0)
        return "seconds";
    if (strcmp (k->key, "journal-max-mb") == 0 || strcmp (k->key, "max-payload") == 0)
        return strcmp (k->key, "max-payload") == 0 ? "bytes" : "MiB";
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
        if (strcmp (k->key, ms[i]) == 0)
            return "milliseconds";
    return NULL;
}

//  Levenshtein distance of two short words, capped at 9.
static size_t
s_distance (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b), row[64];
    if (la > 60 || lb > 60)
        return 9;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb] > 9 ? 9 : row[lb];
}

//  " (did you mean 'KEY'?)" for the closest key of the section, or " (it belongs in
//  [OTHER])" for a key of another section; "" when nothing is close.
static void
s_suggest (const char *section, const char *key, char *out, size_t outlen)
{
    const s_key_t *best = NULL;
    size_t best_d = 9;
    out[0] = 0;
    for (size_t i = 0; i < S_NKEYS; i++) {
        if (strcmp (s_keys[i].key, key) == 0 && strcmp (s_keys[i].section, section) != 0) {
            snprintf (out, outlen, " (it belongs in [%s])", s_keys[i].section);
            return;
        }
        size_t d = strcmp (s_keys[i].section, section) == 0 ? s_distance (key, s_keys[i].key) : 9;
        if (d < best_d) {
            best_d = d;
            best = &s_keys[i];
        }
    }
    if (best && best_d <= 2 + strlen (key) / 6)
        snprintf (out, outlen, " (did you mean '%s'?)", best->key);
}

static bool
s_value_ok (const s_key_t *k, const char *value)
{
    bool b;
    char fp[HD_FINGERPRINT_TEXT];
    switch (k->type) {
        case S_STRING: return true;
        case S_UINT: return s_is_uint (value, k->min, k->max);
        case S_DOUBLE: return s_is_number (value, false);
        case S_POSITIVE: return s_is_number (value, true);
        case S_BOOL: return hd_config_parse_bool (value, &b) == 0;
        case S_ENUM: return s_is_choice (k->choices, value);
        case S_ENDPOINT: return s_is_choice (k->choices, value) || s_is_endpoint (value);
        case S_CLUSTER: return hd_discovery_cluster_ok (value);
        case S_FINGERPRINT: return hd_keys_parse_fingerprint (value, fp) == HD_OK;
    }
    return false;
}

//  What a good value looks like, for the report.
static void
s_describe (const s_key_t *k, char *out, size_t outlen)
{
    switch (k->type) {
        case S_STRING: snprintf (out, outlen, "a non-empty text"); break;
        case S_UINT:
            snprintf (out, outlen, "an integer from %u to %u%s%s%s", k->min, k->max,
                      s_unit (k) ? " (" : "", s_unit (k) ? s_unit (k) : "", s_unit (k) ? ")" : "");
            break;
        case S_DOUBLE: snprintf (out, outlen, "a number >= 0"); break;
        case S_POSITIVE: snprintf (out, outlen, "a number > 0"); break;
        case S_BOOL: snprintf (out, outlen, "yes or no (true/false, on/off, 1/0)"); break;
        case S_ENUM: snprintf (out, outlen, "one of %s", k->choices); break;
        case S_ENDPOINT:
            snprintf (out, outlen, "tcp://HOST:PORT, HOST:PORT or HOST%s%s",
                      k->choices ? ", or " : "", k->choices ? k->choices : "");
            break;
        case S_CLUSTER:
            snprintf (out, outlen, "a cluster name (1..32 of A-Z a-z 0-9 . _ -)");
            break;
        case S_FINGERPRINT:
            snprintf (out, outlen, "a key fingerprint (32 hex digits, as `heddle keys "
                                   "fingerprint` prints it)");
            break;
    }
}

//  1 when the entry is a problem (reported), else 0. `*last_section` reports an unknown section
//  once, not once per key (the keys of a section share its name's pointer).
static size_t
s_check_entry (const hd_config_t *self, const hd_config_entry_t *e, const char **last_section,
               hd_config_report_fn *report, void *arg)
{
    bool section_known;
    const s_key_t *k = s_find_key (e->section, e->key, &section_known);
    char message[600], want[160], hint[96];
    if (!section_known) {
        if (*last_section == e->section)
            return 0;
        *last_section = e->section;
        snprintf (message, sizeof message, "unknown section [%s] (known: broker, worker, client)",
                  e->section);
    }
    else if (!k) {
        s_suggest (e->section, e->key, hint, sizeof hint);
        snprintf (message, sizeof message, "unknown key '%s' in [%s]%s", e->key, e->section, hint);
    }
    else if (!*e->value || !s_value_ok (k, e->value)) {
        s_describe (k, want, sizeof want);
        bool unit_given = k->type == S_UINT && s_unit (k) && isdigit ((unsigned char) *e->value)
                          && !s_is_uint (e->value, 0, UINT32_MAX);
        snprintf (message, sizeof message, "bad value for '%s': '%s' is not %s%s%s%s", e->key,
                  e->value, want, unit_given ? "; write the number alone, in " : "",
                  unit_given ? s_unit (k) : "", unit_given ? " (no unit suffix)" : "");
    }
    else
        return 0;
    if (report)
        report (hd_config_name (self), e->line, message, arg);
    return 1;
}

size_t
hd_config_check (const hd_config_t *self, hd_config_report_fn *report, void *arg)
{
    assert (self);
    //  Syntax problems and entries, each in line order, merged: the report follows the file.
    size_t problems = 0, i = 0, j = 0, nsyntax = hd_config_syntax_count (self);
    const char *last_section = NULL;
    while (i < nsyntax || j < hd_config_size (self)) {
        const hd_config_syntax_t *s = i < nsyntax ? hd_config_syntax (self, i) : NULL;
        const hd_config_entry_t *e = j < hd_config_size (self) ? hd_config_entry (self, j) : NULL;
        if (s && (!e || s->line <= e->line)) {
            if (report)
                report (hd_config_name (self), s->line, s->message, arg);
            problems++;
            i++;
        }
        else {
            problems += s_check_entry (self, e, &last_section, report, arg);
            j++;
        }
    }
    return problems;
}
