/*
 * event.c: the driver side of the event ops.
 *
 * Events are recorded with the driver's cuEventRecord on the driver's stream, and elapsed times
 * come from its cuEventElapsedTime, so timings are the device's own. The scheduler keeps count of
 * records read and issued; these handlers only call the driver. With a driver that has no events
 * (every op synchronous) a record is the moment it was issued, on the worker's monotonic clock.
 */
#include "handlers.h"

#include <inttypes.h>
#include <string.h>

#include "bf_log.h"

static CUresult use_event_device(bf_srv_session_t *session, const bf_srv_event_t *event)
{
    return bf_srv_session_use(session, &session->devices[event->device]);
}

CUresult bf_srv_handle_event_create(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_EVENT_CREATE_t *req = &call->req->EVENT_CREATE;
    bf_srv_event_t *event = call->event;
    CUresult res;

    if (session->drv.EventCreate == NULL)
        return CUDA_SUCCESS;
    res = use_event_device(session, event);
    if (res == CUDA_SUCCESS)
        res = session->drv.EventCreate(&event->real, req->flags);
    if (res != CUDA_SUCCESS) {
        bf_log_debug("cuEventCreate for event %" PRIu64 " failed: %d", req->event, (int)res);
        event->real = NULL;
        event->create_error = res;
    }
    return res;
}

CUresult bf_srv_handle_event_destroy(bf_srv_session_t *session, bf_srv_call_t *call)
{
    /* The id was forgotten when the request was read; the driver's event goes with the last op
     * that still names it. */
    (void)session;
    (void)call;
    return CUDA_SUCCESS;
}

CUresult bf_srv_handle_event_record(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_srv_event_t *event = call->event;
    unsigned int flags = call->req->EVENT_RECORD.flags;
    CUresult res;

    if (event->create_error != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_HANDLE;
    if (event->real == NULL)
        return CUDA_SUCCESS;  /* the scheduler notes the time when the record completes */
    res = use_event_device(session, event);
    if (res != CUDA_SUCCESS)
        return res;
    if (session->drv.EventRecordWithFlags != NULL)
        return session->drv.EventRecordWithFlags(event->real, bf_srv_call_stream(call), flags);
    return BF_SRV_DRV(&session->drv, EventRecord, event->real, bf_srv_call_stream(call));
}

CUresult bf_srv_handle_event_synchronize(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_srv_event_t *event = call->event;
    CUresult res = CUDA_SUCCESS;

    if (event->real != NULL && session->drv.EventSynchronize != NULL) {
        res = use_event_device(session, event);
        if (res == CUDA_SUCCESS)
            res = session->drv.EventSynchronize(event->real);
    }
    return res == CUDA_SUCCESS ? bf_srv_session_take_latched(session) : res;
}

CUresult bf_srv_handle_event_query(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_srv_event_t *event = call->event;
    CUresult res;

    if (event->real == NULL || session->drv.EventQuery == NULL)
        return CUDA_SUCCESS;
    res = use_event_device(session, event);
    return res == CUDA_SUCCESS ? session->drv.EventQuery(event->real) : res;
}

CUresult bf_srv_handle_event_elapsed_time(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_srv_event_t *start = call->event, *end = call->event2;
    float ms = 0.0f;
    CUresult res;

    if (start->real != NULL && end->real != NULL) {
        res = use_event_device(session, start);
        if (res == CUDA_SUCCESS)
            res = BF_SRV_DRV(&session->drv, EventElapsedTime, &ms, start->real, end->real);
        if (res != CUDA_SUCCESS)
            return res;
    } else if (start->real == NULL && end->real == NULL) {
        int64_t ns = (int64_t)(end->host_time_ns - start->host_time_ns);
        ms = (float)((double)ns / 1e6);
    } else {
        return CUDA_ERROR_INVALID_HANDLE;  /* one of them failed to be created */
    }
    uint32_t bits;
    memcpy(&bits, &ms, sizeof(bits));
    call->rep->EVENT_ELAPSED_TIME.milliseconds_bits = bits;
    return CUDA_SUCCESS;
}
