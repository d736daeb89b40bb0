/*
 * cmd_server: the commands that need connection or server state, registered
 * into proto's shared command table (HELLO, AUTH, QUIT, RESET, CLIENT, INFO,
 * SHUTDOWN and CONFIG), and the CONFIG GET/SET engine both ports share.
 */
#pragma once

#include <stdbool.h>

struct reply;
struct slice;
struct cfg_option;

/* Registers the daemon's own commands. Returns 0 or an errno. */
int cmd_server_setup(void);

/* What differs between the data and the admin port's CONFIG GET and SET. */
struct cmd_server_port {
    bool (*allowed)(const struct cfg_option *o);   /* the options it shows and sets; NULL: all */
    const char *refused;   /* SET of an option allowed() refuses: error format, %s its name */
    const char *unknown;   /* SET of an unknown option: error format, %s its name */
};

/* CONFIG GET <pattern>... (argv[2..]): the port's options matching any
 * pattern, as a name/value map in table order. */
void cmd_server_config_get(struct reply *r, int argc, const struct slice *argv,
                           const struct cmd_server_port *port);

/* CONFIG SET <name> <value>... (argv[2..]): sets every pair or none, applies
 * the run-time effects and replies. True if the options were set (the
 * caller logs the pairs its own way). */
bool cmd_server_config_set(struct reply *r, int argc, const struct slice *argv,
                           const struct cmd_server_port *port);
