/*
 * get_proc_address.c: cuGetProcAddress_v2 and the 4-argument cuGetProcAddress of CUDA 11.3-11.8.
 *
 * NVIDIA's runtime finds every driver function through cuGetProcAddress_v2 (DRIVER-FRONT.md §1):
 * some 440 lookups at start-up, before cuInit. So a lookup touches no engine state and costs a
 * binary search over the generated table (entry_gpa_table.c, from cuda_api.def). Implemented and
 * unsupported functions are handed out alike: an unsupported one refuses when it is called, which
 * is when the application learns which function it was.
 */

/* The legacy cuGetProcAddress prototype exists only in this configuration of cuda.h. */
#ifndef __CUDA_API_VERSION_INTERNAL
#define __CUDA_API_VERSION_INTERNAL 1
#endif
#ifndef __CUDA_API_PUSH_VISIBILITY_DEFAULT
#define __CUDA_API_PUSH_VISIBILITY_DEFAULT 1
#endif
#include <cuda.h>

#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "gpa.h"

static int compare_name(const void *key, const void *entry)
{
    return strcmp(key, ((const bf_cl_gpa_name_t *)entry)->name);
}

/* The newest variant of `symbol` introduced at or below cuda_version, in *fn_p. A name that has
 * per-thread variants serves only those to a per-thread caller, as NVIDIA's driver does: below
 * the per-thread variant's introduction the answer is VERSION_NOT_SUFFICIENT, not the
 * legacy-stream function. A name without per-thread variants serves its legacy ones. */
static CUdriverProcAddressQueryResult gpa_resolve(const char *symbol, int cuda_version,
                                                  int per_thread, void **fn_p)
{
    const bf_cl_gpa_name_t *entry;
    const bf_cl_gpa_variant_t *variants;
    size_t count;

    entry = bsearch(symbol, bf_cl_gpa_names, bf_cl_gpa_name_count, sizeof(*entry), compare_name);
    if (entry == NULL)
        return CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;

    variants = &bf_cl_gpa_variants[entry->first];
    count    = entry->n_default;
    if (per_thread && entry->n_per_thread > 0) {
        variants += entry->n_default;
        count     = entry->n_per_thread;
    }
    for (size_t i = count; i-- > 0;) {
        if (variants[i].cuda_version <= cuda_version) {
            *fn_p = variants[i].fn;
            return CU_GET_PROC_ADDRESS_SUCCESS;
        }
    }
    return CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
}

/* Both entry points share this body; calling one exported function from the other would go
 * through the PLT and could land in an interposer. */
static CUresult gpa_lookup(const char *symbol, void **pfn, int cuda_version, cuuint64_t flags,
                           CUdriverProcAddressQueryResult *found_p)
{
    CUdriverProcAddressQueryResult found;
    void *fn = NULL;

    if (symbol == NULL || pfn == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    /* DEFAULT (0) means the legacy stream here: only cuda.h's inline wrapper turns it into
     * per-thread for per-thread builds. Both bits at once ask for two opposite things. */
    if (flags > CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)
        return CUDA_ERROR_INVALID_VALUE;
    /* As documented for the real driver: a caller newer than the driver is told so. */
    if (cuda_version > BF_CL_DRIVER_VERSION)
        return CUDA_ERROR_INVALID_VALUE;

    found = gpa_resolve(symbol, cuda_version,
                        flags == CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &fn);
    *pfn     = fn;
    *found_p = found;
    return CUDA_SUCCESS;
}

/* CUDA 12.0 and later: an unknown name, and a known name with no variant at or below cudaVersion,
 * are both CUDA_SUCCESS with *pfn NULL; symbolStatus tells them apart (the 13.0 header: "return
 * CUDA_SUCCESS and set pfn to NULL if ... no ABI compatible driver function exists for the
 * specified cudaVersion or if the driver symbol is invalid"). */
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus)
{
    CUdriverProcAddressQueryResult found;
    CUresult status;

    status = gpa_lookup(symbol, pfn, cudaVersion, flags, &found);
    if (status != CUDA_SUCCESS)
        return status;
    if (symbolStatus != NULL)
        *symbolStatus = found;
    return CUDA_SUCCESS;
}

/* CUDA 11.3 to 11.8, which had no status out-parameter: any miss is CUDA_ERROR_NOT_FOUND. */
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
    CUdriverProcAddressQueryResult found;
    CUresult status;

    status = gpa_lookup(symbol, pfn, cudaVersion, flags, &found);
    if (status != CUDA_SUCCESS)
        return status;
    return found == CU_GET_PROC_ADDRESS_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}
