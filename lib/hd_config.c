/*  hd_config: parsing of the configuration file into entries, lookup, and finding the file a
    program should read. The keys and their values are checked by hd_opts (the option tables).
    Entries point into one private copy of the text, cut into lines in place.  */
#include "hd_config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_config_int.h"
#include "hd_opts.h"

#define S_MAX_FILE_BYTES (1u << 20)

struct hd_config {
    char *name;
    char *text;  //  the copy every entry points into
    hd_config_entry_t *entries;
    size_t count, cap;
    hd_config_syntax_t *syntax;
    size_t nsyntax, syntax_cap;
};

static char *
s_trim (char *s)
{
    while (isspace ((unsigned char) *s))
        s++;
    size_t n = strlen (s);
    while (n > 0 && isspace ((unsigned char) s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int
s_add_entry (hd_config_t *self, const char *section, const char *key, const char *value, int line)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        hd_config_entry_t *grown = realloc (self->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->entries = grown;
        self->cap = cap;
    }
    self->entries[self->count++] = (hd_config_entry_t) { section, key, value, line };
    return 0;
}

static int
s_add_syntax (hd_config_t *self, int line, const char *message)
{
    if (self->nsyntax == self->syntax_cap) {
        size_t cap = self->syntax_cap ? self->syntax_cap * 2 : 4;
        hd_config_syntax_t *grown = realloc (self->syntax, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->syntax = grown;
        self->syntax_cap = cap;
    }
    self->syntax[self->nsyntax++] = (hd_config_syntax_t) { line, message };
    return 0;
}

//  `[name]`: returns the name, or NULL when the header is malformed.
static char *
s_section_name (char *s)
{
    size_t n = strlen (s);
    if (n < 3 || s[n - 1] != ']')
        return NULL;
    s[n - 1] = '\0';
    char *name = s_trim (s + 1);
    for (const char *p = name; *p; p++)
        if (isspace ((unsigned char) *p) || *p == '[' || *p == ']')
            return NULL;
    return *name ? name : NULL;
}

//  The value after '=': up to an inline comment (a '#' after a space: Z85 keys hold '#' but
//  never a space), or the text between double quotes (to keep spaces or " #"). NULL when
//  something follows the closing quote.
static char *
s_value (char *s)
{
    s = s_trim (s);
    if (*s == '"') {
        char *close = strchr (s + 1, '"');
        if (!close)
            return NULL;
        *close = '\0';
        char *rest = s_trim (close + 1);
        return *rest == '\0' || *rest == '#' ? s + 1 : NULL;
    }
    for (char *p = s; *p; p++)
        if (*p == '#' && p > s && isspace ((unsigned char) p[-1])) {
            *p = '\0';
            break;
        }
    return s_trim (s);
}

//  One line, already trimmed. -1 only when memory runs out.
static int
s_parse_line (hd_config_t *self, char *s, int line, const char **section)
{
    if (*s == '\0' || *s == '#' || *s == ';')
        return 0;
    if (*s == '[') {
        char *name = s_section_name (s);
        if (!name)
            return s_add_syntax (self, line, "a section header is [name]");
        *section = name;
        return 0;
    }
    char *eq = strchr (s, '=');
    if (!eq)
        return s_add_syntax (self, line, "expected 'key = value'");
    *eq = '\0';
    char *key = s_trim (s);
    if (!*key)
        return s_add_syntax (self, line, "a key is missing before '='");
    if (!*section)
        return s_add_syntax (self, line, "a key outside any [section]");
    char *value = s_value (eq + 1);
    if (!value)
        return s_add_syntax (self, line, "a quoted value must be the whole value");
    return s_add_entry (self, *section, key, value, line);
}

static int
s_parse_text (hd_config_t *self)
{
    const char *section = NULL;
    int line = 0;
    char *s = self->text;
    while (s && *s) {
        char *nl = strchr (s, '\n');
        if (nl)
            *nl = '\0';
        if (s_parse_line (self, s_trim (s), ++line, &section) != 0)
            return -1;
        s = nl ? nl + 1 : NULL;
    }
    return 0;
}

hd_err_t
hd_config_parse (hd_config_t **out, const char *text, const char *name)
{
    assert (out && text && name);
    *out = NULL;
    hd_config_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    self->name = strdup (name);
    self->text = strdup (text);
    if (!self->name || !self->text || s_parse_text (self) != 0) {
        hd_config_destroy (&self);
        return HD_ENOMEM;
    }
    *out = self;
    return HD_OK;
}

static hd_err_t
s_read_file (const char *path, char **text_p)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return HD_EIO;
    char *text = malloc (S_MAX_FILE_BYTES + 1);
    size_t n = text ? fread (text, 1, S_MAX_FILE_BYTES + 1, f) : 0;
    int failed = ferror (f);
    int saved = errno;
    fclose (f);
    hd_err_t rc = !text ? HD_ENOMEM : failed ? HD_EIO : n > S_MAX_FILE_BYTES ? HD_ETOOBIG : HD_OK;
    if (rc != HD_OK) {
        free (text);
        errno = saved;
        return rc;
    }
    text[n] = '\0';
    *text_p = text;
    return HD_OK;
}

hd_err_t
hd_config_load (hd_config_t **out, const char *path)
{
    assert (out && path);
    *out = NULL;
    char *text = NULL;
    hd_err_t rc = s_read_file (path, &text);
    if (rc == HD_OK) {
        rc = hd_config_parse (out, text, path);
        free (text);
    }
    return rc;
}

void
hd_config_destroy (hd_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hd_config_t *self = *self_p;
    free (self->name);
    free (self->text);
    free (self->entries);
    free (self->syntax);
    free (self);
    *self_p = NULL;
}

size_t
hd_config_size (const hd_config_t *self)
{
    assert (self);
    return self->count;
}

const hd_config_entry_t *
hd_config_entry (const hd_config_t *self, size_t index)
{
    assert (self && index < self->count);
    return &self->entries[index];
}

const char *
hd_config_get (const hd_config_t *self, const char *section, const char *key)
{
    assert (self && section && key);
    const char *value = NULL;
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->entries[i].section, section) == 0
            && strcmp (self->entries[i].key, key) == 0)
            value = self->entries[i].value;
    return value;
}

const char *
hd_config_name (const hd_config_t *self)
{
    assert (self);
    return self->name;
}

size_t
hd_config_syntax_count (const hd_config_t *self)
{
    assert (self);
    return self->nsyntax;
}

const hd_config_syntax_t *
hd_config_syntax (const hd_config_t *self, size_t index)
{
    assert (self && index < self->nsyntax);
    return &self->syntax[index];
}

int
hd_config_parse_bool (const char *text, bool *out)
{
    static const char *yes[] = { "yes", "true", "on", "1" };
    static const char *no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcmp (text, yes[i]) == 0 || strcmp (text, no[i]) == 0) {
            *out = strcmp (text, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

const char *
hd_config_path (int argc, char **argv, bool *explicit_out)
{
    for (int i = 1; i < argc && strcmp (argv[i], "--") != 0; i++) {
        if (strcmp (argv[i], "--config") == 0 && i + 1 < argc) {
            *explicit_out = true;
            return argv[i + 1];
        }
        if (strncmp (argv[i], "--config=", 9) == 0) {
            *explicit_out = true;
            return argv[i] + 9;
        }
    }
    const char *env = getenv (HD_CONFIG_ENV);
    *explicit_out = env && *env;
    return *explicit_out ? env : HD_CONFIG_DEFAULT_PATH;
}

static void
s_print_problem (const char *name, int line, const char *message, void *arg)
{
    (void) arg;
    fprintf (stderr, "%s:%d: %s\n", name, line, message);
}

hd_err_t
hd_config_open (hd_config_t **out, const char *prog, const hd_opts_section_t *sections,
                size_t nsections, int argc, char **argv)
{
    assert (out && prog);
    bool named = false;
    const char *path = hd_config_path (argc, argv, &named);
    hd_err_t rc = hd_config_load (out, path);
    if (rc == HD_EIO && errno == ENOENT && !named)
        return HD_OK;  //  no file at the default place: defaults, environment and flags only
    if (rc != HD_OK) {
        fprintf (stderr, "%s: config file %s: %s\n", prog, path,
                 rc == HD_EIO ? strerror (errno) : hd_strerror (rc));
        return rc == HD_EIO ? HD_EIO : HD_EINVAL;
    }
    if (hd_opts_check (*out, sections, nsections, s_print_problem, NULL) > 0) {
        fprintf (stderr, "%s: config file %s is not valid (heddle config check %s)\n", prog, path,
                 path);
        hd_config_destroy (out);
        return HD_EINVAL;
    }
    return HD_OK;
}
