/*
 * stream.c: streams (cuStreamCreate*, cuStreamDestroy, queries, cuStreamSynchronize) and the
 * queue of work every stream owns, which the copies, memsets and event records of the other
 * families go through.
 *
 * A stream is an ordered queue of work items on one context. Whoever enqueues on an idle stream
 * drains the queue before returning, so work normally runs at once, in the caller's thread; when
 * another thread is already draining the same stream the new item is left to that thread. Work
 * never runs under a lock, and items are copies of their arguments, so an executor thread per
 * stream can later take over the draining without changing any caller: that is what asynchronous
 * kernel launch needs. Completion is counted (submitted, completed), which is all that queries,
 * synchronisation and events look at.
 *
 * Handles: a created stream's handle is its address, entered in a table of live streams; every
 * handle is looked up there before it is dereferenced, then its cookie is checked, so a destroyed
 * or made-up handle is CUDA_ERROR_INVALID_HANDLE and never a crash. References keep a stream alive
 * while a call uses it, even if another thread destroys it meanwhile. The special handles name
 * the current context's legacy default stream (NULL, CU_STREAM_LEGACY) or the calling thread's
 * per-thread default stream (CU_STREAM_PER_THREAD, and NULL in the _ptsz/_ptds entry points). The
 * legacy stream synchronises with the context's blocking streams, as in CUDA: work enqueued on one
 * starts after the work enqueued before it on the other.
 */
#include "emu.h"

#include <stdlib.h>
#include <string.h>

#include "bf_log.h"

/* Written into every stream; a handle whose object lacks it is rejected. */
#define BF_EMU_STREAM_COOKIE 0x6266656d75737472ull /* "bfemustr" */

/* cuCtxGetStreamPriorityRange: [greatest, least]. Six levels, as NVIDIA's drivers report for
 * recent GPUs; lower numbers are higher priorities. */
#define BF_EMU_STREAM_PRIORITY_LEAST 0
#define BF_EMU_STREAM_PRIORITY_GREATEST (-5)

typedef struct work {
    struct work *next;
    bf_emu_work_fn_t fn;
    bool marker;       /* runs under the stream's lock as the stream counts it complete */
    max_align_t arg[]; /* the caller's arguments, copied */
} work_t;

struct bf_emu_stream {
    uint64_t cookie;         /* BF_EMU_STREAM_COOKIE */
    unsigned int refs;       /* the live table's, plus one per bf_emu_stream_get() (atomic) */
    bool is_static;          /* a legacy stream: lives in legacy_streams[], never freed */
    const void *owner;       /* a per-thread default stream: its thread's token; else NULL */
    bf_emu_ctx_t *ctx;
    unsigned int flags;      /* CU_STREAM_* */
    int priority;            /* clamped to the range */
    unsigned long long id;   /* cuStreamGetId: never reused in a process */

    pthread_mutex_t lock;    /* guards the fields below */
    pthread_cond_t idle;     /* broadcast each time a work item completes */
    work_t *head, *tail;     /* work not started yet */
    bool draining;           /* a thread is running this stream's work */
    uint64_t submitted;      /* work items enqueued */
    uint64_t completed;      /* work items finished */
};

/* Live created and per-thread streams: [address, address + 1) -> stream. bf_emu.lock. */
static bf_range_map_t live_streams;

/* The legacy default stream of each device's primary context, set up at first use. bf_emu.lock. */
static bf_emu_stream_t legacy_streams[BF_EMU_DEVICE_COUNT];
static bool legacy_ready[BF_EMU_DEVICE_COUNT];

static unsigned long long next_stream_id = 1;

/* This thread's per-thread default stream on each device; only trusted after a table lookup, since
 * a context reset destroys it behind the thread's back. The token's address tells threads apart. */
static __thread bf_emu_stream_t *thread_streams[BF_EMU_DEVICE_COUNT];
static __thread char thread_token;
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static bool thread_key_made;

/* --- objects and the live table -------------------------------------------------------------- */

static void stream_init(bf_emu_stream_t *s, bf_emu_ctx_t *ctx, unsigned int flags, int priority)
{
    s->cookie = BF_EMU_STREAM_COOKIE;
    s->refs = 1;
    s->ctx = ctx;
    s->flags = flags;
    s->priority = priority;
    s->id = __atomic_fetch_add(&next_stream_id, 1, __ATOMIC_RELAXED);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
}

static bf_emu_stream_t *stream_new(bf_emu_ctx_t *ctx, unsigned int flags, int priority, const void *owner)
{
    bf_emu_stream_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    stream_init(s, ctx, flags, priority);
    s->owner = owner;
    return s;
}

void bf_emu_stream_put(bf_emu_stream_t *s)
{
    if (s->is_static || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    /* Every reference holder that enqueued also drained or handed its work to a drainer that holds
     * its own reference, so the last reference finds the queue empty. */
    s->cookie = 0;
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void stream_ref(bf_emu_stream_t *s)
{
    if (!s->is_static)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

/* The live stream at exactly this address, or NULL. Lock held. */
static bf_emu_stream_t *lookup_locked(const void *handle)
{
    const bf_range_t *range = bf_range_map_find(&live_streams, (uint64_t)(uintptr_t)handle);
    bf_emu_stream_t *s;

    if (range == NULL || range->base != (uint64_t)(uintptr_t)handle)
        return NULL;
    s = (bf_emu_stream_t *)(uintptr_t)range->value;
    return s->cookie == BF_EMU_STREAM_COOKIE ? s : NULL;
}

/* Enters a new stream in the table, which then owns its first reference. Lock held. */
static bf_status_t list_locked(bf_emu_stream_t *s)
{
    return bf_range_map_insert(&live_streams, (uint64_t)(uintptr_t)s, 1, (uint64_t)(uintptr_t)s);
}

/* Takes a stream out of the table; the caller then drops the table's reference. Lock held. */
static void unlist_locked(bf_emu_stream_t *s)
{
    (void)bf_range_map_remove(&live_streams, (uint64_t)(uintptr_t)s, NULL);
}

bf_emu_ctx_t *bf_emu_stream_ctx(const bf_emu_stream_t *s)
{
    return s->ctx;
}

/* --- the special streams --------------------------------------------------------------------- */

static bf_emu_stream_t *legacy_stream(const bf_emu_ctx_t *ctx)
{
    bf_emu_stream_t *s = &legacy_streams[ctx->device];

    pthread_mutex_lock(&bf_emu.lock);
    if (!legacy_ready[ctx->device]) {
        stream_init(s, &bf_emu.devices[ctx->device].primary, CU_STREAM_DEFAULT, 0);
        s->is_static = true;
        __atomic_store_n(&legacy_ready[ctx->device], true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return s;
}

/* The legacy stream of a device if it was ever used, else NULL (nothing to wait for). */
static bf_emu_stream_t *legacy_if_ready(CUdevice device)
{
    return __atomic_load_n(&legacy_ready[device], __ATOMIC_ACQUIRE) ? &legacy_streams[device] : NULL;
}

/* At thread exit: the thread's per-thread streams go, as with the real driver. */
static void thread_streams_release(void *unused)
{
    (void)unused;
    for (int d = 0; d < BF_EMU_DEVICE_COUNT; d++) {
        bf_emu_stream_t *s;

        pthread_mutex_lock(&bf_emu.lock);
        s = thread_streams[d];
        thread_streams[d] = NULL;
        if (s != NULL && (lookup_locked(s) != s || s->owner != &thread_token))
            s = NULL;
        if (s != NULL)
            unlist_locked(s);
        pthread_mutex_unlock(&bf_emu.lock);
        if (s != NULL)
            bf_emu_stream_put(s);
    }
}

static void thread_key_create(void)
{
    thread_key_made = pthread_key_create(&thread_key, thread_streams_release) == 0;
    if (!thread_key_made)
        bf_log_warn("cannot create a thread key: per-thread default streams outlive their threads");
}

/* An unloaded library must not be called back by exiting threads. */
__attribute__((destructor)) static void stream_fini(void)
{
    if (thread_key_made)
        pthread_key_delete(thread_key);
}

static CUresult thread_stream(bf_emu_ctx_t *ctx, bf_emu_stream_t **stream_p)
{
    bf_emu_stream_t *s;
    CUresult result = CUDA_SUCCESS;

    pthread_once(&thread_key_once, thread_key_create);
    pthread_mutex_lock(&bf_emu.lock);
    s = thread_streams[ctx->device];
    if (s != NULL && (lookup_locked(s) != s || s->owner != &thread_token))
        s = NULL;
    if (s == NULL) {
        s = stream_new(ctx, CU_STREAM_DEFAULT, 0, &thread_token);
        if (s == NULL || list_locked(s) != BF_OK) {
            free(s);
            s = NULL;
            result = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            thread_streams[ctx->device] = s;
            if (thread_key_made)
                pthread_setspecific(thread_key, &thread_token);
        }
    }
    if (s != NULL)
        stream_ref(s);
    pthread_mutex_unlock(&bf_emu.lock);
    if (result == CUDA_SUCCESS)
        *stream_p = s;
    else
        bf_log_error("cannot create the per-thread default stream: out of memory");
    return result;
}

CUresult bf_emu_stream_get(CUstream handle, bool per_thread, bf_emu_stream_t **stream_p)
{
    bf_emu_stream_t *s;
    bf_emu_ctx_t *ctx;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (handle == NULL)
        handle = per_thread ? CU_STREAM_PER_THREAD : CU_STREAM_LEGACY;
    if (handle == CU_STREAM_LEGACY || handle == CU_STREAM_PER_THREAD) {
        result = bf_emu_ctx_resolve(NULL, true, &ctx);
        if (result != CUDA_SUCCESS)
            return result;
        if (handle == CU_STREAM_PER_THREAD)
            return thread_stream(ctx, stream_p);
        *stream_p = legacy_stream(ctx);
        return CUDA_SUCCESS;
    }
    pthread_mutex_lock(&bf_emu.lock);
    s = lookup_locked(handle);
    /* A per-thread stream's address is never handed out; it is not a handle. */
    if (s != NULL && s->owner != NULL)
        s = NULL;
    if (s != NULL)
        stream_ref(s);
    pthread_mutex_unlock(&bf_emu.lock);
    if (s == NULL) {
        bf_log_debug("%p is not a live stream", (void *)handle);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    *stream_p = s;
    return CUDA_SUCCESS;
}

/* --- work ------------------------------------------------------------------------------------ */

void bf_emu_stream_wait(bf_emu_stream_t *s)
{
    pthread_mutex_lock(&s->lock);
    const uint64_t target = s->submitted;
    while (s->completed < target)
        pthread_cond_wait(&s->idle, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

/* References to the streams of ctx in the table (blocking ones only, if asked), and the count.
 * Returns NULL with a count of 0 when there are none, or on allocation failure (*failed_p set). */
static bf_emu_stream_t **collect(const bf_emu_ctx_t *ctx, bool blocking_only, size_t *count_p, bool *failed_p)
{
    bf_emu_stream_t **list = NULL;
    size_t count = 0;

    *failed_p = false;
    pthread_mutex_lock(&bf_emu.lock);
    if (live_streams.count > 0) {
        list = malloc(live_streams.count * sizeof(*list));
        *failed_p = list == NULL;
    }
    for (size_t i = 0; list != NULL && i < live_streams.count; i++) {
        bf_emu_stream_t *s = (bf_emu_stream_t *)(uintptr_t)live_streams.ranges[i].value;

        if (s->ctx != ctx || (blocking_only && (s->flags & CU_STREAM_NON_BLOCKING)))
            continue;
        stream_ref(s);
        list[count++] = s;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    *count_p = count;
    return list;
}

static void wait_all(bf_emu_stream_t **list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        bf_emu_stream_wait(list[i]);
        bf_emu_stream_put(list[i]);
    }
    free(list);
}

/* CUDA's implicit synchronisation: the legacy stream waits for the context's blocking streams,
 * and a blocking stream for the legacy stream. Non-blocking streams wait for nobody. */
static bf_status_t order_after_legacy(bf_emu_stream_t *s)
{
    bf_emu_stream_t **list;
    size_t count;
    bool failed;

    if (s->flags & CU_STREAM_NON_BLOCKING)
        return BF_OK;
    if (!s->is_static) {
        bf_emu_stream_t *legacy = legacy_if_ready(s->ctx->device);

        if (legacy != NULL)
            bf_emu_stream_wait(legacy);
        return BF_OK;
    }
    list = collect(s->ctx, true, &count, &failed);
    if (failed)
        return BF_NO_MEMORY;
    wait_all(list, count);
    return BF_OK;
}

/* Runs the queue until it is empty. s->lock held on entry and on return, dropped around each item
 * but a marker: a marker's effect and the stream's count change together, so that no observer
 * finds an event complete and its stream still busy, or the reverse. */
static void drain(bf_emu_stream_t *s)
{
    s->draining = true;
    while (s->head != NULL) {
        work_t *w = s->head;

        s->head = w->next;
        if (s->head == NULL)
            s->tail = NULL;
        if (!w->marker) {
            pthread_mutex_unlock(&s->lock);
            w->fn(w->arg);
            pthread_mutex_lock(&s->lock);
        } else {
            w->fn(w->arg);
        }
        s->completed++;
        pthread_cond_broadcast(&s->idle);
        free(w);
    }
    s->draining = false;
}

static bf_status_t enqueue(bf_emu_stream_t *s, bf_emu_work_fn_t fn, bf_emu_work_fn_t stamp, const void *arg,
                           size_t arg_size, bool marker)
{
    work_t *w = malloc(sizeof(*w) + arg_size);
    bf_status_t status;

    if (w == NULL)
        return BF_NO_MEMORY;
    w->next = NULL;
    w->fn = fn;
    w->marker = marker;
    memcpy(w->arg, arg, arg_size);
    status = order_after_legacy(s);
    if (status != BF_OK) {
        free(w);
        return status;
    }
    pthread_mutex_lock(&s->lock);
    /* After the implicit ordering: what the stamp counts cannot be waited for by that ordering. */
    if (stamp != NULL)
        stamp(w->arg);
    if (s->tail != NULL)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    s->submitted++;
    if (!s->draining)
        drain(s);
    pthread_mutex_unlock(&s->lock);
    return BF_OK;
}

bf_status_t bf_emu_stream_enqueue(bf_emu_stream_t *s, bf_emu_work_fn_t fn, const void *arg, size_t arg_size)
{
    return enqueue(s, fn, NULL, arg, arg_size, false);
}

bf_status_t bf_emu_stream_enqueue_marker(bf_emu_stream_t *s, bf_emu_work_fn_t fn, bf_emu_work_fn_t stamp,
                                         const void *arg, size_t arg_size)
{
    return enqueue(s, fn, stamp, arg, arg_size, true);
}

CUresult bf_emu_stream_sync_ctx(const bf_emu_ctx_t *ctx)
{
    bf_emu_stream_t *legacy = legacy_if_ready(ctx->device);
    bf_emu_stream_t **list;
    size_t count;
    bool failed;

    if (legacy != NULL)
        bf_emu_stream_wait(legacy);
    list = collect(ctx, false, &count, &failed);
    if (failed)
        return CUDA_ERROR_OUT_OF_MEMORY;
    wait_all(list, count);
    return CUDA_SUCCESS;
}

void bf_emu_stream_release_ctx(const bf_emu_ctx_t *ctx)
{
    size_t kept = 0;

    /* One pass that compacts the sorted array in place: the order of the survivors is unchanged. */
    for (size_t i = 0; i < live_streams.count; i++) {
        bf_emu_stream_t *s = (bf_emu_stream_t *)(uintptr_t)live_streams.ranges[i].value;

        if (s->ctx == ctx)
            bf_emu_stream_put(s);
        else
            live_streams.ranges[kept++] = live_streams.ranges[i];
    }
    live_streams.count = kept;
}

/* --- the API --------------------------------------------------------------------------------- */

CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    bf_emu_ctx_t *ctx;
    CUresult result = bf_emu_ctx_resolve(NULL, false, &ctx);

    if (result != CUDA_SUCCESS)
        return result;
    /* Either may be NULL when its value is not wanted. */
    if (leastPriority != NULL)
        *leastPriority = BF_EMU_STREAM_PRIORITY_LEAST;
    if (greatestPriority != NULL)
        *greatestPriority = BF_EMU_STREAM_PRIORITY_GREATEST;
    return CUDA_SUCCESS;
}

CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    bf_emu_stream_t *s;
    bf_emu_ctx_t *ctx;
    bf_status_t status;
    CUresult result = bf_emu_ctx_resolve(NULL, true, &ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (phStream == NULL || (flags & ~(unsigned int)CU_STREAM_NON_BLOCKING) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* Out of range priorities are clamped, not refused. */
    if (priority < BF_EMU_STREAM_PRIORITY_GREATEST)
        priority = BF_EMU_STREAM_PRIORITY_GREATEST;
    if (priority > BF_EMU_STREAM_PRIORITY_LEAST)
        priority = BF_EMU_STREAM_PRIORITY_LEAST;
    s = stream_new(ctx, flags, priority, NULL);
    if (s == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&bf_emu.lock);
    status = list_locked(s);
    pthread_mutex_unlock(&bf_emu.lock);
    if (status != BF_OK) {
        bf_emu_stream_put(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *phStream = (CUstream)s;
    return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return cuStreamCreateWithPriority(phStream, Flags, 0);
}

/* Work still queued runs to completion: the draining thread holds its own reference. */
CUresult cuStreamDestroy_v2(CUstream hStream)
{
    bf_emu_stream_t *s;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    s = lookup_locked(hStream);
    if (s != NULL && s->owner != NULL)
        s = NULL;
    if (s != NULL)
        unlist_locked(s);
    pthread_mutex_unlock(&bf_emu.lock);
    /* The special handles are never in the table: they cannot be destroyed. */
    if (s == NULL) {
        bf_log_debug("cuStreamDestroy: %p is not a live stream", (void *)hStream);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    bf_emu_stream_put(s);
    return CUDA_SUCCESS;
}

/* The pre-4.0 name has the same signature and meaning. */
CUresult cuStreamDestroy(CUstream hStream)
{
    return cuStreamDestroy_v2(hStream);
}

static CUresult stream_synchronize(CUstream hStream, bool per_thread)
{
    bf_emu_stream_t *s;
    CUresult result = bf_emu_stream_get(hStream, per_thread, &s);

    if (result != CUDA_SUCCESS) {
        bf_emu_devrt_flush(); /* a flush point even when a kernel has failed */
        return result;
    }
    bf_emu_stream_wait(s);
    bf_emu_stream_put(s);
    bf_emu_devrt_flush();
    return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream hStream)
{
    return stream_synchronize(hStream, false);
}

CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
    return stream_synchronize(hStream, true);
}

static CUresult stream_query(CUstream hStream, bool per_thread)
{
    bf_emu_stream_t *s;
    bool busy;
    CUresult result = bf_emu_stream_get(hStream, per_thread, &s);

    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&s->lock);
    busy = s->completed < s->submitted;
    pthread_mutex_unlock(&s->lock);
    bf_emu_stream_put(s);
    return busy ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

CUresult cuStreamQuery(CUstream hStream)
{
    return stream_query(hStream, false);
}

CUresult cuStreamQuery_ptsz(CUstream hStream)
{
    return stream_query(hStream, true);
}

/* The common preamble of the queries: the output pointer, then the stream. */
static CUresult query_stream(CUstream hStream, bool per_thread, const void *out, bf_emu_stream_t **stream_p)
{
    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (out == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    return bf_emu_stream_get(hStream, per_thread, stream_p);
}

static CUresult stream_get_flags(CUstream hStream, unsigned int *flags, bool per_thread)
{
    bf_emu_stream_t *s;
    CUresult result = query_stream(hStream, per_thread, flags, &s);

    if (result != CUDA_SUCCESS)
        return result;
    *flags = s->flags;
    bf_emu_stream_put(s);
    return CUDA_SUCCESS;
}

CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
    return stream_get_flags(hStream, flags, false);
}

CUresult cuStreamGetFlags_ptsz(CUstream hStream, unsigned int *flags)
{
    return stream_get_flags(hStream, flags, true);
}

static CUresult stream_get_priority(CUstream hStream, int *priority, bool per_thread)
{
    bf_emu_stream_t *s;
    CUresult result = query_stream(hStream, per_thread, priority, &s);

    if (result != CUDA_SUCCESS)
        return result;
    *priority = s->priority;
    bf_emu_stream_put(s);
    return CUDA_SUCCESS;
}

CUresult cuStreamGetPriority(CUstream hStream, int *priority)
{
    return stream_get_priority(hStream, priority, false);
}

CUresult cuStreamGetPriority_ptsz(CUstream hStream, int *priority)
{
    return stream_get_priority(hStream, priority, true);
}

static CUresult stream_get_id(CUstream hStream, unsigned long long *streamId, bool per_thread)
{
    bf_emu_stream_t *s;
    CUresult result = query_stream(hStream, per_thread, streamId, &s);

    if (result != CUDA_SUCCESS)
        return result;
    *streamId = s->id;
    bf_emu_stream_put(s);
    return CUDA_SUCCESS;
}

CUresult cuStreamGetId(CUstream hStream, unsigned long long *streamId)
{
    return stream_get_id(hStream, streamId, false);
}

CUresult cuStreamGetId_ptsz(CUstream hStream, unsigned long long *streamId)
{
    return stream_get_id(hStream, streamId, true);
}

static CUresult stream_get_device(CUstream hStream, CUdevice *device, bool per_thread)
{
    bf_emu_stream_t *s;
    CUresult result = query_stream(hStream, per_thread, device, &s);

    if (result != CUDA_SUCCESS)
        return result;
    *device = s->ctx->device;
    bf_emu_stream_put(s);
    return CUDA_SUCCESS;
}

CUresult cuStreamGetDevice(CUstream hStream, CUdevice *device)
{
    return stream_get_device(hStream, device, false);
}

CUresult cuStreamGetDevice_ptsz(CUstream hStream, CUdevice *device)
{
    return stream_get_device(hStream, device, true);
}

/* No green contexts here: *pGreenCtx (optional) is always NULL. */
static CUresult stream_get_ctx(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx, bool per_thread)
{
    bf_emu_stream_t *s;
    CUresult result = query_stream(hStream, per_thread, pCtx, &s);

    if (result != CUDA_SUCCESS)
        return result;
    *pCtx = (CUcontext)s->ctx;
    if (pGreenCtx != NULL)
        *pGreenCtx = NULL;
    bf_emu_stream_put(s);
    return CUDA_SUCCESS;
}

CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx)
{
    return stream_get_ctx(hStream, pctx, NULL, false);
}

CUresult cuStreamGetCtx_ptsz(CUstream hStream, CUcontext *pctx)
{
    return stream_get_ctx(hStream, pctx, NULL, true);
}

CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
    return stream_get_ctx(hStream, pCtx, pGreenCtx, false);
}

CUresult cuStreamGetCtx_v2_ptsz(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
    return stream_get_ctx(hStream, pCtx, pGreenCtx, true);
}
