/* bigcopy.cu: copies larger than one protocol message (64 MiB) arrive whole and in order. */
#include "check.h"

int main(void)
{
    check_begin("bigcopy");
    expect_ok("set_device", cudaSetDevice(0));

    /* 200 MiB + 3 bytes: three full 64 MiB pieces and a ragged last one. */
    const size_t n = ((size_t)200 << 20) + 3;
    unsigned char *h = (unsigned char *)host_alloc(n), *back = (unsigned char *)host_alloc(n);
    fill_pattern(h, n, 30);
    const uint64_t sum = checksum(h, n);

    void *d1 = NULL, *d2 = NULL;
    if (!expect_ok("malloc_a", cudaMalloc(&d1, n)) || !expect_ok("malloc_b", cudaMalloc(&d2, n)))
        return check_end();
    expect_ok("memcpy_htod_200mib", cudaMemcpy(d1, h, n, cudaMemcpyHostToDevice));
    memset(back, 0, n);
    expect_ok("memcpy_dtoh_200mib", cudaMemcpy(back, d1, n, cudaMemcpyDeviceToHost));
    expect_u64("round_trip_checksum", checksum(back, n), sum);
    expect_bytes("round_trip_bytes", back, h, n);

    expect_ok("memcpy_dtod_200mib", cudaMemcpy(d2, d1, n, cudaMemcpyDeviceToDevice));
    memset(back, 0, n);
    expect_ok("memcpy_dtoh_after_dtod", cudaMemcpy(back, d2, n, cudaMemcpyDeviceToHost));
    expect_u64("dtod_checksum", checksum(back, n), sum);

    /* Exactly 64 MiB, and 64 MiB + 1, at an odd offset. */
    const size_t m = (size_t)64 << 20;
    expect_ok("memcpy_htod_64mib_exact", cudaMemcpy((char *)d1 + 1, h + 5, m, cudaMemcpyHostToDevice));
    expect_ok("memcpy_htod_64mib_plus_1", cudaMemcpy((char *)d2 + 7, h + 9, m + 1, cudaMemcpyHostToDevice));
    memset(back, 0, n);
    expect_ok("memcpy_dtoh_64mib_exact", cudaMemcpy(back, (char *)d1 + 1, m, cudaMemcpyDeviceToHost));
    expect_u64("exact_64mib_checksum", checksum(back, m), checksum(h + 5, m));
    expect_ok("memcpy_dtoh_64mib_plus_1", cudaMemcpy(back, (char *)d2 + 7, m + 1, cudaMemcpyDeviceToHost));
    expect_u64("plus_1_checksum", checksum(back, m + 1), checksum(h + 9, m + 1));

    /* A large 2D copy whose rows span several messages: 1 MiB rows, 130 of them. */
    const size_t row = (size_t)1 << 20, rows = 130, dpitch = row + 512;
    void *d3 = NULL;
    if (expect_ok("malloc_2d_big", cudaMalloc(&d3, dpitch * rows))) {
        expect_ok("memcpy2d_htod_big", cudaMemcpy2D(d3, dpitch, h, row, row, rows, cudaMemcpyHostToDevice));
        memset(back, 0, n);
        expect_ok("memcpy2d_dtoh_big", cudaMemcpy2D(back, row, d3, dpitch, row, rows, cudaMemcpyDeviceToHost));
        expect_u64("memcpy2d_big_checksum", checksum(back, row * rows), checksum(h, row * rows));
        expect_ok("free_2d_big", cudaFree(d3));
    }

    /* A large memset. */
    expect_ok("memset_200mib", cudaMemset(d1, 0xc3, n));
    expect_ok("memcpy_dtoh_after_memset", cudaMemcpy(back, d1, n, cudaMemcpyDeviceToHost));
    expect_filled("memset_200mib_content", back, 0xc3, n);

    expect_ok("free_a", cudaFree(d1));
    expect_ok("free_b", cudaFree(d2));
    free(h);
    free(back);
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
