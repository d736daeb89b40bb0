/*
 * cmd_info: the INFO command (see cmd_info.c).
 */
#pragma once

#include "proto/command.h"

/* INFO [section ...]: the handler of cmd_server.c's INFO row. */
void cmd_info(struct session *s, int argc, struct slice *argv);
