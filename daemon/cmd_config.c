/*
 * cmd_config: CONFIG GET, SET, RESETSTAT, REWRITE and HELP on the data
 * port, and the GET/SET engine the admin port's CONFIG shares: what
 * differs between the ports (which options they show and set, and the
 * wording of a refusal) is a struct cmd_config_port.
 *
 * CONFIG SET goes through config_set_many, so it is all-or-nothing, and
 * then applies the run-time effects of the options it changed.
 */
#include "daemon/cmd_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cmd_info.h"
#include "daemon/config.h"
#include "daemon/latency.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "proto/text.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"

void cmd_config_get_port(struct reply *r, int argc, const struct slice *argv,
                         const struct cmd_config_port *port)
{
    bool add[CFG_OPT_COUNT] = {false};
    size_t n = 0;
    for (int a = 2; a < argc; a++) {
        for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
            const char *name = config_options[i].name;
            if (!add[i] && (port->allowed == NULL || port->allowed(&config_options[i])) &&
                !(config_options[i].flags & port->get_hidden) &&
                config_glob_match(argv[a].p, argv[a].len, name, strlen(name), true)) {
                add[i] = true;
                n++;
            }
        }
    }
    reply_map(r, n);
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        if (!add[i])
            continue;
        char *v = config_format(&config_options[i]);
        reply_cstr(r, config_options[i].name);
        reply_cstr(r, v ? v : "");
        free(v);
    }
}

bool cmd_config_set_port(struct reply *r, int argc, const struct slice *argv,
                         const struct cmd_config_port *port)
{
    if (argc < 4 || (argc - 2) % 2 != 0) {
        reply_error(r, "ERR wrong number of arguments for 'config|set' command");
        return false;
    }
    /* config_set_many takes C strings */
    size_t n = (size_t)(argc - 2) / 2;
    char **strs = calloc(2 * n, sizeof(*strs));
    const char **names = calloc(n, sizeof(*names));
    const char **values = calloc(n, sizeof(*values));
    bool ok = strs && names && values;
    for (size_t i = 0; ok && i < 2 * n; i++) {
        strs[i] = strndup(argv[2 + i].p, argv[2 + i].len);
        ok = strs[i] != NULL;
    }
    bool set = false;
    if (!ok) {
        reply_error(r, "ERR out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = strs[2 * i];
        values[i] = strs[2 * i + 1];
        if (port->allowed != NULL) {
            const struct cfg_option *o = config_find(names[i]);
            if (o != NULL && !port->allowed(o)) {
                reply_errorf(r, port->refused, names[i]);
                goto out;
            }
        }
    }
    size_t bad = 0;
    bool changed[CFG_OPT_COUNT];
    char err[256];
    config_rstatus_e st = config_set_many(n, names, values, &bad, changed, err, sizeof(err));
    if (st == CONFIG_EUNKNOWN) {
        reply_errorf(r, port->unknown, names[bad]);
    } else if (st != CONFIG_OK) {
        reply_errorf(r, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                     names[bad], err);
    } else {
        config_changed(changed);   /* proto-max-bulk-len included */
        reply_ok(r);
        set = true;
    }
out:
    if (strs != NULL)
        for (size_t i = 0; i < 2 * n; i++)
            free(strs[i]);
    free(strs);
    free(names);
    free(values);
    return set;
}

/* What guards the admin port is a privilege of its own: a data client can
 * neither read nor change it (CFG_ADMIN rows). */
static bool data_option(const struct cfg_option *o)
{
    return !(o->flags & CFG_ADMIN);
}

static const struct cmd_config_port data_port = {
    .allowed = data_option,
    .refused = "ERR '%s' can only be changed on the admin port or in the configuration file",
    .unknown = "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
};

static void cmd_config_get(struct session *s, int argc, struct slice *argv)
{
    cmd_config_get_port(&s->reply, argc, argv, &data_port);
}

static void cmd_config_set(struct session *s, int argc, struct slice *argv)
{
    if (!cmd_config_set_port(&s->reply, argc, argv, &data_port))
        return;
    for (int i = 2; i < argc; i += 2)   /* names only: requirepass's value is a secret */
        log_verbose("CONFIG SET %.*s", (int)argv[i].len, argv[i].p);
}

static void cmd_config_resetstat(struct session *s, int argc, struct slice *argv)
{
    server_stats_reset();
    ks_stats_reset();
    command_stats_reset();
    reply_errorstats_reset();
    latency_stats_reset();      /* latencystats */
    reply_ok(&s->reply);
}

static void cmd_config_rewrite(struct session *s, int argc, struct slice *argv)
{
    reply_error(&s->reply, "ERR CONFIG REWRITE is not supported: compactd never rewrites its "
                           "configuration file");
}

static void cmd_config_help(struct session *s, int argc, struct slice *argv)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Not supported by compactd.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    text_reply_help(&s->reply, lines);
}

/* ---- the table ---- */

#define SUB(n, ar, fl, fn, sum) \
    {.name = n, .arity = ar, .flags = fl, .proc = fn, .summary = sum, .group = "server", .since = "2.4.0"}

const struct command cmd_config_subs[] = {
    SUB("help", 2, CMD_LOADING | CMD_STALE, cmd_config_help, "Show helpful text about the different subcommands"),
    SUB("get", -3, CMD_FLAGS_ADMIN, cmd_config_get, "Get the values of configuration parameters"),
    SUB("set", -4, CMD_FLAGS_ADMIN, cmd_config_set, "Set configuration parameters to the given values"),
    SUB("resetstat", 2, CMD_FLAGS_ADMIN, cmd_config_resetstat, "Reset the stats returned by INFO"),
    SUB("rewrite", 2, CMD_FLAGS_ADMIN, cmd_config_rewrite, "Rewrite the configuration file (unsupported)"),
    {.name = NULL},
};
