/*
 * event.c: events (cuEventCreate, cuEventRecord*, cuEventQuery, cuEventSynchronize,
 * cuEventElapsedTime, cuEventDestroy) and cuStreamWaitEvent, which makes a stream wait for one.
 *
 * Recording an event enqueues a work item on the stream; when the stream runs it, the event takes
 * its timestamp from the monotonic clock and counts the record as done. An event is complete when
 * the latest record made before a query has run (records are numbered), and one never recorded is
 * complete too, an empty set of work as cuda.h says. Waiting on an event, from the host or from a
 * stream, waits for the records made before the wait, never for later ones. Since stream work
 * normally runs at enqueue (stream.c), events are normally complete as soon as recorded, and
 * their timestamps are the times of the record calls.
 *
 * Handles are checked as streams' are: table of live events first, then the cookie; references
 * keep an event alive while a call or a queued work item uses it.
 */
#include "emu.h"

#include <stdlib.h>
#include <time.h>

#include "bf_log.h"

/* Written into every event; a handle whose object lacks it is rejected. */
#define BF_EMU_EVENT_COOKIE 0x6266656d75657674ull /* "bfemuevt" */

#define EVENT_FLAGS_KNOWN (CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS)

typedef struct {
    uint64_t cookie;         /* BF_EMU_EVENT_COOKIE */
    unsigned int refs;       /* the live table's, plus one per user (atomic) */
    bf_emu_ctx_t *ctx;
    unsigned int flags;      /* CU_EVENT_* */

    pthread_mutex_t lock;    /* guards the fields below */
    pthread_cond_t done_cond; /* broadcast when a record completes */
    uint64_t recorded;       /* records made (enqueued) */
    uint64_t done;           /* the latest record that has run */
    uint64_t time_ns;        /* CLOCK_MONOTONIC when record `done` ran */
} event_t;

/* Live events: [address, address + 1) -> event. bf_emu.lock. */
static bf_range_map_t live_events;

static void event_put(event_t *e)
{
    if (__atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    e->cookie = 0;
    pthread_cond_destroy(&e->done_cond);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static void event_ref(event_t *e)
{
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
}

/* The live event at exactly this address, or NULL. Lock held. */
static event_t *lookup_locked(CUevent handle)
{
    const bf_range_t *range = bf_range_map_find(&live_events, (uint64_t)(uintptr_t)handle);
    event_t *e;

    if (range == NULL || range->base != (uint64_t)(uintptr_t)handle)
        return NULL;
    e = (event_t *)(uintptr_t)range->value;
    return e->cookie == BF_EMU_EVENT_COOKIE ? e : NULL;
}

/* Resolves a handle and takes a reference. Returns CUDA_SUCCESS, CUDA_ERROR_NOT_INITIALIZED or
 * CUDA_ERROR_INVALID_HANDLE (destroyed, unknown or NULL). */
static CUresult event_get(CUevent handle, event_t **event_p)
{
    event_t *e;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    e = lookup_locked(handle);
    if (e != NULL)
        event_ref(e);
    pthread_mutex_unlock(&bf_emu.lock);
    if (e == NULL) {
        bf_log_debug("%p is not a live event", (void *)handle);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    *event_p = e;
    return CUDA_SUCCESS;
}

void bf_emu_event_release_ctx(const bf_emu_ctx_t *ctx)
{
    size_t kept = 0;

    /* One pass that compacts the sorted array in place: the order of the survivors is unchanged. */
    for (size_t i = 0; i < live_events.count; i++) {
        event_t *e = (event_t *)(uintptr_t)live_events.ranges[i].value;

        if (e->ctx == ctx)
            event_put(e);
        else
            live_events.ranges[kept++] = live_events.ranges[i];
    }
    live_events.count = kept;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- stream work ----------------------------------------------------------------------------- */

/* The arguments of a record or a wait, copied into the stream's queue; holds an event reference. */
typedef struct {
    event_t *event;
    uint64_t seq;
} event_work_t;

/* A record reaches the head of its stream: the event takes its time. A record overtaken by a later
 * one (recorded on a faster stream) changes nothing: the event reflects its latest record. Runs as a
 * stream marker, under the stream's lock. */
static void record_run(void *arg)
{
    const event_work_t *work = arg;
    event_t *e = work->event;
    const uint64_t now = now_ns();

    pthread_mutex_lock(&e->lock);
    if (work->seq > e->done) {
        e->done = work->seq;
        e->time_ns = now;
        pthread_cond_broadcast(&e->done_cond);
    }
    pthread_mutex_unlock(&e->lock);
    event_put(e);
}

/* A record is appended to its stream: it takes the event's next number. Under the stream's lock. */
static void record_stamp(void *arg)
{
    event_work_t *work = arg;
    event_t *e = work->event;

    pthread_mutex_lock(&e->lock);
    work->seq = ++e->recorded;
    pthread_mutex_unlock(&e->lock);
}

/* Waits until the event's record number seq has run. */
static void wait_done(event_t *e, uint64_t seq)
{
    pthread_mutex_lock(&e->lock);
    while (e->done < seq)
        pthread_cond_wait(&e->done_cond, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

static void wait_run(void *arg)
{
    const event_work_t *work = arg;

    wait_done(work->event, work->seq);
    event_put(work->event);
}

/* --- the API --------------------------------------------------------------------------------- */

CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    bf_emu_ctx_t *ctx;
    event_t *e;
    bf_status_t status;
    CUresult result = bf_emu_ctx_resolve(NULL, true, &ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (phEvent == NULL || (Flags & ~(unsigned int)EVENT_FLAGS_KNOWN) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* cuda.h: an interprocess event must not record timing data. */
    if ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_VALUE;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *e = (event_t){.cookie = BF_EMU_EVENT_COOKIE, .refs = 1, .ctx = ctx, .flags = Flags};
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->done_cond, NULL);
    pthread_mutex_lock(&bf_emu.lock);
    status = bf_range_map_insert(&live_events, (uint64_t)(uintptr_t)e, 1, (uint64_t)(uintptr_t)e);
    pthread_mutex_unlock(&bf_emu.lock);
    if (status != BF_OK) {
        event_put(e);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *phEvent = (CUevent)e;
    return CUDA_SUCCESS;
}

/* The record of cuEventRecord(WithFlags) and their _ptsz twins. */
static CUresult event_record(CUevent hEvent, CUstream hStream, bool per_thread)
{
    bf_emu_stream_t *stream;
    event_t *e;
    event_work_t work;
    bf_status_t status;
    CUresult result = event_get(hEvent, &e);

    if (result != CUDA_SUCCESS)
        return result;
    result = bf_emu_stream_get(hStream, per_thread, &stream);
    if (result != CUDA_SUCCESS)
        goto err_put_event;
    /* cuda.h: the event and the stream must belong to the same context. */
    if (bf_emu_stream_ctx(stream) != e->ctx) {
        result = CUDA_ERROR_INVALID_HANDLE;
        goto err_put_stream;
    }
    /* The queued copy holds its own reference; its number is given as it is appended. */
    work = (event_work_t){.event = e, .seq = 0};
    event_ref(e);
    status = bf_emu_stream_enqueue_marker(stream, record_run, record_stamp, &work, sizeof(work));
    if (status != BF_OK) {
        event_put(e);
        bf_log_error("cannot record event %p: out of memory", (void *)hEvent);
        result = CUDA_ERROR_OUT_OF_MEMORY;
    }
err_put_stream:
    bf_emu_stream_put(stream);
err_put_event:
    event_put(e);
    return result;
}

CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    return event_record(hEvent, hStream, false);
}

CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
    return event_record(hEvent, hStream, true);
}

/* CU_EVENT_RECORD_EXTERNAL only means something during stream capture, which the emulator does
 * not do: it is refused like any unknown bit. */
static CUresult event_record_with_flags(CUevent hEvent, CUstream hStream, unsigned int flags, bool per_thread)
{
    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (flags != CU_EVENT_RECORD_DEFAULT)
        return CUDA_ERROR_INVALID_VALUE;
    return event_record(hEvent, hStream, per_thread);
}

CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return event_record_with_flags(hEvent, hStream, flags, false);
}

CUresult cuEventRecordWithFlags_ptsz(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return event_record_with_flags(hEvent, hStream, flags, true);
}

CUresult cuEventQuery(CUevent hEvent)
{
    event_t *e;
    bool ready;
    CUresult result = event_get(hEvent, &e);

    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&e->lock);
    ready = e->done >= e->recorded;
    pthread_mutex_unlock(&e->lock);
    event_put(e);
    return ready ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

/* CU_EVENT_BLOCKING_SYNC changes nothing: the emulator always blocks, it never spins. */
CUresult cuEventSynchronize(CUevent hEvent)
{
    event_t *e;
    uint64_t target;
    CUresult result = event_get(hEvent, &e);

    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&e->lock);
    target = e->recorded;
    pthread_mutex_unlock(&e->lock);
    wait_done(e, target);
    event_put(e);
    bf_emu_devrt_flush();
    return CUDA_SUCCESS;
}

/* Records still queued complete normally: each holds its own reference. */
CUresult cuEventDestroy_v2(CUevent hEvent)
{
    event_t *e;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    e = lookup_locked(hEvent);
    if (e != NULL)
        (void)bf_range_map_remove(&live_events, (uint64_t)(uintptr_t)e, NULL);
    pthread_mutex_unlock(&bf_emu.lock);
    if (e == NULL) {
        bf_log_debug("cuEventDestroy: %p is not a live event", (void *)hEvent);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    event_put(e);
    return CUDA_SUCCESS;
}

/* The pre-4.0 name has the same signature and meaning. */
CUresult cuEventDestroy(CUevent hEvent)
{
    return cuEventDestroy_v2(hEvent);
}

/* What cuEventElapsedTime needs of one event, read under its lock. */
static CUresult timestamp(event_t *e, uint64_t *time_p)
{
    CUresult result = CUDA_SUCCESS;

    pthread_mutex_lock(&e->lock);
    if ((e->flags & CU_EVENT_DISABLE_TIMING) || e->recorded == 0)
        result = CUDA_ERROR_INVALID_HANDLE;
    else if (e->done < e->recorded)
        result = CUDA_ERROR_NOT_READY;
    else
        *time_p = e->time_ns;
    pthread_mutex_unlock(&e->lock);
    return result;
}

/* Milliseconds from start's latest record to end's; negative when end ran first, as on a GPU. An
 * event never recorded or created with CU_EVENT_DISABLE_TIMING is CUDA_ERROR_INVALID_HANDLE, one
 * whose record has not run yet CUDA_ERROR_NOT_READY. */
CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    event_t *start, *end;
    uint64_t t0 = 0, t1 = 0;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (pMilliseconds == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    result = event_get(hStart, &start);
    if (result != CUDA_SUCCESS)
        return result;
    result = event_get(hEnd, &end);
    if (result != CUDA_SUCCESS)
        goto out_start;
    result = timestamp(start, &t0);
    if (result == CUDA_SUCCESS)
        result = timestamp(end, &t1);
    if (result == CUDA_SUCCESS)
        *pMilliseconds = (float)((double)((int64_t)(t1 - t0)) / 1e6);
    event_put(end);
out_start:
    event_put(start);
    return result;
}

/* cuda.h 12.8 gave the same ABI a second version; no difference in behaviour is documented. */
CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    return cuEventElapsedTime_v2(pMilliseconds, hStart, hEnd);
}

/* --- a stream waiting for an event ---------------------------------------------------------- */

/* CU_EVENT_WAIT_EXTERNAL only means something during stream capture: refused like unknown bits.
 * The event may belong to another context than the stream. */
static CUresult stream_wait_event(CUstream hStream, CUevent hEvent, unsigned int Flags, bool per_thread)
{
    bf_emu_stream_t *stream;
    event_t *e;
    event_work_t work;
    bool outstanding;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (Flags != CU_EVENT_WAIT_DEFAULT)
        return CUDA_ERROR_INVALID_VALUE;
    result = bf_emu_stream_get(hStream, per_thread, &stream);
    if (result != CUDA_SUCCESS)
        return result;
    result = event_get(hEvent, &e);
    if (result != CUDA_SUCCESS)
        goto err_put_stream;
    pthread_mutex_lock(&e->lock);
    work = (event_work_t){.event = e, .seq = e->recorded};
    outstanding = e->done < work.seq;
    pthread_mutex_unlock(&e->lock);
    /* Nothing is enqueued for an event whose records have all run, the usual case. */
    if (outstanding) {
        event_ref(e);
        if (bf_emu_stream_enqueue(stream, wait_run, &work, sizeof(work)) != BF_OK) {
            event_put(e);
            bf_log_error("cannot make a stream wait for event %p: out of memory", (void *)hEvent);
            result = CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    event_put(e);
err_put_stream:
    bf_emu_stream_put(stream);
    return result;
}

CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return stream_wait_event(hStream, hEvent, Flags, false);
}

CUresult cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return stream_wait_event(hStream, hEvent, Flags, true);
}
