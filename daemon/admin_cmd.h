/*
 * admin_cmd: the admin port's commands (see admin.h for the port).
 */
#pragma once

struct conn;

/* Runs the parsed request c->req of an admin connection (RESP). */
void admin_run(struct conn *c);
