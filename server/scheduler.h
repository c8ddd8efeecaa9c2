/*
 * scheduler.h: the order in which a session's operations execute.
 *
 * The connection's reader thread decodes each request and hands it to the scheduler, which runs it
 * at once on the reader thread (short work on an idle stream, queries, allocations), queues it on
 * its stream, or gives it a thread of its own to wait on (event and context synchronisation). Each
 * stream executes in order on one executor thread, streams run concurrently, and the reader never
 * waits for a stream: a thread hand-off costs more than a network round trip on a small machine,
 * and a wait on the reader would stop the session's other streams from being fed.
 *
 * Ordering between streams is expressed as dependencies counted in operations: "stream S has
 * completed its first N ops", "event E's record number R has been issued". CUDA's rules map onto
 * them when an op is read:
 *   - the legacy default stream waits for the earlier work of every blocking stream of its device,
 *     and a blocking stream's later work waits for the legacy stream's earlier work; streams
 *     created CU_STREAM_NON_BLOCKING take part in neither;
 *   - STREAM_WAIT_EVENT waits for the event's latest record read before it;
 *   - MEM_FREE and CTX_RESET are barriers: they run on the device's control queue after all earlier
 *     work of the device, and all later work of the device waits for them (the gate), so no op can
 *     ever touch memory while it is freed.
 * Every dependency points to work read earlier, so the earliest pending op can always run: the
 * scheme cannot deadlock. Completion means "issued to the driver" (the driver orders the device
 * side through its own streams and events) except where an op waits itself (copies to the host,
 * synchronisations).
 *
 * Streams and events have ids chosen by the client; the reader owns the id tables, so a destroyed
 * id is refused from the next request on, while the object lives on until its queued work is done.
 */
#ifndef BF_SRV_SCHEDULER_H
#define BF_SRV_SCHEDULER_H

#include <cuda.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bf_range_map.h"
#include "proto.h"
#include "tp.h"

#define BF_SRV_MAX_DEVICES 16

struct bf_srv_session;
typedef struct bf_srv_op bf_srv_op_t;

typedef enum {
    BF_SRV_STREAM_USER = 0,   /* created by STREAM_CREATE (per-thread default streams included) */
    BF_SRV_STREAM_LEGACY,     /* the device's legacy default stream (ids 0..BF_PROTO_LEGACY_STREAMS) */
    BF_SRV_STREAM_CONTROL,    /* the device's queue of barriers and of work held behind them */
} bf_srv_stream_kind_t;

typedef struct bf_srv_stream {
    uint64_t id;
    int device;
    unsigned int flags;          /* CU_STREAM_DEFAULT or CU_STREAM_NON_BLOCKING */
    int priority;
    bf_srv_stream_kind_t kind;
    CUstream real;               /* the driver's stream; NULL: the legacy stream, or a driver
                                  * without streams (then every op runs synchronously) */
    bool real_live;              /* real was created and must be destroyed */
    CUresult create_error;       /* the driver refused to create it: its ops fail */
    /* under the scheduler's lock */
    uint64_t enqueued;           /* ops given to this stream so far */
    uint64_t done;               /* ops completed */
    bf_srv_op_t *head, *tail;    /* queued, not started */
    bool running;                /* one of its ops executes now */
    bool replying;               /* ... and has finished: its reply is being sent */
    bool has_thread;             /* an executor thread serves it */
    bool blocked;                /* ... which waits for its head op's dependencies */
    pthread_cond_t wake;         /* that thread's: work queued, a dependency met, the end */
    bool forgotten;              /* its id was destroyed (or its device reset) */
    int refs;
    struct bf_srv_stream *next;  /* every stream object of the session */
} bf_srv_stream_t;

typedef struct bf_srv_event {
    uint64_t id;
    int device;
    unsigned int flags;          /* CU_EVENT_* */
    CUevent real;                /* NULL when the driver has no events */
    CUresult create_error;
    /* under the scheduler's lock */
    uint64_t records_read;       /* EVENT_RECORD ops read so far */
    uint64_t records_done;       /* every record up to this number has been issued */
    uint64_t *early;             /* records issued before an earlier-numbered one (rare) */
    size_t early_count, early_cap;
    uint64_t time_record;        /* which record host_time_ns belongs to */
    uint64_t host_time_ns;       /* driver without events: when that record was issued */
    bool forgotten;
    int refs;
    struct bf_srv_event *next;
} bf_srv_event_t;

/* Every request and reply struct of ops.def, overlaid. */
typedef union {
#define BF_OP(id, name, mode) bf_req_##name##_t name;
#include "ops.def"
#undef BF_OP
} bf_srv_req_t;

typedef union {
#define BF_OP(id, name, mode) bf_rep_##name##_t name;
#include "ops.def"
#undef BF_OP
} bf_srv_rep_t;

/* A decoded request, as the reader hands it over. */
typedef struct {
    bf_frame_hdr_t hdr;
    const bf_proto_op_desc_t *op;
    bf_srv_req_t req;
    uint8_t *tail;               /* tail_len bytes; owned when tail_owned, else the reader's staging */
    uint64_t tail_len;
    bool tail_owned;
} bf_srv_request_t;

typedef struct {
    pthread_mutex_t lock;
    /* Threads sleep on conditions of their own and are woken only when they may proceed: a
     * completion signals the executors blocked on dependencies, the waiters with work and a
     * waiting reader, never idle threads (a wake-up per op costs more than the op here). */
    pthread_cond_t waiter_wake;  /* waiter threads: work queued, a dependency met, the end */
    pthread_cond_t reader_wake;  /* the reader: room in the queues, a reply sent, threads gone */
    bool reader_waiting;
    int blocked_streams;         /* executors waiting for dependencies */
    pthread_condattr_t cond_attr;  /* CLOCK_MONOTONIC, for every condition */
    bf_range_map_t stream_ids;   /* id -> bf_srv_stream_t * (ranges of size 1) */
    bf_range_map_t event_ids;    /* id -> bf_srv_event_t * */
    bf_srv_stream_t *streams;    /* every stream object, live or draining */
    bf_srv_event_t *events;
    bf_srv_stream_t *legacy[BF_SRV_MAX_DEVICES];
    bf_srv_stream_t *control[BF_SRV_MAX_DEVICES];
    uint64_t gate[BF_SRV_MAX_DEVICES];   /* control[d]->done must reach it before d's work runs */
    bf_srv_op_t *waiters;        /* ops without a stream that wait (synchronisations) */
    bf_srv_op_t *waiters_tail;
    int waiter_threads;          /* threads that run them */
    int idle_waiters;            /* ... of which are waiting for work */
    int threads;                 /* executor and waiter threads alive */
    bool stopping;
    uint64_t queued_bytes;       /* tails held by queued ops (back-pressure on the reader) */
    uint64_t queued_ops;
    uint8_t *spare[4];           /* recycled large tail buffers, each spare_size[i] bytes */
    size_t spare_size[4];
    int device_count;            /* devices set up by bf_srv_sched_open_devices */
} bf_srv_sched_t;

/*
 * Sets up the scheduler's lock, condition and tables (session start).
 * Returns BF_OK or BF_NO_MEMORY.
 */
bf_status_t bf_srv_sched_init(struct bf_srv_session *session);

/* Creates the legacy stream and control queue of each device (after HELLO). */
bf_status_t bf_srv_sched_open_devices(struct bf_srv_session *session, int device_count);

/*
 * Takes one request from the reader (its tail already read) and executes, queues or refuses it.
 * Ownership of an owned tail passes to the scheduler. May wait while queued work holds more than
 * the back-pressure limit, never for a stream otherwise.
 */
void bf_srv_sched_submit(struct bf_srv_session *session, bf_srv_request_t *rq);

/*
 * A buffer of at least size bytes for a request tail that may be queued (a recycled one when a
 * large enough spare exists, so big copies do not fault fresh pages in every time), or NULL when
 * memory runs out. Given back with bf_srv_sched_tail_free (NULL is ignored).
 */
uint8_t *bf_srv_sched_tail_alloc(struct bf_srv_session *session, uint64_t size);
void bf_srv_sched_tail_free(struct bf_srv_session *session, uint8_t *tail);

/*
 * CTX_RESET, while it runs: destroys the driver's streams and events of the device (their ids
 * were forgotten when the reset was read, and no work of theirs is left).
 */
void bf_srv_sched_reset_device(struct bf_srv_session *session, int device);

/*
 * Ends the session's execution: queued ops are dropped, the op executing on each thread finishes,
 * every thread is joined, and the driver's streams and events are destroyed. Safe to call twice.
 */
void bf_srv_sched_stop(struct bf_srv_session *session);

#endif
