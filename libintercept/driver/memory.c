/*
 * memory.c: allocation, copies and memsets.
 *
 * Everything the driver checks synchronously is checked here, before anything is sent: a
 * current, active context; a device span inside ONE live allocation; a host span that is not in
 * the device address space (which is PROT_NONE in this process); sizes, alignments, pitches.
 * What passes is sent posted where the caller needs no answer (host-to-device and
 * device-to-device copies, memsets, frees); only device-to-host copies and allocations wait.
 * Execution errors of posted operations are latched by the worker and come back from the next
 * synchronising call.
 *
 * Copies larger than BF_PROTO_MAX_TAIL travel as several operations. Device-to-host chunks are
 * pipelined and land straight in the caller's buffer; 2D copies move packed rows, so only
 * host-to-device 2D copies with a pitch wider than the row are packed in a bounce buffer.
 */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include "bf_log.h"

#define MAX_CHUNK ((uint64_t)BF_PROTO_MAX_TAIL)

/* The device of the current context, after the checks every memory call starts with. */
static CUresult current_device(int *device_p)
{
    bf_cl_ctx_t *ctx;

    BF_CHECK_INIT();
    CUresult result = bf_cl_ctx_current(&ctx);
    if (result == CUDA_SUCCESS)
        *device_p = bf_cl_ctx_device(ctx);
    return result;
}

static int device_span_ok(uint64_t addr, uint64_t len)
{
    bf_cl_mem_range_t range;

    return bf_cl_mem_find(addr, len, &range);
}

/* A host buffer the client will read or write: present, and not in the device address space. */
static int host_span_ok(const void *p, uint64_t len)
{
    uint64_t addr = (uint64_t)(uintptr_t)p;

    return p != NULL && addr + len >= addr && !bf_cl_mem_is_device_address(addr) &&
           (len == 0 || !bf_cl_mem_is_device_address(addr + len - 1));
}

/* a * b without wrapping; 0 on overflow (callers reject 0 for non-empty spans). */
static int mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* ---- allocation ---------------------------------------------------------------------------- */

/* Records an allocation the worker made. A pointer that overlaps a live one or lies outside the
 * device's window would break every later check, so it is handed back and the call fails. */
static CUresult record_allocation(int device, uint64_t dptr, uint64_t size)
{
    CUresult result = bf_cl_mem_insert(device, dptr, size, BF_CL_MEM_ALLOC);

    if (result != CUDA_SUCCESS) {
        bf_log_error("worker returned device memory [%#llx, +%#llx) that overlaps a live "
                     "allocation or lies outside device %d's window",
                     (unsigned long long)dptr, (unsigned long long)size, device);
        bf_req_MEM_FREE_t req = {.dptr = dptr};
        (void)bf_cl_rpc_post(BF_OP_MEM_FREE, &req, NULL, 0);
        return CUDA_ERROR_UNKNOWN;
    }
    return CUDA_SUCCESS;
}

BF_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS)
        return result;
    if (dptr == NULL || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    bf_req_MEM_ALLOC_t req = {.device = (uint32_t)device, .bytesize = bytesize};
    bf_rep_MEM_ALLOC_t rep;
    result = bf_cl_rpc_call(BF_OP_MEM_ALLOC, &req, NULL, 0, &rep, NULL);
    if (result != CUDA_SUCCESS)
        return result;
    result = record_allocation(device, rep.dptr, bytesize);
    if (result == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)rep.dptr;
    return result;
}

BF_API CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                   size_t Height, unsigned int ElementSizeBytes)
{
    int device;
    uint64_t size;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS)
        return result;
    if (dptr == NULL || pPitch == NULL || WidthInBytes == 0 || Height == 0 ||
        (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
        return CUDA_ERROR_INVALID_VALUE;
    bf_req_MEM_ALLOC_PITCH_t req = {.device = (uint32_t)device, .width = WidthInBytes,
                                    .height = Height, .element_size = ElementSizeBytes};
    bf_rep_MEM_ALLOC_PITCH_t rep;
    result = bf_cl_rpc_call(BF_OP_MEM_ALLOC_PITCH, &req, NULL, 0, &rep, NULL);
    if (result != CUDA_SUCCESS)
        return result;
    if (rep.pitch < WidthInBytes || !mul_ok(rep.pitch, Height, &size)) {
        bf_log_error("worker returned pitch %llu for rows of %zu bytes",
                     (unsigned long long)rep.pitch, WidthInBytes);
        bf_req_MEM_FREE_t free_req = {.dptr = rep.dptr};
        (void)bf_cl_rpc_post(BF_OP_MEM_FREE, &free_req, NULL, 0);
        return CUDA_ERROR_UNKNOWN;
    }
    result = record_allocation(device, rep.dptr, size);
    if (result == CUDA_SUCCESS) {
        *dptr = (CUdeviceptr)rep.dptr;
        *pPitch = (size_t)rep.pitch;
    }
    return result;
}

BF_API CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    int device;
    bf_cl_mem_range_t range;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS)
        return result;
    if (dptr == 0)
        return CUDA_SUCCESS;
    /* Forgotten here at once, so a second free of the same pointer fails at once too. */
    if (bf_cl_mem_remove(dptr, &range) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;
    bf_req_MEM_FREE_t req = {.dptr = dptr};
    return bf_cl_rpc_post(BF_OP_MEM_FREE, &req, NULL, 0);
}

BF_API CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS)
        return result;
    if (free == NULL || total == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    bf_req_MEM_GET_INFO_t req = {.device = (uint32_t)device};
    bf_rep_MEM_GET_INFO_t rep;
    result = bf_cl_rpc_call(BF_OP_MEM_GET_INFO, &req, NULL, 0, &rep, NULL);
    if (result == CUDA_SUCCESS) {
        *free = (size_t)rep.free;
        *total = (size_t)rep.total;
    }
    return result;
}

BF_API CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    bf_cl_mem_range_t range;

    BF_CHECK_INIT();
    if (!bf_cl_mem_find(dptr, 1, &range))
        return CUDA_ERROR_NOT_FOUND;
    if (pbase != NULL)
        *pbase = (CUdeviceptr)range.base;
    if (psize != NULL)
        *psize = (size_t)range.size;
    return CUDA_SUCCESS;
}

/* ---- 1D copies (checked by the callers) ------------------------------------------------------ */

static CUresult copy_htod(uint64_t dst, const void *src, uint64_t n)
{
    const uint8_t *p = src;

    for (uint64_t off = 0; off < n;) {
        uint64_t chunk = n - off < MAX_CHUNK ? n - off : MAX_CHUNK;
        bf_req_MEMCPY_HTOD_t req = {.dst = dst + off, .size = chunk};
        CUresult result = bf_cl_rpc_post(BF_OP_MEMCPY_HTOD, &req, p + off, chunk);
        if (result != CUDA_SUCCESS)
            return result;
        off += chunk;
    }
    return CUDA_SUCCESS;
}

/* One chunk of a device-to-host copy, as a pipelined call. */
typedef struct {
    bf_req_MEMCPY_DTOH_t req;
    bf_rep_MEMCPY_DTOH_t rep;
} dtoh_chunk_t;

static CUresult copy_dtoh(void *dst, uint64_t src, uint64_t n)
{
    uint64_t count = (n + MAX_CHUNK - 1) / MAX_CHUNK;

    if (count == 1) {
        bf_req_MEMCPY_DTOH_t req = {.src = src, .size = n};
        bf_rep_MEMCPY_DTOH_t rep;
        bf_cl_sink_t sink = {.base = dst, .width = n, .pitch = n, .rows = 1};
        return bf_cl_rpc_call(BF_OP_MEMCPY_DTOH, &req, NULL, 0, &rep, &sink);
    }
    dtoh_chunk_t *chunks = calloc(count, sizeof(*chunks));
    bf_cl_call_t *calls = calloc(count, sizeof(*calls));
    CUresult result = CUDA_ERROR_OUT_OF_MEMORY;
    if (chunks == NULL || calls == NULL)
        goto out_free;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t off = i * MAX_CHUNK, chunk = n - off < MAX_CHUNK ? n - off : MAX_CHUNK;
        chunks[i].req = (bf_req_MEMCPY_DTOH_t){.src = src + off, .size = chunk};
        calls[i] = (bf_cl_call_t){
            .req = &chunks[i].req, .rep = &chunks[i].rep,
            .sink = {.base = (uint8_t *)dst + off, .width = chunk, .pitch = chunk, .rows = 1}};
    }
    result = bf_cl_rpc_call_many(BF_OP_MEMCPY_DTOH, calls, count);
out_free:
    free(calls);
    free(chunks);
    return result;
}

static CUresult copy_dtod(uint64_t dst, uint64_t src, uint64_t n)
{
    bf_req_MEMCPY_DTOD_t req = {.dst = dst, .src = src, .size = n};

    return bf_cl_rpc_post(BF_OP_MEMCPY_DTOD, &req, NULL, 0);
}

BF_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS || ByteCount == 0)
        return result;
    if (!device_span_ok(dstDevice, ByteCount) || !host_span_ok(srcHost, ByteCount))
        return CUDA_ERROR_INVALID_VALUE;
    return copy_htod(dstDevice, srcHost, ByteCount);
}

BF_API CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS || ByteCount == 0)
        return result;
    if (!device_span_ok(srcDevice, ByteCount) || !host_span_ok(dstHost, ByteCount))
        return CUDA_ERROR_INVALID_VALUE;
    return copy_dtoh(dstHost, srcDevice, ByteCount);
}

BF_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS || ByteCount == 0)
        return result;
    if (!device_span_ok(dstDevice, ByteCount) || !device_span_ok(srcDevice, ByteCount))
        return CUDA_ERROR_INVALID_VALUE;
    return copy_dtod(dstDevice, srcDevice, ByteCount);
}

/* The unified-addressing copy: an address in the device address space is device memory, any
 * other is host memory of this process. */
BF_API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS || ByteCount == 0)
        return result;
    int dst_dev = bf_cl_mem_is_device_address(dst), src_dev = bf_cl_mem_is_device_address(src);
    if (dst_dev ? !device_span_ok(dst, ByteCount) : !host_span_ok((void *)dst, ByteCount))
        return CUDA_ERROR_INVALID_VALUE;
    if (src_dev ? !device_span_ok(src, ByteCount) : !host_span_ok((void *)src, ByteCount))
        return CUDA_ERROR_INVALID_VALUE;
    if (dst_dev && src_dev)
        return copy_dtod(dst, src, ByteCount);
    if (dst_dev)
        return copy_htod(dst, (const void *)src, ByteCount);
    if (src_dev)
        return copy_dtoh((void *)dst, src, ByteCount);
    memmove((void *)dst, (const void *)src, ByteCount);
    return CUDA_SUCCESS;
}

/* ---- 2D copies ----------------------------------------------------------------------------- */

/* One side of a 2D copy, resolved: where its first byte is and how far apart its rows are. */
typedef struct {
    int is_device;
    uint64_t start;   /* device address, or host address as an integer */
    uint64_t pitch;
} side_t;

static CUresult resolve_side(int device, CUmemorytype type, const void *host, CUdeviceptr dev,
                             size_t x, size_t y, size_t pitch, size_t width, size_t height,
                             side_t *side)
{
    uint64_t base, row_offset, span;

    switch (type) {
    case CU_MEMORYTYPE_HOST:
        side->is_device = 0;
        base = (uint64_t)(uintptr_t)host;
        break;
    case CU_MEMORYTYPE_DEVICE:
        side->is_device = 1;
        base = dev;
        break;
    case CU_MEMORYTYPE_UNIFIED:
        side->is_device = bf_cl_mem_is_device_address(dev);
        base = dev;
        break;
    case CU_MEMORYTYPE_ARRAY:
        return bf_unsupported("cuMemcpy2D with CU_MEMORYTYPE_ARRAY (CUDA arrays)");
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (height > 1) {
        /* Rows must not overlap, and a device pitch must be one the device accepts. */
        if (pitch < width || pitch - width < x)
            return CUDA_ERROR_INVALID_VALUE;
        int max_pitch = bf_cl_device(device)->attributes[CU_DEVICE_ATTRIBUTE_MAX_PITCH];
        if (side->is_device && max_pitch > 0 && pitch > (uint64_t)max_pitch)
            return CUDA_ERROR_INVALID_VALUE;
    } else {
        pitch = width;  /* one row: the pitch is not used, and may be given as 0 */
    }
    if (!mul_ok(y, pitch, &row_offset) || __builtin_add_overflow(base, row_offset, &base) ||
        __builtin_add_overflow(base, x, &base) || !mul_ok(height - 1, pitch, &span) ||
        __builtin_add_overflow(span, width, &span) || base + span < base)
        return CUDA_ERROR_INVALID_VALUE;
    if (side->is_device ? !device_span_ok(base, span)
                        : !host_span_ok((void *)(uintptr_t)base, span))
        return CUDA_ERROR_INVALID_VALUE;
    side->start = base;
    side->pitch = pitch;
    return CUDA_SUCCESS;
}

/* Rows of at most MAX_CHUNK bytes go in groups that fit one message; a row wider than that is
 * copied row by row with the 1D operations. */
static uint64_t rows_per_message(uint64_t width)
{
    return MAX_CHUNK / width;
}

static CUresult copy_2d_htod(const side_t *dst, const side_t *src, uint64_t width, uint64_t height)
{
    CUresult result = CUDA_SUCCESS;

    if (width > MAX_CHUNK) {
        for (uint64_t row = 0; row < height && result == CUDA_SUCCESS; row++)
            result = copy_htod(dst->start + row * dst->pitch,
                               (const void *)(uintptr_t)(src->start + row * src->pitch), width);
        return result;
    }
    uint64_t group = rows_per_message(width);
    uint8_t *packed = NULL;
    if (src->pitch != width) {
        packed = malloc((height < group ? height : group) * width);
        if (packed == NULL)
            return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (uint64_t row = 0; row < height && result == CUDA_SUCCESS; row += group) {
        uint64_t rows = height - row < group ? height - row : group;
        const uint8_t *first = (const uint8_t *)(uintptr_t)(src->start + row * src->pitch);
        const void *tail = first;
        if (packed != NULL) {
            for (uint64_t r = 0; r < rows; r++)
                memcpy(packed + r * width, first + r * src->pitch, width);
            tail = packed;
        }
        bf_req_MEMCPY_2D_HTOD_t req = {.dst = dst->start + row * dst->pitch,
                                       .dst_pitch = dst->pitch, .width = width, .height = rows,
                                       .size = rows * width};
        result = bf_cl_rpc_post(BF_OP_MEMCPY_2D_HTOD, &req, tail, rows * width);
    }
    free(packed);
    return result;
}

typedef struct {
    bf_req_MEMCPY_2D_DTOH_t req;
    bf_rep_MEMCPY_2D_DTOH_t rep;
} dtoh_2d_chunk_t;

static CUresult copy_2d_dtoh(const side_t *dst, const side_t *src, uint64_t width, uint64_t height)
{
    CUresult result = CUDA_SUCCESS;

    if (width > MAX_CHUNK) {
        for (uint64_t row = 0; row < height && result == CUDA_SUCCESS; row++)
            result = copy_dtoh((void *)(uintptr_t)(dst->start + row * dst->pitch),
                               src->start + row * src->pitch, width);
        return result;
    }
    uint64_t group = rows_per_message(width), count = (height + group - 1) / group;
    dtoh_2d_chunk_t *chunks = calloc(count, sizeof(*chunks));
    bf_cl_call_t *calls = calloc(count, sizeof(*calls));
    result = CUDA_ERROR_OUT_OF_MEMORY;
    if (chunks == NULL || calls == NULL)
        goto out_free;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t row = i * group, rows = height - row < group ? height - row : group;
        chunks[i].req = (bf_req_MEMCPY_2D_DTOH_t){
            .src = src->start + row * src->pitch, .src_pitch = src->pitch, .width = width,
            .height = rows};
        /* The reply's packed rows land straight in the caller's rows. */
        calls[i] = (bf_cl_call_t){
            .req = &chunks[i].req, .rep = &chunks[i].rep,
            .sink = {.base = (void *)(uintptr_t)(dst->start + row * dst->pitch), .width = width,
                     .pitch = dst->pitch, .rows = rows}};
    }
    result = bf_cl_rpc_call_many(BF_OP_MEMCPY_2D_DTOH, calls, count);
out_free:
    free(calls);
    free(chunks);
    return result;
}

static CUresult memcpy_2d(const CUDA_MEMCPY2D *copy)
{
    side_t src, dst;
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS)
        return result;
    if (copy == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t width = copy->WidthInBytes, height = copy->Height;
    if (width == 0 || height == 0)
        return CUDA_SUCCESS;
    result = resolve_side(device, copy->srcMemoryType, copy->srcHost, copy->srcDevice,
                          copy->srcXInBytes, copy->srcY, copy->srcPitch, width, height, &src);
    if (result != CUDA_SUCCESS)
        return result;
    result = resolve_side(device, copy->dstMemoryType, copy->dstHost, copy->dstDevice,
                          copy->dstXInBytes, copy->dstY, copy->dstPitch, width, height, &dst);
    if (result != CUDA_SUCCESS)
        return result;

    if (src.is_device && dst.is_device) {
        bf_req_MEMCPY_2D_DTOD_t req = {.dst = dst.start, .dst_pitch = dst.pitch, .src = src.start,
                                       .src_pitch = src.pitch, .width = width, .height = height};
        return bf_cl_rpc_post(BF_OP_MEMCPY_2D_DTOD, &req, NULL, 0);
    }
    if (dst.is_device)
        return copy_2d_htod(&dst, &src, width, height);
    if (src.is_device)
        return copy_2d_dtoh(&dst, &src, width, height);
    for (uint64_t row = 0; row < height; row++)
        memmove((void *)(uintptr_t)(dst.start + row * dst.pitch),
                (const void *)(uintptr_t)(src.start + row * src.pitch), width);
    return CUDA_SUCCESS;
}

BF_API CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy)
{
    return memcpy_2d(pCopy);
}

/* The worker's driver copies any pitch (the emulator has no alignment rules; on a GPU the
 * worker uses the unaligned form), so both names behave alike. */
BF_API CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *pCopy)
{
    return memcpy_2d(pCopy);
}

/* ---- memsets ------------------------------------------------------------------------------- */

static CUresult memset_1d(CUdeviceptr dst, uint32_t value, uint32_t element_size, size_t count)
{
    int device;
    uint64_t bytes;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS || count == 0)
        return result;
    if (dst % element_size != 0 || !mul_ok(count, element_size, &bytes) ||
        !device_span_ok(dst, bytes))
        return CUDA_ERROR_INVALID_VALUE;
    bf_req_MEMSET_t req = {.dst = dst, .value = value, .element_size = element_size,
                           .count = count};
    return bf_cl_rpc_post(BF_OP_MEMSET, &req, NULL, 0);
}

/* width counts elements, as in the driver API; so does the MEMSET_2D op. */
static CUresult memset_2d(CUdeviceptr dst, size_t pitch, uint32_t value, uint32_t element_size,
                          size_t width, size_t height)
{
    int device;
    uint64_t row_bytes, span;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS || width == 0 || height == 0)
        return result;
    if (dst % element_size != 0 || !mul_ok(width, element_size, &row_bytes))
        return CUDA_ERROR_INVALID_VALUE;
    if (height == 1)
        pitch = row_bytes;
    else if (pitch < row_bytes || pitch % element_size != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (!mul_ok(height - 1, pitch, &span) || __builtin_add_overflow(span, row_bytes, &span) ||
        !device_span_ok(dst, span))
        return CUDA_ERROR_INVALID_VALUE;
    bf_req_MEMSET_2D_t req = {.dst = dst, .pitch = pitch, .value = value,
                              .element_size = element_size, .width = width, .height = height};
    return bf_cl_rpc_post(BF_OP_MEMSET_2D, &req, NULL, 0);
}

BF_API CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return memset_1d(dstDevice, uc, 1, N);
}

BF_API CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return memset_1d(dstDevice, us, 2, N);
}

BF_API CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return memset_1d(dstDevice, ui, 4, N);
}

BF_API CUresult cuMemsetD2D8_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,
                                size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, uc, 1, Width, Height);
}

BF_API CUresult cuMemsetD2D16_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,
                                 size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, us, 2, Width, Height);
}

BF_API CUresult cuMemsetD2D32_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,
                                 size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, ui, 4, Width, Height);
}

/* ---- per-thread default stream variants: the same synchronous behaviour -------------------- */

BF_API CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return cuMemcpy(dst, src, ByteCount);
}

BF_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return cuMemcpyHtoD_v2(dstDevice, srcHost, ByteCount);
}

BF_API CUresult cuMemcpyDtoH_v2_ptds(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return cuMemcpyDtoH_v2(dstHost, srcDevice, ByteCount);
}

BF_API CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return cuMemcpyDtoD_v2(dstDevice, srcDevice, ByteCount);
}

BF_API CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return memcpy_2d(pCopy);
}

BF_API CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return memcpy_2d(pCopy);
}

BF_API CUresult cuMemsetD8_v2_ptds(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return memset_1d(dstDevice, uc, 1, N);
}

BF_API CUresult cuMemsetD16_v2_ptds(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return memset_1d(dstDevice, us, 2, N);
}

BF_API CUresult cuMemsetD32_v2_ptds(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return memset_1d(dstDevice, ui, 4, N);
}

BF_API CUresult cuMemsetD2D8_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,
                                     size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, uc, 1, Width, Height);
}

BF_API CUresult cuMemsetD2D16_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,
                                      size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, us, 2, Width, Height);
}

BF_API CUresult cuMemsetD2D32_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,
                                      size_t Width, size_t Height)
{
    return memset_2d(dstDevice, dstPitch, ui, 4, Width, Height);
}
