/* struct_params.cu: kernel parameters of struct type: a user struct with __align__(16) after a char
 * (12 bytes of padding before it), float4 / double2 / int4 / longlong2, a struct holding an array and
 * a nested aligned struct, a bool and a short between them, a union; each field written back and
 * compared with what the host passed. */
#include "check.h"

struct __align__(16) aligned16 {
    float x;
    double y;
    int z;
};

struct nested {
    char tag;
    aligned16 inner;
    short arr[5];
};

union bits {
    float f;
    unsigned u;
};

struct report {
    double d[24];
    long long i[24];
};

__global__ void take_structs(char c, aligned16 a, bool flag, double2 d2, short s, int4 i4, nested n, float4 f4,
                             longlong2 l2, bits b, report *out)
{
    out->d[0] = c;
    out->d[1] = a.x;
    out->d[2] = a.y;
    out->i[0] = a.z;
    out->i[1] = flag;
    out->d[3] = d2.x;
    out->d[4] = d2.y;
    out->i[2] = s;
    out->i[3] = i4.x;
    out->i[4] = i4.y;
    out->i[5] = i4.z;
    out->i[6] = i4.w;
    out->i[7] = n.tag;
    out->d[5] = n.inner.x;
    out->d[6] = n.inner.y;
    out->i[8] = n.inner.z;
    for (int k = 0; k < 5; k++)
        out->i[9 + k] = n.arr[k];
    out->d[7] = f4.x;
    out->d[8] = f4.y;
    out->d[9] = f4.z;
    out->d[10] = f4.w;
    out->i[14] = l2.x;
    out->i[15] = l2.y;
    out->i[16] = b.u;
    /* the addresses of 16-byte aligned parameters are 16-byte aligned */
    out->i[17] = ((unsigned long long)&a % 16) + ((unsigned long long)&d2 % 16) + ((unsigned long long)&i4 % 16) +
                 ((unsigned long long)&f4 % 16) + ((unsigned long long)&n.inner % 16);
}

int main(void)
{
    check_begin("struct_params");
    report *d_out;
    cudaMalloc(&d_out, sizeof(report));
    cudaMemset(d_out, 0, sizeof(report));
    aligned16 a = {1.5f, -2.25e10, 77};
    double2 d2 = make_double2(3.0e-5, -4.0);
    int4 i4 = make_int4(-1, 2, -3, 0x7fffffff);
    nested n = {'N', {6.5f, 7.125, -8}, {1, -2, 3, -4, 32767}};
    float4 f4 = make_float4(0.5f, -0.25f, 1e30f, -1e-30f);
    longlong2 l2 = make_longlong2(-(1LL << 62), 0x123456789abcdefLL);
    bits b;
    b.f = -0.0f;
    take_structs<<<1, 1>>>('c', a, true, d2, -1234, i4, n, f4, l2, b, d_out);
    expect_ok("launch", cudaGetLastError());
    report r;
    expect_ok("copy", cudaMemcpy(&r, d_out, sizeof(r), cudaMemcpyDeviceToHost));
    const double dw[11] = {'c', 1.5f, -2.25e10, 3.0e-5, -4.0, 6.5f, 7.125, 0.5f, -0.25f, 1e30f, -1e-30f};
    const long long iw[18] = {77, 1, -1234, -1, 2, -3, 0x7fffffff, 'N', -8, 1, -2, 3, -4, 32767, -(1LL << 62),
                              0x123456789abcdefLL, 0x80000000LL, 0};
    const char *dn[11] = {"char", "aligned_x", "aligned_y", "double2_x", "double2_y", "nested_x", "nested_y",
                          "float4_x", "float4_y", "float4_z", "float4_w"};
    const char *in[18] = {"aligned_z", "bool", "short", "int4_x", "int4_y", "int4_z", "int4_w", "nested_tag",
                          "nested_z", "nested_arr_0", "nested_arr_1", "nested_arr_2", "nested_arr_3", "nested_arr_4",
                          "longlong2_x", "longlong2_y", "union", "aligned_addresses"};
    for (int k = 0; k < 11; k++)
        check_report(dn[k], r.d[k] == dw[k], "expected %.17g got %.17g", dw[k], r.d[k]);
    for (int k = 0; k < 18; k++)
        expect_i64(in[k], r.i[k], iw[k]);
    cudaFree(d_out);
    return check_end();
}
