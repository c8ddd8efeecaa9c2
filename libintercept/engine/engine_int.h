/*
 * engine_int.h: state shared by the engine's own files (connection.c, rpc.c, context.c,
 * memory_map.c). The driver families see only engine.h.
 */
#ifndef BF_CL_ENGINE_INT_H
#define BF_CL_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
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

typedef struct {
    pthread_mutex_t lock;      /* serialises every use of tp and next_id */
    bf_tp_conn_t *tp;          /* NULL unless READY */
    atomic_int state;          /* bf_cl_conn_state_t; stored with release once set up */
    uint64_t next_id;          /* request ids; 0 is the heartbeat's */
    int heartbeat_timeout_ms;
    char address[256];         /* BF_SERVER, for messages */
} bf_cl_conn_t;

extern bf_cl_conn_t bf_cl_conn;

/*
 * Declares the connection unusable (lock held): prints the one line
 * "openbf: server ADDRESS lost: REASON" (or "unreachable" while connecting) on stderr, whatever
 * BF_LOG says, closes the socket and moves to BF_CL_CONN_LOST. Later calls fail fast.
 */
void bf_cl_conn_fail(const char *reason);

/*
 * One waited call with the lock held and no state check (HELLO uses it before READY).
 * BF_OK with the reply in rep/sink, else the transport or protocol status with a printable
 * explanation in why.
 */
bf_status_t bf_cl_rpc_call_locked(uint16_t op, const void *req, const void *tail, size_t tail_len,
                                  void *rep, const bf_cl_sink_t *sink, char *why, size_t why_len);

/* One posted send with the lock held and no state check (GOODBYE). */
bf_status_t bf_cl_rpc_post_locked(uint16_t op, const void *req, const void *tail, size_t tail_len,
                                  char *why, size_t why_len);

/* Creates the primary contexts of the session's devices (connection.c, once, at init). */
bf_status_t bf_cl_ctx_setup(int device_count);

/* Records the address range reserved for device windows (connection.c, at init). */
void bf_cl_mem_setup(uint64_t va_base, uint64_t va_size);

/* The device descriptions, set by connection.c before the state becomes READY. */
extern const bf_proto_device_t *bf_cl_devices;
extern int bf_cl_devices_count;

#endif
