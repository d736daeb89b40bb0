/*
 * human: byte counts in human units (see human.h). The styles differ only
 * in their unit names, how many units they go up to and how many decimals
 * a count below 1 KiB gets, so they are rows of one table and the scaling
 * is written once.
 */
#include "proto/human.h"

#include <stdio.h>

struct style {
    const char *units[5];   /* bytes, then each power of 1024; NULL ends */
    int byte_decimals;      /* decimals of a count below 1024 */
};

static const struct style styles[] = {
    [HUMAN_REDIS] = {{"B", "K", "M", "G", "T"}, 0},
    [HUMAN_LOG] = {{"B", "K", "M", "G", NULL}, 2},
    [HUMAN_PROSE] = {{" bytes", " KiB", " MiB", " GiB", " TiB"}, 0},
};

void human_bytes(char *buf, size_t len, double bytes, enum human_style style)
{
    const struct style *st = &styles[style];
    if (bytes < 1024.0) {
        snprintf(buf, len, "%.*f%s", st->byte_decimals, bytes, st->units[0]);
        return;
    }
    /* dividing by a power of two is exact, so this is the same as dividing
     * once by the unit's size */
    double v = bytes / 1024.0;
    size_t u = 1;
    while (v >= 1024.0 && u + 1 < sizeof(st->units) / sizeof(st->units[0]) &&
           st->units[u + 1] != NULL) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.2f%s", v, st->units[u]);
}
