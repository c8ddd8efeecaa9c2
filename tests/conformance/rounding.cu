/* rounding.cu: the rounding-mode intrinsics, bit for bit against the host evaluated under the same
 * rounding mode (fesetround): single precision __fadd_/__fsub_/__fmul_/__fdiv_/__fsqrt_/__frcp_/
 * __fmaf_ with _rn _rz _ru _rd, double precision __dadd_/__dmul_/__ddiv_/__dsqrt_/__drcp_/__fma_ with
 * the same four modes, and conversions between integers and floats in each mode (__int2float_rz,
 * __ll2double_ru, __float2int_rd, __double2float_ru, ...). */
#include "check.h"

#include <cfenv>
#include <cmath>
#include <vector>

#define MODES(X) X(rn, FE_TONEAREST) X(rz, FE_TOWARDZERO) X(ru, FE_UPWARD) X(rd, FE_DOWNWARD)
enum { F_ADD, F_SUB, F_MUL, F_DIV, F_SQRT, F_RCP, F_FMA, D_ADD, D_MUL, D_DIV, D_SQRT, D_RCP, D_FMA, I2F, LL2D, F2I,
       D2F, U2F, D2LL, OPS };
static const char *op_names[OPS] = {"fadd", "fsub", "fmul", "fdiv", "fsqrt", "frcp", "fmaf", "dadd", "dmul", "ddiv",
                                    "dsqrt", "drcp", "dfma", "int2float", "ll2double", "float2int", "double2float",
                                    "uint2float", "double2ll"};

#define DEFINE_KERNEL(m, fe)                                                                            \
    __global__ void k_##m(const float *fa, const float *fb, const float *fc, const double *da, const double *db, \
                          const double *dc, const int *ia, const long long *la, double *out, int n)        \
    {                                                                                                   \
        int i = blockIdx.x * blockDim.x + threadIdx.x;                                                  \
        if (i >= n)                                                                                     \
            return;                                                                                     \
        double *o = out + (size_t)i * OPS;                                                              \
        float x = fa[i], y = fb[i], z = fc[i];                                                          \
        double u = da[i], v = db[i], w = dc[i];                                                         \
        o[F_ADD] = __fadd_##m(x, y);                                                                    \
        o[F_SUB] = __fsub_##m(x, y);                                                                    \
        o[F_MUL] = __fmul_##m(x, y);                                                                    \
        o[F_DIV] = __fdiv_##m(x, y);                                                                    \
        o[F_SQRT] = __fsqrt_##m(fabsf(x));                                                              \
        o[F_RCP] = __frcp_##m(y);                                                                       \
        o[F_FMA] = __fmaf_##m(x, y, z);                                                                 \
        o[D_ADD] = __dadd_##m(u, v);                                                                    \
        o[D_MUL] = __dmul_##m(u, v);                                                                    \
        o[D_DIV] = __ddiv_##m(u, v);                                                                    \
        o[D_SQRT] = __dsqrt_##m(fabs(u));                                                               \
        o[D_RCP] = __drcp_##m(v);                                                                       \
        o[D_FMA] = __fma_##m(u, v, w);                                                                  \
        o[I2F] = __int2float_##m(ia[i]);                                                                \
        o[LL2D] = __ll2double_##m(la[i]);                                                               \
        o[F2I] = __float2int_##m(x);                                                                    \
        o[D2F] = __double2float_##m(u);                                                                 \
        o[U2F] = __uint2float_##m((unsigned)ia[i]);                                                     \
        o[D2LL] = (double)__double2ll_##m(u);                                                           \
    }
MODES(DEFINE_KERNEL)

/* The host's result of op under rounding mode fe. Operands go through volatiles so that the
 * compiler cannot evaluate an operation outside the fesetround bracket. */
__attribute__((noinline)) static double host_op(int op, int fe, float x, float y, float z, double u, double v,
                                                double w, int ia, long long la)
{
    fesetround(fe);
    volatile float vx = x, vy = y, vz = z, fr = 0;
    volatile double vu = u, vv = v, vw = w, dr = 0;
    volatile int vi = ia;
    volatile long long vl = la;
    switch (op) {
    case F_ADD: fr = vx + vy; break;
    case F_SUB: fr = vx - vy; break;
    case F_MUL: fr = vx * vy; break;
    case F_DIV: fr = vx / vy; break;
    case F_SQRT: fr = sqrtf(fabsf(vx)); break;
    case F_RCP: fr = 1.0f / vy; break;
    case F_FMA: fr = fmaf(vx, vy, vz); break;
    case D_ADD: dr = vu + vv; break;
    case D_MUL: dr = vu * vv; break;
    case D_DIV: dr = vu / vv; break;
    case D_SQRT: dr = sqrt(fabs(vu)); break;
    case D_RCP: dr = 1.0 / vv; break;
    case D_FMA: dr = fma(vu, vv, vw); break;
    case I2F: fr = (float)vi; break;
    case LL2D: dr = (double)vl; break;
    case F2I: dr = (double)(int)nearbyintf(vx); break;
    case D2F: fr = (float)vu; break;
    case U2F: fr = (float)(unsigned)vi; break;
    case D2LL: dr = (double)(long long)nearbyint(vu); break;
    }
    double r = op <= F_FMA || op == I2F || op == D2F || op == U2F ? (double)fr : (double)dr;
    fesetround(FE_TONEAREST);
    return r;
}

static bool same(double a, double b)
{
    return (std::isnan(a) && std::isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

int main(void)
{
    check_begin("rounding");
    const int n = 2048;
    std::vector<float> fa(n), fb(n), fc(n);
    std::vector<double> da(n), db(n), dc(n);
    std::vector<int> ia(n);
    std::vector<long long> la(n);
    uint64_t s = 0x2545f4914f6cdd1dull;
    auto next = [&s]() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    };
    for (int i = 0; i < n; i++) {
        fa[i] = (float)((double)(int64_t)next() / 9.2e18 * 1e6);
        fb[i] = (float)((double)(int64_t)next() / 9.2e18 * 1e3);
        fc[i] = (float)((double)(int64_t)next() / 9.2e18 * 1e9);
        da[i] = (double)(int64_t)next() / 9.2e18 * 1e15;
        db[i] = (double)(int64_t)next() / 9.2e18 * 1e5;
        dc[i] = (double)(int64_t)next() / 9.2e18 * 1e20;
        ia[i] = (int)next();
        la[i] = (long long)next();
        if (fb[i] == 0.0f)
            fb[i] = 1.0f;
        if (db[i] == 0.0)
            db[i] = 1.0;
    }
    float *dfa, *dfb, *dfc;
    double *dda, *ddb, *ddc, *dout;
    int *dia;
    long long *dla;
    cudaMalloc(&dfa, n * sizeof(float));
    cudaMalloc(&dfb, n * sizeof(float));
    cudaMalloc(&dfc, n * sizeof(float));
    cudaMalloc(&dda, n * sizeof(double));
    cudaMalloc(&ddb, n * sizeof(double));
    cudaMalloc(&ddc, n * sizeof(double));
    cudaMalloc(&dia, n * sizeof(int));
    cudaMalloc(&dla, n * sizeof(long long));
    cudaMalloc(&dout, (size_t)n * OPS * sizeof(double));
    cudaMemcpy(dfa, fa.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dfb, fb.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dfc, fc.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dda, da.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    cudaMemcpy(ddb, db.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    cudaMemcpy(ddc, dc.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    cudaMemcpy(dia, ia.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    cudaMemcpy(dla, la.data(), n * sizeof(long long), cudaMemcpyHostToDevice);
    std::vector<double> out((size_t)n * OPS);
#define RUN_MODE(m, fe)                                                                                 \
    {                                                                                                   \
        k_##m<<<n / 128, 128>>>(dfa, dfb, dfc, dda, ddb, ddc, dia, dla, dout, n);                       \
        expect_ok("launch_" #m, cudaGetLastError());                                                    \
        cudaMemcpy(out.data(), dout, out.size() * sizeof(double), cudaMemcpyDeviceToHost);              \
        for (int op = 0; op < OPS; op++) {                                                              \
            int wrong = 0, first = -1;                                                                  \
            for (int i = 0; i < n; i++)                                                                 \
                if (!same(out[(size_t)i * OPS + op],                                                    \
                          host_op(op, fe, fa[i], fb[i], fc[i], da[i], db[i], dc[i], ia[i], la[i]))) {   \
                    wrong++;                                                                            \
                    first = first < 0 ? i : first;                                                      \
                }                                                                                       \
            char name[48];                                                                              \
            snprintf(name, sizeof(name), "%s_" #m, op_names[op]);                                       \
            check_report(name, wrong == 0, "%d of %d differ, first at %d: got %.17g want %.17g", wrong, n, first, \
                         first < 0 ? 0.0 : out[(size_t)first * OPS + op],                               \
                         first < 0 ? 0.0 : host_op(op, fe, fa[first], fb[first], fc[first], da[first], db[first], \
                                                   dc[first], ia[first], la[first]));                   \
        }                                                                                               \
    }
    MODES(RUN_MODE)
    cudaFree(dfa); cudaFree(dfb); cudaFree(dfc); cudaFree(dda); cudaFree(ddb); cudaFree(ddc);
    cudaFree(dia); cudaFree(dla); cudaFree(dout);
    return check_end();
}
