/*
 * code.h: libraries, modules and kernels in libbf.so (engine/code.c).
 *
 * The client never parses an image: it finds its extent (code.c says how), names it by content hash
 * and ships it once; the worker loads it as a library and answers with every kernel's name,
 * parameter layout and attributes, which then answer the kernel queries and pack launch parameters
 * here. A module is a library that belongs to the context it was loaded in. A CUfunction handed out
 * is the same object as the CUkernel, so the runtime passing a CUkernel as a CUfunction just works;
 * every handle is looked up in a table of live objects (type included) before it is touched.
 */
#ifndef BF_CL_CODE_H
#define BF_CL_CODE_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>

#include "code_info.h"

typedef struct bf_cl_library bf_cl_library_t;

typedef struct {
    uint32_t cookie;             /* BF_CL_KERNEL_COOKIE while live */
    bf_cl_library_t *lib;
    uint64_t id;                 /* the worker's kernel id */
    char *name;                  /* mangled, NUL-terminated */
    uint32_t param_count;
    bf_code_param_t *params;
    uint32_t params_size;        /* bytes of the packed buffer: end of the last parameter */
    int32_t attrs[BF_CODE_FUNC_ATTRS];
} bf_cl_kernel_t;

struct bf_cl_library {
    uint32_t cookie;             /* BF_CL_LIBRARY_COOKIE while live */
    uint64_t id;
    int is_module;               /* loaded with cuModuleLoad*: a CUmodule, not a CUlibrary */
    int device;                  /* a module's: its context's device */
    uint32_t kernel_count;
    bf_cl_kernel_t **kernels;
    uint64_t *globals;           /* addresses of the globals asked for, forgotten at unload */
    size_t global_count, global_cap;
    /* A library's module in a context (cuLibraryGetModule, cuFuncGetModule) is a view: a module
     * object with the library's id and kernels, owning neither; it dies with the library or the
     * context. */
    bf_cl_library_t *view;       /* a library's view, once asked for */
    bf_cl_library_t *view_of;    /* a view: its library */
};

/*
 * The bytes to ship for an image as the driver API receives it: a fatbin wrapper (its fatbin), a
 * fatbin, a cubin (ELF) or PTX text. *start_p gets where they begin; returns their length, or 0 for
 * an image that is none of these (or a NULL pointer).
 */
size_t bf_cl_code_image_extent(const void *image, const void **start_p);

/* Ships (or names) the image and loads it as a library, or as a module of device's context. */
CUresult bf_cl_code_load(const void *image, int is_module, int device, bf_cl_library_t **lib_p);

/* Forgets the library and its kernels and tells the worker (a library's view is refused:
 * CUDA_ERROR_NOT_PERMITTED, the module belongs to its library). */
CUresult bf_cl_code_unload(bf_cl_library_t *lib);

/* The module of lib in device's context: lib itself when it is a module, else its view. */
CUresult bf_cl_code_module_of(bf_cl_library_t *lib, int device, bf_cl_library_t **module_p);

/* Handle checks: CUDA_ERROR_INVALID_HANDLE unless handle is a live object of that kind. */
CUresult bf_cl_code_library(const void *handle, int is_module, bf_cl_library_t **lib_p);
CUresult bf_cl_code_kernel(const void *handle, bf_cl_kernel_t **kernel_p);

/* The kernel named name (mangled); CUDA_ERROR_NOT_FOUND when the library has none. */
CUresult bf_cl_code_find_kernel(bf_cl_library_t *lib, const char *name, bf_cl_kernel_t **kernel_p);

/* A module-scope variable's device address and size (asked of the worker, then recorded as device
 * memory of this process). */
CUresult bf_cl_code_global(bf_cl_library_t *lib, int device, const char *name, uint64_t *dptr_p,
                           uint64_t *size_p);

/* Sets a kernel attribute here and on the worker (posted). The caller checks which are settable. */
CUresult bf_cl_code_set_attribute(bf_cl_kernel_t *kernel, CUfunction_attribute attrib, int value,
                                  int device);

/* Waited round trips of this process so far (rpc.c counts them), for BF_STATS. */
uint64_t bf_cl_rpc_waited_count(void);

#endif
