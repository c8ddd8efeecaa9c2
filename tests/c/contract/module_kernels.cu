// Kernels of the driver-contract module checks (module_images.h, made by gen_module_images.py).
struct __align__(16) Mixed { char c; double d; int i; };

__device__ float bias = 0.5f;

extern "C" __global__ void vadd(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i] + bias;
}

extern "C" __global__ void mixed(char c, Mixed s, short h, int *p, bool b, unsigned long long u)
{
    if (threadIdx.x == 0 && p)
        p[0] = c + s.i + h + b + (int)u;
}

extern "C" __global__ void poke(int *p)
{
    *p = 1;
}
