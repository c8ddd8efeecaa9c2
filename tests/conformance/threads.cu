/* threads.cu: several application threads use the device at once (one shared connection). */
#include "check.h"

#include <thread>
#include <vector>

enum { THREADS = 6, ROUNDS = 20 };

struct result {
    int failures;
    char what[160];
};

static void worker(int id, result *r)
{
    const size_t n = (size_t)(256 + id * 37) << 10;  /* different sizes per thread */
    unsigned char *h = (unsigned char *)malloc(n), *back = (unsigned char *)malloc(n);
    void *d = NULL;
    r->failures = 0;
    if (h == NULL || back == NULL || cudaMalloc(&d, n) != cudaSuccess) {
        r->failures = 1;
        snprintf(r->what, sizeof(r->what), "thread %d: allocation failed", id);
        free(h);
        free(back);
        return;
    }
    for (int round = 0; round < ROUNDS; round++) {
        fill_pattern(h, n, (uint32_t)(id * 1000 + round));
        cudaError_t e1 = cudaMemcpy(d, h, n, cudaMemcpyHostToDevice);
        memset(back, 0, n);
        cudaError_t e2 = cudaMemcpy(back, d, n, cudaMemcpyDeviceToHost);
        if (e1 != cudaSuccess || e2 != cudaSuccess || memcmp(back, h, n) != 0) {
            r->failures++;
            snprintf(r->what, sizeof(r->what), "thread %d round %d: htod %s, dtoh %s, content %s", id, round,
                     cudaGetErrorName(e1), cudaGetErrorName(e2), memcmp(back, h, n) ? "differs" : "same");
        }
    }
    if (cudaFree(d) != cudaSuccess) {
        r->failures++;
        snprintf(r->what, sizeof(r->what), "thread %d: cudaFree failed", id);
    }
    free(h);
    free(back);
}

int main(void)
{
    check_begin("threads");
    expect_ok("set_device", cudaSetDevice(0));
    expect_ok("warm_up", cudaFree(NULL));

    size_t free0 = 0, free1 = 0, total = 0;
    expect_ok("mem_get_info_before", cudaMemGetInfo(&free0, &total));
    std::vector<std::thread> threads;
    result results[THREADS];
    for (int i = 0; i < THREADS; i++)
        threads.emplace_back(worker, i, &results[i]);
    for (std::thread &t : threads)
        t.join();
    for (int i = 0; i < THREADS; i++) {
        char name[64];
        snprintf(name, sizeof(name), "thread_%d_round_trips", i);
        check_report(name, results[i].failures == 0, "expected 0 failed rounds got %d (%s)", results[i].failures,
                     results[i].what);
    }
    expect_ok("synchronize_after_threads", cudaDeviceSynchronize());
    expect_ok("mem_get_info_after", cudaMemGetInfo(&free1, &total));
    check_report("threads_freed_everything", free1 + ((size_t)2 << 20) >= free0, "expected free >= %zu got %zu",
                 free0 - ((size_t)2 << 20), free1);
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
