/*
 * rpc.c: requests and replies over the one connection, shared by every thread of the process.
 *
 * Sending. Frames are appended to a batch under send_lock. A posted frame (an async copy to the
 * device, a memset, an event record, a free) waits there until a waited call sends it with its own
 * request, the batch passes BATCH_FLUSH_BYTES, or the flusher thread finds it BF_BATCH_DELAY_US old;
 * so many small posted ops cost one system call, and work posted before the program turns to its own
 * computation still starts within microseconds. A tail above BATCH_COPY_MAX is not copied: it is
 * written from where it lies, after the batch, in the same writev, and the call returns once it is
 * written, which is when the caller's buffer is no longer read.
 *
 * Receiving. Requests carry ids; every waited request is on the pending list with the place where
 * its reply goes. One thread at a time reads (leader/follower): a thread waiting for a reply reads
 * frames if nobody else does and hands each reply to its owner, whose condition it signals; the
 * others sleep. Replies of async copies into pinned memory have no waiting thread at all: whoever
 * reads next copies their tails into place. A sender whose write would block drains what the server
 * sent instead of blocking (big copies in both directions at once cannot deadlock: the worker may
 * itself be blocked writing a reply to us). The connection lock is never held while the network is
 * waited for.
 *
 * Every reply frame is checked (reply flag, a pending id, its op, length, fields) before a byte of it
 * is used, and its tail is received straight into the caller's destination. Any transport or
 * protocol failure ends the connection (bf_cl_conn_fail): the stream can no longer be trusted.
 */
#include "code.h"
#include "engine_int.h"
#include "trace/trace_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bf_config.h"
#include "bf_log.h"

/* Chunk replies kept in flight by bf_cl_rpc_call_many. */
#define PIPELINE_DEPTH 4

/* Rows narrower than this are received through the bounce buffer and scattered: one recv per
 * row would cost more than the copy. */
#define BOUNCE_ROW_MIN (64u << 10)
#define BOUNCE_SIZE (256u << 10)

/* The batch is sent once it holds this much; tails up to BATCH_COPY_MAX are copied into it. */
#define BATCH_FLUSH_BYTES (64u << 10)
#define BATCH_COPY_MAX (16u << 10)
#define BATCH_CAPACITY (BATCH_FLUSH_BYTES + BATCH_COPY_MAX + BF_FRAME_HDR_SIZE + BF_PROTO_MAX_FIXED)

/* How long a blocked sender sleeps between checks of the connection's state. */
#define SEND_POLL_MS 100

struct bf_cl_pending {
    bf_cl_pending_t *next;
    uint64_t id;
    uint16_t op;
    bool done;
    bool async;             /* nobody waits: the reader frees it */
    CUresult result;
    void *rep;              /* where the reply's fixed fields go (bf_rep_<OP>_t) */
    bf_cl_sink_t sink;      /* where its tail goes; base NULL: none expected */
    uint64_t host_lo, host_hi;  /* async: the host bytes its tail will write */
    uint64_t rx_bytes;      /* bytes of its reply frame, for the owner's bf_cl_io (bf-trace) */
    union {                 /* async: the reply struct lands here */
        bf_rep_MEMCPY_DTOH_t dtoh;
        bf_rep_MEMCPY_2D_DTOH_t dtoh_2d;
    } storage;
};

static uint8_t bounce[BOUNCE_SIZE];  /* used by the reader only */

/* When the last frame arrived from the server (monotonic ns): a sender blocked on a full socket
 * tells a busy server (heartbeats) from one that stopped reading. */
static _Atomic uint64_t last_frame_ns;

static uint64_t mono_ns(void);

/* Per-thread traffic, read by bf-trace's wrappers (trace/trace_io.h). */
__thread bf_cl_io_counters_t bf_cl_io;

static const char *op_name(uint16_t op)
{
    return bf_proto_op_name(op);
}

static uint64_t next_id(void)
{
    return atomic_fetch_add(&bf_cl_conn.next_id, 1);
}

static bool usable(void)
{
    return atomic_load(&bf_cl_conn.state) == BF_CL_CONN_READY;
}

/* Why a call cannot use the connection now. */
static CUresult not_ready(void)
{
    CUresult result = bf_cl_check_init();
    return result != CUDA_SUCCESS ? result : CUDA_ERROR_DEVICE_UNAVAILABLE;
}

/* ---- the pending list (lock held) --------------------------------------------------------- */

static void pending_add(bf_cl_pending_t *p)
{
    p->next = NULL;
    if (bf_cl_conn.pending_tail != NULL)
        bf_cl_conn.pending_tail->next = p;
    else
        bf_cl_conn.pending = p;
    bf_cl_conn.pending_tail = p;
}

static void pending_remove(bf_cl_pending_t *p)
{
    bf_cl_pending_t *prev = NULL;

    for (bf_cl_pending_t *q = bf_cl_conn.pending; q != NULL; prev = q, q = q->next) {
        if (q != p)
            continue;
        if (prev != NULL)
            prev->next = q->next;
        else
            bf_cl_conn.pending = q->next;
        if (bf_cl_conn.pending_tail == q)
            bf_cl_conn.pending_tail = prev;
        return;
    }
}

static bf_cl_pending_t *pending_find(uint64_t id)
{
    for (bf_cl_pending_t *q = bf_cl_conn.pending; q != NULL; q = q->next)
        if (q->id == id)
            return q;
    return NULL;
}

/* ---- receiving (reader token held) -------------------------------------------------------- */

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

/* Writes all of buf to fd 2 (the program's stderr, unbuffered as stderr is). */
static void write_stderr(const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* An OUTPUT frame: what the worker's driver printed (device printf on fd 1, assert messages on fd
 * 2) goes to this program's stdout (through stdio, so it stays in order with the program's own
 * printf lines, and flushed) or stderr. */
static bf_status_t take_output(const bf_frame_hdr_t *hdr, char *why, size_t why_len)
{
    const bf_proto_msg_desc_t *desc = &bf_proto_op(BF_OP_OUTPUT)->request;
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    bf_req_OUTPUT_t out;
    uint64_t tail_len;

    if (hdr->request_id != 0 || hdr->length < desc->wire_size ||
        hdr->length - desc->wire_size > BF_PROTO_MAX_TAIL) {
        snprintf(why, why_len, "malformed output frame (%" PRIu32 " bytes, id %" PRIu64 ")",
                 hdr->length, hdr->request_id);
        return BF_PROTOCOL;
    }
    bf_status_t status = recv_or_explain(fixed, desc->wire_size, BF_OP_OUTPUT, why, why_len);
    if (status != BF_OK)
        return status;
    if (bf_proto_decode(desc, fixed, desc->wire_size, hdr->length, &out, &tail_len) != BF_OK ||
        (out.fd != 1 && out.fd != 2)) {
        snprintf(why, why_len, "malformed output frame");
        return BF_PROTOCOL;
    }
    while (tail_len > 0) {
        size_t n = tail_len < sizeof(bounce) ? (size_t)tail_len : sizeof(bounce);
        status = recv_or_explain(bounce, n, BF_OP_OUTPUT, why, why_len);
        if (status != BF_OK)
            return status;
        if (out.fd == 1)
            (void)!fwrite(bounce, 1, n, stdout);
        else
            write_stderr(bounce, n);
        tail_len -= n;
    }
    if (out.fd == 1)
        fflush(stdout);
    return BF_OK;
}

/* Reads one frame and hands it over: a heartbeat resets nothing but the silence timer (the read
 * itself), a reply fills its pending entry. `waiting_for` names the op of the calling thread's own
 * request, for messages. */
static bf_status_t read_frame(uint16_t waiting_for, char *why, size_t why_len)
{
    const bf_proto_msg_desc_t *desc;
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    bf_frame_hdr_t hdr;
    uint64_t tail_len;
    bf_status_t status;

    status = bf_tp_recv_hdr(bf_cl_conn.tp, &hdr, bf_cl_conn.heartbeat_timeout_ms);
    if (status == BF_TIMEOUT) {
        snprintf(why, why_len, "no reply or heartbeat for %d ms while waiting for %s",
                 bf_cl_conn.heartbeat_timeout_ms, op_name(waiting_for));
        return status;
    }
    if (status != BF_OK) {
        snprintf(why, why_len, "%s while waiting for %s", bf_status_str(status),
                 op_name(waiting_for));
        return status;
    }
    atomic_store_explicit(&last_frame_ns, mono_ns(), memory_order_relaxed);
    if (hdr.op == BF_OP_HEARTBEAT && hdr.flags == BF_FRAME_POSTED)
        return take_heartbeat(&hdr, why, why_len);
    if (hdr.op == BF_OP_OUTPUT && hdr.flags == BF_FRAME_POSTED)
        return take_output(&hdr, why, why_len);

    pthread_mutex_lock(&bf_cl_conn.lock);
    bf_cl_pending_t *p = hdr.flags == BF_FRAME_REPLY ? pending_find(hdr.request_id) : NULL;
    pthread_mutex_unlock(&bf_cl_conn.lock);
    if (p == NULL || p->op != hdr.op) {
        snprintf(why, why_len,
                 "unexpected frame (op %s, flags %#x, id %" PRIu64 ") while waiting for %s",
                 bf_proto_op_name(hdr.op), hdr.flags, hdr.request_id, op_name(waiting_for));
        return BF_PROTOCOL;
    }
    /* p stays valid: only this thread completes it, and its owner waits until it is done. */
    desc = &bf_proto_op(hdr.op)->reply;
    if (hdr.length < desc->wire_size || hdr.length - desc->wire_size > BF_PROTO_MAX_TAIL) {
        snprintf(why, why_len, "reply to %s has a bad length (%" PRIu32 " bytes)", op_name(hdr.op),
                 hdr.length);
        return BF_PROTOCOL;
    }
    status = recv_or_explain(fixed, desc->wire_size, hdr.op, why, why_len);
    if (status != BF_OK)
        return status;
    if (bf_proto_decode(desc, fixed, desc->wire_size, hdr.length, p->rep, &tail_len) != BF_OK) {
        snprintf(why, why_len, "malformed reply to %s", op_name(hdr.op));
        return BF_PROTOCOL;
    }

    int32_t result;
    memcpy(&result, p->rep, sizeof(result));  /* every reply struct starts with its result */
    const bf_cl_sink_t *sink = p->sink.base != NULL ? &p->sink : NULL;
    if (tail_len == 0 && (result != CUDA_SUCCESS || sink == NULL || sink->allow_short ||
                          sink->width * sink->rows == 0)) {
        status = BF_OK;
    } else if (result != CUDA_SUCCESS) {
        status = bf_tp_discard(bf_cl_conn.tp, tail_len, bf_cl_conn.heartbeat_timeout_ms);
        if (status != BF_OK)
            snprintf(why, why_len, "%s while reading the reply to %s", bf_status_str(status),
                     op_name(hdr.op));
    } else {
        uint64_t expected = sink != NULL ? sink->width * sink->rows : 0;
        if (tail_len > expected || (tail_len < expected && !sink->allow_short)) {
            snprintf(why, why_len, "reply to %s carries %" PRIu64 " bytes, expected %" PRIu64,
                     op_name(hdr.op), tail_len, expected);
            return BF_PROTOCOL;
        }
        status = recv_into_sink(sink, tail_len, hdr.op, why, why_len);
    }
    if (status != BF_OK)
        return status;

    pthread_mutex_lock(&bf_cl_conn.lock);
    p->result = (CUresult)result;
    p->rx_bytes = BF_FRAME_HDR_SIZE + (uint64_t)hdr.length;
    p->done = true;
    if (p->async) {
        pending_remove(p);
        bf_cl_conn.async_count--;
        if (result != CUDA_SUCCESS) {
            /* An async copy's execution error: the next synchronising call returns it. */
            int expected = CUDA_SUCCESS;
            (void)atomic_compare_exchange_strong(&bf_cl_conn.latched, &expected, result);
        }
        free(p);
    }
    pthread_cond_broadcast(&bf_cl_conn.cond);
    pthread_mutex_unlock(&bf_cl_conn.lock);
    return BF_OK;
}

/* Lock held: takes the reader token if nobody reads. */
static bool reader_take_locked(void)
{
    if (bf_cl_conn.reading)
        return false;
    bf_cl_conn.reading = true;
    return true;
}

/* Lock held: gives the token back after a read; a failed read breaks the connection for all. */
static void reader_drop_locked(bf_status_t status)
{
    bf_cl_conn.reading = false;
    if (status != BF_OK)
        bf_cl_conn.broken = true;
    pthread_cond_broadcast(&bf_cl_conn.cond);
}

/*
 * Waits (lock held on entry and exit) until done() says so, reading frames whenever nobody else
 * does. Returns BF_OK, or the failure that broke the connection (with why filled when this thread
 * saw it; raw: the caller reports it, else the connection is failed here).
 */
static bf_status_t wait_until(bool (*done)(void *), void *arg, uint16_t op, bool raw, char *why,
                              size_t why_len)
{
    while (!done(arg)) {
        if (bf_cl_conn.broken || (!raw && !usable())) {
            /* A reader may be filling an entry of ours right now: let it finish first. */
            if (bf_cl_conn.reading) {
                pthread_cond_wait(&bf_cl_conn.cond, &bf_cl_conn.lock);
                continue;
            }
            snprintf(why, why_len, "connection broken while waiting for %s", op_name(op));
            return BF_CLOSED;
        }
        if (!reader_take_locked()) {
            pthread_cond_wait(&bf_cl_conn.cond, &bf_cl_conn.lock);
            continue;
        }
        pthread_mutex_unlock(&bf_cl_conn.lock);
        bf_status_t status = read_frame(op, why, why_len);
        if (status != BF_OK && !raw)
            bf_cl_conn_fail(why);
        pthread_mutex_lock(&bf_cl_conn.lock);
        reader_drop_locked(status);
        if (status != BF_OK)
            return status;
    }
    return BF_OK;
}

static bool entry_done(void *arg)
{
    return ((bf_cl_pending_t *)arg)->done;
}

/* ---- sending (send_lock held) ------------------------------------------------------------- */

/* Skips n written bytes of iov. */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
    while (*iovcnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*iovcnt)--;
    }
    if (*iovcnt > 0 && n > 0) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
    while (*iovcnt > 0 && (*iov)->iov_len == 0) {
        (*iov)++;
        (*iovcnt)--;
    }
}

/* A blocked sender reads one frame if nobody else is reading; otherwise waits for room. */
static bf_status_t drain_or_wait(bool raw, char *why, size_t why_len)
{
    bf_tp_conn_t *tp = bf_cl_conn.tp;
    bool reader = false;

    pthread_mutex_lock(&bf_cl_conn.lock);
    if (bf_cl_conn.broken || (!raw && !usable())) {
        pthread_mutex_unlock(&bf_cl_conn.lock);
        snprintf(why, why_len, "connection broken while sending");
        return BF_CLOSED;
    }
    reader = reader_take_locked();
    pthread_mutex_unlock(&bf_cl_conn.lock);

    int ready = tp->ops->wait(tp, BF_TP_WRITABLE | (reader ? BF_TP_READABLE : 0), SEND_POLL_MS);
    bf_status_t status = BF_OK;
    if (ready < 0) {
        snprintf(why, why_len, "cannot wait for the connection: %s",
                 bf_status_str((bf_status_t)ready));
        status = (bf_status_t)ready;
    } else if (reader && (ready & BF_TP_READABLE)) {
        /* The server is sending while we cannot: take its frames first. */
        status = read_frame(0, why, why_len);
    }
    if (reader) {
        if (status != BF_OK && !raw)
            bf_cl_conn_fail(why);
        pthread_mutex_lock(&bf_cl_conn.lock);
        reader_drop_locked(status);
        pthread_mutex_unlock(&bf_cl_conn.lock);
    }
    return status;
}

/* Writes all of iov, draining incoming frames whenever the connection would block. A server that
 * stays connected but neither takes our bytes nor sends anything (not even heartbeats, which a
 * worker busy with our earlier work sends) for BF_HEARTBEAT_TIMEOUT_MS is declared lost: a large
 * send never blocks forever. */
static bf_status_t write_all(struct iovec *iov, int iovcnt, bool raw, char *why, size_t why_len)
{
    bf_tp_conn_t *tp = bf_cl_conn.tp;
    uint64_t stalled_since = 0;
    bf_status_t status;

    if (tp == NULL) {
        snprintf(why, why_len, "not connected");
        return BF_CLOSED;
    }
    if (tp->ops->sendv_some == NULL || tp->ops->wait == NULL) {
        status = tp->ops->sendv(tp, iov, iovcnt);
        if (status != BF_OK)
            snprintf(why, why_len, "cannot send: %s", bf_status_str(status));
        return status;
    }
    iov_advance(&iov, &iovcnt, 0);
    while (iovcnt > 0) {
        size_t sent = 0;
        status = tp->ops->sendv_some(tp, iov, iovcnt, &sent);
        if (status != BF_OK) {
            snprintf(why, why_len, "cannot send: %s", bf_status_str(status));
            return status;
        }
        iov_advance(&iov, &iovcnt, sent);
        if (sent > 0)
            stalled_since = 0;
        if (iovcnt > 0 && sent == 0) {
            uint64_t now = mono_ns(), heard = atomic_load(&last_frame_ns);
            if (stalled_since == 0)
                stalled_since = now;
            uint64_t quiet_since = heard > stalled_since ? heard : stalled_since;
            if (now - quiet_since >= (uint64_t)bf_cl_conn.heartbeat_timeout_ms * 1000000u) {
                snprintf(why, why_len, "the server took no data and sent nothing for %d ms",
                         bf_cl_conn.heartbeat_timeout_ms);
                return BF_TIMEOUT;
            }
            status = drain_or_wait(raw, why, why_len);
            if (status != BF_OK)
                return status;
        }
    }
    return BF_OK;
}

static bf_status_t flush_locked(bool raw, char *why, size_t why_len)
{
    if (bf_cl_conn.batch_len == 0)
        return BF_OK;
    struct iovec iov = {.iov_base = bf_cl_conn.batch, .iov_len = bf_cl_conn.batch_len};
    bf_status_t status = write_all(&iov, 1, raw, why, why_len);
    bf_cl_conn.batch_len = 0;
    return status;
}

/* Appends one frame; a large tail is written at once, after the batch, from where it lies. */
static bf_status_t append_frame(uint16_t op, uint16_t flags, uint64_t id, const void *req,
                                const void *tail, size_t tail_len, bool raw, char *why,
                                size_t why_len)
{
    const bf_proto_op_desc_t *desc = bf_proto_op(op);
    size_t copied = tail_len <= BATCH_COPY_MAX ? tail_len : 0;
    bf_status_t status;

    if (bf_cl_conn.batch == NULL) {
        snprintf(why, why_len, "not connected");
        return BF_CLOSED;
    }
    if (bf_cl_conn.batch_len + BF_FRAME_HDR_SIZE + desc->request.wire_size + copied >
        bf_cl_conn.batch_cap) {
        status = flush_locked(raw, why, why_len);
        if (status != BF_OK)
            return status;
    }
    if (bf_cl_conn.batch_len == 0)
        bf_cl_conn.batch_since_ns = 0;  /* set by the caller when it wants the flusher */
    uint8_t *at = bf_cl_conn.batch + bf_cl_conn.batch_len;
    size_t fixed_len = bf_proto_encode(&desc->request, req, at + BF_FRAME_HDR_SIZE);
    bf_frame_hdr_t hdr = {.length = (uint32_t)(fixed_len + tail_len), .op = op, .flags = flags,
                          .request_id = id};
    bf_tp_hdr_encode(&hdr, at);
    bf_cl_conn.batch_len += BF_FRAME_HDR_SIZE + fixed_len;
    bf_cl_io.bytes_sent += BF_FRAME_HDR_SIZE + fixed_len + tail_len;
    bf_cl_io.last_request_id = id;
    if (tail_len > 0 && copied == tail_len) {
        memcpy(bf_cl_conn.batch + bf_cl_conn.batch_len, tail, tail_len);
        bf_cl_conn.batch_len += tail_len;
    } else if (tail_len > 0) {
        struct iovec iov[2] = {
            {.iov_base = bf_cl_conn.batch, .iov_len = bf_cl_conn.batch_len},
            {.iov_base = (void *)tail, .iov_len = tail_len},
        };
        status = write_all(iov, 2, raw, why, why_len);
        bf_cl_conn.batch_len = 0;
        if (status != BF_OK)
            return status;
    }
    if (bf_cl_conn.batch_len >= BATCH_FLUSH_BYTES)
        return flush_locked(raw, why, why_len);
    return BF_OK;
}

/* ---- the flusher -------------------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sends a batch that has waited BF_BATCH_DELAY_US: posted work must not sit in the client while
 * the program computes on the host. */
static void *flusher_main(void *arg)
{
    char why[256];

    (void)arg;
    pthread_mutex_lock(&bf_cl_conn.send_lock);
    while (!bf_cl_conn.flusher_stop) {
        if (bf_cl_conn.batch_len == 0) {
            pthread_cond_wait(&bf_cl_conn.flush_cond, &bf_cl_conn.send_lock);
            continue;
        }
        uint64_t due = bf_cl_conn.batch_since_ns + (uint64_t)bf_cl_conn.batch_delay_us * 1000u;
        uint64_t now = mono_ns();
        if (now < due) {
            struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull),
                                  .tv_nsec = (long)(due % 1000000000ull)};
            (void)pthread_cond_timedwait(&bf_cl_conn.flush_cond, &bf_cl_conn.send_lock, &ts);
            continue;
        }
        if (!usable()) {
            bf_cl_conn.batch_len = 0;
            continue;
        }
        if (flush_locked(false, why, sizeof(why)) != BF_OK) {
            pthread_mutex_unlock(&bf_cl_conn.send_lock);
            bf_cl_conn_fail(why);
            pthread_mutex_lock(&bf_cl_conn.send_lock);
        }
    }
    pthread_mutex_unlock(&bf_cl_conn.send_lock);
    return NULL;
}

/* send_lock held: a posted frame was added; make sure it leaves within the delay. */
static void arm_flusher_locked(bool batch_was_empty)
{
    if (bf_cl_conn.batch_len == 0)
        return;
    if (batch_was_empty || bf_cl_conn.batch_since_ns == 0)
        bf_cl_conn.batch_since_ns = mono_ns();
    if (!bf_cl_conn.flusher_started) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_destroy(&bf_cl_conn.flush_cond);
        pthread_cond_init(&bf_cl_conn.flush_cond, &attr);
        pthread_condattr_destroy(&attr);
        bf_cl_conn.flusher_stop = false;
        if (pthread_create(&bf_cl_conn.flusher, NULL, flusher_main, NULL) == 0) {
            bf_cl_conn.flusher_started = true;
        } else {
            /* Without the thread posted work goes out at once. */
            bf_cl_conn.batch_delay_us = 0;
        }
    }
    if (batch_was_empty)
        pthread_cond_signal(&bf_cl_conn.flush_cond);
}

/* ---- set-up and tear-down ----------------------------------------------------------------- */

bf_status_t bf_cl_rpc_setup(void)
{
    bf_cl_conn.batch = malloc(BATCH_CAPACITY);
    if (bf_cl_conn.batch == NULL)
        return BF_NO_MEMORY;
    bf_cl_conn.batch_cap = BATCH_CAPACITY;
    bf_cl_conn.batch_len = 0;
    bf_cl_conn.batch_delay_us = (int)bf_config_get_long(BF_CONFIG_BATCH_DELAY_US);
    atomic_store(&bf_cl_conn.latched, CUDA_SUCCESS);
    return BF_OK;
}

bool bf_cl_rpc_stop_flusher(int timeout_ms)
{
    struct timespec deadline;

    if (!bf_cl_conn.flusher_started)
        return true;
    pthread_mutex_lock(&bf_cl_conn.send_lock);
    bf_cl_conn.flusher_stop = true;
    pthread_cond_signal(&bf_cl_conn.flush_cond);
    pthread_mutex_unlock(&bf_cl_conn.send_lock);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(bf_cl_conn.flusher, NULL, &deadline) != 0)
        return false;
    bf_cl_conn.flusher_started = false;
    return true;
}

void bf_cl_rpc_forget_after_fork(void)
{
    /* The parent's threads (their waits, the reader, the flusher) do not exist here; the entries
     * on the list live on their stacks or belong to the parent's pinned memory: forget them. */
    pthread_mutex_init(&bf_cl_conn.lock, NULL);
    pthread_mutex_init(&bf_cl_conn.send_lock, NULL);
    pthread_cond_init(&bf_cl_conn.cond, NULL);
    pthread_cond_init(&bf_cl_conn.flush_cond, NULL);
    bf_cl_conn.reading = false;
    bf_cl_conn.pending = bf_cl_conn.pending_tail = NULL;
    bf_cl_conn.async_count = 0;
    bf_cl_conn.batch_len = 0;
    bf_cl_conn.flusher_started = false;
}

/* ---- calls -------------------------------------------------------------------------------- */

/* Waited round trips of this process, for BF_STATS (code.c prints them at exit). */
static atomic_uint_fast64_t waited_count;

uint64_t bf_cl_rpc_waited_count(void)
{
    return atomic_load_explicit(&waited_count, memory_order_relaxed);
}

bf_status_t bf_cl_rpc_call_raw(uint16_t op, const void *req, const void *tail, size_t tail_len,
                               void *rep, const bf_cl_sink_t *sink, char *why, size_t why_len)
{
    bf_cl_pending_t p = {.id = next_id(), .op = op, .rep = rep};
    bf_status_t status;

    if (sink != NULL)
        p.sink = *sink;
    pthread_mutex_lock(&bf_cl_conn.lock);
    pending_add(&p);
    pthread_mutex_unlock(&bf_cl_conn.lock);

    pthread_mutex_lock(&bf_cl_conn.send_lock);
    status = append_frame(op, 0, p.id, req, tail, tail_len, true, why, why_len);
    if (status == BF_OK)
        status = flush_locked(true, why, why_len);
    pthread_mutex_unlock(&bf_cl_conn.send_lock);

    atomic_fetch_add_explicit(&waited_count, 1, memory_order_relaxed);
    pthread_mutex_lock(&bf_cl_conn.lock);
    if (status == BF_OK)
        status = wait_until(entry_done, &p, op, true, why, why_len);
    pending_remove(&p);
    pthread_mutex_unlock(&bf_cl_conn.lock);
    return status;
}

bf_status_t bf_cl_rpc_post_raw_locked(uint16_t op, const void *req, char *why, size_t why_len)
{
    bf_status_t status = append_frame(op, BF_FRAME_POSTED, next_id(), req, NULL, 0, true, why,
                                      why_len);
    if (status == BF_OK)
        status = flush_locked(true, why, why_len);
    return status;
}

CUresult bf_cl_rpc_post(uint16_t op, const void *req, const void *tail, size_t tail_len)
{
    char why[256];
    bf_status_t status;

    if (!usable())
        return not_ready();
    pthread_mutex_lock(&bf_cl_conn.send_lock);
    bool was_empty = bf_cl_conn.batch_len == 0;
    status = append_frame(op, BF_FRAME_POSTED, next_id(), req, tail, tail_len, false, why,
                          sizeof(why));
    if (status == BF_OK && bf_cl_conn.batch_delay_us <= 0)
        status = flush_locked(false, why, sizeof(why));
    else if (status == BF_OK)
        arm_flusher_locked(was_empty);
    pthread_mutex_unlock(&bf_cl_conn.send_lock);
    if (status != BF_OK) {
        bf_cl_conn_fail(why);
        return CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    bf_cl_io.posted++;
    return CUDA_SUCCESS;
}

/* Sends a waited request whose entry p is on the pending list; flush says whether to send the
 * batch now (the caller is about to wait) or to leave it to the flusher. */
static bf_status_t send_waited(bf_cl_pending_t *p, const void *req, const void *tail,
                               size_t tail_len, bool flush, char *why, size_t why_len)
{
    pthread_mutex_lock(&bf_cl_conn.send_lock);
    bool was_empty = bf_cl_conn.batch_len == 0;
    bf_status_t status = append_frame(p->op, 0, p->id, req, tail, tail_len, false, why, why_len);
    if (status == BF_OK && (flush || bf_cl_conn.batch_delay_us <= 0))
        status = flush_locked(false, why, why_len);
    else if (status == BF_OK)
        arm_flusher_locked(was_empty);
    pthread_mutex_unlock(&bf_cl_conn.send_lock);
    return status;
}

/* Waits for p (on the list) and takes it off; fails the connection on error. */
static CUresult finish_waited(bf_cl_pending_t *p, bf_status_t status, char *why, size_t why_len)
{
    atomic_fetch_add_explicit(&waited_count, 1, memory_order_relaxed);
    pthread_mutex_lock(&bf_cl_conn.lock);
    if (status == BF_OK)
        status = wait_until(entry_done, p, p->op, false, why, why_len);
    pending_remove(p);
    pthread_mutex_unlock(&bf_cl_conn.lock);
    bf_cl_io.waited++;
    bf_cl_io.bytes_recv += p->rx_bytes;
    if (status != BF_OK) {
        bf_cl_conn_fail(why);
        return CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    bf_cl_ctx_note_result(p->result);
    return p->result;
}

/* Whether kernels were launched since the last op at which the worker's driver flushes device
 * output (printf) and sends it: then the process's exit makes one last such call. */
static atomic_bool output_due;

void bf_cl_rpc_note_launch(void)
{
    if (!atomic_load_explicit(&output_due, memory_order_relaxed))
        atomic_store_explicit(&output_due, true, memory_order_relaxed);
}

/* Ops whose execution flushes the driver's device output (as NVIDIA's driver does). */
static bool flushes_output(uint16_t op)
{
    switch (op) {
    case BF_OP_CTX_SYNCHRONIZE:
    case BF_OP_CTX_RESET:
    case BF_OP_STREAM_SYNCHRONIZE:
    case BF_OP_EVENT_SYNCHRONIZE:
    case BF_OP_MEMCPY_DTOH:
    case BF_OP_MEMCPY_2D_DTOH:
    case BF_OP_LIBRARY_LOAD:
        return true;
    default:
        return false;
    }
}

void bf_cl_rpc_final_flush(void)
{
    if (!atomic_exchange(&output_due, false) || !usable())
        return;
    for (int d = 0; d < bf_cl_devices_count; d++) {
        bf_req_CTX_SYNCHRONIZE_t req = {.device = (uint32_t)d};
        bf_rep_CTX_SYNCHRONIZE_t rep;
        (void)bf_cl_rpc_call(BF_OP_CTX_SYNCHRONIZE, &req, NULL, 0, &rep, NULL);
    }
}

CUresult bf_cl_rpc_call(uint16_t op, const void *req, const void *tail, size_t tail_len,
                        void *rep, const bf_cl_sink_t *sink)
{
    char why[256];
    bf_cl_pending_t p = {.id = 0, .op = op, .rep = rep};

    if (!usable())
        return not_ready();
    /* Cleared before the request leaves: a launch posted meanwhile sets it again. */
    if (flushes_output(op) && atomic_load_explicit(&output_due, memory_order_relaxed))
        atomic_store(&output_due, false);
    if (sink != NULL)
        p.sink = *sink;
    p.id = next_id();
    pthread_mutex_lock(&bf_cl_conn.lock);
    pending_add(&p);
    pthread_mutex_unlock(&bf_cl_conn.lock);
    bf_status_t status = send_waited(&p, req, tail, tail_len, true, why, sizeof(why));
    return finish_waited(&p, status, why, sizeof(why));
}

CUresult bf_cl_rpc_call_many(uint16_t op, bf_cl_call_t *calls, size_t count)
{
    char why[256];
    CUresult first_error = CUDA_SUCCESS;
    bf_cl_pending_t *entries = calloc(count, sizeof(*entries));

    if (entries == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (!usable()) {
        free(entries);
        return not_ready();
    }
    for (size_t sent = 0, received = 0; received < count; received++) {
        while (sent < count && sent - received < PIPELINE_DEPTH) {
            bf_cl_pending_t *p = &entries[sent];
            p->id = next_id();
            p->op = op;
            p->rep = calls[sent].rep;
            p->sink = calls[sent].sink;
            pthread_mutex_lock(&bf_cl_conn.lock);
            pending_add(p);
            pthread_mutex_unlock(&bf_cl_conn.lock);
            bf_status_t status = send_waited(p, calls[sent].req, NULL, 0, true, why, sizeof(why));
            sent++;
            if (status != BF_OK) {
                bf_cl_conn_fail(why);
                goto err_lost;
            }
        }
        CUresult result = finish_waited(&entries[received], BF_OK, why, sizeof(why));
        if (!usable() && result == CUDA_ERROR_DEVICE_UNAVAILABLE)
            goto err_lost;
        if (result != CUDA_SUCCESS && first_error == CUDA_SUCCESS)
            first_error = result;
    }
    free(entries);
    return first_error;

err_lost:
    /* Take every entry of ours off the list before its memory goes. */
    pthread_mutex_lock(&bf_cl_conn.lock);
    for (size_t i = 0; i < count; i++)
        pending_remove(&entries[i]);
    pthread_mutex_unlock(&bf_cl_conn.lock);
    free(entries);
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
}

CUresult bf_cl_rpc_call_async(uint16_t op, const void *req, const bf_cl_sink_t *sink,
                              const void *host, size_t host_len)
{
    char why[256];
    bf_cl_pending_t *p;

    if (!usable())
        return not_ready();
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    p->id = next_id();
    p->op = op;
    p->async = true;
    p->rep = &p->storage;
    p->sink = *sink;
    p->host_lo = (uint64_t)(uintptr_t)host;
    p->host_hi = p->host_lo + host_len;
    pthread_mutex_lock(&bf_cl_conn.lock);
    pending_add(p);
    bf_cl_conn.async_count++;
    pthread_mutex_unlock(&bf_cl_conn.lock);

    bf_status_t status = send_waited(p, req, NULL, 0, false, why, sizeof(why));
    if (status != BF_OK) {
        bf_cl_conn_fail(why);
        /* Unless a reader completed it meanwhile (impossible: the request was not sent whole),
         * it is still ours to free. */
        pthread_mutex_lock(&bf_cl_conn.lock);
        if (!p->done) {
            pending_remove(p);
            bf_cl_conn.async_count--;
            free(p);
        }
        pthread_mutex_unlock(&bf_cl_conn.lock);
        return CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    bf_cl_io.posted++;  /* nobody waits for its reply */
    return CUDA_SUCCESS;
}

typedef struct {
    uint64_t lo, hi;
} host_range_t;

/* Lock held: no async reply is still to land in the range. */
static bool host_range_settled(void *arg)
{
    const host_range_t *r = arg;

    if (bf_cl_conn.async_count == 0)
        return true;
    for (bf_cl_pending_t *q = bf_cl_conn.pending; q != NULL; q = q->next)
        if (q->async && q->host_lo < r->hi && r->lo < q->host_hi)
            return false;
    return true;
}

CUresult bf_cl_rpc_wait_host(const void *host, size_t len)
{
    char why[256];
    host_range_t range = {.lo = (uint64_t)(uintptr_t)host,
                          .hi = len == SIZE_MAX ? UINT64_MAX : (uint64_t)(uintptr_t)host + len};
    bf_status_t status = BF_OK;

    pthread_mutex_lock(&bf_cl_conn.lock);
    bool settled = host_range_settled(&range);
    pthread_mutex_unlock(&bf_cl_conn.lock);
    if (settled)
        return CUDA_SUCCESS;
    if (!usable())
        return not_ready();
    /* Their requests may still be in the batch. */
    pthread_mutex_lock(&bf_cl_conn.send_lock);
    status = flush_locked(false, why, sizeof(why));
    pthread_mutex_unlock(&bf_cl_conn.send_lock);
    pthread_mutex_lock(&bf_cl_conn.lock);
    if (status == BF_OK)
        status = wait_until(host_range_settled, &range, BF_OP_MEMCPY_DTOH, false, why,
                            sizeof(why));
    pthread_mutex_unlock(&bf_cl_conn.lock);
    if (status != BF_OK) {
        bf_cl_conn_fail(why);
        return CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    return CUDA_SUCCESS;
}

CUresult bf_cl_take_latched(void)
{
    CUresult result = (CUresult)atomic_exchange(&bf_cl_conn.latched, CUDA_SUCCESS);

    bf_cl_ctx_note_result(result);
    return result;
}
