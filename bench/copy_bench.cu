/*
 * copy_bench.cu: what a CUDA program sees of openbf's copies (or of a local GPU, run natively).
 *
 * Per repetition: the median round trip of a 4-byte cudaMemcpy device-to-host, and the bandwidth of
 * a large (default 64 MiB) cudaMemcpy host-to-device (followed by cudaDeviceSynchronize, so the
 * figure is for data that has arrived) and device-to-host, from pageable host memory.
 *
 * Usage: copy_bench [--iterations N] [--repeat R] [--bytes B]
 * Prints one JSON object on stdout, with the same fields as bf-bench-rawsock: latency_us, up_gbps
 * (host to device) and down_gbps (device to host), one value per repetition; GB/s is 10^9 bytes/s.
 */
#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char **argv)
{
    int iterations = 2000, repeat = 5;
    size_t bytes = (size_t)64 << 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--iterations") == 0)
            iterations = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--bytes") == 0)
            bytes = (size_t)strtoull(argv[i + 1], nullptr, 0);
    }
    if (argc % 2 == 0 || iterations < 1 || repeat < 1 || bytes < 4) {
        fprintf(stderr, "usage: %s [--iterations N] [--repeat R] [--bytes B]\n", argv[0]);
        return 2;
    }

    std::vector<unsigned char> host(bytes, 0xa5);
    void *d = nullptr;
    if (!ok(cudaMalloc(&d, bytes), "cudaMalloc"))
        return 1;
    unsigned int word = 0;
    /* Warm up: the connection, the first touch of device and host pages. */
    for (int i = 0; i < 100; i++)
        if (!ok(cudaMemcpy(&word, d, 4, cudaMemcpyDeviceToHost), "warm-up cudaMemcpy"))
            return 1;
    if (!ok(cudaMemcpy(d, host.data(), bytes, cudaMemcpyHostToDevice), "warm-up cudaMemcpy") ||
        !ok(cudaMemcpy(host.data(), d, bytes, cudaMemcpyDeviceToHost), "warm-up cudaMemcpy"))
        return 1;

    std::vector<double> latency, up, down, samples((size_t)iterations);
    for (int r = 0; r < repeat; r++) {
        for (int i = 0; i < iterations; i++) {
            double t0 = now_s();
            if (!ok(cudaMemcpy(&word, d, 4, cudaMemcpyDeviceToHost), "cudaMemcpy 4 bytes"))
                return 1;
            samples[(size_t)i] = (now_s() - t0) * 1e6;
        }
        std::nth_element(samples.begin(), samples.begin() + iterations / 2, samples.end());
        latency.push_back(samples[(size_t)iterations / 2]);

        double t0 = now_s();
        if (!ok(cudaMemcpy(d, host.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy HtoD") ||
            !ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize"))
            return 1;
        up.push_back((double)bytes / (now_s() - t0) / 1e9);

        t0 = now_s();
        if (!ok(cudaMemcpy(host.data(), d, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy DtoH"))
            return 1;
        down.push_back((double)bytes / (now_s() - t0) / 1e9);
    }
    printf("{\"iterations\": %d, \"bytes\": %zu, ", iterations, bytes);
    print_array("latency_us", latency, ", ");
    print_array("up_gbps", up, ", ");
    print_array("down_gbps", down, "}\n");
    cudaFree(d);
    return 0;
}
