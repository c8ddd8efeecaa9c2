/* fault_exit.cu: a kernel faults (it reads 64 MiB past its allocation, like
 * tests/conformance/oob.cu) and nothing synchronises until the program's last CUDA call, made from
 * an atexit handler: it must get cudaErrorIllegalAddress whether or not bf-trace records, since
 * recording must not consume the error the worker latched for the program (docs/trace.md).
 * Prints "final_sync <code> <name>" and exits 0; the test reads the line. */
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

__global__ void read_far(const int *p, int *out)
{
    out[0] = p[(64 << 20) / sizeof(int) + threadIdx.x];
}

static void final_sync(void)
{
    cudaError_t e = cudaDeviceSynchronize();
    printf("final_sync %d %s\n", (int)e, cudaGetErrorName(e));
    fflush(stdout);
}

int main(void)
{
    int *d = NULL, *out = NULL;
    if (cudaMalloc(&d, 4096) != cudaSuccess || cudaMalloc(&out, 4096) != cudaSuccess) {
        printf("malloc failed\n");
        return 1;
    }
    /* Registered after the runtime started, so it runs before the runtime's own teardown. */
    atexit(final_sync);
    read_far<<<1, 1>>>(d, out);
    printf("launch %d\n", (int)cudaGetLastError());
    return 0;
}
