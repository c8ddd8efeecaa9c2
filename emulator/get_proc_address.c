/*
 * get_proc_address.c: cuGetProcAddress(_v2), the emulator's own table of entry points.
 *
 * Callers ask for a base name ("cuMemAlloc") and the CUDA version whose ABI they were written
 * against. Each row below is one exported variant with the version that introduced it; the
 * answer is the newest variant introduced at or before the requested version, so "cuCtxGetDevice"
 * at 13000 is cuCtxGetDevice_v2(CUdevice *, CUcontext) and at 2000 the one-argument original.
 * With CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM a name that has a _ptds variant answers with
 * it (the _ptsz rows of stream-ordered calls count as _ptds ones); other names fall back to their
 * legacy rows, as cuda.h specifies. Versions come from NVIDIA's
 * headers (cudaTypedefs.h PFN_ names) and from what cudart 13.0 asks for (shared/driver-front-gpa.tsv).
 */
#include "emu.h"

#include <string.h>


typedef struct {
    const char *name;  /* base name */
    int version;       /* first CUDA version with this variant's ABI */
    bool per_thread;   /* a _ptds variant */
    void *fn;
} gpa_row_t;

#define LEGACY(name, version, fn) {#name, version, false, (void *)(fn)},
#define PTDS(name, version, fn)   {#name, version, true, (void *)(fn)},

static const gpa_row_t gpa_rows[] = {
    LEGACY(cuGetProcAddress, 11030, cuGetProcAddress)
    LEGACY(cuGetProcAddress, 12000, cuGetProcAddress_v2)
    LEGACY(cuInit, 2000, cuInit)
    LEGACY(cuDriverGetVersion, 2020, cuDriverGetVersion)
    LEGACY(cuGetErrorString, 6000, cuGetErrorString)
    LEGACY(cuGetErrorName, 6000, cuGetErrorName)

    LEGACY(cuDeviceGet, 2000, cuDeviceGet)
    LEGACY(cuDeviceGetCount, 2000, cuDeviceGetCount)
    LEGACY(cuDeviceGetName, 2000, cuDeviceGetName)
    LEGACY(cuDeviceGetUuid, 9020, cuDeviceGetUuid)
    LEGACY(cuDeviceGetUuid, 11040, cuDeviceGetUuid_v2)
    LEGACY(cuDeviceTotalMem, 3020, cuDeviceTotalMem_v2)
    LEGACY(cuDeviceGetAttribute, 2000, cuDeviceGetAttribute)
    LEGACY(cuDeviceComputeCapability, 2000, cuDeviceComputeCapability)
    LEGACY(cuDeviceGetPCIBusId, 4010, cuDeviceGetPCIBusId)
    LEGACY(cuDeviceGetByPCIBusId, 4010, cuDeviceGetByPCIBusId)

    LEGACY(cuDevicePrimaryCtxRetain, 7000, cuDevicePrimaryCtxRetain)
    LEGACY(cuDevicePrimaryCtxRelease, 7000, cuDevicePrimaryCtxRelease)
    LEGACY(cuDevicePrimaryCtxRelease, 11000, cuDevicePrimaryCtxRelease_v2)
    LEGACY(cuDevicePrimaryCtxReset, 7000, cuDevicePrimaryCtxReset)
    LEGACY(cuDevicePrimaryCtxReset, 11000, cuDevicePrimaryCtxReset_v2)
    LEGACY(cuDevicePrimaryCtxSetFlags, 7000, cuDevicePrimaryCtxSetFlags)
    LEGACY(cuDevicePrimaryCtxSetFlags, 11000, cuDevicePrimaryCtxSetFlags_v2)
    LEGACY(cuDevicePrimaryCtxGetState, 7000, cuDevicePrimaryCtxGetState)

    LEGACY(cuCtxGetCurrent, 4000, cuCtxGetCurrent)
    LEGACY(cuCtxSetCurrent, 4000, cuCtxSetCurrent)
    LEGACY(cuCtxPushCurrent, 2000, cuCtxPushCurrent)
    LEGACY(cuCtxPushCurrent, 4000, cuCtxPushCurrent_v2)
    LEGACY(cuCtxPopCurrent, 2000, cuCtxPopCurrent)
    LEGACY(cuCtxPopCurrent, 4000, cuCtxPopCurrent_v2)
    LEGACY(cuCtxGetDevice, 2000, cuCtxGetDevice)
    LEGACY(cuCtxGetDevice, 13000, cuCtxGetDevice_v2)
    LEGACY(cuCtxSynchronize, 2000, cuCtxSynchronize)
    LEGACY(cuCtxSynchronize, 13000, cuCtxSynchronize_v2)
    LEGACY(cuCtxGetApiVersion, 3020, cuCtxGetApiVersion)
    LEGACY(cuCtxGetFlags, 7000, cuCtxGetFlags)

    LEGACY(cuMemAlloc, 3020, cuMemAlloc_v2)
    LEGACY(cuMemAllocPitch, 3020, cuMemAllocPitch_v2)
    LEGACY(cuMemFree, 3020, cuMemFree_v2)
    LEGACY(cuMemGetInfo, 3020, cuMemGetInfo_v2)
    LEGACY(cuMemGetAddressRange, 3020, cuMemGetAddressRange_v2)
    LEGACY(cuMemcpy, 4000, cuMemcpy)
    PTDS(cuMemcpy, 7000, cuMemcpy_ptds)
    LEGACY(cuMemcpyHtoD, 3020, cuMemcpyHtoD_v2)
    PTDS(cuMemcpyHtoD, 7000, cuMemcpyHtoD_v2_ptds)
    LEGACY(cuMemcpyDtoH, 3020, cuMemcpyDtoH_v2)
    PTDS(cuMemcpyDtoH, 7000, cuMemcpyDtoH_v2_ptds)
    LEGACY(cuMemcpyDtoD, 3020, cuMemcpyDtoD_v2)
    PTDS(cuMemcpyDtoD, 7000, cuMemcpyDtoD_v2_ptds)
    LEGACY(cuMemcpy2D, 3020, cuMemcpy2D_v2)
    PTDS(cuMemcpy2D, 7000, cuMemcpy2D_v2_ptds)
    LEGACY(cuMemcpy2DUnaligned, 3020, cuMemcpy2DUnaligned_v2)
    PTDS(cuMemcpy2DUnaligned, 7000, cuMemcpy2DUnaligned_v2_ptds)
    LEGACY(cuMemsetD8, 3020, cuMemsetD8_v2)
    PTDS(cuMemsetD8, 7000, cuMemsetD8_v2_ptds)
    LEGACY(cuMemsetD16, 3020, cuMemsetD16_v2)
    PTDS(cuMemsetD16, 7000, cuMemsetD16_v2_ptds)
    LEGACY(cuMemsetD32, 3020, cuMemsetD32_v2)
    PTDS(cuMemsetD32, 7000, cuMemsetD32_v2_ptds)
    LEGACY(cuMemsetD2D8, 3020, cuMemsetD2D8_v2)
    PTDS(cuMemsetD2D8, 7000, cuMemsetD2D8_v2_ptds)
    LEGACY(cuMemsetD2D16, 3020, cuMemsetD2D16_v2)
    PTDS(cuMemsetD2D16, 7000, cuMemsetD2D16_v2_ptds)
    LEGACY(cuMemsetD2D32, 3020, cuMemsetD2D32_v2)
    PTDS(cuMemsetD2D32, 7000, cuMemsetD2D32_v2_ptds)

    LEGACY(cuPointerGetAttribute, 4000, cuPointerGetAttribute)
    LEGACY(cuPointerGetAttributes, 7000, cuPointerGetAttributes)

    /* The device runtime's limits and the context's cache configuration (devrt.c). */
    LEGACY(cuCtxSetLimit, 3010, cuCtxSetLimit)
    LEGACY(cuCtxGetLimit, 3010, cuCtxGetLimit)
    LEGACY(cuCtxSetCacheConfig, 3020, cuCtxSetCacheConfig)
    LEGACY(cuCtxGetCacheConfig, 3020, cuCtxGetCacheConfig)
    LEGACY(cuCtxResetPersistingL2Cache, 11000, cuCtxResetPersistingL2Cache)

    /* Modules, libraries, kernels, launch and occupancy (module.c, library.c, launch.c,
     * occupancy.c). cuModuleGetGlobal's 32-bit original has no row: device addresses need 64. */
    LEGACY(cuModuleLoad, 2000, cuModuleLoad)
    LEGACY(cuModuleLoadData, 2000, cuModuleLoadData)
    LEGACY(cuModuleLoadDataEx, 2010, cuModuleLoadDataEx)
    LEGACY(cuModuleLoadFatBinary, 2000, cuModuleLoadFatBinary)
    LEGACY(cuModuleUnload, 2000, cuModuleUnload)
    LEGACY(cuModuleGetFunction, 2000, cuModuleGetFunction)
    LEGACY(cuModuleGetFunctionCount, 12040, cuModuleGetFunctionCount)
    LEGACY(cuModuleEnumerateFunctions, 12040, cuModuleEnumerateFunctions)
    LEGACY(cuModuleGetGlobal, 3020, cuModuleGetGlobal_v2)
    LEGACY(cuModuleGetLoadingMode, 11070, cuModuleGetLoadingMode)
    LEGACY(cuLibraryLoadData, 12000, cuLibraryLoadData)
    LEGACY(cuLibraryLoadFromFile, 12000, cuLibraryLoadFromFile)
    LEGACY(cuLibraryUnload, 12000, cuLibraryUnload)
    LEGACY(cuLibraryGetKernel, 12000, cuLibraryGetKernel)
    LEGACY(cuLibraryGetKernelCount, 12040, cuLibraryGetKernelCount)
    LEGACY(cuLibraryEnumerateKernels, 12040, cuLibraryEnumerateKernels)
    LEGACY(cuLibraryGetModule, 12000, cuLibraryGetModule)
    LEGACY(cuLibraryGetGlobal, 12000, cuLibraryGetGlobal)
    LEGACY(cuLibraryGetManaged, 12000, cuLibraryGetManaged)
    LEGACY(cuKernelGetFunction, 12000, cuKernelGetFunction)
    LEGACY(cuKernelGetLibrary, 12050, cuKernelGetLibrary)
    LEGACY(cuKernelGetName, 12030, cuKernelGetName)
    LEGACY(cuKernelGetParamInfo, 12040, cuKernelGetParamInfo)
    LEGACY(cuKernelGetAttribute, 12000, cuKernelGetAttribute)
    LEGACY(cuKernelSetAttribute, 12000, cuKernelSetAttribute)
    LEGACY(cuKernelSetCacheConfig, 12000, cuKernelSetCacheConfig)
    LEGACY(cuFuncGetAttribute, 2020, cuFuncGetAttribute)
    LEGACY(cuFuncSetAttribute, 9000, cuFuncSetAttribute)
    LEGACY(cuFuncSetCacheConfig, 3000, cuFuncSetCacheConfig)
    LEGACY(cuFuncGetParamInfo, 12040, cuFuncGetParamInfo)
    LEGACY(cuFuncGetName, 12030, cuFuncGetName)
    LEGACY(cuFuncGetModule, 11000, cuFuncGetModule)
    LEGACY(cuFuncIsLoaded, 12040, cuFuncIsLoaded)
    LEGACY(cuFuncLoad, 12040, cuFuncLoad)
    LEGACY(cuLaunchKernel, 4000, cuLaunchKernel)
    PTDS(cuLaunchKernel, 7000, cuLaunchKernel_ptsz)
    LEGACY(cuLaunchKernelEx, 11060, cuLaunchKernelEx)
    PTDS(cuLaunchKernelEx, 11060, cuLaunchKernelEx_ptsz)
    LEGACY(cuOccupancyMaxActiveBlocksPerMultiprocessor, 6050, cuOccupancyMaxActiveBlocksPerMultiprocessor)
    LEGACY(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags, 7000,
           cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags)
    LEGACY(cuOccupancyMaxPotentialBlockSize, 6050, cuOccupancyMaxPotentialBlockSize)
    LEGACY(cuOccupancyMaxPotentialBlockSizeWithFlags, 7000, cuOccupancyMaxPotentialBlockSizeWithFlags)
    LEGACY(cuOccupancyAvailableDynamicSMemPerBlock, 10020, cuOccupancyAvailableDynamicSMemPerBlock)

    /* Streams, events, pinned host memory and stream-ordered copies (stream.c, event.c,
     * host_memory.c, memory.c). The _ptsz rows treat a NULL stream as the per-thread one. */
    LEGACY(cuCtxGetStreamPriorityRange, 5050, cuCtxGetStreamPriorityRange)
    LEGACY(cuStreamCreate, 2000, cuStreamCreate)
    LEGACY(cuStreamCreateWithPriority, 5050, cuStreamCreateWithPriority)
    LEGACY(cuStreamDestroy, 2000, cuStreamDestroy)
    LEGACY(cuStreamDestroy, 4000, cuStreamDestroy_v2)
    LEGACY(cuStreamSynchronize, 2000, cuStreamSynchronize)
    PTDS(cuStreamSynchronize, 7000, cuStreamSynchronize_ptsz)
    LEGACY(cuStreamQuery, 2000, cuStreamQuery)
    PTDS(cuStreamQuery, 7000, cuStreamQuery_ptsz)
    LEGACY(cuStreamWaitEvent, 3020, cuStreamWaitEvent)
    PTDS(cuStreamWaitEvent, 7000, cuStreamWaitEvent_ptsz)
    LEGACY(cuStreamGetFlags, 5050, cuStreamGetFlags)
    PTDS(cuStreamGetFlags, 7000, cuStreamGetFlags_ptsz)
    LEGACY(cuStreamGetPriority, 5050, cuStreamGetPriority)
    PTDS(cuStreamGetPriority, 7000, cuStreamGetPriority_ptsz)
    LEGACY(cuStreamGetCtx, 9020, cuStreamGetCtx)
    LEGACY(cuStreamGetCtx, 12050, cuStreamGetCtx_v2)
    PTDS(cuStreamGetCtx, 9020, cuStreamGetCtx_ptsz)
    PTDS(cuStreamGetCtx, 12050, cuStreamGetCtx_v2_ptsz)
    LEGACY(cuStreamGetId, 12000, cuStreamGetId)
    PTDS(cuStreamGetId, 12000, cuStreamGetId_ptsz)
    LEGACY(cuStreamGetDevice, 12080, cuStreamGetDevice)
    PTDS(cuStreamGetDevice, 12080, cuStreamGetDevice_ptsz)

    LEGACY(cuEventCreate, 2000, cuEventCreate)
    LEGACY(cuEventRecord, 2000, cuEventRecord)
    PTDS(cuEventRecord, 7000, cuEventRecord_ptsz)
    LEGACY(cuEventRecordWithFlags, 11010, cuEventRecordWithFlags)
    PTDS(cuEventRecordWithFlags, 11010, cuEventRecordWithFlags_ptsz)
    LEGACY(cuEventQuery, 2000, cuEventQuery)
    LEGACY(cuEventSynchronize, 2000, cuEventSynchronize)
    LEGACY(cuEventDestroy, 2000, cuEventDestroy)
    LEGACY(cuEventDestroy, 4000, cuEventDestroy_v2)
    LEGACY(cuEventElapsedTime, 2000, cuEventElapsedTime)
    LEGACY(cuEventElapsedTime, 12080, cuEventElapsedTime_v2)

    LEGACY(cuMemAllocHost, 3020, cuMemAllocHost_v2)
    LEGACY(cuMemHostAlloc, 2020, cuMemHostAlloc)
    LEGACY(cuMemFreeHost, 2000, cuMemFreeHost)
    LEGACY(cuMemHostGetFlags, 2030, cuMemHostGetFlags)
    LEGACY(cuMemHostGetDevicePointer, 3020, cuMemHostGetDevicePointer_v2)

    LEGACY(cuMemcpyAsync, 4000, cuMemcpyAsync)
    PTDS(cuMemcpyAsync, 7000, cuMemcpyAsync_ptsz)
    LEGACY(cuMemcpyHtoDAsync, 3020, cuMemcpyHtoDAsync_v2)
    PTDS(cuMemcpyHtoDAsync, 7000, cuMemcpyHtoDAsync_v2_ptsz)
    LEGACY(cuMemcpyDtoHAsync, 3020, cuMemcpyDtoHAsync_v2)
    PTDS(cuMemcpyDtoHAsync, 7000, cuMemcpyDtoHAsync_v2_ptsz)
    LEGACY(cuMemcpyDtoDAsync, 3020, cuMemcpyDtoDAsync_v2)
    PTDS(cuMemcpyDtoDAsync, 7000, cuMemcpyDtoDAsync_v2_ptsz)
    LEGACY(cuMemcpy2DAsync, 3020, cuMemcpy2DAsync_v2)
    PTDS(cuMemcpy2DAsync, 7000, cuMemcpy2DAsync_v2_ptsz)
    LEGACY(cuMemsetD8Async, 3020, cuMemsetD8Async)
    PTDS(cuMemsetD8Async, 7000, cuMemsetD8Async_ptsz)
    LEGACY(cuMemsetD16Async, 3020, cuMemsetD16Async)
    PTDS(cuMemsetD16Async, 7000, cuMemsetD16Async_ptsz)
    LEGACY(cuMemsetD32Async, 3020, cuMemsetD32Async)
    PTDS(cuMemsetD32Async, 7000, cuMemsetD32Async_ptsz)
    LEGACY(cuMemsetD2D8Async, 3020, cuMemsetD2D8Async)
    PTDS(cuMemsetD2D8Async, 7000, cuMemsetD2D8Async_ptsz)
    LEGACY(cuMemsetD2D16Async, 3020, cuMemsetD2D16Async)
    PTDS(cuMemsetD2D16Async, 7000, cuMemsetD2D16Async_ptsz)
    LEGACY(cuMemsetD2D32Async, 3020, cuMemsetD2D32Async)
    PTDS(cuMemsetD2D32Async, 7000, cuMemsetD2D32Async_ptsz)
    LEGACY(cuMemcpyPeer, 4000, cuMemcpyPeer)
    PTDS(cuMemcpyPeer, 7000, cuMemcpyPeer_ptds)
    LEGACY(cuMemcpyPeerAsync, 4000, cuMemcpyPeerAsync)
    PTDS(cuMemcpyPeerAsync, 7000, cuMemcpyPeerAsync_ptsz)
};

#undef LEGACY
#undef PTDS

/* The newest row of name among the legacy or the per-thread rows, at or before version. Sets
 * *exists_p when name has any row of that kind, whatever its version. */
static const gpa_row_t *find_row(const char *name, int version, bool per_thread, bool *exists_p)
{
    const gpa_row_t *best = NULL;

    *exists_p = false;
    for (size_t i = 0; i < sizeof(gpa_rows) / sizeof(gpa_rows[0]); i++) {
        const gpa_row_t *row = &gpa_rows[i];

        if (row->per_thread != per_thread || strcmp(row->name, name) != 0)
            continue;
        *exists_p = true;
        if (row->version <= version && (best == NULL || row->version > best->version))
            best = row;
    }
    return best;
}

/* Works before cuInit: cudart resolves everything first. An unknown name or too old a version is a
 * successful answer with a NULL pointer, so callers can probe. */
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus)
{
    const cuuint64_t known_flags = CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    const gpa_row_t *row = NULL;
    bool exists = false;

    if (symbol == NULL || pfn == NULL || (flags & ~known_flags) != 0 || cudaVersion > BF_EMU_DRIVER_VERSION)
        return CUDA_ERROR_INVALID_VALUE;
    if (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)
        row = find_row(symbol, cudaVersion, true, &exists);
    if (!exists)
        row = find_row(symbol, cudaVersion, false, &exists);
    if (row != NULL)
        found = CU_GET_PROC_ADDRESS_SUCCESS;
    else if (exists)
        found = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
    *pfn = row != NULL ? row->fn : NULL;
    if (symbolStatus != NULL)
        *symbolStatus = found;
    return CUDA_SUCCESS;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
    return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, NULL);
}
