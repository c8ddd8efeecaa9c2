/*
 * context.c: primary contexts and the cuCtx* calls, on the engine's contexts (engine/context.c).
 *
 * Only primary contexts exist in this round (cuCtxCreate is a stub). cudart sets the current
 * context with cuCtxSetCurrent before it retains the primary context, so a known but inactive
 * context is accepted as current; work on it fails with CUDA_ERROR_CONTEXT_IS_DESTROYED.
 */
#include "driver.h"

/* Every flag cuDevicePrimaryCtxSetFlags knows; the scheduling part must be one of the four. */
static int flags_valid(unsigned int flags)
{
    unsigned int sched = flags & CU_CTX_SCHED_MASK;

    if (flags & ~(unsigned int)CU_CTX_FLAGS_MASK)
        return 0;
    return sched == CU_CTX_SCHED_AUTO || sched == CU_CTX_SCHED_SPIN ||
           sched == CU_CTX_SCHED_YIELD || sched == CU_CTX_SCHED_BLOCKING_SYNC;
}

BF_API CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    BF_CHECK_INIT();
    if (pctx == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult result = bf_dev_check(dev);
    if (result != CUDA_SUCCESS)
        return result;
    return bf_cl_primary_retain(dev, pctx);
}

BF_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    BF_CHECK_INIT();
    CUresult result = bf_dev_check(dev);
    if (result != CUDA_SUCCESS)
        return result;
    return bf_cl_primary_release(dev);
}

BF_API CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
    return cuDevicePrimaryCtxRelease_v2(dev);
}

BF_API CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    BF_CHECK_INIT();
    CUresult result = bf_dev_check(dev);
    if (result != CUDA_SUCCESS)
        return result;
    return bf_cl_primary_reset(dev);
}

BF_API CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    return cuDevicePrimaryCtxReset_v2(dev);
}

BF_API CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
    BF_CHECK_INIT();
    CUresult result = bf_dev_check(dev);
    if (result != CUDA_SUCCESS)
        return result;
    if (!flags_valid(flags))
        return CUDA_ERROR_INVALID_VALUE;
    bf_cl_primary_set_flags(dev, flags);
    return CUDA_SUCCESS;
}

BF_API CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
    return cuDevicePrimaryCtxSetFlags_v2(dev, flags);
}

BF_API CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
    BF_CHECK_INIT();
    CUresult result = bf_dev_check(dev);
    if (result != CUDA_SUCCESS)
        return result;
    if (flags == NULL || active == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    bf_cl_primary_get_state(dev, flags, active);
    return CUDA_SUCCESS;
}

BF_API CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    BF_CHECK_INIT();
    if (pctx == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *pctx = bf_cl_ctx_get_current();
    return CUDA_SUCCESS;
}

BF_API CUresult cuCtxSetCurrent(CUcontext ctx)
{
    bf_cl_ctx_t *engine_ctx = NULL;

    BF_CHECK_INIT();
    if (ctx != NULL) {
        CUresult result = bf_cl_ctx_resolve(ctx, &engine_ctx);
        if (result != CUDA_SUCCESS)
            return result;
    }
    bf_cl_ctx_set_current(engine_ctx);
    return CUDA_SUCCESS;
}

BF_API CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
    bf_cl_ctx_t *engine_ctx;

    BF_CHECK_INIT();
    if (ctx == NULL)
        return CUDA_ERROR_INVALID_CONTEXT;
    CUresult result = bf_cl_ctx_resolve(ctx, &engine_ctx);
    if (result != CUDA_SUCCESS)
        return result;
    return bf_cl_ctx_push(engine_ctx);
}

BF_API CUresult cuCtxPushCurrent(CUcontext ctx)
{
    return cuCtxPushCurrent_v2(ctx);
}

BF_API CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
    BF_CHECK_INIT();
    return bf_cl_ctx_pop(pctx);
}

BF_API CUresult cuCtxPopCurrent(CUcontext *pctx)
{
    return cuCtxPopCurrent_v2(pctx);
}

BF_API CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx)
{
    bf_cl_ctx_t *engine_ctx;

    BF_CHECK_INIT();
    if (device == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult result = bf_cl_ctx_resolve(ctx, &engine_ctx);
    if (result != CUDA_SUCCESS)
        return result;
    *device = bf_cl_ctx_device(engine_ctx);
    return CUDA_SUCCESS;
}

BF_API CUresult cuCtxGetDevice(CUdevice *device)
{
    return cuCtxGetDevice_v2(device, NULL);
}

BF_API CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
    bf_cl_ctx_t *engine_ctx;

    BF_CHECK_INIT();
    CUresult result = bf_cl_ctx_resolve(ctx, &engine_ctx);
    if (result != CUDA_SUCCESS)
        return result;
    if (!bf_cl_ctx_is_active(engine_ctx))
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    result = bf_cl_ctx_sticky(bf_cl_ctx_device(engine_ctx));
    if (result != CUDA_SUCCESS)
        return result;
    bf_req_CTX_SYNCHRONIZE_t req = {.device = (uint32_t)bf_cl_ctx_device(engine_ctx)};
    bf_rep_CTX_SYNCHRONIZE_t rep;
    result = bf_cl_rpc_call(BF_OP_CTX_SYNCHRONIZE, &req, NULL, 0, &rep, NULL);
    /* The reply came after every earlier async copy's: their errors are known now. */
    return result == CUDA_SUCCESS ? bf_cl_take_latched() : result;
}

BF_API CUresult cuCtxSynchronize(void)
{
    return cuCtxSynchronize_v2(NULL);
}

BF_API CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
    bf_cl_ctx_t *engine_ctx;

    BF_CHECK_INIT();
    if (version == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult result = bf_cl_ctx_resolve(ctx, &engine_ctx);
    if (result != CUDA_SUCCESS)
        return result;
    *version = BF_CL_CTX_API_VERSION;
    return CUDA_SUCCESS;
}

BF_API CUresult cuCtxGetFlags(unsigned int *flags)
{
    bf_cl_ctx_t *engine_ctx;

    BF_CHECK_INIT();
    if (flags == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult result = bf_cl_ctx_resolve(NULL, &engine_ctx);
    if (result != CUDA_SUCCESS)
        return result;
    *flags = bf_cl_ctx_flags(engine_ctx);
    return CUDA_SUCCESS;
}

/* ---- limits and cache configuration ----------------------------------------------------------
 * Forwarded to the worker's driver as waited calls (its answer, CUDA_ERROR_UNSUPPORTED_LIMIT
 * included, is the answer). Values the worker answered are remembered until the context is reset;
 * a set forgets the value (the driver may round it) so the next get asks again. */

BF_API CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
    bf_cl_ctx_t *ctx;

    BF_CHECK_INIT();
    CUresult result = bf_cl_ctx_current(&ctx);
    if (result != CUDA_SUCCESS)
        return result;
    if ((int)limit < 0 || limit >= CU_LIMIT_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    bf_req_CTX_SET_LIMIT_t req = {.device = (uint32_t)bf_cl_ctx_device(ctx),
                                  .limit = (uint32_t)limit, .value = value};
    bf_rep_CTX_SET_LIMIT_t rep;
    result = bf_cl_rpc_call(BF_OP_CTX_SET_LIMIT, &req, NULL, 0, &rep, NULL);
    bf_cl_ctx_cache_put(ctx, (int)limit, 0, 0);
    return result;
}

BF_API CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
    bf_cl_ctx_t *ctx;
    uint64_t value;

    BF_CHECK_INIT();
    CUresult result = bf_cl_ctx_current(&ctx);
    if (result != CUDA_SUCCESS)
        return result;
    if (pvalue == NULL || (int)limit < 0 || limit >= CU_LIMIT_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_cl_ctx_cache_get(ctx, (int)limit, &value)) {
        bf_req_CTX_GET_LIMIT_t req = {.device = (uint32_t)bf_cl_ctx_device(ctx),
                                      .limit = (uint32_t)limit};
        bf_rep_CTX_GET_LIMIT_t rep;
        result = bf_cl_rpc_call(BF_OP_CTX_GET_LIMIT, &req, NULL, 0, &rep, NULL);
        if (result != CUDA_SUCCESS)
            return result;
        value = rep.value;
        bf_cl_ctx_cache_put(ctx, (int)limit, 1, value);
    }
    *pvalue = (size_t)value;
    return CUDA_SUCCESS;
}

BF_API CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
    bf_cl_ctx_t *ctx;

    BF_CHECK_INIT();
    CUresult result = bf_cl_ctx_current(&ctx);
    if (result != CUDA_SUCCESS)
        return result;
    if ((int)config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL)
        return CUDA_ERROR_INVALID_VALUE;
    bf_req_CTX_SET_CACHE_CONFIG_t req = {.device = (uint32_t)bf_cl_ctx_device(ctx),
                                         .config = (uint32_t)config};
    bf_rep_CTX_SET_CACHE_CONFIG_t rep;
    result = bf_cl_rpc_call(BF_OP_CTX_SET_CACHE_CONFIG, &req, NULL, 0, &rep, NULL);
    bf_cl_ctx_cache_put(ctx, BF_CL_CTX_CACHE_CONFIG, 0, 0);
    return result;
}

BF_API CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
    bf_cl_ctx_t *ctx;
    uint64_t value;

    BF_CHECK_INIT();
    CUresult result = bf_cl_ctx_current(&ctx);
    if (result != CUDA_SUCCESS)
        return result;
    if (pconfig == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_cl_ctx_cache_get(ctx, BF_CL_CTX_CACHE_CONFIG, &value)) {
        bf_req_CTX_GET_CACHE_CONFIG_t req = {.device = (uint32_t)bf_cl_ctx_device(ctx)};
        bf_rep_CTX_GET_CACHE_CONFIG_t rep;
        result = bf_cl_rpc_call(BF_OP_CTX_GET_CACHE_CONFIG, &req, NULL, 0, &rep, NULL);
        if (result != CUDA_SUCCESS)
            return result;
        value = rep.config;
        bf_cl_ctx_cache_put(ctx, BF_CL_CTX_CACHE_CONFIG, 1, value);
    }
    *pconfig = (CUfunc_cache)value;
    return CUDA_SUCCESS;
}

BF_API CUresult cuCtxResetPersistingL2Cache(void)
{
    bf_cl_ctx_t *ctx;

    BF_CHECK_INIT();
    CUresult result = bf_cl_ctx_current(&ctx);
    if (result != CUDA_SUCCESS)
        return result;
    bf_req_CTX_RESET_PERSISTING_L2_t req = {.device = (uint32_t)bf_cl_ctx_device(ctx)};
    bf_rep_CTX_RESET_PERSISTING_L2_t rep;
    return bf_cl_rpc_call(BF_OP_CTX_RESET_PERSISTING_L2, &req, NULL, 0, &rep, NULL);
}
