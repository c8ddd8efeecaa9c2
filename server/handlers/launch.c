/*
 * launch.c: LAUNCH_KERNEL, a grid on its stream.
 *
 * The scheduler runs the op in its stream's order on that stream's thread. The parameters arrive
 * packed in the layout the load's reply gave, so the driver gets them through `extra`
 * (CU_LAUNCH_PARAM_BUFFER_POINTER), whatever the kernel's signature. The client validated the
 * configuration; the driver checks it again. Kernel arguments are not checked against the session's
 * allocations (a pointer may sit anywhere inside a struct): the executing driver bounds-checks every
 * access (the emulator does, a GPU's MMU does), and a fault is latched like any posted error.
 */
#include <inttypes.h>

#include "bf_log.h"
#include "handlers.h"

CUresult bf_srv_handle_launch_kernel(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_LAUNCH_KERNEL_t *req = &call->req->LAUNCH_KERNEL;
    int device = call->stream != NULL ? call->stream->device : 0;
    CUkernel kernel;
    CUresult res;

    res = bf_srv_code_kernel(req->kernel, &kernel);
    if (res != CUDA_SUCCESS) {
        bf_log_debug("launch of unknown kernel %" PRIx64, req->kernel);
        return res;
    }
    if (device < 0 || device >= session->device_count)
        return CUDA_ERROR_INVALID_HANDLE;
    res = bf_srv_session_use(session, &session->devices[device]);
    if (res != CUDA_SUCCESS)
        return res;
    size_t params_len = call->tail_len;
    /* A non-NULL buffer even for a kernel without parameters: the driver wants a pointer. */
    uint64_t none = 0;
    void *extra[] = {
        CU_LAUNCH_PARAM_BUFFER_POINTER, params_len > 0 ? (void *)call->tail : (void *)&none,
        CU_LAUNCH_PARAM_BUFFER_SIZE, &params_len,
        CU_LAUNCH_PARAM_END,
    };
    res = BF_SRV_DRV(&session->drv, LaunchKernel, (CUfunction)kernel, req->grid_x, req->grid_y,
                     req->grid_z, req->block_x, req->block_y, req->block_z, req->shared_bytes,
                     bf_srv_call_stream(call), NULL, extra);
    if (res != CUDA_SUCCESS)
        bf_log_debug("launch of kernel %" PRIx64 " returned %d", req->kernel, (int)res);
    return res;
}
