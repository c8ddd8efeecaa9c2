// A device function nvcc keeps out of line (called twice, divergently), and a grid-stride loop
// with 64-bit indexing, integer division and conversions.
__device__ __noinline__ float poly(float x, int k)
{
    float r = 0.0f;
    for (int i = 0; i < k; i++)
        r = r * x + (float)(i + 1);
    return r;
}

extern "C" __global__ void call_poly(const float *x, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    if (i & 1)
        out[i] = poly(x[i], 3);
    else
        out[i] = poly(x[i], 2) + 1.0f;
}

extern "C" __global__ void int_mix(const long long *in, long long *out, int *q, double *d, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x) {
        long long v = in[i];
        out[i] = v / 7 + v % 5 - (v >> 3);
        q[i] = (int)(v / 3) ^ (int)(unsigned)(v * 2654435761u);
        d[i] = (double)v * 0.5 + sqrt((double)(v < 0 ? -v : v));
    }
}

__constant__ float coeffs[4] = {1.0f, 2.0f, 3.0f, 4.0f};
__device__ int counter;

extern "C" __global__ void use_globals(const float *x, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = coeffs[i & 3] * x[i];
        atomicAdd(&counter, 1);
    }
}
