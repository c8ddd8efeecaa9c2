/* errors.cu: cudaGetLastError / cudaPeekAtLastError after errors, per-thread error state, names. */
#include "check.h"

#include <thread>

int main(void)
{
    check_begin("errors");
    expect_ok("set_device", cudaSetDevice(0));
    expect_err("last_error_initially_success", cudaGetLastError(), cudaSuccess);
    expect_err("peek_initially_success", cudaPeekAtLastError(), cudaSuccess);

    /* A failing call records its error; peek leaves it, get returns and clears it. */
    expect_err("set_device_invalid", cudaSetDevice(1 << 20), cudaErrorInvalidDevice);
    expect_err("peek_after_error", cudaPeekAtLastError(), cudaErrorInvalidDevice);
    expect_err("peek_again_unchanged", cudaPeekAtLastError(), cudaErrorInvalidDevice);
    expect_err("get_after_error", cudaGetLastError(), cudaErrorInvalidDevice);
    expect_err("get_clears", cudaGetLastError(), cudaSuccess);
    expect_err("peek_after_clear", cudaPeekAtLastError(), cudaSuccess);

    /* A successful call does not clear an earlier error; a later error replaces it. */
    void *huge = NULL;
    expect_err("malloc_too_large", cudaMalloc(&huge, (size_t)1 << 50), cudaErrorMemoryAllocation);
    void *d = NULL;
    expect_ok("malloc_after_error", cudaMalloc(&d, 4096));
    expect_err("error_survives_success", cudaPeekAtLastError(), cudaErrorMemoryAllocation);
    unsigned char h[64] = {0};
    expect_err("memcpy_out_of_range", cudaMemcpy(h, (char *)d + 4090, 64, cudaMemcpyDeviceToHost),
               cudaErrorInvalidValue);
    expect_err("later_error_replaces", cudaGetLastError(), cudaErrorInvalidValue);
    expect_err("cleared_after_replace", cudaGetLastError(), cudaSuccess);

    /* These errors are not sticky: the context keeps working. */
    expect_ok("memset_after_errors", cudaMemset(d, 0x42, 4096));
    expect_ok("memcpy_after_errors", cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
    expect_filled("content_after_errors", h, 0x42, sizeof(h));
    expect_ok("synchronize_after_errors", cudaDeviceSynchronize());

    /* More error kinds, each recorded. */
    expect_err("invalid_memcpy_kind", cudaMemcpy(h, d, 16, (cudaMemcpyKind)77), cudaErrorInvalidMemcpyDirection);
    expect_err("get_invalid_memcpy_kind", cudaGetLastError(), cudaErrorInvalidMemcpyDirection);
    expect_err("free_invalid_pointer", cudaFree((char *)d + 1), cudaErrorInvalidValue);
    expect_err("get_free_invalid_pointer", cudaGetLastError(), cudaErrorInvalidValue);
    expect_err("get_device_count_null", cudaGetDeviceCount(NULL), cudaErrorInvalidValue);
    expect_err("get_device_count_null_recorded", cudaGetLastError(), cudaErrorInvalidValue);

    /* The last error belongs to the thread that made the failing call. */
    expect_err("set_device_invalid_main_thread", cudaSetDevice(-1), cudaErrorInvalidDevice);
    cudaError_t other_before = cudaErrorUnknown, other_error = cudaSuccess, other_after = cudaErrorUnknown;
    std::thread t([&] {
        other_before = cudaPeekAtLastError();
        other_error = cudaMemcpy(h, (char *)d + 4095, 2, cudaMemcpyDeviceToHost);
        other_after = cudaGetLastError();
    });
    t.join();
    expect_err("other_thread_starts_clean", other_before, cudaSuccess);
    expect_err("other_thread_error", other_error, cudaErrorInvalidValue);
    expect_err("other_thread_sees_own_error", other_after, cudaErrorInvalidValue);
    expect_err("main_thread_keeps_own_error", cudaGetLastError(), cudaErrorInvalidDevice);

    /* Names and strings come from the runtime; a quick sanity check of the table. */
    check_report("error_name", strcmp(cudaGetErrorName(cudaErrorInvalidValue), "cudaErrorInvalidValue") == 0,
                 "expected cudaErrorInvalidValue got %s", cudaGetErrorName(cudaErrorInvalidValue));
    check_report("error_string", strcmp(cudaGetErrorString(cudaErrorInvalidValue), "invalid argument") == 0,
                 "expected 'invalid argument' got '%s'", cudaGetErrorString(cudaErrorInvalidValue));

    expect_ok("free", cudaFree(d));
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
