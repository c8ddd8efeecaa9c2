/*
 * memory.c: allocation, copies and memsets.
 *
 * Every device range a request names is checked against the session's allocations before the driver
 * sees it: on the emulator a device pointer is an address of this process. Host data travels through
 * the request's tail and the executing thread's staging buffer; device memory is only ever touched
 * through the driver.
 *
 * Copies and memsets are ordered on their stream by the scheduler and issued with the driver's
 * asynchronous calls on the driver's stream (NULL for the legacy stream); a driver without those
 * calls gets the synchronous ones. A copy to the host waits for its stream before it answers. Frees
 * and context resets never run beside another op of the device (they are barriers), so a range
 * found live here stays live while the op uses it.
 */
#include "handlers.h"

#include <string.h>

#include "validate.h"

/* Makes the context of the device owning `range` current. */
static CUresult use_owner(bf_srv_session_t *session, const bf_range_t *range,
                          bf_srv_device_t **dev_p)
{
    bf_srv_device_t *dev = &session->devices[BF_SRV_MEM_DEVICE(range->value)];
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

/* Whether the driver has streams (else every op is synchronous and the legacy calls serve). */
static bool has_streams(const bf_srv_session_t *session)
{
    return session->drv.StreamCreateWithPriority != NULL;
}

/* Waits for the op's stream after an asynchronous copy to host memory. */
static CUresult wait_stream(bf_srv_session_t *session, const bf_srv_call_t *call)
{
    if (!has_streams(session) || session->drv.StreamSynchronize == NULL)
        return CUDA_SUCCESS;
    return session->drv.StreamSynchronize(bf_srv_call_stream(call));
}

/* A 2D copy between host (packed rows) or device memory, on the op's stream. */
static CUresult copy_2d(bf_srv_session_t *session, const bf_srv_call_t *call, uint64_t dst,
                        uint64_t dst_pitch, void *dst_host, uint64_t src, uint64_t src_pitch,
                        const void *src_host, uint64_t width, uint64_t height)
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

    if (has_streams(session) && session->drv.Memcpy2DAsync != NULL) {
        CUresult res = session->drv.Memcpy2DAsync(&copy, bf_srv_call_stream(call));
        /* The driver may refuse pitches it did not hand out for device-to-device copies; the
         * unaligned copy, after the stream's earlier work, takes any. */
        if (res != CUDA_ERROR_INVALID_VALUE || session->drv.Memcpy2DUnaligned == NULL)
            return res;
        res = wait_stream(session, call);
        if (res != CUDA_SUCCESS)
            return res;
    }
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

    if (res == CUDA_SUCCESS) {
        pthread_mutex_lock(&session->memory_lock);
        res = bf_srv_memory_alloc(&session->memory, dev, req->bytesize, &dptr);
        pthread_mutex_unlock(&session->memory_lock);
    }
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

    if (res == CUDA_SUCCESS) {
        pthread_mutex_lock(&session->memory_lock);
        res = bf_srv_memory_alloc_pitch(&session->memory, dev, req->width, req->height,
                                        req->element_size, &dptr, &pitch);
        pthread_mutex_unlock(&session->memory_lock);
    }
    if (res == CUDA_SUCCESS) {
        call->rep->MEM_ALLOC_PITCH.dptr  = dptr;
        call->rep->MEM_ALLOC_PITCH.pitch = pitch;
    }
    return res;
}

CUresult bf_srv_handle_mem_free(bf_srv_session_t *session, bf_srv_call_t *call)
{
    uint64_t dptr = call->req->MEM_FREE.dptr;
    bf_srv_device_t *dev;
    bf_range_t range;
    CUresult res;

    if (!bf_srv_session_check_span(session, dptr, 0, &range) || range.base != dptr)
        return CUDA_ERROR_INVALID_VALUE;
    res = use_owner(session, &range, &dev);
    if (res == CUDA_SUCCESS) {
        pthread_mutex_lock(&session->memory_lock);
        res = bf_srv_memory_free(&session->memory, dev, dptr);
        pthread_mutex_unlock(&session->memory_lock);
    }
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
    bf_srv_device_t *dev;
    bf_range_t range;
    CUresult res;

    if (!bf_srv_session_check_span(session, req->dst, req->size, &range))
        return CUDA_ERROR_INVALID_VALUE;
    if (req->size == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, &range, &dev);
    if (res != CUDA_SUCCESS)
        return res;
    /* The tail is pageable memory of this process: the driver has staged it when the call
     * returns, so the scheduler may recycle it at once. */
    if (has_streams(session) && session->drv.MemcpyHtoDAsync != NULL)
        return session->drv.MemcpyHtoDAsync(req->dst, call->tail, req->size,
                                            bf_srv_call_stream(call));
    return BF_SRV_DRV(&session->drv, MemcpyHtoD, req->dst, call->tail, req->size);
}

CUresult bf_srv_handle_memcpy_dtoh(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_DTOH_t *req = &call->req->MEMCPY_DTOH;
    bf_srv_device_t *dev;
    bf_range_t range;
    uint8_t *buf;
    CUresult res;

    /* The reply carries the data as its tail: larger copies are the client's to split. */
    if (req->size > BF_PROTO_MAX_TAIL)
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_srv_session_check_span(session, req->src, req->size, &range))
        return CUDA_ERROR_INVALID_VALUE;
    buf = bf_srv_session_staging(session, req->size);
    if (buf == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    res = use_owner(session, &range, &dev);
    if (res == CUDA_SUCCESS && req->size > 0) {
        if (has_streams(session) && session->drv.MemcpyDtoHAsync != NULL) {
            res = session->drv.MemcpyDtoHAsync(buf, req->src, req->size, bf_srv_call_stream(call));
            if (res == CUDA_SUCCESS)
                res = wait_stream(session, call);
        } else {
            res = BF_SRV_DRV(&session->drv, MemcpyDtoH, buf, req->src, req->size);
        }
    }
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
    bf_range_t dst, src;
    bf_srv_device_t *dev;
    CUresult res;

    if (!bf_srv_session_check_span(session, req->dst, req->size, &dst) ||
        !bf_srv_session_check_span(session, req->src, req->size, &src))
        return CUDA_ERROR_INVALID_VALUE;
    if (req->size == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, &dst, &dev);
    if (res != CUDA_SUCCESS)
        return res;
    if (has_streams(session) && BF_SRV_MEM_DEVICE(dst.value) != BF_SRV_MEM_DEVICE(src.value) &&
        session->drv.MemcpyPeerAsync != NULL) {
        /* Between two devices of the session: a peer copy names both contexts. */
        return session->drv.MemcpyPeerAsync(req->dst, dev->ctx, req->src,
                                            session->devices[BF_SRV_MEM_DEVICE(src.value)].ctx,
                                            req->size,
                                            bf_srv_call_stream(call));
    }
    if (has_streams(session) && session->drv.MemcpyDtoDAsync != NULL)
        return session->drv.MemcpyDtoDAsync(req->dst, req->src, req->size,
                                            bf_srv_call_stream(call));
    return BF_SRV_DRV(&session->drv, MemcpyDtoD, req->dst, req->src, req->size);
}

CUresult bf_srv_handle_memcpy_2d_htod(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_2D_HTOD_t *req = &call->req->MEMCPY_2D_HTOD;
    bf_srv_device_t *dev;
    bf_range_t range;
    uint64_t packed;
    CUresult res;

    /* The host rows travel packed: the tail must be exactly width * height bytes. */
    if (!bf_srv_mul_ok(req->width, req->height, &packed) || packed != req->size)
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_srv_session_check_2d(session, req->dst, req->dst_pitch, req->width, req->height,
                                 &range))
        return CUDA_ERROR_INVALID_VALUE;
    if (packed == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, &range, &dev);
    if (res == CUDA_SUCCESS)
        res = copy_2d(session, call, req->dst, req->dst_pitch, NULL, 0, req->width, call->tail,
                      req->width, req->height);
    return res;
}

CUresult bf_srv_handle_memcpy_2d_dtoh(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMCPY_2D_DTOH_t *req = &call->req->MEMCPY_2D_DTOH;
    bf_srv_device_t *dev;
    bf_range_t range;
    uint64_t packed;
    uint8_t *buf;
    CUresult res;

    if (!bf_srv_mul_ok(req->width, req->height, &packed) || packed > BF_PROTO_MAX_TAIL)
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_srv_session_check_2d(session, req->src, req->src_pitch, req->width, req->height,
                                 &range))
        return CUDA_ERROR_INVALID_VALUE;
    buf = bf_srv_session_staging(session, packed);
    if (buf == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    res = use_owner(session, &range, &dev);
    if (res == CUDA_SUCCESS && packed > 0) {
        res = copy_2d(session, call, 0, req->width, buf, req->src, req->src_pitch, NULL, req->width,
                      req->height);
        if (res == CUDA_SUCCESS)
            res = wait_stream(session, call);
    }
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
    bf_range_t dst, src;
    bf_srv_device_t *dev;
    CUresult res;

    if (!bf_srv_session_check_2d(session, req->dst, req->dst_pitch, req->width, req->height,
                                 &dst) ||
        !bf_srv_session_check_2d(session, req->src, req->src_pitch, req->width, req->height, &src))
        return CUDA_ERROR_INVALID_VALUE;
    if (req->width == 0 || req->height == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, &dst, &dev);
    if (res == CUDA_SUCCESS)
        res = copy_2d(session, call, req->dst, req->dst_pitch, NULL, req->src, req->src_pitch,
                      NULL, req->width, req->height);
    return res;
}

CUresult bf_srv_handle_memset(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_MEMSET_t *req = &call->req->MEMSET;
    const bf_srv_driver_t *drv = &session->drv;
    bf_srv_device_t *dev;
    bf_range_t range;
    uint64_t bytes;
    CUresult res;

    if (req->element_size != 1 && req->element_size != 2 && req->element_size != 4)
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_srv_mul_ok(req->count, req->element_size, &bytes))
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_srv_session_check_span(session, req->dst, bytes, &range))
        return CUDA_ERROR_INVALID_VALUE;
    if (req->count == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, &range, &dev);
    if (res != CUDA_SUCCESS)
        return res;
    if (has_streams(session) && drv->MemsetD8Async != NULL && drv->MemsetD16Async != NULL &&
        drv->MemsetD32Async != NULL) {
        CUstream stream = bf_srv_call_stream(call);
        switch (req->element_size) {
        case 1:  return drv->MemsetD8Async(req->dst, (unsigned char)req->value, req->count, stream);
        case 2:  return drv->MemsetD16Async(req->dst, (unsigned short)req->value, req->count, stream);
        default: return drv->MemsetD32Async(req->dst, req->value, req->count, stream);
        }
    }
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
    bf_srv_device_t *dev;
    bf_range_t range;
    uint64_t row_bytes;
    CUresult res;

    if (req->element_size != 1 && req->element_size != 2 && req->element_size != 4)
        return CUDA_ERROR_INVALID_VALUE;
    /* width counts elements; the rows are checked in bytes. */
    if (!bf_srv_mul_ok(req->width, req->element_size, &row_bytes))
        return CUDA_ERROR_INVALID_VALUE;
    if (!bf_srv_session_check_2d(session, req->dst, req->pitch, row_bytes, req->height, &range))
        return CUDA_ERROR_INVALID_VALUE;
    if (req->width == 0 || req->height == 0)
        return CUDA_SUCCESS;
    res = use_owner(session, &range, &dev);
    if (res != CUDA_SUCCESS)
        return res;
    if (has_streams(session) && drv->MemsetD2D8Async != NULL && drv->MemsetD2D16Async != NULL &&
        drv->MemsetD2D32Async != NULL) {
        CUstream stream = bf_srv_call_stream(call);
        switch (req->element_size) {
        case 1:
            return drv->MemsetD2D8Async(req->dst, req->pitch, (unsigned char)req->value,
                                        req->width, req->height, stream);
        case 2:
            return drv->MemsetD2D16Async(req->dst, req->pitch, (unsigned short)req->value,
                                         req->width, req->height, stream);
        default:
            return drv->MemsetD2D32Async(req->dst, req->pitch, req->value, req->width,
                                         req->height, stream);
        }
    }
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
