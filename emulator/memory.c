/*
 * memory.c: device memory (cuMemAlloc*, cuMemFree, cuMemGetInfo, cuMemGetAddressRange), copies
 * (cuMemcpy*) and memsets (cuMemsetD*), with their per-thread-stream (_ptds) twins.
 *
 * Every device range a copy or memset touches must lie inside one live allocation, or the call
 * fails with CUDA_ERROR_INVALID_VALUE before a byte moves: device pointers reach the emulator from
 * other processes, so a bad one must never fault. Host pointers belong to the caller and are
 * trusted, except NULL. An address inside a device's arena is always treated as device memory,
 * whatever the call says, so a "host" pointer can never reach unallocated arena pages.
 *
 * All operations are synchronous, so the _ptds variants are the same functions.
 */
#include "emu.h"

#include <string.h>

#include "bf_log.h"

const bf_range_t *bf_emu_memory_find(uint64_t addr)
{
    for (int i = 0; i < bf_emu.device_count; i++) {
        const bf_emu_arena_t *arena = &bf_emu.devices[i].arena;

        if (bf_emu_arena_contains(arena, addr))
            return bf_range_map_find(&arena->allocations, addr);
    }
    return NULL;
}

/* Returns the arena that holds addr, or NULL for an address outside every device's memory. */
static bf_emu_arena_t *arena_of(uint64_t addr)
{
    for (int i = 0; i < bf_emu.device_count; i++) {
        if (bf_emu_arena_contains(&bf_emu.devices[i].arena, addr))
            return &bf_emu.devices[i].arena;
    }
    return NULL;
}

/* Memory calls work on the calling thread's current context, which must be active. */
static CUresult current_active(bf_emu_ctx_t **ctx_p)
{
    return bf_emu_ctx_resolve(NULL, true, ctx_p);
}

/*
 * Checks one side of a transfer, the bytes [addr, addr + len) with len > 0.
 *   device_only  in  the call names this side device memory (cuMemcpyHtoD's destination, ...)
 * Returns CUDA_SUCCESS, or CUDA_ERROR_INVALID_VALUE for NULL, a wrapping range, a device range
 * that is not inside one live allocation, or a host address where device memory is required.
 */
static CUresult check_side(uint64_t addr, uint64_t len, bool device_only, const char *what)
{
    bf_emu_arena_t *arena = arena_of(addr);
    const bf_range_t *range = NULL;

    if (addr == 0 || addr + len < addr) {
        bf_log_debug("%s: bad range 0x%lx + %lu", what, (unsigned long)addr, (unsigned long)len);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (arena == NULL) {
        if (!device_only)
            return CUDA_SUCCESS;
        bf_log_debug("%s: 0x%lx is not device memory", what, (unsigned long)addr);
        return CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_lock(&bf_emu.lock);
    range = bf_range_map_find_span(&arena->allocations, addr, len);
    pthread_mutex_unlock(&bf_emu.lock);
    if (range == NULL) {
        bf_log_debug("%s: device range 0x%lx + %lu is not inside one allocation", what,
                     (unsigned long)addr, (unsigned long)len);
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* --- allocation ------------------------------------------------------------------------------ */

static CUresult alloc_bytes(CUdeviceptr *dptr, size_t bytesize)
{
    bf_emu_ctx_t *ctx;
    bf_status_t status;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (dptr == NULL || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&bf_emu.lock);
    status = bf_emu_arena_alloc(&bf_emu.devices[ctx->device].arena, bytesize, ctx, dptr);
    pthread_mutex_unlock(&bf_emu.lock);
    if (status != BF_OK)
        bf_log_debug("cuMemAlloc of %zu bytes failed: %s", bytesize, bf_status_str(status));
    return bf_status_to_cu(status);
}

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    return alloc_bytes(dptr, bytesize);
}

CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                            unsigned int ElementSizeBytes)
{
    bf_emu_ctx_t *ctx;
    size_t pitch, bytes;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (dptr == NULL || pPitch == NULL || WidthInBytes == 0 || Height == 0 || WidthInBytes > BF_EMU_MAX_PITCH)
        return CUDA_ERROR_INVALID_VALUE;
    /* 4, 8 or 16: the sizes of the coalesced accesses the rows are aligned for. */
    if (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16)
        return CUDA_ERROR_INVALID_VALUE;
    pitch = (WidthInBytes + BF_EMU_PITCH_ALIGN - 1) / BF_EMU_PITCH_ALIGN * BF_EMU_PITCH_ALIGN;
    if (__builtin_mul_overflow(pitch, Height, &bytes))
        return CUDA_ERROR_OUT_OF_MEMORY;
    result = alloc_bytes(dptr, bytes);
    if (result == CUDA_SUCCESS)
        *pPitch = pitch;
    return result;
}

CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    bf_emu_arena_t *arena;
    bf_emu_ctx_t *ctx;
    bf_status_t status = BF_NOT_FOUND;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    /* cudart frees NULL during its initialisation and expects success. */
    if (dptr == 0)
        return CUDA_SUCCESS;
    arena = arena_of(dptr);
    if (arena != NULL) {
        pthread_mutex_lock(&bf_emu.lock);
        status = bf_emu_arena_free(arena, dptr);
        pthread_mutex_unlock(&bf_emu.lock);
    }
    if (status != BF_OK) {
        bf_log_debug("cuMemFree: 0x%lx is not the start of a live allocation", (unsigned long)dptr);
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes)
{
    bf_emu_ctx_t *ctx;
    const bf_emu_arena_t *arena;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (free_bytes == NULL || total_bytes == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    arena = &bf_emu.devices[ctx->device].arena;
    pthread_mutex_lock(&bf_emu.lock);
    *free_bytes = arena->size - arena->used;
    *total_bytes = arena->size;
    pthread_mutex_unlock(&bf_emu.lock);
    return CUDA_SUCCESS;
}

CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    bf_emu_ctx_t *ctx;
    const bf_range_t *range;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&bf_emu.lock);
    range = bf_emu_memory_find(dptr);
    if (range != NULL) {
        if (pbase != NULL)
            *pbase = (CUdeviceptr)range->base;
        if (psize != NULL)
            *psize = (size_t)range->size;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return range != NULL ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

/* --- 1D copies ------------------------------------------------------------------------------- */

/* The common body: both sides checked, then the bytes moved (memmove: a device-to-device copy
 * within one allocation may overlap). */
static CUresult copy_1d(uint64_t dst, bool dst_device, uint64_t src, bool src_device, size_t count,
                        const char *what)
{
    bf_emu_ctx_t *ctx;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (count == 0)
        return CUDA_SUCCESS;
    result = check_side(dst, count, dst_device, what);
    if (result == CUDA_SUCCESS)
        result = check_side(src, count, src_device, what);
    if (result != CUDA_SUCCESS)
        return result;
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, count);
    return CUDA_SUCCESS;
}

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    /* Unified addressing: each side is device memory exactly when it lies in an arena. */
    return copy_1d(dst, false, src, false, ByteCount, "cuMemcpy");
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return copy_1d(dstDevice, true, (uint64_t)(uintptr_t)srcHost, false, ByteCount, "cuMemcpyHtoD");
}

CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy_1d((uint64_t)(uintptr_t)dstHost, false, srcDevice, true, ByteCount, "cuMemcpyDtoH");
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy_1d(dstDevice, true, srcDevice, true, ByteCount, "cuMemcpyDtoD");
}

/* --- 2D copies ------------------------------------------------------------------------------- */

/* One side of a 2D copy, checked: where its first row starts and its pitch. */
typedef struct {
    uint64_t start;
    size_t pitch;
} side_2d_t;

static CUresult resolve_side_2d(CUmemorytype type, const void *host, CUdeviceptr device, size_t x, size_t y,
                                size_t pitch, size_t width, size_t height, bool aligned, const char *what,
                                side_2d_t *side_p)
{
    uint64_t base, offset, extent;
    bool device_only;

    switch (type) {
    case CU_MEMORYTYPE_HOST:
        base = (uint64_t)(uintptr_t)host;
        device_only = false;
        break;
    case CU_MEMORYTYPE_DEVICE:
        base = device;
        device_only = true;
        break;
    case CU_MEMORYTYPE_UNIFIED:
        /* Resolved by address, as cuMemcpy does. */
        base = device;
        device_only = false;
        break;
    case CU_MEMORYTYPE_ARRAY:
        bf_log_warn("%s: CUDA arrays are not supported by the emulator yet", what);
        return CUDA_ERROR_NOT_SUPPORTED;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    /* Checked before the offsets are added: NULL plus an offset would pass for a host pointer. */
    if (base == 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* cuda.h: each pitch must hold its row's offset plus the width (it is unused for one row). */
    if (height > 1 && (pitch < width || pitch - width < x))
        return CUDA_ERROR_INVALID_VALUE;
    if (aligned && pitch > BF_EMU_MAX_PITCH)
        return CUDA_ERROR_INVALID_VALUE;
    if (__builtin_mul_overflow((uint64_t)y, (uint64_t)pitch, &offset) ||
        __builtin_add_overflow(offset, (uint64_t)x, &offset) ||
        __builtin_add_overflow(base, offset, &base) ||
        __builtin_mul_overflow((uint64_t)(height - 1), (uint64_t)pitch, &extent) ||
        __builtin_add_overflow(extent, (uint64_t)width, &extent))
        return CUDA_ERROR_INVALID_VALUE;
    if (width > 0 && height > 0) {
        CUresult result = check_side(base, extent, device_only, what);
        if (result != CUDA_SUCCESS)
            return result;
    }
    *side_p = (side_2d_t){.start = base, .pitch = pitch};
    return CUDA_SUCCESS;
}

static CUresult copy_2d(const CUDA_MEMCPY2D *p, bool aligned, const char *what)
{
    side_2d_t src, dst;
    bf_emu_ctx_t *ctx;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (p == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    result = resolve_side_2d(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcXInBytes, p->srcY,
                             p->srcPitch, p->WidthInBytes, p->Height, aligned, what, &src);
    if (result == CUDA_SUCCESS)
        result = resolve_side_2d(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstXInBytes, p->dstY,
                                 p->dstPitch, p->WidthInBytes, p->Height, aligned, what, &dst);
    if (result != CUDA_SUCCESS || p->WidthInBytes == 0 || p->Height == 0)
        return result;
    if (p->Height == 1 || (src.pitch == p->WidthInBytes && dst.pitch == p->WidthInBytes)) {
        memmove((void *)(uintptr_t)dst.start, (const void *)(uintptr_t)src.start, p->WidthInBytes * p->Height);
        return CUDA_SUCCESS;
    }
    for (size_t row = 0; row < p->Height; row++)
        memmove((void *)(uintptr_t)(dst.start + row * dst.pitch),
                (const void *)(uintptr_t)(src.start + row * src.pitch), p->WidthInBytes);
    return CUDA_SUCCESS;
}

CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, true, "cuMemcpy2D");
}

/* The same copy without the CU_DEVICE_ATTRIBUTE_MAX_PITCH limit. */
CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, false, "cuMemcpy2DUnaligned");
}

/* --- memsets --------------------------------------------------------------------------------- */

/* Writes count elements of elem_size bytes (1, 2 or 4) with value, row after row. */
static void fill_row(uint8_t *dst, size_t count, unsigned elem_size, uint32_t value)
{
    if (elem_size == 1) {
        memset(dst, (int)(value & 0xff), count);
    } else if (elem_size == 2) {
        const uint16_t v = (uint16_t)value;
        for (size_t i = 0; i < count; i++)
            memcpy(dst + i * 2, &v, 2);
    } else {
        for (size_t i = 0; i < count; i++)
            memcpy(dst + i * 4, &value, 4);
    }
}

/* cuMemsetD2D* and, with height 1, cuMemsetD*: width elements per row, height rows. */
static CUresult memset_2d(CUdeviceptr dst, size_t pitch, uint32_t value, size_t width, size_t height,
                          unsigned elem_size, const char *what)
{
    uint64_t row_bytes, extent;
    bf_emu_ctx_t *ctx;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (width == 0 || height == 0)
        return CUDA_SUCCESS;
    /* The element size is also the alignment the destination and its rows need. */
    if (dst % elem_size != 0 || (height > 1 && pitch % elem_size != 0))
        return CUDA_ERROR_INVALID_VALUE;
    if (__builtin_mul_overflow((uint64_t)width, (uint64_t)elem_size, &row_bytes))
        return CUDA_ERROR_INVALID_VALUE;
    if (height > 1 && pitch < row_bytes)
        return CUDA_ERROR_INVALID_VALUE;
    if (__builtin_mul_overflow((uint64_t)(height - 1), (uint64_t)pitch, &extent) ||
        __builtin_add_overflow(extent, row_bytes, &extent))
        return CUDA_ERROR_INVALID_VALUE;
    result = check_side(dst, extent, true, what);
    if (result != CUDA_SUCCESS)
        return result;
    for (size_t row = 0; row < height; row++)
        fill_row((uint8_t *)(uintptr_t)(dst + row * pitch), width, elem_size, value);
    return CUDA_SUCCESS;
}

CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return memset_2d(dstDevice, 0, uc, N, 1, 1, "cuMemsetD8");
}

CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return memset_2d(dstDevice, 0, us, N, 1, 2, "cuMemsetD16");
}

CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return memset_2d(dstDevice, 0, ui, N, 1, 4, "cuMemsetD32");
}

CUresult cuMemsetD2D8_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, uc, Width, Height, 1, "cuMemsetD2D8");
}

CUresult cuMemsetD2D16_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                          size_t Height)
{
    return memset_2d(dstDevice, dstPitch, us, Width, Height, 2, "cuMemsetD2D16");
}

CUresult cuMemsetD2D32_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, ui, Width, Height, 4, "cuMemsetD2D32");
}

/* --- per-thread default stream variants: every operation is synchronous, so they are the same -- */

CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return cuMemcpy(dst, src, ByteCount);
}

CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return cuMemcpyHtoD_v2(dstDevice, srcHost, ByteCount);
}

CUresult cuMemcpyDtoH_v2_ptds(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return cuMemcpyDtoH_v2(dstHost, srcDevice, ByteCount);
}

CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return cuMemcpyDtoD_v2(dstDevice, srcDevice, ByteCount);
}

CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return cuMemcpy2D_v2(pCopy);
}

CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return cuMemcpy2DUnaligned_v2(pCopy);
}

CUresult cuMemsetD8_v2_ptds(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return cuMemsetD8_v2(dstDevice, uc, N);
}

CUresult cuMemsetD16_v2_ptds(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return cuMemsetD16_v2(dstDevice, us, N);
}

CUresult cuMemsetD32_v2_ptds(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return cuMemsetD32_v2(dstDevice, ui, N);
}

CUresult cuMemsetD2D8_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width,
                              size_t Height)
{
    return cuMemsetD2D8_v2(dstDevice, dstPitch, uc, Width, Height);
}

CUresult cuMemsetD2D16_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                               size_t Height)
{
    return cuMemsetD2D16_v2(dstDevice, dstPitch, us, Width, Height);
}

CUresult cuMemsetD2D32_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width,
                               size_t Height)
{
    return cuMemsetD2D32_v2(dstDevice, dstPitch, ui, Width, Height);
}
