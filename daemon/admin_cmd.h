/*
 * admin_cmd: the admin port's commands (see admin.h for the port).
 */
#pragma once

/* Registers the admin port's rows in proto's command table. Returns 0 or
 * an errno (from command_register). */
int admin_cmd_setup(void);
