/*
 * multi: the private link between command dispatch (command.c) and
 * transactions (multi.c). Not for use outside proto/.
 *
 * A queued command keeps the table entry it resolved to at queue time, so
 * EXEC runs exactly what MULTI accepted and counts it in the same
 * commandstats row.
 */
#pragma once

#include <stdbool.h>

#include "proto/command.h"

struct cmd_entry;   /* command.c's per-row record */

/* command.c: runs e's handler and counts the call (calls, usec, failed). */
void command_call(struct session *s, struct cmd_entry *e, int argc, struct slice *argv);

/* multi.c: ends any transaction and forgets the watched keys (DISCARD's
 * effect), for a refused EXEC. */
void tx_discard(struct session *s);

/* multi.c: appends a copy of the request to s's queue; false if out of
 * memory (nothing is queued then). */
bool tx_queue(struct session *s, struct cmd_entry *e, int argc, struct slice *argv);
