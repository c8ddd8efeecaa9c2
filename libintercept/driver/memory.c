/*
 * memory.c: allocation, copies and memsets, synchronous and stream-ordered, and pinned host memory.
 *
 * Everything the driver checks synchronously is checked here, before anything is sent: a
 * current, active context; a live stream; a device span inside ONE live allocation; a host span
 * that is not in the device address space (which is PROT_NONE in this process); sizes, alignments,
 * pitches. What passes is sent posted where the caller needs no answer (copies to the device and
 * between device buffers, memsets, frees); execution errors of posted operations are latched by
 * the worker and come back from the next synchronising call.
 *
 * Every copy and memset is ordered on a stream: the synchronous calls on the legacy default stream
 * (the per-thread one for the _ptds names), the Async calls on theirs. Where the bytes must be for
 * the caller decides how a copy to the host completes:
 *   - into pageable memory it is synchronous, the call returns with the data in place;
 *   - into pinned memory (cuMemHostAlloc) an Async copy returns at once; the reply lands whenever a
 *     thread reads the connection, and at the latest before the synchronising call that orders it
 *     returns (its reply follows).
 * A copy from host memory reads the caller's buffer before it returns (pinned memory that an
 * earlier async copy still has to fill is waited for first). With unified addressing pinned memory
 * is also a device pointer: a "device" operand that is pinned memory is treated as the host memory
 * it is. Copies between two host buffers happen here, after the stream's earlier work.
 *
 * Copies larger than BF_PROTO_MAX_TAIL travel as several operations. Device-to-host chunks are
 * pipelined and land straight in the caller's buffer; 2D copies move packed rows, so only
 * host-to-device 2D copies with a pitch wider than the row are packed in a bounce buffer.
 */
#include "driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bf_log.h"

#define MAX_CHUNK ((uint64_t)BF_PROTO_MAX_TAIL)

/* Every flag cuMemHostAlloc knows. */
#define HOST_ALLOC_FLAGS \
    (CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED)

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

/* How an operation is ordered: its stream, and whether the caller's host buffers may be touched
 * after the call returns (the Async entry points). */
typedef struct {
    bf_cl_stream_info_t stream;
    int async;
} order_t;

/* Checks init and the context, then resolves the stream an operation runs on. */
static CUresult order_of(CUstream stream, int per_thread, int async, order_t *order_p)
{
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS)
        return result;
    order_p->async = async;
    return bf_cl_stream_resolve(stream, per_thread, &order_p->stream);
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

/* Where one operand of a copy lies. */
typedef enum { LOC_INVALID, LOC_DEVICE, LOC_PINNED, LOC_HOST } loc_t;

/* An operand the API calls host memory. */
static loc_t host_loc(uint64_t addr, uint64_t len)
{
    if (!host_span_ok((const void *)(uintptr_t)addr, len))
        return LOC_INVALID;
    return bf_cl_host_find((const void *)(uintptr_t)addr, len, NULL) ? LOC_PINNED : LOC_HOST;
}

/* An operand the API calls device memory: a live allocation, or (unified addressing) pinned
 * host memory, whose device pointer is its host address. */
static loc_t device_loc(uint64_t addr, uint64_t len)
{
    if (device_span_ok(addr, len))
        return LOC_DEVICE;
    if (bf_cl_host_find((const void *)(uintptr_t)addr, len, NULL))
        return LOC_PINNED;
    return LOC_INVALID;
}

/* An operand of the unified-addressing calls: its address says which. */
static loc_t unified_loc(uint64_t addr, uint64_t len)
{
    if (bf_cl_mem_is_device_address(addr))
        return device_span_ok(addr, len) ? LOC_DEVICE : LOC_INVALID;
    return host_loc(addr, len);
}

/* Waits for the stream's earlier work (and its latched errors) before host memory is touched
 * here: copies and memsets between host buffers keep their place in the stream. */
static CUresult wait_stream(const order_t *order)
{
    bf_req_STREAM_SYNCHRONIZE_t req = {.stream = order->stream.id};
    bf_rep_STREAM_SYNCHRONIZE_t rep;
    CUresult result = bf_cl_rpc_call(BF_OP_STREAM_SYNCHRONIZE, &req, NULL, 0, &rep, NULL);

    return result == CUDA_SUCCESS ? bf_cl_take_latched() : result;
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
    /* Forgotten here at once, so a second free of the same pointer fails at once too. The worker
     * frees it after all earlier work of the device, and holds later work back until then. */
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

/* ---- pinned host memory ---------------------------------------------------------------------- */

/* Pinned memory is memory of this process that openbf knows: copies into it may complete later
 * (when the stream is synchronised), and its address is its device pointer. Mapped privately and
 * page-aligned, like the driver's. */
BF_API CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    int device;
    CUresult result = current_device(&device);

    if (result != CUDA_SUCCESS)
        return result;
    if (pp == NULL || bytesize == 0 || (Flags & ~(unsigned int)HOST_ALLOC_FLAGS) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    void *p = mmap(NULL, bytesize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        bf_log_debug("cannot map %zu bytes of pinned memory: %s", bytesize, strerror(errno));
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    result = bf_cl_host_insert(p, bytesize, Flags, device);
    if (result != CUDA_SUCCESS) {
        munmap(p, bytesize);
        return result;
    }
    *pp = p;
    return CUDA_SUCCESS;
}

BF_API CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
    return cuMemHostAlloc(pp, bytesize, 0);
}

BF_API CUresult cuMemAllocHost(void **pp, unsigned int bytesize)
{
    return cuMemHostAlloc(pp, bytesize, 0);
}

BF_API CUresult cuMemFreeHost(void *p)
{
    bf_cl_host_range_t range;
    size_t size;

    BF_CHECK_INIT();
    if (p == NULL)
        return CUDA_SUCCESS;  /* nothing to free, as for cuMemFree */
    if (!bf_cl_host_find(p, 1, &range) || range.base != (uint64_t)(uintptr_t)p)
        return CUDA_ERROR_INVALID_VALUE;
    /* An async copy may still have to land in it. */
    CUresult result = bf_cl_rpc_wait_host(p, range.size);
    if (result != CUDA_SUCCESS)
        return result;
    if (bf_cl_host_remove(p, &size) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_VALUE;  /* freed by another thread meanwhile */
    munmap(p, size);
    return CUDA_SUCCESS;
}

BF_API CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
    bf_cl_host_range_t range;

    BF_CHECK_INIT();
    if (pFlags == NULL || !bf_cl_host_find(p, 1, &range))
        return CUDA_ERROR_INVALID_VALUE;
    *pFlags = range.flags;
    return CUDA_SUCCESS;
}

BF_API CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    BF_CHECK_INIT();
    if (pdptr == NULL || Flags != 0 || !bf_cl_host_find(p, 1, NULL))
        return CUDA_ERROR_INVALID_VALUE;
    /* Unified addressing: the device sees pinned memory at its host address. Copies through this
     * pointer work; a kernel on the remote device cannot reach it (see docs/engine.md). */
    *pdptr = (CUdeviceptr)(uintptr_t)p;
    return CUDA_SUCCESS;
}

/* ---- 1D copies (checked by the callers) ------------------------------------------------------ */

static CUresult copy_htod(uint64_t dst, const void *src, uint64_t n, const order_t *order)
{
    const uint8_t *p = src;

    for (uint64_t off = 0; off < n;) {
        uint64_t chunk = n - off < MAX_CHUNK ? n - off : MAX_CHUNK;
        bf_req_MEMCPY_HTOD_t req = {.dst = dst + off, .size = chunk, .stream = order->stream.id};
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

/* A device-to-host copy that returns with the data in place. */
static CUresult copy_dtoh_wait(void *dst, uint64_t src, uint64_t n, const order_t *order)
{
    uint64_t count = (n + MAX_CHUNK - 1) / MAX_CHUNK;

    if (count == 1) {
        bf_req_MEMCPY_DTOH_t req = {.src = src, .size = n, .stream = order->stream.id};
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
        chunks[i].req = (bf_req_MEMCPY_DTOH_t){.src = src + off, .size = chunk,
                                               .stream = order->stream.id};
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

/* A device-to-pinned copy of an Async call: the replies land when the connection is next read. */
static CUresult copy_dtoh_async(void *dst, uint64_t src, uint64_t n, const order_t *order)
{
    for (uint64_t off = 0; off < n;) {
        uint64_t chunk = n - off < MAX_CHUNK ? n - off : MAX_CHUNK;
        bf_req_MEMCPY_DTOH_t req = {.src = src + off, .size = chunk, .stream = order->stream.id};
        uint8_t *to = (uint8_t *)dst + off;
        bf_cl_sink_t sink = {.base = to, .width = chunk, .pitch = chunk, .rows = 1};
        CUresult result = bf_cl_rpc_call_async(BF_OP_MEMCPY_DTOH, &req, &sink, to, chunk);
        if (result != CUDA_SUCCESS)
            return result;
        off += chunk;
    }
    return CUDA_SUCCESS;
}

static CUresult copy_dtod(uint64_t dst, uint64_t src, uint64_t n, const order_t *order)
{
    bf_req_MEMCPY_DTOD_t req = {.dst = dst, .src = src, .size = n, .stream = order->stream.id};

    return bf_cl_rpc_post(BF_OP_MEMCPY_DTOD, &req, NULL, 0);
}

/* One checked 1D copy, routed by where its operands lie. */
static CUresult copy_1d(loc_t dst_loc, uint64_t dst, loc_t src_loc, uint64_t src, uint64_t n,
                        const order_t *order)
{
    CUresult result;

    if (n == 0)
        return CUDA_SUCCESS;
    if (dst_loc == LOC_DEVICE && src_loc == LOC_DEVICE)
        return copy_dtod(dst, src, n, order);
    if (dst_loc == LOC_DEVICE) {
        /* Pinned memory an earlier async copy is still filling is read once it is filled. */
        if (src_loc == LOC_PINNED) {
            result = bf_cl_rpc_wait_host((const void *)(uintptr_t)src, n);
            if (result != CUDA_SUCCESS)
                return result;
        }
        return copy_htod(dst, (const void *)(uintptr_t)src, n, order);
    }
    if (src_loc == LOC_DEVICE) {
        if (dst_loc == LOC_PINNED && order->async)
            return copy_dtoh_async((void *)(uintptr_t)dst, src, n, order);
        result = copy_dtoh_wait((void *)(uintptr_t)dst, src, n, order);
        /* A synchronous copy also reports what earlier async copies met. */
        return result == CUDA_SUCCESS && !order->async ? bf_cl_take_latched() : result;
    }
    /* Host to host: after the stream's earlier work, including replies still to land. */
    result = wait_stream(order);
    if (result == CUDA_SUCCESS)
        result = bf_cl_rpc_wait_host((const void *)(uintptr_t)src, n);
    if (result == CUDA_SUCCESS)
        result = bf_cl_rpc_wait_host((const void *)(uintptr_t)dst, n);
    if (result == CUDA_SUCCESS)
        memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
    return result;
}

static CUresult memcpy_htod(CUdeviceptr dst, const void *src, size_t n, const order_t *order)
{
    if (n == 0)
        return CUDA_SUCCESS;
    loc_t dst_loc = device_loc(dst, n), src_loc = host_loc((uint64_t)(uintptr_t)src, n);
    if (dst_loc == LOC_INVALID || src_loc == LOC_INVALID)
        return CUDA_ERROR_INVALID_VALUE;
    return copy_1d(dst_loc, dst, src_loc, (uint64_t)(uintptr_t)src, n, order);
}

static CUresult memcpy_dtoh(void *dst, CUdeviceptr src, size_t n, const order_t *order)
{
    if (n == 0)
        return CUDA_SUCCESS;
    loc_t dst_loc = host_loc((uint64_t)(uintptr_t)dst, n), src_loc = device_loc(src, n);
    if (dst_loc == LOC_INVALID || src_loc == LOC_INVALID)
        return CUDA_ERROR_INVALID_VALUE;
    return copy_1d(dst_loc, (uint64_t)(uintptr_t)dst, src_loc, src, n, order);
}

static CUresult memcpy_dtod(CUdeviceptr dst, CUdeviceptr src, size_t n, const order_t *order)
{
    if (n == 0)
        return CUDA_SUCCESS;
    loc_t dst_loc = device_loc(dst, n), src_loc = device_loc(src, n);
    if (dst_loc == LOC_INVALID || src_loc == LOC_INVALID)
        return CUDA_ERROR_INVALID_VALUE;
    return copy_1d(dst_loc, dst, src_loc, src, n, order);
}

/* The unified-addressing copy: an address in the device address space is device memory, any
 * other is host memory of this process. */
static CUresult memcpy_unified(CUdeviceptr dst, CUdeviceptr src, size_t n, const order_t *order)
{
    if (n == 0)
        return CUDA_SUCCESS;
    loc_t dst_loc = unified_loc(dst, n), src_loc = unified_loc(src, n);
    if (dst_loc == LOC_INVALID || src_loc == LOC_INVALID)
        return CUDA_ERROR_INVALID_VALUE;
    return copy_1d(dst_loc, dst, src_loc, src, n, order);
}

/* ---- 2D copies ----------------------------------------------------------------------------- */

/* One side of a 2D copy, resolved: where its first byte is and how far apart its rows are. */
typedef struct {
    loc_t loc;
    uint64_t start;   /* device address, or host address as an integer */
    uint64_t pitch;
    uint64_t span;    /* bytes from the first byte of the first row to the end of the last */
} side_t;

static CUresult resolve_side(int device, CUmemorytype type, const void *host, CUdeviceptr dev,
                             size_t x, size_t y, size_t pitch, size_t width, size_t height,
                             side_t *side)
{
    uint64_t base, row_offset, span;
    int device_side;

    switch (type) {
    case CU_MEMORYTYPE_HOST:
        device_side = 0;
        base = (uint64_t)(uintptr_t)host;
        break;
    case CU_MEMORYTYPE_DEVICE:
        device_side = 1;
        base = dev;
        break;
    case CU_MEMORYTYPE_UNIFIED:
        device_side = bf_cl_mem_is_device_address(dev);
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
        if (device_side && max_pitch > 0 && pitch > (uint64_t)max_pitch)
            return CUDA_ERROR_INVALID_VALUE;
    } else {
        pitch = width;  /* one row: the pitch is not used, and may be given as 0 */
    }
    if (!mul_ok(y, pitch, &row_offset) || __builtin_add_overflow(base, row_offset, &base) ||
        __builtin_add_overflow(base, x, &base) || !mul_ok(height - 1, pitch, &span) ||
        __builtin_add_overflow(span, width, &span) || base + span < base)
        return CUDA_ERROR_INVALID_VALUE;
    side->loc = device_side ? device_loc(base, span) : host_loc(base, span);
    if (side->loc == LOC_INVALID)
        return CUDA_ERROR_INVALID_VALUE;
    side->start = base;
    side->pitch = pitch;
    side->span = span;
    return CUDA_SUCCESS;
}

/* Rows of at most MAX_CHUNK bytes go in groups that fit one message; a row wider than that is
 * copied row by row with the 1D operations. */
static uint64_t rows_per_message(uint64_t width)
{
    return MAX_CHUNK / width;
}

static CUresult copy_2d_htod(const side_t *dst, const side_t *src, uint64_t width, uint64_t height,
                             const order_t *order)
{
    CUresult result = CUDA_SUCCESS;

    if (src->loc == LOC_PINNED) {
        result = bf_cl_rpc_wait_host((const void *)(uintptr_t)src->start, src->span);
        if (result != CUDA_SUCCESS)
            return result;
    }
    if (width > MAX_CHUNK) {
        for (uint64_t row = 0; row < height && result == CUDA_SUCCESS; row++)
            result = copy_htod(dst->start + row * dst->pitch,
                               (const void *)(uintptr_t)(src->start + row * src->pitch), width,
                               order);
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
                                       .size = rows * width, .stream = order->stream.id};
        result = bf_cl_rpc_post(BF_OP_MEMCPY_2D_HTOD, &req, tail, rows * width);
    }
    free(packed);
    return result;
}

typedef struct {
    bf_req_MEMCPY_2D_DTOH_t req;
    bf_rep_MEMCPY_2D_DTOH_t rep;
} dtoh_2d_chunk_t;

static CUresult copy_2d_dtoh(const side_t *dst, const side_t *src, uint64_t width, uint64_t height,
                             const order_t *order)
{
    CUresult result = CUDA_SUCCESS;
    int async = dst->loc == LOC_PINNED && order->async;

    if (width > MAX_CHUNK) {
        for (uint64_t row = 0; row < height && result == CUDA_SUCCESS; row++) {
            void *to = (void *)(uintptr_t)(dst->start + row * dst->pitch);
            uint64_t from = src->start + row * src->pitch;
            result = async ? copy_dtoh_async(to, from, width, order)
                           : copy_dtoh_wait(to, from, width, order);
        }
        return result;
    }
    uint64_t group = rows_per_message(width), count = (height + group - 1) / group;
    if (async) {
        for (uint64_t i = 0; i < count && result == CUDA_SUCCESS; i++) {
            uint64_t row = i * group, rows = height - row < group ? height - row : group;
            bf_req_MEMCPY_2D_DTOH_t req = {.src = src->start + row * src->pitch,
                                           .src_pitch = src->pitch, .width = width,
                                           .height = rows, .stream = order->stream.id};
            uint8_t *to = (uint8_t *)(uintptr_t)(dst->start + row * dst->pitch);
            bf_cl_sink_t sink = {.base = to, .width = width, .pitch = dst->pitch, .rows = rows};
            result = bf_cl_rpc_call_async(BF_OP_MEMCPY_2D_DTOH, &req, &sink, to,
                                          (rows - 1) * dst->pitch + width);
        }
        return result;
    }
    dtoh_2d_chunk_t *chunks = calloc(count, sizeof(*chunks));
    bf_cl_call_t *calls = calloc(count, sizeof(*calls));
    result = CUDA_ERROR_OUT_OF_MEMORY;
    if (chunks == NULL || calls == NULL)
        goto out_free;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t row = i * group, rows = height - row < group ? height - row : group;
        chunks[i].req = (bf_req_MEMCPY_2D_DTOH_t){
            .src = src->start + row * src->pitch, .src_pitch = src->pitch, .width = width,
            .height = rows, .stream = order->stream.id};
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

static CUresult copy_2d_htoh(const side_t *dst, const side_t *src, uint64_t width, uint64_t height,
                             const order_t *order)
{
    CUresult result = wait_stream(order);

    if (result == CUDA_SUCCESS)
        result = bf_cl_rpc_wait_host((const void *)(uintptr_t)src->start, src->span);
    if (result == CUDA_SUCCESS)
        result = bf_cl_rpc_wait_host((const void *)(uintptr_t)dst->start, dst->span);
    if (result != CUDA_SUCCESS)
        return result;
    for (uint64_t row = 0; row < height; row++)
        memmove((void *)(uintptr_t)(dst->start + row * dst->pitch),
                (const void *)(uintptr_t)(src->start + row * src->pitch), width);
    return CUDA_SUCCESS;
}

static CUresult memcpy_2d(const CUDA_MEMCPY2D *copy, const order_t *order)
{
    side_t src, dst;
    int device = order->stream.device;
    CUresult result;

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

    if (src.loc == LOC_DEVICE && dst.loc == LOC_DEVICE) {
        bf_req_MEMCPY_2D_DTOD_t req = {.dst = dst.start, .dst_pitch = dst.pitch, .src = src.start,
                                       .src_pitch = src.pitch, .width = width, .height = height,
                                       .stream = order->stream.id};
        return bf_cl_rpc_post(BF_OP_MEMCPY_2D_DTOD, &req, NULL, 0);
    }
    if (dst.loc == LOC_DEVICE)
        return copy_2d_htod(&dst, &src, width, height, order);
    if (src.loc == LOC_DEVICE) {
        result = copy_2d_dtoh(&dst, &src, width, height, order);
        return result == CUDA_SUCCESS && !order->async ? bf_cl_take_latched() : result;
    }
    return copy_2d_htoh(&dst, &src, width, height, order);
}

/* ---- memsets ------------------------------------------------------------------------------- */

/* Sets n elements of element_size bytes at host address dst (pinned memory reached through its
 * device pointer), after the stream's earlier work. */
static CUresult memset_host(uint64_t dst, uint32_t value, uint32_t element_size, uint64_t pitch,
                            uint64_t width, uint64_t height, const order_t *order)
{
    CUresult result = wait_stream(order);

    if (result == CUDA_SUCCESS)
        result = bf_cl_rpc_wait_host((const void *)(uintptr_t)dst,
                                     (height - 1) * pitch + width * element_size);
    if (result != CUDA_SUCCESS)
        return result;
    for (uint64_t row = 0; row < height; row++) {
        uint8_t *p = (uint8_t *)(uintptr_t)(dst + row * pitch);
        for (uint64_t i = 0; i < width; i++)
            memcpy(p + i * element_size, &value, element_size);  /* little-endian low bytes */
    }
    return CUDA_SUCCESS;
}

static CUresult memset_1d(CUdeviceptr dst, uint32_t value, uint32_t element_size, size_t count,
                          const order_t *order)
{
    uint64_t bytes;

    if (count == 0)
        return CUDA_SUCCESS;
    if (dst % element_size != 0 || !mul_ok(count, element_size, &bytes))
        return CUDA_ERROR_INVALID_VALUE;
    switch (device_loc(dst, bytes)) {
    case LOC_DEVICE:
        break;
    case LOC_PINNED:
        return memset_host(dst, value, element_size, bytes, count, 1, order);
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    bf_req_MEMSET_t req = {.dst = dst, .value = value, .element_size = element_size,
                           .count = count, .stream = order->stream.id};
    return bf_cl_rpc_post(BF_OP_MEMSET, &req, NULL, 0);
}

/* width counts elements, as in the driver API; so does the MEMSET_2D op. */
static CUresult memset_2d(CUdeviceptr dst, size_t pitch, uint32_t value, uint32_t element_size,
                          size_t width, size_t height, const order_t *order)
{
    uint64_t row_bytes, span;

    if (width == 0 || height == 0)
        return CUDA_SUCCESS;
    if (dst % element_size != 0 || !mul_ok(width, element_size, &row_bytes))
        return CUDA_ERROR_INVALID_VALUE;
    if (height == 1)
        pitch = row_bytes;
    else if (pitch < row_bytes || pitch % element_size != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (!mul_ok(height - 1, pitch, &span) || __builtin_add_overflow(span, row_bytes, &span))
        return CUDA_ERROR_INVALID_VALUE;
    switch (device_loc(dst, span)) {
    case LOC_DEVICE:
        break;
    case LOC_PINNED:
        return memset_host(dst, value, element_size, pitch, width, height, order);
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    bf_req_MEMSET_2D_t req = {.dst = dst, .pitch = pitch, .value = value,
                              .element_size = element_size, .width = width, .height = height,
                              .stream = order->stream.id};
    return bf_cl_rpc_post(BF_OP_MEMSET_2D, &req, NULL, 0);
}

/* ---- entry points -------------------------------------------------------------------------- */

/*
 * Each family has one implementation taking the order: the synchronous names run on the legacy
 * default stream (ptds: the per-thread one), the Async names on their stream (ptsz: NULL is the
 * per-thread one). The macros only spell the many exported names out.
 */
#define ORDERED(stream, per_thread, async)                                                     \
    order_t order;                                                                             \
    CUresult order_result = order_of(stream, per_thread, async, &order);                       \
    if (order_result != CUDA_SUCCESS)                                                          \
        return order_result

static CUresult htod(CUdeviceptr dst, const void *src, size_t n, CUstream s, int pt, int async)
{
    ORDERED(s, pt, async);
    return memcpy_htod(dst, src, n, &order);
}

static CUresult dtoh(void *dst, CUdeviceptr src, size_t n, CUstream s, int pt, int async)
{
    ORDERED(s, pt, async);
    return memcpy_dtoh(dst, src, n, &order);
}

static CUresult dtod(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s, int pt, int async)
{
    ORDERED(s, pt, async);
    return memcpy_dtod(dst, src, n, &order);
}

static CUresult unified(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s, int pt, int async)
{
    ORDERED(s, pt, async);
    return memcpy_unified(dst, src, n, &order);
}

static CUresult copy2d(const CUDA_MEMCPY2D *copy, CUstream s, int pt, int async)
{
    ORDERED(s, pt, async);
    return memcpy_2d(copy, &order);
}

static CUresult set1d(CUdeviceptr dst, uint32_t value, uint32_t element_size, size_t n, CUstream s,
                      int pt, int async)
{
    ORDERED(s, pt, async);
    return memset_1d(dst, value, element_size, n, &order);
}

static CUresult set2d(CUdeviceptr dst, size_t pitch, uint32_t value, uint32_t element_size,
                      size_t width, size_t height, CUstream s, int pt, int async)
{
    ORDERED(s, pt, async);
    return memset_2d(dst, pitch, value, element_size, width, height, &order);
}

/* cuMemcpyPeer: both contexts must be live ones of this process, each pointer an allocation of
 * its context's device; the worker copies between the devices. */
static CUresult peer(CUdeviceptr dst, CUcontext dst_ctx, CUdeviceptr src, CUcontext src_ctx,
                     size_t n, CUstream s, int pt, int async)
{
    bf_cl_ctx_t *dctx, *sctx;
    bf_cl_mem_range_t drange, srange;

    ORDERED(s, pt, async);
    if (dst_ctx == NULL || src_ctx == NULL || bf_cl_ctx_resolve(dst_ctx, &dctx) != CUDA_SUCCESS ||
        bf_cl_ctx_resolve(src_ctx, &sctx) != CUDA_SUCCESS)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (!bf_cl_ctx_is_active(dctx) || !bf_cl_ctx_is_active(sctx))
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    if (n == 0)
        return CUDA_SUCCESS;
    if (!bf_cl_mem_find(dst, n, &drange) || !bf_cl_mem_find(src, n, &srange) ||
        drange.device != bf_cl_ctx_device(dctx) || srange.device != bf_cl_ctx_device(sctx))
        return CUDA_ERROR_INVALID_VALUE;
    return copy_dtod(dst, src, n, &order);
}

/* synchronous copies */
BF_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return htod(dstDevice, srcHost, ByteCount, NULL, 0, 0);
}

BF_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return htod(dstDevice, srcHost, ByteCount, NULL, 1, 0);
}

BF_API CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtoh(dstHost, srcDevice, ByteCount, NULL, 0, 0);
}

BF_API CUresult cuMemcpyDtoH_v2_ptds(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtoh(dstHost, srcDevice, ByteCount, NULL, 1, 0);
}

BF_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtod(dstDevice, srcDevice, ByteCount, NULL, 0, 0);
}

BF_API CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtod(dstDevice, srcDevice, ByteCount, NULL, 1, 0);
}

BF_API CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return unified(dst, src, ByteCount, NULL, 0, 0);
}

BF_API CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return unified(dst, src, ByteCount, NULL, 1, 0);
}

/* The worker's driver copies any pitch (the emulator has no alignment rules; on a GPU the
 * worker falls back to the unaligned form), so the aligned and unaligned names behave alike. */
BF_API CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy)
{
    return copy2d(pCopy, NULL, 0, 0);
}

BF_API CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *pCopy)
{
    return copy2d(pCopy, NULL, 0, 0);
}

BF_API CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return copy2d(pCopy, NULL, 1, 0);
}

BF_API CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *pCopy)
{
    return copy2d(pCopy, NULL, 1, 0);
}

BF_API CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                             CUcontext srcContext, size_t ByteCount)
{
    return peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, NULL, 0, 0);
}

BF_API CUresult cuMemcpyPeer_ptds(CUdeviceptr dstDevice, CUcontext dstContext,
                                  CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount)
{
    return peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, NULL, 1, 0);
}

/* asynchronous copies */
BF_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                                     CUstream hStream)
{
    return htod(dstDevice, srcHost, ByteCount, hStream, 0, 1);
}

BF_API CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void *srcHost,
                                          size_t ByteCount, CUstream hStream)
{
    return htod(dstDevice, srcHost, ByteCount, hStream, 1, 1);
}

BF_API CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                     CUstream hStream)
{
    return dtoh(dstHost, srcDevice, ByteCount, hStream, 0, 1);
}

BF_API CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                          CUstream hStream)
{
    return dtoh(dstHost, srcDevice, ByteCount, hStream, 1, 1);
}

BF_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice,
                                     size_t ByteCount, CUstream hStream)
{
    return dtod(dstDevice, srcDevice, ByteCount, hStream, 0, 1);
}

BF_API CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dstDevice, CUdeviceptr srcDevice,
                                          size_t ByteCount, CUstream hStream)
{
    return dtod(dstDevice, srcDevice, ByteCount, hStream, 1, 1);
}

BF_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    return unified(dst, src, ByteCount, hStream, 0, 1);
}

BF_API CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount,
                                   CUstream hStream)
{
    return unified(dst, src, ByteCount, hStream, 1, 1);
}

BF_API CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    return copy2d(pCopy, hStream, 0, 1);
}

BF_API CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *pCopy, CUstream hStream)
{
    return copy2d(pCopy, hStream, 1, 1);
}

BF_API CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext,
                                  CUdeviceptr srcDevice, CUcontext srcContext, size_t ByteCount,
                                  CUstream hStream)
{
    return peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, 0, 1);
}

BF_API CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dstDevice, CUcontext dstContext,
                                       CUdeviceptr srcDevice, CUcontext srcContext,
                                       size_t ByteCount, CUstream hStream)
{
    return peer(dstDevice, dstContext, srcDevice, srcContext, ByteCount, hStream, 1, 1);
}

/* synchronous memsets (asynchronous with respect to the host, as the driver's) */
BF_API CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return set1d(dstDevice, uc, 1, N, NULL, 0, 0);
}

BF_API CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return set1d(dstDevice, us, 2, N, NULL, 0, 0);
}

BF_API CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return set1d(dstDevice, ui, 4, N, NULL, 0, 0);
}

BF_API CUresult cuMemsetD2D8_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,
                                size_t Width, size_t Height)
{
    return set2d(dstDevice, dstPitch, uc, 1, Width, Height, NULL, 0, 0);
}

BF_API CUresult cuMemsetD2D16_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,
                                 size_t Width, size_t Height)
{
    return set2d(dstDevice, dstPitch, us, 2, Width, Height, NULL, 0, 0);
}

BF_API CUresult cuMemsetD2D32_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,
                                 size_t Width, size_t Height)
{
    return set2d(dstDevice, dstPitch, ui, 4, Width, Height, NULL, 0, 0);
}

BF_API CUresult cuMemsetD8_v2_ptds(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return set1d(dstDevice, uc, 1, N, NULL, 1, 0);
}

BF_API CUresult cuMemsetD16_v2_ptds(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return set1d(dstDevice, us, 2, N, NULL, 1, 0);
}

BF_API CUresult cuMemsetD32_v2_ptds(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return set1d(dstDevice, ui, 4, N, NULL, 1, 0);
}

BF_API CUresult cuMemsetD2D8_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,
                                     size_t Width, size_t Height)
{
    return set2d(dstDevice, dstPitch, uc, 1, Width, Height, NULL, 1, 0);
}

BF_API CUresult cuMemsetD2D16_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,
                                      size_t Width, size_t Height)
{
    return set2d(dstDevice, dstPitch, us, 2, Width, Height, NULL, 1, 0);
}

BF_API CUresult cuMemsetD2D32_v2_ptds(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,
                                      size_t Width, size_t Height)
{
    return set2d(dstDevice, dstPitch, ui, 4, Width, Height, NULL, 1, 0);
}

/* asynchronous memsets */
BF_API CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N,
                                CUstream hStream)
{
    return set1d(dstDevice, uc, 1, N, hStream, 0, 1);
}

BF_API CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N,
                                 CUstream hStream)
{
    return set1d(dstDevice, us, 2, N, hStream, 0, 1);
}

BF_API CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N,
                                 CUstream hStream)
{
    return set1d(dstDevice, ui, 4, N, hStream, 0, 1);
}

BF_API CUresult cuMemsetD2D8Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,
                                  size_t Width, size_t Height, CUstream hStream)
{
    return set2d(dstDevice, dstPitch, uc, 1, Width, Height, hStream, 0, 1);
}

BF_API CUresult cuMemsetD2D16Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us,
                                   size_t Width, size_t Height, CUstream hStream)
{
    return set2d(dstDevice, dstPitch, us, 2, Width, Height, hStream, 0, 1);
}

BF_API CUresult cuMemsetD2D32Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,
                                   size_t Width, size_t Height, CUstream hStream)
{
    return set2d(dstDevice, dstPitch, ui, 4, Width, Height, hStream, 0, 1);
}

BF_API CUresult cuMemsetD8Async_ptsz(CUdeviceptr dstDevice, unsigned char uc, size_t N,
                                     CUstream hStream)
{
    return set1d(dstDevice, uc, 1, N, hStream, 1, 1);
}

BF_API CUresult cuMemsetD16Async_ptsz(CUdeviceptr dstDevice, unsigned short us, size_t N,
                                      CUstream hStream)
{
    return set1d(dstDevice, us, 2, N, hStream, 1, 1);
}

BF_API CUresult cuMemsetD32Async_ptsz(CUdeviceptr dstDevice, unsigned int ui, size_t N,
                                      CUstream hStream)
{
    return set1d(dstDevice, ui, 4, N, hStream, 1, 1);
}

BF_API CUresult cuMemsetD2D8Async_ptsz(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc,
                                       size_t Width, size_t Height, CUstream hStream)
{
    return set2d(dstDevice, dstPitch, uc, 1, Width, Height, hStream, 1, 1);
}

BF_API CUresult cuMemsetD2D16Async_ptsz(CUdeviceptr dstDevice, size_t dstPitch,
                                        unsigned short us, size_t Width, size_t Height,
                                        CUstream hStream)
{
    return set2d(dstDevice, dstPitch, us, 2, Width, Height, hStream, 1, 1);
}

BF_API CUresult cuMemsetD2D32Async_ptsz(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui,
                                        size_t Width, size_t Height, CUstream hStream)
{
    return set2d(dstDevice, dstPitch, ui, 4, Width, Height, hStream, 1, 1);
}
