/*
 * code.c: images, libraries and kernels of this process (see code.h).
 *
 * Image extents. The client reads only what it needs to know how many bytes to ship:
 *   - fatbin wrapper (what cudart passes; u32 magic 0x466243B1, u32 version, data pointer at +8):
 *     the fatbin `data` points at, whatever the version (version 2, -rdc, points at the linked one);
 *     only that fatbin is this image even when others follow it in memory;
 *   - fatbin (u32 magic 0xBA55ED50, u16 version, u16 header size, u64 payload size at +8): the
 *     16-byte header and the payload;
 *   - cubin (ELF64): the largest end among the section header table, the program header table and
 *     every section that occupies file bytes (SHT_NOBITS ones do not), which is where the linker's
 *     output ends;
 *   - anything else is taken as PTX text: strlen + 1.
 * The worker's driver then checks the image itself.
 *
 * Shipping once. Each process remembers the hashes it has shipped; a later load of the same bytes
 * sends only the hash, and if the worker has not got it (a new worker after fork) it answers
 * CUDA_ERROR_NOT_FOUND and the image follows.
 */
#include "code.h"

#include <elf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf_config.h"
#include "bf_log.h"
#include "bf_range_map.h"
#include "engine.h"

#define BF_CL_KERNEL_COOKIE  0x4b45524eu  /* "KERN" */
#define BF_CL_LIBRARY_COOKIE 0x4c494252u  /* "LIBR" */

#define WRAPPER_MAGIC 0x466243B1u
#define FATBIN_MAGIC  0xBA55ED50u

enum { KIND_LIBRARY = 1, KIND_KERNEL = 2 };

static pthread_mutex_t code_lock = PTHREAD_MUTEX_INITIALIZER;
static bf_range_map_t live;          /* handle address -> KIND_* (ranges of one byte) */
static bool live_ready;
static atomic_uint_fast64_t next_library = 1;

typedef struct shipped {
    uint64_t lo, hi;
    struct shipped *next;
} shipped_t;
static shipped_t *shipped;           /* hashes sent to the worker by this process */

/* ---- image extents ------------------------------------------------------------------------- */

static size_t fatbin_extent(const uint8_t *p)
{
    uint32_t magic;
    uint64_t size;

    memcpy(&magic, p, 4);
    if (magic != FATBIN_MAGIC)
        return 0;
    memcpy(&size, p + 8, 8);
    return 16 + size;
}

static size_t elf_extent(const uint8_t *p)
{
    Elf64_Ehdr eh;
    size_t end;

    memcpy(&eh, p, sizeof(eh));
    if (eh.e_ident[EI_CLASS] != ELFCLASS64)
        return 0;
    end = eh.e_ehsize;
    if (eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize > end)
        end = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
    if (eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize > end)
        end = eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize;
    for (unsigned i = 0; i < eh.e_shnum && eh.e_shentsize >= sizeof(Elf64_Shdr); i++) {
        Elf64_Shdr sh;
        memcpy(&sh, p + eh.e_shoff + (size_t)i * eh.e_shentsize, sizeof(sh));
        if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > end)
            end = sh.sh_offset + sh.sh_size;
    }
    return end;
}

size_t bf_cl_code_image_extent(const void *image, const void **start_p)
{
    const uint8_t *p = image;
    uint32_t magic;

    if (p == NULL)
        return 0;
    memcpy(&magic, p, 4);
    if (magic == WRAPPER_MAGIC) {
        const uint8_t *data;
        memcpy(&data, p + 8, sizeof(data));
        if (data == NULL)
            return 0;
        *start_p = data;
        return fatbin_extent(data);
    }
    *start_p = p;
    if (magic == FATBIN_MAGIC)
        return fatbin_extent(p);
    if (memcmp(p, ELFMAG, SELFMAG) == 0)
        return elf_extent(p);
    return strlen((const char *)p) + 1;
}

/*
 * A version-2 (-rdc=true) wrapper whose per-TU fatbins are listed: the linked fatbin and every
 * per-TU one, as one bundle (code_info.h), since a driver may need the per-TU PTX (the emulator
 * links it; NVIDIA's driver uses the linked SASS). NULL when image is no such wrapper (or memory
 * runs out); else a malloc'ed bundle of *len_p bytes.
 */
static uint8_t *rdc_bundle(const void *image, size_t *len_p)
{
    const uint8_t *p = image;
    uint32_t magic, version;
    const uint8_t *data;
    const uint8_t *const *units;

    if (p == NULL)
        return NULL;
    memcpy(&magic, p, 4);
    memcpy(&version, p + 4, 4);
    if (magic != WRAPPER_MAGIC || version != 2)
        return NULL;
    memcpy(&data, p + 8, sizeof(data));
    memcpy(&units, p + 16, sizeof(units));
    if (data == NULL || units == NULL || fatbin_extent(data) == 0)
        return NULL;
    uint32_t count = 1;
    size_t total = 8 + 8 + ((fatbin_extent(data) + 7) & ~(size_t)7);
    for (; units[count - 1] != NULL; count++) {
        size_t n = fatbin_extent(units[count - 1]);
        if (n == 0 || count >= BF_CODE_BUNDLE_MAX)
            return NULL;
        total += 8 + ((n + 7) & ~(size_t)7);
    }
    uint8_t *bundle = calloc(1, total);
    if (bundle == NULL)
        return NULL;
    uint32_t head[2] = {BF_CODE_BUNDLE_MAGIC, count};
    memcpy(bundle, head, sizeof(head));
    size_t at = 8;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *f = i == 0 ? data : units[i - 1];
        uint64_t n = fatbin_extent(f);
        memcpy(bundle + at, &n, 8);
        memcpy(bundle + at + 8, f, n);
        at += 8 + ((n + 7) & ~(uint64_t)7);
    }
    *len_p = total;
    return bundle;
}

/* ---- handle table -------------------------------------------------------------------------- */

/* Lock held. */
static CUresult live_add(const void *obj, int kind)
{
    if (!live_ready) {
        bf_range_map_init(&live);
        live_ready = true;
    }
    return bf_range_map_insert(&live, (uint64_t)(uintptr_t)obj, 1, (uint64_t)kind) == BF_OK
               ? CUDA_SUCCESS
               : CUDA_ERROR_OUT_OF_MEMORY;
}

/* Lock held. */
static bool live_is(const void *obj, int kind)
{
    if (!live_ready || obj == NULL)
        return false;
    const bf_range_t *r = bf_range_map_find(&live, (uint64_t)(uintptr_t)obj);
    return r != NULL && r->base == (uint64_t)(uintptr_t)obj && r->value == (uint64_t)kind;
}

CUresult bf_cl_code_library(const void *handle, int is_module, bf_cl_library_t **lib_p)
{
    CUresult res = CUDA_ERROR_INVALID_HANDLE;

    pthread_mutex_lock(&code_lock);
    if (live_is(handle, KIND_LIBRARY)) {
        bf_cl_library_t *lib = (bf_cl_library_t *)handle;
        if (lib->cookie == BF_CL_LIBRARY_COOKIE && lib->is_module == is_module) {
            *lib_p = lib;
            res = CUDA_SUCCESS;
        }
    }
    pthread_mutex_unlock(&code_lock);
    return res;
}

CUresult bf_cl_code_kernel(const void *handle, bf_cl_kernel_t **kernel_p)
{
    CUresult res = CUDA_ERROR_INVALID_HANDLE;

    pthread_mutex_lock(&code_lock);
    if (live_is(handle, KIND_KERNEL) && ((const bf_cl_kernel_t *)handle)->cookie == BF_CL_KERNEL_COOKIE) {
        *kernel_p = (bf_cl_kernel_t *)handle;
        res = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&code_lock);
    return res;
}

/* ---- loading ------------------------------------------------------------------------------- */

/* Lock held: a view's struct (its kernels and id are its library's). */
static void view_free_locked(bf_cl_library_t *view)
{
    if (live_ready)
        (void)bf_range_map_remove(&live, (uint64_t)(uintptr_t)view, NULL);
    if (view->view_of != NULL && view->view_of->view == view)
        view->view_of->view = NULL;
    view->cookie = 0;
    free(view->globals);
    free(view);
}

static void library_free(bf_cl_library_t *lib)
{
    if (lib->view != NULL) {
        pthread_mutex_lock(&code_lock);
        view_free_locked(lib->view);
        pthread_mutex_unlock(&code_lock);
    }
    for (uint32_t i = 0; i < lib->kernel_count; i++) {
        bf_cl_kernel_t *k = lib->kernels[i];
        if (k == NULL)
            continue;
        k->cookie = 0;
        free(k->name);
        free(k->params);
        free(k);
    }
    lib->cookie = 0;
    /* Its globals go with it (the driver may place another library's there). */
    for (size_t i = 0; i < lib->global_count; i++)
        bf_cl_mem_forget_global(lib->globals[i]);
    free(lib->globals);
    free(lib->kernels);
    free(lib);
}

/* Builds the kernel objects from the load reply's tail. */
static CUresult parse_info(bf_cl_library_t *lib, const uint8_t *info, size_t len, uint32_t count)
{
    size_t at = 0;

    lib->kernels = calloc(count + 1, sizeof(*lib->kernels));
    if (lib->kernels == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < count; i++) {
        bf_code_kernel_info_t fixed;
        if (len - at < sizeof(fixed))
            return CUDA_ERROR_INVALID_IMAGE;
        memcpy(&fixed, info + at, sizeof(fixed));
        if (fixed.param_count > BF_CODE_MAX_PARAMS || fixed.name_len > 65536 ||
            len - at < bf_code_record_size(fixed.name_len, fixed.param_count))
            return CUDA_ERROR_INVALID_IMAGE;
        bf_cl_kernel_t *k = calloc(1, sizeof(*k));
        if (k == NULL)
            return CUDA_ERROR_OUT_OF_MEMORY;
        lib->kernels[lib->kernel_count++] = k;
        k->lib = lib;
        k->id = (lib->id << BF_CODE_KERNEL_BITS) | i;
        k->param_count = fixed.param_count;
        memcpy(k->attrs, fixed.attrs, sizeof(k->attrs));
        k->name = malloc(fixed.name_len + 1);
        k->params = malloc((fixed.param_count + 1) * sizeof(*k->params));
        if (k->name == NULL || k->params == NULL)
            return CUDA_ERROR_OUT_OF_MEMORY;
        memcpy(k->name, info + at + sizeof(fixed), fixed.name_len);
        k->name[fixed.name_len] = 0;
        memcpy(k->params, info + at + sizeof(fixed) + fixed.name_len,
               fixed.param_count * sizeof(*k->params));
        for (uint32_t j = 0; j < k->param_count; j++) {
            uint64_t end = (uint64_t)k->params[j].offset + k->params[j].size;
            if (end > 65536)
                return CUDA_ERROR_INVALID_IMAGE;
            if (end > k->params_size)
                k->params_size = (uint32_t)end;
        }
        k->cookie = BF_CL_KERNEL_COOKIE;
        at += bf_code_record_size(fixed.name_len, fixed.param_count);
    }
    return CUDA_SUCCESS;
}

static bool was_shipped(uint64_t lo, uint64_t hi)
{
    bool found = false;

    pthread_mutex_lock(&code_lock);
    for (shipped_t *s = shipped; s != NULL && !found; s = s->next)
        found = s->lo == lo && s->hi == hi;
    pthread_mutex_unlock(&code_lock);
    return found;
}

static void note_shipped(uint64_t lo, uint64_t hi)
{
    shipped_t *s;

    if (was_shipped(lo, hi) || (s = malloc(sizeof(*s))) == NULL)
        return;
    s->lo = lo;
    s->hi = hi;
    pthread_mutex_lock(&code_lock);
    s->next = shipped;
    shipped = s;
    pthread_mutex_unlock(&code_lock);
}

CUresult bf_cl_code_load(const void *image, int is_module, int device, bf_cl_library_t **lib_p)
{
    const void *start = NULL;
    size_t len = 0;
    uint8_t *bundle = rdc_bundle(image, &len);
    bf_rep_LIBRARY_LOAD_t rep;
    uint8_t *info = NULL;
    CUresult res;

    if (bundle != NULL)
        start = bundle;
    else
        len = bf_cl_code_image_extent(image, &start);
    if (len == 0)
        return CUDA_ERROR_INVALID_IMAGE;
    if (len > BF_PROTO_MAX_TAIL) {
        bf_log_error("image of %zu bytes is larger than one message (%u bytes)", len,
                     BF_PROTO_MAX_TAIL);
        free(bundle);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    bf_cl_library_t *lib = calloc(1, sizeof(*lib));
    if (lib == NULL) {
        free(bundle);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    lib->id = atomic_fetch_add(&next_library, 1);
    lib->is_module = is_module;
    lib->device = device;

    bf_req_LIBRARY_LOAD_t req = {.library = lib->id};
    bf_code_hash(start, len, &req.hash_lo, &req.hash_hi);
    bool named_only = was_shipped(req.hash_lo, req.hash_hi);
    info = malloc(BF_PROTO_MAX_TAIL);  /* the reply's tail, at most one message */
    if (info == NULL) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto err_lib;
    }
    bf_cl_sink_t sink = {.base = info, .width = BF_PROTO_MAX_TAIL, .pitch = BF_PROTO_MAX_TAIL,
                         .rows = 1, .allow_short = 1};
    req.image_len = named_only ? 0 : len;
    res = bf_cl_rpc_call(BF_OP_LIBRARY_LOAD, &req, named_only ? NULL : start, req.image_len, &rep,
                         &sink);
    if (res == CUDA_ERROR_NOT_FOUND && named_only) {
        req.image_len = len;  /* the worker has not got it (a new worker): send it after all */
        res = bf_cl_rpc_call(BF_OP_LIBRARY_LOAD, &req, start, len, &rep, &sink);
    }
    if (res != CUDA_SUCCESS)
        goto err_info;
    note_shipped(req.hash_lo, req.hash_hi);
    free(bundle);
    bundle = NULL;
    res = parse_info(lib, info, rep.info_len, rep.kernel_count);
    if (res != CUDA_SUCCESS) {
        bf_log_error("malformed kernel table in the worker's load reply");
        goto err_unload;
    }
    free(info);
    pthread_mutex_lock(&code_lock);
    res = live_add(lib, KIND_LIBRARY);
    for (uint32_t i = 0; i < lib->kernel_count && res == CUDA_SUCCESS; i++)
        res = live_add(lib->kernels[i], KIND_KERNEL);
    if (res == CUDA_SUCCESS)
        lib->cookie = BF_CL_LIBRARY_COOKIE;
    pthread_mutex_unlock(&code_lock);
    if (res != CUDA_SUCCESS) {
        (void)bf_cl_code_unload(lib);
        return res;
    }
    bf_log_debug("library %llu: %u kernels (%s, %zu bytes)", (unsigned long long)lib->id,
                 lib->kernel_count, named_only ? "named by hash" : "shipped", len);
    *lib_p = lib;
    return CUDA_SUCCESS;

err_unload:
    {
        bf_req_LIBRARY_UNLOAD_t ureq = {.library = lib->id};
        (void)bf_cl_rpc_post(BF_OP_LIBRARY_UNLOAD, &ureq, NULL, 0);
    }
err_info:
    free(info);
err_lib:
    library_free(lib);
    free(bundle);
    return res;
}

CUresult bf_cl_code_unload(bf_cl_library_t *lib)
{
    bf_req_LIBRARY_UNLOAD_t req = {.library = lib->id};

    if (lib->view_of != NULL)
        return CUDA_ERROR_NOT_PERMITTED;
    pthread_mutex_lock(&code_lock);
    if (live_ready) {
        for (uint32_t i = 0; i < lib->kernel_count; i++)
            (void)bf_range_map_remove(&live, (uint64_t)(uintptr_t)lib->kernels[i], NULL);
        (void)bf_range_map_remove(&live, (uint64_t)(uintptr_t)lib, NULL);
    }
    pthread_mutex_unlock(&code_lock);
    CUresult res = bf_cl_rpc_post(BF_OP_LIBRARY_UNLOAD, &req, NULL, 0);
    library_free(lib);
    return res;
}

CUresult bf_cl_code_module_of(bf_cl_library_t *lib, int device, bf_cl_library_t **module_p)
{
    CUresult res = CUDA_SUCCESS;

    if (lib->is_module) {
        *module_p = lib;
        return CUDA_SUCCESS;
    }
    pthread_mutex_lock(&code_lock);
    if (lib->view == NULL || lib->view->device != device) {
        bf_cl_library_t *view = calloc(1, sizeof(*view));
        if (view == NULL) {
            res = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            view->id = lib->id;
            view->is_module = 1;
            view->device = device;
            view->kernel_count = lib->kernel_count;
            view->kernels = lib->kernels;
            view->view_of = lib;
            res = live_add(view, KIND_LIBRARY);
            if (res != CUDA_SUCCESS) {
                free(view);
            } else {
                view->cookie = BF_CL_LIBRARY_COOKIE;
                if (lib->view != NULL)
                    view_free_locked(lib->view);  /* one device's at a time */
                lib->view = view;
            }
        }
    }
    if (res == CUDA_SUCCESS)
        *module_p = lib->view;
    pthread_mutex_unlock(&code_lock);
    return res;
}

void bf_cl_code_drop_device(int device)
{
    bf_cl_library_t **doomed = NULL;
    size_t count = 0;

    /* Taken out of the table under the lock; unloaded (a posted op each) outside it. */
    pthread_mutex_lock(&code_lock);
    if (live_ready && live.count > 0)
        doomed = malloc(live.count * sizeof(*doomed));
    for (size_t i = live.count; doomed != NULL && i-- > 0;) {
        if (live.ranges[i].value != KIND_LIBRARY)
            continue;
        bf_cl_library_t *lib = (bf_cl_library_t *)(uintptr_t)live.ranges[i].base;
        if (lib->is_module && lib->device == device && lib->view_of == NULL)
            doomed[count++] = lib;
        else
            lib->global_count = 0;  /* the reset forgot its globals (bf_cl_mem_drop_device) */
    }
    /* A library's view in this context goes with the context; the library stays. */
    for (size_t i = live.count; doomed != NULL && i-- > 0;) {
        if (live.ranges[i].value != KIND_LIBRARY)
            continue;
        bf_cl_library_t *lib = (bf_cl_library_t *)(uintptr_t)live.ranges[i].base;
        if (lib->view_of != NULL && lib->device == device)
            view_free_locked(lib);
    }
    for (size_t i = 0; i < count; i++) {
        bf_cl_library_t *lib = doomed[i];
        for (uint32_t k = 0; k < lib->kernel_count; k++)
            (void)bf_range_map_remove(&live, (uint64_t)(uintptr_t)lib->kernels[k], NULL);
        (void)bf_range_map_remove(&live, (uint64_t)(uintptr_t)lib, NULL);
    }
    pthread_mutex_unlock(&code_lock);
    for (size_t i = 0; i < count; i++) {
        bf_req_LIBRARY_UNLOAD_t req = {.library = doomed[i]->id};
        doomed[i]->global_count = 0;
        (void)bf_cl_rpc_post(BF_OP_LIBRARY_UNLOAD, &req, NULL, 0);
        library_free(doomed[i]);
    }
    if (count > 0)
        bf_log_debug("device %d: %zu modules unloaded with their context", device, count);
    free(doomed);
}

CUresult bf_cl_code_find_kernel(bf_cl_library_t *lib, const char *name, bf_cl_kernel_t **kernel_p)
{
    for (uint32_t i = 0; i < lib->kernel_count; i++) {
        if (strcmp(lib->kernels[i]->name, name) == 0) {
            *kernel_p = lib->kernels[i];
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

CUresult bf_cl_code_global(bf_cl_library_t *lib, int device, const char *name, uint64_t *dptr_p,
                           uint64_t *size_p)
{
    size_t name_len = strlen(name);
    bf_req_LIBRARY_GET_GLOBAL_t req = {.library = lib->id, .device = (uint32_t)device,
                                       .name_len = (uint32_t)name_len};
    bf_rep_LIBRARY_GET_GLOBAL_t rep;

    if (name_len == 0 || name_len >= 1024)
        return CUDA_ERROR_NOT_FOUND;
    CUresult res = bf_cl_rpc_call(BF_OP_LIBRARY_GET_GLOBAL, &req, name, name_len, &rep, NULL);
    if (res != CUDA_SUCCESS)
        return res;
    /* Copies check device pointers against this table; a global asked for twice is there already. */
    bf_cl_mem_range_t known;
    if (!bf_cl_mem_find(rep.dptr, rep.size, &known) &&
        bf_cl_mem_insert(device, rep.dptr, rep.size, BF_CL_MEM_GLOBAL) == CUDA_SUCCESS) {
        /* A view's globals are its library's: they go when the library does. */
        if (lib->view_of != NULL)
            lib = lib->view_of;
        pthread_mutex_lock(&code_lock);
        if (lib->global_count == lib->global_cap) {
            size_t cap = lib->global_cap ? lib->global_cap * 2 : 8;
            uint64_t *grown = realloc(lib->globals, cap * sizeof(*grown));
            if (grown != NULL) {
                lib->globals = grown;
                lib->global_cap = cap;
            }
        }
        if (lib->global_count < lib->global_cap)
            lib->globals[lib->global_count++] = rep.dptr;
        pthread_mutex_unlock(&code_lock);
    }
    *dptr_p = rep.dptr;
    *size_p = rep.size;
    return CUDA_SUCCESS;
}

CUresult bf_cl_code_set_attribute(bf_cl_kernel_t *kernel, CUfunction_attribute attrib, int value,
                                  int device)
{
    bf_req_KERNEL_SET_ATTRIBUTE_t req = {.kernel = kernel->id, .device = (uint32_t)device,
                                         .attribute = (int32_t)attrib, .value = value};

    kernel->attrs[attrib] = value;
    return bf_cl_rpc_post(BF_OP_KERNEL_SET_ATTRIBUTE, &req, NULL, 0);
}

/* ---- statistics ---------------------------------------------------------------------------- */

/* BF_STATS=1: one line on stderr at exit with the waited round trips of the process. */
__attribute__((destructor)) static void code_stats_at_exit(void)
{
    if (bf_config_get_long(BF_CONFIG_STATS) > 0)
        fprintf(stderr, "openbf: stats: %llu waited round trips\n",
                (unsigned long long)bf_cl_rpc_waited_count());
}
