/*
 * main: command line, then the modules' setup in dependency order, the
 * event loop, and teardown in reverse. This is the one place that knows
 * every module: options -> log -> alloc -> keyspace -> proto (the data
 * commands) -> the loop (server) -> the server commands -> connections ->
 * the admin port -> the data port -> compaction -> the cron -> the
 * settings. What a changed option does at run time is each row's apply
 * function (config_on_change), registered by the module that owns the row
 * in its setup, and by settings.c for the modules below the daemon.
 *
 * Command line, as redis-server accepts it:
 *   compactd [CONFIG_FILE] [--config FILE] [--<directive> <value>...]...
 * Every directive of the option table may be given as --<directive>; its
 * values run up to the next argument starting with "--" and override the
 * file. Start-up failures exit with a sysexits.h code and one clear line.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "daemon/admin.h"
#include "daemon/cmd_server.h"
#include "daemon/admin_census.h"
#include "daemon/compactor.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/cron.h"
#include "daemon/dataport.h"
#include "daemon/introspect.h"
#include "daemon/listener.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/settings.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"

static const char *type_name(enum cfg_type t)
{
    switch (t) {
    case CFG_BOOL: return "yes|no";
    case CFG_INT: return "integer";
    case CFG_SIZE: return "bytes";
    case CFG_STRING: return "string";
    case CFG_ENUM: return "word";
    case CFG_LIST: return "list";
    }
    return "?";
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: compactd [CONFIG_FILE] [options]\n"
            "       compactd --config FILE [options]\n"
            "       compactd --test-config FILE [options]\n"
            "       compactd --sample-config   (prints a documented default file)\n"
            "       compactd --version | --help\n"
            "\n"
            "A Redis-protocol cache server for string keys. Every configuration\n"
            "directive may be given as --<directive> <value...>, overriding the file:\n\n");
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        const struct cfg_option *o = &config_options[i];
        fprintf(out, "  --%s <%s>%s\n", o->name,
                o->type == CFG_ENUM ? o->words : type_name(o->type),
                (o->flags & CFG_MUTABLE) ? "  (CONFIG SET)" : "");
        fprintf(out, "        %s (default: \"%s\")\n", o->desc, o->def);
    }
}

/* A start-up failure: logged, and also printed on stderr when the log goes
 * to a file, so that whoever started the daemon sees why it stopped. */
static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fatal(const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn("%s", msg);
    if (cfg.logfile != NULL && cfg.logfile[0] != '\0')
        fprintf(stderr, "compactd: %s\n", msg);
}


#define override server_override   /* kept in srv for SIGHUP's reload */

/* Leaves main before the server runs: frees what the command line took. */
static int quit(struct override *ovr, int code)
{
    free(ovr);
    config_deinit();
    return code;
}

int main(int argc, char **argv)
{
    char err[1024];
    const char *conf_path = NULL;
    bool test_only = false;

    if (config_init() != CONFIG_OK) {
        fprintf(stderr, "compactd: out of memory\n");
        return EX_OSERR;
    }

    struct override *ovr = calloc((size_t)argc, sizeof(*ovr));
    if (ovr == NULL) {
        fprintf(stderr, "compactd: out of memory\n");
        return quit(ovr, EX_OSERR);
    }
    int novr = 0;
    int i = 1;
    if (argc > 1 && strncmp(argv[1], "--", 2) != 0) {
        conf_path = argv[1];
        i = 2;
    }
    while (i < argc) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (strcmp(a, "-h") == 0 || strcmp(a, "-v") == 0)
                a = a[1] == 'h' ? "--help" : "--version";
            else {
                fprintf(stderr, "compactd: unexpected argument '%s' (options look like --port 6380; see --help)\n", a);
                return quit(ovr, EX_USAGE);
            }
        }
        const char *name = a + 2;
        if (strcmp(name, "help") == 0) {
            usage(stdout);
            return quit(ovr, 0);
        }
        if (strcmp(name, "sample-config") == 0) {
            config_write_sample(stdout);
            return quit(ovr, 0);
        }
        if (strcmp(name, "version") == 0) {
            printf("compactd v=%s (speaks the Redis 7.0 protocol)\n", COMPACTD_VERSION);
            return quit(ovr, 0);
        }
        int j = i + 1;
        while (j < argc && strncmp(argv[j], "--", 2) != 0)
            j++;
        int nval = j - i - 1;
        if (strcmp(name, "config") == 0 || strcmp(name, "test-config") == 0) {
            if (nval != 1) {
                fprintf(stderr, "compactd: --%s takes one file name\n", name);
                return quit(ovr, EX_USAGE);
            }
            conf_path = argv[i + 1];
            test_only = test_only || name[0] == 't';
        } else if (config_find(name) == NULL) {
            fprintf(stderr, "compactd: unknown option --%s (see --help)\n", name);
            return quit(ovr, EX_USAGE);
        } else {
            ovr[novr++] = (struct override){name, nval, argv + i + 1};
        }
        i = j;
    }

    /* The file first, then the command line on top of it. */
    if (conf_path != NULL) {
        config_rstatus_e st = config_load_file(conf_path, err, sizeof(err));
        if (st != CONFIG_OK) {
            fprintf(stderr, "compactd: configuration error: %s\n", err);
            return quit(ovr, test_only ? 1 : st == CONFIG_EIO ? EX_NOINPUT : EX_CONFIG);
        }
    }
    for (int k = 0; k < novr; k++) {
        if (config_apply(ovr[k].name, ovr[k].argc, ovr[k].argv, err, sizeof(err)) != CONFIG_OK) {
            fprintf(stderr, "compactd: command line: --%s: %s\n", ovr[k].name, err);
            return quit(ovr, test_only ? 1 : EX_USAGE);
        }
    }
    config_derive();
    if (!admin_config_check(err, sizeof(err))) {
        fprintf(stderr, "compactd: configuration error: %s\n", err);
        return quit(ovr, test_only ? 1 : EX_CONFIG);
    }
    if (test_only) {
        printf("compactd: configuration %s is OK\n", conf_path);
        return quit(ovr, 0);
    }

    srv.overrides = ovr;
    srv.noverrides = novr;
    char abspath[PATH_MAX];
    srv.config_file = "";
    if (conf_path != NULL && realpath(conf_path, abspath) != NULL)
        srv.config_file = abspath;

    int rc = log_setup(cfg.logfile, (int)cfg.loglevel);
    if (rc != 0) {
        fprintf(stderr, "compactd: cannot open logfile %s: %s\n", cfg.logfile, strerror(rc));
        return quit(ovr, EX_CANTCREAT);
    }
    log_notice("compactd %s starting, pid %d, port %lld, admin port %lld%s%s", COMPACTD_VERSION,
               (int)getpid(), cfg.port, cfg.admin_port,
               conf_path ? ", config " : ", no config file", conf_path ? srv.config_file : "");

    int exit_code = 0;
    struct alloc_options aopt;
    settings_alloc_options(&aopt);
    rc = alloc_setup(&aopt);
    if (rc != 0) {
        fatal("Cannot set up the allocator (arena-size %lld, arena-retain %lld): %s",
                 cfg.arena_size, cfg.arena_retain, strerror(rc));
        exit_code = rc == EINVAL ? EX_CONFIG : EX_OSERR;
        goto out_log;
    }

    struct ks_options kopt;
    settings_ks_options(&kopt);
    rc = ks_setup(&kopt);
    if (rc != 0) {
        fatal("Cannot set up the keyspace: %s", strerror(rc));
        exit_code = rc == EINVAL ? EX_CONFIG : EX_OSERR;
        goto out_alloc;
    }

    /* The word order of the maxmemory-policy row is enum ks_evict_policy's. */
    for (long long p = 0; p <= KS_EVICT_VOLATILE_TTL; p++) {
        const char *w = config_enum_name(&config_options[CFG_OPT_maxmemory_policy], p);
        if (w == NULL || strcmp(w, ks_evict_policy_name((enum ks_evict_policy)p)) != 0) {
            fatal("maxmemory-policy words do not match the keyspace's policies (%s)", w ? w : "?");
            exit_code = EX_SOFTWARE;
            goto out_ks;
        }
    }
    ks_set_evict_policy((enum ks_evict_policy)cfg.maxmemory_policy);
    rc = proto_setup();
    if (rc != 0) {
        fatal("Cannot register the data commands: %s", strerror(rc));
        exit_code = EX_SOFTWARE;
        goto out_proto;
    }
    proto_set_max_value_len((uint64_t)cfg.proto_max_bulk_len);
    /* The loop first, with its signals, then what runs on it. The admin
     * port opens before the data port: a client that finds the data port
     * accepting can count on the admin port too. */
    rc = server_setup(err, sizeof(err));
    if (rc != 0) {
        fatal("Cannot start: %s", err);
        exit_code = rc;
        goto out_server;
    }
    rc = cmd_server_setup();
    if (rc == 0)
        rc = introspect_setup();   /* SLOWLOG, LATENCY, MONITOR and the observer */
    if (rc != 0) {
        fatal("Cannot register the server commands: %s", strerror(rc));
        exit_code = EX_SOFTWARE;
        goto out_introspect;
    }
    rc = conn_setup(err, sizeof(err));
    if (rc == 0)
        rc = admin_setup(err, sizeof(err));
    if (rc == 0)
        rc = dataport_setup(err, sizeof(err));
    if (rc != 0) {
        fatal("Cannot start: %s", err);
        exit_code = rc;
        goto out_listeners;
    }
    if (compactor_setup(srv.base) != 0 || census_setup(srv.base) != 0) {
        fatal("Cannot start: cannot create the compaction and census timers");
        exit_code = EX_OSERR;
        goto out_compactor;
    }
    rc = cron_setup(err, sizeof(err));
    if (rc != 0) {
        fatal("Cannot start: %s", err);
        exit_code = rc;
        goto out_cron;
    }
    settings_setup();
    srv.used_memory_startup = srv.used_memory_peak = ks_used_memory();

    server_run();
    log_notice("compactd is now ready to exit, bye bye...");

out_cron:
    cron_teardown();
out_compactor:
    census_teardown();
    compactor_teardown();
out_listeners:
    listener_teardown();
    admin_teardown();
    conn_close_all();
out_introspect:
    introspect_teardown();
out_server:
    server_teardown();
out_proto:
    proto_teardown();
out_ks:
    ks_teardown();
out_alloc:
    alloc_teardown();
out_log:
    log_teardown();
    config_deinit();
    free(ovr);
    return exit_code;
}
