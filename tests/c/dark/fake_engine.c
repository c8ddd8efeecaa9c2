/*
 * fake_engine.c: a small fake of the engine.h functions used by export_tables.c, so that the
 * export tables can be tested without libbf.so, a server or a device. Not thread-safe beyond the
 * per-thread current context; the tests are single-threaded.
 */
#include "fake_engine.h"

#include <string.h>

#define FAKE_CLS_MAX 8

struct bf_cl_ctx {
    uint32_t cookie;
    int device;
    struct {
        void *key;
        void *value;
        bf_cl_cls_dtor_fn_t dtor;
    } cls[FAKE_CLS_MAX];
};

#define FAKE_CTX_COOKIE 0xc0c0c7c7u

static struct bf_cl_ctx contexts[FAKE_DEVICE_COUNT] = {
    {.cookie = FAKE_CTX_COOKIE, .device = 0},
    {.cookie = FAKE_CTX_COOKIE, .device = 1},
};
static bf_proto_device_t devices[FAKE_DEVICE_COUNT];
static int devices_ready;
static CUresult init_result = CUDA_SUCCESS;
static _Thread_local bf_cl_ctx_t *current;
static int unsupported_calls;
static const char *unsupported_last = "";

static void devices_fill(void)
{
    if (devices_ready)
        return;
    for (int d = 0; d < FAKE_DEVICE_COUNT; d++) {
        strcpy(devices[d].name, "fake device");
        for (int i = 0; i < 16; i++)
            devices[d].uuid[i] = (uint8_t)(0x40 * (d + 1) + i);
        devices[d].attributes[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID] = d;
        devices[d].attributes[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID] = 0x10 + d;
        devices[d].attributes[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID] = 0;
    }
    devices_ready = 1;
}

void fake_engine_set_init_result(CUresult result)
{
    init_result = result;
}

CUcontext fake_engine_ctx(int ordinal)
{
    return (CUcontext)&contexts[ordinal];
}

void fake_engine_set_current(CUcontext ctx)
{
    current = (bf_cl_ctx_t *)ctx;
}

void fake_engine_ctx_reset(CUcontext handle)
{
    bf_cl_ctx_t *ctx = (bf_cl_ctx_t *)handle;

    for (int i = 0; i < FAKE_CLS_MAX; i++) {
        if (ctx->cls[i].key == NULL)
            continue;
        void *key = ctx->cls[i].key, *value = ctx->cls[i].value;
        bf_cl_cls_dtor_fn_t dtor = ctx->cls[i].dtor;
        ctx->cls[i].key = NULL;
        if (dtor != NULL)
            dtor(handle, key, value);
    }
}

int fake_engine_unsupported_calls(void)
{
    return unsupported_calls;
}

const char *fake_engine_unsupported_last(void)
{
    return unsupported_last;
}

/* ---- engine.h --------------------------------------------------------------------------------- */

CUresult bf_cl_check_init(void)
{
    return init_result;
}

int bf_cl_device_count(void)
{
    return init_result == CUDA_SUCCESS ? FAKE_DEVICE_COUNT : 0;
}

const bf_proto_device_t *bf_cl_device(int ordinal)
{
    devices_fill();
    if (ordinal < 0 || ordinal >= bf_cl_device_count())
        return NULL;
    return &devices[ordinal];
}

CUresult bf_cl_ctx_resolve(CUcontext handle, bf_cl_ctx_t **ctx_p)
{
    bf_cl_ctx_t *ctx = handle == NULL ? current : (bf_cl_ctx_t *)handle;

    if (ctx == NULL)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (ctx != &contexts[0] && ctx != &contexts[1])
        return CUDA_ERROR_INVALID_CONTEXT;
    if (ctx->cookie != FAKE_CTX_COOKIE)
        return CUDA_ERROR_INVALID_CONTEXT;
    *ctx_p = ctx;
    return CUDA_SUCCESS;
}

CUcontext bf_cl_primary_ctx(int ordinal)
{
    if (ordinal < 0 || ordinal >= bf_cl_device_count())
        return NULL;
    return (CUcontext)&contexts[ordinal];
}

CUcontext bf_cl_ctx_handle(bf_cl_ctx_t *ctx)
{
    return (CUcontext)ctx;
}

int bf_cl_ctx_device(const bf_cl_ctx_t *ctx)
{
    return ctx->device;
}

CUresult bf_cl_cls_put(bf_cl_ctx_t *ctx, void *key, void *value, bf_cl_cls_dtor_fn_t dtor)
{
    int free_slot = -1;

    for (int i = 0; i < FAKE_CLS_MAX; i++) {
        if (ctx->cls[i].key == key) {
            ctx->cls[i].value = value;
            ctx->cls[i].dtor = dtor;
            return CUDA_SUCCESS;
        }
        if (ctx->cls[i].key == NULL && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    ctx->cls[free_slot].key = key;
    ctx->cls[free_slot].value = value;
    ctx->cls[free_slot].dtor = dtor;
    return CUDA_SUCCESS;
}

CUresult bf_cl_cls_get(bf_cl_ctx_t *ctx, void *key, void **value_p)
{
    for (int i = 0; i < FAKE_CLS_MAX; i++) {
        if (key != NULL && ctx->cls[i].key == key) {
            *value_p = ctx->cls[i].value;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_HANDLE;
}

CUresult bf_cl_cls_delete(bf_cl_ctx_t *ctx, void *key)
{
    for (int i = 0; i < FAKE_CLS_MAX; i++) {
        if (key != NULL && ctx->cls[i].key == key) {
            ctx->cls[i].key = NULL;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_HANDLE;
}

void bf_cl_log_setup(void)
{
    /* The tests set bf_log_level themselves. */
}

CUresult bf_unsupported(const char *name)
{
    unsupported_calls++;
    unsupported_last = name;
    return CUDA_ERROR_NOT_SUPPORTED;
}
