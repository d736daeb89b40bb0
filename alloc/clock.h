/*
 * alloc/clock.h: the one monotonic clock, in microseconds, for every layer
 * (alloc/ is the bottom one, so the helper lives here).
 *
 * CLOCK_MONOTONIC never jumps with the wall clock, so budgets and
 * durations measured with it stay honest across NTP steps and
 * settimeofday. Microseconds in a uint64_t last half a million years of
 * uptime. Header-only: one vDSO call, no state.
 */
#pragma once

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
