/*
 * handlers.h: one handler per op of ops.def, and the dispatch table indexed by op id.
 *
 * A handler receives the decoded request (and its tail, already in the staging buffer), executes it
 * through the driver and returns the CUresult that becomes the reply's result (waited ops) or the
 * latched error (posted ops). Handlers fill reply fields and the reply tail on success only, except
 * where an op says otherwise (HELLO's proto_version on a version mismatch).
 */
#ifndef BF_SRV_HANDLERS_H
#define BF_SRV_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"
#include "session.h"

/* bf_srv_req_t and bf_srv_rep_t, every request and reply struct overlaid, are in scheduler.h. */

typedef struct {
    uint16_t op;
    uint64_t request_id;
    bool posted;                 /* no reply will be sent: an error is latched instead */
    const bf_srv_req_t *req;     /* decoded fixed fields */
    const uint8_t *tail;         /* the request's tail (staging buffer), tail_len bytes */
    uint64_t tail_len;
    bf_srv_rep_t *rep;           /* zeroed; the handler fills the fields after result */
    const void *rep_tail;        /* the reply's tail, if any */
    size_t rep_tail_len;
    /* Resolved by the scheduler when the request was read (NULL when the op names none): */
    bf_srv_stream_t *stream;     /* the stream the op is ordered on (its `stream` field) */
    bf_srv_event_t *event;       /* EVENT_*, STREAM_WAIT_EVENT: the event; ELAPSED_TIME: start */
    bf_srv_event_t *event2;      /* EVENT_ELAPSED_TIME: end */
    uint64_t record;             /* EVENT_RECORD: this record's number */
} bf_srv_call_t;

typedef CUresult (*bf_srv_handler_fn_t)(bf_srv_session_t *session, bf_srv_call_t *call);

/* Indexed by op id; NULL for ids not in ops.def. A unit test checks every live op has one. */
extern const bf_srv_handler_fn_t bf_srv_handlers[BF_OP_MAX_ID + 1];

/* device.c: the session's own ops */
CUresult bf_srv_handle_hello(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_heartbeat(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_goodbye(bf_srv_session_t *session, bf_srv_call_t *call);

/* context.c */
CUresult bf_srv_handle_ctx_synchronize(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_ctx_reset(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_ctx_set_limit(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_ctx_get_limit(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_ctx_set_cache_config(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_ctx_get_cache_config(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_ctx_reset_persisting_l2(bf_srv_session_t *session, bf_srv_call_t *call);

/* memory.c */
CUresult bf_srv_handle_mem_alloc(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_mem_alloc_pitch(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_mem_free(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_mem_get_info(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_memcpy_htod(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_memcpy_dtoh(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_memcpy_dtod(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_memcpy_2d_htod(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_memcpy_2d_dtoh(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_memcpy_2d_dtod(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_memset(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_memset_2d(bf_srv_session_t *session, bf_srv_call_t *call);

/* stream.c */
CUresult bf_srv_handle_stream_create(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_stream_destroy(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_stream_synchronize(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_stream_query(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_stream_wait_event(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_stream_priority_range(bf_srv_session_t *session, bf_srv_call_t *call);

/* event.c */
CUresult bf_srv_handle_event_create(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_event_destroy(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_event_record(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_event_synchronize(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_event_query(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_event_elapsed_time(bf_srv_session_t *session, bf_srv_call_t *call);

/* module.c: libraries (images cached by content hash) and their kernels */
CUresult bf_srv_handle_library_load(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_library_unload(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_library_get_global(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_kernel_set_attribute(bf_srv_session_t *session, bf_srv_call_t *call);

/* The driver's kernel for a kernel id of LIBRARY_LOAD's reply; CUDA_ERROR_INVALID_HANDLE when no
 * live library has it (module.c, for launch.c). */
CUresult bf_srv_code_kernel(uint64_t kernel_id, CUkernel *kernel_p);

/* A device's context was reset: the libraries forget the globals they recorded (one emulated
 * device; with several devices a reset of one forgets the globals of all, which are asked again). */
void bf_srv_code_reset_device(void);

/* launch.c */
CUresult bf_srv_handle_launch_kernel(bf_srv_session_t *session, bf_srv_call_t *call);

/* bf-trace (trace.c): TRACE_START, TRACE_FETCH, and the timing brackets bf_srv_execute puts around
 * a stream-ordered op once a client asked for device times: before returns whether it bracketed
 * the op (then *mark_p is for after). */
CUresult bf_srv_handle_trace_start(bf_srv_session_t *session, bf_srv_call_t *call);
CUresult bf_srv_handle_trace_fetch(bf_srv_session_t *session, bf_srv_call_t *call);
bool bf_srv_trace_before(bf_srv_session_t *session, bf_srv_call_t *call, void **mark_p);
void bf_srv_trace_after(bf_srv_session_t *session, bf_srv_call_t *call, void *mark, CUresult res);

/* The driver's stream for an op's stream: NULL for the legacy stream (and for every stream when
 * the driver has none). */
static inline CUstream bf_srv_call_stream(const bf_srv_call_t *call)
{
    return call->stream != NULL ? call->stream->real : NULL;
}

#endif
