/*
 * alloc/clock.h: the clocks, in microseconds, for every layer (alloc/ is
 * the bottom one, so the helpers live here): the monotonic clock for
 * budgets and durations, the wall clock for what is a date (expiry times,
 * TIME, INFO's server_time_usec), a thread's CPU time for what a piece of
 * work itself cost.
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

/* The calling thread's CPU time: of a stretch of wall time, the part the
 * thread ran (not what the OS ran instead of it). */
static inline uint64_t clock_thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Unix time in microseconds (CLOCK_REALTIME: it steps with the system's). */
static inline int64_t clock_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
