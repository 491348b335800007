/*  hd_opts_check: whether a value suits an option (the same test for argv, config values and
    `heddle config check`), what a good value looks like, and the check of a whole config file
    against the option tables of its sections: every problem with its line, in line order, with
    "did you mean" for a misspelt key and the unit for "1s" given to a millisecond option.  */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hd_config_int.h"
#include "hd_opts_int.h"

int
hd_opts_choice_index (const char *choices, const char *value)
{
    size_t n = strlen (value);
    int index = 0;
    for (const char *p = choices; p && *p; index++) {
        const char *bar = strchr (p, '|');
        size_t len = bar ? (size_t) (bar - p) : strlen (p);
        if (len == n && strncmp (p, value, n) == 0)
            return index;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

void
hd_opts_choice_text (const hd_opt_t *opt, int value, char *out, size_t len)
{
    const char *p = opt->choices;
    for (int index = 0; p && *p; index++) {
        const char *bar = strchr (p, '|');
        int n = bar ? (int) (bar - p) : (int) strlen (p);
        if ((opt->values ? opt->values[index] : index) == value) {
            snprintf (out, len, "%.*s", n, p);
            return;
        }
        p = bar ? bar + 1 : NULL;
    }
    snprintf (out, len, "?");
}

const char *
hd_opts_unit_name (hd_opts_unit_t unit)
{
    switch (unit) {
        case HD_OPTS_MS: return "milliseconds";
        case HD_OPTS_SECONDS: return "seconds";
        case HD_OPTS_BYTES: return "bytes";
        case HD_OPTS_MIB: return "MiB";
        case HD_OPTS_MB: return "MB";
        case HD_OPTS_CELSIUS: return "degrees Celsius";
        case HD_OPTS_COUNT: return NULL;
    }
    return NULL;
}

static bool
s_is_int (const char *text, int64_t min, int64_t max)
{
    const char *digits = *text == '-' ? text + 1 : text;
    if (!isdigit ((unsigned char) *digits))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll (text, &end, 10);
    return !errno && !*end && v >= min && v <= max;
}

static bool
s_is_number (const char *text, double min, bool positive)
{
    errno = 0;
    char *end;
    double v = strtod (text, &end);
    return *text && !errno && !*end && isfinite (v) && (positive ? v > 0 : v >= min);
}

//  PORT in HOST:PORT, or in tcp://HOST:PORT. When binding, ZeroMQ's '*' and '!' pick a free
//  port, '*[FIRST-LAST]' / '![FIRST-LAST]' one in a range (the test environment uses them).
static bool
s_is_port (const char *text)
{
    if ((*text == '*' || *text == '!') && (!text[1] || (text[1] == '[' && strchr (text, ']'))))
        return true;
    return s_is_int (text, 1, 65535);
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
        if ((n == 3 && strncmp (value, "ipc", 3) == 0) || (n == 6 && strncmp (value, "inproc", 6) == 0))
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

static void
s_describe (const hd_opt_t *opt, char *out, size_t len)
{
    const char *unit = hd_opts_unit_name (opt->unit);
    switch (opt->kind) {
        case HD_OPTS_UINT:
        case HD_OPTS_U64:
        case HD_OPTS_INT:
            snprintf (out, len, "an integer from %lld to %lld%s%s%s", (long long) opt->min,
                      (long long) opt->max, unit ? " (" : "", unit ? unit : "", unit ? ")" : "");
            break;
        case HD_OPTS_NUMBER:
            snprintf (out, len, (opt->flags & HD_OPTS_POSITIVE) ? "a number > 0" : "a number >= %g",
                      (double) opt->min);
            break;
        case HD_OPTS_FLAG: snprintf (out, len, "yes or no (true/false, on/off, 1/0)"); break;
        case HD_OPTS_ENUM: snprintf (out, len, "one of %s", opt->choices); break;
        case HD_OPTS_ENDPOINT:
            snprintf (out, len, "tcp://HOST:PORT, HOST:PORT or HOST%s%s",
                      opt->choices ? ", or " : "", opt->choices ? opt->choices : "");
            break;
        default: snprintf (out, len, "a non-empty text"); break;
    }
}

bool
hd_opts_value_ok (const hd_opt_t *opt, const char *value, char *want, size_t wantlen)
{
    assert (opt && value);
    bool b, ok = false;
    switch (opt->kind) {
        case HD_OPTS_UINT:
        case HD_OPTS_U64:
        case HD_OPTS_INT: ok = s_is_int (value, opt->min, opt->max); break;
        case HD_OPTS_NUMBER:
            ok = s_is_number (value, (double) opt->min, opt->flags & HD_OPTS_POSITIVE);
            break;
        case HD_OPTS_FLAG: ok = hd_config_parse_bool (value, &b) == 0; break;
        case HD_OPTS_ENUM: ok = hd_opts_choice_index (opt->choices, value) >= 0; break;
        case HD_OPTS_ENDPOINT:
            ok = hd_opts_choice_index (opt->choices, value) >= 0 || s_is_endpoint (value);
            break;
        default: ok = *value != '\0'; break;
    }
    if (ok && opt->valid && !opt->valid (value)) {
        if (want)
            snprintf (want, wantlen, "%s", opt->valid_text ? opt->valid_text : "another value");
        return false;
    }
    if (!ok && want)
        s_describe (opt, want, wantlen);
    return ok;
}

const char *
hd_opts_unit_hint (const hd_opt_t *opt, const char *value)
{
    static char hint[96];
    const char *unit = hd_opts_unit_name (opt->unit);
    if ((opt->kind != HD_OPTS_UINT && opt->kind != HD_OPTS_U64 && opt->kind != HD_OPTS_INT)
        || !unit
        || !isdigit ((unsigned char) *value) || !isalpha ((unsigned char) value[strspn (value, "0123456789.")]))
        return "";
    snprintf (hint, sizeof hint, "; write the number alone, in %s (no unit suffix)", unit);
    return hint;
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

const char *
hd_opts_closest (const char *word, const char *const *names)
{
    const char *best = NULL;
    size_t best_d = 9;
    for (size_t i = 0; names[i]; i++) {
        size_t d = s_distance (word, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best && best_d <= 2 + strlen (word) / 6 ? best : NULL;
}

// --- a whole file ---------------------------------------------------------------------------

static const hd_opt_t *
s_find_key (const hd_opts_prog_t *prog, const char *key)
{
    for (const hd_opt_t *o = prog->opts; o->name; o++)
        if (o->kind != HD_OPTS_HEADING && o->kind != HD_OPTS_HELP && !(o->flags & HD_OPTS_NOCONF)
            && strcmp (o->name, key) == 0)
            return o;
    return NULL;
}

static const hd_opts_section_t *
s_find_section (const hd_opts_section_t *sections, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (sections[i].name, name) == 0)
            return &sections[i];
    return NULL;
}

//  " (did you mean 'KEY'?)", " (it belongs in [OTHER])", or "".
static void
s_suggest (const hd_opts_section_t *sections, size_t n, const hd_opts_section_t *in,
           const char *key, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (&sections[i] != in && s_find_key (sections[i].prog, key)) {
            snprintf (out, len, " (it belongs in [%s])", sections[i].name);
            return;
        }
    const char *names[HD_OPTS_MAX + 1];
    size_t count = 0;
    for (const hd_opt_t *o = in->prog->opts; o->name && count < HD_OPTS_MAX; o++)
        if (s_find_key (in->prog, o->name) == o)
            names[count++] = o->name;
    names[count] = NULL;
    const char *best = hd_opts_closest (key, names);
    if (best)
        snprintf (out, len, " (did you mean '%s'?)", best);
}

typedef struct {
    const hd_config_t *file;
    const hd_opts_section_t *sections;
    size_t n;
    const char *last_unknown;  //  an unknown section is reported once, at its first key
    hd_config_report_fn *report;
    void *arg;
} s_check_t;

static void
s_unknown_section (const s_check_t *c, const char *name, char *message, size_t len)
{
    int at = snprintf (message, len, "unknown section [%s] (known: ", name);
    for (size_t i = 0; i < c->n && at > 0 && (size_t) at < len; i++)
        at += snprintf (message + at, len - (size_t) at, "%s%s", i ? ", " : "", c->sections[i].name);
    if (at > 0 && (size_t) at < len)
        snprintf (message + at, len - (size_t) at, ")");
}

//  1 when the entry is a problem (reported), else 0.
static size_t
s_check_entry (s_check_t *c, const hd_config_entry_t *e)
{
    const hd_opts_section_t *section = s_find_section (c->sections, c->n, e->section);
    const hd_opt_t *opt = section ? s_find_key (section->prog, e->key) : NULL;
    char message[700], want[200], hint[96];
    if (!section) {
        if (c->last_unknown == e->section)
            return 0;
        c->last_unknown = e->section;
        s_unknown_section (c, e->section, message, sizeof message);
    }
    else if (!opt) {
        s_suggest (c->sections, c->n, section, e->key, hint, sizeof hint);
        snprintf (message, sizeof message, "unknown key '%s' in [%s]%s", e->key, e->section, hint);
    }
    else if (!hd_opts_value_ok (opt, e->value, want, sizeof want) || !*e->value) {
        if (!*e->value)
            s_describe (opt, want, sizeof want);
        snprintf (message, sizeof message, "bad value for '%s': '%s' is not %s%s", e->key,
                  e->value, want, hd_opts_unit_hint (opt, e->value));
    }
    else
        return 0;
    if (c->report)
        c->report (hd_config_name (c->file), e->line, message, c->arg);
    return 1;
}

size_t
hd_opts_check (const hd_config_t *file, const hd_opts_section_t *sections, size_t n,
               hd_config_report_fn *report, void *arg)
{
    assert (file);
    s_check_t c = { file, sections, n, NULL, report, arg };
    //  Syntax problems and entries, each in line order, merged: the report follows the file.
    size_t problems = 0, i = 0, j = 0, nsyntax = hd_config_syntax_count (file);
    while (i < nsyntax || j < hd_config_size (file)) {
        const hd_config_syntax_t *s = i < nsyntax ? hd_config_syntax (file, i) : NULL;
        const hd_config_entry_t *e = j < hd_config_size (file) ? hd_config_entry (file, j) : NULL;
        if (s && (!e || s->line <= e->line)) {
            if (report)
                report (hd_config_name (file), s->line, s->message, arg);
            problems++;
            i++;
        }
        else {
            problems += s_check_entry (&c, e);
            j++;
        }
    }
    return problems;
}
