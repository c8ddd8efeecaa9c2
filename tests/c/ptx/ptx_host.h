/*
 * ptx_host.h: what the PTX engine's C tests share: plain host memory as device memory (a device
 * address is the host address), file reading, and a launch helper.
 */
#ifndef BF_PTX_TEST_HOST_H
#define BF_PTX_TEST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "ptx.h"

#define PTX_HOST_MAX_REGIONS 64

typedef struct {
    bf_ptx_region_t regions[PTX_HOST_MAX_REGIONS];
    int count;
} ptx_host_memory_t;

/* Registers [p, p+size) as device memory and returns p's device address. */
uint64_t ptx_host_add(ptx_host_memory_t *mem, void *p, size_t size);
/* A bf_ptx_memory_t over mem. */
bf_ptx_memory_t ptx_host_memory(ptx_host_memory_t *mem);
/* The whole file, NUL-terminated (malloc'ed), or NULL. */
char *ptx_host_read_file(const char *path, size_t *len_p);

#endif
