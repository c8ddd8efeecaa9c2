/* memory.cu: cudaMalloc/cudaFree, 1D copies of every kind, range checks, memset, cudaMemGetInfo. */
#include "check.h"

static const size_t N = 1 << 20;  /* 1 MiB buffers */

static void check_alloc_free(void)
{
    void *d = NULL;
    if (expect_ok("malloc_1mib", cudaMalloc(&d, N))) {
        check_report("malloc_nonnull", d != NULL, "expected a pointer got NULL");
        check_report("malloc_aligned_256", ((uintptr_t)d & 255) == 0, "expected 256-byte alignment got %p", d);
        expect_ok("free_1mib", cudaFree(d));
        expect_fail("double_free", cudaFree(d), cudaErrorInvalidValue);
    }
    expect_ok("free_null", cudaFree(NULL));

    int on_stack[16];
    expect_fail("free_stack_pointer", cudaFree(on_stack), cudaErrorInvalidValue);
    void *heap = host_alloc(64);
    expect_fail("free_host_malloc_pointer", cudaFree(heap), cudaErrorInvalidValue);
    free(heap);

    /* Freeing the inside of a live allocation is refused and leaves the allocation usable. */
    if (expect_ok("malloc_for_interior_free", cudaMalloc(&d, N))) {
        expect_fail("free_interior_pointer", cudaFree((char *)d + 256), cudaErrorInvalidValue);
        expect_ok("memset_after_interior_free", cudaMemset(d, 1, N));
        expect_ok("free_after_interior_free", cudaFree(d));
    }

    /* Far more than any device has. */
    void *huge = (void *)0x1;
    expect_fail("malloc_too_large", cudaMalloc(&huge, (size_t)1 << 50), cudaErrorMemoryAllocation);
    if (expect_ok("malloc_after_failed_malloc", cudaMalloc(&d, 4096)))
        expect_ok("free_after_failed_malloc", cudaFree(d));

    /* Many small allocations are distinct and do not overlap. */
    enum { K = 64 };
    void *ptrs[K];
    int made = 0;
    bool overlap = false;
    for (int i = 0; i < K; i++) {
        if (cudaMalloc(&ptrs[i], 1000 + i) != cudaSuccess)
            break;
        made++;
    }
    expect_i64("malloc_64_small", made, K);
    for (int i = 0; i < made; i++)
        for (int j = i + 1; j < made; j++) {
            uintptr_t a = (uintptr_t)ptrs[i], b = (uintptr_t)ptrs[j];
            if ((a < b && a + 1000 + i > b) || (b <= a && b + 1000 + j > a))
                overlap = true;
        }
    check_report("small_allocations_disjoint", !overlap, "expected disjoint ranges got an overlap");
    int freed = 0;
    for (int i = 0; i < made; i++)
        freed += cudaFree(ptrs[i]) == cudaSuccess;
    expect_i64("free_64_small", freed, made);
}

static void check_copies(void)
{
    unsigned char *h1 = (unsigned char *)host_alloc(N), *h2 = (unsigned char *)host_alloc(N);
    void *d1 = NULL, *d2 = NULL;
    if (!expect_ok("malloc_copy_a", cudaMalloc(&d1, N)) || !expect_ok("malloc_copy_b", cudaMalloc(&d2, N)))
        return;

    fill_pattern(h1, N, 1);
    memset(h2, 0, N);
    expect_ok("memcpy_htod", cudaMemcpy(d1, h1, N, cudaMemcpyHostToDevice));
    expect_ok("memcpy_dtoh", cudaMemcpy(h2, d1, N, cudaMemcpyDeviceToHost));
    expect_bytes("memcpy_htod_dtoh_round_trip", h2, h1, N);

    memset(h2, 0, N);
    expect_ok("memcpy_dtod", cudaMemcpy(d2, d1, N, cudaMemcpyDeviceToDevice));
    expect_ok("memcpy_dtoh_after_dtod", cudaMemcpy(h2, d2, N, cudaMemcpyDeviceToHost));
    expect_bytes("memcpy_dtod_content", h2, h1, N);

    /* Offsets inside allocations, odd sizes. */
    fill_pattern(h1, N, 2);
    expect_ok("memcpy_htod_offset", cudaMemcpy((char *)d1 + 4093, h1 + 7, 10001, cudaMemcpyHostToDevice));
    memset(h2, 0, N);
    expect_ok("memcpy_dtoh_offset", cudaMemcpy(h2, (char *)d1 + 4093, 10001, cudaMemcpyDeviceToHost));
    expect_bytes("memcpy_offset_content", h2, h1 + 7, 10001);
    expect_ok("memcpy_dtod_overlap_free_offsets",
              cudaMemcpy((char *)d2 + 1, (char *)d1 + 4093, 10001, cudaMemcpyDeviceToDevice));
    memset(h2, 0, N);
    expect_ok("memcpy_dtoh_dtod_offset", cudaMemcpy(h2, (char *)d2 + 1, 10001, cudaMemcpyDeviceToHost));
    expect_bytes("memcpy_dtod_offset_content", h2, h1 + 7, 10001);

    /* cudaMemcpyDefault infers every direction from the pointers (unified addressing). */
    fill_pattern(h1, N, 3);
    expect_ok("memcpy_default_htod", cudaMemcpy(d1, h1, N, cudaMemcpyDefault));
    expect_ok("memcpy_default_dtod", cudaMemcpy(d2, d1, N, cudaMemcpyDefault));
    memset(h2, 0, N);
    expect_ok("memcpy_default_dtoh", cudaMemcpy(h2, d2, N, cudaMemcpyDefault));
    expect_bytes("memcpy_default_round_trip", h2, h1, N);
    memset(h2, 0, N);
    expect_ok("memcpy_default_htoh", cudaMemcpy(h2, h1, N, cudaMemcpyDefault));
    expect_bytes("memcpy_default_htoh_content", h2, h1, N);
    memset(h2, 0, N);
    expect_ok("memcpy_htoh", cudaMemcpy(h2, h1, 12345, cudaMemcpyHostToHost));
    expect_bytes("memcpy_htoh_content", h2, h1, 12345);

    expect_ok("memcpy_zero_bytes", cudaMemcpy(d1, h1, 0, cudaMemcpyHostToDevice));

    /* Out-of-range copies fail with cudaErrorInvalidValue and change nothing; the program goes on. */
    fill_pattern(h1, N, 4);
    expect_ok("memcpy_htod_before_range_checks", cudaMemcpy(d1, h1, N, cudaMemcpyHostToDevice));
    expect_fail("memcpy_htod_past_end", cudaMemcpy(d1, h1, N + 1, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    expect_fail("memcpy_htod_offset_past_end",
                cudaMemcpy((char *)d1 + N - 10, h1, 11, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    expect_fail("memcpy_dtoh_past_end", cudaMemcpy(h2, (char *)d1 + 1, N, cudaMemcpyDeviceToHost),
                cudaErrorInvalidValue);
    expect_fail("memcpy_dtod_dst_past_end", cudaMemcpy((char *)d2 + N / 2, d1, N, cudaMemcpyDeviceToDevice),
                cudaErrorInvalidValue);
    expect_fail("memcpy_dtod_src_past_end", cudaMemcpy(d2, (char *)d1 + N / 2, N, cudaMemcpyDeviceToDevice),
                cudaErrorInvalidValue);
    expect_fail("memcpy_default_past_end", cudaMemcpy(d1, h1, 2 * N, cudaMemcpyDefault), cudaErrorInvalidValue);
    memset(h2, 0, N);
    expect_ok("memcpy_after_range_errors", cudaMemcpy(h2, d1, N, cudaMemcpyDeviceToHost));
    expect_bytes("content_unchanged_by_failed_copies", h2, h1, N);

    /* A freed allocation can no longer be copied to. */
    void *d3 = NULL;
    if (expect_ok("malloc_for_use_after_free", cudaMalloc(&d3, 4096))) {
        expect_ok("free_for_use_after_free", cudaFree(d3));
        expect_fail("memcpy_htod_freed", cudaMemcpy(d3, h1, 4096, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
        expect_fail("memcpy_dtoh_freed", cudaMemcpy(h2, d3, 4096, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
    }

    /* Memset: whole buffer, a range with odd bounds, out of range. */
    expect_ok("memset_whole", cudaMemset(d1, 0xa5, N));
    memset(h2, 0, N);
    expect_ok("memcpy_after_memset", cudaMemcpy(h2, d1, N, cudaMemcpyDeviceToHost));
    expect_filled("memset_whole_content", h2, 0xa5, N);
    expect_ok("memset_range", cudaMemset((char *)d1 + 333, 0x3c, 1000));
    expect_ok("memcpy_after_memset_range", cudaMemcpy(h2, d1, N, cudaMemcpyDeviceToHost));
    expect_filled("memset_range_before_untouched", h2, 0xa5, 333);
    expect_filled("memset_range_content", h2 + 333, 0x3c, 1000);
    expect_filled("memset_range_after_untouched", h2 + 1333, 0xa5, N - 1333);
    expect_ok("memset_value_truncated_to_byte", cudaMemset(d1, 0x1ff, 64));
    expect_ok("memcpy_after_memset_truncated", cudaMemcpy(h2, d1, 64, cudaMemcpyDeviceToHost));
    expect_filled("memset_uses_low_byte", h2, 0xff, 64);
    expect_fail("memset_past_end", cudaMemset((char *)d1 + 1, 0, N), cudaErrorInvalidValue);
    expect_fail("memset_freed", cudaMemset(d3, 0, 16), cudaErrorInvalidValue);
    expect_ok("memset_zero_bytes", cudaMemset(d1, 0, 0));

    expect_ok("free_copy_a", cudaFree(d1));
    expect_ok("free_copy_b", cudaFree(d2));
    free(h1);
    free(h2);
}

static void check_mem_get_info(void)
{
    size_t free0 = 0, total = 0, free1 = 0, free2 = 0, t = 0;
    cudaDeviceProp p;
    if (!expect_ok("mem_get_info", cudaMemGetInfo(&free0, &total)))
        return;
    check_report("mem_get_info_total_positive", total > 0, "expected > 0 got %zu", total);
    check_report("mem_get_info_free_le_total", free0 <= total, "expected free <= %zu got %zu", total, free0);
    if (expect_ok("props_for_mem_get_info", cudaGetDeviceProperties(&p, 0)))
        expect_u64("mem_get_info_total_matches_props", total, p.totalGlobalMem);

    const size_t big = (size_t)64 << 20;
    void *d = NULL;
    if (!expect_ok("malloc_64mib", cudaMalloc(&d, big)))
        return;
    expect_ok("mem_get_info_after_malloc", cudaMemGetInfo(&free1, &t));
    check_report("free_drops_by_64mib", free1 + big <= free0, "expected free <= %zu got %zu", free0 - big,
                 free1);
    expect_ok("free_64mib", cudaFree(d));
    expect_ok("mem_get_info_after_free", cudaMemGetInfo(&free2, &t));
    /* Allow 2 MiB of slack for a driver's own bookkeeping allocations on a real GPU. */
    check_report("free_recovers", free2 + ((size_t)2 << 20) >= free0, "expected free >= %zu got %zu",
                 free0 - ((size_t)2 << 20), free2);
}

int main(void)
{
    check_begin("memory");
    expect_ok("set_device", cudaSetDevice(0));
    check_alloc_free();
    check_copies();
    check_mem_get_info();
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
