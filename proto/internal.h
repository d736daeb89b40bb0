/*
 * Private to proto/: the handlers that proto's command table (commands.c)
 * points at, grouped by the file that defines them.
 */
#pragma once

#include "proto/command.h"

/* cmd_command.c: COMMAND [COUNT|INFO|DOCS|LIST|GETKEYS] */
void cmd_command(struct session *s, int argc, struct slice *argv);
