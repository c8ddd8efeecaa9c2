/* vector_types.cu: CUDA's vector types in device memory and arithmetic: float4 / int4 / double2 /
 * uchar4 / short2 / longlong2 loads and stores (vectorised 8- and 16-byte accesses), make_* helpers,
 * reinterpret_cast from float* to float4*, __ldg through const __restrict__ pointers, struct-of-arrays
 * vs array-of-structs of float3; against the host. */
#include "check.h"

#include <vector>

__global__ void vec4(const float4 *__restrict__ a, const int4 *__restrict__ b, float4 *c, int4 *d, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float4 x = __ldg(&a[i]);
    int4 y = b[i];
    c[i] = make_float4(x.x + x.w, x.y * 2.0f, x.z - x.x, (float)y.w);
    d[i] = make_int4(y.x + y.y, y.y ^ y.z, y.z - y.w, (int)x.y);
}

__global__ void small_vectors(const uchar4 *a, const short2 *b, const double2 *c, const longlong2 *e, uchar4 *oa,
                              short2 *ob, double2 *oc, longlong2 *oe, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    uchar4 u = a[i];
    oa[i] = make_uchar4(u.w, u.z, u.y, (unsigned char)(u.x + 1));
    short2 s = b[i];
    ob[i] = make_short2((short)(s.x - s.y), (short)(s.y * 3));
    double2 d = c[i];
    oc[i] = make_double2(d.y, d.x * 0.5);
    longlong2 l = e[i];
    oe[i] = make_longlong2(l.y + 1, l.x - 1);
}

__global__ void through_float4(const float *in, float *out, int n4)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n4) {
        float4 v = reinterpret_cast<const float4 *>(in)[i];
        reinterpret_cast<float4 *>(out)[i] = make_float4(v.w, v.z, v.y, v.x);
    }
}

__global__ void aos_float3(const float3 *p, float *norm2, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float3 v = p[i];
        norm2[i] = __fmul_rn(v.x, v.x) + __fmul_rn(v.y, v.y);
    }
}

int main(void)
{
    check_begin("vector_types");
    const int n = 1000;
    std::vector<float4> a(n), c(n);
    std::vector<int4> b(n), d(n);
    for (int i = 0; i < n; i++) {
        a[i] = make_float4(i * 0.5f, -i * 0.25f, i * 2.0f, 1.0f - i);
        b[i] = make_int4(i, -i * 3, i * 7, 1000 - i);
    }
    float4 *da, *dc;
    int4 *db, *dd;
    cudaMalloc(&da, n * sizeof(float4));
    cudaMalloc(&db, n * sizeof(int4));
    cudaMalloc(&dc, n * sizeof(float4));
    cudaMalloc(&dd, n * sizeof(int4));
    cudaMemcpy(da, a.data(), n * sizeof(float4), cudaMemcpyHostToDevice);
    cudaMemcpy(db, b.data(), n * sizeof(int4), cudaMemcpyHostToDevice);
    vec4<<<(n + 127) / 128, 128>>>(da, db, dc, dd, n);
    expect_ok("vec4_launch", cudaGetLastError());
    cudaMemcpy(c.data(), dc, n * sizeof(float4), cudaMemcpyDeviceToHost);
    cudaMemcpy(d.data(), dd, n * sizeof(int4), cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        float4 x = a[i];
        int4 y = b[i];
        wrong += c[i].x != x.x + x.w || c[i].y != x.y * 2.0f || c[i].z != x.z - x.x || c[i].w != (float)y.w;
        wrong += d[i].x != y.x + y.y || d[i].y != (y.y ^ y.z) || d[i].z != y.z - y.w || d[i].w != (int)x.y;
    }
    check_report("float4_int4", wrong == 0, "%d wrong", wrong);

    std::vector<uchar4> ua(n), uo(n);
    std::vector<short2> sb(n), so(n);
    std::vector<double2> dcv(n), dco(n);
    std::vector<longlong2> le(n), lo(n);
    for (int i = 0; i < n; i++) {
        ua[i] = make_uchar4((unsigned char)i, (unsigned char)(i * 3), (unsigned char)(i * 5), (unsigned char)(i * 7));
        sb[i] = make_short2((short)(i * 31), (short)(-i * 17));
        dcv[i] = make_double2(i * 1.25, -i * 1e10);
        le[i] = make_longlong2((long long)i << 40, -(long long)i * 3);
    }
    uchar4 *dua, *duo;
    short2 *dsb, *dso;
    double2 *ddc, *ddo;
    longlong2 *dle, *dlo;
    cudaMalloc(&dua, n * sizeof(uchar4));
    cudaMalloc(&duo, n * sizeof(uchar4));
    cudaMalloc(&dsb, n * sizeof(short2));
    cudaMalloc(&dso, n * sizeof(short2));
    cudaMalloc(&ddc, n * sizeof(double2));
    cudaMalloc(&ddo, n * sizeof(double2));
    cudaMalloc(&dle, n * sizeof(longlong2));
    cudaMalloc(&dlo, n * sizeof(longlong2));
    cudaMemcpy(dua, ua.data(), n * sizeof(uchar4), cudaMemcpyHostToDevice);
    cudaMemcpy(dsb, sb.data(), n * sizeof(short2), cudaMemcpyHostToDevice);
    cudaMemcpy(ddc, dcv.data(), n * sizeof(double2), cudaMemcpyHostToDevice);
    cudaMemcpy(dle, le.data(), n * sizeof(longlong2), cudaMemcpyHostToDevice);
    small_vectors<<<(n + 127) / 128, 128>>>(dua, dsb, ddc, dle, duo, dso, ddo, dlo, n);
    expect_ok("small_launch", cudaGetLastError());
    cudaMemcpy(uo.data(), duo, n * sizeof(uchar4), cudaMemcpyDeviceToHost);
    cudaMemcpy(so.data(), dso, n * sizeof(short2), cudaMemcpyDeviceToHost);
    cudaMemcpy(dco.data(), ddo, n * sizeof(double2), cudaMemcpyDeviceToHost);
    cudaMemcpy(lo.data(), dlo, n * sizeof(longlong2), cudaMemcpyDeviceToHost);
    int bad[4] = {0};
    for (int i = 0; i < n; i++) {
        uchar4 u = ua[i];
        bad[0] += uo[i].x != u.w || uo[i].y != u.z || uo[i].z != u.y || uo[i].w != (unsigned char)(u.x + 1);
        bad[1] += so[i].x != (short)(sb[i].x - sb[i].y) || so[i].y != (short)(sb[i].y * 3);
        bad[2] += dco[i].x != dcv[i].y || dco[i].y != dcv[i].x * 0.5;
        bad[3] += lo[i].x != le[i].y + 1 || lo[i].y != le[i].x - 1;
    }
    check_report("uchar4", bad[0] == 0, "%d wrong", bad[0]);
    check_report("short2", bad[1] == 0, "%d wrong", bad[1]);
    check_report("double2", bad[2] == 0, "%d wrong", bad[2]);
    check_report("longlong2", bad[3] == 0, "%d wrong", bad[3]);

    std::vector<float> f(4 * n), fo(4 * n);
    for (int i = 0; i < 4 * n; i++)
        f[i] = (float)i * 0.125f;
    float *df, *dfo;
    cudaMalloc(&df, 4 * n * sizeof(float));
    cudaMalloc(&dfo, 4 * n * sizeof(float));
    cudaMemcpy(df, f.data(), 4 * n * sizeof(float), cudaMemcpyHostToDevice);
    through_float4<<<(n + 127) / 128, 128>>>(df, dfo, n);
    cudaMemcpy(fo.data(), dfo, 4 * n * sizeof(float), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (int i = 0; i < 4 * n; i++)
        wrong += fo[i] != f[(i & ~3) + 3 - (i & 3)];
    check_report("reinterpret_float4", wrong == 0, "%d wrong", wrong);

    std::vector<float3> p(n);
    for (int i = 0; i < n; i++)
        p[i] = make_float3(i * 0.1f, -i * 0.3f, 7.0f);
    float3 *dp;
    cudaMalloc(&dp, n * sizeof(float3));
    cudaMemcpy(dp, p.data(), n * sizeof(float3), cudaMemcpyHostToDevice);
    aos_float3<<<(n + 127) / 128, 128>>>(dp, dfo, n);
    cudaMemcpy(fo.data(), dfo, n * sizeof(float), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (int i = 0; i < n; i++)
        wrong += fo[i] != p[i].x * p[i].x + p[i].y * p[i].y;
    check_report("float3_array_of_structs", wrong == 0, "%d wrong", wrong);
    cudaFree(da); cudaFree(db); cudaFree(dc); cudaFree(dd); cudaFree(dua); cudaFree(duo); cudaFree(dsb);
    cudaFree(dso); cudaFree(ddc); cudaFree(ddo); cudaFree(dle); cudaFree(dlo); cudaFree(df); cudaFree(dfo);
    cudaFree(dp);
    return check_end();
}
