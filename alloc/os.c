/*
 * alloc/os.c: alloc's OS layer, the only file that calls mmap, madvise,
 * mincore and munmap, and the reclaimer thread that makes the mover's
 * madvise and munmap calls.
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
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
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

/*
 * The reclaimer. One madvise or munmap typically costs ~50 us, but on a VM
 * it has 1-2 ms tails (the TLB shootdown waits for the other vCPU), and a
 * compaction step that makes one holds up every request behind it. With
 * alloc_options.release_thread the mover hands its calls to this thread
 * instead, and the event loop never waits for one: a step only queues.
 *
 * A job is a range nothing will touch until the job is done: an evacuated
 * arena being returned (already off every list) or the pages above a
 * packed arena's bump pointer (the arena stays pinned until os_release_idle).
 * The thread starts on what a step queued when the step ends
 * (os_release_start, from alloc_compact_step), not at once: on the VM, a
 * call made on the other core while the step ran took time from the step
 * that neither thread's CPU clock counted. Under load, steps of ~250 us of
 * CPU took 0.7-2.4 ms of wall time; each of them had queued a call, and
 * most had no context switch. Started at the step's end, the calls
 * run while the loop serves clients, and the owner can hold its next step
 * until they are done (alloc_compact_releasing).
 *
 * The queue is a ring of OS_RELEASE_JOBS; a caller that finds it full
 * waits for room in a later step rather than making the call itself (a
 * step sleeps for the thread only when much of its budget is left:
 * OS_RELEASE_WAIT_MIN_US in compact.c). The
 * call counters (unmaps, purges) are the owner thread's, counted when a
 * job is queued; mapped_now counts an unmap's bytes until it is done.
 * Without the option (or if the thread cannot start) the calls are made in
 * place, as they always were.
 *
 * alloc_setup starts the thread (os_release_setup), not the first step that
 * queues a call: a process's first pthread_create maps the thread's stack
 * and took 180-360 us here, which the first step of the first run paid.
 */
#define OS_RELEASE_JOBS 8

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done_cv;
    struct os_job {
        void *p;
        size_t n;
        bool unmap;
    } q[OS_RELEASE_JOBS];
    unsigned head, len;          /* under mu */
    bool started, stop;          /* started: the owner's; stop: under mu */
    uint64_t queued;             /* the owner's */
    _Atomic uint64_t done;
    _Atomic size_t unmap_pending;
} rel = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .work = PTHREAD_COND_INITIALIZER,
       .done_cv = PTHREAD_COND_INITIALIZER};
static pthread_t rel_tid;

static void *reclaimer(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);   /* signals are the owner's */
    /* SCHED_BATCH keeps a fair share of the CPU but never preempts on
     * wakeup: at normal policy, the wakeup that hands it a job could put
     * it on the owner's core in the owner's place, and a step measured up
     * to 5 ms of wall time with 0.3 ms of its own CPU. Best effort. */
    struct sched_param sp = {0};
    (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    pthread_mutex_lock(&rel.mu);
    for (;;) {
        while (rel.len == 0 && !rel.stop)
            pthread_cond_wait(&rel.work, &rel.mu);
        if (rel.len == 0)
            break;
        struct os_job j = rel.q[rel.head];
        pthread_mutex_unlock(&rel.mu);
        if (j.unmap) {
            if (munmap(j.p, j.n) != 0)
                alloc_panic("munmap failed", j.p);
            atomic_fetch_sub(&rel.unmap_pending, j.n);
        } else {
            (void)madvise(j.p, j.n, MADV_DONTNEED);
        }
        pthread_mutex_lock(&rel.mu);
        rel.head = (rel.head + 1) % OS_RELEASE_JOBS;
        rel.len--;
        atomic_fetch_add(&rel.done, 1);
        pthread_cond_broadcast(&rel.done_cv);
    }
    pthread_mutex_unlock(&rel.mu);
    return NULL;
}

/* Lazily, should alloc_setup's attempt (os_release_setup) have failed. */
static bool reclaimer_on(void)
{
    if (!alloc_g.opt.release_thread)
        return false;
    if (!rel.started) {
        rel.stop = false;
        rel.started = pthread_create(&rel_tid, NULL, reclaimer, NULL) == 0;
    }
    return rel.started;
}

void os_release_setup(void)
{
    (void)reclaimer_on();
}

bool os_release_room(void)
{
    if (!reclaimer_on())
        return true;
    pthread_mutex_lock(&rel.mu);
    bool room = rel.len < OS_RELEASE_JOBS;
    pthread_mutex_unlock(&rel.mu);
    return room;
}

void os_release(void *p, size_t size, bool unmap)
{
    if (size == 0)
        return;
    if (!reclaimer_on()) {
        if (unmap)
            os_unmap(p, size);
        else
            os_purge(p, size);
        return;
    }
    if (unmap)   /* before the thread can subtract it */
        atomic_fetch_add(&rel.unmap_pending, size);
    pthread_mutex_lock(&rel.mu);
    if (rel.len == OS_RELEASE_JOBS)   /* callers ask os_release_room first */
        pthread_cond_signal(&rel.work);
    while (rel.len == OS_RELEASE_JOBS)
        pthread_cond_wait(&rel.done_cv, &rel.mu);
    rel.q[(rel.head + rel.len) % OS_RELEASE_JOBS] = (struct os_job){p, size, unmap};
    rel.len++;
    pthread_mutex_unlock(&rel.mu);
    if (unmap)
        alloc_g.unmaps++;
    else
        alloc_g.purges++;
    rel.queued++;
}

void os_release_start(void)
{
    if (!rel.started)
        return;
    pthread_mutex_lock(&rel.mu);
    if (rel.len > 0)
        pthread_cond_signal(&rel.work);
    pthread_mutex_unlock(&rel.mu);
}

bool os_release_idle(void)
{
    return !rel.started || atomic_load(&rel.done) == rel.queued;
}

void os_release_drain(void)
{
    if (!rel.started)
        return;
    os_release_start();
    pthread_mutex_lock(&rel.mu);
    while (rel.len > 0)
        pthread_cond_wait(&rel.done_cv, &rel.mu);
    pthread_mutex_unlock(&rel.mu);
}

void os_release_wait(uint64_t us)
{
    if (!rel.started)
        return;
    if (us > 1000000)
        us = 1000000;   /* a step's budget; an unbounded one must not overflow */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);   /* the condition variable's clock */
    uint64_t ns = (uint64_t)ts.tv_nsec + us * 1000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    os_release_start();
    pthread_mutex_lock(&rel.mu);
    uint64_t done = atomic_load(&rel.done);
    while (rel.len > 0 && atomic_load(&rel.done) == done)
        if (pthread_cond_timedwait(&rel.done_cv, &rel.mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&rel.mu);
}

size_t os_release_pending_bytes(void)
{
    return atomic_load(&rel.unmap_pending);
}

void os_release_stop(void)
{
    if (!rel.started)
        return;
    pthread_mutex_lock(&rel.mu);
    rel.stop = true;
    pthread_cond_signal(&rel.work);
    pthread_mutex_unlock(&rel.mu);
    pthread_join(rel_tid, NULL);   /* it empties the queue before it ends */
    rel.started = false;
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
