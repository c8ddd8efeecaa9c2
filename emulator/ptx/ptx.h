/*
 * ptx.h: the PTX engine of libbfemu.so.
 *
 * A module's PTX text is parsed once, by bf_ptx_module_load, and each kernel is decoded into a
 * compact array of typed operations (registers resolved to slots, immediates to constant slots,
 * branch targets to indices, reconvergence points from post-dominators). bf_ptx_launch runs a grid:
 * blocks in parallel on a pool of threads, the warps of a block interleaved on one thread (each warp
 * runs until it reaches a barrier or exits), every operation applied to the active lanes of a warp
 * of 32. Every load and store is bounds-checked: global and const memory through the caller's
 * lookup, shared, local and param memory against their own sizes.
 *
 * The engine knows nothing of contexts or allocations: the driver API layer (module.c, launch.c of
 * the emulator) finds kernels, lays out parameters with bf_ptx_kernel_param, allocates module
 * globals and binds their addresses, and hands in a lookup that maps device addresses to host
 * memory. docs/ptx-engine.md describes the design and the supported instruction set.
 */
#ifndef BF_PTX_H
#define BF_PTX_H

#include <stddef.h>
#include <stdint.h>

#include "bf_status.h"

typedef struct bf_ptx_module bf_ptx_module_t;
typedef struct bf_ptx_kernel bf_ptx_kernel_t;

/*
 * Parses and decodes a module.
 * ptx      in   the PTX text; need not be NUL-terminated (a NUL ends it early, as in fatbins)
 * len      in   its length in bytes
 * module_p out  the module, on success
 * err      out  on failure: "line N: what" (unsupported instruction or modifier, syntax error);
 *               may be NULL
 * err_len  in   size of err
 * Returns BF_OK, BF_UNSUPPORTED (an instruction, modifier or directive the engine does not know),
 * BF_INVALID_ARG (malformed PTX) or BF_NO_MEMORY.
 */
bf_status_t bf_ptx_module_load(const char *ptx, size_t len, bf_ptx_module_t **module_p, char *err,
                               size_t err_len);

/*
 * Links the PTX of several translation units (-rdc=true) into one module's text (link.c): one
 * header, names without linkage made unique per unit, .extern variables bound to the unit that
 * defines them, .weak definitions kept once.
 * out_p, out_len_p  out  the text (malloc'ed, NUL-terminated)
 * Returns BF_OK, BF_NOT_FOUND (an .extern variable no unit defines; err names it), BF_INVALID_ARG
 * (malformed PTX) or BF_NO_MEMORY.
 */
bf_status_t bf_ptx_link(const char *const *texts, const size_t *lens, size_t count, char **out_p, size_t *out_len_p,
                        char *err, size_t err_len);

/* Frees a module and its kernels (NULL is ignored). No launch of its kernels may be running. */
void bf_ptx_module_free(bf_ptx_module_t *module);

/* Number of kernels (.entry) in the module, and the index-th of them (NULL past the end). */
size_t bf_ptx_module_kernel_count(const bf_ptx_module_t *module);
const bf_ptx_kernel_t *bf_ptx_module_kernel(const bf_ptx_module_t *module, size_t index);

/* The kernel named name (its PTX, i.e. mangled, name), or NULL. */
const bf_ptx_kernel_t *bf_ptx_module_find_kernel(const bf_ptx_module_t *module, const char *name);

/* The kernel's name; valid as long as the module. */
const char *bf_ptx_kernel_name(const bf_ptx_kernel_t *kernel);

/* Parameters: count, then offset and size of the index-th (CUDA-ABI.md §3.2: each at the next
 * multiple of its alignment, size = element size × count); the total is the end of the last one. */
size_t bf_ptx_kernel_param_count(const bf_ptx_kernel_t *kernel);
void bf_ptx_kernel_param(const bf_ptx_kernel_t *kernel, size_t index, size_t *offset_p, size_t *size_p);
size_t bf_ptx_kernel_param_bytes(const bf_ptx_kernel_t *kernel);

/* What cuFuncGetAttribute reports: static shared bytes (kernel-scope .shared, not the extern
 * array), local bytes per thread, const bytes of the module, the block size limit (.maxntid or
 * .reqntid product, else 1024), the number of virtual registers, and the PTX version ×10+minor
 * (9.0 → 90). */
typedef struct {
    size_t static_shared_bytes, local_bytes, const_bytes;
    int max_threads_per_block;
    int num_regs;
    int ptx_version;
    int uses_printf, uses_malloc; /* calls vprintf / malloc or free */
} bf_ptx_kernel_attrs_t;
void bf_ptx_kernel_attrs(const bf_ptx_kernel_t *kernel, bf_ptx_kernel_attrs_t *attrs_p);

/* Module-scope .global and .const variables, which the caller allocates in device memory. init_p
 * gets the initial bytes (size of them), or NULL for zero-filled; is_const_p 1 for .const. */
size_t bf_ptx_module_global_count(const bf_ptx_module_t *module);
void bf_ptx_module_global(const bf_ptx_module_t *module, size_t index, const char **name_p,
                          size_t *size_p, const void **init_p /* NULL = zero */, int *is_const_p);

/* Tells the module where the index-th global lives; kernels see that address from their next
 * launch on. A global that was never bound has address 0 (and faults when touched). */
void bf_ptx_module_bind_global(bf_ptx_module_t *module, size_t index, uint64_t device_address);

/* host = where [base, base+size) lives in this process */
typedef struct {
    uint64_t base, size;
    void *host;
} bf_ptx_region_t;

/* Maps a device address to the region (allocation) holding it: returns 1 and fills *region_p, or 0
 * when no region holds addr. Called from several threads at once during a launch. */
typedef struct {
    int (*lookup)(void *ctx, uint64_t addr, bf_ptx_region_t *region_p); /* 1 found, 0 not */
    void *ctx;
} bf_ptx_memory_t;

/*
 * What the device runtime asks of the driver during a launch (all may be NULL):
 * output  device printf text (fd 1: one printf call's formatted output, which the driver may drop
 *         when its FIFO is full) and device-assert messages (fd 2, one line each). Called from
 *         several worker threads at once.
 * malloc  device heap: a 16-byte aligned device address of size bytes, or 0 (exhausted, or no heap)
 * free    gives back what malloc returned (0 is ignored)
 */
typedef struct {
    void (*output)(void *ctx, int fd, const char *text, size_t len);
    uint64_t (*malloc)(void *ctx, uint64_t size);
    void (*free)(void *ctx, uint64_t addr);
    void *ctx;
} bf_ptx_services_t;

/* One launch: grid and block dimensions, dynamic shared bytes, the parameter buffer laid out as
 * bf_ptx_kernel_param says, the memory lookup, the number of threads to run blocks on (≤ 0: one
 * per online core), the driver's services (may be NULL: printf output is dropped, malloc returns
 * NULL) and the per-thread call stack size for recursive calls (CU_LIMIT_STACK_SIZE; 0: 1024). */
typedef struct {
    unsigned grid[3], block[3];
    size_t dynamic_shared_bytes;
    const void *params;
    size_t params_size;
    const bf_ptx_memory_t *memory;
    int worker_threads;
    const bf_ptx_services_t *services;
    size_t stack_bytes;
} bf_ptx_launch_t;

/* Why a launch stopped; the driver maps each to its CUresult (docs/ptx-engine.md). */
typedef enum {
    BF_PTX_FAULT_ADDRESS,    /* out-of-bounds access, or a store to param memory: ILLEGAL_ADDRESS */
    BF_PTX_FAULT_MISALIGNED, /* MISALIGNED_ADDRESS */
    BF_PTX_FAULT_TRAP,       /* trap, brkpt: LAUNCH_FAILED */
    BF_PTX_FAULT_ASSERT,     /* __assertfail: ASSERT (the message went to services->output fd 2) */
    BF_PTX_FAULT_STACK,      /* call stack overflow: HARDWARE_STACK_ERROR */
    BF_PTX_FAULT_PC,         /* an indirect call of something that is no function here: INVALID_PC */
} bf_ptx_fault_kind_t;

/* Where a launch stopped: what kind of fault, the faulting address, the PTX line of the
 * instruction, the kernel's name and a sentence saying what happened ("out-of-bounds load of 4
 * bytes from global ..."). */
typedef struct {
    uint64_t address;
    int ptx_line;
    const char *kernel;
    char message[256];
    int kind; /* bf_ptx_fault_kind_t */
} bf_ptx_fault_t;

/*
 * Runs a grid to completion.
 * kernel  in   the kernel
 * launch  in   dimensions, parameters, memory
 * fault_p out  filled when the launch returns BF_BAD_ADDRESS; may be NULL
 * Returns BF_OK, or BF_BAD_ADDRESS with *fault_p filled (out-of-bounds / misaligned access, trap);
 * BF_INVALID_ARG for a block larger than 1024 threads or the kernel's limit, a zero dimension, a
 * parameter buffer smaller than the kernel's parameters, or too much shared memory; BF_NO_MEMORY.
 */
bf_status_t bf_ptx_launch(const bf_ptx_kernel_t *kernel, const bf_ptx_launch_t *launch, bf_ptx_fault_t *fault_p);

/*
 * As bf_ptx_launch, and also counts lane-instructions: for every operation executed by a warp,
 * the number of lanes it ran on (the guard predicate applied). Used by bench/ptx_bench.
 * lane_insns_p out  the count (may be NULL)
 */
bf_status_t bf_ptx_launch_counted(const bf_ptx_kernel_t *kernel, const bf_ptx_launch_t *launch,
                                  bf_ptx_fault_t *fault_p, uint64_t *lane_insns_p);

/* Number of decoded operations of a kernel (diagnostics and tests). */
size_t bf_ptx_kernel_op_count(const bf_ptx_kernel_t *kernel);

#endif
