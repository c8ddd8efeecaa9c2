/*
 * runtime_calls.cu: the runtime calls the client engine must carry in this round, through NVIDIA's
 * own cudart (static or shared) on top of libbf.so. No kernels: code loading comes later.
 *
 * "PASS name" / "FAIL name: why" per check, then a final line; exit status 1 on any failure.
 * With the argument "count", only prints "count_result N" (cudaGetDeviceCount's error code).
 * With "lost": allocates, prints "ready", waits for a line on stdin (the test kills the worker
 * meanwhile), then prints "lost_results HTOD DTOH MALLOC SECONDS".
 */
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static int checks, failed;

static void check(const char *name, bool ok, const char *why = "")
{
    checks++;
    if (ok) {
        printf("PASS %s\n", name);
    } else {
        failed++;
        printf("FAIL %s: %s\n", name, why);
    }
}

static bool ok(const char *name, cudaError_t e)
{
    check(name, e == cudaSuccess, cudaGetErrorName(e));
    return e == cudaSuccess;
}

static void fill(std::vector<unsigned char> &v, unsigned seed)
{
    for (size_t i = 0; i < v.size(); i++)
        v[i] = (unsigned char)(i * 29 + seed + (i >> 13));
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int count = -1;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (argc > 1 && strcmp(argv[1], "count") == 0) {
        printf("count_result %d\n", (int)e);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "lost") == 0) {
        static unsigned char buf[4096];
        void *p = nullptr, *q = nullptr;
        if (cudaMalloc(&p, sizeof(buf)) != cudaSuccess)
            return 1;
        printf("ready\n");
        char line[16];
        if (fgets(line, sizeof(line), stdin) == nullptr)
            return 1;
        auto start = std::chrono::steady_clock::now();
        cudaError_t htod = cudaMemcpy(p, buf, sizeof(buf), cudaMemcpyHostToDevice);
        cudaError_t dtoh = cudaMemcpy(buf, p, sizeof(buf), cudaMemcpyDeviceToHost);
        cudaError_t malloc_after = cudaMalloc(&q, 16);
        std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        printf("lost_results %d %d %d %.3f\n", (int)htod, (int)dtoh, (int)malloc_after, took.count());
        return 0;
    }
    ok("get_device_count", e);
    check("device_count_positive", count >= 1);

    cudaDeviceProp prop;
    if (ok("get_device_properties", cudaGetDeviceProperties(&prop, 0))) {
        check("prop_name", prop.name[0] != '\0');
        check("prop_total_mem", prop.totalGlobalMem > 0);
        check("prop_warp_size", prop.warpSize == 32);
        check("prop_compute_capability", prop.major >= 1);
    }

    size_t free0 = 0, total = 0, free1 = 0;
    ok("mem_get_info", cudaMemGetInfo(&free0, &total));
    check("mem_info_sane", free0 > 0 && free0 <= total);

    /* 1D: more than one message each way (64 MiB per message). */
    const size_t n = (70u << 20) + 4097;
    std::vector<unsigned char> src(n), dst(n, 0);
    fill(src, 1);
    void *a = nullptr, *b = nullptr;
    ok("malloc_a", cudaMalloc(&a, n));
    ok("malloc_b", cudaMalloc(&b, n));
    ok("mem_get_info_after_malloc", cudaMemGetInfo(&free1, &total));
    check("mem_info_decreased", free1 < free0);
    ok("memcpy_htod", cudaMemcpy(a, src.data(), n, cudaMemcpyHostToDevice));
    ok("memcpy_dtod", cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
    ok("memcpy_dtoh", cudaMemcpy(dst.data(), b, n, cudaMemcpyDeviceToHost));
    check("memcpy_roundtrip", memcmp(src.data(), dst.data(), n) == 0);
    std::fill(dst.begin(), dst.end(), 0);
    ok("memcpy_default_htod", cudaMemcpy((char *)a + 3, src.data(), 1000, cudaMemcpyDefault));
    ok("memcpy_default_dtoh", cudaMemcpy(dst.data(), (char *)a + 3, 1000, cudaMemcpyDefault));
    check("memcpy_default_bytes", memcmp(src.data(), dst.data(), 1000) == 0);

    ok("memset", cudaMemset(a, 0x5c, 4096));
    ok("memset_readback", cudaMemcpy(dst.data(), a, 4096, cudaMemcpyDeviceToHost));
    bool all = true;
    for (size_t i = 0; i < 4096; i++)
        all = all && dst[i] == 0x5c;
    check("memset_bytes", all);

    /* 2D: host rows 500 apart, device rows 512 apart, 300 bytes wide. */
    const size_t w = 300, h = 41, hp = 500, dp = 512;
    std::vector<unsigned char> img(hp * h), back(hp * h, 0);
    fill(img, 9);
    ok("memcpy2d_htod", cudaMemcpy2D(b, dp, img.data(), hp, w, h, cudaMemcpyHostToDevice));
    ok("memcpy2d_dtoh", cudaMemcpy2D(back.data(), hp, b, dp, w, h, cudaMemcpyDeviceToHost));
    bool rows = true;
    for (size_t r = 0; r < h; r++)
        rows = rows && memcmp(img.data() + r * hp, back.data() + r * hp, w) == 0 && back[r * hp + w] == 0;
    check("memcpy2d_rows", rows);

    cudaPointerAttributes attr;
    if (ok("pointer_attributes_device", cudaPointerGetAttributes(&attr, (char *)a + 10))) {
        check("pointer_type_device", attr.type == cudaMemoryTypeDevice);
        check("pointer_device_0", attr.device == 0);
        check("pointer_device_pointer", attr.devicePointer == (char *)a + 10);
    }
    int on_stack = 0;
    if (ok("pointer_attributes_host", cudaPointerGetAttributes(&attr, &on_stack)))
        check("pointer_type_unregistered", attr.type == cudaMemoryTypeUnregistered);

    ok("free_a", cudaFree(a));
    check("double_free_refused", cudaFree(a) == cudaErrorInvalidValue);
    ok("device_synchronize", cudaDeviceSynchronize());
    ok("free_b", cudaFree(b));

    /* Reset frees everything; the runtime sets the device up again on the next call. */
    void *c = nullptr;
    ok("malloc_before_reset", cudaMalloc(&c, 1 << 20));
    ok("device_reset", cudaDeviceReset());
    check("pointer_gone_after_reset", cudaPointerGetAttributes(&attr, c) == cudaSuccess &&
                                          attr.type == cudaMemoryTypeUnregistered);
    void *d = nullptr;
    ok("malloc_after_reset", cudaMalloc(&d, 1 << 20));
    ok("memset_after_reset", cudaMemset(d, 1, 1 << 20));
    ok("synchronize_after_reset", cudaDeviceSynchronize());
    ok("free_after_reset", cudaFree(d));

    if (failed == 0)
        printf("PASS runtime_calls: all %d checks\n", checks);
    else
        printf("FAIL runtime_calls: %d of %d checks failed\n", failed, checks);
    return failed == 0 ? 0 : 1;
}
