/*
 * validate.h: checks of the device ranges a client names, against the session's allocations.
 *
 * On the emulator a device pointer is an address in the worker's own process, so a range that is not
 * inside one live allocation of the session must never reach the driver. These helpers only compute;
 * the handlers turn a failed check into CUDA_ERROR_INVALID_VALUE.
 */
#ifndef BF_SRV_VALIDATE_H
#define BF_SRV_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "bf_range_map.h"

/*
 * Returns the allocation holding all of [addr, addr + size), or NULL when the span leaves it,
 * straddles two allocations or wraps around. A size of 0 checks addr alone.
 */
const bf_range_t *bf_srv_check_span(const bf_range_map_t *allocations, uint64_t addr, uint64_t size);

/*
 * Returns the allocation holding every row of a pitched 2D region: height rows of width bytes, the
 * first at base, each pitch bytes after the previous, i.e. [base, base + (height-1)*pitch + width).
 * NULL when width > pitch, the extent overflows, or it is not inside one allocation. An empty region
 * (width or height 0) checks base alone.
 */
const bf_range_t *bf_srv_check_2d(const bf_range_map_t *allocations, uint64_t base, uint64_t pitch,
                                  uint64_t width, uint64_t height);

/* Sets *product_p to a * b and returns true, or returns false when the product overflows 64 bits. */
bool bf_srv_mul_ok(uint64_t a, uint64_t b, uint64_t *product_p);

/*
 * Finds the lowest address in the window [base, base + size) where len bytes fit between the
 * allocations of the map, every allocation rounded up to align bytes (a power of two; base and the
 * returned address are multiples of it). Used to place VMM allocations inside a device window.
 * Returns true and sets *addr_p, or false when no gap is large enough.
 */
bool bf_srv_window_find_gap(const bf_range_map_t *allocations, uint64_t base, uint64_t size,
                            uint64_t len, uint64_t align, uint64_t *addr_p);

#endif
