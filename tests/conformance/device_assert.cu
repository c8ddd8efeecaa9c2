/* device_assert.cu: a failing assert() in a kernel. The launch is accepted; the next synchronise
 * returns cudaErrorAssert, and so does every later call (the error is sticky) until
 * cudaDeviceReset, after which the device works again. test_device_output.py also checks that the
 * assertion message (file, line, function, block, thread, expression) reaches stderr. */
#include "check.h"

#include <cassert>

__global__ void check_values(const int *v, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        assert(v[i] != 13);
}

__global__ void add_one(int *v, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        v[i] += 1;
}

int main(void)
{
    check_begin("device_assert");
    const int n = 64;
    int h[n];
    for (int i = 0; i < n; i++)
        h[i] = i < 40 ? i * 2 : 100 + i; /* no 13: passes */
    int *d;
    expect_ok("malloc", cudaMalloc(&d, sizeof(h)));
    expect_ok("copy_in", cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice));
    check_values<<<2, 32>>>(d, n);
    expect_ok("passing_assert_launch", cudaGetLastError());
    expect_ok("passing_assert_sync", cudaDeviceSynchronize());

    h[45] = 13; /* thread 13 of block 1 fails */
    expect_ok("copy_in_13", cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice));
    check_values<<<2, 32>>>(d, n);
    expect_ok("failing_assert_launch", cudaGetLastError());
    expect_err("failing_assert_sync", cudaDeviceSynchronize(), cudaErrorAssert);
    /* sticky: later calls fail with the same error */
    int *d2 = NULL;
    expect_err("malloc_after_assert", cudaMalloc(&d2, 64), cudaErrorAssert);
    add_one<<<1, 64>>>(d, n);
    expect_err("launch_after_assert", cudaGetLastError(), cudaErrorAssert);
    expect_err("sync_after_assert", cudaDeviceSynchronize(), cudaErrorAssert);
    expect_err("copy_after_assert", cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost), cudaErrorAssert);
    /* the thread's last error still holds cudaErrorAssert; a successful reset does not clear it */
    expect_err("last_error_before_reset", cudaGetLastError(), cudaErrorAssert);

    expect_ok("reset", cudaDeviceReset());
    expect_ok("malloc_after_reset", cudaMalloc(&d, sizeof(h)));
    for (int i = 0; i < n; i++)
        h[i] = i;
    cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice);
    add_one<<<1, 64>>>(d, n);
    expect_ok("launch_after_reset", cudaGetLastError());
    expect_ok("copy_after_reset", cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
    int wrong = 0;
    for (int i = 0; i < n; i++)
        wrong += h[i] != i + 1;
    check_report("works_after_reset", wrong == 0, "%d wrong", wrong);
    cudaFree(d);
    return check_end();
}
