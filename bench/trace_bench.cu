/*
 * trace_bench.cu: posted work per second, for bf-trace's overhead (bench/trace_bench.py runs it
 * with tracing off and on).
 *
 * Per repetition, on one created stream: `--count` launches of an empty kernel, then
 * cudaStreamSynchronize (launches per second); `--count` cudaMemcpyAsync host-to-device copies of
 * 4 KiB from pageable memory, then cudaStreamSynchronize (copies per second). Both are posted
 * operations: no round trip each, so the cost per call in the client and the worker, tracing
 * included (device-time brackets in the worker too), is what limits them.
 *
 * Usage: trace_bench [--count N] [--repeat R]
 * Prints one JSON object: launch_per_s and copy_per_s, one value per repetition.
 */
#include "bench_util.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

__global__ void empty_kernel(void)
{
}

int main(int argc, char **argv)
{
    int count = 50000, repeat = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--count") == 0)
            count = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
    }
    cudaStream_t s;
    void *d;
    if (!ok(cudaStreamCreate(&s), "cudaStreamCreate") || !ok(cudaMalloc(&d, 1 << 20), "cudaMalloc"))
        return 1;
    /* Warm-up: the kernel's module is loaded at its first launch. */
    empty_kernel<<<1, 1, 0, s>>>();
    if (!ok(cudaStreamSynchronize(s), "warm-up"))
        return 1;
    std::vector<double> launches, copies;
    std::vector<char> host(4096, 1);
    for (int r = 0; r < repeat; r++) {
        double t0 = now_s();
        for (int i = 0; i < count; i++)
            empty_kernel<<<1, 1, 0, s>>>();
        if (!ok(cudaStreamSynchronize(s), "launches"))
            return 1;
        launches.push_back(count / (now_s() - t0));
        t0 = now_s();
        for (int i = 0; i < count; i++)
            cudaMemcpyAsync((char *)d + (i % 256) * 4096, host.data(), 4096, cudaMemcpyHostToDevice, s);
        if (!ok(cudaStreamSynchronize(s), "copies"))
            return 1;
        copies.push_back(count / (now_s() - t0));
    }
    printf("{\"count\": %d, ", count);
    print_array("launch_per_s", launches, ", ");
    print_array("copy_per_s", copies, "}\n");
    cudaFree(d);
    cudaStreamDestroy(s);
    return 0;
}
