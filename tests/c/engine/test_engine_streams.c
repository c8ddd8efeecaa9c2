/*
 * test_engine_streams.c: streams, events, pinned memory and posted work of libbf.so, called
 * directly (no runtime in between) against a live worker, from many threads at once. Linked with
 * libbf.so; run through `bf run` by tests/engine/test_engine.py. Prints "PASS name" / "FAIL name:
 * why" per check and a final line; exits 1 if any check failed.
 *
 * What it holds the engine to: handles and flags checked at the call; each stream in order; async
 * copies into pinned memory landed by the synchronisation that orders them (and pinned sources
 * read only once an earlier copy into them landed); the per-thread default stream of the _ptsz
 * entry points; events and elapsed times; several threads with big copies in both directions at
 * once (no deadlock, no mixed replies); a forked child refused cleanly.
 */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int checks, failed;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(const char *name, int ok, const char *fmt, long long a, long long b)
{
    atomic_fetch_add(&checks, 1);
    pthread_mutex_lock(&print_lock);
    if (ok) {
        printf("PASS %s\n", name);
    } else {
        atomic_fetch_add(&failed, 1);
        printf("FAIL %s: ", name);
        printf(fmt, a, b);
        printf("\n");
    }
    pthread_mutex_unlock(&print_lock);
}

#define EXPECT(name, call, want)                                                             \
    do {                                                                                     \
        CUresult got_ = (call);                                                              \
        report(name, got_ == (want), "expected result %lld got %lld", (long long)(want),     \
               (long long)got_);                                                             \
    } while (0)
#define OK(name, call) EXPECT(name, call, CUDA_SUCCESS)
#define EQ(name, got, want)                                                                  \
    report(name, (long long)(got) == (long long)(want), "expected %lld got %lld",           \
           (long long)(want), (long long)(got))
#define TRUE(name, cond) report(name, (cond) != 0, "expected true (%lld %lld)", 0, 0)

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seed + (i >> 12));
}

static int same(const uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(i * 131 + seed + (i >> 12)))
            return 0;
    return 1;
}

static CUcontext ctx;

static void use_ctx(void)
{
    (void)cuCtxSetCurrent(ctx);
}

/* ---- objects and their errors ---------------------------------------------------------------- */

static void test_objects(void)
{
    CUstream s = NULL, dead = NULL;
    CUevent e = NULL, dead_ev = NULL;
    unsigned int flags = 99;
    int prio = 99, least = 99, greatest = 99;
    unsigned long long id1 = 0, id2 = 0;
    CUcontext got = NULL;
    CUdevice dev = -1;

    EXPECT("stream_create_bad_flags", cuStreamCreate(&s, 2), CUDA_ERROR_INVALID_VALUE);
    EXPECT("stream_create_null", cuStreamCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    OK("priority_range", cuCtxGetStreamPriorityRange(&least, &greatest));
    TRUE("priority_range_order", greatest <= 0 && 0 <= least);
    OK("stream_create_priority", cuStreamCreateWithPriority(&s, CU_STREAM_NON_BLOCKING, greatest - 10));
    OK("stream_get_priority", cuStreamGetPriority(s, &prio));
    EQ("stream_priority_clamped", prio, greatest);
    OK("stream_get_flags", cuStreamGetFlags(s, &flags));
    EQ("stream_flags", flags, CU_STREAM_NON_BLOCKING);
    OK("stream_get_ctx", cuStreamGetCtx(s, &got));
    TRUE("stream_ctx_is_primary", got == ctx);
    OK("stream_get_device", cuStreamGetDevice(s, &dev));
    EQ("stream_device", dev, 0);
    OK("stream_get_id", cuStreamGetId(s, &id1));
    OK("stream_get_id_legacy", cuStreamGetId(CU_STREAM_LEGACY, &id2));
    TRUE("stream_ids_differ", id1 != id2);
    OK("stream_flags_per_thread", cuStreamGetFlags(CU_STREAM_PER_THREAD, &flags));
    OK("stream_query_idle", cuStreamQuery(s));
    OK("stream_query_legacy", cuStreamQuery(NULL));
    OK("stream_query_ptsz_null", cuStreamQuery_ptsz(NULL));

    OK("dead_stream_create", cuStreamCreate(&dead, 0));
    OK("dead_stream_destroy", cuStreamDestroy_v2(dead));
    EXPECT("dead_stream_sync", cuStreamSynchronize(dead), CUDA_ERROR_INVALID_HANDLE);
    EXPECT("dead_stream_destroy_again", cuStreamDestroy_v2(dead), CUDA_ERROR_INVALID_HANDLE);
    EXPECT("stray_stream_handle", cuStreamQuery((CUstream)&flags), CUDA_ERROR_INVALID_HANDLE);
    EXPECT("destroy_legacy", cuStreamDestroy_v2(CU_STREAM_LEGACY), CUDA_ERROR_INVALID_HANDLE);

    EXPECT("event_create_bad_flags", cuEventCreate(&e, 0x100), CUDA_ERROR_INVALID_VALUE);
    EXPECT("event_create_ipc_timed", cuEventCreate(&e, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE);
    OK("event_create", cuEventCreate(&e, CU_EVENT_DEFAULT));
    OK("event_query_unrecorded", cuEventQuery(e));
    OK("event_sync_unrecorded", cuEventSynchronize(e));
    float ms = -1;
    EXPECT("elapsed_unrecorded", cuEventElapsedTime(&ms, e, e), CUDA_ERROR_INVALID_HANDLE);
    EXPECT("elapsed_null", cuEventElapsedTime(NULL, e, e), CUDA_ERROR_INVALID_VALUE);
    EXPECT("record_bad_flags", cuEventRecordWithFlags(e, s, 0x80), CUDA_ERROR_INVALID_VALUE);
    EXPECT("wait_bad_flags", cuStreamWaitEvent(s, e, 0x10), CUDA_ERROR_INVALID_VALUE);
    EXPECT("record_null_event", cuEventRecord(NULL, s), CUDA_ERROR_INVALID_HANDLE);
    OK("dead_event_create", cuEventCreate(&dead_ev, 0));
    OK("dead_event_destroy", cuEventDestroy_v2(dead_ev));
    EXPECT("dead_event_record", cuEventRecord(dead_ev, s), CUDA_ERROR_INVALID_HANDLE);
    EXPECT("dead_event_query", cuEventQuery(dead_ev), CUDA_ERROR_INVALID_HANDLE);
    OK("stream_sync_after_errors", cuStreamSynchronize(s));
    OK("ctx_sync_after_errors", cuCtxSynchronize());
    OK("event_destroy", cuEventDestroy_v2(e));
    OK("stream_destroy", cuStreamDestroy_v2(s));
}

/* ---- pinned memory and async copies ------------------------------------------------------------ */

static void test_pinned_and_async(void)
{
    const size_t n = (size_t)3 << 20;
    uint8_t *pinned = NULL, *pinned2 = NULL, *pageable = malloc(n);
    CUdeviceptr d = 0, dptr = 0;
    CUstream s = NULL;
    unsigned int flags = 0;

    EXPECT("host_alloc_bad_flags", cuMemHostAlloc((void **)&pinned, n, 8), CUDA_ERROR_INVALID_VALUE);
    OK("host_alloc", cuMemHostAlloc((void **)&pinned, n, CU_MEMHOSTALLOC_DEVICEMAP));
    OK("alloc_host", cuMemAllocHost_v2((void **)&pinned2, n));
    OK("host_get_flags", cuMemHostGetFlags(&flags, pinned + 100));
    EQ("host_flags", flags, CU_MEMHOSTALLOC_DEVICEMAP);
    EXPECT("host_get_flags_pageable", cuMemHostGetFlags(&flags, pageable), CUDA_ERROR_INVALID_VALUE);
    OK("host_device_pointer", cuMemHostGetDevicePointer_v2(&dptr, pinned, 0));
    TRUE("host_device_pointer_is_host", dptr == (CUdeviceptr)(uintptr_t)pinned);
    EXPECT("host_device_pointer_flags", cuMemHostGetDevicePointer_v2(&dptr, pinned, 1),
           CUDA_ERROR_INVALID_VALUE);
    OK("alloc", cuMemAlloc_v2(&d, n));
    OK("stream", cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));

    /* Pinned round trip on a stream: the copy back lands by the synchronisation. */
    fill(pinned, n, 1);
    memset(pinned2, 0, n);
    OK("htod_async_pinned", cuMemcpyHtoDAsync_v2(d, pinned, n, s));
    OK("dtoh_async_pinned", cuMemcpyDtoHAsync_v2(pinned2, d, n, s));
    OK("stream_sync", cuStreamSynchronize(s));
    TRUE("dtoh_async_landed", same(pinned2, n, 1));

    /* A pinned buffer an async copy is still filling is read, as a source, once it landed. */
    memset(pinned2, 0, n);
    OK("memset_async", cuMemsetD8Async(d, 0x3c, n, s));
    OK("dtoh_async_into_source", cuMemcpyDtoHAsync_v2(pinned2, d, n, s));
    OK("htod_from_pending_pinned", cuMemcpyHtoDAsync_v2(d + 0, pinned2, n, s));
    OK("dtoh_pageable", cuMemcpyDtoHAsync_v2(pageable, d, n, s));
    int all = 1;
    for (size_t i = 0; i < n; i++)
        all &= pageable[i] == 0x3c;
    TRUE("pending_pinned_source_read_after_it_landed", all);

    /* The mapped pointer as a device operand is the host memory it is. */
    fill(pinned, n, 2);
    OK("dtod_from_mapped", cuMemcpyDtoD_v2(d, dptr, n));
    OK("dtoh_after_mapped", cuMemcpyDtoH_v2(pageable, d, n));
    TRUE("mapped_source_content", same(pageable, n, 2));

    /* Host to host, in stream order after an async copy into its source. */
    memset(pinned2, 0, n);
    OK("dtoh_async_for_htoh", cuMemcpyDtoHAsync_v2(pinned2, d, n, s));
    memset(pageable, 0, n);
    OK("htoh_async", cuMemcpyAsync((CUdeviceptr)(uintptr_t)pageable, (CUdeviceptr)(uintptr_t)pinned2, n, s));
    OK("stream_sync_htoh", cuStreamSynchronize(s));
    TRUE("htoh_after_dtoh", same(pageable, n, 2));

    /* Checks at the call. */
    EXPECT("htod_async_past_end", cuMemcpyHtoDAsync_v2(d + 1, pinned, n, s), CUDA_ERROR_INVALID_VALUE);
    EXPECT("memset_async_bad_stream", cuMemsetD8Async(d, 0, 16, (CUstream)&flags), CUDA_ERROR_INVALID_HANDLE);
    EXPECT("free_host_pageable", cuMemFreeHost(pageable), CUDA_ERROR_INVALID_VALUE);
    OK("stream_sync_after_call_errors", cuStreamSynchronize(s));

    /* A copy to pinned memory, then the pinned memory freed: the free waits for it. */
    OK("dtoh_async_then_free", cuMemcpyDtoHAsync_v2(pinned2, d, n, s));
    OK("free_host_pending", cuMemFreeHost(pinned2));
    EXPECT("free_host_twice", cuMemFreeHost(pinned2), CUDA_ERROR_INVALID_VALUE);
    OK("free_host", cuMemFreeHost(pinned));
    OK("stream_destroy", cuStreamDestroy_v2(s));
    OK("free", cuMemFree_v2(d));
    free(pageable);
}

/* ---- per-thread default streams and events ------------------------------------------------------ */

static void test_per_thread_and_events(void)
{
    const size_t n = (size_t)8 << 20;
    CUdeviceptr d = 0;
    CUevent start = NULL, end = NULL;
    uint8_t *h = malloc(n);
    float ms = -1;

    OK("pt_alloc", cuMemAlloc_v2(&d, n));
    OK("pt_event_start", cuEventCreate(&start, 0));
    OK("pt_event_end", cuEventCreate(&end, 0));
    OK("pt_record_start", cuEventRecord_ptsz(start, NULL));
    OK("pt_memset", cuMemsetD32Async_ptsz(d, 0xa5a5a5a5u, n / 4, NULL));
    OK("pt_record_end", cuEventRecord_ptsz(end, NULL));
    OK("pt_sync_end", cuEventSynchronize(end));
    OK("pt_query_end", cuEventQuery(end));
    OK("pt_elapsed", cuEventElapsedTime_v2(&ms, start, end));
    TRUE("pt_elapsed_value", ms >= 0.0f && ms < 10000.0f);
    OK("pt_dtoh", cuMemcpyDtoH_v2_ptds(h, d, n));
    int all = 1;
    for (size_t i = 0; i < n; i++)
        all &= h[i] == 0xa5;
    TRUE("pt_memset_content", all);
    OK("pt_stream_sync", cuStreamSynchronize_ptsz(NULL));

    /* Peer copies between the contexts of (here) one device. */
    CUdeviceptr d2 = 0;
    OK("peer_alloc", cuMemAlloc_v2(&d2, n));
    OK("peer_copy", cuMemcpyPeer(d2, ctx, d, ctx, n));
    OK("peer_copy_async", cuMemcpyPeerAsync_ptsz(d2 + 8, ctx, d, ctx, 64, NULL));
    EXPECT("peer_bad_context", cuMemcpyPeer(d2, (CUcontext)h, d, ctx, 16), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT("peer_past_end", cuMemcpyPeer(d2 + 1, ctx, d, ctx, n), CUDA_ERROR_INVALID_VALUE);
    memset(h, 0, n);
    OK("peer_dtoh", cuMemcpyDtoH_v2_ptds(h, d2, n));
    all = 1;
    for (size_t i = 0; i < n; i++)
        all &= h[i] == 0xa5;
    TRUE("peer_content", all);
    OK("peer_free", cuMemFree_v2(d2));
    OK("pt_event_destroy", cuEventDestroy_v2(start));
    OK("pt_event_destroy_end", cuEventDestroy_v2(end));
    OK("pt_free", cuMemFree_v2(d));
    free(h);
}

/* ---- many threads ---------------------------------------------------------------------------- */

#define THREADS 8
#define ROUNDS 6

typedef struct {
    int index;
    int good;
    char why[160];
} worker_t;

/* Each thread: its own stream, pinned and pageable buffers, rounds of async copies and memsets
 * checked after each synchronisation; every second thread also moves 80 MiB each way (more than
 * one message, so frames of several threads interleave on the connection). */
static void *thread_main(void *arg)
{
    worker_t *w = arg;
    size_t n = (w->index % 2) ? ((size_t)80 << 20) : ((size_t)1 << 20);
    CUstream s = NULL;
    CUdeviceptr d = 0;
    uint8_t *pinned = NULL, *back = malloc(n);
    CUevent ev = NULL;

    use_ctx();
    if (back == NULL || cuStreamCreate(&s, w->index % 3 ? CU_STREAM_NON_BLOCKING : 0) != CUDA_SUCCESS ||
        cuMemAlloc_v2(&d, n) != CUDA_SUCCESS || cuMemAllocHost_v2((void **)&pinned, n) != CUDA_SUCCESS ||
        cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS) {
        snprintf(w->why, sizeof(w->why), "setup failed");
        return NULL;
    }
    for (int r = 0; r < ROUNDS; r++) {
        unsigned seed = (unsigned)(w->index * 100 + r);
        fill(pinned, n, seed);
        CUresult res = cuMemcpyHtoDAsync_v2(d, pinned, n, s);
        if (res == CUDA_SUCCESS)
            res = cuMemsetD8Async(d, (unsigned char)seed, 64, s);
        if (res == CUDA_SUCCESS)
            res = cuEventRecord(ev, s);
        if (res == CUDA_SUCCESS)
            res = cuMemcpyDtoHAsync_v2(pinned, d, n, s);
        if (res == CUDA_SUCCESS)
            res = (r % 2) ? cuStreamSynchronize(s) : cuEventSynchronize(ev);
        if (res == CUDA_SUCCESS && r % 2 == 0)
            res = cuStreamSynchronize(s);
        if (res == CUDA_SUCCESS)
            res = cuMemcpyDtoH_v2(back, d, n);  /* pageable, on the legacy stream */
        if (res != CUDA_SUCCESS) {
            snprintf(w->why, sizeof(w->why), "round %d: result %d", r, (int)res);
            break;
        }
        int ok = 1;
        for (size_t i = 0; i < 64 && ok; i++)
            ok = pinned[i] == (uint8_t)seed && back[i] == (uint8_t)seed;
        fill(back, 64, seed);  /* so the whole buffer compares against the pattern */
        ok = ok && memcmp(back + 64, pinned + 64, n - 64) == 0 && same(back, n, seed);
        if (!ok) {
            snprintf(w->why, sizeof(w->why), "round %d: wrong data", r);
            break;
        }
        w->good++;
    }
    cuEventDestroy_v2(ev);
    cuMemFreeHost(pinned);
    cuMemFree_v2(d);
    cuStreamDestroy_v2(s);
    free(back);
    return NULL;
}

static void test_threads(void)
{
    pthread_t threads[THREADS];
    worker_t workers[THREADS];

    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker_t){.index = i};
        pthread_create(&threads[i], NULL, thread_main, &workers[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        char name[64];
        pthread_join(threads[i], NULL);
        snprintf(name, sizeof(name), "thread_%d_rounds", i);
        report(name, workers[i].good == ROUNDS, "expected %lld good rounds got %lld", ROUNDS,
               workers[i].good);
        if (workers[i].good != ROUNDS)
            printf("  thread %d: %s\n", i, workers[i].why);
    }
    OK("threads_ctx_sync", cuCtxSynchronize());
}

/* Two threads move 192 MiB at once, one each way, on the legacy stream: the sender of the big
 * request must read the big reply meanwhile. */
typedef struct {
    int up;
    CUdeviceptr d;
    uint8_t *h;
    size_t n;
    CUresult result;
} duplex_t;

static void *duplex_main(void *arg)
{
    duplex_t *x = arg;

    use_ctx();
    x->result = CUDA_SUCCESS;
    for (int i = 0; i < 3 && x->result == CUDA_SUCCESS; i++)
        x->result = x->up ? cuMemcpyHtoD_v2(x->d, x->h, x->n) : cuMemcpyDtoH_v2(x->h, x->d, x->n);
    return NULL;
}

static void test_duplex(void)
{
    const size_t n = (size_t)192 << 20;
    duplex_t up = {.up = 1, .n = n}, down = {.up = 0, .n = n};
    pthread_t a, b;

    up.h = malloc(n);
    down.h = malloc(n);
    if (up.h == NULL || down.h == NULL || cuMemAlloc_v2(&up.d, n) != CUDA_SUCCESS ||
        cuMemAlloc_v2(&down.d, n) != CUDA_SUCCESS) {
        report("duplex_setup", 0, "expected memory (%lld %lld)", 0, 0);
        return;
    }
    fill(up.h, n, 7);
    OK("duplex_prepare", cuMemcpyHtoD_v2(down.d, up.h, n));
    pthread_create(&a, NULL, duplex_main, &up);
    pthread_create(&b, NULL, duplex_main, &down);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    OK("duplex_up", up.result);
    OK("duplex_down", down.result);
    TRUE("duplex_down_content", same(down.h, n, 7));
    cuMemFree_v2(up.d);
    cuMemFree_v2(down.d);
    free(up.h);
    free(down.h);
}

static void test_fork(void)
{
    CUstream s = NULL;

    OK("fork_stream", cuStreamCreate(&s, 0));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        CUevent e;
        int ok = cuStreamSynchronize(s) == CUDA_ERROR_NOT_INITIALIZED &&
                 cuEventCreate(&e, 0) == CUDA_ERROR_NOT_INITIALIZED &&
                 cuCtxSynchronize() == CUDA_ERROR_NOT_INITIALIZED;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    TRUE("fork_wait", child > 0 && waitpid(child, &status, 0) == child);
    TRUE("fork_child_refused", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    OK("fork_parent_carries_on", cuStreamSynchronize(s));
    OK("fork_stream_destroy", cuStreamDestroy_v2(s));
}

int main(void)
{
    CUdevice dev;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&dev, 0) != CUDA_SUCCESS ||
        cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS || cuCtxSetCurrent(ctx) != CUDA_SUCCESS) {
        printf("FAIL setup: no device\n");
        return 1;
    }
    test_objects();
    test_pinned_and_async();
    test_per_thread_and_events();
    test_threads();
    test_duplex();
    test_fork();
    OK("final_ctx_sync", cuCtxSynchronize());
    if (failed == 0)
        printf("PASS streams: all %d checks\n", checks);
    else
        printf("FAIL streams: %d of %d checks failed\n", failed, checks);
    return failed == 0 ? 0 : 1;
}
