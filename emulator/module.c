/*
 * module.c: modules (cuModuleLoad*, cuModuleUnload, cuModuleGetFunction, cuModuleGetGlobal, ...),
 * the registry of code handles, and what library.c and launch.c share about loading PTX.
 *
 * Loading takes the PTX out of the image (fatbin.c), has the PTX engine parse it, and gives each
 * module-scope .global/.const variable an allocation of the loading context in the device arena,
 * initialised from the PTX and bound into the engine's module: so cuModuleGetGlobal returns a real
 * device pointer that copies, pointer queries and kernels all reach.
 */
#include "module.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf_log.h"

/* Live code objects: [object, object + count * stride) -> type | stride << 8. */
static bf_range_map_t handles;

/* Every loaded module, newest first. */
static bf_emu_module_t *modules;

/* --- handles --------------------------------------------------------------------------------- */

bf_status_t bf_emu_handle_add(const void *first, size_t count, size_t stride, bf_emu_handle_type_t type)
{
    if (count == 0)
        return BF_OK;
    return bf_range_map_insert(&handles, (uint64_t)(uintptr_t)first, (uint64_t)count * stride,
                               (uint64_t)type | (uint64_t)stride << 8);
}

void bf_emu_handle_remove(const void *first)
{
    (void)bf_range_map_remove(&handles, (uint64_t)(uintptr_t)first, NULL);
}

void *bf_emu_handle_find(const void *handle, bf_emu_handle_type_t type)
{
    const uint64_t addr = (uint64_t)(uintptr_t)handle;
    const bf_range_t *range = bf_range_map_find(&handles, addr);
    uint64_t stride;

    if (range == NULL || (range->value & 0xff) != (uint64_t)type)
        return NULL;
    stride = range->value >> 8;
    /* Only the start of an object is a handle, never an address inside one. */
    if ((addr - range->base) % stride != 0)
        return NULL;
    return (void *)(uintptr_t)addr;
}

/* --- shared helpers -------------------------------------------------------------------------- */

int bf_emu_module_cc(const bf_emu_device_t *dev)
{
    return dev->cc_major * 10 + dev->cc_minor;
}

CUresult bf_emu_image_result(bf_status_t status)
{
    switch (status) {
    case BF_OK:
        return CUDA_SUCCESS;
    case BF_NOT_FOUND:
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    case BF_NO_MEMORY:
        return CUDA_ERROR_OUT_OF_MEMORY;
    default:
        return CUDA_ERROR_INVALID_IMAGE;
    }
}

CUresult bf_emu_ptx_parse(const bf_emu_ptx_text_t *ptx, bf_ptx_module_t **parsed_p, char *err, size_t err_len)
{
    char message[512] = "";
    bf_status_t status = bf_ptx_module_load(ptx->text, ptx->len, parsed_p, message, sizeof(message));

    if (status == BF_OK)
        return CUDA_SUCCESS;
    if (err != NULL && err_len > 0)
        snprintf(err, err_len, "%s", message);
    if (status == BF_NO_MEMORY)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (status == BF_UNSUPPORTED) {
        bf_log_error("openbf emulator: the PTX engine cannot run this module: %s", message);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    bf_log_error("openbf emulator: invalid PTX: %s", message);
    return CUDA_ERROR_INVALID_PTX;
}

int bf_emu_ptx_target(const bf_emu_ptx_text_t *ptx)
{
    const char *at = memmem(ptx->text, ptx->len, ".target", 7);
    const char *end = ptx->text + ptx->len;
    int target = 0;

    if (at == NULL)
        return 0;
    /* ".target sm_75" or ".target sm_90a, debug": the digits after the first "sm_". */
    for (at += 7; at < end && (*at == ' ' || *at == '\t'); at++)
        ;
    if (end - at < 4 || memcmp(at, "sm_", 3) != 0)
        return 0;
    for (at += 3; at < end && *at >= '0' && *at <= '9' && target < 10000; at++)
        target = target * 10 + (*at - '0');
    return target;
}

CUresult bf_emu_read_file(const char *path, uint8_t **data_p, size_t *len_p)
{
    FILE *file;
    uint8_t *data = NULL;
    size_t len = 0, cap = 0, got;

    if (path == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    file = fopen(path, "rb");
    if (file == NULL) {
        bf_log_error("cannot open module file '%s': %s", path, strerror(errno));
        return CUDA_ERROR_FILE_NOT_FOUND;
    }
    /* Read until EOF rather than trusting a size: the path may name a pipe. */
    do {
        if (cap - len < 65536) {
            uint8_t *bigger = realloc(data, cap * 2 + 65536 + 1);

            if (bigger == NULL) {
                free(data);
                fclose(file);
                return CUDA_ERROR_OUT_OF_MEMORY;
            }
            data = bigger;
            cap = cap * 2 + 65536;
        }
        got = fread(data + len, 1, cap - len, file);
        len += got;
    } while (got > 0);
    if (ferror(file)) {
        bf_log_error("cannot read module file '%s': %s", path, strerror(errno));
        free(data);
        fclose(file);
        return CUDA_ERROR_FILE_NOT_FOUND;
    }
    fclose(file);
    data[len] = 0;
    *data_p = data;
    *len_p = len;
    return CUDA_SUCCESS;
}

/* --- loading and unloading ------------------------------------------------------------------- */

/* Frees a module's own memory; its globals and handles are already gone. */
static void module_destroy(bf_emu_module_t *module)
{
    bf_ptx_module_free(module->ptx);
    free(module->functions);
    free(module->globals);
    free(module);
}

/* Gives each module-scope variable its allocation, with its initial bytes. Lock held. On failure
 * the allocations made so far are freed. */
static CUresult module_place_globals(bf_emu_module_t *module, bf_emu_arena_t *arena)
{
    size_t placed = 0;

    for (; placed < module->global_count; placed++) {
        bf_emu_global_t *global = &module->globals[placed];
        const void *init = NULL;
        int is_const = 0;
        bf_status_t status;

        bf_ptx_module_global(module->ptx, placed, &global->name, &global->size, &init, &is_const);
        /* A zero-sized variable still needs an address of its own. */
        status = bf_emu_arena_alloc(arena, global->size ? global->size : 1, module->ctx, &global->dptr);
        if (status != BF_OK) {
            bf_log_error("no device memory for %s variable %s of %zu bytes", is_const ? ".const" : ".global",
                         global->name, global->size);
            goto err_free_globals;
        }
        if (init != NULL)
            memcpy((void *)(uintptr_t)global->dptr, init, global->size);
        else
            memset((void *)(uintptr_t)global->dptr, 0, global->size);
        bf_ptx_module_bind_global(module->ptx, placed, global->dptr);
    }
    return CUDA_SUCCESS;

err_free_globals:
    while (placed-- > 0)
        (void)bf_emu_arena_free(arena, module->globals[placed].dptr);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult bf_emu_module_load_text(bf_emu_ctx_t *ctx, const bf_emu_ptx_text_t *ptx, bf_emu_library_t *library,
                                 char *err, size_t err_len, bf_emu_module_t **module_p)
{
    bf_emu_arena_t *arena = &bf_emu.devices[ctx->device].arena;
    bf_emu_module_t *module;
    CUresult result;

    module = calloc(1, sizeof(*module));
    if (module == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    result = bf_emu_ptx_parse(ptx, &module->ptx, err, err_len);
    if (result != CUDA_SUCCESS)
        goto err_free_module;
    module->cookie = BF_EMU_MODULE_COOKIE;
    module->ctx = ctx;
    module->library = library;
    module->target = bf_emu_ptx_target(ptx);
    module->refs = 1;
    module->function_count = bf_ptx_module_kernel_count(module->ptx);
    module->global_count = bf_ptx_module_global_count(module->ptx);
    module->functions = calloc(module->function_count ? module->function_count : 1, sizeof(*module->functions));
    module->globals = calloc(module->global_count ? module->global_count : 1, sizeof(*module->globals));
    result = CUDA_ERROR_OUT_OF_MEMORY;
    if (module->functions == NULL || module->globals == NULL)
        goto err_destroy;
    for (size_t i = 0; i < module->function_count; i++) {
        bf_emu_function_t *function = &module->functions[i];

        function->cookie = BF_EMU_FUNCTION_COOKIE;
        function->module = module;
        function->kernel = bf_ptx_module_kernel(module->ptx, i);
        bf_ptx_kernel_attrs(function->kernel, &function->attrs);
        bf_emu_func_settings_init(&function->own_settings, &function->attrs);
        /* A library's kernels are parsed from the same text, so index i is the same kernel. */
        function->settings = library != NULL && i < library->kernel_count ? &library->kernels[i].settings
                                                                            : &function->own_settings;
    }

    pthread_mutex_lock(&bf_emu.lock);
    if (!ctx->active) {
        result = CUDA_ERROR_CONTEXT_IS_DESTROYED;
        goto err_unlock;
    }
    result = module_place_globals(module, arena);
    if (result != CUDA_SUCCESS)
        goto err_unlock;
    if (bf_emu_handle_add(module, 1, sizeof(*module), BF_EMU_HANDLE_MODULE) != BF_OK)
        goto err_free_globals;
    if (bf_emu_handle_add(module->functions, module->function_count, sizeof(*module->functions),
                          BF_EMU_HANDLE_FUNCTION) != BF_OK)
        goto err_remove_module;
    module->next = modules;
    modules = module;
    pthread_mutex_unlock(&bf_emu.lock);
    bf_log_debug("module %p: %zu kernels, %zu globals (sm_%d PTX)", (void *)module, module->function_count,
                 module->global_count, module->target);
    *module_p = module;
    return CUDA_SUCCESS;

err_remove_module:
    bf_emu_handle_remove(module);
err_free_globals:
    result = CUDA_ERROR_OUT_OF_MEMORY;
    for (size_t i = 0; i < module->global_count; i++)
        (void)bf_emu_arena_free(arena, module->globals[i].dptr);
err_unlock:
    pthread_mutex_unlock(&bf_emu.lock);
err_destroy:
    module_destroy(module);
    return result;
err_free_module:
    free(module);
    return result;
}

void bf_emu_module_unload_locked(bf_emu_module_t *module)
{
    bf_emu_arena_t *arena = &bf_emu.devices[module->ctx->device].arena;

    bf_emu_handle_remove(module);
    bf_emu_handle_remove(module->functions);
    for (bf_emu_module_t **link = &modules; *link != NULL; link = &(*link)->next) {
        if (*link == module) {
            *link = module->next;
            break;
        }
    }
    if (module->library != NULL && module->library->loaded[module->ctx->device] == module)
        module->library->loaded[module->ctx->device] = NULL;
    /* A kernel still running from this module may touch these; it then faults cleanly. */
    for (size_t i = 0; i < module->global_count; i++)
        (void)bf_emu_arena_free(arena, module->globals[i].dptr);
    module->library = NULL;
    if (--module->refs == 0)
        module_destroy(module);
}

void bf_emu_module_release(bf_emu_module_t *module)
{
    pthread_mutex_lock(&bf_emu.lock);
    if (--module->refs == 0)
        module_destroy(module);
    pthread_mutex_unlock(&bf_emu.lock);
}

void bf_emu_module_release_ctx(const bf_emu_ctx_t *ctx)
{
    bf_emu_module_t *module = modules, *next;

    for (; module != NULL; module = next) {
        next = module->next;
        if (module->ctx == ctx)
            bf_emu_module_unload_locked(module);
    }
}

const bf_emu_global_t *bf_emu_module_find_global(const bf_emu_module_t *module, const char *name)
{
    for (size_t i = 0; i < module->global_count; i++) {
        if (strcmp(module->globals[i].name, name) == 0)
            return &module->globals[i];
    }
    return NULL;
}

/* --- entry points ---------------------------------------------------------------------------- */

/* Loads an image into the current context. len 0: a bare pointer, sized by its own headers. */
static CUresult module_load_image(CUmodule *module_p, const void *image, size_t len, char *err, size_t err_len)
{
    bf_emu_ptx_text_t ptx;
    bf_emu_module_t *module;
    bf_emu_ctx_t *ctx;
    bf_status_t status;
    CUresult result = bf_emu_ctx_resolve(NULL, true, &ctx);

    bf_emu_devrt_flush(); /* module load and unload are flush points of device printf */
    if (result != CUDA_SUCCESS)
        return result;
    if (module_p == NULL || image == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    status = bf_emu_image_load_ptx(image, len, bf_emu_module_cc(&bf_emu.devices[ctx->device]), &ptx);
    if (status != BF_OK)
        return bf_emu_image_result(status);
    result = bf_emu_module_load_text(ctx, &ptx, NULL, err, err_len, &module);
    free(ptx.text);
    if (result == CUDA_SUCCESS)
        *module_p = (CUmodule)module;
    return result;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    return module_load_image(module, image, 0, NULL, 0);
}

CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
    return module_load_image(module, fatCubin, 0, NULL, 0);
}

/* Writes a JIT log into the buffer an option names, and the bytes written into the size option,
 * as the driver does: the caller reads its logs from there. */
static void jit_log(unsigned int count, const CUjit_option *options, void **values, CUjit_option buffer_option,
                    CUjit_option size_option, const char *text)
{
    char *buffer = NULL;
    size_t cap = 0;
    int size_index = -1;

    for (unsigned int i = 0; i < count; i++) {
        if (options[i] == buffer_option)
            buffer = values[i];
        else if (options[i] == size_option) {
            cap = (size_t)(uintptr_t)values[i];
            size_index = (int)i;
        }
    }
    if (buffer == NULL || cap == 0 || size_index < 0)
        return;
    snprintf(buffer, cap, "%s", text);
    values[size_index] = (void *)(uintptr_t)(strlen(buffer) + 1);
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions, CUjit_option *options,
                            void **optionValues)
{
    char err[512] = "";
    CUresult result;

    if (numOptions > 0 && (options == NULL || optionValues == NULL))
        return bf_emu_is_initialized() ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_INITIALIZED;
    for (unsigned int i = 0; i < numOptions; i++) {
        if ((int)options[i] < 0 || options[i] >= CU_JIT_NUM_OPTIONS)
            return CUDA_ERROR_INVALID_VALUE;
    }
    /* The other JIT options tune ptxas; the emulator has no code generator for them to tune. */
    result = module_load_image(module, image, 0, err, sizeof(err));
    jit_log(numOptions, options, optionValues, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, err);
    jit_log(numOptions, options, optionValues, CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, "");
    return result;
}

CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
    bf_emu_ctx_t *ctx;
    uint8_t *data;
    size_t len;
    CUresult result = bf_emu_ctx_resolve(NULL, true, &ctx);

    if (result != CUDA_SUCCESS)
        return result;
    if (module == NULL || fname == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    result = bf_emu_read_file(fname, &data, &len);
    if (result != CUDA_SUCCESS)
        return result;
    result = len == 0 ? CUDA_ERROR_INVALID_IMAGE : module_load_image(module, data, len, NULL, 0);
    free(data);
    return result;
}

/* Looks a module handle up for a call; takes the lock, which the caller releases. */
static CUresult module_locked(CUmodule handle, bf_emu_module_t **module_p)
{
    bf_emu_module_t *module;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&bf_emu.lock);
    module = bf_emu_handle_find(handle, BF_EMU_HANDLE_MODULE);
    if (module == NULL || module->cookie != BF_EMU_MODULE_COOKIE) {
        pthread_mutex_unlock(&bf_emu.lock);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    *module_p = module;
    return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule hmod)
{
    bf_emu_module_t *module;
    CUresult result;

    bf_emu_devrt_flush();
    result = module_locked(hmod, &module);
    if (result != CUDA_SUCCESS)
        return result;
    /* A library's module belongs to the library: cuLibraryUnload unloads it. */
    if (module->library != NULL)
        result = CUDA_ERROR_INVALID_HANDLE;
    else
        bf_emu_module_unload_locked(module);
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    bf_emu_module_t *module;
    CUresult result = module_locked(hmod, &module);

    if (result != CUDA_SUCCESS)
        return result;
    result = CUDA_ERROR_INVALID_VALUE;
    if (hfunc != NULL && name != NULL) {
        result = CUDA_ERROR_NOT_FOUND;
        for (size_t i = 0; i < module->function_count; i++) {
            if (strcmp(bf_ptx_kernel_name(module->functions[i].kernel), name) == 0) {
                *hfunc = (CUfunction)&module->functions[i];
                result = CUDA_SUCCESS;
                break;
            }
        }
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuModuleGetFunctionCount(unsigned int *count, CUmodule mod)
{
    bf_emu_module_t *module;
    CUresult result = module_locked(mod, &module);

    if (result != CUDA_SUCCESS)
        return result;
    if (count == NULL)
        result = CUDA_ERROR_INVALID_VALUE;
    else
        *count = (unsigned int)module->function_count;
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuModuleEnumerateFunctions(CUfunction *functions, unsigned int numFunctions, CUmodule mod)
{
    bf_emu_module_t *module;
    CUresult result = module_locked(mod, &module);

    if (result != CUDA_SUCCESS)
        return result;
    if (functions == NULL) {
        result = CUDA_ERROR_INVALID_VALUE;
    } else {
        for (size_t i = 0; i < module->function_count && i < numFunctions; i++)
            functions[i] = (CUfunction)&module->functions[i];
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name)
{
    const bf_emu_global_t *global;
    bf_emu_module_t *module;
    CUresult result = module_locked(hmod, &module);

    if (result != CUDA_SUCCESS)
        return result;
    if (name == NULL) {
        result = CUDA_ERROR_INVALID_VALUE;
    } else if ((global = bf_emu_module_find_global(module, name)) == NULL) {
        result = CUDA_ERROR_NOT_FOUND;
    } else {
        /* Either output may be NULL: "if one of them is NULL, it is ignored". */
        if (dptr != NULL)
            *dptr = global->dptr;
        if (bytes != NULL)
            *bytes = global->size;
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

/* Libraries load into a context when first used there, which is what LAZY promises. */
CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode)
{
    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (mode == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *mode = CU_MODULE_LAZY_LOADING;
    return CUDA_SUCCESS;
}
