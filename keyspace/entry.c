/*
 * keyspace/entry.c: entries and their clocks.
 *
 * ENTRY LAYOUT
 *
 * An entry is exactly one block from alloc_block() and the entry pointer is
 * the block pointer (ks_entry_of_block is a cast), so the compactor can move
 * an entry by copying its bytes and calling ks_repoint. Layout:
 *
 *   byte 0     flags: EF_TTL (an expiry follows), EF_LONGKEY (32-bit klen)
 *   byte 1     key length if the key is shorter than 256 bytes, else 0
 *   bytes 2-3  16-bit access clock (for LRU/LFU-style eviction later)
 *   bytes 4-7  value length (values are capped at 512 MiB, so 32 bits do)
 *   [4 bytes]  key length, only with EF_LONGKEY
 *   [8 bytes]  absolute expiry in Unix ms, only with EF_TTL
 *   key bytes, then value bytes (no NUL terminator)
 *
 * So the common case (short key, no TTL) costs 8 header bytes. Optional
 * fields may be unaligned (offset 12 with a long key), hence memcpy access.
 * Because the TTL field exists only when there is an expiry, adding or
 * removing an expiry moves the entry to a new block (ks_set_expire).
 * Each block gets a lifetime band for alloc/: 0 without TTL, otherwise
 * 1 + roughly log4 of the remaining seconds, capped at ALLOC_BANDS-1, so
 * entries likely to die together are placed together.
 */
#include "keyspace/internal.h"

/* The one keyspace state (internal.h), defined in the lowest of its files
 * so that every other file only calls down. */
struct ks_state ks;

/* ---- clocks ---- */

static void set_now(int64_t ms)
{
    ks.now_ms = ms;
    ks.lru_now = (uint16_t)((uint64_t)ms >> 10);
    ks.lfu_now = (uint8_t)((uint64_t)ms >> 16);
}

void ks_clock_update(void)
{
    if (ks.clock_pinned)
        return;
    set_now(clock_wall_us() / 1000);
}

void ks_clock_update_to(int64_t now_ms)
{
    if (!ks.clock_pinned)
        set_now(now_ms);
}

void ks_clock_set(int64_t now_ms)
{
    if (now_ms < 0) {
        ks.clock_pinned = false;
        ks_clock_update();
        return;
    }
    ks.clock_pinned = true;
    set_now(now_ms);
}

int64_t ks_now_ms(void)
{
    return ks.now_ms;
}

uint16_t ks_access_clock(void)
{
    return ks.lru_now;
}

void expiry_pass_restart(void)
{
    ks.exp_cursor = 0;
    ks.exp_pass_min = INT64_MAX;
}

/* Forgets the arena sweep's position and floor: for setup and flush. */
void arena_sweep_reset(void)
{
    ks.aw_cls = 0;
    ks.aw_band = 0;
    ks.aw_walking = false;
    ks.aw_base = 0;
    ks.aw_resume = 0;
    ks.aw_floor = INT64_MAX;
    for (unsigned c = 0; c < KS_SWEEP_CLASSES; c++) {
        for (unsigned b = 0; b < ALLOC_BANDS; b++)
            ks.pfloor[c][b] = ks.pmin[c][b] = INT64_MAX;
    }
}

void lfu_touch(struct entry *e)
{
    unsigned cnt = lfu_decayed(e->clock);
    if (cnt < 255) {
        /* logarithmic: the n-th increment above LFU_INIT succeeds with
         * probability 1 / (n * LFU_LOG_FACTOR + 1) */
        unsigned base = cnt > LFU_INIT ? cnt - LFU_INIT : 0;
        uint64_t r = rng_next() >> 11;  /* 53 random bits */
        if ((double)r * (double)(base * LFU_LOG_FACTOR + 1) < 9007199254740992.0)
            cnt++;
    }
    e->clock = (uint16_t)((unsigned)ks.lfu_now << 8 | cnt);
}

/* ---- entry accessors ---- */

const char *entry_key(const struct entry *e, size_t *klen)
{
    if (klen)
        *klen = ent_klen(e);
    return ent_key(e);
}

char *entry_val(struct entry *e, size_t *vlen)
{
    if (vlen)
        *vlen = e->vlen;
    return ent_key(e) + ent_klen(e);
}

size_t entry_vlen(const struct entry *e)
{
    return e->vlen;
}

int64_t entry_expire(const struct entry *e)
{
    return ent_expire(e);
}

uint16_t entry_access_clock(const struct entry *e)
{
    return e->clock;
}

unsigned entry_lfu_freq(const struct entry *e)
{
    return ks.lfu ? lfu_decayed(e->clock) : 0;
}

bool ks_lfu_mode(void)
{
    return ks.lfu;
}

/* Slots in the index tables (both while resizing). */
size_t index_slots(void)
{
    return ks.cur.size + ks.old.size;
}

/* Bytes of the index: its tables and the loose entries' pointers. */
size_t index_bytes(void)
{
    return index_slots() * sizeof(slot_t) + ks.loose.cap * sizeof(*ks.loose.ent);
}

size_t index_share(void)
{
    size_t n = ks.cur.used + ks.old.used;   /* ks_count's figure, without calling up */
    return n ? index_bytes() / n : sizeof(slot_t);
}

size_t entry_footprint(const struct entry *e)
{
    return alloc_usable(e) + index_share();
}

struct entry *ks_entry_of_block(void *block)
{
    return (struct entry *)block;
}
