/*
 * module.c: libraries, modules, kernels and functions (cuLibrary*, cuModule*, cuKernel*, cuFunc*).
 *
 * Loading is one waited call (engine/code.c ships the image once per content hash); everything
 * else about a kernel (name, parameters, attributes) is answered here from the load's reply. A
 * CUfunction is the same object as its CUkernel, so either handle works wherever a function is
 * expected. Modules are libraries bound to the current context's device; they are not unloaded when
 * that context is reset (a documented difference: the worker keeps the library).
 */
#include "driver.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bf_log.h"
#include "code.h"

/* Attributes cuFuncSetAttribute/cuKernelSetAttribute may change. */
static bool attribute_settable(CUfunction_attribute attrib)
{
    switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
        return true;
    default:
        return false;
    }
}

static CUresult current_device(int *device_p)
{
    bf_cl_ctx_t *ctx;
    CUresult res = bf_cl_ctx_current(&ctx);

    if (res == CUDA_SUCCESS)
        *device_p = bf_cl_ctx_device(ctx);
    return res;
}

/* Reads a whole file (cuModuleLoad, cuLibraryLoadFromFile), NUL-terminated for PTX text. */
static CUresult read_file(const char *path, void **data_p)
{
    struct stat st;
    int fd;

    if (path == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CUDA_ERROR_FILE_NOT_FOUND;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (off_t)BF_PROTO_MAX_TAIL) {
        close(fd);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    char *data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        close(fd);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        free(data);
        return CUDA_ERROR_FILE_NOT_FOUND;
    }
    data[got] = 0;
    *data_p = data;
    return CUDA_SUCCESS;
}

/* ---- libraries ------------------------------------------------------------------------------ */

BF_API CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                                  void **jitOptionsValues, unsigned int numJitOptions,
                                  CUlibraryOption *libraryOptions, void **libraryOptionValues,
                                  unsigned int numLibraryOptions)
{
    bf_cl_library_t *lib;

    /* JIT and library options change nothing: the image is copied as it is shipped. */
    (void)jitOptions, (void)jitOptionsValues, (void)numJitOptions;
    (void)libraryOptions, (void)libraryOptionValues, (void)numLibraryOptions;
    BF_CHECK_INIT();
    if (library == NULL || code == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_load(code, 0, 0, &lib);
    if (res == CUDA_SUCCESS)
        *library = (CUlibrary)lib;
    return res;
}

BF_API CUresult cuLibraryLoadFromFile(CUlibrary *library, const char *fileName,
                                      CUjit_option *jitOptions, void **jitOptionsValues,
                                      unsigned int numJitOptions, CUlibraryOption *libraryOptions,
                                      void **libraryOptionValues, unsigned int numLibraryOptions)
{
    void *data;

    BF_CHECK_INIT();
    if (library == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = read_file(fileName, &data);
    if (res != CUDA_SUCCESS)
        return res;
    res = cuLibraryLoadData(library, data, jitOptions, jitOptionsValues, numJitOptions,
                            libraryOptions, libraryOptionValues, numLibraryOptions);
    free(data);
    return res;
}

BF_API CUresult cuLibraryUnload(CUlibrary library)
{
    bf_cl_library_t *lib;

    BF_CHECK_INIT();
    CUresult res = bf_cl_code_library(library, 0, &lib);
    return res == CUDA_SUCCESS ? bf_cl_code_unload(lib) : res;
}

BF_API CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
    bf_cl_library_t *lib;
    bf_cl_kernel_t *k;

    BF_CHECK_INIT();
    if (pKernel == NULL || name == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(library, 0, &lib);
    if (res == CUDA_SUCCESS)
        res = bf_cl_code_find_kernel(lib, name, &k);
    if (res == CUDA_SUCCESS)
        *pKernel = (CUkernel)k;
    return res;
}

BF_API CUresult cuLibraryGetKernelCount(unsigned int *count, CUlibrary library)
{
    bf_cl_library_t *lib;

    BF_CHECK_INIT();
    if (count == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(library, 0, &lib);
    if (res == CUDA_SUCCESS)
        *count = lib->kernel_count;
    return res;
}

BF_API CUresult cuLibraryEnumerateKernels(CUkernel *kernels, unsigned int numKernels,
                                          CUlibrary library)
{
    bf_cl_library_t *lib;

    BF_CHECK_INIT();
    if (kernels == NULL || numKernels == 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(library, 0, &lib);
    if (res != CUDA_SUCCESS)
        return res;
    for (unsigned int i = 0; i < numKernels && i < lib->kernel_count; i++)
        kernels[i] = (CUkernel)lib->kernels[i];
    return CUDA_SUCCESS;
}

BF_API CUresult cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary library,
                                   const char *name)
{
    bf_cl_library_t *lib;
    uint64_t addr, size;
    int device;

    BF_CHECK_INIT();
    if (name == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(library, 0, &lib);
    if (res == CUDA_SUCCESS)
        res = current_device(&device);
    if (res == CUDA_SUCCESS)
        res = bf_cl_code_global(lib, device, name, &addr, &size);
    if (res != CUDA_SUCCESS)
        return res;
    if (dptr != NULL)
        *dptr = addr;
    if (bytes != NULL)
        *bytes = size;
    return CUDA_SUCCESS;
}

BF_API CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary library,
                                    const char *name)
{
    (void)dptr, (void)bytes, (void)library, (void)name;
    BF_CHECK_INIT();
    return bf_unsupported("cuLibraryGetManaged (__managed__ variables)");
}

/* ---- kernels -------------------------------------------------------------------------------- */

BF_API CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
    bf_cl_kernel_t *k;
    int device;

    BF_CHECK_INIT();
    if (pFunc == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = current_device(&device);
    if (res == CUDA_SUCCESS)
        res = bf_cl_code_kernel(kernel, &k);
    if (res == CUDA_SUCCESS)
        *pFunc = (CUfunction)k;  /* the same object: a function of every context */
    return res;
}

BF_API CUresult cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel)
{
    bf_cl_kernel_t *k;

    BF_CHECK_INIT();
    if (pLib == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_kernel(kernel, &k);
    if (res == CUDA_SUCCESS && k->lib->is_module)
        res = CUDA_ERROR_INVALID_HANDLE;
    if (res == CUDA_SUCCESS)
        *pLib = (CUlibrary)k->lib;
    return res;
}

static CUresult get_name(const char **name, const void *handle)
{
    bf_cl_kernel_t *k;

    BF_CHECK_INIT();
    if (name == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_kernel(handle, &k);
    if (res == CUDA_SUCCESS)
        *name = k->name;
    return res;
}

BF_API CUresult cuKernelGetName(const char **name, CUkernel hfunc)
{
    return get_name(name, hfunc);
}

BF_API CUresult cuFuncGetName(const char **name, CUfunction hfunc)
{
    return get_name(name, hfunc);
}

static CUresult get_param_info(const void *handle, size_t index, size_t *offset, size_t *size)
{
    bf_cl_kernel_t *k;

    BF_CHECK_INIT();
    CUresult res = bf_cl_code_kernel(handle, &k);
    if (res != CUDA_SUCCESS)
        return res;
    if (index >= k->param_count)
        return CUDA_ERROR_INVALID_VALUE;
    if (offset != NULL)
        *offset = k->params[index].offset;
    if (size != NULL)
        *size = k->params[index].size;
    return CUDA_SUCCESS;
}

BF_API CUresult cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex, size_t *paramOffset,
                                     size_t *paramSize)
{
    return get_param_info(kernel, paramIndex, paramOffset, paramSize);
}

BF_API CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset,
                                   size_t *paramSize)
{
    return get_param_info(func, paramIndex, paramOffset, paramSize);
}

static CUresult get_attribute(int *pi, CUfunction_attribute attrib, const void *handle)
{
    bf_cl_kernel_t *k;

    BF_CHECK_INIT();
    if (pi == NULL || (int)attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX ||
        (int)attrib >= BF_CODE_FUNC_ATTRS)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_kernel(handle, &k);
    if (res == CUDA_SUCCESS)
        *pi = k->attrs[attrib];
    return res;
}

BF_API CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel kernel,
                                     CUdevice dev)
{
    BF_CHECK_INIT();
    CUresult res = bf_dev_check(dev);
    return res == CUDA_SUCCESS ? get_attribute(pi, attrib, kernel) : res;
}

BF_API CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
    return get_attribute(pi, attrib, hfunc);
}

static CUresult set_attribute(const void *handle, CUfunction_attribute attrib, int value, int device)
{
    bf_cl_kernel_t *k;

    CUresult res = bf_cl_code_kernel(handle, &k);
    if (res != CUDA_SUCCESS)
        return res;
    if ((int)attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX || !attribute_settable(attrib))
        return CUDA_ERROR_INVALID_VALUE;
    if (attrib == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
        const bf_proto_device_t *d = bf_cl_device(device);
        int optin = d->attributes[CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN];
        if (value < 0 || value > optin - k->attrs[CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES])
            return CUDA_ERROR_INVALID_VALUE;
    }
    if (attrib == CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT && (value < -1 || value > 100))
        return CUDA_ERROR_INVALID_VALUE;
    return bf_cl_code_set_attribute(k, attrib, value, device);
}

BF_API CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel,
                                     CUdevice dev)
{
    BF_CHECK_INIT();
    CUresult res = bf_dev_check(dev);
    return res == CUDA_SUCCESS ? set_attribute(kernel, attrib, val, dev) : res;
}

BF_API CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
    int device;

    BF_CHECK_INIT();
    CUresult res = current_device(&device);
    return res == CUDA_SUCCESS ? set_attribute(hfunc, attrib, value, device) : res;
}

/* The cache preference is a hint the emulator (and this front) records nowhere that matters. */
static CUresult check_cache_config(const void *handle, CUfunc_cache config)
{
    bf_cl_kernel_t *k;

    CUresult res = bf_cl_code_kernel(handle, &k);
    if (res != CUDA_SUCCESS)
        return res;
    return (int)config >= CU_FUNC_CACHE_PREFER_NONE && config <= CU_FUNC_CACHE_PREFER_EQUAL
               ? CUDA_SUCCESS
               : CUDA_ERROR_INVALID_VALUE;
}

BF_API CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config, CUdevice dev)
{
    BF_CHECK_INIT();
    CUresult res = bf_dev_check(dev);
    return res == CUDA_SUCCESS ? check_cache_config(kernel, config) : res;
}

BF_API CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)
{
    BF_CHECK_INIT();
    return check_cache_config(hfunc, config);
}

/* ---- modules -------------------------------------------------------------------------------- */

static CUresult module_load(CUmodule *module, const void *image)
{
    bf_cl_library_t *lib;
    int device;

    BF_CHECK_INIT();
    if (module == NULL || image == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = current_device(&device);
    if (res == CUDA_SUCCESS)
        res = bf_cl_code_load(image, 1, device, &lib);
    if (res == CUDA_SUCCESS)
        *module = (CUmodule)lib;
    return res;
}

BF_API CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    return module_load(module, image);
}

BF_API CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                   CUjit_option *options, void **optionValues)
{
    /* JIT options ask for logs and limits the worker's driver applies its own way; an empty log is
     * what a successful load leaves, so the log buffers are cleared. */
    for (unsigned int i = 0; options != NULL && optionValues != NULL && i < numOptions; i++) {
        if ((options[i] == CU_JIT_INFO_LOG_BUFFER || options[i] == CU_JIT_ERROR_LOG_BUFFER) &&
            optionValues[i] != NULL)
            *(char *)optionValues[i] = 0;
    }
    return module_load(module, image);
}

BF_API CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    return module_load(module, fatCubin);
}

BF_API CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    void *data;

    BF_CHECK_INIT();
    if (module == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = read_file(fname, &data);
    if (res != CUDA_SUCCESS)
        return res;
    res = module_load(module, data);
    free(data);
    return res;
}

BF_API CUresult cuModuleUnload(CUmodule hmod)
{
    bf_cl_library_t *lib;

    BF_CHECK_INIT();
    CUresult res = bf_cl_code_library(hmod, 1, &lib);
    return res == CUDA_SUCCESS ? bf_cl_code_unload(lib) : res;
}

BF_API CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    bf_cl_library_t *lib;
    bf_cl_kernel_t *k;

    BF_CHECK_INIT();
    if (hfunc == NULL || name == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(hmod, 1, &lib);
    if (res == CUDA_SUCCESS)
        res = bf_cl_code_find_kernel(lib, name, &k);
    if (res == CUDA_SUCCESS)
        *hfunc = (CUfunction)k;
    return res;
}

BF_API CUresult cuModuleGetFunctionCount(unsigned int *count, CUmodule mod)
{
    bf_cl_library_t *lib;

    BF_CHECK_INIT();
    if (count == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(mod, 1, &lib);
    if (res == CUDA_SUCCESS)
        *count = lib->kernel_count;
    return res;
}

BF_API CUresult cuModuleEnumerateFunctions(CUfunction *functions, unsigned int numFunctions,
                                           CUmodule mod)
{
    bf_cl_library_t *lib;

    BF_CHECK_INIT();
    if (functions == NULL || numFunctions == 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(mod, 1, &lib);
    if (res != CUDA_SUCCESS)
        return res;
    for (unsigned int i = 0; i < numFunctions && i < lib->kernel_count; i++)
        functions[i] = (CUfunction)lib->kernels[i];
    return CUDA_SUCCESS;
}

BF_API CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod,
                                     const char *name)
{
    bf_cl_library_t *lib;
    uint64_t addr, size;

    BF_CHECK_INIT();
    if (name == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(hmod, 1, &lib);
    if (res == CUDA_SUCCESS)
        res = bf_cl_code_global(lib, lib->device, name, &addr, &size);
    if (res != CUDA_SUCCESS)
        return res;
    if (dptr != NULL)
        *dptr = addr;
    if (bytes != NULL)
        *bytes = size;
    return CUDA_SUCCESS;
}

/* A library's kernels live in a module of each context: a view of the library (engine/code.c). */
BF_API CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc)
{
    bf_cl_library_t *mod;
    bf_cl_kernel_t *k;
    int device = 0;

    BF_CHECK_INIT();
    if (hmod == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_kernel(hfunc, &k);
    if (res == CUDA_SUCCESS && !k->lib->is_module)
        res = current_device(&device);
    if (res == CUDA_SUCCESS)
        res = bf_cl_code_module_of(k->lib, device, &mod);
    if (res == CUDA_SUCCESS)
        *hmod = (CUmodule)mod;
    return res;
}

BF_API CUresult cuLibraryGetModule(CUmodule *pMod, CUlibrary library)
{
    bf_cl_library_t *lib, *mod;
    int device;

    BF_CHECK_INIT();
    if (pMod == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult res = bf_cl_code_library(library, 0, &lib);
    if (res == CUDA_SUCCESS)
        res = current_device(&device);
    if (res == CUDA_SUCCESS)
        res = bf_cl_code_module_of(lib, device, &mod);
    if (res == CUDA_SUCCESS)
        *pMod = (CUmodule)mod;
    return res;
}
