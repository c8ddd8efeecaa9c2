/*
 * bftrace_rt.c: libbftrace_rt.so, bf-trace's runtime-level interposer (docs/trace.md).
 *
 * `bf-trace record` preloads it, before libbf.so, into programs that use the shared runtime
 * (libcudart.so.13). Each function of runtime_api.def is defined here under its runtime name: it
 * calls the next definition (NVIDIA's, found with dlsym(RTLD_NEXT)), times it and hands one event
 * to libbf.so, which records it with the driver calls it made. libbf.so reaches us, not the other
 * way round: it looks up bf_trace_rt_sink when recording starts and stores its recorder there, so
 * libbf.so keeps exporting exactly the names of cuda.h.
 *
 * A program linked with the static runtime calls its own copy and never comes here; without
 * libbf.so recording, the wrappers only forward.
 */
#include <cuda_runtime_api.h>

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "bf_trace_format.h"
#include "trace.h"
#include "trace_io.h"

#include "runtime_api.def"

#define BF_RT_EXPORT __attribute__((visibility("default")))

/* Filled by libbf.so (trace.c) when it records. */
BF_RT_EXPORT bf_trace_rt_sink_fn bf_trace_rt_sink;
BF_RT_EXPORT bf_trace_rt_io_fn bf_trace_rt_io;

/* The calling thread's connection counters in libbf.so, or zeros. */
static bf_cl_io_counters_t io_now(void)
{
    static const bf_cl_io_counters_t none;
    bf_trace_rt_io_fn fn = bf_trace_rt_io;
    const bf_cl_io_counters_t *c = fn != NULL ? fn() : &none;
    return *c;
}

static void io_since(bf_trace_rt_event_t *e, const bf_cl_io_counters_t *before)
{
    bf_cl_io_counters_t after = io_now();
    e->bytes_sent = after.bytes_sent - before->bytes_sent;
    e->bytes_recv = after.bytes_recv - before->bytes_recv;
    if (after.posted != before->posted)
        e->flags |= BF_TRACE_F_POSTED;
    if (after.waited != before->waited)
        e->flags |= BF_TRACE_F_WAITED;
}

enum {
#define BF_RT_ID(name, params, args, capture) RT_ID_##name,
    BF_RT_LIST(BF_RT_ID)
#undef BF_RT_ID
    RT_ID_COUNT
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* NVIDIA's definition of name, looked up once (a benign race: every thread finds the same). */
static void *next_definition(void *_Atomic *slot, const char *name)
{
    void *fn = atomic_load_explicit(slot, memory_order_acquire);
    if (fn == NULL) {
        fn = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(slot, fn, memory_order_release);
    }
    return fn;
}

static void rt_alloc(bf_trace_rt_event_t *e, int result, size_t size, const void *ptr)
{
    e->args_kind = BF_TRACE_ARGS_ALLOC;
    e->arg[0] = size;
    e->arg[1] = result == 0 ? (uint64_t)(uintptr_t)ptr : 0;
}

static void rt_free(bf_trace_rt_event_t *e, const void *ptr)
{
    e->args_kind = BF_TRACE_ARGS_FREE;
    e->arg[1] = (uint64_t)(uintptr_t)ptr;
}

static void rt_copy(bf_trace_rt_event_t *e, const void *dst, const void *src, uint64_t bytes,
                    int kind, const void *stream)
{
    e->args_kind = BF_TRACE_ARGS_COPY;
    e->arg[0] = bytes;
    e->arg[1] = (uint64_t)(uintptr_t)dst;
    e->arg[2] = (uint64_t)(uintptr_t)src;
    e->arg[3] = (uint64_t)kind;  /* cudaMemcpyKind: the numbering of BF_TRACE_COPY_* */
    e->stream = (uint64_t)(uintptr_t)stream;
}

static void rt_set(bf_trace_rt_event_t *e, const void *dst, int value, size_t count,
                   const void *stream)
{
    e->args_kind = BF_TRACE_ARGS_SET;
    e->arg[0] = count;
    e->arg[1] = (uint64_t)(uintptr_t)dst;
    e->arg[2] = (uint64_t)(unsigned)value;
    e->arg[3] = 1;
    e->stream = (uint64_t)(uintptr_t)stream;
}

static void rt_launch(bf_trace_rt_event_t *e, dim3 grid, dim3 block, size_t smem,
                      const void *stream)
{
    e->args_kind = BF_TRACE_ARGS_LAUNCH;
    e->arg[0] = (uint64_t)grid.x | (uint64_t)(grid.y & 0xffffu) << 32 |
                (uint64_t)(grid.z & 0xffffu) << 48;
    e->arg[1] = (uint64_t)(block.x & 0xffffu) | (uint64_t)(block.y & 0xffffu) << 16 |
                (uint64_t)(block.z & 0xffffu) << 32;
    e->arg[2] = smem;
    e->stream = (uint64_t)(uintptr_t)stream;
}

static void rt_handle(bf_trace_rt_event_t *e, int result, const void *handle_p, uint64_t flags,
                      const void *stream)
{
    e->args_kind = BF_TRACE_ARGS_HANDLE;
    if (result == 0 && handle_p != NULL)
        e->arg[1] = (uint64_t)(uintptr_t) * (void *const *)handle_p;
    e->arg[2] = flags;
    e->stream = (uint64_t)(uintptr_t)stream;
}

static void rt_sync(bf_trace_rt_event_t *e, const void *handle, const void *stream)
{
    e->args_kind = BF_TRACE_ARGS_SYNC;
    e->arg[1] = (uint64_t)(uintptr_t)handle;
    e->stream = (uint64_t)(uintptr_t)stream;
}

#define RT_ALLOC(e, r, size, ptr) rt_alloc(e, r, size, ptr)
#define RT_FREE(e, ptr) rt_free(e, ptr)
#define RT_COPY(e, dst, src, bytes, kind, stream) rt_copy(e, dst, src, bytes, (int)(kind), stream)
#define RT_SET(e, dst, value, count, stream) rt_set(e, dst, value, count, stream)
#define RT_LAUNCH(e, grid, block, smem, stream) rt_launch(e, grid, block, smem, stream)
#define RT_LAUNCH_KERNEL(e, kernel, grid, block, smem, stream)                                     \
    (rt_launch(e, grid, block, smem, stream), (e)->kernel = (kernel))
#define RT_HANDLE(e, r, handle_p, flags, stream) rt_handle(e, r, handle_p, flags, stream)
#define RT_SYNC(e, handle, stream) rt_sync(e, (const void *)(handle), stream)
#define RT_NONE (void)e

/* Each wrapper: forward; when libbf.so records, time the call and hand it over. */
#define BF_RT_DEFINE(fn_name, params, args, capture)                                               \
    BF_RT_EXPORT cudaError_t CUDARTAPI fn_name params                                             \
    {                                                                                              \
        static void *_Atomic bf_next_;                                                             \
        cudaError_t(*bf_fn_) params =                                                              \
            (cudaError_t(*) params)next_definition(&bf_next_, #fn_name);                           \
        bf_trace_rt_sink_fn bf_sink_ = bf_trace_rt_sink;                                           \
        if (bf_fn_ == NULL)                                                                        \
            return cudaErrorUnknown;                                                               \
        if (bf_sink_ == NULL)                                                                      \
            return bf_fn_ args;                                                                    \
        bf_trace_rt_event_t bf_ev_ = {.name = #fn_name, .index = RT_ID_##fn_name};                 \
        bf_trace_rt_event_t *e = &bf_ev_;                                                          \
        bf_cl_io_counters_t bf_io_ = io_now();                                                     \
        bf_ev_.start_ns = mono_ns();                                                               \
        cudaError_t r = bf_fn_ args;                                                               \
        bf_ev_.end_ns = mono_ns();                                                                 \
        io_since(e, &bf_io_);                                                                      \
        bf_ev_.result = (int32_t)r;                                                                \
        capture;                                                                                   \
        bf_sink_(e);                                                                               \
        return r;                                                                                  \
    }

BF_RT_LIST(BF_RT_DEFINE)
