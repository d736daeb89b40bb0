/*
 * text: growable printf buffer and text replies (see text.h). The buffer
 * doubles from 1 KiB, so building INFO or STATS costs a few reallocs at
 * most; vsnprintf runs again after a growth rather than guessing sizes.
 */
#include "proto/text.h"

#include <stdio.h>
#include <stdlib.h>

#include "proto/reply.h"

void text_vprintf(struct text *t, const char *fmt, va_list ap0)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_copy(ap, ap0);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->p && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *np = realloc(t->p, cap);
        if (np == NULL) {
            t->oom = true;
            return;
        }
        t->p = np;
        t->cap = cap;
    }
}

void text_printf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    text_vprintf(t, fmt, ap);
    va_end(ap);
}

static void send(struct reply *r, struct text *t, bool verbatim)
{
    if (t->oom)
        reply_error(r, "ERR out of memory");
    else if (verbatim)
        reply_verbatim(r, t->p ? t->p : "", t->len, "txt");
    else
        reply_bulk(r, t->p ? t->p : "", t->len);
    free(t->p);
    t->p = NULL;
    t->len = t->cap = 0;
}

void text_reply(struct reply *r, struct text *t)
{
    send(r, t, true);
}

void text_reply_bulk(struct reply *r, struct text *t)
{
    send(r, t, false);
}

void text_reply_help(struct reply *r, const char *const *lines)
{
    size_t n = 0;
    while (lines[n])
        n++;
    reply_array(r, n);
    for (size_t i = 0; i < n; i++)
        reply_status(r, lines[i]);
}
