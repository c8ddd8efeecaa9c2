/* context.c: CTX_SYNCHRONIZE and CTX_RESET on a device's primary context. */
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
    bf_srv_memory_release_device(&session->memory, dev, &count, &bytes);
    bf_srv_memory_window_close(&session->memory, dev);
    res = BF_SRV_DRV(drv, DevicePrimaryCtxReset, dev->handle);
    session->current_device = -1;
    if (res != CUDA_SUCCESS)
        return res;
    /* The reset context is inactive: retain it again so the device stays usable. */
    res = BF_SRV_DRV(drv, DevicePrimaryCtxRetain, &dev->ctx, dev->handle);
    if (res == CUDA_SUCCESS)
        res = bf_srv_session_use(session, dev);
    if (res != CUDA_SUCCESS)
        return res;
    bf_srv_memory_window_open(&session->memory, dev);
    bf_log_debug("device %d reset: %" PRIu64 " allocations (%" PRIu64 " bytes) freed", dev->ordinal,
                 count, bytes);
    return CUDA_SUCCESS;
}
