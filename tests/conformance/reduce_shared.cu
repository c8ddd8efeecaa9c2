/* reduce_shared.cu: a sum reduction in dynamic shared memory (tree with __syncthreads), partial sums
 * reduced again on the device, checked against the host. */
#include "check.h"

#include <vector>

__global__ void reduce(const unsigned int *in, unsigned int *out, unsigned int n)
{
    extern __shared__ unsigned int part[];
    unsigned int t = threadIdx.x;
    unsigned int i = blockIdx.x * blockDim.x * 2 + t;
    unsigned int v = 0;
    if (i < n)
        v = in[i];
    if (i + blockDim.x < n)
        v += in[i + blockDim.x];
    part[t] = v;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s)
            part[t] += part[t + s];
        __syncthreads();
    }
    if (t == 0)
        out[blockIdx.x] = part[0];
}

int main(void)
{
    check_begin("reduce_shared");
    const unsigned int n = 1 << 20, threads = 256;
    std::vector<unsigned int> h(n);
    unsigned long long expect = 0;
    for (unsigned int i = 0; i < n; i++) {
        h[i] = (i * 2654435761u) >> 24;
        expect += h[i];
    }
    unsigned int *d_in, *d_a, *d_b;
    const unsigned int blocks = (n + threads * 2 - 1) / (threads * 2);
    expect_ok("malloc_in", cudaMalloc(&d_in, n * sizeof(unsigned int)));
    expect_ok("malloc_a", cudaMalloc(&d_a, blocks * sizeof(unsigned int)));
    expect_ok("malloc_b", cudaMalloc(&d_b, blocks * sizeof(unsigned int)));
    expect_ok("copy_in", cudaMemcpy(d_in, h.data(), n * sizeof(unsigned int), cudaMemcpyHostToDevice));
    /* Pass after pass until one value is left. */
    unsigned int count = n, passes = 0;
    const unsigned int *src = d_in;
    unsigned int *dst = d_a;
    while (count > 1) {
        unsigned int b = (count + threads * 2 - 1) / (threads * 2);
        reduce<<<b, threads, threads * sizeof(unsigned int)>>>(src, dst, count);
        src = dst;
        dst = dst == d_a ? d_b : d_a;
        count = b;
        passes++;
    }
    expect_ok("launches", cudaGetLastError());
    unsigned int got = 0;
    expect_ok("copy_out", cudaMemcpy(&got, src, sizeof(got), cudaMemcpyDeviceToHost));
    expect_u64("sum", got, (unsigned int)expect);
    check_report("passes", passes == 3, "expected 3 passes got %u", passes);
    /* More dynamic shared memory than a block may have without opting in: refused at launch. */
    reduce<<<1, threads, 200 * 1024>>>(d_in, d_a, 1);
    expect_some_error("too_much_shared", cudaGetLastError());
    expect_ok("free_in", cudaFree(d_in));
    expect_ok("free_a", cudaFree(d_a));
    expect_ok("free_b", cudaFree(d_b));
    return check_end();
}
