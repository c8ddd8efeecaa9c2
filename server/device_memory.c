/* device_memory.c: allocations through the driver, placed inside the device windows. */
#include "device_memory.h"

#include <inttypes.h>

#include "bf_log.h"
#include "validate.h"

/* cuMemAllocPitch on current NVIDIA GPUs hands out pitches in multiples of 512 bytes; the VMM path
 * does the same so that a program sees the same pitch on both placements. */
#define VMM_PITCH_ALIGN 512u

static uint64_t round_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) / align * align;
}

void bf_srv_memory_init(bf_srv_memory_t *mem, const bf_srv_driver_t *drv, bool vmm_wanted)
{
    bf_range_map_init(&mem->allocations);
    mem->drv        = drv;
    mem->vmm_wanted = vmm_wanted;
    mem->bytes_live = 0;
}

static CUmemAllocationProp device_prop(const bf_srv_device_t *dev)
{
    CUmemAllocationProp prop = {0};

    prop.type          = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id   = (int)dev->handle;
    return prop;
}

static bool vmm_entries_present(const bf_srv_driver_t *drv)
{
    return drv->MemGetAllocationGranularity != NULL && drv->MemAddressReserve != NULL &&
           drv->MemAddressFree != NULL && drv->MemCreate != NULL && drv->MemRelease != NULL &&
           drv->MemMap != NULL && drv->MemUnmap != NULL && drv->MemSetAccess != NULL;
}

void bf_srv_memory_window_open(bf_srv_memory_t *mem, bf_srv_device_t *dev)
{
    const bf_srv_driver_t *drv = mem->drv;
    CUmemAllocationProp prop   = device_prop(dev);
    size_t granularity         = 0;
    int supported              = 0;
    CUdeviceptr reserved       = 0;
    const char *why;
    CUresult res;

    if (!mem->vmm_wanted) {
        /* The emulator mapped its arena at the window; bf_srv_memory_alloc checks each result. */
        dev->window_enforced = true;
        dev->granularity     = 0;
        return;
    }
    why = "the driver lacks the virtual memory management calls";
    if (!vmm_entries_present(drv))
        goto not_enforced;
    why = "the device does not support virtual memory management";
    res = BF_SRV_DRV(drv, DeviceGetAttribute, &supported,
                     CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev->handle);
    if (res != CUDA_SUCCESS || !supported)
        goto not_enforced;
    why = "cuMemGetAllocationGranularity failed";
    res = drv->MemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM);
    if (res != CUDA_SUCCESS || granularity == 0)
        goto not_enforced;

    uint64_t base = round_up(dev->window_base, granularity);
    uint64_t end  = (dev->window_base + dev->window_size) / granularity * granularity;
    why = "the window is smaller than one mapping granule";
    if (end <= base)
        goto not_enforced;
    why = "cuMemAddressReserve failed";
    res = drv->MemAddressReserve(&reserved, end - base, 0, base, 0);
    if (res != CUDA_SUCCESS)
        goto not_enforced;
    if (reserved != base) {
        /* The address is only a hint to the driver; anywhere else is of no use to the client. */
        drv->MemAddressFree(reserved, end - base);
        why = "the driver would not reserve the window's address";
        goto not_enforced;
    }
    dev->window_base     = base;
    dev->window_size     = end - base;
    dev->granularity     = granularity;
    dev->window_enforced = true;
    bf_log_debug("device %d: window [0x%" PRIx64 ", 0x%" PRIx64 ") reserved, granularity %zu",
                 dev->ordinal, base, end, granularity);
    return;

not_enforced:
    bf_log_warn("device %d: window [0x%" PRIx64 ", 0x%" PRIx64 ") is not enforced (%s): allocations "
                "come from cuMemAlloc and may lie outside it",
                dev->ordinal, dev->window_base, dev->window_base + dev->window_size, why);
    dev->window_enforced = false;
    dev->granularity     = 0;
}

void bf_srv_memory_window_close(bf_srv_memory_t *mem, bf_srv_device_t *dev)
{
    if (dev->granularity == 0)
        return;
    CUresult res = mem->drv->MemAddressFree(dev->window_base, dev->window_size);
    if (res != CUDA_SUCCESS)
        bf_log_warn("device %d: cuMemAddressFree of its window failed: %d", dev->ordinal, (int)res);
    dev->granularity = 0;
}

/* Maps size bytes of fresh device memory at a free gap of the window. */
static CUresult vmm_alloc(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t size,
                          CUdeviceptr *dptr_p)
{
    const bf_srv_driver_t *drv = mem->drv;
    CUmemAllocationProp prop   = device_prop(dev);
    CUmemAccessDesc access     = {.location = prop.location,
                                  .flags    = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    CUmemGenericAllocationHandle handle;
    uint64_t mapped = round_up(size, dev->granularity);
    uint64_t addr;
    CUresult res;

    if (!bf_srv_window_find_gap(&mem->allocations, dev->window_base, dev->window_size, mapped,
                                dev->granularity, &addr))
        return CUDA_ERROR_OUT_OF_MEMORY;
    res = drv->MemCreate(&handle, mapped, &prop, 0);
    if (res != CUDA_SUCCESS)
        return res;
    res = drv->MemMap(addr, mapped, 0, handle, 0);
    if (res != CUDA_SUCCESS)
        goto err_release;
    res = drv->MemSetAccess(addr, mapped, &access, 1);
    if (res != CUDA_SUCCESS)
        goto err_unmap;
    /* The mapping keeps the memory alive; dropping the handle now makes cuMemUnmap the only step
     * needed to free it. */
    drv->MemRelease(handle);
    *dptr_p = addr;
    return CUDA_SUCCESS;

err_unmap:
    drv->MemUnmap(addr, mapped);
err_release:
    drv->MemRelease(handle);
    return res;
}

static CUresult driver_free(bf_srv_memory_t *mem, const bf_srv_device_t *dev, uint64_t dptr,
                            uint64_t size)
{
    if (dev->granularity != 0)
        return mem->drv->MemUnmap(dptr, round_up(size, dev->granularity));
    return BF_SRV_DRV(mem->drv, MemFree, dptr);
}

/* Records a fresh allocation, or gives it back when it cannot be recorded or lies outside the
 * window (which would let a client name memory the worker cannot check). */
static CUresult record(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t dptr, uint64_t size)
{
    bf_status_t status;

    if (dev->window_enforced &&
        (dptr < dev->window_base || size > dev->window_size ||
         dptr - dev->window_base > dev->window_size - size)) {
        bf_log_error("device %d: the driver placed %" PRIu64 " bytes at 0x%" PRIx64
                     ", outside the window [0x%" PRIx64 ", 0x%" PRIx64 ")",
                     dev->ordinal, size, dptr, dev->window_base,
                     dev->window_base + dev->window_size);
        driver_free(mem, dev, dptr, size);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    status = bf_range_map_insert(&mem->allocations, dptr, size, (uint64_t)dev->ordinal);
    if (status != BF_OK) {
        bf_log_error("device %d: cannot record the allocation of %" PRIu64 " bytes at 0x%" PRIx64
                     ": %s", dev->ordinal, size, dptr, bf_status_str(status));
        driver_free(mem, dev, dptr, size);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    mem->bytes_live += size;
    return CUDA_SUCCESS;
}

CUresult bf_srv_memory_alloc(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t size,
                             uint64_t *dptr_p)
{
    CUdeviceptr dptr = 0;
    CUresult res;

    if (size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (dev->granularity != 0)
        res = vmm_alloc(mem, dev, size, &dptr);
    else
        res = BF_SRV_DRV(mem->drv, MemAlloc, &dptr, size);
    if (res != CUDA_SUCCESS)
        return res;
    res = record(mem, dev, dptr, size);
    if (res == CUDA_SUCCESS)
        *dptr_p = dptr;
    return res;
}

CUresult bf_srv_memory_alloc_pitch(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t width,
                                   uint64_t height, uint32_t element_size, uint64_t *dptr_p,
                                   uint64_t *pitch_p)
{
    CUdeviceptr dptr = 0;
    size_t pitch     = 0;
    uint64_t size    = 0;
    CUresult res;

    if (width == 0 || height == 0 ||
        (element_size != 4 && element_size != 8 && element_size != 16))
        return CUDA_ERROR_INVALID_VALUE;
    if (dev->granularity != 0) {
        if (width > UINT64_MAX - VMM_PITCH_ALIGN)
            return CUDA_ERROR_INVALID_VALUE;
        pitch = round_up(width, VMM_PITCH_ALIGN);
        if (!bf_srv_mul_ok(pitch, height, &size))
            return CUDA_ERROR_OUT_OF_MEMORY;
        res = vmm_alloc(mem, dev, size, &dptr);
    } else {
        res = BF_SRV_DRV(mem->drv, MemAllocPitch, &dptr, &pitch, width, height, element_size);
        if (res == CUDA_SUCCESS && (pitch < width || !bf_srv_mul_ok(pitch, height, &size))) {
            bf_log_error("device %d: the driver returned pitch %zu for rows of %" PRIu64 " bytes",
                         dev->ordinal, pitch, width);
            BF_SRV_DRV(mem->drv, MemFree, dptr);
            res = CUDA_ERROR_UNKNOWN;
        }
    }
    if (res != CUDA_SUCCESS)
        return res;
    res = record(mem, dev, dptr, size);
    if (res == CUDA_SUCCESS) {
        *dptr_p  = dptr;
        *pitch_p = pitch;
    }
    return res;
}

CUresult bf_srv_memory_free(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t dptr)
{
    const bf_range_t *range = bf_range_map_find(&mem->allocations, dptr);
    CUresult res;

    if (range == NULL || range->base != dptr || range->value != (uint64_t)dev->ordinal)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t size = range->size;
    res = driver_free(mem, dev, dptr, size);
    /* An allocation the driver refused to free is still live: keep it so that it stays usable
     * and is counted at the end of the session. */
    if (res != CUDA_SUCCESS)
        return res;
    bf_range_map_remove(&mem->allocations, dptr, NULL);
    mem->bytes_live -= size;
    return CUDA_SUCCESS;
}

void bf_srv_memory_release_device(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t *count_p,
                                  uint64_t *bytes_p)
{
    bf_range_map_t *map = &mem->allocations;
    uint64_t count = 0, bytes = 0;

    /* Walk backwards so that removing the current entry leaves the unvisited ones in place. */
    for (size_t i = map->count; i-- > 0;) {
        bf_range_t range = map->ranges[i];
        if (BF_SRV_MEM_DEVICE(range.value) != dev->ordinal)
            continue;
        if (range.value & BF_SRV_MEM_GLOBAL) {
            /* A module's variable: the context's reset takes it with its module. */
            bf_range_map_remove(map, range.base, NULL);
            continue;
        }
        CUresult res = driver_free(mem, dev, range.base, range.size);
        if (res != CUDA_SUCCESS)
            bf_log_debug("device %d: freeing 0x%" PRIx64 " returned %d; forgotten anyway",
                         dev->ordinal, range.base, (int)res);
        bf_range_map_remove(map, range.base, NULL);
        mem->bytes_live -= range.size;
        count++;
        bytes += range.size;
    }
    if (count_p != NULL)
        *count_p = count;
    if (bytes_p != NULL)
        *bytes_p = bytes;
}
