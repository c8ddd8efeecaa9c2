/* hostmem.cu: pinned host memory: cudaMallocHost, cudaHostAlloc with every flag combination,
 * cudaHostGetFlags, cudaHostGetDevicePointer, cudaFreeHost, pointer attributes of pinned memory,
 * copies from and to it (explicit kinds and cudaMemcpyDefault), its mapped device pointer used as a
 * copy operand. The errors on memory that is not pinned are in streamerrors.cu. */
#include "check.h"

static const size_t N = (size_t)1 << 20;

static bool unified_addressing(void)
{
    int v = 0;
    return cudaDeviceGetAttribute(&v, cudaDevAttrUnifiedAddressing, 0) == cudaSuccess && v != 0;
}

static void check_malloc_host(void)
{
    unsigned char *h = NULL, *back = NULL;
    void *d = NULL;
    if (!expect_ok("malloc_host", cudaMallocHost((void **)&h, N)) || !expect_ok("malloc_host_back",
                                                                             cudaMallocHost((void **)&back, N)))
        return;
    check_report("malloc_host_nonnull", h != NULL && back != NULL, "expected pointers got %p %p", (void *)h,
                 (void *)back);
    check_report("malloc_host_disjoint", h + N <= back || back + N <= h, "expected disjoint got %p %p", (void *)h,
                 (void *)back);
    /* Ordinary host memory: the program reads and writes it directly. */
    fill_pattern(h, N, 11);
    unsigned char *want = (unsigned char *)host_alloc(N);
    fill_pattern(want, N, 11);
    expect_bytes("malloc_host_writable", h, want, N);

    if (expect_ok("malloc_device", cudaMalloc(&d, N))) {
        expect_ok("htod_from_pinned", cudaMemcpy(d, h, N, cudaMemcpyHostToDevice));
        memset(back, 0, N);
        expect_ok("dtoh_to_pinned", cudaMemcpy(back, d, N, cudaMemcpyDeviceToHost));
        expect_bytes("pinned_round_trip", back, want, N);
        /* cudaMemcpyDefault tells the pinned side from the device side by the address. */
        fill_pattern(h, N, 12);
        fill_pattern(want, N, 12);
        expect_ok("default_pinned_to_device", cudaMemcpy(d, h, N, cudaMemcpyDefault));
        memset(back, 0, N);
        expect_ok("default_device_to_pinned", cudaMemcpy(back, d, N, cudaMemcpyDefault));
        expect_bytes("default_round_trip", back, want, N);
        memset(back, 0, N);
        expect_ok("default_pinned_to_pinned", cudaMemcpy(back, h, N, cudaMemcpyDefault));
        expect_bytes("default_pinned_to_pinned_content", back, want, N);
        /* Odd offsets inside pinned buffers. */
        memset(back, 0xee, N);
        expect_ok("htod_pinned_odd", cudaMemcpy((char *)d + 5, h + 3, N - 101, cudaMemcpyHostToDevice));
        expect_ok("dtoh_pinned_odd", cudaMemcpy(back + 7, (char *)d + 5, N - 101, cudaMemcpyDeviceToHost));
        expect_bytes("pinned_odd_content", back + 7, want + 3, N - 101);
        expect_filled("pinned_odd_head_untouched", back, 0xee, 7);
        expect_filled("pinned_odd_tail_untouched", back + 7 + N - 101, 0xee, 94);
        expect_ok("free_device", cudaFree(d));
    }

    cudaPointerAttributes attr;
    memset(&attr, 0, sizeof(attr));
    if (expect_ok("pointer_attributes_pinned", cudaPointerGetAttributes(&attr, h))) {
        expect_i64("pinned_type_host", attr.type, cudaMemoryTypeHost);
        expect_ptr("pinned_host_pointer", attr.hostPointer, h);
        if (unified_addressing())
            expect_ptr("pinned_device_pointer_is_host_pointer", attr.devicePointer, h);
    }
    memset(&attr, 0, sizeof(attr));
    if (expect_ok("pointer_attributes_pinned_interior", cudaPointerGetAttributes(&attr, h + 4097))) {
        expect_i64("pinned_interior_type_host", attr.type, cudaMemoryTypeHost);
        expect_ptr("pinned_interior_host_pointer", attr.hostPointer, h + 4097);
    }
    expect_ok("free_host", cudaFreeHost(h));
    expect_ok("free_host_back", cudaFreeHost(back));
    memset(&attr, 0, sizeof(attr));
    if (expect_ok("pointer_attributes_freed_pinned", cudaPointerGetAttributes(&attr, h)))
        expect_i64("freed_pinned_unregistered", attr.type, cudaMemoryTypeUnregistered);
    free(want);
}

static void check_host_alloc_flags(void)
{
    bool uva = unified_addressing();
    void *d = NULL;
    if (!expect_ok("malloc_device_for_flags", cudaMalloc(&d, N)))
        return;
    unsigned char *want = (unsigned char *)host_alloc(N), *back = (unsigned char *)host_alloc(N);
    for (unsigned flags = 0; flags < 8; flags++) {
        char name[96];
        unsigned char *h = NULL;
        snprintf(name, sizeof(name), "host_alloc_flags_%u", flags);
        if (!expect_ok(name, cudaHostAlloc((void **)&h, N, flags)))
            continue;
        unsigned got = 0xdeadbeef;
        snprintf(name, sizeof(name), "host_get_flags_%u", flags);
        expect_ok(name, cudaHostGetFlags(&got, h));
        /* The driver may add flags (with unified addressing every allocation is mapped and portable),
         * never drop one that was asked for. */
        snprintf(name, sizeof(name), "host_get_flags_%u_includes_request", flags);
        check_report(name, got != 0xdeadbeef && (got & flags) == flags, "expected a superset of 0x%x got 0x%x",
                     flags, got);

        fill_pattern(h, N, 100 + flags);
        fill_pattern(want, N, 100 + flags);
        snprintf(name, sizeof(name), "host_alloc_flags_%u_htod", flags);
        expect_ok(name, cudaMemcpy(d, h, N, cudaMemcpyHostToDevice));
        memset(back, 0, N);
        snprintf(name, sizeof(name), "host_alloc_flags_%u_dtoh", flags);
        expect_ok(name, cudaMemcpy(back, d, N, cudaMemcpyDeviceToHost));
        snprintf(name, sizeof(name), "host_alloc_flags_%u_round_trip", flags);
        expect_bytes(name, back, want, N);

        if ((flags & cudaHostAllocMapped) || uva) {
            void *dptr = NULL;
            snprintf(name, sizeof(name), "host_get_device_pointer_%u", flags);
            if (expect_ok(name, cudaHostGetDevicePointer(&dptr, h, 0))) {
                snprintf(name, sizeof(name), "host_device_pointer_%u_nonnull", flags);
                check_report(name, dptr != NULL, "expected a pointer got NULL");
                /* With unified addressing the device sees the allocation at its host address, unless
                 * it is write-combined. */
                if (uva && !(flags & cudaHostAllocWriteCombined)) {
                    snprintf(name, sizeof(name), "host_device_pointer_%u_equals_host", flags);
                    expect_ptr(name, dptr, h);
                }
                /* The device pointer is a copy operand like device memory. */
                memset(back, 0, N);
                expect_ok("memset_device_for_mapped", cudaMemset(d, 0, N));
                snprintf(name, sizeof(name), "mapped_%u_as_dtod_source", flags);
                expect_ok(name, cudaMemcpy(d, dptr, N, cudaMemcpyDeviceToDevice));
                snprintf(name, sizeof(name), "mapped_%u_dtod_content", flags);
                expect_ok("dtoh_after_mapped", cudaMemcpy(back, d, N, cudaMemcpyDeviceToHost));
                expect_bytes(name, back, want, N);
                /* And as a destination: the host sees what the device wrote. */
                expect_ok("memset_device_pattern", cudaMemset(d, 0xa5, N));
                snprintf(name, sizeof(name), "mapped_%u_as_dtod_destination", flags);
                expect_ok(name, cudaMemcpy(dptr, d, N, cudaMemcpyDeviceToDevice));
                expect_ok("synchronize_after_mapped", cudaDeviceSynchronize());
                snprintf(name, sizeof(name), "mapped_%u_host_sees_device_write", flags);
                expect_filled(name, h, 0xa5, N);
            }
        }
        snprintf(name, sizeof(name), "free_host_flags_%u", flags);
        expect_ok(name, cudaFreeHost(h));
    }
    expect_ok("free_device_for_flags", cudaFree(d));
    free(want);
    free(back);
}

static void check_many_pinned(void)
{
    enum { K = 32 };
    unsigned char *bufs[K];
    int made = 0;
    for (int i = 0; i < K; i++) {
        if (cudaHostAlloc((void **)&bufs[i], 65536 + i * 4096, i % 2 ? cudaHostAllocMapped : 0) != cudaSuccess)
            break;
        memset(bufs[i], i, 65536 + i * 4096);
        made++;
    }
    expect_i64("pinned_32_allocations", made, K);
    bool overlap = false, intact = true;
    for (int i = 0; i < made; i++) {
        for (int j = i + 1; j < made; j++) {
            uintptr_t a = (uintptr_t)bufs[i], b = (uintptr_t)bufs[j];
            if ((a < b && a + 65536 + i * 4096 > b) || (b <= a && b + 65536 + j * 4096 > a))
                overlap = true;
        }
        for (size_t k = 0; k < 65536 + (size_t)i * 4096; k += 4093)
            intact = intact && bufs[i][k] == (unsigned char)i;
    }
    check_report("pinned_32_disjoint", !overlap, "expected disjoint ranges got an overlap");
    check_report("pinned_32_contents_intact", intact, "expected every buffer to keep its own byte");
    int freed = 0;
    for (int i = made - 1; i >= 0; i--)
        freed += cudaFreeHost(bufs[i]) == cudaSuccess;
    expect_i64("pinned_32_freed", freed, made);

    /* A large pinned buffer, allocated and freed twice (the second time may reuse the first). */
    for (int round = 0; round < 2; round++) {
        size_t big = (size_t)96 << 20;
        unsigned char *h = NULL;
        char name[64];
        snprintf(name, sizeof(name), "pinned_96mib_alloc_%d", round);
        if (!expect_ok(name, cudaMallocHost((void **)&h, big)))
            continue;
        memset(h, 0x5a + round, big);
        void *d = NULL;
        if (cudaMalloc(&d, big) == cudaSuccess) {
            snprintf(name, sizeof(name), "pinned_96mib_htod_%d", round);
            expect_ok(name, cudaMemcpy(d, h, big, cudaMemcpyHostToDevice));
            memset(h, 0, big);
            snprintf(name, sizeof(name), "pinned_96mib_dtoh_%d", round);
            expect_ok(name, cudaMemcpy(h, d, big, cudaMemcpyDeviceToHost));
            snprintf(name, sizeof(name), "pinned_96mib_content_%d", round);
            expect_filled(name, h, 0x5a + round, big);
            cudaFree(d);
        }
        snprintf(name, sizeof(name), "pinned_96mib_free_%d", round);
        expect_ok(name, cudaFreeHost(h));
    }
}

int main(void)
{
    check_begin("hostmem");
    expect_ok("set_device", cudaSetDevice(0));
    check_malloc_host();
    check_host_alloc_flags();
    check_many_pinned();
    expect_ok("final_synchronize", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
