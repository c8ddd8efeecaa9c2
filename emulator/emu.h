/*
 * emu.h: private header of libbfemu.so, the CPU implementation of the CUDA driver API.
 *
 * One process-wide state (bf_emu) holds the emulated devices; each device owns its primary
 * context and one arena of device memory. The CUDA entry points live in one file per API family
 * (device.c, context.c, memory.c, pointer.c, init.c, get_proc_address.c, stream.c, event.c,
 * host_memory.c); the helpers they share are declared here with the bf_emu_ prefix and hidden
 * visibility.
 *
 * Locking: bf_emu.lock guards the context tables and every arena's allocation map. Copies and
 * memsets check their ranges under the lock and move the bytes after dropping it; the arena stays
 * mapped for the life of the process, so a racing free can at worst leave stale bytes, never fault.
 * It also guards the tables of live streams, events and pinned host allocations. A stream's queue
 * and an event's state have locks of their own; the order is bf_emu.lock, then a stream's, then an
 * event's. Stream work runs under no lock, except event records, which run under their stream's
 * (see bf_emu_stream_enqueue_marker).
 */
#ifndef BF_EMU_H
#define BF_EMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* meson.build defines __CUDA_API_PUSH_VISIBILITY_DEFAULT, so cuda.h gives every CUDA function
 * default visibility while the rest of the library stays hidden (-fvisibility=hidden); the version
 * script (libbfemu.map) then keeps only the cu* names. */
#include <cuda.h>

#include "bf_range_map.h"
#include "bf_status.h"

/* What cuDriverGetVersion reports and the highest cudaVersion cuGetProcAddress accepts. */
#define BF_EMU_DRIVER_VERSION 13000

/* Alignment of every allocation, as the real driver guarantees at least this much. */
#define BF_EMU_ALLOC_ALIGN 256

/* Row alignment of cuMemAllocPitch, a multiple of CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT. */
#define BF_EMU_PITCH_ALIGN 512

/* Largest pitch cuMemcpy2D accepts (CU_DEVICE_ATTRIBUTE_MAX_PITCH). */
#define BF_EMU_MAX_PITCH 2147483647u

/* Value of CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL for memory CUDA does not know. */
#define BF_EMU_NO_DEVICE_ORDINAL (-2)

#define BF_EMU_DEVICE_COUNT 1

/* Written into every live context; a handle whose object lacks it is rejected. */
#define BF_EMU_CTX_COOKIE 0x6266656d75637478ull /* "bfemuctx" */

/* A context's device runtime (devrt.c): the printf FIFO and pending assertion messages, written to
 * fd 1 and 2 at flush points; the limits of cuCtxSetLimit; the device heap of malloc/free (a block
 * of the arena taken at the first malloc, its chunks in a map of their own). lock guards all of it
 * and nests inside bf_emu.lock. */
typedef struct {
    pthread_mutex_t lock;
    char *out, *err;
    size_t out_len, out_cap, err_len, err_cap;
    size_t stack_size, printf_fifo_size, heap_size, l2_fetch_granularity;
    int cache_config;           /* CUfunc_cache */
    bool printf_used, heap_used; /* a kernel using printf / malloc has been launched */
    uint64_t heap_base;         /* 0 until the first malloc */
    bf_range_map_t heap_chunks; /* live chunks: [base, base + size) -> reserved bytes */
} bf_emu_devrt_t;

typedef struct bf_emu_ctx {
    uint64_t cookie;       /* BF_EMU_CTX_COOKIE */
    CUdevice device;
    unsigned int flags;    /* CU_CTX_* as set by cuDevicePrimaryCtxSetFlags */
    unsigned int refcount; /* primary context: cuDevicePrimaryCtxRetain count */
    bool active;           /* primary context: between first retain and release/reset */
    CUresult sticky_error; /* CUDA_ERROR_ILLEGAL_ADDRESS after a kernel fault: every call on the
                              context returns it until the context is deactivated (launch.c) */
    bf_emu_devrt_t devrt;
} bf_emu_ctx_t;

/* One live allocation; the arena's range map (or host_memory.c's map of pinned host memory) stores
 * a pointer to it as the range's value. */
typedef struct {
    bf_emu_ctx_t *ctx;          /* context that allocated it */
    uint64_t buffer_id;         /* CU_POINTER_ATTRIBUTE_BUFFER_ID: never reused in a process */
    uint64_t reserved;          /* bytes taken from the arena (size rounded to the alignment), or mapped */
    bool host;                  /* pinned host memory (cuMemHostAlloc), not device memory */
    unsigned int host_flags;    /* CU_MEMHOSTALLOC_* given at allocation (host memory only) */
} bf_emu_alloc_t;

typedef struct {
    uint8_t *base;              /* start of the mapping, page aligned */
    size_t size;                /* bytes of device memory (CU device total memory) */
    size_t used;                /* bytes reserved by live allocations */
    bf_range_map_t allocations; /* live allocations: [base, base + requested size) -> alloc */
    uint64_t next_buffer_id;
} bf_emu_arena_t;

typedef struct {
    CUdevice ordinal;
    int cc_major;
    int cc_minor;
    bf_emu_ctx_t primary;
    bf_emu_arena_t arena;
} bf_emu_device_t;

typedef struct {
    pthread_mutex_t lock;
    bool initialized;           /* read without the lock through bf_emu_is_initialized() */
    int device_count;
    bf_emu_device_t devices[BF_EMU_DEVICE_COUNT];
} bf_emu_state_t;

extern bf_emu_state_t bf_emu;

/* --- init.c ---------------------------------------------------------------------------------- */

/* Returns true once cuInit has succeeded in this process. */
bool bf_emu_is_initialized(void);

/* --- device.c -------------------------------------------------------------------------------- */

/* Checks the preamble of a call that names a device: cuInit done, ordinal valid.
 *   dev_p out  the device
 * Returns CUDA_SUCCESS, CUDA_ERROR_NOT_INITIALIZED or CUDA_ERROR_INVALID_DEVICE. */
CUresult bf_emu_device_checked(CUdevice ordinal, bf_emu_device_t **dev_p);

/* Answers one device attribute for a device of compute capability cc_major.cc_minor.
 *   attrib  in   CU_DEVICE_ATTRIBUTE_*
 *   value_p out  the value
 * Returns BF_OK, or BF_INVALID_ARG for an attribute outside 1..CU_DEVICE_ATTRIBUTE_MAX-1. */
bf_status_t bf_emu_attribute_get(const bf_emu_device_t *dev, CUdevice_attribute attrib, int *value_p);

/* --- context.c ------------------------------------------------------------------------------- */

/* Returns the context a handle names, or NULL when it is not a live context. Never dereferences an
 * unknown handle: the handle is first compared with the contexts the emulator owns. Lock held. */
bf_emu_ctx_t *bf_emu_ctx_lookup(CUcontext handle);

/* Resolves the context an API call works on: handle, or the calling thread's current context when
 * handle is NULL. Takes and releases the lock.
 *   need_active  in   true for calls that use the context's resources (memory): a primary context
 *                     that was released or reset then gives CUDA_ERROR_CONTEXT_IS_DESTROYED.
 *                     Queries and synchronisation pass false: the handle outlives the activation.
 *   ctx_p        out  the context
 * Returns CUDA_SUCCESS, CUDA_ERROR_NOT_INITIALIZED, CUDA_ERROR_INVALID_CONTEXT (no current context,
 * or not a context) or CUDA_ERROR_CONTEXT_IS_DESTROYED. */
CUresult bf_emu_ctx_resolve(CUcontext handle, bool need_active, bf_emu_ctx_t **ctx_p);

/* --- arena.c --------------------------------------------------------------------------------- */

/* Reserves the device's memory: size bytes, lazily backed; at va_base exactly when va_base != 0.
 * Returns BF_OK, or BF_NO_MEMORY when the mapping fails (logged with the cause). */
bf_status_t bf_emu_arena_init(bf_emu_arena_t *arena, size_t size, uintptr_t va_base);

/* Unmaps the arena and forgets its allocations (cuInit failing half way). */
void bf_emu_arena_fini(bf_emu_arena_t *arena);

/* Takes size bytes (> 0) for ctx, aligned to BF_EMU_ALLOC_ALIGN. Lock held.
 * Returns BF_OK, or BF_NO_MEMORY when no gap is large enough. */
bf_status_t bf_emu_arena_alloc(bf_emu_arena_t *arena, size_t size, bf_emu_ctx_t *ctx,
                               CUdeviceptr *dptr_p);

/* Frees the allocation that starts exactly at dptr. Lock held.
 * Returns BF_OK, or BF_NOT_FOUND when no live allocation starts there. */
bf_status_t bf_emu_arena_free(bf_emu_arena_t *arena, CUdeviceptr dptr);

/* Frees every allocation owned by ctx (context reset or last release). Lock held. */
void bf_emu_arena_free_ctx(bf_emu_arena_t *arena, const bf_emu_ctx_t *ctx);

/* Returns true when addr lies inside the arena's mapping (allocated or not). */
bool bf_emu_arena_contains(const bf_emu_arena_t *arena, uint64_t addr);

/* --- memory.c -------------------------------------------------------------------------------- */

/* Returns the live allocation containing addr on any device, or NULL. Lock held. */
const bf_range_t *bf_emu_memory_find(uint64_t addr);

/* --- stream.c -------------------------------------------------------------------------------- */

/* A stream: one context's ordered queue of work. Opaque outside stream.c. */
typedef struct bf_emu_stream bf_emu_stream_t;

/* One piece of stream work: runs with a private copy of the arguments given to the enqueue. */
typedef void (*bf_emu_work_fn_t)(void *arg);

/* Resolves the stream a call names and takes a reference on it.
 *   handle      in   a stream from cuStreamCreate*, or NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD
 *   per_thread  in   true for the _ptsz/_ptds entry points, where NULL names the calling thread's
 *                    per-thread default stream instead of the legacy one
 *   stream_p    out  the stream; give the reference back with bf_emu_stream_put()
 * A handle is first looked up in the table of live streams (an unknown one is never dereferenced),
 * then its cookie is checked. The special handles need a current context and name its streams.
 * Returns CUDA_SUCCESS, CUDA_ERROR_NOT_INITIALIZED, CUDA_ERROR_INVALID_CONTEXT,
 * CUDA_ERROR_CONTEXT_IS_DESTROYED, CUDA_ERROR_INVALID_HANDLE (destroyed or unknown stream) or
 * CUDA_ERROR_OUT_OF_MEMORY (a per-thread stream could not be made). */
CUresult bf_emu_stream_get(CUstream handle, bool per_thread, bf_emu_stream_t **stream_p);

/* Gives back a reference taken by bf_emu_stream_get(); a destroyed stream is freed with its last. */
void bf_emu_stream_put(bf_emu_stream_t *stream);

/* Returns the context a stream belongs to. */
bf_emu_ctx_t *bf_emu_stream_ctx(const bf_emu_stream_t *stream);

/* Appends fn(copy of arg) to the stream's queue, after everything enqueued before it (and, on the
 * legacy stream, after everything enqueued on the context's blocking streams, and the reverse).
 * The queue is drained by the thread that finds it idle, before its enqueue returns: work runs
 * at once unless another thread is draining the same stream, in which case that thread runs it.
 * Callers check every argument first (errors of bad arguments are synchronous), and pass the
 * arguments by value (arg_size bytes are copied): nothing may point into the caller's frame.
 * Returns BF_OK, or BF_NO_MEMORY when the work could not be queued (nothing was enqueued). */
bf_status_t bf_emu_stream_enqueue(bf_emu_stream_t *stream, bf_emu_work_fn_t fn, const void *arg, size_t arg_size);

/* Enqueues a marker: fn runs when everything before it has run, under the stream's lock and as the
 * stream counts it complete, so that what it signals (an event) and the stream's own state change
 * together. stamp, if not NULL, runs on the queued copy of arg as it is appended, under the stream's
 * lock and after the implicit ordering above: an event record takes its number there, so that no
 * wait for that number can be among the work the record itself waits for. fn and stamp must be
 * quick and take no lock but an event's. Returns as bf_emu_stream_enqueue(). */
bf_status_t bf_emu_stream_enqueue_marker(bf_emu_stream_t *stream, bf_emu_work_fn_t fn, bf_emu_work_fn_t stamp,
                                         const void *arg, size_t arg_size);

/* Waits until stream has run the work enqueued on it before the call (cuStreamSynchronize). */
void bf_emu_stream_wait(bf_emu_stream_t *stream);

/* Waits until every stream of ctx has run all the work enqueued on it before the call
 * (cuCtxSynchronize). Returns CUDA_SUCCESS, or CUDA_ERROR_OUT_OF_MEMORY. */
CUresult bf_emu_stream_sync_ctx(const bf_emu_ctx_t *ctx);

/* Destroys every stream of ctx, as the context's deactivation does. Lock held. */
void bf_emu_stream_release_ctx(const bf_emu_ctx_t *ctx);

/* --- event.c --------------------------------------------------------------------------------- */

/* Destroys every event of ctx, as the context's deactivation does. Lock held. */
void bf_emu_event_release_ctx(const bf_emu_ctx_t *ctx);

/* --- host_memory.c --------------------------------------------------------------------------- */

/* Returns the pinned host allocation that holds all of [addr, addr + len) (len 0 counts as 1), or
 * NULL. Lock held. */
const bf_range_t *bf_emu_host_find_span(uint64_t addr, uint64_t len);

/* Frees every pinned host allocation of ctx, as the context's deactivation does. Lock held. */
void bf_emu_host_free_ctx(const bf_emu_ctx_t *ctx);

/* --- devrt.c --------------------------------------------------------------------------------- */

/* Sets up a context's device runtime (limits at their defaults). */
void bf_emu_devrt_init(bf_emu_ctx_t *ctx);

/* Writes what kernels printed (fd 1) and their assertion messages (fd 2) since the last flush, for
 * every context: the flush points are synchronisations, blocking copies, module loads and unloads,
 * context reset and library unload. Takes no lock but the device runtimes'. */
void bf_emu_devrt_flush(void);

/* Deactivation of ctx: flushes, forgets the heap (its memory goes with the context's), limits back
 * to their defaults. bf_emu.lock held. */
void bf_emu_devrt_reset(bf_emu_ctx_t *ctx);

/* A launch of a kernel that uses printf / malloc: fixes those limits for the context's life. */
void bf_emu_devrt_launched(bf_emu_ctx_t *ctx, bool uses_printf, bool uses_malloc);

/* The device heap's view of addr for a launch's memory lookup: 1 and the chunk [base, size) holding
 * it, 0 when addr is in the heap but in no live chunk, -1 when it is not in ctx's heap. */
int bf_emu_devrt_heap_chunk(bf_emu_ctx_t *ctx, uint64_t addr, uint64_t *base_p, uint64_t *size_p);

/* --- module.c -------------------------------------------------------------------------------- */

/* Unloads every module loaded into ctx (its globals go with the context's memory) and forgets the
 * libraries' copies in it, as the context's deactivation does. Lock held. */
void bf_emu_module_release_ctx(const bf_emu_ctx_t *ctx);

#endif
