/*
 * pointer.c: pointer attributes, answered from the client's tables of device ranges and of pinned
 * host allocations.
 *
 * Attribute value types follow cuda.h's documentation: CUcontext, CUdeviceptr, void *, size_t,
 * unsigned long long and CUmemoryPool where named; booleans, ordinals, memory types, handle
 * types and access flags are 4-byte integers.
 */
#include "driver.h"

#include <string.h>

typedef enum { VALUE_OK, VALUE_INVALID, VALUE_UNSUPPORTED, VALUE_UNKNOWN_ATTRIBUTE } value_status_t;

/* Size of the value an attribute writes, 0 for an attribute this cuda.h does not define. */
static size_t attribute_size(CUpointer_attribute attribute)
{
    switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
        return sizeof(CUcontext);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
        return sizeof(CUdeviceptr);
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        return sizeof(void *);
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS:
        return sizeof(CUDA_POINTER_ATTRIBUTE_P2P_TOKENS);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
        return sizeof(unsigned long long);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
        return sizeof(size_t);
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
        return sizeof(CUmemoryPool);
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_MAPPED:
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE:
        return sizeof(int);
    }
    return 0;
}

static void put_u32(void *data, unsigned int v)
{
    memcpy(data, &v, sizeof(v));
}

/* Writes one attribute of a live device range to data. */
static value_status_t device_value(const bf_cl_mem_range_t *range, CUdeviceptr ptr,
                                   CUpointer_attribute attribute, void *data)
{
    CUcontext ctx;
    CUdeviceptr addr;
    unsigned long long id;
    size_t size;

    switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
        ctx = bf_cl_primary_ctx(range->device);
        memcpy(data, &ctx, sizeof(ctx));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        put_u32(data, CU_MEMORYTYPE_DEVICE);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
        memcpy(data, &ptr, sizeof(ptr));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        /* Device memory has no host address in this process. */
        return VALUE_INVALID;
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS:
        return VALUE_UNSUPPORTED;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
        /* Every synchronous operation of openbf is ordered on the worker. */
        put_u32(data, 1);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
        id = range->buffer_id;
        memcpy(data, &id, sizeof(id));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE:
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
        put_u32(data, 0);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
        put_u32(data, (unsigned int)range->device);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
        addr = range->base;
        memcpy(data, &addr, sizeof(addr));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
        size = range->size;
        memcpy(data, &size, sizeof(size));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_MAPPED:
        put_u32(data, 1);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
        put_u32(data, CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
        /* Not from a pool. */
        memset(data, 0, sizeof(CUmemoryPool));
        return VALUE_OK;
    }
    return VALUE_UNKNOWN_ATTRIBUTE;
}

/* Writes one attribute of pinned host memory (cuMemHostAlloc) to data: host memory whose device
 * pointer, with unified addressing, is its host address. */
static value_status_t pinned_value(const bf_cl_host_range_t *range, CUdeviceptr ptr,
                                   CUpointer_attribute attribute, void *data)
{
    CUcontext ctx;
    unsigned long long id;
    size_t size;

    switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
        ctx = bf_cl_primary_ctx(range->device);
        memcpy(data, &ctx, sizeof(ctx));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        put_u32(data, CU_MEMORYTYPE_HOST);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        memcpy(data, &ptr, sizeof(ptr));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
        memcpy(data, &range->base, sizeof(CUdeviceptr));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
        size = range->size;
        memcpy(data, &size, sizeof(size));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
        id = range->buffer_id;
        memcpy(data, &id, sizeof(id));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
        put_u32(data, (unsigned int)range->device);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_MAPPED:
        put_u32(data, 1);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
        put_u32(data, CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE:
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
        put_u32(data, 0);
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
        memset(data, 0, sizeof(CUmemoryPool));
        return VALUE_OK;
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS:
        return VALUE_UNSUPPORTED;
    }
    return VALUE_UNKNOWN_ATTRIBUTE;
}

/* The value of one attribute of whatever ptr is: a device range, pinned memory, or unknown. */
static value_status_t any_value(CUdeviceptr ptr, CUpointer_attribute attribute, void *data)
{
    bf_cl_mem_range_t range;
    bf_cl_host_range_t pinned;

    if (bf_cl_mem_find(ptr, 1, &range))
        return device_value(&range, ptr, attribute, data);
    if (bf_cl_host_find((const void *)(uintptr_t)ptr, 1, &pinned))
        return pinned_value(&pinned, ptr, attribute, data);
    return VALUE_INVALID;
}

BF_API CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
    BF_CHECK_INIT();
    if (data == NULL || attribute_size(attribute) == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (attribute == CU_POINTER_ATTRIBUTE_DEVICE_POINTER && bf_cl_ctx_get_current() == NULL)
        return CUDA_ERROR_INVALID_CONTEXT;
    /* Host memory unknown to CUDA (neither pinned nor registered) is not a CUDA pointer. */
    switch (any_value(ptr, attribute, data)) {
    case VALUE_OK:
        return CUDA_SUCCESS;
    case VALUE_UNSUPPORTED:
        return CUDA_ERROR_NOT_SUPPORTED;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

/* Unlike the single query, an unknown pointer is no error here: every value is zeroed (memory
 * type 0, NULL context), and so is a value that does not exist for the pointer. */
BF_API CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes,
                                       void **data, CUdeviceptr ptr)
{
    BF_CHECK_INIT();
    if (numAttributes == 0 || attributes == NULL || data == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned int i = 0; i < numAttributes; i++)
        if (attribute_size(attributes[i]) == 0 || data[i] == NULL)
            return CUDA_ERROR_INVALID_VALUE;

    for (unsigned int i = 0; i < numAttributes; i++) {
        if (any_value(ptr, attributes[i], data[i]) != VALUE_OK)
            memset(data[i], 0, attribute_size(attributes[i]));
    }
    return CUDA_SUCCESS;
}
