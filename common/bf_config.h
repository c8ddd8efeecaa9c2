/*
 * bf_config.h: every BF_* environment variable, declared once.
 *
 * Rows are {name, default, doc}. Components read values with bf_config_get(); `bf config` prints
 * the table with its docs through the Cython binding, so the list below is the documentation.
 */
#ifndef BF_CONFIG_H
#define BF_CONFIG_H

#include <stddef.h>

/*       id                   variable                default       doc */
#define BF_CONFIG_MAP(X)                                                                               \
    X(SERVER,            "BF_SERVER",            "",           "server address (HOST:PORT, tcp:HOST:PORT, unix:PATH or unix:@NAME); set by bf run") \
    X(LOG,               "BF_LOG",               "",           "log level: off, error, warn, info, debug, trace") \
    X(CONNECT_TIMEOUT_MS,"BF_CONNECT_TIMEOUT_MS","2000",       "how long the client tries to reach the server") \
    X(HEARTBEAT_TIMEOUT_MS,"BF_HEARTBEAT_TIMEOUT_MS","2000",   "silence from the worker after which the client declares the server dead") \
    X(HEARTBEAT_INTERVAL_MS,"BF_HEARTBEAT_INTERVAL_MS","500",  "how often a worker that is busy sends a heartbeat") \
    X(BATCH_DELAY_US,    "BF_BATCH_DELAY_US",    "50",         "how long posted operations (async copies, memsets, records) may wait in the client to be sent together") \
    X(EMU_MEMORY,        "BF_EMU_MEMORY",        "4G",         "memory of the emulated device (suffixes K, M, G)") \
    X(EMU_VA_BASE,       "BF_EMU_VA_BASE",       "",           "address where the emulator places device memory (set by bf-worker)") \
    X(EMU_CC,            "BF_EMU_CC",            "7.5",        "compute capability the emulator reports") \
    X(WORKER_STATS_FD,   "BF_WORKER_STATS_FD",   "",           "file descriptor where bf-worker writes its session summary (set by bf-server)") \
    X(STATS,             "BF_STATS",             "0",          "1: libbf prints the number of waited round trips of the process on stderr at exit") \
    X(LOG_FD,            "BF_LOG_FD",            "",           "file descriptor openbf's log lines go to instead of 2 (set by bf-worker, whose fd 2 carries the driver's output)") \
    X(TRACE_FILE,        "BF_TRACE_FILE",        "",           "bf-trace: the file libbf appends one record per CUDA call to (set by bf-trace record)")

typedef enum {
#define BF_CONFIG_ENUM_ROW(id, var, def, doc) BF_CONFIG_##id,
    BF_CONFIG_MAP(BF_CONFIG_ENUM_ROW)
#undef BF_CONFIG_ENUM_ROW
    BF_CONFIG_COUNT
} bf_config_id_t;

typedef struct {
    const char *variable;
    const char *default_value;
    const char *doc;
} bf_config_row_t;

extern const bf_config_row_t bf_config_table[BF_CONFIG_COUNT];

/* Returns the variable's value from the environment, or its default when unset or empty. */
const char *bf_config_get(bf_config_id_t id);

/* Parses a size with an optional K, M, G or T suffix (powers of 1024). Returns 0 on success. */
int bf_config_parse_size(const char *text, size_t *size_p);

/* Returns the variable as a non-negative integer, or its default if the value does not parse. */
long bf_config_get_long(bf_config_id_t id);

#endif
