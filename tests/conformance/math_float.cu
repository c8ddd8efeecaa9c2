/* math_float.cu: single-precision math functions against the host within the documented error
 * bounds. The bounds are those of the CUDA C++ Programming Guide, appendix "Mathematical Functions"
 * (Standard Functions, single precision: maximum ulp error against the correctly rounded result,
 * default compilation: -prec-div=true, -prec-sqrt=true, no -use_fast_math) and, for the intrinsics,
 * of its "Intrinsic Functions" table. The reference is the host's double-precision libm evaluated
 * on the same float input, whose own error is far below a float ulp, so a result passes when
 * |device - reference| <= (bound + 0.5) ulp of the reference. Special values (infinities, NaN,
 * signed zeros) are checked exactly. */
#include "check.h"

#include <cmath>
#include <vector>

#define UNARY_FUNCS(X)                          \
    X(sinf, sin, 2, -100.0, 100.0)              \
    X(cosf, cos, 2, -100.0, 100.0)              \
    X(tanf, tan, 4, -10.0, 10.0)                \
    X(expf, exp, 2, -87.0, 88.0)                \
    X(exp2f, exp2, 2, -125.0, 127.0)            \
    X(exp10f, h_exp10, 2, -37.0, 38.0)          \
    X(expm1f, expm1, 1, -20.0, 80.0)            \
    X(logf, log, 1, 1e-30, 1e30)                \
    X(log2f, log2, 1, 1e-30, 1e30)              \
    X(log10f, log10, 2, 1e-30, 1e30)            \
    X(log1pf, log1p, 1, -0.999, 1e6)            \
    X(sqrtf, sqrt, 0, 0.0, 1e30)                \
    X(rsqrtf, h_rsqrt, 2, 1e-30, 1e30)          \
    X(cbrtf, cbrt, 1, -1e30, 1e30)              \
    X(asinf, asin, 2, -1.0, 1.0)                \
    X(acosf, acos, 2, -1.0, 1.0)                \
    X(atanf, atan, 2, -1e6, 1e6)                \
    X(sinhf, sinh, 3, -88.0, 88.0)              \
    X(coshf, cosh, 2, -88.0, 88.0)              \
    X(tanhf, tanh, 2, -20.0, 20.0)              \
    X(asinhf, asinh, 3, -1e6, 1e6)              \
    X(acoshf, acosh, 4, 1.0, 1e6)               \
    X(atanhf, atanh, 3, -0.999, 0.999)          \
    X(erff, erf, 2, -5.0, 5.0)                  \
    X(erfcf, erfc, 4, -5.0, 9.0)                \
    X(__frcp_rn, h_rcp, 0, -1e30, 1e30)         \
    X(__fsqrt_rn, sqrt, 0, 0.0, 1e30)

#define BINARY_FUNCS(X)                                              \
    X(powf, pow, 4, 0.01, 100.0, -10.0, 10.0)                        \
    X(atan2f, atan2, 3, -100.0, 100.0, -100.0, 100.0)                \
    X(hypotf, hypot, 3, -1e18, 1e18, -1e18, 1e18)                    \
    X(fdividef_ieee, h_div, 0, -1e30, 1e30, -1e30, 1e30)             \
    X(__fdividef, h_div, 2, -1e10, 1e10, 1e-10, 1e10)            \
    X(fmodf, fmod, 0, -1e6, 1e6, 0.001, 1000.0)

static double h_exp10(double x) { return pow(10.0, x); }
static double h_rsqrt(double x) { return 1.0 / sqrt(x); }
static double h_rcp(double x) { return 1.0 / x; }
static double h_div(double x, double y) { return x / y; }
__device__ float fdividef_ieee(float x, float y) { return x / y; }

#define DEFINE_UNARY(dev, host, bound, lo, hi)                        \
    __global__ void k_##dev(const float *x, float *out, int n)        \
    {                                                                 \
        int i = blockIdx.x * blockDim.x + threadIdx.x;                \
        if (i < n)                                                    \
            out[i] = dev(x[i]);                                       \
    }
#define DEFINE_BINARY(dev, host, bound, xlo, xhi, ylo, yhi)                   \
    __global__ void k_##dev(const float *x, const float *y, float *out, int n) \
    {                                                                         \
        int i = blockIdx.x * blockDim.x + threadIdx.x;                        \
        if (i < n)                                                            \
            out[i] = dev(x[i], y[i]);                                         \
    }
UNARY_FUNCS(DEFINE_UNARY)
BINARY_FUNCS(DEFINE_BINARY)

/* intrinsics with an absolute bound on a range */
__global__ void k_fast(const float *x, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[4 * i] = __sinf(x[i]);
        out[4 * i + 1] = __cosf(x[i]);
        out[4 * i + 2] = __expf(x[i] * 0.25f);
        out[4 * i + 3] = __logf(__fmaf_rn(x[i], x[i], 1.0f)); /* no contraction question */
    }
}

__global__ void k_special(const float *x, float *out)
{
    float inf = x[0], nan = x[1], zero = x[2];
    out[0] = sinf(inf);
    out[1] = logf(zero);
    out[2] = logf(-1.0f);
    out[3] = expf(-inf);
    out[4] = expf(inf);
    out[5] = powf(zero, -1.0f);
    out[6] = sqrtf(-zero);
    out[7] = atan2f(zero, -1.0f);
    out[8] = tanhf(inf);
    out[9] = erff(-inf);
    out[10] = fmaxf(nan, 1.0f);
    out[11] = powf(nan, 0.0f);
    out[12] = cbrtf(-8.0f);
    out[13] = hypotf(inf, nan);
}

__global__ void k_fmaf(const float *x, const float *y, const float *z, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = fmaf(x[i], y[i], z[i]);
}

constexpr int N = 4096;

/* |got - ref| in ulps of ref as a float */
static double ulp_error(float got, double ref)
{
    if (std::isnan(ref) || std::isnan(got))
        return std::isnan(ref) && std::isnan(got) ? 0.0 : 1e30;
    if (std::isinf(ref) || std::isinf(got)) {
        if ((double)got == ref)
            return 0.0;
        /* a reference just past FLT_MAX rounds to infinity */
        if (std::isinf(got) && fabs(ref) >= 3.4028234663852886e38)
            return 0.0;
        return 1e30;
    }
    int e;
    frexp(ref, &e);
    double ulp = ldexp(1.0, e - 24);
    if (ulp < ldexp(1.0, -149))
        ulp = ldexp(1.0, -149);
    return fabs((double)got - ref) / ulp;
}

/* inputs: evenly spread, then log-spread for wide positive ranges, plus the ends */
static void make_inputs(std::vector<float> &v, double lo, double hi, uint32_t seed)
{
    uint32_t s = seed;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        double u = (double)(s >> 8) / 16777216.0;
        double x;
        if (lo > 0 && hi / lo > 1e3 && (i & 1))
            x = lo * pow(hi / lo, u);
        else if (lo < 0 && hi > 1e3 && (i & 1))
            x = (u < 0.5 ? -1 : 1) * pow(hi, fmod(u * 2, 1.0));
        else
            x = lo + (hi - lo) * u;
        v[i] = (float)x;
    }
    v[0] = (float)lo;
    v[1] = (float)hi;
}

static void report_ulps(const char *name, const std::vector<float> &got, const std::vector<double> &ref,
                        const std::vector<float> &x, const std::vector<float> *y, double bound)
{
    double worst = 0;
    int at = 0;
    for (int i = 0; i < N; i++) {
        double e = ulp_error(got[i], ref[i]);
        if (e > worst) {
            worst = e;
            at = i;
        }
    }
    char label[64];
    snprintf(label, sizeof(label), "ulp_%s", name);
    check_report(label, worst <= bound + 0.5,
                 "%.2f ulp at x=%.9g%s%.9g: got %.9g reference %.17g (bound %.0f ulp)", worst, x[at],
                 y ? " y=" : "", y ? (*y)[at] : 0.0, got[at], ref[at], bound);
}

int main(void)
{
    check_begin("math_float");
    std::vector<float> x(N), y(N), got(N);
    std::vector<double> ref(N);
    float *dx, *dy, *dout;
    cudaMalloc(&dx, N * sizeof(float));
    cudaMalloc(&dy, N * sizeof(float));
    cudaMalloc(&dout, 4 * N * sizeof(float));
    uint32_t seed = 1;

#define RUN_UNARY(dev, host, bound, lo, hi)                                           \
    make_inputs(x, lo, hi, seed++);                                                   \
    cudaMemcpy(dx, x.data(), N * sizeof(float), cudaMemcpyHostToDevice);              \
    k_##dev<<<N / 256, 256>>>(dx, dout, N);                                           \
    cudaMemcpy(got.data(), dout, N * sizeof(float), cudaMemcpyDeviceToHost);          \
    for (int i = 0; i < N; i++)                                                       \
        ref[i] = host((double)x[i]);                                                  \
    report_ulps(#dev, got, ref, x, nullptr, bound);
    UNARY_FUNCS(RUN_UNARY)

#define RUN_BINARY(dev, host, bound, xlo, xhi, ylo, yhi)                              \
    make_inputs(x, xlo, xhi, seed++);                                                 \
    make_inputs(y, ylo, yhi, seed++);                                                 \
    cudaMemcpy(dx, x.data(), N * sizeof(float), cudaMemcpyHostToDevice);              \
    cudaMemcpy(dy, y.data(), N * sizeof(float), cudaMemcpyHostToDevice);              \
    k_##dev<<<N / 256, 256>>>(dx, dy, dout, N);                                       \
    cudaMemcpy(got.data(), dout, N * sizeof(float), cudaMemcpyDeviceToHost);          \
    for (int i = 0; i < N; i++)                                                       \
        ref[i] = host((double)x[i], (double)y[i]);                                    \
    report_ulps(#dev, got, ref, x, &y, bound);
    BINARY_FUNCS(RUN_BINARY)

    /* fmaf is exact: compare with the host's fma */
    {
        make_inputs(x, -1e10, 1e10, 99);
        make_inputs(y, -1e10, 1e10, 100);
        std::vector<float> z(N);
        make_inputs(z, -1e20, 1e20, 101);
        float *dz;
        cudaMalloc(&dz, N * sizeof(float));
        cudaMemcpy(dx, x.data(), N * sizeof(float), cudaMemcpyHostToDevice);
        cudaMemcpy(dy, y.data(), N * sizeof(float), cudaMemcpyHostToDevice);
        cudaMemcpy(dz, z.data(), N * sizeof(float), cudaMemcpyHostToDevice);
        int wrong = 0;
        k_fmaf<<<N / 256, 256>>>(dx, dy, dz, dout, N);
        cudaMemcpy(got.data(), dout, N * sizeof(float), cudaMemcpyDeviceToHost);
        for (int i = 0; i < N; i++)
            wrong += got[i] != std::fma(x[i], y[i], z[i]);
        check_report("fmaf_exact", wrong == 0, "%d of %d differ", wrong, N);
        cudaFree(dz);
    }

    /* intrinsics: __sinf/__cosf absolute error 2^-21.41 / 2^-21.19 on [-pi, pi]; __expf
     * 2 + floor(|1.173 x|) ulp; __logf absolute 2^-21.41 on [0.5, 2], else 3 ulp */
    {
        make_inputs(x, -3.14159, 3.14159, 7);
        cudaMemcpy(dx, x.data(), N * sizeof(float), cudaMemcpyHostToDevice);
        k_fast<<<N / 256, 256>>>(dx, dout, N);
        std::vector<float> fast(4 * N);
        cudaMemcpy(fast.data(), dout, 4 * N * sizeof(float), cudaMemcpyDeviceToHost);
        int bad[4] = {0};
        for (int i = 0; i < N; i++) {
            double xi = x[i];
            bad[0] += fabs(fast[4 * i] - sin(xi)) > ldexp(1.0, -21) * pow(2.0, -0.41);
            bad[1] += fabs(fast[4 * i + 1] - cos(xi)) > ldexp(1.0, -21) * pow(2.0, -0.19);
            float ex = x[i] * 0.25f;
            bad[2] += ulp_error(fast[4 * i + 2], exp((double)ex)) > 2.5 + floor(fabs(1.173 * ex));
            float lx = std::fma(x[i], x[i], 1.0f);
            double lref = log((double)lx);
            bad[3] += lx <= 2.0f ? fabs(fast[4 * i + 3] - lref) > ldexp(1.0, -21) * pow(2.0, -0.41)
                                 : ulp_error(fast[4 * i + 3], lref) > 3.5;
        }
        check_report("intrinsic___sinf", bad[0] == 0, "%d outside the bound", bad[0]);
        check_report("intrinsic___cosf", bad[1] == 0, "%d outside the bound", bad[1]);
        check_report("intrinsic___expf", bad[2] == 0, "%d outside the bound", bad[2]);
        check_report("intrinsic___logf", bad[3] == 0, "%d outside the bound", bad[3]);
    }

    /* special values */
    {
        float sv[3] = {INFINITY, NAN, 0.0f};
        cudaMemcpy(dx, sv, sizeof(sv), cudaMemcpyHostToDevice);
        k_special<<<1, 1>>>(dx, dout);
        float s[14];
        cudaMemcpy(s, dout, sizeof(s), cudaMemcpyDeviceToHost);
        check_report("special_sin_inf_nan", std::isnan(s[0]), "got %g", s[0]);
        check_report("special_log_zero", std::isinf(s[1]) && s[1] < 0, "got %g", s[1]);
        check_report("special_log_negative_nan", std::isnan(s[2]), "got %g", s[2]);
        check_report("special_exp_minus_inf", s[3] == 0.0f && !std::signbit(s[3]), "got %g", s[3]);
        check_report("special_exp_inf", std::isinf(s[4]) && s[4] > 0, "got %g", s[4]);
        check_report("special_pow_zero_minus_one", std::isinf(s[5]) && s[5] > 0, "got %g", s[5]);
        check_report("special_sqrt_minus_zero", s[6] == 0.0f && std::signbit(s[6]), "got %g", s[6]);
        check_report("special_atan2_zero_minus_one", s[7] == (float)M_PI, "got %.9g", s[7]);
        check_report("special_tanh_inf", s[8] == 1.0f, "got %g", s[8]);
        check_report("special_erf_minus_inf", s[9] == -1.0f, "got %g", s[9]);
        check_report("special_fmax_nan", s[10] == 1.0f, "got %g", s[10]);
        check_report("special_pow_nan_zero", s[11] == 1.0f, "got %g", s[11]);
        check_report("special_cbrt_minus_8", s[12] == -2.0f, "got %g", s[12]);
        check_report("special_hypot_inf_nan", std::isinf(s[13]), "got %g", s[13]);
    }
    cudaFree(dx);
    cudaFree(dy);
    cudaFree(dout);
    return check_end();
}
