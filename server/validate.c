/* validate.c: device range checks and window placement over a bf_range_map_t. */
#include "validate.h"

bool bf_srv_mul_ok(uint64_t a, uint64_t b, uint64_t *product_p)
{
    return !__builtin_mul_overflow(a, b, product_p);
}

const bf_range_t *bf_srv_check_span(const bf_range_map_t *allocations, uint64_t addr, uint64_t size)
{
    /* bf_range_map_find_span treats 0 as 1 and is written so that addr + size cannot overflow. */
    return bf_range_map_find_span(allocations, addr, size);
}

const bf_range_t *bf_srv_check_2d(const bf_range_map_t *allocations, uint64_t base, uint64_t pitch,
                                  uint64_t width, uint64_t height)
{
    uint64_t extent;

    if (width > pitch)
        return NULL;
    if (width == 0 || height == 0)
        return bf_range_map_find(allocations, base);
    /* The last row starts (height-1)*pitch after base and is width bytes long. */
    if (!bf_srv_mul_ok(height - 1, pitch, &extent) || __builtin_add_overflow(extent, width, &extent))
        return NULL;
    return bf_range_map_find_span(allocations, base, extent);
}

static uint64_t round_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

bool bf_srv_window_find_gap(const bf_range_map_t *allocations, uint64_t base, uint64_t size,
                            uint64_t len, uint64_t align, uint64_t *addr_p)
{
    uint64_t end = base + size;
    uint64_t candidate = base;

    if (len == 0 || len > size || align == 0 || (align & (align - 1)) != 0)
        return false;
    len = round_up(len, align);
    /* Ranges are sorted by base; only those inside the window matter. */
    for (size_t i = 0; i < allocations->count; i++) {
        const bf_range_t *range = &allocations->ranges[i];
        if (range->base + range->size <= candidate)
            continue;
        if (range->base >= end)
            break;
        if (range->base >= candidate && range->base - candidate >= len)
            break;
        candidate = round_up(range->base + range->size, align);
        if (candidate >= end)
            return false;
    }
    if (end - candidate < len)
        return false;
    *addr_p = candidate;
    return true;
}
