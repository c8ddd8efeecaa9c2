/* bitonic_sort.cu: sorting on the device: a bitonic sort of 1024 keys per block in shared memory
 * (key-value pairs, descending and ascending), a global multi-kernel bitonic sort of 2^16 floats
 * (one launch per merge step), an odd-even transposition sort with __syncthreads; against std::sort. */
#include "check.h"

#include <algorithm>
#include <vector>

__global__ void bitonic_shared(unsigned *keys, int *values, bool ascending)
{
    __shared__ unsigned k[1024];
    __shared__ int v[1024];
    int t = threadIdx.x, base = blockIdx.x * 1024;
    k[t] = keys[base + t];
    v[t] = values[base + t];
    k[t + 512] = keys[base + t + 512];
    v[t + 512] = values[base + t + 512];
    __syncthreads();
    for (int size = 2; size <= 1024; size <<= 1)
        for (int stride = size / 2; stride > 0; stride >>= 1) {
            int pos = 2 * t - (t & (stride - 1));
            bool up = ((pos & size) == 0) == ascending;
            unsigned a = k[pos], b = k[pos + stride];
            if ((a > b) == up) {
                k[pos] = b;
                k[pos + stride] = a;
                int tmp = v[pos];
                v[pos] = v[pos + stride];
                v[pos + stride] = tmp;
            }
            __syncthreads();
        }
    keys[base + t] = k[t];
    values[base + t] = v[t];
    keys[base + t + 512] = k[t + 512];
    values[base + t + 512] = v[t + 512];
}

__global__ void bitonic_step(float *data, int j, int k)
{
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x, partner = i ^ j;
    if (partner > i) {
        float a = data[i], b = data[partner];
        bool ascending = (i & k) == 0;
        if ((a > b) == ascending) {
            data[i] = b;
            data[partner] = a;
        }
    }
}

__global__ void odd_even(int *data, int n)
{
    int t = threadIdx.x;
    for (int phase = 0; phase < n; phase++) {
        int i = 2 * t + (phase & 1);
        if (i + 1 < n && data[i] > data[i + 1]) {
            int tmp = data[i];
            data[i] = data[i + 1];
            data[i + 1] = tmp;
        }
        __syncthreads();
    }
}

int main(void)
{
    check_begin("bitonic_sort");
    const int blocks = 4, n = blocks * 1024;
    std::vector<unsigned> keys(n);
    std::vector<int> values(n);
    for (int i = 0; i < n; i++) {
        keys[i] = (unsigned)(i * 2654435761u) >> 8;
        values[i] = i;
    }
    unsigned *dk;
    int *dv;
    cudaMalloc(&dk, n * sizeof(unsigned));
    cudaMalloc(&dv, n * sizeof(int));
    for (int asc = 0; asc < 2; asc++) {
        cudaMemcpy(dk, keys.data(), n * sizeof(unsigned), cudaMemcpyHostToDevice);
        cudaMemcpy(dv, values.data(), n * sizeof(int), cudaMemcpyHostToDevice);
        bitonic_shared<<<blocks, 512>>>(dk, dv, asc != 0);
        expect_ok(asc ? "shared_launch_ascending" : "shared_launch_descending", cudaGetLastError());
        std::vector<unsigned> gk(n);
        std::vector<int> gv(n);
        cudaMemcpy(gk.data(), dk, n * sizeof(unsigned), cudaMemcpyDeviceToHost);
        cudaMemcpy(gv.data(), dv, n * sizeof(int), cudaMemcpyDeviceToHost);
        int wrong = 0, pairs = 0;
        for (int b = 0; b < blocks; b++) {
            std::vector<unsigned> want(keys.begin() + b * 1024, keys.begin() + (b + 1) * 1024);
            if (asc)
                std::sort(want.begin(), want.end());
            else
                std::sort(want.begin(), want.end(), [](unsigned x, unsigned y) { return x > y; });
            for (int i = 0; i < 1024; i++) {
                wrong += gk[b * 1024 + i] != want[i];
                int src = gv[b * 1024 + i];
                pairs += src < b * 1024 || src >= (b + 1) * 1024 || keys[src] != gk[b * 1024 + i];
            }
        }
        check_report(asc ? "shared_keys_ascending" : "shared_keys_descending", wrong == 0, "%d wrong", wrong);
        check_report(asc ? "shared_pairs_ascending" : "shared_pairs_descending", pairs == 0, "%d values detached", pairs);
    }

    const int m = 1 << 16;
    std::vector<float> f(m);
    for (int i = 0; i < m; i++)
        f[i] = (float)((int)((i * 7919u) % 100003u) - 50000) * 0.25f;
    float *df;
    cudaMalloc(&df, m * sizeof(float));
    cudaMemcpy(df, f.data(), m * sizeof(float), cudaMemcpyHostToDevice);
    int launches = 0;
    for (int k = 2; k <= m; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            bitonic_step<<<m / 256, 256>>>(df, j, k);
            launches++;
        }
    expect_ok("global_launches", cudaGetLastError());
    std::vector<float> gf(m);
    cudaMemcpy(gf.data(), df, m * sizeof(float), cudaMemcpyDeviceToHost);
    std::sort(f.begin(), f.end());
    expect_bytes("global_sorted", gf.data(), f.data(), m * sizeof(float));
    expect_i64("global_launch_count", launches, 136);

    const int s = 999;
    std::vector<int> h(s);
    for (int i = 0; i < s; i++)
        h[i] = (int)((i * 40503u) % 1000u) - 500;
    int *dh;
    cudaMalloc(&dh, s * sizeof(int));
    cudaMemcpy(dh, h.data(), s * sizeof(int), cudaMemcpyHostToDevice);
    odd_even<<<1, (s + 1) / 2>>>(dh, s);
    std::vector<int> gh(s);
    cudaMemcpy(gh.data(), dh, s * sizeof(int), cudaMemcpyDeviceToHost);
    std::sort(h.begin(), h.end());
    expect_bytes("odd_even_sorted", gh.data(), h.data(), s * sizeof(int));
    cudaFree(dk);
    cudaFree(dv);
    cudaFree(df);
    cudaFree(dh);
    return check_end();
}
