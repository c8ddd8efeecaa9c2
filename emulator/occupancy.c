/*
 * occupancy.c: cuOccupancy* for the emulated device.
 *
 * The answers follow the sm_75 limits in the attribute table (threads, blocks and shared memory
 * per multiprocessor) so that programs and libraries that size their grids from these calls get
 * the numbers a Turing board would give them. Registers are left out: the PTX engine counts
 * virtual registers, which say nothing about what ptxas would allocate, and limiting blocks by
 * them would make large kernels look unlaunchable. Shared memory is allocated per block in units
 * of BF_EMU_SHARED_GRANULE bytes, as on the hardware.
 */
#include "module.h"


#define BF_EMU_SHARED_GRANULE 256
#define WARP 32

typedef struct {
    int max_threads_per_block;   /* the kernel's, at most the device's */
    size_t static_shared;
    int max_dynamic_shared;
} occupancy_kernel_t;

static int device_value(CUdevice_attribute attrib)
{
    int value = 0;

    (void)bf_emu_attribute_get(&bf_emu.devices[0], attrib, &value);
    return value;
}

/* Looks the function (or kernel) up and copies what the computation needs. */
static CUresult occupancy_kernel(CUfunction func, occupancy_kernel_t *kernel_p)
{
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;
    CUresult result;
    int max_threads;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    result = bf_emu_function_describe(func, &kernel, &attrs, &settings);
    if (result == CUDA_SUCCESS) {
        (void)bf_emu_func_attribute_get(&attrs, settings, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &max_threads);
        *kernel_p = (occupancy_kernel_t){
            .max_threads_per_block = max_threads,
            .static_shared = attrs.static_shared_bytes,
            .max_dynamic_shared = settings->max_dynamic_shared,
        };
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

/* Blocks of block_size threads with dynamic_shared bytes each that fit on one multiprocessor. */
static int blocks_per_sm(const occupancy_kernel_t *kernel, int block_size, size_t dynamic_shared)
{
    const int warps_per_sm = device_value(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR) / WARP;
    const size_t shared_per_sm = (size_t)device_value(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
    const int warps = (block_size + WARP - 1) / WARP;
    size_t shared = kernel->static_shared + dynamic_shared;
    int blocks = device_value(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR);

    if (block_size > kernel->max_threads_per_block || dynamic_shared > (size_t)kernel->max_dynamic_shared)
        return 0;
    if (warps_per_sm / warps < blocks)
        blocks = warps_per_sm / warps;
    if (shared > 0) {
        shared = (shared + BF_EMU_SHARED_GRANULE - 1) / BF_EMU_SHARED_GRANULE * BF_EMU_SHARED_GRANULE;
        if (shared_per_sm / shared < (size_t)blocks)
            blocks = (int)(shared_per_sm / shared);
    }
    return blocks;
}

static CUresult max_active_blocks(int *numBlocks, CUfunction func, int blockSize, size_t dynamicSMemSize,
                                  unsigned int flags)
{
    occupancy_kernel_t kernel;
    CUresult result = occupancy_kernel(func, &kernel);

    if (result != CUDA_SUCCESS)
        return result;
    if (numBlocks == NULL || blockSize <= 0 || (flags & ~(unsigned int)CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    *numBlocks = blocks_per_sm(&kernel, blockSize, dynamicSMemSize);
    return CUDA_SUCCESS;
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
                                                     size_t dynamicSMemSize)
{
    return max_active_blocks(numBlocks, func, blockSize, dynamicSMemSize, CU_OCCUPANCY_DEFAULT);
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func, int blockSize,
                                                              size_t dynamicSMemSize, unsigned int flags)
{
    return max_active_blocks(numBlocks, func, blockSize, dynamicSMemSize, flags);
}

/* Tries every block size that is a multiple of the warp size, largest first, and keeps the one that
 * puts the most threads on a multiprocessor (the larger block on a tie). */
static CUresult max_potential_block_size(int *minGridSize, int *blockSize, CUfunction func,
                                         CUoccupancyB2DSize blockSizeToDynamicSMemSize, size_t dynamicSMemSize,
                                         int blockSizeLimit, unsigned int flags)
{
    occupancy_kernel_t kernel;
    int limit, best_size = 0, best_blocks = 0;
    CUresult result = occupancy_kernel(func, &kernel);

    if (result != CUDA_SUCCESS)
        return result;
    if (minGridSize == NULL || blockSize == NULL || blockSizeLimit < 0 ||
        (flags & ~(unsigned int)CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    limit = kernel.max_threads_per_block;
    if (blockSizeLimit > 0 && blockSizeLimit < limit)
        limit = blockSizeLimit;
    for (int size = (limit + WARP - 1) / WARP * WARP; size > 0; size -= WARP) {
        const int threads = size < limit ? size : limit;
        const size_t shared = blockSizeToDynamicSMemSize != NULL ? blockSizeToDynamicSMemSize(threads)
                                                                 : dynamicSMemSize;
        const int blocks = blocks_per_sm(&kernel, threads, shared);

        if ((long)blocks * threads > (long)best_blocks * best_size) {
            best_blocks = blocks;
            best_size = threads;
        }
    }
    *blockSize = best_size;
    *minGridSize = best_blocks * device_value(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    return CUDA_SUCCESS;
}

CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
                                          CUoccupancyB2DSize blockSizeToDynamicSMemSize, size_t dynamicSMemSize,
                                          int blockSizeLimit)
{
    return max_potential_block_size(minGridSize, blockSize, func, blockSizeToDynamicSMemSize, dynamicSMemSize,
                                    blockSizeLimit, CU_OCCUPANCY_DEFAULT);
}

CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize, CUfunction func,
                                                   CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                   size_t dynamicSMemSize, int blockSizeLimit, unsigned int flags)
{
    return max_potential_block_size(minGridSize, blockSize, func, blockSizeToDynamicSMemSize, dynamicSMemSize,
                                    blockSizeLimit, flags);
}

CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func, int numBlocks,
                                                 int blockSize)
{
    occupancy_kernel_t kernel;
    size_t per_block, available;
    CUresult result = occupancy_kernel(func, &kernel);

    if (result != CUDA_SUCCESS)
        return result;
    if (dynamicSmemSize == NULL || numBlocks <= 0 || blockSize <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* numBlocks blocks of blockSize threads must fit at all, shared memory aside. */
    if (blocks_per_sm(&kernel, blockSize, 0) < numBlocks) {
        *dynamicSmemSize = 0;
        return CUDA_SUCCESS;
    }
    per_block = (size_t)device_value(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR) / (size_t)numBlocks;
    per_block = per_block / BF_EMU_SHARED_GRANULE * BF_EMU_SHARED_GRANULE;
    available = per_block > kernel.static_shared ? per_block - kernel.static_shared : 0;
    if (available > (size_t)kernel.max_dynamic_shared)
        available = (size_t)kernel.max_dynamic_shared;
    *dynamicSmemSize = available;
    return CUDA_SUCCESS;
}
