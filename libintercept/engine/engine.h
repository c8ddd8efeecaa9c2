/*
 * engine.h: the client engine of libbf.so, as seen by the driver-API families
 * (driver/<family>.c) and the private export tables (export_tables.c).
 *
 * The engine implements the driver's semantics that need no server (current context per thread,
 * context-local storage, handle tables, pointer ranges, device attributes from the HELLO reply)
 * and turns the rest into protocol operations over one connection. It does nothing until the
 * first driver call: libbf.so is preloaded into every child of `bf run`, shells and compilers
 * included.
 */
#ifndef BF_CL_ENGINE_H
#define BF_CL_ENGINE_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* The driver version the front reports (cuDriverGetVersion); also hashed by the integrity check. */
#define BF_CL_DRIVER_VERSION 13000

/* ---- initialisation and devices --------------------------------------------------------------- */

/* Connects to the server and fetches every device's description, once per process (cuInit).
 * Returns CUDA_SUCCESS, or the error of the first failed attempt on every later call. */
CUresult bf_cl_init(void);

/* CUDA_SUCCESS after a successful bf_cl_init(), else CUDA_ERROR_NOT_INITIALIZED (or the sticky
 * connection error). Every driver call but cuInit/cuDriverGetVersion/cuGetProcAddress checks this. */
CUresult bf_cl_check_init(void);

/* Number of devices the session was given (0 before init). */
int bf_cl_device_count(void);

/* The description of device `ordinal` from the HELLO reply, or NULL if out of range. */
const bf_proto_device_t *bf_cl_device(int ordinal);

/* ---- contexts ------------------------------------------------------------------------------ */

typedef struct bf_cl_ctx bf_cl_ctx_t;

/* Resolves a CUcontext the application passed (NULL means the calling thread's current context)
 * to the engine's context, checking its type cookie. CUDA_ERROR_INVALID_CONTEXT if there is no
 * current context or the handle is not a live context of this process. */
CUresult bf_cl_ctx_resolve(CUcontext handle, bf_cl_ctx_t **ctx_p);

/* The handle of device `ordinal`'s primary context, without changing its reference count
 * (what CUDART_INTERFACE slot 2 hands out). NULL for a bad ordinal. */
CUcontext bf_cl_primary_ctx(int ordinal);

/* The handle of an engine context, and the device ordinal it belongs to. */
CUcontext bf_cl_ctx_handle(bf_cl_ctx_t *ctx);
int bf_cl_ctx_device(const bf_cl_ctx_t *ctx);

/* ---- context-local storage (the CONTEXT_LOCAL_STORAGE export table) ------------------------- */

typedef void (*bf_cl_cls_dtor_fn_t)(CUcontext ctx, void *key, void *value);

/* Stores value under key in ctx, replacing an earlier value. The destructor (may be NULL) is
 * called with (ctx, key, value) when the context is destroyed or reset, after which the entry is
 * gone. */
CUresult bf_cl_cls_put(bf_cl_ctx_t *ctx, void *key, void *value, bf_cl_cls_dtor_fn_t dtor);

/* Looks up key; CUDA_ERROR_INVALID_HANDLE when absent. Called before nearly every runtime API
 * call, so it takes no lock on the common path. */
CUresult bf_cl_cls_get(bf_cl_ctx_t *ctx, void *key, void **value_p);

/* Removes key without calling its destructor; CUDA_ERROR_INVALID_HANDLE when absent. */
CUresult bf_cl_cls_delete(bf_cl_ctx_t *ctx, void *key);

/* ---- contexts: what the driver families need beyond the export tables ----------------------- */

/* The calling thread's current context, which must be usable for work: CUDA_ERROR_INVALID_CONTEXT
 * when the thread has none, CUDA_ERROR_CONTEXT_IS_DESTROYED when it is a primary context that is
 * not active (released to zero or reset and not retained again). */
CUresult bf_cl_ctx_current(bf_cl_ctx_t **ctx_p);

/* The top of the calling thread's context stack, or NULL (cuCtxGetCurrent). */
CUcontext bf_cl_ctx_get_current(void);

/* Replaces the top of the calling thread's stack with ctx (NULL pops it; cuCtxSetCurrent). */
void bf_cl_ctx_set_current(bf_cl_ctx_t *ctx);

/* Pushes ctx; CUDA_ERROR_OUT_OF_MEMORY when the stack is full (BF_CL_CTX_STACK_MAX). */
CUresult bf_cl_ctx_push(bf_cl_ctx_t *ctx);

/* Pops the top; CUDA_ERROR_INVALID_CONTEXT when the stack is empty. *ctx_p (may be NULL) gets
 * the popped handle. */
CUresult bf_cl_ctx_pop(CUcontext *ctx_p);

/* Sticky errors: a kernel fault (CUDA_ERROR_ILLEGAL_ADDRESS, _ASSERT, _HARDWARE_STACK_ERROR,
 * _ILLEGAL_INSTRUCTION, _MISALIGNED_ADDRESS, _INVALID_ADDRESS_SPACE, _INVALID_PC, _LAUNCH_FAILED)
 * leaves the context unusable, as on a GPU. Once any reply reports one, every later call on that
 * context returns it at once (bf_cl_ctx_current does, so posted launches, copies and memsets do),
 * until the primary context is reset or released for the last time. */
int bf_cl_result_is_sticky(CUresult result);

/* Notes a result a reply brought (rpc.c calls it for every waited reply): a sticky one sticks to
 * the calling thread's current context (every context when the thread has none). */
void bf_cl_ctx_note_result(CUresult result);

/* The sticky error of device's primary context, or CUDA_SUCCESS: for the calls that name a stream
 * or event rather than use the current context. */
CUresult bf_cl_ctx_sticky(int device);

/* Settings of a context the worker answered, remembered until the context is reset: slot
 * 0..CU_LIMIT_MAX-1 a CUlimit, BF_CL_CTX_CACHE_CONFIG the cache configuration. Get returns whether
 * the slot is known; put with known 0 forgets it (a set whose effect the driver may round). */
#define BF_CL_CTX_CACHE_CONFIG CU_LIMIT_MAX
#define BF_CL_CTX_CACHE_SLOTS (CU_LIMIT_MAX + 1)
int bf_cl_ctx_cache_get(bf_cl_ctx_t *ctx, int slot, uint64_t *value_p);
void bf_cl_ctx_cache_put(bf_cl_ctx_t *ctx, int slot, int known, uint64_t value);

/* Whether the context is active, and its flags (CU_CTX_*). */
int bf_cl_ctx_is_active(const bf_cl_ctx_t *ctx);
unsigned int bf_cl_ctx_flags(const bf_cl_ctx_t *ctx);

/* Primary contexts (cuDevicePrimaryCtx*). The device ordinal is checked by the caller.
 * Retain activates the context and counts one more user. Release counts one less; the last
 * release destroys the context's state (as reset does). Reset destroys the state at once and
 * keeps the count: context-local storage destructors run first, then the worker frees every
 * allocation of the device (CTX_RESET) and the client forgets them. Libraries survive. */
CUresult bf_cl_primary_retain(int device, CUcontext *ctx_p);
CUresult bf_cl_primary_release(int device);
CUresult bf_cl_primary_reset(int device);
void bf_cl_primary_set_flags(int device, unsigned int flags);
void bf_cl_primary_get_state(int device, unsigned int *flags_p, int *active_p);

/* Deepest context stack a thread may build with cuCtxPushCurrent. */
#define BF_CL_CTX_STACK_MAX 64

/* Most context-local storage entries one context holds. */
#define BF_CL_CLS_MAX 32

/* ---- remote operations (rpc.c) -------------------------------------------------------------- */

/* Where the tail of a reply goes: `rows` rows of `width` bytes, `pitch` bytes apart (a plain
 * buffer is one row). With allow_short the tail may be shorter than width * rows (the reply's
 * own length field says how long it was); otherwise its length must match exactly. */
typedef struct {
    void *base;
    uint64_t width;
    uint64_t pitch;
    uint64_t rows;
    int allow_short;
} bf_cl_sink_t;

/* One waited call of a batch: the request struct (bf_req_<OP>_t), where the reply struct
 * (bf_rep_<OP>_t) is written, and where its tail goes (sink.base NULL: no tail expected). */
typedef struct {
    const void *req;
    void *rep;
    bf_cl_sink_t sink;
} bf_cl_call_t;

/*
 * Sends a posted request (no reply): the fixed fields from req (a bf_req_<OP>_t), then the tail
 * straight from where it lies. Returns once the bytes are handed to the socket.
 * CUDA_SUCCESS, or CUDA_ERROR_DEVICE_UNAVAILABLE when the connection is (or becomes) unusable.
 */
CUresult bf_cl_rpc_post(uint16_t op, const void *req, const void *tail, size_t tail_len);

/*
 * Sends a waited request and reads frames until its reply arrives; heartbeats keep the wait
 * alive, BF_HEARTBEAT_TIMEOUT_MS of silence declares the server lost. The reply's fixed fields
 * go to rep (a bf_rep_<OP>_t), its tail straight into sink (may be NULL when none is expected).
 * Returns the reply's result, or CUDA_ERROR_DEVICE_UNAVAILABLE when the connection is lost.
 */
CUresult bf_cl_rpc_call(uint16_t op, const void *req, const void *tail, size_t tail_len,
                        void *rep, const bf_cl_sink_t *sink);

/*
 * Pipelines count waited calls of one op without tails on the request side (the chunks of a
 * large device-to-host copy): a few requests are kept in flight, replies are read in order.
 * Returns CUDA_SUCCESS, the first failed reply's result (every reply is still consumed), or
 * CUDA_ERROR_DEVICE_UNAVAILABLE.
 */
CUresult bf_cl_rpc_call_many(uint16_t op, bf_cl_call_t *calls, size_t count);

/*
 * Sends a waited request without waiting: its reply's tail lands in sink whenever some thread reads
 * the connection (an async copy into pinned memory, whose host bytes are [host, host + host_len)).
 * The request may stay in the batch until the flusher, a waited call or bf_cl_rpc_wait_host sends
 * it; synchronising calls get their replies after it, so by then its bytes have landed. An error
 * in its reply is latched for bf_cl_take_latched. CUDA_SUCCESS, CUDA_ERROR_OUT_OF_MEMORY or
 * CUDA_ERROR_DEVICE_UNAVAILABLE.
 */
CUresult bf_cl_rpc_call_async(uint16_t op, const void *req, const bf_cl_sink_t *sink,
                              const void *host, size_t host_len);

/* Waits until no reply of bf_cl_rpc_call_async is still to land in [host, host + len) (len
 * SIZE_MAX: anywhere), reading the connection meanwhile. Before host memory is read, reused or
 * freed. CUDA_SUCCESS or CUDA_ERROR_DEVICE_UNAVAILABLE. */
CUresult bf_cl_rpc_wait_host(const void *host, size_t len);

/* A kernel launch was posted: its device output (printf) is flushed by the next synchronising
 * call, or at the latest by the one bf_cl_rpc_final_flush makes at exit. */
void bf_cl_rpc_note_launch(void);

/* At exit (libbf's destructor): when kernels ran since the last call that flushes device output,
 * synchronises every device so that the worker sends their last output before the session ends. */
void bf_cl_rpc_final_flush(void);

/* Returns and clears the first error of an async copy's reply (CUDA_SUCCESS if none): the
 * synchronising calls return it when the worker has nothing worse. */
CUresult bf_cl_take_latched(void);

/* ---- streams and events (stream.c) ---------------------------------------------------------- */

/*
 * Streams and events are engine objects with ids the client chooses, so creating one is a posted
 * operation. A CUstream or CUevent handed to the application points to the object and is accepted
 * back only while the object is live (looked up in a table before it is touched).
 */

/* What a CUstream resolves to. */
typedef struct {
    uint64_t id;            /* on the wire: < BF_PROTO_LEGACY_STREAMS is a legacy stream */
    int device;
    unsigned int flags;     /* CU_STREAM_DEFAULT or CU_STREAM_NON_BLOCKING */
    int priority;
    int special;            /* 0, or the CU_STREAM_LEGACY / CU_STREAM_PER_THREAD it stands for */
} bf_cl_stream_info_t;

/*
 * Resolves a stream handle for the calling thread: NULL is the legacy default stream, or the
 * per-thread one when per_thread_default (the _ptsz/_ptds entry points); CU_STREAM_LEGACY and
 * CU_STREAM_PER_THREAD those of the current context (the per-thread stream is created on first
 * use); anything else must be a live stream of this process. CUDA_ERROR_INVALID_HANDLE for an
 * unknown handle, the context's error (bf_cl_ctx_current) for the special ones.
 */
CUresult bf_cl_stream_resolve(CUstream handle, int per_thread_default, bf_cl_stream_info_t *info_p);

/* Creates a stream of ctx's device (flags and priority checked and clamped by the caller) and
 * posts STREAM_CREATE. */
CUresult bf_cl_stream_create(bf_cl_ctx_t *ctx, unsigned int flags, int priority, CUstream *stream_p);

/* Forgets a live stream and posts STREAM_DESTROY; CUDA_ERROR_INVALID_HANDLE when it is not one. */
CUresult bf_cl_stream_destroy(CUstream handle);

/* The device's stream priority range, asked of the worker once and then remembered. */
CUresult bf_cl_stream_priority_range(int device, int *least_p, int *greatest_p);

/* What a CUevent resolves to. */
typedef struct {
    uint64_t id;
    int device;
    unsigned int flags;     /* CU_EVENT_* */
    int recorded;           /* a record was posted since creation */
} bf_cl_event_info_t;

/* Looks a live event up; CUDA_ERROR_INVALID_HANDLE when it is not one (NULL included). */
CUresult bf_cl_event_resolve(CUevent handle, bf_cl_event_info_t *info_p);

/* Creates an event of ctx's device and posts EVENT_CREATE. */
CUresult bf_cl_event_create(bf_cl_ctx_t *ctx, unsigned int flags, CUevent *event_p);

/* Notes that a record of the event was posted. */
void bf_cl_event_mark_recorded(CUevent handle);

/* Forgets a live event and posts EVENT_DESTROY; CUDA_ERROR_INVALID_HANDLE when it is not one. */
CUresult bf_cl_event_destroy(CUevent handle);

/* Forgets every stream and event of device (its primary context was reset or destroyed, and the
 * worker drops them too); per-thread streams are created again on their next use. */
void bf_cl_streams_drop_device(int device);

/* ---- pinned host memory (host_memory.c) ----------------------------------------------------- */

typedef struct {
    uint64_t base;
    uint64_t size;
    unsigned int flags;     /* CU_MEMHOSTALLOC_* as allocated */
    int device;             /* of the context it was allocated in */
    uint64_t buffer_id;     /* process-wide unique, never reused (CU_POINTER_ATTRIBUTE_BUFFER_ID) */
} bf_cl_host_range_t;

/* Records a pinned allocation [base, base + size) made with cuMemHostAlloc flags in a context of
 * device. */
CUresult bf_cl_host_insert(void *base, size_t size, unsigned int flags, int device);

/* Forgets the pinned allocation that starts exactly at base; CUDA_ERROR_INVALID_VALUE if none.
 * *size_p gets its size. */
CUresult bf_cl_host_remove(void *base, size_t *size_p);

/* 1 and *range_p filled (may be NULL) when [p, p + len) lies inside one pinned allocation (len 0
 * counts as 1); else 0. */
int bf_cl_host_find(const void *p, size_t len, bf_cl_host_range_t *range_p);

/* ---- device allocations (memory_map.c) ------------------------------------------------------ */

typedef enum {
    BF_CL_MEM_ALLOC  = 1,   /* cuMemAlloc / cuMemAllocPitch: freed with cuMemFree */
    BF_CL_MEM_GLOBAL = 2,   /* a module's global variable: lives with its module */
} bf_cl_mem_kind_t;

typedef struct {
    uint64_t base;
    uint64_t size;
    uint64_t buffer_id;     /* process-wide unique (CU_POINTER_ATTRIBUTE_BUFFER_ID) */
    int device;
    bf_cl_mem_kind_t kind;
} bf_cl_mem_range_t;

/* Records a device range the worker handed out. CUDA_ERROR_INVALID_VALUE if it overlaps a live
 * one or lies outside every device window (the caller treats that as a malformed reply). */
CUresult bf_cl_mem_insert(int device, uint64_t base, uint64_t size, bf_cl_mem_kind_t kind);

/* Forgets the BF_CL_MEM_ALLOC range starting exactly at base and copies it to *range_p.
 * CUDA_ERROR_INVALID_VALUE when no such allocation is live. */
CUresult bf_cl_mem_remove(uint64_t base, bf_cl_mem_range_t *range_p);

/* Forgets the BF_CL_MEM_GLOBAL range starting exactly at base (its library was unloaded). */
void bf_cl_mem_forget_global(uint64_t base);

/* 1 and *range_p filled when [addr, addr + len) lies inside one live range (len 0 counts as 1),
 * else 0. */
int bf_cl_mem_find(uint64_t addr, uint64_t len, bf_cl_mem_range_t *range_p);

/* Forgets every range of device (its primary context was reset or destroyed): allocations, and
 * module globals, which the driver places afresh when it loads a library into the new context. */
void bf_cl_mem_drop_device(int device);

/* Whether addr lies in the device address space: a device's window or the whole range reserved
 * at init. Such an address is never host memory of this process. */
int bf_cl_mem_is_device_address(uint64_t addr);

/* Forgets every module of device (its primary context was reset or released for the last time, and
 * the worker unloaded them): their CUmodule and CUfunction handles become invalid. Libraries
 * (cuLibrary*, context-independent) survive. (code.c) */
void bf_cl_code_drop_device(int device);

/* ---- logging -------------------------------------------------------------------------------- */

/* Sets up libbf's logging once (silent unless BF_LOG is set). Anything in libbf that may log
 * before cuInit calls this first. */
void bf_cl_log_setup(void);

/* ---- unsupported entry points ------------------------------------------------------------- */

/* Returns CUDA_ERROR_NOT_SUPPORTED and says once per name on stderr that `name` is not supported
 * by openbf yet. Every generated stub calls this. */
CUresult bf_unsupported(const char *name);

#endif
