/*
 * alloc/teardown.c: alloc_teardown, the end of the allocator's life: it
 * unmaps every arena, spare, releasing arena and large block and resets the
 * state (keeping the failure injection, which a test sets before setting
 * up). It sits above every other file because it undoes what each of them
 * built; set-up lives with the size classes it derives (class.c), below
 * them, so that the lazy set-up of alloc_block and the queries calls down.
 */
#include "alloc/internal.h"

#include <stdlib.h>
#include <string.h>

void alloc_teardown(void)
{
    if (!alloc_g.ready)
        return;
    os_release_stop();   /* nothing may be in flight while the memory goes */
    for (unsigned i = 0; i < alloc_g.nclasses; i++) {
        struct alloc_arena *a = alloc_g.cls[i].all;
        while (a) {
            struct alloc_arena *next = a->cnext;
            os_unmap((void *)base_of(a), alloc_g.opt.arena_size);
            a = next;
        }
    }
    retained_release_all();
    release_all();
    struct large *l = alloc_g.large;
    while (l) {
        struct large *next = l->next;
        os_unmap((void *)base_of(l), l->map_size);
        l = next;
    }
    free(alloc_hmap.base);
    memset(&alloc_hmap, 0, sizeof(alloc_hmap));
    long fail_after = alloc_g.fail_after;
    memset(&alloc_g, 0, sizeof(alloc_g));
    mover_reset();
    alloc_g.fail_after = fail_after;
}
