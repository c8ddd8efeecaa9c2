/* asynccopy.cu: cudaMemcpyAsync of every kind (pinned and pageable host memory, device to device,
 * host to host, cudaMemcpyDefault), cudaMemsetAsync, cudaMemcpy2DAsync and cudaMemset2DAsync, on a
 * created stream and on stream 0, at odd offsets and sizes; the order of work inside one stream;
 * when the host's buffers may be reused (a pageable source as soon as the call returns, a pageable
 * destination holds the data when the call returns, a pinned one once the stream is synchronised). */
#include "check.h"

static const size_t N = (size_t)3 << 20;  /* 3 MiB: larger than any small-copy fast path */

struct bufs {
    unsigned char *pinned, *pinned2, *pageable, *pageable2, *want;
    void *d, *d2;
};

static void check_kinds(struct bufs *b, cudaStream_t s, const char *sname)
{
    char name[128];
#define NAME(what) (snprintf(name, sizeof(name), "%s_%s", sname, what), name)
    /* H2D from pinned, D2D, D2H to pageable: an odd window through all of them. */
    const size_t off = 3, len = N - 11;
    fill_pattern(b->pinned, N, 21);
    memcpy(b->want, b->pinned, N);
    expect_ok(NAME("memset_d2"), cudaMemsetAsync(b->d2, 0xcc, N, s));
    expect_ok(NAME("htod_pinned"), cudaMemcpyAsync((char *)b->d + off, b->pinned + off, len,
                                                   cudaMemcpyHostToDevice, s));
    expect_ok(NAME("dtod"), cudaMemcpyAsync((char *)b->d2 + 1, (char *)b->d + off, len, cudaMemcpyDeviceToDevice,
                                            s));
    memset(b->pageable, 0, N);
    expect_ok(NAME("dtoh_pageable"), cudaMemcpyAsync(b->pageable, b->d2, N, cudaMemcpyDeviceToHost, s));
    /* Into pageable memory the copy has completed when the call returns. */
    expect_filled(NAME("dtoh_pageable_head"), b->pageable, 0xcc, 1);
    expect_bytes(NAME("dtoh_pageable_on_return"), b->pageable + 1, b->want + off, len);
    expect_filled(NAME("dtoh_pageable_tail"), b->pageable + 1 + len, 0xcc, N - 1 - len);

    /* H2D from pageable: the source may be overwritten as soon as the call returns. */
    fill_pattern(b->pageable, N, 22);
    memcpy(b->want, b->pageable, N);
    expect_ok(NAME("htod_pageable"), cudaMemcpyAsync(b->d, b->pageable, N, cudaMemcpyHostToDevice, s));
    memset(b->pageable, 0x11, N);
    memset(b->pinned2, 0, N);
    expect_ok(NAME("dtoh_pinned"), cudaMemcpyAsync(b->pinned2, b->d, N, cudaMemcpyDeviceToHost, s));
    expect_ok(NAME("synchronize_dtoh_pinned"), cudaStreamSynchronize(s));
    expect_bytes(NAME("htod_pageable_source_reusable"), b->pinned2, b->want, N);

    /* Host to host, pinned and pageable, ordered after the stream's earlier work. */
    fill_pattern(b->pinned, N, 23);
    memcpy(b->want, b->pinned, N);
    expect_ok(NAME("htod_for_htoh"), cudaMemcpyAsync(b->d, b->pinned, N, cudaMemcpyHostToDevice, s));
    expect_ok(NAME("dtoh_pinned_for_htoh"), cudaMemcpyAsync(b->pinned2, b->d, N, cudaMemcpyDeviceToHost, s));
    memset(b->pageable2, 0, N);
    expect_ok(NAME("htoh_pinned_to_pageable"), cudaMemcpyAsync(b->pageable2, b->pinned2, N, cudaMemcpyHostToHost, s));
    expect_ok(NAME("synchronize_htoh"), cudaStreamSynchronize(s));
    expect_bytes(NAME("htoh_after_dtoh_in_order"), b->pageable2, b->want, N);
    memset(b->pageable, 0, N);
    expect_ok(NAME("htoh_pageable_to_pageable"), cudaMemcpyAsync(b->pageable, b->pageable2, N - 1,
                                                                  cudaMemcpyHostToHost, s));
    expect_ok(NAME("synchronize_htoh_pageable"), cudaStreamSynchronize(s));
    expect_bytes(NAME("htoh_pageable_content"), b->pageable, b->want, N - 1);

    /* cudaMemcpyDefault in every direction. */
    fill_pattern(b->pinned, N, 24);
    memcpy(b->want, b->pinned, N);
    expect_ok(NAME("default_htod_pinned"), cudaMemcpyAsync(b->d, b->pinned, N, cudaMemcpyDefault, s));
    expect_ok(NAME("default_dtod"), cudaMemcpyAsync(b->d2, b->d, N, cudaMemcpyDefault, s));
    memset(b->pageable, 0, N);
    expect_ok(NAME("default_dtoh_pageable"), cudaMemcpyAsync(b->pageable, b->d2, N, cudaMemcpyDefault, s));
    expect_bytes(NAME("default_dtoh_pageable_content"), b->pageable, b->want, N);
    fill_pattern(b->pageable, N, 25);
    memcpy(b->want, b->pageable, N);
    expect_ok(NAME("default_htod_pageable"), cudaMemcpyAsync(b->d, b->pageable, N, cudaMemcpyDefault, s));
    memset(b->pinned2, 0, N);
    expect_ok(NAME("default_dtoh_pinned"), cudaMemcpyAsync(b->pinned2, b->d, N, cudaMemcpyDefault, s));
    expect_ok(NAME("synchronize_default"), cudaStreamSynchronize(s));
    expect_bytes(NAME("default_dtoh_pinned_content"), b->pinned2, b->want, N);
    memset(b->pageable2, 0, N);
    expect_ok(NAME("default_htoh"), cudaMemcpyAsync(b->pageable2, b->pinned2, N, cudaMemcpyDefault, s));
    expect_ok(NAME("synchronize_default_htoh"), cudaStreamSynchronize(s));
    expect_bytes(NAME("default_htoh_content"), b->pageable2, b->want, N);

    /* Zero-byte copies and memsets are accepted and do nothing. */
    expect_ok(NAME("htod_zero_bytes"), cudaMemcpyAsync(b->d, b->pinned, 0, cudaMemcpyHostToDevice, s));
    expect_ok(NAME("memset_zero_bytes"), cudaMemsetAsync(b->d, 0, 0, s));
    expect_ok(NAME("synchronize_zero"), cudaStreamSynchronize(s));
    memset(b->pageable, 0, N);
    expect_ok(NAME("dtoh_after_zero"), cudaMemcpyAsync(b->pageable, b->d, N, cudaMemcpyDeviceToHost, s));
    expect_bytes(NAME("zero_bytes_changed_nothing"), b->pageable, b->want, N);
#undef NAME
}

static void check_memset_async(struct bufs *b, cudaStream_t s)
{
    /* Later memsets on one stream overwrite earlier ones exactly where they overlap. */
    memset(b->want, 0x10, N);
    memset(b->want + 1, 0x20, N - 2);
    memset(b->want + 4097, 0x30, 12345);
    memset(b->want + N / 2, 0x00, 3);
    expect_ok("memset_async_all", cudaMemsetAsync(b->d, 0x10, N, s));
    expect_ok("memset_async_inner", cudaMemsetAsync((char *)b->d + 1, 0x20, N - 2, s));
    expect_ok("memset_async_odd", cudaMemsetAsync((char *)b->d + 4097, 0x30, 12345, s));
    expect_ok("memset_async_three", cudaMemsetAsync((char *)b->d + N / 2, 0x00, 3, s));
    /* Only the low byte of the value counts. */
    expect_ok("memset_async_value_low_byte", cudaMemsetAsync(b->d2, 0x1ab, 64, s));
    memset(b->pinned2, 0, N);
    expect_ok("memset_async_dtoh", cudaMemcpyAsync(b->pinned2, b->d, N, cudaMemcpyDeviceToHost, s));
    expect_ok("memset_async_dtoh_low_byte", cudaMemcpyAsync(b->pinned, b->d2, 64, cudaMemcpyDeviceToHost, s));
    expect_ok("memset_async_synchronize", cudaStreamSynchronize(s));
    expect_bytes("memset_async_layers", b->pinned2, b->want, N);
    expect_filled("memset_async_low_byte", b->pinned, 0xab, 64);
}

/* One stream, a chain whose result depends on the order: each step reads what the one before wrote
 * and overwrites what an earlier one read. */
static void check_stream_order(struct bufs *b, cudaStream_t s)
{
    const size_t half = N / 2;
    for (int round = 0; round < 4; round++) {
        char name[64];
        fill_pattern(b->pinned, N, 300 + round);
        memcpy(b->want, b->pinned, half);           /* d2[0, half) = pattern[0, half) */
        memset(b->want + half, 0x40 + round, half); /* d2[half, N) = memset value */
        cudaMemcpyAsync(b->d, b->pinned, N, cudaMemcpyHostToDevice, s);
        cudaMemcpyAsync(b->d2, b->d, N, cudaMemcpyDeviceToDevice, s);
        cudaMemsetAsync(b->d, 0x40 + round, N, s);
        cudaMemcpyAsync((char *)b->d2 + half, b->d, half, cudaMemcpyDeviceToDevice, s);
        cudaMemsetAsync(b->d, 0, N, s);
        memset(b->pinned2, 0xff, N);
        cudaMemcpyAsync(b->pinned2, b->d2, N, cudaMemcpyDeviceToHost, s);
        snprintf(name, sizeof(name), "stream_order_round_%d_synchronize", round);
        expect_ok(name, cudaStreamSynchronize(s));
        snprintf(name, sizeof(name), "stream_order_round_%d", round);
        expect_bytes(name, b->pinned2, b->want, N);
    }
}

static void check_2d_async(struct bufs *b, cudaStream_t s)
{
    const size_t W = 1000, H = 300;
    void *dp = NULL;
    size_t pitch = 0;
    if (!expect_ok("malloc_pitch", cudaMallocPitch(&dp, &pitch, W, H)))
        return;
    const size_t hpitch = W + 24;
    /* Pinned host image with a pitch, into the device, back into a pageable one with another pitch. */
    fill_pattern(b->pinned, hpitch * H, 400);
    expect_ok("memset_pitched", cudaMemsetAsync(dp, 0x99, pitch * H, s));
    expect_ok("2d_htod_pinned", cudaMemcpy2DAsync(dp, pitch, b->pinned, hpitch, W, H, cudaMemcpyHostToDevice, s));
    const size_t bpitch = W + 7;
    memset(b->pageable, 0xee, bpitch * H);
    expect_ok("2d_dtoh_pageable", cudaMemcpy2DAsync(b->pageable, bpitch, dp, pitch, W, H, cudaMemcpyDeviceToHost, s));
    bool same = true;
    size_t bad_row = 0;
    for (size_t y = 0; y < H && same; y++) {
        same = memcmp(b->pageable + y * bpitch, b->pinned + y * hpitch, W) == 0;
        for (size_t x = W; x < bpitch && same; x++)
            same = b->pageable[y * bpitch + x] == 0xee;
        bad_row = y;
    }
    check_report("2d_round_trip_rows_and_padding", same, "expected rows copied and padding untouched; row %zu differs",
                 bad_row);

    /* The device padding was not written: the whole pitched allocation, read back 1D. */
    memset(b->pinned2, 0, pitch * H);
    expect_ok("2d_read_pitched", cudaMemcpyAsync(b->pinned2, dp, pitch * H, cudaMemcpyDeviceToHost, s));
    expect_ok("2d_synchronize", cudaStreamSynchronize(s));
    bool padding = true;
    for (size_t y = 0; y < H && padding; y++)
        for (size_t x = W; x < pitch && padding; x++)
            padding = b->pinned2[y * pitch + x] == 0x99;
    check_report("2d_device_padding_untouched", padding, "expected 0x99 in the pitch padding");

    /* Device to device, a sub-rectangle at an offset, then cudaMemset2DAsync over part of it. */
    expect_ok("2d_memset_all", cudaMemset2DAsync(b->d2, W, 0, W, H, s));
    expect_ok("2d_dtod_sub", cudaMemcpy2DAsync((char *)b->d2 + 10 * W + 5, W, (char *)dp + 3 * pitch + 7, pitch,
                                               200, 50, cudaMemcpyDeviceToDevice, s));
    expect_ok("2d_memset_sub", cudaMemset2DAsync((char *)b->d2 + 20 * W + 5, W, 0x7f, 100, 10, s));
    memset(b->pinned2, 0xff, W * H);
    expect_ok("2d_dtoh_packed", cudaMemcpy2DAsync(b->pinned2, W, b->d2, W, W, H, cudaMemcpyDeviceToHost, s));
    expect_ok("2d_dtod_synchronize", cudaStreamSynchronize(s));
    bool ok = true;
    size_t bx = 0, by = 0;
    for (size_t y = 0; y < H && ok; y++)
        for (size_t x = 0; x < W && ok; x++) {
            unsigned char e = 0;
            if (y >= 10 && y < 60 && x >= 5 && x < 205)
                e = b->pinned[(y - 10 + 3) * hpitch + (x - 5 + 7)];
            if (y >= 20 && y < 30 && x >= 5 && x < 105)
                e = 0x7f;
            ok = b->pinned2[y * W + x] == e;
            bx = x;
            by = y;
        }
    check_report("2d_dtod_and_memset_2d", ok, "unexpected byte at row %zu column %zu", by, bx);

    /* A 2D copy host to host with pitches. */
    memset(b->pageable2, 0, 64 * 16);
    expect_ok("2d_htoh", cudaMemcpy2DAsync(b->pageable2, 64, b->pinned, hpitch, 50, 16, cudaMemcpyHostToHost, s));
    expect_ok("2d_htoh_synchronize", cudaStreamSynchronize(s));
    bool htoh = true;
    for (size_t y = 0; y < 16; y++)
        htoh = htoh && memcmp(b->pageable2 + y * 64, b->pinned + y * hpitch, 50) == 0;
    check_report("2d_htoh_content", htoh, "expected 16 rows of 50 bytes copied");
    expect_ok("free_pitched", cudaFree(dp));
}

int main(void)
{
    check_begin("asynccopy");
    expect_ok("set_device", cudaSetDevice(0));
    struct bufs b = {};
    if (!expect_ok("malloc_host", cudaMallocHost((void **)&b.pinned, N))
        || !expect_ok("host_alloc", cudaHostAlloc((void **)&b.pinned2, N, cudaHostAllocDefault))
        || !expect_ok("malloc", cudaMalloc(&b.d, N)) || !expect_ok("malloc_second", cudaMalloc(&b.d2, N)))
        return check_end();
    b.pageable = (unsigned char *)host_alloc(N);
    b.pageable2 = (unsigned char *)host_alloc(N);
    b.want = (unsigned char *)host_alloc(N);

    cudaStream_t s = NULL;
    expect_ok("stream_create", cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    check_kinds(&b, s, "stream");
    check_kinds(&b, 0, "null_stream");
    check_kinds(&b, cudaStreamPerThread, "per_thread_stream");
    check_memset_async(&b, s);
    check_stream_order(&b, s);
    check_2d_async(&b, s);

    expect_ok("stream_destroy", cudaStreamDestroy(s));
    expect_ok("free_host", cudaFreeHost(b.pinned));
    expect_ok("free_host_second", cudaFreeHost(b.pinned2));
    expect_ok("free", cudaFree(b.d));
    expect_ok("free_second", cudaFree(b.d2));
    free(b.pageable);
    free(b.pageable2);
    free(b.want);
    expect_ok("final_synchronize", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
