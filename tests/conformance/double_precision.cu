/* double_precision.cu: IEEE-754 double arithmetic on the device, bit for bit against the host: add,
 * sub, mul, div, sqrt, reciprocal and fma (correctly rounded) on random operands over 120 binades,
 * subnormals (no flush to zero in double), infinities, NaN, signed zero; conversions to float and to
 * integers with each rounding mode; a Horner polynomial and a blocked matrix product written with
 * explicit fma so the order is fixed. (The directed-rounding intrinsics are in rounding.cu.) */
#include "check.h"

#include <cmath>
#include <vector>

enum { ADD, SUB, MUL, DIV, SQRT, FMA, RCP, OPS };
static const char *op_names[OPS] = {"add", "sub", "mul", "div", "sqrt", "fma", "rcp"};

__global__ void arith(const double *a, const double *b, const double *c, double *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    double x = a[i], y = b[i], z = c[i];
    double *o = out + (size_t)i * OPS;
    o[ADD] = x + y;
    o[SUB] = x - y;
    o[MUL] = x * y;
    o[DIV] = x / y;
    o[SQRT] = sqrt(fabs(x));
    o[FMA] = fma(x, y, z);
    o[RCP] = 1.0 / y;
}

__global__ void conversions(const double *a, float *f, int *i4, long long *i8, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    double x = a[i];
    f[2 * i] = (float)x;
    f[2 * i + 1] = __double2float_rz(x);
    i4[4 * i] = __double2int_rn(x);
    i4[4 * i + 1] = __double2int_rz(x);
    i4[4 * i + 2] = __double2int_ru(x);
    i4[4 * i + 3] = __double2int_rd(x);
    i8[2 * i] = __double2ll_rn(x * 1e9);
    i8[2 * i + 1] = (long long)(x * 1e9);
}

__global__ void horner(const double *x, const double *coef, int degree, double *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    double p = coef[degree];
    for (int k = degree - 1; k >= 0; k--)
        p = fma(p, x[i], coef[k]);
    out[i] = p;
}

/* C = A * B with a k-loop of fma in order, 16x16 tiles in shared memory */
__global__ void dgemm(const double *A, const double *B, double *C, int m, int n, int k)
{
    __shared__ double ta[16][16], tb[16][16];
    int row = blockIdx.y * 16 + threadIdx.y, col = blockIdx.x * 16 + threadIdx.x;
    double acc = 0.0;
    for (int t = 0; t < k; t += 16) {
        ta[threadIdx.y][threadIdx.x] = row < m && t + threadIdx.x < k ? A[row * k + t + threadIdx.x] : 0.0;
        tb[threadIdx.y][threadIdx.x] = col < n && t + threadIdx.y < k ? B[(t + threadIdx.y) * n + col] : 0.0;
        __syncthreads();
        for (int q = 0; q < 16; q++)
            acc = fma(ta[threadIdx.y][q], tb[q][threadIdx.x], acc);
        __syncthreads();
    }
    if (row < m && col < n)
        C[row * n + col] = acc;
}

static double host_op(int op, double x, double y, double z)
{
    volatile double vx = x, vy = y, vz = z, r = 0;
    switch (op) {
    case ADD: r = vx + vy; break;
    case SUB: r = vx - vy; break;
    case MUL: r = vx * vy; break;
    case DIV: r = vx / vy; break;
    case SQRT: r = sqrt(fabs(vx)); break;
    case FMA: r = fma(vx, vy, vz); break;
    case RCP: r = 1.0 / vy; break;
    }
    return r;
}

static bool same(double a, double b)
{
    return (std::isnan(a) && std::isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

int main(void)
{
    check_begin("double_precision");
    const int n = 4096;
    std::vector<double> a(n), b(n), c(n);
    uint64_t s = 88172645463325252ull;
    auto next = [&s]() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    };
    for (int i = 0; i < n; i++) {
        /* random bit patterns with exponents kept moderate, plus subnormals and specials */
        uint64_t bits = next();
        uint64_t exp = 1023 - 60 + (bits >> 52) % 120;
        bits = (bits & 0x800fffffffffffffull) | (exp << 52);
        memcpy(&a[i], &bits, 8);
        bits = next();
        exp = 1023 - 60 + (bits >> 52) % 120;
        bits = (bits & 0x800fffffffffffffull) | (exp << 52);
        memcpy(&b[i], &bits, 8);
        c[i] = (double)(int64_t)next() * 1e-10;
    }
    a[0] = 4.9406564584124654e-324; b[0] = 2.0;            /* subnormal arithmetic */
    a[1] = 2.2250738585072014e-308; b[1] = 3.0;
    a[2] = 1e308; b[2] = 1e-308;                            /* overflow of the quotient */
    a[3] = INFINITY; b[3] = INFINITY;
    a[4] = NAN; b[4] = 1.0;
    a[5] = -0.0; b[5] = 0.0;
    a[6] = 1.0; b[6] = 3.0; c[6] = -1.0 / 3.0;
    a[7] = 1.0 + 1.0 / 4503599627370496.0; b[7] = 1.0 - 1.0 / 9007199254740992.0; c[7] = -1.0;
    double *da, *db, *dc, *dout;
    cudaMalloc(&da, n * sizeof(double));
    cudaMalloc(&db, n * sizeof(double));
    cudaMalloc(&dc, n * sizeof(double));
    cudaMalloc(&dout, (size_t)n * OPS * sizeof(double));
    cudaMemcpy(da, a.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    cudaMemcpy(db, b.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    cudaMemcpy(dc, c.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    arith<<<n / 128, 128>>>(da, db, dc, dout, n);
    expect_ok("arith_launch", cudaGetLastError());
    std::vector<double> out((size_t)n * OPS);
    cudaMemcpy(out.data(), dout, out.size() * sizeof(double), cudaMemcpyDeviceToHost);
    for (int op = 0; op < OPS; op++) {
        int wrong = 0, first = -1;
        for (int i = 0; i < n; i++)
            if (!same(out[(size_t)i * OPS + op], host_op(op, a[i], b[i], c[i]))) {
                wrong++;
                if (first < 0)
                    first = i;
            }
        char name[32];
        snprintf(name, sizeof(name), "ieee_%s", op_names[op]);
        check_report(name, wrong == 0, "%d of %d differ, first at %d: %.17g op %.17g (%.17g): got %.17g want %.17g",
                     wrong, n, first, first < 0 ? 0 : a[first], first < 0 ? 0 : b[first], first < 0 ? 0 : c[first],
                     first < 0 ? 0 : out[(size_t)first * OPS + op], first < 0 ? 0 : host_op(op, a[first], b[first], c[first]));
    }

    /* conversions, on values within int range */
    std::vector<double> v(n);
    for (int i = 0; i < n; i++)
        v[i] = ((double)(int64_t)next() / 9.223372036854775807e18) * 2e9;
    v[0] = 2.5; v[1] = -2.5; v[2] = 3.5; v[3] = -0.5; v[4] = 0.49999999999999994; v[5] = -1e-300;
    cudaMemcpy(da, v.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    float *df;
    int *di;
    long long *dl;
    cudaMalloc(&df, 2 * n * sizeof(float));
    cudaMalloc(&di, 4 * n * sizeof(int));
    cudaMalloc(&dl, 2 * n * sizeof(long long));
    conversions<<<n / 128, 128>>>(da, df, di, dl, n);
    std::vector<float> f(2 * n);
    std::vector<int> i4(4 * n);
    std::vector<long long> i8(2 * n);
    cudaMemcpy(f.data(), df, f.size() * sizeof(float), cudaMemcpyDeviceToHost);
    cudaMemcpy(i4.data(), di, i4.size() * sizeof(int), cudaMemcpyDeviceToHost);
    cudaMemcpy(i8.data(), dl, i8.size() * sizeof(long long), cudaMemcpyDeviceToHost);
    int bad[4] = {0};
    for (int i = 0; i < n; i++) {
        double x = v[i];
        /* round toward zero: the nearest float, stepped back toward zero if it rounded away */
        float fz = (float)x;
        if (fabs((double)fz) > fabs(x))
            fz = nextafterf(fz, 0.0f);
        bad[0] += f[2 * i] != (float)x || f[2 * i + 1] != fz;
        bad[1] += i4[4 * i] != (int)nearbyint(x) || i4[4 * i + 1] != (int)trunc(x) || i4[4 * i + 2] != (int)ceil(x) ||
                  i4[4 * i + 3] != (int)floor(x);
        bad[2] += i8[2 * i] != llrint(x * 1e9);
        bad[3] += i8[2 * i + 1] != (long long)(x * 1e9);
    }
    check_report("to_float_rn_rz", bad[0] == 0, "%d wrong", bad[0]);
    check_report("to_int_rn_rz_ru_rd", bad[1] == 0, "%d wrong", bad[1]);
    check_report("to_ll_rn", bad[2] == 0, "%d wrong", bad[2]);
    check_report("to_ll_truncate", bad[3] == 0, "%d wrong", bad[3]);

    /* Horner with fma */
    const int degree = 12;
    double coef[degree + 1];
    for (int k = 0; k <= degree; k++)
        coef[k] = 1.0 / (double)(k * k + 1) * (k % 2 ? -1 : 1);
    double *dcoef;
    cudaMalloc(&dcoef, sizeof(coef));
    cudaMemcpy(dcoef, coef, sizeof(coef), cudaMemcpyHostToDevice);
    for (int i = 0; i < n; i++)
        v[i] = -2.0 + 4.0 * i / n;
    cudaMemcpy(da, v.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    horner<<<n / 128, 128>>>(da, dcoef, degree, dout, n);
    std::vector<double> hp(n);
    cudaMemcpy(hp.data(), dout, n * sizeof(double), cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        double p = coef[degree];
        for (int k = degree - 1; k >= 0; k--)
            p = std::fma(p, v[i], coef[k]);
        wrong += !same(hp[i], p);
    }
    check_report("horner_fma", wrong == 0, "%d wrong", wrong);

    /* dgemm 70x50 * 50x90 */
    const int m = 70, kk = 50, nn = 90;
    std::vector<double> A(m * kk), B(kk * nn), C(m * nn);
    for (auto &x : A)
        x = (double)(int64_t)next() / 9.2e18;
    for (auto &x : B)
        x = (double)(int64_t)next() / 9.2e18;
    double *dA, *dB, *dC;
    cudaMalloc(&dA, A.size() * sizeof(double));
    cudaMalloc(&dB, B.size() * sizeof(double));
    cudaMalloc(&dC, C.size() * sizeof(double));
    cudaMemcpy(dA, A.data(), A.size() * sizeof(double), cudaMemcpyHostToDevice);
    cudaMemcpy(dB, B.data(), B.size() * sizeof(double), cudaMemcpyHostToDevice);
    dgemm<<<dim3((nn + 15) / 16, (m + 15) / 16), dim3(16, 16)>>>(dA, dB, dC, m, nn, kk);
    expect_ok("dgemm_launch", cudaGetLastError());
    cudaMemcpy(C.data(), dC, C.size() * sizeof(double), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (int r = 0; r < m; r++)
        for (int col = 0; col < nn; col++) {
            double acc = 0.0;
            for (int q = 0; q < ((kk + 15) / 16) * 16; q++)
                acc = std::fma(q < kk ? A[r * kk + q] : 0.0, q < kk ? B[q * nn + col] : 0.0, acc);
            wrong += !same(C[r * nn + col], acc);
        }
    check_report("dgemm_fma_order", wrong == 0, "%d of %d wrong", wrong, m * nn);
    cudaFree(da); cudaFree(db); cudaFree(dc); cudaFree(dout); cudaFree(df); cudaFree(di); cudaFree(dl);
    cudaFree(dcoef); cudaFree(dA); cudaFree(dB); cudaFree(dC);
    return check_end();
}
