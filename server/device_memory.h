/*
 * device_memory.h: the one allocation interface the handlers use.
 *
 * Every allocation of the session is recorded in one range map (value: the device's ordinal), which
 * is what every device pointer a client sends is checked against. Allocations are placed inside the
 * device's window, the address range the client reserved for that device:
 *   - emu backend: the emulator maps its arena at the window, so cuMemAlloc already lands there;
 *     each result is still checked.
 *   - cuda backend: the window is reserved with cuMemAddressReserve at its exact address and each
 *     allocation is cuMemCreate'd and cuMemMap'ped into a free gap of it. When the driver or the
 *     device lacks the VMM calls, or the address cannot be reserved, the worker falls back to
 *     cuMemAlloc and says once that the window is not enforced.
 * The caller makes the device's context current before any call that takes a device.
 */
#ifndef BF_SRV_DEVICE_MEMORY_H
#define BF_SRV_DEVICE_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "bf_range_map.h"
#include "driver_loader.h"

typedef struct {
    int ordinal;            /* index on the wire and in the session */
    CUdevice handle;
    CUcontext ctx;          /* the retained primary context */
    uint64_t total_mem;
    uint64_t window_base;   /* allocations of this device lie in [window_base, +window_size) */
    uint64_t window_size;
    bool window_enforced;   /* false only for the cuda backend without VMM */
    uint64_t granularity;   /* VMM mapping granularity; 0 when allocations use cuMemAlloc */
} bf_srv_device_t;

typedef struct {
    const bf_srv_driver_t *drv;
    bool vmm_wanted;              /* cuda backend: place allocations with the VMM calls */
    bf_range_map_t allocations;   /* every live allocation of the session; value: device ordinal,
                                   * with BF_SRV_MEM_GLOBAL for a module's global variable */
    uint64_t bytes_live;
} bf_srv_memory_t;

/* A range of the allocation table that is a module-scope variable (LIBRARY_GET_GLOBAL): device
 * memory the session may copy to and from, but the driver's to place and release, never freed
 * through MEM_FREE and not counted as allocated. */
#define BF_SRV_MEM_GLOBAL (UINT64_C(1) << 32)

/* The device ordinal of an allocation table value. */
#define BF_SRV_MEM_DEVICE(value) ((int)((value) & 0xffffffffu))

/* Initialises an empty allocation table over drv; vmm_wanted selects the cuda-backend placement. */
void bf_srv_memory_init(bf_srv_memory_t *mem, const bf_srv_driver_t *drv, bool vmm_wanted);

/*
 * Prepares dev's window (dev->window_base/size set by the caller): with VMM, reserves it at its
 * exact address and sets dev->granularity; without, sets dev->window_enforced as described above.
 * Never fails: a window that cannot be reserved degrades to cuMemAlloc with a warning.
 */
void bf_srv_memory_window_open(bf_srv_memory_t *mem, bf_srv_device_t *dev);

/* Gives back dev's reservation (after bf_srv_memory_release_device). */
void bf_srv_memory_window_close(bf_srv_memory_t *mem, bf_srv_device_t *dev);

/* Allocates size bytes on dev and records them. Returns the driver's CUresult; INVALID_VALUE for
 * size 0, OUT_OF_MEMORY when the window is full. *dptr_p is set on success only. */
CUresult bf_srv_memory_alloc(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t size,
                             uint64_t *dptr_p);

/* cuMemAllocPitch: height rows of width bytes; element_size 4, 8 or 16. Sets both outputs on
 * success only. */
CUresult bf_srv_memory_alloc_pitch(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t width,
                                   uint64_t height, uint32_t element_size, uint64_t *dptr_p,
                                   uint64_t *pitch_p);

/* Frees the allocation that starts exactly at dptr (which the caller found to belong to dev).
 * CUDA_ERROR_INVALID_VALUE when no allocation starts there. */
CUresult bf_srv_memory_free(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t dptr);

/* Frees every allocation of dev (context reset, end of session), counting what it freed.
 * Both outputs may be NULL. */
void bf_srv_memory_release_device(bf_srv_memory_t *mem, bf_srv_device_t *dev, uint64_t *count_p,
                                  uint64_t *bytes_p);

#endif
