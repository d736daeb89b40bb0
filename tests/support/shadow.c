/*
 * See shadow.h. The shadow's place is fixed by ASan's x86-64 memory layout:
 * [0x7fff8000, 0x10007fff8000) holds the low and high shadow and the gap
 * between them, and no application mapping lives there. Other
 * architectures have other layouts; there the figure is 0 and RSS bounds
 * include the shadow, as before.
 */
#include "tests/support/shadow.h"

#include <stdio.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif

#if defined(TEST_ASAN) && defined(__x86_64__)
#define SHADOW_BEG 0x7fff8000ul
#define SHADOW_END 0x10007fff8000ul

long test_shadow_rss_bytes(int pid)
{
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/smaps", pid);
    else
        snprintf(path, sizeof path, "/proc/self/smaps");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[512];
    unsigned long beg, end, kb;
    long total = 0;
    int in_shadow = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &beg, &end) == 2)
            in_shadow = beg >= SHADOW_BEG && end <= SHADOW_END;
        else if (in_shadow && sscanf(line, "Rss: %lu kB", &kb) == 1)
            total += (long)kb * 1024;
    }
    fclose(f);
    return total;
}
#else
long test_shadow_rss_bytes(int pid)
{
    (void)pid;
    return 0;
}
#endif
