/*
 * config: the engine behind the CONFIG_OPTIONS table (see config.h).
 *
 * Each value passes through parse_value(), whatever its origin (row
 * default, file, command line, CONFIG SET), so bounds and types are checked
 * in one place. Parsing produces a candidate (number or fresh string) and
 * commit_value() stores it; CONFIG SET parses every pair first and commits
 * only if all parsed, which is what makes it atomic.
 */
#include "daemon/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/split.h"

struct config cfg;

/* The modules' rows' defaults in the file's syntax, written at load
 * (render_module_defaults) before anything can read the table. */
static char module_default[CFG_OPT_COUNT][32];

#define X(field, name, type, def, min, max, flags, words, desc) \
    [CFG_OPT_##field] = {name, CFG_##type, def, min, max, flags, words, desc, offsetof(struct config, field)},
#define M(field, name, type, def, min, max, flags, words, desc)                                 \
    [CFG_OPT_##field] = {name, CFG_##type, module_default[CFG_OPT_##field], (long long)(min),   \
                         (long long)(max), flags, words, desc, offsetof(struct config, field)},
const struct cfg_option config_options[CFG_OPT_COUNT] = {CONFIG_OPTIONS(X, M)};
#undef M
#undef X

/* A parsed value not yet stored. */
struct cfg_value {
    long long num;
    char *str;   /* STRING and LIST */
};

static config_apply_fn apply_fn[CFG_OPT_COUNT];
static config_check_fn check_hook;

void config_on_change(enum cfg_opt opt, config_apply_fn fn)
{
    apply_fn[opt] = fn;
}

void config_set_check_hook(config_check_fn fn)
{
    check_hook = fn;
}

void config_changed(const bool *changed)
{
    config_apply_fn called[CFG_OPT_COUNT];
    size_t n = 0;
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        if (!changed[i] || apply_fn[i] == NULL)
            continue;
        size_t k = 0;
        while (k < n && called[k] != apply_fn[i])
            k++;
        if (k < n)
            continue;   /* already applied for an earlier option */
        called[n++] = apply_fn[i];
        apply_fn[i]();
    }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_string_type(enum cfg_type t)
{
    return t == CFG_STRING || t == CFG_LIST;
}

static long long *num_field(const struct cfg_option *o)
{
    return (long long *)((char *)&cfg + o->offset);
}

static char **str_field(const struct cfg_option *o)
{
    return (char **)((char *)&cfg + o->offset);
}

/* Former or Redis names of renamed options (same unit and meaning). */
static const struct {
    const char *alias, *name;
} config_aliases[] = {
    {"active-expire-effort", "expire-effort"},
};

const struct cfg_option *config_find(const char *name)
{
    for (size_t i = 0; i < CFG_OPT_COUNT; i++)
        if (strcasecmp(config_options[i].name, name) == 0)
            return &config_options[i];
    for (size_t i = 0; i < sizeof(config_aliases) / sizeof(config_aliases[0]); i++)
        if (strcasecmp(config_aliases[i].alias, name) == 0)
            return config_find(config_aliases[i].name);
    return NULL;
}

/* A decimal with up to three fraction digits, times 1000 ("1.2" -> 1200). */
static bool parse_milli(const char *s, long long *out)
{
    const char *p = s;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    long long v = 0;
    while (isdigit((unsigned char)*p)) {
        if (v > (CFG_LL_MAX / 10 - 9) / 1000)
            return false;
        v = v * 10 + (*p++ - '0');
    }
    long long frac = 0;
    int digits = 0;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p)) {
            if (digits == 3)
                return false;   /* finer than the stored unit */
            frac = frac * 10 + (*p++ - '0');
            digits++;
        }
    }
    if (*p != '\0')
        return false;
    for (; digits < 3; digits++)
        frac *= 10;
    v = v * 1000 + frac;
    *out = neg ? -v : v;
    return true;
}

static void format_milli(long long v, char *buf, size_t len)
{
    unsigned long long a = v < 0 ? (unsigned long long)-v : (unsigned long long)v;
    int n = snprintf(buf, len, "%s%llu.%03llu", v < 0 ? "-" : "", a / 1000, a % 1000);
    /* trim trailing zeros and a bare point: 1.200 -> 1.2, 2.000 -> 2 */
    while (n > 0 && (size_t)n < len && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && (size_t)n < len && buf[n - 1] == '.')
        buf[--n] = '\0';
}

/* A module row's numeric default as the file would write it: sizes in the
 * largest unit that divides them ("1mb"), CFG_MILLI in its decimal form
 * ("1.2"), yes/no, an enum's word. */
static void render_default(enum cfg_opt i, long long v)
{
    const struct cfg_option *o = &config_options[i];
    char *buf = module_default[i];
    size_t len = sizeof(module_default[i]);
    static const struct {
        long long unit;
        const char *suffix;
    } units[] = {{1LL << 30, "gb"}, {1LL << 20, "mb"}, {1LL << 10, "kb"}, {1, ""}};
    switch (o->type) {
    case CFG_SIZE:
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
            if (v % units[u].unit == 0 && (v != 0 || units[u].unit == 1)) {
                snprintf(buf, len, "%lld%s", v / units[u].unit, units[u].suffix);
                break;
            }
        break;
    case CFG_BOOL:
        snprintf(buf, len, "%s", v ? "yes" : "no");
        break;
    case CFG_ENUM: {
        const char *w = o->words;
        for (long long k = 0; k < v && w; k++) {
            w = strchr(w, ' ');
            w = w ? w + 1 : NULL;
        }
        size_t n = w ? strcspn(w, " ") : 0;
        snprintf(buf, len, "%.*s", (int)n, w ? w : "");
        break;
    }
    default:
        if (o->flags & CFG_MILLI)
            format_milli(v, buf, len);
        else
            snprintf(buf, len, "%lld", v);
    }
}

__attribute__((constructor)) static void render_module_defaults(void)
{
#define IGNORE_(...)
#define M(field, name, type, def, min, max, flags, words, desc) \
    render_default(CFG_OPT_##field, (long long)(def));
    CONFIG_OPTIONS(IGNORE_, M)
#undef M
#undef IGNORE_
}

static bool parse_size(const char *s, long long *out);
static bool parse_ll(const char *s, long long *out);

bool config_parse_obl(const char *s, struct cfg_obl *out)
{
    memset(out, 0, sizeof(*out));
    char **argv = NULL;
    int argc = config_split_line(s, &argv);
    if (argc < 0)
        return false;
    bool ok = argc > 0 && argc % 4 == 0;
    for (int i = 0; ok && i < argc; i += 4) {
        long long hard, soft, secs;
        bool normal = strcasecmp(argv[i], "normal") == 0;
        bool known = normal || strcasecmp(argv[i], "replica") == 0 ||
                     strcasecmp(argv[i], "slave") == 0 || strcasecmp(argv[i], "pubsub") == 0;
        if (!known || !parse_size(argv[i + 1], &hard) || !parse_size(argv[i + 2], &soft) ||
            !parse_ll(argv[i + 3], &secs) || secs < 0) {
            ok = false;
            break;
        }
        if (normal) {
            out->hard = hard;
            out->soft = soft;
            out->soft_seconds = secs;
        }
    }
    config_free_args(argc, argv);
    return ok;
}

/* Strict decimal integer: optional '-', digits, nothing else. */
static bool parse_ll(const char *s, long long *out)
{
    if (*s == '\0')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || isspace((unsigned char)s[0]) || s[0] == '+')
        return false;
    *out = v;
    return true;
}

/* Redis memory values: digits then an optional unit b, k, kb, m, mb, g, gb. */
static bool parse_size(const char *s, long long *out)
{
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return false;
    unsigned long long v = 0;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    unsigned long long mul;
    if (*p == '\0' || strcasecmp(p, "b") == 0)
        mul = 1;
    else if (strcasecmp(p, "k") == 0)
        mul = 1000ULL;
    else if (strcasecmp(p, "kb") == 0)
        mul = 1024ULL;
    else if (strcasecmp(p, "m") == 0)
        mul = 1000ULL * 1000;
    else if (strcasecmp(p, "mb") == 0)
        mul = 1024ULL * 1024;
    else if (strcasecmp(p, "g") == 0)
        mul = 1000ULL * 1000 * 1000;
    else if (strcasecmp(p, "gb") == 0)
        mul = 1024ULL * 1024 * 1024;
    else
        return false;
    if (v != 0 && mul > (unsigned long long)CFG_LL_MAX / v)
        return false;
    *out = (long long)(v * mul);
    return true;
}

static bool parse_octal(const char *s, long long *out)
{
    if (*s == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '7')
            return false;
    errno = 0;
    long long v = strtoll(s, NULL, 8);
    if (errno != 0)
        return false;
    *out = v;
    return true;
}

/* Finds word in the space-separated list; returns its index or -1. */
static long long enum_index(const char *words, const char *w)
{
    size_t wl = strlen(w);
    long long idx = 0;
    for (const char *p = words; *p;) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == wl && strncasecmp(p, w, l) == 0)
            return idx;
        idx++;
        if (!e)
            break;
        p = e + 1;
    }
    return -1;
}

const char *config_enum_name(const struct cfg_option *o, long long v)
{
    static char buf[64];
    if (o->words == NULL || v < 0)
        return NULL;
    const char *p = o->words;
    for (long long i = 0; i < v; i++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return NULL;
        p++;
    }
    const char *e = strchr(p, ' ');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l >= sizeof(buf))
        l = sizeof(buf) - 1;
    memcpy(buf, p, l);
    buf[l] = '\0';
    return buf;
}

/* Joins arguments with single spaces (a LIST value). */
static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (s == NULL)
        return NULL;
    size_t at = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '\0')
            continue;   /* `save ""` and `bind a "" b` add nothing */
        if (at > 0)
            s[at++] = ' ';
        size_t l = strlen(argv[i]);
        memcpy(s + at, argv[i], l);
        at += l;
    }
    s[at] = '\0';
    return s;
}

static config_rstatus_e parse_value(const struct cfg_option *o, int argc, char **argv,
                                    struct cfg_value *out, char *err, size_t errlen)
{
    out->num = 0;
    out->str = NULL;
    if (o->type == CFG_LIST ? argc < 1 : argc != 1) {
        set_err(err, errlen, "wrong number of arguments");
        return CONFIG_EARGS;
    }
    const char *a = argv[0];

    switch (o->type) {
    case CFG_BOOL:
        if (strcasecmp(a, "yes") == 0)
            out->num = 1;
        else if (strcasecmp(a, "no") == 0)
            out->num = 0;
        else {
            set_err(err, errlen, "argument must be 'yes' or 'no'");
            return CONFIG_EVALUE;
        }
        break;
    case CFG_INT:
    case CFG_SIZE: {
        bool ok = o->type == CFG_SIZE ? parse_size(a, &out->num)
                : (o->flags & CFG_OCTAL) ? parse_octal(a, &out->num)
                : (o->flags & CFG_MILLI) ? parse_milli(a, &out->num)
                : parse_ll(a, &out->num);
        if (!ok) {
            set_err(err, errlen, o->type == CFG_SIZE ? "argument must be a memory value"
                                 : (o->flags & CFG_OCTAL) ? "argument must be an octal number"
                                 : "argument couldn't be parsed into an integer");
            return CONFIG_EVALUE;
        }
        if (out->num < o->min || out->num > o->max) {
            if (o->flags & CFG_OCTAL) {
                set_err(err, errlen, "argument must be between %llo and %llo inclusive",
                        o->min, o->max);
            } else if (o->flags & CFG_MILLI) {
                char lo[32], hi[32];
                format_milli(o->min, lo, sizeof(lo));
                format_milli(o->max, hi, sizeof(hi));
                set_err(err, errlen, "argument must be between %s and %s inclusive", lo, hi);
            } else
                set_err(err, errlen, "argument must be between %lld and %lld inclusive", o->min,
                        o->max);
            return CONFIG_EVALUE;
        }
        if ((o->flags & CFG_POW2) && (out->num & (out->num - 1)) != 0) {
            set_err(err, errlen, "argument must be a power of two");
            return CONFIG_EVALUE;
        }
        break;
    }
    case CFG_ENUM:
        out->num = enum_index(o->words, a);
        if (out->num < 0) {
            char list[256];
            size_t at = 0;
            for (const char *p = o->words; *p && at + 3 < sizeof(list); p++) {
                if (*p == ' ') {
                    list[at++] = ',';
                    list[at++] = ' ';
                } else {
                    list[at++] = *p;
                }
            }
            list[at] = '\0';
            set_err(err, errlen, "argument(s) must be one of the following: %s", list);
            return CONFIG_EVALUE;
        }
        break;
    case CFG_STRING:
        out->str = strdup(a);
        if (out->str == NULL)
            return CONFIG_ENOMEM;
        break;
    case CFG_LIST:
        out->str = join_args(argc, argv);
        if (out->str == NULL)
            return CONFIG_ENOMEM;
        if (o->flags & CFG_OBL) {
            struct cfg_obl obl;
            if (!config_parse_obl(out->str, &obl)) {
                free(out->str);
                out->str = NULL;
                set_err(err, errlen, "argument must be groups of <normal|replica|pubsub> "
                                     "<hard> <soft> <soft-seconds>");
                return CONFIG_EVALUE;
            }
        }
        break;
    }

    if (o->flags & CFG_FIXED) {
        /* Compare with the default, parsed the same way. */
        bool same;
        if (is_string_type(o->type)) {
            same = strcmp(out->str, o->def) == 0;
        } else {
            char *d = (char *)o->def;
            struct cfg_value dv;
            const struct cfg_option plain = {o->name, o->type, o->def, o->min, o->max, 0,
                                             o->words, o->desc, o->offset};
            same = parse_value(&plain, 1, &d, &dv, NULL, 0) == CONFIG_OK && dv.num == out->num;
        }
        if (!same) {
            free(out->str);
            out->str = NULL;
            set_err(err, errlen, "compactd keeps no persistent data; only '%s' is accepted",
                    o->def);
            return CONFIG_EVALUE;
        }
    }
    return CONFIG_OK;
}

static void commit_value(const struct cfg_option *o, struct cfg_value *v)
{
    if (is_string_type(o->type)) {
        char **f = str_field(o);
        free(*f);
        *f = v->str;
        v->str = NULL;
    } else {
        *num_field(o) = v->num;
    }
}

config_rstatus_e config_init(void)
{
    memset(&cfg, 0, sizeof(cfg));
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        const struct cfg_option *o = &config_options[i];
        char *d = (char *)o->def;
        struct cfg_value v;
        config_rstatus_e st = parse_value(o, 1, &d, &v, NULL, 0);
        if (st != CONFIG_OK) {
            /* Only out-of-memory can get here: the unit test checks every default. */
            config_deinit();
            return st;
        }
        commit_value(o, &v);
    }
    return CONFIG_OK;
}

void config_deinit(void)
{
    memset(apply_fn, 0, sizeof(apply_fn));
    check_hook = NULL;
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        const struct cfg_option *o = &config_options[i];
        if (is_string_type(o->type)) {
            free(*str_field(o));
            *str_field(o) = NULL;
        }
    }
}

config_rstatus_e config_apply(const char *name, int argc, char **argv, char *err, size_t errlen)
{
    const struct cfg_option *o = config_find(name);
    if (o == NULL) {
        set_err(err, errlen, "unknown directive '%s'", name);
        return CONFIG_EUNKNOWN;
    }
    struct cfg_value v;
    char msg[256];
    config_rstatus_e st = parse_value(o, argc, argv, &v, msg, sizeof(msg));
    if (st != CONFIG_OK) {
        set_err(err, errlen, "bad value for '%s': %s", o->name, st == CONFIG_ENOMEM ? "out of memory" : msg);
        return st;
    }
    commit_value(o, &v);
    return CONFIG_OK;
}

/* ---- line splitting ---- */

void config_free_args(int argc, char **argv)
{
    if (argv == NULL)
        return;
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

/* The file's quoting (proto/split.h): a quote opens a quoted part only at
 * the start of a word, and every blank ends a word. */
#define CONFIG_SPLIT_RULES SPLIT_ANY_SPACE_ENDS

int config_split_line(const char *line, char ***argvp)
{
    int argc = 0, cap = 0;
    char **argv = NULL;
    size_t linelen = strlen(line);
    char *words = malloc(linelen + 1);   /* a word is never longer than its line */
    if (words == NULL)
        return -1;
    struct split sp;
    split_init(&sp, line, linelen, words, CONFIG_SPLIT_RULES);
    size_t off, len;
    enum split_status st;
    while ((st = split_next(&sp, &off, &len)) == SPLIT_WORD) {
        if (argc == cap) {
            cap = cap ? cap * 2 : 4;
            char **n = realloc(argv, (size_t)cap * sizeof(*argv));
            if (n == NULL)
                goto bad;
            argv = n;
        }
        argv[argc] = malloc(len + 1);
        if (argv[argc] == NULL)
            goto bad;
        memcpy(argv[argc], words + off, len);
        argv[argc][len] = '\0';
        argc++;
    }
    if (st == SPLIT_EQUOTES)
        goto bad;
    free(words);
    *argvp = argv;
    return argc;
bad:
    free(words);
    config_free_args(argc, argv);
    *argvp = NULL;
    return -1;
}

config_rstatus_e config_load_string(const char *text, const char *origin, char *err, size_t errlen)
{
    const char *p = text;
    int lineno = 0;
    while (*p) {
        lineno++;
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char *line = malloc(l + 1);
        if (line == NULL)
            return CONFIG_ENOMEM;
        memcpy(line, p, l);
        line[l] = '\0';
        if (l > 0 && line[l - 1] == '\r')
            line[l - 1] = '\0';
        p = e ? e + 1 : p + l;

        const char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0' || *s == '#') {
            free(line);
            continue;
        }
        char **argv;
        int argc = config_split_line(s, &argv);
        free(line);
        if (argc < 0) {
            set_err(err, errlen, "%s:%d: unbalanced quotes", origin, lineno);
            return CONFIG_EVALUE;
        }
        char msg[512];
        config_rstatus_e st = config_apply(argv[0], argc - 1, argv + 1, msg, sizeof(msg));
        config_free_args(argc, argv);
        if (st != CONFIG_OK) {
            set_err(err, errlen, "%s:%d: %s", origin, lineno, msg);
            return st;
        }
    }
    return CONFIG_OK;
}

config_rstatus_e config_load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CONFIG_EIO;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (len + 1 >= cap) {
            char *n = realloc(buf, cap * 2);
            if (n == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = n;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
    }
    bool ioerr = ferror(f);
    fclose(f);
    if (buf == NULL)
        return CONFIG_ENOMEM;
    if (ioerr) {
        free(buf);
        set_err(err, errlen, "%s: read error", path);
        return CONFIG_EIO;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        set_err(err, errlen, "%s: contains a NUL byte", path);
        return CONFIG_EVALUE;
    }
    config_rstatus_e st = config_load_string(buf, path, err, errlen);
    free(buf);
    return st;
}

char *config_format(const struct cfg_option *o)
{
    char buf[64];
    switch (o->type) {
    case CFG_BOOL:
        return strdup(*num_field(o) ? "yes" : "no");
    case CFG_INT:
    case CFG_SIZE:
        if (o->flags & CFG_MILLI)
            format_milli(*num_field(o), buf, sizeof(buf));
        else
            snprintf(buf, sizeof(buf), (o->flags & CFG_OCTAL) ? "%llo" : "%lld", *num_field(o));
        return strdup(buf);
    case CFG_ENUM: {
        const char *n = config_enum_name(o, *num_field(o));
        return strdup(n ? n : "");
    }
    case CFG_STRING:
    case CFG_LIST:
        return strdup(*str_field(o) ? *str_field(o) : "");
    }
    return NULL;
}

/* A value as one string, the way CONFIG SET takes it and config_format writes
 * it: a LIST's words split on spaces (an empty list is one empty argument),
 * any other type one argument. */
static config_rstatus_e parse_string(const struct cfg_option *o, const char *value,
                                     struct cfg_value *out, char *err, size_t errlen)
{
    char *one = (char *)value;
    if (o->type != CFG_LIST)
        return parse_value(o, 1, &one, out, err, errlen);
    char **argv = NULL;
    int argc = config_split_line(value, &argv);
    if (argc < 0) {
        set_err(err, errlen, "unbalanced quotes");
        return CONFIG_EVALUE;
    }
    char *empty = (char *)"";
    config_rstatus_e st = argc == 0 ? parse_value(o, 1, &empty, out, err, errlen)
                                    : parse_value(o, argc, argv, out, err, errlen);
    config_free_args(argc, argv);
    return st;
}

config_rstatus_e config_set_string(const struct cfg_option *o, const char *value, char *err,
                                   size_t errlen)
{
    struct cfg_value v;
    config_rstatus_e st = parse_string(o, value, &v, err, errlen);
    if (st == CONFIG_OK)
        commit_value(o, &v);
    return st;
}

config_rstatus_e config_set_many(size_t n, const char *const *names, const char *const *values,
                                 size_t *bad, bool *changed, char *err, size_t errlen)
{
    const struct cfg_option **opts = calloc(n ? n : 1, sizeof(*opts));
    struct cfg_value *vals = calloc(n ? n : 1, sizeof(*vals));
    config_rstatus_e st = CONFIG_OK;
    if (opts == NULL || vals == NULL) {
        st = CONFIG_ENOMEM;
        set_err(err, errlen, "out of memory");
        *bad = 0;
        goto out;
    }

    for (size_t i = 0; i < n; i++) {
        *bad = i;
        opts[i] = config_find(names[i]);
        if (opts[i] == NULL) {
            st = CONFIG_EUNKNOWN;
            set_err(err, errlen, "unknown option");
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            if (opts[j] == opts[i]) {
                st = CONFIG_EDUP;
                set_err(err, errlen, "duplicate parameter");
                goto out;
            }
        }
        if (!(opts[i]->flags & CFG_MUTABLE)) {
            st = CONFIG_EIMMUTABLE;
            set_err(err, errlen, "can't set immutable config");
            goto out;
        }
        st = parse_string(opts[i], values[i], &vals[i], err, errlen);
        if (st != CONFIG_OK)
            goto out;
        if (check_hook != NULL && (opts[i]->type == CFG_INT || opts[i]->type == CFG_SIZE) &&
            !check_hook((enum cfg_opt)(opts[i] - config_options), vals[i].num, err, errlen)) {
            st = CONFIG_EVALUE;
            goto out;
        }
    }

    /* Everything parsed: commit. */
    if (changed != NULL)
        memset(changed, 0, CFG_OPT_COUNT * sizeof(*changed));
    for (size_t i = 0; i < n; i++) {
        commit_value(opts[i], &vals[i]);
        if (changed != NULL)
            changed[opts[i] - config_options] = true;
    }
out:
    if (vals != NULL)
        for (size_t i = 0; i < n; i++)
            free(vals[i].str);
    free(vals);
    free(opts);
    return st;
}

bool config_secret_eq(const char *want, const char *got, size_t glen)
{
    /* No early exit: the loop runs over the longer of the two, so timing
     * shows how long they are but not how much of the password matched. */
    size_t wl = strlen(want);
    size_t n = wl > glen ? wl : glen;
    unsigned char diff = (unsigned char)(wl != glen);
    for (size_t i = 0; i < n; i++) {
        unsigned char a = i < wl ? (unsigned char)want[i] : 0;
        unsigned char b = i < glen ? (unsigned char)got[i] : 0;
        diff |= (unsigned char)(a ^ b);
    }
    return diff == 0;
}

bool config_glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    /* Iterative matcher with single-star backtracking: on a mismatch after a
     * '*', retry with the star swallowing one more byte. Linear in practice
     * and never recursive, so hostile patterns cannot blow the stack. */
    size_t p = 0, s = 0;
    size_t star_p = SIZE_MAX, star_s = 0;
    while (s < slen) {
        if (p < plen) {
            char pc = pat[p];
            if (pc == '*') {
                while (p < plen && pat[p] == '*')
                    p++;
                if (p == plen)
                    return true;
                star_p = p;
                star_s = s;
                continue;
            }
            if (pc == '?') {
                p++;
                s++;
                continue;
            }
            if (pc == '[') {
                size_t q = p + 1;
                bool neg = false, match = false;
                if (q < plen && (pat[q] == '^' || pat[q] == '!')) {
                    neg = true;
                    q++;
                }
                unsigned char c = (unsigned char)str[s];
                if (nocase)
                    c = (unsigned char)tolower(c);
                bool first = true;
                while (q < plen && (pat[q] != ']' || first)) {
                    first = false;
                    unsigned char lo, hi;
                    if (pat[q] == '\\' && q + 1 < plen)
                        q++;
                    lo = (unsigned char)pat[q];
                    hi = lo;
                    if (q + 2 < plen && pat[q + 1] == '-' && pat[q + 2] != ']') {
                        hi = (unsigned char)pat[q + 2];
                        q += 2;
                    }
                    q++;
                    if (nocase) {
                        lo = (unsigned char)tolower(lo);
                        hi = (unsigned char)tolower(hi);
                    }
                    if (lo > hi) {
                        unsigned char t = lo;
                        lo = hi;
                        hi = t;
                    }
                    if (c >= lo && c <= hi)
                        match = true;
                }
                if (q >= plen) {
                    /* No closing bracket: treat '[' as a literal. */
                    if (str[s] == '[') {
                        p++;
                        s++;
                        continue;
                    }
                    goto mismatch;
                }
                if (match != neg) {
                    p = q + 1;
                    s++;
                    continue;
                }
                goto mismatch;
            }
            if (pc == '\\' && p + 1 < plen) {
                p++;
                pc = pat[p];
            }
            char sc = str[s];
            if (pc == sc || (nocase && tolower((unsigned char)pc) == tolower((unsigned char)sc))) {
                p++;
                s++;
                continue;
            }
        }
    mismatch:
        if (star_p == SIZE_MAX)
            return false;
        p = star_p;
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

/* Wraps text at ~76 columns behind "# ". */
static void write_comment(FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t n = strlen(p);
        if (n > 74) {
            n = 74;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = 74;
        }
        fprintf(out, "# %.*s\n", (int)n, p);
        p += n;
        while (*p == ' ')
            p++;
    }
}

void config_write_sample(FILE *out)
{
    fprintf(out, "# compactd configuration file.\n"
                 "#\n"
                 "# One directive per line: `name value...`. Lines starting with '#' are\n"
                 "# comments; values may be \"double quoted\" (with \\n \\t \\xHH escapes) or\n"
                 "# 'single quoted'. Sizes accept k/kb/m/mb/g/gb suffixes (k = 1000, kb = 1024).\n"
                 "# Any directive can also be given on the command line as --name value,\n"
                 "# which overrides this file. Options marked \"runtime\" can be changed with\n"
                 "# CONFIG SET. Every value below is the built-in default.\n");
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        const struct cfg_option *o = &config_options[i];
        fprintf(out, "\n");
        write_comment(out, o->desc);
        const char *t = "";
        switch (o->type) {
        case CFG_BOOL: t = "yes or no"; break;
        case CFG_INT: t = (o->flags & CFG_OCTAL) ? "octal integer"
                          : (o->flags & CFG_MILLI) ? "decimal" : "integer"; break;
        case CFG_SIZE: t = "size"; break;
        case CFG_STRING: t = "string"; break;
        case CFG_ENUM: t = "one of"; break;
        case CFG_LIST: t = "list"; break;
        }
        char range[96] = "";
        if (o->type == CFG_INT || o->type == CFG_SIZE) {
            if (o->max == CFG_LL_MAX)
                snprintf(range, sizeof(range), ", at least %lld", o->min);
            else if (o->flags & CFG_OCTAL)
                snprintf(range, sizeof(range), ", %llo..%llo", o->min, o->max);
            else if (o->flags & CFG_MILLI) {
                char lo[32], hi[32];
                format_milli(o->min, lo, sizeof(lo));
                format_milli(o->max, hi, sizeof(hi));
                snprintf(range, sizeof(range), ", %s..%s", lo, hi);
            }
            else
                snprintf(range, sizeof(range), ", %lld..%lld", o->min, o->max);
        }
        fprintf(out, "# (%s%s%s%s%s)\n", t, o->type == CFG_ENUM ? " " : "",
                o->type == CFG_ENUM ? o->words : "", range,
                (o->flags & CFG_MUTABLE) ? "; runtime" : (o->flags & CFG_FIXED) ? "; fixed" : "");
        bool quote = o->def[0] == '\0' || (o->type == CFG_STRING && strchr(o->def, ' '));
        fprintf(out, quote ? "%s \"%s\"\n" : "%s %s\n", o->name, o->def);
    }
}

long long config_admin_port_for(long long port)
{
    /* Redis Cluster puts its bus at port + 10000: the same offset is easy
     * to remember, and instances on distinct data ports get distinct admin
     * ports. Above 55535 it goes down instead; a port taken that way fails
     * start-up with the usual "could not listen" error. */
    if (port == 0)
        return 0;
    return port + 10000 <= 65535 ? port + 10000 : port - 10000;
}

void config_derive(void)
{
    if (cfg.admin_port == -1)
        cfg.admin_port = config_admin_port_for(cfg.port);
}
