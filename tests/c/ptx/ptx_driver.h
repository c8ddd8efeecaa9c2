/*
 * ptx_driver.h: the PTX tables run through a CUDA driver library (ptx_driver.c): libbfemu.so, or
 * NVIDIA's libcuda.so.1 on a GPU host, so that one command checks the same rows on both.
 */
#ifndef BF_PTX_TEST_DRIVER_H
#define BF_PTX_TEST_DRIVER_H

#include <stddef.h>

typedef struct ptx_driver ptx_driver_t;

/* dlopens the library, initialises it and makes device 0's primary context current.
 * Returns 1, or 0 with err filled. */
int ptx_driver_open(const char *path, ptx_driver_t **driver_p, char *err, size_t err_len);

/* Loads a file's PTX text as the current module. Returns 1, or 0 with err filled. */
int ptx_driver_load(ptx_driver_t *driver, const char *ptx, size_t len, char *err, size_t err_len);
void ptx_driver_unload(ptx_driver_t *driver);

/* Runs kernel(in, out) with copies of in and out (out is copied back on success). A launch that
 * fails sets *failed_p (and recovers a context); returns 0 when the row could not run at all. */
int ptx_driver_run(ptx_driver_t *driver, const char *kernel, const unsigned grid[3], const unsigned block[3],
                   size_t shared, const void *in, size_t in_len, void *out, size_t out_len, int *failed_p,
                   char *msg, size_t msg_len);

void ptx_driver_close(ptx_driver_t *driver);

#endif
