/* timing.cu: cudaEventElapsedTime. Times are never negative between events recorded in order, they
 * add up and grow along a stream (three events), an event to itself is 0, a host pause between two
 * records shows in the device's time, and events without timing or never recorded are refused with
 * cudaErrorInvalidResourceHandle. */
#include "check.h"

#include <chrono>
#include <thread>

static const size_t M = (size_t)16 << 20;

/* Float rounding of three differences of the same timestamps. */
static const float EPS_MS = 0.01f;

int main(void)
{
    check_begin("timing");
    expect_ok("set_device", cudaSetDevice(0));
    cudaStream_t s = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL, e2 = NULL, untimed = NULL, untimed2 = NULL, fresh = NULL;
    void *x = NULL, *y = NULL;
    if (!expect_ok("stream_create", cudaStreamCreate(&s)) || !expect_ok("event_create_0", cudaEventCreate(&e0))
        || !expect_ok("event_create_1", cudaEventCreateWithFlags(&e1, cudaEventDefault))
        || !expect_ok("event_create_2", cudaEventCreateWithFlags(&e2, cudaEventBlockingSync))
        || !expect_ok("event_create_untimed", cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming))
        || !expect_ok("event_create_untimed2",
                      cudaEventCreateWithFlags(&untimed2, cudaEventDisableTiming | cudaEventBlockingSync))
        || !expect_ok("event_create_fresh", cudaEventCreate(&fresh)) || !expect_ok("malloc_x", cudaMalloc(&x, M))
        || !expect_ok("malloc_y", cudaMalloc(&y, M)))
        return check_end();

    /* Three events around work on one stream. */
    for (int round = 0; round < 3; round++) {
        char name[96];
        expect_ok("record_e0", cudaEventRecord(e0, s));
        for (int i = 0; i < 4; i++)
            cudaMemcpyAsync(y, x, M, cudaMemcpyDeviceToDevice, s);
        expect_ok("record_e1", cudaEventRecord(e1, s));
        for (int i = 0; i < 4; i++)
            cudaMemcpyAsync(x, y, M, cudaMemcpyDeviceToDevice, s);
        expect_ok("record_e2", cudaEventRecord(e2, s));
        expect_ok("synchronize_e2", cudaEventSynchronize(e2));
        float t01 = -1, t12 = -1, t02 = -1, t00 = -1;
        snprintf(name, sizeof(name), "round_%d_elapsed_01", round);
        expect_ok(name, cudaEventElapsedTime(&t01, e0, e1));
        snprintf(name, sizeof(name), "round_%d_elapsed_12", round);
        expect_ok(name, cudaEventElapsedTime(&t12, e1, e2));
        snprintf(name, sizeof(name), "round_%d_elapsed_02", round);
        expect_ok(name, cudaEventElapsedTime(&t02, e0, e2));
        snprintf(name, sizeof(name), "round_%d_elapsed_00", round);
        expect_ok(name, cudaEventElapsedTime(&t00, e0, e0));
        snprintf(name, sizeof(name), "round_%d_nonnegative", round);
        check_report(name, t01 >= 0 && t12 >= 0 && t02 >= 0, "expected >= 0 got %g %g %g ms", t01, t12, t02);
        snprintf(name, sizeof(name), "round_%d_monotone", round);
        check_report(name, t02 + EPS_MS >= t01 && t02 + EPS_MS >= t12,
                     "expected e0->e2 (%g ms) >= e0->e1 (%g ms) and >= e1->e2 (%g ms)", t02, t01, t12);
        snprintf(name, sizeof(name), "round_%d_additive", round);
        check_report(name, t02 - (t01 + t12) <= EPS_MS && (t01 + t12) - t02 <= EPS_MS,
                     "expected e0->e2 (%g ms) = e0->e1 + e1->e2 (%g ms)", t02, t01 + t12);
        snprintf(name, sizeof(name), "round_%d_self_zero", round);
        check_report(name, t00 == 0.0f, "expected 0 ms got %g", t00);
        snprintf(name, sizeof(name), "round_%d_plausible", round);
        check_report(name, t02 < 60000.0f, "expected under a minute got %g ms", t02);
    }

    /* A host pause between two records is part of the device's elapsed time. */
    expect_ok("pause_record_e0", cudaEventRecord(e0, s));
    expect_ok("pause_synchronize_e0", cudaEventSynchronize(e0));
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    expect_ok("pause_record_e1", cudaEventRecord(e1, s));
    expect_ok("pause_synchronize_e1", cudaEventSynchronize(e1));
    float paused = -1;
    expect_ok("pause_elapsed", cudaEventElapsedTime(&paused, e0, e1));
    check_report("pause_shows_in_elapsed", paused >= 55.0f && paused < 10000.0f,
                 "expected about 60 ms (at least 55) got %g ms", paused);

    /* Events on different streams, ordered by a wait: still non-negative. */
    cudaStream_t other = NULL;
    if (expect_ok("stream_create_other", cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking))) {
        expect_ok("cross_record_e0", cudaEventRecord(e0, s));
        expect_ok("cross_wait", cudaStreamWaitEvent(other, e0, 0));
        expect_ok("cross_copy", cudaMemcpyAsync(y, x, M, cudaMemcpyDeviceToDevice, other));
        expect_ok("cross_record_e1", cudaEventRecord(e1, other));
        expect_ok("cross_synchronize", cudaEventSynchronize(e1));
        float t = -1;
        expect_ok("cross_elapsed", cudaEventElapsedTime(&t, e0, e1));
        check_report("cross_nonnegative", t >= 0, "expected >= 0 got %g ms", t);
        expect_ok("stream_destroy_other", cudaStreamDestroy(other));
    }

    /* Refusals. */
    expect_ok("untimed_record", cudaEventRecord(untimed, s));
    expect_ok("untimed2_record", cudaEventRecord(untimed2, s));
    expect_ok("untimed_synchronize", cudaEventSynchronize(untimed2));
    float t = 12345.0f;
    expect_fail("elapsed_untimed_end", cudaEventElapsedTime(&t, e0, untimed), cudaErrorInvalidResourceHandle);
    expect_fail("elapsed_untimed_start", cudaEventElapsedTime(&t, untimed, e1), cudaErrorInvalidResourceHandle);
    expect_fail("elapsed_untimed_both", cudaEventElapsedTime(&t, untimed, untimed2), cudaErrorInvalidResourceHandle);
    expect_fail("elapsed_never_recorded_end", cudaEventElapsedTime(&t, e0, fresh), cudaErrorInvalidResourceHandle);
    expect_fail("elapsed_never_recorded_start", cudaEventElapsedTime(&t, fresh, e0), cudaErrorInvalidResourceHandle);
    expect_ok("untimed_query", cudaEventQuery(untimed));

    /* An event still pending: cudaErrorNotReady, if the host catches it pending (it usually does). */
    cudaError_t early = cudaSuccess;
    for (int attempt = 0; attempt < 3 && early != cudaErrorNotReady; attempt++) {
        cudaEventRecord(e0, s);
        for (int i = 0; i < 16 << attempt; i++)
            cudaMemcpyAsync(y, x, M, cudaMemcpyDeviceToDevice, s);
        cudaEventRecord(e1, s);
        early = cudaEventElapsedTime(&t, e0, e1);
        (void)cudaGetLastError();
        cudaStreamSynchronize(s);
    }
    check_report("elapsed_pending_not_ready", early == cudaErrorNotReady, "expected cudaErrorNotReady got %s",
                 cudaGetErrorName(early));
    expect_ok("elapsed_after_pending", cudaEventElapsedTime(&t, e0, e1));

    cudaEvent_t all[] = {e0, e1, e2, untimed, untimed2, fresh};
    int destroyed = 0;
    for (cudaEvent_t ev : all)
        destroyed += cudaEventDestroy(ev) == cudaSuccess;
    expect_i64("events_destroyed", destroyed, 6);
    expect_ok("stream_destroy", cudaStreamDestroy(s));
    cudaFree(x);
    cudaFree(y);
    expect_ok("final_synchronize", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
