/*
 * The cuGetExportTable surface as NVIDIA's runtime sees it, linked against a fake engine
 * (fake_engine.c) instead of libbf.so: every mandatory table is served with its size in slot 0,
 * unknown and refused UUIDs give NULL and an error, the working slots do what DRIVER-FRONT.md
 * section 2 says, and context-local storage round-trips through the engine.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cuda.h>

#include "bf_log.h"
#include "fake_engine.h"
#include "integrity.h"

#include "../bf_check.h"


static const CUuuid uuid_cudart_interface = {{
    0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, (char)0xf9}};
static const CUuuid uuid_hooks = {{
    (char)0xa0, (char)0x94, 0x79, (char)0x8c, 0x2e, 0x74, 0x2e, 0x74, (char)0x93, (char)0xf2, 0x08,
    0x00, 0x20, 0x0c, 0x0a, 0x66}};
static const CUuuid uuid_tools_tls = {{
    0x42, (char)0xd8, 0x5a, (char)0x81, 0x23, (char)0xf6, (char)0xcb, 0x47, (char)0x82, (char)0x98,
    (char)0xf6, (char)0xe7, (char)0x8a, 0x3a, (char)0xec, (char)0xdc}};
static const CUuuid uuid_cls = {{
    (char)0xc6, (char)0x93, 0x33, 0x6e, 0x11, 0x21, (char)0xdf, 0x11, (char)0xa8, (char)0xc3, 0x68,
    (char)0xf3, 0x55, (char)0xd8, (char)0x95, (char)0x93}};
static const CUuuid uuid_context_checks = {{
    0x26, 0x3e, (char)0x88, 0x60, 0x7c, (char)0xd2, 0x61, 0x43, (char)0x92, (char)0xf6, (char)0xbb,
    (char)0xd5, 0x00, 0x6d, (char)0xfa, 0x7e}};
static const CUuuid uuid_integrity = {{
    (char)0xd4, 0x08, 0x20, 0x55, (char)0xbd, (char)0xe6, 0x70, 0x4b, (char)0x8d, 0x34, (char)0xba,
    0x12, 0x3c, 0x66, (char)0xe1, (char)0xf2}};
static const CUuuid uuid_f8cff951 = {{
    (char)0xf8, (char)0xcf, (char)0xf9, 0x51, 0x21, 0x46, (char)0x8b, 0x4e, (char)0xb9, (char)0xe2,
    (char)0xfb, 0x46, (char)0x9e, 0x7c, 0x0d, (char)0xd9}};
static const CUuuid uuid_unknown = {{
    0x01, 0x23, 0x45, 0x67, (char)0x89, (char)0xab, (char)0xcd, (char)0xef, 0x01, 0x23, 0x45, 0x67,
    (char)0x89, (char)0xab, (char)0xcd, (char)0xef}};

/* Slot signatures, as the runtime calls them. */
typedef CUresult (*get_module_fn_t)(CUmodule *, const void *);
typedef CUresult (*primary_ctx_fn_t)(CUcontext *, CUdevice);
typedef CUresult (*get_module_ext1_fn_t)(CUmodule *, const void *, void *, void *, unsigned);
typedef void (*slot7_fn_t)(size_t);
typedef CUresult (*get_module_ext2_fn_t)(const void *, CUmodule *, void *, void *, unsigned);
typedef CUresult (*load_compilers_fn_t)(void);
typedef void (*hooks_buffer_fn_t)(void **, size_t *);
typedef CUresult (*cls_put_fn_t)(CUcontext, void *, void *, void (*)(CUcontext, void *, void *));
typedef CUresult (*cls_delete_fn_t)(CUcontext, void *);
typedef CUresult (*cls_get_fn_t)(void **, CUcontext, void *);
typedef CUresult (*context_check_fn_t)(CUcontext, unsigned *, void **);
typedef unsigned (*context_check_flags_fn_t)(void);
typedef CUresult (*integrity_fn_t)(unsigned, uint64_t, uint64_t *);

static void *const *table_of(const CUuuid *uuid)
{
    const void *table = (const void *)0x1;
    CUresult status = cuGetExportTable(&table, uuid);

    if (status != CUDA_SUCCESS || table == NULL)
        return NULL;
    return (void *const *)table;
}

/* Slot i of a table as a function pointer of type T. */
#define SLOT(T, table, i) ((T)(table)[i])

static void test_sizes(void)
{
    static const struct {
        const char *name;
        const CUuuid *uuid;
        size_t min_size;
    } sized[] = {
        {"CUDART_INTERFACE", &uuid_cudart_interface, 104},
        {"TOOLS_RUNTIME_CALLBACK_HOOKS", &uuid_hooks, 56},
        {"TOOLS_TLS", &uuid_tools_tls, 32},
        {"CONTEXT_CHECKS", &uuid_context_checks, 32},
        {"INTEGRITY_CHECK", &uuid_integrity, 24},
    };

    for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
        void *const *table = table_of(sized[i].uuid);
        CHECKF(table != NULL, "%s not served", sized[i].name);
        if (table == NULL)
            continue;
        size_t size = (size_t)(uintptr_t)table[0];
        CHECKF(size >= sized[i].min_size && size % sizeof(void *) == 0, "%s size %zu",
              sized[i].name, size);
        /* Every slot below the size is filled: nothing the runtime may call is NULL. */
        for (size_t slot = 1; slot < size / sizeof(void *); slot++)
            CHECKF(table[slot] != NULL, "%s slot %zu is NULL", sized[i].name, slot);
        CHECKF(table_of(sized[i].uuid) == table, "%s not the same table twice", sized[i].name);
    }
    CHECKF((size_t)(uintptr_t)table_of(&uuid_cudart_interface)[0] == 104, "CUDART_INTERFACE is 104");

    /* CONTEXT_LOCAL_STORAGE has no size: slot 0 is already a function. */
    void *const *cls = table_of(&uuid_cls);
    CHECKF(cls != NULL, "CONTEXT_LOCAL_STORAGE not served");
    if (cls != NULL)
        CHECKF(cls[0] != NULL && (uintptr_t)cls[0] > 4096 && cls[1] != NULL && cls[2] != NULL,
              "CONTEXT_LOCAL_STORAGE slots 0-2 are functions");
}

static void test_refusals(void)
{
    const void *table = (const void *)0x1;

    /* Exercise the logging of refused and unknown UUIDs (its lines go to the test's stderr). */
    bf_log_level = BF_LOG_DEBUG;

    CHECKF(cuGetExportTable(&table, &uuid_unknown) != CUDA_SUCCESS, "unknown uuid accepted");
    CHECKF(table == NULL, "unknown uuid: table not NULL");
    table = (const void *)0x1;
    CHECKF(cuGetExportTable(&table, &uuid_unknown) != CUDA_SUCCESS, "unknown uuid accepted twice");
    CHECKF(table == NULL, "unknown uuid twice: table not NULL");

    table = (const void *)0x1;
    CUresult status = cuGetExportTable(&table, &uuid_f8cff951);
    CHECKF(status == CUDA_ERROR_INVALID_VALUE || status == CUDA_ERROR_NOT_FOUND ||
              status == CUDA_ERROR_NOT_SUPPORTED,
          "f8cff951 answered %d, not one of the tolerated refusals", (int)status);
    CHECKF(table == NULL, "f8cff951: table not NULL");

    table = (const void *)0x1;
    CHECKF(cuGetExportTable(&table, NULL) == CUDA_ERROR_INVALID_VALUE, "NULL uuid");
    CHECKF(table == NULL, "NULL uuid: table not NULL");
    CHECKF(cuGetExportTable(NULL, &uuid_cudart_interface) == CUDA_ERROR_INVALID_VALUE, "NULL out");
    bf_log_level = BF_LOG_WARN;
}

static void test_cudart_interface(void)
{
    void *const *t = table_of(&uuid_cudart_interface);
    CUcontext ctx = NULL;
    CUmodule module = NULL;
    int unsupported = fake_engine_unsupported_calls();

    if (t == NULL)
        return;

    CHECKF(SLOT(primary_ctx_fn_t, t, 2)(&ctx, 1) == CUDA_SUCCESS, "slot 2 device 1");
    CHECKF(ctx == fake_engine_ctx(1), "slot 2 gives device 1's primary context");
    ctx = (CUcontext)0x1;
    CHECKF(SLOT(primary_ctx_fn_t, t, 2)(&ctx, 7) == CUDA_ERROR_INVALID_DEVICE, "slot 2 bad device");
    CHECKF(ctx == (CUcontext)0x1, "slot 2 bad device: output written");
    CHECKF(SLOT(primary_ctx_fn_t, t, 2)(NULL, 0) == CUDA_ERROR_INVALID_VALUE, "slot 2 NULL out");
    fake_engine_set_init_result(CUDA_ERROR_NOT_INITIALIZED);
    CHECKF(SLOT(primary_ctx_fn_t, t, 2)(&ctx, 0) == CUDA_ERROR_NOT_INITIALIZED, "slot 2 before init");
    fake_engine_set_init_result(CUDA_SUCCESS);

    CHECKF(SLOT(get_module_fn_t, t, 1)(&module, NULL) == CUDA_ERROR_NOT_SUPPORTED, "slot 1");
    CHECKF(SLOT(get_module_ext1_fn_t, t, 6)(&module, NULL, NULL, NULL, 0) == CUDA_ERROR_NOT_SUPPORTED,
          "slot 6");
    CHECKF(SLOT(get_module_ext2_fn_t, t, 8)(NULL, &module, NULL, NULL, 0) == CUDA_ERROR_NOT_SUPPORTED,
          "slot 8");
    CHECKF(fake_engine_unsupported_calls() == unsupported + 3, "slots 1, 6, 8 report themselves");
    CHECKF(strstr(fake_engine_unsupported_last(), "CUDART_INTERFACE[8]") != NULL,
          "slot 8 names itself: %s", fake_engine_unsupported_last());
    CHECKF(SLOT(load_compilers_fn_t, t, 3)() == CUDA_ERROR_NOT_SUPPORTED, "unknown slot 3 refused");
    CHECKF(strstr(fake_engine_unsupported_last(), "CUDART_INTERFACE[3]") != NULL,
          "slot 3 names itself: %s", fake_engine_unsupported_last());

    SLOT(slot7_fn_t, t, 7)(12345);
    CHECKF(SLOT(load_compilers_fn_t, t, 12)() == CUDA_SUCCESS, "slot 12");
}

static void test_hooks(void)
{
    void *const *t = table_of(&uuid_hooks);
    void *buf1 = NULL, *buf2 = NULL;
    size_t size1 = 0, size2 = 0;

    if (t == NULL)
        return;
    SLOT(hooks_buffer_fn_t, t, 2)(&buf1, &size1);
    SLOT(hooks_buffer_fn_t, t, 6)(&buf2, &size2);
    CHECKF(buf1 != NULL && size1 == 1024, "hooks slot 2: %p %zu", buf1, size1);
    CHECKF(buf2 != NULL && size2 == 14, "hooks slot 6: %p %zu", buf2, size2);
    CHECKF(buf1 != buf2, "hooks buffers distinct");
    if (buf1 != NULL) {
        const uint8_t *p = buf1;
        size_t nonzero = 0;
        for (size_t i = 0; i < 1024; i++)
            nonzero += p[i] != 0;
        CHECKF(nonzero == 0, "hooks buffer 1 not zero");
    }
    if (buf2 != NULL) {
        const uint8_t *p = buf2;
        size_t nonzero = 0;
        for (size_t i = 0; i < 14; i++)
            nonzero += p[i] != 0;
        CHECKF(nonzero == 0, "hooks buffer 2 not zero");
    }
    /* The tool slots answer success (they are only called when a profiler enables callbacks). */
    CHECKF(SLOT(load_compilers_fn_t, t, 1)() == CUDA_SUCCESS, "hooks slot 1");
    void *const *tls = table_of(&uuid_tools_tls);
    if (tls != NULL)
        CHECKF(SLOT(load_compilers_fn_t, tls, 2)() == CUDA_SUCCESS, "TOOLS_TLS slot 2");
}

static int dtor_calls;
static CUcontext dtor_ctx;
static void *dtor_key, *dtor_value;

static void record_dtor(CUcontext ctx, void *key, void *value)
{
    dtor_calls++;
    dtor_ctx = ctx;
    dtor_key = key;
    dtor_value = value;
}

static void test_context_local_storage(void)
{
    void *const *t = table_of(&uuid_cls);
    static int key1, key2, state1, state2;
    void *value = NULL;

    if (t == NULL)
        return;
    cls_put_fn_t put = SLOT(cls_put_fn_t, t, 0);
    cls_delete_fn_t del = SLOT(cls_delete_fn_t, t, 1);
    cls_get_fn_t get = SLOT(cls_get_fn_t, t, 2);
    CUcontext ctx0 = fake_engine_ctx(0), ctx1 = fake_engine_ctx(1);
    CUcontext minus_one = (CUcontext)(intptr_t)-1;

    /* No current context: a get misses with an error (cudart then sets a context up). */
    fake_engine_set_current(NULL);
    CHECKF(get(&value, NULL, &key1) != CUDA_SUCCESS, "get without a current context");
    CHECKF(put(NULL, &key1, &state1, record_dtor) != CUDA_SUCCESS, "put without a current context");

    fake_engine_set_current(ctx0);
    CHECKF(get(&value, NULL, &key1) != CUDA_SUCCESS, "get before put");
    CHECKF(put(NULL, &key1, &state1, record_dtor) == CUDA_SUCCESS, "put into the current context");
    value = NULL;
    CHECKF(get(&value, NULL, &key1) == CUDA_SUCCESS && value == &state1, "get, NULL ctx");
    value = NULL;
    CHECKF(get(&value, minus_one, &key1) == CUDA_SUCCESS && value == &state1, "get, ctx -1");
    value = NULL;
    CHECKF(get(&value, ctx0, &key1) == CUDA_SUCCESS && value == &state1, "get, explicit ctx");
    CHECKF(get(&value, ctx1, &key1) != CUDA_SUCCESS, "another context's storage is separate");
    CHECKF(get(&value, ctx0, &key2) != CUDA_SUCCESS, "another key misses");
    CHECKF(get(NULL, ctx0, &key1) == CUDA_ERROR_INVALID_VALUE, "get with NULL out");

    /* Put into an explicit, non-current context, and through (CUcontext)-1. */
    CHECKF(put(ctx1, &key1, &state2, NULL) == CUDA_SUCCESS, "put, explicit ctx");
    CHECKF(put(minus_one, &key2, &state2, NULL) == CUDA_SUCCESS, "put, ctx -1");
    value = NULL;
    CHECKF(get(&value, ctx1, &key1) == CUDA_SUCCESS && value == &state2, "get from ctx 1");
    value = NULL;
    CHECKF(get(&value, NULL, &key2) == CUDA_SUCCESS && value == &state2, "get key2 current");

    /* Replacing a value. */
    CHECKF(put(ctx0, &key2, &state1, NULL) == CUDA_SUCCESS, "put replaces");
    value = NULL;
    CHECKF(get(&value, ctx0, &key2) == CUDA_SUCCESS && value == &state1, "replaced value");

    /* Delete removes without calling the destructor. */
    CHECKF(del(NULL, &key2) == CUDA_SUCCESS, "delete key2");
    CHECKF(get(&value, ctx0, &key2) != CUDA_SUCCESS, "deleted key misses");
    CHECKF(del(minus_one, &key2) != CUDA_SUCCESS, "delete twice fails");
    CHECKF(del(ctx1, &key1) == CUDA_SUCCESS, "delete from ctx 1");
    CHECKF(dtor_calls == 0, "delete called a destructor");

    /* The destructor handed to put reaches the engine with its arguments intact. */
    fake_engine_ctx_reset(ctx0);
    CHECKF(dtor_calls == 1 && dtor_ctx == ctx0 && dtor_key == &key1 && dtor_value == &state1,
          "reset calls dtor(ctx, key, value)");
    CHECKF(get(&value, ctx0, &key1) != CUDA_SUCCESS, "entry gone after reset");
    fake_engine_set_current(NULL);
}

static void test_context_checks(void)
{
    void *const *t = table_of(&uuid_context_checks);
    unsigned out1 = 77;
    void *out2 = &out1;

    if (t == NULL)
        return;
    CHECKF(SLOT(context_check_fn_t, t, 2)(fake_engine_ctx(0), &out1, &out2) == CUDA_SUCCESS,
          "context check");
    CHECKF(out1 == 0 && out2 == NULL, "context check writes zeros");
    CHECKF(SLOT(context_check_fn_t, t, 2)(NULL, NULL, NULL) == CUDA_SUCCESS, "context check, NULLs");
    CHECKF(SLOT(context_check_flags_fn_t, t, 3)() == 0, "slot 3 returns 0");
}

static uint8_t *put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static void test_integrity(void)
{
    static const uint8_t key[16] = {
        0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52, 0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f,
    };
    void *const *t = table_of(&uuid_integrity);
    void *const *cudart = table_of(&uuid_cudart_interface);
    uint64_t out[2] = {0, 0};
    const uint64_t now = 1767225600;

    if (t == NULL || cudart == NULL)
        return;
    integrity_fn_t check = SLOT(integrity_fn_t, t, 1);

    CHECKF(check(13000, now, out) == CUDA_SUCCESS, "integrity 13000");
    CHECKF(out[0] == 0x3341181c03cb675cull && out[1] == 0x8ed383aa1f4cd1e8ull, "13000 constants");
    CHECKF(check(13001, now, out) == CUDA_SUCCESS, "integrity 13001");
    CHECKF(out[0] == 0x1841181c03cb675cull && out[1] == 0x8ed383aa1f4cd1e8ull, "13001 constants");

    /* 13002: HMAC-MD2 of the record the runtime builds from what it sees of this process. */
    uint8_t msg[48 + 28 * FAKE_DEVICE_COUNT], *p = msg, mac[16];
    p = put_le(p, BF_CL_DRIVER_VERSION, 4);
    p = put_le(p, 13002, 4);
    p = put_le(p, (uint32_t)getpid(), 4);
    p = put_le(p, (uint32_t)(uintptr_t)pthread_self(), 4);
    p = put_le(p, (uintptr_t)cudart, 8);
    p = put_le(p, (uintptr_t)t, 8);
    p = put_le(p, (uintptr_t)t[1], 8);
    p = put_le(p, now, 8);
    for (int d = 0; d < FAKE_DEVICE_COUNT; d++) {
        const bf_proto_device_t *dev = bf_cl_device(d);
        memcpy(p, dev->uuid, 16);
        p = put_le(p + 16, (uint32_t)dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID], 4);
        p = put_le(p, (uint32_t)dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID], 4);
        p = put_le(p, (uint32_t)dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID], 4);
    }
    bf_cl_hmac_md2(key, sizeof(key), msg, sizeof(msg), mac);
    uint64_t want0 = 0, want1 = 0;
    for (int i = 7; i >= 0; i--) {
        want0 = (want0 << 8) | mac[i];
        want1 = (want1 << 8) | mac[8 + i];
    }
    CHECKF(check(13002, now, out) == CUDA_SUCCESS, "integrity 13002");
    CHECKF(out[0] == want0 && out[1] == want1, "integrity 13002 answer %016llx %016llx, want "
          "%016llx %016llx", (unsigned long long)out[0], (unsigned long long)out[1],
          (unsigned long long)want0, (unsigned long long)want1);
    CHECKF(check(13002, now + 1, out) == CUDA_SUCCESS && out[0] != want0, "the time is hashed");

    CHECKF(check(13002, now, NULL) == CUDA_ERROR_INVALID_VALUE, "integrity NULL out");
    fake_engine_set_init_result(CUDA_ERROR_NOT_INITIALIZED);
    CHECKF(check(13002, now, out) == CUDA_ERROR_NOT_INITIALIZED, "integrity before init");
    fake_engine_set_init_result(CUDA_SUCCESS);
}

int main(void)
{
    test_sizes();
    test_refusals();
    test_cudart_interface();
    test_hooks();
    test_context_local_storage();
    test_context_checks();
    test_integrity();
    return bf_check_exit("export tables");
}
