/* reset.cu: cudaDeviceReset frees the device's memory and the device works again afterwards. */
#include "check.h"

int main(void)
{
    check_begin("reset");
    expect_ok("set_device", cudaSetDevice(0));

    size_t free0 = 0, total = 0, free1 = 0, free2 = 0;
    expect_ok("mem_get_info_initial", cudaMemGetInfo(&free0, &total));

    const size_t big = (size_t)256 << 20;
    void *d = NULL, *d_small = NULL;
    if (!expect_ok("malloc_256mib", cudaMalloc(&d, big)) || !expect_ok("malloc_small", cudaMalloc(&d_small, 4096)))
        return check_end();
    expect_ok("memset_before_reset", cudaMemset(d_small, 0x12, 4096));
    expect_ok("mem_get_info_allocated", cudaMemGetInfo(&free1, &total));
    check_report("free_drops_before_reset", free1 + big <= free0, "expected free <= %zu got %zu", free0 - big,
                 free1);

    /* The allocations are not freed by the program: the reset must release them. */
    expect_ok("device_reset", cudaDeviceReset());
    expect_ok("mem_get_info_after_reset", cudaMemGetInfo(&free2, &total));
    check_report("reset_releases_memory", free2 + ((size_t)2 << 20) >= free0, "expected free >= %zu got %zu",
                 free0 - ((size_t)2 << 20), free2);

    cudaPointerAttributes a;
    memset(&a, 0, sizeof(a));
    cudaError_t err = cudaPointerGetAttributes(&a, d);
    check_report("old_pointer_not_device_after_reset", err != cudaSuccess || a.type != cudaMemoryTypeDevice,
                 "expected an error or a non-device type got %s with type %d", cudaGetErrorName(err), (int)a.type);
    (void)cudaGetLastError();

    /* The device works again, with no explicit re-initialisation. */
    int count = 0;
    expect_ok("get_device_count_after_reset", cudaGetDeviceCount(&count));
    check_report("device_count_after_reset", count >= 1, "expected >= 1 got %d", count);
    void *d2 = NULL;
    if (expect_ok("malloc_after_reset", cudaMalloc(&d2, big))) {
        unsigned char *h = (unsigned char *)host_alloc(1 << 20), *back = (unsigned char *)host_alloc(1 << 20);
        fill_pattern(h, 1 << 20, 20);
        expect_ok("memcpy_htod_after_reset", cudaMemcpy(d2, h, 1 << 20, cudaMemcpyHostToDevice));
        expect_ok("memcpy_dtoh_after_reset", cudaMemcpy(back, d2, 1 << 20, cudaMemcpyDeviceToHost));
        expect_bytes("round_trip_after_reset", back, h, 1 << 20);
        expect_ok("free_after_reset", cudaFree(d2));
        free(h);
        free(back);
    }
    expect_ok("device_synchronize_after_reset", cudaDeviceSynchronize());

    /* A second reset, with nothing allocated, then the device is used once more. */
    expect_ok("device_reset_again", cudaDeviceReset());
    expect_ok("device_reset_idle_twice", cudaDeviceReset());
    void *d3 = NULL;
    if (expect_ok("malloc_after_second_reset", cudaMalloc(&d3, 4096))) {
        expect_ok("memset_after_second_reset", cudaMemset(d3, 0x34, 4096));
        unsigned char h[4096];
        expect_ok("memcpy_after_second_reset", cudaMemcpy(h, d3, sizeof(h), cudaMemcpyDeviceToHost));
        expect_filled("memset_content_after_second_reset", h, 0x34, sizeof(h));
        expect_ok("free_after_second_reset", cudaFree(d3));
    }
    size_t free3 = 0;
    expect_ok("mem_get_info_final", cudaMemGetInfo(&free3, &total));
    check_report("final_free_recovers", free3 + ((size_t)2 << 20) >= free0, "expected free >= %zu got %zu",
                 free0 - ((size_t)2 << 20), free3);
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
