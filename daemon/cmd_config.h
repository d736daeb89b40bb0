/*
 * cmd_config: the CONFIG command (see cmd_config.c).
 */
#pragma once

#include <stdbool.h>

#include "proto/command.h"

struct cfg_option;

/* CONFIG's subcommand rows on the data port, NULL-name-terminated
 * (cmd_server.c's CONFIG row points at them). */
extern const struct command cmd_config_subs[];

/* What differs between the data and the admin port's CONFIG GET and SET. */
struct cmd_config_port {
    bool (*allowed)(const struct cfg_option *o);   /* the options it shows and sets; NULL: all */
    const char *refused;   /* SET of an option allowed() refuses: error format, %s its name */
    const char *unknown;   /* SET of an unknown option: error format, %s its name */
    unsigned get_hidden;   /* rows with any of these CFG_* flags are settable, never shown */
};

/* CONFIG GET <pattern>... (argv[2..]): the port's options matching any
 * pattern, as a name/value map in table order. */
void cmd_config_get_port(struct reply *r, int argc, const struct slice *argv,
                         const struct cmd_config_port *port);

/* CONFIG SET <name> <value>... (argv[2..]): sets every pair or none, applies
 * the run-time effects and replies. True if the options were set (the
 * caller logs the pairs its own way). */
bool cmd_config_set_port(struct reply *r, int argc, const struct slice *argv,
                         const struct cmd_config_port *port);
