/*
 * human: byte counts for people to read ("1.50M"), one formatter for the
 * three places that print them. Each keeps the exact form its readers
 * know, so the form is the caller's choice:
 *  - HUMAN_REDIS: INFO's *_human fields, as Redis writes them: "512B",
 *    "1.50K", "3.25M", "2.00G", "1.00T" (T is the largest unit);
 *  - HUMAN_LOG: the daemon's log lines: "512.00B", "1.50K", "3.25M",
 *    "2.00G" (G is the largest unit);
 *  - HUMAN_PROSE: MEMORY DOCTOR's sentences: "512 bytes", "1.50 KiB",
 *    "3.25 MiB", "2.00 GiB", "1.00 TiB".
 * The unit is the largest power of 1024 the value reaches (within the
 * style's units); below 1024 the value is in bytes.
 */
#pragma once

#include <stddef.h>

enum human_style { HUMAN_REDIS, HUMAN_LOG, HUMAN_PROSE };

/* Writes bytes in style into buf (32 bytes hold any value). */
void human_bytes(char *buf, size_t len, double bytes, enum human_style style);
