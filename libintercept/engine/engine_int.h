/*
 * engine_int.h: state shared by the engine's own files (connection.c, rpc.c, context.c,
 * memory_map.c). The driver families see only engine.h.
 */
#ifndef BF_CL_ENGINE_INT_H
#define BF_CL_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "tp.h"

/* Most devices one session may be given; a HELLO reply announcing more is malformed. */
#define BF_CL_MAX_DEVICES 64

/* Life of the one connection of this process. */
typedef enum {
    BF_CL_CONN_IDLE = 0,  /* cuInit not called yet */
    BF_CL_CONN_READY,     /* connected, HELLO answered */
    BF_CL_CONN_FAILED,    /* cuInit failed; every later cuInit returns the same error */
    BF_CL_CONN_LOST,      /* the server went away after init */
    BF_CL_CONN_CLOSED,    /* GOODBYE sent by the destructor */
    BF_CL_CONN_FORKED,    /* this process is a fork of the one that owns the connection */
} bf_cl_conn_state_t;

/* A waited request whose reply has not been read yet (rpc.c). */
typedef struct bf_cl_pending bf_cl_pending_t;

/*
 * The one connection. Several application threads use it at once:
 *   - senders append frames to a batch under send_lock (posted frames wait there until a waited
 *     call, a full batch or the flusher thread sends them);
 *   - one thread at a time reads frames (the "reader", whoever waits for a reply and finds nobody
 *     reading, or a sender whose write would block) and hands each reply to its waiting thread;
 *   - lock guards the state, the pending list and the reader token, and is never held while the
 *     network is waited for. Lock order: send_lock before lock.
 */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* a reply was delivered, the reader left, or the connection broke */
    pthread_mutex_t send_lock;  /* the batch and the sending side of tp */
    pthread_cond_t flush_cond;  /* wakes the flusher (with send_lock) */
    bf_tp_conn_t *tp;           /* set before READY; closed only by teardown and fork */
    atomic_int state;           /* bf_cl_conn_state_t; stored with release once set up */
    atomic_uint_fast64_t next_id;  /* request ids; 0 is the heartbeat's */
    int heartbeat_timeout_ms;
    char address[256];          /* BF_SERVER, for messages */
    /* receiving, under lock */
    bool reading;               /* a thread reads frames now */
    bool broken;                /* a read or write failed: no reply will come */
    bf_cl_pending_t *pending;   /* waited requests in sending order */
    bf_cl_pending_t *pending_tail;
    int async_count;            /* replies that land in pinned memory without a waiting thread */
    atomic_int latched;         /* first error of such a reply, for the next synchronising call */
    /* sending, under send_lock */
    uint8_t *batch;
    size_t batch_len, batch_cap;
    uint64_t batch_since_ns;    /* when the oldest frame in the batch was added */
    int batch_delay_us;         /* BF_BATCH_DELAY_US */
    bool flusher_started, flusher_stop;
    pthread_t flusher;
} bf_cl_conn_t;

extern bf_cl_conn_t bf_cl_conn;

/*
 * Declares the connection unusable (lock not held): prints the one line
 * "openbf: server ADDRESS lost: REASON" (or "unreachable" while connecting) on stderr, whatever
 * BF_LOG says, shuts the socket down (it is closed at teardown, so no thread ever uses a
 * descriptor number that was reused), wakes every waiting thread and moves to BF_CL_CONN_LOST.
 * Later calls fail fast. Only the first call prints.
 */
void bf_cl_conn_fail(const char *reason);

/*
 * One waited call without the state check (HELLO, before READY; no other thread uses the
 * connection then). BF_OK with the reply in rep/sink, else the transport or protocol status with a
 * printable explanation in why; the connection is not failed (the caller decides what to say).
 */
bf_status_t bf_cl_rpc_call_raw(uint16_t op, const void *req, const void *tail, size_t tail_len,
                               void *rep, const bf_cl_sink_t *sink, char *why, size_t why_len);

/* Sends the batch, then one posted frame, with send_lock held by the caller and no state check
 * (GOODBYE at teardown). */
bf_status_t bf_cl_rpc_post_raw_locked(uint16_t op, const void *req, char *why, size_t why_len);

/* Prepares the rpc state of a fresh connection (connection.c, before HELLO). */
bf_status_t bf_cl_rpc_setup(void);

/* Stops the flusher thread (teardown): waits at most timeout_ms. Returns whether it ended, i.e.
 * whether the connection may be closed. */
bool bf_cl_rpc_stop_flusher(int timeout_ms);

/* In a forked child: forgets the parent's threads, waits and batch (locks re-initialised). */
void bf_cl_rpc_forget_after_fork(void);

/* Creates the primary contexts of the session's devices (connection.c, once, at init). */
bf_status_t bf_cl_ctx_setup(int device_count);

/* Records the address range reserved for device windows (connection.c, at init). */
void bf_cl_mem_setup(uint64_t va_base, uint64_t va_size);

/* The device descriptions, set by connection.c before the state becomes READY. */
extern const bf_proto_device_t *bf_cl_devices;
extern int bf_cl_devices_count;

#endif
