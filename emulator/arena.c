/*
 * arena.c: a device's memory, one anonymous mapping carved up first-fit.
 *
 * The mapping is MAP_NORESERVE, so pages cost nothing until a copy or memset touches them, and a
 * multi-gigabyte device costs only address space. Freed blocks of BF_EMU_RELEASE_MIN bytes or more
 * give their whole pages back with MADV_DONTNEED. Live allocations sit in a bf_range_map sorted by
 * address; the gaps between them are the free space, so there is no second free list to keep in
 * step. Allocation is a linear walk over the live ranges: fine for thousands of allocations.
 */
#include "emu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bf_log.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Freed blocks below this size keep their pages: returning them would cost more than it saves. */
#define BF_EMU_RELEASE_MIN ((uint64_t)64 << 10)

static uint64_t align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

bf_status_t bf_emu_arena_init(bf_emu_arena_t *arena, size_t size, uintptr_t va_base)
{
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    const size_t map_size = align_up(size, page);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *base;

    if (va_base != 0) {
        if (va_base % page != 0) {
            bf_log_error("BF_EMU_VA_BASE 0x%lx is not page aligned", (unsigned long)va_base);
            return BF_INVALID_ARG;
        }
        flags |= MAP_FIXED_NOREPLACE;
    }
    base = mmap((void *)va_base, map_size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (base == MAP_FAILED) {
        if (va_base != 0)
            bf_log_error("cannot place %zu bytes of device memory at BF_EMU_VA_BASE 0x%lx: %s", map_size,
                         (unsigned long)va_base, strerror(errno));
        else
            bf_log_error("cannot reserve %zu bytes of device memory: %s", map_size, strerror(errno));
        return BF_NO_MEMORY;
    }
    /* Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat the address as a hint. */
    if (va_base != 0 && (uintptr_t)base != va_base) {
        munmap(base, map_size);
        bf_log_error("cannot place %zu bytes of device memory at BF_EMU_VA_BASE 0x%lx: the kernel "
                     "offered 0x%lx instead", map_size, (unsigned long)va_base, (unsigned long)base);
        return BF_NO_MEMORY;
    }
    *arena = (bf_emu_arena_t){.base = base, .size = size, .next_buffer_id = 1};
    bf_range_map_init(&arena->allocations);
    bf_log_debug("device memory: %zu bytes at %p", size, base);
    return BF_OK;
}

void bf_emu_arena_fini(bf_emu_arena_t *arena)
{
    for (size_t i = 0; i < arena->allocations.count; i++)
        free((void *)(uintptr_t)arena->allocations.ranges[i].value);
    bf_range_map_clear(&arena->allocations);
    if (arena->base != NULL)
        munmap(arena->base, align_up(arena->size, (uint64_t)sysconf(_SC_PAGESIZE)));
    memset(arena, 0, sizeof(*arena));
}

bf_status_t bf_emu_arena_alloc(bf_emu_arena_t *arena, size_t size, bf_emu_ctx_t *ctx,
                               CUdeviceptr *dptr_p)
{
    const uint64_t start = (uint64_t)(uintptr_t)arena->base;
    const uint64_t end = start + arena->size;
    uint64_t need, cursor = start, found = 0;
    bf_emu_alloc_t *alloc;
    bf_status_t status;

    if (size > arena->size)
        return BF_NO_MEMORY;
    need = align_up(size, BF_EMU_ALLOC_ALIGN);

    /* First fit: the gap before each live range, then the tail after the last one. */
    for (size_t i = 0; i <= arena->allocations.count; i++) {
        uint64_t gap_end = end;

        if (i < arena->allocations.count)
            gap_end = arena->allocations.ranges[i].base;
        if (gap_end >= cursor && gap_end - cursor >= need) {
            found = cursor;
            break;
        }
        if (i < arena->allocations.count) {
            const bf_range_t *range = &arena->allocations.ranges[i];
            const bf_emu_alloc_t *owner = (const bf_emu_alloc_t *)(uintptr_t)range->value;

            cursor = range->base + owner->reserved;
        }
    }
    if (found == 0)
        return BF_NO_MEMORY;

    alloc = malloc(sizeof(*alloc));
    if (alloc == NULL)
        return BF_NO_MEMORY;
    *alloc = (bf_emu_alloc_t){.ctx = ctx, .buffer_id = arena->next_buffer_id, .reserved = need};
    status = bf_range_map_insert(&arena->allocations, found, size, (uint64_t)(uintptr_t)alloc);
    if (status != BF_OK)
        goto err_free_alloc;
    arena->next_buffer_id++;
    arena->used += need;
    *dptr_p = (CUdeviceptr)found;
    return BF_OK;

err_free_alloc:
    free(alloc);
    return status;
}

/* Hands the whole pages of a freed block back to the kernel: the next user reads zeros and the
 * process's resident size drops. Partial pages at either end may hold a neighbour's bytes. */
static void release_pages(uint64_t base, uint64_t reserved)
{
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    const uint64_t first = align_up(base, page);
    const uint64_t last = (base + reserved) & ~(page - 1);

    if (reserved < BF_EMU_RELEASE_MIN || last <= first)
        return;
    if (madvise((void *)(uintptr_t)first, last - first, MADV_DONTNEED) != 0)
        bf_log_warn("madvise of freed device memory at 0x%lx failed: %s", (unsigned long)first,
                    strerror(errno));
}

static void free_range(bf_emu_arena_t *arena, const bf_range_t *range)
{
    bf_emu_alloc_t *alloc = (bf_emu_alloc_t *)(uintptr_t)range->value;

    release_pages(range->base, alloc->reserved);
    arena->used -= alloc->reserved;
    free(alloc);
}

bf_status_t bf_emu_arena_free(bf_emu_arena_t *arena, CUdeviceptr dptr)
{
    bf_range_t removed;
    bf_status_t status = bf_range_map_remove(&arena->allocations, dptr, &removed);

    if (status != BF_OK)
        return status;
    free_range(arena, &removed);
    return BF_OK;
}

void bf_emu_arena_free_ctx(bf_emu_arena_t *arena, const bf_emu_ctx_t *ctx)
{
    size_t kept = 0;

    /* One pass that compacts the sorted array in place: the order of the survivors is unchanged. */
    for (size_t i = 0; i < arena->allocations.count; i++) {
        const bf_range_t *range = &arena->allocations.ranges[i];
        const bf_emu_alloc_t *alloc = (const bf_emu_alloc_t *)(uintptr_t)range->value;

        if (alloc->ctx == ctx)
            free_range(arena, range);
        else
            arena->allocations.ranges[kept++] = *range;
    }
    arena->allocations.count = kept;
}

bool bf_emu_arena_contains(const bf_emu_arena_t *arena, uint64_t addr)
{
    const uint64_t start = (uint64_t)(uintptr_t)arena->base;

    return arena->base != NULL && addr >= start && addr - start < arena->size;
}
