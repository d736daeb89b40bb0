/*
 * cron: the daemon's periodic work on the event loop (see cron.c).
 */
#pragma once

#include <stddef.h>

/* Starts the cron timer (hz times a second) and the fast expiry timer,
 * after syncing the loop's clock. Returns 0 or a sysexits code after
 * writing a message to err. */
int cron_setup(char *err, size_t errlen);
void cron_teardown(void);

/* hz changed (CONFIG SET, SIGHUP): reschedules at once, so a lower hz
 * takes effect without a long wait. */
void cron_hz_changed(void);
