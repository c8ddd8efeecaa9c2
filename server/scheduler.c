/*
 * scheduler.c: where and when each op of a session runs (see scheduler.h for the model).
 *
 * Three places run ops:
 *   - the reader thread itself, for work that is short and free to run now: connection ops,
 *     queries, creations, allocations, and small copies, memsets and records on an idle stream;
 *   - one executor thread per stream with queued work, which runs the stream's ops in order and
 *     ends after a while without work;
 *   - a small pool of waiter threads for the synchronisations that wait on their own
 *     (CTX_SYNCHRONIZE, EVENT_SYNCHRONIZE): they have no stream to be ordered on.
 * All scheduling state is under one lock, never held while the driver is called or a reply sent;
 * every completion broadcasts one condition, on which executors, waiters and a reader held back by
 * the queue limits wait.
 */
#include "scheduler.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bf_log.h"
#include "executor.h"
#include "handlers.h"
#include "session.h"

/* The reader stops reading while queued ops hold this much tail data or this many ops: memory for
 * work the device has not caught up with is bounded. */
#define QUEUED_BYTES_MAX (256ull << 20)
#define QUEUED_OPS_MAX 65536u

/* An executor or waiter thread without work for this long ends. */
#define IDLE_LINGER_MS 2000

/* Copies and memsets of at most this many bytes on an idle stream run on the reader thread. */
#define SHORT_BYTES (1ull << 20)

/* Request tails of at least this size are kept for reuse, at most SPARE_KEEP_MAX bytes each. */
#define SPARE_MIN (1ull << 20)
#define SPARE_KEEP_MAX ((uint64_t)BF_PROTO_MAX_TAIL)
#define TAIL_HEADER 16

/* A device synchronisation runs on the reader only if the driver says this many streams at most
 * are idle; with more it goes to a waiter thread. */
#define PROBE_MAX 16

typedef struct {
    bf_srv_stream_t *stream;
    uint64_t count;              /* satisfied once stream->done >= count */
} dep_t;

struct bf_srv_op {
    bf_srv_op_t *next;
    bf_srv_request_t rq;
    bf_srv_stream_t *stream;     /* the queue it runs on; NULL: a waiter thread runs it */
    bf_srv_event_t *event;       /* as in bf_srv_call_t */
    bf_srv_event_t *event2;
    uint64_t record;
    bf_srv_event_t *wait_event;  /* not ready before wait_event has issued record wait_record */
    uint64_t wait_record;
    dep_t *deps;
    size_t dep_count, dep_cap;
    bool barrier;                /* MEM_FREE, CTX_RESET: closes its device's gate */
    bool counted;                /* counted in stream->enqueued: its completion counts as done */
    bool check_event;            /* EVENT_SYNCHRONIZE: runs inline only if the driver is done */
    uint64_t queued_bytes;       /* tail bytes counted in the scheduler's queued_bytes */
    /* CTX_SYNCHRONIZE with no work left in the worker: the device's streams to ask the driver
     * about before it may run on the reader (referenced; probe_all: these are all of them). */
    bf_srv_stream_t *probe[PROBE_MAX];
    int probe_count;
    bool probe_all;
};

/* Byte offset of each op's HANDLE `stream` field in its request struct, SIZE_MAX when it has none:
 * every op with such a field is stream-ordered, including ops added to ops.def later. */
static size_t stream_field[BF_OP_MAX_ID + 1];

/* Objects whose last reference went while the lock was held, finalised after it is dropped (their
 * driver handles are destroyed outside the lock). */
typedef struct {
    bf_srv_stream_t *streams;
    bf_srv_event_t *events;
} graveyard_t;

static uint64_t now_ns(void)
{
    return bf_srv_now_ns();
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- tail buffers -------------------------------------------------------------------------- */

uint8_t *bf_srv_sched_tail_alloc(bf_srv_session_t *session, uint64_t size)
{
    bf_srv_sched_t *sc = &session->sched;
    uint8_t *raw = NULL;
    uint64_t capacity = size;

    if (size >= SPARE_MIN) {
        pthread_mutex_lock(&sc->lock);
        for (size_t i = 0; i < sizeof(sc->spare) / sizeof(sc->spare[0]); i++) {
            if (sc->spare[i] != NULL && sc->spare_size[i] >= size) {
                raw = sc->spare[i];
                capacity = sc->spare_size[i];
                sc->spare[i] = NULL;
                break;
            }
        }
        pthread_mutex_unlock(&sc->lock);
    }
    if (raw == NULL) {
        raw = malloc(TAIL_HEADER + capacity);
        if (raw == NULL) {
            bf_log_error("cannot allocate %" PRIu64 " bytes for a request tail", size);
            return NULL;
        }
    }
    memcpy(raw, &capacity, sizeof(capacity));
    return raw + TAIL_HEADER;
}

void bf_srv_sched_tail_free(bf_srv_session_t *session, uint8_t *tail)
{
    bf_srv_sched_t *sc = &session->sched;
    uint64_t capacity;

    if (tail == NULL)
        return;
    uint8_t *raw = tail - TAIL_HEADER;
    memcpy(&capacity, raw, sizeof(capacity));
    if (capacity >= SPARE_MIN && capacity <= SPARE_KEEP_MAX) {
        pthread_mutex_lock(&sc->lock);
        size_t smallest = 0;
        for (size_t i = 0; i < sizeof(sc->spare) / sizeof(sc->spare[0]); i++) {
            if (sc->spare[i] == NULL) {
                sc->spare[i] = raw;
                sc->spare_size[i] = capacity;
                raw = NULL;
                break;
            }
            if (sc->spare_size[i] < sc->spare_size[smallest])
                smallest = i;
        }
        /* All slots full: keep the larger of the smallest spare and this one. */
        if (raw != NULL && sc->spare_size[smallest] < capacity) {
            uint8_t *old = sc->spare[smallest];
            sc->spare[smallest] = raw;
            sc->spare_size[smallest] = capacity;
            raw = old;
        }
        pthread_mutex_unlock(&sc->lock);
    }
    free(raw);
}

/* ---- objects ------------------------------------------------------------------------------- */

static bf_srv_stream_t *stream_new(bf_srv_sched_t *sc, uint64_t id, int device, unsigned flags,
                                   int priority, bf_srv_stream_kind_t kind)
{
    bf_srv_stream_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->id = id;
    s->device = device;
    s->flags = flags;
    s->priority = priority;
    s->kind = kind;
    s->create_error = CUDA_SUCCESS;
    s->refs = 1;
    pthread_cond_init(&s->wake, &sc->cond_attr);
    s->next = sc->streams;
    sc->streams = s;
    return s;
}

static bf_srv_event_t *event_new(bf_srv_sched_t *sc, uint64_t id, int device, unsigned flags)
{
    bf_srv_event_t *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->id = id;
    e->device = device;
    e->flags = flags;
    e->create_error = CUDA_SUCCESS;
    e->refs = 1;
    e->next = sc->events;
    sc->events = e;
    return e;
}

static void stream_ref(bf_srv_stream_t *s)
{
    if (s != NULL)
        s->refs++;
}

static void event_ref(bf_srv_event_t *e)
{
    if (e != NULL)
        e->refs++;
}

/* Lock held. The last reference moves the object to the graveyard. */
static void stream_unref(bf_srv_sched_t *sc, bf_srv_stream_t *s, graveyard_t *grave)
{
    if (s == NULL || --s->refs > 0)
        return;
    for (bf_srv_stream_t **p = &sc->streams; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    s->next = grave->streams;
    grave->streams = s;
}

static void event_unref(bf_srv_sched_t *sc, bf_srv_event_t *e, graveyard_t *grave)
{
    if (e == NULL || --e->refs > 0)
        return;
    for (bf_srv_event_t **p = &sc->events; *p != NULL; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    e->next = grave->events;
    grave->events = e;
}

/* Lock dropped: destroys the driver's handles of dead objects and frees them. */
static void bury(bf_srv_session_t *session, graveyard_t *grave)
{
    while (grave->streams != NULL) {
        bf_srv_stream_t *s = grave->streams;
        grave->streams = s->next;
        if (s->real_live && bf_srv_session_use(session, &session->devices[s->device]) ==
                                CUDA_SUCCESS) {
            CUresult res = BF_SRV_DRV(&session->drv, StreamDestroy, s->real);
            if (res != CUDA_SUCCESS)
                bf_log_warn("cuStreamDestroy of stream %" PRIu64 " failed: %d", s->id, (int)res);
        }
        pthread_cond_destroy(&s->wake);
        free(s);
    }
    while (grave->events != NULL) {
        bf_srv_event_t *e = grave->events;
        grave->events = e->next;
        if (e->real != NULL && bf_srv_session_use(session, &session->devices[e->device]) ==
                                   CUDA_SUCCESS) {
            CUresult res = BF_SRV_DRV(&session->drv, EventDestroy, e->real);
            if (res != CUDA_SUCCESS)
                bf_log_warn("cuEventDestroy of event %" PRIu64 " failed: %d", e->id, (int)res);
        }
        free(e->early);
        free(e);
    }
}

static void *id_lookup(const bf_range_map_t *map, uint64_t id)
{
    const bf_range_t *range = bf_range_map_find(map, id);

    return range != NULL ? (void *)(uintptr_t)range->value : NULL;
}

/* The stream an op names: a live client stream, or a device's legacy stream. */
static bf_srv_stream_t *stream_lookup(bf_srv_sched_t *sc, uint64_t id)
{
    if (id < BF_PROTO_LEGACY_STREAMS)
        return (int)id < sc->device_count ? sc->legacy[id] : NULL;
    return id_lookup(&sc->stream_ids, id);
}

/* Lock held: the id is refused from now on; the object lives while work still refers to it. */
static void stream_forget(bf_srv_sched_t *sc, bf_srv_stream_t *s, graveyard_t *grave)
{
    (void)bf_range_map_remove(&sc->stream_ids, s->id, NULL);
    s->forgotten = true;
    stream_unref(sc, s, grave);  /* the table's reference */
}

static void event_forget(bf_srv_sched_t *sc, bf_srv_event_t *e, graveyard_t *grave)
{
    (void)bf_range_map_remove(&sc->event_ids, e->id, NULL);
    e->forgotten = true;
    event_unref(sc, e, grave);
}

/* Lock held: record number `record` of e has been issued. records_done only moves over a prefix
 * of issued records, so a wait for record r never passes before r itself was issued. */
static void event_record_done(bf_srv_event_t *e, uint64_t record)
{
    if (record != e->records_done + 1) {
        if (record <= e->records_done)
            return;
        if (e->early_count == e->early_cap) {
            size_t cap = e->early_cap ? e->early_cap * 2 : 4;
            uint64_t *grown = realloc(e->early, cap * sizeof(*grown));
            if (grown == NULL) {
                /* Cannot remember it: let the prefix jump, which only shortens a wait. */
                e->records_done = record;
                return;
            }
            e->early = grown;
            e->early_cap = cap;
        }
        e->early[e->early_count++] = record;
        return;
    }
    e->records_done = record;
    for (bool moved = true; moved;) {
        moved = false;
        for (size_t i = 0; i < e->early_count; i++) {
            if (e->early[i] == e->records_done + 1) {
                e->records_done++;
                e->early[i] = e->early[--e->early_count];
                moved = true;
                break;
            }
        }
    }
}

/* ---- set-up and tear-down ------------------------------------------------------------------ */

/* Lock held: the reader waits (back-pressure, a reply in flight, threads ending). */
static void reader_wait(bf_srv_sched_t *sc)
{
    sc->reader_waiting = true;
    pthread_cond_wait(&sc->reader_wake, &sc->lock);
    sc->reader_waiting = false;
}

/* Lock held: something completed; wake exactly those who may now proceed. */
static void wake_after_progress(bf_srv_sched_t *sc)
{
    if (sc->blocked_streams > 0)
        for (bf_srv_stream_t *s = sc->streams; s != NULL; s = s->next)
            if (s->blocked)
                pthread_cond_signal(&s->wake);
    if (sc->waiters != NULL)
        pthread_cond_broadcast(&sc->waiter_wake);
    if (sc->reader_waiting)
        pthread_cond_signal(&sc->reader_wake);
}

/* Lock held: every thread looks at the state again (stop). */
static void wake_all(bf_srv_sched_t *sc)
{
    for (bf_srv_stream_t *s = sc->streams; s != NULL; s = s->next)
        pthread_cond_signal(&s->wake);
    pthread_cond_broadcast(&sc->waiter_wake);
    pthread_cond_signal(&sc->reader_wake);
}

bf_status_t bf_srv_sched_init(bf_srv_session_t *session)
{
    bf_srv_sched_t *sc = &session->sched;

    for (size_t id = 0; id <= BF_OP_MAX_ID; id++) {
        stream_field[id] = SIZE_MAX;
        const bf_proto_op_desc_t *op = bf_proto_op((uint16_t)id);
        if (op == NULL)
            continue;
        for (size_t i = 0; i < op->request.field_count; i++)
            if (op->request.fields[i].kind == BF_KIND_HANDLE &&
                strcmp(op->request.fields[i].name, "stream") == 0)
                stream_field[id] = bf_proto_field_offset(&op->request, i);
    }
    memset(sc, 0, sizeof(*sc));
    pthread_mutex_init(&sc->lock, NULL);
    pthread_condattr_init(&sc->cond_attr);
    pthread_condattr_setclock(&sc->cond_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sc->waiter_wake, &sc->cond_attr);
    pthread_cond_init(&sc->reader_wake, &sc->cond_attr);
    bf_range_map_init(&sc->stream_ids);
    bf_range_map_init(&sc->event_ids);
    return BF_OK;
}

bf_status_t bf_srv_sched_open_devices(bf_srv_session_t *session, int device_count)
{
    bf_srv_sched_t *sc = &session->sched;
    bf_status_t status = BF_OK;

    pthread_mutex_lock(&sc->lock);
    for (int d = 0; d < device_count && d < BF_SRV_MAX_DEVICES; d++) {
        sc->legacy[d] = stream_new(sc, (uint64_t)d, d, 0, 0, BF_SRV_STREAM_LEGACY);
        sc->control[d] = stream_new(sc, UINT64_MAX, d, CU_STREAM_NON_BLOCKING, 0,
                                    BF_SRV_STREAM_CONTROL);
        if (sc->legacy[d] == NULL || sc->control[d] == NULL) {
            status = BF_NO_MEMORY;
            break;
        }
        sc->device_count = d + 1;
    }
    pthread_mutex_unlock(&sc->lock);
    return status;
}

static void op_release(bf_srv_session_t *session, bf_srv_op_t *op, graveyard_t *grave);

void bf_srv_sched_stop(bf_srv_session_t *session)
{
    bf_srv_sched_t *sc = &session->sched;
    graveyard_t grave = {0};

    pthread_mutex_lock(&sc->lock);
    sc->stopping = true;
    wake_all(sc);
    while (sc->threads > 0)
        reader_wait(sc);
    /* Nothing runs any more: drop what is still queued, then every object. */
    for (bf_srv_stream_t *s = sc->streams; s != NULL; s = s->next) {
        while (s->head != NULL) {
            bf_srv_op_t *op = s->head;
            s->head = op->next;
            op_release(session, op, &grave);
        }
        s->tail = NULL;
    }
    /* ... and what waits for a waiter thread (synchronisations behind queued work). */
    while (sc->waiters != NULL) {
        bf_srv_op_t *op = sc->waiters;
        sc->waiters = op->next;
        op_release(session, op, &grave);
    }
    sc->waiters_tail = NULL;
    for (size_t i = 0; i < sc->stream_ids.count; i++)
        ((bf_srv_stream_t *)(uintptr_t)sc->stream_ids.ranges[i].value)->forgotten = true;
    while (sc->streams != NULL) {
        bf_srv_stream_t *s = sc->streams;
        s->refs = 1;
        stream_unref(sc, s, &grave);
    }
    while (sc->events != NULL) {
        bf_srv_event_t *e = sc->events;
        e->refs = 1;
        event_unref(sc, e, &grave);
    }
    bf_range_map_clear(&sc->stream_ids);
    bf_range_map_clear(&sc->event_ids);
    for (int d = 0; d < BF_SRV_MAX_DEVICES; d++)
        sc->legacy[d] = sc->control[d] = NULL;
    for (size_t i = 0; i < sizeof(sc->spare) / sizeof(sc->spare[0]); i++) {
        free(sc->spare[i]);
        sc->spare[i] = NULL;
    }
    pthread_mutex_unlock(&sc->lock);
    if (session->driver_loaded)
        bury(session, &grave);
    else
        while (grave.streams != NULL || grave.events != NULL) {
            /* Without a driver there are no driver handles to destroy. */
            bf_srv_stream_t *s = grave.streams;
            bf_srv_event_t *e = grave.events;
            if (s != NULL) {
                grave.streams = s->next;
                free(s);
            }
            if (e != NULL) {
                grave.events = e->next;
                free(e->early);
                free(e);
            }
        }
}

/* Driver handles taken from objects of a device being reset, destroyed outside the lock. */
typedef struct {
    CUstream *streams;
    CUevent *events;
    size_t stream_count, event_count;
} doomed_t;

void bf_srv_sched_reset_device(bf_srv_session_t *session, int device)
{
    bf_srv_sched_t *sc = &session->sched;
    doomed_t doomed = {0};
    size_t streams = 0, events = 0;

    /* The driver's handles are taken from the objects under the lock and destroyed outside it;
     * the objects themselves live on (forgotten) until their references go. */
    pthread_mutex_lock(&sc->lock);
    for (bf_srv_stream_t *s = sc->streams; s != NULL; s = s->next)
        streams += s->device == device && s->real_live;
    for (bf_srv_event_t *e = sc->events; e != NULL; e = e->next)
        events += e->device == device && e->real != NULL;
    doomed.streams = calloc(streams + 1, sizeof(CUstream));
    doomed.events = calloc(events + 1, sizeof(CUevent));
    for (bf_srv_stream_t *s = sc->streams; s != NULL && doomed.streams != NULL; s = s->next) {
        if (s->device != device || !s->real_live)
            continue;
        doomed.streams[doomed.stream_count++] = s->real;
        s->real_live = false;
        s->real = NULL;
    }
    for (bf_srv_event_t *e = sc->events; e != NULL && doomed.events != NULL; e = e->next) {
        if (e->device != device || e->real == NULL)
            continue;
        doomed.events[doomed.event_count++] = e->real;
        e->real = NULL;
    }
    pthread_mutex_unlock(&sc->lock);

    /* Without memory for the lists the handles are left to the context reset itself. */
    for (size_t i = 0; i < doomed.stream_count; i++)
        (void)BF_SRV_DRV(&session->drv, StreamDestroy, doomed.streams[i]);
    for (size_t i = 0; i < doomed.event_count; i++)
        (void)BF_SRV_DRV(&session->drv, EventDestroy, doomed.events[i]);
    free(doomed.streams);
    free(doomed.events);
}

/* ---- dependencies -------------------------------------------------------------------------- */

static bool dep_add(bf_srv_op_t *op, bf_srv_stream_t *stream, uint64_t count)
{
    if (stream->done >= count)
        return true;
    for (size_t i = 0; i < op->dep_count; i++) {
        if (op->deps[i].stream == stream) {
            if (op->deps[i].count < count)
                op->deps[i].count = count;
            return true;
        }
    }
    if (op->dep_count == op->dep_cap) {
        size_t cap = op->dep_cap ? op->dep_cap * 2 : 4;
        dep_t *grown = realloc(op->deps, cap * sizeof(*grown));
        if (grown == NULL)
            return false;
        op->deps = grown;
        op->dep_cap = cap;
    }
    stream_ref(stream);
    op->deps[op->dep_count++] = (dep_t){stream, count};
    return true;
}

/* Lock held: whether everything op waits for has happened. */
static bool deps_ready(const bf_srv_op_t *op)
{
    for (size_t i = 0; i < op->dep_count; i++)
        if (op->deps[i].stream->done < op->deps[i].count)
            return false;
    return op->wait_event == NULL || op->wait_event->records_done >= op->wait_record;
}

/* Lock held: work read from now on waits for every closed gate (a pending MEM_FREE or
 * CTX_RESET, and what was held behind it). */
static bool add_gates(bf_srv_sched_t *sc, bf_srv_op_t *op, const bf_srv_stream_t *queue)
{
    for (int d = 0; d < sc->device_count; d++) {
        bf_srv_stream_t *control = sc->control[d];
        if (control == queue || control->done >= sc->gate[d])
            continue;
        if (!dep_add(op, control, sc->gate[d]))
            return false;
    }
    return true;
}

/* Lock held: CUDA's legacy default stream rules for an op queued on s. */
static bool add_legacy_rules(bf_srv_sched_t *sc, bf_srv_op_t *op, bf_srv_stream_t *s)
{
    if (s->kind == BF_SRV_STREAM_USER && !(s->flags & CU_STREAM_NON_BLOCKING)) {
        bf_srv_stream_t *legacy = sc->legacy[s->device];
        return dep_add(op, legacy, legacy->enqueued);
    }
    if (s->kind == BF_SRV_STREAM_LEGACY) {
        for (bf_srv_stream_t *b = sc->streams; b != NULL; b = b->next)
            if (b->device == s->device && b->kind == BF_SRV_STREAM_USER &&
                !(b->flags & CU_STREAM_NON_BLOCKING) && !dep_add(op, b, b->enqueued))
                return false;
    }
    return true;
}

/* Lock held: a barrier or a device-wide synchronisation waits for all earlier work of the device,
 * on every stream. */
static bool add_device_work(bf_srv_sched_t *sc, bf_srv_op_t *op, int device)
{
    for (bf_srv_stream_t *b = sc->streams; b != NULL; b = b->next)
        if (b->device == device && b != op->stream && !dep_add(op, b, b->enqueued))
            return false;
    return true;
}

/* ---- running one op ------------------------------------------------------------------------ */

static bool is_connection_op(uint16_t op)
{
    return op == BF_OP_HELLO || op == BF_OP_HEARTBEAT || op == BF_OP_GOODBYE ||
           op == BF_OP_OUTPUT;
}

/* Executes op through its handler (no lock held) and answers it, or latches its error. */
static void run_op(bf_srv_session_t *session, bf_srv_op_t *op)
{
    const bf_srv_request_t *rq = &op->rq;
    uint16_t id = rq->hdr.op;
    bf_srv_rep_t rep;
    /* Posted-mode ops sent without the posted flag are answered: the client then wants the error
     * now rather than at the next synchronising call. HEARTBEAT and GOODBYE are never answered. */
    bool posted = (rq->hdr.flags & BF_FRAME_POSTED) || id == BF_OP_HEARTBEAT ||
                  id == BF_OP_GOODBYE || id == BF_OP_OUTPUT;
    bf_srv_call_t call = {
        .op         = id,
        .request_id = rq->hdr.request_id,
        .posted     = posted,
        .req        = &rq->req,
        .tail       = rq->tail_len > 0 ? rq->tail : NULL,
        .tail_len   = rq->tail_len,
        .rep        = &rep,
        .stream     = op->stream,
        .event      = op->event,
        .event2     = op->event2,
        .record     = op->record,
    };
    CUresult res;

    memset(&rep, 0, sizeof(rep));
    if (op->stream != NULL && op->stream->create_error != CUDA_SUCCESS && id != BF_OP_STREAM_CREATE)
        res = CUDA_ERROR_INVALID_HANDLE;  /* the driver never made this stream */
    else
        res = bf_srv_execute(session, &call);
    if (!is_connection_op(id))
        atomic_fetch_add(&session->calls, 1);
    if (posted) {
        if (res != CUDA_SUCCESS) {
            bf_log_debug("posted %s (request %" PRIu64 ") failed with %d: latched", rq->op->name,
                         rq->hdr.request_id, (int)res);
            bf_srv_session_latch(session, res);
        }
        return;
    }
    /* The reply goes before the op counts as done, so that nothing ordered after it can answer
     * first (a synchronisation's reply must follow the data of an async copy before it). Until
     * then a query of the stream waits for the flag to drop (plan_op). */
    if (op->counted) {
        pthread_mutex_lock(&session->sched.lock);
        op->stream->replying = true;
        pthread_mutex_unlock(&session->sched.lock);
    }
    bf_srv_session_reply(session, rq, res, &rep, call.rep_tail, call.rep_tail_len);
}

/* Answers (or latches) a request refused when it was read, without running its handler. */
static void refuse(bf_srv_session_t *session, const bf_srv_request_t *rq, CUresult res)
{
    bf_srv_rep_t rep;

    atomic_fetch_add(&session->calls, 1);
    if (rq->hdr.flags & BF_FRAME_POSTED) {
        bf_log_debug("posted %s (request %" PRIu64 ") refused with %d: latched", rq->op->name,
                      rq->hdr.request_id, (int)res);
        bf_srv_session_latch(session, res);
        return;
    }
    memset(&rep, 0, sizeof(rep));
    bf_srv_session_reply(session, rq, res, &rep, NULL, 0);
}

/* Lock held: drops op's references and frees it (its tail back to the pool). */
static void op_release(bf_srv_session_t *session, bf_srv_op_t *op, graveyard_t *grave)
{
    bf_srv_sched_t *sc = &session->sched;

    for (size_t i = 0; i < op->dep_count; i++)
        stream_unref(sc, op->deps[i].stream, grave);
    for (int i = 0; i < op->probe_count; i++)
        stream_unref(sc, op->probe[i], grave);
    stream_unref(sc, op->stream, grave);
    event_unref(sc, op->event, grave);
    event_unref(sc, op->event2, grave);
    event_unref(sc, op->wait_event, grave);
    free(op->deps);
    if (op->rq.tail_owned) {
        /* The pool takes the lock itself; a tail freed here is simply freed. */
        free(op->rq.tail - TAIL_HEADER);
    }
    free(op);
}

/* Lock held: what completing op changes for the others. */
static void complete_locked(bf_srv_sched_t *sc, bf_srv_op_t *op, bool counted_in_queue)
{
    if (op->counted) {
        op->stream->running = false;
        op->stream->replying = false;
        op->stream->done++;
    }
    if (op->rq.hdr.op == BF_OP_EVENT_RECORD && op->event != NULL) {
        bf_srv_event_t *e = op->event;
        if (e->real == NULL && op->record >= e->time_record) {
            e->time_record = op->record;
            e->host_time_ns = now_ns();
        }
        event_record_done(e, op->record);
    }
    if (counted_in_queue) {
        sc->queued_ops--;
        sc->queued_bytes -= op->queued_bytes;
    }
    wake_after_progress(sc);
}

/* Runs op and completes it; the op is freed (its tail recycled). */
static void run_and_complete(bf_srv_session_t *session, bf_srv_op_t *op, bool counted_in_queue)
{
    bf_srv_sched_t *sc = &session->sched;
    graveyard_t grave = {0};
    uint8_t *tail = op->rq.tail_owned ? op->rq.tail : NULL;

    run_op(session, op);
    op->rq.tail_owned = false;  /* given back to the pool below, outside the lock */
    pthread_mutex_lock(&sc->lock);
    complete_locked(sc, op, counted_in_queue);
    op_release(session, op, &grave);
    pthread_mutex_unlock(&sc->lock);
    bf_srv_sched_tail_free(session, tail);
    bury(session, &grave);
}

/* ---- threads ------------------------------------------------------------------------------- */

typedef struct {
    bf_srv_session_t *session;
    bf_srv_stream_t *stream;  /* NULL: a waiter thread */
} thread_arg_t;

/* Lock held: the first ready op among the waiters' ops. */
static bf_srv_op_t *take_ready_waiter(bf_srv_sched_t *sc);

static void *thread_main(void *p)
{
    thread_arg_t arg = *(thread_arg_t *)p;
    bf_srv_session_t *session = arg.session;
    bf_srv_sched_t *sc = &session->sched;
    bf_srv_stream_t *s = arg.stream;
    graveyard_t grave = {0};

    free(p);
    pthread_mutex_lock(&sc->lock);
    for (;;) {
        if (sc->stopping)
            break;
        bf_srv_op_t *op = NULL;
        if (s != NULL) {
            if (s->head != NULL && deps_ready(s->head)) {
                op = s->head;
                s->head = op->next;
                if (s->head == NULL)
                    s->tail = NULL;
                s->running = true;
            }
        } else {
            op = take_ready_waiter(sc);
        }
        if (op != NULL) {
            pthread_mutex_unlock(&sc->lock);
            run_and_complete(session, op, true);
            pthread_mutex_lock(&sc->lock);
            continue;
        }
        if (s != NULL && s->head != NULL) {
            /* Its next op waits for other work: woken when something completes. */
            s->blocked = true;
            sc->blocked_streams++;
            pthread_cond_wait(&s->wake, &sc->lock);
            sc->blocked_streams--;
            s->blocked = false;
            continue;
        }
        if (s == NULL && sc->waiters != NULL) {
            pthread_cond_wait(&sc->waiter_wake, &sc->lock);
            continue;
        }
        if (s != NULL && s->forgotten)
            break;  /* destroyed and drained: nothing can come any more */
        struct timespec deadline;
        deadline_in(&deadline, IDLE_LINGER_MS);
        int rc;
        if (s != NULL) {
            rc = pthread_cond_timedwait(&s->wake, &sc->lock, &deadline);
            if (rc == ETIMEDOUT && s->head == NULL)
                break;
        } else {
            sc->idle_waiters++;
            rc = pthread_cond_timedwait(&sc->waiter_wake, &sc->lock, &deadline);
            sc->idle_waiters--;
            if (rc == ETIMEDOUT && sc->waiters == NULL)
                break;
        }
    }
    if (s != NULL) {
        s->has_thread = false;
        stream_unref(sc, s, &grave);
    } else {
        sc->waiter_threads--;
    }
    sc->threads--;
    if (sc->reader_waiting)
        pthread_cond_signal(&sc->reader_wake);
    pthread_mutex_unlock(&sc->lock);
    bury(session, &grave);
    bf_srv_session_staging_release();
    return NULL;
}

/* Lock held: starts a thread for stream s (NULL: a waiter). False if none could be started. */
static bool spawn(bf_srv_session_t *session, bf_srv_stream_t *s)
{
    bf_srv_sched_t *sc = &session->sched;
    thread_arg_t *arg = malloc(sizeof(*arg));
    pthread_attr_t attr;
    pthread_t thread;
    int rc;

    if (arg == NULL)
        return false;
    arg->session = session;
    arg->stream = s;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, thread_main, arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        bf_log_error("cannot start an executor thread: %s", strerror(rc));
        free(arg);
        return false;
    }
    sc->threads++;
    if (s != NULL) {
        s->has_thread = true;
        stream_ref(s);
    } else {
        sc->waiter_threads++;
    }
    return true;
}

static bf_srv_op_t *take_ready_waiter(bf_srv_sched_t *sc)
{
    bf_srv_op_t *prev = NULL;

    for (bf_srv_op_t *op = sc->waiters; op != NULL; prev = op, op = op->next) {
        if (!deps_ready(op))
            continue;
        if (prev != NULL)
            prev->next = op->next;
        else
            sc->waiters = op->next;
        if (sc->waiters_tail == op)
            sc->waiters_tail = prev;
        return op;
    }
    return NULL;
}

/* ---- submission ---------------------------------------------------------------------------- */

/* Whether op on an idle stream may run on the reader thread, and whether the driver's stream must
 * also be idle for that (ops that wait for the device themselves). */
static bool is_short(const bf_srv_request_t *rq, bool *needs_idle_p)
{
    const bf_srv_req_t *r = &rq->req;
    uint64_t bytes;

    *needs_idle_p = false;
    switch (rq->hdr.op) {
    case BF_OP_MEMCPY_HTOD:
        return r->MEMCPY_HTOD.size <= SHORT_BYTES;
    case BF_OP_MEMCPY_DTOD:
        return r->MEMCPY_DTOD.size <= SHORT_BYTES;
    case BF_OP_MEMCPY_2D_HTOD:
        return r->MEMCPY_2D_HTOD.size <= SHORT_BYTES;
    case BF_OP_MEMCPY_2D_DTOD:
        return !__builtin_mul_overflow(r->MEMCPY_2D_DTOD.width, r->MEMCPY_2D_DTOD.height, &bytes) &&
               bytes <= SHORT_BYTES;
    case BF_OP_MEMSET:
        return !__builtin_mul_overflow(r->MEMSET.count, (uint64_t)r->MEMSET.element_size, &bytes) &&
               bytes <= SHORT_BYTES;
    case BF_OP_MEMSET_2D:
        return !__builtin_mul_overflow(r->MEMSET_2D.width, r->MEMSET_2D.height, &bytes) &&
               !__builtin_mul_overflow(bytes, (uint64_t)r->MEMSET_2D.element_size, &bytes) &&
               bytes <= SHORT_BYTES;
    case BF_OP_MEMCPY_DTOH:
        *needs_idle_p = true;
        return r->MEMCPY_DTOH.size <= SHORT_BYTES;
    case BF_OP_MEMCPY_2D_DTOH:
        *needs_idle_p = true;
        return !__builtin_mul_overflow(r->MEMCPY_2D_DTOH.width, r->MEMCPY_2D_DTOH.height, &bytes) &&
               bytes <= SHORT_BYTES;
    case BF_OP_STREAM_SYNCHRONIZE:
        *needs_idle_p = true;
        return true;
    case BF_OP_MEM_FREE:
    case BF_OP_CTX_RESET:
        /* Barriers whose device has no earlier work left (else they were not ready). */
    case BF_OP_STREAM_CREATE:
    case BF_OP_EVENT_RECORD:
    case BF_OP_STREAM_WAIT_EVENT:
        return true;
    default:
        /* Ops of other families (kernel launches) may run long: always on their stream's thread. */
        return false;
    }
}

/* No lock held: whether the driver has finished what was issued to s (true when it cannot say). */
static bool driver_stream_idle(bf_srv_session_t *session, bf_srv_stream_t *s)
{
    if (session->drv.StreamQuery == NULL || (s->real == NULL && session->drv.StreamCreateWithPriority
                                                                    == NULL))
        return true;
    if (bf_srv_session_use(session, &session->devices[s->device]) != CUDA_SUCCESS)
        return true;
    return session->drv.StreamQuery(s->real) != CUDA_ERROR_NOT_READY;
}

/* Lock held: appends op to its stream's queue (or the waiters) and makes sure a thread will run it.
 * Returns false if no thread could be started; the caller then runs it itself. */
static bool enqueue_locked(bf_srv_session_t *session, bf_srv_op_t *op)
{
    bf_srv_sched_t *sc = &session->sched;
    bf_srv_stream_t *s = op->stream;

    op->next = NULL;
    if (s != NULL) {
        if (!s->has_thread && !spawn(session, s))
            return false;
        if (s->tail != NULL)
            s->tail->next = op;
        else
            s->head = op;
        s->tail = op;
        pthread_cond_signal(&s->wake);
    } else {
        if (sc->idle_waiters == 0 && !spawn(session, NULL) && sc->waiter_threads == 0)
            return false;
        if (sc->waiters_tail != NULL)
            sc->waiters_tail->next = op;
        else
            sc->waiters = op;
        sc->waiters_tail = op;
        pthread_cond_broadcast(&sc->waiter_wake);
    }
    op->queued_bytes = op->rq.tail_owned ? op->rq.tail_len : 0;
    sc->queued_ops++;
    sc->queued_bytes += op->queued_bytes;
    return true;
}

/* Lock held: waits while queued work exceeds the limits (the reader's back-pressure). */
static void hold_back(bf_srv_sched_t *sc)
{
    while (!sc->stopping && (sc->queued_bytes > QUEUED_BYTES_MAX || sc->queued_ops > QUEUED_OPS_MAX))
        reader_wait(sc);
}

/* The op's copy of the request owns its tail: a tail still in the reader's staging is copied. */
static bool own_tail(bf_srv_session_t *session, bf_srv_op_t *op)
{
    if (op->rq.tail_len == 0 || op->rq.tail_owned)
        return true;
    uint8_t *copy = bf_srv_sched_tail_alloc(session, op->rq.tail_len);
    if (copy == NULL)
        return false;
    memcpy(copy, op->rq.tail, op->rq.tail_len);
    op->rq.tail = copy;
    op->rq.tail_owned = true;
    return true;
}

typedef enum {
    PLAN_INLINE,   /* run now on the reader */
    PLAN_QUEUE,    /* on op->stream (or the waiters when NULL), unless it may run inline */
    PLAN_DONE,     /* answered already (refused, or a query answered from the scheduler's state) */
} plan_t;

/* Lock held: an op without a stream runs now unless a gate is closed; then it goes to the control
 * queue of `device` and extends that gate, so what follows it waits for it too. */
static plan_t plan_unordered(bf_srv_sched_t *sc, bf_srv_op_t *op, int device, CUresult *res_p)
{
    if (!add_gates(sc, op, NULL)) {
        *res_p = CUDA_ERROR_OUT_OF_MEMORY;
        return PLAN_DONE;
    }
    if (op->dep_count == 0)
        return PLAN_INLINE;
    if (device < 0 || device >= sc->device_count)
        device = 0;
    op->stream = sc->control[device];
    stream_ref(op->stream);
    return PLAN_QUEUE;
}

/* Lock held: resolves the request's objects, applies the ordering rules and says where it runs.
 * On PLAN_DONE, *res_p is the answer (refusal) unless *answered_p says it was given already. */
static plan_t plan_op(bf_srv_session_t *session, bf_srv_op_t *op, CUresult *res_p,
                      graveyard_t *grave)
{
    bf_srv_sched_t *sc = &session->sched;
    const bf_srv_req_t *r = &op->rq.req;
    uint16_t id = op->rq.hdr.op;
    bf_srv_stream_t *s = NULL;
    bf_srv_event_t *e;

    *res_p = CUDA_SUCCESS;
    if (stream_field[id] != SIZE_MAX && id != BF_OP_STREAM_CREATE) {
        uint64_t sid;
        memcpy(&sid, (const uint8_t *)r + stream_field[id], sizeof(sid));
        s = stream_lookup(sc, sid);
        if (s == NULL) {
            *res_p = CUDA_ERROR_INVALID_HANDLE;
            return PLAN_DONE;
        }
    }

    switch (id) {
    case BF_OP_STREAM_CREATE: {
        const bf_req_STREAM_CREATE_t *q = &r->STREAM_CREATE;
        if (q->device >= (uint32_t)sc->device_count) {
            *res_p = CUDA_ERROR_INVALID_DEVICE;
            return PLAN_DONE;
        }
        if (q->stream < BF_PROTO_LEGACY_STREAMS || q->stream == UINT64_MAX ||
            id_lookup(&sc->stream_ids, q->stream) != NULL ||
            (q->flags & ~(unsigned)CU_STREAM_NON_BLOCKING) != 0) {
            *res_p = CUDA_ERROR_INVALID_VALUE;
            return PLAN_DONE;
        }
        s = stream_new(sc, q->stream, (int)q->device, q->flags, q->priority, BF_SRV_STREAM_USER);
        if (s == NULL || bf_range_map_insert(&sc->stream_ids, q->stream, 1,
                                             (uint64_t)(uintptr_t)s) != BF_OK) {
            if (s != NULL)
                stream_unref(sc, s, grave);
            *res_p = CUDA_ERROR_OUT_OF_MEMORY;
            return PLAN_DONE;
        }
        break;
    }
    case BF_OP_STREAM_DESTROY:
        if (s->kind != BF_SRV_STREAM_USER) {
            *res_p = CUDA_ERROR_INVALID_HANDLE;
            return PLAN_DONE;
        }
        stream_forget(sc, s, grave);
        pthread_cond_signal(&s->wake);  /* its idle thread may end now */
        return PLAN_INLINE;                     /* the handler has nothing left to do */
    case BF_OP_STREAM_QUERY:
        /* Answered from the scheduler while work is queued or running; else the driver says. The
         * query is no work of the stream: it is not counted in it. */
        op->stream = s;
        stream_ref(s);
        /* Work that has finished and is sending its reply is done for the client, which may
         * already hold that reply: wait the moment it takes to count it. */
        while (s->replying && !sc->stopping)
            reader_wait(sc);
        if (s->done < s->enqueued || s->running) {
            *res_p = CUDA_ERROR_NOT_READY;
            return PLAN_DONE;
        }
        return PLAN_INLINE;
    case BF_OP_STREAM_WAIT_EVENT:
        e = id_lookup(&sc->event_ids, r->STREAM_WAIT_EVENT.event);
        if (e == NULL) {
            *res_p = CUDA_ERROR_INVALID_HANDLE;
            return PLAN_DONE;
        }
        if (r->STREAM_WAIT_EVENT.flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL) {
            *res_p = CUDA_ERROR_INVALID_VALUE;
            return PLAN_DONE;
        }
        op->event = e;
        event_ref(e);
        if (e->records_read > e->records_done) {
            op->wait_event = e;
            event_ref(e);
            op->wait_record = e->records_read;
        }
        op->record = e->records_read;  /* 0: never recorded, the wait is a no-op */
        break;
    case BF_OP_STREAM_PRIORITY_RANGE:
        if (r->STREAM_PRIORITY_RANGE.device >= (uint32_t)sc->device_count) {
            *res_p = CUDA_ERROR_INVALID_DEVICE;
            return PLAN_DONE;
        }
        return plan_unordered(sc, op, (int)r->STREAM_PRIORITY_RANGE.device, res_p);
    case BF_OP_EVENT_CREATE: {
        const bf_req_EVENT_CREATE_t *q = &r->EVENT_CREATE;
        unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
        if (q->device >= (uint32_t)sc->device_count) {
            *res_p = CUDA_ERROR_INVALID_DEVICE;
            return PLAN_DONE;
        }
        if (q->event == 0 || q->event == UINT64_MAX || id_lookup(&sc->event_ids, q->event) != NULL ||
            (q->flags & ~known) != 0) {
            *res_p = CUDA_ERROR_INVALID_VALUE;
            return PLAN_DONE;
        }
        e = event_new(sc, q->event, (int)q->device, q->flags);
        if (e == NULL || bf_range_map_insert(&sc->event_ids, q->event, 1,
                                             (uint64_t)(uintptr_t)e) != BF_OK) {
            if (e != NULL)
                event_unref(sc, e, grave);
            *res_p = CUDA_ERROR_OUT_OF_MEMORY;
            return PLAN_DONE;
        }
        op->event = e;
        event_ref(e);
        return plan_unordered(sc, op, e->device, res_p);
    }
    case BF_OP_EVENT_DESTROY:
        e = id_lookup(&sc->event_ids, r->EVENT_DESTROY.event);
        if (e == NULL) {
            *res_p = CUDA_ERROR_INVALID_HANDLE;
            return PLAN_DONE;
        }
        event_forget(sc, e, grave);
        return PLAN_INLINE;
    case BF_OP_EVENT_RECORD:
        e = id_lookup(&sc->event_ids, r->EVENT_RECORD.event);
        if (e == NULL || e->device != s->device) {
            *res_p = CUDA_ERROR_INVALID_HANDLE;
            return PLAN_DONE;
        }
        if (r->EVENT_RECORD.flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL) {
            *res_p = CUDA_ERROR_INVALID_VALUE;
            return PLAN_DONE;
        }
        op->event = e;
        event_ref(e);
        op->record = ++e->records_read;
        break;
    case BF_OP_EVENT_SYNCHRONIZE:
        e = id_lookup(&sc->event_ids, r->EVENT_SYNCHRONIZE.event);
        if (e == NULL) {
            *res_p = CUDA_ERROR_INVALID_HANDLE;
            return PLAN_DONE;
        }
        op->event = e;
        event_ref(e);
        if (e->records_read == 0)
            return PLAN_INLINE;
        if (e->records_done >= e->records_read) {
            op->check_event = e->real != NULL;
            return PLAN_INLINE;
        }
        op->wait_event = e;
        event_ref(e);
        op->wait_record = e->records_read;
        op->stream = NULL;  /* a waiter: the handler may wait for the device */
        return add_gates(sc, op, NULL) ? PLAN_QUEUE : PLAN_DONE;
    case BF_OP_EVENT_QUERY:
        e = id_lookup(&sc->event_ids, r->EVENT_QUERY.event);
        if (e == NULL) {
            *res_p = CUDA_ERROR_INVALID_HANDLE;
            return PLAN_DONE;
        }
        if (e->records_done < e->records_read) {
            *res_p = CUDA_ERROR_NOT_READY;
            return PLAN_DONE;
        }
        op->event = e;
        event_ref(e);
        return PLAN_INLINE;
    case BF_OP_EVENT_ELAPSED_TIME: {
        bf_srv_event_t *start = id_lookup(&sc->event_ids, r->EVENT_ELAPSED_TIME.start);
        bf_srv_event_t *end = id_lookup(&sc->event_ids, r->EVENT_ELAPSED_TIME.end);
        if (start == NULL || end == NULL || start->records_read == 0 || end->records_read == 0 ||
            (start->flags & CU_EVENT_DISABLE_TIMING) || (end->flags & CU_EVENT_DISABLE_TIMING)) {
            *res_p = CUDA_ERROR_INVALID_HANDLE;
            return PLAN_DONE;
        }
        if (start->records_done < start->records_read || end->records_done < end->records_read) {
            *res_p = CUDA_ERROR_NOT_READY;
            return PLAN_DONE;
        }
        op->event = start;
        op->event2 = end;
        event_ref(start);
        event_ref(end);
        return PLAN_INLINE;
    }
    case BF_OP_CTX_SYNCHRONIZE: {
        uint32_t device = r->CTX_SYNCHRONIZE.device;
        if (device >= (uint32_t)sc->device_count) {
            *res_p = CUDA_ERROR_INVALID_DEVICE;
            return PLAN_DONE;
        }
        if (!add_device_work(sc, op, (int)device) || !add_gates(sc, op, NULL)) {
            *res_p = CUDA_ERROR_OUT_OF_MEMORY;
            return PLAN_DONE;
        }
        if (op->dep_count > 0)
            return PLAN_QUEUE;  /* a waiter */
        /* Nothing left in the worker; the device may still be busy with what was issued. The
         * driver's streams of the device are asked (outside the lock) before it runs here. */
        op->probe_all = true;
        for (bf_srv_stream_t *b = sc->streams; b != NULL; b = b->next) {
            if (b->device != (int)device || !b->real_live)
                continue;
            if (op->probe_count == PROBE_MAX) {
                op->probe_all = false;
                break;
            }
            stream_ref(b);
            op->probe[op->probe_count++] = b;
        }
        return PLAN_INLINE;
    }
    case BF_OP_LIBRARY_UNLOAD:
        /* Launches of the library read before the unload still run (they look their kernel up
         * when they execute): it waits for the earlier work of every device, on a waiter thread
         * when there is some. */
        for (int d = 0; d < sc->device_count; d++) {
            if (!add_device_work(sc, op, d)) {
                *res_p = CUDA_ERROR_OUT_OF_MEMORY;
                return PLAN_DONE;
            }
        }
        if (!add_gates(sc, op, NULL)) {
            *res_p = CUDA_ERROR_OUT_OF_MEMORY;
            return PLAN_DONE;
        }
        return op->dep_count > 0 ? PLAN_QUEUE : PLAN_INLINE;
    case BF_OP_CTX_SET_LIMIT:
    case BF_OP_CTX_SET_CACHE_CONFIG:
    case BF_OP_CTX_RESET_PERSISTING_L2: {
        /* Settings of the context apply to the work after them: they wait for the device's
         * earlier work (on a waiter thread when there is some), as a synchronisation does. */
        uint32_t device = id == BF_OP_CTX_SET_LIMIT ? r->CTX_SET_LIMIT.device
                          : id == BF_OP_CTX_SET_CACHE_CONFIG ? r->CTX_SET_CACHE_CONFIG.device
                                                             : r->CTX_RESET_PERSISTING_L2.device;
        if (device >= (uint32_t)sc->device_count) {
            *res_p = CUDA_ERROR_INVALID_DEVICE;
            return PLAN_DONE;
        }
        if (!add_device_work(sc, op, (int)device) || !add_gates(sc, op, NULL)) {
            *res_p = CUDA_ERROR_OUT_OF_MEMORY;
            return PLAN_DONE;
        }
        return op->dep_count > 0 ? PLAN_QUEUE : PLAN_INLINE;
    }
    case BF_OP_CTX_RESET:
    case BF_OP_MEM_FREE: {
        int device;
        if (id == BF_OP_CTX_RESET) {
            if (r->CTX_RESET.device >= (uint32_t)sc->device_count) {
                *res_p = CUDA_ERROR_INVALID_DEVICE;
                return PLAN_DONE;
            }
            device = (int)r->CTX_RESET.device;
        } else {
            bf_range_t range;
            if (!bf_srv_session_check_span(session, r->MEM_FREE.dptr, 0, &range) ||
                range.base != r->MEM_FREE.dptr || (range.value & BF_SRV_MEM_GLOBAL)) {
                *res_p = CUDA_ERROR_INVALID_VALUE;
                return PLAN_DONE;
            }
            device = (int)range.value;
        }
        s = sc->control[device];
        op->stream = s;
        stream_ref(s);
        op->barrier = true;
        if (!add_device_work(sc, op, device) || !add_gates(sc, op, s)) {
            *res_p = CUDA_ERROR_OUT_OF_MEMORY;
            return PLAN_DONE;
        }
        if (id == BF_OP_CTX_RESET) {
            /* The device's streams and events die with its context: their ids go now. */
            for (size_t i = sc->stream_ids.count; i-- > 0;) {
                bf_srv_stream_t *u = (bf_srv_stream_t *)(uintptr_t)sc->stream_ids.ranges[i].value;
                if (u->device == device)
                    stream_forget(sc, u, grave);
            }
            for (size_t i = sc->event_ids.count; i-- > 0;) {
                bf_srv_event_t *u = (bf_srv_event_t *)(uintptr_t)sc->event_ids.ranges[i].value;
                if (u->device == device)
                    event_forget(sc, u, grave);
            }
            for (bf_srv_stream_t *u = sc->streams; u != NULL; u = u->next)
                if (u->device == device && u->forgotten)
                    pthread_cond_signal(&u->wake);
        }
        return PLAN_QUEUE;
    }
    case BF_OP_MEM_ALLOC:
        return plan_unordered(sc, op, (int)r->MEM_ALLOC.device, res_p);
    case BF_OP_MEM_ALLOC_PITCH:
        return plan_unordered(sc, op, (int)r->MEM_ALLOC_PITCH.device, res_p);
    case BF_OP_MEM_GET_INFO:
        return plan_unordered(sc, op, (int)r->MEM_GET_INFO.device, res_p);
    default:
        if (s == NULL)
            return plan_unordered(sc, op, 0, res_p);
        break;
    }

    /* Stream-ordered: CUDA's rules between streams, then the gates. */
    op->stream = s;
    stream_ref(s);
    if (!add_legacy_rules(sc, op, s) || !add_gates(sc, op, s)) {
        *res_p = CUDA_ERROR_OUT_OF_MEMORY;
        return PLAN_DONE;
    }
    return PLAN_QUEUE;
}

/* No lock held: whether the driver has completed the event's latest record. */
static bool driver_event_done(bf_srv_session_t *session, bf_srv_event_t *e)
{
    if (session->drv.EventQuery == NULL || e->real == NULL ||
        bf_srv_session_use(session, &session->devices[e->device]) != CUDA_SUCCESS)
        return true;
    return session->drv.EventQuery(e->real) != CUDA_ERROR_NOT_READY;
}

/* No lock held: whether the driver has finished all it was given on op's device (the legacy
 * stream and the probed streams), for a CTX_SYNCHRONIZE that may then run on the reader. The
 * probes' references are dropped. */
static bool driver_device_idle(bf_srv_session_t *session, bf_srv_op_t *op)
{
    bf_srv_sched_t *sc = &session->sched;
    graveyard_t grave = {0};
    bool idle = op->probe_all;

    if (idle && session->drv.StreamQuery != NULL && session->drv.StreamCreateWithPriority != NULL &&
        bf_srv_session_use(session, &session->devices[op->rq.req.CTX_SYNCHRONIZE.device]) ==
            CUDA_SUCCESS) {
        idle = session->drv.StreamQuery(NULL) != CUDA_ERROR_NOT_READY;
        for (int i = 0; i < op->probe_count && idle; i++) {
            /* Not destroyed meanwhile: only a completing CTX_RESET could, and it is not here. */
            idle = session->drv.StreamQuery(op->probe[i]->real) != CUDA_ERROR_NOT_READY;
        }
    }
    pthread_mutex_lock(&sc->lock);
    for (int i = 0; i < op->probe_count; i++)
        stream_unref(sc, op->probe[i], &grave);
    op->probe_count = 0;
    pthread_mutex_unlock(&sc->lock);
    bury(session, &grave);
    return idle;
}

/* Refuses op (with res) and frees it. */
static void refuse_op(bf_srv_session_t *session, bf_srv_op_t *op, CUresult res)
{
    bf_srv_sched_t *sc = &session->sched;
    graveyard_t grave = {0};
    uint8_t *tail = op->rq.tail_owned ? op->rq.tail : NULL;

    refuse(session, &op->rq, res);
    op->rq.tail_owned = false;
    pthread_mutex_lock(&sc->lock);
    complete_locked(sc, op, false);
    op_release(session, op, &grave);
    pthread_mutex_unlock(&sc->lock);
    bf_srv_sched_tail_free(session, tail);
    bury(session, &grave);
}

void bf_srv_sched_submit(bf_srv_session_t *session, bf_srv_request_t *rq)
{
    bf_srv_sched_t *sc = &session->sched;
    graveyard_t grave = {0};
    bf_srv_op_t *op;
    CUresult res;
    bool needs_idle = false;

    /* The connection's own ops, HELLO first of all, come before any scheduling state exists. */
    if (is_connection_op(rq->hdr.op)) {
        bf_srv_op_t local;
        memset(&local, 0, sizeof(local));
        local.rq = *rq;
        run_op(session, &local);
        if (rq->tail_owned)
            bf_srv_sched_tail_free(session, rq->tail);
        return;
    }

    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        refuse(session, rq, CUDA_ERROR_OUT_OF_MEMORY);
        if (rq->tail_owned)
            bf_srv_sched_tail_free(session, rq->tail);
        return;
    }
    op->rq = *rq;

    pthread_mutex_lock(&sc->lock);
    plan_t plan = plan_op(session, op, &res, &grave);
    if (plan == PLAN_QUEUE && op->stream != NULL) {
        bf_srv_stream_t *s = op->stream;
        s->enqueued++;
        op->counted = true;
        if (op->barrier)
            sc->gate[s->device] = s->enqueued;
        else if (s->kind == BF_SRV_STREAM_CONTROL && s->enqueued > sc->gate[s->device])
            sc->gate[s->device] = s->enqueued;  /* held behind a gate: extends it */
        /* Short work on an idle stream with nothing to wait for runs here and now. */
        if (s->head == NULL && !s->running && deps_ready(op) && is_short(&op->rq, &needs_idle)) {
            s->running = true;
            plan = PLAN_INLINE;
        }
    }
    pthread_mutex_unlock(&sc->lock);
    bury(session, &grave);

    if (plan == PLAN_DONE) {
        refuse_op(session, op, res);
        return;
    }
    if (plan == PLAN_INLINE && needs_idle && !driver_stream_idle(session, op->stream)) {
        /* The device is still busy with the stream's earlier work: the op waits on its thread. */
        pthread_mutex_lock(&sc->lock);
        op->stream->running = false;
        plan = PLAN_QUEUE;
        pthread_mutex_unlock(&sc->lock);
    }
    if (plan == PLAN_INLINE && op->check_event && !driver_event_done(session, op->event))
        plan = PLAN_QUEUE;  /* a waiter with nothing to wait for but the device */
    if (plan == PLAN_INLINE && op->rq.hdr.op == BF_OP_CTX_SYNCHRONIZE &&
        !driver_device_idle(session, op))
        plan = PLAN_QUEUE;
    if (plan == PLAN_INLINE) {
        run_and_complete(session, op, false);
        return;
    }

    /* Queued: the op must own its tail, and the reader may have to wait for room. */
    if (!own_tail(session, op)) {
        refuse_op(session, op, CUDA_ERROR_OUT_OF_MEMORY);
        return;
    }
    pthread_mutex_lock(&sc->lock);
    if (!enqueue_locked(session, op)) {
        /* No thread can be started: run it here, late but in order (what it waits for is earlier
         * work, which the threads that exist complete). */
        while ((!deps_ready(op) || (op->stream != NULL && op->stream->running)) && !sc->stopping)
            reader_wait(sc);
        if (op->counted)
            op->stream->running = true;
        pthread_mutex_unlock(&sc->lock);
        run_and_complete(session, op, false);
        return;
    }
    hold_back(sc);
    pthread_mutex_unlock(&sc->lock);
}
