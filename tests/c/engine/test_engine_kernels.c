/*
 * test_engine_kernels.c: kernels through libbf.so and a live worker, driver API only (no runtime,
 * no nvcc: the kernel is PTX text). Linked with libbf.so; run through a worker by
 * tests/engine/test_engine_kernels.py. One scenario per run:
 *
 *   faults   a kernel's illegal address is sticky: after the synchronisation reports it, every
 *            later call of the context, posted ones included (launch, async copy, memset, event
 *            record), returns it at once; cuDevicePrimaryCtxReset ends it and unloads the
 *            context's modules (their handles become invalid), after which work succeeds again;
 *   limits   cuCtxGetLimit/SetLimit, cuCtxGetCacheConfig/SetCacheConfig,
 *            cuCtxResetPersistingL2Cache, cuFuncGetModule;
 *   output   (with the worker's test driver, which writes a line to its stdout at every
 *            cuCtxSynchronize) the program's own lines and the driver's come out in call order,
 *            and a kernel launched just before exit gets its output flushed by the exit.
 *
 * Prints "PASS name" / "FAIL name: why" per check and a final line; exits 1 if any check failed.
 */
#include <cuda.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int checks, failed;

static void report(const char *name, int ok, long long want, long long got)
{
    checks++;
    if (ok) {
        printf("PASS %s\n", name);
    } else {
        failed++;
        printf("FAIL %s: expected %lld got %lld\n", name, want, got);
    }
}

#define EXPECT(name, call, want)                                                         \
    do {                                                                                 \
        CUresult got_ = (call);                                                          \
        report(name, got_ == (want), (long long)(want), (long long)got_);                \
    } while (0)
#define OK(name, call) EXPECT(name, call, CUDA_SUCCESS)
#define EQ(name, got, want) \
    report(name, (long long)(got) == (long long)(want), (long long)(want), (long long)(got))

/* fill(u32 *p, u32 v): p[tid.x] = v */
static const char PTX[] =
    ".version 7.5\n"
    ".target sm_75\n"
    ".address_size 64\n"
    ".visible .entry fill(.param .u64 fill_param_0, .param .u32 fill_param_1)\n"
    "{\n"
    "    .reg .b32 %r<3>;\n"
    "    .reg .b64 %rd<5>;\n"
    "    ld.param.u64 %rd1, [fill_param_0];\n"
    "    ld.param.u32 %r1, [fill_param_1];\n"
    "    cvta.to.global.u64 %rd2, %rd1;\n"
    "    mov.u32 %r2, %tid.x;\n"
    "    mul.wide.u32 %rd3, %r2, 4;\n"
    "    add.s64 %rd4, %rd2, %rd3;\n"
    "    st.global.u32 [%rd4], %r1;\n"
    "    ret;\n"
    "}\n";

static CUresult launch_fill(CUfunction f, CUdeviceptr p, unsigned int v, unsigned int threads,
                            CUstream stream)
{
    void *params[] = {&p, &v};
    return cuLaunchKernel(f, 1, 1, 1, threads, 1, 1, 0, stream, params, NULL);
}

static int setup(CUcontext *ctx, CUmodule *mod, CUfunction *f)
{
    if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(ctx, 0) != CUDA_SUCCESS ||
        cuCtxSetCurrent(*ctx) != CUDA_SUCCESS || cuModuleLoadData(mod, PTX) != CUDA_SUCCESS ||
        cuModuleGetFunction(f, *mod, "fill") != CUDA_SUCCESS) {
        printf("FAIL setup\n");
        return 1;
    }
    return 0;
}

static void scenario_faults(void)
{
    CUcontext ctx;
    CUmodule mod, mod2;
    CUfunction f, f2;
    CUdeviceptr buf, other;
    CUstream stream;
    CUevent event;
    uint32_t host[64];

    if (setup(&ctx, &mod, &f) != 0)
        return;
    OK("alloc", cuMemAlloc(&buf, sizeof(host)));
    OK("stream", cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    OK("event", cuEventCreate(&event, CU_EVENT_DEFAULT));
    OK("good_launch", launch_fill(f, buf, 7, 64, NULL));
    OK("good_sync", cuCtxSynchronize());

    /* Far outside every allocation: the kernel faults; the launch itself is posted. */
    OK("bad_launch_posted", launch_fill(f, (CUdeviceptr)0x10, 1, 1, NULL));
    EXPECT("sync_reports_fault", cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);

    /* Sticky: every later call on the context, posted ones included, at once. */
    EXPECT("sticky_launch", launch_fill(f, buf, 3, 64, NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_launch_stream", launch_fill(f, buf, 3, 64, stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_htod_async", cuMemcpyHtoDAsync(buf, host, sizeof(host), stream),
           CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_htod", cuMemcpyHtoD(buf, host, sizeof(host)), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_memset_async", cuMemsetD8Async(buf, 0, sizeof(host), stream),
           CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_event_record", cuEventRecord(event, stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_stream_sync", cuStreamSynchronize(stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_alloc", cuMemAlloc(&other, 64), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_dtoh", cuMemcpyDtoH(host, buf, sizeof(host)), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT("sticky_sync_again", cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);

    /* The reset ends it, and takes the context's modules with it. */
    OK("reset", cuDevicePrimaryCtxReset(0));
    OK("retain_again", cuDevicePrimaryCtxRetain(&ctx, 0));
    OK("set_current_again", cuCtxSetCurrent(ctx));
    OK("sync_after_reset", cuCtxSynchronize());
    OK("alloc_after_reset", cuMemAlloc(&buf, sizeof(host)));
    EXPECT("old_module_invalid", cuModuleGetFunction(&f2, mod, "fill"), CUDA_ERROR_INVALID_HANDLE);
    EXPECT("old_function_invalid", launch_fill(f, buf, 5, 64, NULL), CUDA_ERROR_INVALID_HANDLE);
    EXPECT("old_module_unload_invalid", cuModuleUnload(mod), CUDA_ERROR_INVALID_HANDLE);
    OK("load_again", cuModuleLoadData(&mod2, PTX));
    OK("get_function_again", cuModuleGetFunction(&f2, mod2, "fill"));
    OK("launch_after_reset", launch_fill(f2, buf, 9, 64, NULL));
    memset(host, 0, sizeof(host));
    OK("dtoh_after_reset", cuMemcpyDtoH(host, buf, sizeof(host)));
    EQ("data_after_reset", host[0] == 9 && host[63] == 9, 1);
    OK("unload", cuModuleUnload(mod2));
    OK("free", cuMemFree(buf));
}

static void scenario_limits(void)
{
    CUcontext ctx;
    CUmodule mod, got_mod;
    CUfunction f;
    CUfunc_cache config = (CUfunc_cache)-1;
    size_t value = 0;

    if (setup(&ctx, &mod, &f) != 0)
        return;
    OK("get_stack", cuCtxGetLimit(&value, CU_LIMIT_STACK_SIZE));
    EQ("stack_default", value, 1024);
    OK("get_printf_fifo", cuCtxGetLimit(&value, CU_LIMIT_PRINTF_FIFO_SIZE));
    EQ("printf_fifo_default", value, 1048576);
    OK("get_heap", cuCtxGetLimit(&value, CU_LIMIT_MALLOC_HEAP_SIZE));
    EQ("heap_default", value, 8388608);
    OK("set_stack", cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096));
    OK("get_stack_set", cuCtxGetLimit(&value, CU_LIMIT_STACK_SIZE));
    EQ("stack_set", value >= 4096, 1);
    OK("set_printf_fifo", cuCtxSetLimit(CU_LIMIT_PRINTF_FIFO_SIZE, 2 << 20));
    OK("get_printf_fifo_set", cuCtxGetLimit(&value, CU_LIMIT_PRINTF_FIFO_SIZE));
    EQ("printf_fifo_set", value, 2 << 20);
    EXPECT("get_limit_null", cuCtxGetLimit(NULL, CU_LIMIT_STACK_SIZE), CUDA_ERROR_INVALID_VALUE);
    EXPECT("get_limit_bad", cuCtxGetLimit(&value, CU_LIMIT_MAX), CUDA_ERROR_INVALID_VALUE);
    EXPECT("set_limit_bad", cuCtxSetLimit(CU_LIMIT_MAX, 1), CUDA_ERROR_INVALID_VALUE);

    OK("get_cache_config", cuCtxGetCacheConfig(&config));
    EQ("cache_config_default", config, CU_FUNC_CACHE_PREFER_NONE);
    OK("set_cache_config", cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED));
    OK("get_cache_config_set", cuCtxGetCacheConfig(&config));
    EQ("cache_config_set", config, CU_FUNC_CACHE_PREFER_SHARED);
    EXPECT("set_cache_config_bad", cuCtxSetCacheConfig((CUfunc_cache)7), CUDA_ERROR_INVALID_VALUE);
    EXPECT("get_cache_config_null", cuCtxGetCacheConfig(NULL), CUDA_ERROR_INVALID_VALUE);
    OK("reset_persisting_l2", cuCtxResetPersistingL2Cache());

    OK("func_get_module", cuFuncGetModule(&got_mod, f));
    EQ("func_get_module_same", got_mod == mod, 1);
    EXPECT("func_get_module_null", cuFuncGetModule(NULL, f), CUDA_ERROR_INVALID_VALUE);
    EXPECT("func_get_module_bad", cuFuncGetModule(&got_mod, (CUfunction)&value),
           CUDA_ERROR_INVALID_HANDLE);

    /* A library's kernels live in a module of the context: a view that shares them. */
    CUlibrary lib;
    CUkernel kern;
    CUfunction lf, lf2;
    CUmodule lmod, lmod2, lmod_after;
    OK("library_load", cuLibraryLoadData(&lib, PTX, NULL, NULL, 0, NULL, NULL, 0));
    OK("library_get_kernel", cuLibraryGetKernel(&kern, lib, "fill"));
    OK("kernel_get_function", cuKernelGetFunction(&lf, kern));
    OK("library_func_get_module", cuFuncGetModule(&lmod, lf));
    OK("library_get_module", cuLibraryGetModule(&lmod2, lib));
    EQ("library_module_same", lmod == lmod2, 1);
    EQ("library_module_not_library", (void *)lmod != (void *)lib, 1);
    OK("library_module_get_function", cuModuleGetFunction(&lf2, lmod, "fill"));
    EQ("library_module_function_same", lf2 == lf, 1);
    EXPECT("library_module_unload_refused", cuModuleUnload(lmod), CUDA_ERROR_NOT_PERMITTED);

    /* A reset forgets what was set: the defaults again. */
    OK("reset", cuDevicePrimaryCtxReset(0));
    OK("retain_again", cuDevicePrimaryCtxRetain(&ctx, 0));
    OK("get_stack_after_reset", cuCtxGetLimit(&value, CU_LIMIT_STACK_SIZE));
    EQ("stack_after_reset", value, 1024);
    OK("get_cache_config_after_reset", cuCtxGetCacheConfig(&config));
    EQ("cache_config_after_reset", config, CU_FUNC_CACHE_PREFER_NONE);
    OK("set_current_after_reset", cuCtxSetCurrent(ctx));
    /* The library survives the reset, its module of the old context does not. */
    EXPECT("library_module_gone", cuModuleGetFunction(&lf2, lmod, "fill"), CUDA_ERROR_INVALID_HANDLE);
    OK("library_get_module_after_reset", cuLibraryGetModule(&lmod_after, lib));
    OK("library_module_get_function_after_reset", cuModuleGetFunction(&lf2, lmod_after, "fill"));
    OK("library_unload", cuLibraryUnload(lib));
    EXPECT("library_module_gone_with_library", cuModuleGetFunction(&lf2, lmod_after, "fill"),
           CUDA_ERROR_INVALID_HANDLE);
}

static void scenario_output(void)
{
    CUcontext ctx;
    CUmodule mod;
    CUfunction f;
    CUdeviceptr buf;

    if (setup(&ctx, &mod, &f) != 0)
        return;
    printf("program line 1\n");
    OK("sync", cuCtxSynchronize());
    printf("program line 2\n");
    OK("alloc", cuMemAlloc(&buf, 256));
    OK("launch", launch_fill(f, buf, 1, 64, NULL));
    printf("program line 3\n");
    /* No synchronisation: the exit flushes the launch's output. */
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";

    setvbuf(stdout, NULL, _IOFBF, 1 << 16);  /* as through a pipe: order must hold all the same */
    if (strcmp(which, "faults") == 0)
        scenario_faults();
    else if (strcmp(which, "limits") == 0)
        scenario_limits();
    else if (strcmp(which, "output") == 0)
        scenario_output();
    else {
        fprintf(stderr, "usage: %s faults|limits|output\n", argv[0]);
        return 2;
    }
    printf("%s kernels %s: %d checks, %d failed\n", failed ? "FAIL" : "PASS", which, checks, failed);
    return failed ? 1 : 0;
}
