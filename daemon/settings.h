/*
 * settings: the options of the modules below the daemon (the log, the
 * allocator, the keyspace, the protocol), which know nothing of the option
 * table: the structs their setup takes, filled from cfg, and what their
 * run-time changeable options do when CONFIG SET or a reload changes them,
 * one apply function per row (config_on_change). The daemon's own modules
 * register theirs in their setup.
 */
#pragma once

struct alloc_options;
struct ks_options;

/* The allocator's and the keyspace's options from cfg, for their setup. */
void settings_alloc_options(struct alloc_options *o);
void settings_ks_options(struct ks_options *o);

/* Registers the apply functions. Call once, after the modules are set up. */
void settings_setup(void);
