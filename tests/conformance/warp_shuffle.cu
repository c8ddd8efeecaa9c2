/* warp_shuffle.cu: the shuffle family with every addressing mode and width: __shfl_sync (broadcast,
 * rotation, out-of-range source lanes wrapping within the width), __shfl_up_sync and __shfl_down_sync
 * (lanes without a source keep their own value) with widths 32, 16, 8 and 4, __shfl_xor_sync
 * butterflies, 64-bit and double shuffles, a warp-level inclusive scan and a warp transpose of 32x32
 * values; against the host. */
#include "check.h"

#include <vector>

__global__ void shuffles(const int *in, int *out)
{
    int lane = threadIdx.x & 31;
    int v = in[blockIdx.x * blockDim.x + threadIdx.x];
    int *o = out + (blockIdx.x * blockDim.x + threadIdx.x) * 16;
    o[0] = __shfl_sync(0xffffffffu, v, 5);                 /* broadcast */
    o[1] = __shfl_sync(0xffffffffu, v, lane + 3);          /* wraps mod 32 */
    o[2] = __shfl_sync(0xffffffffu, v, lane + 3, 8);       /* wraps within 8 */
    o[3] = __shfl_up_sync(0xffffffffu, v, 3);
    o[4] = __shfl_up_sync(0xffffffffu, v, 2, 16);
    o[5] = __shfl_down_sync(0xffffffffu, v, 5);
    o[6] = __shfl_down_sync(0xffffffffu, v, 1, 4);
    o[7] = __shfl_xor_sync(0xffffffffu, v, 1);
    o[8] = __shfl_xor_sync(0xffffffffu, v, 18);
    o[9] = __shfl_xor_sync(0xffffffffu, v, 6, 8);
    long long w = ((long long)v << 32) | (unsigned)(lane * 3);
    long long w2 = __shfl_sync(0xffffffffu, w, 31 - lane);
    o[10] = (int)(w2 >> 32);
    o[11] = (int)w2;
    double d = v * 0.5;
    o[12] = (int)(__shfl_down_sync(0xffffffffu, d, 16) * 4.0);
    int scan = v;
    for (int k = 1; k < 32; k <<= 1) {
        int up = __shfl_up_sync(0xffffffffu, scan, k);
        if (lane >= k)
            scan += up;
    }
    o[13] = scan;
    int s = v;
    for (int k = 16; k > 0; k >>= 1)
        s += __shfl_xor_sync(0xffffffffu, s, k);
    o[14] = s;
    o[15] = __shfl_sync(0xffffffffu, v, -1 - lane); /* negative source lane: mod 32 */
}

/* 32x32 transpose within one warp: lane l holds row l; after, lane l holds column l */
__global__ void warp_transpose(const int *in, int *out)
{
    int lane = threadIdx.x;
    int row[32];
    for (int c = 0; c < 32; c++)
        row[c] = in[lane * 32 + c];
    /* step k: lane s sends row[(s + k) % 32]; lane l receives from (l - k) mod 32 element l of
     * that row, i.e. column l's entry at row (l - k) mod 32 */
    for (int k = 0; k < 32; k++) {
        int src = (lane - k) & 31;
        out[lane * 32 + src] = __shfl_sync(0xffffffffu, row[(lane + k) & 31], src);
    }
}

int main(void)
{
    check_begin("warp_shuffle");
    const int blocks = 2, threads = 64, n = blocks * threads;
    std::vector<int> in(n), got(n * 16);
    for (int i = 0; i < n; i++)
        in[i] = (int)((i * 2654435761u) % 1000u) - 500;
    int *din, *dout;
    cudaMalloc(&din, n * sizeof(int));
    cudaMalloc(&dout, n * 16 * sizeof(int));
    cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    shuffles<<<blocks, threads>>>(din, dout);
    expect_ok("launch", cudaGetLastError());
    cudaMemcpy(got.data(), dout, got.size() * sizeof(int), cudaMemcpyDeviceToHost);
    int bad[16] = {0};
    for (int i = 0; i < n; i++) {
        int base = i - i % 32, lane = i % 32;
        auto at = [&](int l) { return in[base + l]; };
        int want[16];
        want[0] = at(5);
        want[1] = at((lane + 3) % 32);
        want[2] = at((lane & ~7) + (lane + 3) % 8);
        want[3] = lane >= 3 ? at(lane - 3) : at(lane);
        want[4] = lane % 16 >= 2 ? at(lane - 2) : at(lane);
        want[5] = lane + 5 < 32 ? at(lane + 5) : at(lane);
        want[6] = lane % 4 + 1 < 4 ? at(lane + 1) : at(lane);
        want[7] = at(lane ^ 1);
        want[8] = at(lane ^ 18);
        want[9] = at((lane & ~7) + ((lane % 8) ^ 6));
        want[10] = at(31 - lane);
        want[11] = (31 - lane) * 3;
        want[12] = (lane + 16 < 32 ? at(lane + 16) : at(lane)) * 2;
        int scan = 0, sum = 0;
        for (int l = 0; l <= lane; l++)
            scan += at(l);
        for (int l = 0; l < 32; l++)
            sum += at(l);
        want[13] = scan;
        want[14] = sum;
        want[15] = at((-1 - lane) & 31);
        for (int k = 0; k < 16; k++)
            bad[k] += got[i * 16 + k] != want[k];
    }
    const char *names[16] = {"shfl_broadcast", "shfl_wrap_32", "shfl_width_8", "shfl_up_3", "shfl_up_width_16",
                             "shfl_down_5", "shfl_down_width_4", "shfl_xor_1", "shfl_xor_18", "shfl_xor_width_8",
                             "shfl_64bit_high", "shfl_64bit_low", "shfl_down_double", "warp_inclusive_scan",
                             "butterfly_sum", "shfl_negative_lane"};
    for (int k = 0; k < 16; k++)
        check_report(names[k], bad[k] == 0, "%d lanes wrong", bad[k]);

    std::vector<int> m(32 * 32), mt(32 * 32);
    for (int k = 0; k < 32 * 32; k++)
        m[k] = k * 7 - 3000;
    int *dm, *dmt;
    cudaMalloc(&dm, m.size() * sizeof(int));
    cudaMalloc(&dmt, mt.size() * sizeof(int));
    cudaMemcpy(dm, m.data(), m.size() * sizeof(int), cudaMemcpyHostToDevice);
    warp_transpose<<<1, 32>>>(dm, dmt);
    expect_ok("transpose_copy", cudaMemcpy(mt.data(), dmt, mt.size() * sizeof(int), cudaMemcpyDeviceToHost));
    int wrong = 0;
    for (int r = 0; r < 32; r++)
        for (int c = 0; c < 32; c++)
            wrong += mt[r * 32 + c] != m[c * 32 + r];
    check_report("warp_transpose", wrong == 0, "%d wrong", wrong);
    cudaFree(dm);
    cudaFree(dmt);
    cudaFree(din);
    cudaFree(dout);
    return check_end();
}
