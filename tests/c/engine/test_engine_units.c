/*
 * test_engine_units.c: the engine's local state, without a server: the per-thread context
 * stack, handle checks, context-local storage (lock-free reads, destructors on reset and final
 * release), primary-context counting, and the table of device ranges.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#include "../bf_check.h"


/* The engine's connection never opens here: the worker side of a reset is simply unreachable.
 * Stub the unsupported notice, which the entry layer provides in libbf.so. */
CUresult bf_unsupported(const char *name)
{
    (void)name;
    return CUDA_ERROR_NOT_SUPPORTED;
}

static bf_proto_device_t devices[2];

static void setup_devices(void)
{
    for (int i = 0; i < 2; i++) {
        snprintf(devices[i].name, sizeof(devices[i].name), "test device %d", i);
        devices[i].total_mem   = 1u << 30;
        devices[i].window_base = 0x100000000000ull + (uint64_t)i * (1ull << 32);
        devices[i].window_size = 1ull << 32;
    }
    bf_cl_devices = devices;
    bf_cl_devices_count = 2;
    bf_cl_mem_setup(0x100000000000ull, 1ull << 40);
    CHECK(bf_cl_ctx_setup(2) == BF_OK);
}

/* ---- context stack and handles ------------------------------------------------------------- */

static void test_stack(void)
{
    bf_cl_ctx_t *c0, *c1, *ctx;
    CUcontext h0 = bf_cl_primary_ctx(0), h1 = bf_cl_primary_ctx(1), popped = NULL;

    CHECK(h0 != NULL && h1 != NULL && h0 != h1);
    CHECK(bf_cl_primary_ctx(2) == NULL && bf_cl_primary_ctx(-1) == NULL);
    CHECK(bf_cl_ctx_resolve(h0, &c0) == CUDA_SUCCESS && bf_cl_ctx_device(c0) == 0);
    CHECK(bf_cl_ctx_resolve(h1, &c1) == CUDA_SUCCESS && bf_cl_ctx_device(c1) == 1);
    CHECK(bf_cl_ctx_handle(c1) == h1);

    /* Stray pointers are refused without being trusted. */
    CHECK(bf_cl_ctx_resolve((CUcontext)((char *)h0 + 8), &ctx) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(bf_cl_ctx_resolve((CUcontext)&failures, &ctx) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(bf_cl_ctx_resolve((CUcontext)(uintptr_t)1, &ctx) == CUDA_ERROR_INVALID_CONTEXT);

    /* Empty stack: no current context. */
    CHECK(bf_cl_ctx_get_current() == NULL);
    CHECK(bf_cl_ctx_resolve(NULL, &ctx) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(bf_cl_ctx_current(&ctx) == CUDA_ERROR_INVALID_CONTEXT);
    CHECK(bf_cl_ctx_pop(&popped) == CUDA_ERROR_INVALID_CONTEXT);

    /* Set on an empty stack pushes; set replaces the top; NULL pops. */
    bf_cl_ctx_set_current(c0);
    CHECK(bf_cl_ctx_get_current() == h0);
    CHECK(bf_cl_ctx_resolve(NULL, &ctx) == CUDA_SUCCESS && ctx == c0);
    /* Known but not retained: current, yet not usable for work. */
    CHECK(bf_cl_ctx_current(&ctx) == CUDA_ERROR_CONTEXT_IS_DESTROYED);
    CHECK(bf_cl_ctx_push(c1) == CUDA_SUCCESS);
    CHECK(bf_cl_ctx_get_current() == h1);
    bf_cl_ctx_set_current(c0);
    CHECK(bf_cl_ctx_get_current() == h0);
    CHECK(bf_cl_ctx_pop(&popped) == CUDA_SUCCESS && popped == h0);
    CHECK(bf_cl_ctx_get_current() == h0);  /* the first set is still below */
    bf_cl_ctx_set_current(NULL);
    CHECK(bf_cl_ctx_get_current() == NULL);
    bf_cl_ctx_set_current(NULL);  /* no-op on an empty stack */
    CHECK(bf_cl_ctx_get_current() == NULL);

    /* The stack has a bound and says so. */
    int pushed = 0;
    while (bf_cl_ctx_push(c0) == CUDA_SUCCESS && pushed < BF_CL_CTX_STACK_MAX + 5)
        pushed++;
    CHECK(pushed == BF_CL_CTX_STACK_MAX);
    while (bf_cl_ctx_pop(NULL) == CUDA_SUCCESS)
        pushed--;
    CHECK(pushed == 0);
}

static void *other_thread_current(void *arg)
{
    (void)arg;
    return bf_cl_ctx_get_current();
}

static void test_stack_is_per_thread(void)
{
    bf_cl_ctx_t *c0;
    pthread_t thread;
    void *seen = (void *)1;

    CHECK(bf_cl_ctx_resolve(bf_cl_primary_ctx(0), &c0) == CUDA_SUCCESS);
    bf_cl_ctx_set_current(c0);
    CHECK(pthread_create(&thread, NULL, other_thread_current, NULL) == 0);
    CHECK(pthread_join(thread, &seen) == 0);
    CHECK(seen == NULL);
    bf_cl_ctx_set_current(NULL);
}

/* ---- context-local storage ----------------------------------------------------------------- */

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

static void test_cls(void)
{
    bf_cl_ctx_t *c0, *c1;
    static int k1, k2, k3;  /* keys are addresses: static, so that no later frame reuses them */
    void *value = NULL;

    CHECK(bf_cl_ctx_resolve(bf_cl_primary_ctx(0), &c0) == CUDA_SUCCESS);
    CHECK(bf_cl_ctx_resolve(bf_cl_primary_ctx(1), &c1) == CUDA_SUCCESS);

    CHECK(bf_cl_cls_get(c0, &k1, &value) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(bf_cl_cls_put(c0, &k1, (void *)0x11, record_dtor) == CUDA_SUCCESS);
    CHECK(bf_cl_cls_put(c0, &k2, (void *)0x22, NULL) == CUDA_SUCCESS);
    CHECK(bf_cl_cls_get(c0, &k1, &value) == CUDA_SUCCESS && value == (void *)0x11);
    CHECK(bf_cl_cls_get(c0, &k2, &value) == CUDA_SUCCESS && value == (void *)0x22);
    /* Storage is per context. */
    CHECK(bf_cl_cls_get(c1, &k1, &value) == CUDA_ERROR_INVALID_HANDLE);
    /* Put replaces. */
    CHECK(bf_cl_cls_put(c0, &k1, (void *)0x12, record_dtor) == CUDA_SUCCESS);
    CHECK(bf_cl_cls_get(c0, &k1, &value) == CUDA_SUCCESS && value == (void *)0x12);
    /* Delete forgets without the destructor; a freed slot is reused. */
    CHECK(bf_cl_cls_delete(c0, &k2) == CUDA_SUCCESS);
    CHECK(bf_cl_cls_delete(c0, &k2) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(bf_cl_cls_get(c0, &k2, &value) == CUDA_ERROR_INVALID_HANDLE);
    CHECK(bf_cl_cls_put(c0, &k3, (void *)0x33, NULL) == CUDA_SUCCESS);
    CHECK(bf_cl_cls_get(c0, &k3, &value) == CUDA_SUCCESS && value == (void *)0x33);
    CHECK(dtor_calls == 0);
    CHECK(bf_cl_cls_put(c0, NULL, (void *)1, NULL) == CUDA_ERROR_INVALID_VALUE);

    /* Full storage says so instead of growing without bound. */
    static int keys[BF_CL_CLS_MAX];
    int stored = 0;
    for (int i = 0; i < BF_CL_CLS_MAX; i++)
        if (bf_cl_cls_put(c1, &keys[i], &keys[i], NULL) == CUDA_SUCCESS)
            stored++;
    CHECK(stored == BF_CL_CLS_MAX);
    CHECK(bf_cl_cls_put(c1, &k1, &k1, NULL) == CUDA_ERROR_OUT_OF_MEMORY);
    for (int i = 0; i < BF_CL_CLS_MAX; i++)
        CHECK(bf_cl_cls_delete(c1, &keys[i]) == CUDA_SUCCESS);
}

/* ---- primary contexts: counting, reset, final release -------------------------------------- */

static void test_primary(void)
{
    bf_cl_ctx_t *c0;
    CUcontext handle;
    unsigned int flags;
    int active;
    static int key;
    void *value;

    CHECK(bf_cl_ctx_resolve(bf_cl_primary_ctx(0), &c0) == CUDA_SUCCESS);
    bf_cl_primary_get_state(0, &flags, &active);
    CHECK(active == 0);
    CHECK(bf_cl_primary_release(0) == CUDA_ERROR_INVALID_CONTEXT);  /* never retained */

    CHECK(bf_cl_primary_retain(0, &handle) == CUDA_SUCCESS && handle == bf_cl_primary_ctx(0));
    CHECK(bf_cl_primary_retain(0, &handle) == CUDA_SUCCESS);
    bf_cl_primary_get_state(0, &flags, &active);
    CHECK(active == 1);
    bf_cl_primary_set_flags(0, CU_CTX_SCHED_BLOCKING_SYNC);
    bf_cl_primary_get_state(0, &flags, &active);
    CHECK(flags == CU_CTX_SCHED_BLOCKING_SYNC && bf_cl_ctx_flags(c0) == flags);

    /* The current context is usable once retained. */
    bf_cl_ctx_t *ctx = NULL;
    bf_cl_ctx_set_current(c0);
    CHECK(bf_cl_ctx_current(&ctx) == CUDA_SUCCESS && ctx == c0);

    /* Reset: destructors run with (ctx, key, value), storage and allocations are gone, the
     * context is inactive until retained again, and the count is kept. The worker side is
     * unreachable here, which reset reports, after doing the local part. */
    CHECK(bf_cl_mem_insert(0, devices[0].window_base, 4096, BF_CL_MEM_ALLOC) == CUDA_SUCCESS);
    dtor_calls = 0;
    CHECK(bf_cl_cls_put(c0, &key, (void *)0x77, record_dtor) == CUDA_SUCCESS);
    CHECK(bf_cl_primary_reset(0) != CUDA_SUCCESS);
    CHECK(dtor_calls == 2);  /* k1 from test_cls and key */
    CHECK(dtor_ctx == bf_cl_primary_ctx(0));
    CHECK(bf_cl_cls_get(c0, &key, &value) == CUDA_ERROR_INVALID_HANDLE);
    bf_cl_mem_range_t range;
    CHECK(!bf_cl_mem_find(devices[0].window_base, 1, &range));
    bf_cl_primary_get_state(0, &flags, &active);
    CHECK(active == 0 && flags == 0);
    CHECK(bf_cl_ctx_current(&ctx) == CUDA_ERROR_CONTEXT_IS_DESTROYED);

    /* The runtime re-retains after a reset: a fresh value, destroyed by the last release. */
    CHECK(bf_cl_primary_retain(0, &handle) == CUDA_SUCCESS);
    CHECK(bf_cl_ctx_current(&ctx) == CUDA_SUCCESS);
    dtor_calls = 0;
    CHECK(bf_cl_cls_put(c0, &key, (void *)0x78, record_dtor) == CUDA_SUCCESS);
    CHECK(bf_cl_primary_release(0) == CUDA_SUCCESS);
    CHECK(bf_cl_primary_release(0) == CUDA_SUCCESS);
    CHECK(dtor_calls == 0);  /* still retained once */
    (void)bf_cl_primary_release(0);  /* last one: the worker part fails, the local part is done */
    CHECK(dtor_calls == 1 && dtor_key == &key && dtor_value == (void *)0x78);
    bf_cl_primary_get_state(0, &flags, &active);
    CHECK(active == 0);
    CHECK(bf_cl_primary_release(0) == CUDA_ERROR_INVALID_CONTEXT);
    bf_cl_ctx_set_current(NULL);
}

/* Lookups race with puts and deletes of other keys on other threads without locks. */
typedef struct {
    bf_cl_ctx_t *ctx;
    int stop;
    int bad;
} race_t;

static int race_key;

static void *race_reader(void *arg)
{
    race_t *race = arg;
    void *value;

    while (!__atomic_load_n(&race->stop, __ATOMIC_ACQUIRE)) {
        if (bf_cl_cls_get(race->ctx, &race_key, &value) != CUDA_SUCCESS || value != &race_key)
            __atomic_add_fetch(&race->bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_cls_concurrent_reads(void)
{
    race_t race = {0};
    pthread_t readers[4];
    static int churn[8];

    CHECK(bf_cl_ctx_resolve(bf_cl_primary_ctx(1), &race.ctx) == CUDA_SUCCESS);
    CHECK(bf_cl_cls_put(race.ctx, &race_key, &race_key, NULL) == CUDA_SUCCESS);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&readers[i], NULL, race_reader, &race) == 0);
    for (int round = 0; round < 20000; round++) {
        int *k = &churn[round % 8];
        (void)bf_cl_cls_put(race.ctx, k, k, NULL);
        (void)bf_cl_cls_delete(race.ctx, k);
    }
    __atomic_store_n(&race.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 4; i++)
        pthread_join(readers[i], NULL);
    CHECK(race.bad == 0);
}

/* ---- device ranges -------------------------------------------------------------------------- */

static void test_memory_map(void)
{
    bf_cl_mem_range_t r;
    uint64_t w0 = devices[0].window_base, w1 = devices[1].window_base;

    CHECK(bf_cl_mem_insert(0, w0 + 0x1000, 0x1000, BF_CL_MEM_ALLOC) == CUDA_SUCCESS);
    CHECK(bf_cl_mem_insert(0, w0 + 0x3000, 0x100, BF_CL_MEM_GLOBAL) == CUDA_SUCCESS);
    CHECK(bf_cl_mem_insert(1, w1, 0x2000, BF_CL_MEM_ALLOC) == CUDA_SUCCESS);
    /* Overlaps, other devices' windows and wrong devices are refused. */
    CHECK(bf_cl_mem_insert(0, w0 + 0x1800, 0x1000, BF_CL_MEM_ALLOC) != CUDA_SUCCESS);
    CHECK(bf_cl_mem_insert(0, w1 + 0x8000, 0x10, BF_CL_MEM_ALLOC) != CUDA_SUCCESS);
    CHECK(bf_cl_mem_insert(0, w0 + devices[0].window_size - 8, 16, BF_CL_MEM_ALLOC) != CUDA_SUCCESS);
    CHECK(bf_cl_mem_insert(7, w0 + 0x9000, 0x10, BF_CL_MEM_ALLOC) != CUDA_SUCCESS);

    /* A span must lie in one range. */
    CHECK(bf_cl_mem_find(w0 + 0x1000, 0x1000, &r) && r.base == w0 + 0x1000 && r.size == 0x1000 &&
          r.device == 0 && r.kind == BF_CL_MEM_ALLOC);
    uint64_t id = r.buffer_id;
    CHECK(bf_cl_mem_find(w0 + 0x1fff, 1, &r));
    CHECK(!bf_cl_mem_find(w0 + 0x1fff, 2, &r));
    CHECK(!bf_cl_mem_find(w0 + 0x2000, 1, &r));
    CHECK(bf_cl_mem_find(w1 + 0x10, 0, &r) && r.device == 1 && r.buffer_id != id);

    /* Device address space: windows and the whole reservation; host memory is not. */
    CHECK(bf_cl_mem_is_device_address(w0 + 0x123456));
    CHECK(bf_cl_mem_is_device_address(0x100000000000ull + (1ull << 39)));
    CHECK(!bf_cl_mem_is_device_address((uint64_t)(uintptr_t)&r));
    CHECK(!bf_cl_mem_is_device_address(0));

    /* Only allocations are freed, only at their base, only once. */
    CHECK(bf_cl_mem_remove(w0 + 0x1800, &r) == CUDA_ERROR_INVALID_VALUE);
    CHECK(bf_cl_mem_remove(w0 + 0x3000, &r) == CUDA_ERROR_INVALID_VALUE);
    CHECK(bf_cl_mem_remove(w0 + 0x1000, &r) == CUDA_SUCCESS && r.buffer_id == id);
    CHECK(bf_cl_mem_remove(w0 + 0x1000, &r) == CUDA_ERROR_INVALID_VALUE);

    /* Dropping a device forgets its allocations and globals, keeps other devices. */
    CHECK(bf_cl_mem_insert(0, w0 + 0x5000, 0x10, BF_CL_MEM_ALLOC) == CUDA_SUCCESS);
    CHECK(bf_cl_mem_insert(0, w0 + 0x6000, 0x10, BF_CL_MEM_ALLOC) == CUDA_SUCCESS);
    bf_cl_mem_drop_device(0);
    CHECK(!bf_cl_mem_find(w0 + 0x5000, 1, &r) && !bf_cl_mem_find(w0 + 0x6000, 1, &r));
    CHECK(!bf_cl_mem_find(w0 + 0x3000, 1, &r));
    CHECK(bf_cl_mem_find(w1, 1, &r));
    bf_cl_mem_drop_device(1);
}

int main(void)
{
    /* A server that is never contacted: the engine's calls that need one fail fast. */
    unsetenv("BF_SERVER");
    bf_cl_log_setup();
    setup_devices();
    test_stack();
    test_stack_is_per_thread();
    test_cls();
    test_primary();
    test_cls_concurrent_reads();
    test_memory_map();
    return bf_check_exit("engine units");
}
