/*
 * Block contents for the alloc unit tests (test_alloc.c, test_compact.c):
 * bytes derived from a block's id, written when the block is handed out and
 * checked before it is freed or after it was moved, so that two live blocks
 * sharing memory, or a move that copied the wrong bytes, fail the test.
 * Header-only like tests/unit/rng.h; include it after <cmocka.h>.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc/alloc.h"
#include "tests/unit/rng.h"   /* mix() */

/* Byte j of block id's pattern is byte j % 8 of mix(id, j / 8): whole words
 * are written and compared at once, bytes only at the ragged ends. Writes
 * bytes [from, to) of p, or with check fails the test at the first that
 * differs. */
static inline void pattern_range(unsigned char *p, size_t from, size_t to, uint64_t id, bool check)
{
    for (size_t i = from & ~(size_t)7; i < to; i += 8) {
        uint64_t w = mix(id * 0x100000001b3ull + i);
        if (i >= from && i + 8 <= to) {
            if (check) {
                uint64_t got;
                memcpy(&got, p + i, 8);
                if (got != w)
                    fail_msg("block id %llu corrupted at word %zu of %zu bytes",
                             (unsigned long long)id, i, to);
            } else {
                memcpy(p + i, &w, 8);
            }
            continue;
        }
        for (size_t k = 0; k < 8; k++) {
            size_t j = i + k;
            if (j < from || j >= to)
                continue;
            unsigned char b8 = (unsigned char)(w >> (8 * k));
            if (check) {
                if (p[j] != b8)
                    fail_msg("block id %llu corrupted at byte %zu of %zu",
                             (unsigned long long)id, j, to);
            } else {
                p[j] = b8;
            }
        }
    }
}

/* Bytes [from, n) of a block of n bytes (from < 256): all of them in a
 * block of up to 4 KiB; in a bigger one the first and last 256 bytes and
 * one word per 4 KiB page, which still catches any overlap of two blocks. */
static inline void pattern(void *blk, size_t from, size_t n, uint64_t id, bool check)
{
    unsigned char *p = blk;
    if (n <= 4096) {
        pattern_range(p, from, n, id, check);
        return;
    }
    pattern_range(p, from, 256, id, check);
    for (size_t off = 4096; off + 8 <= n - 256; off += 4096)
        pattern_range(p, off, off + 8, id, check);
    pattern_range(p, n - 256, n, id, check);
}

/* alloc_block as an owner uses it: the block is written (its first byte),
 * as every owner writes what it allocates. alloc_verify checks that the page
 * where each live block starts is resident, which only holds for blocks
 * somebody wrote. */
static inline void *owned_block(size_t size, unsigned band)
{
    unsigned char *p = alloc_block(size, band);
    if (p != NULL)
        *p = 0x5a;
    return p;
}
