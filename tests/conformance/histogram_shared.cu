/* histogram_shared.cu: 256-bin histograms built with atomicAdd on shared memory per block and merged
 * into global memory, over bytes with a skewed distribution (heavy contention on a few bins), a
 * 64-bit weighted histogram, and a float one; all against the host. */
#include "check.h"

#include <vector>

constexpr int BINS = 256;

__global__ void histogram_bytes(const unsigned char *data, int n, unsigned int *bins)
{
    __shared__ unsigned int local[BINS];
    for (int b = threadIdx.x; b < BINS; b += blockDim.x)
        local[b] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        atomicAdd(&local[data[i]], 1u);
    __syncthreads();
    for (int b = threadIdx.x; b < BINS; b += blockDim.x)
        if (local[b] != 0)
            atomicAdd(&bins[b], local[b]);
}

/* Weighted: each element adds its weight to bin value % 64, in 64-bit shared counters. */
__global__ void histogram_weighted(const int *values, const unsigned *weights, int n, unsigned long long *bins)
{
    __shared__ unsigned long long local[64];
    if (threadIdx.x < 64)
        local[threadIdx.x] = 0;
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(&local[values[i] & 63], (unsigned long long)weights[i] << 20);
    __syncthreads();
    if (threadIdx.x < 64)
        atomicAdd(&bins[threadIdx.x], local[threadIdx.x]);
}

/* Float sums per bin, with values that are exact in binary so that the order does not matter. */
__global__ void histogram_float(const int *keys, int n, float *sums)
{
    __shared__ float local[16];
    if (threadIdx.x < 16)
        local[threadIdx.x] = 0.0f;
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        atomicAdd(&local[keys[i] & 15], 0.25f * (float)(keys[i] & 7));
    __syncthreads();
    if (threadIdx.x < 16)
        atomicAdd(&sums[threadIdx.x], local[threadIdx.x]);
}

int main(void)
{
    check_begin("histogram_shared");
    const int n = 1 << 20;
    std::vector<unsigned char> data(n);
    unsigned int want[BINS] = {0};
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        /* half the bytes fall in 4 bins: contention */
        unsigned char v = (x >> 31) ? (unsigned char)((x >> 8) & 3) : (unsigned char)(x >> 16);
        data[i] = v;
        want[v]++;
    }
    unsigned char *d_data;
    unsigned int *d_bins;
    expect_ok("malloc_data", cudaMalloc(&d_data, n));
    expect_ok("malloc_bins", cudaMalloc(&d_bins, sizeof(want)));
    cudaMemcpy(d_data, data.data(), n, cudaMemcpyHostToDevice);
    const int configs[][2] = {{1, 256}, {30, 128}, {256, 512}, {4096, 256}};
    for (auto &c : configs) {
        cudaMemset(d_bins, 0, sizeof(want));
        histogram_bytes<<<c[0], c[1]>>>(d_data, n, d_bins);
        char name[64];
        snprintf(name, sizeof(name), "bytes_launch_%dx%d", c[0], c[1]);
        expect_ok(name, cudaGetLastError());
        unsigned int got[BINS];
        cudaMemcpy(got, d_bins, sizeof(got), cudaMemcpyDeviceToHost);
        snprintf(name, sizeof(name), "bytes_%dx%d", c[0], c[1]);
        int bad = -1;
        for (int b = 0; b < BINS && bad < 0; b++)
            if (got[b] != want[b])
                bad = b;
        check_report(name, bad < 0, "bin %d: expected %u got %u", bad, bad < 0 ? 0 : want[bad], bad < 0 ? 0 : got[bad]);
    }

    const int m = 100000;
    std::vector<int> values(m);
    std::vector<unsigned> weights(m);
    unsigned long long wwant[64] = {0};
    float fwant[16] = {0};
    for (int i = 0; i < m; i++) {
        values[i] = (int)((i * 2654435761u) >> 7);
        weights[i] = (unsigned)(i % 1000) + 1000000u;
        wwant[values[i] & 63] += (unsigned long long)weights[i] << 20;
        fwant[values[i] & 15] += 0.25f * (float)(values[i] & 7);
    }
    int *d_values;
    unsigned *d_weights;
    unsigned long long *d_wbins;
    float *d_fsums;
    cudaMalloc(&d_values, m * sizeof(int));
    cudaMalloc(&d_weights, m * sizeof(unsigned));
    cudaMalloc(&d_wbins, sizeof(wwant));
    cudaMalloc(&d_fsums, sizeof(fwant));
    cudaMemcpy(d_values, values.data(), m * sizeof(int), cudaMemcpyHostToDevice);
    cudaMemcpy(d_weights, weights.data(), m * sizeof(unsigned), cudaMemcpyHostToDevice);
    cudaMemset(d_wbins, 0, sizeof(wwant));
    cudaMemset(d_fsums, 0, sizeof(fwant));
    histogram_weighted<<<(m + 255) / 256, 256>>>(d_values, d_weights, m, d_wbins);
    histogram_float<<<(m + 127) / 128, 128>>>(d_values, m, d_fsums);
    expect_ok("weighted_float_launch", cudaGetLastError());
    unsigned long long wgot[64];
    float fgot[16];
    cudaMemcpy(wgot, d_wbins, sizeof(wgot), cudaMemcpyDeviceToHost);
    cudaMemcpy(fgot, d_fsums, sizeof(fgot), cudaMemcpyDeviceToHost);
    expect_bytes("weighted_u64", wgot, wwant, sizeof(wwant));
    expect_bytes("float_sums", fgot, fwant, sizeof(fwant));
    cudaFree(d_data);
    cudaFree(d_bins);
    cudaFree(d_values);
    cudaFree(d_weights);
    cudaFree(d_wbins);
    cudaFree(d_fsums);
    return check_end();
}
