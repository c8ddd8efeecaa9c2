// Vector add and saxpy: the memory-bound kernels (tests/c/ptx/test_ptx_kernels.c, bench/ptx_bench.c).
extern "C" __global__ void vector_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}

extern "C" __global__ void saxpy(int n, float alpha, const float *x, float *y)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        y[i] = alpha * x[i] + y[i];
}

// The compute-bound kernel: a chain of fma per thread.
extern "C" __global__ void fma_loop(float *out, int iterations)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float x = (float)i * 1e-6f, y = 1.0f;
    for (int k = 0; k < iterations; k++)
        y = fmaf(y, 0.999999f, x);
    out[i] = y;
}

// Reads far past the end of its array: the out-of-bounds test.
extern "C" __global__ void read_far(const float *a, float *out, long long offset)
{
    out[threadIdx.x] = a[offset + threadIdx.x];
}
