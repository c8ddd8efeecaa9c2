#include "bf_range_map.h"

#include <stdlib.h>
#include <string.h>

void bf_range_map_init(bf_range_map_t *map)
{
    memset(map, 0, sizeof(*map));
}

void bf_range_map_clear(bf_range_map_t *map)
{
    free(map->ranges);
    bf_range_map_init(map);
}

/* Index of the first range whose base is greater than addr. */
static size_t upper_bound(const bf_range_map_t *map, uint64_t addr)
{
    size_t lo = 0, hi = map->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (map->ranges[mid].base <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bf_status_t bf_range_map_insert(bf_range_map_t *map, uint64_t base, uint64_t size, uint64_t value)
{
    if (size == 0 || base + size < base)
        return BF_INVALID_ARG;

    size_t pos = upper_bound(map, base);
    if (pos > 0) {
        const bf_range_t *prev = &map->ranges[pos - 1];
        if (prev->base + prev->size > base)
            return BF_EXISTS;
    }
    if (pos < map->count && map->ranges[pos].base < base + size)
        return BF_EXISTS;

    if (map->count == map->capacity) {
        size_t capacity = map->capacity ? map->capacity * 2 : 16;
        bf_range_t *grown = realloc(map->ranges, capacity * sizeof(*grown));
        if (grown == NULL)
            return BF_NO_MEMORY;
        map->ranges   = grown;
        map->capacity = capacity;
    }
    memmove(&map->ranges[pos + 1], &map->ranges[pos], (map->count - pos) * sizeof(bf_range_t));
    map->ranges[pos] = (bf_range_t){.base = base, .size = size, .value = value};
    map->count++;
    return BF_OK;
}

bf_status_t bf_range_map_remove(bf_range_map_t *map, uint64_t base, bf_range_t *removed_p)
{
    size_t pos = upper_bound(map, base);

    if (pos == 0 || map->ranges[pos - 1].base != base)
        return BF_NOT_FOUND;
    pos--;
    if (removed_p != NULL)
        *removed_p = map->ranges[pos];
    memmove(&map->ranges[pos], &map->ranges[pos + 1], (map->count - pos - 1) * sizeof(bf_range_t));
    map->count--;
    return BF_OK;
}

const bf_range_t *bf_range_map_find(const bf_range_map_t *map, uint64_t addr)
{
    size_t pos = upper_bound(map, addr);

    if (pos == 0)
        return NULL;
    const bf_range_t *range = &map->ranges[pos - 1];
    return addr - range->base < range->size ? range : NULL;
}

const bf_range_t *bf_range_map_find_span(const bf_range_map_t *map, uint64_t addr, uint64_t len)
{
    const bf_range_t *range = bf_range_map_find(map, addr);

    if (range == NULL)
        return NULL;
    if (len == 0)
        len = 1;
    /* Written to avoid overflow: the span must end at or before the range's end. */
    if (len > range->size || addr - range->base > range->size - len)
        return NULL;
    return range;
}
