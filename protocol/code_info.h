/*
 * code_info.h: what the LIBRARY_LOAD reply says about each kernel, and the content hash that names
 * an image. Shared by libbf.so (engine/code.c) and bf-worker (handlers/module.c).
 *
 * The reply's tail is kernel_count records, each:
 *   bf_code_kernel_info_t   fixed part (little-endian, as both ends are)
 *   name_len bytes          the mangled name, no NUL
 *   param_count x {u32 offset, u32 size}
 *   zero padding to a multiple of 4 bytes
 * Attributes are those of device 0 (the worker asks cuKernelGetAttribute for each
 * CUfunction_attribute below BF_CODE_FUNC_ATTRS; one it refuses reads 0).
 */
#ifndef BF_CODE_INFO_H
#define BF_CODE_INFO_H

#include <stddef.h>
#include <stdint.h>

/* Kernel ids are (library id << BF_CODE_KERNEL_BITS) | index within the library. */
#define BF_CODE_KERNEL_BITS 20
#define BF_CODE_MAX_KERNELS (1u << BF_CODE_KERNEL_BITS)

/* CUfunction_attribute values carried (CU_FUNC_ATTRIBUTE_MAX is 20 in CUDA 13.0; room to grow). */
#define BF_CODE_FUNC_ATTRS 32

/* Most parameters of one kernel (PTX allows 4 KiB of parameters; 32 KiB since Volta). */
#define BF_CODE_MAX_PARAMS 4096

typedef struct {
    uint32_t name_len;
    uint32_t param_count;
    int32_t attrs[BF_CODE_FUNC_ATTRS];
} bf_code_kernel_info_t;

typedef struct {
    uint32_t offset;
    uint32_t size;
} bf_code_param_t;

/* Size of one record, padding included. */
static inline size_t bf_code_record_size(uint32_t name_len, uint32_t param_count)
{
    size_t n = sizeof(bf_code_kernel_info_t) + name_len + (size_t)param_count * sizeof(bf_code_param_t);
    return (n + 3) & ~(size_t)3;
}

/*
 * An rdc bundle: how a version-2 fatbin wrapper (-rdc=true: a linked fatbin in `data` and a
 * NULL-terminated array of the per-TU fatbins in `filename_or_fatbins`) travels as one image.
 *   u32 magic BF_CODE_BUNDLE_MAGIC, u32 count (the linked fatbin + the per-TU ones, >= 1)
 *   count x { u64 length, then that many bytes (one whole fatbin), zero padding to 8 bytes }
 * The first fatbin is the linked one. The worker checks every length against the fatbin's own
 * header and rebuilds a version-2 wrapper over its copy, which its driver gets, as cudart does.
 */
#define BF_CODE_BUNDLE_MAGIC 0x444e4246u  /* "FBND" */
#define BF_CODE_BUNDLE_MAX 4096u          /* most fatbins in one bundle */

/*
 * A 128-bit content hash of an image: two 64-bit FNV-1a lanes with different offset bases, the
 * second fed each byte rotated, both finished with the length. It names cached images, not a
 * security boundary: both ends belong to one session, the worker also compares the length, and a
 * collision needs crafted input, which can only hurt the program that sends it.
 */
static inline void bf_code_hash(const void *data, size_t len, uint64_t *lo_p, uint64_t *hi_p)
{
    const uint8_t *p = data;
    const uint64_t prime = 0x100000001b3ull;
    uint64_t a = 0xcbf29ce484222325ull;
    uint64_t b = 0x84222325cbf29ce4ull;

    for (size_t i = 0; i < len; i++) {
        a = (a ^ p[i]) * prime;
        b = (b ^ (uint8_t)((p[i] << 3) | (p[i] >> 5))) * prime;
    }
    a = (a ^ (uint64_t)len) * prime;
    b = (b ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull)) * prime;
    *lo_p = a;
    *hi_p = b;
}

#endif
