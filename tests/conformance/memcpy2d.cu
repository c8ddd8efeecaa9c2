/* memcpy2d.cu: cudaMallocPitch, cudaMemcpy2D in every direction with pitches and offsets, cudaMemset2D. */
#include "check.h"

static const size_t W = 100, H = 37;  /* bytes per row, rows */

/* Reads the whole pitched allocation back, 1D, into host memory. */
static bool read_all(const char *name, unsigned char *h, const void *d, size_t pitch)
{
    return expect_ok(name, cudaMemcpy(h, d, pitch * H, cudaMemcpyDeviceToHost));
}

/* Checks that rect [x0, x0+w) x [y0, y0+h) of a pitched image holds expected (packed rows of w bytes)
 * and, when outside_value >= 0, that every other byte of the first width columns equals it. */
static bool expect_rect(const char *name, const unsigned char *img, size_t pitch, size_t x0, size_t y0,
                        size_t w, size_t h, const unsigned char *expected, int outside_value, size_t width)
{
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < width; x++) {
            unsigned char got = img[y * pitch + x];
            bool inside = x >= x0 && x < x0 + w && y >= y0 && y < y0 + h;
            if (inside && got != expected[(y - y0) * w + (x - x0)])
                return check_report(name, false, "expected 0x%02x got 0x%02x at row %zu column %zu",
                                    expected[(y - y0) * w + (x - x0)], got, y, x);
            if (!inside && outside_value >= 0 && got != (unsigned char)outside_value)
                return check_report(name, false, "expected untouched 0x%02x got 0x%02x at row %zu column %zu",
                                    outside_value, got, y, x);
        }
    return check_report(name, true, "");
}

int main(void)
{
    check_begin("memcpy2d");
    expect_ok("set_device", cudaSetDevice(0));

    void *dp = NULL, *dq = NULL;
    size_t pitch = 0, qpitch = 0;
    if (!expect_ok("malloc_pitch", cudaMallocPitch(&dp, &pitch, W, H)))
        return check_end();
    check_report("pitch_at_least_width", pitch >= W, "expected >= %zu got %zu", W, pitch);
    check_report("pitch_aligned", pitch % 32 == 0, "expected a multiple of 32 got %zu", pitch);
    if (!expect_ok("malloc_pitch_second", cudaMallocPitch(&dq, &qpitch, 3 * W, H)))
        return check_end();
    check_report("pitch_second_at_least_width", qpitch >= 3 * W, "expected >= %zu got %zu", 3 * W, qpitch);

    const size_t img = pitch * H;
    unsigned char *src = (unsigned char *)host_alloc(3 * W * H * 2);
    unsigned char *back = (unsigned char *)host_alloc(qpitch * H);
    unsigned char *packed = (unsigned char *)host_alloc(3 * W * H);

    /* HtoD from a host image whose pitch (W + 13) is not the device pitch. */
    const size_t spitch = W + 13;
    fill_pattern(src, spitch * H, 10);
    expect_ok("memset_before_2d", cudaMemset(dp, 0xee, img));
    expect_ok("memcpy2d_htod", cudaMemcpy2D(dp, pitch, src, spitch, W, H, cudaMemcpyHostToDevice));
    for (size_t y = 0; y < H; y++)
        memcpy(packed + y * W, src + y * spitch, W);
    if (read_all("read_after_2d_htod", back, dp, pitch))
        expect_rect("memcpy2d_htod_content", back, pitch, 0, 0, W, H, packed, -1, W);
    bool pad_ok = true;
    for (size_t y = 0; y < H && pitch > W; y++)
        for (size_t x = W; x < pitch; x++)
            pad_ok &= back[y * pitch + x] == 0xee;
    check_report("memcpy2d_htod_leaves_padding", pad_ok, "expected padding bytes 0xee to stay, some changed");

    /* DtoH into a host image of another pitch; the host's own padding must stay untouched. */
    const size_t dpitch_h = W + 50;
    unsigned char *dst = (unsigned char *)host_alloc(dpitch_h * H);
    memset(dst, 0x11, dpitch_h * H);
    expect_ok("memcpy2d_dtoh", cudaMemcpy2D(dst, dpitch_h, dp, pitch, W, H, cudaMemcpyDeviceToHost));
    bool rows_ok = true, host_pad_ok = true;
    for (size_t y = 0; y < H; y++) {
        rows_ok &= memcmp(dst + y * dpitch_h, packed + y * W, W) == 0;
        for (size_t x = W; x < dpitch_h; x++)
            host_pad_ok &= dst[y * dpitch_h + x] == 0x11;
    }
    check_report("memcpy2d_dtoh_content", rows_ok, "expected the rows written by the 2D HtoD, some differ");
    check_report("memcpy2d_dtoh_leaves_host_padding", host_pad_ok, "expected host padding 0x11 to stay");

    /* A sub-rectangle at an offset: rows 3..12, columns 5..44. */
    const size_t x0 = 5, y0 = 3, w = 40, h = 10;
    unsigned char rect[w * h];
    fill_pattern(rect, sizeof(rect), 11);
    expect_ok("memset_before_subrect", cudaMemset(dp, 0x22, img));
    expect_ok("memcpy2d_htod_subrect",
              cudaMemcpy2D((char *)dp + y0 * pitch + x0, pitch, rect, w, w, h, cudaMemcpyHostToDevice));
    if (read_all("read_after_subrect", back, dp, pitch))
        expect_rect("memcpy2d_subrect_content", back, pitch, x0, y0, w, h, rect, 0x22, pitch);
    unsigned char rect_back[w * h];
    memset(rect_back, 0, sizeof(rect_back));
    expect_ok("memcpy2d_dtoh_subrect",
              cudaMemcpy2D(rect_back, w, (char *)dp + y0 * pitch + x0, pitch, w, h, cudaMemcpyDeviceToHost));
    expect_bytes("memcpy2d_dtoh_subrect_content", rect_back, rect, sizeof(rect));

    /* DtoD between two pitched allocations, at offsets in both. */
    expect_ok("memset_dq", cudaMemset(dq, 0x33, qpitch * H));
    const size_t qx = 17, qy = 20;
    expect_ok("memcpy2d_dtod", cudaMemcpy2D((char *)dq + qy * qpitch + qx, qpitch, (char *)dp + y0 * pitch + x0,
                                            pitch, w, h, cudaMemcpyDeviceToDevice));
    if (expect_ok("read_dq", cudaMemcpy(back, dq, qpitch * H, cudaMemcpyDeviceToHost)))
        expect_rect("memcpy2d_dtod_content", back, qpitch, qx, qy, w, h, rect, 0x33, qpitch);

    /* cudaMemcpyDefault in every direction. */
    fill_pattern(packed, W * H, 12);
    expect_ok("memcpy2d_default_htod", cudaMemcpy2D(dp, pitch, packed, W, W, H, cudaMemcpyDefault));
    expect_ok("memcpy2d_default_dtod", cudaMemcpy2D(dq, qpitch, dp, pitch, W, H, cudaMemcpyDefault));
    memset(dst, 0, dpitch_h * H);
    expect_ok("memcpy2d_default_dtoh", cudaMemcpy2D(dst, W, dq, qpitch, W, H, cudaMemcpyDefault));
    expect_bytes("memcpy2d_default_round_trip", dst, packed, W * H);
    memset(dst, 0, dpitch_h * H);
    expect_ok("memcpy2d_htoh", cudaMemcpy2D(dst, W + 1, packed, W, W, H, cudaMemcpyHostToHost));
    rows_ok = true;
    for (size_t y = 0; y < H; y++)
        rows_ok &= memcmp(dst + y * (W + 1), packed + y * W, W) == 0;
    check_report("memcpy2d_htoh_content", rows_ok, "expected packed rows at pitch W+1, some differ");

    expect_ok("memcpy2d_zero_height", cudaMemcpy2D(dp, pitch, packed, W, W, 0, cudaMemcpyHostToDevice));
    expect_ok("memcpy2d_zero_width", cudaMemcpy2D(dp, pitch, packed, W, 0, H, cudaMemcpyHostToDevice));

    /* Errors: a pitch below the width, rows past the allocation's end. */
    expect_fail("memcpy2d_dpitch_below_width", cudaMemcpy2D(dp, W - 1, packed, W, W, H, cudaMemcpyHostToDevice),
                cudaErrorInvalidPitchValue);
    expect_fail("memcpy2d_spitch_below_width", cudaMemcpy2D(dst, W, dp, W - 1, W, H, cudaMemcpyDeviceToHost),
                cudaErrorInvalidPitchValue);
    unsigned char *tall = (unsigned char *)host_alloc(W * (H + 8));
    expect_fail("memcpy2d_htod_rows_past_end",
                cudaMemcpy2D(dp, pitch, tall, W, W, H + 8, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    expect_fail("memcpy2d_dtoh_rows_past_end",
                cudaMemcpy2D(tall, W, dp, pitch, W, H + 8, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
    expect_fail("memcpy2d_dtod_rows_past_end",
                cudaMemcpy2D(dp, pitch, dq, qpitch, W, H + 8, cudaMemcpyDeviceToDevice), cudaErrorInvalidValue);
    free(tall);
    memset(dst, 0, dpitch_h * H);
    expect_ok("memcpy2d_after_errors", cudaMemcpy2D(dst, W, dp, pitch, W, H, cudaMemcpyDeviceToHost));
    expect_bytes("memcpy2d_content_after_errors", dst, packed, W * H);

    /* cudaMemset2D of a sub-rectangle. */
    expect_ok("memset_before_memset2d", cudaMemset(dp, 0x44, img));
    expect_ok("memset2d", cudaMemset2D((char *)dp + y0 * pitch + x0, pitch, 0x99, w, h));
    unsigned char nines[w * h];
    memset(nines, 0x99, sizeof(nines));
    if (read_all("read_after_memset2d", back, dp, pitch))
        expect_rect("memset2d_content", back, pitch, x0, y0, w, h, nines, 0x44, pitch);
    expect_ok("memset2d_full_width", cudaMemset2D(dp, pitch, 0x5, pitch, H));
    if (read_all("read_after_memset2d_full", back, dp, pitch))
        expect_filled("memset2d_full_content", back, 0x5, img);
    expect_fail("memset2d_rows_past_end", cudaMemset2D(dp, pitch, 0, W, H + 8), cudaErrorInvalidValue);
    /* The runtime documents only "an error" here (cudaErrorInvalidValue or cudaErrorInvalidPitchValue). */
    expect_some_error("memset2d_pitch_below_width", cudaMemset2D(dp, W - 1, 0, W, H));

    expect_ok("free_pitched", cudaFree(dp));
    expect_ok("free_pitched_second", cudaFree(dq));
    free(src);
    free(back);
    free(packed);
    free(dst);
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
