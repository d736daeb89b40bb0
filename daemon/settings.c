/*
 * settings: the options of the log, the allocator, the keyspace and the
 * protocol (see settings.h): the setup structs filled from cfg, and the
 * apply functions, each of which reads its option's new value from cfg and
 * hands it to its module.
 */
#include "daemon/settings.h"

#include <stdbool.h>
#include <stdint.h>

#include "alloc/alloc.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"

void settings_alloc_options(struct alloc_options *o)
{
    alloc_options_default(o);
    o->arena_size = (size_t)cfg.arena_size;
    o->arena_retain = (unsigned)cfg.arena_retain;
    o->compact_frag_threshold = (unsigned)cfg.compact_frag_threshold;
    o->compact_min_reclaim = (size_t)cfg.compact_min_reclaim;
}

void settings_ks_options(struct ks_options *o)
{
    ks_options_default(o);
    o->initial_power = (unsigned)cfg.ks_initial_power;
    o->rehash_steps = (unsigned)cfg.ks_rehash_steps;
    o->expire_sweep = cfg.active_expire_sweep == 0 ? KS_SWEEP_ARENAS : KS_SWEEP_INDEX;
    o->expire_cycle_us = (unsigned)cfg.active_expire_cycle_us;
    o->expire_effort = (unsigned)cfg.active_expire_effort;
    o->ttl_bands = cfg.lifetime_segregation != 0;
    o->evict_samples = (unsigned)cfg.maxmemory_samples;
}

static void loglevel_changed(void)
{
    log_set_level((int)cfg.loglevel);
}

static void expire_tuning_changed(void)
{
    ks_set_expire_tuning((unsigned)cfg.active_expire_cycle_us, (unsigned)cfg.active_expire_effort);
}

/* The word order of the maxmemory-policy row is enum ks_evict_policy's
 * (main checks it at start). */
static void evict_policy_changed(void)
{
    ks_set_evict_policy((enum ks_evict_policy)cfg.maxmemory_policy);
}

static void evict_samples_changed(void)
{
    ks_set_evict_samples((unsigned)cfg.maxmemory_samples);
}

static void segregation_changed(void)
{
    ks_set_lifetime_segregation(cfg.lifetime_segregation != 0);
}

static void max_bulk_len_changed(void)
{
    proto_set_max_value_len((uint64_t)cfg.proto_max_bulk_len);
}

void settings_setup(void)
{
    config_on_change(CFG_OPT_loglevel, loglevel_changed);
    config_on_change(CFG_OPT_active_expire_cycle_us, expire_tuning_changed);
    config_on_change(CFG_OPT_active_expire_effort, expire_tuning_changed);
    config_on_change(CFG_OPT_maxmemory_policy, evict_policy_changed);
    config_on_change(CFG_OPT_maxmemory_samples, evict_samples_changed);
    config_on_change(CFG_OPT_lifetime_segregation, segregation_changed);
    config_on_change(CFG_OPT_proto_max_bulk_len, max_bulk_len_changed);
}
