/*
 * log: leveled logging with timestamps to stderr or a log file.
 *
 * The level check happens in the macro, before any argument is evaluated or
 * formatted, so a disabled debug line costs one compare. Lines are written
 * with a single write() so that they do not interleave with other writers of
 * the same file.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Same order and names as the loglevel option's enum values. */
enum log_level {
    LOG_LVL_DEBUG = 0,
    LOG_LVL_VERBOSE,
    LOG_LVL_NOTICE,
    LOG_LVL_WARNING,
};

extern int log_level_current;

/* Opens path for appending ("" or NULL means stderr). Returns 0 or an errno. */
int log_setup(const char *path, int level);
void log_teardown(void);
void log_set_level(int level);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                          \
    do {                                          \
        if ((lvl) >= log_level_current)           \
            log_write((lvl), __VA_ARGS__);        \
    } while (0)

#define log_debug(...)   log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_at(LOG_LVL_VERBOSE, __VA_ARGS__)
#define log_notice(...)  log_at(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_warn(...)    log_at(LOG_LVL_WARNING, __VA_ARGS__)

/*
 * A line an outsider can make repeat without bound (a cross-protocol
 * request, accept failing for lack of descriptors) must not fill the disk:
 * log_limit_pass lets one through per period and counts the rest, which
 * the next line that passes reports (*held). Zero-initialise the struct.
 */
struct log_limit {
    int64_t last_ms;
    uint64_t held;
    bool started;
};
bool log_limit_pass(struct log_limit *l, int64_t now_ms, int64_t period_ms, uint64_t *held);
/* " (N more since the last report)" for held > 0, else "": a static buffer,
 * valid until the next call (the loop is single-threaded). */
const char *log_held_note(uint64_t held);
