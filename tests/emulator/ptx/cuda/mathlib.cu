// CUDA's math library as nvcc inlines it: range reduction with carry chains (sinf, cosf of large
// arguments), directed-rounding fma, bfind, funnel shifts, f16 arithmetic; checked against the
// host's libm within the documented error bounds.
#include <cuda_fp16.h>

extern "C" __global__ void mathlib_f32(const float *x, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float v = x[i];
    float *o = out + 10 * i;
    o[0] = expf(v);
    o[1] = logf(fabsf(v) + 1.0f);
    o[2] = sinf(v);
    o[3] = cosf(v);
    o[4] = powf(fabsf(v), 1.5f);
    o[5] = tanhf(v);
    o[6] = sqrtf(fabsf(v));
    o[7] = erff(v);
    o[8] = atan2f(v, 2.0f);
    o[9] = __half2float(__hadd(__float2half(v), __float2half(1.0f)));
}

extern "C" __global__ void mathlib_f64(const double *x, double *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    double v = x[i];
    double *o = out + 4 * i;
    o[0] = exp(v);
    o[1] = log(fabs(v) + 1.0);
    o[2] = sin(v);
    o[3] = pow(fabs(v), 0.5) + v / 3.0;
}

extern "C" __global__ void intrinsics(const unsigned *x, unsigned *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    unsigned v = x[i], w = x[(i + 1) % n];
    unsigned *o = out + 6 * i;
    o[0] = __ffs(v);
    o[1] = __brev(v);
    o[2] = __byte_perm(v, w, 0x3210 + (i & 0x7));
    o[3] = __funnelshift_l(v, w, i);
    o[4] = __funnelshift_r(v, w, i);
    o[5] = __usad(v, w, 7) + __clz(v) + __popc(w);
}
