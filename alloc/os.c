/*
 * alloc/os.c: alloc's OS layer, the only file that calls mmap, madvise,
 * mincore and munmap.
 *
 * Arenas must be aligned to their own size (that is what makes a block's
 * header a mask away), which mmap does not offer: os_map_aligned over-maps
 * and trims. Every mapping goes through it, so the test-only failure
 * injection (alloc_fail_after) sits here and covers arenas and large blocks
 * alike. The counters (maps, unmaps, purges) are kept here for alloc_stats.
 * alloc_rss_bytes lives here too: it asks the OS what it actually charges.
 */
#include "alloc/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((noreturn, cold)) void alloc_panic(const char *what, const void *p)
{
    fprintf(stderr, "alloc: %s (%p)\n", what, p);
    abort();
}

/* Maps size bytes aligned to arena_size. Returns NULL with errno ENOMEM. */
void *os_map_aligned(size_t size)
{
    if (alloc_g.fail_after == 0) {
        errno = ENOMEM;
        return NULL;
    }
    size_t align = alloc_g.opt.arena_size;
    if (size > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    size_t over = size + align - alloc_g.page;
    char *p = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)p;
    size_t tail = over - head - size;
    if (head)
        munmap(p, head);
    if (tail)
        munmap((char *)start + size, tail);
    /* Page-granular purges (packing, retained arenas) only return memory
     * when a page is the unit the kernel maps: a transparent huge page over
     * an arena would keep 2 MiB resident for one live block. */
    (void)madvise((void *)start, size, MADV_NOHUGEPAGE);
    if (alloc_g.fail_after > 0)
        alloc_g.fail_after--;
    alloc_g.maps++;
    return (void *)start;
}

void os_unmap(void *p, size_t size)
{
    if (munmap(p, size) != 0)
        alloc_panic("munmap failed", p);
    alloc_g.unmaps++;
}

bool os_residency(const void *p, size_t size, unsigned char *vec)
{
    return mincore((void *)(uintptr_t)p, size, vec) == 0;
}

void os_purge(void *p, size_t size)
{
    if (size == 0)
        return;
    /* Failure only leaves the pages resident; nothing to undo. */
    (void)madvise(p, size, MADV_DONTNEED);
    alloc_g.purges++;
}

void alloc_fail_after(long n)
{
    alloc_g.fail_after = n < 0 ? -1 : n;
}

size_t alloc_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    return (size_t)resident * (size_t)(page > 0 ? page : 4096);
}
