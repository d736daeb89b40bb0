/*
 * test_config: the option table engine (daemon/config.c) on its own:
 * defaults, value parsing and bounds, redis.conf-style files and their
 * error messages, CONFIG SET atomicity, CONFIG GET formatting, the glob
 * matcher, the password comparison, and that conf/compactd.conf is exactly
 * the generated sample.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/config.h"

static int setup(void **state)
{
    (void)state;
    return config_init() == CONFIG_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    config_deinit();
    return 0;
}

static char *get(const char *name)
{
    const struct cfg_option *o = config_find(name);
    assert_non_null(o);
    return config_format(o);
}

static void assert_get(const char *name, const char *want)
{
    char *v = get(name);
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

/* Applies "name value" through the directive path; returns the status. */
static config_rstatus_e apply1(const char *name, const char *value, char *err, size_t errlen)
{
    char *v = (char *)value;
    return config_apply(name, 1, &v, err, errlen);
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(cfg.port, 6379);
    assert_string_equal(cfg.bind, "127.0.0.1");
    assert_int_equal(cfg.maxclients, 10000);
    assert_int_equal(cfg.timeout, 0);
    assert_int_equal(cfg.hz, 10);
    assert_int_equal(cfg.client_query_buffer_limit, 1024LL * 1024 * 1024);
    assert_int_equal(cfg.proto_max_bulk_len, 512LL * 1024 * 1024);
    assert_int_equal(cfg.databases, 1);
    assert_int_equal(cfg.arena_size, 1 << 20);
    assert_string_equal(cfg.requirepass, "");
    assert_string_equal(cfg.save, "");
    assert_int_equal(cfg.appendonly, 0);
    assert_get("loglevel", "notice");
    assert_get("appendonly", "no");
    assert_get("client-query-buffer-limit", "1073741824");
    assert_get("save", "");
    /* Every row's default survives its own checks (config_init ran them). */
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        char *v = config_format(&config_options[i]);
        assert_non_null(v);
        free(v);
        assert_ptr_equal(config_find(config_options[i].name), &config_options[i]);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    char err[256];
    static const struct { const char *in; long long want; } ok[] = {
        {"1048576", 1048576},  {"1mb", 1048576},       {"1MB", 1048576},
        {"2m", 2000000},       {"1gb", 1073741824LL},  {"1g", 1000000000LL},
        {"2048kb", 2097152},   {"1500k", 1500000},     {"3145728b", 3145728},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(apply1("client-query-buffer-limit", ok[i].in, err, sizeof err), CONFIG_OK);
        assert_int_equal(cfg.client_query_buffer_limit, ok[i].want);
    }
    static const char *bad[] = {"", "1zz", "-1", "mb", "1 mb", "1.5mb", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(apply1("client-query-buffer-limit", bad[i], err, sizeof err), CONFIG_EVALUE);
        assert_non_null(strstr(err, "memory value"));
    }
    /* Below the minimum. */
    assert_int_equal(apply1("client-query-buffer-limit", "1k", err, sizeof err), CONFIG_EVALUE);
    assert_non_null(strstr(err, "between 1048576 and"));
    /* proto-max-bulk-len stops at what the keyspace stores */
    assert_int_equal(apply1("proto-max-bulk-len", "512mb", err, sizeof err), CONFIG_OK);
    assert_int_equal(apply1("proto-max-bulk-len", "513mb", err, sizeof err), CONFIG_EVALUE);
    assert_non_null(strstr(err, "between 1048576 and 536870912"));
    /* arena-size must be a power of two. */
    assert_int_equal(apply1("arena-size", "3mb", err, sizeof err), CONFIG_EVALUE);
    assert_non_null(strstr(err, "power of two"));
    assert_int_equal(apply1("arena-size", "4mb", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.arena_size, 4 << 20);
}

static void test_ints_bools_enums(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(apply1("port", "6380", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.port, 6380);
    assert_int_equal(apply1("port", "65536", err, sizeof err), CONFIG_EVALUE);
    assert_string_equal(err, "bad value for 'port': argument must be between 0 and 65535 inclusive");
    assert_int_equal(apply1("port", "12ab", err, sizeof err), CONFIG_EVALUE);
    assert_non_null(strstr(err, "couldn't be parsed into an integer"));
    assert_int_equal(apply1("port", "+5", err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(apply1("maxclients", "0", err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(cfg.port, 6380);   /* failures change nothing */

    assert_int_equal(apply1("databases", "2", err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(apply1("databases", "1", err, sizeof err), CONFIG_OK);

    assert_int_equal(apply1("loglevel", "WARNING", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.loglevel, 3);
    assert_get("loglevel", "warning");
    assert_int_equal(apply1("loglevel", "loud", err, sizeof err), CONFIG_EVALUE);
    assert_string_equal(err, "bad value for 'loglevel': argument(s) must be one of the "
                             "following: debug, verbose, notice, warning");

    assert_int_equal(apply1("unixsocketperm", "770", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.unixsocketperm, 0770);
    assert_get("unixsocketperm", "770");
    assert_int_equal(apply1("unixsocketperm", "789", err, sizeof err), CONFIG_EVALUE);

    /* Compatibility rows accept only the truth. */
    assert_int_equal(apply1("appendonly", "no", err, sizeof err), CONFIG_OK);
    assert_int_equal(apply1("appendonly", "yes", err, sizeof err), CONFIG_EVALUE);
    assert_non_null(strstr(err, "persistent"));
    assert_int_equal(apply1("appendonly", "maybe", err, sizeof err), CONFIG_EVALUE);
    assert_non_null(strstr(err, "'yes' or 'no'"));
    char *save[] = {"900", "1"};
    assert_int_equal(config_apply("save", 2, save, err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(apply1("save", "", err, sizeof err), CONFIG_OK);

    /* Lists join their arguments. */
    char *bind[] = {"127.0.0.1", "::1"};
    assert_int_equal(config_apply("bind", 2, bind, err, sizeof err), CONFIG_OK);
    assert_string_equal(cfg.bind, "127.0.0.1 ::1");
    /* Wrong argument counts. */
    assert_int_equal(config_apply("port", 2, bind, err, sizeof err), CONFIG_EARGS);
    assert_int_equal(config_apply("bind", 0, bind, err, sizeof err), CONFIG_EARGS);
    assert_int_equal(apply1("no-such-thing", "1", err, sizeof err), CONFIG_EUNKNOWN);
    assert_string_equal(err, "unknown directive 'no-such-thing'");
}

static void test_split_line(void **state)
{
    (void)state;
    char **argv;
    int argc = config_split_line("  set  \"a b\" 'c d' \"x\\x41y\\n\" plain ''", &argv);
    assert_int_equal(argc, 6);
    assert_string_equal(argv[0], "set");
    assert_string_equal(argv[1], "a b");
    assert_string_equal(argv[2], "c d");
    assert_string_equal(argv[3], "xAy\n");
    assert_string_equal(argv[4], "plain");
    assert_string_equal(argv[5], "");
    config_free_args(argc, argv);

    argc = config_split_line("'it\\'s'", &argv);
    assert_int_equal(argc, 1);
    assert_string_equal(argv[0], "it's");
    config_free_args(argc, argv);

    assert_int_equal(config_split_line("a \"unterminated", &argv), -1);
    assert_int_equal(config_split_line("a \"closed\"glued", &argv), -1);
    assert_int_equal(config_split_line("a 'x", &argv), -1);
    assert_int_equal(config_split_line("   ", &argv), 0);
    config_free_args(0, argv);
}

static void test_file(void **state)
{
    (void)state;
    char err[512];
    const char *good =
        "# comment\n"
        "\n"
        "   # indented comment\n"
        "port 7000\r\n"
        "BIND 127.0.0.1 -::1\n"
        "requirepass \"p w#d\"\n"
        "maxmemory 100mb\n"
        "logfile ''\n";
    assert_int_equal(config_load_string(good, "t.conf", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.port, 7000);
    assert_string_equal(cfg.bind, "127.0.0.1 -::1");
    assert_string_equal(cfg.requirepass, "p w#d");
    assert_int_equal(cfg.maxmemory, 100LL << 20);

    assert_int_equal(config_load_string("port 1\n\nfoo bar\n", "x.conf", err, sizeof err),
                     CONFIG_EUNKNOWN);
    assert_string_equal(err, "x.conf:3: unknown directive 'foo'");
    assert_int_equal(config_load_string("hz 0\n", "y.conf", err, sizeof err), CONFIG_EVALUE);
    assert_string_equal(err, "y.conf:1: bad value for 'hz': argument must be between 1 and 500 inclusive");
    assert_int_equal(config_load_string("port\n", "z.conf", err, sizeof err), CONFIG_EARGS);
    assert_string_equal(err, "z.conf:1: bad value for 'port': wrong number of arguments");
    assert_int_equal(config_load_string("requirepass \"abc\n", "q.conf", err, sizeof err),
                     CONFIG_EVALUE);
    assert_string_equal(err, "q.conf:1: unbalanced quotes");

    assert_int_equal(config_load_file("/nonexistent/compactd.conf", err, sizeof err), CONFIG_EIO);
    assert_non_null(strstr(err, "/nonexistent/compactd.conf"));
}

/* The options alloc and the keyspace read are their own rows (ALLOC_OPTIONS,
 * KS_OPTIONS), which the daemon's table includes: each is found under its
 * name with its bounds, and the default the engine wrote out in the file's
 * syntax ("1mb", "1.2", "yes", "arenas") parses back to the module's
 * default, as the file and CONFIG GET then show it. */
static void test_module_rows(void **state)
{
    (void)state;
    struct alloc_options adef;
    struct ks_options kdef;
    alloc_options_default(&adef);
    ks_options_default(&kdef);
    unsigned rows = 0;
#define ROW(def_struct, field, name, type, dflt, lo, hi, fl)                                \
    do {                                                                                 \
        const struct cfg_option *o = config_find(name);                                  \
        assert_non_null(o);                                                              \
        assert_int_equal(o->min, (long long)(lo));                                       \
        assert_int_equal(o->max, (long long)(hi));                                       \
        assert_int_equal(o->flags, (fl));                                                \
        long long got = *(const long long *)(const void *)((const char *)&cfg + o->offset); \
        assert_int_equal(got, (long long)def_struct.field);                              \
        rows++;                                                                          \
    } while (0);
#define X(field, name, type, dflt, lo, hi, fl, words, desc) ROW(adef, field, name, type, dflt, lo, hi, fl)
    ALLOC_OPTIONS(X)
#undef X
#define X(field, name, type, dflt, lo, hi, fl, words, desc) ROW(kdef, field, name, type, dflt, lo, hi, fl)
    KS_OPTIONS(X)
#undef X
#undef ROW
    assert_int_equal(rows, 12);
    /* written out as a person would */
    assert_string_equal(config_find("arena-size")->def, "1mb");
    assert_string_equal(config_find("compact-frag-threshold")->def, "1.2");
    assert_string_equal(config_find("compact-min-reclaim")->def, "4mb");
    assert_string_equal(config_find("expire-cycle-ms")->def, "1");
    assert_string_equal(config_find("lifetime-segregation")->def, "yes");
    assert_string_equal(config_find("active-expire-sweep")->def, "arenas");
}

static bool refuse_big_maxclients(enum cfg_opt opt, long long value, char *err, size_t errlen)
{
    if (opt != CFG_OPT_maxclients || value <= 100)
        return true;
    snprintf(err, errlen, "try with 100");
    return false;
}

static void test_set_many(void **state)
{
    (void)state;
    char err[256];
    size_t bad = 99;
    bool changed[CFG_OPT_COUNT];

    const char *n1[] = {"hz", "maxclients", "loglevel"};
    const char *v1[] = {"20", "50", "debug"};
    assert_int_equal(config_set_many(3, n1, v1, &bad, changed, err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.hz, 20);
    assert_int_equal(cfg.maxclients, 50);
    assert_int_equal(cfg.loglevel, 0);
    assert_true(changed[CFG_OPT_hz] && changed[CFG_OPT_maxclients] && changed[CFG_OPT_loglevel]);
    assert_false(changed[CFG_OPT_port]);

    /* All or nothing: the bad third pair leaves the first two untouched. */
    const char *n2[] = {"hz", "requirepass", "timeout"};
    const char *v2[] = {"30", "secret", "-1"};
    assert_int_equal(config_set_many(3, n2, v2, &bad, changed, err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(bad, 2);
    assert_int_equal(cfg.hz, 20);
    assert_string_equal(cfg.requirepass, "");

    const char *n3[] = {"hz", "port"};
    const char *v3[] = {"30", "7000"};
    assert_int_equal(config_set_many(2, n3, v3, &bad, NULL, err, sizeof err), CONFIG_EIMMUTABLE);
    assert_int_equal(bad, 1);
    assert_string_equal(err, "can't set immutable config");
    assert_int_equal(cfg.hz, 20);

    const char *n4[] = {"hz", "HZ"};
    const char *v4[] = {"30", "40"};
    assert_int_equal(config_set_many(2, n4, v4, &bad, NULL, err, sizeof err), CONFIG_EDUP);
    assert_string_equal(err, "duplicate parameter");

    const char *n5[] = {"nope"};
    const char *v5[] = {"1"};
    assert_int_equal(config_set_many(1, n5, v5, &bad, NULL, err, sizeof err), CONFIG_EUNKNOWN);
    assert_int_equal(bad, 0);

    /* The daemon's check refuses a value the system cannot take: the whole
     * set fails with its message, nothing changes, and values it passes
     * (and options it does not look at) go through. */
    config_set_check_hook(refuse_big_maxclients);
    const char *nc[] = {"hz", "maxclients"};
    const char *vc[] = {"30", "101"};
    assert_int_equal(config_set_many(2, nc, vc, &bad, NULL, err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(bad, 1);
    assert_string_equal(err, "try with 100");
    assert_int_equal(cfg.hz, 20);
    assert_int_equal(cfg.maxclients, 50);
    vc[1] = "100";
    assert_int_equal(config_set_many(2, nc, vc, &bad, NULL, err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.hz, 30);
    assert_int_equal(cfg.maxclients, 100);
    /* files and the command line are not checked */
    char *argv[] = {"200"};
    assert_int_equal(config_apply("maxclients", 1, argv, err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.maxclients, 200);
    config_set_check_hook(NULL);

    const char *n6[] = {"requirepass", "maxmemory"};
    const char *v6[] = {"s3cret", "2gb"};
    assert_int_equal(config_set_many(2, n6, v6, &bad, NULL, err, sizeof err), CONFIG_OK);
    assert_string_equal(cfg.requirepass, "s3cret");
    assert_get("maxmemory", "2147483648");
}

/* config_set_string: what SIGHUP's reload uses to put a value back. */
static void test_set_string(void **state)
{
    (void)state;
    char err[256];
    /* any option, mutable or not, from its config_format text */
    assert_int_equal(config_set_string(config_find("port"), "7000", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.port, 7000);
    assert_int_equal(config_set_string(config_find("arena-size"), "2097152", err, sizeof err),
                     CONFIG_OK);
    assert_get("arena-size", "2097152");
    assert_int_equal(config_set_string(config_find("port"), "70000", err, sizeof err),
                     CONFIG_EVALUE);
    assert_non_null(strstr(err, "between 0 and 65535"));
    assert_int_equal(cfg.port, 7000);

    /* a LIST is split into its words; an empty or blank one is the empty list */
    assert_int_equal(config_set_string(config_find("bind"), "127.0.0.1  ::1", err, sizeof err),
                     CONFIG_OK);
    assert_get("bind", "127.0.0.1 ::1");
    assert_int_equal(config_set_string(config_find("bind"), "", err, sizeof err), CONFIG_OK);
    assert_get("bind", "");
    assert_int_equal(config_set_string(config_find("save"), "  ", err, sizeof err), CONFIG_OK);
    assert_get("save", "");
    assert_int_equal(config_set_string(config_find("save"), "900 1", err, sizeof err),
                     CONFIG_EVALUE);
    assert_int_equal(config_set_string(config_find("bind"), "\"a", err, sizeof err),
                     CONFIG_EVALUE);
    assert_string_equal(err, "unbalanced quotes");

    /* every value round-trips through config_format */
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        char *v = config_format(&config_options[i]);
        assert_non_null(v);
        assert_int_equal(config_set_string(&config_options[i], v, err, sizeof err), CONFIG_OK);
        char *again = config_format(&config_options[i]);
        assert_string_equal(again, v);
        free(again);
        free(v);
    }
}

static bool gm(const char *p, const char *s)
{
    return config_glob_match(p, strlen(p), s, strlen(s), true);
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(gm("*", "port"));
    assert_true(gm("*", ""));
    assert_true(gm("p*", "port"));
    assert_true(gm("P*T", "port"));
    assert_true(gm("*max*", "client-query-buffer-limit") == false);
    assert_true(gm("*max*", "maxmemory-policy"));
    assert_true(gm("?ort", "port"));
    assert_false(gm("?ort", "pport"));
    assert_true(gm("[pq]ort", "port"));
    assert_false(gm("[^p]ort", "port"));
    assert_true(gm("[a-z]z", "hz"));
    assert_true(gm("h\\z", "hz"));
    assert_true(gm("*a*b*c*", "xxaxxbxxcxx"));
    assert_false(gm("*a*b*c*d", "xxaxxbxxcxx"));
    assert_false(gm("port", "ports"));
    assert_false(config_glob_match("P*", 2, "port", 4, false));
}

static void test_secret_eq(void **state)
{
    (void)state;
    assert_true(config_secret_eq("s3cret", "s3cret", 6));
    assert_true(config_secret_eq("", "", 0));
    assert_true(config_secret_eq("ab", "abX", 2));     /* only glen bytes count */
    assert_false(config_secret_eq("s3cret", "s3creT", 6));
    assert_false(config_secret_eq("s3cret", "s3cre", 5));
    assert_false(config_secret_eq("s3cret", "s3cret!", 7));
    assert_false(config_secret_eq("", "x", 1));
    assert_false(config_secret_eq("x", "", 0));
    assert_false(config_secret_eq("a", "a\0", 2));     /* a NUL in the input is a byte too */
}

static void test_sample_matches_conf(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_write_sample(f);
    fclose(f);
    /* Every option appears as a directive line. */
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "\n%s ", config_options[i].name);
        assert_non_null(strstr(buf, needle));
    }
    /* The sample parses back to the defaults. */
    char err[256];
    assert_int_equal(apply1("port", "1234", err, sizeof err), CONFIG_OK);
    assert_int_equal(config_load_string(buf, "sample", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.port, 6379);

    /* conf/compactd.conf is the sample, byte for byte. */
    FILE *cf = fopen(COMPACTD_SRC_DIR "/conf/compactd.conf", "r");
    assert_non_null(cf);
    char *conf = calloc(1, len + 2);
    size_t got = fread(conf, 1, len + 1, cf);
    fclose(cf);
    if (got != len || memcmp(conf, buf, len) != 0)
        fail_msg("conf/compactd.conf is stale: regenerate it with `compactd --sample-config`");
    free(conf);
    free(buf);
}

/* Decimal (CFG_MILLI) values, the output-buffer-limit syntax, aliases. */
static void test_milli_obl_alias(void **state)
{
    (void)state;
    char err[256];
    assert_get("compact-frag-threshold", "1.2");
    assert_int_equal(cfg.compact_frag_threshold, 1200);
    assert_int_equal(apply1("compact-frag-threshold", "1.25", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.compact_frag_threshold, 1250);
    assert_get("compact-frag-threshold", "1.25");
    assert_int_equal(apply1("compact-frag-threshold", "3", err, sizeof err), CONFIG_OK);
    assert_get("compact-frag-threshold", "3");
    assert_int_equal(apply1("compact-frag-threshold", "0.9", err, sizeof err), CONFIG_EVALUE);
    assert_non_null(strstr(err, "between 1 and 1000"));
    assert_int_equal(apply1("compact-frag-threshold", "1.2345", err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(apply1("compact-frag-threshold", "1.", err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(apply1("compact-frag-threshold", "x", err, sizeof err), CONFIG_EVALUE);
    assert_int_equal(cfg.compact_frag_threshold, 3000);

    /* expire-cycle-ms is stored in microseconds */
    assert_int_equal(cfg.expire_cycle_us, 1000);
    assert_int_equal(apply1("expire-cycle-ms", "0.5", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.expire_cycle_us, 500);
    assert_get("expire-cycle-ms", "0.5");
    assert_int_equal(apply1("expire-cycle-ms", "0.05", err, sizeof err), CONFIG_EVALUE);

    /* the Redis name of expire-effort */
    assert_ptr_equal(config_find("active-expire-effort"), config_find("expire-effort"));
    assert_int_equal(apply1("active-expire-effort", "4", err, sizeof err), CONFIG_OK);
    assert_int_equal(cfg.expire_effort, 4);

    struct cfg_obl obl;
    assert_true(config_parse_obl(cfg.client_output_buffer_limit, &obl));
    assert_int_equal(obl.hard, 256LL << 20);
    assert_int_equal(obl.soft, 0);
    assert_true(config_parse_obl("replica 1 2 3 normal 1mb 512kb 10 pubsub 0 0 0", &obl));
    assert_int_equal(obl.hard, 1 << 20);
    assert_int_equal(obl.soft, 512 << 10);
    assert_int_equal(obl.soft_seconds, 10);
    assert_false(config_parse_obl("normal 1mb 512kb", &obl));
    assert_false(config_parse_obl("fancy 1 2 3", &obl));
    assert_false(config_parse_obl("normal 1mb x 3", &obl));
    assert_false(config_parse_obl("normal 1 2 -3", &obl));
    char *list[] = {"normal", "8mb", "4mb", "2"};
    assert_int_equal(config_apply("client-output-buffer-limit", 4, list, err, sizeof err), CONFIG_OK);
    assert_get("client-output-buffer-limit", "normal 8mb 4mb 2");
    char *bad[] = {"normal", "8mb", "4mb"};
    assert_int_equal(config_apply("client-output-buffer-limit", 3, bad, err, sizeof err),
                     CONFIG_EVALUE);
    assert_get("client-output-buffer-limit", "normal 8mb 4mb 2");
}

/* admin-port -1 follows the data port; an explicit value or 0 stays */
static void test_admin_port_rule(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(cfg.admin_port, -1);   /* the default is the rule */
    assert_int_equal(config_admin_port_for(6379), 16379);
    assert_int_equal(config_admin_port_for(55535), 65535);
    assert_int_equal(config_admin_port_for(55536), 45536);
    assert_int_equal(config_admin_port_for(0), 0);
    assert_int_equal(apply1("port", "7001", err, sizeof err), CONFIG_OK);
    config_derive();
    assert_int_equal(cfg.admin_port, 17001);
    config_derive();   /* idempotent: the derived value is a port now */
    assert_int_equal(cfg.admin_port, 17001);
    assert_int_equal(apply1("admin-port", "0", err, sizeof err), CONFIG_OK);
    config_derive();
    assert_int_equal(cfg.admin_port, 0);
    assert_int_equal(apply1("admin-port", "9000", err, sizeof err), CONFIG_OK);
    config_derive();
    assert_int_equal(cfg.admin_port, 9000);
    assert_int_equal(apply1("admin-port", "-2", err, sizeof err), CONFIG_EVALUE);
}

/* The apply functions: each once per config_changed however many of its
 * options changed, in the order the options are declared; options nobody
 * registered and unchanged options call nothing; config_deinit forgets. */
static char calls[8];
static size_t ncalls;
static void apply_a(void) { calls[ncalls++] = 'a'; }
static void apply_b(void) { calls[ncalls++] = 'b'; }

static void test_on_change(void **state)
{
    (void)state;
    /* declared order: hz before maxmemory-samples before compact-auto */
    assert_true(CFG_OPT_hz < CFG_OPT_evict_samples &&
                CFG_OPT_evict_samples < CFG_OPT_compact_auto);
    config_on_change(CFG_OPT_compact_auto, apply_a);
    config_on_change(CFG_OPT_hz, apply_b);
    config_on_change(CFG_OPT_evict_samples, apply_a);
    bool changed[CFG_OPT_COUNT] = {false};
    changed[CFG_OPT_compact_auto] = changed[CFG_OPT_evict_samples] = true;
    changed[CFG_OPT_hz] = changed[CFG_OPT_loglevel] = true;
    config_changed(changed);
    assert_int_equal(ncalls, 2);
    assert_memory_equal(calls, "ba", 2);
    ncalls = 0;
    bool none[CFG_OPT_COUNT] = {false};
    none[CFG_OPT_loglevel] = true;
    config_changed(none);
    assert_int_equal(ncalls, 0);
    config_deinit();
    assert_int_equal(config_init(), CONFIG_OK);
    config_changed(changed);
    assert_int_equal(ncalls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ints_bools_enums, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_glob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_eq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_matches_conf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_milli_obl_alias, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_port_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_change, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
