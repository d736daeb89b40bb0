/*
 * test_tools: the stock Redis clients work unchanged.
 *
 * redis-cli and redis-benchmark (Debian's redis-tools) are real-world
 * clients with their own expectations (HELLO/COMMAND probing, CONFIG GET at
 * start-up, SCAN loops, pipelined benchmark traffic). They are run as
 * subprocesses under `timeout`; their output and exit status are checked.
 * If the tools are not installed, the tests skip with a message.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static bool have_tool(const char *name)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/local/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", d, name);
        if (access(full, X_OK) == 0)
            return true;
    }
    return false;
}

static void need_tool(const char *name)
{
    if (!have_tool(name)) {
        print_message("skipped: %s not installed (apt-get install redis-tools)\n", name);
        skip();
    }
}

/* Runs a shell command line; returns its exit status and its combined
 * output (malloc'd, NUL-terminated) in *out. */
static int shell(const char *cmdline, char **out)
{
    char full[4096];
    /* No terminal or inherited stdin: redis-cli must act as in a script. */
    snprintf(full, sizeof full, "exec </dev/null 2>&1; timeout 120 %s", cmdline);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs redis-cli with args; asserts exit 0 and exact output. */
#define cli_expect(args, want) cli_expect_at(__FILE__, __LINE__, (args), (want))
static void cli_expect_at(const char *file, int line, const char *args, const char *want)
{
    char cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "redis-cli -h 127.0.0.1 -p %d %s", harness_srv.port, args);
    int st = shell(cmd, &out);
    if (st != 0 || strcmp(out, want) != 0) {
        print_error("%s:%d: `%s` exited %d with output \"%s\", expected \"%s\"\n", file, line,
                    cmd, st, out, want);
        free(out);
        _fail(file, line);
    }
    free(out);
}

static void test_redis_cli(void **state)
{
    (void)state;
    need_tool("redis-cli");
    cli_expect("PING", "PONG\n");
    cli_expect("SET a b", "OK\n");
    cli_expect("GET a", "b\n");
    cli_expect("GET missing_key", "\n");
    cli_expect("INCR tools:n", "1\n");
    cli_expect("INCRBY tools:n 41", "42\n");
    cli_expect("SET 'tools key' 'va lue'", "OK\n");
    cli_expect("GET 'tools key'", "va lue\n");
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "redis-cli -h 127.0.0.1 -p %d NOSUCHCMD", harness_srv.port);
    assert_int_equal(shell(cmd, &out), 0);
    if (strncmp(out, "ERR unknown command 'NOSUCHCMD'", 31) != 0)
        fail_msg("unexpected output for an unknown command: \"%s\"", out);
    free(out);
    /* Piped commands (redis-cli reads stdin when it is not a terminal). */
    snprintf(cmd, sizeof cmd,
             "sh -c \"printf 'SET p1 v1\\nGET p1\\nDEL p1\\n' | redis-cli -h 127.0.0.1 -p %d\"",
             harness_srv.port);
    assert_int_equal(shell(cmd, &out), 0);
    assert_string_equal(out, "OK\nv1\n1\n");
    free(out);
    /* The value written by redis-cli is visible to other clients. */
    redisContext *c = server_connect(&harness_srv);
    assert_reply_str(run(c, "GET a"), "b");
    redisFree(c);
}

#define NSCANKEYS 300

static void test_redis_cli_scan(void **state)
{
    (void)state;
    need_tool("redis-cli");
    redisContext *c = server_connect(&harness_srv);
    for (int i = 0; i < NSCANKEYS; i++)
        redisAppendCommand(c, "SET cliscan:%d x", i);
    for (int i = 0; i < NSCANKEYS; i++)
        assert_reply_status(get_reply(c), "OK");
    redisFree(c);

    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "redis-cli -h 127.0.0.1 -p %d --scan --pattern 'cliscan:*'",
             harness_srv.port);
    assert_int_equal(shell(cmd, &out), 0);
    static unsigned char seen[NSCANKEYS];
    int lines = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int k = -1;
        if (sscanf(l, "cliscan:%d", &k) != 1 || k < 0 || k >= NSCANKEYS)
            fail_msg("unexpected --scan line \"%s\"", l);
        seen[k] = 1;
        lines++;
    }
    free(out);
    assert_true(lines >= NSCANKEYS);
    for (int i = 0; i < NSCANKEYS; i++) {
        if (!seen[i])
            fail_msg("redis-cli --scan missed cliscan:%d", i);
    }
    /* Without a pattern every key shows up, these included. */
    snprintf(cmd, sizeof cmd, "redis-cli -h 127.0.0.1 -p %d --scan | grep -c '^cliscan:'",
             harness_srv.port);
    assert_int_equal(shell(cmd, &out), 0);
    assert_true(atoi(out) >= NSCANKEYS);
    free(out);
}

/* Finds "NAME: <rate> requests per second" in -q output; returns the rate. */
static double bench_rate(const char *out, const char *name)
{
    char pat[32];
    snprintf(pat, sizeof pat, "%s: ", name);
    double best = -1;
    /* -q rewrites progress lines with \r; the final figure is the last one. */
    for (const char *p = strstr(out, pat); p; p = strstr(p + 1, pat)) {
        if (p != out && p[-1] != '\n' && p[-1] != '\r')
            continue;
        double v;
        if (sscanf(p + strlen(pat), "%lf requests per second", &v) == 1 &&
            strstr(p, "requests per second"))
            best = v;
    }
    return best;
}

static void test_redis_benchmark(void **state)
{
    (void)state;
    need_tool("redis-benchmark");
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "redis-benchmark -h 127.0.0.1 -p %d -t set,get -n 2000 -q",
             harness_srv.port);
    int st = shell(cmd, &out);
    if (st != 0)
        fail_msg("redis-benchmark exited %d:\n%s", st, out);
    double set = bench_rate(out, "SET"), get = bench_rate(out, "GET");
    if (set <= 0 || get <= 0)
        fail_msg("no SET/GET rates in redis-benchmark output:\n%s", out);
    if (strstr(out, "rror"))
        fail_msg("redis-benchmark reported errors:\n%s", out);
    free(out);
    /* Its SETs landed: the fixed key holds a default 3-byte payload. */
    redisContext *c = server_connect(&harness_srv);
    assert_reply_int(run(c, "STRLEN key:__rand_int__"), 3);
    redisFree(c);

    /* Pipelined, with a random keyspace and bigger values. */
    snprintf(cmd, sizeof cmd,
             "redis-benchmark -h 127.0.0.1 -p %d -t set,get -n 5000 -P 16 -r 1000 -d 100 --csv",
             harness_srv.port);
    st = shell(cmd, &out);
    if (st != 0)
        fail_msg("redis-benchmark -P 16 exited %d:\n%s", st, out);
    if (!strstr(out, "\"SET\",\"") || !strstr(out, "\"GET\",\""))
        fail_msg("no SET/GET rows in redis-benchmark --csv output:\n%s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_cli),
        cmocka_unit_test(test_redis_cli_scan),
        cmocka_unit_test(test_redis_benchmark),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
