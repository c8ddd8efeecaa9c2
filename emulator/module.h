/*
 * module.h: code objects of libbfemu.so (modules, functions, libraries, kernels), shared by
 * module.c, library.c, launch.c and occupancy.c.
 *
 * A module is PTX loaded into one context: the PTX engine's parse of it, one function per .entry,
 * and its module-scope .global/.const variables, which live in the device's arena as allocations
 * of that context (so copies, pointer queries and kernels reach them like any other memory). A
 * library (cuLibrary*) is context-independent: it keeps the PTX text and a parse for names and
 * parameters, and loads itself as a module into a context the first time something needs device
 * state there (a launch, a global, cuKernelGetFunction). Deactivating a context frees every module
 * loaded into it; libraries load again on their next use.
 *
 * Handles: every module, function, library and kernel the emulator hands out is registered in one
 * range map, which says whether an address is a live object and of which type before anything
 * dereferences it; each object also carries a type cookie. A CUkernel is accepted wherever a
 * CUfunction is, as cuda.h allows for cuLaunchKernel and cudart does for occupancy queries.
 *
 * Locking: bf_emu.lock guards the handle map, the module list and every field below except what
 * is fixed at creation. The PTX engine is called without the lock (parsing and kernels are slow);
 * a module in use by a launch is kept alive by its reference count.
 */
#ifndef BF_EMU_MODULE_H
#define BF_EMU_MODULE_H

#include "emu.h"
#include "fatbin.h"
#include "ptx/ptx.h"

#define BF_EMU_MODULE_COOKIE 0x6266656d756d6f64ull   /* "bfemumod" */
#define BF_EMU_FUNCTION_COOKIE 0x6266656d7566756eull /* "bfemufun" */
#define BF_EMU_LIBRARY_COOKIE 0x6266656d756c6962ull  /* "bfemulib" */
#define BF_EMU_KERNEL_COOKIE 0x6266656d756b726eull   /* "bfemukrn" */

/* Largest parameter buffer a kernel may take (CUDA 12.1+ on Volta and later: 32764 bytes). */
#define BF_EMU_MAX_PARAM_BYTES 32764

typedef enum {
    BF_EMU_HANDLE_MODULE = 1,
    BF_EMU_HANDLE_FUNCTION,
    BF_EMU_HANDLE_LIBRARY,
    BF_EMU_HANDLE_KERNEL,
} bf_emu_handle_type_t;

typedef struct bf_emu_module bf_emu_module_t;
typedef struct bf_emu_library bf_emu_library_t;

/* What cuFuncSetAttribute / cuKernelSetAttribute / the cache-config calls change. A library's
 * functions share their kernel's settings, so a setting made on either is seen through both. */
typedef struct {
    int max_dynamic_shared;     /* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
    int carveout;               /* CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, -1 default */
    int non_portable_cluster;   /* CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED */
    int cluster_policy;         /* CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE */
    CUfunc_cache cache_config;
} bf_emu_func_settings_t;

typedef struct {
    uint64_t cookie;                   /* BF_EMU_FUNCTION_COOKIE */
    bf_emu_module_t *module;
    const bf_ptx_kernel_t *kernel;
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t *settings;  /* &own_settings, or the library kernel's */
    bf_emu_func_settings_t own_settings;
} bf_emu_function_t;

typedef struct {
    const char *name;                  /* the PTX engine's, valid as long as the module */
    CUdeviceptr dptr;
    size_t size;
} bf_emu_global_t;

struct bf_emu_module {
    uint64_t cookie;                   /* BF_EMU_MODULE_COOKIE */
    bf_emu_ctx_t *ctx;                 /* the context it was loaded into */
    bf_emu_library_t *library;         /* the library it is an instance of, or NULL */
    bf_ptx_module_t *ptx;
    int target;                        /* .target sm_XX as XX (CU_FUNC_ATTRIBUTE_PTX_VERSION) */
    size_t function_count;
    bf_emu_function_t *functions;
    size_t global_count;
    bf_emu_global_t *globals;
    unsigned int refs;                 /* 1 while loaded, +1 per launch running its code */
    bf_emu_module_t *next;             /* in the list of loaded modules */
};

typedef struct {
    uint64_t cookie;                   /* BF_EMU_KERNEL_COOKIE */
    bf_emu_library_t *library;
    size_t index;                      /* position among the library's kernels (and functions) */
    const bf_ptx_kernel_t *kernel;     /* in the library's own parse */
    bf_ptx_kernel_attrs_t attrs;
    bf_emu_func_settings_t settings;
} bf_emu_kernel_t;

struct bf_emu_library {
    uint64_t cookie;                   /* BF_EMU_LIBRARY_COOKIE */
    bf_emu_ptx_text_t ptx;             /* kept: each context parses its own copy */
    bf_ptx_module_t *meta;             /* the parse that answers names and parameters */
    int target;                        /* .target sm_XX as XX */
    size_t kernel_count;
    bf_emu_kernel_t *kernels;
    bf_emu_module_t *loaded[BF_EMU_DEVICE_COUNT]; /* its module in each device's primary context */
};

/* --- module.c -------------------------------------------------------------------------------- */

/* Registers count objects of one type laid out every stride bytes from first. Lock held.
 * Returns BF_OK or BF_NO_MEMORY. */
bf_status_t bf_emu_handle_add(const void *first, size_t count, size_t stride, bf_emu_handle_type_t type);

/* Forgets the objects registered at first. Lock held. */
void bf_emu_handle_remove(const void *first);

/* Returns the live object of type that handle names, or NULL; never dereferences an unknown
 * handle. Lock held. */
void *bf_emu_handle_find(const void *handle, bf_emu_handle_type_t type);

/* Emulated compute capability of the device, as major * 10 + minor (75). */
int bf_emu_module_cc(const bf_emu_device_t *dev);

/* Parses PTX text into a module of ctx: functions, globals in the arena, registered handles.
 * Takes the lock itself (the parse runs without it).
 *   library       in   the library this module is an instance of, or NULL
 *   err, err_len  out  the engine's message when the PTX does not load (may be NULL)
 * Returns CUDA_SUCCESS, what bf_emu_ptx_parse returns, CUDA_ERROR_OUT_OF_MEMORY, or
 * CUDA_ERROR_CONTEXT_IS_DESTROYED when ctx was deactivated meanwhile. */
CUresult bf_emu_module_load_text(bf_emu_ctx_t *ctx, const bf_emu_ptx_text_t *ptx, bf_emu_library_t *library,
                                 char *err, size_t err_len, bf_emu_module_t **module_p);

/* Unregisters a module and frees its globals; the object itself goes when its last reference
 * does. Lock held. */
void bf_emu_module_unload_locked(bf_emu_module_t *module);

/* Drops one reference taken for a launch (bf_emu_function_acquire). Takes the lock. */
void bf_emu_module_release(bf_emu_module_t *module);

/* Finds a module-scope variable by name. Lock held. */
const bf_emu_global_t *bf_emu_module_find_global(const bf_emu_module_t *module, const char *name);

/* Maps a load failure of fatbin.c to what the driver returns for it. */
CUresult bf_emu_image_result(bf_status_t status);

/* Parses PTX text with the engine, logging its message on failure.
 *   err, err_len  out  the engine's message (may be NULL)
 * Returns CUDA_SUCCESS, CUDA_ERROR_INVALID_PTX (malformed), CUDA_ERROR_NOT_SUPPORTED (an
 * instruction or directive the engine does not implement) or CUDA_ERROR_OUT_OF_MEMORY. */
CUresult bf_emu_ptx_parse(const bf_emu_ptx_text_t *ptx, bf_ptx_module_t **parsed_p, char *err, size_t err_len);

/* The XX of the first ".target sm_XX" in PTX text (75), or 0 when it has none. */
int bf_emu_ptx_target(const bf_emu_ptx_text_t *ptx);

/* Reads a whole file for cuModuleLoad / cuLibraryLoadFromFile; the buffer ends in a NUL not
 * counted in *len_p. Returns CUDA_SUCCESS, CUDA_ERROR_FILE_NOT_FOUND or CUDA_ERROR_OUT_OF_MEMORY. */
CUresult bf_emu_read_file(const char *path, uint8_t **data_p, size_t *len_p);

/* --- library.c ------------------------------------------------------------------------------- */

/* The library's module in ctx, loaded now if it has none there yet. Takes the lock itself. */
CUresult bf_emu_library_instance(bf_emu_library_t *library, bf_emu_ctx_t *ctx, bf_emu_module_t **module_p);

/* --- launch.c -------------------------------------------------------------------------------- */

/* What a CUfunction argument names: a function, or a library kernel cast to CUfunction. Lock held.
 *   function_p  out  the function, when handle is one
 *   kernel_p    out  the kernel, when handle is one
 * Returns CUDA_SUCCESS or CUDA_ERROR_INVALID_HANDLE. */
CUresult bf_emu_function_or_kernel(CUfunction handle, bf_emu_function_t **function_p, bf_emu_kernel_t **kernel_p);

/* The PTX kernel, its attributes and settings behind a CUfunction (function or kernel), without
 * loading anything. Lock held. Returns CUDA_SUCCESS or CUDA_ERROR_INVALID_HANDLE. */
CUresult bf_emu_function_describe(CUfunction handle, const bf_ptx_kernel_t **kernel_p, bf_ptx_kernel_attrs_t *attrs_p,
                                  bf_emu_func_settings_t **settings_p);

/* Default settings of a new function or kernel. */
void bf_emu_func_settings_init(bf_emu_func_settings_t *settings, const bf_ptx_kernel_attrs_t *attrs);

/* Answers cuFuncGetAttribute / cuKernelGetAttribute. Lock held.
 * Returns CUDA_SUCCESS or CUDA_ERROR_INVALID_VALUE for an unknown attribute. */
CUresult bf_emu_func_attribute_get(const bf_ptx_kernel_attrs_t *attrs, const bf_emu_func_settings_t *settings,
                                   CUfunction_attribute attrib, int *value_p);

/* Applies cuFuncSetAttribute / cuKernelSetAttribute. Lock held.
 * Returns CUDA_SUCCESS, CUDA_ERROR_INVALID_VALUE or CUDA_ERROR_NOT_PERMITTED (read-only). */
CUresult bf_emu_func_attribute_set(const bf_ptx_kernel_attrs_t *attrs, bf_emu_func_settings_t *settings,
                                   CUfunction_attribute attrib, int value);

/* --- image.c ---------------------------------------------------------------------------------- */

/* bf_emu_image_ptx, and for an -rdc=true program's version-2 wrapper the PTX of its translation
 * units linked into one module. Returns as bf_emu_image_ptx (BF_NOT_FOUND also for an .extern
 * variable no unit defines, logged). */
bf_status_t bf_emu_image_load_ptx(const void *image, size_t len, int cc, bf_emu_ptx_text_t *ptx_p);

/* --- devrt.c ---------------------------------------------------------------------------------- */

/* The engine's services for a launch in ctx (printf output, malloc, free) and its stack size. */
void bf_emu_devrt_services(bf_emu_ctx_t *ctx, bf_ptx_services_t *services, size_t *stack_p);

/* Checks a cache configuration value (CU_FUNC_CACHE_*). */
bool bf_emu_func_cache_valid(CUfunc_cache config);

#endif
