/* executor.c: op execution marked for the heartbeat thread, and that thread. */
#include "executor.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bf_config.h"
#include "bf_log.h"

static uint64_t heartbeat_interval_ns(void)
{
    static _Atomic uint64_t cached;
    uint64_t ns = atomic_load_explicit(&cached, memory_order_relaxed);

    if (ns == 0) {
        ns = (uint64_t)bf_config_get_long(BF_CONFIG_HEARTBEAT_INTERVAL_MS) * 1000000u;
        atomic_store_explicit(&cached, ns, memory_order_relaxed);
    }
    return ns;
}

/* Whether the session is in a busy period at `now`, under busy_lock: ops executing, or the last
 * one ended less than an interval ago. Ends the period once the gap has lasted an interval. */
static bool busy_at(bf_srv_session_t *session, uint64_t now, uint64_t interval_ns)
{
    bool busy;

    pthread_mutex_lock(&session->busy_lock);
    busy = session->busy_ops > 0 ||
           now - atomic_load_explicit(&session->idle_since_ns, memory_order_relaxed) < interval_ns;
    if (!busy)
        atomic_store_explicit(&session->busy_since_ns, 0, memory_order_relaxed);
    pthread_mutex_unlock(&session->busy_lock);
    return busy;
}

CUresult bf_srv_execute(bf_srv_session_t *session, bf_srv_call_t *call)
{
    bf_srv_handler_fn_t handler = bf_srv_handlers[call->op];
    CUresult res;

    /* Ops of several streams execute at once: the session is busy from the moment one begins
     * while none was running until none is left for a heartbeat interval. A stream of short ops
     * (100,000 posted launches behind one synchronise) is one busy period, not many short ones:
     * otherwise the client, waiting behind all of them, would hear nothing. The lock is
     * uncontended in the common case and keeps begin and end of overlapping ops consistent. */
    pthread_mutex_lock(&session->busy_lock);
    if (session->busy_ops++ == 0) {
        uint64_t now   = bf_srv_now_ns();
        uint64_t since = atomic_load_explicit(&session->busy_since_ns, memory_order_relaxed);
        uint64_t idle  = atomic_load_explicit(&session->idle_since_ns, memory_order_relaxed);
        if (since == 0 || now - idle >= heartbeat_interval_ns())
            atomic_store_explicit(&session->busy_since_ns, now, memory_order_relaxed);
    }
    pthread_mutex_unlock(&session->busy_lock);
    /* bf-trace: device times of stream-ordered ops, once a client asked (handlers/trace.c). */
    void *trace_mark = NULL;
    bool traced = bf_srv_trace_before(session, call, &trace_mark);
    res = handler(session, call);
    if (traced)
        bf_srv_trace_after(session, call, trace_mark, res);
    pthread_mutex_lock(&session->busy_lock);
    if (--session->busy_ops == 0)
        atomic_store_explicit(&session->idle_since_ns, bf_srv_now_ns(), memory_order_relaxed);
    pthread_mutex_unlock(&session->busy_lock);
    return res;
}

static void deadline_after(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/*
 * Sends one heartbeat if the session has been in a busy period for an interval. A heartbeat may
 * follow the reply of the last op of a period by up to an interval; the client ignores heartbeats
 * it is not waiting for.
 */
static bf_status_t send_heartbeat(bf_srv_session_t *session, uint64_t interval_ns)
{
    const bf_proto_op_desc_t *desc = bf_proto_op(BF_OP_HEARTBEAT);
    uint8_t fixed[BF_PROTO_MAX_FIXED];
    bf_status_t status = BF_NOT_FOUND;

    pthread_mutex_lock(&session->send_lock);
    uint64_t now        = bf_srv_now_ns();
    bool busy           = busy_at(session, now, interval_ns);
    uint64_t busy_since = atomic_load_explicit(&session->busy_since_ns, memory_order_relaxed);
    if (busy && busy_since != 0 && now - busy_since >= interval_ns) {
        bf_req_HEARTBEAT_t beat = {.sequence = session->heartbeat_sequence + 1};
        size_t len = bf_proto_encode(&desc->request, &beat, fixed);
        status = bf_tp_send_frame(session->conn, BF_OP_HEARTBEAT, BF_FRAME_POSTED, 0, fixed, len,
                                  NULL, 0);
        if (status == BF_OK)
            session->heartbeat_sequence = beat.sequence;
        else
            bf_log_debug("heartbeat %" PRIu64 " not sent: %s", beat.sequence,
                         bf_status_str(status));
    }
    pthread_mutex_unlock(&session->send_lock);
    return status;
}

static void *heartbeat_main(void *arg)
{
    bf_srv_session_t *session = arg;
    uint64_t interval_ms = (uint64_t)bf_config_get_long(BF_CONFIG_HEARTBEAT_INTERVAL_MS);
    uint64_t interval_ns, last_sent_ns = 0;
    /* Waking four times per interval bounds the lateness of a heartbeat to a quarter interval. */
    uint64_t tick_ms;

    if (interval_ms == 0)
        interval_ms = 1;
    interval_ns = interval_ms * 1000000ull;
    tick_ms     = interval_ms >= 4 ? interval_ms / 4 : 1;

    pthread_mutex_lock(&session->heartbeat_lock);
    while (!session->heartbeat_stop) {
        struct timespec deadline;
        deadline_after(&deadline, tick_ms);
        int rc = pthread_cond_timedwait(&session->heartbeat_wake, &session->heartbeat_lock,
                                        &deadline);
        if (session->heartbeat_stop)
            break;
        if (rc != ETIMEDOUT)
            continue;

        uint64_t busy_since = atomic_load_explicit(&session->busy_since_ns, memory_order_relaxed);
        uint64_t now        = bf_srv_now_ns();
        if (busy_since == 0 || now - busy_since < interval_ns || now - last_sent_ns < interval_ns)
            continue;

        /* Sending outside heartbeat_lock keeps bf_srv_heartbeat_stop from waiting on a send. */
        pthread_mutex_unlock(&session->heartbeat_lock);
        bf_status_t status = send_heartbeat(session, interval_ns);
        pthread_mutex_lock(&session->heartbeat_lock);
        if (status == BF_OK)
            last_sent_ns = now;
    }
    pthread_mutex_unlock(&session->heartbeat_lock);
    return NULL;
}

bf_status_t bf_srv_heartbeat_start(bf_srv_session_t *session)
{
    pthread_condattr_t attr;
    int rc;

    pthread_mutex_init(&session->heartbeat_lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&session->heartbeat_wake, &attr);
    pthread_condattr_destroy(&attr);
    session->heartbeat_stop = false;
    rc = pthread_create(&session->heartbeat_thread, NULL, heartbeat_main, session);
    if (rc != 0) {
        bf_log_error("cannot start the heartbeat thread: %s", strerror(rc));
        return BF_NO_MEMORY;
    }
    session->heartbeat_running = true;
    return BF_OK;
}

void bf_srv_heartbeat_stop(bf_srv_session_t *session)
{
    if (!session->heartbeat_running)
        return;
    pthread_mutex_lock(&session->heartbeat_lock);
    session->heartbeat_stop = true;
    pthread_cond_signal(&session->heartbeat_wake);
    pthread_mutex_unlock(&session->heartbeat_lock);
    pthread_join(session->heartbeat_thread, NULL);
    session->heartbeat_running = false;
}
