/*
 * stream.c: the driver side of the stream ops.
 *
 * The scheduler (scheduler.c) owns the stream objects and their ids and has already ordered each
 * op: these handlers only call the driver. A driver without streams (cuStreamCreateWithPriority
 * missing) runs every op synchronously as it is issued, so its streams need no driver handle and
 * waiting for one is already done.
 */
#include "handlers.h"

#include <inttypes.h>

#include "bf_log.h"

/* Makes the context of the device an op's stream belongs to current. */
static CUresult use_stream_device(bf_srv_session_t *session, const bf_srv_stream_t *stream)
{
    return bf_srv_session_use(session, &session->devices[stream->device]);
}

CUresult bf_srv_handle_stream_create(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_STREAM_CREATE_t *req = &call->req->STREAM_CREATE;
    bf_srv_stream_t *stream = call->stream;
    CUresult res;

    if (session->drv.StreamCreateWithPriority == NULL)
        return CUDA_SUCCESS;
    res = use_stream_device(session, stream);
    if (res == CUDA_SUCCESS)
        res = session->drv.StreamCreateWithPriority(&stream->real, req->flags, req->priority);
    if (res != CUDA_SUCCESS) {
        bf_log_debug("cuStreamCreateWithPriority for stream %" PRIu64 " failed: %d", req->stream,
                     (int)res);
        stream->real = NULL;
        stream->create_error = res;
        return res;
    }
    stream->real_live = true;
    return CUDA_SUCCESS;
}

CUresult bf_srv_handle_stream_destroy(bf_srv_session_t *session, bf_srv_call_t *call)
{
    /* The id was forgotten when the request was read; the driver's stream is destroyed when the
     * last queued op of the stream has run. */
    (void)session;
    (void)call;
    return CUDA_SUCCESS;
}

CUresult bf_srv_handle_stream_synchronize(bf_srv_session_t *session, bf_srv_call_t *call)
{
    CUresult res = use_stream_device(session, call->stream);

    if (res == CUDA_SUCCESS && session->drv.StreamSynchronize != NULL &&
        session->drv.StreamCreateWithPriority != NULL)
        res = session->drv.StreamSynchronize(bf_srv_call_stream(call));
    /* The first error of an earlier posted op takes the place of this call's success. */
    return res == CUDA_SUCCESS ? bf_srv_session_take_latched(session) : res;
}

CUresult bf_srv_handle_stream_query(bf_srv_session_t *session, bf_srv_call_t *call)
{
    CUresult res = use_stream_device(session, call->stream);

    if (res != CUDA_SUCCESS || session->drv.StreamQuery == NULL ||
        session->drv.StreamCreateWithPriority == NULL)
        return res;
    return session->drv.StreamQuery(bf_srv_call_stream(call));
}

CUresult bf_srv_handle_stream_wait_event(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_srv_event_t *event = call->event;
    CUresult res;

    /* A wait for an event never recorded is a no-op; and the scheduler has held this op back
     * until the record it waits for was issued, so a driver without events has nothing to do. */
    if (call->record == 0 || event->real == NULL || session->drv.StreamWaitEvent == NULL)
        return CUDA_SUCCESS;
    res = use_stream_device(session, call->stream);
    if (res == CUDA_SUCCESS)
        res = session->drv.StreamWaitEvent(bf_srv_call_stream(call), event->real,
                                           call->req->STREAM_WAIT_EVENT.flags);
    return res;
}

CUresult bf_srv_handle_stream_priority_range(bf_srv_session_t *session, bf_srv_call_t *call)
{
    bf_srv_device_t *dev;
    int least = 0, greatest = 0;
    CUresult res = bf_srv_session_device(session, call->req->STREAM_PRIORITY_RANGE.device, &dev);

    /* A driver without priorities has one: 0. */
    if (res == CUDA_SUCCESS && session->drv.CtxGetStreamPriorityRange != NULL)
        res = session->drv.CtxGetStreamPriorityRange(&least, &greatest);
    if (res == CUDA_SUCCESS) {
        call->rep->STREAM_PRIORITY_RANGE.least    = least;
        call->rep->STREAM_PRIORITY_RANGE.greatest = greatest;
    }
    return res;
}
