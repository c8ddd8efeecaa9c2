/* context.c: CTX_SYNCHRONIZE, CTX_RESET, limits and cache configuration on a device's primary
 * context.
 *
 * The scheduler runs CTX_SYNCHRONIZE once every earlier op of the device has completed (on a
 * thread of its own, so the reader keeps reading), and CTX_RESET as a barrier on the device's
 * control queue. */
#include "handlers.h"

#include <inttypes.h>

#include "bf_log.h"

CUresult bf_srv_handle_ctx_synchronize(bf_srv_session_t *session, bf_srv_call_t *call)
{
    bf_srv_device_t *dev;
    CUresult res = bf_srv_session_device(session, call->req->CTX_SYNCHRONIZE.device, &dev);

    if (res != CUDA_SUCCESS)
        return res;
    res = BF_SRV_DRV(&session->drv, CtxSynchronize, dev->ctx);
    /* The first error of an earlier posted op takes the place of this call's success. */
    if (res == CUDA_SUCCESS)
        res = bf_srv_session_take_latched(session);
    return res;
}

CUresult bf_srv_handle_ctx_reset(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_srv_driver_t *drv = &session->drv;
    uint64_t count = 0, bytes = 0;
    bf_srv_device_t *dev;
    CUresult res = bf_srv_session_device(session, call->req->CTX_RESET.device, &dev);

    if (res != CUDA_SUCCESS)
        return res;
    /* The scheduler ran this after all earlier work of the device and holds all later work back
     * (CTX_RESET is a barrier), so nothing touches the device while it is reset. Its streams and
     * events die with the context: the driver's handles go first. */
    bf_srv_sched_reset_device(session, dev->ordinal);
    pthread_mutex_lock(&session->memory_lock);
    bf_srv_memory_release_device(&session->memory, dev, &count, &bytes);
    bf_srv_memory_window_close(&session->memory, dev);
    pthread_mutex_unlock(&session->memory_lock);
    bf_srv_code_reset_device();
    res = BF_SRV_DRV(drv, DevicePrimaryCtxReset, dev->handle);
    /* Every thread makes the context current again before its next op. */
    atomic_fetch_add(&session->ctx_generation, 1);
    /* A reset clears the context's errors: one latched from a posted op before it (a kernel that
     * faulted, whose sticky error the driver reported in its place) must not outlive it. */
    (void)bf_srv_session_take_latched(session);
    if (res != CUDA_SUCCESS)
        return res;
    /* The reset context is inactive: retain it again so the device stays usable. */
    res = BF_SRV_DRV(drv, DevicePrimaryCtxRetain, &dev->ctx, dev->handle);
    if (res == CUDA_SUCCESS)
        res = bf_srv_session_use(session, dev);
    if (res != CUDA_SUCCESS)
        return res;
    pthread_mutex_lock(&session->memory_lock);
    bf_srv_memory_window_open(&session->memory, dev);
    pthread_mutex_unlock(&session->memory_lock);
    bf_log_debug("device %d reset: %" PRIu64 " allocations (%" PRIu64 " bytes) freed", dev->ordinal,
                 count, bytes);
    return CUDA_SUCCESS;
}

/* ---- limits and cache configuration --------------------------------------------------------- */

CUresult bf_srv_handle_ctx_set_limit(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_CTX_SET_LIMIT_t *req = &call->req->CTX_SET_LIMIT;
    bf_srv_device_t *dev;
    CUresult res = bf_srv_session_device(session, req->device, &dev);

    if (res != CUDA_SUCCESS)
        return res;
    return BF_SRV_DRV(&session->drv, CtxSetLimit, (CUlimit)req->limit, (size_t)req->value);
}

CUresult bf_srv_handle_ctx_get_limit(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_CTX_GET_LIMIT_t *req = &call->req->CTX_GET_LIMIT;
    bf_srv_device_t *dev;
    size_t value = 0;
    CUresult res = bf_srv_session_device(session, req->device, &dev);

    if (res == CUDA_SUCCESS)
        res = BF_SRV_DRV(&session->drv, CtxGetLimit, &value, (CUlimit)req->limit);
    call->rep->CTX_GET_LIMIT.value = res == CUDA_SUCCESS ? value : 0;
    return res;
}

CUresult bf_srv_handle_ctx_set_cache_config(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_CTX_SET_CACHE_CONFIG_t *req = &call->req->CTX_SET_CACHE_CONFIG;
    bf_srv_device_t *dev;
    CUresult res = bf_srv_session_device(session, req->device, &dev);

    if (res != CUDA_SUCCESS)
        return res;
    return BF_SRV_DRV(&session->drv, CtxSetCacheConfig, (CUfunc_cache)req->config);
}

CUresult bf_srv_handle_ctx_get_cache_config(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_CTX_GET_CACHE_CONFIG_t *req = &call->req->CTX_GET_CACHE_CONFIG;
    bf_srv_device_t *dev;
    CUfunc_cache config = CU_FUNC_CACHE_PREFER_NONE;
    CUresult res = bf_srv_session_device(session, req->device, &dev);

    if (res == CUDA_SUCCESS)
        res = BF_SRV_DRV(&session->drv, CtxGetCacheConfig, &config);
    call->rep->CTX_GET_CACHE_CONFIG.config = res == CUDA_SUCCESS ? (uint32_t)config : 0;
    return res;
}

CUresult bf_srv_handle_ctx_reset_persisting_l2(bf_srv_session_t *session, bf_srv_call_t *call)
{
    bf_srv_device_t *dev;
    CUresult res = bf_srv_session_device(session, call->req->CTX_RESET_PERSISTING_L2.device, &dev);

    if (res != CUDA_SUCCESS)
        return res;
    return BF_SRV_DRV(&session->drv, CtxResetPersistingL2Cache);
}
