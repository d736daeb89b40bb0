/*
 * Shared fixture for the proto unit tests that drive command_dispatch on a
 * real allocator and keyspace (test_bit, test_object, test_multi,
 * test_commands, test_memory): bring-up and tear-down of the three layers
 * with the clock pinned at T0, client sessions in RESP2, running a request
 * given as C strings, and byte-exact reply checks that print both sides
 * escaped on mismatch; and a RESP reader for tests that check a reply's
 * shape. Linked only with proto (and what proto links), so the tests stay
 * unit tests.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "proto/internal.h"

#define T0 1700000000000LL   /* the pinned "now", in Unix ms */

/* The two clients every test has (S2 is for WATCH and other cross-client
 * cases); between ptest_setup and ptest_teardown they are zeroed sessions
 * with an empty reply buffer in RESP2. */
extern struct session S, S2;

/* alloc_setup(ao), ks_setup(ko) (NULL: the defaults), proto_setup, the
 * keyspace clock set to T0, and S and S2 fresh; fails the test if a layer
 * does not come up. */
void ptest_setup(const struct alloc_options *ao, const struct ks_options *ko);

/* Frees S and S2 (transaction state, reply buffers) and undoes
 * ptest_setup, clearing any keyspace fault hooks a test installed. */
void ptest_teardown(void);

/* ptest_setup(NULL, NULL) and ptest_teardown as cmocka fixtures. */
int ptest_fixture_setup(void **state);
int ptest_fixture_teardown(void **state);

/* Dispatches args[0..argc) (NUL-terminated strings, at most 64) on s; the
 * reply is appended to s->reply. */
void ptest_run_strs(struct session *s, int argc, const char **args);

/* Fails (naming file:line) unless s's reply is exactly exp[0..elen), then
 * clears the reply. */
void ptest_expect_reply(struct session *s, const char *file, int line, const char *exp,
                        size_t elen);

/* CMD_ON(session, expected reply literal, arguments...) */
#define CMD_ON(sess, exp, ...)                                                  \
    do {                                                                        \
        const char *a_[] = { __VA_ARGS__ };                                     \
        ptest_run_strs(&(sess), (int)(sizeof a_ / sizeof a_[0]), a_);           \
        ptest_expect_reply(&(sess), __FILE__, __LINE__, exp, sizeof(exp) - 1);  \
    } while (0)
/* CMD(expected reply literal, arguments...) on client S; CMD2 on S2 */
#define CMD(exp, ...) CMD_ON(S, exp, __VA_ARGS__)
#define CMD2(exp, ...) CMD_ON(S2, exp, __VA_ARGS__)

/*
 * A small RESP reader, for tests that check a reply's shape rather than
 * its exact bytes: one parsed value, whose strings point into the reply.
 */
struct ptest_node {
    char type;                  /* RESP type byte; '_' for any null */
    long long num;              /* integer, or aggregate element count */
    const char *str;            /* text of a bulk, status, error or double */
    size_t len;
    struct ptest_node *kids;    /* nkids elements (2 * num for a map) */
    size_t nkids;
};

/* Parses r's buffer, which must hold exactly one value (else the test
 * fails); free the result with ptest_node_free. */
void ptest_parse_reply(const struct reply *r, struct ptest_node *n);
void ptest_node_free(struct ptest_node *n);
/* n is a bulk or status string equal to str. */
bool ptest_str_is(const struct ptest_node *n, const char *str);
/* The value under a bulk-string key in a RESP3 map or a RESP2 flat
 * key/value array; NULL if there is none. */
const struct ptest_node *ptest_map_get(const struct ptest_node *m, const char *key);

/* A block allocator for ks_test_fault_hooks that fails while
 * ptest_fail_blocks is set and otherwise is alloc_block. */
extern bool ptest_fail_blocks;
void *ptest_failing_block_alloc(size_t size, unsigned band);
