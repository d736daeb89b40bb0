/*
 * Printable rendering of protocol bytes for test failure messages, shared
 * by the proto unit tests and the integration tests. It has no dependency
 * on any compactd module, so linking it never breaks a unit test's rule of
 * seeing only the module it tests.
 */
#pragma once

#include <stddef.h>

/* Writes p[0..n) into dst with \r, \n and non-printable bytes escaped
 * (\xHH); stops early rather than overflow cap. dst is always terminated. */
void test_escape(char *dst, size_t cap, const char *p, size_t n);
