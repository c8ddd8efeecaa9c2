/*
 * host_memory.c: the client's table of pinned host allocations (cuMemHostAlloc, cuMemAllocHost).
 *
 * Pinned memory is ordinary memory of this process (the worker runs elsewhere); what makes it
 * "pinned" for CUDA's semantics is that openbf knows it: a copy into it from the device may land
 * later, when the stream that orders it is synchronised, instead of before the call returns, and
 * with unified addressing its address is also its device pointer. Reads take a shared lock: every
 * copy checks its host side here.
 *
 * A range's value packs a buffer id (from BUFFER_ID_FIRST, above any device allocation's), the
 * device ordinal plus one and the allocation flags.
 */
#include "engine_int.h"

#include "bf_range_map.h"

#define FLAGS_BITS 8
#define DEVICE_BITS 8
#define BUFFER_ID_FIRST (1ull << 40)

static pthread_rwlock_t host_lock = PTHREAD_RWLOCK_INITIALIZER;
static bf_range_map_t host_map;
static uint64_t next_buffer_id = BUFFER_ID_FIRST;

CUresult bf_cl_host_insert(void *base, size_t size, unsigned int flags, int device)
{
    pthread_rwlock_wrlock(&host_lock);
    uint64_t value = next_buffer_id << (FLAGS_BITS + DEVICE_BITS) |
                     (uint64_t)(device + 1) << FLAGS_BITS | (flags & ((1u << FLAGS_BITS) - 1));
    bf_status_t status = bf_range_map_insert(&host_map, (uint64_t)(uintptr_t)base, size, value);
    if (status == BF_OK)
        next_buffer_id++;
    pthread_rwlock_unlock(&host_lock);
    return status == BF_OK ? CUDA_SUCCESS : bf_status_to_cu(status);
}

CUresult bf_cl_host_remove(void *base, size_t *size_p)
{
    bf_range_t removed;

    pthread_rwlock_wrlock(&host_lock);
    bf_status_t status = bf_range_map_remove(&host_map, (uint64_t)(uintptr_t)base, &removed);
    pthread_rwlock_unlock(&host_lock);
    if (status != BF_OK)
        return CUDA_ERROR_INVALID_VALUE;
    *size_p = (size_t)removed.size;
    return CUDA_SUCCESS;
}

int bf_cl_host_find(const void *p, size_t len, bf_cl_host_range_t *range_p)
{
    pthread_rwlock_rdlock(&host_lock);
    const bf_range_t *range = bf_range_map_find_span(&host_map, (uint64_t)(uintptr_t)p, len);
    if (range != NULL && range_p != NULL) {
        range_p->base      = range->base;
        range_p->size      = range->size;
        range_p->flags     = (unsigned int)(range->value & ((1u << FLAGS_BITS) - 1));
        range_p->device    = (int)((range->value >> FLAGS_BITS) & ((1u << DEVICE_BITS) - 1)) - 1;
        range_p->buffer_id = range->value >> (FLAGS_BITS + DEVICE_BITS);
    }
    pthread_rwlock_unlock(&host_lock);
    return range != NULL;
}
