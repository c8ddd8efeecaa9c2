/*
 * event.c: cuEvent*, on the engine's events (engine/stream.c).
 *
 * Creation, destruction and records are posted; an event never recorded answers queries and
 * synchronisation locally (it counts as complete); the others ask the worker. Elapsed times are the
 * device's own: the worker asks its driver's cuEventElapsedTime.
 */
#include "driver.h"

#include <string.h>

/* Every flag cuEventCreate knows. */
#define EVENT_FLAGS (CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS)

BF_API CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    bf_cl_ctx_t *ctx;

    BF_CHECK_INIT();
    CUresult result = bf_cl_ctx_current(&ctx);
    if (result != CUDA_SUCCESS)
        return result;
    if (phEvent == NULL || (Flags & ~(unsigned int)EVENT_FLAGS) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* An interprocess event must not take timings. */
    if ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_VALUE;
    return bf_cl_event_create(ctx, Flags, phEvent);
}

static CUresult record(CUevent hEvent, CUstream hStream, unsigned int flags, int per_thread)
{
    bf_cl_event_info_t event;
    bf_cl_stream_info_t stream;

    BF_CHECK_INIT();
    CUresult result = bf_cl_event_resolve(hEvent, &event);
    if (result != CUDA_SUCCESS)
        return result;
    result = bf_cl_stream_resolve(hStream, per_thread, &stream);
    if (result != CUDA_SUCCESS)
        return result;
    /* CU_EVENT_RECORD_EXTERNAL only means something while a stream is captured into a graph,
     * which openbf does not do: like any other unknown flag it is refused. */
    if (flags != CU_EVENT_RECORD_DEFAULT)
        return CUDA_ERROR_INVALID_VALUE;
    /* An event records work of its own context only. */
    if (stream.device != event.device)
        return CUDA_ERROR_INVALID_HANDLE;
    result = bf_cl_ctx_sticky(stream.device);  /* a faulted context takes no work */
    if (result != CUDA_SUCCESS)
        return result;
    bf_req_EVENT_RECORD_t req = {.event = event.id, .stream = stream.id, .flags = flags};
    result = bf_cl_rpc_post(BF_OP_EVENT_RECORD, &req, NULL, 0);
    if (result == CUDA_SUCCESS)
        bf_cl_event_mark_recorded(hEvent);
    return result;
}

BF_API CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    return record(hEvent, hStream, 0, 0);
}

BF_API CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
    return record(hEvent, hStream, 0, 1);
}

BF_API CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return record(hEvent, hStream, flags, 0);
}

BF_API CUresult cuEventRecordWithFlags_ptsz(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return record(hEvent, hStream, flags, 1);
}

BF_API CUresult cuEventQuery(CUevent hEvent)
{
    bf_cl_event_info_t event;

    BF_CHECK_INIT();
    CUresult result = bf_cl_event_resolve(hEvent, &event);
    if (result == CUDA_SUCCESS)
        result = bf_cl_ctx_sticky(event.device);
    if (result != CUDA_SUCCESS || !event.recorded)
        return result;
    bf_req_EVENT_QUERY_t req = {.event = event.id};
    bf_rep_EVENT_QUERY_t rep;
    return bf_cl_rpc_call(BF_OP_EVENT_QUERY, &req, NULL, 0, &rep, NULL);
}

BF_API CUresult cuEventSynchronize(CUevent hEvent)
{
    bf_cl_event_info_t event;

    BF_CHECK_INIT();
    CUresult result = bf_cl_event_resolve(hEvent, &event);
    if (result == CUDA_SUCCESS)
        result = bf_cl_ctx_sticky(event.device);
    if (result != CUDA_SUCCESS || !event.recorded)
        return result;
    bf_req_EVENT_SYNCHRONIZE_t req = {.event = event.id};
    bf_rep_EVENT_SYNCHRONIZE_t rep;
    result = bf_cl_rpc_call(BF_OP_EVENT_SYNCHRONIZE, &req, NULL, 0, &rep, NULL);
    return result == CUDA_SUCCESS ? bf_cl_take_latched() : result;
}

BF_API CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    bf_cl_event_info_t start, end;

    BF_CHECK_INIT();
    if (pMilliseconds == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult result = bf_cl_event_resolve(hStart, &start);
    if (result == CUDA_SUCCESS)
        result = bf_cl_event_resolve(hEnd, &end);
    if (result != CUDA_SUCCESS)
        return result;
    /* Never recorded, or created without timing: no time to tell. */
    if (!start.recorded || !end.recorded || (start.flags & CU_EVENT_DISABLE_TIMING) ||
        (end.flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_HANDLE;
    bf_req_EVENT_ELAPSED_TIME_t req = {.start = start.id, .end = end.id};
    bf_rep_EVENT_ELAPSED_TIME_t rep;
    result = bf_cl_rpc_call(BF_OP_EVENT_ELAPSED_TIME, &req, NULL, 0, &rep, NULL);
    if (result == CUDA_SUCCESS)
        memcpy(pMilliseconds, &rep.milliseconds_bits, sizeof(float));
    return result;
}

/* The 12.8 variant only stopped promising to report errors of pending work, which neither form
 * does here: both ask the worker's driver for the same time. */
BF_API CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    return cuEventElapsedTime_v2(pMilliseconds, hStart, hEnd);
}

BF_API CUresult cuEventDestroy_v2(CUevent hEvent)
{
    BF_CHECK_INIT();
    return bf_cl_event_destroy(hEvent);
}

BF_API CUresult cuEventDestroy(CUevent hEvent)
{
    return cuEventDestroy_v2(hEvent);
}
