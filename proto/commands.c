/*
 * commands: the rows of the command table that proto/ itself implements
 * (data commands over keyspace/, plus COMMAND), and proto's lifecycle.
 *
 * Each row mirrors Redis 7.0's COMMAND INFO / COMMAND DOCS for the command:
 * arity, the flags from our flag set that Redis reports, the legacy key
 * range (first, last, step), summary, group and the version it appeared
 * in. COMMAND output is generated from these rows, so they are data, not
 * documentation: keep them exact.
 *
 * Also holds the value-size limit (proto-max-bulk-len) that the string
 * commands enforce when they build values larger than any one argument.
 */
#include "proto/internal.h"

#define W   CMD_WRITE
#define R   CMD_READONLY
#define M   CMD_DENYOOM
#define F   CMD_FAST
#define L   CMD_LOADING
#define S   CMD_STALE

/* MEMORY's subcommands; USAGE's key is its third argument. */
static const struct command memory_subs[] = {
    { "doctor", 2, 0, 0, 0, 0, cmd_memory_doctor,
      "Outputs memory problems report",
      "server", "4.0.0", NULL, "O(1)", 0, NULL, NULL, NULL },
    { "help", 2, L | S, 0, 0, 0, cmd_memory_help,
      "Show helpful text about the different subcommands",
      "server", "4.0.0", NULL, "O(1)", 0, NULL, NULL, NULL },
    { "malloc-stats", 2, 0, 0, 0, 0, cmd_memory_malloc_stats,
      "Show allocator internal stats",
      "server", "4.0.0", NULL, "Depends on how much memory is allocated, could be slow", 0, NULL, NULL, NULL },
    { "purge", 2, 0, 0, 0, 0, cmd_memory_purge,
      "Ask the allocator to release memory",
      "server", "4.0.0", NULL, "Depends on how much memory is allocated, could be slow", 0, NULL, NULL, NULL },
    { "stats", 2, 0, 0, 0, 0, cmd_memory_stats,
      "Show memory usage details",
      "server", "4.0.0", NULL, "O(1)", 0, NULL, NULL, NULL },
    { "usage", -3, R, 2, 2, 1, cmd_memory_usage,
      "Estimate the memory usage of a key",
      "server", "4.0.0", NULL, "O(N) where N is the number of samples.", 0, "RO", NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL },
};

#define NS  CMD_NOSCRIPT
#define NQ  CMD_TX_NOQUEUE

static const struct command object_subcommands[] = {
    { "encoding", 3, R, 2, 2, 1, NULL,
      "Inspect the internal encoding of a Redis object",
      "generic", "2.2.3", NULL, "O(1)", 0, "RO", NULL, NULL },
    { "freq", 3, R, 2, 2, 1, NULL,
      "Get the logarithmic access frequency counter of a Redis object",
      "generic", "4.0.0", NULL, "O(1)", 0, "RO", NULL, NULL },
    { "help", 2, L | S, 0, 0, 0, NULL,
      "Show helpful text about the different subcommands",
      "generic", "6.2.0", NULL, "O(1)", 0, NULL, NULL, NULL },
    { "idletime", 3, R, 2, 2, 1, NULL,
      "Get the time since a Redis object was last accessed",
      "generic", "2.2.3", NULL, "O(1)", 0, "RO", NULL, NULL },
    { "refcount", 3, R, 2, 2, 1, NULL,
      "Get the number of references to the value of the key",
      "generic", "2.2.3", NULL, "O(1)", 0, "RO", NULL, NULL },
    { NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL },
};

static const struct command proto_commands[] = {
    { "command", -1, L | S, 0, 0, 0, cmd_command,
      "Get array of Redis command details",
      "server", "2.8.13", cmd_command_subs,
      "O(N) where N is the total number of Redis commands", 0, NULL, NULL, NULL },

    /* connection and server */
    { "ping", -1, F, 0, 0, 0, cmd_ping,
      "Ping the server",
      "connection", "1.0.0", NULL,
      "O(1)", 0, NULL, NULL, NULL },
    { "echo", 2, L | S | F, 0, 0, 0, cmd_echo,
      "Echo the given string",
      "connection", "1.0.0", NULL,
      "O(1)", 0, NULL, NULL, NULL },
    { "select", 2, L | S | F, 0, 0, 0, cmd_select,
      "Change the selected database for the current connection",
      "connection", "1.0.0", NULL,
      "O(1)", 0, NULL, NULL, NULL },
    { "dbsize", 1, R | F, 0, 0, 0, cmd_dbsize,
      "Return the number of keys in the selected database",
      "server", "1.0.0", NULL,
      "O(1)", 0, NULL, NULL, NULL },
    { "flushall", -1, W, 0, 0, 0, cmd_flushall,
      "Remove all keys from all databases",
      "server", "1.0.0", NULL,
      "O(N) where N is the total number of keys in all databases", 0, NULL, NULL, NULL },
    { "flushdb", -1, W, 0, 0, 0, cmd_flushall,
      "Remove all keys from the current database",
      "server", "1.0.0", NULL,
      "O(N) where N is the number of keys in the selected database", 0, NULL, NULL, NULL },
    { "memory", -2, 0, 0, 0, 0, NULL,
      "A container for memory diagnostics commands",
      "server", "4.0.0", memory_subs,
      "Depends on subcommand.", 0, NULL, NULL, NULL },
    { "time", 1, L | S | F, 0, 0, 0, cmd_time,
      "Return the current server time",
      "server", "2.6.0", NULL,
      "O(1)", 0, NULL, NULL, NULL },

    /* strings */
    { "get", 2, R | F, 1, 1, 1, cmd_get,
      "Get the value of a key",
      "string", "1.0.0", NULL,
      "O(1)", 0, "RO access", NULL, NULL },
    { "set", -3, W | M, 1, 1, 1, cmd_set,
      "Set the string value of a key",
      "string", "1.0.0", NULL,
      "O(1)", 0, "RW access update variable_flags", NULL, cmd_set_key_flags },
    { "setnx", 3, W | M | F, 1, 1, 1, cmd_setnx,
      "Set the value of a key, only if the key does not exist",
      "string", "1.0.0", NULL,
      "O(1)", 0, "OW insert", NULL, NULL },
    { "setex", 4, W | M, 1, 1, 1, cmd_setex,
      "Set the value and expiration of a key",
      "string", "2.0.0", NULL,
      "O(1)", 0, "OW update", NULL, NULL },
    { "psetex", 4, W | M, 1, 1, 1, cmd_psetex,
      "Set the value and expiration in milliseconds of a key",
      "string", "2.6.0", NULL,
      "O(1)", 0, "OW update", NULL, NULL },
    { "getset", 3, W | M | F, 1, 1, 1, cmd_getset,
      "Set the string value of a key and return its old value",
      "string", "1.0.0", NULL,
      "O(1)", 0, "RW access update", NULL, NULL },
    { "getdel", 2, W | F, 1, 1, 1, cmd_getdel,
      "Get the value of a key and delete the key",
      "string", "6.2.0", NULL,
      "O(1)", 0, "RW access delete", NULL, NULL },
    { "getex", -2, W | F, 1, 1, 1, cmd_getex,
      "Get the value of a key and optionally set its expiration",
      "string", "6.2.0", NULL,
      "O(1)", 0, "RW access update", NULL, NULL },
    { "mget", -2, R | F, 1, -1, 1, cmd_mget,
      "Get the values of all the given keys",
      "string", "1.0.0", NULL,
      "O(N) where N is the number of keys to retrieve.", 0, "RO access", NULL, NULL },
    { "mset", -3, W | M, 1, -1, 2, cmd_mset,
      "Set multiple keys to multiple values",
      "string", "1.0.1", NULL,
      "O(N) where N is the number of keys to set.", 0, "OW update", NULL, NULL },
    { "msetnx", -3, W | M, 1, -1, 2, cmd_msetnx,
      "Set multiple keys to multiple values, only if none of the keys exist",
      "string", "1.0.1", NULL,
      "O(N) where N is the number of keys to set.", 0, "OW insert", NULL, NULL },
    { "append", 3, W | M | F, 1, 1, 1, cmd_append,
      "Append a value to a key",
      "string", "2.0.0", NULL,
      "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.", 0, "RW insert", NULL, NULL },
    { "strlen", 2, R | F, 1, 1, 1, cmd_strlen,
      "Get the length of the value stored in a key",
      "string", "2.2.0", NULL,
      "O(1)", 0, "RO", NULL, NULL },
    { "getrange", 4, R, 1, 1, 1, cmd_getrange,
      "Get a substring of the string stored at a key",
      "string", "2.4.0", NULL,
      "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", 0, "RO access", NULL, NULL },
    { "setrange", 4, W | M, 1, 1, 1, cmd_setrange,
      "Overwrite part of a string at key starting at the specified offset",
      "string", "2.2.0", NULL,
      "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", 0, "RW update", NULL, NULL },
    { "incr", 2, W | M | F, 1, 1, 1, cmd_incr,
      "Increment the integer value of a key by one",
      "string", "1.0.0", NULL,
      "O(1)", 0, "RW access update", NULL, NULL },
    { "decr", 2, W | M | F, 1, 1, 1, cmd_decr,
      "Decrement the integer value of a key by one",
      "string", "1.0.0", NULL,
      "O(1)", 0, "RW access update", NULL, NULL },
    { "incrby", 3, W | M | F, 1, 1, 1, cmd_incrby,
      "Increment the integer value of a key by the given amount",
      "string", "1.0.0", NULL,
      "O(1)", 0, "RW access update", NULL, NULL },
    { "decrby", 3, W | M | F, 1, 1, 1, cmd_decrby,
      "Decrement the integer value of a key by the given number",
      "string", "1.0.0", NULL,
      "O(1)", 0, "RW access update", NULL, NULL },
    { "incrbyfloat", 3, W | M | F, 1, 1, 1, cmd_incrbyfloat,
      "Increment the float value of a key by the given amount",
      "string", "2.6.0", NULL,
      "O(1)", 0, "RW access update", NULL, NULL },

    { "substr", 4, R, 1, 1, 1, cmd_getrange,
      "Get a substring of the string stored at a key",
      "string", "1.0.0", NULL,
      "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", 0, "RO access", NULL, NULL },
    { "lcs", -3, R, 1, 2, 1, cmd_lcs,
      "Find longest common substring",
      "string", "7.0.0", NULL,
      "O(N*M) where N and M are the lengths of s1 and s2, respectively", 0, "RO access", NULL, NULL },

    /* bitmap (cmd_bit.c) */
    { "setbit", 4, W | M, 1, 1, 1, cmd_setbit,
      "Sets or clears the bit at offset in the string value stored at key",
      "bitmap", "2.2.0", NULL,
      "O(1)", 0, "RW access update", NULL, NULL },
    { "getbit", 3, R | F, 1, 1, 1, cmd_getbit,
      "Returns the bit value at offset in the string value stored at key",
      "bitmap", "2.2.0", NULL,
      "O(1)", 0, "RO access", NULL, NULL },
    { "bitcount", -2, R, 1, 1, 1, cmd_bitcount,
      "Count set bits in a string",
      "bitmap", "2.6.0", NULL,
      "O(N)", 0, "RO access", NULL, NULL },
    { "bitpos", -3, R, 1, 1, 1, cmd_bitpos,
      "Find first bit set or clear in a string",
      "bitmap", "2.8.7", NULL,
      "O(N)", 0, "RO access", NULL, NULL },
    { "bitop", -4, W | M, 2, -1, 1, cmd_bitop,
      "Perform bitwise operations between strings",
      "bitmap", "2.6.0", NULL,
      "O(N)", 0, "OW update", "RO access", NULL },
    { "bitfield", -2, W | M, 1, 1, 1, cmd_bitfield,
      "Perform arbitrary bitfield integer operations on strings",
      "bitmap", "3.2.0", NULL,
      "O(1) for each subcommand specified", 0, "RW access update variable_flags", NULL, cmd_bitfield_key_flags },
    { "bitfield_ro", -2, R | F, 1, 1, 1, cmd_bitfield_ro,
      "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
      "bitmap", "6.0.0", NULL,
      "O(1) for each subcommand specified", 0, "RO access", NULL, NULL },

    /* transactions (multi.c) */
    { "multi", 1, NS | L | S | F | NQ | CMD_ALLOW_BUSY, 0, 0, 0, cmd_multi,
      "Mark the start of a transaction block",
      "transactions", "1.2.0", NULL,
      "O(1)", 0, NULL, NULL, NULL },
    { "exec", 1, NS | L | S | NQ | CMD_TX_EXEC | CMD_SKIP_SLOWLOG, 0, 0, 0, cmd_exec,
      "Execute all commands issued after MULTI",
      "transactions", "1.2.0", NULL,
      "Depends on commands in the transaction", 0, NULL, NULL, NULL },
    { "discard", 1, NS | L | S | F | NQ | CMD_ALLOW_BUSY, 0, 0, 0, cmd_discard,
      "Discard all commands issued after MULTI",
      "transactions", "2.0.0", NULL,
      "O(N), when N is the number of queued commands", 0, NULL, NULL, NULL },
    { "watch", -2, NS | L | S | F | NQ | CMD_ALLOW_BUSY, 1, -1, 1, cmd_watch,
      "Watch the given keys to determine execution of the MULTI/EXEC block",
      "transactions", "2.2.0", NULL,
      "O(1) for every key.", 0, "RO", NULL, NULL },
    { "unwatch", 1, NS | L | S | F | CMD_ALLOW_BUSY, 0, 0, 0, cmd_unwatch,
      "Forget about all watched keys",
      "transactions", "2.2.0", NULL,
      "O(1)", 0, NULL, NULL, NULL },

    /* generic */
    { "copy", -3, W | M, 1, 2, 1, cmd_copy,
      "Copy a key",
      "generic", "6.2.0", NULL,
      "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", 0, "RO access", "OW update", NULL },
    { "object", -2, 0, 0, 0, 0, cmd_object,
      "A container for object introspection commands",
      "generic", "2.2.3", object_subcommands,
      "Depends on subcommand.", 0, NULL, NULL, NULL },
    { "del", -2, W, 1, -1, 1, cmd_del,
      "Delete a key",
      "generic", "1.0.0", NULL,
      "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).", 0, "RM delete", NULL, NULL },
    { "unlink", -2, W | F, 1, -1, 1, cmd_del,
      "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
      "generic", "4.0.0", NULL,
      "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.", 0, "RM delete", NULL, NULL },
    { "exists", -2, R | F, 1, -1, 1, cmd_exists,
      "Determine if a key exists",
      "generic", "1.0.0", NULL,
      "O(N) where N is the number of keys to check.", 0, "RO", NULL, NULL },
    { "touch", -2, R | F, 1, -1, 1, cmd_touch,
      "Alters the last access time of a key(s). Returns the number of existing keys specified.",
      "generic", "3.2.1", NULL,
      "O(N) where N is the number of keys that will be touched.", 0, "RO", NULL, NULL },
    { "type", 2, R | F, 1, 1, 1, cmd_type,
      "Determine the type stored at key",
      "generic", "1.0.0", NULL,
      "O(1)", 0, "RO", NULL, NULL },
    { "rename", 3, W, 1, 2, 1, cmd_rename,
      "Rename a key",
      "generic", "1.0.0", NULL,
      "O(1)", 0, "RW access delete", "OW update", NULL },
    { "renamenx", 3, W | F, 1, 2, 1, cmd_renamenx,
      "Rename a key, only if the new key does not exist",
      "generic", "1.0.0", NULL,
      "O(1)", 0, "RW access delete", "OW insert", NULL },
    { "keys", 2, R, 0, 0, 0, cmd_keys,
      "Find all keys matching the given pattern",
      "generic", "1.0.0", NULL,
      "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", 0, NULL, NULL, NULL },
    { "scan", -2, R, 0, 0, 0, cmd_scan,
      "Incrementally iterate the keys space",
      "generic", "2.8.0", NULL,
      "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", 0, NULL, NULL, NULL },
    { "randomkey", 1, R, 0, 0, 0, cmd_randomkey,
      "Return a random key from the keyspace",
      "generic", "1.0.0", NULL,
      "O(1)", 0, NULL, NULL, NULL },
    { "expire", -3, W | F, 1, 1, 1, cmd_expire,
      "Set a key's time to live in seconds",
      "generic", "1.0.0", NULL,
      "O(1)", 0, "RW update", NULL, NULL },
    { "pexpire", -3, W | F, 1, 1, 1, cmd_pexpire,
      "Set a key's time to live in milliseconds",
      "generic", "2.6.0", NULL,
      "O(1)", 0, "RW update", NULL, NULL },
    { "expireat", -3, W | F, 1, 1, 1, cmd_expireat,
      "Set the expiration for a key as a UNIX timestamp",
      "generic", "1.2.0", NULL,
      "O(1)", 0, "RW update", NULL, NULL },
    { "pexpireat", -3, W | F, 1, 1, 1, cmd_pexpireat,
      "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
      "generic", "2.6.0", NULL,
      "O(1)", 0, "RW update", NULL, NULL },
    { "ttl", 2, R | F, 1, 1, 1, cmd_ttl,
      "Get the time to live for a key in seconds",
      "generic", "1.0.0", NULL,
      "O(1)", 0, "RO access", NULL, NULL },
    { "pttl", 2, R | F, 1, 1, 1, cmd_pttl,
      "Get the time to live for a key in milliseconds",
      "generic", "2.6.0", NULL,
      "O(1)", 0, "RO access", NULL, NULL },
    { "expiretime", 2, R | F, 1, 1, 1, cmd_expiretime,
      "Get the expiration Unix timestamp for a key",
      "generic", "7.0.0", NULL,
      "O(1)", 0, "RO access", NULL, NULL },
    { "pexpiretime", 2, R | F, 1, 1, 1, cmd_pexpiretime,
      "Get the expiration Unix timestamp for a key in milliseconds",
      "generic", "7.0.0", NULL,
      "O(1)", 0, "RO access", NULL, NULL },
    { "persist", 2, W | F, 1, 1, 1, cmd_persist,
      "Remove the expiration from a key",
      "generic", "2.2.0", NULL,
      "O(1)", 0, "RW update", NULL, NULL },
};

#undef W
#undef R
#undef M
#undef F
#undef L
#undef S
#undef NS
#undef NQ

static bool registered;
static uint64_t max_value_len = RESP_DEFAULT_MAX_BULK;

int proto_setup(void)
{
    if (registered)
        return 0;
    int rc = command_register(proto_commands, sizeof proto_commands / sizeof proto_commands[0]);
    if (rc != 0)
        return rc;
    registered = true;
    proto_memory_reset();
    return 0;
}

/* Clears the whole shared table (the daemon's rows too): teardown runs once,
 * at exit or between unit tests, after every user of the table is gone. */
void proto_teardown(void)
{
    command_table_clear();
    registered = false;
    max_value_len = RESP_DEFAULT_MAX_BULK;
}

void proto_set_max_value_len(uint64_t n)
{
    max_value_len = n;
}

uint64_t proto_max_value_len(void)
{
    return max_value_len;
}

bool proto_check_value_len(struct session *s, uint64_t len)
{
    if (len > max_value_len) {
        reply_error(&s->reply, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    return true;
}
