/*
 * trace.c: device times for bf-trace (docs/trace.md): TRACE_START, TRACE_FETCH, and the brackets
 * bf_srv_execute puts around stream-ordered ops once a client asked for them.
 *
 * Each bracketed op gets two events of the driver, recorded on its stream just before and just
 * after the op is issued; the driver's own timing (cuEventElapsedTime against a reference event
 * whose completion the worker timed with its CLOCK_MONOTONIC at TRACE_START) places the op on the
 * worker's clock. TRACE_FETCH hands back the spans whose end event has completed. Nothing here runs
 * unless a client sent TRACE_START: a session that does not record pays one relaxed load per op.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bf_log.h"
#include "handlers.h"
#include "trace_span.h"

/* Events kept for reuse (creating one per op would cost a driver call more). */
#define EVENT_POOL_MAX 4096

typedef struct {
    uint64_t request_id;
    int device;
    CUevent start, end;
} pending_span_t;

static atomic_int enabled;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pending_span_t *pending;           /* bracketed, end not known complete; oldest first */
static size_t pending_count, pending_cap;
static bf_proto_trace_span_t *done;       /* complete, not fetched yet */
static size_t done_count, done_cap;
static CUevent pool[EVENT_POOL_MAX];
static size_t pool_count;
static CUevent ref_event[BF_SRV_MAX_DEVICES];
static uint64_t ref_ns[BF_SRV_MAX_DEVICES];
static unsigned ref_generation;
static __thread bf_proto_trace_span_t *out_buf;
static __thread size_t out_cap;

static bool bracketed(uint16_t op)
{
    switch (op) {
    case BF_OP_LAUNCH_KERNEL:
    case BF_OP_MEMCPY_HTOD:
    case BF_OP_MEMCPY_DTOH:
    case BF_OP_MEMCPY_DTOD:
    case BF_OP_MEMCPY_2D_HTOD:
    case BF_OP_MEMCPY_2D_DTOH:
    case BF_OP_MEMCPY_2D_DTOD:
    case BF_OP_MEMSET:
    case BF_OP_MEMSET_2D:
        return true;
    default:
        return false;
    }
}

/* lock held: an event of the current context (the pool is per session: one device is the common
 * case; an event of another device's context is refused by the record and simply not used). */
static CUevent event_get(bf_srv_session_t *session)
{
    CUevent ev = NULL;

    if (pool_count > 0)
        return pool[--pool_count];
    if (BF_SRV_DRV(&session->drv, EventCreate, &ev, CU_EVENT_DEFAULT) != CUDA_SUCCESS)
        return NULL;
    return ev;
}

static void event_put(bf_srv_session_t *session, CUevent ev)
{
    if (ev == NULL)
        return;
    if (pool_count < EVENT_POOL_MAX)
        pool[pool_count++] = ev;
    else
        (void)BF_SRV_DRV(&session->drv, EventDestroy, ev);
}

/* lock held: converts pending span i if its end event completed (and recycles both events);
 * returns whether it is gone from pending. A span whose times cannot be read is dropped. */
static bool settle(bf_srv_session_t *session, size_t i)
{
    pending_span_t *p = &pending[i];
    float start_ms = 0, end_ms = 0;

    CUresult state = BF_SRV_DRV(&session->drv, EventQuery, p->end);
    if (state == CUDA_ERROR_NOT_READY)
        return false;
    if (state != CUDA_SUCCESS) {
        /* A faulted context never completes it: dropped, so the client's exit does not wait. */
        event_put(session, p->start);
        event_put(session, p->end);
        return true;
    }
    if (done_count == done_cap) {
        size_t cap = done_cap ? 2 * done_cap : 1024;
        bf_proto_trace_span_t *grown = realloc(done, cap * sizeof(*grown));
        if (grown == NULL)
            return false;
        done = grown;
        done_cap = cap;
    }
    if (BF_SRV_DRV(&session->drv, EventElapsedTime, &start_ms, ref_event[p->device], p->start) ==
            CUDA_SUCCESS &&
        BF_SRV_DRV(&session->drv, EventElapsedTime, &end_ms, ref_event[p->device], p->end) ==
            CUDA_SUCCESS) {
        done[done_count++] = (bf_proto_trace_span_t){
            .request_id = p->request_id,
            .start_ns = ref_ns[p->device] + (uint64_t)((double)start_ms * 1e6),
            .end_ns = ref_ns[p->device] + (uint64_t)((double)end_ms * 1e6),
        };
    }
    event_put(session, p->start);
    event_put(session, p->end);
    return true;
}

/* lock held: settles the oldest pending spans while they are complete (at most max of them), so
 * that the driver holds few live events however long the program runs between fetches. */
static void settle_oldest(bf_srv_session_t *session, size_t max)
{
    size_t n = 0;

    while (n < max && n < pending_count && settle(session, n))
        n++;
    if (n > 0) {
        memmove(pending, pending + n, (pending_count - n) * sizeof(*pending));
        pending_count -= n;
    }
}

bool bf_srv_trace_before(bf_srv_session_t *session, bf_srv_call_t *call, void **mark_p)
{
    int device;

    if (!atomic_load_explicit(&enabled, memory_order_relaxed) || !bracketed(call->op) ||
        call->stream == NULL)
        return false;
    device = call->stream->device;
    if (device < 0 || device >= session->device_count ||
        bf_srv_session_use(session, &session->devices[device]) != CUDA_SUCCESS)
        return false;
    pthread_mutex_lock(&lock);
    bool current = ref_generation == atomic_load(&session->ctx_generation) && ref_event[device];
    CUevent ev = current ? event_get(session) : NULL;
    pthread_mutex_unlock(&lock);
    if (ev == NULL)
        return false;
    if (BF_SRV_DRV(&session->drv, EventRecord, ev, bf_srv_call_stream(call)) != CUDA_SUCCESS) {
        pthread_mutex_lock(&lock);
        event_put(session, ev);
        pthread_mutex_unlock(&lock);
        return false;
    }
    *mark_p = ev;
    return true;
}

void bf_srv_trace_after(bf_srv_session_t *session, bf_srv_call_t *call, void *mark, CUresult res)
{
    CUevent start = mark, end = NULL;

    pthread_mutex_lock(&lock);
    if (res == CUDA_SUCCESS)
        end = event_get(session);
    pthread_mutex_unlock(&lock);
    if (end != NULL &&
        BF_SRV_DRV(&session->drv, EventRecord, end, bf_srv_call_stream(call)) == CUDA_SUCCESS) {
        pthread_mutex_lock(&lock);
        if (pending_count == pending_cap) {
            size_t cap = pending_cap ? 2 * pending_cap : 1024;
            pending_span_t *grown = realloc(pending, cap * sizeof(*grown));
            if (grown != NULL) {
                pending = grown;
                pending_cap = cap;
            }
        }
        if (pending_count < pending_cap) {
            pending[pending_count++] = (pending_span_t){.request_id = call->request_id,
                                                        .device = call->stream->device,
                                                        .start = start, .end = end};
            start = end = NULL;
        }
        settle_oldest(session, 8);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    event_put(session, start);
    event_put(session, end);
    pthread_mutex_unlock(&lock);
}

CUresult bf_srv_handle_trace_start(bf_srv_session_t *session, bf_srv_call_t *call)
{
    CUresult res = CUDA_SUCCESS;

    pthread_mutex_lock(&lock);
    if (atomic_load(&enabled) && ref_generation == atomic_load(&session->ctx_generation)) {
        /* Already on: a ping for the clock offset, answered at once. */
        pthread_mutex_unlock(&lock);
        call->rep->TRACE_START.worker_ns = bf_srv_now_ns();
        return CUDA_SUCCESS;
    }
    for (int d = 0; d < session->device_count; d++) {
        CUevent ev = NULL;
        res = bf_srv_session_use(session, &session->devices[d]);
        if (res == CUDA_SUCCESS)
            res = BF_SRV_DRV(&session->drv, EventCreate, &ev, CU_EVENT_DEFAULT);
        if (res == CUDA_SUCCESS)
            res = BF_SRV_DRV(&session->drv, EventRecord, ev, NULL);
        if (res == CUDA_SUCCESS)
            res = BF_SRV_DRV(&session->drv, EventSynchronize, ev);
        if (res != CUDA_SUCCESS) {
            bf_log_info("bf-trace: no device times for device %d (%d)", d, (int)res);
            break;
        }
        /* The reference completed at most the wake-up latency of the synchronisation ago. */
        ref_ns[d] = bf_srv_now_ns();
        ref_event[d] = ev;
    }
    ref_generation = atomic_load(&session->ctx_generation);
    pthread_mutex_unlock(&lock);
    if (res == CUDA_SUCCESS)
        atomic_store(&enabled, 1);
    call->rep->TRACE_START.worker_ns = bf_srv_now_ns();
    (void)call->req->TRACE_START.client_ns;
    return res;
}

CUresult bf_srv_handle_trace_fetch(bf_srv_session_t *session, bf_srv_call_t *call)
{
    uint32_t max = call->req->TRACE_FETCH.max_spans;
    uint32_t limit = BF_PROTO_MAX_TAIL / sizeof(bf_proto_trace_span_t);
    size_t count = 0;

    if (max > limit)
        max = limit;
    /* Only the first error is ever latched, so this restores exactly what the client's exit
     * synchronisation took, unless a later posted op already latched one of its own. */
    if (call->req->TRACE_FETCH.relatch != CUDA_SUCCESS)
        bf_srv_session_latch(session, (CUresult)call->req->TRACE_FETCH.relatch);
    pthread_mutex_lock(&lock);
    if (ref_generation != atomic_load(&session->ctx_generation)) {
        /* A context reset destroyed the events: what was pending is lost. */
        pending_count = 0;
        pool_count = 0;
        memset(ref_event, 0, sizeof(ref_event));
    }
    /* Every complete span, whatever its place (ops of several streams complete out of order). */
    size_t kept = 0;
    for (size_t i = 0; i < pending_count; i++) {
        bool settled = bf_srv_session_use(session, &session->devices[pending[i].device]) ==
                           CUDA_SUCCESS && settle(session, i);
        if (!settled)
            pending[kept++] = pending[i];
    }
    pending_count = kept;
    count = done_count < max ? done_count : max;
    if (out_cap < count) {
        bf_proto_trace_span_t *grown = realloc(out_buf, count * sizeof(*grown));
        if (grown != NULL) {
            out_buf = grown;
            out_cap = count;
        } else {
            count = out_cap;
        }
    }
    if (count > 0) {
        memcpy(out_buf, done, count * sizeof(*done));
        memmove(done, done + count, (done_count - count) * sizeof(*done));
        done_count -= count;
    }
    pthread_mutex_unlock(&lock);
    bf_log_debug("bf-trace: %zu device spans sent, %zu pending", count, kept);
    call->rep->TRACE_FETCH.pending = (uint32_t)(kept + done_count);
    call->rep->TRACE_FETCH.count = (uint32_t)count;
    call->rep->TRACE_FETCH.spans_len = (uint32_t)(count * sizeof(bf_proto_trace_span_t));
    call->rep_tail = out_buf;
    call->rep_tail_len = count * sizeof(bf_proto_trace_span_t);
    return CUDA_SUCCESS;
}
