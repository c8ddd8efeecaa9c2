/*
 * launch.c: cuLaunchKernel and cuLaunchKernelEx (and their _ptsz variants).
 *
 * A launch is posted: no round trip. Everything a GPU checks synchronously is checked here first
 * (the handle, grid and block against the device's limits and the kernel's, shared memory against
 * the opt-in limit, the parameters), so an invalid configuration fails at once; execution errors
 * (an illegal address) are latched by the worker and come back from the next synchronising call.
 * The parameters travel packed in the layout the load's reply gave (offsets and sizes from the
 * worker's driver), built from kernelParams or taken from extra's CU_LAUNCH_PARAM_BUFFER_POINTER.
 */
#include "driver.h"

#include <stdlib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bf_log.h"
#include "code.h"

typedef struct {
    unsigned int grid[3], block[3], shared;
} config_t;

static CUresult check_config(const bf_cl_kernel_t *k, int device, const config_t *c)
{
    const bf_proto_device_t *d = bf_cl_device(device);
    static const CUdevice_attribute grid_max[3] = {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X,
                                                   CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
                                                   CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
    static const CUdevice_attribute block_max[3] = {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X,
                                                    CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
                                                    CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z};
    uint64_t threads = 1;

    if (d == NULL)
        return CUDA_ERROR_INVALID_CONTEXT;
    for (int i = 0; i < 3; i++) {
        if (c->grid[i] == 0 || c->block[i] == 0 ||
            c->grid[i] > (unsigned int)d->attributes[grid_max[i]] ||
            c->block[i] > (unsigned int)d->attributes[block_max[i]])
            return CUDA_ERROR_INVALID_VALUE;
        threads *= c->block[i];
    }
    if (threads > (uint64_t)d->attributes[CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK] ||
        threads > (uint64_t)k->attrs[CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK])
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t shared = (uint64_t)k->attrs[CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES] + c->shared;
    if (c->shared > (unsigned int)k->attrs[CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES] ||
        shared > (uint64_t)d->attributes[CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN])
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

/* Packs the parameters into buf (k->params_size bytes). */
static CUresult pack_params(const bf_cl_kernel_t *k, void **kernelParams, void **extra,
                            uint8_t *buf)
{
    if (kernelParams != NULL && extra != NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (extra != NULL) {
        const void *src = NULL;
        size_t size = 0;
        bool have_size = false;
        for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
                src = extra[i + 1];
            } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[i + 1] != NULL) {
                size = *(const size_t *)extra[i + 1];
                have_size = true;
            } else {
                return CUDA_ERROR_INVALID_VALUE;
            }
        }
        if (k->params_size > 0 && (src == NULL || !have_size || size < k->params_size))
            return CUDA_ERROR_INVALID_VALUE;
        if (k->params_size > 0)
            memcpy(buf, src, k->params_size);
        return CUDA_SUCCESS;
    }
    if (k->param_count > 0 && kernelParams == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    memset(buf, 0, k->params_size);
    for (uint32_t i = 0; i < k->param_count; i++) {
        if (kernelParams[i] == NULL)
            return CUDA_ERROR_INVALID_VALUE;
        memcpy(buf + k->params[i].offset, kernelParams[i], k->params[i].size);
    }
    return CUDA_SUCCESS;
}

static CUresult launch(const void *f, const config_t *c, CUstream stream, int per_thread,
                       void **kernelParams, void **extra)
{
    bf_cl_stream_info_t si;
    bf_cl_kernel_t *k;
    bf_cl_ctx_t *ctx;
    uint8_t small[4096];
    CUresult res;

    BF_CHECK_INIT();
    res = bf_cl_ctx_current(&ctx);
    if (res != CUDA_SUCCESS)
        return res;
    res = bf_cl_code_kernel(f, &k);
    if (res != CUDA_SUCCESS)
        return res;
    res = bf_cl_stream_resolve(stream, per_thread, &si);
    if (res != CUDA_SUCCESS)
        return res;
    if (si.device != bf_cl_ctx_device(ctx))
        return CUDA_ERROR_INVALID_HANDLE;
    res = check_config(k, si.device, c);
    if (res != CUDA_SUCCESS)
        return res;
    uint8_t *buf = k->params_size <= sizeof(small) ? small : malloc(k->params_size);
    if (buf == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    res = pack_params(k, kernelParams, extra, buf);
    if (res == CUDA_SUCCESS) {
        bf_req_LAUNCH_KERNEL_t req = {
            .kernel = k->id,
            .grid_x = c->grid[0], .grid_y = c->grid[1], .grid_z = c->grid[2],
            .block_x = c->block[0], .block_y = c->block[1], .block_z = c->block[2],
            .shared_bytes = c->shared, .stream = si.id, .params_len = k->params_size,
        };
        res = bf_cl_rpc_post(BF_OP_LAUNCH_KERNEL, &req, buf, k->params_size);
        if (res == CUDA_SUCCESS)
            bf_cl_rpc_note_launch();
    }
    if (buf != small)
        free(buf);
    return res;
}

BF_API CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                               unsigned int gridDimZ, unsigned int blockDimX,
                               unsigned int blockDimY, unsigned int blockDimZ,
                               unsigned int sharedMemBytes, CUstream hStream, void **kernelParams,
                               void **extra)
{
    config_t c = {{gridDimX, gridDimY, gridDimZ}, {blockDimX, blockDimY, blockDimZ}, sharedMemBytes};
    return launch(f, &c, hStream, 0, kernelParams, extra);
}

BF_API CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                    unsigned int gridDimZ, unsigned int blockDimX,
                                    unsigned int blockDimY, unsigned int blockDimZ,
                                    unsigned int sharedMemBytes, CUstream hStream,
                                    void **kernelParams, void **extra)
{
    config_t c = {{gridDimX, gridDimY, gridDimZ}, {blockDimX, blockDimY, blockDimZ}, sharedMemBytes};
    return launch(f, &c, hStream, 1, kernelParams, extra);
}

/* Launch attributes: those that change nothing about where or how a grid runs on one device
 * pass; the others are refused with a line on stderr (once per attribute). */
static CUresult check_launch_attrs(const CUlaunchConfig *config)
{
    static _Atomic unsigned int said;

    for (unsigned int i = 0; i < config->numAttrs; i++) {
        const CUlaunchAttribute *a = &config->attrs[i];
        switch (a->id) {
        case CU_LAUNCH_ATTRIBUTE_IGNORE:
        case CU_LAUNCH_ATTRIBUTE_PRIORITY:
        case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
        case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
        case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
        case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
        case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
            break;
        case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
            if (a->value.cooperative == 0)
                break;
            goto refuse;
        case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
            if (a->value.clusterDim.x * a->value.clusterDim.y * a->value.clusterDim.z <= 1)
                break;
            goto refuse;
        default:
        refuse:
            if (a->id < 32 && !(atomic_fetch_or(&said, 1u << a->id) & (1u << a->id)))
                fprintf(stderr, "openbf: cuLaunchKernelEx: launch attribute %d is not supported "
                                "by openbf yet\n", (int)a->id);
            return CUDA_ERROR_NOT_SUPPORTED;
        }
    }
    return CUDA_SUCCESS;
}

static CUresult launch_ex(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                          void **extra, int per_thread)
{
    BF_CHECK_INIT();
    if (config == NULL || (config->numAttrs > 0 && config->attrs == NULL))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = check_launch_attrs(config);
    if (res != CUDA_SUCCESS)
        return res;
    config_t c = {{config->gridDimX, config->gridDimY, config->gridDimZ},
                  {config->blockDimX, config->blockDimY, config->blockDimZ},
                  config->sharedMemBytes};
    return launch(f, &c, config->hStream, per_thread, kernelParams, extra);
}

BF_API CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                                 void **extra)
{
    return launch_ex(config, f, kernelParams, extra, 0);
}

BF_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                      void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, 1);
}
