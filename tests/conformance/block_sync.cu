/* block_sync.cu: block-level synchronisation beyond __syncthreads: __syncthreads_count,
 * __syncthreads_and, __syncthreads_or over predicates, __threadfence with a last-block-done
 * reduction (the classic threadFenceReduction: each block writes its partial sum, the last block to
 * finish, found with an atomic ticket, adds them all), and blocks of 1, 33 and 1024 threads. */
#include "check.h"

#include <vector>

__global__ void counts(const int *in, int *out)
{
    int v = in[blockIdx.x * blockDim.x + threadIdx.x];
    int c = __syncthreads_count(v > 0);
    int a = __syncthreads_and(v > -1000);
    int o = __syncthreads_or(v == 777);
    if (threadIdx.x == 0) {
        out[3 * blockIdx.x] = c;
        out[3 * blockIdx.x + 1] = a != 0;
        out[3 * blockIdx.x + 2] = o != 0;
    }
}

__device__ unsigned blocks_done;

__global__ void fence_reduce(const int *in, long long *partials, long long *total, int n)
{
    __shared__ long long sdata[256];
    __shared__ bool last;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    sdata[threadIdx.x] = i < n ? in[i] : 0;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sdata[threadIdx.x] += sdata[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = sdata[0];
        __threadfence();
        unsigned ticket = atomicInc(&blocks_done, gridDim.x);
        last = ticket == gridDim.x - 1;
    }
    __syncthreads();
    if (last && threadIdx.x == 0) {
        long long s = 0;
        for (unsigned b = 0; b < gridDim.x; b++)
            s += ((volatile long long *)partials)[b];
        *total = s;
        blocks_done = 0;
    }
}

int main(void)
{
    check_begin("block_sync");
    const int sizes[] = {1, 33, 1024};
    for (int threads : sizes) {
        const int blocks = 5, n = blocks * threads;
        std::vector<int> in(n);
        for (int i = 0; i < n; i++)
            in[i] = (int)((i * 7919u) % 1999u) - 999;
        in[threads + threads / 2] = 777;       /* block 1 has 777 */
        in[2 * threads] = -5000;               /* block 2 fails the and */
        int *din, *dout;
        cudaMalloc(&din, n * sizeof(int));
        cudaMalloc(&dout, 3 * blocks * sizeof(int));
        cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice);
        counts<<<blocks, threads>>>(din, dout);
        std::vector<int> got(3 * blocks);
        cudaMemcpy(got.data(), dout, got.size() * sizeof(int), cudaMemcpyDeviceToHost);
        int wrong = 0;
        for (int b = 0; b < blocks; b++) {
            int c = 0, a = 1, o = 0;
            for (int t = 0; t < threads; t++) {
                int v = in[b * threads + t];
                c += v > 0;
                a &= v > -1000;
                o |= v == 777;
            }
            wrong += got[3 * b] != c || got[3 * b + 1] != a || got[3 * b + 2] != o;
        }
        char name[64];
        snprintf(name, sizeof(name), "count_and_or_%d_threads", threads);
        check_report(name, wrong == 0, "%d blocks wrong", wrong);
        cudaFree(din);
        cudaFree(dout);
    }

    const int n = 100000, blocks = (n + 255) / 256;
    std::vector<int> in(n);
    long long want = 0;
    for (int i = 0; i < n; i++) {
        in[i] = (int)((i * 2654435761u) % 100000u);
        want += in[i];
    }
    int *din;
    long long *dpart, *dtotal, total = 0;
    cudaMalloc(&din, n * sizeof(int));
    cudaMalloc(&dpart, blocks * sizeof(long long));
    cudaMalloc(&dtotal, sizeof(long long));
    cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    for (int round = 0; round < 3; round++) {
        cudaMemset(dtotal, 0, sizeof(long long));
        fence_reduce<<<blocks, 256>>>(din, dpart, dtotal, n);
        cudaMemcpy(&total, dtotal, sizeof(total), cudaMemcpyDeviceToHost);
        char name[64];
        snprintf(name, sizeof(name), "last_block_reduction_%d", round);
        expect_i64(name, total, want);
    }
    cudaFree(din);
    cudaFree(dpart);
    cudaFree(dtotal);
    return check_end();
}
