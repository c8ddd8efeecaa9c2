/*
 * library.c: context-independent code (cuLibrary*, cuKernel*), which is how cudart 12+ loads the
 * fatbins of a program: cuLibraryLoadData with the fatbin wrapper, cuLibraryGetKernel per kernel,
 * and cuLaunchKernel with the CUkernel passed as its CUfunction.
 *
 * A library keeps its PTX text and one parse of it, which answers names, parameters and attributes
 * without any context. Device state (globals, runnable functions) comes from the library's module
 * in a context, loaded the first time a call needs it there; a context's deactivation unloads that
 * module and the next use loads a fresh one, with fresh globals, as the driver does.
 */
#include "module.h"

#include <stdlib.h>
#include <string.h>

#include "bf_log.h"

CUresult bf_emu_library_instance(bf_emu_library_t *library, bf_emu_ctx_t *ctx, bf_emu_module_t **module_p)
{
    bf_emu_module_t *module, *raced;
    CUresult result;

    pthread_mutex_lock(&bf_emu.lock);
    module = library->loaded[ctx->device];
    pthread_mutex_unlock(&bf_emu.lock);
    if (module != NULL) {
        *module_p = module;
        return CUDA_SUCCESS;
    }
    result = bf_emu_module_load_text(ctx, &library->ptx, library, NULL, 0, &module);
    if (result != CUDA_SUCCESS)
        return result;
    /* Two threads may load the same library at once: the first to finish wins, the other's copy
     * goes. */
    pthread_mutex_lock(&bf_emu.lock);
    raced = library->loaded[ctx->device];
    if (raced == NULL) {
        library->loaded[ctx->device] = module;
    } else {
        bf_emu_module_unload_locked(module);
        module = raced;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    *module_p = module;
    return CUDA_SUCCESS;
}

/* Looks a library handle up; takes the lock, which the caller releases. */
static CUresult library_locked(CUlibrary handle, bf_emu_library_t **library_p)
{
    bf_emu_library_t *library;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    library = bf_emu_handle_find(handle, BF_EMU_HANDLE_LIBRARY);
    if (library == NULL || library->cookie != BF_EMU_LIBRARY_COOKIE) {
        pthread_mutex_unlock(&bf_emu.lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    *library_p = library;
    return CUDA_SUCCESS;
}

/* Looks a kernel handle up; takes the lock, which the caller releases. */
static CUresult kernel_locked(CUkernel handle, bf_emu_kernel_t **kernel_p)
{
    bf_emu_kernel_t *kernel;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    kernel = bf_emu_handle_find(handle, BF_EMU_HANDLE_KERNEL);
    if (kernel == NULL || kernel->cookie != BF_EMU_KERNEL_COOKIE) {
        pthread_mutex_unlock(&bf_emu.lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    *kernel_p = kernel;
    return CUDA_SUCCESS;
}

static void library_destroy(bf_emu_library_t *library)
{
    bf_ptx_module_free(library->meta);
    free(library->ptx.text);
    free(library->kernels);
    free(library);
}

/* --- loading --------------------------------------------------------------------------------- */

static bool options_valid(const void *keys, const void *values, unsigned int count)
{
    return count == 0 || (keys != NULL && values != NULL);
}

/* Makes a library of an image; len 0 for a bare pointer, sized by its own headers. */
static CUresult library_load(CUlibrary *library_p, const void *image, size_t len)
{
    bf_emu_library_t *library;
    bf_status_t status;
    CUresult result;

    bf_emu_devrt_flush(); /* library load and unload are flush points of device printf */
    library = calloc(1, sizeof(*library));
    if (library == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    status = bf_emu_image_load_ptx(image, len, bf_emu_module_cc(&bf_emu.devices[0]), &library->ptx);
    if (status != BF_OK) {
        free(library);
        return bf_emu_image_result(status);
    }
    result = bf_emu_ptx_parse(&library->ptx, &library->meta, NULL, 0);
    if (result != CUDA_SUCCESS)
        goto err_destroy;
    library->cookie = BF_EMU_LIBRARY_COOKIE;
    library->target = bf_emu_ptx_target(&library->ptx);
    library->kernel_count = bf_ptx_module_kernel_count(library->meta);
    library->kernels = calloc(library->kernel_count ? library->kernel_count : 1, sizeof(*library->kernels));
    result = CUDA_ERROR_OUT_OF_MEMORY;
    if (library->kernels == NULL)
        goto err_destroy;
    for (size_t i = 0; i < library->kernel_count; i++) {
        bf_emu_kernel_t *kernel = &library->kernels[i];

        kernel->cookie = BF_EMU_KERNEL_COOKIE;
        kernel->library = library;
        kernel->index = i;
        kernel->kernel = bf_ptx_module_kernel(library->meta, i);
        bf_ptx_kernel_attrs(kernel->kernel, &kernel->attrs);
        bf_emu_func_settings_init(&kernel->settings, &kernel->attrs);
    }
    pthread_mutex_lock(&bf_emu.lock);
    if (bf_emu_handle_add(library, 1, sizeof(*library), BF_EMU_HANDLE_LIBRARY) != BF_OK)
        goto err_unlock;
    if (bf_emu_handle_add(library->kernels, library->kernel_count, sizeof(*library->kernels),
                          BF_EMU_HANDLE_KERNEL) != BF_OK) {
        bf_emu_handle_remove(library);
        goto err_unlock;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    bf_log_debug("library %p: %zu kernels (sm_%d PTX)", (void *)library, library->kernel_count, library->target);
    *library_p = (CUlibrary)library;
    return CUDA_SUCCESS;

err_unlock:
    pthread_mutex_unlock(&bf_emu.lock);
err_destroy:
    library_destroy(library);
    return result;
}

/* The JIT and library options (cudart passes CU_LIBRARY_BINARY_IS_PRESERVED) change nothing
 * here: the emulator copies the PTX it needs and has no code generator to tune. */
CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions, void **jitOptionsValues,
                           unsigned int numJitOptions, CUlibraryOption *libraryOptions,
                           void **libraryOptionValues, unsigned int numLibraryOptions)
{
    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (library == NULL || code == NULL || !options_valid(jitOptions, jitOptionsValues, numJitOptions) ||
        !options_valid(libraryOptions, libraryOptionValues, numLibraryOptions))
        return CUDA_ERROR_INVALID_VALUE;
    return library_load(library, code, 0);
}

CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName, CUjit_option *jitOptions,
                               void **jitOptionsValues, unsigned int numJitOptions, CUlibraryOption *libraryOptions,
                               void **libraryOptionValues, unsigned int numLibraryOptions)
{
    uint8_t *data;
    size_t len;
    CUresult result;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (library == NULL || fileName == NULL || !options_valid(jitOptions, jitOptionsValues, numJitOptions) ||
        !options_valid(libraryOptions, libraryOptionValues, numLibraryOptions))
        return CUDA_ERROR_INVALID_VALUE;
    result = bf_emu_read_file(fileName, &data, &len);
    if (result != CUDA_SUCCESS)
        return result;
    result = len == 0 ? CUDA_ERROR_INVALID_IMAGE : library_load(library, data, len);
    free(data);
    return result;
}

CUresult cuLibraryUnload(CUlibrary handle)
{
    bf_emu_library_t *library;
    CUresult result;

    bf_emu_devrt_flush();
    result = library_locked(handle, &library);
    if (result != CUDA_SUCCESS)
        return result;
    bf_emu_handle_remove(library);
    bf_emu_handle_remove(library->kernels);
    for (int i = 0; i < BF_EMU_DEVICE_COUNT; i++) {
        if (library->loaded[i] != NULL)
            bf_emu_module_unload_locked(library->loaded[i]);
    }
    library->cookie = 0;
    pthread_mutex_unlock(&bf_emu.lock);
    library_destroy(library);
    return CUDA_SUCCESS;
}

/* --- kernels --------------------------------------------------------------------------------- */

CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary handle, const char *name)
{
    bf_emu_library_t *library;
    CUresult result = library_locked(handle, &library);

    if (result != CUDA_SUCCESS)
        return result;
    result = CUDA_ERROR_INVALID_VALUE;
    if (pKernel != NULL && name != NULL) {
        result = CUDA_ERROR_NOT_FOUND;
        for (size_t i = 0; i < library->kernel_count; i++) {
            if (strcmp(bf_ptx_kernel_name(library->kernels[i].kernel), name) == 0) {
                *pKernel = (CUkernel)&library->kernels[i];
                result = CUDA_SUCCESS;
                break;
            }
        }
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuLibraryGetKernelCount(unsigned int *count, CUlibrary lib)
{
    bf_emu_library_t *library;
    CUresult result = library_locked(lib, &library);

    if (result != CUDA_SUCCESS)
        return result;
    if (count == NULL)
        result = CUDA_ERROR_INVALID_VALUE;
    else
        *count = (unsigned int)library->kernel_count;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuLibraryEnumerateKernels(CUkernel *kernels, unsigned int numKernels, CUlibrary lib)
{
    bf_emu_library_t *library;
    CUresult result = library_locked(lib, &library);

    if (result != CUDA_SUCCESS)
        return result;
    if (kernels == NULL) {
        result = CUDA_ERROR_INVALID_VALUE;
    } else {
        for (size_t i = 0; i < library->kernel_count && i < numKernels; i++)
            kernels[i] = (CUkernel)&library->kernels[i];
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuKernelGetLibrary(CUlibrary *pLib, CUkernel handle)
{
    bf_emu_kernel_t *kernel;
    CUresult result = kernel_locked(handle, &kernel);

    if (result != CUDA_SUCCESS)
        return result;
    if (pLib == NULL)
        result = CUDA_ERROR_INVALID_VALUE;
    else
        *pLib = (CUlibrary)kernel->library;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuKernelGetName(const char **name, CUkernel handle)
{
    bf_emu_kernel_t *kernel;
    CUresult result = kernel_locked(handle, &kernel);

    if (result != CUDA_SUCCESS)
        return result;
    if (name == NULL)
        result = CUDA_ERROR_INVALID_VALUE;
    else
        *name = bf_ptx_kernel_name(kernel->kernel);
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuKernelGetParamInfo(CUkernel handle, size_t paramIndex, size_t *paramOffset, size_t *paramSize)
{
    bf_emu_kernel_t *kernel;
    size_t offset, size;
    CUresult result = kernel_locked(handle, &kernel);

    if (result != CUDA_SUCCESS)
        return result;
    /* Past the last parameter is INVALID_VALUE: callers count parameters by probing until then. */
    if (paramOffset == NULL || paramIndex >= bf_ptx_kernel_param_count(kernel->kernel)) {
        result = CUDA_ERROR_INVALID_VALUE;
    } else {
        bf_ptx_kernel_param(kernel->kernel, paramIndex, &offset, &size);
        *paramOffset = offset;
        if (paramSize != NULL)
            *paramSize = size;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

/* Checks the device argument of the cuKernel*Attribute calls. */
static CUresult kernel_device(CUdevice dev)
{
    bf_emu_device_t *device;

    return bf_emu_device_checked(dev, &device);
}

CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel handle, CUdevice dev)
{
    bf_emu_kernel_t *kernel;
    CUresult result = kernel_device(dev);

    if (result != CUDA_SUCCESS)
        return result;
    result = kernel_locked(handle, &kernel);
    if (result != CUDA_SUCCESS)
        return result;
    if (pi == NULL)
        result = CUDA_ERROR_INVALID_VALUE;
    else
        result = bf_emu_func_attribute_get(&kernel->attrs, &kernel->settings, attrib, pi);
    /* The PTX target is the library's, which the kernel's own attributes do not carry. */
    if (result == CUDA_SUCCESS && attrib == CU_FUNC_ATTRIBUTE_PTX_VERSION)
        *pi = kernel->library->target;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel handle, CUdevice dev)
{
    bf_emu_kernel_t *kernel;
    CUresult result = kernel_device(dev);

    if (result != CUDA_SUCCESS)
        return result;
    result = kernel_locked(handle, &kernel);
    if (result != CUDA_SUCCESS)
        return result;
    result = bf_emu_func_attribute_set(&kernel->attrs, &kernel->settings, attrib, val);
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuKernelSetCacheConfig(CUkernel handle, CUfunc_cache config, CUdevice dev)
{
    bf_emu_kernel_t *kernel;
    CUresult result = kernel_device(dev);

    if (result != CUDA_SUCCESS)
        return result;
    result = kernel_locked(handle, &kernel);
    if (result != CUDA_SUCCESS)
        return result;
    if (!bf_emu_func_cache_valid(config))
        result = CUDA_ERROR_INVALID_VALUE;
    else
        kernel->settings.cache_config = config;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

/* --- device state in the current context ----------------------------------------------------- */

/* Whether module is still one of the library's loaded modules (it may be freed otherwise: compare
 * the pointer only). Lock held. */
static bool library_has(const bf_emu_library_t *library, const bf_emu_module_t *module)
{
    for (int i = 0; i < BF_EMU_DEVICE_COUNT; i++) {
        if (library->loaded[i] == module)
            return true;
    }
    return false;
}

/* The library's module in the current context: the library is looked up again under the lock
 * after the load, since another thread may have unloaded it meanwhile. */
static CUresult library_current(CUlibrary handle, bf_emu_library_t **library_p, bf_emu_module_t **module_p)
{
    bf_emu_library_t *library;
    bf_emu_ctx_t *ctx;
    CUresult result = bf_emu_ctx_resolve(NULL, true, &ctx);

    if (result != CUDA_SUCCESS)
        return result;
    result = library_locked(handle, &library);
    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_unlock(&bf_emu.lock);
    result = bf_emu_library_instance(library, ctx, module_p);
    if (result != CUDA_SUCCESS)
        return result;
    *library_p = library;
    return CUDA_SUCCESS;
}

CUresult cuLibraryGetModule(CUmodule *pMod, CUlibrary handle)
{
    bf_emu_library_t *library;
    bf_emu_module_t *module;
    CUresult result;

    if (pMod == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = library_current(handle, &library, &module);
    if (result == CUDA_SUCCESS)
        *pMod = (CUmodule)module;
    return result;
}

CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel handle)
{
    bf_emu_module_t *module;
    bf_emu_kernel_t *kernel;
    bf_emu_ctx_t *ctx;
    size_t index;
    CUresult result;

    if (pFunc == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = bf_emu_ctx_resolve(NULL, true, &ctx);
    if (result != CUDA_SUCCESS)
        return result;
    result = kernel_locked(handle, &kernel);
    if (result != CUDA_SUCCESS)
        return result;
    index = kernel->index;
    pthread_mutex_unlock(&bf_emu.lock);
    result = bf_emu_library_instance(kernel->library, ctx, &module);
    if (result != CUDA_SUCCESS)
        return result;
    if (index >= module->function_count)
        return CUDA_ERROR_INVALID_HANDLE;
    *pFunc = (CUfunction)&module->functions[index];
    return CUDA_SUCCESS;
}

CUresult cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary handle, const char *name)
{
    const bf_emu_global_t *global;
    bf_emu_library_t *library;
    bf_emu_module_t *module;
    CUresult result;

    if (name == NULL)
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    result = library_current(handle, &library, &module);
    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_lock(&bf_emu.lock);
    /* Another thread may have unloaded the library, or reset the context, since the load. */
    if (bf_emu_handle_find(library, BF_EMU_HANDLE_LIBRARY) != library || !library_has(library, module)) {
        pthread_mutex_unlock(&bf_emu.lock);
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    }
    global = bf_emu_module_find_global(module, name);
    if (global == NULL) {
        result = CUDA_ERROR_NOT_FOUND;
    } else {
        if (dptr != NULL)
            *dptr = global->dptr;
        if (bytes != NULL)
            *bytes = global->size;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary handle, const char *name)
{
    bf_emu_library_t *library;
    CUresult result = library_locked(handle, &library);

    (void)dptr;
    (void)bytes;
    if (result != CUDA_SUCCESS)
        return result;
    pthread_mutex_unlock(&bf_emu.lock);
    if (name == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    bf_log_error("openbf emulator: __managed__ variable %s: managed memory is not supported by the emulator yet",
                 name);
    return CUDA_ERROR_NOT_SUPPORTED;
}
