/*  hd_opts: parsing argv and config file values through an option table, the --help text and
    --print-config. The value checks (shared with the config check) are in hd_opts_check.c, the
    man page and completion words in hd_opts_doc.c. getopt_long's table is built here from the
    option tables on each parse, so no program keeps a second list of its options.  */
#include "hd_opts.h"

#include <assert.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "hd_opts_int.h"

#define S_LONG_BASE 1000  //  getopt_long value of option i of a parse: S_LONG_BASE + i
#define S_HELP_COL 27     //  column of the help text in --help
#define S_WIDTH 79

static void *
s_field (void *target, const hd_opt_t *opt)
{
    return (char *) target + opt->offset;
}

static const void *
s_cfield (const void *target, const hd_opt_t *opt)
{
    return (const char *) target + opt->offset;
}

bool
hd_opts_takes_value (const hd_opt_t *opt)
{
    return opt->kind != HD_OPTS_FLAG && opt->kind != HD_OPTS_HELP;
}

//  The plain store by kind: the value was checked (hd_opts_value_ok).
static void
s_store (void *target, const hd_opt_t *opt, const char *arg)
{
    void *field = s_field (target, opt);
    switch (opt->kind) {
        case HD_OPTS_FLAG: *(bool *) field = true; break;
        case HD_OPTS_UINT: *(uint32_t *) field = (uint32_t) strtoull (arg, NULL, 10); break;
        case HD_OPTS_U64: *(uint64_t *) field = (uint64_t) strtoull (arg, NULL, 10); break;
        case HD_OPTS_INT: *(int32_t *) field = (int32_t) strtoll (arg, NULL, 10); break;
        case HD_OPTS_NUMBER: *(double *) field = strtod (arg, NULL); break;
        case HD_OPTS_STRING:
        case HD_OPTS_ENDPOINT: *(const char **) field = arg; break;
        case HD_OPTS_ENUM: {
            int index = hd_opts_choice_index (opt->choices, arg);
            *(int *) field = opt->values ? opt->values[index] : index;
            break;
        }
        case HD_OPTS_HELP:
        case HD_OPTS_HEADING: break;
    }
}

//  Check, store, then the setter. 0, or -1 with "--NAME why" in err.
static int
s_set (void *target, const hd_opt_t *opt, const char *arg, char *err, size_t errlen)
{
    char want[200], why[256] = "";
    if (hd_opts_takes_value (opt) && !hd_opts_value_ok (opt, arg, want, sizeof want)) {
        snprintf (err, errlen, "--%s wants %s, not '%s'%s", opt->name, want, arg,
                  hd_opts_unit_hint (opt, arg));
        return -1;
    }
    if (opt->offset >= 0)
        s_store (target, opt, arg);
    if (opt->set && opt->set (target, opt, arg, why, sizeof why) != 0) {
        snprintf (err, errlen, "--%s: %s", opt->name, why);
        return -1;
    }
    return 0;
}

static const hd_opt_t *
s_find (const hd_opts_prog_t *prog, const char *name)
{
    for (const hd_opt_t *o = prog->opts; o->name; o++)
        if (o->kind != HD_OPTS_HEADING && strcmp (o->name, name) == 0)
            return o;
    return NULL;
}

int
hd_opts_set (const hd_opts_use_t *use, const char *name, const char *value, char *err,
             size_t errlen)
{
    assert (use && name);
    const hd_opt_t *opt = s_find (use->prog, name);
    if (!opt) {
        snprintf (err, errlen, "unknown option '--%s'", name);
        return -1;
    }
    return s_set (use->target, opt, hd_opts_takes_value (opt) ? value : NULL, err, errlen);
}

int
hd_opts_apply_file (const hd_opts_use_t *use, const hd_config_t *file)
{
    assert (use);
    for (size_t i = 0; file && use->prog->section && i < hd_config_size (file); i++) {
        const hd_config_entry_t *e = hd_config_entry (file, i);
        const hd_opt_t *opt = s_find (use->prog, e->key);
        bool on = true;
        if (strcmp (e->section, use->prog->section) != 0 || !opt || (opt->flags & HD_OPTS_NOCONF)
            || (!hd_opts_takes_value (opt) && (hd_config_parse_bool (e->value, &on) != 0 || !on)))
            continue;  //  the check refused unknown keys and bad booleans before
        char err[512];
        if (s_set (use->target, opt, hd_opts_takes_value (opt) ? e->value : NULL, err, sizeof err)
            != 0) {
            fprintf (stderr, "%s: %s:%d: %s\n", use->prog->name, hd_config_name (file), e->line,
                     err);
            return -1;
        }
    }
    return 0;
}

// --- argv -----------------------------------------------------------------------------------

typedef struct {
    struct option longs[HD_OPTS_MAX + 1];
    const hd_opt_t *opts[HD_OPTS_MAX];
    void *targets[HD_OPTS_MAX];
    char shorts[3 * HD_OPTS_MAX + 4];
    size_t count;
} s_getopt_t;

static void
s_build (s_getopt_t *g, const hd_opts_use_t *uses, size_t nuses, unsigned flags)
{
    memset (g, 0, sizeof *g);
    size_t ns = 0;
    if (flags & HD_OPTS_IN_ORDER)
        g->shorts[ns++] = '+';
    g->shorts[ns++] = ':';
    for (size_t u = 0; u < nuses; u++)
        for (const hd_opt_t *o = uses[u].prog->opts; o->name; o++) {
            if (o->kind == HD_OPTS_HEADING)
                continue;
            assert (g->count < HD_OPTS_MAX);
            size_t i = g->count++;
            g->opts[i] = o;
            g->targets[i] = uses[u].target;
            g->longs[i] = (struct option) { o->name, hd_opts_takes_value (o), NULL,
                                            (int) (S_LONG_BASE + i) };
            if (o->letter) {
                g->shorts[ns++] = (char) o->letter;
                if (hd_opts_takes_value (o))
                    g->shorts[ns++] = ':';
            }
        }
}

static size_t
s_index (const s_getopt_t *g, int c)
{
    if (c >= S_LONG_BASE)
        return (size_t) (c - S_LONG_BASE);
    for (size_t i = 0; i < g->count; i++)
        if (g->opts[i]->letter == c)
            return i;
    return g->count;
}

//  "NAME: why" and the hint, on stderr.
static int
s_usage_error (const char *name, const char *why)
{
    fprintf (stderr, "%s: %s\nTry '%s --help'.\n", name, why, name);
    return HD_OPTS_EXIT_USAGE;
}

//  getopt_long's '?' or ':' (opterr is 0): the token is argv[optind - 1] for a long option,
//  optopt holds a short one's letter.
static int
s_bad_option (const s_getopt_t *g, const char *name, int c, char **argv)
{
    char letter[3] = { '-', (char) optopt, 0 };
    const char *token = optopt > 0 && optopt < 256 ? letter : optind > 0 ? argv[optind - 1] : "?";
    char why[400];
    if (c == ':') {
        snprintf (why, sizeof why, "option '%s' needs a value", token);
        return s_usage_error (name, why);
    }
    const char *names[HD_OPTS_MAX + 1];
    for (size_t i = 0; i < g->count; i++)
        names[i] = g->opts[i]->name;
    names[g->count] = NULL;
    char hint[96] = "", word[128];
    snprintf (word, sizeof word, "%s", token + strspn (token, "-"));
    word[strcspn (word, "=")] = '\0';
    const char *best = token[1] == '-' ? hd_opts_closest (word, names) : NULL;
    if (best)
        snprintf (hint, sizeof hint, " (did you mean '--%s'?)", best);
    snprintf (why, sizeof why, "unknown or ambiguous option '%s'%s", token, hint);
    return s_usage_error (name, why);
}

int
hd_opts_parse (int argc, char **argv, const hd_opts_use_t *uses, size_t nuses, unsigned flags,
               int *first_arg)
{
    assert (uses && nuses > 0);
    s_getopt_t *g = malloc (sizeof *g);
    if (!g) {
        fprintf (stderr, "%s: out of memory\n", uses[0].prog->name);
        return HD_OPTS_EXIT_USAGE;
    }
    s_build (g, uses, nuses, flags);
    optind = 0;  //  glibc: a fresh scan, re-reading the optstring
    opterr = 0;
    int c, rc = HD_OPTS_OK;
    while (rc == HD_OPTS_OK && (c = getopt_long (argc, argv, g->shorts, g->longs, NULL)) != -1) {
        size_t i = c == '?' || c == ':' ? g->count : s_index (g, c);
        char err[512];
        if (i == g->count)
            rc = s_bad_option (g, uses[0].prog->name, c, argv);
        else if (g->opts[i]->kind == HD_OPTS_HELP)
            rc = HD_OPTS_EXIT_HELP;
        else if (s_set (g->targets[i], g->opts[i], optarg, err, sizeof err) != 0)
            rc = s_usage_error (uses[0].prog->name, err);
    }
    if (first_arg)
        *first_arg = optind;
    free (g);
    return rc;
}

// --- help and the effective configuration ----------------------------------------------------

const char *
hd_opts_value_text (const hd_opt_t *opt, const void *target, char *buf, size_t len)
{
    buf[0] = '\0';
    if (opt->offset < 0 || !target)
        return buf;
    const void *field = s_cfield (target, opt);
    const char *unset = opt->unset ? opt->unset : "(none)";
    switch (opt->kind) {
        case HD_OPTS_FLAG: snprintf (buf, len, "%s", *(const bool *) field ? "yes" : "no"); break;
        case HD_OPTS_UINT: {
            uint32_t v = *(const uint32_t *) field;
            if (v == 0 && opt->unset)
                snprintf (buf, len, "%s", opt->unset);
            else
                snprintf (buf, len, "%u", v);
            break;
        }
        case HD_OPTS_U64: {
            uint64_t v = *(const uint64_t *) field;
            if (v == UINT64_MAX && opt->unset)
                snprintf (buf, len, "%s", opt->unset);
            else
                snprintf (buf, len, "%llu", (unsigned long long) v);
            break;
        }
        case HD_OPTS_INT: snprintf (buf, len, "%d", (int) *(const int32_t *) field); break;
        case HD_OPTS_NUMBER: snprintf (buf, len, "%g", *(const double *) field); break;
        case HD_OPTS_STRING:
        case HD_OPTS_ENDPOINT: {
            const char *s = *(const char *const *) field;
            snprintf (buf, len, "%s",
                      !s ? unset : (opt->flags & HD_OPTS_SECRET) ? "(set)" : s);
            break;
        }
        case HD_OPTS_ENUM: hd_opts_choice_text (opt, *(const int *) field, buf, len); break;
        case HD_OPTS_HELP:
        case HD_OPTS_HEADING: break;
    }
    return buf;
}

void
hd_opts_print_config (FILE *out, const hd_opts_prog_t *prog, const void *target)
{
    char buf[512];
    for (const hd_opt_t *o = prog->opts; o->name; o++)
        if (o->offset >= 0 && !(o->flags & (HD_OPTS_NOPRINT | HD_OPTS_HIDDEN))
            && o->kind != HD_OPTS_HEADING && o->kind != HD_OPTS_HELP)
            fprintf (out, "%s = %s\n", o->name, hd_opts_value_text (o, target, buf, sizeof buf));
}

//  "(default X)" for opt, or "" when it shows none.
void
hd_opts_default_text (const hd_opt_t *opt, const void *defaults, char *out, size_t len)
{
    char value[256];
    out[0] = '\0';
    if (opt->def) {
        if (*opt->def)
            snprintf (out, len, "(default %s)", opt->def);
        return;
    }
    if (!defaults || opt->offset < 0 || !hd_opts_takes_value (opt))
        return;
    const void *field = s_cfield (defaults, opt);
    bool unset = ((opt->kind == HD_OPTS_STRING || opt->kind == HD_OPTS_ENDPOINT)
                  && !*(const char *const *) field)
                 || (opt->kind == HD_OPTS_UINT && !*(const uint32_t *) field && !opt->unset
                     && opt->min > 0);
    if (!unset && !(opt->flags & HD_OPTS_SECRET))
        snprintf (out, len, "(default %s)", hd_opts_value_text (opt, defaults, value, sizeof value));
}

//  Write `text` from column `col` (the cursor is there), wrapped at S_WIDTH, continuation
//  lines indented to `indent`; '\n' in text forces a break.
static void
s_wrap (FILE *out, const char *text, int col, int indent)
{
    const char *p = text;
    bool first = true;
    while (*p) {
        size_t word = strcspn (p, " \n");
        if (col > indent && col + !first + (int) word > S_WIDTH) {
            fprintf (out, "\n%*s", indent, "");
            col = indent;
            first = true;
        }
        col += fprintf (out, "%s%.*s", first ? "" : " ", (int) word, p);
        first = false;
        p += word;
        if (*p == '\n') {
            fprintf (out, "\n%*s", indent, "");
            col = indent;
            first = true;
        }
        p += strspn (p, " \n");
    }
    fputc ('\n', out);
}

void
hd_opts_print_options (FILE *out, const hd_opts_prog_t *prog, const void *defaults)
{
    for (const hd_opt_t *o = prog->opts; o->name; o++) {
        if (o->flags & HD_OPTS_HIDDEN)
            continue;
        if (o->kind == HD_OPTS_HEADING) {
            fprintf (out, "%s%s\n", o == prog->opts ? "" : "\n", o->name);
            continue;
        }
        char left[128], dflt[300], text[1024];
        snprintf (left, sizeof left, "  %c%c%s--%s%s%s", o->letter ? '-' : ' ',
                  o->letter ? o->letter : ' ', o->letter ? ", " : "  ", o->name,
                  hd_opts_takes_value (o) ? " " : "", hd_opts_takes_value (o) ? o->meta : "");
        hd_opts_default_text (o, defaults, dflt, sizeof dflt);
        snprintf (text, sizeof text, "%s%s%s", o->help ? o->help : "", *dflt ? " " : "", dflt);
        int col = fprintf (out, "%s", left);
        col += fprintf (out, "%*s", col <= S_HELP_COL - 2 ? S_HELP_COL - col : 2, "");
        s_wrap (out, text, col, S_HELP_COL);
    }
}

void
hd_opts_print_text (FILE *out, const char *text)
{
    char line[4096];  //  a paragraph
    for (const char *p = text; p && *p;) {
        size_t n = strcspn (p, "\n");
        snprintf (line, sizeof line, "%.*s", (int) (n < sizeof line ? n : sizeof line - 1), p);
        if (*line == ' ' || !*line)
            fprintf (out, "%s\n", line);
        else
            s_wrap (out, line, 0, 0);
        p += n + (p[n] == '\n');
    }
}

void
hd_opts_print_help (FILE *out, const hd_opts_prog_t *prog, const void *defaults)
{
    fprintf (out, "Usage: %s\n", prog->usage);
    if (prog->summary)
        hd_opts_print_text (out, prog->summary);
    fprintf (out, "\n");
    hd_opts_print_options (out, prog, defaults);
    if (prog->epilog)
        hd_opts_print_text (out, prog->epilog);
}
