/*
 * alloc/list.h: an intrusive doubly-linked list, header-only, for every layer
 * (alloc/ is the bottom one, so the helper lives here).
 *
 * A node carries its own prev/next pointers, as fields of any name, so that
 * one struct can be on several lists at once (an arena is on a bucket list,
 * its class's list and the retained LRU list). A list is a head pointer
 * and, when the list needs its end, a tail pointer, both kept by the user;
 * an empty list has head (and tail) NULL. Nothing is allocated, every
 * operation is O(1), nothing is thread-safe.
 *
 * LIST_DEFINE(name, type, prev, next) defines, for nodes of `type` linked
 * through the fields `prev` and `next`:
 *
 *   name_push(&head, tailp, n)    n becomes the first node; tailp is NULL
 *                                 for a list that keeps no tail, else it is
 *                                 set to n when the list was empty
 *   name_append(&head, &tail, n)  n becomes the last node
 *   name_unlink(&head, tailp, n)  takes n off (tailp NULL as for push); n's
 *                                 own links are left as they were
 *
 * They are typed static inline functions rather than macros over the
 * fields: each argument is evaluated once, the compiler checks the types,
 * and a call with a constant NULL tail compiles to the head-only code.
 */
#pragma once

#include <stddef.h>

#define LIST_DEFINE(name, type, prev, next)                                                   \
    __attribute__((unused)) static inline void name##_push(type **head, type **tail, type *n) \
    {                                                                                         \
        n->prev = NULL;                                                                       \
        n->next = *head;                                                                      \
        if (n->next)                                                                          \
            n->next->prev = n;                                                                \
        else if (tail)                                                                        \
            *tail = n;                                                                        \
        *head = n;                                                                            \
    }                                                                                         \
    __attribute__((unused)) static inline void name##_append(type **head, type **tail,       \
                                                             type *n)                         \
    {                                                                                         \
        n->next = NULL;                                                                       \
        n->prev = *tail;                                                                      \
        if (n->prev)                                                                          \
            n->prev->next = n;                                                                \
        else                                                                                  \
            *head = n;                                                                        \
        *tail = n;                                                                            \
    }                                                                                         \
    __attribute__((unused)) static inline void name##_unlink(type **head, type **tail,       \
                                                             type *n)                         \
    {                                                                                         \
        if (n->prev)                                                                          \
            n->prev->next = n->next;                                                          \
        else                                                                                  \
            *head = n->next;                                                                  \
        if (n->next)                                                                          \
            n->next->prev = n->prev;                                                          \
        else if (tail)                                                                        \
            *tail = n->prev;                                                                  \
    }
