/*
 * occupancy.c: cuOccupancy* answered locally from the device attributes of the HELLO reply and the
 * kernel attributes of the load reply.
 *
 * The same model as the emulator's (emulator/occupancy.c), so answers through openbf match a local
 * run on the emulator: blocks per multiprocessor limited by warps, by the device's block limit and
 * by shared memory (allocated in 256-byte units). Registers are left out: on the emulator they are
 * virtual and mean nothing; on a GPU this makes the answer an upper bound (documented).
 */
#include "driver.h"

#include "code.h"

#define SHARED_GRANULE 256
#define WARP 32

static int dev_attr(int device, CUdevice_attribute a)
{
    return bf_cl_device(device)->attributes[a];
}

static int blocks_per_sm(const bf_cl_kernel_t *k, int device, int block_size, size_t dynamic_shared)
{
    const int warps_per_sm = dev_attr(device, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR) / WARP;
    const size_t shared_per_sm =
        (size_t)dev_attr(device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
    const int warps = (block_size + WARP - 1) / WARP;
    size_t shared = (size_t)k->attrs[CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES] + dynamic_shared;
    int blocks = dev_attr(device, CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR);

    if (block_size > k->attrs[CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK] ||
        dynamic_shared > (size_t)k->attrs[CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES])
        return 0;
    if (warps_per_sm / warps < blocks)
        blocks = warps_per_sm / warps;
    if (shared > 0) {
        shared = (shared + SHARED_GRANULE - 1) / SHARED_GRANULE * SHARED_GRANULE;
        if (shared_per_sm / shared < (size_t)blocks)
            blocks = (int)(shared_per_sm / shared);
    }
    return blocks;
}

static CUresult resolve(CUfunction func, bf_cl_kernel_t **k_p, int *device_p)
{
    bf_cl_ctx_t *ctx;

    BF_CHECK_INIT();
    CUresult res = bf_cl_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    *device_p = bf_cl_ctx_device(ctx);
    return bf_cl_code_kernel(func, k_p);
}

BF_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func,
                                                                     int blockSize,
                                                                     size_t dynamicSMemSize,
                                                                     unsigned int flags)
{
    bf_cl_kernel_t *k;
    int device;

    if (numBlocks == NULL || blockSize <= 0 ||
        (flags != CU_OCCUPANCY_DEFAULT && flags != CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = resolve(func, &k, &device);
    if (res == CUDA_SUCCESS)
        *numBlocks = blocks_per_sm(k, device, blockSize, dynamicSMemSize);
    return res;
}

BF_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func,
                                                            int blockSize, size_t dynamicSMemSize)
{
    return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize,
                                                                dynamicSMemSize, CU_OCCUPANCY_DEFAULT);
}

BF_API CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize,
                                                          CUfunction func,
                                                          CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                          size_t dynamicSMemSize, int blockSizeLimit,
                                                          unsigned int flags)
{
    bf_cl_kernel_t *k;
    int device, best_size = 0, best_blocks = 0, best_threads = 0;

    if (minGridSize == NULL || blockSize == NULL || blockSizeLimit < 0 ||
        (flags != CU_OCCUPANCY_DEFAULT && flags != CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = resolve(func, &k, &device);
    if (res != CUDA_SUCCESS)
        return res;
    int limit = k->attrs[CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK];
    if (blockSizeLimit > 0 && blockSizeLimit < limit)
        limit = blockSizeLimit;
    /* Largest block size reaching the best occupancy (in threads per multiprocessor). */
    for (int size = (limit + WARP - 1) / WARP * WARP; size > 0; size -= WARP) {
        int bs = size > limit ? limit : size;
        size_t dyn = blockSizeToDynamicSMemSize != NULL ? blockSizeToDynamicSMemSize(bs)
                                                        : dynamicSMemSize;
        int blocks = blocks_per_sm(k, device, bs, dyn);
        if (blocks * bs > best_threads) {
            best_threads = blocks * bs;
            best_blocks = blocks;
            best_size = bs;
        }
    }
    *blockSize = best_size;
    *minGridSize = best_blocks * dev_attr(device, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    return CUDA_SUCCESS;
}

BF_API CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
                                                 CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                 size_t dynamicSMemSize, int blockSizeLimit)
{
    return cuOccupancyMaxPotentialBlockSizeWithFlags(minGridSize, blockSize, func,
                                                     blockSizeToDynamicSMemSize, dynamicSMemSize,
                                                     blockSizeLimit, CU_OCCUPANCY_DEFAULT);
}

BF_API CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func,
                                                        int numBlocks, int blockSize)
{
    bf_cl_kernel_t *k;
    int device;

    if (dynamicSmemSize == NULL || numBlocks <= 0 || blockSize <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = resolve(func, &k, &device);
    if (res != CUDA_SUCCESS)
        return res;
    size_t per_sm = (size_t)dev_attr(device, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
    size_t per_block = per_sm / (size_t)numBlocks / SHARED_GRANULE * SHARED_GRANULE;
    size_t stat = (size_t)k->attrs[CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES];
    size_t avail = per_block > stat ? per_block - stat : 0;
    if (avail > (size_t)k->attrs[CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES])
        avail = (size_t)k->attrs[CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES];
    if (blocks_per_sm(k, device, blockSize, 0) == 0)
        avail = 0;
    *dynamicSmemSize = avail;
    return CUDA_SUCCESS;
}
