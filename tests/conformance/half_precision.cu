/* half_precision.cu: __half and __half2 from cuda_fp16.h: conversions float <-> half (round to
 * nearest even, overflow to infinity, subnormal halves), half arithmetic (__hadd, __hmul, __hfma,
 * __hsub, comparisons, __hmax/__hmin), __half2 paired arithmetic (__hadd2, __hmul2, __hfma2), and
 * a half dot product accumulated in float; each against a host computation that rounds the exact
 * float result to half (every half op is exactly rounded, and a float holds a half product exactly). */
#include "check.h"

#include <cuda_fp16.h>

#include <cmath>
#include <vector>

__global__ void half_ops(const float *a, const float *b, const float *c, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    __half x = __float2half(a[i]), y = __float2half(b[i]), z = __float2half(c[i]);
    float *o = out + 11 * i;
    o[0] = __half2float(x);
    o[1] = __half2float(__hadd(x, y));
    o[2] = __half2float(__hsub(x, y));
    o[3] = __half2float(__hmul(x, y));
    o[4] = __half2float(__hfma(x, y, z));
    o[5] = (float)(__hlt(x, y) + 2 * __heq(x, y) + 4 * __hgt(x, z));
    o[6] = __half2float(__hmax(x, y));
    o[10] = __half2float(__hmin(x, z));
    __half2 p = __halves2half2(x, y), q = __halves2half2(z, x);
    __half2 s = __hfma2(p, q, __hadd2(p, q));
    o[7] = __low2float(s);
    o[8] = __high2float(s);
    o[9] = __half2float(__hmul2(p, q).x);
}

__global__ void dot(const __half *a, const __half *b, float *out, int n)
{
    float s = 0.0f;
    for (int k = threadIdx.x; k < n; k += 32)
        s += __half2float(a[k]) * __half2float(b[k]);
    for (int o = 16; o > 0; o >>= 1)
        s += __shfl_down_sync(0xffffffffu, s, o);
    if (threadIdx.x == 0)
        *out = s;
}

/* float to half bits, round to nearest even, with subnormals and overflow: the host reference */
static unsigned short to_half_bits(float f)
{
    unsigned u;
    memcpy(&u, &f, 4);
    unsigned sign = (u >> 16) & 0x8000u;
    float a = fabsf(f);
    if (std::isnan(f))
        return (unsigned short)(sign | 0x7e00u);
    if (a >= 65520.0f)
        return (unsigned short)(sign | 0x7c00u);
    if (a < ldexpf(1.0f, -14)) { /* subnormal half: multiples of 2^-24 */
        float q = nearbyintf(a * ldexpf(1.0f, 24));
        return (unsigned short)(sign | (unsigned)q);
    }
    int e;
    float m = frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    float q = nearbyintf(m * 2048.0f); /* 11 significant bits */
    if (q == 2048.0f) {
        q = 1024.0f;
        e++;
    }
    unsigned exp = (unsigned)(e - 1 + 15);
    return (unsigned short)(sign | (exp << 10) | ((unsigned)q - 1024u));
}

static float half_bits_to_float(unsigned short h)
{
    unsigned sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man + 1024), (int)exp - 25);
    return sign ? -v : v;
}

static float rh(float f) { return half_bits_to_float(to_half_bits(f)); }

int main(void)
{
    check_begin("half_precision");
    const int n = 4096;
    std::vector<float> a(n), b(n), c(n);
    for (int i = 0; i < n; i++) {
        a[i] = (float)((int)((i * 2654435761u) % 20001u) - 10000) * 0.0137f;
        b[i] = (float)((int)((i * 40503u) % 2001u) - 1000) * 0.00731f;
        c[i] = (float)((int)((i * 7919u) % 3001u) - 1500) * 0.1f;
    }
    a[0] = 70000.0f;    /* overflows to infinity */
    a[1] = 1e-6f;       /* subnormal half */
    a[2] = 65519.0f;    /* rounds down to 65504 */
    a[3] = 2.00048828125f; /* a tie: rounds to even */
    float *da, *db, *dc, *dout;
    cudaMalloc(&da, n * sizeof(float));
    cudaMalloc(&db, n * sizeof(float));
    cudaMalloc(&dc, n * sizeof(float));
    cudaMalloc(&dout, 11 * n * sizeof(float));
    cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dc, c.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    half_ops<<<n / 128, 128>>>(da, db, dc, dout, n);
    expect_ok("launch", cudaGetLastError());
    std::vector<float> got(11 * n);
    cudaMemcpy(got.data(), dout, got.size() * sizeof(float), cudaMemcpyDeviceToHost);
    int bad[11] = {0};
    auto same = [](float x, float y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
    for (int i = 0; i < n; i++) {
        float x = rh(a[i]), y = rh(b[i]), z = rh(c[i]);
        float want[11];
        want[0] = x;
        want[1] = rh(x + y);
        want[2] = rh(x - y);
        want[3] = rh(x * y);
        want[4] = rh((float)((double)x * y + z));
        want[5] = (float)((x < y) + 2 * (x == y) + 4 * (x > z));
        want[6] = x > y ? x : y;
        want[10] = x < z ? x : z;
        float ps = rh(x + z), qs = rh(y + x);
        want[7] = rh((float)((double)x * z + ps));
        want[8] = rh((float)((double)y * x + qs));
        want[9] = rh(x * z);
        for (int k = 0; k < 11; k++)
            bad[k] += !same(got[11 * i + k], want[k]);
    }
    const char *names[11] = {"float2half", "hadd", "hsub", "hmul", "hfma", "compare", "hmax", "hfma2_low",
                             "hfma2_high", "hmul2", "hmin"};
    for (int k = 0; k < 11; k++)
        check_report(names[k], bad[k] == 0, "%d of %d wrong", bad[k], n);
    check_report("overflow_to_inf", std::isinf(got[0]) && got[0] > 0, "got %g", got[0]);
    check_report("subnormal_half", got[11] == ldexpf(17.0f, -24), "got %g", got[11]);
    check_report("max_finite", got[22] == 65504.0f, "got %g", got[22]);
    check_report("tie_to_even", got[33] == 2.0f, "got %.9g", got[33]);

    std::vector<__half> ha(n), hb(n);
    float want = 0.0f;
    for (int i = 0; i < n; i++) {
        ha[i] = __float2half((float)(i % 17) * 0.25f);
        hb[i] = __float2half((float)(i % 5) - 2.0f);
    }
    __half *dha, *dhb;
    cudaMalloc(&dha, n * sizeof(__half));
    cudaMalloc(&dhb, n * sizeof(__half));
    cudaMemcpy(dha, ha.data(), n * sizeof(__half), cudaMemcpyHostToDevice);
    cudaMemcpy(dhb, hb.data(), n * sizeof(__half), cudaMemcpyHostToDevice);
    dot<<<1, 32>>>(dha, dhb, dout, n);
    float dotv = 0;
    cudaMemcpy(&dotv, dout, sizeof(float), cudaMemcpyDeviceToHost);
    for (int i = 0; i < n; i++)
        want += (float)(i % 17) * 0.25f * ((float)(i % 5) - 2.0f);
    check_report("dot_float_accumulate", dotv == want, "expected %g got %g", want, dotv);
    cudaFree(da); cudaFree(db); cudaFree(dc); cudaFree(dout); cudaFree(dha); cudaFree(dhb);
    return check_end();
}
