/*
 * memory.c: device memory (cuMemAlloc*, cuMemFree, cuMemGetInfo, cuMemGetAddressRange), copies
 * (cuMemcpy*, peer copies included) and memsets (cuMemsetD*), with their per-thread-stream
 * (_ptds) twins, and the stream-ordered forms of copies and memsets (*Async, and their _ptsz twins).
 *
 * Every device range a copy or memset touches must lie inside one live allocation, or the call
 * fails with CUDA_ERROR_INVALID_VALUE before a byte moves: device pointers reach the emulator from
 * other processes, so a bad one must never fault. Host pointers belong to the caller and are
 * trusted, except NULL. An address inside a device's arena is always treated as device memory,
 * whatever the call says, so a "host" pointer can never reach unallocated arena pages.
 *
 * Pinned host memory (host_memory.c) may also be named as device memory: with unified addressing its
 * device pointer is its host address.
 *
 * Each operation is checked, then done in two halves: a plan (every argument checked, nothing
 * moved) and a run that moves the bytes, enqueued on a stream (stream.c): the *Async calls on the
 * stream they name, the synchronous ones on the default stream (the legacy stream, or the thread's
 * per-thread stream for the _ptds variants), after which they wait for it. Work normally runs at
 * enqueue, in the calling thread. Errors of bad arguments are always returned by the call itself.
 * Peer copies name contexts, not streams: the synchronous one runs at once.
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
        pthread_mutex_lock(&bf_emu.lock);
        range = bf_emu_host_find_span(addr, len);
        pthread_mutex_unlock(&bf_emu.lock);
        if (range != NULL)
            return CUDA_SUCCESS;
        bf_log_debug("%s: 0x%lx + %lu is not device memory", what, (unsigned long)addr, (unsigned long)len);
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

/* A checked 1D copy. */
typedef struct {
    uint64_t dst, src;
    size_t count;
} copy_1d_t;

/* memmove: a device-to-device copy within one allocation may overlap. */
static void copy_1d_run(void *arg)
{
    const copy_1d_t *op = arg;

    memmove((void *)(uintptr_t)op->dst, (const void *)(uintptr_t)op->src, op->count);
}

/* Checks both sides of a copy of count > 0 bytes. */
static CUresult copy_1d_plan(uint64_t dst, bool dst_device, uint64_t src, bool src_device, size_t count,
                             const char *what, copy_1d_t *op_p)
{
    CUresult result = check_side(dst, count, dst_device, what);

    if (result == CUDA_SUCCESS)
        result = check_side(src, count, src_device, what);
    if (result == CUDA_SUCCESS)
        *op_p = (copy_1d_t){.dst = dst, .src = src, .count = count};
    return result;
}

/* Enqueues a planned operation on the stream a call names, or returns the first error. The stream
 * is resolved after the context check and before the plan, so a bad handle is reported whatever
 * the other arguments. plan_result is what the caller's plan returned; skip means there is nothing
 * to do (zero bytes). */
static CUresult enqueue_planned(bf_emu_stream_t *stream, CUresult plan_result, bool skip, bf_emu_work_fn_t run,
                                const void *op, size_t op_size)
{
    CUresult result = plan_result;

    if (result == CUDA_SUCCESS && !skip)
        result = bf_status_to_cu(bf_emu_stream_enqueue(stream, run, op, op_size));
    bf_emu_stream_put(stream);
    return result;
}

/* The preamble of every stream-ordered operation: current context, then the stream. */
static CUresult current_and_stream(CUstream hStream, bool per_thread, bf_emu_stream_t **stream_p)
{
    bf_emu_ctx_t *ctx;
    CUresult result = current_active(&ctx);

    if (result == CUDA_SUCCESS)
        result = bf_emu_stream_get(hStream, per_thread, stream_p);
    return result;
}

/* A synchronous operation is the next work of the calling thread's default stream (the legacy
 * stream, or its per-thread stream for the _ptds entry points): it runs after the work enqueued
 * there before it, and the call returns once it has run. */
static CUresult run_sync(bool per_thread, bf_emu_work_fn_t run, const void *op, size_t op_size)
{
    bf_emu_stream_t *stream;
    CUresult result = bf_emu_stream_get(NULL, per_thread, &stream);

    if (result != CUDA_SUCCESS)
        return result;
    result = bf_status_to_cu(bf_emu_stream_enqueue(stream, run, op, op_size));
    if (result == CUDA_SUCCESS)
        bf_emu_stream_wait(stream);
    bf_emu_stream_put(stream);
    bf_emu_devrt_flush(); /* a blocking copy is a flush point of device printf */
    return result;
}

static CUresult copy_1d(uint64_t dst, bool dst_device, uint64_t src, bool src_device, size_t count,
                        bool per_thread, const char *what)
{
    bf_emu_ctx_t *ctx;
    copy_1d_t op;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS || count == 0)
        return result;
    result = copy_1d_plan(dst, dst_device, src, src_device, count, what, &op);
    if (result == CUDA_SUCCESS)
        result = run_sync(per_thread, copy_1d_run, &op, sizeof(op));
    return result;
}

static CUresult copy_1d_async(uint64_t dst, bool dst_device, uint64_t src, bool src_device, size_t count,
                              CUstream hStream, bool per_thread, const char *what)
{
    bf_emu_stream_t *stream;
    copy_1d_t op = {0};
    CUresult result = current_and_stream(hStream, per_thread, &stream);

    if (result != CUDA_SUCCESS)
        return result;
    if (count > 0)
        result = copy_1d_plan(dst, dst_device, src, src_device, count, what, &op);
    return enqueue_planned(stream, result, count == 0, copy_1d_run, &op, sizeof(op));
}

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    /* Unified addressing: each side is device memory exactly when it lies in an arena. */
    return copy_1d(dst, false, src, false, ByteCount, false, "cuMemcpy");
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return copy_1d(dstDevice, true, (uint64_t)(uintptr_t)srcHost, false, ByteCount, false, "cuMemcpyHtoD");
}

CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy_1d((uint64_t)(uintptr_t)dstHost, false, srcDevice, true, ByteCount, false, "cuMemcpyDtoH");
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy_1d(dstDevice, true, srcDevice, true, ByteCount, false, "cuMemcpyDtoD");
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

/* A checked 2D copy. */
typedef struct {
    side_2d_t src, dst;
    size_t width, height;
} copy_2d_t;

static void copy_2d_run(void *arg)
{
    const copy_2d_t *op = arg;

    if (op->height == 1 || (op->src.pitch == op->width && op->dst.pitch == op->width)) {
        memmove((void *)(uintptr_t)op->dst.start, (const void *)(uintptr_t)op->src.start, op->width * op->height);
        return;
    }
    for (size_t row = 0; row < op->height; row++)
        memmove((void *)(uintptr_t)(op->dst.start + row * op->dst.pitch),
                (const void *)(uintptr_t)(op->src.start + row * op->src.pitch), op->width);
}

/* Checks a copy descriptor. *empty_p is set for a copy of nothing (zero width or height). */
static CUresult copy_2d_plan(const CUDA_MEMCPY2D *p, bool aligned, const char *what, copy_2d_t *op_p,
                             bool *empty_p)
{
    side_2d_t src, dst;
    CUresult result;

    if (p == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    result = resolve_side_2d(p->srcMemoryType, p->srcHost, p->srcDevice, p->srcXInBytes, p->srcY,
                             p->srcPitch, p->WidthInBytes, p->Height, aligned, what, &src);
    if (result == CUDA_SUCCESS)
        result = resolve_side_2d(p->dstMemoryType, p->dstHost, p->dstDevice, p->dstXInBytes, p->dstY,
                                 p->dstPitch, p->WidthInBytes, p->Height, aligned, what, &dst);
    if (result != CUDA_SUCCESS)
        return result;
    *op_p = (copy_2d_t){.src = src, .dst = dst, .width = p->WidthInBytes, .height = p->Height};
    *empty_p = p->WidthInBytes == 0 || p->Height == 0;
    return CUDA_SUCCESS;
}

static CUresult copy_2d(const CUDA_MEMCPY2D *p, bool aligned, bool per_thread, const char *what)
{
    bf_emu_ctx_t *ctx;
    copy_2d_t op;
    bool empty = true;
    CUresult result = current_active(&ctx);

    if (result == CUDA_SUCCESS)
        result = copy_2d_plan(p, aligned, what, &op, &empty);
    if (result == CUDA_SUCCESS && !empty)
        result = run_sync(per_thread, copy_2d_run, &op, sizeof(op));
    return result;
}

static CUresult copy_2d_async(const CUDA_MEMCPY2D *p, CUstream hStream, bool per_thread, const char *what)
{
    bf_emu_stream_t *stream;
    copy_2d_t op = {0};
    bool empty = true;
    CUresult result = current_and_stream(hStream, per_thread, &stream);

    if (result != CUDA_SUCCESS)
        return result;
    result = copy_2d_plan(p, true, what, &op, &empty);
    return enqueue_planned(stream, result, empty, copy_2d_run, &op, sizeof(op));
}

CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, true, false, "cuMemcpy2D");
}

/* The same copy without the CU_DEVICE_ATTRIBUTE_MAX_PITCH limit. */
CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, false, false, "cuMemcpy2DUnaligned");
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

/* A checked memset: width elements of elem_size bytes per row, height rows. */
typedef struct {
    CUdeviceptr dst;
    size_t pitch, width, height;
    uint32_t value;
    unsigned elem_size;
} memset_2d_t;

static void memset_2d_run(void *arg)
{
    const memset_2d_t *op = arg;

    for (size_t row = 0; row < op->height; row++)
        fill_row((uint8_t *)(uintptr_t)(op->dst + row * op->pitch), op->width, op->elem_size, op->value);
}

/* Checks a memset of width > 0 elements and height > 0 rows. */
static CUresult memset_2d_plan(CUdeviceptr dst, size_t pitch, uint32_t value, size_t width, size_t height,
                               unsigned elem_size, const char *what, memset_2d_t *op_p)
{
    uint64_t row_bytes, extent;
    CUresult result;

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
    if (result == CUDA_SUCCESS)
        *op_p = (memset_2d_t){.dst = dst, .pitch = pitch, .width = width, .height = height, .value = value,
                              .elem_size = elem_size};
    return result;
}

/* cuMemsetD2D* and, with height 1, cuMemsetD*. */
static CUresult memset_2d(CUdeviceptr dst, size_t pitch, uint32_t value, size_t width, size_t height,
                          unsigned elem_size, bool per_thread, const char *what)
{
    bf_emu_ctx_t *ctx;
    memset_2d_t op;
    CUresult result = current_active(&ctx);

    if (result != CUDA_SUCCESS || width == 0 || height == 0)
        return result;
    result = memset_2d_plan(dst, pitch, value, width, height, elem_size, what, &op);
    if (result == CUDA_SUCCESS)
        result = run_sync(per_thread, memset_2d_run, &op, sizeof(op));
    return result;
}

static CUresult memset_2d_async(CUdeviceptr dst, size_t pitch, uint32_t value, size_t width, size_t height,
                                unsigned elem_size, CUstream hStream, bool per_thread, const char *what)
{
    bf_emu_stream_t *stream;
    memset_2d_t op = {0};
    const bool empty = width == 0 || height == 0;
    CUresult result = current_and_stream(hStream, per_thread, &stream);

    if (result != CUDA_SUCCESS)
        return result;
    if (!empty)
        result = memset_2d_plan(dst, pitch, value, width, height, elem_size, what, &op);
    return enqueue_planned(stream, result, empty, memset_2d_run, &op, sizeof(op));
}

CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return memset_2d(dstDevice, 0, uc, N, 1, 1, false, "cuMemsetD8");
}

CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return memset_2d(dstDevice, 0, us, N, 1, 2, false, "cuMemsetD16");
}

CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return memset_2d(dstDevice, 0, ui, N, 1, 4, false, "cuMemsetD32");
}

CUresult cuMemsetD2D8_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, uc, Width, Height, 1, false, "cuMemsetD2D8");
}

CUresult cuMemsetD2D16_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                          size_t Height)
{
    return memset_2d(dstDevice, dstPitch, us, Width, Height, 2, false, "cuMemsetD2D16");
}

CUresult cuMemsetD2D32_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, ui, Width, Height, 4, false, "cuMemsetD2D32");
}

/* --- per-thread default stream variants: ordered on the calling thread's per-thread stream ------ */

CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return copy_1d(dst, false, src, false, ByteCount, true, "cuMemcpy");
}

CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return copy_1d(dstDevice, true, (uint64_t)(uintptr_t)srcHost, false, ByteCount, true, "cuMemcpyHtoD");
}

CUresult cuMemcpyDtoH_v2_ptds(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy_1d((uint64_t)(uintptr_t)dstHost, false, srcDevice, true, ByteCount, true, "cuMemcpyDtoH");
}

CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy_1d(dstDevice, true, srcDevice, true, ByteCount, true, "cuMemcpyDtoD");
}

CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, true, true, "cuMemcpy2D");
}

CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return copy_2d(pCopy, false, true, "cuMemcpy2DUnaligned");
}

CUresult cuMemsetD8_v2_ptds(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return memset_2d(dstDevice, 0, uc, N, 1, 1, true, "cuMemsetD8");
}

CUresult cuMemsetD16_v2_ptds(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return memset_2d(dstDevice, 0, us, N, 1, 2, true, "cuMemsetD16");
}

CUresult cuMemsetD32_v2_ptds(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return memset_2d(dstDevice, 0, ui, N, 1, 4, true, "cuMemsetD32");
}

CUresult cuMemsetD2D8_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width,
                              size_t Height)
{
    return memset_2d(dstDevice, dstPitch, uc, Width, Height, 1, true, "cuMemsetD2D8");
}

CUresult cuMemsetD2D16_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                               size_t Height)
{
    return memset_2d(dstDevice, dstPitch, us, Width, Height, 2, true, "cuMemsetD2D16");
}

CUresult cuMemsetD2D32_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width,
                               size_t Height)
{
    return memset_2d(dstDevice, dstPitch, ui, Width, Height, 4, true, "cuMemsetD2D32");
}

/* --- stream-ordered copies and memsets ------------------------------------------------------- */

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    return copy_1d_async(dst, false, src, false, ByteCount, hStream, false, "cuMemcpyAsync");
}

CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    return copy_1d_async(dst, false, src, false, ByteCount, hStream, true, "cuMemcpyAsync");
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)
{
    return copy_1d_async(dstDevice, true, (uint64_t)(uintptr_t)srcHost, false, ByteCount, hStream, false,
                         "cuMemcpyHtoDAsync");
}

CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)
{
    return copy_1d_async(dstDevice, true, (uint64_t)(uintptr_t)srcHost, false, ByteCount, hStream, true,
                         "cuMemcpyHtoDAsync");
}

CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
    return copy_1d_async((uint64_t)(uintptr_t)dstHost, false, srcDevice, true, ByteCount, hStream, false,
                         "cuMemcpyDtoHAsync");
}

CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
    return copy_1d_async((uint64_t)(uintptr_t)dstHost, false, srcDevice, true, ByteCount, hStream, true,
                         "cuMemcpyDtoHAsync");
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
    return copy_1d_async(dstDevice, true, srcDevice, true, ByteCount, hStream, false, "cuMemcpyDtoDAsync");
}

CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
    return copy_1d_async(dstDevice, true, srcDevice, true, ByteCount, hStream, true, "cuMemcpyDtoDAsync");
}

CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    return copy_2d_async(pCopy, hStream, false, "cuMemcpy2DAsync");
}

CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    return copy_2d_async(pCopy, hStream, true, "cuMemcpy2DAsync");
}

CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    return memset_2d_async(dstDevice, 0, uc, N, 1, 1, hStream, false, "cuMemsetD8Async");
}

CUresult cuMemsetD8Async_ptsz(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    return memset_2d_async(dstDevice, 0, uc, N, 1, 1, hStream, true, "cuMemsetD8Async");
}

CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream)
{
    return memset_2d_async(dstDevice, 0, us, N, 1, 2, hStream, false, "cuMemsetD16Async");
}

CUresult cuMemsetD16Async_ptsz(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream)
{
    return memset_2d_async(dstDevice, 0, us, N, 1, 2, hStream, true, "cuMemsetD16Async");
}

CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    return memset_2d_async(dstDevice, 0, ui, N, 1, 4, hStream, false, "cuMemsetD32Async");
}

CUresult cuMemsetD32Async_ptsz(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    return memset_2d_async(dstDevice, 0, ui, N, 1, 4, hStream, true, "cuMemsetD32Async");
}

CUresult cuMemsetD2D8Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height,
                           CUstream hStream)
{
    return memset_2d_async(dstDevice, dstPitch, uc, Width, Height, 1, hStream, false, "cuMemsetD2D8Async");
}

CUresult cuMemsetD2D8Async_ptsz(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width,
                                size_t Height, CUstream hStream)
{
    return memset_2d_async(dstDevice, dstPitch, uc, Width, Height, 1, hStream, true, "cuMemsetD2D8Async");
}

CUresult cuMemsetD2D16Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                            size_t Height, CUstream hStream)
{
    return memset_2d_async(dstDevice, dstPitch, us, Width, Height, 2, hStream, false, "cuMemsetD2D16Async");
}

CUresult cuMemsetD2D16Async_ptsz(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                                 size_t Height, CUstream hStream)
{
    return memset_2d_async(dstDevice, dstPitch, us, Width, Height, 2, hStream, true, "cuMemsetD2D16Async");
}

CUresult cuMemsetD2D32Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height,
                            CUstream hStream)
{
    return memset_2d_async(dstDevice, dstPitch, ui, Width, Height, 4, hStream, false, "cuMemsetD2D32Async");
}

CUresult cuMemsetD2D32Async_ptsz(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width,
                                 size_t Height, CUstream hStream)
{
    return memset_2d_async(dstDevice, dstPitch, ui, Width, Height, 4, hStream, true, "cuMemsetD2D32Async");
}

/* --- peer copies ----------------------------------------------------------------------------- */

/* A peer copy names the context of each side. With one device both can only be its primary
 * context, so a peer copy is a device-to-device copy once both handles are checked: NULL or not a
 * live context is CUDA_ERROR_INVALID_CONTEXT. */
static CUresult peer_contexts(CUcontext dstContext, CUcontext srcContext)
{
    bf_emu_ctx_t *ctx;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (dstContext == NULL || srcContext == NULL)
        return CUDA_ERROR_INVALID_CONTEXT;
    result = bf_emu_ctx_resolve(dstContext, true, &ctx);
    if (result == CUDA_SUCCESS)
        result = bf_emu_ctx_resolve(srcContext, true, &ctx);
    return result;
}

CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice, CUcontext srcContext,
                      size_t ByteCount)
{
    copy_1d_t op;
    CUresult result = peer_contexts(dstContext, srcContext);

    if (result != CUDA_SUCCESS || ByteCount == 0)
        return result;
    result = copy_1d_plan(dstDevice, true, srcDevice, true, ByteCount, "cuMemcpyPeer", &op);
    if (result == CUDA_SUCCESS)
        copy_1d_run(&op);
    return result;
}

CUresult cuMemcpyPeer_ptds(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                           CUcontext srcContext, size_t ByteCount)
{
    return cuMemcpyPeer(dstDevice, dstContext, srcDevice, srcContext, ByteCount);
}

static CUresult copy_peer_async(CUdeviceptr dst, CUcontext dstContext, CUdeviceptr src, CUcontext srcContext,
                                size_t count, CUstream hStream, bool per_thread)
{
    bf_emu_stream_t *stream;
    copy_1d_t op = {0};
    CUresult result = peer_contexts(dstContext, srcContext);

    if (result == CUDA_SUCCESS)
        result = bf_emu_stream_get(hStream, per_thread, &stream);
    if (result != CUDA_SUCCESS)
        return result;
    if (count > 0)
        result = copy_1d_plan(dst, true, src, true, count, "cuMemcpyPeerAsync", &op);
    return enqueue_planned(stream, result, count == 0, copy_1d_run, &op, sizeof(op));
}

CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                           CUcontext srcContext, size_t ByteCount, CUstream hStream)
{
    return copy_peer_async(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, false);
}

CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                CUcontext srcContext, size_t ByteCount, CUstream hStream)
{
    return copy_peer_async(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, true);
}
