/*
 * session.h: one client session, served by one bf-worker process.
 *
 * The session reads frames from its connection, checks them against ops.def with the one decoder,
 * executes each through its handler (handlers/) and answers the waited ones. It owns the driver, the
 * devices and their windows, the allocation table, the latched error of posted ops, and the counters
 * of the stats line written when it ends.
 */
#ifndef BF_SRV_SESSION_H
#define BF_SRV_SESSION_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "device_memory.h"
#include "driver_loader.h"
#include "scheduler.h"
#include "tp.h"

typedef enum { BF_SRV_BACKEND_EMU, BF_SRV_BACKEND_CUDA } bf_srv_backend_t;

/* What bf-worker was started with (main.c parses the command line into it). */
typedef struct {
    int fd;                    /* the accepted connection */
    const char *driver_path;
    bf_srv_backend_t backend;
    const char *peer;          /* printable client address, for logs and the stats line */
    int stats_fd;              /* where the stats line goes; -1 for none */
    int hello_timeout_ms;      /* how long to wait for the client's HELLO */
} bf_srv_options_t;

typedef struct bf_srv_session {
    const bf_srv_options_t *options;
    bf_tp_conn_t *conn;
    pthread_mutex_t send_lock;       /* replies (any thread) and heartbeats (their thread) */

    /* set by HELLO */
    bool greeted;
    char who[256];
    uint64_t va_base, va_size;
    bf_srv_driver_t drv;
    bool driver_loaded;
    bf_srv_device_t devices[BF_SRV_MAX_DEVICES];
    int device_count;
    atomic_uint ctx_generation;      /* bumped by CTX_RESET: threads make contexts current again */

    /* Allocations: the handlers of several threads look ranges up while MEM_ALLOC inserts; hold
     * memory_lock for any access to memory.allocations (bf_srv_session_check_* do). */
    pthread_mutex_t memory_lock;
    bf_srv_memory_t memory;
    _Atomic int latched;             /* first execution error of a posted op since the last sync */

    bf_srv_sched_t sched;            /* streams, events, executor threads (scheduler.c) */

    /* end of session: the first reason given wins */
    pthread_mutex_t end_lock;
    atomic_bool ending;
    char reason[512];
    int exit_code;

    /* statistics */
    struct timespec started;
    atomic_uint_fast64_t calls;

    /* heartbeats (executor.c): ops executing now on any thread, and since when some have been */
    pthread_mutex_t busy_lock;
    int busy_ops;
    _Atomic uint64_t busy_since_ns;  /* monotonic start of the current busy period; 0 when idle */
    _Atomic uint64_t idle_since_ns;  /* when busy_ops last fell to 0 (gaps shorter than a heartbeat
                                      * interval do not end a busy period) */
    pthread_t heartbeat_thread;
    bool heartbeat_running;
    pthread_mutex_t heartbeat_lock;
    pthread_cond_t heartbeat_wake;
    bool heartbeat_stop;
    uint64_t heartbeat_sequence;
} bf_srv_session_t;

/* The signal that asked the worker to stop (SIGTERM, SIGINT), or 0; set by main.c's signal thread
 * before it shuts the connection down, so that the end of stream that follows is reported as such. */
extern atomic_int bf_srv_stop_signal;

/*
 * Serves the session on options->fd until it ends, then releases its resources and writes the stats
 * line. Returns the process exit status: 0 for a normal end (goodbye, end of stream, signal), 1 for
 * a malformed message, a protocol version mismatch, a missing HELLO or a driver that fails to load.
 */
int bf_srv_session_run(const bf_srv_options_t *options);

/* Ends the session after the current op with the given exit status and reason (printf format). Only
 * the first call counts. */
void bf_srv_session_end(bf_srv_session_t *session, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns device `index` with its context made current in *dev_p, or CUDA_ERROR_INVALID_DEVICE. */
CUresult bf_srv_session_device(bf_srv_session_t *session, uint32_t index, bf_srv_device_t **dev_p);

/* Makes dev's primary context current on the calling thread (if it is not already). */
CUresult bf_srv_session_use(bf_srv_session_t *session, bf_srv_device_t *dev);

/* Returns the calling thread's staging buffer grown to at least size bytes
 * (size <= BF_PROTO_MAX_TAIL), or NULL. Each thread executing ops has its own; reply tails are
 * built there and sent before the next op of that thread runs. */
uint8_t *bf_srv_session_staging(bf_srv_session_t *session, size_t size);

/* Frees the calling thread's staging buffer (a thread that executed ops, before it ends). */
void bf_srv_session_staging_release(void);

/* Returns the latched error of posted ops (CUDA_SUCCESS if none) and clears it. */
CUresult bf_srv_session_take_latched(bf_srv_session_t *session);

/* Latches res (if not CUDA_SUCCESS) unless an earlier error is latched already. */
void bf_srv_session_latch(bf_srv_session_t *session, CUresult res);

/*
 * Copies out the allocation holding all of [addr, addr + size) (size 0 checks addr alone), under
 * memory_lock. Returns false when the span is not inside one live allocation.
 */
bool bf_srv_session_check_span(bf_srv_session_t *session, uint64_t addr, uint64_t size,
                               bf_range_t *range_p);

/* The same for a pitched 2D region (see bf_srv_check_2d). */
bool bf_srv_session_check_2d(bf_srv_session_t *session, uint64_t base, uint64_t pitch,
                             uint64_t width, uint64_t height, bf_range_t *range_p);

/* Sends a request's reply: the fixed fields of rep (result first) and the tail. On a send failure
 * the session ends. */
void bf_srv_session_reply(bf_srv_session_t *session, const bf_srv_request_t *rq, CUresult res,
                          void *rep, const void *tail, size_t tail_len);

/* Sends one frame under the send lock. */
bf_status_t bf_srv_session_send(bf_srv_session_t *session, uint16_t op, uint16_t flags,
                                uint64_t request_id, const void *fixed, size_t fixed_len,
                                const void *tail, size_t tail_len);

/* Monotonic clock in nanoseconds. */
uint64_t bf_srv_now_ns(void);

#endif
