/*
 * engine.h: the client engine of libbf.so, as seen by the driver-API families (driver/*.c) and
 * the private export tables (export_tables.c).
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

/* ---- unsupported entry points ------------------------------------------------------------- */

/* Returns CUDA_ERROR_NOT_SUPPORTED and says once per name on stderr that `name` is not supported
 * by openbf yet. Every generated stub calls this. */
CUresult bf_unsupported(const char *name);

#endif
