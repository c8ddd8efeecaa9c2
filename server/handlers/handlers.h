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

/* Every request and reply struct of ops.def, overlaid. */
typedef union {
#define BF_OP(id, name, mode) bf_req_##name##_t name;
#include "ops.def"
#undef BF_OP
} bf_srv_req_t;

typedef union {
#define BF_OP(id, name, mode) bf_rep_##name##_t name;
#include "ops.def"
#undef BF_OP
} bf_srv_rep_t;

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

#endif
