/*
 * host_memory.c: pinned host memory (cuMemAllocHost, cuMemHostAlloc, cuMemFreeHost,
 * cuMemHostGetFlags, cuMemHostGetDevicePointer).
 *
 * Each allocation is its own anonymous mapping, tracked in a range map like device memory, so
 * pointer attributes know it (CU_MEMORYTYPE_HOST), copies and memsets may name it as device memory,
 * and a bad free is refused instead of corrupting the heap. It is not page-locked: nothing in the
 * emulator transfers by DMA, and locking would only count against RLIMIT_MEMLOCK. The emulated
 * device supports unified addressing and shares the host's address space, so every allocation is
 * mapped and portable whatever its flags say, and its device pointer is its host address (cuda.h:
 * with unified addressing "the device pointer ... is always equal to the returned host pointer").
 * Like device memory, it belongs to the context that allocated it and is freed when that context
 * is deactivated (reset or last release).
 */
#include "emu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bf_log.h"

#define HOST_FLAGS_KNOWN (CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED)

/* Live pinned allocations: [address, address + size) -> bf_emu_alloc_t. bf_emu.lock. */
static bf_range_map_t host_allocations;

const bf_range_t *bf_emu_host_find_span(uint64_t addr, uint64_t len)
{
    return bf_range_map_find_span(&host_allocations, addr, len);
}

static void unmap(const bf_range_t *range)
{
    const bf_emu_alloc_t *alloc = (const bf_emu_alloc_t *)(uintptr_t)range->value;

    if (munmap((void *)(uintptr_t)range->base, alloc->reserved) != 0)
        bf_log_warn("munmap of pinned host memory at 0x%lx failed: %s", (unsigned long)range->base,
                    strerror(errno));
    free((void *)alloc);
}

void bf_emu_host_free_ctx(const bf_emu_ctx_t *ctx)
{
    size_t kept = 0;

    /* One pass that compacts the sorted array in place: the order of the survivors is unchanged. */
    for (size_t i = 0; i < host_allocations.count; i++) {
        const bf_range_t *range = &host_allocations.ranges[i];
        const bf_emu_alloc_t *alloc = (const bf_emu_alloc_t *)(uintptr_t)range->value;

        if (alloc->ctx == ctx)
            unmap(range);
        else
            host_allocations.ranges[kept++] = *range;
    }
    host_allocations.count = kept;
}

static CUresult host_alloc(void **pp, size_t bytesize, unsigned int flags)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    bf_emu_alloc_t *alloc;
    bf_emu_ctx_t *ctx;
    bf_status_t status;
    size_t map_size;
    void *p;
    CUresult result = bf_emu_ctx_resolve(NULL, true, &ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (pp == NULL || bytesize == 0 || (flags & ~(unsigned int)HOST_FLAGS_KNOWN) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (bytesize > SIZE_MAX - page)
        return CUDA_ERROR_OUT_OF_MEMORY;
    map_size = (bytesize + page - 1) / page * page;
    p = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        bf_log_debug("cannot map %zu bytes of pinned host memory: %s", map_size, strerror(errno));
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    alloc = malloc(sizeof(*alloc));
    if (alloc == NULL)
        goto err_unmap;
    pthread_mutex_lock(&bf_emu.lock);
    /* Buffer ids come from the device's counter, so they never repeat a device allocation's. */
    *alloc = (bf_emu_alloc_t){.ctx = ctx, .buffer_id = bf_emu.devices[ctx->device].arena.next_buffer_id++,
                              .reserved = map_size, .host = true, .host_flags = flags};
    status = bf_range_map_insert(&host_allocations, (uint64_t)(uintptr_t)p, bytesize, (uint64_t)(uintptr_t)alloc);
    pthread_mutex_unlock(&bf_emu.lock);
    if (status != BF_OK)
        goto err_free_alloc;
    *pp = p;
    return CUDA_SUCCESS;

err_free_alloc:
    free(alloc);
err_unmap:
    munmap(p, map_size);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    return host_alloc(pp, bytesize, Flags);
}

CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
    return host_alloc(pp, bytesize, 0);
}

/* Frees an allocation given its start. NULL is accepted and does nothing, like free(). */
CUresult cuMemFreeHost(void *p)
{
    bf_range_t removed;
    bf_status_t status;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (p == NULL)
        return CUDA_SUCCESS;
    pthread_mutex_lock(&bf_emu.lock);
    status = bf_range_map_remove(&host_allocations, (uint64_t)(uintptr_t)p, &removed);
    pthread_mutex_unlock(&bf_emu.lock);
    if (status != BF_OK) {
        bf_log_debug("cuMemFreeHost: %p is not the start of pinned host memory", p);
        return CUDA_ERROR_INVALID_VALUE;
    }
    unmap(&removed);
    return CUDA_SUCCESS;
}

/* Looks up the allocation holding p and copies what the queries need. Lock taken and released.
 * Returns CUDA_SUCCESS, CUDA_ERROR_NOT_INITIALIZED or CUDA_ERROR_INVALID_VALUE (not pinned). */
static CUresult host_lookup(const void *p, unsigned int *flags_p)
{
    const bf_range_t *range;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    range = bf_emu_host_find_span((uint64_t)(uintptr_t)p, 1);
    if (range != NULL)
        *flags_p = ((const bf_emu_alloc_t *)(uintptr_t)range->value)->host_flags;
    pthread_mutex_unlock(&bf_emu.lock);
    return range != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* The flags given at allocation: 0 for cuMemAllocHost. Any address inside the allocation works. */
CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
    unsigned int flags = 0;
    CUresult result;

    if (pFlags == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = host_lookup(p, &flags);
    if (result == CUDA_SUCCESS)
        *pFlags = flags;
    return result;
}

/* The device pointer of p is p itself, inside the allocation too: one address space. Flags are
 * reserved and must be 0. */
CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    unsigned int flags = 0;
    CUresult result;

    if (pdptr == NULL || Flags != 0)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = host_lookup(p, &flags);
    if (result == CUDA_SUCCESS)
        *pdptr = (CUdeviceptr)(uintptr_t)p;
    return result;
}
