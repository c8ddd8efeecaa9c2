/* scan.cu: inclusive and exclusive prefix sums over arrays of many blocks (a block scan in shared
 * memory, Hillis-Steele and work-efficient Blelloch, warp scans with __shfl_up_sync, block sums
 * scanned recursively and added back), against the host's std::partial_sum. */
#include "check.h"

#include <numeric>
#include <vector>

constexpr int BLOCK = 256;

/* Inclusive scan of one block with __shfl_up_sync inside warps and a second pass over warp totals. */
__device__ int block_inclusive_scan(int v)
{
    __shared__ int warp_sums[BLOCK / 32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int d = 1; d < 32; d <<= 1) {
        int up = __shfl_up_sync(0xffffffffu, v, d);
        if (lane >= d)
            v += up;
    }
    if (lane == 31)
        warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int w = lane < BLOCK / 32 ? warp_sums[lane] : 0;
        for (int d = 1; d < 32; d <<= 1) {
            int up = __shfl_up_sync(0xffffffffu, w, d);
            if (lane >= d)
                w += up;
        }
        if (lane < BLOCK / 32)
            warp_sums[lane] = w;
    }
    __syncthreads();
    if (warp > 0)
        v += warp_sums[warp - 1];
    return v;
}

/* inclusive (or exclusive) scan of each block's part; block totals to sums (if not null). */
__global__ void scan_blocks(const int *in, int *out, int *sums, int n, bool exclusive)
{
    int i = blockIdx.x * BLOCK + threadIdx.x;
    int v = i < n ? in[i] : 0;
    int inc = block_inclusive_scan(v);
    if (i < n)
        out[i] = exclusive ? inc - v : inc;
    if (sums != nullptr && threadIdx.x == BLOCK - 1)
        sums[blockIdx.x] = inc;
}

__global__ void add_offsets(int *data, const int *offsets, int n)
{
    int i = blockIdx.x * BLOCK + threadIdx.x;
    if (i < n && blockIdx.x > 0)
        data[i] += offsets[blockIdx.x - 1];
}

/* Hillis-Steele inclusive scan of a single block in double-buffered shared memory (floats). */
__global__ void hillis_steele(const float *in, float *out, int n)
{
    __shared__ float buf[2][BLOCK];
    int t = threadIdx.x, cur = 0;
    buf[0][t] = t < n ? in[t] : 0.0f;
    __syncthreads();
    for (int d = 1; d < BLOCK; d <<= 1) {
        buf[1 - cur][t] = buf[cur][t] + (t >= d ? buf[cur][t - d] : 0.0f);
        cur = 1 - cur;
        __syncthreads();
    }
    if (t < n)
        out[t] = buf[cur][t];
}

/* Blelloch work-efficient exclusive scan of 2 * blockDim.x unsigned values. */
__global__ void blelloch(const unsigned *in, unsigned *out, int n)
{
    extern __shared__ unsigned tmp[];
    int t = threadIdx.x, m = 2 * blockDim.x;
    tmp[2 * t] = 2 * t < n ? in[2 * t] : 0u;
    tmp[2 * t + 1] = 2 * t + 1 < n ? in[2 * t + 1] : 0u;
    int offset = 1;
    for (int d = m >> 1; d > 0; d >>= 1) {
        __syncthreads();
        if (t < d) {
            int a = offset * (2 * t + 1) - 1, b = offset * (2 * t + 2) - 1;
            tmp[b] += tmp[a];
        }
        offset <<= 1;
    }
    if (t == 0)
        tmp[m - 1] = 0;
    for (int d = 1; d < m; d <<= 1) {
        offset >>= 1;
        __syncthreads();
        if (t < d) {
            int a = offset * (2 * t + 1) - 1, b = offset * (2 * t + 2) - 1;
            unsigned x = tmp[a];
            tmp[a] = tmp[b];
            tmp[b] += x;
        }
    }
    __syncthreads();
    if (2 * t < n)
        out[2 * t] = tmp[2 * t];
    if (2 * t + 1 < n)
        out[2 * t + 1] = tmp[2 * t + 1];
}

/* Scans d_in into d_out (n elements) with as many levels of block sums as needed. */
static void device_scan(const int *d_in, int *d_out, int n, bool exclusive)
{
    int blocks = (n + BLOCK - 1) / BLOCK;
    if (blocks == 1) {
        scan_blocks<<<1, BLOCK>>>(d_in, d_out, nullptr, n, exclusive);
        return;
    }
    int *sums, *sums_scanned;
    cudaMalloc(&sums, blocks * sizeof(int));
    cudaMalloc(&sums_scanned, blocks * sizeof(int));
    scan_blocks<<<blocks, BLOCK>>>(d_in, d_out, sums, n, exclusive);
    device_scan(sums, sums_scanned, blocks, false);
    add_offsets<<<blocks, BLOCK>>>(d_out, sums_scanned, n);
    cudaFree(sums);
    cudaFree(sums_scanned);
}

static int first_difference(const std::vector<int> &got, const std::vector<int> &want)
{
    for (size_t i = 0; i < want.size(); i++)
        if (got[i] != want[i])
            return (int)i;
    return -1;
}

int main(void)
{
    check_begin("scan");
    const int sizes[] = {1, 31, 256, 1000, 65536 + 17, 300000};
    for (int n : sizes) {
        std::vector<int> h(n), inc(n), exc(n), got(n);
        for (int i = 0; i < n; i++)
            h[i] = (int)((i * 7919u) % 201u) - 100;
        std::partial_sum(h.begin(), h.end(), inc.begin());
        std::exclusive_scan(h.begin(), h.end(), exc.begin(), 0);
        int *d_in, *d_out;
        cudaMalloc(&d_in, n * sizeof(int));
        cudaMalloc(&d_out, n * sizeof(int));
        cudaMemcpy(d_in, h.data(), n * sizeof(int), cudaMemcpyHostToDevice);
        char name[64];
        device_scan(d_in, d_out, n, false);
        snprintf(name, sizeof(name), "inclusive_launch_%d", n);
        expect_ok(name, cudaGetLastError());
        cudaMemcpy(got.data(), d_out, n * sizeof(int), cudaMemcpyDeviceToHost);
        int bad = first_difference(got, inc);
        snprintf(name, sizeof(name), "inclusive_%d", n);
        check_report(name, bad < 0, "first difference at %d: expected %d got %d", bad, bad < 0 ? 0 : inc[bad],
                     bad < 0 ? 0 : got[bad]);
        device_scan(d_in, d_out, n, true);
        cudaMemcpy(got.data(), d_out, n * sizeof(int), cudaMemcpyDeviceToHost);
        bad = first_difference(got, exc);
        snprintf(name, sizeof(name), "exclusive_%d", n);
        check_report(name, bad < 0, "first difference at %d: expected %d got %d", bad, bad < 0 ? 0 : exc[bad],
                     bad < 0 ? 0 : got[bad]);
        cudaFree(d_in);
        cudaFree(d_out);
    }

    /* Hillis-Steele on floats that are exact in binary (sums of small integers and halves). */
    {
        const int n = 200;
        std::vector<float> h(n), want(n), got(n);
        for (int i = 0; i < n; i++)
            h[i] = (float)(i % 9) * 0.5f;
        std::partial_sum(h.begin(), h.end(), want.begin());
        float *d_in, *d_out;
        cudaMalloc(&d_in, n * sizeof(float));
        cudaMalloc(&d_out, n * sizeof(float));
        cudaMemcpy(d_in, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
        hillis_steele<<<1, BLOCK>>>(d_in, d_out, n);
        expect_ok("hillis_steele_launch", cudaGetLastError());
        cudaMemcpy(got.data(), d_out, n * sizeof(float), cudaMemcpyDeviceToHost);
        expect_bytes("hillis_steele_inclusive", got.data(), want.data(), n * sizeof(float));
        cudaFree(d_in);
        cudaFree(d_out);
    }

    /* Blelloch exclusive scan with unsigned wrap-around (values near 2^32). */
    {
        const int n = 500, threads = 256;
        std::vector<unsigned> h(n), want(n), got(n);
        for (int i = 0; i < n; i++)
            h[i] = 0x01000000u * (unsigned)(i % 5) + (unsigned)i;
        std::exclusive_scan(h.begin(), h.end(), want.begin(), 0u);
        unsigned *d_in, *d_out;
        cudaMalloc(&d_in, n * sizeof(unsigned));
        cudaMalloc(&d_out, n * sizeof(unsigned));
        cudaMemcpy(d_in, h.data(), n * sizeof(unsigned), cudaMemcpyHostToDevice);
        blelloch<<<1, threads, 2 * threads * sizeof(unsigned)>>>(d_in, d_out, n);
        expect_ok("blelloch_launch", cudaGetLastError());
        cudaMemcpy(got.data(), d_out, n * sizeof(unsigned), cudaMemcpyDeviceToHost);
        expect_bytes("blelloch_exclusive", got.data(), want.data(), n * sizeof(unsigned));
        cudaFree(d_in);
        cudaFree(d_out);
    }
    expect_ok("synchronize", cudaDeviceSynchronize());
    return check_end();
}
