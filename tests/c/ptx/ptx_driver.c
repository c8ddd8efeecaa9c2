/*
 * ptx_driver.c: runs the PTX tables through a CUDA driver library instead of the engine: any
 * libcuda-compatible library, dlopened by path (libbfemu.so here, NVIDIA's libcuda.so.1 on a GPU
 * host), with cuModuleLoadData, cuMemAlloc, cuLaunchKernel and the copies. After a launch that
 * fails (the rows that expect a fault), the primary context is reset and the module loaded again.
 */
#include "ptx_driver.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda.h>

struct ptx_driver {
    void *lib;
    CUdevice dev;
    CUcontext ctx;
    CUmodule module;
    char *ptx;                     /* the current file's text (NUL-terminated), kept to reload */
    CUresult (*init)(unsigned);
    CUresult (*device_get)(CUdevice *, int);
    CUresult (*retain)(CUcontext *, CUdevice);
    CUresult (*reset)(CUdevice);
    CUresult (*set_current)(CUcontext);
    CUresult (*synchronize)(void);
    CUresult (*load)(CUmodule *, const void *);
    CUresult (*unload)(CUmodule);
    CUresult (*get_function)(CUfunction *, CUmodule, const char *);
    CUresult (*alloc)(CUdeviceptr *, size_t);
    CUresult (*free)(CUdeviceptr);
    CUresult (*htod)(CUdeviceptr, const void *, size_t);
    CUresult (*dtoh)(void *, CUdeviceptr, size_t);
    CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream,
                       void **, void **);
};

static int sym(ptx_driver_t *d, void *fn_p, const char *name, char *err, size_t err_len)
{
    void *p = dlsym(d->lib, name);
    if (!p) {
        snprintf(err, err_len, "%s: no %s", "driver", name);
        return 0;
    }
    memcpy(fn_p, &p, sizeof(p));
    return 1;
}

int ptx_driver_open(const char *path, ptx_driver_t **driver_p, char *err, size_t err_len)
{
    ptx_driver_t *d = calloc(1, sizeof(*d));
    if (!d)
        return 0;
    d->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!d->lib) {
        snprintf(err, err_len, "dlopen %s: %s", path, dlerror());
        free(d);
        return 0;
    }
    if (!sym(d, &d->init, "cuInit", err, err_len) || !sym(d, &d->device_get, "cuDeviceGet", err, err_len) ||
        !sym(d, &d->retain, "cuDevicePrimaryCtxRetain", err, err_len) ||
        !sym(d, &d->reset, "cuDevicePrimaryCtxReset_v2", err, err_len) ||
        !sym(d, &d->set_current, "cuCtxSetCurrent", err, err_len) ||
        !sym(d, &d->synchronize, "cuCtxSynchronize", err, err_len) ||
        !sym(d, &d->load, "cuModuleLoadData", err, err_len) || !sym(d, &d->unload, "cuModuleUnload", err, err_len) ||
        !sym(d, &d->get_function, "cuModuleGetFunction", err, err_len) ||
        !sym(d, &d->alloc, "cuMemAlloc_v2", err, err_len) || !sym(d, &d->free, "cuMemFree_v2", err, err_len) ||
        !sym(d, &d->htod, "cuMemcpyHtoD_v2", err, err_len) || !sym(d, &d->dtoh, "cuMemcpyDtoH_v2", err, err_len) ||
        !sym(d, &d->launch, "cuLaunchKernel", err, err_len))
        goto err_close;
    CUresult r = d->init(0);
    if (r == CUDA_SUCCESS)
        r = d->device_get(&d->dev, 0);
    if (r == CUDA_SUCCESS)
        r = d->retain(&d->ctx, d->dev);
    if (r == CUDA_SUCCESS)
        r = d->set_current(d->ctx);
    if (r != CUDA_SUCCESS) {
        snprintf(err, err_len, "%s: no device 0 context (CUresult %d)", path, (int)r);
        goto err_close;
    }
    *driver_p = d;
    return 1;

err_close:
    dlclose(d->lib);
    free(d);
    return 0;
}

int ptx_driver_load(ptx_driver_t *d, const char *ptx, size_t len, char *err, size_t err_len)
{
    free(d->ptx);
    d->ptx = malloc(len + 1);
    if (!d->ptx)
        return 0;
    memcpy(d->ptx, ptx, len);
    d->ptx[len] = '\0';
    d->module = NULL;
    CUresult r = d->load(&d->module, d->ptx);
    if (r != CUDA_SUCCESS) {
        snprintf(err, err_len, "cuModuleLoadData: CUresult %d", (int)r);
        return 0;
    }
    return 1;
}

void ptx_driver_unload(ptx_driver_t *d)
{
    if (d->module)
        d->unload(d->module);
    d->module = NULL;
}

/* After a failed launch: a fresh context and the module again. */
static void recover(ptx_driver_t *d)
{
    d->reset(d->dev);
    d->module = NULL;
    d->retain(&d->ctx, d->dev);
    d->set_current(d->ctx);
    d->load(&d->module, d->ptx);
}

int ptx_driver_run(ptx_driver_t *d, const char *kernel, const unsigned grid[3], const unsigned block[3],
                   size_t shared, const void *in, size_t in_len, void *out, size_t out_len, int *failed_p,
                   char *msg, size_t msg_len)
{
    CUfunction f;
    CUdeviceptr din = 0, dout = 0;
    *failed_p = 0;
    CUresult r = d->module ? d->get_function(&f, d->module, kernel) : CUDA_ERROR_INVALID_HANDLE;
    if (r != CUDA_SUCCESS) {
        snprintf(msg, msg_len, "cuModuleGetFunction: CUresult %d", (int)r);
        return 0;
    }
    if (d->alloc(&din, in_len) != CUDA_SUCCESS || d->alloc(&dout, out_len) != CUDA_SUCCESS ||
        d->htod(din, in, in_len) != CUDA_SUCCESS || d->htod(dout, out, out_len) != CUDA_SUCCESS) {
        snprintf(msg, msg_len, "device buffers could not be set up");
        return 0;
    }
    void *args[2] = {&din, &dout};
    r = d->launch(f, grid[0], grid[1], grid[2], block[0], block[1], block[2], (unsigned)shared, NULL, args, NULL);
    if (r == CUDA_SUCCESS)
        r = d->synchronize();
    if (r != CUDA_SUCCESS) {
        /* A faulting kernel: the context is gone, its buffers with it. */
        snprintf(msg, msg_len, "launch failed with CUresult %d", (int)r);
        *failed_p = 1;
        recover(d);
        return 1;
    }
    r = d->dtoh(out, dout, out_len);
    d->free(din);
    d->free(dout);
    if (r != CUDA_SUCCESS) {
        snprintf(msg, msg_len, "cuMemcpyDtoH: CUresult %d", (int)r);
        return 0;
    }
    return 1;
}

void ptx_driver_close(ptx_driver_t *d)
{
    if (!d)
        return;
    ptx_driver_unload(d);
    free(d->ptx);
    /* The library stays loaded: a driver's own threads may still run. */
    free(d);
}
