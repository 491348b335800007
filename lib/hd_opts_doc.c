/*  hd_opts_doc: the man page and the shell completion words of a program, from its option
    table (the programs print them in their generator modes, which CMake runs at build time:
    cmake/gen-docs.sh). Roff is written plainly: .TH, .SH, .TP per option, .nf for free text.  */
#include <stdbool.h>
#include <string.h>

#include "hd_opts_int.h"

//  Inline roff text: backslashes and '-' escaped.
static void
s_roff_inline (FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            fputs ("\\e", out);
        else if (*p == '-')
            fputs ("\\-", out);
        else if (*p == '\n')
            fputs ("\n.br\n", out);
        else
            fputc (*p, out);
    }
}

void
hd_opts_print_roff_text (FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t n = strcspn (p, "\n");
        bool kept = *p == ' ';  //  a list or an example: kept as written
        if (n == 0)
            fputs (".PP\n", out);
        else {
            fputs (kept ? ".nf\n" : "", out);
            if (*p == '.' || *p == '\'')
                fputs ("\\&", out);
            for (size_t i = 0; i < n; i++)
                fputs (p[i] == '\\' ? "\\e" : (char[]) { p[i], 0 }, out);
            fputs (kept ? "\n.fi\n" : "\n.br\n", out);
        }
        p += n + (p[n] == '\n');
    }
}

static void
s_man_options (FILE *out, const hd_opts_prog_t *prog, const void *defaults)
{
    char dflt[300];
    for (const hd_opt_t *o = prog->opts; o->name; o++) {
        if (o->flags & HD_OPTS_HIDDEN)
            continue;
        if (o->kind == HD_OPTS_HEADING) {
            fputs (".PP\n", out);
            s_roff_inline (out, o->name);
            fputc ('\n', out);
            continue;
        }
        fputs (".TP\n", out);
        if (o->letter)
            fprintf (out, "\\fB\\-%c\\fR, ", o->letter);
        fputs ("\\fB\\-\\-", out);
        s_roff_inline (out, o->name);
        fputs ("\\fR", out);
        if (hd_opts_takes_value (o)) {
            fputs (" \\fI", out);
            s_roff_inline (out, o->meta ? o->meta : "VALUE");
            fputs ("\\fR", out);
        }
        fputc ('\n', out);
        s_roff_inline (out, o->help ? o->help : "");
        hd_opts_default_text (o, defaults, dflt, sizeof dflt);
        if (*dflt) {
            fputc (' ', out);
            s_roff_inline (out, dflt);
        }
        if (prog->section && !(o->flags & HD_OPTS_NOCONF) && o->kind != HD_OPTS_HELP)
            fprintf (out, " [config: %s]", o->name);
        fputc ('\n', out);
    }
}

void
hd_opts_print_man (FILE *out, const hd_opts_prog_t *prog, const void *defaults, int section,
                   const char *version, const char *date)
{
    fputs (".TH ", out);
    for (const char *p = prog->name; *p; p++)
        fputc (*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, out);
    fprintf (out, " %d \"%s\" \"heddle %s\" \"heddle\"\n.SH NAME\n", section, date, version);
    s_roff_inline (out, prog->name);
    fputs (" \\- ", out);
    s_roff_inline (out, prog->summary ? prog->summary : "");
    fputs ("\n.SH SYNOPSIS\n", out);
    hd_opts_print_roff_text (out, prog->usage);
    fputs (".SH OPTIONS\n", out);
    s_man_options (out, prog, defaults);
    if (prog->section)
        fprintf (out, ".PP\nEach option marked [config: KEY] may also be set as KEY = VALUE in "
                      "the [%s] section of the config file.\n", prog->section);
    if (prog->epilog) {
        fputs (".SH NOTES\n", out);
        hd_opts_print_roff_text (out, prog->epilog);
    }
}

void
hd_opts_print_man_section (FILE *out, const hd_opts_prog_t *prog, const void *defaults)
{
    fputs (".SS ", out);
    s_roff_inline (out, prog->name);
    fputc ('\n', out);
    if (prog->usage && *prog->usage)
        hd_opts_print_roff_text (out, prog->usage);
    if (prog->summary) {
        s_roff_inline (out, prog->summary);
        fputc ('\n', out);
    }
    s_man_options (out, prog, defaults);
    if (prog->epilog) {
        fputs (".PP\n", out);
        hd_opts_print_roff_text (out, prog->epilog);
    }
}

void
hd_opts_print_words (FILE *out, const hd_opts_prog_t *prog)
{
    if (prog->words)
        fprintf (out, "%s ", prog->words);
    for (const hd_opt_t *o = prog->opts; o->name; o++)
        if (o->kind != HD_OPTS_HEADING && !(o->flags & HD_OPTS_HIDDEN))
            fprintf (out, "--%s ", o->name);
}
