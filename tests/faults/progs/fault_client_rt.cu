/*
 * fault_client_rt.cu: a CUDA runtime program for the fault tests (NVIDIA's cudart over openbf).
 *
 * Usage: fault_client_rt MODE
 *   wait       allocates and copies, prints "READY", waits for a line on stdin, then makes two more
 *              calls and prints "RESULT <call> <cudaError_t> <name> <milliseconds>" for each
 *   count      "RESULT cudaGetDeviceCount <code> <name> <ms> <count>"
 *   copy-loop  allocates 256 MiB, prints "READY", then copies 64 MiB each way until killed
 *   meminfo    "MEMINFO <free> <total>"
 *   rounds N   allocates, prints "READY", waits for a line on stdin, then makes N verified 16 MiB
 *              round trips; prints "PASS rounds N" (exit 0) or "FAIL rounds: ..." (exit 1)
 */
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static double now_ms()
{
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

static void result(const char *call, cudaError_t e, double t0)
{
    printf("RESULT %s %d %s %.0f\n", call, (int)e, cudaGetErrorName(e), now_ms() - t0);
}

static int wait_then_call()
{
    const size_t n = 1 << 20;
    std::vector<unsigned char> h(n, 1);
    void *d = nullptr;
    if (cudaMalloc(&d, n) != cudaSuccess || cudaMemcpy(d, h.data(), n, cudaMemcpyHostToDevice) != cudaSuccess) {
        printf("SETUP FAILED\n");
        return 2;
    }
    printf("READY\n");
    fflush(stdout);
    char line[64];
    if (fgets(line, sizeof(line), stdin) == nullptr)
        return 3;
    double t0 = now_ms();
    result("cudaMemcpy", cudaMemcpy(h.data(), d, n, cudaMemcpyDeviceToHost), t0);
    t0 = now_ms();
    size_t free_b = 0, total_b = 0;
    result("cudaMemGetInfo", cudaMemGetInfo(&free_b, &total_b), t0);
    printf("DONE\n");
    return 0;
}

static int count()
{
    int n = -1;
    double t0 = now_ms();
    cudaError_t e = cudaGetDeviceCount(&n);
    printf("RESULT cudaGetDeviceCount %d %s %.0f %d\n", (int)e, cudaGetErrorName(e), now_ms() - t0, n);
    printf("DONE\n");
    return 0;
}

static int copy_loop()
{
    const size_t n = (size_t)64 << 20;
    std::vector<unsigned char> h(n, 3);
    void *d = nullptr;
    if (cudaMalloc(&d, 4 * n) != cudaSuccess) {
        printf("SETUP FAILED\n");
        return 2;
    }
    printf("READY\n");
    fflush(stdout);
    for (unsigned long round = 0;; round++) {
        char *dst = (char *)d + (round % 4) * n;
        if (cudaMemcpy(dst, h.data(), n, cudaMemcpyHostToDevice) != cudaSuccess ||
            cudaMemcpy(h.data(), dst, n, cudaMemcpyDeviceToHost) != cudaSuccess) {
            printf("COPY FAILED at round %lu\n", round);
            return 1;
        }
    }
}

static int meminfo()
{
    size_t free_b = 0, total_b = 0;
    cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
    if (e != cudaSuccess) {
        printf("FAILED %s\n", cudaGetErrorName(e));
        return 1;
    }
    printf("MEMINFO %zu %zu\n", free_b, total_b);
    return 0;
}

static int rounds(long n_rounds)
{
    const size_t n = (size_t)16 << 20;
    std::vector<unsigned char> h(n), back(n);
    void *d = nullptr;
    if (cudaMalloc(&d, n) != cudaSuccess) {
        printf("SETUP FAILED\n");
        return 2;
    }
    printf("READY\n");
    fflush(stdout);
    char line[64];
    if (fgets(line, sizeof(line), stdin) == nullptr)
        return 3;
    for (long r = 0; r < n_rounds; r++) {
        for (size_t i = 0; i < n; i += 4096)
            h[i] = (unsigned char)(r + i / 4096);
        cudaError_t e1 = cudaMemcpy(d, h.data(), n, cudaMemcpyHostToDevice);
        cudaError_t e2 = cudaMemcpy(back.data(), d, n, cudaMemcpyDeviceToHost);
        if (e1 != cudaSuccess || e2 != cudaSuccess || memcmp(h.data(), back.data(), n) != 0) {
            printf("FAIL rounds: round %ld: htod %s, dtoh %s\n", r, cudaGetErrorName(e1), cudaGetErrorName(e2));
            return 1;
        }
    }
    printf("PASS rounds %ld\n", n_rounds);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "rounds") == 0)
        return rounds(strtol(argv[2], nullptr, 10));
    const char *mode = argc == 2 ? argv[1] : "";
    if (strcmp(mode, "wait") == 0)
        return wait_then_call();
    if (strcmp(mode, "count") == 0)
        return count();
    if (strcmp(mode, "copy-loop") == 0)
        return copy_loop();
    if (strcmp(mode, "meminfo") == 0)
        return meminfo();
    fprintf(stderr, "usage: %s wait|count|copy-loop|meminfo|rounds N\n", argv[0]);
    return 2;
}
