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
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
    X(PointerGetAttributes, PFN_cuPointerGetAttributes_v7000)

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
    X(MemsetD2D32, PFN_cuMemsetD2D32_v7000_ptds)

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
    check_threads();
    check_out_of_range();
    check_reset();

    printf("driver_contract: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed == 0 ? 0 : 1;
}
