/* math_double.cu: double-precision math functions against the host within the documented error
 * bounds: CUDA C++ Programming Guide, appendix "Mathematical Functions", Standard Functions, double
 * precision (maximum ulp error against the correctly rounded result). The reference is the host's
 * long double (x87 80-bit) libm on the same input, 11 bits more precise than a double, so a result
 * passes when |device - reference| <= (bound + 0.5) ulp of the reference (+ 1/512 ulp for the
 * reference's own error). Special values are checked exactly. */
#include "check.h"

#include <cmath>
#include <vector>

#define UNARY_FUNCS(X)                          \
    X(sin, sinl, 2, -100.0, 100.0)              \
    X(cos, cosl, 2, -100.0, 100.0)              \
    X(tan, tanl, 2, -10.0, 10.0)                \
    X(exp, expl, 1, -700.0, 700.0)              \
    X(exp2, exp2l, 1, -1000.0, 1000.0)          \
    X(exp10, h_exp10, 1, -300.0, 300.0)         \
    X(expm1, expm1l, 1, -40.0, 700.0)           \
    X(log, logl, 1, 1e-300, 1e300)              \
    X(log2, log2l, 1, 1e-300, 1e300)            \
    X(log10, log10l, 1, 1e-300, 1e300)          \
    X(log1p, log1pl, 1, -0.999, 1e6)            \
    X(sqrt, sqrtl, 0, 0.0, 1e300)               \
    X(rsqrt, h_rsqrt, 1, 1e-300, 1e300)         \
    X(cbrt, cbrtl, 1, -1e300, 1e300)            \
    X(asin, asinl, 2, -1.0, 1.0)                \
    X(acos, acosl, 2, -1.0, 1.0)                \
    X(atan, atanl, 2, -1e6, 1e6)                \
    X(sinh, sinhl, 2, -700.0, 700.0)            \
    X(cosh, coshl, 1, -700.0, 700.0)            \
    X(tanh, tanhl, 1, -20.0, 20.0)              \
    X(asinh, asinhl, 3, -1e6, 1e6)              \
    X(acosh, acoshl, 3, 1.0, 1e6)               \
    X(atanh, atanhl, 2, -0.999, 0.999)          \
    X(erf, erfl, 2, -6.0, 6.0)                  \
    X(erfc, erfcl, 5, -6.0, 26.0)               \
    X(__drcp_rn, h_rcp, 0, -1e300, 1e300)       \
    X(__dsqrt_rn, sqrtl, 0, 0.0, 1e300)

#define BINARY_FUNCS(X)                                              \
    X(pow, powl, 2, 0.01, 100.0, -100.0, 100.0)                      \
    X(atan2, atan2l, 2, -100.0, 100.0, -100.0, 100.0)                \
    X(hypot, hypotl, 2, -1e150, 1e150, -1e150, 1e150)                \
    X(ddiv_ieee, h_div, 0, -1e300, 1e300, -1e300, 1e300)             \
    X(fmod, fmodl, 0, -1e6, 1e6, 0.001, 1000.0)

typedef long double ld;
static ld h_exp10(ld x) { return powl(10.0L, x); }
static ld h_rsqrt(ld x) { return 1.0L / sqrtl(x); }
static ld h_rcp(ld x) { return 1.0L / x; }
static ld h_div(ld x, ld y) { return x / y; }
__device__ double ddiv_ieee(double x, double y) { return x / y; }

#define DEFINE_UNARY(dev, host, bound, lo, hi)                        \
    __global__ void k_##dev(const double *x, double *out, int n)      \
    {                                                                 \
        int i = blockIdx.x * blockDim.x + threadIdx.x;                \
        if (i < n)                                                    \
            out[i] = dev(x[i]);                                       \
    }
#define DEFINE_BINARY(dev, host, bound, xlo, xhi, ylo, yhi)                      \
    __global__ void k_##dev(const double *x, const double *y, double *out, int n) \
    {                                                                            \
        int i = blockIdx.x * blockDim.x + threadIdx.x;                           \
        if (i < n)                                                               \
            out[i] = dev(x[i], y[i]);                                            \
    }
UNARY_FUNCS(DEFINE_UNARY)
BINARY_FUNCS(DEFINE_BINARY)

__global__ void k_fma(const double *x, const double *y, const double *z, double *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = fma(x[i], y[i], z[i]);
}

__global__ void k_special(const double *x, double *out)
{
    double inf = x[0], nan = x[1], zero = x[2];
    out[0] = cos(inf);
    out[1] = log(-zero);
    out[2] = sqrt(-1.0);
    out[3] = exp(-inf);
    out[4] = exp(1000.0 + zero);
    out[5] = pow(-zero, -3.0);
    out[6] = atan2(-zero, -1.0);
    out[7] = fmin(nan, -2.0);
    out[8] = pow(1.0, nan);
    out[9] = log1p(-1.0 + zero);
    out[10] = nextafter(1.0 + zero, 2.0);
    out[11] = ldexp(1.0 + zero, -1074);
}

constexpr int N = 2048;

static double ulp_error(double got, ld ref)
{
    if (std::isnan(ref) || std::isnan(got))
        return std::isnan(ref) && std::isnan(got) ? 0.0 : 1e300;
    if (std::isinf(ref) || std::isinf(got)) {
        if ((ld)got == ref)
            return 0.0;
        if (std::isinf(got) && fabsl(ref) >= (ld)1.7976931348623157e308)
            return 0.0;
        return 1e300;
    }
    int e;
    frexpl(ref, &e);
    ld ulp = ldexpl(1.0L, e - 53);
    if (ulp < ldexpl(1.0L, -1074))
        ulp = ldexpl(1.0L, -1074);
    return (double)(fabsl((ld)got - ref) / ulp);
}

static void make_inputs(std::vector<double> &v, double lo, double hi, uint32_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < N; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0;
        double x;
        if (lo > 0 && hi / lo > 1e3 && (i & 1))
            x = lo * pow(hi / lo, u);
        else if (lo < 0 && hi > 1e3 && (i & 1))
            x = (u < 0.5 ? -1 : 1) * pow(hi, fmod(u * 2, 1.0));
        else
            x = lo + (hi - lo) * u;
        v[i] = x;
    }
    v[0] = lo;
    v[1] = hi;
}

static void report_ulps(const char *name, const std::vector<double> &got, const std::vector<ld> &ref,
                        const std::vector<double> &x, const std::vector<double> *y, double bound)
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
    check_report(label, worst <= bound + 0.5 + 1.0 / 512,
                 "%.3f ulp at x=%.17g%s%.17g: got %.17g reference %.20Lg (bound %.0f ulp)", worst, x[at],
                 y ? " y=" : "", y ? (*y)[at] : 0.0, got[at], ref[at], bound);
}

int main(void)
{
    check_begin("math_double");
    std::vector<double> x(N), y(N), got(N);
    std::vector<ld> ref(N);
    double *dx, *dy, *dout;
    cudaMalloc(&dx, N * sizeof(double));
    cudaMalloc(&dy, N * sizeof(double));
    cudaMalloc(&dout, N * sizeof(double));
    uint32_t seed = 1;

#define RUN_UNARY(dev, host, bound, lo, hi)                                           \
    make_inputs(x, lo, hi, seed++);                                                   \
    cudaMemcpy(dx, x.data(), N * sizeof(double), cudaMemcpyHostToDevice);             \
    k_##dev<<<N / 128, 128>>>(dx, dout, N);                                           \
    cudaMemcpy(got.data(), dout, N * sizeof(double), cudaMemcpyDeviceToHost);         \
    for (int i = 0; i < N; i++)                                                       \
        ref[i] = host((ld)x[i]);                                                      \
    report_ulps(#dev, got, ref, x, nullptr, bound);
    UNARY_FUNCS(RUN_UNARY)

#define RUN_BINARY(dev, host, bound, xlo, xhi, ylo, yhi)                              \
    make_inputs(x, xlo, xhi, seed++);                                                 \
    make_inputs(y, ylo, yhi, seed++);                                                 \
    cudaMemcpy(dx, x.data(), N * sizeof(double), cudaMemcpyHostToDevice);             \
    cudaMemcpy(dy, y.data(), N * sizeof(double), cudaMemcpyHostToDevice);             \
    k_##dev<<<N / 128, 128>>>(dx, dy, dout, N);                                       \
    cudaMemcpy(got.data(), dout, N * sizeof(double), cudaMemcpyDeviceToHost);         \
    for (int i = 0; i < N; i++)                                                       \
        ref[i] = host((ld)x[i], (ld)y[i]);                                            \
    report_ulps(#dev, got, ref, x, &y, bound);
    BINARY_FUNCS(RUN_BINARY)

    {
        std::vector<double> z(N);
        make_inputs(x, -1e100, 1e100, 99);
        make_inputs(y, -1e100, 1e100, 100);
        make_inputs(z, -1e200, 1e200, 101);
        double *dz;
        cudaMalloc(&dz, N * sizeof(double));
        cudaMemcpy(dx, x.data(), N * sizeof(double), cudaMemcpyHostToDevice);
        cudaMemcpy(dy, y.data(), N * sizeof(double), cudaMemcpyHostToDevice);
        cudaMemcpy(dz, z.data(), N * sizeof(double), cudaMemcpyHostToDevice);
        k_fma<<<N / 128, 128>>>(dx, dy, dz, dout, N);
        cudaMemcpy(got.data(), dout, N * sizeof(double), cudaMemcpyDeviceToHost);
        int wrong = 0;
        for (int i = 0; i < N; i++)
            wrong += got[i] != std::fma(x[i], y[i], z[i]);
        check_report("fma_exact", wrong == 0, "%d of %d differ", wrong, N);
        cudaFree(dz);
    }
    {
        double sv[3] = {INFINITY, NAN, 0.0};
        cudaMemcpy(dx, sv, sizeof(sv), cudaMemcpyHostToDevice);
        k_special<<<1, 1>>>(dx, dout);
        double s[12];
        cudaMemcpy(s, dout, sizeof(s), cudaMemcpyDeviceToHost);
        check_report("special_cos_inf_nan", std::isnan(s[0]), "got %g", s[0]);
        check_report("special_log_minus_zero", std::isinf(s[1]) && s[1] < 0, "got %g", s[1]);
        check_report("special_sqrt_negative_nan", std::isnan(s[2]), "got %g", s[2]);
        check_report("special_exp_minus_inf", s[3] == 0.0 && !std::signbit(s[3]), "got %g", s[3]);
        check_report("special_exp_overflow", std::isinf(s[4]) && s[4] > 0, "got %g", s[4]);
        check_report("special_pow_minus_zero_odd", std::isinf(s[5]) && s[5] < 0, "got %g", s[5]);
        check_report("special_atan2_minus_zero", s[6] == -M_PI, "got %.17g", s[6]);
        check_report("special_fmin_nan", s[7] == -2.0, "got %g", s[7]);
        check_report("special_pow_one_nan", s[8] == 1.0, "got %g", s[8]);
        check_report("special_log1p_minus_one", std::isinf(s[9]) && s[9] < 0, "got %g", s[9]);
        check_report("special_nextafter", s[10] == 1.0 + 2.220446049250313e-16, "got %.17g", s[10]);
        check_report("special_ldexp_denormal", s[11] == 4.9406564584124654e-324, "got %g", s[11]);
    }
    cudaFree(dx);
    cudaFree(dy);
    cudaFree(dout);
    return check_end();
}
