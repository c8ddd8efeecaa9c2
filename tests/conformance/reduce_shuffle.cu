/* reduce_shuffle.cu: a reduction with warp shuffles and one atomicAdd per warp, plus a histogram
 * with atomics, checked against the host. */
#include "check.h"

#include <vector>

__global__ void reduce_warp(const int *in, unsigned long long *total, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    long long v = 0;
    for (; i < n; i += gridDim.x * blockDim.x)
        v += in[i];
    for (int offset = 16; offset > 0; offset >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, offset);
    if ((threadIdx.x & 31) == 0)
        atomicAdd(total, (unsigned long long)v);
}

__global__ void histogram(const int *in, unsigned int *bins, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(&bins[in[i] & 15], 1u);
}

__global__ void warp_max(const int *in, int *out)
{
    int v = in[blockIdx.x * 32 + threadIdx.x];
    for (int offset = 1; offset < 32; offset <<= 1)
        v = max(v, __shfl_xor_sync(0xffffffffu, v, offset));
    if (threadIdx.x == 0)
        out[blockIdx.x] = v;
}

int main(void)
{
    check_begin("reduce_shuffle");
    const int n = 300000;
    std::vector<int> h(n);
    unsigned long long expect = 0;
    unsigned int bins_ref[16] = {0};
    for (int i = 0; i < n; i++) {
        h[i] = (int)((i * 37u) % 1001u);
        expect += (unsigned long long)h[i];
        bins_ref[h[i] & 15]++;
    }
    int *d_in;
    unsigned long long *d_total;
    unsigned int *d_bins;
    int *d_max;
    expect_ok("malloc_in", cudaMalloc(&d_in, n * sizeof(int)));
    expect_ok("malloc_total", cudaMalloc(&d_total, sizeof(unsigned long long)));
    expect_ok("malloc_bins", cudaMalloc(&d_bins, sizeof(bins_ref)));
    expect_ok("malloc_max", cudaMalloc(&d_max, 4 * sizeof(int)));
    expect_ok("copy_in", cudaMemcpy(d_in, h.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    expect_ok("zero_total", cudaMemset(d_total, 0, sizeof(unsigned long long)));
    expect_ok("zero_bins", cudaMemset(d_bins, 0, sizeof(bins_ref)));
    reduce_warp<<<64, 256>>>(d_in, d_total, n);
    histogram<<<(n + 255) / 256, 256>>>(d_in, d_bins, n);
    warp_max<<<4, 32>>>(d_in, d_max);
    expect_ok("launches", cudaGetLastError());
    unsigned long long total = 0;
    unsigned int bins[16];
    int maxes[4];
    expect_ok("copy_total", cudaMemcpy(&total, d_total, sizeof(total), cudaMemcpyDeviceToHost));
    expect_ok("copy_bins", cudaMemcpy(bins, d_bins, sizeof(bins), cudaMemcpyDeviceToHost));
    expect_ok("copy_max", cudaMemcpy(maxes, d_max, sizeof(maxes), cudaMemcpyDeviceToHost));
    expect_u64("total", total, expect);
    expect_bytes("histogram", bins, bins_ref, sizeof(bins));
    int wrong = 0;
    for (int b = 0; b < 4; b++) {
        int m = 0;
        for (int t = 0; t < 32; t++)
            m = h[b * 32 + t] > m ? h[b * 32 + t] : m;
        wrong += maxes[b] != m;
    }
    check_report("warp_max", wrong == 0, "%d wrong blocks", wrong);
    expect_ok("free_in", cudaFree(d_in));
    expect_ok("free_total", cudaFree(d_total));
    expect_ok("free_bins", cudaFree(d_bins));
    expect_ok("free_max", cudaFree(d_max));
    return check_end();
}
