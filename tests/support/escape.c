/*
 * test_escape (see escape.h). Each escape takes at most 4 bytes, so
 * stopping while fewer than 5 bytes remain keeps room for it and the NUL.
 */
#include "tests/support/escape.h"

#include <stdio.h>

void test_escape(char *dst, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r')
            o += (size_t)snprintf(dst + o, cap - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(dst + o, cap - o, "\\n");
        else if (c < 32 || c > 126)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    dst[o] = '\0';
}
