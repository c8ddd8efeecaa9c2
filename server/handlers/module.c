/*
 * module.c: libraries and kernels on the worker side.
 *
 * The client names an image by its content hash and sends the bytes only when the worker does not
 * have them: images are kept in a cache for the life of the worker process (one session), so a
 * program that loads the same image again (a module per context, a reload after unload) ships it
 * once. Every image is loaded as a library (context-independent, as cuLibraryLoadData is); the
 * client builds its modules on top, so one path serves both APIs. The load's reply carries each
 * kernel's name, parameter layout and attributes, so that the client answers those queries and
 * packs launch parameters without asking again.
 *
 * The tables are file-level state: bf-worker serves exactly one session per process. Launches read
 * the kernel table from the stream threads while loads run on the reader, hence the lock.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bf_log.h"
#include "code_info.h"
#include "handlers.h"

typedef struct image {
    uint64_t hash_lo, hash_hi;
    uint64_t len;
    uint8_t *bytes;
    /* An rdc bundle (code_info.h): the version-2 wrapper rebuilt over bytes, and its
     * NULL-terminated array of per-TU fatbins; what the driver gets instead of bytes. */
    struct {
        uint32_t magic, version;
        const uint8_t *data;
        const uint8_t **units;
    } wrapper;
    const uint8_t **units;
    struct image *next;
} image_t;

#define WRAPPER_MAGIC 0x466243B1u
#define FATBIN_MAGIC 0xBA55ED50u

/* Whether [p, p + len) holds a whole fatbin: its header's size must not reach past len (the
 * driver reads as far as the header says, with no length of its own). */
static bool fatbin_fits(const uint8_t *p, uint64_t len)
{
    uint32_t magic;
    uint64_t size;

    if (len < 16)
        return false;
    memcpy(&magic, p, 4);
    memcpy(&size, p + 8, 8);
    return magic == FATBIN_MAGIC && size <= len - 16;
}

/* Checks an image's bytes before its driver sees them: a fatbin must fit, an rdc bundle is
 * unpacked into im->wrapper. PTX text and cubins are the driver's to check (the copy is
 * NUL-terminated). */
static CUresult image_prepare(image_t *im)
{
    uint32_t magic = 0, count;

    if (im->len >= 4)
        memcpy(&magic, im->bytes, 4);
    if (magic == FATBIN_MAGIC)
        return fatbin_fits(im->bytes, im->len) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_IMAGE;
    if (magic != BF_CODE_BUNDLE_MAGIC)
        return CUDA_SUCCESS;
    if (im->len < 8)
        return CUDA_ERROR_INVALID_IMAGE;
    memcpy(&count, im->bytes + 4, 4);
    if (count == 0 || count > BF_CODE_BUNDLE_MAX)
        return CUDA_ERROR_INVALID_IMAGE;
    im->units = calloc(count, sizeof(*im->units));  /* count - 1 per-TU fatbins and the NULL */
    if (im->units == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    uint64_t at = 8;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t n;
        if (im->len - at < 8)
            goto err_bad;
        memcpy(&n, im->bytes + at, 8);
        at += 8;
        /* Entries start 8-aligned (the bytes are malloc'ed), as fatbins are in an executable. */
        if (n > im->len - at || !fatbin_fits(im->bytes + at, n))
            goto err_bad;
        if (i == 0)
            im->wrapper.data = im->bytes + at;
        else
            im->units[i - 1] = im->bytes + at;
        at += (n + 7) & ~(uint64_t)7;
        if (at > im->len)
            at = im->len;
    }
    im->wrapper.magic = WRAPPER_MAGIC;
    im->wrapper.version = 2;
    im->wrapper.units = im->units;
    return CUDA_SUCCESS;

err_bad:
    free(im->units);
    im->units = NULL;
    return CUDA_ERROR_INVALID_IMAGE;
}

typedef struct library {
    uint64_t id;
    CUlibrary lib;
    uint32_t kernel_count;
    CUkernel *kernels;
    uint64_t *globals;           /* addresses LIBRARY_GET_GLOBAL recorded as session memory */
    size_t global_count, global_cap;
    struct library *next;
} library_t;

static pthread_mutex_t code_lock = PTHREAD_MUTEX_INITIALIZER;
static image_t *images;
static library_t *libraries;

/* Lock held. */
static library_t *library_find(uint64_t id)
{
    for (library_t *l = libraries; l != NULL; l = l->next)
        if (l->id == id)
            return l;
    return NULL;
}

/* Lock held. */
static image_t *image_find(uint64_t lo, uint64_t hi)
{
    for (image_t *im = images; im != NULL; im = im->next)
        if (im->hash_lo == lo && im->hash_hi == hi)
            return im;
    return NULL;
}

CUresult bf_srv_code_kernel(uint64_t kernel_id, CUkernel *kernel_p)
{
    CUresult res = CUDA_ERROR_INVALID_HANDLE;
    uint64_t index = kernel_id & (BF_CODE_MAX_KERNELS - 1);

    pthread_mutex_lock(&code_lock);
    library_t *l = library_find(kernel_id >> BF_CODE_KERNEL_BITS);
    if (l != NULL && index < l->kernel_count) {
        *kernel_p = l->kernels[index];
        res = CUDA_SUCCESS;
    }
    pthread_mutex_unlock(&code_lock);
    return res;
}

/* Appends one kernel's record to buf (grown as needed). */
static CUresult describe_kernel(bf_srv_session_t *session, CUkernel kernel, uint8_t **buf_p,
                                size_t *len_p, size_t *cap_p)
{
    const bf_srv_driver_t *drv = &session->drv;
    bf_code_kernel_info_t info = {0};
    const char *name = NULL;
    CUresult res;

    res = BF_SRV_DRV(drv, KernelGetName, &name, kernel);
    if (res != CUDA_SUCCESS)
        return res;
    info.name_len = (uint32_t)strlen(name);
    /* Parameters: ask until the driver says the index is past the last one. */
    bf_code_param_t params[256];
    bf_code_param_t *many = NULL;
    for (;;) {
        size_t off = 0, size = 0;
        if (BF_SRV_DRV(drv, KernelGetParamInfo, kernel, info.param_count, &off, &size) != CUDA_SUCCESS)
            break;
        if (info.param_count >= BF_CODE_MAX_PARAMS) {
            free(many);
            return CUDA_ERROR_INVALID_IMAGE;
        }
        if (info.param_count == 256) {
            many = malloc(BF_CODE_MAX_PARAMS * sizeof(*many));
            if (many == NULL)
                return CUDA_ERROR_OUT_OF_MEMORY;
            memcpy(many, params, sizeof(params));
        }
        bf_code_param_t *dst = many != NULL ? many : params;
        dst[info.param_count++] = (bf_code_param_t){.offset = (uint32_t)off, .size = (uint32_t)size};
    }
    for (int a = 0; a < BF_CODE_FUNC_ATTRS && a < CU_FUNC_ATTRIBUTE_MAX; a++) {
        int value = 0;
        if (BF_SRV_DRV(drv, KernelGetAttribute, &value, (CUfunction_attribute)a, kernel,
                       session->devices[0].handle) == CUDA_SUCCESS)
            info.attrs[a] = value;
    }
    size_t rec = bf_code_record_size(info.name_len, info.param_count);
    if (*len_p + rec > *cap_p) {
        size_t cap = (*cap_p + rec) * 2;
        uint8_t *grown = realloc(*buf_p, cap);
        if (grown == NULL) {
            free(many);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        *buf_p = grown;
        *cap_p = cap;
    }
    uint8_t *p = *buf_p + *len_p;
    memset(p, 0, rec);
    memcpy(p, &info, sizeof(info));
    memcpy(p + sizeof(info), name, info.name_len);
    memcpy(p + sizeof(info) + info.name_len, many != NULL ? many : params,
           info.param_count * sizeof(bf_code_param_t));
    *len_p += rec;
    free(many);
    return CUDA_SUCCESS;
}

/* Takes the image from the request or the cache (keeping a new one). NULL: not cached. */
static const image_t *image_get(const bf_srv_call_t *call, CUresult *res_p)
{
    const bf_req_LIBRARY_LOAD_t *req = &call->req->LIBRARY_LOAD;
    image_t *im;

    *res_p = CUDA_SUCCESS;
    pthread_mutex_lock(&code_lock);
    im = image_find(req->hash_lo, req->hash_hi);
    if (im != NULL && req->image_len > 0 &&
        (im->len != call->tail_len || memcmp(im->bytes, call->tail, call->tail_len) != 0)) {
        /* Sent bytes that differ from the cached image of the same hash: a collision or a lie. */
        bf_log_warn("library image of %" PRIu64 " bytes does not match its hash", call->tail_len);
        *res_p = CUDA_ERROR_INVALID_IMAGE;
        im = NULL;
    } else if (im == NULL && req->image_len == 0) {
        *res_p = CUDA_ERROR_NOT_FOUND;  /* the client sends the image next */
    } else if (im == NULL) {
        uint64_t lo, hi;
        bf_code_hash(call->tail, call->tail_len, &lo, &hi);
        if (lo != req->hash_lo || hi != req->hash_hi) {
            bf_log_warn("library image of %" PRIu64 " bytes does not match its hash", call->tail_len);
            *res_p = CUDA_ERROR_INVALID_IMAGE;
        } else if ((im = calloc(1, sizeof(*im))) == NULL ||
                   (im->bytes = malloc(call->tail_len + 1)) == NULL) {
            free(im);
            im = NULL;
            *res_p = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            /* One NUL past the end, so PTX text is terminated even if the sender cut it. */
            memcpy(im->bytes, call->tail, call->tail_len);
            im->bytes[call->tail_len] = 0;
            im->len = call->tail_len;
            im->hash_lo = lo;
            im->hash_hi = hi;
            *res_p = image_prepare(im);
            if (*res_p != CUDA_SUCCESS) {
                bf_log_warn("library image of %" PRIu64 " bytes is malformed", call->tail_len);
                free(im->bytes);
                free(im);
                im = NULL;
            } else {
                im->next = images;
                images = im;
            }
        }
    }
    pthread_mutex_unlock(&code_lock);
    return im;
}

CUresult bf_srv_handle_library_load(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_LIBRARY_LOAD_t *req = &call->req->LIBRARY_LOAD;
    const bf_srv_driver_t *drv = &session->drv;
    library_t *l = NULL;
    uint8_t *info = NULL;
    size_t info_len = 0, info_cap = 0;
    unsigned int count = 0;
    CUresult res;

    const image_t *im = image_get(call, &res);
    if (im == NULL)
        return res;
    pthread_mutex_lock(&code_lock);
    bool taken = library_find(req->library) != NULL;
    pthread_mutex_unlock(&code_lock);
    if (taken || req->library == 0 || req->library >= (UINT64_C(1) << (64 - BF_CODE_KERNEL_BITS)))
        return CUDA_ERROR_INVALID_VALUE;

    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return CUDA_ERROR_OUT_OF_MEMORY;
    l->id = req->library;
    const void *code = im->units != NULL ? (const void *)&im->wrapper : (const void *)im->bytes;
    res = BF_SRV_DRV(drv, LibraryLoadData, &l->lib, code, NULL, NULL, 0, NULL, NULL, 0);
    if (res != CUDA_SUCCESS)
        goto err_free;
    res = BF_SRV_DRV(drv, LibraryGetKernelCount, &count, l->lib);
    if (res != CUDA_SUCCESS)
        goto err_unload;
    if (count >= BF_CODE_MAX_KERNELS) {
        res = CUDA_ERROR_INVALID_IMAGE;
        goto err_unload;
    }
    l->kernels = calloc(count + 1, sizeof(*l->kernels));
    if (l->kernels == NULL) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto err_unload;
    }
    res = count > 0 ? BF_SRV_DRV(drv, LibraryEnumerateKernels, l->kernels, count, l->lib)
                    : CUDA_SUCCESS;
    if (res != CUDA_SUCCESS)
        goto err_kernels;
    l->kernel_count = count;
    for (unsigned int i = 0; i < count; i++) {
        res = describe_kernel(session, l->kernels[i], &info, &info_len, &info_cap);
        if (res != CUDA_SUCCESS)
            goto err_info;
    }
    if (info_len > BF_PROTO_MAX_TAIL) {
        res = CUDA_ERROR_INVALID_IMAGE;
        goto err_info;
    }
    /* The reply's tail must outlive this call: it goes out from the thread's staging buffer. */
    uint8_t *staging = bf_srv_session_staging(session, info_len);
    if (staging == NULL && info_len > 0) {
        res = CUDA_ERROR_OUT_OF_MEMORY;
        goto err_info;
    }
    if (info_len > 0)
        memcpy(staging, info, info_len);
    free(info);
    pthread_mutex_lock(&code_lock);
    l->next = libraries;
    libraries = l;
    pthread_mutex_unlock(&code_lock);
    call->rep->LIBRARY_LOAD.kernel_count = count;
    call->rep->LIBRARY_LOAD.info_len = (uint32_t)info_len;
    call->rep_tail = staging;
    call->rep_tail_len = info_len;
    bf_log_debug("library %" PRIu64 ": %u kernels, image of %" PRIu64 " bytes", l->id, count,
                 im->len);
    return CUDA_SUCCESS;

err_info:
    free(info);
err_kernels:
    free(l->kernels);
err_unload:
    (void)BF_SRV_DRV(drv, LibraryUnload, l->lib);
err_free:
    free(l);
    return res;
}

CUresult bf_srv_handle_library_unload(bf_srv_session_t *session, bf_srv_call_t *call)
{
    uint64_t id = call->req->LIBRARY_UNLOAD.library;
    library_t *l = NULL;

    pthread_mutex_lock(&code_lock);
    for (library_t **pp = &libraries; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            l = *pp;
            *pp = l->next;
            break;
        }
    }
    pthread_mutex_unlock(&code_lock);
    if (l == NULL)
        return CUDA_ERROR_INVALID_HANDLE;
    /* The scheduler ran this after every earlier op, launches of the library included. */
    CUresult res = BF_SRV_DRV(&session->drv, LibraryUnload, l->lib);
    /* Its globals are no longer memory of the session. */
    pthread_mutex_lock(&session->memory_lock);
    for (size_t i = 0; i < l->global_count; i++) {
        const bf_range_t *r = bf_range_map_find(&session->memory.allocations, l->globals[i]);
        if (r != NULL && r->base == l->globals[i] && (r->value & BF_SRV_MEM_GLOBAL))
            bf_range_map_remove(&session->memory.allocations, l->globals[i], NULL);
    }
    pthread_mutex_unlock(&session->memory_lock);
    free(l->globals);
    free(l->kernels);
    free(l);
    return res;
}

CUresult bf_srv_handle_library_get_global(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_LIBRARY_GET_GLOBAL_t *req = &call->req->LIBRARY_GET_GLOBAL;
    bf_srv_device_t *dev;
    CUlibrary lib = NULL;
    CUdeviceptr dptr = 0;
    size_t size = 0;
    char name[1024];
    CUresult res;

    if (call->tail_len == 0 || call->tail_len >= sizeof(name))
        return CUDA_ERROR_INVALID_VALUE;
    memcpy(name, call->tail, call->tail_len);
    name[call->tail_len] = 0;
    pthread_mutex_lock(&code_lock);
    library_t *l = library_find(req->library);
    if (l != NULL)
        lib = l->lib;
    pthread_mutex_unlock(&code_lock);
    if (lib == NULL)
        return CUDA_ERROR_INVALID_HANDLE;
    res = bf_srv_session_device(session, req->device, &dev);
    if (res != CUDA_SUCCESS)
        return res;
    res = BF_SRV_DRV(&session->drv, LibraryGetGlobal, &dptr, &size, lib, name);
    if (res != CUDA_SUCCESS)
        return res;
    /* The global is device memory of the session from now on: copies to and from it pass the
     * allocation check (it is forgotten with the device's allocations at a reset). */
    pthread_mutex_lock(&session->memory_lock);
    bool recorded = bf_range_map_find(&session->memory.allocations, dptr) == NULL && size > 0 &&
                    bf_range_map_insert(&session->memory.allocations, dptr, size,
                                        (uint64_t)dev->ordinal | BF_SRV_MEM_GLOBAL) == BF_OK;
    pthread_mutex_unlock(&session->memory_lock);
    if (recorded) {
        /* Remembered with its library, which forgets it at unload. */
        pthread_mutex_lock(&code_lock);
        l = library_find(req->library);
        if (l != NULL && l->global_count == l->global_cap) {
            size_t cap = l->global_cap ? l->global_cap * 2 : 8;
            uint64_t *grown = realloc(l->globals, cap * sizeof(*grown));
            if (grown != NULL) {
                l->globals = grown;
                l->global_cap = cap;
            }
        }
        if (l != NULL && l->global_count < l->global_cap)
            l->globals[l->global_count++] = dptr;
        pthread_mutex_unlock(&code_lock);
    }
    call->rep->LIBRARY_GET_GLOBAL.dptr = dptr;
    call->rep->LIBRARY_GET_GLOBAL.size = size;
    return CUDA_SUCCESS;
}

void bf_srv_code_reset_device(void)
{
    /* The reset forgot every global of the device (bf_srv_memory_release_device). */
    pthread_mutex_lock(&code_lock);
    for (library_t *l = libraries; l != NULL; l = l->next)
        l->global_count = 0;
    pthread_mutex_unlock(&code_lock);
}

CUresult bf_srv_handle_kernel_set_attribute(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_KERNEL_SET_ATTRIBUTE_t *req = &call->req->KERNEL_SET_ATTRIBUTE;
    bf_srv_device_t *dev;
    CUkernel kernel;
    CUresult res = bf_srv_code_kernel(req->kernel, &kernel);

    if (res == CUDA_SUCCESS)
        res = bf_srv_session_device(session, req->device, &dev);
    if (res == CUDA_SUCCESS)
        res = BF_SRV_DRV(&session->drv, KernelSetAttribute, (CUfunction_attribute)req->attribute,
                         req->value, kernel, dev->handle);
    return res;
}
