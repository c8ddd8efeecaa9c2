/*
 * posted_bench.cu: the throughput of posted work, as a CUDA program sees it.
 *
 * Per repetition, on one created stream:
 *   - `--count` cudaMemcpyAsync host-to-device copies of `--small` bytes (default 4096) each, from
 *     pageable memory, then cudaStreamSynchronize: the bandwidth of many small copies, each of
 *     which returns once its source may be reused (openbf batches them into few frames);
 *   - `--count` cudaMemsetAsync of `--small` bytes each, then cudaStreamSynchronize: memsets per
 *     second (each costs no round trip).
 * The time includes the final synchronisation, so it counts work that has been done, not only
 * queued.
 *
 * Usage: posted_bench [--count N] [--small B] [--repeat R]
 * Prints one JSON object on stdout: small_htod_gbps and memset_per_s, one value per repetition
 * (GB/s is 10^9 bytes/s), with the parameters.
 */
#include "bench_util.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char **argv)
{
    int count = 20000, repeat = 5;
    size_t small = 4096;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--count") == 0)
            count = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--small") == 0)
            small = (size_t)strtoull(argv[i + 1], nullptr, 0);
    }
    if (argc % 2 == 0 || count < 1 || repeat < 1 || small < 1) {
        fprintf(stderr, "usage: %s [--count N] [--small B] [--repeat R]\n", argv[0]);
        return 2;
    }

    /* The copies cycle through a 64-slot ring so the device side is not one hot spot. */
    const size_t slots = 64;
    std::vector<unsigned char> host(small * slots, 0x5a);
    void *d = nullptr;
    cudaStream_t s = nullptr;
    if (!ok(cudaMalloc(&d, small * slots), "cudaMalloc") || !ok(cudaStreamCreate(&s), "cudaStreamCreate"))
        return 1;
    for (size_t i = 0; i < slots; i++)
        if (!ok(cudaMemcpyAsync((char *)d + i * small, host.data() + i * small, small, cudaMemcpyHostToDevice, s),
                "warm-up cudaMemcpyAsync"))
            return 1;
    if (!ok(cudaStreamSynchronize(s), "warm-up cudaStreamSynchronize"))
        return 1;

    std::vector<double> htod, memsets;
    for (int r = 0; r < repeat; r++) {
        double t0 = now_s();
        for (int i = 0; i < count; i++) {
            size_t slot = (size_t)i % slots;
            if (!ok(cudaMemcpyAsync((char *)d + slot * small, host.data() + slot * small, small,
                                    cudaMemcpyHostToDevice, s), "cudaMemcpyAsync"))
                return 1;
        }
        if (!ok(cudaStreamSynchronize(s), "cudaStreamSynchronize"))
            return 1;
        htod.push_back((double)small * count / (now_s() - t0) / 1e9);

        t0 = now_s();
        for (int i = 0; i < count; i++) {
            size_t slot = (size_t)i % slots;
            if (!ok(cudaMemsetAsync((char *)d + slot * small, i & 0xff, small, s), "cudaMemsetAsync"))
                return 1;
        }
        if (!ok(cudaStreamSynchronize(s), "cudaStreamSynchronize"))
            return 1;
        memsets.push_back(count / (now_s() - t0));
    }
    printf("{\"count\": %d, \"small\": %zu, ", count, small);
    print_array("small_htod_gbps", htod, ", ");
    print_array("memset_per_s", memsets, "}\n");
    cudaStreamDestroy(s);
    cudaFree(d);
    return 0;
}
