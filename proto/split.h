/*
 * split: cuts one line of text into words with redis-cli's quoting. Two
 * readers of such lines share it: the inline form of a request
 * (proto/resp.c) and the daemon's configuration file (daemon/config.c).
 *
 * Blanks (isspace) before a word are skipped. Parts of a word may be
 * quoted: "..." with the escapes \n \r \t \b \a and \xHH (two hex digits;
 * any other escaped byte stands for itself, so \" is " and \\ is \), or
 * '...' in which \' is the only escape. A closing quote must end the word:
 * what follows it is a blank or the end of the line, else the line is
 * malformed, as it is when a quote is never closed.
 *
 * Two rules differ between the readers, so the caller chooses them:
 *  - SPLIT_QUOTES_ANYWHERE: a quote opens a quoted part anywhere in a word
 *    (`a"b c"` is the one word `ab c`), as Redis reads inline requests;
 *    without it only at the start of a word (`a"b"` is the word `a"b"`),
 *    as the configuration file has always been read;
 *  - SPLIT_ANY_SPACE_ENDS: every isspace() byte ends a word, as in the
 *    configuration file; without it only space, tab, CR and LF do (a
 *    vertical tab or form feed inside a word belongs to it), as in Redis.
 * A NUL byte is never a separator.
 *
 * The splitter works on bytes with a length, never allocates, and writes
 * the unquoted words one after the other into the caller's buffer, which
 * must hold n bytes (a word never grows by unquoting). Error wording is the
 * caller's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SPLIT_QUOTES_ANYWHERE 0x1u
#define SPLIT_ANY_SPACE_ENDS  0x2u

struct split {
    const char *p;    /* the line */
    size_t n;
    size_t i;         /* next byte of the line to read */
    char *out;        /* the unquoted words, back to back */
    size_t o;         /* bytes written to out */
    unsigned rules;   /* SPLIT_* */
};

enum split_status {
    SPLIT_END = 0,    /* no word is left */
    SPLIT_WORD,       /* a word: out[*off .. *off + *len) */
    SPLIT_EQUOTES,    /* unbalanced quotes: the line is malformed */
};

void split_init(struct split *sp, const char *line, size_t n, char *out, unsigned rules);

/* The next word of the line (see enum split_status). After SPLIT_END or
 * SPLIT_EQUOTES the caller stops. */
enum split_status split_next(struct split *sp, size_t *off, size_t *len);

/* Whether byte c ends an unquoted word under rules. */
static inline bool split_ends_word(char c, unsigned rules)
{
    if (rules & SPLIT_ANY_SPACE_ENDS)
        return c == ' ' || (c >= '\t' && c <= '\r');   /* isspace() in the C locale */
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
