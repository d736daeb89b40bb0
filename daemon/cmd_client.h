/*
 * cmd_client: the CLIENT command's subcommands (see cmd_client.c).
 */
#pragma once

#include <stdbool.h>

#include "proto/command.h"

/* CLIENT's subcommand rows, NULL-name-terminated (cmd_server.c's CLIENT
 * row points at them). */
extern const struct command cmd_client_subs[];

/* CLIENT SETNAME and HELLO SETNAME: names the connection ("" clears the
 * name), or replies Redis's error and returns false for a bad name. */
bool cmd_client_set_name(struct session *s, const struct slice *n);
