/* streams.cu: the stream and event objects themselves: creation with flags and priorities, the
 * priority range and its clamping, cudaStreamGetFlags/GetPriority/GetId, cudaStreamQuery and
 * cudaEventQuery on idle and finished work, waits on events never recorded, blocking-sync events,
 * destruction with work still queued. The ordering they give is tested in pipeline.cu and
 * legacy.cu, the synchronous errors in streamerrors.cu. */
#include "check.h"

static const size_t N = (size_t)4 << 20;

static void check_priorities(void)
{
    int least = 12345, greatest = 12345;
    expect_ok("priority_range", cudaDeviceGetStreamPriorityRange(&least, &greatest));
    /* Lower numbers are greater priorities; the default priority 0 is inside the range. */
    check_report("priority_range_ordered", greatest <= least && greatest <= 0 && 0 <= least,
                 "expected greatest <= 0 <= least got greatest %d least %d", greatest, least);
    int only_least = 12345, only_greatest = 12345;
    expect_ok("priority_range_least_only", cudaDeviceGetStreamPriorityRange(&only_least, NULL));
    expect_ok("priority_range_greatest_only", cudaDeviceGetStreamPriorityRange(NULL, &only_greatest));
    expect_i64("priority_range_least_alone_same", only_least, least);
    expect_i64("priority_range_greatest_alone_same", only_greatest, greatest);

    /* Out-of-range priorities are clamped to the range, not refused. */
    struct {
        const char *name;
        int asked, expected;
        unsigned flags;
    } cases[] = {
        {"priority_greatest", greatest, greatest, cudaStreamDefault},
        {"priority_least", least, least, cudaStreamNonBlocking},
        {"priority_above_greatest_clamped", greatest - 100, greatest, cudaStreamDefault},
        {"priority_below_least_clamped", least + 100, least, cudaStreamNonBlocking},
    };
    for (auto &c : cases) {
        cudaStream_t s = NULL;
        char name[96];
        snprintf(name, sizeof(name), "%s_create", c.name);
        if (!expect_ok(name, cudaStreamCreateWithPriority(&s, c.flags, c.asked)))
            continue;
        int prio = 12345;
        unsigned flags = 12345;
        snprintf(name, sizeof(name), "%s_get", c.name);
        expect_ok(name, cudaStreamGetPriority(s, &prio));
        expect_i64(c.name, prio, c.expected);
        snprintf(name, sizeof(name), "%s_flags", c.name);
        expect_ok(name, cudaStreamGetFlags(s, &flags));
        expect_u64(name, flags, c.flags);
        snprintf(name, sizeof(name), "%s_destroy", c.name);
        expect_ok(name, cudaStreamDestroy(s));
    }
}

static void check_stream_objects(void)
{
    cudaStream_t blocking = NULL, nonblocking = NULL, plain = NULL;
    expect_ok("stream_create", cudaStreamCreate(&plain));
    expect_ok("stream_create_default_flags", cudaStreamCreateWithFlags(&blocking, cudaStreamDefault));
    expect_ok("stream_create_nonblocking", cudaStreamCreateWithFlags(&nonblocking, cudaStreamNonBlocking));
    check_report("streams_distinct", plain != blocking && blocking != nonblocking && plain != nonblocking
                 && plain != NULL && blocking != NULL && nonblocking != NULL,
                 "expected three distinct non-NULL handles got %p %p %p", (void *)plain, (void *)blocking,
                 (void *)nonblocking);

    unsigned flags = 12345;
    expect_ok("get_flags_plain", cudaStreamGetFlags(plain, &flags));
    expect_u64("flags_plain_default", flags, cudaStreamDefault);
    expect_ok("get_flags_blocking", cudaStreamGetFlags(blocking, &flags));
    expect_u64("flags_blocking_default", flags, cudaStreamDefault);
    expect_ok("get_flags_nonblocking", cudaStreamGetFlags(nonblocking, &flags));
    expect_u64("flags_nonblocking", flags, cudaStreamNonBlocking);

    int prio = 12345;
    expect_ok("get_priority_plain", cudaStreamGetPriority(plain, &prio));
    expect_i64("priority_plain_is_default_0", prio, 0);

    unsigned long long id_plain = 0, id_blocking = 0, id_nonblocking = 0;
    expect_ok("get_id_plain", cudaStreamGetId(plain, &id_plain));
    expect_ok("get_id_blocking", cudaStreamGetId(blocking, &id_blocking));
    expect_ok("get_id_nonblocking", cudaStreamGetId(nonblocking, &id_nonblocking));
    check_report("stream_ids_distinct", id_plain != id_blocking && id_blocking != id_nonblocking
                 && id_plain != id_nonblocking, "expected three distinct ids got %llu %llu %llu", id_plain,
                 id_blocking, id_nonblocking);
    unsigned long long id_again = 0;
    expect_ok("get_id_again", cudaStreamGetId(plain, &id_again));
    expect_u64("stream_id_stable", id_again, id_plain);

    /* Idle streams, the legacy stream and the per-thread stream report completion. */
    expect_ok("query_idle_stream", cudaStreamQuery(plain));
    expect_ok("query_idle_nonblocking", cudaStreamQuery(nonblocking));
    expect_ok("query_legacy_stream", cudaStreamQuery(cudaStreamLegacy));
    expect_ok("query_null_stream", cudaStreamQuery(0));
    expect_ok("query_per_thread_stream", cudaStreamQuery(cudaStreamPerThread));
    expect_ok("synchronize_idle_stream", cudaStreamSynchronize(plain));
    expect_ok("synchronize_legacy_stream", cudaStreamSynchronize(cudaStreamLegacy));
    expect_ok("synchronize_per_thread_stream", cudaStreamSynchronize(cudaStreamPerThread));

    /* Work queued on a stream: once synchronised, the stream and its last event are complete. */
    void *d = NULL;
    unsigned char *h = NULL;
    cudaEvent_t ev = NULL;
    if (expect_ok("malloc", cudaMalloc(&d, 2 * N)) && expect_ok("malloc_host", cudaMallocHost((void **)&h, N))
        && expect_ok("event_create", cudaEventCreate(&ev))) {
        /* An event never recorded counts as complete. */
        expect_ok("query_unrecorded_event", cudaEventQuery(ev));
        expect_ok("synchronize_unrecorded_event", cudaEventSynchronize(ev));
        /* Waiting for an event never recorded is a no-op. */
        expect_ok("wait_unrecorded_event", cudaStreamWaitEvent(plain, ev, 0));
        expect_ok("query_after_wait_unrecorded", cudaStreamQuery(plain));

        fill_pattern(h, N, 7);
        expect_ok("queue_htod", cudaMemcpyAsync(d, h, N, cudaMemcpyHostToDevice, plain));
        for (int i = 0; i < 8; i++)
            cudaMemcpyAsync((char *)d + N * ((i + 1) % 2), (char *)d + N * (i % 2), N, cudaMemcpyDeviceToDevice,
                            plain);
        expect_ok("event_record", cudaEventRecord(ev, plain));
        cudaError_t q = cudaStreamQuery(plain);
        check_report("query_busy_stream_answer", q == cudaSuccess || q == cudaErrorNotReady,
                     "expected cudaSuccess or cudaErrorNotReady got %s", cudaGetErrorName(q));
        (void)cudaGetLastError();
        expect_ok("stream_synchronize", cudaStreamSynchronize(plain));
        expect_ok("query_after_synchronize", cudaStreamQuery(plain));
        expect_ok("event_query_after_synchronize", cudaEventQuery(ev));
        memset(h, 0, N);
        expect_ok("dtoh", cudaMemcpy(h, d, N, cudaMemcpyDeviceToHost));
        unsigned char *want = (unsigned char *)host_alloc(N);
        fill_pattern(want, N, 7);
        expect_bytes("content_after_chain", h, want, N);
        free(want);

        /* An event recorded again describes the newer work; synchronising on it covers that work. */
        expect_ok("memset_async", cudaMemsetAsync(d, 0x3c, N, nonblocking));
        expect_ok("event_record_again", cudaEventRecord(ev, nonblocking));
        expect_ok("event_synchronize", cudaEventSynchronize(ev));
        expect_ok("event_query_after_event_synchronize", cudaEventQuery(ev));
        expect_ok("dtoh_after_event", cudaMemcpyAsync(h, d, N, cudaMemcpyDeviceToHost, nonblocking));
        expect_ok("stream_synchronize_nonblocking", cudaStreamSynchronize(nonblocking));
        expect_filled("content_after_event", h, 0x3c, N);

        /* cudaEventRecordWithFlags with the default flag behaves as cudaEventRecord. */
        expect_ok("event_record_with_flags_default", cudaEventRecordWithFlags(ev, blocking, cudaEventRecordDefault));
        expect_ok("event_synchronize_with_flags", cudaEventSynchronize(ev));

        /* Recording on the legacy and per-thread streams. */
        expect_ok("event_record_legacy", cudaEventRecord(ev, cudaStreamLegacy));
        expect_ok("event_synchronize_legacy", cudaEventSynchronize(ev));
        expect_ok("event_record_per_thread", cudaEventRecord(ev, cudaStreamPerThread));
        expect_ok("event_synchronize_per_thread", cudaEventSynchronize(ev));
        expect_ok("event_record_null_stream", cudaEventRecord(ev, 0));
        expect_ok("event_synchronize_null_stream", cudaEventSynchronize(ev));
        expect_ok("wait_event_legacy", cudaStreamWaitEvent(cudaStreamLegacy, ev, 0));
        expect_ok("wait_event_null_stream", cudaStreamWaitEvent(0, ev, 0));
        expect_ok("device_synchronize", cudaDeviceSynchronize());
    }

    /* Blocking-sync events: the same answers, only the way the host waits differs. */
    cudaEvent_t blocking_ev = NULL;
    if (expect_ok("event_create_blocking_sync", cudaEventCreateWithFlags(&blocking_ev, cudaEventBlockingSync))) {
        expect_ok("blocking_sync_memset", cudaMemsetAsync(d, 1, N, plain));
        expect_ok("blocking_sync_record", cudaEventRecord(blocking_ev, plain));
        expect_ok("blocking_sync_synchronize", cudaEventSynchronize(blocking_ev));
        expect_ok("blocking_sync_query", cudaEventQuery(blocking_ev));
        expect_ok("blocking_sync_destroy", cudaEventDestroy(blocking_ev));
    }
    cudaEvent_t all_flags = NULL;
    if (expect_ok("event_create_blocking_sync_disable_timing",
                  cudaEventCreateWithFlags(&all_flags, cudaEventBlockingSync | cudaEventDisableTiming))) {
        expect_ok("blocking_sync_disable_timing_record", cudaEventRecord(all_flags, plain));
        expect_ok("blocking_sync_disable_timing_synchronize", cudaEventSynchronize(all_flags));
        expect_ok("blocking_sync_disable_timing_destroy", cudaEventDestroy(all_flags));
    }

    /* A stream destroyed with work queued: the call returns at once and the work still completes. */
    cudaStream_t doomed = NULL;
    if (d != NULL && h != NULL && expect_ok("doomed_stream_create", cudaStreamCreate(&doomed))) {
        fill_pattern(h, N, 99);
        expect_ok("doomed_htod", cudaMemcpyAsync(d, h, N, cudaMemcpyHostToDevice, doomed));
        expect_ok("doomed_memset", cudaMemsetAsync((char *)d + N, 0x77, N, doomed));
        expect_ok("doomed_record", cudaEventRecord(ev, doomed));
        expect_ok("doomed_destroy_with_work_queued", cudaStreamDestroy(doomed));
        expect_ok("event_of_destroyed_stream_synchronize", cudaEventSynchronize(ev));
        expect_ok("device_synchronize_after_doomed", cudaDeviceSynchronize());
        unsigned char *back = (unsigned char *)host_alloc(N), *want = (unsigned char *)host_alloc(N);
        fill_pattern(want, N, 99);
        expect_ok("doomed_dtoh", cudaMemcpy(back, d, N, cudaMemcpyDeviceToHost));
        expect_bytes("doomed_work_completed", back, want, N);
        expect_ok("doomed_dtoh_memset", cudaMemcpy(back, (char *)d + N, N, cudaMemcpyDeviceToHost));
        expect_filled("doomed_memset_completed", back, 0x77, N);
        free(back);
        free(want);
    }

    /* An event destroyed while a stream waits for it: the wait still holds. */
    cudaEvent_t gone = NULL;
    if (d != NULL && expect_ok("gone_event_create", cudaEventCreateWithFlags(&gone, cudaEventDisableTiming))) {
        expect_ok("gone_memset", cudaMemsetAsync(d, 0x12, N, nonblocking));
        expect_ok("gone_record", cudaEventRecord(gone, nonblocking));
        expect_ok("gone_wait", cudaStreamWaitEvent(plain, gone, 0));
        expect_ok("gone_destroy_while_waited", cudaEventDestroy(gone));
        expect_ok("gone_memset_after_wait", cudaMemsetAsync(d, 0x34, 16, plain));
        expect_ok("gone_synchronize", cudaDeviceSynchronize());
        unsigned char back[32];
        expect_ok("gone_dtoh", cudaMemcpy(back, d, sizeof(back), cudaMemcpyDeviceToHost));
        expect_filled("gone_order_head", back, 0x34, 16);
        expect_filled("gone_order_tail", back + 16, 0x12, 16);
    }

    if (ev != NULL)
        expect_ok("event_destroy", cudaEventDestroy(ev));
    if (h != NULL)
        expect_ok("free_host", cudaFreeHost(h));
    if (d != NULL)
        expect_ok("free", cudaFree(d));
    expect_ok("stream_destroy_plain", cudaStreamDestroy(plain));
    expect_ok("stream_destroy_blocking", cudaStreamDestroy(blocking));
    expect_ok("stream_destroy_nonblocking", cudaStreamDestroy(nonblocking));
}

/* Many streams and events at once, created and destroyed in an interleaved order. */
static void check_many_objects(void)
{
    enum { K = 64 };
    cudaStream_t streams[K];
    cudaEvent_t events[K];
    int made_s = 0, made_e = 0;
    for (int i = 0; i < K; i++) {
        if (cudaStreamCreateWithFlags(&streams[i], i % 2 ? cudaStreamNonBlocking : cudaStreamDefault) != cudaSuccess)
            break;
        made_s++;
        if (cudaEventCreateWithFlags(&events[i], i % 3 ? cudaEventDisableTiming : cudaEventDefault) != cudaSuccess)
            break;
        made_e++;
    }
    expect_i64("create_64_streams", made_s, K);
    expect_i64("create_64_events", made_e, K);
    int recorded = 0, waited = 0;
    for (int i = 0; i < made_e && i < made_s; i++) {
        recorded += cudaEventRecord(events[i], streams[i]) == cudaSuccess;
        waited += cudaStreamWaitEvent(streams[(i + 1) % made_s], events[i], 0) == cudaSuccess;
    }
    expect_i64("record_64_events", recorded, made_e);
    expect_i64("wait_64_events", waited, made_e);
    expect_ok("synchronize_64", cudaDeviceSynchronize());
    int done = 0;
    for (int i = 0; i < made_e; i++)
        done += cudaEventQuery(events[i]) == cudaSuccess;
    expect_i64("events_64_complete", done, made_e);
    int destroyed = 0;
    for (int i = made_s - 1; i >= 0; i -= 2)
        destroyed += cudaStreamDestroy(streams[i]) == cudaSuccess;
    for (int i = 0; i < made_e; i++)
        destroyed += cudaEventDestroy(events[i]) == cudaSuccess;
    for (int i = made_s - 2; i >= 0; i -= 2)
        destroyed += cudaStreamDestroy(streams[i]) == cudaSuccess;
    expect_i64("destroy_all", destroyed, made_s + made_e);
}

int main(void)
{
    check_begin("streams");
    expect_ok("set_device", cudaSetDevice(0));
    check_priorities();
    check_stream_objects();
    check_many_objects();
    expect_ok("final_synchronize", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
