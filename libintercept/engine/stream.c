/*
 * stream.c: streams and events as the client sees them.
 *
 * A stream or event is an engine object with an id the client chose, so creating one is a posted
 * operation (STREAM_CREATE, EVENT_CREATE) and costs no round trip. The handle given to the
 * application is the object's address; it is accepted back only if the table of live objects holds
 * it (looked up before anything is dereferenced), so a destroyed or stray handle gets
 * CUDA_ERROR_INVALID_HANDLE. Lookups copy the object's description out under a shared lock: a
 * thread destroying the object cannot pull it from under another.
 *
 * The special handles are resolved here, for the calling thread: NULL is the legacy default stream
 * (the per-thread one for the _ptsz/_ptds entry points), CU_STREAM_LEGACY always the legacy one, and
 * CU_STREAM_PER_THREAD the thread's own default stream of its current context's device. On the wire
 * the legacy stream of device d is id d; a per-thread default stream is an ordinary blocking stream
 * the engine creates on the thread's first use and destroys when the thread ends.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "bf_log.h"
#include "bf_range_map.h"

#define STREAM_COOKIE 0x6266737472656d73ull  /* "bfstrems" */
#define EVENT_COOKIE  0x62666576656e7473ull  /* "bfevents" */

typedef struct {
    uint64_t cookie;
    bf_cl_stream_info_t info;
} cl_stream_t;

typedef struct {
    uint64_t cookie;
    bf_cl_event_info_t info;
} cl_event_t;

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static bf_range_map_t streams;  /* handle address -> cl_stream_t * */
static bf_range_map_t events;   /* handle address -> cl_event_t * */

static atomic_uint_fast64_t next_stream_id = BF_PROTO_LEGACY_STREAMS;
static atomic_uint_fast64_t next_event_id = 1;

/* Bumped when a device's streams die (context reset): per-thread streams of older generations are
 * gone on the worker too. */
static atomic_uint generation[BF_CL_MAX_DEVICES];

typedef struct {
    uint64_t id;          /* 0: none yet */
    unsigned generation;
} per_thread_t;

static _Thread_local per_thread_t per_thread[BF_CL_MAX_DEVICES];
static pthread_key_t per_thread_key;
static pthread_once_t per_thread_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t priority_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int known, least, greatest;
} priority_range[BF_CL_MAX_DEVICES];

/* ---- per-thread default streams ------------------------------------------------------------ */

/* At thread exit: the thread's default streams go (their queued work still runs on the worker). */
static void per_thread_exit(void *unused)
{
    (void)unused;
    if (atomic_load(&bf_cl_conn.state) != BF_CL_CONN_READY)
        return;
    for (int d = 0; d < BF_CL_MAX_DEVICES; d++) {
        if (per_thread[d].id == 0 || per_thread[d].generation != atomic_load(&generation[d]))
            continue;
        bf_req_STREAM_DESTROY_t req = {.stream = per_thread[d].id};
        (void)bf_cl_rpc_post(BF_OP_STREAM_DESTROY, &req, NULL, 0);
        per_thread[d].id = 0;
    }
}

static void per_thread_key_create(void)
{
    (void)pthread_key_create(&per_thread_key, per_thread_exit);
}

/* The calling thread's default stream of device, created (posted) on first use. */
static CUresult per_thread_stream(int device, uint64_t *id_p)
{
    per_thread_t *pt = &per_thread[device];
    unsigned gen = atomic_load(&generation[device]);

    if (pt->id != 0 && pt->generation == gen) {
        *id_p = pt->id;
        return CUDA_SUCCESS;
    }
    uint64_t id = atomic_fetch_add(&next_stream_id, 1);
    bf_req_STREAM_CREATE_t req = {.stream = id, .device = (uint32_t)device, .flags = 0,
                                  .priority = 0};
    CUresult result = bf_cl_rpc_post(BF_OP_STREAM_CREATE, &req, NULL, 0);
    if (result != CUDA_SUCCESS)
        return result;
    pthread_once(&per_thread_once, per_thread_key_create);
    (void)pthread_setspecific(per_thread_key, (void *)1);  /* non-NULL: the destructor runs */
    pt->id = id;
    pt->generation = gen;
    *id_p = id;
    return CUDA_SUCCESS;
}

/* ---- streams ------------------------------------------------------------------------------- */

CUresult bf_cl_stream_resolve(CUstream handle, int per_thread_default, bf_cl_stream_info_t *info_p)
{
    bf_cl_ctx_t *ctx;
    CUresult result;

    if (handle == NULL)
        handle = per_thread_default ? CU_STREAM_PER_THREAD : CU_STREAM_LEGACY;
    if (handle == CU_STREAM_LEGACY || handle == CU_STREAM_PER_THREAD) {
        result = bf_cl_ctx_current(&ctx);
        if (result != CUDA_SUCCESS)
            return result;
        int device = bf_cl_ctx_device(ctx);
        bf_cl_stream_info_t info = {.id = (uint64_t)device, .device = device, .flags = 0,
                                    .priority = 0, .special = (int)(uintptr_t)handle};
        if (handle == CU_STREAM_PER_THREAD) {
            result = per_thread_stream(device, &info.id);
            if (result != CUDA_SUCCESS)
                return result;
        }
        *info_p = info;
        return CUDA_SUCCESS;
    }

    result = CUDA_ERROR_INVALID_HANDLE;
    pthread_rwlock_rdlock(&table_lock);
    const bf_range_t *range = bf_range_map_find(&streams, (uint64_t)(uintptr_t)handle);
    if (range != NULL && range->base == (uint64_t)(uintptr_t)handle) {
        const cl_stream_t *s = (const cl_stream_t *)(uintptr_t)range->value;
        if (s->cookie == STREAM_COOKIE) {
            *info_p = s->info;
            result = CUDA_SUCCESS;
        }
    }
    pthread_rwlock_unlock(&table_lock);
    return result;
}

CUresult bf_cl_stream_create(bf_cl_ctx_t *ctx, unsigned int flags, int priority, CUstream *stream_p)
{
    cl_stream_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    s->cookie = STREAM_COOKIE;
    s->info = (bf_cl_stream_info_t){.id = atomic_fetch_add(&next_stream_id, 1),
                                    .device = bf_cl_ctx_device(ctx), .flags = flags,
                                    .priority = priority};
    pthread_rwlock_wrlock(&table_lock);
    bf_status_t status = bf_range_map_insert(&streams, (uint64_t)(uintptr_t)s, 1,
                                             (uint64_t)(uintptr_t)s);
    pthread_rwlock_unlock(&table_lock);
    if (status != BF_OK) {
        free(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    bf_req_STREAM_CREATE_t req = {.stream = s->info.id, .device = (uint32_t)s->info.device,
                                  .flags = flags, .priority = priority};
    CUresult result = bf_cl_rpc_post(BF_OP_STREAM_CREATE, &req, NULL, 0);
    if (result != CUDA_SUCCESS) {
        pthread_rwlock_wrlock(&table_lock);
        (void)bf_range_map_remove(&streams, (uint64_t)(uintptr_t)s, NULL);
        pthread_rwlock_unlock(&table_lock);
        free(s);
        return result;
    }
    *stream_p = (CUstream)s;
    return CUDA_SUCCESS;
}

CUresult bf_cl_stream_destroy(CUstream handle)
{
    cl_stream_t *s = NULL;

    pthread_rwlock_wrlock(&table_lock);
    const bf_range_t *range = bf_range_map_find(&streams, (uint64_t)(uintptr_t)handle);
    if (range != NULL && range->base == (uint64_t)(uintptr_t)handle) {
        s = (cl_stream_t *)(uintptr_t)range->value;
        (void)bf_range_map_remove(&streams, range->base, NULL);
    }
    pthread_rwlock_unlock(&table_lock);
    if (s == NULL)
        return CUDA_ERROR_INVALID_HANDLE;
    bf_req_STREAM_DESTROY_t req = {.stream = s->info.id};
    s->cookie = 0;
    free(s);
    /* Work already queued on the stream still runs: the worker destroys it once drained. */
    return bf_cl_rpc_post(BF_OP_STREAM_DESTROY, &req, NULL, 0);
}

CUresult bf_cl_stream_priority_range(int device, int *least_p, int *greatest_p)
{
    pthread_mutex_lock(&priority_lock);
    int known = priority_range[device].known;
    int least = priority_range[device].least, greatest = priority_range[device].greatest;
    pthread_mutex_unlock(&priority_lock);
    if (!known) {
        bf_req_STREAM_PRIORITY_RANGE_t req = {.device = (uint32_t)device};
        bf_rep_STREAM_PRIORITY_RANGE_t rep;
        CUresult result = bf_cl_rpc_call(BF_OP_STREAM_PRIORITY_RANGE, &req, NULL, 0, &rep, NULL);
        if (result != CUDA_SUCCESS)
            return result;
        least = rep.least;
        greatest = rep.greatest;
        pthread_mutex_lock(&priority_lock);
        priority_range[device].least = least;
        priority_range[device].greatest = greatest;
        priority_range[device].known = 1;
        pthread_mutex_unlock(&priority_lock);
    }
    *least_p = least;
    *greatest_p = greatest;
    return CUDA_SUCCESS;
}

/* ---- events -------------------------------------------------------------------------------- */

/* Lock held: the live event behind handle, or NULL. */
static cl_event_t *event_find(CUevent handle)
{
    const bf_range_t *range = bf_range_map_find(&events, (uint64_t)(uintptr_t)handle);

    if (handle == NULL || range == NULL || range->base != (uint64_t)(uintptr_t)handle)
        return NULL;
    cl_event_t *e = (cl_event_t *)(uintptr_t)range->value;
    return e->cookie == EVENT_COOKIE ? e : NULL;
}

CUresult bf_cl_event_resolve(CUevent handle, bf_cl_event_info_t *info_p)
{
    CUresult result = CUDA_ERROR_INVALID_HANDLE;

    pthread_rwlock_rdlock(&table_lock);
    const cl_event_t *e = event_find(handle);
    if (e != NULL) {
        *info_p = e->info;
        result = CUDA_SUCCESS;
    }
    pthread_rwlock_unlock(&table_lock);
    return result;
}

CUresult bf_cl_event_create(bf_cl_ctx_t *ctx, unsigned int flags, CUevent *event_p)
{
    cl_event_t *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    e->cookie = EVENT_COOKIE;
    e->info = (bf_cl_event_info_t){.id = atomic_fetch_add(&next_event_id, 1),
                                   .device = bf_cl_ctx_device(ctx), .flags = flags};
    pthread_rwlock_wrlock(&table_lock);
    bf_status_t status = bf_range_map_insert(&events, (uint64_t)(uintptr_t)e, 1,
                                             (uint64_t)(uintptr_t)e);
    pthread_rwlock_unlock(&table_lock);
    if (status != BF_OK) {
        free(e);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    bf_req_EVENT_CREATE_t req = {.event = e->info.id, .device = (uint32_t)e->info.device,
                                 .flags = flags};
    CUresult result = bf_cl_rpc_post(BF_OP_EVENT_CREATE, &req, NULL, 0);
    if (result != CUDA_SUCCESS) {
        pthread_rwlock_wrlock(&table_lock);
        (void)bf_range_map_remove(&events, (uint64_t)(uintptr_t)e, NULL);
        pthread_rwlock_unlock(&table_lock);
        free(e);
        return result;
    }
    *event_p = (CUevent)e;
    return CUDA_SUCCESS;
}

void bf_cl_event_mark_recorded(CUevent handle)
{
    /* Events are recorded again and again: the exclusive lock only for the first record. */
    pthread_rwlock_rdlock(&table_lock);
    const cl_event_t *e = event_find(handle);
    int recorded = e == NULL || e->info.recorded;
    pthread_rwlock_unlock(&table_lock);
    if (recorded)
        return;
    pthread_rwlock_wrlock(&table_lock);
    cl_event_t *found = event_find(handle);
    if (found != NULL)
        found->info.recorded = 1;
    pthread_rwlock_unlock(&table_lock);
}

CUresult bf_cl_event_destroy(CUevent handle)
{
    pthread_rwlock_wrlock(&table_lock);
    cl_event_t *e = event_find(handle);
    if (e != NULL)
        (void)bf_range_map_remove(&events, (uint64_t)(uintptr_t)handle, NULL);
    pthread_rwlock_unlock(&table_lock);
    if (e == NULL)
        return CUDA_ERROR_INVALID_HANDLE;
    bf_req_EVENT_DESTROY_t req = {.event = e->info.id};
    e->cookie = 0;
    free(e);
    /* Records and waits already queued still happen: the worker frees it after them. */
    return bf_cl_rpc_post(BF_OP_EVENT_DESTROY, &req, NULL, 0);
}

/* ---- context reset ------------------------------------------------------------------------- */

void bf_cl_streams_drop_device(int device)
{
    pthread_rwlock_wrlock(&table_lock);
    for (size_t i = 0; i < streams.count;) {
        cl_stream_t *s = (cl_stream_t *)(uintptr_t)streams.ranges[i].value;
        if (s->info.device != device) {
            i++;
            continue;
        }
        (void)bf_range_map_remove(&streams, streams.ranges[i].base, NULL);
        s->cookie = 0;
        free(s);
    }
    for (size_t i = 0; i < events.count;) {
        cl_event_t *e = (cl_event_t *)(uintptr_t)events.ranges[i].value;
        if (e->info.device != device) {
            i++;
            continue;
        }
        (void)bf_range_map_remove(&events, events.ranges[i].base, NULL);
        e->cookie = 0;
        free(e);
    }
    atomic_fetch_add(&generation[device], 1);
    pthread_rwlock_unlock(&table_lock);
    bf_log_debug("streams and events of device %d forgotten", device);
}
