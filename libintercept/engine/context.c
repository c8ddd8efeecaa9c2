/*
 * context.c: contexts as the client sees them.
 *
 * Each device of the session has one primary context (a reference count, flags, whether it is
 * active, its context-local storage). A CUcontext handed to the application is a pointer to the
 * engine's struct; it is accepted back only if it is one of ours and carries the context cookie,
 * so a stray pointer gets CUDA_ERROR_INVALID_CONTEXT instead of being dereferenced blindly.
 * The current context is a per-thread stack, as in the driver.
 *
 * Context-local storage is read before nearly every runtime call (CONTEXT_LOCAL_STORAGE slot 2),
 * so a lookup takes no lock: slots are published with release stores (value, then key) and read
 * with acquire loads. Changes take the context's lock. When a context dies (reset, last release)
 * the entries are taken out under the lock and their destructors run after it is dropped, since
 * a destructor may call back into the driver.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "bf_log.h"

#define CTX_COOKIE 0x6266637478u  /* "bfctx" */

typedef struct {
    _Atomic(void *) key;            /* NULL: free slot */
    _Atomic(void *) value;
    _Atomic(bf_cl_cls_dtor_fn_t) dtor;
} cls_slot_t;

struct bf_cl_ctx {
    uint64_t cookie;
    int device;
    /* Primary-context state, changed under lock. */
    pthread_mutex_t lock;
    int refcount;
    unsigned int flags;
    atomic_int active;
    atomic_int sticky;              /* a sticky error the worker reported (a kernel fault), or 0 */
    /* Settings the worker answered (limits, cache configuration), under lock; forgotten when the
     * context is reset. */
    uint64_t cached[BF_CL_CTX_CACHE_SLOTS];
    uint32_t cached_known;          /* bit per slot */
    /* Context-local storage: slots [0, cls_used) have been written at least once. */
    cls_slot_t cls[BF_CL_CLS_MAX];
    atomic_uint cls_used;
};

static bf_cl_ctx_t *primaries;  /* one per device, never freed: handles stay valid */
static int primary_count;

/* The calling thread's context stack; the top is stack[depth - 1]. */
static _Thread_local bf_cl_ctx_t *stack[BF_CL_CTX_STACK_MAX];
static _Thread_local int depth;

bf_status_t bf_cl_ctx_setup(int device_count)
{
    bf_cl_ctx_t *ctxs = calloc(device_count > 0 ? (size_t)device_count : 1, sizeof(*ctxs));

    if (ctxs == NULL)
        return BF_NO_MEMORY;
    for (int i = 0; i < device_count; i++) {
        ctxs[i].cookie = CTX_COOKIE;
        ctxs[i].device = i;
        pthread_mutex_init(&ctxs[i].lock, NULL);
    }
    primaries = ctxs;
    primary_count = device_count;
    return BF_OK;
}

/* The engine context behind a handle, or NULL when the handle is not a context of ours. */
static bf_cl_ctx_t *from_handle(CUcontext handle)
{
    uintptr_t p = (uintptr_t)handle, first = (uintptr_t)primaries;

    if (primaries == NULL || p < first)
        return NULL;
    uintptr_t offset = p - first;
    if (offset % sizeof(bf_cl_ctx_t) != 0 ||
        offset / sizeof(bf_cl_ctx_t) >= (uintptr_t)primary_count)
        return NULL;
    bf_cl_ctx_t *ctx = (bf_cl_ctx_t *)handle;
    return ctx->cookie == CTX_COOKIE ? ctx : NULL;
}

CUresult bf_cl_ctx_resolve(CUcontext handle, bf_cl_ctx_t **ctx_p)
{
    bf_cl_ctx_t *ctx;

    if (handle == NULL) {
        if (depth == 0)
            return CUDA_ERROR_INVALID_CONTEXT;
        ctx = stack[depth - 1];
    } else {
        ctx = from_handle(handle);
        if (ctx == NULL)
            return CUDA_ERROR_INVALID_CONTEXT;
    }
    *ctx_p = ctx;
    return CUDA_SUCCESS;
}

CUresult bf_cl_ctx_current(bf_cl_ctx_t **ctx_p)
{
    if (depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    bf_cl_ctx_t *ctx = stack[depth - 1];
    if (!atomic_load(&ctx->active))
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    int sticky = atomic_load_explicit(&ctx->sticky, memory_order_relaxed);
    if (sticky != CUDA_SUCCESS)
        return (CUresult)sticky;
    *ctx_p = ctx;
    return CUDA_SUCCESS;
}

/* ---- sticky errors ------------------------------------------------------------------------- */

int bf_cl_result_is_sticky(CUresult result)
{
    switch (result) {
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_LAUNCH_FAILED:
        return 1;
    default:
        return 0;
    }
}

void bf_cl_ctx_note_result(CUresult result)
{
    if (!bf_cl_result_is_sticky(result) || primaries == NULL)
        return;
    /* The reply answered a call of this thread, made in its current context. A thread without one
     * (an event synchronisation needs none) cannot say which context failed: the session's
     * contexts all take it, as the worker's single latched error would. */
    bf_cl_ctx_t *ctx = depth > 0 ? stack[depth - 1] : NULL;
    for (int i = 0; i < primary_count; i++) {
        if (ctx != NULL && ctx != &primaries[i])
            continue;
        if (!atomic_load(&primaries[i].active))
            continue;
        int expected = CUDA_SUCCESS;
        (void)atomic_compare_exchange_strong(&primaries[i].sticky, &expected, (int)result);
    }
}

int bf_cl_ctx_cache_get(bf_cl_ctx_t *ctx, int slot, uint64_t *value_p)
{
    int known;

    pthread_mutex_lock(&ctx->lock);
    known = (ctx->cached_known >> slot) & 1u;
    if (known)
        *value_p = ctx->cached[slot];
    pthread_mutex_unlock(&ctx->lock);
    return known;
}

void bf_cl_ctx_cache_put(bf_cl_ctx_t *ctx, int slot, int known, uint64_t value)
{
    pthread_mutex_lock(&ctx->lock);
    ctx->cached[slot] = value;
    if (known)
        ctx->cached_known |= 1u << slot;
    else
        ctx->cached_known &= ~(1u << slot);
    pthread_mutex_unlock(&ctx->lock);
}

CUresult bf_cl_ctx_sticky(int device)
{
    if (device < 0 || device >= primary_count)
        return CUDA_SUCCESS;
    return (CUresult)atomic_load_explicit(&primaries[device].sticky, memory_order_relaxed);
}

CUcontext bf_cl_primary_ctx(int ordinal)
{
    if (ordinal < 0 || ordinal >= primary_count)
        return NULL;
    return (CUcontext)&primaries[ordinal];
}

CUcontext bf_cl_ctx_handle(bf_cl_ctx_t *ctx)
{
    return (CUcontext)ctx;
}

int bf_cl_ctx_device(const bf_cl_ctx_t *ctx)
{
    return ctx->device;
}

int bf_cl_ctx_is_active(const bf_cl_ctx_t *ctx)
{
    return atomic_load(&((bf_cl_ctx_t *)ctx)->active);
}

unsigned int bf_cl_ctx_flags(const bf_cl_ctx_t *ctx)
{
    return ctx->flags;
}

/* ---- the per-thread stack ------------------------------------------------------------------ */

CUcontext bf_cl_ctx_get_current(void)
{
    return depth > 0 ? (CUcontext)stack[depth - 1] : NULL;
}

void bf_cl_ctx_set_current(bf_cl_ctx_t *ctx)
{
    if (ctx == NULL) {
        if (depth > 0)
            depth--;
        return;
    }
    if (depth == 0)
        depth = 1;
    stack[depth - 1] = ctx;
}

CUresult bf_cl_ctx_push(bf_cl_ctx_t *ctx)
{
    if (depth == BF_CL_CTX_STACK_MAX) {
        bf_log_error("context stack of this thread is full (%d contexts pushed)", depth);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    stack[depth++] = ctx;
    return CUDA_SUCCESS;
}

CUresult bf_cl_ctx_pop(CUcontext *ctx_p)
{
    if (depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    bf_cl_ctx_t *ctx = stack[--depth];
    if (ctx_p != NULL)
        *ctx_p = (CUcontext)ctx;
    return CUDA_SUCCESS;
}

/* ---- context-local storage ----------------------------------------------------------------- */

CUresult bf_cl_cls_get(bf_cl_ctx_t *ctx, void *key, void **value_p)
{
    unsigned used = atomic_load_explicit(&ctx->cls_used, memory_order_acquire);

    for (unsigned i = 0; i < used; i++) {
        if (atomic_load_explicit(&ctx->cls[i].key, memory_order_acquire) == key && key != NULL) {
            *value_p = atomic_load_explicit(&ctx->cls[i].value, memory_order_acquire);
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_HANDLE;
}

CUresult bf_cl_cls_put(bf_cl_ctx_t *ctx, void *key, void *value, bf_cl_cls_dtor_fn_t dtor)
{
    CUresult result = CUDA_SUCCESS;
    int free_slot = -1;

    if (key == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&ctx->lock);
    unsigned used = atomic_load_explicit(&ctx->cls_used, memory_order_relaxed);
    for (unsigned i = 0; i < used; i++) {
        void *k = atomic_load_explicit(&ctx->cls[i].key, memory_order_relaxed);
        if (k == key) {
            atomic_store_explicit(&ctx->cls[i].dtor, dtor, memory_order_relaxed);
            atomic_store_explicit(&ctx->cls[i].value, value, memory_order_release);
            goto out;
        }
        if (k == NULL && free_slot < 0)
            free_slot = (int)i;
    }
    if (free_slot < 0) {
        if (used == BF_CL_CLS_MAX) {
            bf_log_error("context-local storage of device %d is full (%d keys)", ctx->device,
                         BF_CL_CLS_MAX);
            result = CUDA_ERROR_OUT_OF_MEMORY;
            goto out;
        }
        free_slot = (int)used;
    }
    cls_slot_t *slot = &ctx->cls[free_slot];
    atomic_store_explicit(&slot->value, value, memory_order_relaxed);
    atomic_store_explicit(&slot->dtor, dtor, memory_order_relaxed);
    /* The key goes last: a reader that finds the key also finds its value. */
    atomic_store_explicit(&slot->key, key, memory_order_release);
    if ((unsigned)free_slot == used)
        atomic_store_explicit(&ctx->cls_used, used + 1, memory_order_release);
out:
    pthread_mutex_unlock(&ctx->lock);
    return result;
}

CUresult bf_cl_cls_delete(bf_cl_ctx_t *ctx, void *key)
{
    CUresult result = CUDA_ERROR_INVALID_HANDLE;

    if (key == NULL)
        return result;
    pthread_mutex_lock(&ctx->lock);
    unsigned used = atomic_load_explicit(&ctx->cls_used, memory_order_relaxed);
    for (unsigned i = 0; i < used; i++) {
        if (atomic_load_explicit(&ctx->cls[i].key, memory_order_relaxed) == key) {
            atomic_store_explicit(&ctx->cls[i].key, NULL, memory_order_release);
            result = CUDA_SUCCESS;
            break;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    return result;
}

typedef struct {
    void *key;
    void *value;
    bf_cl_cls_dtor_fn_t dtor;
} cls_entry_t;

/* Empties ctx's storage (lock held); returns the entries that were there. */
static unsigned cls_take_all(bf_cl_ctx_t *ctx, cls_entry_t out[BF_CL_CLS_MAX])
{
    unsigned used = atomic_load_explicit(&ctx->cls_used, memory_order_relaxed), n = 0;

    for (unsigned i = 0; i < used; i++) {
        void *key = atomic_load_explicit(&ctx->cls[i].key, memory_order_relaxed);
        if (key == NULL)
            continue;
        out[n].key   = key;
        out[n].value = atomic_load_explicit(&ctx->cls[i].value, memory_order_relaxed);
        out[n].dtor  = atomic_load_explicit(&ctx->cls[i].dtor, memory_order_relaxed);
        n++;
        atomic_store_explicit(&ctx->cls[i].key, NULL, memory_order_release);
    }
    return n;
}

static void cls_run_dtors(bf_cl_ctx_t *ctx, const cls_entry_t *entries, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (entries[i].dtor != NULL)
            entries[i].dtor((CUcontext)ctx, entries[i].key, entries[i].value);
}

/* ---- primary contexts ---------------------------------------------------------------------- */

CUresult bf_cl_primary_retain(int device, CUcontext *ctx_p)
{
    bf_cl_ctx_t *ctx = &primaries[device];

    pthread_mutex_lock(&ctx->lock);
    ctx->refcount++;
    atomic_store(&ctx->active, 1);
    pthread_mutex_unlock(&ctx->lock);
    *ctx_p = (CUcontext)ctx;
    return CUDA_SUCCESS;
}

/* Ends the life of a context's state: destructors first (while the context still works, since
 * they may call the driver), then the worker frees the device's allocations, streams and events
 * and the client forgets them. */
static CUresult destroy_state(bf_cl_ctx_t *ctx, const cls_entry_t *entries, unsigned n)
{
    cls_run_dtors(ctx, entries, n);
    bf_req_CTX_RESET_t req = {.device = (uint32_t)ctx->device};
    bf_rep_CTX_RESET_t rep;
    CUresult result = bf_cl_rpc_call(BF_OP_CTX_RESET, &req, NULL, 0, &rep, NULL);
    bf_cl_mem_drop_device(ctx->device);
    bf_cl_streams_drop_device(ctx->device);
    bf_cl_code_drop_device(ctx->device);
    atomic_store(&ctx->active, 0);
    /* The reset ends the context's errors with it (the worker's driver cleared its own). */
    atomic_store(&ctx->sticky, CUDA_SUCCESS);
    (void)bf_cl_take_latched();
    pthread_mutex_lock(&ctx->lock);
    ctx->cached_known = 0;
    pthread_mutex_unlock(&ctx->lock);
    return result;
}

CUresult bf_cl_primary_release(int device)
{
    bf_cl_ctx_t *ctx = &primaries[device];
    cls_entry_t entries[BF_CL_CLS_MAX];
    unsigned n = 0;
    int was_active = 0;

    pthread_mutex_lock(&ctx->lock);
    if (ctx->refcount == 0) {
        pthread_mutex_unlock(&ctx->lock);
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    int last = --ctx->refcount == 0;
    if (last) {
        was_active = atomic_load(&ctx->active);
        n = cls_take_all(ctx, entries);
    }
    pthread_mutex_unlock(&ctx->lock);
    if (!last)
        return CUDA_SUCCESS;
    if (!was_active) {
        /* Reset since it was last retained: nothing left on the worker. */
        cls_run_dtors(ctx, entries, n);
        return CUDA_SUCCESS;
    }
    return destroy_state(ctx, entries, n);
}

CUresult bf_cl_primary_reset(int device)
{
    bf_cl_ctx_t *ctx = &primaries[device];
    cls_entry_t entries[BF_CL_CLS_MAX];

    pthread_mutex_lock(&ctx->lock);
    unsigned n = cls_take_all(ctx, entries);
    int was_active = atomic_load(&ctx->active);
    ctx->flags = 0;
    pthread_mutex_unlock(&ctx->lock);
    if (!was_active) {
        /* Never used since the last reset or release: the worker holds nothing of it. */
        cls_run_dtors(ctx, entries, n);
        return CUDA_SUCCESS;
    }
    return destroy_state(ctx, entries, n);
}

void bf_cl_primary_set_flags(int device, unsigned int flags)
{
    bf_cl_ctx_t *ctx = &primaries[device];

    pthread_mutex_lock(&ctx->lock);
    ctx->flags = flags;
    pthread_mutex_unlock(&ctx->lock);
}

void bf_cl_primary_get_state(int device, unsigned int *flags_p, int *active_p)
{
    bf_cl_ctx_t *ctx = &primaries[device];

    pthread_mutex_lock(&ctx->lock);
    *flags_p  = ctx->flags;
    *active_p = atomic_load(&ctx->active);
    pthread_mutex_unlock(&ctx->lock);
}
