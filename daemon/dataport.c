/*
 * dataport: the data port, where clients run Redis commands.
 *
 * A data connection's parsed request is run here (data_run, handed to the
 * connection as its port's run function): the keyspace clock is set to the
 * loop's clock, maxmemory is enforced (evicting by maxmemory-policy, or
 * refusing what would add data when nothing can be evicted, Redis's rule),
 * a MONITOR client is kept away from the keyspace, and the request goes to
 * proto's command table. CLIENT PAUSE holds requests through the port's
 * hold function (introspect.c).
 */
#include "daemon/dataport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "daemon/config.h"
#include "daemon/introspect.h"
#include "daemon/listener.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"

#define EVICT_LOG_MS 10000
static uint64_t evict_burst_keys, evict_burst_bytes;
static int64_t evict_log_ms;

/* Logs the evictions not reported yet, at most once every EVICT_LOG_MS
 * (the first of a burst at once; the cron reports the rest). */
void dataport_evict_report(int64_t now)
{
    if (evict_burst_keys == 0 || now - evict_log_ms < EVICT_LOG_MS)
        return;
    log_notice("Evicted %llu keys (%llu bytes) since %s to stay under maxmemory %lld (%s)",
               (unsigned long long)evict_burst_keys, (unsigned long long)evict_burst_bytes,
               evict_log_ms ? "the last report" : "start", cfg.maxmemory,
               ks_evict_policy_name((enum ks_evict_policy)cfg.maxmemory_policy));
    evict_log_ms = now;
    evict_burst_keys = evict_burst_bytes = 0;
}

/* With maxmemory set and exceeded: evicts by maxmemory-policy. Returns
 * false if memory is still over the limit (writes must then be refused). */
static bool enforce_maxmemory(void)
{
    size_t limit = (size_t)cfg.maxmemory;
    size_t used = ks_used_memory();
    if (used <= limit)
        return true;
    enum ks_evict_policy pol = (enum ks_evict_policy)cfg.maxmemory_policy;
    if (pol == KS_EVICT_NOEVICTION)
        return false;
    /* ks_evict counts usable bytes, used_memory requested ones, so recheck
     * and go again a few times rather than trusting one estimate. */
    for (int round = 0; round < 8 && used > limit; round++) {
        struct ks_evict_result r = ks_evict(used - limit, pol);
        if (r.keys == 0 && r.bytes == 0)
            break;   /* nothing eligible left */
        evict_burst_keys += r.keys;
        evict_burst_bytes += r.bytes;
        used = ks_used_memory();
    }
    dataport_evict_report(server_clock_ms());
    return used <= limit;
}

/* Cross-protocol scripting: a web page can make a browser POST to the data
 * port, and the request's lines would run as inline commands. A request
 * whose first word is POST or Host: is an HTTP request, never a client's
 * command: run nothing, close, count it (Redis's rule since 3.2.7). */
static bool cross_protocol(struct conn *c)
{
    const struct slice *a0 = &c->req.argv[0];
    if (!slice_eq(a0, "post") && !slice_eq(a0, "host:"))
        return false;
    static struct log_limit limit;
    uint64_t held;
    srv.stats.cross_protocol++;
    if (log_limit_pass(&limit, server_clock_ms(), 10000, &held))
        log_warn("Possible SECURITY ATTACK detected: %s sent an HTTP request (POST or Host:) to "
                 "the data port, likely cross-protocol scripting from a web page. Connection "
                 "closed, nothing run%s",
                 c->addr, log_held_note(held));
    conn_close(c);
    return true;
}

static void data_run(struct conn *c)
{
    if (c->req.argc > 0 && cross_protocol(c))
        return;
    ks_clock_update_to(server_clock_ms());   /* the loop's clock: no clock read */
    if (cfg.maxmemory > 0 && !c->sess.need_auth && c->req.argc > 0 && !enforce_maxmemory()) {
        /* Still over the limit after eviction: refuse what would add data,
         * serve everything else (Redis's rule). */
        const struct command *dc = command_lookup(c->req.argv[0].p, c->req.argv[0].len);
        if (dc != NULL && ((dc->flags & CMD_DENYOOM) ||
                           ((dc->flags & CMD_TX_EXEC) &&
                            (session_tx_flags(&c->sess) & CMD_DENYOOM)))) {
            command_reject(&c->sess, dc, ERR_OOM);
            return;
        }
    }
    if (introspect_refuse(c))
        return;   /* a MONITOR client touching keys */
    /* the loop's clock reading starts the command, and the one its handler
     * ended at starts the next */
    const struct command *cmd =
        command_dispatch_at(&c->sess, c->req.argc, c->req.argv, srv.clock_us);
    srv.clock_us = c->sess.now_us;
    if (cmd != NULL) {
        srv.stats.total_commands++;
        c->last_cmd = cmd;
    }
}

const struct conn_port data_port = {
    .commands = CMD_PORT_DATA,
    .run = data_run,
    .hold = introspect_hold,
    .password = &cfg.requirepass,
    .clients = true,
    .maxclients = &cfg.maxclients,
    .rejected = &srv.stats.rejected_connections,
};

/* requirepass emptied at run time: every client of the data port is in. */
static void requirepass_changed(void)
{
    if (cfg.requirepass[0] == '\0')
        conn_auth_all(&data_port);
}

int dataport_setup(char *err, size_t errlen)
{
    config_on_change(CFG_OPT_requirepass, requirepass_changed);
    int rc;
    int before = listener_count();
    if (cfg.port != 0) {
        char *binds = strdup(cfg.bind);
        if (binds == NULL) {
            snprintf(err, errlen, "out of memory");
            return EX_OSERR;
        }
        char *save = NULL;
        for (char *tok = strtok_r(binds, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            rc = listener_tcp(tok, (int)cfg.port, &data_port, err, errlen);
            if (rc != 0) {
                free(binds);
                return rc;
            }
        }
        free(binds);
        srv.tcp_port = (int)cfg.port;
    }
    if (cfg.unixsocket[0] != '\0') {
        rc = listener_unix(cfg.unixsocket, &data_port, err, errlen);
        if (rc != 0)
            return rc;
    }
    if (listener_count() == before) {
        snprintf(err, errlen, "nothing to listen on: set port and bind, or unixsocket");
        return EX_CONFIG;
    }
    return 0;
}
