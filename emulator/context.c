/*
 * context.c: primary contexts (cuDevicePrimaryCtx*) and the per-thread context stack (cuCtx*).
 *
 * Each device has one primary context object for the life of the process, so its handle stays the
 * same across release and reset, as with the real driver. It is active between a retain and the
 * last release or a reset; deactivating it frees all memory it allocated. A reset leaves the retain
 * count alone ("resetting the primary context does not release it", cuda.h), so a later release
 * still balances an earlier retain.
 *
 * The current context is a per-thread stack of handles; cuCtxSetCurrent replaces its top.
 */
#include "emu.h"

#include "bf_log.h"

/* Deeper nesting than this is a program bug; it is refused rather than grown without bound. */
#define BF_EMU_CTX_STACK_MAX 64

/* Version reported by cuCtxGetApiVersion: what the real driver reports for primary contexts. */
#define BF_EMU_CTX_API_VERSION 3020

static __thread bf_emu_ctx_t *ctx_stack[BF_EMU_CTX_STACK_MAX];
static __thread unsigned int ctx_depth;

bf_emu_ctx_t *bf_emu_ctx_lookup(CUcontext handle)
{
    for (int i = 0; i < bf_emu.device_count; i++) {
        bf_emu_ctx_t *ctx = &bf_emu.devices[i].primary;

        if ((CUcontext)ctx == handle)
            return ctx->cookie == BF_EMU_CTX_COOKIE ? ctx : NULL;
    }
    return NULL;
}

CUresult bf_emu_ctx_resolve(CUcontext handle, bool need_active, bf_emu_ctx_t **ctx_p)
{
    CUresult result = CUDA_SUCCESS;
    bf_emu_ctx_t *ctx;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (handle == NULL) {
        if (ctx_depth == 0)
            return CUDA_ERROR_INVALID_CONTEXT;
        handle = (CUcontext)ctx_stack[ctx_depth - 1];
    }
    pthread_mutex_lock(&bf_emu.lock);
    ctx = bf_emu_ctx_lookup(handle);
    if (ctx == NULL)
        result = CUDA_ERROR_INVALID_CONTEXT;
    else if (need_active && !ctx->active)
        result = CUDA_ERROR_CONTEXT_IS_DESTROYED;
    else if (ctx->sticky_error != CUDA_SUCCESS)
        result = ctx->sticky_error; /* a kernel faulted: the context is unusable until reset */
    pthread_mutex_unlock(&bf_emu.lock);
    if (result == CUDA_SUCCESS)
        *ctx_p = ctx;
    return result;
}

/* Ends an activation: the context's memory goes back to the arena. Lock held. */
static void primary_deactivate(bf_emu_device_t *dev)
{
    if (!dev->primary.active)
        return;
    /* As with the real driver, everything the context created goes with it. */
    bf_emu_stream_release_ctx(&dev->primary);
    bf_emu_event_release_ctx(&dev->primary);
    bf_emu_host_free_ctx(&dev->primary);
    bf_emu_module_release_ctx(&dev->primary);
    bf_emu_devrt_reset(&dev->primary);
    bf_emu_arena_free_ctx(&dev->arena, &dev->primary);
    dev->primary.active = false;
    dev->primary.sticky_error = CUDA_SUCCESS;
    bf_log_debug("primary context of device %d deactivated", dev->ordinal);
}

/* --- primary contexts ------------------------------------------------------------------------ */

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (pctx == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&bf_emu.lock);
    dev->primary.refcount++;
    dev->primary.active = true;
    pthread_mutex_unlock(&bf_emu.lock);
    *pctx = (CUcontext)&dev->primary;
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&bf_emu.lock);
    if (dev->primary.refcount == 0) {
        result = CUDA_ERROR_INVALID_CONTEXT;
    } else if (--dev->primary.refcount == 0) {
        primary_deactivate(dev);
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

/* The legacy name only differs from _v2 in the real driver's handling of CUDA 4.0 runtimes. */
CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
    return cuDevicePrimaryCtxRelease_v2(dev);
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&bf_emu.lock);
    primary_deactivate(dev);
    /* "Reset all state": the flags go back to their default too. */
    dev->primary.flags = 0;
    pthread_mutex_unlock(&bf_emu.lock);
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    return cuDevicePrimaryCtxReset_v2(dev);
}

/* One scheduling policy at most (SPIN, YIELD or BLOCKING_SYNC), no bits outside the mask. */
static bool ctx_flags_valid(unsigned int flags)
{
    const unsigned int sched = flags & CU_CTX_SCHED_MASK;

    return (flags & ~(unsigned int)CU_CTX_FLAGS_MASK) == 0 &&
           (sched == CU_CTX_SCHED_AUTO || sched == CU_CTX_SCHED_SPIN || sched == CU_CTX_SCHED_YIELD ||
            sched == CU_CTX_SCHED_BLOCKING_SYNC);
}

static CUresult primary_set_flags(CUdevice ordinal, unsigned int flags, bool allow_active)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (!ctx_flags_valid(flags))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&bf_emu.lock);
    if (!allow_active && dev->primary.active)
        result = CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE;
    else
        dev->primary.flags = flags;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
    return primary_set_flags(dev, flags, true);
}

/* Before CUDA 11.0 the flags of an active primary context could not change. */
CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
    return primary_set_flags(dev, flags, false);
}

CUresult cuDevicePrimaryCtxGetState(CUdevice ordinal, unsigned int *flags, int *active)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (flags == NULL || active == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&bf_emu.lock);
    *flags = dev->primary.flags;
    *active = dev->primary.active ? 1 : 0;
    pthread_mutex_unlock(&bf_emu.lock);
    return CUDA_SUCCESS;
}

/* --- the current context --------------------------------------------------------------------- */

/* Checks a handle given to SetCurrent/PushCurrent. A released primary context is still accepted:
 * cudart makes it current again before it retains it. */
static CUresult known_context(CUcontext handle, bf_emu_ctx_t **ctx_p)
{
    bf_emu_ctx_t *ctx;

    pthread_mutex_lock(&bf_emu.lock);
    ctx = bf_emu_ctx_lookup(handle);
    pthread_mutex_unlock(&bf_emu.lock);
    if (ctx == NULL)
        return CUDA_ERROR_INVALID_CONTEXT;
    *ctx_p = ctx;
    return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (pctx == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *pctx = ctx_depth > 0 ? (CUcontext)ctx_stack[ctx_depth - 1] : NULL;
    return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext handle)
{
    bf_emu_ctx_t *ctx;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (handle == NULL) {
        if (ctx_depth > 0)
            ctx_depth--;
        return CUDA_SUCCESS;
    }
    result = known_context(handle, &ctx);
    if (result != CUDA_SUCCESS)
        return result;
    if (ctx_depth == 0)
        ctx_depth = 1;
    ctx_stack[ctx_depth - 1] = ctx;
    return CUDA_SUCCESS;
}

CUresult cuCtxPushCurrent_v2(CUcontext handle)
{
    bf_emu_ctx_t *ctx;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (handle == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    result = known_context(handle, &ctx);
    if (result != CUDA_SUCCESS)
        return result;
    if (ctx_depth == BF_EMU_CTX_STACK_MAX) {
        bf_log_error("context stack of this thread is full (%d contexts pushed)", BF_EMU_CTX_STACK_MAX);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    ctx_stack[ctx_depth++] = ctx;
    return CUDA_SUCCESS;
}

CUresult cuCtxPushCurrent(CUcontext ctx)
{
    return cuCtxPushCurrent_v2(ctx);
}

CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (ctx_depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    ctx_depth--;
    if (pctx != NULL)
        *pctx = (CUcontext)ctx_stack[ctx_depth];
    return CUDA_SUCCESS;
}

CUresult cuCtxPopCurrent(CUcontext *pctx)
{
    return cuCtxPopCurrent_v2(pctx);
}

CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext handle)
{
    bf_emu_ctx_t *ctx;
    CUresult result;

    if (device == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = bf_emu_ctx_resolve(handle, false, &ctx);
    if (result == CUDA_SUCCESS)
        *device = ctx->device;
    return result;
}

CUresult cuCtxGetDevice(CUdevice *device)
{
    return cuCtxGetDevice_v2(device, NULL);
}

/* Waits for the work of every stream of the context (stream.c). */
CUresult cuCtxSynchronize_v2(CUcontext handle)
{
    bf_emu_ctx_t *ctx;
    CUresult result = bf_emu_ctx_resolve(handle, false, &ctx);

    if (result != CUDA_SUCCESS) {
        bf_emu_devrt_flush(); /* what a faulting grid printed, and its assertion messages */
        return result;
    }
    result = bf_emu_stream_sync_ctx(ctx);
    bf_emu_devrt_flush();
    /* A grid that faulted while this call waited has made the context's error sticky. */
    if (result == CUDA_SUCCESS)
        result = bf_emu_ctx_resolve(handle, false, &ctx);
    return result;
}

CUresult cuCtxSynchronize(void)
{
    return cuCtxSynchronize_v2(NULL);
}

CUresult cuCtxGetApiVersion(CUcontext handle, unsigned int *version)
{
    bf_emu_ctx_t *ctx;
    CUresult result;

    if (version == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = bf_emu_ctx_resolve(handle, false, &ctx);
    if (result == CUDA_SUCCESS)
        *version = BF_EMU_CTX_API_VERSION;
    return result;
}

CUresult cuCtxGetFlags(unsigned int *flags)
{
    bf_emu_ctx_t *ctx;
    CUresult result;

    if (flags == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = bf_emu_ctx_resolve(NULL, false, &ctx);
    if (result == CUDA_SUCCESS) {
        pthread_mutex_lock(&bf_emu.lock);
        *flags = ctx->flags;
        pthread_mutex_unlock(&bf_emu.lock);
    }
    return result;
}
