/* error.c: cuGetErrorName and cuGetErrorString, answered from common/'s CUresult table. */
#include "emu.h"

#include "bf_cu_result.h"

/* Both work before cuInit, as the real driver's do. An unknown value gives CUDA_ERROR_INVALID_VALUE
 * and a NULL string. */
CUresult cuGetErrorName(CUresult error, const char **pStr)
{
    if (pStr == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *pStr = bf_cu_result_name(error);
    return *pStr != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **pStr)
{
    if (pStr == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *pStr = bf_cu_result_text(error);
    return *pStr != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
