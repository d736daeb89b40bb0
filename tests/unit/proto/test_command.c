/*
 * Unit tests for proto/command: registration, case-insensitive lookup,
 * dispatch order and Redis 7 error wordings, subcommands, per-command
 * counters, and the reply shapes of COMMAND (cmd_command.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/command.h"
#include "proto/internal.h"
#include "tests/unit/proto/support.h"

static int ran_get, ran_set, ran_cfg_get, ran_cfg_help;

static void p_get(struct session *s, int argc, struct slice *argv)
{
    ran_get++;
    reply_null(&s->reply);
}

static void p_set(struct session *s, int argc, struct slice *argv)
{
    ran_set++;
    if (argc > 3)
        reply_error(&s->reply, ERR_SYNTAX);
    else
        reply_ok(&s->reply);
}

static void p_ping(struct session *s, int argc, struct slice *argv)
{
    reply_status(&s->reply, "PONG");
}

static void p_cfg_get(struct session *s, int argc, struct slice *argv)
{
    ran_cfg_get++;
    reply_array(&s->reply, 0);
}

static void p_config(struct session *s, int argc, struct slice *argv)
{
    /* parent proc, used by subcommand rows without their own */
    ran_cfg_help++;
    reply_status(&s->reply, "HELP");
}

static const struct command config_subs[] = {
    {.name = "get", .arity = -3, .flags = CMD_ADMIN | CMD_LOADING, .proc = p_cfg_get,
     .summary = "Get config", .group = "server", .since = "2.0.0"},
    {.name = "help", .arity = 2, .flags = CMD_LOADING, .proc = NULL,
     .summary = "Help", .group = "server", .since = "5.0.0"},
    {.name = NULL},
};

static const struct command rows[] = {
    {.name = "get", .arity = 2, .flags = CMD_READONLY | CMD_FAST, .first_key = 1,
     .last_key = 1, .key_step = 1, .proc = p_get, .summary = "Get the value of a key",
     .group = "string", .since = "1.0.0", .key_flags = "RO access"},
    {.name = "set", .arity = -3, .flags = CMD_WRITE | CMD_DENYOOM, .first_key = 1,
     .last_key = 1, .key_step = 1, .proc = p_set, .summary = "Set a key",
     .group = "string", .since = "1.0.0", .key_flags = "OW update"},
    {.name = "mset", .arity = -3, .flags = CMD_WRITE, .first_key = 1,
     .last_key = -1, .key_step = 2, .proc = p_set, .summary = "Set keys",
     .group = "string", .since = "1.0.1", .key_flags = "OW update"},
    {.name = "ping", .arity = -1, .flags = CMD_FAST | CMD_NOAUTH, .proc = p_ping,
     .summary = "Ping", .group = "connection", .since = "1.0.0"},
    {.name = "config", .arity = -2, .flags = 0, .proc = p_config,
     .summary = "Config container", .group = "server", .since = "2.0.0",
     .subcommands = config_subs},
    {.name = "command", .arity = -1, .flags = CMD_LOADING | CMD_STALE, .proc = cmd_command,
     .summary = "Get array of command details", .group = "server", .since = "2.8.13",
     .subcommands = cmd_command_subs},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))


static int setup(void **state)
{
    memset(&S, 0, sizeof(S));
    reply_init(&S.reply);
    ran_get = ran_set = ran_cfg_get = ran_cfg_help = 0;
    assert_int_equal(command_register(rows, NROWS), 0);
    return 0;
}

static int teardown(void **state)
{
    reply_deinit(&S.reply);
    command_table_clear();
    return 0;
}

/* Runs a command given as NUL-separated words (argc of them). */
static const struct command *run(int argc, ...)
{
    struct slice argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        argv[i].p = va_arg(ap, const char *);
        argv[i].len = strlen(argv[i].p);
    }
    va_end(ap);
    reply_clear(&S.reply);
    return command_dispatch(&S, argc, argv);
}

#define REPLY_IS(lit)                                                   \
    do {                                                                \
        assert_int_equal(S.reply.len, strlen(lit));                     \
        assert_memory_equal(S.reply.buf, lit, strlen(lit));             \
    } while (0)

static void test_lookup(void **state)
{
    assert_int_equal(command_count(), NROWS);
    assert_ptr_equal(command_lookup("get", 3), &rows[0]);
    assert_ptr_equal(command_lookup("GET", 3), &rows[0]);
    assert_ptr_equal(command_lookup("gEt", 3), &rows[0]);
    assert_ptr_equal(command_lookup("getx", 3), &rows[0]);  /* len bounds the name */
    assert_null(command_lookup("ge", 2));
    assert_null(command_lookup("gett", 4));
    assert_null(command_lookup("", 0));
    assert_ptr_equal(command_lookup("CoMmAnD", 7), &rows[5]);
    assert_ptr_equal(command_lookup_sub(&rows[4], "GET", 3), &config_subs[0]);
    assert_null(command_lookup_sub(&rows[4], "nope", 4));
    assert_string_equal(command_fullname(&config_subs[0]), "config|get");
    assert_string_equal(command_fullname(&rows[1]), "set");
}

static void test_register_errors(void **state)
{
    static const struct command dup[] = {{.name = "GET", .arity = 2, .proc = p_get}};
    assert_int_equal(command_register(dup, 1), EEXIST);
    static const struct command dup2[] = {
        {.name = "foo", .arity = 1, .proc = p_get},
        {.name = "FOO", .arity = 1, .proc = p_get},
    };
    assert_int_equal(command_register(dup2, 2), EEXIST);
    assert_null(command_lookup("foo", 3));
    static const struct command noname[] = {{.name = NULL}};
    assert_int_equal(command_register(noname, 1), EINVAL);
    assert_int_equal(command_count(), NROWS);
}

static void test_many_commands(void **state)
{
    /* enough rows to force the hash to grow several times */
    enum { N = 300 };
    static struct command more[N];
    static char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "xcmd%d", i);
        more[i] = (struct command){.name = names[i], .arity = 1, .proc = p_ping};
    }
    assert_int_equal(command_register(more, N), 0);
    for (int i = 0; i < N; i++) {
        char up[16];
        snprintf(up, sizeof(up), "XCMD%d", i);
        assert_ptr_equal(command_lookup(up, strlen(up)), &more[i]);
    }
    assert_ptr_equal(command_lookup("get", 3), &rows[0]);
    assert_int_equal(command_count(), NROWS + N);
}

static void test_dispatch_ok(void **state)
{
    assert_ptr_equal(run(2, "GeT", "k"), &rows[0]);
    REPLY_IS("$-1\r\n");
    assert_int_equal(ran_get, 1);
    assert_ptr_equal(run(3, "set", "k", "v"), &rows[1]);
    REPLY_IS("+OK\r\n");
}

static void test_unknown_command(void **state)
{
    assert_null(run(3, "foo", "a", "b"));
    REPLY_IS("-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    assert_null(run(1, "FOO"));
    REPLY_IS("-ERR unknown command 'FOO', with args beginning with: \r\n");
    assert_null(run(3, "foo", "x y", "c\r\nd"));
    REPLY_IS("-ERR unknown command 'foo', with args beginning with: 'x y' 'c  d' \r\n");

    /* names and the args part are cut at 128 bytes as Redis does */
    char longarg[300];
    memset(longarg, 'a', 200);
    longarg[200] = '\0';
    assert_null(run(3, "foo", longarg, "b"));
    char want[400];
    snprintf(want, sizeof(want),
             "-ERR unknown command 'foo', with args beginning with: '%.128s' \r\n", longarg);
    REPLY_IS(want);

    char arg100[101];
    memset(arg100, 'b', 100);
    arg100[100] = '\0';
    assert_null(run(4, "foo", arg100, longarg, "c"));
    /* 'b*100' takes 103 bytes, leaving 25 for the next argument */
    snprintf(want, sizeof(want),
             "-ERR unknown command 'foo', with args beginning with: '%s' '%.25s' \r\n",
             arg100, longarg);
    REPLY_IS(want);

    char longname[300];
    memset(longname, 'N', 299);
    longname[299] = '\0';
    assert_null(run(1, longname));
    snprintf(want, sizeof(want),
             "-ERR unknown command '%.128s', with args beginning with: \r\n", longname);
    REPLY_IS(want);
}

static void test_arity(void **state)
{
    assert_null(run(1, "get"));
    REPLY_IS("-ERR wrong number of arguments for 'get' command\r\n");
    assert_null(run(3, "GET", "a", "b"));
    REPLY_IS("-ERR wrong number of arguments for 'get' command\r\n");
    assert_null(run(2, "SET", "a"));
    REPLY_IS("-ERR wrong number of arguments for 'set' command\r\n");
    assert_ptr_equal(run(4, "set", "a", "b", "c"), &rows[1]);
    assert_int_equal(ran_get, 0);
}

static void test_subcommands(void **state)
{
    assert_null(run(1, "config"));
    REPLY_IS("-ERR wrong number of arguments for 'config' command\r\n");
    assert_null(run(2, "config", "xx"));
    REPLY_IS("-ERR unknown subcommand 'xx'. Try CONFIG HELP.\r\n");
    assert_null(run(3, "Config", "xx", "y"));
    REPLY_IS("-ERR unknown subcommand 'xx'. Try CONFIG HELP.\r\n");
    assert_null(run(2, "config", "GET"));
    REPLY_IS("-ERR wrong number of arguments for 'config|get' command\r\n");
    assert_ptr_equal(run(3, "config", "GET", "*"), &config_subs[0]);
    REPLY_IS("*0\r\n");
    assert_int_equal(ran_cfg_get, 1);
    /* a subcommand row without proc runs the parent's */
    assert_ptr_equal(run(2, "CONFIG", "help"), &config_subs[1]);
    REPLY_IS("+HELP\r\n");
    assert_int_equal(ran_cfg_help, 1);
}

static void test_noauth(void **state)
{
    S.need_auth = true;
    assert_null(run(2, "get", "k"));
    REPLY_IS("-NOAUTH Authentication required.\r\n");
    assert_int_equal(ran_get, 0);
    /* Redis checks existence and arity before authentication */
    assert_null(run(1, "foo"));
    REPLY_IS("-ERR unknown command 'foo', with args beginning with: \r\n");
    assert_null(run(1, "get"));
    REPLY_IS("-ERR wrong number of arguments for 'get' command\r\n");
    /* commands flagged no_auth still run */
    assert_ptr_equal(run(1, "PING"), &rows[3]);
    REPLY_IS("+PONG\r\n");
    S.need_auth = false;
    assert_ptr_equal(run(2, "get", "k"), &rows[0]);
}

struct stat_seen {
    int n;
    char names[16][32];
    struct command_stats st[16];
};

static void collect(const char *fullname, const struct command *c,
                    const struct command_stats *st, void *ctx)
{
    struct stat_seen *seen = ctx;
    assert_true(seen->n < 16);
    snprintf(seen->names[seen->n], sizeof(seen->names[0]), "%s", fullname);
    seen->st[seen->n] = *st;
    seen->n++;
}

static void test_stats(void **state)
{
    run(2, "get", "a");
    run(2, "get", "b");
    run(1, "get");                          /* rejected: arity */
    run(3, "set", "k", "v");
    run(4, "set", "k", "v", "x");           /* handler replies an error: failed */
    run(3, "config", "get", "x");
    S.need_auth = true;
    run(3, "set", "k", "v");                /* rejected: auth */
    S.need_auth = false;

    const struct command_stats *g = command_stats_get(&rows[0]);
    assert_non_null(g);
    assert_int_equal(g->calls, 2);
    assert_int_equal(g->rejected_calls, 1);
    assert_int_equal(g->failed_calls, 0);
    const struct command_stats *st = command_stats_get(&rows[1]);
    assert_int_equal(st->calls, 2);
    assert_int_equal(st->failed_calls, 1);
    assert_int_equal(st->rejected_calls, 1);

    struct stat_seen seen = {0};
    command_stats_foreach(collect, &seen);
    /* 6 commands + 2 config subcommands + 7 command subcommands, in
     * registration order */
    assert_int_equal(seen.n, 15);
    assert_string_equal(seen.names[0], "get");
    assert_string_equal(seen.names[4], "config");
    assert_string_equal(seen.names[5], "config|get");
    assert_string_equal(seen.names[6], "config|help");
    assert_string_equal(seen.names[7], "command");
    assert_int_equal(seen.st[5].calls, 1);
    assert_int_equal(seen.st[4].calls, 0);

    command_stats_reset();
    assert_int_equal(command_stats_get(&rows[0])->calls, 0);
    assert_int_equal(command_stats_get(&config_subs[0])->calls, 0);
}


/* ---- reply shapes, read with support.h's RESP reader ---- */

static bool has_str(const struct ptest_node *agg, const char *s)
{
    for (size_t i = 0; i < agg->nkids; i++)
        if (ptest_str_is(&agg->kids[i], s))
            return true;
    return false;
}

static void check_info_entry(const struct ptest_node *e, const char *name)
{
    assert_int_equal(e->type, '*');
    assert_int_equal(e->nkids, 10);
    assert_true(ptest_str_is(&e->kids[0], name));
    assert_int_equal(e->kids[1].type, ':');
    for (int i = 3; i <= 5; i++)
        assert_int_equal(e->kids[i].type, ':');
    for (int i = 2; i <= 9; i++)
        if (i < 3 || i > 5)
            assert_true(e->kids[i].type == '*' || e->kids[i].type == '~');
}

static void test_command_count_list(void **state)
{
    run(2, "command", "count");
    REPLY_IS(":6\r\n");
    run(3, "command", "count", "x");
    REPLY_IS("-ERR wrong number of arguments for 'command|count' command\r\n");
    run(2, "command", "nope");
    REPLY_IS("-ERR unknown subcommand 'nope'. Try COMMAND HELP.\r\n");

    struct ptest_node n;
    run(2, "COMMAND", "LIST");
    ptest_parse_reply(&S.reply, &n);
    assert_int_equal(n.type, '*');
    assert_int_equal(n.nkids, 15);      /* 6 commands + config|get, config|help, 7 command|* */
    assert_true(has_str(&n, "get"));
    assert_true(has_str(&n, "config|get"));
    assert_true(has_str(&n, "config|help"));
    ptest_node_free(&n);

    run(5, "command", "list", "filterby", "pattern", "c*");
    ptest_parse_reply(&S.reply, &n);
    assert_int_equal(n.nkids, 11);      /* config, config|get, config|help, command, command|* */
    assert_false(has_str(&n, "get"));
    ptest_node_free(&n);

    run(5, "command", "list", "filterby", "aclcat", "@read");
    ptest_parse_reply(&S.reply, &n);
    assert_int_equal(n.nkids, 1);
    assert_true(has_str(&n, "get"));
    ptest_node_free(&n);

    run(3, "command", "list", "bogus");
    REPLY_IS("-ERR syntax error\r\n");

    run(2, "command", "help");
    ptest_parse_reply(&S.reply, &n);
    assert_true(n.nkids > 4);
    assert_int_equal(n.kids[0].type, '+');
    ptest_node_free(&n);
}

static void test_command_info(void **state)
{
    for (int resp = 2; resp <= 3; resp++) {
        S.reply.resp = resp;
        struct ptest_node n;
        run(3, "command", "info", "GET");
        ptest_parse_reply(&S.reply, &n);
        assert_int_equal(n.type, '*');
        assert_int_equal(n.nkids, 1);
        const struct ptest_node *e = &n.kids[0];
        check_info_entry(e, "get");
        assert_int_equal(e->kids[1].num, 2);
        assert_int_equal(e->kids[2].type, resp == 3 ? '~' : '*');
        assert_int_equal(e->kids[2].nkids, 2);
        assert_true(has_str(&e->kids[2], "readonly"));
        assert_true(has_str(&e->kids[2], "fast"));
        assert_int_equal(e->kids[3].num, 1);
        assert_int_equal(e->kids[4].num, 1);
        assert_int_equal(e->kids[5].num, 1);
        assert_true(has_str(&e->kids[6], "@read"));
        assert_true(has_str(&e->kids[6], "@string"));
        assert_true(has_str(&e->kids[6], "@fast"));
        assert_int_equal(e->kids[7].nkids, 0);
        assert_int_equal(e->kids[8].nkids, 1);      /* one key spec */
        const struct ptest_node *ks = &e->kids[8].kids[0];
        const struct ptest_node *bs = ptest_map_get(ks, "begin_search");
        assert_non_null(bs);
        assert_true(ptest_str_is(ptest_map_get(bs, "type"), "index"));
        assert_int_equal(ptest_map_get(ptest_map_get(bs, "spec"), "index")->num, 1);
        const struct ptest_node *fk = ptest_map_get(ks, "find_keys");
        assert_true(ptest_str_is(ptest_map_get(fk, "type"), "range"));
        assert_int_equal(ptest_map_get(ptest_map_get(fk, "spec"), "lastkey")->num, 0);
        assert_int_equal(e->kids[9].nkids, 0);
        ptest_node_free(&n);

        /* unknown names give nulls in place; subcommands by full name */
        run(5, "command", "info", "nope", "config", "config|get");
        ptest_parse_reply(&S.reply, &n);
        assert_int_equal(n.nkids, 3);
        assert_int_equal(n.kids[0].type, '_');
        check_info_entry(&n.kids[1], "config");
        assert_int_equal(n.kids[1].kids[9].nkids, 2);
        check_info_entry(&n.kids[1].kids[9].kids[0], "config|get");
        check_info_entry(&n.kids[1].kids[9].kids[1], "config|help");
        check_info_entry(&n.kids[2], "config|get");
        assert_int_equal(n.kids[2].kids[1].num, -3);
        ptest_node_free(&n);

        /* mset: last key -1, step 2 */
        run(3, "command", "info", "mset");
        ptest_parse_reply(&S.reply, &n);
        check_info_entry(&n.kids[0], "mset");
        assert_int_equal(n.kids[0].kids[4].num, -1);
        assert_int_equal(n.kids[0].kids[5].num, 2);
        ptest_node_free(&n);

        /* all commands, with and without INFO */
        run(1, "command");
        ptest_parse_reply(&S.reply, &n);
        assert_int_equal(n.nkids, 6);
        for (size_t i = 0; i < n.nkids; i++)
            check_info_entry(&n.kids[i], rows[i].name);
        ptest_node_free(&n);
        run(2, "command", "info");
        ptest_parse_reply(&S.reply, &n);
        assert_int_equal(n.nkids, 6);
        ptest_node_free(&n);
    }
}

static void test_command_docs(void **state)
{
    for (int resp = 2; resp <= 3; resp++) {
        S.reply.resp = resp;
        struct ptest_node n;
        run(2, "command", "docs");
        ptest_parse_reply(&S.reply, &n);
        assert_int_equal(n.type, resp == 3 ? '%' : '*');
        assert_int_equal(n.nkids, 12);
        for (size_t i = 0; i < n.nkids; i += 2) {
            /* what redis-cli asserts while building its hints */
            assert_int_equal(n.kids[i].type, '$');
            const struct ptest_node *d = &n.kids[i + 1];
            assert_int_equal(d->type, resp == 3 ? '%' : '*');
            assert_int_equal(ptest_map_get(d, "summary")->type, '$');
            assert_int_equal(ptest_map_get(d, "since")->type, '$');
            assert_int_equal(ptest_map_get(d, "group")->type, '$');
            assert_int_equal(ptest_map_get(d, "arguments")->type, '*');
        }
        const struct ptest_node *get = ptest_map_get(&n, "get");
        assert_true(ptest_str_is(ptest_map_get(get, "summary"), "Get the value of a key"));
        assert_true(ptest_str_is(ptest_map_get(get, "group"), "string"));
        assert_true(ptest_str_is(ptest_map_get(get, "since"), "1.0.0"));
        const struct ptest_node *subs = ptest_map_get(ptest_map_get(&n, "config"), "subcommands");
        assert_non_null(subs);
        assert_non_null(ptest_map_get(subs, "config|get"));
        assert_true(ptest_str_is(ptest_map_get(ptest_map_get(subs, "config|help"), "since"), "5.0.0"));
        ptest_node_free(&n);

        /* named: unknown names are left out */
        run(4, "command", "docs", "nope", "SET");
        ptest_parse_reply(&S.reply, &n);
        assert_int_equal(n.nkids, 2);
        assert_true(ptest_str_is(&n.kids[0], "set"));
        ptest_node_free(&n);
    }
}

static void test_command_getkeys(void **state)
{
    run(7, "command", "getkeys", "mset", "a", "1", "b", "2");
    REPLY_IS("*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    run(4, "command", "getkeys", "GET", "k");
    REPLY_IS("*1\r\n$1\r\nk\r\n");
    run(3, "command", "getkeys", "get");     /* COMMAND GETKEYS is -4 in 7.0 */
    REPLY_IS("-ERR wrong number of arguments for 'command|getkeys' command\r\n");
    run(5, "command", "getkeys", "get", "a", "b");
    REPLY_IS("-ERR Invalid number of arguments specified for command\r\n");
    run(2, "command", "getkeys");
    REPLY_IS("-ERR wrong number of arguments for 'command|getkeys' command\r\n");
    run(4, "command", "getkeys", "ping", "x");
    REPLY_IS("-ERR The command has no key arguments\r\n");
    run(4, "command", "getkeys", "nope", "x");
    REPLY_IS("-ERR Invalid command specified\r\n");
}

/* ---- the admin port's rows (CMD_ADMIN_PORT) ---- */

static int ran_admin;

static void p_admin(struct session *s, int argc, struct slice *argv)
{
    ran_admin++;
    reply_status(&s->reply, "ADMIN");
}

static const struct command admin_rows[] = {
    {.name = "ping", .arity = -1, .max_args = 2, .flags = CMD_ADMIN_PORT | CMD_NOAUTH,
     .proc = p_admin},
    {.name = "stats", .arity = 1, .flags = CMD_ADMIN_PORT, .proc = p_admin},
    {.name = "get", .arity = -1, .flags = CMD_ADMIN_PORT, .proc = p_admin},
};
#define NADMIN (sizeof(admin_rows) / sizeof(admin_rows[0]))

static void test_ports(void **state)
{
    ran_admin = 0;
    assert_int_equal(command_register(admin_rows, NADMIN), 0);
    /* a name is unique within its port, not across ports */
    static const struct command dup[] = {
        {.name = "STATS", .arity = 1, .flags = CMD_ADMIN_PORT, .proc = p_admin}};
    assert_int_equal(command_register(dup, 1), EEXIST);

    assert_ptr_equal(command_lookup("ping", 4), &rows[3]);
    assert_ptr_equal(command_lookup_port(CMD_PORT_DATA, "PING", 4), &rows[3]);
    assert_ptr_equal(command_lookup_port(CMD_PORT_ADMIN, "PING", 4), &admin_rows[0]);
    assert_ptr_equal(command_lookup("get", 3), &rows[0]);
    assert_ptr_equal(command_lookup_port(CMD_PORT_ADMIN, "get", 3), &admin_rows[2]);
    assert_null(command_lookup("stats", 5));
    assert_null(command_lookup_port(CMD_PORT_ADMIN, "set", 3));
    assert_string_equal(command_fullname(&admin_rows[1]), "stats");
    assert_non_null(command_stats_get(&admin_rows[1]));

    /* the data port's walks and COMMAND see none of the admin rows */
    assert_int_equal(command_count(), NROWS);
    run(2, "command", "count");
    REPLY_IS(":6\r\n");
    run(3, "command", "info", "stats");
    REPLY_IS("*1\r\n*-1\r\n");
    struct ptest_node n;
    run(2, "command", "list");
    ptest_parse_reply(&S.reply, &n);
    assert_int_equal(n.nkids, 15);
    assert_false(has_str(&n, "stats"));
    ptest_node_free(&n);
    struct stat_seen seen = {0};
    command_stats_foreach(collect, &seen);
    assert_int_equal(seen.n, 15);
    for (int i = 0; i < seen.n; i++)
        assert_string_not_equal(seen.names[i], "stats");

    /* a data session does not know the admin rows ... */
    assert_null(run(1, "stats"));
    REPLY_IS("-ERR unknown command 'stats', with args beginning with: \r\n");
    assert_int_equal(ran_admin, 0);

    /* ... and an admin session knows only them */
    S.port = CMD_PORT_ADMIN;
    assert_ptr_equal(run(1, "PING"), &admin_rows[0]);
    REPLY_IS("+ADMIN\r\n");
    assert_null(run(3, "set", "k", "v"));
    REPLY_IS("-ERR unknown command 'set', with args beginning with: 'k' 'v' \r\n");
    assert_ptr_equal(run(2, "get", "k"), &admin_rows[2]);
    assert_int_equal(ran_get, 0);
    assert_int_equal(ran_admin, 2);

    /* max_args bounds a range from above, with the arity error */
    assert_ptr_equal(run(2, "ping", "x"), &admin_rows[0]);
    assert_null(run(3, "ping", "x", "y"));
    REPLY_IS("-ERR wrong number of arguments for 'ping' command\r\n");
    assert_int_equal(command_stats_get(&admin_rows[0])->rejected_calls, 1);
    assert_int_equal(command_stats_get(&admin_rows[0])->calls, 2);
    assert_int_equal(command_stats_get(&rows[3])->calls, 0);
    S.port = CMD_PORT_DATA;
}

/* ---- the time a command is handed ---- */

static uint64_t handed_now;

static void p_clock(struct session *s, int argc, struct slice *argv)
{
    handed_now = s->now_us;
    reply_ok(&s->reply);
}

static void test_dispatch_clock(void **state)
{
    static const struct command clock_rows[] = {{.name = "clock", .arity = 1, .proc = p_clock}};
    assert_int_equal(command_register(clock_rows, 1), 0);
    struct slice argv[1] = {{"clock", 5}};

    /* the handler reads the caller's reading; the session ends at the
     * reading taken when the handler returned, which the call is timed to */
    uint64_t start = 1000;
    assert_ptr_equal(command_dispatch_at(&S, 1, argv, start), &clock_rows[0]);
    assert_int_equal(handed_now, start);
    assert_true(S.now_us > start);
    assert_int_equal(command_stats_get(&clock_rows[0])->usec, S.now_us - start);

    /* no handler ran: the session keeps the caller's reading */
    struct slice nope[1] = {{"nope", 4}};
    assert_null(command_dispatch_at(&S, 1, nope, 777));
    assert_int_equal(S.now_us, 777);

    /* command_dispatch reads the clock itself */
    uint64_t before = S.now_us;
    command_dispatch(&S, 1, argv);
    assert_true(handed_now > before);
    assert_true(S.now_us >= handed_now);
}

/* proto_setup reports a registration it could not make (here every
 * data command whose name the fixture's rows already hold), and adds
 * nothing then: the daemon refuses to start rather than run without them. */
static void test_proto_setup_failure(void **state)
{
    assert_int_equal(proto_setup(), EEXIST);
    assert_int_equal(command_count(), NROWS);
    assert_ptr_equal(command_lookup("set", 3), &rows[1]);
    assert_null(command_lookup("append", 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proto_setup_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subcommands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noauth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_count_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_docs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_getkeys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
