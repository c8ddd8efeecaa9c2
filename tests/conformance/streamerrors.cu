/* streamerrors.cu: the errors CUDA reports synchronously for streams, events, pinned memory and
 * asynchronous copies: bad flags, bad or destroyed handles, NULL out-pointers, copies and memsets
 * out of range. Each must come back from the call itself, leave nothing behind for the next
 * synchronising call (that call succeeds), and leave the stream usable.
 *
 * Destroyed handles: CUDA does not promise what a destroyed handle does (it may be reused), but the
 * driver answers "invalid resource handle" for one that is not reused, and openbf must never act on
 * a handle it does not know. No other object is created between a destroy and the check. */
#include "check.h"

static const size_t N = 1 << 20;

static void check_bad_flags(void)
{
    cudaStream_t s = NULL;
    expect_fail("stream_create_flags_2", cudaStreamCreateWithFlags(&s, 2), cudaErrorInvalidValue);
    expect_fail("stream_create_flags_high_bit", cudaStreamCreateWithFlags(&s, 0x80000000u), cudaErrorInvalidValue);
    expect_fail("stream_create_priority_bad_flags", cudaStreamCreateWithPriority(&s, 4, 0), cudaErrorInvalidValue);
    expect_fail("stream_create_null_out", cudaStreamCreate(NULL), cudaErrorInvalidValue);
    expect_fail("stream_create_flags_null_out", cudaStreamCreateWithFlags(NULL, cudaStreamNonBlocking),
                cudaErrorInvalidValue);

    cudaEvent_t e = NULL;
    expect_fail("event_create_flags_0x100", cudaEventCreateWithFlags(&e, 0x100), cudaErrorInvalidValue);
    expect_fail("event_create_flags_high_bit", cudaEventCreateWithFlags(&e, 0x80000000u), cudaErrorInvalidValue);
    /* An interprocess event must also disable timing. */
    expect_fail("event_create_interprocess_with_timing", cudaEventCreateWithFlags(&e, cudaEventInterprocess),
                cudaErrorInvalidValue);
    expect_fail("event_create_null_out", cudaEventCreate(NULL), cudaErrorInvalidValue);
    expect_fail("event_create_flags_null_out", cudaEventCreateWithFlags(NULL, cudaEventDisableTiming),
                cudaErrorInvalidValue);

    void *h = (void *)0x1;
    expect_fail("host_alloc_flags_8", cudaHostAlloc(&h, 4096, 8), cudaErrorInvalidValue);
    expect_fail("host_alloc_flags_high_bit", cudaHostAlloc(&h, 4096, 0x80000000u), cudaErrorInvalidValue);
    expect_fail("host_alloc_null_out", cudaHostAlloc(NULL, 4096, cudaHostAllocDefault), cudaErrorInvalidValue);
    expect_fail("malloc_host_null_out", cudaMallocHost(NULL, 4096), cudaErrorInvalidValue);

    /* After all of these, the context is fine and nothing was latched. */
    expect_ok("synchronize_after_bad_flags", cudaDeviceSynchronize());
}

static void check_bad_handles(void)
{
    cudaStream_t live = NULL, dead = NULL;
    cudaEvent_t ev = NULL, dead_ev = NULL, untimed = NULL;
    void *d = NULL;
    unsigned char *h = NULL;
    if (!expect_ok("stream_create", cudaStreamCreate(&live)) || !expect_ok("event_create", cudaEventCreate(&ev))
        || !expect_ok("event_create_untimed", cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming))
        || !expect_ok("malloc", cudaMalloc(&d, N)) || !expect_ok("malloc_host", cudaMallocHost((void **)&h, N)))
        return;

    /* A destroyed stream: every use is refused at once. */
    if (expect_ok("dead_stream_create", cudaStreamCreate(&dead)) && expect_ok("dead_stream_destroy",
                                                                               cudaStreamDestroy(dead))) {
        expect_fail("destroyed_stream_synchronize", cudaStreamSynchronize(dead), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_stream_query", cudaStreamQuery(dead), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_stream_memcpy_async",
                    cudaMemcpyAsync(d, h, N, cudaMemcpyHostToDevice, dead), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_stream_memset_async", cudaMemsetAsync(d, 0, N, dead), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_stream_event_record", cudaEventRecord(ev, dead), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_stream_wait_event", cudaStreamWaitEvent(dead, ev, 0), cudaErrorInvalidResourceHandle);
        unsigned flags = 0;
        expect_fail("destroyed_stream_get_flags", cudaStreamGetFlags(dead, &flags), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_stream_destroy_again", cudaStreamDestroy(dead), cudaErrorInvalidResourceHandle);
    }

    /* A destroyed event, and the NULL event. */
    if (expect_ok("dead_event_create", cudaEventCreate(&dead_ev)) && expect_ok("dead_event_destroy",
                                                                               cudaEventDestroy(dead_ev))) {
        expect_fail("destroyed_event_record", cudaEventRecord(dead_ev, live), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_event_query", cudaEventQuery(dead_ev), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_event_synchronize", cudaEventSynchronize(dead_ev), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_event_wait", cudaStreamWaitEvent(live, dead_ev, 0), cudaErrorInvalidResourceHandle);
        float ms = 0;
        expect_fail("destroyed_event_elapsed", cudaEventElapsedTime(&ms, dead_ev, ev), cudaErrorInvalidResourceHandle);
        expect_fail("destroyed_event_destroy_again", cudaEventDestroy(dead_ev), cudaErrorInvalidResourceHandle);
    }
    expect_fail("null_event_record", cudaEventRecord(NULL, live), cudaErrorInvalidResourceHandle);
    expect_fail("null_event_query", cudaEventQuery(NULL), cudaErrorInvalidResourceHandle);
    expect_fail("null_event_synchronize", cudaEventSynchronize(NULL), cudaErrorInvalidResourceHandle);
    expect_fail("null_event_wait", cudaStreamWaitEvent(live, NULL, 0), cudaErrorInvalidResourceHandle);

    /* Bad arguments on good handles. */
    expect_fail("wait_event_bad_flags", cudaStreamWaitEvent(live, ev, 0x10), cudaErrorInvalidValue);
    expect_fail("event_record_with_bad_flags", cudaEventRecordWithFlags(ev, live, 0x80), cudaErrorInvalidValue);
    expect_fail("stream_get_flags_null", cudaStreamGetFlags(live, NULL), cudaErrorInvalidValue);
    expect_fail("stream_get_priority_null", cudaStreamGetPriority(live, NULL), cudaErrorInvalidValue);
    expect_fail("elapsed_null_out", cudaEventElapsedTime(NULL, ev, ev), cudaErrorInvalidValue);
    float ms = -1;
    /* Neither event recorded yet. */
    expect_fail("elapsed_unrecorded", cudaEventElapsedTime(&ms, ev, untimed), cudaErrorInvalidResourceHandle);

    /* Out-of-range asynchronous copies and memsets fail at the call, with no trace later. */
    expect_fail("memcpy_async_htod_past_end", cudaMemcpyAsync((char *)d + 1, h, N, cudaMemcpyHostToDevice, live),
                cudaErrorInvalidValue);
    expect_fail("memcpy_async_dtoh_past_end", cudaMemcpyAsync(h, (char *)d + N - 8, 16, cudaMemcpyDeviceToHost, live),
                cudaErrorInvalidValue);
    expect_fail("memcpy_async_dtod_past_end",
                cudaMemcpyAsync(d, (char *)d + N / 2, N / 2 + 1, cudaMemcpyDeviceToDevice, live), cudaErrorInvalidValue);
    expect_fail("memset_async_past_end", cudaMemsetAsync((char *)d + N - 4, 0, 8, live), cudaErrorInvalidValue);
    expect_fail("memcpy_async_bad_kind", cudaMemcpyAsync(d, h, 16, (cudaMemcpyKind)77, live),
                cudaErrorInvalidMemcpyDirection);
    expect_fail("memcpy_2d_async_pitch_below_width",
                cudaMemcpy2DAsync(d, 64, h, 64, 128, 4, cudaMemcpyHostToDevice, live), cudaErrorInvalidPitchValue);
    void *freed = NULL;
    if (expect_ok("malloc_to_free", cudaMalloc(&freed, N)) && expect_ok("free_it", cudaFree(freed))) {
        expect_fail("memcpy_async_to_freed", cudaMemcpyAsync(freed, h, 64, cudaMemcpyHostToDevice, live),
                    cudaErrorInvalidValue);
        expect_fail("memset_async_freed", cudaMemsetAsync(freed, 0, 64, live), cudaErrorInvalidValue);
    }

    /* None of these left an error for the synchronising calls, and the stream still works. */
    expect_ok("stream_synchronize_after_errors", cudaStreamSynchronize(live));
    expect_ok("stream_query_after_errors", cudaStreamQuery(live));
    expect_ok("device_synchronize_after_errors", cudaDeviceSynchronize());
    fill_pattern(h, N, 3);
    expect_ok("memcpy_async_after_errors", cudaMemcpyAsync(d, h, N, cudaMemcpyHostToDevice, live));
    expect_ok("memset_async_after_errors", cudaMemsetAsync(d, 0x5e, 64, live));
    expect_ok("event_record_after_errors", cudaEventRecord(ev, live));
    expect_ok("event_synchronize_after_errors", cudaEventSynchronize(ev));
    unsigned char *back = (unsigned char *)host_alloc(N), *want = (unsigned char *)host_alloc(N);
    fill_pattern(want, N, 3);
    memset(want, 0x5e, 64);
    expect_ok("dtoh_after_errors", cudaMemcpy(back, d, N, cudaMemcpyDeviceToHost));
    expect_bytes("content_after_errors", back, want, N);
    free(back);
    free(want);

    /* The last-error state: a synchronous failure is recorded by the runtime like any other. */
    expect_err("stream_error_recorded", cudaStreamQuery(dead), cudaErrorInvalidResourceHandle);
    expect_err("peek_after_stream_error", cudaPeekAtLastError(), cudaErrorInvalidResourceHandle);
    expect_err("get_after_stream_error", cudaGetLastError(), cudaErrorInvalidResourceHandle);
    expect_err("cleared_after_stream_error", cudaGetLastError(), cudaSuccess);

    expect_ok("event_destroy", cudaEventDestroy(ev));
    expect_ok("event_destroy_untimed", cudaEventDestroy(untimed));
    expect_ok("stream_destroy", cudaStreamDestroy(live));
    expect_ok("free", cudaFree(d));
    expect_ok("free_host", cudaFreeHost(h));
}

static void check_bad_host_pointers(void)
{
    /* Pinned-memory calls on memory that is not pinned. */
    void *heap = host_alloc(4096);
    unsigned flags = 0;
    void *dptr = NULL;
    expect_fail("host_get_flags_pageable", cudaHostGetFlags(&flags, heap), cudaErrorInvalidValue);
    expect_fail("host_get_device_pointer_pageable", cudaHostGetDevicePointer(&dptr, heap, 0), cudaErrorInvalidValue);
    expect_fail("free_host_pageable", cudaFreeHost(heap), cudaErrorInvalidValue);
    free(heap);
    void *d = NULL;
    if (expect_ok("malloc_device", cudaMalloc(&d, 4096))) {
        expect_fail("free_host_device_pointer", cudaFreeHost(d), cudaErrorInvalidValue);
        expect_fail("host_get_flags_device_pointer", cudaHostGetFlags(&flags, d), cudaErrorInvalidValue);
        expect_ok("free_device", cudaFree(d));
    }
    void *pinned = NULL;
    if (expect_ok("host_alloc_mapped", cudaHostAlloc(&pinned, 4096, cudaHostAllocMapped))) {
        expect_fail("host_get_device_pointer_flags_1", cudaHostGetDevicePointer(&dptr, pinned, 1),
                    cudaErrorInvalidValue);
        expect_fail("free_pinned_with_cuda_free", cudaFree(pinned), cudaErrorInvalidValue);
        expect_ok("free_host", cudaFreeHost(pinned));
        expect_fail("free_host_twice", cudaFreeHost(pinned), cudaErrorInvalidValue);
    }
    expect_ok("synchronize_after_host_errors", cudaDeviceSynchronize());
}

int main(void)
{
    check_begin("streamerrors");
    expect_ok("set_device", cudaSetDevice(0));
    expect_ok("warm_up", cudaFree(NULL));
    check_bad_flags();
    check_bad_handles();
    check_bad_host_pointers();
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
