/* oob.cu: a kernel reading 64 MiB past its allocation faults: cudaErrorIllegalAddress at the next
 * synchronisation, sticky for the context until cudaDeviceReset, after which the device works. */
#include "check.h"

__global__ void read_far(const int *p, int *out)
{
    out[0] = p[(64 << 20) / sizeof(int) + threadIdx.x];
}

__global__ void store(int *p, int v)
{
    p[threadIdx.x] = v;
}

int main(void)
{
    check_begin("oob");
    int *d, *out;
    expect_ok("malloc", cudaMalloc(&d, 4096));
    expect_ok("malloc_out", cudaMalloc(&out, 4096));
    read_far<<<1, 1>>>(d, out);
    expect_ok("launch_accepted", cudaGetLastError());
    expect_err("sync_illegal_address", cudaDeviceSynchronize(), cudaErrorIllegalAddress);
    /* Sticky: the context stays broken. */
    void *more = NULL;
    cudaError_t e = cudaMalloc(&more, 4096);
    expect_err("malloc_after_fault", e, cudaErrorIllegalAddress);
    expect_err("sync_again", cudaDeviceSynchronize(), cudaErrorIllegalAddress);
    expect_ok("reset", cudaDeviceReset());
    (void)cudaGetLastError();
    int *fresh;
    expect_ok("malloc_after_reset", cudaMalloc(&fresh, 4096));
    store<<<1, 32>>>(fresh, 5);
    expect_ok("launch_after_reset", cudaGetLastError());
    int h[32];
    expect_ok("copy_after_reset", cudaMemcpy(h, fresh, sizeof(h), cudaMemcpyDeviceToHost));
    int wrong = 0;
    for (int i = 0; i < 32; i++)
        wrong += h[i] != 5;
    check_report("result_after_reset", wrong == 0, "%d wrong", wrong);
    expect_ok("free", cudaFree(fresh));
    return check_end();
}
