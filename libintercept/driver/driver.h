/*
 * driver.h: what the driver-API families (driver/<family>.c) share.
 *
 * Include this first in every family file: it asks cuda.h for the exact prototypes of every
 * exported name, the legacy unversioned ones (cuCtxPushCurrent, cuDevicePrimaryCtxRelease, ...)
 * and the _ptds variants included, so the compiler checks each definition against NVIDIA's
 * declaration.
 */
#ifndef BF_CL_DRIVER_H
#define BF_CL_DRIVER_H

#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include "engine.h"

/* libbf.so is built with hidden visibility; the CUDA entry points are the exports. */
#define BF_API __attribute__((visibility("default")))

/* Returns from the calling entry point unless cuInit succeeded and the server is still there. */
#define BF_CHECK_INIT()                                                                        \
    do {                                                                                       \
        CUresult check_result_ = bf_cl_check_init();                                           \
        if (check_result_ != CUDA_SUCCESS)                                                     \
            return check_result_;                                                              \
    } while (0)

/* CUDA_SUCCESS when dev is a device of this session, else CUDA_ERROR_INVALID_DEVICE. */
static inline CUresult bf_dev_check(CUdevice dev)
{
    return dev >= 0 && dev < bf_cl_device_count() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

/* The context API version cuCtxGetApiVersion reports: that of every context since CUDA 3.2. */
#define BF_CL_CTX_API_VERSION 3020

#endif
