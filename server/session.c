/* session.c: the connection loop of one session (read, check, execute, answer) and its end. */
#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bf_log.h"
#include "executor.h"
#include "output.h"
#include "validate.h"

atomic_int bf_srv_stop_signal;

/* Inside a frame the rest must follow promptly: this much silence means the client is gone. */
#define PAYLOAD_TIMEOUT_MS 30000

/* A staging buffer never shrinks below this, so small copies never reallocate. */
#define STAGING_MIN (64u << 10)

/* Request tails up to this size are read into the reader's staging buffer (the scheduler copies
 * one out if the op is queued); larger ones into a buffer the queued op can own. */
#define READER_TAIL_MAX (64u << 10)

/* Per thread: whose context is current, as of which reset, and the staging buffer. */
static _Thread_local int current_device = -1;
static _Thread_local unsigned current_generation;
static _Thread_local uint8_t *staging;
static _Thread_local size_t staging_size;

uint64_t bf_srv_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bf_srv_session_end(bf_srv_session_t *session, int exit_code, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&session->end_lock);
    if (!atomic_load(&session->ending)) {
        va_start(ap, fmt);
        vsnprintf(session->reason, sizeof(session->reason), fmt, ap);
        va_end(ap);
        session->exit_code = exit_code;
        atomic_store(&session->ending, true);
        /* Executor threads end sessions too (a reply that cannot be sent): wake the reader. */
        if (session->conn != NULL && session->conn->fd >= 0)
            (void)shutdown(session->conn->fd, SHUT_RD);
    }
    pthread_mutex_unlock(&session->end_lock);
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
    unsigned generation = atomic_load(&session->ctx_generation);
    CUresult res;

    if (current_device == dev->ordinal && current_generation == generation)
        return CUDA_SUCCESS;
    res = BF_SRV_DRV(&session->drv, CtxSetCurrent, dev->ctx);
    if (res == CUDA_SUCCESS) {
        current_device     = dev->ordinal;
        current_generation = generation;
    }
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
    (void)session;
    if (size <= staging_size && staging != NULL)
        return staging;
    if (size > BF_PROTO_MAX_TAIL)
        return NULL;
    size_t grown   = size < STAGING_MIN ? STAGING_MIN : size;
    uint8_t *fresh = realloc(staging, grown);
    if (fresh == NULL) {
        bf_log_error("cannot grow the staging buffer to %zu bytes", grown);
        return NULL;
    }
    staging      = fresh;
    staging_size = grown;
    return fresh;
}

void bf_srv_session_staging_release(void)
{
    free(staging);
    staging      = NULL;
    staging_size = 0;
}

CUresult bf_srv_session_take_latched(bf_srv_session_t *session)
{
    return (CUresult)atomic_exchange(&session->latched, CUDA_SUCCESS);
}

void bf_srv_session_latch(bf_srv_session_t *session, CUresult res)
{
    int expected = CUDA_SUCCESS;

    if (res != CUDA_SUCCESS)
        (void)atomic_compare_exchange_strong(&session->latched, &expected, (int)res);
}

bool bf_srv_session_check_span(bf_srv_session_t *session, uint64_t addr, uint64_t size,
                               bf_range_t *range_p)
{
    pthread_mutex_lock(&session->memory_lock);
    const bf_range_t *range = bf_srv_check_span(&session->memory.allocations, addr, size);
    if (range != NULL)
        *range_p = *range;
    pthread_mutex_unlock(&session->memory_lock);
    return range != NULL;
}

bool bf_srv_session_check_2d(bf_srv_session_t *session, uint64_t base, uint64_t pitch,
                             uint64_t width, uint64_t height, bf_range_t *range_p)
{
    pthread_mutex_lock(&session->memory_lock);
    const bf_range_t *range = bf_srv_check_2d(&session->memory.allocations, base, pitch, width,
                                              height);
    if (range != NULL)
        *range_p = *range;
    pthread_mutex_unlock(&session->memory_lock);
    return range != NULL;
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
 * and tail (small ones into this thread's staging buffer, large ones into a buffer a queued op can
 * own). Returns BF_OK with *rq filled, BF_TIMEOUT when no frame began within first_timeout_ms, or
 * another status after ending the session.
 */
/* Bytes of the stream taken so far: what was received minus what still waits in the transport's
 * read buffer. */
static uint64_t consumed(const bf_tp_conn_t *conn)
{
    return conn->bytes_received - (conn->rbuf_len - conn->rbuf_pos);
}

static bf_status_t read_request(bf_srv_session_t *session, bf_srv_request_t *rq,
                                int first_timeout_ms)
{
    bf_tp_conn_t *conn = session->conn;
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    uint64_t before = consumed(conn);
    bf_status_t status;

    rq->tail       = NULL;
    rq->tail_len   = 0;
    rq->tail_owned = false;
    status = bf_tp_recv_hdr(conn, &rq->hdr, first_timeout_ms);
    if (status == BF_TIMEOUT && consumed(conn) == before && !atomic_load(&bf_srv_stop_signal))
        return BF_TIMEOUT;
    if (status != BF_OK) {
        receive_failed(session, status, "a frame header", consumed(conn) - before,
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
    before = consumed(conn);
    status = bf_tp_recv(conn, fixed, desc->wire_size, PAYLOAD_TIMEOUT_MS);
    if (status != BF_OK) {
        receive_failed(session, status, what, consumed(conn) - before, hdr->length);
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
        if (rq->tail_len <= READER_TAIL_MAX) {
            rq->tail = bf_srv_session_staging(session, rq->tail_len);
        } else {
            rq->tail       = bf_srv_sched_tail_alloc(session, rq->tail_len);
            rq->tail_owned = rq->tail != NULL;
        }
        if (rq->tail == NULL) {
            bf_srv_session_end(session, 1, "out of memory for a tail of %" PRIu64 " bytes",
                               rq->tail_len);
            return BF_NO_MEMORY;
        }
        status = bf_tp_recv(conn, rq->tail, rq->tail_len, PAYLOAD_TIMEOUT_MS);
        if (status != BF_OK) {
            receive_failed(session, status, what, consumed(conn) - before, hdr->length);
            if (rq->tail_owned)
                bf_srv_sched_tail_free(session, rq->tail);
            return status;
        }
    }
    return BF_OK;
}

void bf_srv_session_reply(bf_srv_session_t *session, const bf_srv_request_t *rq, CUresult res,
                          void *rep, const void *tail, size_t tail_len)
{
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    int32_t result = (int32_t)res;

    /* What the driver printed while executing this op (or earlier posted ones) reaches the client
     * before the reply: the program sees device output before the call that flushed it returns. A
     * failure to send shows again in the reply's own send. */
    (void)bf_srv_output_flush(session);
    memcpy(rep, &result, sizeof(result));  /* every reply struct begins with its result */
    size_t len = bf_proto_encode(&rq->op->reply, rep, fixed);
    bf_status_t status = bf_srv_session_send(session, rq->hdr.op, BF_FRAME_REPLY,
                                             rq->hdr.request_id, fixed, len, tail, tail_len);
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
                   session->conn ? session->conn->bytes_sent : 0, (uint64_t)session->calls, reason,
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
    uint64_t live_count, live_bytes;

    /* Every thread but this one stops first: nothing may run while the memory goes away. */
    bf_srv_sched_stop(session);
    bf_srv_heartbeat_stop(session);
    live_count = session->memory.allocations.count;
    live_bytes = session->memory.bytes_live;
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

    /* The last device output (a reset flushed it, or posted work printed after the last reply); the
     * client may be gone already, which changes nothing here. */
    if (session->conn != NULL)
        (void)bf_srv_output_flush(session);

    double seconds = (double)(bf_srv_now_ns() - ((uint64_t)session->started.tv_sec * 1000000000ull +
                                                  (uint64_t)session->started.tv_nsec)) / 1e9;
    write_stats(session, seconds, live_count, live_bytes);
    bf_log_info("session ended: %s; %s; %.2f s, %" PRIu64 " calls, %" PRIu64 " bytes in, %" PRIu64
                " bytes out, freed %" PRIu64 " allocations (%" PRIu64 " bytes)",
                session->reason, session->who, seconds, (uint64_t)session->calls,
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
    session->options = options;
    atomic_init(&session->latched, CUDA_SUCCESS);
    snprintf(session->who, sizeof(session->who), "unknown client");
    clock_gettime(CLOCK_MONOTONIC, &session->started);
    pthread_mutex_init(&session->send_lock, NULL);
    pthread_mutex_init(&session->end_lock, NULL);
    pthread_mutex_init(&session->memory_lock, NULL);
    pthread_mutex_init(&session->busy_lock, NULL);
    bf_srv_memory_init(&session->memory, &session->drv, options->backend == BF_SRV_BACKEND_CUDA);

    status = bf_tp_conn_from_fd(options->fd, options->peer, &session->conn);
    if (status != BF_OK) {
        bf_log_error("cannot use fd %d as the connection: %s", options->fd, bf_status_str(status));
        bf_srv_session_end(session, 1, "bad connection fd");
        goto out;
    }
    if (bf_srv_sched_init(session) != BF_OK) {
        bf_srv_session_end(session, 1, "cannot set up the scheduler");
        goto out;
    }
    /* Started before HELLO: loading a real driver and cuInit can take seconds. */
    if (bf_srv_heartbeat_start(session) != BF_OK) {
        bf_srv_session_end(session, 1, "cannot start the heartbeat thread");
        goto out;
    }

    while (!atomic_load(&session->ending)) {
        bf_srv_request_t rq;
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
        } else if (session->greeted && rq.hdr.op == BF_OP_HELLO) {
            malformed(session, "a second HELLO");
        } else {
            bf_srv_sched_submit(session, &rq);
            continue;
        }
        if (rq.tail_owned)
            bf_srv_sched_tail_free(session, rq.tail);
        break;
    }

out:
    finish(session);
    exit_code = session->exit_code;
    bf_tp_conn_close(session->conn);
    bf_range_map_clear(&session->memory.allocations);
    bf_srv_session_staging_release();
    free(session);
    return exit_code;
}
