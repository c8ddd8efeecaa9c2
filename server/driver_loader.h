/*
 * driver_loader.h: the driver entry points bf-worker calls, resolved once per session.
 *
 * The worker dlopens its driver (NVIDIA's libcuda.so.1 or libbfemu.so), looks up only
 * cuGetProcAddress_v2 with dlsym and resolves every other entry point through it at CUDA version
 * 13000, so each slot holds the ABI variant its PFN_ type (cudaTypedefs.h) describes. Plain dlsym
 * of a base name would give the legacy 32-bit variants the real driver still exports.
 */
#ifndef BF_SRV_DRIVER_LOADER_H
#define BF_SRV_DRIVER_LOADER_H

#include <cuda.h>
#include <cudaTypedefs.h>

#include "bf_status.h"

/* The version every entry point is asked for; it decides which ABI variant comes back. */
#define BF_SRV_DRIVER_API_VERSION 13000

/*
 * Every entry point the worker uses: X(slot, PFN type). The name asked for is "cu" #slot (the base
 * name, e.g. "cuMemAlloc", for which version 13000 answers cuMemAlloc_v2). The slot names drop the
 * "cu" prefix because cuda.h #defines most base names to their versioned symbols.
 */
#define BF_SRV_DRIVER_ENTRIES(X)                                             \
    X(Init,                        PFN_cuInit_v2000)                         \
    X(DriverGetVersion,            PFN_cuDriverGetVersion_v2020)             \
    X(DeviceGetCount,              PFN_cuDeviceGetCount_v2000)               \
    X(DeviceGet,                   PFN_cuDeviceGet_v2000)                    \
    X(DeviceGetName,               PFN_cuDeviceGetName_v2000)                \
    X(DeviceGetUuid,               PFN_cuDeviceGetUuid_v11040)               \
    X(DeviceTotalMem,              PFN_cuDeviceTotalMem_v3020)               \
    X(DeviceGetAttribute,          PFN_cuDeviceGetAttribute_v2000)           \
    X(DeviceGetPCIBusId,           PFN_cuDeviceGetPCIBusId_v4010)            \
    X(DevicePrimaryCtxRetain,      PFN_cuDevicePrimaryCtxRetain_v7000)       \
    X(DevicePrimaryCtxReset,       PFN_cuDevicePrimaryCtxReset_v11000)       \
    X(CtxSetCurrent,               PFN_cuCtxSetCurrent_v4000)                \
    X(CtxSynchronize,              PFN_cuCtxSynchronize_v13000)              \
    X(MemGetInfo,                  PFN_cuMemGetInfo_v3020)                   \
    X(MemAlloc,                    PFN_cuMemAlloc_v3020)                     \
    X(MemAllocPitch,               PFN_cuMemAllocPitch_v3020)                \
    X(MemFree,                     PFN_cuMemFree_v3020)                      \
    X(MemcpyHtoD,                  PFN_cuMemcpyHtoD_v3020)                   \
    X(MemcpyDtoH,                  PFN_cuMemcpyDtoH_v3020)                   \
    X(MemcpyDtoD,                  PFN_cuMemcpyDtoD_v3020)                   \
    X(Memcpy2D,                    PFN_cuMemcpy2D_v3020)                     \
    X(Memcpy2DUnaligned,           PFN_cuMemcpy2DUnaligned_v3020)            \
    X(MemsetD8,                    PFN_cuMemsetD8_v3020)                     \
    X(MemsetD16,                   PFN_cuMemsetD16_v3020)                    \
    X(MemsetD32,                   PFN_cuMemsetD32_v3020)                    \
    X(MemsetD2D8,                  PFN_cuMemsetD2D8_v3020)                   \
    X(MemsetD2D16,                 PFN_cuMemsetD2D16_v3020)                  \
    X(MemsetD2D32,                 PFN_cuMemsetD2D32_v3020)                  \
    X(MemGetAllocationGranularity, PFN_cuMemGetAllocationGranularity_v10020) \
    X(MemAddressReserve,           PFN_cuMemAddressReserve_v10020)           \
    X(MemAddressFree,              PFN_cuMemAddressFree_v10020)              \
    X(MemCreate,                   PFN_cuMemCreate_v10020)                   \
    X(MemRelease,                  PFN_cuMemRelease_v10020)                  \
    X(MemMap,                      PFN_cuMemMap_v10020)                      \
    X(MemUnmap,                    PFN_cuMemUnmap_v10020)                    \
    X(MemSetAccess,                PFN_cuMemSetAccess_v10020)                \
    X(MemRetainAllocationHandle,   PFN_cuMemRetainAllocationHandle_v11000) \
    X(CtxGetStreamPriorityRange,   PFN_cuCtxGetStreamPriorityRange_v5050)    \
    X(StreamCreateWithPriority,    PFN_cuStreamCreateWithPriority_v5050)     \
    X(StreamDestroy,               PFN_cuStreamDestroy_v4000)                \
    X(StreamSynchronize,           PFN_cuStreamSynchronize_v2000)            \
    X(StreamQuery,                 PFN_cuStreamQuery_v2000)                  \
    X(StreamWaitEvent,             PFN_cuStreamWaitEvent_v3020)              \
    X(EventCreate,                 PFN_cuEventCreate_v2000)                  \
    X(EventDestroy,                PFN_cuEventDestroy_v4000)                 \
    X(EventRecord,                 PFN_cuEventRecord_v2000)                  \
    X(EventRecordWithFlags,        PFN_cuEventRecordWithFlags_v11010)        \
    X(EventSynchronize,            PFN_cuEventSynchronize_v2000)             \
    X(EventQuery,                  PFN_cuEventQuery_v2000)                   \
    X(EventElapsedTime,            PFN_cuEventElapsedTime_v12080)            \
    X(MemcpyHtoDAsync,             PFN_cuMemcpyHtoDAsync_v3020)              \
    X(MemcpyDtoHAsync,             PFN_cuMemcpyDtoHAsync_v3020)              \
    X(MemcpyDtoDAsync,             PFN_cuMemcpyDtoDAsync_v3020)              \
    X(Memcpy2DAsync,               PFN_cuMemcpy2DAsync_v3020)                \
    X(MemcpyPeerAsync,             PFN_cuMemcpyPeerAsync_v4000)              \
    X(MemsetD8Async,               PFN_cuMemsetD8Async_v3020)                \
    X(MemsetD16Async,              PFN_cuMemsetD16Async_v3020)               \
    X(MemsetD32Async,              PFN_cuMemsetD32Async_v3020)               \
    X(MemsetD2D8Async,             PFN_cuMemsetD2D8Async_v3020)              \
    X(MemsetD2D16Async,            PFN_cuMemsetD2D16Async_v3020)             \
    X(MemsetD2D32Async,            PFN_cuMemsetD2D32Async_v3020) \
    X(LibraryLoadData,             PFN_cuLibraryLoadData_v12000)             \
    X(LibraryUnload,               PFN_cuLibraryUnload_v12000)               \
    X(LibraryGetKernelCount,       PFN_cuLibraryGetKernelCount_v12040)       \
    X(LibraryEnumerateKernels,     PFN_cuLibraryEnumerateKernels_v12040)     \
    X(LibraryGetGlobal,            PFN_cuLibraryGetGlobal_v12000)            \
    X(KernelGetName,               PFN_cuKernelGetName_v12030)               \
    X(KernelGetParamInfo,          PFN_cuKernelGetParamInfo_v12040)          \
    X(KernelGetAttribute,          PFN_cuKernelGetAttribute_v12000)          \
    X(KernelSetAttribute,          PFN_cuKernelSetAttribute_v12000)          \
    X(LaunchKernel,                PFN_cuLaunchKernel_v4000)                 \
    X(CtxSetLimit,                 PFN_cuCtxSetLimit_v3010)                  \
    X(CtxGetLimit,                 PFN_cuCtxGetLimit_v3010)                  \
    X(CtxSetCacheConfig,           PFN_cuCtxSetCacheConfig_v3020)            \
    X(CtxGetCacheConfig,           PFN_cuCtxGetCacheConfig_v3020)            \
    X(CtxResetPersistingL2Cache,   PFN_cuCtxResetPersistingL2Cache_v11000)

typedef struct {
    void *library;  /* dlopen handle, kept open for the life of the process */
#define BF_SRV_DRIVER_SLOT(slot, pfn) pfn slot;
    BF_SRV_DRIVER_ENTRIES(BF_SRV_DRIVER_SLOT)
#undef BF_SRV_DRIVER_SLOT
} bf_srv_driver_t;

/* Calls an entry point, or answers CUDA_ERROR_NOT_SUPPORTED when the driver lacks it. */
#define BF_SRV_DRV(drv, slot, ...) \
    ((drv)->slot != NULL ? (drv)->slot(__VA_ARGS__) : CUDA_ERROR_NOT_SUPPORTED)

/*
 * Loads the driver library at path and resolves every entry of BF_SRV_DRIVER_ENTRIES.
 *   path    in   the driver library (libcuda.so.1 or libbfemu.so)
 *   drv     out  filled on success; entries the driver lacks are NULL
 * Returns BF_OK, or BF_UNREACHABLE when the library cannot be opened or has no
 * cuGetProcAddress_v2 (logged with the loader's message).
 */
bf_status_t bf_srv_driver_load(const char *path, bf_srv_driver_t *drv);

#endif
