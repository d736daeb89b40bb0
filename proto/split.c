/*
 * split: redis-cli's quoting, one implementation (see split.h).
 *
 * The cursor moves over the line once; each call produces one word. The
 * escapes of a double-quoted part are decoded as they are read, so the
 * output never needs more bytes than the input, which is what lets the
 * callers size their buffer once.
 */
#include "proto/split.h"

#include <ctype.h>

static inline bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

static inline bool is_blank(char c)
{
    return isspace((unsigned char)c) != 0;
}

void split_init(struct split *sp, const char *line, size_t n, char *out, unsigned rules)
{
    sp->p = line;
    sp->n = n;
    sp->i = 0;
    sp->out = out;
    sp->o = 0;
    sp->rules = rules;
}

enum split_status split_next(struct split *sp, size_t *off, size_t *len)
{
    const char *p = sp->p;
    size_t n = sp->n, i = sp->i, o = sp->o;
    char *out = sp->out;

    while (i < n && is_blank(p[i]))
        i++;
    sp->i = i;
    if (i >= n)
        return SPLIT_END;
    size_t word = i;
    char quote = 0;   /* the quote of the part being read, 0 outside quotes */
    for (;;) {
        if (quote == 0) {
            if (i >= n || split_ends_word(p[i], sp->rules))
                break;
            char c = p[i++];
            if ((c == '"' || c == '\'') &&
                ((sp->rules & SPLIT_QUOTES_ANYWHERE) || i - 1 == word))
                quote = c;
            else
                out[o++] = c;
            continue;
        }
        if (i >= n)
            return SPLIT_EQUOTES;
        char c = p[i];
        if (c == quote) {
            if (i + 1 < n && !is_blank(p[i + 1]))
                return SPLIT_EQUOTES;   /* a closing quote must end the word */
            i++;
            break;
        }
        if (c == '\\' && quote == '\'') {
            if (i + 1 < n && p[i + 1] == '\'') {
                out[o++] = '\'';
                i += 2;
            } else {
                out[o++] = c;
                i++;
            }
        } else if (c == '\\' && i + 3 < n && p[i + 1] == 'x' && is_hex(p[i + 2]) &&
                   is_hex(p[i + 3])) {
            out[o++] = (char)(hex_val(p[i + 2]) * 16 + hex_val(p[i + 3]));
            i += 4;
        } else if (c == '\\' && i + 1 < n) {
            char e = p[i + 1];
            switch (e) {
            case 'n': e = '\n'; break;
            case 'r': e = '\r'; break;
            case 't': e = '\t'; break;
            case 'b': e = '\b'; break;
            case 'a': e = '\a'; break;
            default: break;
            }
            out[o++] = e;
            i += 2;
        } else {
            out[o++] = c;
            i++;
        }
    }
    *off = sp->o;
    *len = o - sp->o;
    sp->i = i;
    sp->o = o;
    return SPLIT_WORD;
}
