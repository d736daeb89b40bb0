/*
 * Deterministic randomness for the unit tests (alloc and keyspace): a
 * splitmix64 generator whose state each test seeds with a fixed value, and
 * a 64-bit finaliser that derives contents from an id. Header-only because
 * each unit test links its own module and cmocka and nothing else; each
 * test file includes it once and so owns its own rng_state.
 */
#pragma once

#include <stdint.h>

static uint64_t rng_state;

static inline uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}
