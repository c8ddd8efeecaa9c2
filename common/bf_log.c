#include "bf_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bf_log_level_t bf_log_level = BF_LOG_WARN;
static const char *log_component = "openbf";

static const char *const level_names[] = {"off", "error", "warn", "info", "debug", "trace"};

void bf_log_init(const char *component, bf_log_level_t default_level)
{
    const char *env = getenv("BF_LOG");

    log_component = component;
    bf_log_level  = default_level;
    if (env == NULL || env[0] == '\0')
        return;
    for (int i = 0; i <= BF_LOG_TRACE; i++) {
        if (strcmp(env, level_names[i]) == 0) {
            bf_log_level = (bf_log_level_t)i;
            return;
        }
    }
    fprintf(stderr, "%s: ignoring BF_LOG '%s' (expected off, error, warn, info, debug or trace)\n",
            component, env);
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
        (void)!write(STDERR_FILENO, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
}
