/* legacy.cu: the legacy default stream's implicit synchronisation, and the per-thread default
 * stream's. CUDA's rules:
 *   - work on the legacy default stream (cudaStreamLegacy; stream 0 in a default build) starts only
 *     after all earlier work of every blocking stream of the device, and later work of a blocking
 *     stream starts only after it;
 *   - non-blocking streams (cudaStreamNonBlocking) take no part in that;
 *   - a per-thread default stream (cudaStreamPerThread; stream 0 in a --default-stream per-thread
 *     build) is a blocking stream: it synchronises with the legacy stream, not with other streams;
 *   - blocking streams do not synchronise with each other.
 *
 * This program is also built with --default-stream per-thread (variant "perthread"): stream 0 then
 * means the per-thread stream, and the checks on stream 0 expect what that stream does.
 *
 * How it is observed without kernels: a "busy" stream gets a long chain of device-to-device copies
 * and an event after them; a "quick" stream gets one small memset, and the host waits for the quick
 * stream alone. Then:
 *   - where the quick stream must wait for the busy one, the busy stream's event is complete when
 *     the wait returns. Deterministic: the check can only pass if the ordering holds.
 *   - where it must not wait, the busy event is usually still pending. That cannot be made
 *     deterministic (a correct implementation may finish the busy chain first), so the check passes
 *     as soon as it sees the quick work complete while the busy work is not, retrying with a chain
 *     four and sixteen times longer; an implementation that wrongly serialises the two never shows
 *     it and always fails.
 * The data checks order a copy, a read and an overwrite of the same buffer across a blocking stream
 * and the legacy stream; with the implicit synchronisation the bytes are exact. */
/* conformance-variants: static shared perthread */
#include "check.h"

static const size_t CHUNK = (size_t)32 << 20;
static const int BUSY_COPIES[] = {16, 64, 256};

#ifdef CUDA_API_PER_THREAD_DEFAULT_STREAM
static const bool STREAM0_PER_THREAD = true;
#else
static const bool STREAM0_PER_THREAD = false;
#endif

struct ctx {
    void *x, *y, *small;
    cudaEvent_t done;
};

static void queue_busy(struct ctx *c, cudaStream_t s, int copies)
{
    for (int i = 0; i < copies; i++)
        cudaMemcpyAsync(i % 2 ? c->x : c->y, i % 2 ? c->y : c->x, CHUNK, cudaMemcpyDeviceToDevice, s);
    cudaEventRecord(c->done, s);
}

/* The quick work: a memset, or (sync_copy) a synchronous cudaMemcpy, which runs on stream 0. */
static cudaError_t run_quick(struct ctx *c, cudaStream_t quick, bool sync_copy)
{
    if (sync_copy) {
        unsigned char h[64];
        return cudaMemcpy(h, c->small, sizeof(h), cudaMemcpyDeviceToHost);
    }
    cudaError_t e = cudaMemsetAsync(c->small, 0x5c, 64, quick);
    return e != cudaSuccess ? e : cudaStreamSynchronize(quick);
}

/* quick must wait for busy: after the quick work, busy's event is complete. */
static void expect_waits(struct ctx *c, const char *name, cudaStream_t busy, cudaStream_t quick, bool sync_copy = false)
{
    cudaDeviceSynchronize();
    queue_busy(c, busy, BUSY_COPIES[0]);
    cudaError_t e = run_quick(c, quick, sync_copy);
    cudaError_t q = cudaEventQuery(c->done);
    (void)cudaGetLastError();
    check_report(name, e == cudaSuccess && q == cudaSuccess,
                 "expected the busy stream complete after the quick one got quick %s, busy event %s",
                 cudaGetErrorName(e), cudaGetErrorName(q));
    cudaDeviceSynchronize();
}

/* quick must not wait for busy: seen once busy's event is still pending after the quick work. */
static void expect_independent(struct ctx *c, const char *name, cudaStream_t busy, cudaStream_t quick,
                               bool sync_copy = false)
{
    cudaError_t e = cudaSuccess, q = cudaSuccess;
    int tried = 0;
    for (int copies : BUSY_COPIES) {
        cudaDeviceSynchronize();
        queue_busy(c, busy, copies);
        e = run_quick(c, quick, sync_copy);
        q = cudaEventQuery(c->done);
        (void)cudaGetLastError();
        tried = copies;
        cudaDeviceSynchronize();
        if (e != cudaSuccess || q == cudaErrorNotReady)
            break;
    }
    check_report(name, e == cudaSuccess && q == cudaErrorNotReady,
                 "expected the quick stream to finish while the busy one still ran (up to %d copies of %zu MiB) "
                 "got quick %s, busy event %s", tried, CHUNK >> 20, cudaGetErrorName(e), cudaGetErrorName(q));
}

/* Copy, read and overwrite of one buffer across two streams that must order each other:
 *   first: A <- pattern (pinned);  second: B <- A;  first: A <- 0.   Result: B = pattern, A = 0. */
static void check_data_order(struct ctx *c, const char *name, cudaStream_t first, cudaStream_t second)
{
    void *a = c->x, *b = c->y;
    unsigned char *in = NULL, *out = NULL;
    if (cudaMallocHost((void **)&in, CHUNK) != cudaSuccess || cudaMallocHost((void **)&out, CHUNK) != cudaSuccess) {
        check_report(name, false, "pinned allocation failed");
        return;
    }
    bool ok = true;
    char what[200] = "";
    for (int round = 0; round < 3 && ok; round++) {
        cudaDeviceSynchronize();
        fill_pattern(in, CHUNK, 77 + round);
        cudaMemcpyAsync(a, in, CHUNK, cudaMemcpyHostToDevice, first);
        cudaMemcpyAsync(b, a, CHUNK, cudaMemcpyDeviceToDevice, second);
        cudaMemsetAsync(a, 0, CHUNK, first);
        cudaError_t e = cudaDeviceSynchronize();
        cudaMemcpy(out, b, CHUNK, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess || memcmp(out, in, CHUNK) != 0) {
            ok = false;
            snprintf(what, sizeof(what), "round %d: B differs from the input (%s)", round, cudaGetErrorName(e));
        }
        cudaMemcpy(out, a, CHUNK, cudaMemcpyDeviceToHost);
        for (size_t i = 0; i < CHUNK && ok; i += 4099)
            if (out[i] != 0) {
                ok = false;
                snprintf(what, sizeof(what), "round %d: A not zero at %zu", round, i);
            }
    }
    check_report(name, ok, "expected B = input and A = 0: %s", what);
    cudaFreeHost(in);
    cudaFreeHost(out);
}

int main(void)
{
    check_begin("legacy");
    expect_ok("set_device", cudaSetDevice(0));
    struct ctx c = {};
    cudaStream_t blocking = NULL, blocking2 = NULL, nonblocking = NULL;
    if (!expect_ok("malloc_x", cudaMalloc(&c.x, CHUNK)) || !expect_ok("malloc_y", cudaMalloc(&c.y, CHUNK))
        || !expect_ok("malloc_small", cudaMalloc(&c.small, 4096))
        || !expect_ok("event_create", cudaEventCreateWithFlags(&c.done, cudaEventDisableTiming))
        || !expect_ok("stream_create_blocking", cudaStreamCreate(&blocking))
        || !expect_ok("stream_create_blocking2", cudaStreamCreateWithFlags(&blocking2, cudaStreamDefault))
        || !expect_ok("stream_create_nonblocking", cudaStreamCreateWithFlags(&nonblocking, cudaStreamNonBlocking)))
        return check_end();
    expect_ok("memset_x", cudaMemset(c.x, 1, CHUNK));
    expect_ok("memset_y", cudaMemset(c.y, 2, CHUNK));
    expect_ok("synchronize_setup", cudaDeviceSynchronize());
    const cudaStream_t LEGACY = cudaStreamLegacy, PER_THREAD = cudaStreamPerThread;

    /* The legacy stream against blocking and non-blocking streams. */
    expect_waits(&c, "legacy_waits_for_blocking", blocking, LEGACY);
    expect_waits(&c, "blocking_waits_for_legacy", LEGACY, blocking);
    expect_independent(&c, "legacy_ignores_nonblocking", nonblocking, LEGACY);
    expect_independent(&c, "nonblocking_ignores_legacy", LEGACY, nonblocking);
    expect_independent(&c, "blocking_streams_independent", blocking, blocking2);
    check_data_order(&c, "data_blocking_then_legacy", blocking, LEGACY);
    check_data_order(&c, "data_legacy_then_blocking", LEGACY, blocking);

    /* The per-thread stream is blocking: it orders with the legacy stream only. */
    expect_waits(&c, "per_thread_waits_for_legacy", LEGACY, PER_THREAD);
    expect_waits(&c, "legacy_waits_for_per_thread", PER_THREAD, LEGACY);
    expect_independent(&c, "per_thread_ignores_blocking", blocking, PER_THREAD);
    expect_independent(&c, "blocking_ignores_per_thread", PER_THREAD, blocking);
    expect_independent(&c, "per_thread_ignores_nonblocking", nonblocking, PER_THREAD);
    check_data_order(&c, "data_per_thread_then_legacy", PER_THREAD, LEGACY);

    /* Stream 0, and the synchronous cudaMemcpy that runs on it, as the build defines it. */
    if (STREAM0_PER_THREAD) {
        expect_waits(&c, "stream0_per_thread_waits_for_legacy", LEGACY, 0);
        expect_independent(&c, "stream0_per_thread_ignores_blocking", blocking, 0);
        expect_independent(&c, "sync_memcpy_per_thread_ignores_blocking", blocking, 0, true);
        expect_waits(&c, "sync_memcpy_per_thread_waits_for_legacy", LEGACY, 0, true);
        check_data_order(&c, "data_stream0_per_thread_then_legacy", 0, LEGACY);
    } else {
        expect_waits(&c, "stream0_legacy_waits_for_blocking", blocking, 0);
        expect_waits(&c, "blocking_waits_for_stream0_legacy", 0, blocking);
        expect_independent(&c, "stream0_legacy_ignores_nonblocking", nonblocking, 0);
        expect_waits(&c, "sync_memcpy_legacy_waits_for_blocking", blocking, 0, true);
        expect_independent(&c, "sync_memcpy_legacy_ignores_nonblocking", nonblocking, 0, true);
        check_data_order(&c, "data_blocking_then_stream0_legacy", blocking, 0);
    }
    expect_ok("stream0_query", cudaStreamQuery(0));

    cudaStreamDestroy(blocking);
    cudaStreamDestroy(blocking2);
    cudaStreamDestroy(nonblocking);
    cudaEventDestroy(c.done);
    cudaFree(c.x);
    cudaFree(c.y);
    cudaFree(c.small);
    expect_ok("final_synchronize", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
