/* streamthreads.cu: eight application threads, each with its own stream, copying at once through
 * pinned and pageable host memory: asynchronous host-to-device, device-to-device, memset and
 * device-to-host copies, synchronised per stream or per event, results checked every round. Each
 * thread also uses its per-thread default stream (cudaStreamPerThread), and in the
 * --default-stream per-thread build (variant "perthread") plain stream 0, which is then its own. */
/* conformance-variants: static shared perthread */
#include "check.h"

#include <atomic>
#include <thread>
#include <vector>

enum { THREADS = 8, ROUNDS = 12 };

struct result {
    int failures;
    int rounds;
    char what[200];
};

static std::atomic<int> ready{0};

static void fail(result *r, const char *fmt, int id, int round, cudaError_t e)
{
    r->failures++;
    snprintf(r->what, sizeof(r->what), fmt, id, round, cudaGetErrorName(e));
}

static void worker(int id, result *r)
{
    const size_t n = ((size_t)(512 + id * 61) << 10) + (size_t)id * 13;  /* different, odd sizes */
    unsigned char *pinned = NULL, *pinned_back = NULL;
    unsigned char *pageable = (unsigned char *)malloc(n), *pageable_back = (unsigned char *)malloc(n);
    unsigned char *want = (unsigned char *)malloc(n);
    void *d = NULL, *d2 = NULL;
    cudaStream_t s = NULL;
    cudaEvent_t ev = NULL;
    r->failures = 0;
    r->rounds = 0;
    cudaError_t e = cudaSuccess;
    if (pageable == NULL || pageable_back == NULL || want == NULL
        || (e = cudaMallocHost((void **)&pinned, n)) != cudaSuccess
        || (e = cudaHostAlloc((void **)&pinned_back, n, id % 2 ? cudaHostAllocMapped : cudaHostAllocDefault)) != cudaSuccess
        || (e = cudaMalloc(&d, n)) != cudaSuccess || (e = cudaMalloc(&d2, n)) != cudaSuccess
        || (e = cudaStreamCreateWithFlags(&s, id % 2 ? cudaStreamNonBlocking : cudaStreamDefault)) != cudaSuccess
        || (e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming)) != cudaSuccess) {
        fail(r, "thread %d (round %d): setup failed: %s", id, -1, e);
        ready++;
        goto out;
    }
    /* Start together, so that the copies really overlap. */
    ready++;
    while (ready.load() < THREADS)
        std::this_thread::yield();

    for (int round = 0; round < ROUNDS; round++) {
        /* Which stream this round: the thread's own, its per-thread stream, or stream 0. */
        cudaStream_t rs = round % 3 == 0 ? s : round % 3 == 1 ? cudaStreamPerThread : (cudaStream_t)0;
        const bool from_pinned = round % 2 == 0;
        unsigned char *src = from_pinned ? pinned : pageable;
        fill_pattern(src, n, (uint32_t)(id * 1000 + round));
        memcpy(want, src, n);
        memset(want + 7, (unsigned char)(id + round), 1000);  /* the memset below */
        if ((e = cudaMemcpyAsync(d, src, n, cudaMemcpyHostToDevice, rs)) != cudaSuccess) {
            fail(r, "thread %d round %d: htod %s", id, round, e);
            continue;
        }
        if (!from_pinned)
            memset(pageable, 0, n);  /* a pageable source is free again once the call returned */
        if ((e = cudaMemcpyAsync(d2, d, n, cudaMemcpyDeviceToDevice, rs)) != cudaSuccess
            || (e = cudaMemsetAsync((char *)d2 + 7, id + round, 1000, rs)) != cudaSuccess) {
            fail(r, "thread %d round %d: dtod/memset %s", id, round, e);
            continue;
        }
        /* Alternately into pinned memory (complete at the synchronise) and pageable memory (complete
         * when the call returns). */
        unsigned char *dst = round % 4 < 2 ? pinned_back : pageable_back;
        memset(dst, 0xff, n);
        if ((e = cudaMemcpyAsync(dst, d2, n, cudaMemcpyDeviceToHost, rs)) != cudaSuccess) {
            fail(r, "thread %d round %d: dtoh %s", id, round, e);
            continue;
        }
        if (round % 2 == 0)
            e = cudaStreamSynchronize(rs);
        else if ((e = cudaEventRecord(ev, rs)) == cudaSuccess)
            e = cudaEventSynchronize(ev);
        if (e != cudaSuccess) {
            fail(r, "thread %d round %d: synchronise %s", id, round, e);
            continue;
        }
        if (memcmp(dst, want, n) != 0) {
            fail(r, "thread %d round %d: content differs (%s)", id, round, cudaSuccess);
            continue;
        }
        r->rounds++;
    }
    if ((e = cudaStreamQuery(s)) != cudaSuccess)
        fail(r, "thread %d (round %d): stream not idle at the end: %s", id, ROUNDS, e);
out:
    if (s != NULL && (e = cudaStreamDestroy(s)) != cudaSuccess)
        fail(r, "thread %d (round %d): stream destroy %s", id, ROUNDS, e);
    if (ev != NULL)
        cudaEventDestroy(ev);
    cudaFree(d);
    cudaFree(d2);
    cudaFreeHost(pinned);
    cudaFreeHost(pinned_back);
    free(pageable);
    free(pageable_back);
    free(want);
}

int main(void)
{
    check_begin("streamthreads");
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
        snprintf(name, sizeof(name), "thread_%d_rounds", i);
        check_report(name, results[i].failures == 0 && results[i].rounds == ROUNDS,
                     "expected %d good rounds got %d, %d failures (last: %s)", ROUNDS, results[i].rounds,
                     results[i].failures, results[i].what);
    }
    expect_ok("synchronize_after_threads", cudaDeviceSynchronize());
    expect_ok("mem_get_info_after", cudaMemGetInfo(&free1, &total));
    check_report("threads_freed_everything", free1 + ((size_t)2 << 20) >= free0, "expected free >= %zu got %zu",
                 free0 - ((size_t)2 << 20), free1);
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
