/*
 * bf_status.h: openbf's internal status codes, defined once.
 *
 * Every internal C function returns bf_status_t: BF_OK (0) or a negative code. The rows of
 * BF_STATUS_MAP expand into the enum, bf_status_str() and the one conversion to CUresult at the
 * driver-API boundary, bf_status_to_cu().
 */
#ifndef BF_STATUS_H
#define BF_STATUS_H

#include <cuda.h>

/*        name             code  text                               CUresult at the API boundary */
#define BF_STATUS_MAP(X)                                                                              \
    X(OK,               0,  "success",                          CUDA_SUCCESS)                          \
    X(NO_MEMORY,       -1,  "out of memory",                    CUDA_ERROR_OUT_OF_MEMORY)              \
    X(INVALID_ARG,     -2,  "invalid argument",                 CUDA_ERROR_INVALID_VALUE)              \
    X(IO,              -3,  "i/o error",                        CUDA_ERROR_DEVICE_UNAVAILABLE)         \
    X(CLOSED,          -4,  "connection closed by peer",        CUDA_ERROR_DEVICE_UNAVAILABLE)         \
    X(TIMEOUT,         -5,  "timed out",                        CUDA_ERROR_DEVICE_UNAVAILABLE)         \
    X(PROTOCOL,        -6,  "malformed message",                CUDA_ERROR_DEVICE_UNAVAILABLE)         \
    X(VERSION,         -7,  "protocol version mismatch",        CUDA_ERROR_NOT_INITIALIZED)            \
    X(UNSUPPORTED,     -8,  "not supported",                    CUDA_ERROR_NOT_SUPPORTED)              \
    X(NOT_FOUND,       -9,  "not found",                        CUDA_ERROR_NOT_FOUND)                  \
    X(BAD_ADDRESS,    -10,  "bad address",                      CUDA_ERROR_INVALID_VALUE)              \
    X(UNREACHABLE,    -11,  "server unreachable",               CUDA_ERROR_NOT_INITIALIZED)            \
    X(EXISTS,         -12,  "already exists",                   CUDA_ERROR_INVALID_VALUE)              \
    X(DEVICE_ASSERT,  -13,  "device-side assertion failed",     CUDA_ERROR_ASSERT)                     \
    X(STACK_OVERFLOW, -14,  "device call stack overflow",       CUDA_ERROR_HARDWARE_STACK_ERROR)       \
    X(MISALIGNED,     -15,  "misaligned device address",        CUDA_ERROR_MISALIGNED_ADDRESS)         \
    X(KERNEL_TRAP,    -16,  "kernel trap",                      CUDA_ERROR_LAUNCH_FAILED)              \
    X(INVALID_PC,     -17,  "invalid program counter",          CUDA_ERROR_INVALID_PC)

typedef enum {
#define BF_STATUS_ENUM_ROW(name, code, text, cu) BF_##name = code,
    BF_STATUS_MAP(BF_STATUS_ENUM_ROW)
#undef BF_STATUS_ENUM_ROW
} bf_status_t;

/* Returns the human-readable text of a status ("unknown status" for a value not in the map). */
const char *bf_status_str(bf_status_t status);

/* Returns the name of a status without the BF_ prefix, e.g. "NO_MEMORY". */
const char *bf_status_name(bf_status_t status);

/* Converts a status to the CUresult the driver API returns for it. */
CUresult bf_status_to_cu(bf_status_t status);

#endif
