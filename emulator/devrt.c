/*
 * devrt.c: the device runtime a kernel calls into, and the context calls around it:
 *
 * - device printf: each printf call's formatted text is appended to the context's FIFO of
 *   CU_LIMIT_PRINTF_FIFO_SIZE bytes (a record that does not fit is dropped, as on a GPU) and
 *   written to file descriptor 1 at the flush points NVIDIA documents (synchronisations, blocking
 *   copies, module load and unload, context reset, library unload);
 * - device assert: the message of each failing thread, in NVIDIA's format, goes to file
 *   descriptor 2 at the same points (the launch itself fails with CUDA_ERROR_ASSERT, launch.c);
 * - malloc/free: a heap of CU_LIMIT_MALLOC_HEAP_SIZE bytes taken from the device's arena at the
 *   first malloc, first fit over 16-byte aligned chunks; each chunk is a region of its own for the
 *   engine's bounds checks, so an access past a chunk faults;
 * - cuCtxSetLimit / cuCtxGetLimit, cuCtxSetCacheConfig / cuCtxGetCacheConfig and
 *   cuCtxResetPersistingL2Cache.
 *
 * Output is written with write(2), unbuffered, so it interleaves with the host's own writes as
 * the flush points order it.
 */
#include "module.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bf_log.h"

#define DEFAULT_STACK_SIZE 1024u
#define DEFAULT_PRINTF_FIFO_SIZE (1u << 20)
#define DEFAULT_HEAP_SIZE (8u << 20)
#define DEFAULT_L2_FETCH_GRANULARITY 64u
#define MAX_STACK_SIZE (512u * 1024u)
#define HEAP_ALIGN 16u
/* What CU_LIMIT_DEV_RUNTIME_* answer: dynamic parallelism is not implemented, the values are the
 * driver's defaults and cannot be changed. */
#define DEV_RUNTIME_SYNC_DEPTH 2u
#define DEV_RUNTIME_PENDING_LAUNCH_COUNT 2048u
/* Assertion messages kept between flushes at most (more are dropped). */
#define MAX_ERR_BYTES (1u << 20)

static void limits_default(bf_emu_devrt_t *rt)
{
    rt->stack_size = DEFAULT_STACK_SIZE;
    rt->printf_fifo_size = DEFAULT_PRINTF_FIFO_SIZE;
    rt->heap_size = DEFAULT_HEAP_SIZE;
    rt->l2_fetch_granularity = DEFAULT_L2_FETCH_GRANULARITY;
    rt->cache_config = CU_FUNC_CACHE_PREFER_NONE;
    rt->printf_used = false;
    rt->heap_used = false;
}

void bf_emu_devrt_init(bf_emu_ctx_t *ctx)
{
    bf_emu_devrt_t *rt = &ctx->devrt;

    memset(rt, 0, sizeof(*rt));
    pthread_mutex_init(&rt->lock, NULL);
    bf_range_map_init(&rt->heap_chunks);
    limits_default(rt);
}

/* --- output ----------------------------------------------------------------------------------- */

static bool append(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        char *p;

        while (c < *len + n)
            c *= 2;
        p = realloc(*buf, c);
        if (p == NULL)
            return false;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    return true;
}

/* The engine's output service: printf records into the FIFO (dropped when it is full), assertion
 * messages into their own buffer. Called from the launch's worker threads. */
static void devrt_output(void *arg, int fd, const char *text, size_t len)
{
    bf_emu_devrt_t *rt = &((bf_emu_ctx_t *)arg)->devrt;

    pthread_mutex_lock(&rt->lock);
    if (fd == 1) {
        if (rt->out_len + len <= rt->printf_fifo_size)
            append(&rt->out, &rt->out_len, &rt->out_cap, text, len);
    } else if (rt->err_len + len <= MAX_ERR_BYTES) {
        append(&rt->err, &rt->err_len, &rt->err_cap, text, len);
    }
    pthread_mutex_unlock(&rt->lock);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void flush_ctx(bf_emu_ctx_t *ctx)
{
    bf_emu_devrt_t *rt = &ctx->devrt;
    char *out, *err;
    size_t out_len, err_len;

    pthread_mutex_lock(&rt->lock);
    out = rt->out;
    out_len = rt->out_len;
    err = rt->err;
    err_len = rt->err_len;
    rt->out = rt->err = NULL;
    rt->out_len = rt->out_cap = rt->err_len = rt->err_cap = 0;
    pthread_mutex_unlock(&rt->lock);
    if (out_len > 0)
        write_all(1, out, out_len);
    if (err_len > 0)
        write_all(2, err, err_len);
    free(out);
    free(err);
}

void bf_emu_devrt_flush(void)
{
    if (!bf_emu_is_initialized())
        return;
    for (int i = 0; i < bf_emu.device_count; i++)
        flush_ctx(&bf_emu.devices[i].primary);
}

/* Library unload: what kernels printed since the last flush point still comes out. */
__attribute__((destructor)) static void devrt_fini(void)
{
    bf_emu_devrt_flush();
}

/* --- the heap --------------------------------------------------------------------------------- */

void bf_emu_devrt_reset(bf_emu_ctx_t *ctx)
{
    bf_emu_devrt_t *rt = &ctx->devrt;

    flush_ctx(ctx);
    pthread_mutex_lock(&rt->lock);
    /* The heap's block is one of the context's allocations: freed with them. */
    __atomic_store_n(&rt->heap_base, 0, __ATOMIC_RELEASE);
    bf_range_map_clear(&rt->heap_chunks);
    limits_default(rt);
    pthread_mutex_unlock(&rt->lock);
}

void bf_emu_devrt_launched(bf_emu_ctx_t *ctx, bool uses_printf, bool uses_malloc)
{
    bf_emu_devrt_t *rt = &ctx->devrt;

    if (!uses_printf && !uses_malloc)
        return;
    pthread_mutex_lock(&rt->lock);
    rt->printf_used |= uses_printf;
    rt->heap_used |= uses_malloc;
    pthread_mutex_unlock(&rt->lock);
}

/* Takes the heap's block from the arena at the first malloc. */
static uint64_t heap_block(bf_emu_ctx_t *ctx)
{
    bf_emu_devrt_t *rt = &ctx->devrt;
    CUdeviceptr base = 0;
    uint64_t have;

    pthread_mutex_lock(&rt->lock);
    have = rt->heap_base;
    pthread_mutex_unlock(&rt->lock);
    if (have != 0)
        return have;
    /* bf_emu.lock before the runtime's lock, as everywhere. */
    pthread_mutex_lock(&bf_emu.lock);
    pthread_mutex_lock(&rt->lock);
    if (rt->heap_base == 0 && ctx->active &&
        bf_emu_arena_alloc(&bf_emu.devices[ctx->device].arena, rt->heap_size, ctx, &base) == BF_OK)
        __atomic_store_n(&rt->heap_base, base, __ATOMIC_RELEASE); /* read without the lock too */
    have = rt->heap_base;
    pthread_mutex_unlock(&rt->lock);
    pthread_mutex_unlock(&bf_emu.lock);
    if (have == 0)
        bf_log_warn("openbf emulator: no device memory for the %zu-byte malloc heap", rt->heap_size);
    return have;
}

static uint64_t devrt_malloc(void *arg, uint64_t size)
{
    bf_emu_ctx_t *ctx = arg;
    bf_emu_devrt_t *rt = &ctx->devrt;
    uint64_t base, need, cursor, end, found = 0;

    if (size == 0 || size > ((uint64_t)1 << 62))
        return 0;
    base = heap_block(ctx);
    if (base == 0)
        return 0;
    need = (size + HEAP_ALIGN - 1) & ~(uint64_t)(HEAP_ALIGN - 1);
    pthread_mutex_lock(&rt->lock);
    cursor = base;
    end = base + rt->heap_size;
    /* First fit over the gaps between live chunks (each takes its size rounded to 16). */
    for (size_t i = 0; i <= rt->heap_chunks.count; i++) {
        uint64_t gap_end = i < rt->heap_chunks.count ? rt->heap_chunks.ranges[i].base : end;

        if (gap_end >= cursor && gap_end - cursor >= need) {
            found = cursor;
            break;
        }
        if (i < rt->heap_chunks.count)
            cursor = rt->heap_chunks.ranges[i].base + rt->heap_chunks.ranges[i].value;
    }
    if (found != 0 && bf_range_map_insert(&rt->heap_chunks, found, size, need) != BF_OK)
        found = 0;
    pthread_mutex_unlock(&rt->lock);
    return found;
}

static void devrt_free(void *arg, uint64_t addr)
{
    bf_emu_devrt_t *rt = &((bf_emu_ctx_t *)arg)->devrt;

    pthread_mutex_lock(&rt->lock);
    /* Freeing what malloc did not return is undefined behaviour on a GPU; here it does nothing. */
    if (bf_range_map_remove(&rt->heap_chunks, addr, NULL) != BF_OK)
        bf_log_debug("device free(0x%llx): not a live malloc chunk", (unsigned long long)addr);
    pthread_mutex_unlock(&rt->lock);
}

int bf_emu_devrt_heap_chunk(bf_emu_ctx_t *ctx, uint64_t addr, uint64_t *base_p, uint64_t *size_p)
{
    bf_emu_devrt_t *rt = &ctx->devrt;
    const bf_range_t *chunk;
    int found;

    /* Most lookups are of other memory: answered without the lock while there is no heap. */
    if (__atomic_load_n(&rt->heap_base, __ATOMIC_ACQUIRE) == 0)
        return -1;
    pthread_mutex_lock(&rt->lock);
    if (rt->heap_base == 0 || addr < rt->heap_base || addr - rt->heap_base >= rt->heap_size) {
        found = -1;
    } else {
        chunk = bf_range_map_find(&rt->heap_chunks, addr);
        found = chunk != NULL;
        if (chunk != NULL) {
            *base_p = chunk->base;
            *size_p = chunk->size;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    return found;
}

void bf_emu_devrt_services(bf_emu_ctx_t *ctx, bf_ptx_services_t *services, size_t *stack_p)
{
    *services = (bf_ptx_services_t){
        .output = devrt_output, .malloc = devrt_malloc, .free = devrt_free, .ctx = ctx};
    pthread_mutex_lock(&ctx->devrt.lock);
    *stack_p = ctx->devrt.stack_size;
    pthread_mutex_unlock(&ctx->devrt.lock);
}

/* --- limits and cache configuration ---------------------------------------------------------- */

CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
    bf_emu_ctx_t *ctx;
    CUresult result = bf_emu_ctx_resolve(NULL, true, &ctx);
    bf_emu_devrt_t *rt;

    if (result != CUDA_SUCCESS)
        return result;
    rt = &ctx->devrt;
    pthread_mutex_lock(&rt->lock);
    switch (limit) {
    case CU_LIMIT_STACK_SIZE:
        if (value > MAX_STACK_SIZE)
            result = CUDA_ERROR_INVALID_VALUE;
        else
            rt->stack_size = value;
        break;
    case CU_LIMIT_PRINTF_FIFO_SIZE:
        /* "must be performed before launching any kernel that uses the printf() device system call" */
        if (rt->printf_used || value == 0)
            result = CUDA_ERROR_INVALID_VALUE;
        else
            rt->printf_fifo_size = value;
        break;
    case CU_LIMIT_MALLOC_HEAP_SIZE:
        if (rt->heap_used || rt->heap_base != 0 || value == 0)
            result = CUDA_ERROR_INVALID_VALUE;
        else
            rt->heap_size = (value + HEAP_ALIGN - 1) & ~(size_t)(HEAP_ALIGN - 1);
        break;
    case CU_LIMIT_MAX_L2_FETCH_GRANULARITY:
        /* A hint: 0 to 128 bytes, a power of two. */
        if (value > 128 || (value & (value - 1)) != 0)
            result = CUDA_ERROR_INVALID_VALUE;
        else
            rt->l2_fetch_granularity = value;
        break;
    case CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH:
    case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT:
    default:
        result = CUDA_ERROR_UNSUPPORTED_LIMIT;
        break;
    }
    pthread_mutex_unlock(&rt->lock);
    return result;
}

CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
    bf_emu_ctx_t *ctx;
    CUresult result;
    bf_emu_devrt_t *rt;

    if (pvalue == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = bf_emu_ctx_resolve(NULL, false, &ctx);
    if (result != CUDA_SUCCESS)
        return result;
    rt = &ctx->devrt;
    pthread_mutex_lock(&rt->lock);
    switch (limit) {
    case CU_LIMIT_STACK_SIZE: *pvalue = rt->stack_size; break;
    case CU_LIMIT_PRINTF_FIFO_SIZE: *pvalue = rt->printf_fifo_size; break;
    case CU_LIMIT_MALLOC_HEAP_SIZE: *pvalue = rt->heap_size; break;
    case CU_LIMIT_MAX_L2_FETCH_GRANULARITY: *pvalue = rt->l2_fetch_granularity; break;
    case CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH: *pvalue = DEV_RUNTIME_SYNC_DEPTH; break;
    case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT: *pvalue = DEV_RUNTIME_PENDING_LAUNCH_COUNT; break;
    default: result = CUDA_ERROR_UNSUPPORTED_LIMIT; break;
    }
    pthread_mutex_unlock(&rt->lock);
    return result;
}

CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
    bf_emu_ctx_t *ctx;
    CUresult result = bf_emu_ctx_resolve(NULL, false, &ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (!bf_emu_func_cache_valid(config))
        return CUDA_ERROR_INVALID_VALUE;
    /* A preference: recorded and reported, it changes nothing on a CPU. */
    pthread_mutex_lock(&ctx->devrt.lock);
    ctx->devrt.cache_config = (int)config;
    pthread_mutex_unlock(&ctx->devrt.lock);
    return CUDA_SUCCESS;
}

CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
    bf_emu_ctx_t *ctx;
    CUresult result;

    if (pconfig == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = bf_emu_ctx_resolve(NULL, false, &ctx);
    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&ctx->devrt.lock);
    *pconfig = (CUfunc_cache)ctx->devrt.cache_config;
    pthread_mutex_unlock(&ctx->devrt.lock);
    return CUDA_SUCCESS;
}

CUresult cuCtxResetPersistingL2Cache(void)
{
    bf_emu_ctx_t *ctx;

    /* The emulated device has no persisting L2 lines (MAX_PERSISTING_L2_CACHE_SIZE is 0). */
    return bf_emu_ctx_resolve(NULL, false, &ctx);
}
