/* executor.c: op execution marked for the heartbeat thread, and that thread. */
#include "executor.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bf_config.h"
#include "bf_log.h"

/* BF_HEARTBEAT_INTERVAL_MS in ns (at least 1 ms). Read once, by bf_srv_heartbeat_start on the main
 * thread before any thread of ours runs: the HELLO handler calls setenv (BF_EMU_VA_BASE), and a
 * getenv on another thread at that moment can read the environment block setenv just freed (the
 * worker crashed that way, in about one session in 300). */
static _Atomic uint64_t interval_ns_cached;

static uint64_t heartbeat_interval_ns(void)
{
    return atomic_load_explicit(&interval_ns_cached, memory_order_relaxed);
}

static void heartbeat_interval_read(void)
{
    long ms = bf_config_get_long(BF_CONFIG_HEARTBEAT_INTERVAL_MS);

    atomic_store_explicit(&interval_ns_cached, (uint64_t)(ms > 0 ? ms : 1) * 1000000u,
                          memory_order_relaxed);
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
    uint64_t interval_ns = heartbeat_interval_ns(), last_sent_ns = 0;
    uint64_t interval_ms = interval_ns / 1000000u;
    /* Waking four times per interval bounds the lateness of a heartbeat to a quarter interval. */
    uint64_t tick_ms = interval_ms >= 4 ? interval_ms / 4 : 1;

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

    heartbeat_interval_read();
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
