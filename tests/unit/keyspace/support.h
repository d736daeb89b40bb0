/*
 * Shared fixture for the keyspace unit tests: bringing up the allocator and
 * the keyspace with a test's options, and taking them down with the checks
 * every test ends on (both modules' invariants hold, and no block outlives
 * the keyspace). Linked only with keyspace (and alloc below it), like the
 * tests themselves.
 */
#pragma once

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"

/* alloc_setup(ao) then ks_setup(o), each NULL meaning that module's
 * defaults (alloc_options_default / ks_options_default); fails the test if
 * either does not come up. The keyspace clock is left to the test. */
void kstest_setup(const struct alloc_options *ao, const struct ks_options *o);

/* Removes the test's hooks (modify, flush, fault injection), fails the
 * test unless ks_verify and alloc_verify hold, then ks_census_reset and
 * ks_teardown, fails the test unless every allocator block was freed with
 * it (live_blocks == 0), then alloc_teardown. A cmocka teardown (state is unused, may be NULL;
 * returns 0), also called directly by tests that bring up their own. */
int kstest_teardown(void **state);

/* The decimal number that follows prefix in e's key (keys like "key:12");
 * fails the test unless the key is prefix and digits, under 32 bytes. */
unsigned kstest_key_number(const struct entry *e, const char *prefix);
