/*
 * log: formats "pid:M dd Mon yyyy hh:mm:ss.mmm <mark> message" lines, the
 * layout Redis operators already grep for, and writes each with one write().
 *
 * The file stays open for the process lifetime; with no file the output goes
 * to stderr (which systemd's journal captures).
 */
#include "daemon/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int log_level_current = LOG_LVL_NOTICE;
static int log_fd = STDERR_FILENO;

int log_setup(const char *path, int level)
{
    log_level_current = level;
    if (path == NULL || path[0] == '\0') {
        log_fd = STDERR_FILENO;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    log_fd = fd;
    return 0;
}

void log_teardown(void)
{
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
}

void log_set_level(int level)
{
    log_level_current = level;
}

void log_write(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    char line[1024];
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%d:M ", (int)getpid());
    n += (int)strftime(line + n, sizeof(line) - (size_t)n, "%d %b %Y %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03d %c ", (int)(tv.tv_usec / 1000),
                  marks[level < 0 ? 0 : level > 3 ? 3 : level]);

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;   /* truncated: keep the newline */
    line[n++] = '\n';

    int saved = errno;   /* callers often log and then inspect errno */
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
    errno = saved;
}

bool log_limit_pass(struct log_limit *l, int64_t now_ms, int64_t period_ms, uint64_t *held)
{
    if (l->started && now_ms - l->last_ms < period_ms) {
        l->held++;
        return false;
    }
    *held = l->held;
    l->held = 0;
    l->last_ms = now_ms;
    l->started = true;
    return true;
}

const char *log_held_note(uint64_t held)
{
    static char note[64];
    if (held == 0)
        return "";
    snprintf(note, sizeof note, " (%llu more since the last report)", (unsigned long long)held);
    return note;
}
