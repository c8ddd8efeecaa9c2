/* session.c: the connection loop of one session (read, check, execute, answer) and its end. */
#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bf_log.h"
#include "executor.h"

atomic_int bf_srv_stop_signal;

/* Inside a frame the rest must follow promptly: this much silence means the client is gone. */
#define PAYLOAD_TIMEOUT_MS 30000

/* The staging buffer never shrinks below this, so small copies never reallocate. */
#define STAGING_MIN (64u << 10)

typedef struct {
    bf_frame_hdr_t hdr;
    const bf_proto_op_desc_t *op;
    bf_srv_req_t req;
    uint64_t tail_len;
} request_t;

uint64_t bf_srv_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bf_srv_session_end(bf_srv_session_t *session, int exit_code, const char *fmt, ...)
{
    va_list ap;

    if (session->ending)
        return;
    va_start(ap, fmt);
    vsnprintf(session->reason, sizeof(session->reason), fmt, ap);
    va_end(ap);
    session->ending    = true;
    session->exit_code = exit_code;
}

/* Ends the session for a message that does not follow ops.def; the reason says exactly why. */
static void __attribute__((format(printf, 2, 3)))
malformed(bf_srv_session_t *session, const char *fmt, ...)
{
    char why[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    bf_log_error("closing session: malformed message: %s", why);
    bf_srv_session_end(session, 1, "malformed message: %s", why);
}

CUresult bf_srv_session_use(bf_srv_session_t *session, bf_srv_device_t *dev)
{
    CUresult res;

    if (session->current_device == dev->ordinal)
        return CUDA_SUCCESS;
    res = BF_SRV_DRV(&session->drv, CtxSetCurrent, dev->ctx);
    if (res == CUDA_SUCCESS)
        session->current_device = dev->ordinal;
    return res;
}

CUresult bf_srv_session_device(bf_srv_session_t *session, uint32_t index, bf_srv_device_t **dev_p)
{
    CUresult res;

    if (index >= (uint32_t)session->device_count)
        return CUDA_ERROR_INVALID_DEVICE;
    res = bf_srv_session_use(session, &session->devices[index]);
    if (res == CUDA_SUCCESS)
        *dev_p = &session->devices[index];
    return res;
}

uint8_t *bf_srv_session_staging(bf_srv_session_t *session, size_t size)
{
    if (size <= session->staging_size && session->staging != NULL)
        return session->staging;
    if (size > BF_PROTO_MAX_TAIL)
        return NULL;
    size_t grown   = size < STAGING_MIN ? STAGING_MIN : size;
    uint8_t *fresh = realloc(session->staging, grown);
    if (fresh == NULL) {
        bf_log_error("cannot grow the staging buffer to %zu bytes", grown);
        return NULL;
    }
    session->staging      = fresh;
    session->staging_size = grown;
    return fresh;
}

CUresult bf_srv_session_take_latched(bf_srv_session_t *session)
{
    CUresult latched = session->latched;

    session->latched = CUDA_SUCCESS;
    return latched;
}

bf_status_t bf_srv_session_send(bf_srv_session_t *session, uint16_t op, uint16_t flags,
                                uint64_t request_id, const void *fixed, size_t fixed_len,
                                const void *tail, size_t tail_len)
{
    bf_status_t status;

    pthread_mutex_lock(&session->send_lock);
    status = bf_tp_send_frame(session->conn, op, flags, request_id, fixed, fixed_len, tail,
                              tail_len);
    pthread_mutex_unlock(&session->send_lock);
    return status;
}

static const char *signal_name(int signo)
{
    switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGINT:  return "SIGINT";
    case SIGHUP:  return "SIGHUP";
    default:      return "a signal";
    }
}

/*
 * Turns a failed receive into the session's end. what names the part being read ("a frame header",
 * "the payload of op X"); got and want count its bytes. A stream that ends between frames is a normal
 * end.
 */
static void receive_failed(bf_srv_session_t *session, bf_status_t status, const char *what,
                           uint64_t got, uint64_t want)
{
    int signo = atomic_load(&bf_srv_stop_signal);

    if (signo != 0) {
        bf_srv_session_end(session, 0, "terminated by %s", signal_name(signo));
    } else if (status == BF_CLOSED && got == 0 && want == BF_FRAME_HDR_SIZE) {
        bf_srv_session_end(session, 0, "connection closed without goodbye");
    } else if (status == BF_CLOSED) {
        malformed(session, "end of stream inside %s after %" PRIu64 " of %" PRIu64 " bytes", what,
                  got, want);
    } else if (status == BF_TIMEOUT) {
        malformed(session, "nothing received for %d ms inside %s after %" PRIu64 " of %" PRIu64
                  " bytes", PAYLOAD_TIMEOUT_MS, what, got, want);
    } else {
        bf_log_error("closing session: receive failed: %s", bf_status_str(status));
        bf_srv_session_end(session, 1, "connection error: %s", bf_status_str(status));
    }
}

static bool has_tail(const bf_proto_msg_desc_t *desc)
{
    for (size_t i = 0; i < desc->field_count; i++)
        if (desc->fields[i].kind == BF_KIND_TAIL)
            return true;
    return false;
}

/*
 * Reads and checks one request: header, fixed part (decoded by bf_proto_decode, the only decoder)
 * and tail (into the staging buffer). Returns BF_OK with *rq filled, BF_TIMEOUT when no frame began
 * within first_timeout_ms, or another status after ending the session.
 */
static bf_status_t read_request(bf_srv_session_t *session, request_t *rq, int first_timeout_ms)
{
    bf_tp_conn_t *conn = session->conn;
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    uint64_t before = conn->bytes_received;
    bf_status_t status;

    status = bf_tp_recv_hdr(conn, &rq->hdr, first_timeout_ms);
    if (status == BF_TIMEOUT && conn->bytes_received == before && !atomic_load(&bf_srv_stop_signal))
        return BF_TIMEOUT;
    if (status != BF_OK) {
        receive_failed(session, status, "a frame header", conn->bytes_received - before,
                       BF_FRAME_HDR_SIZE);
        return status;
    }

    const bf_frame_hdr_t *hdr = &rq->hdr;
    rq->op = bf_proto_op(hdr->op);
    if (rq->op == NULL) {
        malformed(session, "unknown op id %u (frame length %u, flags 0x%x)", hdr->op, hdr->length,
                  hdr->flags);
        return BF_PROTOCOL;
    }
    const bf_proto_msg_desc_t *desc = &rq->op->request;
    if ((hdr->flags & ~(unsigned)BF_FRAME_POSTED) != 0 ||
        ((hdr->flags & BF_FRAME_POSTED) && rq->op->mode == BF_WAITED)) {
        malformed(session, "op %s: flags 0x%x are not those of a %s request", rq->op->name,
                  hdr->flags, rq->op->mode == BF_WAITED ? "waited" : "posted");
        return BF_PROTOCOL;
    }
    if (hdr->length < desc->wire_size) {
        malformed(session, "op %s: frame length %u is shorter than its fixed part (%u bytes)",
                  rq->op->name, hdr->length, desc->wire_size);
        return BF_PROTOCOL;
    }
    if ((uint64_t)hdr->length > (uint64_t)desc->wire_size + BF_PROTO_MAX_TAIL) {
        malformed(session, "op %s: frame length %u exceeds its fixed part (%u bytes) plus the "
                  "largest tail (%u bytes)", rq->op->name, hdr->length, desc->wire_size,
                  BF_PROTO_MAX_TAIL);
        return BF_PROTOCOL;
    }

    char what[64];
    snprintf(what, sizeof(what), "the payload of op %s", rq->op->name);
    before = conn->bytes_received;
    status = bf_tp_recv(conn, fixed, desc->wire_size, PAYLOAD_TIMEOUT_MS);
    if (status != BF_OK) {
        receive_failed(session, status, what, conn->bytes_received - before, hdr->length);
        return status;
    }
    status = bf_proto_decode(desc, fixed, desc->wire_size, hdr->length, &rq->req, &rq->tail_len);
    if (status != BF_OK) {
        if (has_tail(desc))
            malformed(session, "op %s: frame length %u disagrees with its tail length field "
                      "(fixed part %u bytes)", rq->op->name, hdr->length, desc->wire_size);
        else
            malformed(session, "op %s: takes no tail, but frame length %u leaves %u bytes after "
                      "its fixed part (%u bytes)", rq->op->name, hdr->length,
                      hdr->length - desc->wire_size, desc->wire_size);
        return BF_PROTOCOL;
    }
    if (rq->tail_len > 0) {
        uint8_t *tail = bf_srv_session_staging(session, rq->tail_len);
        if (tail == NULL) {
            bf_srv_session_end(session, 1, "out of memory for a tail of %" PRIu64 " bytes",
                               rq->tail_len);
            return BF_NO_MEMORY;
        }
        status = bf_tp_recv(conn, tail, rq->tail_len, PAYLOAD_TIMEOUT_MS);
        if (status != BF_OK) {
            receive_failed(session, status, what, conn->bytes_received - before, hdr->length);
            return status;
        }
    }
    return BF_OK;
}

/* Executes one checked request; answers it, or latches its error when it was posted. */
static void serve_request(bf_srv_session_t *session, request_t *rq)
{
    const bf_frame_hdr_t *hdr = &rq->hdr;
    bf_srv_rep_t rep;
    bool connection_op = hdr->op == BF_OP_HELLO || hdr->op == BF_OP_HEARTBEAT ||
                         hdr->op == BF_OP_GOODBYE;
    /* Posted-mode ops sent without the posted flag are answered: the client then wants the error
     * now rather than at the next synchronising call. HEARTBEAT and GOODBYE are never answered. */
    bool posted = (hdr->flags & BF_FRAME_POSTED) || hdr->op == BF_OP_HEARTBEAT ||
                  hdr->op == BF_OP_GOODBYE;
    bf_srv_call_t call = {
        .op         = hdr->op,
        .request_id = hdr->request_id,
        .posted     = posted,
        .req        = &rq->req,
        .tail       = rq->tail_len > 0 ? session->staging : NULL,
        .tail_len   = rq->tail_len,
        .rep        = &rep,
    };
    CUresult res;

    memset(&rep, 0, sizeof(rep));
    res = bf_srv_execute(session, &call);
    if (!connection_op)
        session->calls++;

    if (posted) {
        if (res != CUDA_SUCCESS && session->latched == CUDA_SUCCESS) {
            bf_log_debug("posted %s (request %" PRIu64 ") failed with %d: latched", rq->op->name,
                         hdr->request_id, (int)res);
            session->latched = res;
        }
        return;
    }

    uint8_t fixed[BF_PROTO_MAX_FIXED];
    int32_t result = (int32_t)res;
    memcpy(&rep, &result, sizeof(result));  /* every reply struct begins with its result */
    size_t len = bf_proto_encode(&rq->op->reply, &rep, fixed);
    bf_status_t status = bf_srv_session_send(session, hdr->op, BF_FRAME_REPLY, hdr->request_id,
                                             fixed, len, call.rep_tail, call.rep_tail_len);
    if (status != BF_OK) {
        int signo = atomic_load(&bf_srv_stop_signal);
        if (signo != 0)
            bf_srv_session_end(session, 0, "terminated by %s", signal_name(signo));
        else
            bf_srv_session_end(session, 0, "connection lost while replying to %s: %s",
                               rq->op->name, bf_status_str(status));
    }
}

/* Escapes text for a JSON string (quotes, backslashes, control characters). */
static void json_escape(const char *text, char *out, size_t out_len)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && n + 7 < out_len; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)snprintf(out + n, out_len - n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
}

static void write_stats(bf_srv_session_t *session, double seconds, uint64_t live_count,
                        uint64_t live_bytes)
{
    char who[600], peer[600], reason[1100], line[2600];
    int len;

    if (session->options->stats_fd < 0)
        return;
    json_escape(session->who, who, sizeof(who));
    json_escape(session->options->peer, peer, sizeof(peer));
    json_escape(session->reason, reason, sizeof(reason));
    len = snprintf(line, sizeof(line),
                   "{\"who\": \"%s\", \"peer\": \"%s\", \"seconds\": %.3f, \"bytes_in\": %" PRIu64
                   ", \"bytes_out\": %" PRIu64 ", \"calls\": %" PRIu64 ", \"reason\": \"%s\", "
                   "\"allocations_live_at_end\": %" PRIu64 ", \"bytes_live_at_end\": %" PRIu64 "}\n",
                   who, peer, seconds, session->conn ? session->conn->bytes_received : 0,
                   session->conn ? session->conn->bytes_sent : 0, session->calls, reason,
                   live_count, live_bytes);
    if (len <= 0 || (size_t)len >= sizeof(line))
        return;
    for (size_t done = 0; done < (size_t)len;) {
        ssize_t n = write(session->options->stats_fd, line + done, (size_t)len - done);
        if (n < 0) {
            bf_log_warn("cannot write the stats line to fd %d: %s", session->options->stats_fd,
                        strerror(errno));
            return;
        }
        done += (size_t)n;
    }
}

/* Releases what the session holds, then reports it. */
static void finish(bf_srv_session_t *session)
{
    uint64_t live_count = session->memory.allocations.count;
    uint64_t live_bytes = session->memory.bytes_live;

    bf_srv_heartbeat_stop(session);
    /* Process exit would free everything; freeing through the driver first proves it, and a real
     * GPU's contexts are reset so that nothing of the session outlives it in the driver. */
    for (int i = 0; i < session->device_count; i++) {
        bf_srv_device_t *dev = &session->devices[i];
        if (bf_srv_session_use(session, dev) != CUDA_SUCCESS)
            continue;
        bf_srv_memory_release_device(&session->memory, dev, NULL, NULL);
        if (session->options->backend == BF_SRV_BACKEND_CUDA) {
            bf_srv_memory_window_close(&session->memory, dev);
            BF_SRV_DRV(&session->drv, DevicePrimaryCtxReset, dev->handle);
        }
    }

    double seconds = (double)(bf_srv_now_ns() - ((uint64_t)session->started.tv_sec * 1000000000ull +
                                                  (uint64_t)session->started.tv_nsec)) / 1e9;
    write_stats(session, seconds, live_count, live_bytes);
    bf_log_info("session ended: %s; %s; %.2f s, %" PRIu64 " calls, %" PRIu64 " bytes in, %" PRIu64
                " bytes out, freed %" PRIu64 " allocations (%" PRIu64 " bytes)",
                session->reason, session->who, seconds, session->calls,
                session->conn ? session->conn->bytes_received : 0,
                session->conn ? session->conn->bytes_sent : 0, live_count, live_bytes);
}

int bf_srv_session_run(const bf_srv_options_t *options)
{
    bf_srv_session_t *session = calloc(1, sizeof(*session));
    bf_status_t status;
    int exit_code;

    if (session == NULL) {
        bf_log_error("cannot allocate the session");
        return 1;
    }
    session->options        = options;
    session->current_device = -1;
    session->latched        = CUDA_SUCCESS;
    snprintf(session->who, sizeof(session->who), "unknown client");
    clock_gettime(CLOCK_MONOTONIC, &session->started);
    pthread_mutex_init(&session->send_lock, NULL);
    bf_srv_memory_init(&session->memory, &session->drv, options->backend == BF_SRV_BACKEND_CUDA);

    status = bf_tp_conn_from_fd(options->fd, options->peer, &session->conn);
    if (status != BF_OK) {
        bf_log_error("cannot use fd %d as the connection: %s", options->fd, bf_status_str(status));
        bf_srv_session_end(session, 1, "bad connection fd");
        goto out;
    }
    /* Started before HELLO: loading a real driver and cuInit can take seconds. */
    if (bf_srv_heartbeat_start(session) != BF_OK) {
        bf_srv_session_end(session, 1, "cannot start the heartbeat thread");
        goto out;
    }

    while (!session->ending) {
        request_t rq;
        status = read_request(session, &rq, session->greeted ? -1 : options->hello_timeout_ms);
        if (status == BF_TIMEOUT) {
            bf_log_error("closing session: no HELLO within %d ms", options->hello_timeout_ms);
            bf_srv_session_end(session, 1, "no hello");
            break;
        }
        if (status != BF_OK)
            break;
        if (!session->greeted && rq.hdr.op != BF_OP_HELLO) {
            malformed(session, "expected HELLO first, got op %s", rq.op->name);
            break;
        }
        if (session->greeted && rq.hdr.op == BF_OP_HELLO) {
            malformed(session, "a second HELLO");
            break;
        }
        serve_request(session, &rq);
    }

out:
    finish(session);
    exit_code = session->exit_code;
    bf_tp_conn_close(session->conn);
    bf_range_map_clear(&session->memory.allocations);
    free(session->staging);
    free(session);
    return exit_code;
}
