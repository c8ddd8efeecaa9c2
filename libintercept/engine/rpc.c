/*
 * rpc.c: requests and replies over the one connection.
 *
 * A posted request is sent and forgotten; a waited one is sent, then frames are read until its
 * reply arrives. Heartbeats from a busy worker keep a wait alive; BF_HEARTBEAT_TIMEOUT_MS of
 * silence means the server is gone. Every reply frame is checked (op, request id, length, fields)
 * before a byte of it is used, and a reply's tail is received straight into the caller's
 * destination. Any transport or protocol failure ends the connection (bf_cl_conn_fail): the
 * stream can no longer be trusted to be in step.
 *
 * One mutex serialises the connection; every path out of a locked section unlocks it.
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bf_log.h"

/* Chunk replies kept in flight by bf_cl_rpc_call_many. Requests are small, so the socket never
 * fills on our side; the worker streams replies while we read them. */
#define PIPELINE_DEPTH 4

/* Rows narrower than this are received through the bounce buffer and scattered: one recv per
 * row would cost more than the copy. */
#define BOUNCE_ROW_MIN (64u << 10)
#define BOUNCE_SIZE (256u << 10)

static uint8_t bounce[BOUNCE_SIZE];  /* used with the connection lock held */

static const char *op_name(uint16_t op)
{
    return bf_proto_op_name(op);
}

static bf_status_t send_request(uint16_t op, uint16_t flags, uint64_t id, const void *req,
                                const void *tail, size_t tail_len, char *why, size_t why_len)
{
    const bf_proto_op_desc_t *desc = bf_proto_op(op);
    uint8_t fixed[BF_PROTO_MAX_FIXED];

    if (bf_cl_conn.tp == NULL) {
        snprintf(why, why_len, "not connected");
        return BF_CLOSED;
    }
    size_t fixed_len = bf_proto_encode(&desc->request, req, fixed);
    bf_status_t status = bf_tp_send_frame(bf_cl_conn.tp, op, flags, id, fixed, fixed_len, tail,
                                          tail_len);
    if (status != BF_OK)
        snprintf(why, why_len, "cannot send %s: %s", op_name(op), bf_status_str(status));
    return status;
}

static bf_status_t recv_or_explain(void *buf, size_t len, uint16_t op, char *why, size_t why_len)
{
    bf_status_t status = bf_tp_recv(bf_cl_conn.tp, buf, len, bf_cl_conn.heartbeat_timeout_ms);

    if (status == BF_TIMEOUT)
        snprintf(why, why_len, "no data for %d ms while reading the reply to %s",
                 bf_cl_conn.heartbeat_timeout_ms, op_name(op));
    else if (status != BF_OK)
        snprintf(why, why_len, "%s while reading the reply to %s", bf_status_str(status),
                 op_name(op));
    return status;
}

/* Receives len bytes of a tail into the rows of sink. */
static bf_status_t recv_into_sink(const bf_cl_sink_t *sink, uint64_t len, uint16_t op, char *why,
                                  size_t why_len)
{
    uint8_t *base = sink->base;
    bf_status_t status;

    if (sink->rows <= 1 || sink->pitch == sink->width)
        return recv_or_explain(base, len, op, why, why_len);

    if (sink->width >= BOUNCE_ROW_MIN) {
        for (uint64_t row = 0; len > 0; row++) {
            uint64_t n = len < sink->width ? len : sink->width;
            status = recv_or_explain(base + row * sink->pitch, n, op, why, why_len);
            if (status != BF_OK)
                return status;
            len -= n;
        }
        return BF_OK;
    }

    /* Narrow rows: whole rows into the bounce buffer, then scattered to their places. */
    uint64_t rows_per_fill = BOUNCE_SIZE / sink->width;
    for (uint64_t row = 0; len > 0;) {
        uint64_t n = rows_per_fill * sink->width;
        if (n > len)
            n = len;
        status = recv_or_explain(bounce, n, op, why, why_len);
        if (status != BF_OK)
            return status;
        for (uint64_t off = 0; off < n; off += sink->width, row++) {
            uint64_t part = n - off < sink->width ? n - off : sink->width;
            memcpy(base + row * sink->pitch, bounce + off, part);
        }
        len -= n;
    }
    return BF_OK;
}

static bf_status_t take_heartbeat(const bf_frame_hdr_t *hdr, char *why, size_t why_len)
{
    const bf_proto_msg_desc_t *desc = &bf_proto_op(BF_OP_HEARTBEAT)->request;
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    bf_req_HEARTBEAT_t beat;
    uint64_t tail_len;

    if (hdr->length != desc->wire_size || hdr->request_id != 0) {
        snprintf(why, why_len, "malformed heartbeat (%" PRIu32 " bytes, id %" PRIu64 ")",
                 hdr->length, hdr->request_id);
        return BF_PROTOCOL;
    }
    bf_status_t status = recv_or_explain(fixed, desc->wire_size, BF_OP_HEARTBEAT, why, why_len);
    if (status != BF_OK)
        return status;
    if (bf_proto_decode(desc, fixed, desc->wire_size, hdr->length, &beat, &tail_len) != BF_OK) {
        snprintf(why, why_len, "malformed heartbeat");
        return BF_PROTOCOL;
    }
    bf_log_trace("heartbeat %" PRIu64, beat.sequence);
    return BF_OK;
}

/* Reads frames until the reply (op, id) arrives; heartbeats in between reset the timer. */
static bf_status_t recv_reply(uint16_t op, uint64_t id, void *rep, const bf_cl_sink_t *sink,
                              char *why, size_t why_len)
{
    const bf_proto_msg_desc_t *desc = &bf_proto_op(op)->reply;
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    bf_frame_hdr_t hdr;
    uint64_t tail_len;
    bf_status_t status;

    for (;;) {
        if (bf_cl_conn.tp == NULL) {
            snprintf(why, why_len, "not connected");
            return BF_CLOSED;
        }
        status = bf_tp_recv_hdr(bf_cl_conn.tp, &hdr, bf_cl_conn.heartbeat_timeout_ms);
        if (status == BF_TIMEOUT) {
            snprintf(why, why_len, "no reply or heartbeat for %d ms while waiting for %s",
                     bf_cl_conn.heartbeat_timeout_ms, op_name(op));
            return status;
        }
        if (status != BF_OK) {
            snprintf(why, why_len, "%s while waiting for %s", bf_status_str(status), op_name(op));
            return status;
        }
        if (hdr.op == BF_OP_HEARTBEAT && hdr.flags == BF_FRAME_POSTED) {
            status = take_heartbeat(&hdr, why, why_len);
            if (status != BF_OK)
                return status;
            continue;
        }
        break;
    }

    if (hdr.flags != BF_FRAME_REPLY || hdr.op != op || hdr.request_id != id) {
        snprintf(why, why_len,
                 "unexpected frame (op %s, flags %#x, id %" PRIu64 ") while waiting for the reply "
                 "to %s id %" PRIu64, bf_proto_op_name(hdr.op), hdr.flags, hdr.request_id,
                 op_name(op), id);
        return BF_PROTOCOL;
    }
    if (hdr.length < desc->wire_size || hdr.length - desc->wire_size > BF_PROTO_MAX_TAIL) {
        snprintf(why, why_len, "reply to %s has a bad length (%" PRIu32 " bytes)", op_name(op),
                 hdr.length);
        return BF_PROTOCOL;
    }
    status = recv_or_explain(fixed, desc->wire_size, op, why, why_len);
    if (status != BF_OK)
        return status;
    if (bf_proto_decode(desc, fixed, desc->wire_size, hdr.length, rep, &tail_len) != BF_OK) {
        snprintf(why, why_len, "malformed reply to %s", op_name(op));
        return BF_PROTOCOL;
    }

    int32_t result;
    memcpy(&result, rep, sizeof(result));  /* every reply struct starts with its result */
    if (tail_len == 0 && (result != CUDA_SUCCESS || sink == NULL || sink->allow_short ||
                          sink->width * sink->rows == 0))
        return BF_OK;
    if (result != CUDA_SUCCESS)
        return bf_tp_discard(bf_cl_conn.tp, tail_len, bf_cl_conn.heartbeat_timeout_ms);

    uint64_t expected = sink != NULL && sink->base != NULL ? sink->width * sink->rows : 0;
    if (tail_len > expected || (tail_len < expected && !sink->allow_short)) {
        snprintf(why, why_len, "reply to %s carries %" PRIu64 " bytes, expected %" PRIu64,
                 op_name(op), tail_len, expected);
        return BF_PROTOCOL;
    }
    return recv_into_sink(sink, tail_len, op, why, why_len);
}

bf_status_t bf_cl_rpc_call_locked(uint16_t op, const void *req, const void *tail, size_t tail_len,
                                  void *rep, const bf_cl_sink_t *sink, char *why, size_t why_len)
{
    uint64_t id = bf_cl_conn.next_id++;
    bf_status_t status = send_request(op, 0, id, req, tail, tail_len, why, why_len);

    if (status != BF_OK)
        return status;
    return recv_reply(op, id, rep, sink, why, why_len);
}

bf_status_t bf_cl_rpc_post_locked(uint16_t op, const void *req, const void *tail, size_t tail_len,
                                  char *why, size_t why_len)
{
    return send_request(op, BF_FRAME_POSTED, bf_cl_conn.next_id++, req, tail, tail_len, why,
                        why_len);
}

/* Takes the lock if the connection is usable; otherwise returns why not, unlocked. */
static CUresult lock_ready(void)
{
    pthread_mutex_lock(&bf_cl_conn.lock);
    if (atomic_load(&bf_cl_conn.state) == BF_CL_CONN_READY)
        return CUDA_SUCCESS;
    pthread_mutex_unlock(&bf_cl_conn.lock);
    CUresult result = bf_cl_check_init();
    return result != CUDA_SUCCESS ? result : CUDA_ERROR_DEVICE_UNAVAILABLE;
}

CUresult bf_cl_rpc_post(uint16_t op, const void *req, const void *tail, size_t tail_len)
{
    char why[256];
    CUresult result = lock_ready();

    if (result != CUDA_SUCCESS)
        return result;
    if (bf_cl_rpc_post_locked(op, req, tail, tail_len, why, sizeof(why)) != BF_OK) {
        bf_cl_conn_fail(why);
        result = CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    pthread_mutex_unlock(&bf_cl_conn.lock);
    return result;
}

CUresult bf_cl_rpc_call(uint16_t op, const void *req, const void *tail, size_t tail_len,
                        void *rep, const bf_cl_sink_t *sink)
{
    char why[256];
    CUresult result = lock_ready();

    if (result != CUDA_SUCCESS)
        return result;
    if (bf_cl_rpc_call_locked(op, req, tail, tail_len, rep, sink, why, sizeof(why)) != BF_OK) {
        bf_cl_conn_fail(why);
        result = CUDA_ERROR_DEVICE_UNAVAILABLE;
    } else {
        int32_t reply_result;
        memcpy(&reply_result, rep, sizeof(reply_result));
        result = (CUresult)reply_result;
    }
    pthread_mutex_unlock(&bf_cl_conn.lock);
    return result;
}

CUresult bf_cl_rpc_call_many(uint16_t op, bf_cl_call_t *calls, size_t count)
{
    char why[256];
    CUresult first_error = CUDA_SUCCESS;
    CUresult result = lock_ready();

    if (result != CUDA_SUCCESS)
        return result;
    uint64_t first_id = bf_cl_conn.next_id;
    bf_cl_conn.next_id += count;
    for (size_t sent = 0, received = 0; received < count; received++) {
        while (sent < count && sent - received < PIPELINE_DEPTH) {
            if (send_request(op, 0, first_id + sent, calls[sent].req, NULL, 0, why,
                             sizeof(why)) != BF_OK)
                goto err_lost;
            sent++;
        }
        bf_cl_call_t *call = &calls[received];
        if (recv_reply(op, first_id + received, call->rep,
                       call->sink.base != NULL ? &call->sink : NULL, why, sizeof(why)) != BF_OK)
            goto err_lost;
        int32_t reply_result;
        memcpy(&reply_result, call->rep, sizeof(reply_result));
        if (reply_result != CUDA_SUCCESS && first_error == CUDA_SUCCESS)
            first_error = (CUresult)reply_result;
    }
    pthread_mutex_unlock(&bf_cl_conn.lock);
    return first_error;

err_lost:
    bf_cl_conn_fail(why);
    pthread_mutex_unlock(&bf_cl_conn.lock);
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
}
