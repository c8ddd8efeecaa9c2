/*
 * memory.c: allocation, copies and memsets.
 *
 * Every device range a request names is checked against the session's allocations before the driver
 * sees it: on the emulator a device pointer is an address of this process. Host data travels through
 * the staging buffer; device memory is only ever touched through the driver.
 */
#include "handlers.h"

#include <string.h>

#include "validate.h"

/* Makes the context of the device owning `range` current. */
static CUresult use_owner(bf_srv_session_t *session, const bf_range_t *range,
                          bf_srv_device_t **dev_p)
{
    bf_srv_device_t *dev = &session->devices[range->value];
    CUresult res         = bf_srv_session_use(session, dev);

    if (res == CUDA_SUCCESS)
        *dev_p = dev;
    return res;
}

/*
 * A synchronous copy to the host reports the first latched error of earlier posted ops in place of
 * its own success (and then carries no data).
 */
static CUresult with_latched(bf_srv_session_t *session, CUresult res)
{
    return res == CUDA_SUCCESS ? bf_srv_session_take_latched(session) : res;
}

/* A 2D copy between host (packed rows) or device memory. */
static CUresult copy_2d(bf_srv_session_t *session, uint64_t dst, uint64_t dst_pitch, void *dst_host,
                        uint64_t src, uint64_t src_pitch, const void *src_host, uint64_t width,
                        uint64_t height)
{
    CUDA_MEMCPY2D copy = {
        .srcMemoryType = src_host != NULL ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE,
        .srcHost       = src_host,
        .srcDevice     = src,
        .srcPitch      = src_pitch,
        .dstMemoryType = dst_host != NULL ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE,
        .dstHost       = dst_host,
        .dstDevice     = dst,
        .dstPitch      = dst_pitch,
        .WidthInBytes  = width,
        .Height        = height,
    };

    /* The unaligned variant accepts every pitch the aligned one does, and more. */
    if (session->drv.Memcpy2DUnaligned != NULL)
        return session->drv.Memcpy2DUnaligned(&copy);
    return BF_SRV_DRV(&session->drv, Memcpy2D, &copy);
}

CUresult bf_srv_handle_mem_alloc(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEM_ALLOC_t *req = &call->req->MEM_ALLOC;
    bf_srv_device_t *dev;
    uint64_t dptr;
    CUresult res = bf_srv_session_device(session, req->device, &dev);

    if (res == CUDA_SUCCESS)
        res = bf_srv_memory_alloc(&session->memory, dev, req->bytesize, &dptr);
    if (res == CUDA_SUCCESS)
        call->rep->MEM_ALLOC.dptr = dptr;
    return res;
}

CUresult bf_srv_handle_mem_alloc_pitch(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEM_ALLOC_PITCH_t *req = &call->req->MEM_ALLOC_PITCH;
    bf_srv_device_t *dev;
    uint64_t dptr, pitch;
    CUresult res = bf_srv_session_device(session, req->device, &dev);

    if (res == CUDA_SUCCESS)
        res = bf_srv_memory_alloc_pitch(&session->memory, dev, req->width, req->height,
                                        req->element_size, &dptr, &pitch);
    if (res == CUDA_SUCCESS) {
        call->rep->MEM_ALLOC_PITCH.dptr  = dptr;
        call->rep->MEM_ALLOC_PITCH.pitch = pitch;
    }
    return res;
}

CUresult bf_srv_handle_mem_free(bf_srv_session_t *session, bf_srv_call_t *call)
{
    uint64_t dptr           = call->req->MEM_FREE.dptr;
    const bf_range_t *range = bf_range_map_find(&session->memory.allocations, dptr);
    bf_srv_device_t *dev;
    CUresult res;

    if (range == NULL || range->base != dptr)
        return CUDA_ERROR_INVALID_VALUE;
    res = use_owner(session, range, &dev);
    if (res == CUDA_SUCCESS)
        res = bf_srv_memory_free(&session->memory, dev, dptr);
    return res;
}

CUresult bf_srv_handle_mem_get_info(bf_srv_session_t *session, bf_srv_call_t *call)
{
    bf_srv_device_t *dev;
    size_t free_bytes = 0, total = 0;
    CUresult res = bf_srv_session_device(session, call->req->MEM_GET_INFO.device, &dev);

    if (res == CUDA_SUCCESS)
        res = BF_SRV_DRV(&session->drv, MemGetInfo, &free_bytes, &total);
    if (res == CUDA_SUCCESS) {
        call->rep->MEM_GET_INFO.free  = free_bytes;
        call->rep->MEM_GET_INFO.total = total;
    }
    return res;
}

CUresult bf_srv_handle_memcpy_htod(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_HTOD_t *req = &call->req->MEMCPY_HTOD;
    const bf_range_t *range = bf_srv_check_span(&session->memory.allocations, req->dst, req->size);
    bf_srv_device_t *dev;
    CUresult res;

    if (range == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (req->size == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, range, &dev);
    if (res == CUDA_SUCCESS)
        res = BF_SRV_DRV(&session->drv, MemcpyHtoD, req->dst, call->tail, req->size);
    return res;
}

CUresult bf_srv_handle_memcpy_dtoh(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_DTOH_t *req = &call->req->MEMCPY_DTOH;
    const bf_range_t *range;
    bf_srv_device_t *dev;
    uint8_t *buf;
    CUresult res;

    /* The reply carries the data as its tail: larger copies are the client's to split. */
    if (req->size > BF_PROTO_MAX_TAIL)
        return CUDA_ERROR_INVALID_VALUE;
    range = bf_srv_check_span(&session->memory.allocations, req->src, req->size);
    if (range == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    buf = bf_srv_session_staging(session, req->size);
    if (buf == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    res = use_owner(session, range, &dev);
    if (res == CUDA_SUCCESS && req->size > 0)
        res = BF_SRV_DRV(&session->drv, MemcpyDtoH, buf, req->src, req->size);
    res = with_latched(session, res);
    if (res == CUDA_SUCCESS) {
        call->rep->MEMCPY_DTOH.size = req->size;
        call->rep_tail              = buf;
        call->rep_tail_len          = req->size;
    }
    return res;
}

CUresult bf_srv_handle_memcpy_dtod(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_DTOD_t *req = &call->req->MEMCPY_DTOD;
    const bf_range_map_t *allocations = &session->memory.allocations;
    const bf_range_t *dst = bf_srv_check_span(allocations, req->dst, req->size);
    const bf_range_t *src = bf_srv_check_span(allocations, req->src, req->size);
    bf_srv_device_t *dev;
    CUresult res;

    if (dst == NULL || src == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (req->size == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, dst, &dev);
    if (res == CUDA_SUCCESS)
        res = BF_SRV_DRV(&session->drv, MemcpyDtoD, req->dst, req->src, req->size);
    return res;
}

CUresult bf_srv_handle_memcpy_2d_htod(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_2D_HTOD_t *req = &call->req->MEMCPY_2D_HTOD;
    const bf_range_t *range;
    bf_srv_device_t *dev;
    uint64_t packed;
    CUresult res;

    /* The host rows travel packed: the tail must be exactly width * height bytes. */
    if (!bf_srv_mul_ok(req->width, req->height, &packed) || packed != req->size)
        return CUDA_ERROR_INVALID_VALUE;
    range = bf_srv_check_2d(&session->memory.allocations, req->dst, req->dst_pitch, req->width,
                            req->height);
    if (range == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (packed == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, range, &dev);
    if (res == CUDA_SUCCESS)
        res = copy_2d(session, req->dst, req->dst_pitch, NULL, 0, req->width, call->tail,
                      req->width, req->height);
    return res;
}

CUresult bf_srv_handle_memcpy_2d_dtoh(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_2D_DTOH_t *req = &call->req->MEMCPY_2D_DTOH;
    const bf_range_t *range;
    bf_srv_device_t *dev;
    uint64_t packed;
    uint8_t *buf;
    CUresult res;

    if (!bf_srv_mul_ok(req->width, req->height, &packed) || packed > BF_PROTO_MAX_TAIL)
        return CUDA_ERROR_INVALID_VALUE;
    range = bf_srv_check_2d(&session->memory.allocations, req->src, req->src_pitch, req->width,
                            req->height);
    if (range == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    buf = bf_srv_session_staging(session, packed);
    if (buf == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    res = use_owner(session, range, &dev);
    if (res == CUDA_SUCCESS && packed > 0)
        res = copy_2d(session, 0, req->width, buf, req->src, req->src_pitch, NULL, req->width,
                      req->height);
    res = with_latched(session, res);
    if (res == CUDA_SUCCESS) {
        call->rep->MEMCPY_2D_DTOH.size = packed;
        call->rep_tail                 = buf;
        call->rep_tail_len             = packed;
    }
    return res;
}

CUresult bf_srv_handle_memcpy_2d_dtod(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_2D_DTOD_t *req = &call->req->MEMCPY_2D_DTOD;
    const bf_range_map_t *allocations = &session->memory.allocations;
    const bf_range_t *dst = bf_srv_check_2d(allocations, req->dst, req->dst_pitch, req->width,
                                            req->height);
    const bf_range_t *src = bf_srv_check_2d(allocations, req->src, req->src_pitch, req->width,
                                            req->height);
    bf_srv_device_t *dev;
    CUresult res;

    if (dst == NULL || src == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (req->width == 0 || req->height == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, dst, &dev);
    if (res == CUDA_SUCCESS)
        res = copy_2d(session, req->dst, req->dst_pitch, NULL, req->src, req->src_pitch, NULL,
                      req->width, req->height);
    return res;
}

CUresult bf_srv_handle_memset(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMSET_t *req = &call->req->MEMSET;
    const bf_srv_driver_t *drv = &session->drv;
    const bf_range_t *range;
    bf_srv_device_t *dev;
    uint64_t bytes;
    CUresult res;

    if (req->element_size != 1 && req->element_size != 2 && req->element_size != 4)
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_srv_mul_ok(req->count, req->element_size, &bytes))
        return CUDA_ERROR_INVALID_VALUE;
    range = bf_srv_check_span(&session->memory.allocations, req->dst, bytes);
    if (range == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (req->count == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, range, &dev);
    if (res != CUDA_SUCCESS)
        return res;
    switch (req->element_size) {
    case 1:  return BF_SRV_DRV(drv, MemsetD8, req->dst, (unsigned char)req->value, req->count);
    case 2:  return BF_SRV_DRV(drv, MemsetD16, req->dst, (unsigned short)req->value, req->count);
    default: return BF_SRV_DRV(drv, MemsetD32, req->dst, req->value, req->count);
    }
}

CUresult bf_srv_handle_memset_2d(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMSET_2D_t *req = &call->req->MEMSET_2D;
    const bf_srv_driver_t *drv = &session->drv;
    const bf_range_t *range;
    bf_srv_device_t *dev;
    uint64_t row_bytes;
    CUresult res;

    if (req->element_size != 1 && req->element_size != 2 && req->element_size != 4)
        return CUDA_ERROR_INVALID_VALUE;
    /* width counts elements; the rows are checked in bytes. */
    if (!bf_srv_mul_ok(req->width, req->element_size, &row_bytes))
        return CUDA_ERROR_INVALID_VALUE;
    range = bf_srv_check_2d(&session->memory.allocations, req->dst, req->pitch, row_bytes,
                            req->height);
    if (range == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (req->width == 0 || req->height == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, range, &dev);
    if (res != CUDA_SUCCESS)
        return res;
    switch (req->element_size) {
    case 1:
        return BF_SRV_DRV(drv, MemsetD2D8, req->dst, req->pitch, (unsigned char)req->value,
                          req->width, req->height);
    case 2:
        return BF_SRV_DRV(drv, MemsetD2D16, req->dst, req->pitch, (unsigned short)req->value,
                          req->width, req->height);
    default:
        return BF_SRV_DRV(drv, MemsetD2D32, req->dst, req->pitch, req->value, req->width,
                          req->height);
    }
}
