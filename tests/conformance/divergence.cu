/* divergence.cu: control flow that splits warps: data-dependent loop trip counts (Collatz steps),
 * nested if/else, switch, break and continue, early return of some lanes before a __syncthreads-free
 * tail, goto-like loops with several exits, a while loop whose exit depends on a shuffle of another
 * lane; integer results checked exactly against the host. */
#include "check.h"

#include <vector>

__host__ __device__ int collatz_steps(unsigned long long x)
{
    int steps = 0;
    while (x != 1) {
        x = (x & 1) ? 3 * x + 1 : x / 2;
        steps++;
    }
    return steps;
}

__host__ __device__ int classify(int v)
{
    int r = 0;
    switch (v % 7) {
    case 0: r = 10; break;
    case 1:
    case 2: r = 20 + v % 3; break;
    case 3: r = -v; /* fall through */
    case 4: r += 5; break;
    default:
        if (v & 8) {
            if (v & 16)
                r = 1;
            else
                r = 2;
        } else {
            r = v > 100 ? 3 : 4;
        }
    }
    return r;
}

__host__ __device__ int loop_exits(int v)
{
    int acc = 0;
    for (int k = 0; k < 100; k++) {
        if (k % 3 == v % 3)
            continue;
        acc += k * v;
        if (acc > 5000)
            break;
        if ((acc ^ v) % 17 == 0)
            return -acc;
    }
    return acc;
}

__global__ void diverge(const int *in, int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return; /* early exit of the tail lanes */
    int v = in[i];
    out[4 * i] = collatz_steps((unsigned long long)v + 1);
    out[4 * i + 1] = classify(v);
    out[4 * i + 2] = loop_exits(v);
    /* each lane waits until its neighbour's counter passes its own value */
    int lane = threadIdx.x & 31, counter = 0, rounds = 0;
    unsigned mask = __activemask();
    int target = v % 50;
    bool done = false;
    while (__any_sync(mask, !done)) {
        counter++;
        int neighbour = __shfl_sync(mask, counter, (lane + 1) & 31);
        if (!done && neighbour > target) {
            done = true;
            rounds = counter;
        }
    }
    out[4 * i + 3] = rounds;
}

int main(void)
{
    check_begin("divergence");
    const int threads = 256, n = threads * 8; /* whole warps: the shuffle loop needs all 32 lanes */
    std::vector<int> in(n), got(4 * n);
    for (int i = 0; i < n; i++)
        in[i] = (int)((i * 2654435761u) % 10000u);
    int *din, *dout;
    cudaMalloc(&din, n * sizeof(int));
    cudaMalloc(&dout, 4 * n * sizeof(int));
    cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    diverge<<<n / threads + 1, threads>>>(din, dout, n); /* one extra block returns at once */
    expect_ok("launch", cudaGetLastError());
    expect_ok("copy", cudaMemcpy(got.data(), dout, 4 * n * sizeof(int), cudaMemcpyDeviceToHost));
    int bad[4] = {0};
    for (int i = 0; i < n; i++) {
        int v = in[i];
        bad[0] += got[4 * i] != collatz_steps((unsigned long long)v + 1);
        bad[1] += got[4 * i + 1] != classify(v);
        bad[2] += got[4 * i + 2] != loop_exits(v);
        /* the neighbour's counter equals the own counter: done once counter > target */
        bad[3] += got[4 * i + 3] != v % 50 + 1;
    }
    check_report("collatz_trip_counts", bad[0] == 0, "%d wrong", bad[0]);
    check_report("switch_nested_if", bad[1] == 0, "%d wrong", bad[1]);
    check_report("continue_break_return", bad[2] == 0, "%d wrong", bad[2]);
    check_report("vote_driven_loop", bad[3] == 0, "%d wrong", bad[3]);
    cudaFree(din);
    cudaFree(dout);
    return check_end();
}
