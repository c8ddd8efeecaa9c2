/*
 * launch.c: function attributes (cuFuncGetAttribute, cuFuncSetAttribute, cuFuncSetCacheConfig,
 * cuFuncGetParamInfo, cuFuncGetName, ...) and kernel launch (cuLaunchKernel, cuLaunchKernelEx and
 * their _ptsz twins).
 *
 * A launch is checked completely before anything runs, with the errors the driver gives for a bad
 * configuration: grid and block dimensions against the device's limits and the kernel's
 * .maxntid, shared memory (static + dynamic) against the per-block limit or the opt-in one set with
 * CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES. The parameter buffer is then built from
 * kernelParams with the layout of the kernel's .param list (cuLaunchKernel carries no sizes), or
 * taken from `extra`, and the grid goes onto the stream as one work item run by the PTX engine.
 *
 * The engine reaches device memory through a lookup that answers which live allocation holds an
 * address: the arena's allocations (module globals included) and mapped pinned host memory. An
 * access outside them, or a trap, ends the kernel: the context then answers every call with
 * CUDA_ERROR_ILLEGAL_ADDRESS until it is reset, as a GPU's does, and one stderr line names the
 * kernel, the PTX line and the address.
 */
#include "module.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bf_log.h"

/* Default CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: no preference. */
#define CARVEOUT_DEFAULT (-1)

/* Highest CU_FUNC_ATTRIBUTE_NUM_REGS a thread can have; the engine counts virtual registers. */
#define MAX_REGS_PER_THREAD 255

/* --- handles --------------------------------------------------------------------------------- */

CUresult bf_emu_function_or_kernel(CUfunction handle, bf_emu_function_t **function_p, bf_emu_kernel_t **kernel_p)
{
    bf_emu_function_t *function = bf_emu_handle_find(handle, BF_EMU_HANDLE_FUNCTION);
    bf_emu_kernel_t *kernel = NULL;

    if (function != NULL && function->cookie != BF_EMU_FUNCTION_COOKIE)
        function = NULL;
    if (function == NULL) {
        kernel = bf_emu_handle_find(handle, BF_EMU_HANDLE_KERNEL);
        if (kernel != NULL && kernel->cookie != BF_EMU_KERNEL_COOKIE)
            kernel = NULL;
    }
    if (function == NULL && kernel == NULL)
        return CUDA_ERROR_INVALID_HANDLE;
    *function_p = function;
    *kernel_p = kernel;
    return CUDA_SUCCESS;
}

CUresult bf_emu_function_describe(CUfunction handle, const bf_ptx_kernel_t **kernel_p, bf_ptx_kernel_attrs_t *attrs_p,
                                  bf_emu_func_settings_t **settings_p)
{
    bf_emu_function_t *function;
    bf_emu_kernel_t *kernel;
    CUresult result = bf_emu_function_or_kernel(handle, &function, &kernel);

    if (result != CUDA_SUCCESS)
        return result;
    if (function != NULL) {
        *kernel_p = function->kernel;
        *attrs_p = function->attrs;
        *settings_p = function->settings;
    } else {
        *kernel_p = kernel->kernel;
        *attrs_p = kernel->attrs;
        *settings_p = &kernel->settings;
    }
    return CUDA_SUCCESS;
}

/* Looks up a function or kernel for a cuFunc* call; takes the lock, which the caller releases. */
static CUresult describe_locked(CUfunction handle, const bf_ptx_kernel_t **kernel_p, bf_ptx_kernel_attrs_t *attrs_p,
                                bf_emu_func_settings_t **settings_p)
{
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    result = bf_emu_function_describe(handle, kernel_p, attrs_p, settings_p);
    if (result != CUDA_SUCCESS)
        pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

/* --- attributes ------------------------------------------------------------------------------ */

/* A device limit from the attribute table (attributes.c), so that launches and queries agree. */
static int device_limit(CUdevice_attribute attrib)
{
    int value = 0;

    (void)bf_emu_attribute_get(&bf_emu.devices[0], attrib, &value);
    return value;
}

void bf_emu_func_settings_init(bf_emu_func_settings_t *settings, const bf_ptx_kernel_attrs_t *attrs)
{
    const int per_block = device_limit(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);

    /* cuda.h: the per-block limit less the static shared memory, or 0 when that is already over. */
    *settings = (bf_emu_func_settings_t){
        .max_dynamic_shared = attrs->static_shared_bytes > (size_t)per_block
                                  ? 0 : per_block - (int)attrs->static_shared_bytes,
        .carveout = CARVEOUT_DEFAULT,
        .cache_config = CU_FUNC_CACHE_PREFER_NONE,
    };
}

bool bf_emu_func_cache_valid(CUfunc_cache config)
{
    return config == CU_FUNC_CACHE_PREFER_NONE || config == CU_FUNC_CACHE_PREFER_SHARED ||
           config == CU_FUNC_CACHE_PREFER_L1 || config == CU_FUNC_CACHE_PREFER_EQUAL;
}

CUresult bf_emu_func_attribute_get(const bf_ptx_kernel_attrs_t *attrs, const bf_emu_func_settings_t *settings,
                                   CUfunction_attribute attrib, int *value_p)
{
    const int emulated = bf_emu_module_cc(&bf_emu.devices[0]);
    int value;

    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
        value = attrs->max_threads_per_block;
        if (value <= 0 || value > device_limit(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK))
            value = device_limit(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
        break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
        value = (int)attrs->static_shared_bytes;
        break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES:
        value = (int)attrs->const_bytes;
        break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES:
        value = (int)attrs->local_bytes;
        break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS:
        value = attrs->num_regs < MAX_REGS_PER_THREAD ? attrs->num_regs : MAX_REGS_PER_THREAD;
        break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION:
        /* The virtual architecture (75 for .target sm_75); the caller that knows it overrides this
         * fallback, which is what the code was just compiled for. */
        value = emulated;
        break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
        /* The PTX was "compiled" for the emulated device, as a driver JIT compiles for its GPU. */
        value = emulated;
        break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA:
        value = 0;
        break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        value = settings->max_dynamic_shared;
        break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        value = settings->carveout;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
        value = 0; /* the device has no thread-block clusters (CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH 0) */
        break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
        value = settings->non_portable_cluster;
        break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        value = settings->cluster_policy;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    *value_p = value;
    return CUDA_SUCCESS;
}

CUresult bf_emu_func_attribute_set(const bf_ptx_kernel_attrs_t *attrs, bf_emu_func_settings_t *settings,
                                   CUfunction_attribute attrib, int value)
{
    const int optin = device_limit(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);

    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
        if (value < 0 || (size_t)value + attrs->static_shared_bytes > (size_t)optin)
            return CUDA_ERROR_INVALID_VALUE;
        settings->max_dynamic_shared = value;
        return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        if (value < CARVEOUT_DEFAULT || value > CU_SHAREDMEM_CARVEOUT_MAX_SHARED)
            return CUDA_ERROR_INVALID_VALUE;
        settings->carveout = value;
        return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
        if (value != 0 && value != 1)
            return CUDA_ERROR_INVALID_VALUE;
        settings->non_portable_cluster = value;
        return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        if (value < CU_CLUSTER_SCHEDULING_POLICY_DEFAULT || value > CU_CLUSTER_SCHEDULING_POLICY_LOAD_BALANCING)
            return CUDA_ERROR_INVALID_VALUE;
        settings->cluster_policy = value;
        return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET:
        bf_log_debug("function attribute %d: the emulated device has no thread-block clusters", (int)attrib);
        return CUDA_ERROR_NOT_SUPPORTED;
    default:
        /* The others describe the compiled code and cannot be set. */
        return CUDA_ERROR_INVALID_VALUE;
    }
}

/* The PTX target of the module or library a CUfunction handle belongs to. Lock held. */
static int handle_target(CUfunction handle)
{
    bf_emu_function_t *function;
    bf_emu_kernel_t *kernel;

    if (bf_emu_function_or_kernel(handle, &function, &kernel) != CUDA_SUCCESS)
        return 0;
    return function != NULL ? function->module->target : kernel->library->target;
}

CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;
    CUresult result = describe_locked(hfunc, &kernel, &attrs, &settings);

    if (result != CUDA_SUCCESS)
        return result;
    if (pi == NULL)
        result = CUDA_ERROR_INVALID_VALUE;
    else
        result = bf_emu_func_attribute_get(&attrs, settings, attrib, pi);
    if (result == CUDA_SUCCESS && attrib == CU_FUNC_ATTRIBUTE_PTX_VERSION && handle_target(hfunc) != 0)
        *pi = handle_target(hfunc);
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;
    CUresult result = describe_locked(hfunc, &kernel, &attrs, &settings);

    if (result != CUDA_SUCCESS)
        return result;
    result = bf_emu_func_attribute_set(&attrs, settings, attrib, value);
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)
{
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;
    CUresult result = describe_locked(hfunc, &kernel, &attrs, &settings);

    if (result != CUDA_SUCCESS)
        return result;
    /* Only a preference: the emulator has no L1 to trade for shared memory. */
    if (!bf_emu_func_cache_valid(config))
        result = CUDA_ERROR_INVALID_VALUE;
    else
        settings->cache_config = config;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset, size_t *paramSize)
{
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;
    size_t offset, size;
    CUresult result = describe_locked(func, &kernel, &attrs, &settings);

    if (result != CUDA_SUCCESS)
        return result;
    if (paramOffset == NULL || paramIndex >= bf_ptx_kernel_param_count(kernel)) {
        result = CUDA_ERROR_INVALID_VALUE;
    } else {
        bf_ptx_kernel_param(kernel, paramIndex, &offset, &size);
        *paramOffset = offset;
        if (paramSize != NULL)
            *paramSize = size;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuFuncGetName(const char **name, CUfunction hfunc)
{
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;
    CUresult result = describe_locked(hfunc, &kernel, &attrs, &settings);

    if (result != CUDA_SUCCESS)
        return result;
    if (name == NULL)
        result = CUDA_ERROR_INVALID_VALUE;
    else
        *name = bf_ptx_kernel_name(kernel);
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc)
{
    bf_emu_function_t *function;
    bf_emu_kernel_t *kernel;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (hmod == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&bf_emu.lock);
    result = bf_emu_function_or_kernel(hfunc, &function, &kernel);
    /* A kernel has no module of its own: cuLibraryGetModule names the one of a context. */
    if (result == CUDA_SUCCESS && function == NULL)
        result = CUDA_ERROR_INVALID_HANDLE;
    if (result == CUDA_SUCCESS)
        *hmod = (CUmodule)function->module;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

/* Every function is fully loaded when its module is: there is no lazy code generation. */
CUresult cuFuncIsLoaded(CUfunctionLoadingState *state, CUfunction function)
{
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;
    CUresult result = describe_locked(function, &kernel, &attrs, &settings);

    if (result != CUDA_SUCCESS)
        return result;
    if (state == NULL)
        result = CUDA_ERROR_INVALID_VALUE;
    else
        *state = CU_FUNCTION_LOADING_STATE_LOADED;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuFuncLoad(CUfunction function)
{
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;
    CUresult result = describe_locked(function, &kernel, &attrs, &settings);

    if (result == CUDA_SUCCESS)
        pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

/* --- launch ---------------------------------------------------------------------------------- */

/* One launch as it waits on its stream: everything by value or owned, nothing in a caller's frame. */
typedef struct {
    bf_emu_module_t *module;           /* referenced until the work has run */
    const bf_ptx_kernel_t *kernel;
    bf_emu_ctx_t *ctx;
    unsigned int grid[3], block[3];
    size_t dynamic_shared;
    void *params;                      /* malloc'ed, freed by the work */
    size_t params_size;
} launch_work_t;

/* The engine's view of memory: the live allocation holding addr, which is host memory of this
 * very process (the arena is mapped here, and pinned host memory is the host's own). */
static int memory_lookup(void *arg, uint64_t addr, bf_ptx_region_t *region_p)
{
    const bf_range_t *range;
    bf_range_t found = {0};
    uint64_t base, size;
    int chunk = bf_emu_devrt_heap_chunk(arg, addr, &base, &size);

    /* In the device heap, each malloc'ed chunk is a region of its own. */
    if (chunk >= 0) {
        if (chunk == 0)
            return 0;
        *region_p = (bf_ptx_region_t){.base = base, .size = size, .host = (void *)(uintptr_t)base};
        return 1;
    }
    pthread_mutex_lock(&bf_emu.lock);
    range = bf_emu_memory_find(addr);
    if (range == NULL)
        range = bf_emu_host_find_span(addr, 1);
    if (range != NULL)
        found = *range;
    pthread_mutex_unlock(&bf_emu.lock);
    if (range == NULL)
        return 0;
    *region_p = (bf_ptx_region_t){.base = found.base, .size = found.size, .host = (void *)(uintptr_t)found.base};
    return 1;
}

/* The CUresult of each kind of kernel fault (the sticky errors of a dead context), through the
 * statuses of common/bf_status.h. */
static CUresult fault_result(int kind)
{
    switch (kind) {
    case BF_PTX_FAULT_MISALIGNED: return bf_status_to_cu(BF_MISALIGNED);
    case BF_PTX_FAULT_TRAP: return bf_status_to_cu(BF_KERNEL_TRAP);
    case BF_PTX_FAULT_ASSERT: return bf_status_to_cu(BF_DEVICE_ASSERT);
    case BF_PTX_FAULT_STACK: return bf_status_to_cu(BF_STACK_OVERFLOW);
    case BF_PTX_FAULT_PC: return bf_status_to_cu(BF_INVALID_PC);
    default: return CUDA_ERROR_ILLEGAL_ADDRESS; /* BF_BAD_ADDRESS is a client's bad pointer */
    }
}

/* Runs on the stream: the grid, then the fault if there was one. */
static void launch_run(void *arg)
{
    launch_work_t *work = arg;
    bf_ptx_fault_t fault = {0};
    bf_ptx_services_t services;
    size_t stack_bytes;
    const bf_ptx_memory_t memory = {.lookup = memory_lookup, .ctx = work->ctx};
    bf_ptx_kernel_attrs_t attrs;

    bf_emu_devrt_services(work->ctx, &services, &stack_bytes);
    bf_ptx_kernel_attrs(work->kernel, &attrs);
    bf_emu_devrt_launched(work->ctx, attrs.uses_printf, attrs.uses_malloc);
    bf_ptx_launch_t launch = {
        .grid = {work->grid[0], work->grid[1], work->grid[2]},
        .block = {work->block[0], work->block[1], work->block[2]},
        .dynamic_shared_bytes = work->dynamic_shared,
        .params = work->params,
        .params_size = work->params_size,
        .memory = &memory,
        .worker_threads = 0,
        .services = &services,
        .stack_bytes = stack_bytes,
    };
    bf_status_t status;
    CUresult sticky;

    pthread_mutex_lock(&bf_emu.lock);
    sticky = work->ctx->sticky_error;
    pthread_mutex_unlock(&bf_emu.lock);
    /* After a fault, work already queued does not run, as on a GPU whose context has died. */
    if (sticky == CUDA_SUCCESS) {
        status = bf_ptx_launch(work->kernel, &launch, &fault);
        if (status == BF_BAD_ADDRESS) {
            const CUresult error = fault_result(fault.kind);
            const char *error_name = NULL;

            cuGetErrorName(error, &error_name);
            /* A failed assertion's message goes to fd 2 at the next flush point, as on a GPU. */
            if (fault.kind == BF_PTX_FAULT_ASSERT)
                bf_log_debug("kernel %s: %s", bf_ptx_kernel_name(work->kernel), fault.message);
            else
                bf_log_error("openbf emulator: kernel %s faulted at PTX line %d, address 0x%llx: %s; the context "
                             "now returns %s until it is reset",
                             fault.kernel != NULL ? fault.kernel : bf_ptx_kernel_name(work->kernel), fault.ptx_line,
                             (unsigned long long)fault.address, fault.message, error_name);
            pthread_mutex_lock(&bf_emu.lock);
            if (work->ctx->active)
                work->ctx->sticky_error = error;
            pthread_mutex_unlock(&bf_emu.lock);
        } else if (status != BF_OK) {
            bf_log_error("openbf emulator: kernel %s did not run: %s", bf_ptx_kernel_name(work->kernel),
                         bf_status_str(status));
            pthread_mutex_lock(&bf_emu.lock);
            if (work->ctx->active)
                work->ctx->sticky_error = CUDA_ERROR_LAUNCH_FAILED;
            pthread_mutex_unlock(&bf_emu.lock);
        }
    }
    free(work->params);
    bf_emu_module_release(work->module);
}

/* Checks grid, block and shared memory against the device's limits and the kernel's. */
static CUresult check_config(const char *name, const unsigned int grid[3], const unsigned int block[3],
                             unsigned int dynamic_shared, const bf_ptx_kernel_attrs_t *attrs,
                             const bf_emu_func_settings_t *settings)
{
    static const CUdevice_attribute grid_limits[3] = {
        CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
    static const CUdevice_attribute block_limits[3] = {
        CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z};
    uint64_t threads = 1;
    int max_threads = device_limit(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    const int optin = device_limit(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);

    for (int i = 0; i < 3; i++) {
        if (grid[i] == 0 || grid[i] > (unsigned int)device_limit(grid_limits[i]) || block[i] == 0 ||
            block[i] > (unsigned int)device_limit(block_limits[i])) {
            bf_log_debug("launch of %s: grid %ux%ux%u or block %ux%ux%u out of range", name, grid[0], grid[1],
                         grid[2], block[0], block[1], block[2]);
            return CUDA_ERROR_INVALID_VALUE;
        }
        threads *= block[i];
    }
    if (attrs->max_threads_per_block > 0 && attrs->max_threads_per_block < max_threads)
        max_threads = attrs->max_threads_per_block;
    if (threads > (uint64_t)max_threads) {
        bf_log_debug("launch of %s: %lu threads per block, the limit is %d", name, (unsigned long)threads,
                     max_threads);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (dynamic_shared > (unsigned int)settings->max_dynamic_shared ||
        attrs->static_shared_bytes + dynamic_shared > (size_t)optin) {
        bf_log_debug("launch of %s: %u bytes of dynamic shared memory (static %zu), the limit is %d", name,
                     dynamic_shared, attrs->static_shared_bytes, settings->max_dynamic_shared);
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* Builds the parameter buffer: from kernelParams (one pointer per parameter, laid out as the
 * kernel's .param list says) or from the buffer `extra` names. */
static CUresult build_params(const bf_ptx_kernel_t *kernel, void **kernel_params, void **extra, void **params_p,
                             size_t *size_p)
{
    const size_t count = bf_ptx_kernel_param_count(kernel);
    const size_t bytes = bf_ptx_kernel_param_bytes(kernel);
    const void *buffer = NULL;
    size_t buffer_size = 0;
    bool have_size = false;
    uint8_t *params;

    if (kernel_params != NULL && extra != NULL)
        return CUDA_ERROR_INVALID_VALUE;
    if (bytes > BF_EMU_MAX_PARAM_BYTES)
        return CUDA_ERROR_INVALID_VALUE;
    if (extra != NULL) {
        for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
                buffer = extra[i + 1];
            } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
                if (extra[i + 1] == NULL)
                    return CUDA_ERROR_INVALID_VALUE;
                buffer_size = *(const size_t *)extra[i + 1];
                have_size = true;
            } else {
                return CUDA_ERROR_INVALID_VALUE;
            }
        }
        /* Without a size the pointer "has no effect" (cuda.h): the kernel then gets no arguments. */
        if (!have_size)
            buffer = NULL;
        if ((buffer == NULL && bytes > 0) || (buffer != NULL && buffer_size < bytes))
            return CUDA_ERROR_INVALID_VALUE;
    } else if (count > 0 && kernel_params == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }

    params = calloc(1, bytes ? bytes : 1);
    if (params == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (buffer != NULL) {
        memcpy(params, buffer, bytes);
    } else if (kernel_params != NULL) {
        for (size_t i = 0; i < count; i++) {
            size_t offset, size;

            bf_ptx_kernel_param(kernel, i, &offset, &size);
            if (kernel_params[i] == NULL || offset > bytes || size > bytes - offset) {
                free(params);
                return CUDA_ERROR_INVALID_VALUE;
            }
            memcpy(params + offset, kernel_params[i], size);
        }
    }
    *params_p = params;
    *size_p = bytes;
    return CUDA_SUCCESS;
}

/* The function a launch runs: the CUfunction itself, or the kernel's function in ctx, with a
 * reference on its module so that an unload cannot free the code while it runs. */
static CUresult launch_function(CUfunction handle, bf_emu_ctx_t *ctx, bf_emu_function_t **function_p)
{
    bf_emu_function_t *function;
    bf_emu_kernel_t *kernel;
    bf_emu_library_t *library;
    bf_emu_module_t *module;
    size_t index;
    CUresult result;

    pthread_mutex_lock(&bf_emu.lock);
    result = bf_emu_function_or_kernel(handle, &function, &kernel);
    if (result == CUDA_SUCCESS && function != NULL) {
        /* A CUfunction belongs to one context; this emulator has one per device. */
        if (function->module->ctx != ctx)
            result = CUDA_ERROR_INVALID_HANDLE;
        else
            function->module->refs++;
        pthread_mutex_unlock(&bf_emu.lock);
        if (result == CUDA_SUCCESS)
            *function_p = function;
        return result;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    if (result != CUDA_SUCCESS)
        return result;

    library = kernel->library;
    index = kernel->index;
    result = bf_emu_library_instance(library, ctx, &module);
    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&bf_emu.lock);
    /* The library may have been unloaded, or the context reset, while it loaded. */
    if (bf_emu_handle_find(module, BF_EMU_HANDLE_MODULE) != module || index >= module->function_count) {
        pthread_mutex_unlock(&bf_emu.lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    module->refs++;
    pthread_mutex_unlock(&bf_emu.lock);
    *function_p = &module->functions[index];
    return CUDA_SUCCESS;
}

/* Checks the cuLaunchKernelEx attributes. Those about scheduling, priorities and caching change
 * nothing on the emulator, where a stream's work runs in order, one grid at a time. */
static CUresult check_launch_attributes(const CUlaunchAttribute *attrs, unsigned int count)
{
    if (count > 0 && attrs == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned int i = 0; i < count; i++) {
        const CUlaunchAttribute *attr = &attrs[i];

        switch (attr->id) {
        case CU_LAUNCH_ATTRIBUTE_IGNORE:
        case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
        case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
        case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
        case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
        case CU_LAUNCH_ATTRIBUTE_PRIORITY:
        case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
        case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
        case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
        case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
            break;
        case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
        case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
            if (attr->value.clusterDim.x * attr->value.clusterDim.y * attr->value.clusterDim.z > 1) {
                bf_log_error("openbf emulator: thread-block clusters are not supported by the emulated device");
                return CUDA_ERROR_NOT_SUPPORTED;
            }
            break;
        default:
            bf_log_error("openbf emulator: launch attribute %d is not supported", (int)attr->id);
            return CUDA_ERROR_NOT_SUPPORTED;
        }
    }
    return CUDA_SUCCESS;
}

static CUresult launch(CUfunction f, const unsigned int grid[3], const unsigned int block[3], unsigned int shared,
                       CUstream hStream, bool per_thread, void **kernel_params, void **extra)
{
    launch_work_t work = {0};
    bf_emu_function_t *function;
    bf_emu_stream_t *stream;
    bf_emu_func_settings_t settings;
    const char *name;
    bf_status_t status;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    result = bf_emu_stream_get(hStream, per_thread, &stream);
    if (result != CUDA_SUCCESS)
        return result;
    work.ctx = bf_emu_stream_ctx(stream);
    result = launch_function(f, work.ctx, &function);
    if (result != CUDA_SUCCESS)
        goto err_put_stream;
    work.module = function->module;
    work.kernel = function->kernel;
    name = bf_ptx_kernel_name(function->kernel);
    pthread_mutex_lock(&bf_emu.lock);
    settings = *function->settings;
    pthread_mutex_unlock(&bf_emu.lock);

    result = check_config(name, grid, block, shared, &function->attrs, &settings);
    if (result != CUDA_SUCCESS)
        goto err_release_module;
    result = build_params(function->kernel, kernel_params, extra, &work.params, &work.params_size);
    if (result != CUDA_SUCCESS)
        goto err_release_module;
    memcpy(work.grid, grid, sizeof(work.grid));
    memcpy(work.block, block, sizeof(work.block));
    work.dynamic_shared = shared;
    bf_log_debug("launch %s <<<(%u,%u,%u), (%u,%u,%u), %u>>> with %zu parameter bytes", name, grid[0], grid[1],
                 grid[2], block[0], block[1], block[2], shared, work.params_size);
    /* NVIDIA's driver flushes the printf buffer at the start of a launch too. */
    bf_emu_devrt_flush();
    /* From here the work owns the parameters and the module reference. */
    status = bf_emu_stream_enqueue(stream, launch_run, &work, sizeof(work));
    if (status != BF_OK) {
        free(work.params);
        result = bf_status_to_cu(status);
        goto err_release_module;
    }
    bf_emu_stream_put(stream);
    /* The grid has usually run by now, in this thread: report its fault at once. */
    pthread_mutex_lock(&bf_emu.lock);
    result = work.ctx->sticky_error;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;

err_release_module:
    bf_emu_module_release(work.module);
err_put_stream:
    bf_emu_stream_put(stream);
    return result;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                        unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)
{
    const unsigned int grid[3] = {gridDimX, gridDimY, gridDimZ}, block[3] = {blockDimX, blockDimY, blockDimZ};

    return launch(f, grid, block, sharedMemBytes, hStream, false, kernelParams, extra);
}

CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                             unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                             unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)
{
    const unsigned int grid[3] = {gridDimX, gridDimY, gridDimZ}, block[3] = {blockDimX, blockDimY, blockDimZ};

    return launch(f, grid, block, sharedMemBytes, hStream, true, kernelParams, extra);
}

static CUresult launch_ex(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra,
                          bool per_thread)
{
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (config == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    result = check_launch_attributes(config->attrs, config->numAttrs);
    if (result != CUDA_SUCCESS)
        return result;
    const unsigned int grid[3] = {config->gridDimX, config->gridDimY, config->gridDimZ};
    const unsigned int block[3] = {config->blockDimX, config->blockDimY, config->blockDimZ};
    return launch(f, grid, block, config->sharedMemBytes, config->hStream, per_thread, kernelParams, extra);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, false);
}

CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, true);
}
