/*
 * ptx_host.c: host memory regions for the PTX engine's tests.
 */
#include "ptx_host.h"

#include <stdio.h>
#include <stdlib.h>

static int lookup(void *ctx, uint64_t addr, bf_ptx_region_t *region_p)
{
    const ptx_host_memory_t *mem = ctx;
    for (int i = 0; i < mem->count; i++) {
        const bf_ptx_region_t *r = &mem->regions[i];
        if (addr >= r->base && addr - r->base < r->size) {
            *region_p = *r;
            return 1;
        }
    }
    return 0;
}

uint64_t ptx_host_add(ptx_host_memory_t *mem, void *p, size_t size)
{
    if (mem->count == PTX_HOST_MAX_REGIONS) {
        fprintf(stderr, "too many regions\n");
        exit(2);
    }
    mem->regions[mem->count++] = (bf_ptx_region_t){(uint64_t)(uintptr_t)p, size, p};
    return (uint64_t)(uintptr_t)p;
}

bf_ptx_memory_t ptx_host_memory(ptx_host_memory_t *mem)
{
    return (bf_ptx_memory_t){lookup, mem};
}

char *ptx_host_read_file(const char *path, size_t *len_p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len_p = (size_t)n;
    }
    return buf;
}
