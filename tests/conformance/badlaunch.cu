/* badlaunch.cu: invalid launch configurations fail at the launch itself (no synchronisation
 * needed), are not sticky, and a valid launch afterwards works. */
#include "check.h"

__global__ void store(int *p, int v)
{
    p[threadIdx.x] = v;
}

/* cudart reports a configuration the driver refuses as cudaErrorInvalidConfiguration on a GPU;
 * accept cudaErrorInvalidValue too, and say which came. */
static void expect_config_error(const char *name)
{
    cudaError_t e = cudaGetLastError();
    check_report(name, e == cudaErrorInvalidConfiguration || e == cudaErrorInvalidValue,
                 "expected an invalid-configuration error got %s (%d)", cudaGetErrorName(e), (int)e);
}

int main(void)
{
    check_begin("badlaunch");
    int *d;
    expect_ok("malloc", cudaMalloc(&d, 4096));
    store<<<1, 2048>>>(d, 1);
    expect_config_error("too_many_threads");
    store<<<1, dim3(1, 1, 128)>>>(d, 1);
    expect_config_error("block_z_too_large");
    store<<<dim3(1, 70000), 32>>>(d, 1);
    expect_config_error("grid_y_too_large");
    store<<<0, 32>>>(d, 1);
    expect_config_error("empty_grid");
    store<<<1, 32, 1 << 20>>>(d, 1);
    expect_config_error("shared_too_large");
    expect_ok("no_sticky_error", cudaDeviceSynchronize());
    store<<<1, 64>>>(d, 7);
    expect_ok("good_launch", cudaGetLastError());
    int h[64];
    expect_ok("copy", cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
    int wrong = 0;
    for (int i = 0; i < 64; i++)
        wrong += h[i] != 7;
    check_report("good_launch_result", wrong == 0, "%d wrong", wrong);
    expect_ok("free", cudaFree(d));
    return check_end();
}
