/*
 * bf_range_map.h: a set of disjoint address ranges, each with a user value.
 *
 * Used wherever a pointer must be checked against live allocations: the client engine (pointer
 * checks answered locally), the worker (every device pointer a client sends) and the emulator
 * (bounds checks of copies and memsets). A sorted array with binary search: lookups are
 * O(log n), inserts and removals O(n), which suits programs with thousands, not millions, of live
 * allocations. Not thread-safe: the owner holds its own lock.
 */
#ifndef BF_RANGE_MAP_H
#define BF_RANGE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "bf_status.h"

typedef struct {
    uint64_t base;
    uint64_t size;
    uint64_t value;  /* owner's data: device ordinal, flags, a pointer */
} bf_range_t;

typedef struct {
    bf_range_t *ranges;  /* sorted by base, disjoint */
    size_t count;
    size_t capacity;
} bf_range_map_t;

/* Initialises an empty map (also valid: zero-initialised memory). */
void bf_range_map_init(bf_range_map_t *map);

/* Frees the map's storage; the map is empty and reusable afterwards. */
void bf_range_map_clear(bf_range_map_t *map);

/* Adds [base, base + size). Returns BF_EXISTS if it overlaps a range already present,
 * BF_INVALID_ARG for size 0 or wrap-around, BF_NO_MEMORY if the array cannot grow. */
bf_status_t bf_range_map_insert(bf_range_map_t *map, uint64_t base, uint64_t size, uint64_t value);

/* Removes the range that starts exactly at base and copies it to *removed_p (may be NULL).
 * Returns BF_NOT_FOUND if no range starts there. */
bf_status_t bf_range_map_remove(bf_range_map_t *map, uint64_t base, bf_range_t *removed_p);

/* Returns the range containing addr, or NULL. */
const bf_range_t *bf_range_map_find(const bf_range_map_t *map, uint64_t addr);

/* Returns the range containing all of [addr, addr + len) (len 0 is treated as 1), or NULL when the
 * span is not inside one range. */
const bf_range_t *bf_range_map_find_span(const bf_range_map_t *map, uint64_t addr, uint64_t len);

#endif
