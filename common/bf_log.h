/*
 * bf_log.h: leveled logging to stderr.
 *
 * The level comes from BF_LOG (error, warn, info, debug, trace); each component sets its default
 * with bf_log_init(). libbf.so defaults to "off" so that the application's output stays its own.
 * The macros test the level before formatting anything; bf_log_trace compiles out of release builds.
 */
#ifndef BF_LOG_H
#define BF_LOG_H

typedef enum {
    BF_LOG_OFF = 0,
    BF_LOG_ERROR,
    BF_LOG_WARN,
    BF_LOG_INFO,
    BF_LOG_DEBUG,
    BF_LOG_TRACE,
} bf_log_level_t;

extern bf_log_level_t bf_log_level;

/* Sets the component name printed on each line and the level used when BF_LOG is unset. */
void bf_log_init(const char *component, bf_log_level_t default_level);

/* The descriptor log lines go to (stderr unless BF_LOG_FD names another), for writers that cannot
 * format through bf_log_write, such as a fatal-signal handler. */
int bf_log_fd(void);

/* Formats and writes one line; use the macros below instead of calling this directly. */
void bf_log_write(bf_log_level_t level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define bf_log_at(level, ...)                                                 \
    do {                                                                      \
        if ((level) <= bf_log_level)                                          \
            bf_log_write((level), __FILE__, __LINE__, __VA_ARGS__);           \
    } while (0)

#define bf_log_error(...) bf_log_at(BF_LOG_ERROR, __VA_ARGS__)
#define bf_log_warn(...)  bf_log_at(BF_LOG_WARN, __VA_ARGS__)
#define bf_log_info(...)  bf_log_at(BF_LOG_INFO, __VA_ARGS__)
#define bf_log_debug(...) bf_log_at(BF_LOG_DEBUG, __VA_ARGS__)
#ifdef NDEBUG
#define bf_log_trace(...) do { } while (0)
#else
#define bf_log_trace(...) bf_log_at(BF_LOG_TRACE, __VA_ARGS__)
#endif

#endif
