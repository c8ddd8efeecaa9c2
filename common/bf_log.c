#include "bf_log.h"

#include "bf_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bf_log_level_t bf_log_level = BF_LOG_WARN;
static const char *log_component = "openbf";
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"off", "error", "warn", "info", "debug", "trace"};

void bf_log_init(const char *component, bf_log_level_t default_level)
{
    const char *env = getenv("BF_LOG");

    log_component = component;
    bf_log_level  = default_level;
    /* bf-worker sends fd 2 to its client (the driver's device-assert messages); its own log, and
     * the log of the driver it loads, go to the descriptor named here. */
    const char *fd_text = bf_config_get(BF_CONFIG_LOG_FD);
    if (fd_text != NULL && fd_text[0] != '\0') {
        char *end;
        long fd = strtol(fd_text, &end, 10);
        if (*end == '\0' && fd >= 0 && fd < 1 << 20)
            log_fd = (int)fd;
    }
    if (env == NULL || env[0] == '\0')
        return;
    for (int i = 0; i <= BF_LOG_TRACE; i++) {
        if (strcmp(env, level_names[i]) == 0) {
            bf_log_level = (bf_log_level_t)i;
            return;
        }
    }
    dprintf(log_fd, "%s: ignoring BF_LOG '%s' (expected off, error, warn, info, debug or trace)\n",
            component, env);
}

int bf_log_fd(void)
{
    return log_fd;
}

void bf_log_write(bf_log_level_t level, const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One write per line so that lines of several processes sharing stderr do not interleave. */
    const char *base = strrchr(file, '/');
    char out[1200];
    if (bf_log_level >= BF_LOG_DEBUG)
        n = snprintf(out, sizeof(out), "%s[%d] %s %s:%d: %s\n", log_component, (int)getpid(),
                     level_names[level], base ? base + 1 : file, line, msg);
    else
        n = snprintf(out, sizeof(out), "%s[%d] %s: %s\n", log_component, (int)getpid(),
                     level_names[level], msg);
    if (n > 0)
        (void)!write(log_fd, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
}
