/*
 * text: the text replies the server commands (INFO, CLIENT LIST, HELP,
 * MEMORY DOCTOR) and the admin port (STATS, COMPACT STATUS, its HTTP
 * responses) build: a growable printf buffer and the ways of sending text
 * to a client.
 *
 * A buffer that ran out of memory (or met a bad format) stays `oom` and
 * ignores further output, so a builder prints everything and checks once.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct reply;

struct text {
    char *p;          /* malloc'd, NUL-terminated when len > 0; NULL when empty */
    size_t len, cap;
    bool oom;
};

void text_vprintf(struct text *t, const char *fmt, va_list ap);
void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends t as INFO-like text (bulk in RESP2, verbatim "txt" in RESP3), or
 * "ERR out of memory" if it ran out; frees t's buffer either way. */
void text_reply(struct reply *r, struct text *t);
/* The same as a bulk string in RESP3 too (MEMORY MALLOC-STATS, as Redis). */
void text_reply_bulk(struct reply *r, struct text *t);

/* A HELP reply: an array of the NULL-terminated lines as status replies. */
void text_reply_help(struct reply *r, const char *const *lines);
