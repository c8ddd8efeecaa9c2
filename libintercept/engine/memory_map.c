/*
 * memory_map.c: the client's table of live device ranges.
 *
 * Every pointer check of the memory calls (a copy or memset must lie inside one live
 * allocation), the direction of the generic cuMemcpy, cuMemGetAddressRange and the pointer
 * attributes are answered from here, without a round trip. Reads take a shared lock: copies on
 * several threads check pointers at the same time.
 *
 * A range's value in the map packs its buffer id, kind and device ordinal.
 */
#include "engine_int.h"

#include "bf_range_map.h"

#define VALUE_DEVICE_BITS 8
#define VALUE_KIND_BITS 8

static pthread_rwlock_t map_lock = PTHREAD_RWLOCK_INITIALIZER;
static bf_range_map_t map;
static uint64_t next_buffer_id = 1;
static uint64_t reserved_base, reserved_size;

void bf_cl_mem_setup(uint64_t va_base, uint64_t va_size)
{
    reserved_base = va_base;
    reserved_size = va_size;
}

static uint64_t pack(int device, bf_cl_mem_kind_t kind, uint64_t buffer_id)
{
    return buffer_id << (VALUE_DEVICE_BITS + VALUE_KIND_BITS) |
           (uint64_t)kind << VALUE_DEVICE_BITS | (uint64_t)device;
}

static void unpack(const bf_range_t *range, bf_cl_mem_range_t *out)
{
    out->base      = range->base;
    out->size      = range->size;
    out->device    = (int)(range->value & ((1u << VALUE_DEVICE_BITS) - 1));
    out->kind      = (bf_cl_mem_kind_t)((range->value >> VALUE_DEVICE_BITS) &
                                        ((1u << VALUE_KIND_BITS) - 1));
    out->buffer_id = range->value >> (VALUE_DEVICE_BITS + VALUE_KIND_BITS);
}

static int in_window(const bf_proto_device_t *dev, uint64_t addr, uint64_t size)
{
    return addr >= dev->window_base && addr - dev->window_base < dev->window_size &&
           size <= dev->window_size - (addr - dev->window_base);
}

int bf_cl_mem_is_device_address(uint64_t addr)
{
    if (addr - reserved_base < reserved_size)
        return 1;
    for (int i = 0; i < bf_cl_devices_count; i++)
        if (in_window(&bf_cl_devices[i], addr, 1))
            return 1;
    return 0;
}

CUresult bf_cl_mem_insert(int device, uint64_t base, uint64_t size, bf_cl_mem_kind_t kind)
{
    if (device < 0 || device >= bf_cl_devices_count || device >= (1 << VALUE_DEVICE_BITS))
        return CUDA_ERROR_INVALID_VALUE;
    const bf_proto_device_t *dev = &bf_cl_devices[device];
    /* A worker that places memory outside the device's window breaks the no-alias guarantee;
     * a device without a window (size 0) is taken as it comes. */
    if (dev->window_size != 0 && !in_window(dev, base, size))
        return CUDA_ERROR_INVALID_VALUE;

    pthread_rwlock_wrlock(&map_lock);
    bf_status_t status = bf_range_map_insert(&map, base, size, pack(device, kind, next_buffer_id));
    if (status == BF_OK)
        next_buffer_id++;
    pthread_rwlock_unlock(&map_lock);
    return status == BF_OK ? CUDA_SUCCESS : bf_status_to_cu(status);
}

CUresult bf_cl_mem_remove(uint64_t base, bf_cl_mem_range_t *range_p)
{
    CUresult result = CUDA_ERROR_INVALID_VALUE;

    pthread_rwlock_wrlock(&map_lock);
    const bf_range_t *range = bf_range_map_find(&map, base);
    if (range != NULL && range->base == base) {
        bf_cl_mem_range_t found;
        unpack(range, &found);
        if (found.kind == BF_CL_MEM_ALLOC) {
            (void)bf_range_map_remove(&map, base, NULL);
            *range_p = found;
            result = CUDA_SUCCESS;
        }
    }
    pthread_rwlock_unlock(&map_lock);
    return result;
}

void bf_cl_mem_forget_global(uint64_t base)
{
    pthread_rwlock_wrlock(&map_lock);
    const bf_range_t *range = bf_range_map_find(&map, base);
    if (range != NULL && range->base == base) {
        bf_cl_mem_range_t found;
        unpack(range, &found);
        if (found.kind == BF_CL_MEM_GLOBAL)
            (void)bf_range_map_remove(&map, base, NULL);
    }
    pthread_rwlock_unlock(&map_lock);
}

int bf_cl_mem_find(uint64_t addr, uint64_t len, bf_cl_mem_range_t *range_p)
{
    pthread_rwlock_rdlock(&map_lock);
    const bf_range_t *range = bf_range_map_find_span(&map, addr, len);
    if (range != NULL)
        unpack(range, range_p);
    pthread_rwlock_unlock(&map_lock);
    return range != NULL;
}

void bf_cl_mem_drop_device(int device)
{
    pthread_rwlock_wrlock(&map_lock);
    /* Removing shifts the array down, so the index only advances past ranges that stay. */
    for (size_t i = 0; i < map.count;) {
        bf_cl_mem_range_t range;
        unpack(&map.ranges[i], &range);
        /* Globals go too: the driver reloads a library into the new context with fresh ones. */
        if (range.device == device)
            (void)bf_range_map_remove(&map, range.base, NULL);
        else
            i++;
    }
    pthread_rwlock_unlock(&map_lock);
}
