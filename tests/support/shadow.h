/*
 * Resident bytes of AddressSanitizer's shadow memory in a process, for the
 * tests that bound RSS. The ASan runtime writes shadow for the ranges the
 * allocator maps (one shadow byte per eight bytes) and that shadow stays
 * resident after the allocator unmaps them, so in a sanitizer build a
 * process's RSS after a release still carries about mapped/8 of the peak.
 * A test subtracts this figure and keeps its bound on what the allocator
 * itself leaves resident. Every shared test executable and the daemon are
 * built with the same flags in a tree, so the figure of the test's build
 * speaks for the daemon it spawned too.
 */
#pragma once

/* Resident shadow bytes of process pid (0: this process); 0 in builds
 * without ASan, -1 if /proc could not be read. */
long test_shadow_rss_bytes(int pid);
