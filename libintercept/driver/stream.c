/*
 * stream.c: cuStream* and cuCtxGetStreamPriorityRange, on the engine's streams (engine/stream.c).
 *
 * Creation and destruction are posted (the client chose the id); the queries of a stream's own
 * properties are answered locally; cuStreamSynchronize and cuStreamQuery ask the worker, which
 * answers once (or whether) the stream's earlier work is done. Every _ptsz variant is the same call
 * with NULL meaning the calling thread's per-thread default stream.
 */
#include "driver.h"

/* The current context, usable for work. */
static CUresult current(bf_cl_ctx_t **ctx_p)
{
    BF_CHECK_INIT();
    return bf_cl_ctx_current(ctx_p);
}

static CUresult create(CUstream *phStream, unsigned int flags, int priority, int clamp)
{
    bf_cl_ctx_t *ctx;
    CUresult result = current(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (phStream == NULL || (flags & ~(unsigned int)CU_STREAM_NON_BLOCKING) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (clamp) {
        /* Priorities outside the range are clamped to it, as the driver does. */
        int least, greatest;
        result = bf_cl_stream_priority_range(bf_cl_ctx_device(ctx), &least, &greatest);
        if (result != CUDA_SUCCESS)
            return result;
        if (priority < greatest)
            priority = greatest;
        if (priority > least)
            priority = least;
    }
    return bf_cl_stream_create(ctx, flags, priority, phStream);
}

BF_API CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return create(phStream, Flags, 0, 0);
}

BF_API CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    return create(phStream, flags, priority, 1);
}

BF_API CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    bf_cl_ctx_t *ctx;
    int least, greatest;
    CUresult result = current(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    result = bf_cl_stream_priority_range(bf_cl_ctx_device(ctx), &least, &greatest);
    if (result != CUDA_SUCCESS)
        return result;
    /* Either output may be NULL. */
    if (leastPriority != NULL)
        *leastPriority = least;
    if (greatestPriority != NULL)
        *greatestPriority = greatest;
    return CUDA_SUCCESS;
}

BF_API CUresult cuStreamDestroy_v2(CUstream hStream)
{
    BF_CHECK_INIT();
    if (hStream == NULL || hStream == CU_STREAM_LEGACY || hStream == CU_STREAM_PER_THREAD)
        return CUDA_ERROR_INVALID_HANDLE;
    return bf_cl_stream_destroy(hStream);
}

BF_API CUresult cuStreamDestroy(CUstream hStream)
{
    return cuStreamDestroy_v2(hStream);
}

static CUresult resolve(CUstream hStream, int per_thread, bf_cl_stream_info_t *info)
{
    BF_CHECK_INIT();
    return bf_cl_stream_resolve(hStream, per_thread, info);
}

static CUresult synchronize(CUstream hStream, int per_thread)
{
    bf_cl_stream_info_t info;
    CUresult result = resolve(hStream, per_thread, &info);

    if (result == CUDA_SUCCESS)
        result = bf_cl_ctx_sticky(info.device);
    if (result != CUDA_SUCCESS)
        return result;
    bf_req_STREAM_SYNCHRONIZE_t req = {.stream = info.id};
    bf_rep_STREAM_SYNCHRONIZE_t rep;
    result = bf_cl_rpc_call(BF_OP_STREAM_SYNCHRONIZE, &req, NULL, 0, &rep, NULL);
    /* The reply came after every earlier async copy's: their errors are known now. */
    return result == CUDA_SUCCESS ? bf_cl_take_latched() : result;
}

BF_API CUresult cuStreamSynchronize(CUstream hStream)
{
    return synchronize(hStream, 0);
}

BF_API CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
    return synchronize(hStream, 1);
}

static CUresult query(CUstream hStream, int per_thread)
{
    bf_cl_stream_info_t info;
    CUresult result = resolve(hStream, per_thread, &info);

    if (result == CUDA_SUCCESS)
        result = bf_cl_ctx_sticky(info.device);
    if (result != CUDA_SUCCESS)
        return result;
    bf_req_STREAM_QUERY_t req = {.stream = info.id};
    bf_rep_STREAM_QUERY_t rep;
    return bf_cl_rpc_call(BF_OP_STREAM_QUERY, &req, NULL, 0, &rep, NULL);
}

BF_API CUresult cuStreamQuery(CUstream hStream)
{
    return query(hStream, 0);
}

BF_API CUresult cuStreamQuery_ptsz(CUstream hStream)
{
    return query(hStream, 1);
}

static CUresult wait_event(CUstream hStream, CUevent hEvent, unsigned int flags, int per_thread)
{
    bf_cl_stream_info_t stream;
    bf_cl_event_info_t event;
    CUresult result = resolve(hStream, per_thread, &stream);

    if (result == CUDA_SUCCESS)
        result = bf_cl_ctx_sticky(stream.device);
    if (result != CUDA_SUCCESS)
        return result;
    result = bf_cl_event_resolve(hEvent, &event);
    if (result != CUDA_SUCCESS)
        return result;
    if ((flags & ~(unsigned int)CU_EVENT_WAIT_EXTERNAL) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* An event never recorded completes at once: nothing to wait for. */
    if (!event.recorded)
        return CUDA_SUCCESS;
    bf_req_STREAM_WAIT_EVENT_t req = {.stream = stream.id, .event = event.id, .flags = flags};
    return bf_cl_rpc_post(BF_OP_STREAM_WAIT_EVENT, &req, NULL, 0);
}

BF_API CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return wait_event(hStream, hEvent, Flags, 0);
}

BF_API CUresult cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return wait_event(hStream, hEvent, Flags, 1);
}

/* ---- properties, answered locally ---------------------------------------------------------- */

static CUresult get_flags(CUstream hStream, unsigned int *flags, int per_thread)
{
    bf_cl_stream_info_t info;
    CUresult result = resolve(hStream, per_thread, &info);

    if (result != CUDA_SUCCESS)
        return result;
    if (flags == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *flags = info.flags;
    return CUDA_SUCCESS;
}

BF_API CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
    return get_flags(hStream, flags, 0);
}

BF_API CUresult cuStreamGetFlags_ptsz(CUstream hStream, unsigned int *flags)
{
    return get_flags(hStream, flags, 1);
}

static CUresult get_priority(CUstream hStream, int *priority, int per_thread)
{
    bf_cl_stream_info_t info;
    CUresult result = resolve(hStream, per_thread, &info);

    if (result != CUDA_SUCCESS)
        return result;
    if (priority == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *priority = info.priority;
    return CUDA_SUCCESS;
}

BF_API CUresult cuStreamGetPriority(CUstream hStream, int *priority)
{
    return get_priority(hStream, priority, 0);
}

BF_API CUresult cuStreamGetPriority_ptsz(CUstream hStream, int *priority)
{
    return get_priority(hStream, priority, 1);
}

static CUresult get_ctx(CUstream hStream, CUcontext *pctx, int per_thread)
{
    bf_cl_stream_info_t info;
    CUresult result = resolve(hStream, per_thread, &info);

    if (result != CUDA_SUCCESS)
        return result;
    if (pctx == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    /* Only primary contexts exist: a stream's is its device's. */
    *pctx = bf_cl_primary_ctx(info.device);
    return CUDA_SUCCESS;
}

BF_API CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx)
{
    return get_ctx(hStream, pctx, 0);
}

BF_API CUresult cuStreamGetCtx_ptsz(CUstream hStream, CUcontext *pctx)
{
    return get_ctx(hStream, pctx, 1);
}

static CUresult get_ctx_v2(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx, int per_thread)
{
    CUresult result = get_ctx(hStream, pCtx, per_thread);

    /* No green contexts: a stream always belongs to a plain context. */
    if (result == CUDA_SUCCESS && pGreenCtx != NULL)
        *pGreenCtx = NULL;
    return result;
}

BF_API CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
    return get_ctx_v2(hStream, pCtx, pGreenCtx, 0);
}

BF_API CUresult cuStreamGetCtx_v2_ptsz(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx)
{
    return get_ctx_v2(hStream, pCtx, pGreenCtx, 1);
}

static CUresult get_id(CUstream hStream, unsigned long long *streamId, int per_thread)
{
    bf_cl_stream_info_t info;
    CUresult result = resolve(hStream, per_thread, &info);

    if (result != CUDA_SUCCESS)
        return result;
    if (streamId == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    /* The wire id: unique in the process and stable for the stream's life. */
    *streamId = info.id;
    return CUDA_SUCCESS;
}

BF_API CUresult cuStreamGetId(CUstream hStream, unsigned long long *streamId)
{
    return get_id(hStream, streamId, 0);
}

BF_API CUresult cuStreamGetId_ptsz(CUstream hStream, unsigned long long *streamId)
{
    return get_id(hStream, streamId, 1);
}

static CUresult get_device(CUstream hStream, CUdevice *device, int per_thread)
{
    bf_cl_stream_info_t info;
    CUresult result = resolve(hStream, per_thread, &info);

    if (result != CUDA_SUCCESS)
        return result;
    if (device == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *device = info.device;
    return CUDA_SUCCESS;
}

BF_API CUresult cuStreamGetDevice(CUstream hStream, CUdevice *device)
{
    return get_device(hStream, device, 0);
}

BF_API CUresult cuStreamGetDevice_ptsz(CUstream hStream, CUdevice *device)
{
    return get_device(hStream, device, 1);
}
