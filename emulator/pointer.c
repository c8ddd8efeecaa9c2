/*
 * pointer.c: cuPointerGetAttribute and cuPointerGetAttributes.
 *
 * A pointer is known when it lies inside a live allocation, of device memory or of pinned host
 * memory (host_memory.c, CU_MEMORYTYPE_HOST). cuPointerGetAttribute fails with
 * CUDA_ERROR_INVALID_VALUE for any other pointer; cuPointerGetAttributes succeeds and writes each
 * attribute's "nothing" value (zero, NULL, memory type 0, device ordinal -2), as cuda.h describes.
 * Each attribute is written with the width the driver uses for it: booleans are one byte (as
 * NVIDIA's own cuda-python bindings read them), memory types and flags 4, addresses and ids 8.
 */
#include "emu.h"

#include <string.h>


typedef struct {
    size_t size; /* bytes written to *data; 0 for an attribute this table does not know */
} pointer_attribute_row_t;

static const pointer_attribute_row_t attribute_rows[] = {
    [CU_POINTER_ATTRIBUTE_CONTEXT] = {sizeof(CUcontext)},
    [CU_POINTER_ATTRIBUTE_MEMORY_TYPE] = {sizeof(unsigned int)},
    [CU_POINTER_ATTRIBUTE_DEVICE_POINTER] = {sizeof(CUdeviceptr)},
    [CU_POINTER_ATTRIBUTE_HOST_POINTER] = {sizeof(void *)},
    [CU_POINTER_ATTRIBUTE_P2P_TOKENS] = {sizeof(CUDA_POINTER_ATTRIBUTE_P2P_TOKENS)},
    [CU_POINTER_ATTRIBUTE_SYNC_MEMOPS] = {sizeof(bool)},
    [CU_POINTER_ATTRIBUTE_BUFFER_ID] = {sizeof(unsigned long long)},
    [CU_POINTER_ATTRIBUTE_IS_MANAGED] = {sizeof(bool)},
    [CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL] = {sizeof(int)},
    [CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE] = {sizeof(bool)},
    [CU_POINTER_ATTRIBUTE_RANGE_START_ADDR] = {sizeof(CUdeviceptr)},
    [CU_POINTER_ATTRIBUTE_RANGE_SIZE] = {sizeof(size_t)},
    [CU_POINTER_ATTRIBUTE_MAPPED] = {sizeof(bool)},
    [CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES] = {sizeof(unsigned int)},
    [CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE] = {sizeof(unsigned int)},
    [CU_POINTER_ATTRIBUTE_ACCESS_FLAGS] = {sizeof(unsigned int)},
    [CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE] = {sizeof(CUmemoryPool)},
    [CU_POINTER_ATTRIBUTE_MAPPING_SIZE] = {sizeof(size_t)},
    [CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR] = {sizeof(CUdeviceptr)},
    [CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID] = {sizeof(unsigned long long)},
    [CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE] = {sizeof(bool)},
};

static size_t attribute_size(CUpointer_attribute attribute)
{
    if ((unsigned)attribute >= sizeof(attribute_rows) / sizeof(attribute_rows[0]))
        return 0;
    return attribute_rows[attribute].size;
}

static void put(void *data, size_t size, const void *value)
{
    memcpy(data, value, size);
}

/*
 * Writes one attribute of the allocation range (live, lock held) that contains ptr.
 * Returns CUDA_SUCCESS, CUDA_ERROR_INVALID_VALUE for the host pointer of device memory (there is
 * none) or CUDA_ERROR_NOT_SUPPORTED for P2P tokens (no nv-p2p kernel interface here).
 */
static CUresult known_attribute(const bf_range_t *range, CUdeviceptr ptr, CUpointer_attribute attribute,
                                void *data)
{
    const bf_emu_alloc_t *alloc = (const bf_emu_alloc_t *)(uintptr_t)range->value;
    const size_t size = attribute_size(attribute);
    const CUcontext ctx = (CUcontext)alloc->ctx;
    const unsigned int memory_type = alloc->host ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE;
    const unsigned int access = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    const unsigned int zero32 = 0;
    const unsigned long long buffer_id = alloc->buffer_id;
    const CUdeviceptr base = (CUdeviceptr)range->base;
    const size_t range_size = (size_t)range->size, mapping_size = (size_t)alloc->reserved;
    const int ordinal = alloc->ctx->device;
    const bool yes = true, no = false;
    const void *none = NULL;

    switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:              put(data, size, &ctx); break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:          put(data, size, &memory_type); break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:       put(data, size, &ptr); break;
    /* Pinned host memory is mapped at the same address on both sides; device memory has none. */
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        if (!alloc->host)
            return CUDA_ERROR_INVALID_VALUE;
        put(data, size, &ptr);
        break;
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS:           return CUDA_ERROR_NOT_SUPPORTED;
    /* Every emulated memory operation is synchronous. */
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:          put(data, size, &yes); break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:            put(data, size, &buffer_id); break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:           put(data, size, &no); break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:       put(data, size, &ordinal); break;
    /* No IPC in the emulator. */
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: put(data, size, &no); break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:     put(data, size, &base); break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:           put(data, size, &range_size); break;
    case CU_POINTER_ATTRIBUTE_MAPPED:               put(data, size, &yes); break;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: put(data, size, &zero32); break;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: put(data, size, &zero32); break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:         put(data, size, &access); break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:       put(data, size, &none); break;
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:         put(data, size, &mapping_size); break;
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:    put(data, size, &base); break;
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:      put(data, size, &buffer_id); break;
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: put(data, size, &no); break;
    default:                                        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* The value cuPointerGetAttributes reports when there is none: zero, except the device ordinal. */
static void default_attribute(CUpointer_attribute attribute, void *data)
{
    const int no_device = BF_EMU_NO_DEVICE_ORDINAL;

    if (attribute == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL)
        put(data, sizeof(no_device), &no_device);
    else
        memset(data, 0, attribute_size(attribute));
}

/* The live allocation, device or pinned host, that holds ptr, or NULL. Lock held. */
static const bf_range_t *find_allocation(CUdeviceptr ptr)
{
    const bf_range_t *range = bf_emu_memory_find(ptr);

    return range != NULL ? range : bf_emu_host_find_span(ptr, 1);
}

CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
    const bf_range_t *range;
    CUresult result = CUDA_ERROR_INVALID_VALUE;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (data == NULL || attribute_size(attribute) == 0)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&bf_emu.lock);
    range = find_allocation(ptr);
    if (range != NULL)
        result = known_attribute(range, ptr, attribute, data);
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes, void **data,
                                CUdeviceptr ptr)
{
    const bf_range_t *range;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (numAttributes > 0 && (attributes == NULL || data == NULL))
        return CUDA_ERROR_INVALID_VALUE;
    /* Everything is checked before anything is written. */
    for (unsigned int i = 0; i < numAttributes; i++) {
        if (data[i] == NULL || attribute_size(attributes[i]) == 0)
            return CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_lock(&bf_emu.lock);
    range = find_allocation(ptr);
    for (unsigned int i = 0; i < numAttributes; i++) {
        if (range == NULL || known_attribute(range, ptr, attributes[i], data[i]) != CUDA_SUCCESS)
            default_attribute(attributes[i], data[i]);
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return CUDA_SUCCESS;
}
