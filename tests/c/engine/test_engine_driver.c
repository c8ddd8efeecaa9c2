/*
 * test_engine_driver.c: the driver-API families of libbf.so end to end, called directly (no
 * runtime in between), against a live worker. Linked with libbf.so; run through `bf run` by
 * tests/engine/test_engine_driver.py. Prints "PASS name" / "FAIL name: why" per check and a final
 * line; exits 1 if any check failed.
 */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failed;

static void report(const char *name, int ok, const char *fmt, long long a, long long b)
{
    checks++;
    if (ok) {
        printf("PASS %s\n", name);
        return;
    }
    failed++;
    printf("FAIL %s: ", name);
    printf(fmt, a, b);
    printf("\n");
}

#define EXPECT(name, call, want)                                                             \
    do {                                                                                     \
        CUresult got_ = (call);                                                              \
        report(name, got_ == (want), "expected result %lld got %lld", (long long)(want),     \
               (long long)got_);                                                             \
    } while (0)
#define OK(name, call) EXPECT(name, call, CUDA_SUCCESS)
#define EQ(name, got, want)                                                                  \
    report(name, (long long)(got) == (long long)(want), "expected %lld got %lld",           \
           (long long)(want), (long long)(got))
#define TRUE(name, cond) report(name, (cond) != 0, "expected true (%lld %lld)", 0, 0)

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seed + (i >> 12));
    return p;
}

static void test_before_init(void)
{
    int n = -1, version = 0;
    const char *text = NULL;
    CUdeviceptr d;

    EXPECT("count_before_init", cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT("alloc_before_init", cuMemAlloc_v2(&d, 16), CUDA_ERROR_NOT_INITIALIZED);
    OK("driver_version", cuDriverGetVersion(&version));
    EQ("driver_version_13000", version, 13000);
    OK("error_string", cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &text));
    TRUE("error_string_text", text != NULL && strcmp(text, "invalid argument") == 0);
    EXPECT("error_name_unknown_code", cuGetErrorName((CUresult)12345, &text),
           CUDA_ERROR_INVALID_VALUE);
    EXPECT("init_bad_flags", cuInit(1), CUDA_ERROR_INVALID_VALUE);
}

static void test_devices(void)
{
    int n = 0, major = 0, minor = 0, value = 0;
    CUdevice dev = -1, found = -1;
    char name[256], shortname[4], bus[64];
    size_t total = 0;
    CUuuid u1, u2;
    CUmoduleLoadingMode mode;

    OK("count", cuDeviceGetCount(&n));
    TRUE("count_positive", n >= 1);
    OK("get_0", cuDeviceGet(&dev, 0));
    EQ("get_0_value", dev, 0);
    EXPECT("get_out_of_range", cuDeviceGet(&dev, n), CUDA_ERROR_INVALID_DEVICE);
    EXPECT("get_negative", cuDeviceGet(&dev, -1), CUDA_ERROR_INVALID_DEVICE);
    OK("name", cuDeviceGetName(name, sizeof(name), 0));
    TRUE("name_nonempty", name[0] != '\0');
    OK("name_truncated", cuDeviceGetName(shortname, sizeof(shortname), 0));
    EQ("name_truncated_len", strlen(shortname), strlen(name) < 3 ? strlen(name) : 3);
    EXPECT("name_zero_len", cuDeviceGetName(name, 0, 0), CUDA_ERROR_INVALID_VALUE);
    OK("total_mem", cuDeviceTotalMem_v2(&total, 0));
    TRUE("total_mem_positive", total > 0);
    OK("uuid", cuDeviceGetUuid(&u1, 0));
    OK("uuid_v2", cuDeviceGetUuid_v2(&u2, 0));
    TRUE("uuid_same", memcmp(&u1, &u2, sizeof(u1)) == 0);
    OK("compute_capability", cuDeviceComputeCapability(&major, &minor, 0));
    OK("attr_cc_major", cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0));
    EQ("attr_cc_major_matches", value, major);
    OK("attr_warp_size", cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0));
    EQ("attr_warp_size_32", value, 32);
    OK("attr_unified_addressing", cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, 0));
    EXPECT("attr_zero", cuDeviceGetAttribute(&value, (CUdevice_attribute)0, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT("attr_max", cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT("attr_bad_device", cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_WARP_SIZE, n),
           CUDA_ERROR_INVALID_DEVICE);
    OK("pci_bus_id", cuDeviceGetPCIBusId(bus, sizeof(bus), 0));
    OK("by_pci_bus_id", cuDeviceGetByPCIBusId(&found, bus));
    EQ("by_pci_bus_id_device", found, 0);
    EXPECT("by_pci_bus_id_garbage", cuDeviceGetByPCIBusId(&found, "not a bus id"),
           CUDA_ERROR_INVALID_VALUE);
    OK("loading_mode", cuModuleGetLoadingMode(&mode));
    EQ("loading_mode", mode, getenv("CUDA_MODULE_LOADING") != NULL &&
                                     strcmp(getenv("CUDA_MODULE_LOADING"), "EAGER") == 0
                                 ? CU_MODULE_EAGER_LOADING
                                 : CU_MODULE_LAZY_LOADING);
}

static CUcontext test_contexts(void)
{
    CUcontext ctx = NULL, cur = (CUcontext)1, popped = NULL;
    CUdeviceptr d;
    CUdevice dev = -1;
    unsigned int flags = 99, version = 0;
    int active = -1;

    OK("ctx_get_current_none", cuCtxGetCurrent(&cur));
    TRUE("ctx_current_null", cur == NULL);
    EXPECT("alloc_without_context", cuMemAlloc_v2(&d, 16), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT("ctx_sync_without_context", cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT("ctx_get_device_without_context", cuCtxGetDevice(&dev), CUDA_ERROR_INVALID_CONTEXT);
    OK("primary_state", cuDevicePrimaryCtxGetState(0, &flags, &active));
    EQ("primary_inactive", active, 0);
    EXPECT("primary_release_unretained", cuDevicePrimaryCtxRelease_v2(0), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT("primary_set_flags_bad", cuDevicePrimaryCtxSetFlags_v2(0, 3), CUDA_ERROR_INVALID_VALUE);
    OK("primary_set_flags", cuDevicePrimaryCtxSetFlags(0, CU_CTX_SCHED_BLOCKING_SYNC));
    OK("primary_retain", cuDevicePrimaryCtxRetain(&ctx, 0));
    TRUE("primary_handle", ctx != NULL);
    OK("primary_state_after_retain", cuDevicePrimaryCtxGetState(0, &flags, &active));
    EQ("primary_active", active, 1);
    EQ("primary_flags", flags, CU_CTX_SCHED_BLOCKING_SYNC);
    EXPECT("set_current_stray", cuCtxSetCurrent((CUcontext)&flags), CUDA_ERROR_INVALID_CONTEXT);
    OK("set_current", cuCtxSetCurrent(ctx));
    OK("get_current", cuCtxGetCurrent(&cur));
    TRUE("get_current_is_primary", cur == ctx);
    OK("ctx_get_device", cuCtxGetDevice(&dev));
    EQ("ctx_get_device_0", dev, 0);
    dev = -1;
    OK("ctx_get_device_v2", cuCtxGetDevice_v2(&dev, ctx));
    EQ("ctx_get_device_v2_0", dev, 0);
    OK("ctx_api_version", cuCtxGetApiVersion(NULL, &version));
    TRUE("ctx_api_version_set", version >= 3020);
    OK("ctx_get_flags", cuCtxGetFlags(&flags));
    EQ("ctx_flags", flags, CU_CTX_SCHED_BLOCKING_SYNC);
    OK("push", cuCtxPushCurrent_v2(ctx));
    OK("pop", cuCtxPopCurrent_v2(&popped));
    TRUE("pop_returns_pushed", popped == ctx);
    OK("push_legacy", cuCtxPushCurrent(ctx));
    OK("pop_legacy", cuCtxPopCurrent(NULL));
    OK("get_current_after_pops", cuCtxGetCurrent(&cur));
    TRUE("still_current", cur == ctx);
    OK("ctx_sync", cuCtxSynchronize());
    OK("ctx_sync_v2", cuCtxSynchronize_v2(ctx));
    return ctx;
}

static void test_memory_1d(void)
{
    const size_t n = 1 << 20;
    CUdeviceptr a = 0, b = 0, base = 0;
    size_t size = 0, free0 = 0, total = 0, free1 = 0;
    uint8_t *src = pattern(n, 7), *dst = calloc(1, n);

    OK("mem_get_info", cuMemGetInfo_v2(&free0, &total));
    TRUE("mem_info_sane", free0 > 0 && free0 <= total);
    EXPECT("alloc_zero", cuMemAlloc_v2(&a, 0), CUDA_ERROR_INVALID_VALUE);
    OK("alloc_a", cuMemAlloc_v2(&a, n));
    OK("alloc_b", cuMemAlloc_v2(&b, n));
    OK("mem_get_info_after", cuMemGetInfo_v2(&free1, &total));
    TRUE("mem_info_decreased", free1 < free0);
    OK("address_range", cuMemGetAddressRange_v2(&base, &size, a + 1000));
    TRUE("address_range_value", base == a && size == n);
    EXPECT("address_range_host", cuMemGetAddressRange_v2(&base, &size, (CUdeviceptr)(uintptr_t)src),
           CUDA_ERROR_NOT_FOUND);

    OK("htod", cuMemcpyHtoD_v2(a, src, n));
    OK("dtod", cuMemcpyDtoD_v2(b, a, n));
    OK("dtoh", cuMemcpyDtoH_v2(dst, b, n));
    TRUE("roundtrip_bytes", memcmp(src, dst, n) == 0);

    /* Generic copy: direction from the addresses. */
    memset(dst, 0, n);
    OK("generic_htod", cuMemcpy(a, (CUdeviceptr)(uintptr_t)src + 1, n - 1));
    OK("generic_dtod", cuMemcpy(b, a, n - 1));
    OK("generic_dtoh", cuMemcpy((CUdeviceptr)(uintptr_t)dst, b, n - 1));
    TRUE("generic_bytes", memcmp(src + 1, dst, n - 1) == 0);
    OK("generic_htoh", cuMemcpy((CUdeviceptr)(uintptr_t)dst, (CUdeviceptr)(uintptr_t)src, 64));
    TRUE("generic_htoh_bytes", memcmp(src, dst, 64) == 0);
    OK("htod_ptds", cuMemcpyHtoD_v2_ptds(a, src, n));
    OK("dtod_ptds", cuMemcpyDtoD_v2_ptds(b, a, n));
    OK("dtoh_ptds", cuMemcpyDtoH_v2_ptds(dst, b, n));
    OK("generic_ptds", cuMemcpy_ptds(b, a, 16));
    TRUE("ptds_bytes", memcmp(src, dst, n) == 0);

    /* Checked before anything is sent. */
    EXPECT("htod_past_end", cuMemcpyHtoD_v2(a + n - 8, src, 16), CUDA_ERROR_INVALID_VALUE);
    EXPECT("dtoh_unknown_pointer", cuMemcpyDtoH_v2(dst, a + (64u << 20), 16), CUDA_ERROR_INVALID_VALUE);
    EXPECT("htod_device_as_host", cuMemcpyHtoD_v2(a, (void *)(uintptr_t)b, 16), CUDA_ERROR_INVALID_VALUE);
    EXPECT("htod_null_host", cuMemcpyHtoD_v2(a, NULL, 16), CUDA_ERROR_INVALID_VALUE);
    EXPECT("dtod_across_allocations", cuMemcpyDtoD_v2(a, b + n - 8, 16), CUDA_ERROR_INVALID_VALUE);
    OK("copy_zero_bytes", cuMemcpyHtoD_v2(a, src, 0));

    /* Memsets of every width. */
    OK("memset_d8", cuMemsetD8_v2(a, 0xab, n));
    OK("memset_d16", cuMemsetD16_v2(a + 2, 0x1234, 8));
    OK("memset_d32", cuMemsetD32_v2(a + 64, 0xdeadbeef, 4));
    OK("memset_d8_ptds", cuMemsetD8_v2_ptds(a + 128, 0x11, 1));
    OK("memset_d16_ptds", cuMemsetD16_v2_ptds(a + 130, 0x2233, 1));
    OK("memset_d32_ptds", cuMemsetD32_v2_ptds(a + 132, 0x44556677, 1));
    OK("memset_readback", cuMemcpyDtoH_v2(dst, a, 256));
    uint16_t h;
    uint32_t w;
    memcpy(&h, dst + 2, 2);
    memcpy(&w, dst + 64, 4);
    TRUE("memset_values", dst[0] == 0xab && dst[1] == 0xab && h == 0x1234 && w == 0xdeadbeef &&
                              dst[18] == 0xab && dst[80] == 0xab && dst[128] == 0x11);
    EXPECT("memset_d32_misaligned", cuMemsetD32_v2(a + 2, 0, 4), CUDA_ERROR_INVALID_VALUE);
    EXPECT("memset_d16_misaligned", cuMemsetD16_v2(a + 1, 0, 4), CUDA_ERROR_INVALID_VALUE);
    EXPECT("memset_past_end", cuMemsetD32_v2(a, 0, n / 4 + 1), CUDA_ERROR_INVALID_VALUE);

    /* Frees: base only, once; NULL is fine. */
    EXPECT("free_interior", cuMemFree_v2(a + 16), CUDA_ERROR_INVALID_VALUE);
    OK("free_a", cuMemFree_v2(a));
    EXPECT("free_twice", cuMemFree_v2(a), CUDA_ERROR_INVALID_VALUE);
    EXPECT("use_after_free", cuMemsetD8_v2(a, 0, 1), CUDA_ERROR_INVALID_VALUE);
    OK("free_null", cuMemFree_v2(0));
    OK("free_b", cuMemFree_v2(b));
    OK("sync_after_frees", cuCtxSynchronize());
    free(src);
    free(dst);
}

/* Copies split into several messages (over 64 MiB): posted chunks up, pipelined chunks down. */
static void test_memory_big(void)
{
    const size_t n = (130u << 20) + 12345;
    CUdeviceptr a = 0;
    uint8_t *src = pattern(n, 3), *dst = malloc(n);

    memset(dst, 0, n);
    if (cuMemAlloc_v2(&a, n) != CUDA_SUCCESS) {
        report("big_alloc", 0, "cannot allocate %lld bytes%lld", (long long)n, 0);
        goto out;
    }
    OK("big_htod", cuMemcpyHtoD_v2(a, src, n));
    OK("big_dtoh", cuMemcpyDtoH_v2(dst, a, n));
    TRUE("big_bytes", memcmp(src, dst, n) == 0);
    OK("big_free", cuMemFree_v2(a));
out:
    free(src);
    free(dst);
}

static void test_memory_2d(void)
{
    CUdeviceptr p = 0, q = 0;
    size_t pitch = 0, pitch2 = 0;
    const size_t width = 300, height = 37, host_pitch = 333;
    uint8_t *src = pattern(host_pitch * height, 11), *dst = calloc(host_pitch, height);

    EXPECT("alloc_pitch_elem_3", cuMemAllocPitch_v2(&p, &pitch, width, height, 3), CUDA_ERROR_INVALID_VALUE);
    OK("alloc_pitch", cuMemAllocPitch_v2(&p, &pitch, width, height, 4));
    TRUE("pitch_at_least_width", pitch >= width);
    OK("alloc_pitch_2", cuMemAllocPitch_v2(&q, &pitch2, width, height, 16));

    CUDA_MEMCPY2D c;
    memset(&c, 0, sizeof(c));
    c.srcMemoryType = CU_MEMORYTYPE_HOST;
    c.srcHost = src;
    c.srcPitch = host_pitch;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = p;
    c.dstPitch = pitch;
    c.WidthInBytes = width;
    c.Height = height;
    OK("2d_htod", cuMemcpy2D_v2(&c));

    memset(&c, 0, sizeof(c));
    c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    c.srcDevice = p;
    c.srcPitch = pitch;
    c.dstMemoryType = CU_MEMORYTYPE_UNIFIED;  /* resolved by address: device */
    c.dstDevice = q;
    c.dstPitch = pitch2;
    c.WidthInBytes = width;
    c.Height = height;
    OK("2d_dtod", cuMemcpy2DUnaligned_v2(&c));

    memset(&c, 0, sizeof(c));
    c.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
    c.srcDevice = q;
    c.srcPitch = pitch2;
    c.dstMemoryType = CU_MEMORYTYPE_HOST;
    c.dstHost = dst;
    c.dstPitch = host_pitch;
    c.WidthInBytes = width;
    c.Height = height;
    OK("2d_dtoh", cuMemcpy2D_v2_ptds(&c));
    int rows_ok = 1;
    for (size_t r = 0; r < height; r++)
        rows_ok &= memcmp(src + r * host_pitch, dst + r * host_pitch, width) == 0 &&
                   dst[r * host_pitch + width] == 0;  /* the gap between rows is untouched */
    TRUE("2d_rows", rows_ok);

    /* Offsets: a 10x5 block from (x 7, y 3) of the device image to (x 1, y 2) of a host image. */
    memset(dst, 0, host_pitch * height);
    c.srcXInBytes = 7;
    c.srcY = 3;
    c.dstXInBytes = 1;
    c.dstY = 2;
    c.WidthInBytes = 10;
    c.Height = 5;
    OK("2d_dtoh_offsets", cuMemcpy2DUnaligned_v2_ptds(&c));
    int block_ok = 1;
    for (size_t r = 0; r < 5; r++)
        block_ok &= memcmp(dst + (r + 2) * host_pitch + 1, src + (r + 3) * host_pitch + 7, 10) == 0;
    TRUE("2d_offsets_block", block_ok);

    /* Host to host is done locally. */
    uint8_t a[4][8], b[4][8];
    memset(a, 5, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    c.srcMemoryType = CU_MEMORYTYPE_HOST;
    c.srcHost = a;
    c.srcPitch = 8;
    c.dstMemoryType = CU_MEMORYTYPE_HOST;
    c.dstHost = b;
    c.dstPitch = 8;
    c.WidthInBytes = 4;
    c.Height = 4;
    OK("2d_htoh", cuMemcpy2D_v2(&c));
    TRUE("2d_htoh_bytes", b[3][3] == 5 && b[3][4] == 0);

    /* Refusals before anything is sent. */
    c.dstMemoryType = CU_MEMORYTYPE_ARRAY;
    EXPECT("2d_array", cuMemcpy2D_v2(&c), CUDA_ERROR_NOT_SUPPORTED);
    memset(&c, 0, sizeof(c));
    c.srcMemoryType = CU_MEMORYTYPE_HOST;
    c.srcHost = src;
    c.srcPitch = host_pitch;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = p;
    c.dstPitch = width - 1;  /* rows would overlap */
    c.WidthInBytes = width;
    c.Height = 2;
    EXPECT("2d_pitch_too_small", cuMemcpy2D_v2(&c), CUDA_ERROR_INVALID_VALUE);
    c.dstPitch = pitch;
    c.Height = height + 1;  /* one row past the allocation */
    EXPECT("2d_past_end", cuMemcpy2D_v2(&c), CUDA_ERROR_INVALID_VALUE);

    /* 2D memsets: width in elements, rows pitch apart. */
    OK("memset_2d8", cuMemsetD2D8_v2(p, pitch, 0x5a, width, height));
    OK("memset_2d16", cuMemsetD2D16_v2(p, pitch, 0x1122, 4, 3));
    OK("memset_2d32", cuMemsetD2D32_v2(p + 16, pitch, 0xa1b2c3d4, 2, 3));
    OK("memset_2d8_ptds", cuMemsetD2D8_v2_ptds(p + 40, pitch, 0x77, 1, 1));
    OK("memset_2d16_ptds", cuMemsetD2D16_v2_ptds(p + 42, pitch, 0x7788, 1, 1));
    OK("memset_2d32_ptds", cuMemsetD2D32_v2_ptds(p + 44, pitch, 0x99aabbcc, 1, 1));
    uint8_t *img = calloc(pitch, height);
    OK("memset_2d_readback", cuMemcpyDtoH_v2(img, p, pitch * height));
    uint16_t h;
    uint32_t w;
    memcpy(&h, img + 2 * pitch + 6, 2);
    memcpy(&w, img + 2 * pitch + 20, 4);
    TRUE("memset_2d_values", h == 0x1122 && w == 0xa1b2c3d4 && img[2 * pitch + 8] == 0x5a &&
                                 img[3 * pitch + 6] == 0x5a && img[(height - 1) * pitch + width - 1] == 0x5a &&
                                 img[40] == 0x77);
    EXPECT("memset_2d_pitch_small", cuMemsetD2D32_v2(p, 4, 0, 2, 2), CUDA_ERROR_INVALID_VALUE);
    free(img);

    OK("free_pitch", cuMemFree_v2(p));
    OK("free_pitch_2", cuMemFree_v2(q));
    free(src);
    free(dst);
}

static void test_pointers(CUcontext ctx)
{
    CUdeviceptr d = 0;
    const size_t n = 4096;
    unsigned int type = 0, mapped = 0, managed = 7, sync = 0;
    int ordinal = -1;
    CUcontext owner = NULL;
    CUdeviceptr start = 0, devptr = 0;
    size_t range = 0;
    unsigned long long id1 = 0, id2 = 0;
    void *host = (void *)1;
    int on_stack = 0;

    OK("ptr_alloc", cuMemAlloc_v2(&d, n));
    OK("ptr_memory_type", cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 10));
    EQ("ptr_memory_type_device", type, CU_MEMORYTYPE_DEVICE);
    OK("ptr_context", cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, d));
    TRUE("ptr_context_primary", owner == ctx);
    OK("ptr_ordinal", cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d));
    EQ("ptr_ordinal_0", ordinal, 0);
    OK("ptr_device_pointer", cuPointerGetAttribute(&devptr, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, d + 10));
    TRUE("ptr_device_pointer_same", devptr == d + 10);
    EXPECT("ptr_host_pointer", cuPointerGetAttribute(&host, CU_POINTER_ATTRIBUTE_HOST_POINTER, d),
           CUDA_ERROR_INVALID_VALUE);
    OK("ptr_range_start", cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, d + 100));
    OK("ptr_range_size", cuPointerGetAttribute(&range, CU_POINTER_ATTRIBUTE_RANGE_SIZE, d + 100));
    TRUE("ptr_range", start == d && range == n);
    OK("ptr_mapped", cuPointerGetAttribute(&mapped, CU_POINTER_ATTRIBUTE_MAPPED, d));
    EQ("ptr_mapped_1", mapped, 1);
    OK("ptr_is_managed", cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d));
    EQ("ptr_is_managed_0", managed, 0);
    OK("ptr_sync_memops", cuPointerGetAttribute(&sync, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, d));
    OK("ptr_buffer_id", cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID, d));
    EXPECT("ptr_host_memory", cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                                    (CUdeviceptr)(uintptr_t)&on_stack),
           CUDA_ERROR_INVALID_VALUE);
    EXPECT("ptr_bad_attribute", cuPointerGetAttribute(&type, (CUpointer_attribute)999, d),
           CUDA_ERROR_INVALID_VALUE);

    /* Several at once; an unknown pointer is no error, its values are zero. */
    CUpointer_attribute attrs[4] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_HOST_POINTER,
                                    CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, CU_POINTER_ATTRIBUTE_BUFFER_ID};
    void *data[4] = {&type, &host, &ordinal, &id2};
    type = 99;
    host = (void *)1;
    OK("ptr_attributes_device", cuPointerGetAttributes(4, attrs, data, d));
    TRUE("ptr_attributes_device_values", type == CU_MEMORYTYPE_DEVICE && host == NULL &&
                                             ordinal == 0 && id2 == id1);
    OK("ptr_attributes_host", cuPointerGetAttributes(4, attrs, data, (CUdeviceptr)(uintptr_t)&on_stack));
    TRUE("ptr_attributes_host_zero", type == 0 && host == NULL && id2 == 0);

    CUdeviceptr e = 0;
    OK("ptr_alloc_2", cuMemAlloc_v2(&e, n));
    OK("ptr_buffer_id_2", cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, e));
    TRUE("ptr_buffer_ids_differ", id1 != id2);
    OK("ptr_free", cuMemFree_v2(d));
    OK("ptr_free_2", cuMemFree_v2(e));
    EXPECT("ptr_after_free", cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d),
           CUDA_ERROR_INVALID_VALUE);
}

static void test_reset(CUcontext ctx)
{
    CUdeviceptr d = 0;
    CUcontext again = NULL;
    unsigned int flags = 0;
    int active = -1;

    OK("reset_alloc", cuMemAlloc_v2(&d, 4096));
    OK("reset", cuDevicePrimaryCtxReset_v2(0));
    OK("reset_state", cuDevicePrimaryCtxGetState(0, &flags, &active));
    EQ("reset_inactive", active, 0);
    EXPECT("reset_allocation_gone", cuMemGetAddressRange_v2(NULL, NULL, d), CUDA_ERROR_NOT_FOUND);
    EXPECT("alloc_on_reset_context", cuMemAlloc_v2(&d, 16), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    OK("retain_after_reset", cuDevicePrimaryCtxRetain(&again, 0));
    TRUE("same_handle_after_reset", again == ctx);
    OK("alloc_after_retain", cuMemAlloc_v2(&d, 4096));
    OK("memset_after_retain", cuMemsetD8_v2(d, 1, 4096));
    OK("sync_after_retain", cuCtxSynchronize());
    OK("reset_legacy", cuDevicePrimaryCtxReset(0));
    OK("release_1", cuDevicePrimaryCtxRelease(0));
    OK("release_2", cuDevicePrimaryCtxRelease_v2(0));
    EXPECT("release_3", cuDevicePrimaryCtxRelease_v2(0), CUDA_ERROR_INVALID_CONTEXT);
}

int main(void)
{
    CUresult init;

    setvbuf(stdout, NULL, _IOLBF, 0);
    test_before_init();
    init = cuInit(0);
    OK("init", init);
    if (init != CUDA_SUCCESS) {
        printf("FAIL driver: cuInit failed, %d of %d checks failed\n", failed, checks);
        return 1;
    }
    test_devices();
    CUcontext ctx = test_contexts();
    test_memory_1d();
    test_memory_big();
    test_memory_2d();
    test_pointers(ctx);
    test_reset(ctx);
    if (failed == 0)
        printf("PASS driver: all %d checks\n", checks);
    else
        printf("FAIL driver: %d of %d checks failed\n", failed, checks);
    return failed == 0 ? 0 : 1;
}
