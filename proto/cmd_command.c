/*
 * cmd_command: the COMMAND introspection command, answering from the shared
 * command table so that COMMAND always agrees with what dispatch accepts.
 *
 * Reply shapes follow Redis 7.0, because clients depend on them: COMMAND
 * INFO entries are 10-element arrays (name, arity, flags, first key, last
 * key, step, ACL categories, tips, key specs, subcommands), and COMMAND DOCS
 * is a map of name -> map whose summary/since/group values are bulk strings
 * and whose "arguments" is an array (redis-cli asserts these types when it
 * builds its hints at start-up).
 *
 * The table has no ACL categories of its own, so they are derived from the
 * row's flags and group; key specs come from the row's key positions and
 * key_flags (Redis's flag words, declared with the row).
 *
 * COMMAND's subcommands are rows of their own (cmd_command_subs), so that
 * dispatch checks their arity with Redis's wording and COMMAND LIST, INFO
 * and DOCS show them as Redis does.
 */
#include <string.h>
#include <strings.h>

#include "proto/internal.h"

static size_t count_subs(const struct command *c)
{
    size_t n = 0;
    if (c->subcommands != NULL)
        while (c->subcommands[n].name != NULL)
            n++;
    return n;
}

/* Looks up "name" or "parent|sub"; sets *parent for a subcommand. */
static const struct command *lookup_full(const struct slice *a, const struct command **parent)
{
    *parent = NULL;
    const char *bar = memchr(a->p, '|', a->len);
    if (bar == NULL)
        return command_lookup(a->p, a->len);
    const struct command *p = command_lookup(a->p, (size_t)(bar - a->p));
    if (p == NULL)
        return NULL;
    const char *sub = bar + 1;
    const struct command *c = command_lookup_sub(p, sub, (size_t)(a->p + a->len - sub));
    if (c != NULL)
        *parent = p;
    return c;
}

/* ACL categories, derived because rows do not declare them. Returns the
 * number written to out (at most 8). */
static size_t categories(const struct command *c, const struct command *parent,
                         const char **out)
{
    size_t n = 0;
    const char *group = c->group ? c->group : (parent ? parent->group : NULL);
    if (c->flags & CMD_WRITE)
        out[n++] = "@write";
    if (c->flags & CMD_READONLY)
        out[n++] = "@read";
    if (c->flags & CMD_ADMIN)
        out[n++] = "@admin";
    if (c->flags & CMD_PUBSUB)
        out[n++] = "@pubsub";
    if (group != NULL) {
        if (strcmp(group, "string") == 0)
            out[n++] = "@string";
        else if (strcmp(group, "generic") == 0)
            out[n++] = "@keyspace";
        else if (strcmp(group, "connection") == 0)
            out[n++] = "@connection";
    }
    out[n++] = (c->flags & CMD_FAST) ? "@fast" : "@slow";
    if (c->flags & CMD_ADMIN)
        out[n++] = "@dangerous";
    return n;
}

/* Longest flag word, plus its NUL ("variable_flags" is the longest). */
#define FLAG_WORD_MAX 32

/* Writes flags ("RW access update") as a set of status words. */
static void reply_flag_words(struct reply *r, const char *flags)
{
    size_t n = 0;
    for (const char *p = flags; *p; ) {
        size_t w = strcspn(p, " ");
        n += w > 0 && w < FLAG_WORD_MAX;
        p += w + (p[w] == ' ');
    }
    reply_set(r, n);
    for (const char *p = flags; *p; ) {
        size_t w = strcspn(p, " ");
        char word[FLAG_WORD_MAX];
        if (w > 0 && w < sizeof word) {
            memcpy(word, p, w);
            word[w] = '\0';
            reply_status(r, word);
        }
        p += w + (p[w] == ' ');
    }
}

/* One key spec: keys from argument begin to last (negative: from the end;
 * else an absolute index), every step. */
static void reply_key_spec(struct reply *r, const char *flags, int begin, int last, int step)
{
    reply_map(r, 3);
    reply_cstr(r, "flags");
    reply_flag_words(r, flags);
    reply_cstr(r, "begin_search");
    reply_map(r, 2);
    reply_cstr(r, "type");
    reply_cstr(r, "index");
    reply_cstr(r, "spec");
    reply_map(r, 1);
    reply_cstr(r, "index");
    reply_int(r, begin);
    reply_cstr(r, "find_keys");
    reply_map(r, 2);
    reply_cstr(r, "type");
    reply_cstr(r, "range");
    reply_cstr(r, "spec");
    reply_map(r, 3);
    reply_cstr(r, "lastkey");
    /* key specs count the last key from the first one, or from the end */
    reply_int(r, last < 0 ? last : last - begin);
    reply_cstr(r, "keystep");
    reply_int(r, step);
    reply_cstr(r, "limit");
    reply_int(r, 0);
}

static void reply_key_specs(struct reply *r, const struct command *c)
{
    if (c->first_key <= 0 || c->key_flags == NULL) {
        reply_array(r, 0);
        return;
    }
    if (c->key_flags2 == NULL) {
        reply_array(r, 1);
        reply_key_spec(r, c->key_flags, c->first_key, c->last_key, c->key_step);
        return;
    }
    /* two roles: the first key, then the rest */
    reply_array(r, 2);
    reply_key_spec(r, c->key_flags, c->first_key, c->first_key, 1);
    reply_key_spec(r, c->key_flags2, c->first_key + c->key_step, c->last_key, c->key_step);
}

static void reply_info(struct reply *r, const struct command *c, const struct command *parent)
{
    reply_array(r, 10);
    reply_cstr(r, command_fullname(c));
    reply_int(r, c->arity);

    size_t nflags = 0;
#define X(fl, bit, str) if (c->flags & (bit)) nflags++;
    COMMAND_FLAGS(X)
#undef X
    reply_set(r, nflags);
#define X(fl, bit, str) if (c->flags & (bit)) reply_status(r, str);
    COMMAND_FLAGS(X)
#undef X

    reply_int(r, c->first_key);
    reply_int(r, c->last_key);
    reply_int(r, c->key_step);

    const char *cats[8];
    size_t ncats = categories(c, parent, cats);
    reply_set(r, ncats);
    for (size_t i = 0; i < ncats; i++)
        reply_status(r, cats[i]);

    reply_set(r, 0);            /* tips: none of ours needs routing hints */
    reply_key_specs(r, c);

    size_t nsubs = count_subs(c);
    reply_array(r, nsubs);
    for (size_t i = 0; i < nsubs; i++)
        reply_info(r, &c->subcommands[i], c);
}

static void reply_docs(struct reply *r, const struct command *c, const struct command *parent)
{
    size_t nsubs = count_subs(c);
    const char *group = c->group ? c->group : (parent ? parent->group : "generic");
    const char *since = c->since ? c->since : (parent ? parent->since : NULL);
    size_t npairs = 3 + (since != NULL) + (c->complexity != NULL) + (nsubs > 0);
    reply_map(r, npairs);
    reply_cstr(r, "summary");
    reply_cstr(r, c->summary ? c->summary : "");
    if (since != NULL) {
        reply_cstr(r, "since");
        reply_cstr(r, since);
    }
    reply_cstr(r, "group");
    reply_cstr(r, group);
    if (c->complexity != NULL) {
        reply_cstr(r, "complexity");
        reply_cstr(r, c->complexity);
    }
    reply_cstr(r, "arguments");
    reply_array(r, 0);          /* rows carry no argument grammar */
    if (nsubs > 0) {
        reply_cstr(r, "subcommands");
        reply_map(r, nsubs);
        for (size_t i = 0; i < nsubs; i++) {
            reply_cstr(r, command_fullname(&c->subcommands[i]));
            reply_docs(r, &c->subcommands[i], c);
        }
    }
}

struct walk {
    struct reply *r;
    size_t n;
    int mode;                   /* what the walk writes, see below */
    const struct slice *pattern;   /* LIST FILTERBY PATTERN (Redis's glob, any case) */
    const char *aclcat;            /* LIST FILTERBY ACLCAT, without '@' */
};

enum { WALK_INFO, WALK_DOCS, WALK_LIST };

static bool list_match(const struct walk *w, const struct command *c,
                       const struct command *parent, const char *name)
{
    if (w->pattern != NULL &&
        !glob_match(w->pattern->p, w->pattern->len, name, strlen(name), true))
        return false;
    if (w->aclcat != NULL) {
        const char *cats[8];
        size_t n = categories(c, parent, cats);
        for (size_t i = 0; i < n; i++)
            if (strcasecmp(cats[i] + 1, w->aclcat) == 0)
                return true;
        return false;
    }
    return true;
}

static void walk_one(const struct command *c, void *ctx)
{
    struct walk *w = ctx;
    switch (w->mode) {
    case WALK_INFO:
        reply_info(w->r, c, NULL);
        w->n++;
        break;
    case WALK_DOCS:
        reply_cstr(w->r, c->name);
        reply_docs(w->r, c, NULL);
        w->n++;
        break;
    case WALK_LIST:
        if (list_match(w, c, NULL, c->name)) {
            reply_cstr(w->r, c->name);
            w->n++;
        }
        for (size_t i = 0; i < count_subs(c); i++) {
            const char *name = command_fullname(&c->subcommands[i]);
            if (list_match(w, &c->subcommands[i], c, name)) {
                reply_cstr(w->r, name);
                w->n++;
            }
        }
        break;
    }
}

/* The row COMMAND GETKEYS[ANDFLAGS] <command> <args...> asks about (a
 * subcommand's if it has them), or NULL after replying Redis's error. */
static const struct command *getkeys_target(struct session *s, int targc, const struct slice *targv)
{
    struct reply *r = &s->reply;
    const struct command *c = command_lookup(targv[0].p, targv[0].len);
    if (c != NULL && c->subcommands != NULL && targc >= 2)
        c = command_lookup_sub(c, targv[1].p, targv[1].len);
    if (c == NULL) {
        reply_error(r, "ERR Invalid command specified");
        return NULL;
    }
    if (c->first_key <= 0) {
        reply_error(r, "ERR The command has no key arguments");
        return NULL;
    }
    if ((c->arity > 0 && c->arity != targc) || targc < -c->arity) {
        reply_error(r, "ERR Invalid number of arguments specified for command");
        return NULL;
    }
    int last = c->last_key < 0 ? targc + c->last_key : c->last_key;
    if (last >= targc || c->first_key >= targc) {
        reply_error(r, "ERR Invalid arguments specified for command");
        return NULL;
    }
    return c;
}

static void getkeys(struct session *s, int argc, struct slice *argv, bool with_flags)
{
    struct reply *r = &s->reply;
    const struct slice *targv = argv + 2;
    int targc = argc - 2;
    const struct command *c = getkeys_target(s, targc, targv);
    if (c == NULL)
        return;
    int last = c->last_key < 0 ? targc + c->last_key : c->last_key;
    int step = c->key_step > 0 ? c->key_step : 1;
    const char *flags = c->key_flags;
    if (c->key_flags_for != NULL)
        flags = c->key_flags_for(targc, targv);
    size_t h = reply_defer(r);
    size_t n = 0;
    for (int i = c->first_key; i <= last; i += step) {
        if (with_flags) {
            reply_array(r, 2);
            reply_bulk(r, targv[i].p, targv[i].len);
            reply_flag_words(r, i > c->first_key && c->key_flags2 ? c->key_flags2 : flags);
        } else {
            reply_bulk(r, targv[i].p, targv[i].len);
        }
        n++;
    }
    reply_defer_array(r, h, n);
}

static void cmd_command_getkeys(struct session *s, int argc, struct slice *argv)
{
    getkeys(s, argc, argv, false);
}

static void cmd_command_getkeysandflags(struct session *s, int argc, struct slice *argv)
{
    getkeys(s, argc, argv, true);
}

static void cmd_command_help(struct session *s, int argc, struct slice *argv)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands.",
        "GETKEYS <full-command>",
        "    Return the keys from a full command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full command.",
        "INFO [<command-name> ...]",
        "    Return details about the given commands, or all when none is given.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Return the names of all commands, optionally filtered.",
        "DOCS [<command-name> ...]",
        "    Return documentation of the given commands, or all when none is given.",
        "HELP",
        "    Print this help.",
    };
    struct reply *r = &s->reply;
    size_t n = sizeof(lines) / sizeof(lines[0]);
    reply_array(r, n);
    for (size_t i = 0; i < n; i++)
        reply_status(r, lines[i]);
}

static void cmd_command_count(struct session *s, int argc, struct slice *argv)
{
    reply_int(&s->reply, (long long)command_count());
}

/* COMMAND INFO and DOCS: every command, or the names asked for. */
static void info_or_docs(struct session *s, int argc, struct slice *argv, bool info)
{
    struct reply *r = &s->reply;
    struct walk w = {.r = r, .mode = info ? WALK_INFO : WALK_DOCS};
    if (argc == 2) {
        size_t h = reply_defer(r);
        command_foreach(walk_one, &w);
        if (info)
            reply_defer_array(r, h, w.n);
        else
            reply_defer_map(r, h, w.n);
        return;
    }
    if (info) {
        /* one entry per name asked, null for unknown ones */
        reply_array(r, (size_t)(argc - 2));
        for (int i = 2; i < argc; i++) {
            const struct command *parent;
            const struct command *c = lookup_full(&argv[i], &parent);
            if (c != NULL)
                reply_info(r, c, parent);
            else
                reply_null_array(r);
        }
        return;
    }
    /* unknown names are left out of the map */
    size_t h = reply_defer(r);
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        const struct command *parent;
        const struct command *c = lookup_full(&argv[i], &parent);
        if (c == NULL)
            continue;
        reply_cstr(r, command_fullname(c));
        reply_docs(r, c, parent);
        n++;
    }
    reply_defer_map(r, h, n);
}

static void cmd_command_info(struct session *s, int argc, struct slice *argv)
{
    info_or_docs(s, argc, argv, true);
}

static void cmd_command_docs(struct session *s, int argc, struct slice *argv)
{
    info_or_docs(s, argc, argv, false);
}

static void cmd_command_list(struct session *s, int argc, struct slice *argv)
{
    struct reply *r = &s->reply;
    struct walk w = {.r = r, .mode = WALK_LIST};
    char aclcat[64];
    if (argc == 5 && slice_eq(&argv[2], "filterby")) {
        if (slice_eq(&argv[3], "pattern")) {
            w.pattern = &argv[4];
        } else if (slice_eq(&argv[3], "aclcat") && argv[4].len < sizeof(aclcat)) {
            memcpy(aclcat, argv[4].p, argv[4].len);
            aclcat[argv[4].len] = '\0';
            w.aclcat = aclcat[0] == '@' ? aclcat + 1 : aclcat;
        } else if (slice_eq(&argv[3], "module")) {
            reply_array(r, 0);      /* no modules here */
            return;
        } else {
            reply_error(r, ERR_SYNTAX);
            return;
        }
    } else if (argc != 2) {
        reply_error(r, ERR_SYNTAX);
        return;
    }
    size_t h = reply_defer(r);
    command_foreach(walk_one, &w);
    reply_defer_array(r, h, w.n);
}

/* COMMAND without a subcommand: every command's INFO entry. */
void cmd_command(struct session *s, int argc, struct slice *argv)
{
    info_or_docs(s, 2, argv, true);
}

#define LS (CMD_LOADING | CMD_STALE)
const struct command cmd_command_subs[] = {
    {.name = "count", .arity = 2, .flags = LS, .proc = cmd_command_count,
     .summary = "Get total number of Redis commands", .since = "2.8.13"},
    {.name = "docs", .arity = -2, .flags = LS, .proc = cmd_command_docs,
     .summary = "Get array of specific Redis command documentation", .since = "7.0.0"},
    {.name = "getkeys", .arity = -4, .flags = LS, .proc = cmd_command_getkeys,
     .summary = "Extract keys given a full Redis command", .since = "2.8.13"},
    {.name = "getkeysandflags", .arity = -4, .flags = LS, .proc = cmd_command_getkeysandflags,
     .summary = "Extract keys and access flags given a full Redis command", .since = "7.0.0"},
    {.name = "help", .arity = 2, .flags = LS, .proc = cmd_command_help,
     .summary = "Show helpful text about the different subcommands", .since = "5.0.0"},
    {.name = "info", .arity = -2, .flags = LS, .proc = cmd_command_info,
     .summary = "Get array of specific Redis command details, or all when no argument is given",
     .since = "2.8.13"},
    {.name = "list", .arity = -2, .flags = LS, .proc = cmd_command_list,
     .summary = "Get an array of Redis command names", .since = "7.0.0"},
    {.name = NULL},
};
#undef LS
