/*
 * export_tables.c: cuGetExportTable and the private tables NVIDIA's runtime asks the driver for.
 *
 * A table is an array of pointers. Slot 0 holds the table's size in bytes, except in
 * CONTEXT_LOCAL_STORAGE whose slot 0 is already a function. Slot meanings come from
 * shared/DRIVER-FRONT.md section 2 (verified under cudart 13.0, names after ZLUDA's dark_api);
 * docs/export-tables.md summarises them. Every function reached through a table is a plain C
 * function with the System V x86-64 calling convention, the one the runtime calls with.
 *
 * Slots whose meaning is unknown point at small functions that take no arguments (harmless under
 * that convention whatever the caller passes) and report the call, so that a runtime that starts
 * using a slot shows up in the log instead of crashing on a NULL.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cuda.h>

#include "bf_log.h"
#include "engine.h"
#include "integrity.h"

#define BF_EXPORT __attribute__((visibility("default")))

/* Slot 0 of a table: its size in bytes. */
#define TABLE_SIZE(slots) ((const void *)(uintptr_t)((slots) * sizeof(void *)))

/* Tells once, at debug level, that an unknown slot was called. */
static void note_unknown_slot(int *said, const char *table, int slot)
{
    if (__atomic_exchange_n(said, 1, __ATOMIC_RELAXED) == 0)
        bf_log_debug("export table %s slot %d called; its meaning is unknown", table, slot);
}

/* An unknown slot that answers success: the tool slots, which cudart calls only when a profiler
 * has enabled callbacks through the hooks buffers (kept zero here). */
#define UNKNOWN_SLOT_SUCCESS(fn, table, slot)                                                      \
    static CUresult fn(void)                                                                      \
    {                                                                                             \
        static int said;                                                                          \
        note_unknown_slot(&said, table, slot);                                                    \
        return CUDA_SUCCESS;                                                                      \
    }

/* An unknown slot of a table the runtime relies on: refused with the one-time notice. */
#define UNKNOWN_SLOT_UNSUPPORTED(fn, table, slot)                                                  \
    static CUresult fn(void)                                                                      \
    {                                                                                             \
        return bf_unsupported(table "[" #slot "]");                                               \
    }

/* ---- CUDART_INTERFACE 6bd5fb6c-5bf4-e74a-8987-d93912fd9df9 ---------------------------------- */

/* Slot 1, get_module_from_cubin(CUmodule *out, const __fatBinC_Wrapper_t *wrapper): loads a
 * fatbin wrapper as cuModuleLoadData would. cudart 13.0 loads code with cuLibraryLoadData instead
 * and was never seen calling it; code loading through this slot is left for later. */
static CUresult cudart_get_module_from_cubin(CUmodule *module_p, const void *wrapper)
{
    (void)module_p;
    (void)wrapper;
    return bf_unsupported("CUDART_INTERFACE[1] get_module_from_cubin");
}

/* Slot 2 (CUcontext *out, CUdevice dev): the device's primary context, without touching its
 * reference count. cudart calls it once per device and later retains the primary context once
 * itself and releases it once at exit, so a retaining form would leave the count unbalanced. */
static CUresult cudart_primary_ctx(CUcontext *ctx_p, CUdevice dev)
{
    CUresult status = bf_cl_check_init();
    CUcontext ctx;

    if (status != CUDA_SUCCESS)
        return status;
    if (ctx_p == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    ctx = bf_cl_primary_ctx(dev);
    if (ctx == NULL) {
        bf_log_debug("CUDART_INTERFACE[2]: no primary context for device %d", dev);
        return CUDA_ERROR_INVALID_DEVICE;
    }
    *ctx_p = ctx;
    return CUDA_SUCCESS;
}

/* Slot 6, get_module_from_cubin_ext1(CUmodule *out, wrapper, void *, void *, unsigned): slot 1
 * with extra arguments that both peers refuse unless NULL/0. Not called by cudart 13.0. */
static CUresult cudart_get_module_from_cubin_ext1(CUmodule *module_p, const void *wrapper,
                                                  void *arg3, void *arg4, unsigned arg5)
{
    (void)module_p;
    (void)wrapper;
    (void)arg3;
    (void)arg4;
    (void)arg5;
    return bf_unsupported("CUDART_INTERFACE[6] get_module_from_cubin_ext1");
}

/* Slot 7 (size_t): a no-op in both peers. Declared void by one, CUresult by the other: returning
 * success suits both. */
static CUresult cudart_slot7(size_t arg)
{
    (void)arg;
    return CUDA_SUCCESS;
}

/* Slot 8, get_module_from_cubin_ext2(const fatbin header *, CUmodule *out, void *, void *,
 * unsigned): note the reversed order and that it takes the fatbin itself, not the wrapper. */
static CUresult cudart_get_module_from_cubin_ext2(const void *fatbin, CUmodule *module_p,
                                                  void *arg3, void *arg4, unsigned arg5)
{
    (void)fatbin;
    (void)module_p;
    (void)arg3;
    (void)arg4;
    (void)arg5;
    return bf_unsupported("CUDART_INTERFACE[8] get_module_from_cubin_ext2");
}

/* Slot 12 (): load_compilers; the real driver loads its PTX compiler, libnvvm and tile IR here.
 * The worker's driver does its own loading, so there is nothing to do. */
static CUresult cudart_load_compilers(void)
{
    return CUDA_SUCCESS;
}

UNKNOWN_SLOT_UNSUPPORTED(cudart_slot3, "CUDART_INTERFACE", 3)
UNKNOWN_SLOT_UNSUPPORTED(cudart_slot4, "CUDART_INTERFACE", 4)
UNKNOWN_SLOT_UNSUPPORTED(cudart_slot5, "CUDART_INTERFACE", 5)
UNKNOWN_SLOT_UNSUPPORTED(cudart_slot9, "CUDART_INTERFACE", 9)
UNKNOWN_SLOT_UNSUPPORTED(cudart_slot10, "CUDART_INTERFACE", 10)
UNKNOWN_SLOT_UNSUPPORTED(cudart_slot11, "CUDART_INTERFACE", 11)

#define CUDART_INTERFACE_SLOTS 13
static const void *const cudart_interface[CUDART_INTERFACE_SLOTS] = {
    [0]  = TABLE_SIZE(CUDART_INTERFACE_SLOTS),       /* 104 bytes; cudart does not check it */
    [1]  = (const void *)cudart_get_module_from_cubin,
    [2]  = (const void *)cudart_primary_ctx,         /* called once per device */
    [3]  = (const void *)cudart_slot3,               /* unknown */
    [4]  = (const void *)cudart_slot4,               /* unknown */
    [5]  = (const void *)cudart_slot5,               /* unknown */
    [6]  = (const void *)cudart_get_module_from_cubin_ext1,
    [7]  = (const void *)cudart_slot7,               /* no-op */
    [8]  = (const void *)cudart_get_module_from_cubin_ext2,
    [9]  = (const void *)cudart_slot9,               /* unknown */
    [10] = (const void *)cudart_slot10,              /* unknown */
    [11] = (const void *)cudart_slot11,              /* unknown */
    [12] = (const void *)cudart_load_compilers,
};

/* ---- TOOLS_RUNTIME_CALLBACK_HOOKS a094798c-2e74-2e74-93f2-0800200c0a66 ----------------------- */

/* The two buffers cudart reads to decide which runtime callbacks are enabled: buffer 1 reads as
 * one enable byte per CUPTI runtime callback id (523 ids in 13.0). Both stay zero, so cudart
 * never calls the tool slots. Buffer 1 is sized for either reading of the reported size 1024
 * (bytes, or 8-byte words as ZLUDA has it). */
static uint64_t hooks_buffer1[1024];
static uint64_t hooks_buffer2[8];

#define HOOKS_BUFFER1_REPORTED 1024
#define HOOKS_BUFFER2_REPORTED 14

/* Slot 2 (void **buf, size_t *size) -> void: hands out buffer 1. */
static void hooks_buffer1_get(void **buf_p, size_t *size_p)
{
    if (buf_p != NULL)
        *buf_p = hooks_buffer1;
    if (size_p != NULL)
        *size_p = HOOKS_BUFFER1_REPORTED;
}

/* Slot 6 (void **buf, size_t *size) -> void: hands out buffer 2; filling it changed nothing. */
static void hooks_buffer2_get(void **buf_p, size_t *size_p)
{
    if (buf_p != NULL)
        *buf_p = hooks_buffer2;
    if (size_p != NULL)
        *size_p = HOOKS_BUFFER2_REPORTED;
}

UNKNOWN_SLOT_SUCCESS(hooks_slot1, "TOOLS_RUNTIME_CALLBACK_HOOKS", 1)
UNKNOWN_SLOT_SUCCESS(hooks_slot3, "TOOLS_RUNTIME_CALLBACK_HOOKS", 3)
UNKNOWN_SLOT_SUCCESS(hooks_slot4, "TOOLS_RUNTIME_CALLBACK_HOOKS", 4)
UNKNOWN_SLOT_SUCCESS(hooks_slot5, "TOOLS_RUNTIME_CALLBACK_HOOKS", 5)

#define HOOKS_SLOTS 7
static const void *const tools_runtime_callback_hooks[HOOKS_SLOTS] = {
    [0] = TABLE_SIZE(HOOKS_SLOTS),  /* 56 bytes: cudart refuses less with error 35 */
    [1] = (const void *)hooks_slot1,  /* called after each API call when enabled */
    [2] = (const void *)hooks_buffer1_get,
    [3] = (const void *)hooks_slot3,  /* unknown */
    [4] = (const void *)hooks_slot4,  /* called before each API call when enabled */
    [5] = (const void *)hooks_slot5,  /* unknown */
    [6] = (const void *)hooks_buffer2_get,
};

/* ---- TOOLS_TLS 42d85a81-23f6-cb47-8298-f6e78a3aecdc ----------------------------------------- */

UNKNOWN_SLOT_SUCCESS(tools_tls_slot1, "TOOLS_TLS", 1)
UNKNOWN_SLOT_SUCCESS(tools_tls_slot2, "TOOLS_TLS", 2)
UNKNOWN_SLOT_SUCCESS(tools_tls_slot3, "TOOLS_TLS", 3)

#define TOOLS_TLS_SLOTS 4
static const void *const tools_tls[TOOLS_TLS_SLOTS] = {
    [0] = TABLE_SIZE(TOOLS_TLS_SLOTS),
    [1] = (const void *)tools_tls_slot1,  /* unknown */
    [2] = (const void *)tools_tls_slot2,  /* called around API calls when callbacks are enabled */
    [3] = (const void *)tools_tls_slot3,  /* unknown */
};

/* ---- CONTEXT_LOCAL_STORAGE_INTERFACE_V0301 c693336e-1121-df11-a8c3-68f355d89593 ------------- */

/* Besides NULL, (CUcontext)-1 also means "the calling thread's current context" (Lupine). */
#define CLS_CURRENT_CTX ((CUcontext)(intptr_t)-1)

static inline CUresult cls_ctx(CUcontext handle, bf_cl_ctx_t **ctx_p)
{
    if (handle == CLS_CURRENT_CTX)
        handle = NULL;
    return bf_cl_ctx_resolve(handle, ctx_p);
}

/* Slot 0 put (ctx, key, value, dtor): cudart stores its per-context state once per context. The
 * engine calls dtor(ctx, key, value) when the context is destroyed or reset; without that cudart
 * would keep its stale state after cudaDeviceReset. */
static CUresult cls_put(CUcontext handle, void *key, void *value, bf_cl_cls_dtor_fn_t dtor)
{
    bf_cl_ctx_t *ctx;
    CUresult status = cls_ctx(handle, &ctx);

    if (status != CUDA_SUCCESS)
        return status;
    return bf_cl_cls_put(ctx, key, value, dtor);
}

/* Slot 1 delete (ctx, key): at exit; removes without calling the destructor. */
static CUresult cls_delete(CUcontext handle, void *key)
{
    bf_cl_ctx_t *ctx;
    CUresult status = cls_ctx(handle, &ctx);

    if (status != CUDA_SUCCESS)
        return status;
    return bf_cl_cls_delete(ctx, key);
}

/* Slot 2 get (void **value, ctx, key): called before nearly every runtime call, so it is two
 * lock-free engine calls and nothing else. A miss returns an error, which makes cudart set up its
 * state for the context and put it. */
static CUresult cls_get(void **value_p, CUcontext handle, void *key)
{
    bf_cl_ctx_t *ctx;
    CUresult status;

    if (value_p == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    status = cls_ctx(handle, &ctx);
    if (status != CUDA_SUCCESS)
        return status;
    return bf_cl_cls_get(ctx, key, value_p);
}

static const void *const context_local_storage[4] = {
    [0] = (const void *)cls_put,     /* no size slot in this table */
    [1] = (const void *)cls_delete,
    [2] = (const void *)cls_get,
    [3] = NULL,                      /* not part of the table; guards a reader that goes one over */
};

/* ---- CONTEXT_CHECKS 263e8860-7cd2-6143-92f6-bbd5006dfa7e ------------------------------------ */

/* Slot 2 (CUcontext, unsigned *out1, void **out2): at context set-up, cudaDeviceSynchronize and
 * reset. A failure becomes the API call's error; the outputs' values changed nothing. */
static CUresult context_check(CUcontext ctx, unsigned *out1_p, void **out2_p)
{
    (void)ctx;
    if (out1_p != NULL)
        *out1_p = 0;
    if (out2_p != NULL)
        *out2_p = NULL;
    return CUDA_SUCCESS;
}

/* Slot 3 () -> unsigned: once at init; 0, 1 and 2 all changed nothing. */
static unsigned context_check_flags(void)
{
    return 0;
}

UNKNOWN_SLOT_UNSUPPORTED(context_checks_slot1, "CONTEXT_CHECKS", 1)

#define CONTEXT_CHECKS_SLOTS 4
static const void *const context_checks[CONTEXT_CHECKS_SLOTS] = {
    [0] = TABLE_SIZE(CONTEXT_CHECKS_SLOTS),
    [1] = (const void *)context_checks_slot1,  /* unknown */
    [2] = (const void *)context_check,
    [3] = (const void *)context_check_flags,
};

/* ---- INTEGRITY_CHECK d4082055-bde6-704b-8d34-ba123c66e1f2 ----------------------------------- */

static CUresult integrity_check(unsigned version, uint64_t unix_seconds, uint64_t *out_p);

UNKNOWN_SLOT_UNSUPPORTED(integrity_slot2, "INTEGRITY_CHECK", 2)

#define INTEGRITY_CHECK_SLOTS 3
static const void *const integrity_check_table[INTEGRITY_CHECK_SLOTS] = {
    [0] = TABLE_SIZE(INTEGRITY_CHECK_SLOTS),
    [1] = (const void *)integrity_check,  /* its own address is part of the hashed record */
    [2] = (const void *)integrity_slot2,  /* unknown */
};

/* Slot 1 (unsigned version, uint64_t unix_seconds, uint64_t out[2]): called three times right
 * after the table is fetched, with versions 13000, 13001, 13002. The answer to the last is
 * checked; a wrong one fails every runtime call with cudaErrorSoftwareValidityNotEstablished. */
static CUresult integrity_check(unsigned version, uint64_t unix_seconds, uint64_t *out_p)
{
    CUresult status = bf_cl_check_init();
    bf_status_t answer;

    if (status != CUDA_SUCCESS)
        return status;
    if (out_p == NULL)
        return CUDA_ERROR_INVALID_VALUE;

    const bf_cl_integrity_msg_t msg = {
        .driver_version  = BF_CL_DRIVER_VERSION,
        .version         = version,
        .pid             = (uint32_t)getpid(),
        .thread          = (uint32_t)(uintptr_t)pthread_self(),
        .cudart_table    = (uint64_t)(uintptr_t)cudart_interface,
        .integrity_table = (uint64_t)(uintptr_t)integrity_check_table,
        .slot_fn         = (uint64_t)(uintptr_t)integrity_check_table[1],
        .unix_seconds    = unix_seconds,
    };
    answer = bf_cl_integrity_answer(&msg, bf_cl_device_count(), bf_cl_device, out_p);
    if (answer != BF_OK) {
        bf_log_error("integrity check: device description missing: %s", bf_status_str(answer));
        return bf_status_to_cu(answer);
    }
    return CUDA_SUCCESS;
}

/* ---- cuGetExportTable ----------------------------------------------------------------------- */

typedef struct {
    uint8_t uuid[16];       /* CUuuid bytes in memory order */
    const char *name;
    const void *table;      /* NULL: known, refused */
} export_table_t;

static const export_table_t export_tables[] = {
    {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9},
     "CUDART_INTERFACE", cudart_interface},
    {{0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66},
     "TOOLS_RUNTIME_CALLBACK_HOOKS", tools_runtime_callback_hooks},
    {{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc},
     "TOOLS_TLS", tools_tls},
    {{0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93},
     "CONTEXT_LOCAL_STORAGE_INTERFACE_V0301", context_local_storage},
    {{0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e},
     "CONTEXT_CHECKS", context_checks},
    {{0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2},
     "INTEGRITY_CHECK", integrity_check_table},
    /* Asked first by cudart 13.0, before cuInit; refusing it changes nothing and a granted table
     * had none of its slots called. Its contents are unknown. */
    {{0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e, 0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9},
     "f8cff951 (unnamed)", NULL},
    /* Served by ZLUDA and Lupine for other callers; never requested by cudart 13.0. */
    {{0x0c, 0xa5, 0x0b, 0x8c, 0x10, 0x04, 0x92, 0x9a, 0x89, 0xa7, 0xd0, 0xdf, 0x10, 0xe7, 0x72, 0x86},
     "CTX_CREATE_BYPASS", NULL},
    {{0x19, 0x5b, 0xcb, 0xf4, 0xd6, 0x7d, 0x02, 0x4a, 0xac, 0xc5, 0x1d, 0x29, 0xce, 0xa6, 0x31, 0xae},
     "HEAP_ACCESS", NULL},
    {{0xb1, 0x05, 0x41, 0xe1, 0xf7, 0xc7, 0xc7, 0x4a, 0x9f, 0x64, 0xf2, 0x23, 0xbe, 0x99, 0xf1, 0xe2},
     "DEVICE_EXTENDED_RT", NULL},
};

#define EXPORT_TABLE_COUNT (sizeof(export_tables) / sizeof(export_tables[0]))

/* Unknown UUIDs already logged, so that each is logged once. Lookups of unknown tables are rare
 * (a handful per process), so a mutex is cheap enough. */
#define LOGGED_UNKNOWN_MAX 32
static pthread_mutex_t logged_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t logged_unknown[LOGGED_UNKNOWN_MAX][16];
static unsigned logged_unknown_count;
static int logged_refused[EXPORT_TABLE_COUNT];

static void log_unknown_once(const uint8_t *uuid)
{
    int first = 1;

    bf_cl_log_setup();
    if (bf_log_level < BF_LOG_DEBUG)
        return;
    pthread_mutex_lock(&logged_lock);
    for (unsigned i = 0; i < logged_unknown_count; i++) {
        if (memcmp(logged_unknown[i], uuid, 16) == 0) {
            first = 0;
            break;
        }
    }
    if (first && logged_unknown_count < LOGGED_UNKNOWN_MAX)
        memcpy(logged_unknown[logged_unknown_count++], uuid, 16);
    pthread_mutex_unlock(&logged_lock);
    if (first)
        bf_log_debug("cuGetExportTable: unknown table %02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                     "%02x%02x%02x%02x%02x%02x refused",
                     uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
                     uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14],
                     uuid[15]);
}

BF_EXPORT CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
    const uint8_t *uuid;

    if (ppExportTable == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *ppExportTable = NULL;
    if (pExportTableId == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    uuid = (const uint8_t *)pExportTableId->bytes;

    for (size_t i = 0; i < EXPORT_TABLE_COUNT; i++) {
        const export_table_t *entry = &export_tables[i];

        if (memcmp(entry->uuid, uuid, 16) != 0)
            continue;
        if (entry->table == NULL) {
            /* Refusal: 1, 500 and 801 were all tolerated for f8cff951. It is asked before
             * cuInit, so logging may not be set up yet. */
            bf_cl_log_setup();
            if (__atomic_exchange_n(&logged_refused[i], 1, __ATOMIC_RELAXED) == 0)
                bf_log_debug("cuGetExportTable: %s not served", entry->name);
            return CUDA_ERROR_INVALID_VALUE;
        }
        bf_log_trace("cuGetExportTable: %s", entry->name);
        *ppExportTable = entry->table;
        return CUDA_SUCCESS;
    }
    log_unknown_once(uuid);
    return CUDA_ERROR_INVALID_VALUE;
}
