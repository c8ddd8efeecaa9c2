/*
 * fault_client.c: a driver-API program for the fault tests, linked against nothing: it reaches the
 * driver with dlopen("libcuda.so.1"), which under LD_PRELOAD is openbf's libbf.so.
 *
 * Usage: fault_client MODE
 *   bad-handles  bad pointers and handles must fail at once with CUDA's error, and the next valid
 *                call must still work; prints "PASS name" / "FAIL name: ..." lines, exit 0 if all pass
 *   wait         initialises, allocates and copies, prints "READY", waits for a line on stdin, then
 *                makes two more calls and prints "RESULT <call> <CUresult> <milliseconds>" for each
 *   init         cuInit and cuDeviceGetCount only: "RESULT cuInit <code> <ms>",
 *                "RESULT cuDeviceGetCount <code> <ms> <count>"
 */
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The driver entry points, by their exported (versioned) names. */
static struct {
    __typeof__(cuInit) *init;
    __typeof__(cuDeviceGet) *device_get;
    __typeof__(cuDeviceGetCount) *device_get_count;
    __typeof__(cuDevicePrimaryCtxRetain) *primary_ctx_retain;
    __typeof__(cuCtxSetCurrent) *ctx_set_current;
    __typeof__(cuCtxGetApiVersion) *ctx_get_api_version;
    __typeof__(cuCtxSynchronize) *ctx_synchronize;
    __typeof__(cuMemAlloc) *mem_alloc;
    __typeof__(cuMemFree) *mem_free;
    __typeof__(cuMemGetInfo) *mem_get_info;
    __typeof__(cuMemcpyHtoD_v2) *memcpy_htod;
    __typeof__(cuMemcpyDtoH_v2) *memcpy_dtoh;
    __typeof__(cuMemcpyDtoD_v2) *memcpy_dtod;
    __typeof__(cuMemsetD8_v2) *memset_d8;
    __typeof__(cuGetErrorName) *get_error_name;
} cu;

static int failures;

static void *must_sym(void *lib, const char *name)
{
    void *p = dlsym(lib, name);
    if (p == NULL) {
        printf("FAIL dlsym: %s not exported by libcuda.so.1\n", name);
        exit(2);
    }
    return p;
}

static void load_driver(void)
{
    void *lib = dlopen("libcuda.so.1", RTLD_NOW);
    if (lib == NULL) {
        printf("FAIL dlopen: %s\n", dlerror());
        exit(2);
    }
    cu.init = must_sym(lib, "cuInit");
    cu.device_get = must_sym(lib, "cuDeviceGet");
    cu.device_get_count = must_sym(lib, "cuDeviceGetCount");
    cu.primary_ctx_retain = must_sym(lib, "cuDevicePrimaryCtxRetain");
    cu.ctx_set_current = must_sym(lib, "cuCtxSetCurrent");
    cu.ctx_get_api_version = must_sym(lib, "cuCtxGetApiVersion");
    cu.ctx_synchronize = must_sym(lib, "cuCtxSynchronize");
    cu.mem_alloc = must_sym(lib, "cuMemAlloc_v2");
    cu.mem_free = must_sym(lib, "cuMemFree_v2");
    cu.mem_get_info = must_sym(lib, "cuMemGetInfo_v2");
    cu.memcpy_htod = must_sym(lib, "cuMemcpyHtoD_v2");
    cu.memcpy_dtoh = must_sym(lib, "cuMemcpyDtoH_v2");
    cu.memcpy_dtod = must_sym(lib, "cuMemcpyDtoD_v2");
    cu.memset_d8 = must_sym(lib, "cuMemsetD8_v2");
    cu.get_error_name = must_sym(lib, "cuGetErrorName");
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *err_name(CUresult r)
{
    const char *name = NULL;
    if (cu.get_error_name == NULL || cu.get_error_name(r, &name) != CUDA_SUCCESS || name == NULL)
        return "?";
    return name;
}

/* One check: got must be one of the two expected codes (pass the same code twice for one). */
static void expect(const char *name, CUresult got, CUresult expected, CUresult also)
{
    if (got == expected || got == also) {
        printf("PASS %s\n", name);
        return;
    }
    failures++;
    printf("FAIL %s: expected %s (%d) got %s (%d)\n", name, err_name(expected), (int)expected, err_name(got),
           (int)got);
}

static CUcontext setup(CUdeviceptr *d, size_t n)
{
    CUdevice dev;
    CUcontext ctx = NULL;
    expect("init", cu.init(0), CUDA_SUCCESS, CUDA_SUCCESS);
    expect("device_get", cu.device_get(&dev, 0), CUDA_SUCCESS, CUDA_SUCCESS);
    expect("primary_ctx_retain", cu.primary_ctx_retain(&ctx, dev), CUDA_SUCCESS, CUDA_SUCCESS);
    expect("ctx_set_current", cu.ctx_set_current(ctx), CUDA_SUCCESS, CUDA_SUCCESS);
    expect("mem_alloc", cu.mem_alloc(d, n), CUDA_SUCCESS, CUDA_SUCCESS);
    return ctx;
}

/* A valid round trip through d: proves the session still works after a refused call. */
static void round_trip(const char *name, CUdeviceptr d, unsigned char seed)
{
    unsigned char out[4096], back[4096];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (unsigned char)(seed + i * 7);
    memset(back, 0, sizeof(back));
    CUresult r1 = cu.memcpy_htod(d, out, sizeof(out));
    CUresult r2 = cu.memcpy_dtoh(back, d, sizeof(back));
    if (r1 == CUDA_SUCCESS && r2 == CUDA_SUCCESS && memcmp(out, back, sizeof(out)) == 0) {
        printf("PASS %s\n", name);
        return;
    }
    failures++;
    printf("FAIL %s: expected a clean round trip got htod %s, dtoh %s, content %s\n", name, err_name(r1),
           err_name(r2), memcmp(out, back, sizeof(out)) ? "differs" : "same");
}

static int bad_handles(void)
{
    const size_t n = 1 << 20;
    CUdeviceptr d = 0, gone = 0;
    unsigned char host[4096] = {0};
    CUcontext ctx = setup(&d, n);

    /* Addresses outside every allocation of the session: past the end, far away, host memory,
     * a typical address of the worker's own program text. */
    const CUdeviceptr outside[] = {d + n, d + n + (64u << 20), (CUdeviceptr)(uintptr_t)host,
                                   (CUdeviceptr)0x400000, (CUdeviceptr)0x10};
    const char *names[] = {"past_end", "far", "host_stack", "low_address", "tiny"};
    char name[96];
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        snprintf(name, sizeof(name), "htod_%s", names[i]);
        expect(name, cu.memcpy_htod(outside[i], host, 16), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
        snprintf(name, sizeof(name), "dtoh_%s", names[i]);
        expect(name, cu.memcpy_dtoh(host, outside[i], 16), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
        snprintf(name, sizeof(name), "dtod_src_%s", names[i]);
        expect(name, cu.memcpy_dtod(d, outside[i], 16), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
        snprintf(name, sizeof(name), "dtod_dst_%s", names[i]);
        expect(name, cu.memcpy_dtod(outside[i], d, 16), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
        snprintf(name, sizeof(name), "memset_%s", names[i]);
        expect(name, cu.memset_d8(outside[i], 0, 16), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
        snprintf(name, sizeof(name), "free_%s", names[i]);
        expect(name, cu.mem_free(outside[i]), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
        snprintf(name, sizeof(name), "round_trip_after_%s", names[i]);
        round_trip(name, d, (unsigned char)i);
    }
    /* Straddling the end of the allocation. */
    expect("htod_straddling_end", cu.memcpy_htod(d + n - 8, host, 16), CUDA_ERROR_INVALID_VALUE,
           CUDA_ERROR_INVALID_VALUE);
    expect("dtoh_straddling_end", cu.memcpy_dtoh(host, d + n - 8, 16), CUDA_ERROR_INVALID_VALUE,
           CUDA_ERROR_INVALID_VALUE);

    /* A freed pointer. */
    expect("alloc_to_free", cu.mem_alloc(&gone, 8192), CUDA_SUCCESS, CUDA_SUCCESS);
    expect("free", cu.mem_free(gone), CUDA_SUCCESS, CUDA_SUCCESS);
    expect("htod_freed", cu.memcpy_htod(gone, host, 16), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
    expect("dtoh_freed", cu.memcpy_dtoh(host, gone, 16), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
    expect("memset_freed", cu.memset_d8(gone, 1, 16), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
    expect("double_free", cu.mem_free(gone), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE);
    round_trip("round_trip_after_freed", d, 99);

    /* Bogus context handles: never a crash; CUDA's error for a bad context (or handle). */
    unsigned version = 0;
    CUcontext bogus[] = {(CUcontext)(uintptr_t)0xdeadbeef, (CUcontext)(uintptr_t)host,
                         (CUcontext)(uintptr_t)((char *)ctx + 8)};
    for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
        snprintf(name, sizeof(name), "ctx_get_api_version_bogus_%zu", i);
        expect(name, cu.ctx_get_api_version(bogus[i], &version), CUDA_ERROR_INVALID_CONTEXT,
               CUDA_ERROR_INVALID_HANDLE);
        snprintf(name, sizeof(name), "ctx_set_current_bogus_%zu", i);
        expect(name, cu.ctx_set_current(bogus[i]), CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_INVALID_HANDLE);
    }
    expect("ctx_set_current_valid_again", cu.ctx_set_current(ctx), CUDA_SUCCESS, CUDA_SUCCESS);
    round_trip("round_trip_after_bogus_context", d, 7);

    /* Every refusal above came from the call itself: nothing is left latched for the next sync. */
    expect("synchronize_clean", cu.ctx_synchronize(), CUDA_SUCCESS, CUDA_SUCCESS);
    size_t free_b = 0, total_b = 0;
    expect("mem_get_info", cu.mem_get_info(&free_b, &total_b), CUDA_SUCCESS, CUDA_SUCCESS);
    expect("free_valid", cu.mem_free(d), CUDA_SUCCESS, CUDA_SUCCESS);
    if (failures == 0)
        printf("PASS bad-handles: all checks\n");
    else
        printf("FAIL bad-handles: %d checks failed\n", failures);
    return failures ? 1 : 0;
}

static int wait_then_call(void)
{
    CUdeviceptr d = 0;
    unsigned char host[4096] = {0};
    (void)setup(&d, 1 << 20);
    round_trip("round_trip_before_wait", d, 1);
    printf("READY\n");
    fflush(stdout);
    char line[64];
    if (fgets(line, sizeof(line), stdin) == NULL)
        return 3;
    double t0 = now_ms();
    CUresult r = cu.memcpy_dtoh(host, d, sizeof(host));
    printf("RESULT cuMemcpyDtoH %d %.0f\n", (int)r, now_ms() - t0);
    t0 = now_ms();
    size_t free_b = 0, total_b = 0;
    r = cu.mem_get_info(&free_b, &total_b);
    printf("RESULT cuMemGetInfo %d %.0f\n", (int)r, now_ms() - t0);
    t0 = now_ms();
    r = cu.memcpy_htod(d, host, sizeof(host));
    printf("RESULT cuMemcpyHtoD %d %.0f\n", (int)r, now_ms() - t0);
    printf("DONE\n");
    return 0;
}

static int init_only(void)
{
    double t0 = now_ms();
    CUresult r = cu.init(0);
    printf("RESULT cuInit %d %.0f\n", (int)r, now_ms() - t0);
    int count = -1;
    t0 = now_ms();
    r = cu.device_get_count(&count);
    printf("RESULT cuDeviceGetCount %d %.0f %d\n", (int)r, now_ms() - t0, count);
    printf("DONE\n");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: %s bad-handles|wait|init\n", argv[0]);
        return 2;
    }
    load_driver();
    if (strcmp(argv[1], "bad-handles") == 0)
        return bad_handles();
    if (strcmp(argv[1], "wait") == 0)
        return wait_then_call();
    if (strcmp(argv[1], "init") == 0)
        return init_only();
    fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[1]);
    return 2;
}
