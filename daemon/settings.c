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

/* A module's struct takes each of its rows' values from cfg, where the
 * daemon's table keeps them under the same field names. */
#define FROM_CFG_(field, name, type, def, min, max, flags, words, desc) \
    o->field = (__typeof__(o->field))cfg.field;

void settings_alloc_options(struct alloc_options *o)
{
    ALLOC_OPTIONS(FROM_CFG_)
}

void settings_ks_options(struct ks_options *o)
{
    KS_OPTIONS(FROM_CFG_)
}

static void loglevel_changed(void)
{
    log_set_level((int)cfg.loglevel);
}

static void expire_tuning_changed(void)
{
    ks_set_expire_tuning((unsigned)cfg.expire_cycle_us, (unsigned)cfg.expire_effort);
}

/* The word order of the maxmemory-policy row is enum ks_evict_policy's
 * (main checks it at start). */
static void evict_policy_changed(void)
{
    ks_set_evict_policy((enum ks_evict_policy)cfg.maxmemory_policy);
}

static void evict_samples_changed(void)
{
    ks_set_evict_samples((unsigned)cfg.evict_samples);
}

static void segregation_changed(void)
{
    ks_set_lifetime_segregation(cfg.ttl_bands != 0);
}

static void max_bulk_len_changed(void)
{
    proto_set_max_value_len((uint64_t)cfg.proto_max_bulk_len);
}

void settings_setup(void)
{
    config_on_change(CFG_OPT_loglevel, loglevel_changed);
    config_on_change(CFG_OPT_expire_cycle_us, expire_tuning_changed);
    config_on_change(CFG_OPT_expire_effort, expire_tuning_changed);
    config_on_change(CFG_OPT_maxmemory_policy, evict_policy_changed);
    config_on_change(CFG_OPT_evict_samples, evict_samples_changed);
    config_on_change(CFG_OPT_ttl_bands, segregation_changed);
    config_on_change(CFG_OPT_proto_max_bulk_len, max_bulk_len_changed);
}
