/*
 * cmd_server: the commands that need connection or server state, registered
 * into proto's shared command table: HELLO, AUTH, QUIT, RESET, CLIENT, INFO,
 * SHUTDOWN and CONFIG (CLIENT, INFO and CONFIG have files of their own).
 */
#pragma once

/* Registers the daemon's own commands. Returns 0 or an errno. */
int cmd_server_setup(void);
