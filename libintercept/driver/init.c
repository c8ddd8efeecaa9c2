/*
 * init.c: initialisation, versions, error strings, module loading mode.
 *
 * cuInit opens the connection (engine, bf_cl_init); the version and the error strings need no
 * server and work before cuInit, as in NVIDIA's driver. The names and texts of every CUresult are
 * common/bf_cu_result.h's table, shared with the emulator.
 */
#include "driver.h"

#include <stddef.h>
#include <stdlib.h>
#include <strings.h>

#include "bf_cu_result.h"

BF_API CUresult cuGetErrorString(CUresult error, const char **pStr)
{
    if (pStr == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *pStr = bf_cu_result_text(error);
    return *pStr != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

BF_API CUresult cuGetErrorName(CUresult error, const char **pStr)
{
    if (pStr == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *pStr = bf_cu_result_name(error);
    return *pStr != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

BF_API CUresult cuInit(unsigned int Flags)
{
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    return bf_cl_init();
}

BF_API CUresult cuDriverGetVersion(int *driverVersion)
{
    if (driverVersion == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = BF_CL_DRIVER_VERSION;
    return CUDA_SUCCESS;
}

/*
 * The runtime asks the driver, not the environment, whether to load code at init (eager) or at
 * first use (lazy). Like NVIDIA's driver since CUDA 12.2, lazy is the default and
 * CUDA_MODULE_LOADING=EAGER asks for eager. Lazy also means a program that launches nothing never
 * ships its fatbins.
 */
BF_API CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode)
{
    BF_CHECK_INIT();
    if (mode == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    const char *env = getenv("CUDA_MODULE_LOADING");
    *mode = env != NULL && strcasecmp(env, "EAGER") == 0 ? CU_MODULE_EAGER_LOADING
                                                         : CU_MODULE_LAZY_LOADING;
    return CUDA_SUCCESS;
}
