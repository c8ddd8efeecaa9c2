/* manylaunch.cu: 100,000 empty kernel launches are posted without a round trip each (run with
 * BF_STATS=1 to see how many waited round trips the process made), then one that counts. */
#include "check.h"

__global__ void empty(void)
{
}

__global__ void count(unsigned int *c)
{
    atomicAdd(c, 1u);
}

int main(void)
{
    check_begin("manylaunch");
    const int launches = 100000;
    unsigned int *c;
    expect_ok("malloc", cudaMalloc(&c, sizeof(unsigned int)));
    expect_ok("zero", cudaMemset(c, 0, sizeof(unsigned int)));
    int failed = 0;
    for (int i = 0; i < launches; i++) {
        empty<<<1, 1>>>();
        failed += cudaGetLastError() != cudaSuccess;
    }
    check_report("empty_launches", failed == 0, "%d launches failed", failed);
    for (int i = 0; i < 1000; i++)
        count<<<1, 32>>>(c);
    expect_ok("count_launches", cudaGetLastError());
    expect_ok("synchronize", cudaDeviceSynchronize());
    unsigned int h = 0;
    expect_ok("copy", cudaMemcpy(&h, c, sizeof(h), cudaMemcpyDeviceToHost));
    expect_u64("count", h, 1000u * 32u);
    expect_ok("free", cudaFree(c));
    return check_end();
}
