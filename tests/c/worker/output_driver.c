/*
 * output_driver.c: a test-only driver for bf-worker that behaves like libbfemu.so (it forwards
 * every entry point to the driver named by BF_TEST_REAL_DRIVER) but writes to its process's fds 1
 * and 2 where a GPU driver flushes device output: cuCtxSynchronize writes a line to each, and
 * cuMemFree (a posted op) writes one to fd 1. tests/server/test_worker_output.py checks that these
 * bytes reach the client as OUTPUT frames, at the right moments, and that the worker's log does
 * not.
 */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef CUresult (*gpa_fn_t)(const char *, void **, int, cuuint64_t,
                             CUdriverProcAddressQueryResult *);

static gpa_fn_t real_gpa;
static PFN_cuCtxSynchronize_v13000 real_sync;
static PFN_cuMemFree_v3020 real_free;
static unsigned long sync_count;

static void say(int fd, const char *text)
{
    (void)!write(fd, text, strlen(text));
}

static CUresult wrap_sync(CUcontext ctx)
{
    char line[64];
    int n;

    CUresult res = real_sync(ctx);
    sync_count++;
    n = snprintf(line, sizeof(line), "printf from sync %lu\n", sync_count);
    (void)!write(1, line, (size_t)n);
    say(2, "assert message from sync\n");
    return res;
}

static CUresult wrap_free(CUdeviceptr dptr)
{
    say(1, "printf from free\n");
    return real_free(dptr);
}

__attribute__((visibility("default"))) CUresult
cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
                    CUdriverProcAddressQueryResult *status)
{
    if (real_gpa == NULL) {
        const char *path = getenv("BF_TEST_REAL_DRIVER");
        void *lib = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
        if (lib == NULL || (real_gpa = (gpa_fn_t)dlsym(lib, "cuGetProcAddress_v2")) == NULL)
            return CUDA_ERROR_NOT_INITIALIZED;
    }
    CUresult res = real_gpa(symbol, pfn, version, flags, status);
    if (res != CUDA_SUCCESS || *pfn == NULL)
        return res;
    if (strcmp(symbol, "cuCtxSynchronize") == 0) {
        real_sync = (PFN_cuCtxSynchronize_v13000)*pfn;
        *pfn = (void *)wrap_sync;
    } else if (strcmp(symbol, "cuMemFree") == 0) {
        real_free = (PFN_cuMemFree_v3020)*pfn;
        *pfn = (void *)wrap_free;
    }
    return res;
}
