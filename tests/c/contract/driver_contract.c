/*
 * driver_contract.c: the driver-contract suite.
 *
 * Usage: driver_contract LIBRARY
 *
 * Loads LIBRARY (anything that claims to be libcuda.so.1: NVIDIA's driver, openbf's emulator
 * libbfemu.so, or openbf's front libbf.so talking to a worker), resolves every entry point through
 * the library's own cuGetProcAddress_v2 at CUDA version 13000, as bf-worker and cudart do, checks
 * that the versioned names are also real exports, and exercises devices, contexts and memory with
 * assertions on results and on error codes. One line per check, "PASS name" or
 * "FAIL name: expected X got Y"; the exit status is 1 when any check failed.
 *
 * The same program must pass unchanged against NVIDIA's driver, so it asserts only what that
 * driver does: no device names, sizes or limits particular to the emulator. Where the real driver
 * is known to be loose (small overruns inside its 2 MiB suballocation pages are not detected), the
 * out-of-range checks overrun by far more than any neighbouring allocation could cover.
 */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "module_images.h"
#include <time.h>

#define API_VERSION 13000
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* Entry points asked for at API_VERSION with CU_GET_PROC_ADDRESS_DEFAULT: X(slot, PFN type). The
 * name asked for is "cu" #slot. */
#define CONTRACT_ENTRIES(X)                                              \
    X(Init, PFN_cuInit_v2000)                                            \
    X(DriverGetVersion, PFN_cuDriverGetVersion_v2020)                    \
    X(GetErrorName, PFN_cuGetErrorName_v6000)                            \
    X(GetErrorString, PFN_cuGetErrorString_v6000)                        \
    X(DeviceGetCount, PFN_cuDeviceGetCount_v2000)                        \
    X(DeviceGet, PFN_cuDeviceGet_v2000)                                  \
    X(DeviceGetName, PFN_cuDeviceGetName_v2000)                          \
    X(DeviceGetUuid, PFN_cuDeviceGetUuid_v11040)                         \
    X(DeviceTotalMem, PFN_cuDeviceTotalMem_v3020)                        \
    X(DeviceGetAttribute, PFN_cuDeviceGetAttribute_v2000)                \
    X(DeviceGetPCIBusId, PFN_cuDeviceGetPCIBusId_v4010)                  \
    X(DeviceGetByPCIBusId, PFN_cuDeviceGetByPCIBusId_v4010)              \
    X(DeviceComputeCapability, PFN_cuDeviceComputeCapability_v2000)      \
    X(DevicePrimaryCtxRetain, PFN_cuDevicePrimaryCtxRetain_v7000)        \
    X(DevicePrimaryCtxRelease, PFN_cuDevicePrimaryCtxRelease_v11000)     \
    X(DevicePrimaryCtxReset, PFN_cuDevicePrimaryCtxReset_v11000)         \
    X(DevicePrimaryCtxSetFlags, PFN_cuDevicePrimaryCtxSetFlags_v11000)   \
    X(DevicePrimaryCtxGetState, PFN_cuDevicePrimaryCtxGetState_v7000)    \
    X(CtxGetCurrent, PFN_cuCtxGetCurrent_v4000)                          \
    X(CtxSetCurrent, PFN_cuCtxSetCurrent_v4000)                          \
    X(CtxPushCurrent, PFN_cuCtxPushCurrent_v4000)                        \
    X(CtxPopCurrent, PFN_cuCtxPopCurrent_v4000)                          \
    X(CtxGetDevice, PFN_cuCtxGetDevice_v13000)                           \
    X(CtxSynchronize, PFN_cuCtxSynchronize_v13000)                       \
    X(CtxGetApiVersion, PFN_cuCtxGetApiVersion_v3020)                    \
    X(CtxGetFlags, PFN_cuCtxGetFlags_v7000)                              \
    X(MemAlloc, PFN_cuMemAlloc_v3020)                                    \
    X(MemAllocPitch, PFN_cuMemAllocPitch_v3020)                          \
    X(MemFree, PFN_cuMemFree_v3020)                                      \
    X(MemGetInfo, PFN_cuMemGetInfo_v3020)                                \
    X(MemGetAddressRange, PFN_cuMemGetAddressRange_v3020)                \
    X(Memcpy, PFN_cuMemcpy_v4000)                                        \
    X(MemcpyHtoD, PFN_cuMemcpyHtoD_v3020)                                \
    X(MemcpyDtoH, PFN_cuMemcpyDtoH_v3020)                                \
    X(MemcpyDtoD, PFN_cuMemcpyDtoD_v3020)                                \
    X(Memcpy2D, PFN_cuMemcpy2D_v3020)                                    \
    X(Memcpy2DUnaligned, PFN_cuMemcpy2DUnaligned_v3020)                  \
    X(MemsetD8, PFN_cuMemsetD8_v3020)                                    \
    X(MemsetD16, PFN_cuMemsetD16_v3020)                                  \
    X(MemsetD32, PFN_cuMemsetD32_v3020)                                  \
    X(MemsetD2D8, PFN_cuMemsetD2D8_v3020)                                \
    X(MemsetD2D16, PFN_cuMemsetD2D16_v3020)                              \
    X(MemsetD2D32, PFN_cuMemsetD2D32_v3020)                              \
    X(PointerGetAttribute, PFN_cuPointerGetAttribute_v4000)              \
    X(PointerGetAttributes, PFN_cuPointerGetAttributes_v7000)            \
    X(CtxGetStreamPriorityRange, PFN_cuCtxGetStreamPriorityRange_v5050)  \
    X(StreamCreate, PFN_cuStreamCreate_v2000)                            \
    X(StreamCreateWithPriority, PFN_cuStreamCreateWithPriority_v5050)    \
    X(StreamDestroy, PFN_cuStreamDestroy_v4000)                          \
    X(StreamSynchronize, PFN_cuStreamSynchronize_v2000)                  \
    X(StreamQuery, PFN_cuStreamQuery_v2000)                              \
    X(StreamWaitEvent, PFN_cuStreamWaitEvent_v3020)                      \
    X(StreamGetFlags, PFN_cuStreamGetFlags_v5050)                        \
    X(StreamGetPriority, PFN_cuStreamGetPriority_v5050)                  \
    X(StreamGetCtx, PFN_cuStreamGetCtx_v12050)                           \
    X(StreamGetId, PFN_cuStreamGetId_v12000)                             \
    X(StreamGetDevice, PFN_cuStreamGetDevice_v12080)                     \
    X(EventCreate, PFN_cuEventCreate_v2000)                              \
    X(EventRecord, PFN_cuEventRecord_v2000)                              \
    X(EventRecordWithFlags, PFN_cuEventRecordWithFlags_v11010)           \
    X(EventQuery, PFN_cuEventQuery_v2000)                                \
    X(EventSynchronize, PFN_cuEventSynchronize_v2000)                    \
    X(EventDestroy, PFN_cuEventDestroy_v4000)                            \
    X(EventElapsedTime, PFN_cuEventElapsedTime_v12080)                   \
    X(MemAllocHost, PFN_cuMemAllocHost_v3020)                            \
    X(MemHostAlloc, PFN_cuMemHostAlloc_v2020)                            \
    X(MemFreeHost, PFN_cuMemFreeHost_v2000)                              \
    X(MemHostGetFlags, PFN_cuMemHostGetFlags_v2030)                      \
    X(MemHostGetDevicePointer, PFN_cuMemHostGetDevicePointer_v3020)      \
    X(MemcpyAsync, PFN_cuMemcpyAsync_v4000)                              \
    X(MemcpyHtoDAsync, PFN_cuMemcpyHtoDAsync_v3020)                      \
    X(MemcpyDtoHAsync, PFN_cuMemcpyDtoHAsync_v3020)                      \
    X(MemcpyDtoDAsync, PFN_cuMemcpyDtoDAsync_v3020)                      \
    X(Memcpy2DAsync, PFN_cuMemcpy2DAsync_v3020)                          \
    X(MemsetD8Async, PFN_cuMemsetD8Async_v3020)                          \
    X(MemsetD16Async, PFN_cuMemsetD16Async_v3020)                        \
    X(MemsetD32Async, PFN_cuMemsetD32Async_v3020)                        \
    X(MemsetD2D8Async, PFN_cuMemsetD2D8Async_v3020)                      \
    X(MemsetD2D16Async, PFN_cuMemsetD2D16Async_v3020)                    \
    X(MemsetD2D32Async, PFN_cuMemsetD2D32Async_v3020)                    \
    X(MemcpyPeer, PFN_cuMemcpyPeer_v4000)                                \
    X(MemcpyPeerAsync, PFN_cuMemcpyPeerAsync_v4000)

/* The per-thread default stream variants, asked for with CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM. */
#define CONTRACT_PTDS_ENTRIES(X)                                         \
    X(Memcpy, PFN_cuMemcpy_v7000_ptds)                                   \
    X(MemcpyHtoD, PFN_cuMemcpyHtoD_v7000_ptds)                           \
    X(MemcpyDtoH, PFN_cuMemcpyDtoH_v7000_ptds)                           \
    X(MemcpyDtoD, PFN_cuMemcpyDtoD_v7000_ptds)                           \
    X(Memcpy2D, PFN_cuMemcpy2D_v7000_ptds)                               \
    X(Memcpy2DUnaligned, PFN_cuMemcpy2DUnaligned_v7000_ptds)             \
    X(MemsetD8, PFN_cuMemsetD8_v7000_ptds)                               \
    X(MemsetD16, PFN_cuMemsetD16_v7000_ptds)                             \
    X(MemsetD32, PFN_cuMemsetD32_v7000_ptds)                             \
    X(MemsetD2D8, PFN_cuMemsetD2D8_v7000_ptds)                           \
    X(MemsetD2D16, PFN_cuMemsetD2D16_v7000_ptds)                         \
    X(MemsetD2D32, PFN_cuMemsetD2D32_v7000_ptds)                         \
    X(StreamSynchronize, PFN_cuStreamSynchronize_v7000_ptsz)             \
    X(StreamQuery, PFN_cuStreamQuery_v7000_ptsz)                         \
    X(StreamWaitEvent, PFN_cuStreamWaitEvent_v7000_ptsz)                 \
    X(StreamGetFlags, PFN_cuStreamGetFlags_v7000_ptsz)                   \
    X(StreamGetPriority, PFN_cuStreamGetPriority_v7000_ptsz)             \
    X(StreamGetCtx, PFN_cuStreamGetCtx_v12050_ptsz)                      \
    X(StreamGetId, PFN_cuStreamGetId_v12000_ptsz)                        \
    X(StreamGetDevice, PFN_cuStreamGetDevice_v12080_ptsz)                \
    X(EventRecord, PFN_cuEventRecord_v7000_ptsz)                         \
    X(EventRecordWithFlags, PFN_cuEventRecordWithFlags_v11010_ptsz)      \
    X(MemcpyAsync, PFN_cuMemcpyAsync_v7000_ptsz)                         \
    X(MemcpyHtoDAsync, PFN_cuMemcpyHtoDAsync_v7000_ptsz)                 \
    X(MemcpyDtoHAsync, PFN_cuMemcpyDtoHAsync_v7000_ptsz)                 \
    X(MemcpyDtoDAsync, PFN_cuMemcpyDtoDAsync_v7000_ptsz)                 \
    X(Memcpy2DAsync, PFN_cuMemcpy2DAsync_v7000_ptsz)                     \
    X(MemsetD8Async, PFN_cuMemsetD8Async_v7000_ptsz)                     \
    X(MemsetD16Async, PFN_cuMemsetD16Async_v7000_ptsz)                   \
    X(MemsetD32Async, PFN_cuMemsetD32Async_v7000_ptsz)                   \
    X(MemsetD2D8Async, PFN_cuMemsetD2D8Async_v7000_ptsz)                 \
    X(MemsetD2D16Async, PFN_cuMemsetD2D16Async_v7000_ptsz)               \
    X(MemsetD2D32Async, PFN_cuMemsetD2D32Async_v7000_ptsz)               \
    X(MemcpyPeer, PFN_cuMemcpyPeer_v7000_ptds)                           \
    X(MemcpyPeerAsync, PFN_cuMemcpyPeerAsync_v7000_ptsz)

/* Names every libcuda.so.1 of CUDA 13 exports as real dynamic symbols (direct callers, Numba). */
static const char *const exported_names[] = {
    "cuGetProcAddress", "cuGetProcAddress_v2", "cuGetErrorString", "cuGetErrorName", "cuInit",
    "cuDriverGetVersion", "cuDeviceGet", "cuDeviceGetCount", "cuDeviceGetName", "cuDeviceGetUuid",
    "cuDeviceGetUuid_v2", "cuDeviceTotalMem_v2", "cuDeviceGetAttribute", "cuDeviceGetPCIBusId",
    "cuDeviceGetByPCIBusId", "cuDeviceComputeCapability", "cuDevicePrimaryCtxRetain",
    "cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxReset",
    "cuDevicePrimaryCtxReset_v2", "cuDevicePrimaryCtxSetFlags", "cuDevicePrimaryCtxSetFlags_v2",
    "cuDevicePrimaryCtxGetState", "cuCtxGetCurrent", "cuCtxSetCurrent", "cuCtxPushCurrent",
    "cuCtxPushCurrent_v2", "cuCtxPopCurrent", "cuCtxPopCurrent_v2", "cuCtxGetDevice", "cuCtxGetDevice_v2",
    "cuCtxSynchronize", "cuCtxSynchronize_v2", "cuCtxGetApiVersion", "cuCtxGetFlags", "cuMemAlloc_v2",
    "cuMemAllocPitch_v2", "cuMemFree_v2", "cuMemGetInfo_v2", "cuMemGetAddressRange_v2", "cuMemcpy",
    "cuMemcpy_ptds", "cuMemcpyHtoD_v2", "cuMemcpyHtoD_v2_ptds", "cuMemcpyDtoH_v2", "cuMemcpyDtoH_v2_ptds",
    "cuMemcpyDtoD_v2", "cuMemcpyDtoD_v2_ptds", "cuMemcpy2D_v2", "cuMemcpy2D_v2_ptds",
    "cuMemcpy2DUnaligned_v2", "cuMemcpy2DUnaligned_v2_ptds", "cuMemsetD8_v2", "cuMemsetD8_v2_ptds",
    "cuMemsetD16_v2", "cuMemsetD16_v2_ptds", "cuMemsetD32_v2", "cuMemsetD32_v2_ptds", "cuMemsetD2D8_v2",
    "cuMemsetD2D8_v2_ptds", "cuMemsetD2D16_v2", "cuMemsetD2D16_v2_ptds", "cuMemsetD2D32_v2",
    "cuMemsetD2D32_v2_ptds", "cuPointerGetAttribute", "cuPointerGetAttributes",
    "cuModuleLoadData", "cuModuleUnload", "cuModuleGetFunction", "cuModuleGetGlobal_v2", "cuLibraryLoadData",
    "cuLibraryGetKernel", "cuKernelGetParamInfo", "cuFuncGetAttribute", "cuLaunchKernel", "cuLaunchKernel_ptsz",
    "cuLaunchKernelEx", "cuLaunchKernelEx_ptsz",
    "cuCtxGetStreamPriorityRange", "cuStreamCreate", "cuStreamCreateWithPriority", "cuStreamDestroy_v2",
    "cuStreamSynchronize", "cuStreamSynchronize_ptsz", "cuStreamQuery", "cuStreamQuery_ptsz", "cuStreamWaitEvent",
    "cuStreamWaitEvent_ptsz", "cuStreamGetFlags", "cuStreamGetFlags_ptsz", "cuStreamGetPriority",
    "cuStreamGetPriority_ptsz", "cuStreamGetCtx", "cuStreamGetCtx_ptsz", "cuStreamGetCtx_v2", "cuStreamGetCtx_v2_ptsz",
    "cuStreamGetId", "cuStreamGetId_ptsz", "cuStreamGetDevice", "cuStreamGetDevice_ptsz", "cuEventCreate",
    "cuEventRecord", "cuEventRecord_ptsz", "cuEventRecordWithFlags", "cuEventRecordWithFlags_ptsz", "cuEventQuery",
    "cuEventSynchronize", "cuEventDestroy_v2", "cuEventElapsedTime", "cuEventElapsedTime_v2", "cuMemAllocHost_v2",
    "cuMemHostAlloc", "cuMemFreeHost", "cuMemHostGetFlags", "cuMemHostGetDevicePointer_v2", "cuMemcpyAsync",
    "cuMemcpyAsync_ptsz", "cuMemcpyHtoDAsync_v2", "cuMemcpyHtoDAsync_v2_ptsz", "cuMemcpyDtoHAsync_v2",
    "cuMemcpyDtoHAsync_v2_ptsz", "cuMemcpyDtoDAsync_v2", "cuMemcpyDtoDAsync_v2_ptsz", "cuMemcpy2DAsync_v2",
    "cuMemcpy2DAsync_v2_ptsz", "cuMemsetD8Async", "cuMemsetD8Async_ptsz", "cuMemsetD16Async", "cuMemsetD16Async_ptsz",
    "cuMemsetD32Async", "cuMemsetD32Async_ptsz", "cuMemsetD2D8Async", "cuMemsetD2D8Async_ptsz", "cuMemsetD2D16Async",
    "cuMemsetD2D16Async_ptsz", "cuMemsetD2D32Async", "cuMemsetD2D32Async_ptsz", "cuMemcpyPeer", "cuMemcpyPeer_ptds",
    "cuMemcpyPeerAsync", "cuMemcpyPeerAsync_ptsz",
};

static struct {
#define SLOT(slot, pfn) pfn slot;
    CONTRACT_ENTRIES(SLOT)
#undef SLOT
} cu;

static struct {
#define SLOT(slot, pfn) pfn slot;
    CONTRACT_PTDS_ENTRIES(SLOT)
#undef SLOT
} ptds;

static void *library;
static PFN_cuGetProcAddress_v12000 get_proc;
static CUdevice dev;
static CUcontext ctx;
static int passed, failed, skipped;

/* --- reporting --------------------------------------------------------------------------------- */

static void pass(const char *name)
{
    printf("PASS %s\n", name);
    passed++;
}

static void __attribute__((format(printf, 2, 3))) fail(const char *name, const char *fmt, ...)
{
    va_list ap;

    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    failed++;
}

static void skip(const char *name, const char *why)
{
    printf("SKIP %s: %s\n", name, why);
    skipped++;
}

/* A result's name, from the library itself when it can tell; rotating buffers for unknown values. */
static const char *rname(CUresult result)
{
    static char buffers[4][32];
    static int next;
    const char *name = NULL;

    if (cu.GetErrorName != NULL && cu.GetErrorName(result, &name) == CUDA_SUCCESS && name != NULL)
        return name;
    next = (next + 1) % 4;
    snprintf(buffers[next], sizeof(buffers[next]), "CUresult %d", (int)result);
    return buffers[next];
}

static bool expect_rc(const char *name, CUresult got, CUresult want)
{
    if (got == want) {
        pass(name);
        return true;
    }
    fail(name, "expected %s got %s", rname(want), rname(got));
    return false;
}

static bool expect_rc2(const char *name, CUresult got, CUresult want_a, CUresult want_b)
{
    if (got == want_a || got == want_b) {
        pass(name);
        return true;
    }
    fail(name, "expected %s or %s got %s", rname(want_a), rname(want_b), rname(got));
    return false;
}

static bool expect_u64(const char *name, uint64_t got, uint64_t want)
{
    if (got == want) {
        pass(name);
        return true;
    }
    fail(name, "expected %" PRIu64 " (0x%" PRIx64 ") got %" PRIu64 " (0x%" PRIx64 ")", want, want, got, got);
    return false;
}

static bool __attribute__((format(printf, 3, 4))) expect_true(const char *name, bool ok, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        pass(name);
        return true;
    }
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    failed++;
    return false;
}

/* Compares n bytes; reports the first difference. */
static bool expect_bytes(const char *name, const uint8_t *got, const uint8_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail(name, "expected byte %zu = 0x%02x got 0x%02x", i, want[i], got[i]);
            return false;
        }
    }
    pass(name);
    return true;
}

/*
 * Checks of calls that a driver may only stub: libbf.so refuses a family with
 * CUDA_ERROR_NOT_SUPPORTED until its client side is written. Such a result, where the check expects
 * anything else, is a SKIP line rather than a FAIL; tests/emulator/test_driver_contract.py allows no
 * SKIP for the emulator, so a regression there still fails. Returns true when the check ran and
 * passed, so that checks of the values it produced run only then.
 */
static bool expect_call(const char *name, CUresult got, CUresult want)
{
    if (got == CUDA_ERROR_NOT_SUPPORTED && want != CUDA_ERROR_NOT_SUPPORTED) {
        skip(name, "the driver returns CUDA_ERROR_NOT_SUPPORTED");
        return false;
    }
    return expect_rc(name, got, want);
}

static bool expect_call2(const char *name, CUresult got, CUresult want_a, CUresult want_b)
{
    if (got == CUDA_ERROR_NOT_SUPPORTED && want_a != CUDA_ERROR_NOT_SUPPORTED && want_b != CUDA_ERROR_NOT_SUPPORTED) {
        skip(name, "the driver returns CUDA_ERROR_NOT_SUPPORTED");
        return false;
    }
    return expect_rc2(name, got, want_a, want_b);
}

/* The first call of a family: when the driver refuses it, every check of the family is skipped
 * with one line instead of failing one by one. */
static bool family_supported(const char *family, const char *call, CUresult result)
{
    char why[160];

    if (result != CUDA_ERROR_NOT_SUPPORTED)
        return true;
    snprintf(why, sizeof(why), "%s returns CUDA_ERROR_NOT_SUPPORTED: the family is skipped", call);
    skip(family, why);
    return false;
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed * 17 + (i >> 8));
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        fprintf(stderr, "driver_contract: out of host memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

/* A host buffer that is never meant to be read or written: the out-of-range checks pass it with a
 * length the device side cannot hold. Reserved without backing, so it costs nothing. */
static void *lazy_host(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (p == MAP_FAILED) {
        fprintf(stderr, "driver_contract: cannot reserve %zu bytes of host address space\n", n);
        exit(2);
    }
    return p;
}

/* --- loading ----------------------------------------------------------------------------------- */

static bool resolve(const char *name, int version, cuuint64_t flags, void **fn_p)
{
    CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    char check[128];
    CUresult result;

    *fn_p = NULL;
    result = get_proc(name, fn_p, version, flags, &status);
    snprintf(check, sizeof(check), "resolve.%s%s", name, flags ? ".per_thread" : "");
    return expect_true(check, result == CUDA_SUCCESS && status == CU_GET_PROC_ADDRESS_SUCCESS && *fn_p != NULL,
                       "expected CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS and a function got %s, status %d, %p",
                       rname(result), (int)status, *fn_p);
}

static bool load(const char *path)
{
    bool all = true;

    library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!expect_true("load.dlopen", library != NULL, "expected the library to load got %s", dlerror()))
        return false;
    get_proc = (PFN_cuGetProcAddress_v12000)dlsym(library, "cuGetProcAddress_v2");
    if (!expect_true("load.cuGetProcAddress_v2", get_proc != NULL, "expected the symbol got %s", dlerror()))
        return false;

    /* Resolve the error-name entry first so that later messages can use it. */
    (void)get_proc("cuGetErrorName", (void **)&cu.GetErrorName, API_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, NULL);
#define RESOLVE(slot, pfn) all &= resolve("cu" #slot, API_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, (void **)&cu.slot);
    CONTRACT_ENTRIES(RESOLVE)
#undef RESOLVE
#define RESOLVE_PTDS(slot, pfn) \
    all &= resolve("cu" #slot, API_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, (void **)&ptds.slot);
    CONTRACT_PTDS_ENTRIES(RESOLVE_PTDS)
#undef RESOLVE_PTDS
    return all;
}

static void check_exports(void)
{
    char name[128];

    for (size_t i = 0; i < sizeof(exported_names) / sizeof(exported_names[0]); i++) {
        void *fn = dlsym(library, exported_names[i]);
        snprintf(name, sizeof(name), "export.%s", exported_names[i]);
        expect_true(name, fn != NULL, "expected a dynamic symbol got none");
    }
}

static void check_get_proc_address(void)
{
    CUdriverProcAddressQueryResult status;
    void *fn;
    CUresult result;

    /* cudart's first lookup: any answer will do, but it must not crash. */
    fn = (void *)1;
    (void)get_proc("", &fn, 0, 0, NULL);
    pass("gpa.empty_probe");

    fn = (void *)1;
    status = CU_GET_PROC_ADDRESS_SUCCESS;
    result = get_proc("cuNoSuchFunctionInAnyDriver", &fn, API_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &status);
    /* cuda.h says success with NULL; some drivers answer CUDA_ERROR_NOT_FOUND, which cudart accepts. */
    expect_rc2("gpa.unknown_name.result", result, CUDA_SUCCESS, CUDA_ERROR_NOT_FOUND);
    expect_true("gpa.unknown_name.null", fn == NULL, "expected NULL got %p", fn);
    expect_u64("gpa.unknown_name.status", status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);

    expect_rc("gpa.null_pfn", get_proc("cuInit", NULL, API_VERSION, 0, NULL), CUDA_ERROR_INVALID_VALUE);

    fn = (void *)1;
    status = CU_GET_PROC_ADDRESS_SUCCESS;
    result = get_proc("cuMemAlloc", &fn, 1000, CU_GET_PROC_ADDRESS_DEFAULT, &status);
    expect_rc("gpa.version_too_old.result", result, CUDA_SUCCESS);
    expect_true("gpa.version_too_old.null", fn == NULL, "expected NULL got %p", fn);
    expect_u64("gpa.version_too_old.status", status, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);

    /* A name without a per-thread variant falls back to the legacy one. */
    fn = NULL;
    status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    result = get_proc("cuMemAlloc", &fn, API_VERSION, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &status);
    expect_true("gpa.per_thread_fallback", result == CUDA_SUCCESS && fn != NULL &&
                                               status == CU_GET_PROC_ADDRESS_SUCCESS,
                "expected a function got %s, %p, status %d", rname(result), fn, (int)status);
}

/* --- before cuInit ----------------------------------------------------------------------------- */

static void check_before_init(void)
{
    int version = 0, count = -1;
    const char *text = NULL;
    CUdevice d;
    CUdeviceptr p;
    CUcontext c;
    CUresult result;

    expect_rc("preinit.driver_version", cu.DriverGetVersion(&version), CUDA_SUCCESS);
    expect_true("preinit.driver_version_13", version >= 13000, "expected >= 13000 got %d", version);
    expect_rc("preinit.error_name", cu.GetErrorName(CUDA_ERROR_INVALID_VALUE, &text), CUDA_SUCCESS);
    expect_true("preinit.error_name_text", text != NULL && strcmp(text, "CUDA_ERROR_INVALID_VALUE") == 0,
                "expected CUDA_ERROR_INVALID_VALUE got %s", text ? text : "(null)");
    text = NULL;
    expect_rc("preinit.error_string", cu.GetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &text), CUDA_SUCCESS);
    expect_true("preinit.error_string_text", text != NULL && text[0] != '\0', "expected a text got %s",
                text ? "an empty string" : "(null)");
    text = (const char *)1;
    expect_rc("preinit.error_name_unknown", cu.GetErrorName((CUresult)123456, &text), CUDA_ERROR_INVALID_VALUE);
    expect_true("preinit.error_name_unknown_null", text == NULL, "expected NULL got %p", (const void *)text);

    /* Only meaningful if nobody in this process called cuInit yet: this program has not. */
    result = cu.DeviceGetCount(&count);
    if (result == CUDA_SUCCESS) {
        skip("preinit.not_initialized", "the library was already initialised in this process");
        return;
    }
    expect_rc("preinit.device_get_count", result, CUDA_ERROR_NOT_INITIALIZED);
    expect_rc("preinit.device_get", cu.DeviceGet(&d, 0), CUDA_ERROR_NOT_INITIALIZED);
    expect_rc("preinit.ctx_get_current", cu.CtxGetCurrent(&c), CUDA_ERROR_NOT_INITIALIZED);
    expect_rc("preinit.mem_alloc", cu.MemAlloc(&p, 4096), CUDA_ERROR_NOT_INITIALIZED);
    expect_rc("preinit.primary_ctx_retain", cu.DevicePrimaryCtxRetain(&c, 0), CUDA_ERROR_NOT_INITIALIZED);
}

/* --- devices ----------------------------------------------------------------------------------- */

static int attribute(CUdevice_attribute a)
{
    int value = -1;

    (void)cu.DeviceGetAttribute(&value, a, dev);
    return value;
}

static void check_devices(void)
{
    int count = 0, value = 0, major = -1, minor = -1;
    char name[256], bus_id[64];
    CUuuid uuid_a, uuid_b;
    PFN_cuDeviceGetUuid_v9020 uuid_legacy = NULL;
    size_t total = 0;
    CUdevice other;
    bool all_attributes = true;

    expect_rc("device.count", cu.DeviceGetCount(&count), CUDA_SUCCESS);
    expect_true("device.count_positive", count >= 1, "expected >= 1 got %d", count);
    expect_rc("device.get_0", cu.DeviceGet(&dev, 0), CUDA_SUCCESS);
    expect_rc("device.get_out_of_range", cu.DeviceGet(&other, count), CUDA_ERROR_INVALID_DEVICE);
    expect_rc("device.get_negative", cu.DeviceGet(&other, -1), CUDA_ERROR_INVALID_DEVICE);

    memset(name, 0, sizeof(name));
    expect_rc("device.name", cu.DeviceGetName(name, sizeof(name), dev), CUDA_SUCCESS);
    expect_true("device.name_nonempty", name[0] != '\0', "expected a name got an empty string");
    expect_rc("device.name_bad_device", cu.DeviceGetName(name, sizeof(name), count), CUDA_ERROR_INVALID_DEVICE);
    expect_rc("device.name_null", cu.DeviceGetName(NULL, sizeof(name), dev), CUDA_ERROR_INVALID_VALUE);

    memset(&uuid_a, 0, sizeof(uuid_a));
    memset(&uuid_b, 0xff, sizeof(uuid_b));
    expect_rc("device.uuid", cu.DeviceGetUuid(&uuid_a, dev), CUDA_SUCCESS);
    if (get_proc("cuDeviceGetUuid", (void **)&uuid_legacy, 9020, 0, NULL) == CUDA_SUCCESS && uuid_legacy) {
        expect_rc("device.uuid_legacy", uuid_legacy(&uuid_b, dev), CUDA_SUCCESS);
        expect_true("device.uuid_same", memcmp(&uuid_a, &uuid_b, sizeof(uuid_a)) == 0,
                    "expected the 9020 and 11040 UUIDs to agree");
    } else {
        fail("device.uuid_legacy", "expected cuDeviceGetUuid at 9020 got nothing");
    }
    {
        static const CUuuid zero;
        expect_true("device.uuid_nonzero", memcmp(&uuid_a, &zero, sizeof(zero)) != 0, "expected a UUID got zeros");
    }
    expect_rc("device.uuid_bad_device", cu.DeviceGetUuid(&uuid_a, count), CUDA_ERROR_INVALID_DEVICE);

    expect_rc("device.total_mem", cu.DeviceTotalMem(&total, dev), CUDA_SUCCESS);
    expect_true("device.total_mem_positive", total >= 64 * MiB, "expected >= 64 MiB got %zu", total);
    expect_rc("device.total_mem_bad_device", cu.DeviceTotalMem(&total, count), CUDA_ERROR_INVALID_DEVICE);

    /* Every attribute this cuda.h knows has an answer (bf-worker sends them all to the client). */
    for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; a++) {
        CUresult result = cu.DeviceGetAttribute(&value, (CUdevice_attribute)a, dev);
        if (result != CUDA_SUCCESS) {
            fail("device.attribute_all", "expected CUDA_SUCCESS for attribute %d got %s", a, rname(result));
            all_attributes = false;
            break;
        }
    }
    if (all_attributes)
        pass("device.attribute_all");
    expect_rc("device.attribute_zero", cu.DeviceGetAttribute(&value, (CUdevice_attribute)0, dev),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("device.attribute_max", cu.DeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MAX, dev),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("device.attribute_bad_device",
              cu.DeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_WARP_SIZE, count), CUDA_ERROR_INVALID_DEVICE);
    expect_rc("device.attribute_null", cu.DeviceGetAttribute(NULL, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev),
              CUDA_ERROR_INVALID_VALUE);
    expect_u64("device.attribute_warp_size", attribute(CU_DEVICE_ATTRIBUTE_WARP_SIZE), 32);
    value = attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    expect_true("device.attribute_threads_per_block", value >= 512 && value <= 4096 && (value & (value - 1)) == 0,
                "expected a power of two in [512, 4096] got %d", value);
    expect_true("device.attribute_block_dims",
                attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X) >= 512 &&
                    attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y) >= 512 &&
                    attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z) >= 64,
                "expected block dims >= 512 x 512 x 64");
    expect_true("device.attribute_grid_dims",
                attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X) == 2147483647 &&
                    attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y) >= 65535 &&
                    attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z) >= 65535,
                "expected grid dims 2^31-1 x 65535 x 65535");
    expect_true("device.attribute_shared_memory", attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK) >= 49152,
                "expected >= 48 KiB got %d", attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK));
    expect_true("device.attribute_shared_memory_optin",
                attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN) >=
                    attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK),
                "expected opt-in shared memory >= the default");
    expect_u64("device.attribute_unified_addressing", attribute(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING), 1);
    expect_u64("device.attribute_integrated", attribute(CU_DEVICE_ATTRIBUTE_INTEGRATED), 0);
    value = attribute(CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT);
    expect_true("device.attribute_pitch_alignment", value > 0 && (value & (value - 1)) == 0,
                "expected a power of two got %d", value);
    expect_true("device.attribute_multiprocessors", attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) >= 1,
                "expected >= 1 got %d", attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));

    expect_rc("device.compute_capability", cu.DeviceComputeCapability(&major, &minor, dev), CUDA_SUCCESS);
    expect_true("device.compute_capability_matches",
                major == attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) &&
                    minor == attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) && major >= 3,
                "expected the attributes' %d.%d got %d.%d", attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR), major, minor);

    memset(bus_id, 0, sizeof(bus_id));
    if (expect_rc("device.pci_bus_id", cu.DeviceGetPCIBusId(bus_id, sizeof(bus_id), dev), CUDA_SUCCESS)) {
        unsigned domain = ~0u, bus = ~0u, device = ~0u, function = ~0u;
        int n = sscanf(bus_id, "%x:%x:%x.%x", &domain, &bus, &device, &function);
        expect_true("device.pci_bus_id_matches",
                    n == 4 && (int)domain == attribute(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID) &&
                        (int)bus == attribute(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID) &&
                        (int)device == attribute(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID),
                    "expected domain:bus:device.function of the PCI attributes got '%s'", bus_id);
        other = -1;
        expect_rc("device.by_pci_bus_id", cu.DeviceGetByPCIBusId(&other, bus_id), CUDA_SUCCESS);
        expect_u64("device.by_pci_bus_id_same", (uint64_t)other, (uint64_t)dev);
    }
    expect_rc2("device.by_pci_bus_id_malformed", cu.DeviceGetByPCIBusId(&other, "not a bus id"),
               CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_DEVICE);
    expect_rc2("device.by_pci_bus_id_absent", cu.DeviceGetByPCIBusId(&other, "ffff:ff:1f.7"),
               CUDA_ERROR_INVALID_DEVICE, CUDA_ERROR_INVALID_VALUE);
}

/* --- contexts ---------------------------------------------------------------------------------- */

static void primary_state(unsigned *flags_p, int *active_p)
{
    *flags_p = ~0u;
    *active_p = -1;
    (void)cu.DevicePrimaryCtxGetState(dev, flags_p, active_p);
}

static void check_no_context(void)
{
    CUcontext c = (CUcontext)1;
    CUdevice d;
    CUdeviceptr p;
    size_t free_bytes, total_bytes;

    expect_rc("noctx.get_current", cu.CtxGetCurrent(&c), CUDA_SUCCESS);
    expect_true("noctx.get_current_null", c == NULL, "expected NULL got %p", (void *)c);
    expect_rc("noctx.synchronize", cu.CtxSynchronize(NULL), CUDA_ERROR_INVALID_CONTEXT);
    expect_rc("noctx.get_device", cu.CtxGetDevice(&d, NULL), CUDA_ERROR_INVALID_CONTEXT);
    expect_rc("noctx.mem_alloc", cu.MemAlloc(&p, 4096), CUDA_ERROR_INVALID_CONTEXT);
    expect_rc("noctx.mem_get_info", cu.MemGetInfo(&free_bytes, &total_bytes), CUDA_ERROR_INVALID_CONTEXT);
    expect_rc("noctx.pop", cu.CtxPopCurrent(&c), CUDA_ERROR_INVALID_CONTEXT);
}

static void check_primary_context(void)
{
    unsigned flags;
    int active;
    CUcontext c1 = NULL, c2 = NULL;

    primary_state(&flags, &active);
    expect_u64("primary.initially_inactive", (uint64_t)active, 0);
    expect_u64("primary.initial_flags", flags, 0);
    expect_rc("primary.release_unretained", cu.DevicePrimaryCtxRelease(dev), CUDA_ERROR_INVALID_CONTEXT);
    expect_rc("primary.get_state_bad_device", cu.DevicePrimaryCtxGetState(-1, &flags, &active),
              CUDA_ERROR_INVALID_DEVICE);
    expect_rc("primary.retain_bad_device", cu.DevicePrimaryCtxRetain(&c1, -1), CUDA_ERROR_INVALID_DEVICE);
    expect_rc("primary.release_bad_device", cu.DevicePrimaryCtxRelease(-1), CUDA_ERROR_INVALID_DEVICE);

    expect_rc("primary.set_flags", cu.DevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_BLOCKING_SYNC), CUDA_SUCCESS);
    primary_state(&flags, &active);
    expect_u64("primary.set_flags_read_back", flags & CU_CTX_SCHED_MASK, CU_CTX_SCHED_BLOCKING_SYNC);
    expect_rc("primary.set_flags_unknown_bits", cu.DevicePrimaryCtxSetFlags(dev, 0x10000), CUDA_ERROR_INVALID_VALUE);
    expect_rc("primary.set_flags_two_policies",
              cu.DevicePrimaryCtxSetFlags(dev, CU_CTX_SCHED_SPIN | CU_CTX_SCHED_YIELD), CUDA_ERROR_INVALID_VALUE);
    expect_rc("primary.set_flags_default", cu.DevicePrimaryCtxSetFlags(dev, 0), CUDA_SUCCESS);

    /* Reference counts: two retains, one release keeps it active, the second deactivates it. */
    expect_rc("primary.retain", cu.DevicePrimaryCtxRetain(&c1, dev), CUDA_SUCCESS);
    expect_true("primary.retain_handle", c1 != NULL, "expected a context got NULL");
    primary_state(&flags, &active);
    expect_u64("primary.active_after_retain", (uint64_t)active, 1);
    expect_rc("primary.retain_again", cu.DevicePrimaryCtxRetain(&c2, dev), CUDA_SUCCESS);
    expect_true("primary.retain_same_handle", c1 == c2, "expected %p got %p", (void *)c1, (void *)c2);
    expect_rc("primary.release_one", cu.DevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
    primary_state(&flags, &active);
    expect_u64("primary.active_after_one_release", (uint64_t)active, 1);
    expect_rc("primary.release_last", cu.DevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
    primary_state(&flags, &active);
    expect_u64("primary.inactive_after_last_release", (uint64_t)active, 0);
    expect_rc("primary.release_too_many", cu.DevicePrimaryCtxRelease(dev), CUDA_ERROR_INVALID_CONTEXT);

    /* The context the rest of the suite works in. */
    expect_rc("primary.retain_for_suite", cu.DevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS);
}

static void check_current_context(void)
{
    PFN_cuCtxGetDevice_v2000 get_device_legacy = NULL;
    PFN_cuCtxSynchronize_v2000 synchronize_legacy = NULL;
    CUcontext c = NULL;
    CUdevice d = -1;
    unsigned version = 0, flags = ~0u;

    expect_rc("ctx.set_current", cu.CtxSetCurrent(ctx), CUDA_SUCCESS);
    expect_rc("ctx.get_current", cu.CtxGetCurrent(&c), CUDA_SUCCESS);
    expect_true("ctx.get_current_is_primary", c == ctx, "expected %p got %p", (void *)ctx, (void *)c);
    expect_rc("ctx.get_device_current", cu.CtxGetDevice(&d, NULL), CUDA_SUCCESS);
    expect_u64("ctx.get_device_current_value", (uint64_t)d, (uint64_t)dev);
    d = -1;
    expect_rc("ctx.get_device_explicit", cu.CtxGetDevice(&d, ctx), CUDA_SUCCESS);
    expect_u64("ctx.get_device_explicit_value", (uint64_t)d, (uint64_t)dev);
    expect_rc("ctx.get_device_null", cu.CtxGetDevice(NULL, ctx), CUDA_ERROR_INVALID_VALUE);

    /* The version decides the ABI: at 2000 cuCtxGetDevice takes one argument. */
    if (get_proc("cuCtxGetDevice", (void **)&get_device_legacy, 2000, 0, NULL) == CUDA_SUCCESS && get_device_legacy) {
        d = -1;
        expect_rc("ctx.get_device_legacy_abi", get_device_legacy(&d), CUDA_SUCCESS);
        expect_u64("ctx.get_device_legacy_abi_value", (uint64_t)d, (uint64_t)dev);
    } else {
        fail("ctx.get_device_legacy_abi", "expected cuCtxGetDevice at 2000 got nothing");
    }
    if (get_proc("cuCtxSynchronize", (void **)&synchronize_legacy, 2000, 0, NULL) == CUDA_SUCCESS &&
        synchronize_legacy)
        expect_rc("ctx.synchronize_legacy_abi", synchronize_legacy(), CUDA_SUCCESS);
    else
        fail("ctx.synchronize_legacy_abi", "expected cuCtxSynchronize at 2000 got nothing");

    expect_rc("ctx.synchronize_current", cu.CtxSynchronize(NULL), CUDA_SUCCESS);
    expect_rc("ctx.synchronize_explicit", cu.CtxSynchronize(ctx), CUDA_SUCCESS);
    expect_rc("ctx.api_version", cu.CtxGetApiVersion(ctx, &version), CUDA_SUCCESS);
    expect_true("ctx.api_version_value", version >= 3020, "expected >= 3020 got %u", version);
    expect_rc("ctx.get_flags", cu.CtxGetFlags(&flags), CUDA_SUCCESS);

    /* The stack: push the same context, pop it twice, then nothing is current. */
    expect_rc("ctx.push", cu.CtxPushCurrent(ctx), CUDA_SUCCESS);
    c = NULL;
    expect_rc("ctx.pop_pushed", cu.CtxPopCurrent(&c), CUDA_SUCCESS);
    expect_true("ctx.pop_pushed_value", c == ctx, "expected %p got %p", (void *)ctx, (void *)c);
    c = NULL;
    expect_rc("ctx.get_current_after_pop", cu.CtxGetCurrent(&c), CUDA_SUCCESS);
    expect_true("ctx.get_current_after_pop_value", c == ctx, "expected %p got %p", (void *)ctx, (void *)c);
    expect_rc("ctx.pop_set", cu.CtxPopCurrent(&c), CUDA_SUCCESS);
    c = (CUcontext)1;
    expect_rc("ctx.get_current_empty", cu.CtxGetCurrent(&c), CUDA_SUCCESS);
    expect_true("ctx.get_current_empty_value", c == NULL, "expected NULL got %p", (void *)c);
    expect_rc("ctx.pop_empty", cu.CtxPopCurrent(&c), CUDA_ERROR_INVALID_CONTEXT);
    expect_rc("ctx.set_current_again", cu.CtxSetCurrent(ctx), CUDA_SUCCESS);
    expect_rc("ctx.set_current_null", cu.CtxSetCurrent(NULL), CUDA_SUCCESS);
    c = (CUcontext)1;
    expect_rc("ctx.get_current_after_unset", cu.CtxGetCurrent(&c), CUDA_SUCCESS);
    expect_true("ctx.get_current_after_unset_value", c == NULL, "expected NULL got %p", (void *)c);
    expect_rc("ctx.set_current_final", cu.CtxSetCurrent(ctx), CUDA_SUCCESS);
}

/* Readable, zeroed memory that is no context: a driver that dereferences a handle before checking
 * it reads zeros instead of faulting. */
static uint64_t fake_context[512];

static void check_bad_context(void)
{
    CUcontext bad = (CUcontext)fake_context;
    CUdevice d;

    expect_rc("badctx.get_device", cu.CtxGetDevice(&d, bad), CUDA_ERROR_INVALID_CONTEXT);
    expect_rc("badctx.synchronize", cu.CtxSynchronize(bad), CUDA_ERROR_INVALID_CONTEXT);
}

static void *thread_context_body(void *arg)
{
    int *results = arg;
    CUcontext c = (CUcontext)1;
    CUdeviceptr p = 0;

    /* A new thread starts with no current context, whatever its creator had. */
    results[0] = cu.CtxGetCurrent(&c) == CUDA_SUCCESS && c == NULL;
    results[1] = cu.MemAlloc(&p, 4096) == CUDA_ERROR_INVALID_CONTEXT;
    results[2] = cu.CtxSetCurrent(ctx) == CUDA_SUCCESS && cu.MemAlloc(&p, 4096) == CUDA_SUCCESS &&
                 cu.MemFree(p) == CUDA_SUCCESS;
    return NULL;
}

static void check_thread_context(void)
{
    int results[3] = {0, 0, 0};
    pthread_t thread;

    if (pthread_create(&thread, NULL, thread_context_body, results) != 0) {
        fail("thread.create", "expected a thread got an error");
        return;
    }
    pthread_join(thread, NULL);
    expect_true("thread.no_current_context", results[0], "expected NULL in a new thread");
    expect_true("thread.alloc_without_context", results[1], "expected CUDA_ERROR_INVALID_CONTEXT");
    expect_true("thread.alloc_after_set_current", results[2], "expected set, alloc and free to succeed");
}

/* --- memory ------------------------------------------------------------------------------------ */

static void check_allocation(void)
{
    size_t free0 = 0, total0 = 0, free1 = 0, total1 = 0, size = 0;
    CUdeviceptr a = 0, b = 0, base = 0;

    expect_rc("mem.get_info", cu.MemGetInfo(&free0, &total0), CUDA_SUCCESS);
    expect_true("mem.get_info_sane", total0 > 0 && free0 <= total0, "expected 0 < free <= total got %zu of %zu",
                free0, total0);
    expect_rc("mem.get_info_null", cu.MemGetInfo(NULL, &total0), CUDA_ERROR_INVALID_VALUE);
    expect_rc("mem.alloc_zero", cu.MemAlloc(&a, 0), CUDA_ERROR_INVALID_VALUE);
    expect_rc("mem.alloc_huge", cu.MemAlloc(&a, (size_t)1 << 50), CUDA_ERROR_OUT_OF_MEMORY);
    expect_rc("mem.free_null", cu.MemFree(0), CUDA_SUCCESS);

    if (!expect_rc("mem.alloc", cu.MemAlloc(&a, 16 * MiB), CUDA_SUCCESS))
        return;
    expect_true("mem.alloc_aligned", a != 0 && a % 256 == 0, "expected a 256-byte aligned pointer got 0x%llx",
                (unsigned long long)a);
    expect_rc("mem.get_info_after_alloc", cu.MemGetInfo(&free1, &total1), CUDA_SUCCESS);
    expect_true("mem.get_info_decreases", free1 < free0 && total1 == total0,
                "expected free below %zu and total %zu got %zu and %zu", free0, total0, free1, total1);

    expect_rc("mem.address_range", cu.MemGetAddressRange(&base, &size, a + 1000), CUDA_SUCCESS);
    expect_u64("mem.address_range_base", base, a);
    expect_u64("mem.address_range_size", size, 16 * MiB);
    expect_rc("mem.address_range_optional", cu.MemGetAddressRange(NULL, NULL, a + 16 * MiB - 1), CUDA_SUCCESS);
    expect_rc2("mem.address_range_unknown", cu.MemGetAddressRange(&base, &size, (CUdeviceptr)0x10),
               CUDA_ERROR_NOT_FOUND, CUDA_ERROR_INVALID_VALUE);

    if (expect_rc("mem.alloc_second", cu.MemAlloc(&b, 4096), CUDA_SUCCESS))
        expect_true("mem.alloc_disjoint", b >= a + 16 * MiB || b + 4096 <= a,
                    "expected disjoint allocations got 0x%llx and 0x%llx", (unsigned long long)a,
                    (unsigned long long)b);

    expect_rc("mem.free_interior", cu.MemFree(a + 256), CUDA_ERROR_INVALID_VALUE);
    expect_rc("mem.free_bad_pointer", cu.MemFree((CUdeviceptr)0x10), CUDA_ERROR_INVALID_VALUE);
    expect_rc("mem.free", cu.MemFree(a), CUDA_SUCCESS);
    expect_rc("mem.free_twice", cu.MemFree(a), CUDA_ERROR_INVALID_VALUE);
    expect_rc("mem.free_second", cu.MemFree(b), CUDA_SUCCESS);
}

static void check_copies(void)
{
    const size_t n = 4 * MiB;
    uint8_t *src = xmalloc(n), *dst = xmalloc(n), *back = xmalloc(n);
    CUdeviceptr a = 0, b = 0;

    fill_pattern(src, n, 1);
    if (!expect_rc("copy.alloc", cu.MemAlloc(&a, n), CUDA_SUCCESS) ||
        !expect_rc("copy.alloc_second", cu.MemAlloc(&b, n), CUDA_SUCCESS))
        goto out;

    expect_rc("copy.htod", cu.MemcpyHtoD(a, src, n), CUDA_SUCCESS);
    memset(back, 0, n);
    expect_rc("copy.dtoh", cu.MemcpyDtoH(back, a, n), CUDA_SUCCESS);
    expect_bytes("copy.round_trip", back, src, n);

    /* Offsets inside allocations, device to device. */
    expect_rc("copy.dtod", cu.MemcpyDtoD(b + 100, a + 7, n - 200), CUDA_SUCCESS);
    memset(back, 0, n);
    expect_rc("copy.dtoh_offset", cu.MemcpyDtoH(back, b + 100, n - 200), CUDA_SUCCESS);
    expect_bytes("copy.dtod_content", back, src + 7, n - 200);

    /* Unified addressing: cuMemcpy tells host from device by the address. */
    fill_pattern(dst, n, 2);
    expect_rc("copy.generic_htod", cu.Memcpy(b, (CUdeviceptr)(uintptr_t)dst, n), CUDA_SUCCESS);
    memset(back, 0, n);
    expect_rc("copy.generic_dtoh", cu.Memcpy((CUdeviceptr)(uintptr_t)back, b, n), CUDA_SUCCESS);
    expect_bytes("copy.generic_round_trip", back, dst, n);
    expect_rc("copy.generic_dtod", cu.Memcpy(a, b, n), CUDA_SUCCESS);
    memset(back, 0, 4096);
    expect_rc("copy.generic_htoh", cu.Memcpy((CUdeviceptr)(uintptr_t)back, (CUdeviceptr)(uintptr_t)src, 4096),
              CUDA_SUCCESS);
    expect_bytes("copy.generic_htoh_content", back, src, 4096);
    memset(back, 0, n);
    expect_rc("copy.dtoh_after_generic_dtod", cu.MemcpyDtoH(back, a, n), CUDA_SUCCESS);
    expect_bytes("copy.generic_dtod_content", back, dst, n);

    /* The per-thread-stream variants do the same thing. */
    fill_pattern(src, n, 3);
    expect_rc("copy.ptds_htod", ptds.MemcpyHtoD(a, src, n), CUDA_SUCCESS);
    expect_rc("copy.ptds_dtod", ptds.MemcpyDtoD(b, a, n), CUDA_SUCCESS);
    memset(back, 0, n);
    expect_rc("copy.ptds_dtoh", ptds.MemcpyDtoH(back, b, n), CUDA_SUCCESS);
    expect_bytes("copy.ptds_round_trip", back, src, n);
    memset(back, 0, n);
    expect_rc("copy.ptds_generic", ptds.Memcpy((CUdeviceptr)(uintptr_t)back, a, n), CUDA_SUCCESS);
    expect_bytes("copy.ptds_generic_content", back, src, n);

    expect_rc("copy.htod_null_host", cu.MemcpyHtoD(a, NULL, 64), CUDA_ERROR_INVALID_VALUE);
    expect_rc("copy.dtoh_null_host", cu.MemcpyDtoH(NULL, a, 64), CUDA_ERROR_INVALID_VALUE);

out:
    if (a)
        cu.MemFree(a);
    if (b)
        cu.MemFree(b);
    free(src);
    free(dst);
    free(back);
}

static void check_out_of_range(void)
{
    const size_t n = 32 * MiB, over = GiB;
    uint8_t *huge = lazy_host(over + n);
    CUdeviceptr a = 0, freed = 0;
    unsigned int type = 0;

    /* Made last so that nothing the suite owns lies right after it; the overrun is a gigabyte, far
     * more than the device memory this suite holds. */
    if (!expect_rc("range.alloc", cu.MemAlloc(&a, n), CUDA_SUCCESS))
        goto out;
    expect_rc("range.htod_past_end", cu.MemcpyHtoD(a + n - 4096, huge, over), CUDA_ERROR_INVALID_VALUE);
    expect_rc("range.dtoh_past_end", cu.MemcpyDtoH(huge, a + n - 4096, over), CUDA_ERROR_INVALID_VALUE);
    expect_rc("range.dtod_past_end", cu.MemcpyDtoD(a, a + n / 2, over), CUDA_ERROR_INVALID_VALUE);
    expect_rc("range.memset_past_end", cu.MemsetD8(a + n - 16, 0, over), CUDA_ERROR_INVALID_VALUE);
    expect_rc("range.memset32_past_end", cu.MemsetD32(a, 0, over / 4 + n / 4), CUDA_ERROR_INVALID_VALUE);
    expect_rc("range.generic_past_end", cu.Memcpy(a + n - 4096, (CUdeviceptr)(uintptr_t)huge, over),
              CUDA_ERROR_INVALID_VALUE);

    /* A pointer no allocation could hold. */
    expect_rc("range.htod_bad_pointer", cu.MemcpyHtoD((CUdeviceptr)0x10, huge, 16), CUDA_ERROR_INVALID_VALUE);
    expect_rc("range.dtoh_bad_pointer", cu.MemcpyDtoH(huge, (CUdeviceptr)0x10, 16), CUDA_ERROR_INVALID_VALUE);
    expect_rc("range.memset_bad_pointer", cu.MemsetD8((CUdeviceptr)0x10, 0, 16), CUDA_ERROR_INVALID_VALUE);

    /* A freed pointer is no longer device memory. */
    if (expect_rc("range.alloc_to_free", cu.MemAlloc(&freed, 4096), CUDA_SUCCESS)) {
        expect_rc("range.free", cu.MemFree(freed), CUDA_SUCCESS);
        expect_rc("range.attribute_of_freed", cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, freed),
                  CUDA_ERROR_INVALID_VALUE);
    }
out:
    if (a)
        cu.MemFree(a);
    munmap(huge, over + n);
}

/* --- pitched memory and 2D copies --------------------------------------------------------------- */

static CUDA_MEMCPY2D copy_desc(size_t width, size_t height)
{
    CUDA_MEMCPY2D c;

    memset(&c, 0, sizeof(c));
    c.WidthInBytes = width;
    c.Height = height;
    return c;
}

static void check_pitch_and_2d(void)
{
    const size_t width = 100, rows = 8, hs_pitch = 64, hd_pitch = 50;
    const size_t cw = 37, ch = 5;
    uint8_t hs[64 * 10], hd[50 * 10], *whole = NULL, *expect = NULL;
    size_t pitch = 0, pitch2 = 0, size = 0;
    CUdeviceptr d = 0, d2 = 0, plain = 0, base = 0;
    CUDA_MEMCPY2D c;
    int alignment = attribute(CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT);

    expect_rc("pitch.element_size_3", cu.MemAllocPitch(&d, &pitch, width, rows, 3), CUDA_ERROR_INVALID_VALUE);
    expect_rc("pitch.element_size_32", cu.MemAllocPitch(&d, &pitch, width, rows, 32), CUDA_ERROR_INVALID_VALUE);
    expect_rc("pitch.width_zero", cu.MemAllocPitch(&d, &pitch, 0, rows, 4), CUDA_ERROR_INVALID_VALUE);
    if (!expect_rc("pitch.alloc", cu.MemAllocPitch(&d, &pitch, width, rows, 4), CUDA_SUCCESS) ||
        !expect_rc("pitch.alloc_second", cu.MemAllocPitch(&d2, &pitch2, width, rows, 16), CUDA_SUCCESS))
        goto out;
    expect_true("pitch.value", pitch >= width && alignment > 0 && pitch % (size_t)alignment == 0,
                "expected a multiple of %d at least %zu got %zu", alignment, width, pitch);
    expect_rc("pitch.address_range", cu.MemGetAddressRange(&base, &size, d), CUDA_SUCCESS);
    expect_true("pitch.size", base == d && size >= pitch * rows, "expected >= %zu bytes at 0x%llx got %zu at 0x%llx",
                pitch * rows, (unsigned long long)d, size, (unsigned long long)base);

    whole = xmalloc(pitch * rows);
    expect = xmalloc(pitch * rows);
    fill_pattern(hs, sizeof(hs), 4);

    /* Host to device with offsets on both sides and different pitches. */
    expect_rc("2d.fill", cu.MemsetD8(d, 0xab, pitch * rows), CUDA_SUCCESS);
    c = copy_desc(cw, ch);
    c.srcMemoryType = CU_MEMORYTYPE_HOST, c.srcHost = hs, c.srcPitch = hs_pitch, c.srcXInBytes = 3, c.srcY = 2;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE, c.dstDevice = d, c.dstPitch = pitch, c.dstXInBytes = 5, c.dstY = 1;
    expect_rc("2d.htod", cu.Memcpy2D(&c), CUDA_SUCCESS);
    memset(expect, 0xab, pitch * rows);
    for (size_t r = 0; r < ch; r++)
        memcpy(expect + (1 + r) * pitch + 5, hs + (2 + r) * hs_pitch + 3, cw);
    expect_rc("2d.htod_read_back", cu.MemcpyDtoH(whole, d, pitch * rows), CUDA_SUCCESS);
    expect_bytes("2d.htod_content", whole, expect, pitch * rows);

    /* Device to host into a window of a host array; the rest of the array stays untouched. */
    memset(hd, 0xee, sizeof(hd));
    c = copy_desc(cw, ch);
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE, c.srcDevice = d, c.srcPitch = pitch, c.srcXInBytes = 5, c.srcY = 1;
    c.dstMemoryType = CU_MEMORYTYPE_HOST, c.dstHost = hd, c.dstPitch = hd_pitch, c.dstXInBytes = 7, c.dstY = 3;
    expect_rc("2d.dtoh", cu.Memcpy2D(&c), CUDA_SUCCESS);
    {
        uint8_t want[50 * 10];
        memset(want, 0xee, sizeof(want));
        for (size_t r = 0; r < ch; r++)
            memcpy(want + (3 + r) * hd_pitch + 7, hs + (2 + r) * hs_pitch + 3, cw);
        expect_bytes("2d.dtoh_content", hd, want, sizeof(want));
    }

    /* Unified memory types, resolved by address; then device to device between pitched arrays. */
    expect_rc("2d.fill_second", cu.MemsetD8(d2, 0, pitch2 * rows), CUDA_SUCCESS);
    c = copy_desc(cw, ch);
    c.srcMemoryType = CU_MEMORYTYPE_UNIFIED, c.srcDevice = (CUdeviceptr)(uintptr_t)hs, c.srcPitch = hs_pitch;
    c.dstMemoryType = CU_MEMORYTYPE_UNIFIED, c.dstDevice = d2, c.dstPitch = pitch2, c.dstY = 2;
    expect_rc("2d.unified", cu.Memcpy2D(&c), CUDA_SUCCESS);
    c = copy_desc(cw, ch);
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE, c.srcDevice = d2, c.srcPitch = pitch2, c.srcY = 2;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE, c.dstDevice = d, c.dstPitch = pitch, c.dstXInBytes = 50;
    expect_rc("2d.dtod", cu.Memcpy2D(&c), CUDA_SUCCESS);
    for (size_t r = 0; r < ch; r++)
        memcpy(expect + r * pitch + 50, hs + r * hs_pitch, cw);
    expect_rc("2d.dtod_read_back", cu.MemcpyDtoH(whole, d, pitch * rows), CUDA_SUCCESS);
    expect_bytes("2d.dtod_content", whole, expect, pitch * rows);

    /* Pitches that cuMemAllocPitch did not choose, on a plain allocation. */
    if (expect_rc("2d.alloc_plain", cu.MemAlloc(&plain, 800), CUDA_SUCCESS)) {
        uint8_t back[800], want[800];
        expect_rc("2d.fill_plain", cu.MemsetD8(plain, 0x11, 800), CUDA_SUCCESS);
        c = copy_desc(cw, ch);
        c.srcMemoryType = CU_MEMORYTYPE_HOST, c.srcHost = hs, c.srcPitch = hs_pitch;
        c.dstMemoryType = CU_MEMORYTYPE_DEVICE, c.dstDevice = plain, c.dstPitch = 100, c.dstXInBytes = 1;
        c.dstY = 2;
        expect_rc("2d.unaligned", cu.Memcpy2DUnaligned(&c), CUDA_SUCCESS);
        memset(want, 0x11, sizeof(want));
        for (size_t r = 0; r < ch; r++)
            memcpy(want + (2 + r) * 100 + 1, hs + r * hs_pitch, cw);
        expect_rc("2d.unaligned_read_back", cu.MemcpyDtoH(back, plain, sizeof(back)), CUDA_SUCCESS);
        expect_bytes("2d.unaligned_content", back, want, sizeof(want));

        c.dstY = 0;
        expect_rc("2d.ptds", ptds.Memcpy2D(&c), CUDA_SUCCESS);
        expect_rc("2d.ptds_unaligned", ptds.Memcpy2DUnaligned(&c), CUDA_SUCCESS);
        for (size_t r = 0; r < ch; r++)
            memcpy(want + r * 100 + 1, hs + r * hs_pitch, cw);
        expect_rc("2d.ptds_read_back", cu.MemcpyDtoH(back, plain, sizeof(back)), CUDA_SUCCESS);
        expect_bytes("2d.ptds_content", back, want, sizeof(want));
    }

    /* A pitch narrower than its row. */
    c = copy_desc(cw, ch);
    c.srcMemoryType = CU_MEMORYTYPE_HOST, c.srcHost = hs, c.srcPitch = 30;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE, c.dstDevice = d, c.dstPitch = pitch;
    expect_rc("2d.pitch_too_small", cu.Memcpy2D(&c), CUDA_ERROR_INVALID_VALUE);

    /* Rows far beyond the allocation. */
    {
        uint8_t *huge = lazy_host(GiB);
        c = copy_desc(pitch, GiB / pitch);
        c.srcMemoryType = CU_MEMORYTYPE_HOST, c.srcHost = huge, c.srcPitch = pitch;
        c.dstMemoryType = CU_MEMORYTYPE_DEVICE, c.dstDevice = d, c.dstPitch = pitch;
        expect_rc("2d.past_end", cu.Memcpy2D(&c), CUDA_ERROR_INVALID_VALUE);
        munmap(huge, GiB);
    }
out:
    if (d)
        cu.MemFree(d);
    if (d2)
        cu.MemFree(d2);
    if (plain)
        cu.MemFree(plain);
    free(whole);
    free(expect);
}

/* --- memsets ----------------------------------------------------------------------------------- */

static void check_memsets(void)
{
    const size_t n = 4096, w = 64, rows = 6;
    uint8_t back[4096], want[4096];
    size_t pitch = 0;
    CUdeviceptr m = 0, d = 0;
    uint8_t *whole = NULL, *expect = NULL;

    if (!expect_rc("memset.alloc", cu.MemAlloc(&m, n), CUDA_SUCCESS))
        return;
    expect_rc("memset.d8", cu.MemsetD8(m, 0x5a, n), CUDA_SUCCESS);
    expect_rc("memset.d16", cu.MemsetD16(m + 2, 0xbeef, 10), CUDA_SUCCESS);
    expect_rc("memset.d32", cu.MemsetD32(m + 64, 0xdeadbeef, 8), CUDA_SUCCESS);
    memset(want, 0x5a, n);
    for (size_t i = 0; i < 10; i++) {
        const uint16_t v = 0xbeef;
        memcpy(want + 2 + 2 * i, &v, 2);
    }
    for (size_t i = 0; i < 8; i++) {
        const uint32_t v = 0xdeadbeef;
        memcpy(want + 64 + 4 * i, &v, 4);
    }
    expect_rc("memset.read_back", cu.MemcpyDtoH(back, m, n), CUDA_SUCCESS);
    expect_bytes("memset.content", back, want, n);

    expect_rc("memset.ptds_d8", ptds.MemsetD8(m + 1000, 0x01, 8), CUDA_SUCCESS);
    expect_rc("memset.ptds_d16", ptds.MemsetD16(m + 1010, 0x0203, 4), CUDA_SUCCESS);
    expect_rc("memset.ptds_d32", ptds.MemsetD32(m + 1020, 0x04050607, 4), CUDA_SUCCESS);
    memset(want + 1000, 0x01, 8);
    for (size_t i = 0; i < 4; i++) {
        const uint16_t v16 = 0x0203;
        const uint32_t v32 = 0x04050607;
        memcpy(want + 1010 + 2 * i, &v16, 2);
        memcpy(want + 1020 + 4 * i, &v32, 4);
    }
    expect_rc("memset.ptds_read_back", cu.MemcpyDtoH(back, m, n), CUDA_SUCCESS);
    expect_bytes("memset.ptds_content", back, want, n);

    /* 2D: each row set, the bytes between rows untouched. */
    if (!expect_rc("memset2d.alloc", cu.MemAllocPitch(&d, &pitch, w * 4, rows, 4), CUDA_SUCCESS))
        goto out;
    whole = xmalloc(pitch * rows);
    expect = xmalloc(pitch * rows);
    expect_rc("memset2d.clear", cu.MemsetD8(d, 0, pitch * rows), CUDA_SUCCESS);
    expect_rc("memset2d.d8", cu.MemsetD2D8(d + 3, pitch, 0x11, 10, 2), CUDA_SUCCESS);
    expect_rc("memset2d.d16", cu.MemsetD2D16(d + 2 * pitch + 8, pitch, 0x2233, 5, 2), CUDA_SUCCESS);
    expect_rc("memset2d.d32", cu.MemsetD2D32(d + 4 * pitch + 16, pitch, 0x44556677, 4, 2), CUDA_SUCCESS);
    memset(expect, 0, pitch * rows);
    for (size_t r = 0; r < 2; r++) {
        memset(expect + r * pitch + 3, 0x11, 10);
        for (size_t i = 0; i < 5; i++) {
            const uint16_t v = 0x2233;
            memcpy(expect + (2 + r) * pitch + 8 + 2 * i, &v, 2);
        }
        for (size_t i = 0; i < 4; i++) {
            const uint32_t v = 0x44556677;
            memcpy(expect + (4 + r) * pitch + 16 + 4 * i, &v, 4);
        }
    }
    expect_rc("memset2d.read_back", cu.MemcpyDtoH(whole, d, pitch * rows), CUDA_SUCCESS);
    expect_bytes("memset2d.content", whole, expect, pitch * rows);

    expect_rc("memset2d.ptds_d8", ptds.MemsetD2D8(d, pitch, 0x99, 2, rows), CUDA_SUCCESS);
    expect_rc("memset2d.ptds_d16", ptds.MemsetD2D16(d + 40, pitch, 0x8877, 2, rows), CUDA_SUCCESS);
    expect_rc("memset2d.ptds_d32", ptds.MemsetD2D32(d + 48, pitch, 0x66554433, 2, rows), CUDA_SUCCESS);
    for (size_t r = 0; r < rows; r++) {
        const uint16_t v16 = 0x8877;
        const uint32_t v32 = 0x66554433;
        memset(expect + r * pitch, 0x99, 2);
        memcpy(expect + r * pitch + 40, &v16, 2);
        memcpy(expect + r * pitch + 42, &v16, 2);
        memcpy(expect + r * pitch + 48, &v32, 4);
        memcpy(expect + r * pitch + 52, &v32, 4);
    }
    expect_rc("memset2d.ptds_read_back", cu.MemcpyDtoH(whole, d, pitch * rows), CUDA_SUCCESS);
    expect_bytes("memset2d.ptds_content", whole, expect, pitch * rows);

    expect_rc("memset2d.pitch_too_small", cu.MemsetD2D32(d, 8, 0, 4, 2), CUDA_ERROR_INVALID_VALUE);
out:
    if (m)
        cu.MemFree(m);
    if (d)
        cu.MemFree(d);
    free(whole);
    free(expect);
}

/* --- modules, libraries and launches ----------------------------------------------------------- */

/* Resolved on their own: a library without code loading (a front that forwards no modules yet)
 * skips these checks instead of failing the whole suite. */
#define CONTRACT_MODULE_ENTRIES(X)                                                                  \
    X(ModuleLoadData, PFN_cuModuleLoadData_v2000)                                                   \
    X(ModuleUnload, PFN_cuModuleUnload_v2000)                                                       \
    X(ModuleGetFunction, PFN_cuModuleGetFunction_v2000)                                             \
    X(ModuleGetGlobal, PFN_cuModuleGetGlobal_v3020)                                                 \
    X(FuncGetAttribute, PFN_cuFuncGetAttribute_v2020)                                               \
    X(FuncSetAttribute, PFN_cuFuncSetAttribute_v9000)                                               \
    X(FuncGetParamInfo, PFN_cuFuncGetParamInfo_v12040)                                              \
    X(FuncGetName, PFN_cuFuncGetName_v12030)                                                        \
    X(LaunchKernel, PFN_cuLaunchKernel_v4000)                                                       \
    X(LaunchKernelEx, PFN_cuLaunchKernelEx_v11060)                                                  \
    X(LibraryLoadData, PFN_cuLibraryLoadData_v12000)                                                \
    X(LibraryUnload, PFN_cuLibraryUnload_v12000)                                                    \
    X(LibraryGetKernel, PFN_cuLibraryGetKernel_v12000)                                              \
    X(LibraryGetKernelCount, PFN_cuLibraryGetKernelCount_v12040)                                    \
    X(LibraryGetGlobal, PFN_cuLibraryGetGlobal_v12000)                                              \
    X(KernelGetFunction, PFN_cuKernelGetFunction_v12000)                                            \
    X(KernelGetParamInfo, PFN_cuKernelGetParamInfo_v12040)                                          \
    X(KernelGetName, PFN_cuKernelGetName_v12030)                                                    \
    X(KernelGetAttribute, PFN_cuKernelGetAttribute_v12000)                                          \
    X(OccupancyMaxActiveBlocksPerMultiprocessor, PFN_cuOccupancyMaxActiveBlocksPerMultiprocessor_v6050) \
    X(OccupancyMaxPotentialBlockSize, PFN_cuOccupancyMaxPotentialBlockSize_v6050)

static struct {
#define SLOT(slot, pfn) pfn slot;
    CONTRACT_MODULE_ENTRIES(SLOT)
#undef SLOT
} mod;

/* What nvcc puts in .nvFatBinSegment, and cudart hands to cuLibraryLoadData. */
typedef struct {
    int magic;
    int version;
    const unsigned long long *data;
    void *filename_or_fatbins;
} contract_fatbin_wrapper_t;

#define VADD_N 1000

/* (offset, size) of each parameter, as the .param lists of module_kernels.cu lay them out. */
static const size_t vadd_params[][2] = {{0, 8}, {8, 8}, {16, 8}, {24, 4}};
static const size_t mixed_params[][2] = {{0, 1}, {16, 32}, {48, 2}, {56, 8}, {64, 1}, {72, 8}};

typedef CUresult (*param_info_fn_t)(void *handle, size_t index, size_t *offset, size_t *size);

static void check_param_info(const char *prefix, param_info_fn_t info, void *handle, const size_t (*want)[2],
                             size_t count)
{
    char name[96];
    size_t offset = 99, size = 99;
    bool all = true;

    for (size_t i = 0; i < count; i++) {
        offset = size = 99;
        if (info(handle, i, &offset, &size) != CUDA_SUCCESS || offset != want[i][0] || size != want[i][1]) {
            snprintf(name, sizeof(name), "%s.param_info", prefix);
            fail(name, "expected parameter %zu at offset %zu size %zu got %zu, %zu", i, want[i][0], want[i][1],
                 offset, size);
            all = false;
        }
    }
    if (all) {
        snprintf(name, sizeof(name), "%s.param_info", prefix);
        pass(name);
    }
    snprintf(name, sizeof(name), "%s.param_info_past_end", prefix);
    expect_rc(name, info(handle, count, &offset, &size), CUDA_ERROR_INVALID_VALUE);
}

/* Launches vadd over VADD_N elements (through kernelParams, or `extra` when use_extra) and checks
 * c = a + b + bias, with bias read back from the device. */
static void check_vadd(const char *prefix, CUfunction f, CUdeviceptr bias_dptr, bool use_extra)
{
    const size_t bytes = VADD_N * sizeof(float);
    float *a = xmalloc(bytes), *b = xmalloc(bytes), *c = xmalloc(bytes), bias = -1;
    CUdeviceptr da = 0, db = 0, dc = 0;
    int n = VADD_N;
    char name[96];
    bool ok = true;

    for (int i = 0; i < VADD_N; i++) {
        a[i] = (float)i;
        b[i] = (float)(2 * i);
    }
    snprintf(name, sizeof(name), "%s.alloc", prefix);
    if (!expect_true(name, cu.MemAlloc(&da, bytes) == CUDA_SUCCESS && cu.MemAlloc(&db, bytes) == CUDA_SUCCESS &&
                               cu.MemAlloc(&dc, bytes) == CUDA_SUCCESS,
                     "expected three allocations of %zu bytes", bytes))
        goto out;
    cu.MemcpyHtoD(da, a, bytes);
    cu.MemcpyHtoD(db, b, bytes);
    cu.MemsetD8(dc, 0, bytes);
    snprintf(name, sizeof(name), "%s.launch", prefix);
    if (use_extra) {
        uint8_t buffer[28];
        size_t size = sizeof(buffer);
        void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                         CU_LAUNCH_PARAM_END};

        memcpy(buffer, &da, 8);
        memcpy(buffer + 8, &db, 8);
        memcpy(buffer + 16, &dc, 8);
        memcpy(buffer + 24, &n, 4);
        expect_rc(name, mod.LaunchKernel(f, (VADD_N + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, NULL, extra),
                  CUDA_SUCCESS);
    } else {
        void *args[] = {&da, &db, &dc, &n};

        expect_rc(name, mod.LaunchKernel(f, (VADD_N + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL),
                  CUDA_SUCCESS);
    }
    snprintf(name, sizeof(name), "%s.synchronize", prefix);
    expect_rc(name, cu.CtxSynchronize(NULL), CUDA_SUCCESS);
    snprintf(name, sizeof(name), "%s.read_back", prefix);
    if (!expect_true(name, cu.MemcpyDtoH(c, dc, bytes) == CUDA_SUCCESS &&
                               cu.MemcpyDtoH(&bias, bias_dptr, sizeof(bias)) == CUDA_SUCCESS,
                     "expected the results and the bias to copy back"))
        goto out;
    snprintf(name, sizeof(name), "%s.results", prefix);
    for (int i = 0; i < VADD_N && ok; i++) {
        if (c[i] != a[i] + b[i] + bias) {
            fail(name, "expected c[%d] = %g got %g", i, (double)(a[i] + b[i] + bias), (double)c[i]);
            ok = false;
        }
    }
    if (ok)
        pass(name);
out:
    cu.MemFree(da);
    cu.MemFree(db);
    cu.MemFree(dc);
    free(a);
    free(b);
    free(c);
}

/* Parameters of several sizes and alignments (a 16-byte aligned struct among them), laid out by
 * the driver from kernelParams alone: p[0] = c + s.i + h + b + u. */
static void check_mixed_params(CUfunction mixed)
{
    struct __attribute__((aligned(16))) {
        char c;
        double d;
        int i;
    } s = {.c = 7, .d = 2.5, .i = 1000};
    char c = 1;
    short h = 20;
    bool b = true;
    unsigned long long u = 300;
    CUdeviceptr p = 0;
    int got = -1;
    void *args[] = {&c, &s, &h, &p, &b, &u};

    if (!expect_rc("module.mixed.alloc", cu.MemAlloc(&p, sizeof(int)), CUDA_SUCCESS))
        return;
    cu.MemsetD32(p, 0, 1);
    expect_rc("module.mixed.launch", mod.LaunchKernel(mixed, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL), CUDA_SUCCESS);
    expect_rc("module.mixed.read_back", cu.MemcpyDtoH(&got, p, sizeof(got)), CUDA_SUCCESS);
    expect_u64("module.mixed.result", (uint64_t)got, 1 + 1000 + 20 + 1 + 300);
    cu.MemFree(p);
}

/* Bad configurations are refused before anything runs, with CUDA_ERROR_INVALID_VALUE. */
static void check_launch_config(CUfunction f)
{
    CUdeviceptr none = 0;
    int n = 0, optin = attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN), dyn = -1;
    void *args[] = {&none, &none, &none, &n};
    size_t size = 28;
    uint8_t buffer[28] = {0};
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
    CUlaunchConfig config = {.gridDimX = 1, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 2048, .blockDimY = 1,
                             .blockDimZ = 1};

    expect_rc("launch.block_1025", mod.LaunchKernel(f, 1, 1, 1, 1025, 1, 1, 0, NULL, args, NULL),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch.block_2048_total", mod.LaunchKernel(f, 1, 1, 1, 32, 32, 2, 0, NULL, args, NULL),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch.block_z_65", mod.LaunchKernel(f, 1, 1, 1, 1, 1, 65, 0, NULL, args, NULL),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch.block_zero", mod.LaunchKernel(f, 1, 1, 1, 0, 1, 1, 0, NULL, args, NULL),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch.grid_zero", mod.LaunchKernel(f, 0, 1, 1, 32, 1, 1, 0, NULL, args, NULL),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch.grid_y_65536", mod.LaunchKernel(f, 1, 65536, 1, 32, 1, 1, 0, NULL, args, NULL),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch.shared_over_default", mod.LaunchKernel(f, 1, 1, 1, 32, 1, 1, 48 * 1024 + 1, NULL, args, NULL),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch.params_and_extra", mod.LaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, extra),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch_ex.block_2048", mod.LaunchKernelEx(&config, f, args, NULL), CUDA_ERROR_INVALID_VALUE);
    config.blockDimX = 32;
    expect_rc("launch_ex.ok", mod.LaunchKernelEx(&config, f, args, NULL), CUDA_SUCCESS);

    /* Opting in to more dynamic shared memory makes the same launch legal. */
    expect_rc("func.set_max_dynamic_shared", mod.FuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                                  optin), CUDA_SUCCESS);
    mod.FuncGetAttribute(&dyn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f);
    expect_u64("func.max_dynamic_shared", (uint64_t)dyn, (uint64_t)optin);
    expect_rc("launch.shared_opted_in", mod.LaunchKernel(f, 1, 1, 1, 32, 1, 1, 48 * 1024 + 1, NULL, args, NULL),
              CUDA_SUCCESS);
    expect_rc("launch.shared_over_optin", mod.LaunchKernel(f, 1, 1, 1, 32, 1, 1, (unsigned)optin + 1, NULL, args,
                                                           NULL), CUDA_ERROR_INVALID_VALUE);
    expect_rc("func.set_max_dynamic_shared_too_big",
              mod.FuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin + 1),
              CUDA_ERROR_INVALID_VALUE);
    expect_rc("launch.sync_after_config", cu.CtxSynchronize(NULL), CUDA_SUCCESS);
}

static void check_function_attributes(CUfunction f)
{
    int value = -1, major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    int minor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    const char *name = NULL;

    expect_rc("func.max_threads", mod.FuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f),
              CUDA_SUCCESS);
    expect_true("func.max_threads_range", value >= 32 && value <= 1024, "expected 32..1024 got %d", value);
    value = -1;
    mod.FuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f);
    expect_u64("func.shared_size", (uint64_t)value, 0);
    value = -1;
    mod.FuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_PTX_VERSION, f);
    expect_u64("func.ptx_version", (uint64_t)value, 75);
    value = -1;
    mod.FuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_BINARY_VERSION, f);
    expect_u64("func.binary_version", (uint64_t)value, (uint64_t)(major * 10 + minor));
    value = -1;
    mod.FuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_NUM_REGS, f);
    expect_true("func.num_regs", value >= 1 && value <= 255, "expected 1..255 got %d", value);
    expect_rc("func.bad_attribute", mod.FuncGetAttribute(&value, CU_FUNC_ATTRIBUTE_MAX, f), CUDA_ERROR_INVALID_VALUE);
    expect_rc("func.name", mod.FuncGetName(&name, f), CUDA_SUCCESS);
    expect_true("func.name_is_vadd", name != NULL && strcmp(name, "vadd") == 0, "expected vadd got %s",
                name ? name : "(null)");
}

/* cudart's path: the fatbin wrapper to cuLibraryLoadData, the CUkernel passed as the CUfunction. */
static void check_library(void)
{
    contract_fatbin_wrapper_t wrapper = {0x466243B1, 1, module_fatbin, NULL};
    CUlibraryOption option = CU_LIBRARY_BINARY_IS_PRESERVED;
    void *option_value = (void *)(uintptr_t)1;
    CUlibrary lib = NULL;
    CUkernel k = NULL, missing = NULL;
    CUfunction f = NULL;
    CUdeviceptr bias = 0;
    size_t bias_size = 0;
    unsigned int count = 0;
    const char *name = NULL;
    int value = -1, min_grid = -1, block = -1;

    if (!expect_rc("library.load_wrapper", mod.LibraryLoadData(&lib, &wrapper, NULL, NULL, 0, &option, &option_value, 1),
                   CUDA_SUCCESS))
        return;
    expect_rc("library.kernel_count", mod.LibraryGetKernelCount(&count, lib), CUDA_SUCCESS);
    expect_u64("library.kernel_count_value", count, 3);
    expect_rc("library.get_kernel_missing", mod.LibraryGetKernel(&missing, lib, "no_such_kernel"),
              CUDA_ERROR_NOT_FOUND);
    if (!expect_rc("library.get_kernel", mod.LibraryGetKernel(&k, lib, "vadd"), CUDA_SUCCESS))
        goto out;
    expect_rc("kernel.name", mod.KernelGetName(&name, k), CUDA_SUCCESS);
    expect_true("kernel.name_is_vadd", name != NULL && strcmp(name, "vadd") == 0, "expected vadd got %s",
                name ? name : "(null)");
    check_param_info("kernel", (param_info_fn_t)mod.KernelGetParamInfo, k, vadd_params, 4);
    expect_rc("kernel.attribute", mod.KernelGetAttribute(&value, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, k, dev),
              CUDA_SUCCESS);
    expect_true("kernel.attribute_range", value >= 32 && value <= 1024, "expected 32..1024 got %d", value);
    expect_rc("library.get_global", mod.LibraryGetGlobal(&bias, &bias_size, lib, "bias"), CUDA_SUCCESS);
    expect_u64("library.global_size", bias_size, sizeof(float));
    check_vadd("library.vadd_kernel_handle", (CUfunction)k, bias, false);
    if (expect_rc("kernel.get_function", mod.KernelGetFunction(&f, k), CUDA_SUCCESS))
        check_vadd("library.vadd_function", f, bias, false);
    expect_rc("occupancy.max_active_blocks",
              mod.OccupancyMaxActiveBlocksPerMultiprocessor(&value, (CUfunction)k, 128, 0), CUDA_SUCCESS);
    expect_true("occupancy.max_active_blocks_value", value >= 1, "expected at least 1 got %d", value);
    expect_rc("occupancy.max_potential_block_size",
              mod.OccupancyMaxPotentialBlockSize(&min_grid, &block, (CUfunction)k, NULL, 0, 0), CUDA_SUCCESS);
    expect_true("occupancy.block_size_value", block >= 32 && block <= 1024 && block % 32 == 0 && min_grid >= 1,
                "expected a block size 32..1024 (multiple of 32) and a grid >= 1 got %d, %d", block, min_grid);
out:
    expect_rc("library.unload", mod.LibraryUnload(lib), CUDA_SUCCESS);
}

/* A kernel that writes to an address no allocation holds: the context reports
 * CUDA_ERROR_ILLEGAL_ADDRESS (at the launch or at the next synchronisation) and keeps reporting it
 * until the primary context is reset. */
static void check_kernel_fault(CUmodule m)
{
    CUfunction poke = NULL;
    CUdeviceptr bad = 0x10, d = 0;
    void *args[] = {&bad};
    CUcontext again = NULL;

    if (!expect_rc("fault.get_function", mod.ModuleGetFunction(&poke, m, "poke"), CUDA_SUCCESS))
        return;
    expect_rc2("fault.launch", mod.LaunchKernel(poke, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL), CUDA_SUCCESS,
               CUDA_ERROR_ILLEGAL_ADDRESS);
    expect_rc("fault.synchronize", cu.CtxSynchronize(NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    expect_rc("fault.sticky_alloc", cu.MemAlloc(&d, 256), CUDA_ERROR_ILLEGAL_ADDRESS);
    expect_rc("fault.sticky_synchronize", cu.CtxSynchronize(NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
    expect_rc("fault.reset", cu.DevicePrimaryCtxReset(dev), CUDA_SUCCESS);
    expect_rc("fault.retain", cu.DevicePrimaryCtxRetain(&again, dev), CUDA_SUCCESS);
    expect_rc("fault.set_current", cu.CtxSetCurrent(again), CUDA_SUCCESS);
    ctx = again;
    if (expect_rc("fault.alloc_after_reset", cu.MemAlloc(&d, 256), CUDA_SUCCESS))
        cu.MemFree(d);
}

static void check_modules(void)
{
    CUdriverProcAddressQueryResult status;
    CUmodule m = NULL, sass = NULL;
    CUfunction f = NULL, mixed = NULL, missing = NULL;
    CUdeviceptr bias = 0;
    size_t bias_size = 0;
    float one = 1.0f;
    int major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    int minor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    CUresult result;

#define RESOLVE_MODULE(slot, pfn)                                                                     \
    if (get_proc("cu" #slot, (void **)&mod.slot, API_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &status) != \
            CUDA_SUCCESS || mod.slot == NULL) {                                                       \
        skip("module", "the library does not provide cu" #slot);                                      \
        return;                                                                                       \
    }
    CONTRACT_MODULE_ENTRIES(RESOLVE_MODULE)
#undef RESOLVE_MODULE
    result = mod.ModuleLoadData(&m, module_ptx);
    if (result == CUDA_ERROR_NOT_SUPPORTED) {
        skip("module", "cuModuleLoadData is not supported by this library");
        return;
    }
    if (!expect_rc("module.load_ptx", result, CUDA_SUCCESS))
        return;
    expect_rc("module.get_function_missing", mod.ModuleGetFunction(&missing, m, "no_such_kernel"),
              CUDA_ERROR_NOT_FOUND);
    if (!expect_rc("module.get_function", mod.ModuleGetFunction(&f, m, "vadd"), CUDA_SUCCESS) ||
        !expect_rc("module.get_function_mixed", mod.ModuleGetFunction(&mixed, m, "mixed"), CUDA_SUCCESS))
        goto out;
    check_param_info("func.vadd", (param_info_fn_t)mod.FuncGetParamInfo, f, vadd_params, 4);
    check_param_info("func.mixed", (param_info_fn_t)mod.FuncGetParamInfo, mixed, mixed_params, 6);
    expect_rc("module.get_global", mod.ModuleGetGlobal(&bias, &bias_size, m, "bias"), CUDA_SUCCESS);
    expect_u64("module.global_size", bias_size, sizeof(float));
    expect_rc("module.get_global_missing", mod.ModuleGetGlobal(&bias, &bias_size, m, "no_such_global"),
              CUDA_ERROR_NOT_FOUND);
    check_function_attributes(f);
    check_mixed_params(mixed);
    check_vadd("module.vadd", f, bias, false);
    expect_rc("module.write_global", cu.MemcpyHtoD(bias, &one, sizeof(one)), CUDA_SUCCESS);
    check_vadd("module.vadd_extra", f, bias, true);
    check_launch_config(f);

    /* SASS for sm_75 only: runs on a 7.5 device, and nowhere else (the emulator runs PTX only). */
    result = mod.ModuleLoadData(&sass, module_sass_cubin);
    if (major == 7 && minor == 5)
        expect_rc2("module.sass_only_cubin", result, CUDA_SUCCESS, CUDA_ERROR_NO_BINARY_FOR_GPU);
    else
        expect_rc("module.sass_only_cubin", result, CUDA_ERROR_NO_BINARY_FOR_GPU);
    if (result == CUDA_SUCCESS)
        mod.ModuleUnload(sass);

    check_library();
    check_kernel_fault(m);
    return;
out:
    expect_rc("module.unload", mod.ModuleUnload(m), CUDA_SUCCESS);
}

/* --- pointer attributes ------------------------------------------------------------------------ */

static void check_pointer_attributes(void)
{
    CUdeviceptr a = 0, b = 0, dptr = 0;
    CUcontext owner = NULL;
    unsigned int type = 99, managed = 99, mapped = 0;
    int ordinal = -5;
    unsigned long long id_a = 0, id_b = 0;
    void *host_ptr = (void *)1;
    uint8_t *heap = xmalloc(4096);

    if (!expect_rc("ptr.alloc", cu.MemAlloc(&a, 1 * MiB), CUDA_SUCCESS) ||
        !expect_rc("ptr.alloc_second", cu.MemAlloc(&b, 4096), CUDA_SUCCESS))
        goto out;

    expect_rc("ptr.context", cu.PointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, a + 16), CUDA_SUCCESS);
    expect_true("ptr.context_value", owner == ctx, "expected %p got %p", (void *)ctx, (void *)owner);
    expect_rc("ptr.memory_type", cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, a + 16),
              CUDA_SUCCESS);
    expect_u64("ptr.memory_type_device", type, CU_MEMORYTYPE_DEVICE);
    expect_rc("ptr.device_pointer", cu.PointerGetAttribute(&dptr, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, a + 16),
              CUDA_SUCCESS);
    expect_u64("ptr.device_pointer_value", dptr, a + 16);
    expect_rc("ptr.device_ordinal", cu.PointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, a),
              CUDA_SUCCESS);
    expect_u64("ptr.device_ordinal_value", (uint64_t)ordinal, (uint64_t)dev);
    /* Booleans read into a zeroed unsigned int work whether the driver writes one byte or four. */
    managed = 0;
    expect_rc("ptr.is_managed", cu.PointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, a), CUDA_SUCCESS);
    expect_u64("ptr.is_managed_value", managed, 0);
    expect_rc("ptr.mapped", cu.PointerGetAttribute(&mapped, CU_POINTER_ATTRIBUTE_MAPPED, a), CUDA_SUCCESS);
    expect_true("ptr.mapped_value", mapped != 0, "expected true got 0");
    expect_rc("ptr.buffer_id", cu.PointerGetAttribute(&id_a, CU_POINTER_ATTRIBUTE_BUFFER_ID, a), CUDA_SUCCESS);
    expect_rc("ptr.buffer_id_second", cu.PointerGetAttribute(&id_b, CU_POINTER_ATTRIBUTE_BUFFER_ID, b),
              CUDA_SUCCESS);
    expect_true("ptr.buffer_ids_distinct", id_a != id_b, "expected two ids got %llu twice", id_a);
    expect_rc("ptr.host_pointer_of_device_memory",
              cu.PointerGetAttribute(&host_ptr, CU_POINTER_ATTRIBUTE_HOST_POINTER, a), CUDA_ERROR_INVALID_VALUE);
    expect_rc("ptr.null_data", cu.PointerGetAttribute(NULL, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, a),
              CUDA_ERROR_INVALID_VALUE);

    /* Memory CUDA does not know: one attribute is an error, the batch succeeds with empty values. */
    expect_rc("ptr.host_memory_type",
              cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)heap),
              CUDA_ERROR_INVALID_VALUE);
    {
        /* Not the device pointer: with HMM a GPU may reach pageable memory at the same address. */
        CUpointer_attribute attrs[3] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_CONTEXT,
                                        CU_POINTER_ATTRIBUTE_IS_MANAGED};
        void *data[3] = {&type, &owner, &managed};
        type = 99;
        owner = (CUcontext)1;
        managed = 0;
        expect_rc("ptr.batch_host", cu.PointerGetAttributes(3, attrs, data, (CUdeviceptr)(uintptr_t)heap),
                  CUDA_SUCCESS);
        expect_u64("ptr.batch_host_memory_type", type, 0);
        expect_true("ptr.batch_host_context", owner == NULL, "expected NULL got %p", (void *)owner);
        expect_u64("ptr.batch_host_is_managed", managed, 0);
    }
    {
        CUpointer_attribute attrs[4] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_POINTER,
                                        CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, CU_POINTER_ATTRIBUTE_CONTEXT};
        void *data[4] = {&type, &dptr, &ordinal, &owner};
        type = 99;
        dptr = 0;
        ordinal = -5;
        owner = NULL;
        expect_rc("ptr.batch_device", cu.PointerGetAttributes(4, attrs, data, b + 8), CUDA_SUCCESS);
        expect_u64("ptr.batch_device_memory_type", type, CU_MEMORYTYPE_DEVICE);
        expect_u64("ptr.batch_device_pointer", dptr, b + 8);
        expect_u64("ptr.batch_device_ordinal", (uint64_t)ordinal, (uint64_t)dev);
        expect_true("ptr.batch_device_context", owner == ctx, "expected %p got %p", (void *)ctx, (void *)owner);
    }
out:
    if (a)
        cu.MemFree(a);
    if (b)
        cu.MemFree(b);
    free(heap);
}

/* --- threads ----------------------------------------------------------------------------------- */

#define WORKERS 8
#define ROUNDS 64

typedef struct {
    int index;
    int ok;
} worker_t;

static void *alloc_worker(void *arg)
{
    worker_t *w = arg;
    uint8_t src[8192], back[8192];

    w->ok = cu.CtxSetCurrent(ctx) == CUDA_SUCCESS;
    for (int round = 0; round < ROUNDS && w->ok; round++) {
        size_t n = 256 + (size_t)((round * 977 + w->index * 131) % 7900);
        CUdeviceptr p = 0;

        fill_pattern(src, n, (unsigned)(round + w->index));
        memset(back, 0, n);
        w->ok = cu.MemAlloc(&p, n) == CUDA_SUCCESS && cu.MemcpyHtoD(p, src, n) == CUDA_SUCCESS &&
                cu.MemcpyDtoH(back, p, n) == CUDA_SUCCESS && memcmp(src, back, n) == 0 &&
                cu.MemFree(p) == CUDA_SUCCESS;
    }
    return NULL;
}

static void check_threads(void)
{
    pthread_t threads[WORKERS];
    worker_t workers[WORKERS];
    int started = 0, good = 0;

    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (worker_t){.index = i, .ok = 0};
        if (pthread_create(&threads[i], NULL, alloc_worker, &workers[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        good += workers[i].ok;
    }
    expect_true("threads.alloc_copy_free", started == WORKERS && good == WORKERS,
                "expected %d threads to succeed got %d of %d started", WORKERS, good, started);
}

/* --- streams ----------------------------------------------------------------------------------- */

/* Readable zeros that are no stream and no event, as fake_context is no context. */
static uint64_t fake_object[512];

/* A handle that was valid and no longer is: CUDA's documents call using one undefined; NVIDIA's
 * driver has been seen to answer either of these two (cupy#4537), and so may the suite's drivers. */
#define STALE_A CUDA_ERROR_INVALID_HANDLE
#define STALE_B CUDA_ERROR_CONTEXT_IS_DESTROYED

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

typedef struct {
    CUstream shared;              /* a stream the main thread created */
    unsigned long long per_thread_id;
    int ok_set, ok_id, ok_shared;
} stream_thread_t;

static void *stream_thread_body(void *arg)
{
    stream_thread_t *t = arg;

    t->ok_set = cu.CtxSetCurrent(ctx) == CUDA_SUCCESS;
    t->ok_id = cu.StreamGetId(CU_STREAM_PER_THREAD, &t->per_thread_id) == CUDA_SUCCESS;
    t->ok_shared = cu.StreamSynchronize(t->shared) == CUDA_SUCCESS && cu.StreamQuery(t->shared) == CUDA_SUCCESS;
    return NULL;
}

static void check_special_stream(const char *what, CUstream h)
{
    char name[96];
    CUcontext c = NULL;
    CUgreenCtx g = (CUgreenCtx)1;
    unsigned long long id = 0;

    snprintf(name, sizeof(name), "stream.%s.query", what);
    expect_call(name, cu.StreamQuery(h), CUDA_SUCCESS);
    snprintf(name, sizeof(name), "stream.%s.synchronize", what);
    expect_call(name, cu.StreamSynchronize(h), CUDA_SUCCESS);
    snprintf(name, sizeof(name), "stream.%s.get_id", what);
    expect_call(name, cu.StreamGetId(h, &id), CUDA_SUCCESS);
    /* cuda.h: a special handle names the calling thread's current context. */
    snprintf(name, sizeof(name), "stream.%s.get_ctx", what);
    if (expect_call(name, cu.StreamGetCtx(h, &c, &g), CUDA_SUCCESS)) {
        snprintf(name, sizeof(name), "stream.%s.get_ctx_value", what);
        expect_true(name, c == ctx && g == NULL, "expected %p and no green context got %p and %p", (void *)ctx,
                    (void *)c, (void *)g);
    }
}

static void check_streams(void)
{
    CUstream s = NULL, nb = NULL, hi = NULL, lo = NULL, other = NULL;
    CUcontext c = NULL;
    CUgreenCtx g = (CUgreenCtx)1;
    CUdevice d = -1;
    unsigned int flags = ~0u;
    int least = 99, greatest = 99, prio = 99;
    unsigned long long id_s = 0, id_nb = 0, id_again = 0, id_null = 1, id_legacy = 2, id_pt = 3, id_pt_null = 4;
    CUresult result = cu.StreamCreate(&s, CU_STREAM_DEFAULT);

    if (!family_supported("stream", "cuStreamCreate", result) || !expect_rc("stream.create", result, CUDA_SUCCESS))
        return;
    expect_true("stream.create_handle", s != NULL && s != CU_STREAM_LEGACY && s != CU_STREAM_PER_THREAD,
                "expected a new handle got %p", (void *)s);
    expect_call("stream.create_null", cu.StreamCreate(NULL, CU_STREAM_DEFAULT), CUDA_ERROR_INVALID_VALUE);
    expect_call("stream.create_unknown_flags", cu.StreamCreate(&other, 0x80), CUDA_ERROR_INVALID_VALUE);

    /* Flags read back as given. */
    if (expect_call("stream.get_flags", cu.StreamGetFlags(s, &flags), CUDA_SUCCESS))
        expect_u64("stream.get_flags_value", flags, CU_STREAM_DEFAULT);
    if (expect_call("stream.create_non_blocking", cu.StreamCreate(&nb, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS)) {
        flags = ~0u;
        if (expect_call("stream.get_flags_non_blocking", cu.StreamGetFlags(nb, &flags), CUDA_SUCCESS))
            expect_u64("stream.get_flags_non_blocking_value", flags, CU_STREAM_NON_BLOCKING);
    }

    /* Priorities: lower is higher; outside the range they are clamped, not refused. */
    if (expect_call("stream.get_priority", cu.StreamGetPriority(s, &prio), CUDA_SUCCESS))
        expect_true("stream.get_priority_default", prio == 0, "expected 0 got %d", prio);
    if (expect_call("stream.priority_range", cu.CtxGetStreamPriorityRange(&least, &greatest), CUDA_SUCCESS)) {
        expect_true("stream.priority_range_order", greatest <= least, "expected greatest %d <= least %d", greatest,
                    least);
        expect_call("stream.priority_range_one_wanted", cu.CtxGetStreamPriorityRange(NULL, &greatest), CUDA_SUCCESS);
        prio = 99;
        if (expect_call("stream.create_priority_above", cu.StreamCreateWithPriority(&hi, 0, greatest - 100),
                        CUDA_SUCCESS) &&
            expect_call("stream.get_priority_above", cu.StreamGetPriority(hi, &prio), CUDA_SUCCESS))
            expect_true("stream.priority_clamped_to_greatest", prio == greatest, "expected %d got %d", greatest, prio);
        prio = 99;
        if (expect_call("stream.create_priority_below", cu.StreamCreateWithPriority(&lo, CU_STREAM_NON_BLOCKING, least + 100),
                        CUDA_SUCCESS) &&
            expect_call("stream.get_priority_below", cu.StreamGetPriority(lo, &prio), CUDA_SUCCESS))
            expect_true("stream.priority_clamped_to_least", prio == least, "expected %d got %d", least, prio);
    }

    /* Context and device. */
    if (expect_call("stream.get_ctx", cu.StreamGetCtx(s, &c, &g), CUDA_SUCCESS))
        expect_true("stream.get_ctx_value", c == ctx && g == NULL, "expected %p and no green context got %p and %p",
                    (void *)ctx, (void *)c, (void *)g);
    c = NULL;
    if (expect_call("stream.get_ctx_per_thread_variant", ptds.StreamGetCtx(NULL, &c, &g), CUDA_SUCCESS))
        expect_true("stream.get_ctx_per_thread_variant_value", c == ctx, "expected %p got %p", (void *)ctx, (void *)c);
    if (expect_call("stream.get_device", cu.StreamGetDevice(s, &d), CUDA_SUCCESS))
        expect_u64("stream.get_device_value", (uint64_t)d, (uint64_t)dev);

    /* Ids: one per stream, stable; NULL is the legacy stream here and the per-thread one in the
     * per-thread variants. */
    if (expect_call("stream.get_id", cu.StreamGetId(s, &id_s), CUDA_SUCCESS) &&
        expect_call("stream.get_id_again", cu.StreamGetId(s, &id_again), CUDA_SUCCESS))
        expect_u64("stream.get_id_stable", id_again, id_s);
    if (nb != NULL && expect_call("stream.get_id_second", cu.StreamGetId(nb, &id_nb), CUDA_SUCCESS))
        expect_true("stream.get_id_distinct", id_nb != id_s, "expected two ids got %llu twice", id_s);
    if (expect_call("stream.get_id_null", cu.StreamGetId(NULL, &id_null), CUDA_SUCCESS) &&
        expect_call("stream.get_id_legacy", cu.StreamGetId(CU_STREAM_LEGACY, &id_legacy), CUDA_SUCCESS))
        expect_u64("stream.null_is_legacy", id_null, id_legacy);
    if (expect_call("stream.get_id_per_thread", cu.StreamGetId(CU_STREAM_PER_THREAD, &id_pt), CUDA_SUCCESS) &&
        expect_call("stream.get_id_per_thread_variant_null", ptds.StreamGetId(NULL, &id_pt_null), CUDA_SUCCESS)) {
        expect_u64("stream.per_thread_variant_null_is_per_thread", id_pt_null, id_pt);
        expect_true("stream.per_thread_is_not_legacy", id_pt != id_legacy, "expected two ids got %llu twice", id_pt);
    }

    /* The special handles. */
    check_special_stream("null", NULL);
    check_special_stream("legacy", CU_STREAM_LEGACY);
    check_special_stream("per_thread", CU_STREAM_PER_THREAD);
    expect_call("stream.per_thread_variant_query", ptds.StreamQuery(NULL), CUDA_SUCCESS);
    expect_call("stream.per_thread_variant_synchronize", ptds.StreamSynchronize(NULL), CUDA_SUCCESS);
    flags = ~0u;
    if (expect_call("stream.per_thread_variant_get_flags", ptds.StreamGetFlags(s, &flags), CUDA_SUCCESS))
        expect_u64("stream.per_thread_variant_get_flags_value", flags, CU_STREAM_DEFAULT);
    prio = 99;
    expect_call("stream.per_thread_variant_get_priority", ptds.StreamGetPriority(s, &prio), CUDA_SUCCESS);
    expect_call("stream.per_thread_variant_get_device", ptds.StreamGetDevice(s, &d), CUDA_SUCCESS);

    /* An idle stream is complete. */
    expect_call("stream.query_idle", cu.StreamQuery(s), CUDA_SUCCESS);
    expect_call("stream.synchronize_idle", cu.StreamSynchronize(s), CUDA_SUCCESS);

    /* Another thread: its own per-thread stream, and the streams of the context it makes current. */
    {
        stream_thread_t t = {.shared = s};
        pthread_t thread;

        if (pthread_create(&thread, NULL, stream_thread_body, &t) == 0) {
            pthread_join(thread, NULL);
            expect_true("stream.thread_set_current", t.ok_set, "expected cuCtxSetCurrent to succeed");
            if (t.ok_id)
                expect_true("stream.thread_own_per_thread_stream", t.per_thread_id != id_pt,
                            "expected another per-thread stream than this thread's (%llu)", id_pt);
            else
                fail("stream.thread_own_per_thread_stream", "expected cuStreamGetId to succeed in a thread");
            expect_true("stream.thread_uses_shared_stream", t.ok_shared,
                        "expected cuStreamSynchronize and cuStreamQuery of the creator's stream to succeed");
        } else {
            fail("stream.thread_create", "expected a thread got an error");
        }
    }

    /* Destroyed and made-up handles; the special handles cannot be destroyed. */
    expect_call("stream.destroy", cu.StreamDestroy(s), CUDA_SUCCESS);
    expect_call2("stream.query_destroyed", cu.StreamQuery(s), STALE_A, STALE_B);
    expect_call2("stream.synchronize_destroyed", cu.StreamSynchronize(s), STALE_A, STALE_B);
    expect_call2("stream.query_fake", cu.StreamQuery((CUstream)fake_object), STALE_A, STALE_B);
    if (nb != NULL)
        expect_call("stream.destroy_non_blocking", cu.StreamDestroy(nb), CUDA_SUCCESS);
    if (hi != NULL)
        expect_call("stream.destroy_priority_above", cu.StreamDestroy(hi), CUDA_SUCCESS);
    if (lo != NULL)
        expect_call("stream.destroy_priority_below", cu.StreamDestroy(lo), CUDA_SUCCESS);
    expect_call("stream.ctx_synchronize", cu.CtxSynchronize(NULL), CUDA_SUCCESS);
}

/* --- events ------------------------------------------------------------------------------------ */

static void check_events(void)
{
    CUevent start = NULL, end = NULL, untimed = NULL, blocking = NULL, ipc = NULL, other = NULL;
    CUstream s = NULL, gone = NULL;
    PFN_cuEventElapsedTime_v2000 elapsed_legacy = NULL;
    float ms = -1.0f;
    CUresult result = cu.EventCreate(&start, CU_EVENT_DEFAULT);

    if (!family_supported("event", "cuEventCreate", result) || !expect_rc("event.create", result, CUDA_SUCCESS))
        return;
    expect_call("event.create_second", cu.EventCreate(&end, CU_EVENT_DEFAULT), CUDA_SUCCESS);
    expect_call("event.create_disable_timing", cu.EventCreate(&untimed, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
    expect_call("event.create_blocking_sync", cu.EventCreate(&blocking, CU_EVENT_BLOCKING_SYNC), CUDA_SUCCESS);
    expect_call("event.create_interprocess",
                cu.EventCreate(&ipc, CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
    /* cuda.h: an interprocess event must also disable timing. */
    expect_call("event.create_interprocess_timed", cu.EventCreate(&other, CU_EVENT_INTERPROCESS),
                CUDA_ERROR_INVALID_VALUE);
    expect_call("event.create_unknown_flags", cu.EventCreate(&other, 0x100), CUDA_ERROR_INVALID_VALUE);
    expect_call("event.create_null", cu.EventCreate(NULL, CU_EVENT_DEFAULT), CUDA_ERROR_INVALID_VALUE);
    if (end == NULL || untimed == NULL || blocking == NULL)
        goto out;

    /* Never recorded: an empty set of work, complete, but without a time. */
    expect_call("event.query_unrecorded", cu.EventQuery(start), CUDA_SUCCESS);
    expect_call("event.synchronize_unrecorded", cu.EventSynchronize(start), CUDA_SUCCESS);
    expect_call("event.elapsed_unrecorded", cu.EventElapsedTime(&ms, start, end), CUDA_ERROR_INVALID_HANDLE);

    /* Two records 20 ms apart: the elapsed time measures them. */
    expect_call("event.record", cu.EventRecord(start, NULL), CUDA_SUCCESS);
    expect_call("event.synchronize", cu.EventSynchronize(start), CUDA_SUCCESS);
    sleep_ms(20);
    expect_call("event.record_end", cu.EventRecord(end, NULL), CUDA_SUCCESS);
    expect_call("event.synchronize_end", cu.EventSynchronize(end), CUDA_SUCCESS);
    expect_call("event.query_recorded", cu.EventQuery(end), CUDA_SUCCESS);
    ms = -1.0f;
    if (expect_call("event.elapsed", cu.EventElapsedTime(&ms, start, end), CUDA_SUCCESS))
        expect_true("event.elapsed_value", isfinite(ms) && ms >= 15.0f && ms < 5000.0f,
                    "expected about 20 ms got %f", (double)ms);
    if (get_proc("cuEventElapsedTime", (void **)&elapsed_legacy, 2000, 0, NULL) == CUDA_SUCCESS && elapsed_legacy) {
        ms = -1.0f;
        if (expect_call("event.elapsed_legacy_abi", elapsed_legacy(&ms, start, end), CUDA_SUCCESS))
            expect_true("event.elapsed_legacy_abi_value", isfinite(ms) && ms >= 15.0f && ms < 5000.0f,
                        "expected about 20 ms got %f", (double)ms);
    } else {
        fail("event.elapsed_legacy_abi", "expected cuEventElapsedTime at 2000 got nothing");
    }
    expect_call("event.elapsed_null", cu.EventElapsedTime(NULL, start, end), CUDA_ERROR_INVALID_VALUE);
    expect_call("event.record_untimed", cu.EventRecord(untimed, NULL), CUDA_SUCCESS);
    expect_call("event.synchronize_untimed", cu.EventSynchronize(untimed), CUDA_SUCCESS);
    expect_call("event.elapsed_untimed", cu.EventElapsedTime(&ms, start, untimed), CUDA_ERROR_INVALID_HANDLE);

    /* Records on a created stream, with flags, and on the special streams. */
    if (expect_call("event.stream_create", cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS)) {
        expect_call("event.record_on_stream", cu.EventRecord(start, s), CUDA_SUCCESS);
        expect_call("event.record_with_flags", cu.EventRecordWithFlags(end, s, CU_EVENT_RECORD_DEFAULT), CUDA_SUCCESS);
        expect_call("event.synchronize_on_stream", cu.EventSynchronize(end), CUDA_SUCCESS);
        ms = -1.0f;
        if (expect_call("event.elapsed_on_stream", cu.EventElapsedTime(&ms, start, end), CUDA_SUCCESS))
            expect_true("event.elapsed_on_stream_value", isfinite(ms) && ms >= 0.0f && ms < 5000.0f,
                        "expected a small non-negative time got %f", (double)ms);
        /* cuda.h: CU_EVENT_RECORD_EXTERNAL is invalid outside stream capture. */
        result = cu.EventRecordWithFlags(end, s, CU_EVENT_RECORD_EXTERNAL);
        expect_true("event.record_external_outside_capture", result != CUDA_SUCCESS, "expected an error got %s",
                    rname(result));
        expect_call("event.stream_wait", cu.StreamWaitEvent(s, start, CU_EVENT_WAIT_DEFAULT), CUDA_SUCCESS);
        expect_call("event.stream_wait_unrecorded", cu.StreamWaitEvent(s, blocking, 0), CUDA_SUCCESS);
        expect_call2("event.stream_wait_null_event", cu.StreamWaitEvent(s, NULL, 0), CUDA_ERROR_INVALID_HANDLE,
                     CUDA_ERROR_INVALID_VALUE);
        expect_call("event.stream_query_after_wait", cu.StreamSynchronize(s), CUDA_SUCCESS);
        if (expect_call("event.stream_create_second", cu.StreamCreate(&gone, 0), CUDA_SUCCESS) &&
            expect_call("event.stream_destroy_second", cu.StreamDestroy(gone), CUDA_SUCCESS))
            expect_call2("event.record_on_destroyed_stream", cu.EventRecord(start, gone), STALE_A, STALE_B);
        expect_call("event.stream_destroy", cu.StreamDestroy(s), CUDA_SUCCESS);
    }
    expect_call("event.record_legacy", cu.EventRecord(blocking, CU_STREAM_LEGACY), CUDA_SUCCESS);
    expect_call("event.record_per_thread", cu.EventRecord(blocking, CU_STREAM_PER_THREAD), CUDA_SUCCESS);
    expect_call("event.record_per_thread_variant", ptds.EventRecord(blocking, NULL), CUDA_SUCCESS);
    expect_call("event.record_with_flags_per_thread_variant", ptds.EventRecordWithFlags(blocking, NULL, 0),
                CUDA_SUCCESS);
    expect_call("event.synchronize_blocking", cu.EventSynchronize(blocking), CUDA_SUCCESS);
    expect_call("event.stream_wait_null_stream", cu.StreamWaitEvent(NULL, blocking, 0), CUDA_SUCCESS);
    expect_call("event.stream_wait_per_thread_variant", ptds.StreamWaitEvent(NULL, blocking, 0), CUDA_SUCCESS);
    expect_call("event.ctx_synchronize", cu.CtxSynchronize(NULL), CUDA_SUCCESS);

    /* Destroyed and made-up handles. */
    if (ipc != NULL) {
        expect_call("event.destroy_interprocess", cu.EventDestroy(ipc), CUDA_SUCCESS);
        expect_call2("event.query_destroyed", cu.EventQuery(ipc), STALE_A, STALE_B);
        expect_call2("event.record_destroyed", cu.EventRecord(ipc, NULL), STALE_A, STALE_B);
        ipc = NULL;
    }
    expect_call2("event.query_fake", cu.EventQuery((CUevent)fake_object), STALE_A, STALE_B);
out:
    if (start)
        expect_call("event.destroy", cu.EventDestroy(start), CUDA_SUCCESS);
    if (end)
        cu.EventDestroy(end);
    if (untimed)
        cu.EventDestroy(untimed);
    if (blocking)
        cu.EventDestroy(blocking);
    if (ipc)
        cu.EventDestroy(ipc);
}

/* --- pinned host memory ------------------------------------------------------------------------ */

static void check_host_memory(void)
{
    const size_t n = 64 * 1024;
    void *p = NULL, *q = NULL, *wc = NULL, *other = NULL;
    uint8_t *heap = xmalloc(4096), *want = xmalloc(n);
    unsigned int flags = 0, type = 0;
    CUdeviceptr dp = 0, d = 0;
    void *host_ptr = NULL;
    CUresult result = cu.MemAllocHost(&p, n);

    if (!family_supported("host", "cuMemAllocHost", result) || !expect_rc("host.alloc", result, CUDA_SUCCESS))
        goto out;
    memset(p, 0x3c, n);
    pass("host.alloc_writable");
    expect_call("host.get_flags_alloc_host", cu.MemHostGetFlags(&flags, p), CUDA_SUCCESS);

    if (expect_call("host.alloc_mapped_portable",
                    cu.MemHostAlloc(&q, n, CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP), CUDA_SUCCESS)) {
        flags = 0;
        if (expect_call("host.get_flags", cu.MemHostGetFlags(&flags, q), CUDA_SUCCESS))
            expect_true("host.get_flags_value",
                        (flags & (CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP)) ==
                            (CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP),
                        "expected PORTABLE and DEVICEMAP among 0x%x", flags);
        expect_call("host.get_flags_inside", cu.MemHostGetFlags(&flags, (uint8_t *)q + 1000), CUDA_SUCCESS);
        /* cuda.h: with unified addressing the device pointer of (non write-combined) pinned memory
         * is its host address. */
        if (expect_call("host.device_pointer", cu.MemHostGetDevicePointer(&dp, q, 0), CUDA_SUCCESS))
            expect_u64("host.device_pointer_is_host_address", dp, (uint64_t)(uintptr_t)q);
        expect_call("host.device_pointer_flags", cu.MemHostGetDevicePointer(&dp, q, 1), CUDA_ERROR_INVALID_VALUE);
    }
    if (expect_call("host.alloc_write_combined", cu.MemHostAlloc(&wc, 4096, CU_MEMHOSTALLOC_WRITECOMBINED),
                    CUDA_SUCCESS)) {
        flags = 0;
        if (expect_call("host.get_flags_write_combined", cu.MemHostGetFlags(&flags, wc), CUDA_SUCCESS))
            expect_true("host.get_flags_write_combined_value", (flags & CU_MEMHOSTALLOC_WRITECOMBINED) != 0,
                        "expected WRITECOMBINED among 0x%x", flags);
    }
    expect_call("host.alloc_unknown_flags", cu.MemHostAlloc(&other, 4096, 0x100), CUDA_ERROR_INVALID_VALUE);
    expect_call("host.alloc_null", cu.MemHostAlloc(NULL, 4096, 0), CUDA_ERROR_INVALID_VALUE);

    /* Pageable memory is not pinned memory. */
    expect_call("host.get_flags_pageable", cu.MemHostGetFlags(&flags, heap), CUDA_ERROR_INVALID_VALUE);
    expect_call("host.device_pointer_pageable", cu.MemHostGetDevicePointer(&dp, heap, 0), CUDA_ERROR_INVALID_VALUE);
    expect_call("host.free_pageable", cu.MemFreeHost(heap), CUDA_ERROR_INVALID_VALUE);

    /* Pointer attributes know pinned memory as host memory. */
    if (expect_rc("host.memory_type", cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                                             (CUdeviceptr)(uintptr_t)p + 8), CUDA_SUCCESS))
        expect_u64("host.memory_type_value", type, CU_MEMORYTYPE_HOST);
    if (expect_rc("host.host_pointer", cu.PointerGetAttribute(&host_ptr, CU_POINTER_ATTRIBUTE_HOST_POINTER,
                                                              (CUdeviceptr)(uintptr_t)p), CUDA_SUCCESS))
        expect_true("host.host_pointer_value", host_ptr == p, "expected %p got %p", p, host_ptr);
    if (q != NULL) {
        CUpointer_attribute attrs[2] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_POINTER};
        void *data[2] = {&type, &dp};
        type = 0;
        dp = 0;
        if (expect_rc("host.batch", cu.PointerGetAttributes(2, attrs, data, (CUdeviceptr)(uintptr_t)q + 16),
                      CUDA_SUCCESS)) {
            expect_u64("host.batch_memory_type", type, CU_MEMORYTYPE_HOST);
            expect_u64("host.batch_device_pointer", dp, (uint64_t)(uintptr_t)q + 16);
        }
    }

    /* Copies to and from pinned memory. */
    if (q != NULL && expect_rc("host.device_alloc", cu.MemAlloc(&d, n), CUDA_SUCCESS)) {
        fill_pattern(q, n, 21);
        memcpy(want, q, n);
        expect_rc("host.htod", cu.MemcpyHtoD(d, q, n), CUDA_SUCCESS);
        memset(p, 0, n);
        expect_rc("host.dtoh", cu.MemcpyDtoH(p, d, n), CUDA_SUCCESS);
        expect_bytes("host.round_trip", p, want, n);
        memset(p, 0, n);
        expect_rc("host.unified_to_device", cu.Memcpy(d, (CUdeviceptr)(uintptr_t)q, n), CUDA_SUCCESS);
        expect_rc("host.unified_to_host", cu.Memcpy((CUdeviceptr)(uintptr_t)p, d, n), CUDA_SUCCESS);
        expect_bytes("host.unified_round_trip", p, want, n);
    }

    if (q != NULL) {
        expect_call("host.free", cu.MemFreeHost(q), CUDA_SUCCESS);
        expect_call("host.get_flags_freed", cu.MemHostGetFlags(&flags, q), CUDA_ERROR_INVALID_VALUE);
        expect_call("host.free_twice", cu.MemFreeHost(q), CUDA_ERROR_INVALID_VALUE);
    }
out:
    if (d)
        cu.MemFree(d);
    if (p)
        cu.MemFreeHost(p);
    if (wc)
        cu.MemFreeHost(wc);
    free(heap);
    free(want);
}

/* --- stream-ordered copies and memsets --------------------------------------------------------- */

static void check_async_copies(void)
{
    const size_t n = 256 * 1024, pitch = 128, rows = 4;
    uint8_t *src = xmalloc(n), *back = xmalloc(n), *want = xmalloc(n);
    CUdeviceptr d = 0, d2 = 0, big = 0;
    CUstream s = NULL, gone = NULL;
    CUevent done = NULL;
    CUDA_MEMCPY2D c;
    CUresult result;

    fill_pattern(src, n, 5);
    if (!expect_rc("async.alloc", cu.MemAlloc(&d, n), CUDA_SUCCESS) ||
        !expect_rc("async.alloc_second", cu.MemAlloc(&d2, n), CUDA_SUCCESS))
        goto out;
    result = cu.StreamCreate(&s, CU_STREAM_DEFAULT);
    if (!family_supported("async", "cuStreamCreate", result) || !expect_rc("async.stream", result, CUDA_SUCCESS))
        goto out;
    result = cu.MemcpyHtoDAsync(d, src, n, s);
    if (!family_supported("async", "cuMemcpyHtoDAsync", result) || !expect_rc("async.htod", result, CUDA_SUCCESS))
        goto out;

    /* A chain on one stream: its order is kept. */
    expect_call("async.dtod", cu.MemcpyDtoDAsync(d2, d, n, s), CUDA_SUCCESS);
    memset(back, 0, n);
    expect_call("async.dtoh", cu.MemcpyDtoHAsync(back, d2, n, s), CUDA_SUCCESS);
    expect_call("async.synchronize", cu.StreamSynchronize(s), CUDA_SUCCESS);
    expect_bytes("async.chain_content", back, src, n);

    /* Memsets, then one read back, all on the stream. */
    memcpy(want, src, n);
    expect_call("async.memset8", cu.MemsetD8Async(d, 0x11, 100, s), CUDA_SUCCESS);
    expect_call("async.memset16", cu.MemsetD16Async(d + 200, 0x2233, 8, s), CUDA_SUCCESS);
    expect_call("async.memset32", cu.MemsetD32Async(d + 256, 0x44556677, 4, s), CUDA_SUCCESS);
    memset(want, 0x11, 100);
    for (size_t i = 0; i < 8; i++) {
        const uint16_t v = 0x2233;
        memcpy(want + 200 + 2 * i, &v, 2);
    }
    for (size_t i = 0; i < 4; i++) {
        const uint32_t v = 0x44556677;
        memcpy(want + 256 + 4 * i, &v, 4);
    }
    expect_call("async.memset2d8", cu.MemsetD2D8Async(d + 1024, pitch, 0x55, 10, rows, s), CUDA_SUCCESS);
    expect_call("async.memset2d16", cu.MemsetD2D16Async(d + 1024 + 16, pitch, 0x6677, 5, rows, s), CUDA_SUCCESS);
    expect_call("async.memset2d32", cu.MemsetD2D32Async(d + 1024 + 32, pitch, 0x8899aabb, 3, rows, s), CUDA_SUCCESS);
    for (size_t r = 0; r < rows; r++) {
        uint8_t *row = want + 1024 + r * pitch;
        memset(row, 0x55, 10);
        for (size_t i = 0; i < 5; i++) {
            const uint16_t v = 0x6677;
            memcpy(row + 16 + 2 * i, &v, 2);
        }
        for (size_t i = 0; i < 3; i++) {
            const uint32_t v = 0x8899aabb;
            memcpy(row + 32 + 4 * i, &v, 4);
        }
    }
    /* A 2D copy from a host matrix of pitch 40 into rows of pitch 128. */
    c = copy_desc(32, rows);
    c.srcMemoryType = CU_MEMORYTYPE_HOST, c.srcHost = src + 4096, c.srcPitch = 40;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE, c.dstDevice = d + 2048, c.dstPitch = pitch;
    expect_call("async.memcpy2d", cu.Memcpy2DAsync(&c, s), CUDA_SUCCESS);
    for (size_t r = 0; r < rows; r++)
        memcpy(want + 2048 + r * pitch, src + 4096 + r * 40, 32);
    /* An event recorded after the work completes with it. */
    if (expect_call("async.event_create", cu.EventCreate(&done, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS))
        expect_call("async.event_record", cu.EventRecord(done, s), CUDA_SUCCESS);
    memset(back, 0, n);
    expect_call("async.memcpy_unified_to_host", cu.MemcpyAsync((CUdeviceptr)(uintptr_t)back, d, 4096, s),
                CUDA_SUCCESS);
    if (done != NULL)
        expect_call("async.event_synchronize", cu.EventSynchronize(done), CUDA_SUCCESS);
    expect_call("async.synchronize_memsets", cu.StreamSynchronize(s), CUDA_SUCCESS);
    expect_bytes("async.memsets_and_2d_content", back, want, 4096);

    /* The special streams and the per-thread variants. */
    memset(back, 0, n);
    expect_call("async.htod_null", cu.MemcpyHtoDAsync(d2, src + 1, 1000, NULL), CUDA_SUCCESS);
    expect_call("async.dtod_legacy", cu.MemcpyDtoDAsync(d2 + 1000, d2, 1000, CU_STREAM_LEGACY), CUDA_SUCCESS);
    expect_call("async.dtoh_per_thread", cu.MemcpyDtoHAsync(back, d2, 2000, CU_STREAM_PER_THREAD), CUDA_SUCCESS);
    expect_call("async.synchronize_per_thread", cu.StreamSynchronize(CU_STREAM_PER_THREAD), CUDA_SUCCESS);
    memcpy(want, src + 1, 1000);
    memcpy(want + 1000, src + 1, 1000);
    expect_bytes("async.special_streams_content", back, want, 2000);

    memset(back, 0, n);
    expect_rc("async.ptsz_clear", cu.MemsetD8(d2 + 1024, 0, 96), CUDA_SUCCESS);
    expect_call("async.ptsz_htod", ptds.MemcpyHtoDAsync(d2, src + 2, 512, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_dtod", ptds.MemcpyDtoDAsync(d2 + 512, d2, 512, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_memset8", ptds.MemsetD8Async(d2 + 1024, 0x01, 4, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_memset16", ptds.MemsetD16Async(d2 + 1028, 0x0203, 2, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_memset32", ptds.MemsetD32Async(d2 + 1032, 0x04050607, 2, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_memset2d8", ptds.MemsetD2D8Async(d2 + 1040, 16, 0x08, 2, 2, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_memset2d16", ptds.MemsetD2D16Async(d2 + 1044, 16, 0x090a, 1, 2, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_memset2d32", ptds.MemsetD2D32Async(d2 + 1048, 16, 0x0b0c0d0e, 1, 2, NULL), CUDA_SUCCESS);
    c = copy_desc(8, 2);
    c.srcMemoryType = CU_MEMORYTYPE_HOST, c.srcHost = src + 100, c.srcPitch = 8;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE, c.dstDevice = d2 + 1088, c.dstPitch = 16;
    expect_call("async.ptsz_memcpy2d", ptds.Memcpy2DAsync(&c, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_memcpy_unified", ptds.MemcpyAsync((CUdeviceptr)(uintptr_t)(back + 2048), d2, 16, NULL),
                CUDA_SUCCESS);
    expect_call("async.ptsz_dtoh", ptds.MemcpyDtoHAsync(back, d2, 1120, NULL), CUDA_SUCCESS);
    expect_call("async.ptsz_synchronize", ptds.StreamSynchronize(NULL), CUDA_SUCCESS);
    memset(want, 0, 1120);
    memcpy(want, src + 2, 512);
    memcpy(want + 512, src + 2, 512);
    memset(want + 1024, 0x01, 4);
    {
        const uint16_t v16 = 0x0203, w16 = 0x090a;
        const uint32_t v32 = 0x04050607, w32 = 0x0b0c0d0e;
        memcpy(want + 1028, &v16, 2), memcpy(want + 1030, &v16, 2);
        memcpy(want + 1032, &v32, 4), memcpy(want + 1036, &v32, 4);
        for (size_t r = 0; r < 2; r++) {
            memset(want + 1040 + r * 16, 0x08, 2);
            memcpy(want + 1044 + r * 16, &w16, 2);
            memcpy(want + 1048 + r * 16, &w32, 4);
            memcpy(want + 1088 + r * 16, src + 100 + r * 8, 8);
        }
    }
    expect_bytes("async.ptsz_content", back, want, 1120);
    expect_bytes("async.ptsz_unified_content", back + 2048, want, 16);

    /* Bad arguments are refused by the call itself. */
    {
        const size_t over = GiB;
        uint8_t *huge = lazy_host(over + n);

        if (expect_rc("async.alloc_big", cu.MemAlloc(&big, 32 * MiB), CUDA_SUCCESS)) {
            expect_call("async.htod_past_end", cu.MemcpyHtoDAsync(big + 32 * MiB - 4096, huge, over, s),
                        CUDA_ERROR_INVALID_VALUE);
            expect_call("async.dtoh_past_end", cu.MemcpyDtoHAsync(huge, big + 32 * MiB - 4096, over, s),
                        CUDA_ERROR_INVALID_VALUE);
            expect_call("async.memset_past_end", cu.MemsetD8Async(big + 32 * MiB - 16, 0, over, s),
                        CUDA_ERROR_INVALID_VALUE);
        }
        expect_call("async.dtoh_bad_pointer", cu.MemcpyDtoHAsync(huge, (CUdeviceptr)0x10, 16, s),
                    CUDA_ERROR_INVALID_VALUE);
        munmap(huge, over + n);
    }
    if (expect_call("async.stream_to_destroy", cu.StreamCreate(&gone, 0), CUDA_SUCCESS) &&
        expect_call("async.stream_destroy_early", cu.StreamDestroy(gone), CUDA_SUCCESS))
        expect_call2("async.htod_destroyed_stream", cu.MemcpyHtoDAsync(d, src, 16, gone), STALE_A, STALE_B);
    expect_call("async.ctx_synchronize", cu.CtxSynchronize(NULL), CUDA_SUCCESS);
out:
    if (done)
        cu.EventDestroy(done);
    if (s)
        cu.StreamDestroy(s);
    if (big)
        cu.MemFree(big);
    if (d)
        cu.MemFree(d);
    if (d2)
        cu.MemFree(d2);
    free(src);
    free(back);
    free(want);
}

/* --- peer copies ------------------------------------------------------------------------------- */

static void check_peer_copies(void)
{
    const size_t n = 8192;
    uint8_t src[8192], back[8192];
    CUdeviceptr a = 0, b = 0;
    CUresult result;

    fill_pattern(src, n, 9);
    if (!expect_rc("peer.alloc", cu.MemAlloc(&a, n), CUDA_SUCCESS) ||
        !expect_rc("peer.alloc_second", cu.MemAlloc(&b, n), CUDA_SUCCESS) ||
        !expect_rc("peer.fill", cu.MemcpyHtoD(a, src, n), CUDA_SUCCESS))
        goto out;
    /* One device: a peer copy within the device's own context. */
    result = cu.MemcpyPeer(b, ctx, a, ctx, n);
    if (!family_supported("peer", "cuMemcpyPeer", result) || !expect_rc("peer.copy", result, CUDA_SUCCESS))
        goto out;
    memset(back, 0, n);
    expect_rc("peer.read_back", cu.MemcpyDtoH(back, b, n), CUDA_SUCCESS);
    expect_bytes("peer.content", back, src, n);

    expect_call("peer.clear", cu.MemsetD8(b, 0, n), CUDA_SUCCESS);
    expect_call("peer.copy_async", cu.MemcpyPeerAsync(b, ctx, a, ctx, n / 2, NULL), CUDA_SUCCESS);
    expect_call("peer.copy_per_thread_variant", ptds.MemcpyPeer(b + n / 2, ctx, a + n / 2, ctx, n / 4), CUDA_SUCCESS);
    expect_call("peer.copy_async_per_thread_variant",
                ptds.MemcpyPeerAsync(b + 3 * n / 4, ctx, a + 3 * n / 4, ctx, n / 4, NULL), CUDA_SUCCESS);
    expect_call("peer.synchronize", cu.CtxSynchronize(NULL), CUDA_SUCCESS);
    memset(back, 0, n);
    expect_rc("peer.read_back_pieces", cu.MemcpyDtoH(back, b, n), CUDA_SUCCESS);
    expect_bytes("peer.pieces_content", back, src, n);

    expect_call2("peer.bad_destination_context", cu.MemcpyPeer(b, (CUcontext)fake_context, a, ctx, n),
                 CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_INVALID_VALUE);
    expect_call2("peer.bad_source_context", cu.MemcpyPeerAsync(b, ctx, a, (CUcontext)fake_context, n, NULL),
                 CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_INVALID_VALUE);
    expect_call("peer.past_end", cu.MemcpyPeer(b, ctx, a, ctx, GiB), CUDA_ERROR_INVALID_VALUE);
out:
    if (a)
        cu.MemFree(a);
    if (b)
        cu.MemFree(b);
}

/* --- many threads on one stream ---------------------------------------------------------------- */

typedef struct {
    int index;
    CUstream shared;    /* a non-blocking stream all threads use */
    CUevent on_legacy;  /* an event all threads record on the legacy stream */
    int ok;
} stream_worker_t;

/* Each thread copies its own buffer through device memory on the shared stream, while the others
 * do the same: work from several threads interleaves on the stream, each thread's stays in order.
 * Then through its own blocking stream, made to wait for an event every thread records on the
 * legacy stream, and read back by a synchronous copy, which the legacy stream orders after the
 * blocking stream's work. */
static void *stream_worker(void *arg)
{
    stream_worker_t *w = arg;
    uint8_t src[4096], back[4096];
    CUdeviceptr p = 0, q = 0;
    CUevent ev = NULL;
    CUstream own = NULL;

    w->ok = cu.CtxSetCurrent(ctx) == CUDA_SUCCESS && cu.MemAlloc(&p, sizeof(src)) == CUDA_SUCCESS &&
            cu.MemAlloc(&q, sizeof(src)) == CUDA_SUCCESS &&
            cu.EventCreate(&ev, CU_EVENT_DISABLE_TIMING) == CUDA_SUCCESS &&
            cu.StreamCreate(&own, CU_STREAM_DEFAULT) == CUDA_SUCCESS;
    for (int round = 0; round < ROUNDS && w->ok; round++) {
        fill_pattern(src, sizeof(src), (unsigned)(round * 7 + w->index));
        memset(back, 0, sizeof(back));
        w->ok = cu.MemcpyHtoDAsync(p, src, sizeof(src), w->shared) == CUDA_SUCCESS &&
                cu.MemsetD8Async(p, (unsigned char)round, 16, w->shared) == CUDA_SUCCESS &&
                cu.MemcpyDtoHAsync(back, p, sizeof(back), w->shared) == CUDA_SUCCESS &&
                cu.EventRecord(ev, w->shared) == CUDA_SUCCESS && cu.EventSynchronize(ev) == CUDA_SUCCESS;
        memset(src, round, 16);
        w->ok = w->ok && memcmp(src, back, sizeof(src)) == 0;

        memset(back, 0, sizeof(back));
        w->ok = w->ok && cu.EventRecord(w->on_legacy, NULL) == CUDA_SUCCESS &&
                cu.StreamWaitEvent(own, w->on_legacy, 0) == CUDA_SUCCESS &&
                cu.MemcpyHtoDAsync(q, src, sizeof(src), own) == CUDA_SUCCESS &&
                cu.MemcpyDtoH(back, q, sizeof(back)) == CUDA_SUCCESS && memcmp(src, back, sizeof(src)) == 0;
    }
    if (own)
        cu.StreamDestroy(own);
    if (ev)
        cu.EventDestroy(ev);
    if (p)
        cu.MemFree(p);
    if (q)
        cu.MemFree(q);
    return NULL;
}

static void check_stream_threads(void)
{
    pthread_t threads[WORKERS];
    stream_worker_t workers[WORKERS];
    CUstream shared = NULL;
    CUevent on_legacy = NULL;
    int started = 0, good = 0;
    CUresult result = cu.StreamCreate(&shared, CU_STREAM_NON_BLOCKING);

    if (!family_supported("stream_threads", "cuStreamCreate", result) ||
        !expect_rc("stream_threads.create", result, CUDA_SUCCESS))
        return;
    result = cu.EventCreate(&on_legacy, CU_EVENT_DISABLE_TIMING);
    if (!family_supported("stream_threads", "cuEventCreate", result) ||
        !expect_rc("stream_threads.event", result, CUDA_SUCCESS)) {
        cu.StreamDestroy(shared);
        return;
    }
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (stream_worker_t){.index = i, .shared = shared, .on_legacy = on_legacy};
        if (pthread_create(&threads[i], NULL, stream_worker, &workers[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        good += workers[i].ok;
    }
    expect_true("stream_threads.copy_on_shared_stream", started == WORKERS && good == WORKERS,
                "expected %d threads to succeed got %d of %d started", WORKERS, good, started);
    expect_call("stream_threads.synchronize", cu.StreamSynchronize(shared), CUDA_SUCCESS);
    expect_call("stream_threads.destroy", cu.StreamDestroy(shared), CUDA_SUCCESS);
    expect_call("stream_threads.event_destroy", cu.EventDestroy(on_legacy), CUDA_SUCCESS);
}

/* --- reset and release ------------------------------------------------------------------------- */

static void check_reset(void)
{
    const size_t big = 64 * MiB;
    size_t free_with = 0, free_after = 0, total = 0;
    CUdeviceptr r = 0, s = 0;
    unsigned type = 0, flags;
    int active, releases = 0;
    CUresult result = CUDA_SUCCESS;
    CUcontext again = NULL;

    if (!expect_rc("reset.alloc", cu.MemAlloc(&r, big), CUDA_SUCCESS))
        return;
    expect_rc("reset.memset", cu.MemsetD8(r, 0x42, big), CUDA_SUCCESS);
    expect_rc("reset.get_info_before", cu.MemGetInfo(&free_with, &total), CUDA_SUCCESS);

    expect_rc("reset.reset", cu.DevicePrimaryCtxReset(dev), CUDA_SUCCESS);
    primary_state(&flags, &active);
    expect_u64("reset.inactive", (uint64_t)active, 0);
    expect_rc("reset.pointer_gone", cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, r),
              CUDA_ERROR_INVALID_VALUE);

    expect_rc("reset.retain", cu.DevicePrimaryCtxRetain(&again, dev), CUDA_SUCCESS);
    expect_rc("reset.set_current", cu.CtxSetCurrent(again), CUDA_SUCCESS);
    ctx = again;
    primary_state(&flags, &active);
    expect_u64("reset.active_after_retain", (uint64_t)active, 1);
    expect_rc("reset.free_old_pointer", cu.MemFree(r), CUDA_ERROR_INVALID_VALUE);
    expect_rc("reset.get_info_after", cu.MemGetInfo(&free_after, &total), CUDA_SUCCESS);
    expect_true("reset.memory_returned", free_after >= free_with + big / 2,
                "expected free >= %zu got %zu", free_with + big / 2, free_after);

    /* The last release deactivates the context and frees what it still held. Whether a reset kept
     * the earlier retain counted is the driver's business: release until it reports inactive. */
    if (!expect_rc("release.alloc", cu.MemAlloc(&s, 4096), CUDA_SUCCESS))
        return;
    do {
        result = cu.DevicePrimaryCtxRelease(dev);
        primary_state(&flags, &active);
        releases++;
    } while (result == CUDA_SUCCESS && active == 1 && releases < 8);
    expect_rc("release.last", result, CUDA_SUCCESS);
    expect_u64("release.inactive", (uint64_t)active, 0);
    expect_rc("release.too_many", cu.DevicePrimaryCtxRelease(dev), CUDA_ERROR_INVALID_CONTEXT);
    expect_rc("release.pointer_gone", cu.PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, s),
              CUDA_ERROR_INVALID_VALUE);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!load(argv[1])) {
        printf("driver_contract: %d passed, %d failed (could not load %s)\n", passed, failed, argv[1]);
        return 1;
    }
    check_exports();
    check_get_proc_address();
    check_before_init();

    expect_rc("init.bad_flags", cu.Init(1), CUDA_ERROR_INVALID_VALUE);
    if (!expect_rc("init", cu.Init(0), CUDA_SUCCESS)) {
        printf("driver_contract: %d passed, %d failed (cuInit failed)\n", passed, failed);
        return 1;
    }
    expect_rc("init.again", cu.Init(0), CUDA_SUCCESS);

    check_devices();
    check_no_context();
    check_primary_context();
    check_current_context();
    check_bad_context();
    check_thread_context();
    check_allocation();
    check_copies();
    check_pitch_and_2d();
    check_memsets();
    check_pointer_attributes();
    check_streams();
    check_events();
    check_host_memory();
    check_async_copies();
    check_peer_copies();
    check_threads();
    check_stream_threads();
    check_out_of_range();
    check_modules();
    check_reset();

    printf("driver_contract: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed == 0 ? 0 : 1;
}
