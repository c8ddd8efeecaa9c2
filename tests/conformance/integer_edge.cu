/* integer_edge.cu: integer corner cases against the host: unsigned wrap-around of add, sub and mul
 * in 8, 16, 32 and 64 bits, signed overflow through unsigned arithmetic, 32-bit shifts by amounts of
 * 32 and more (PTX shl/shr clamp the amount: 0 for shl and logical shr, the sign for arithmetic shr),
 * 64-bit shifts by 32..63, funnel shifts (__funnelshift_l/r wrap the amount, _lc/_rc clamp it),
 * division and remainder of negative numbers (truncation toward zero, the remainder takes the
 * dividend's sign), INT_MIN / 1, 64-bit division, __mulhi/__umulhi/__mul64hi/__umul64hi, __popc,
 * __clz, __ffs, __brev, __byte_perm, __sad, saturating float-to-int conversions and conversions of
 * NaN, min/max of mixed signs, char and short sign extension. */
#include "check.h"

#include <climits>
#include <cmath>
#include <vector>

struct results {
    unsigned u32[8];
    unsigned long long u64[8];
    unsigned char u8[4];
    unsigned short u16[4];
    int shifts32[6];
    unsigned long long shifts64[4];
    unsigned funnel[4];
    int divs[6];
    long long divs64[4];
    int hi32[2];
    unsigned long long hi64[2];
    int bits[8];
    int conv[8];
    int minmax[4];
    int ext[4];
};

__global__ void edges(const unsigned *u, const int *sh, const float *f, results *r)
{
    unsigned a = u[0], b = u[1];                       /* 0xfffffff0, 0x20 */
    unsigned long long A = ((unsigned long long)u[2] << 32) | u[3], B = u[4];
    r->u32[0] = a + b;                                 /* wraps */
    r->u32[1] = b - a;
    r->u32[2] = a * a;
    r->u32[3] = (unsigned)((int)a * 7);                /* signed multiply, low word */
    r->u32[4] = (unsigned)(INT_MAX + (int)(b >> 5) * 0) + b;   /* INT_MAX + 32 as unsigned */
    r->u32[5] = -a;
    r->u32[6] = ~a;
    r->u32[7] = a / b;
    r->u64[0] = A + A;
    r->u64[1] = A * A;
    r->u64[2] = B - A;
    r->u64[3] = A * 0xffffffffffffffffull;
    r->u64[4] = A / B;
    r->u64[5] = A % B;
    r->u64[6] = (unsigned long long)(-(long long)A);
    r->u64[7] = A >> 63;
    r->u8[0] = (unsigned char)(a + 0x20);
    r->u8[1] = (unsigned char)((unsigned char)b * (unsigned char)9);
    r->u8[2] = (unsigned char)((unsigned char)a + (unsigned char)b);
    r->u8[3] = (unsigned char)(b << 3);
    r->u16[0] = (unsigned short)(a + 0x10);
    r->u16[1] = (unsigned short)((unsigned short)a * (unsigned short)3);
    r->u16[2] = (unsigned short)(b - 0x21);
    r->u16[3] = (unsigned short)((unsigned short)0xffff + (unsigned short)b);
    /* shift amounts come from memory, so the compiler cannot fold them */
    int s32 = sh[0], s33 = sh[1], s40 = sh[2], s63 = sh[3], s255 = sh[4];
    int neg = (int)a;
    unsigned shl32, shr33, shl255;
    int sar40, sar32;
    asm("shl.b32 %0, %1, %2;" : "=r"(shl32) : "r"(a), "r"(s32));
    asm("shr.u32 %0, %1, %2;" : "=r"(shr33) : "r"(a), "r"(s33));
    asm("shl.b32 %0, %1, %2;" : "=r"(shl255) : "r"(a), "r"(s255));
    asm("shr.s32 %0, %1, %2;" : "=r"(sar40) : "r"(neg), "r"(s40));
    asm("shr.s32 %0, %1, %2;" : "=r"(sar32) : "r"(-neg), "r"(s32));
    r->shifts32[0] = (int)shl32;
    r->shifts32[1] = (int)shr33;
    r->shifts32[2] = (int)shl255;
    r->shifts32[3] = sar40;
    r->shifts32[4] = sar32;
    r->shifts32[5] = (int)(a << (s32 - 1));
    r->shifts64[0] = A << s32;
    r->shifts64[1] = A >> s40;
    r->shifts64[2] = (unsigned long long)((long long)A >> s63);
    r->shifts64[3] = 1ull << s63;
    r->funnel[0] = __funnelshift_l(a, b, s40);         /* amount & 31 = 8 */
    r->funnel[1] = __funnelshift_r(a, b, s33);         /* amount & 31 = 1 */
    r->funnel[2] = __funnelshift_lc(a, b, s40);        /* clamped to 32: a */
    r->funnel[3] = __funnelshift_rc(a, b, s40);        /* clamped to 32: b */
    int n7 = -(int)(b >> 2) + 1, d2 = (int)(b >> 4); /* -7, 2 */
    r->divs[0] = n7 / d2;
    r->divs[1] = n7 % d2;
    r->divs[2] = (-n7) / (-d2);
    r->divs[3] = (-n7) % (-d2);
    r->divs[4] = INT_MIN / (int)(b >> 5);             /* / 1 */
    r->divs[5] = INT_MIN % (d2 + 1);                  /* % 3 */
    long long big = -(long long)A;
    r->divs64[0] = big / 1000000007LL;
    r->divs64[1] = big % 1000000007LL;
    r->divs64[2] = big / -3;
    r->divs64[3] = LLONG_MIN / (long long)(b >> 5);
    r->hi32[0] = __mulhi(neg, 123456789);
    r->hi32[1] = (int)__umulhi(a, 0x87654321u);
    r->hi64[0] = (unsigned long long)__mul64hi((long long)A, -1234567890123LL);
    r->hi64[1] = __umul64hi(A, 0xfedcba9876543210ull);
    r->bits[0] = __popc(a);
    r->bits[1] = __clz(b);
    r->bits[2] = __ffs(b);
    r->bits[3] = __ffs(0u * b);
    r->bits[4] = (int)__brev(b);
    r->bits[5] = (int)__byte_perm(a, 0x12345678u, 0x7351);
    r->bits[6] = (int)__sad(neg, 100, 5u);
    r->bits[7] = __popcll(A) * 100 + __clzll(B);
    r->conv[0] = (int)f[0];                            /* 3e9 -> saturates to INT_MAX in cvt.rzi */
    r->conv[1] = __float2int_rz(f[1]);                 /* -3e9 -> INT_MIN */
    r->conv[2] = __float2int_rn(f[2]);                 /* NaN -> 0 */
    r->conv[3] = (int)__float2uint_rz(f[1]);           /* negative -> 0 */
    r->conv[4] = (int)__float2uint_rz(f[0]);           /* 3e9 fits */
    r->conv[5] = __float2int_rn(f[3]);                 /* 2.5 -> 2 */
    r->conv[6] = __float2int_rn(-f[3]);                /* -2.5 -> -2 */
    r->conv[7] = (int)__float2ll_rz(f[0] * f[0]);      /* 9e18 -> low word of 9e18 rounded in float */
    r->minmax[0] = min(neg, (int)b);
    r->minmax[1] = (int)max(a, b);                     /* unsigned max */
    r->minmax[2] = max(-neg, -(int)b);
    r->minmax[3] = (int)umin(a, b);
    signed char sc = (signed char)(a >> 4);            /* 0xff -> -1 */
    short ss = (short)(a >> 8);                        /* 0xffff -> -1 */
    r->ext[0] = sc;
    r->ext[1] = ss;
    r->ext[2] = (unsigned char)sc;
    r->ext[3] = (int)(unsigned short)ss;
}

static unsigned brev(unsigned x)
{
    unsigned r = 0;
    for (int i = 0; i < 32; i++)
        r |= ((x >> i) & 1u) << (31 - i);
    return r;
}

static unsigned byte_perm(unsigned x, unsigned y, unsigned s)
{
    unsigned long long v = ((unsigned long long)y << 32) | x, r = 0;
    for (int k = 0; k < 4; k++)
        r |= ((v >> (8 * ((s >> (4 * k)) & 7))) & 0xff) << (8 * k);
    return (unsigned)r;
}

int main(void)
{
    check_begin("integer_edge");
    unsigned u[5] = {0xfffffff0u, 0x20u, 0x89abcdefu, 0x01234567u, 12345u};
    int sh[5] = {32, 33, 40, 63, 255};
    float f[4] = {3e9f, -3e9f, NAN, 2.5f};
    unsigned *du;
    int *dsh;
    float *df;
    results *dr, r;
    cudaMalloc(&du, sizeof(u));
    cudaMalloc(&dsh, sizeof(sh));
    cudaMalloc(&df, sizeof(f));
    cudaMalloc(&dr, sizeof(results));
    cudaMemcpy(du, u, sizeof(u), cudaMemcpyHostToDevice);
    cudaMemcpy(dsh, sh, sizeof(sh), cudaMemcpyHostToDevice);
    cudaMemcpy(df, f, sizeof(f), cudaMemcpyHostToDevice);
    cudaMemset(dr, 0x5a, sizeof(results));
    edges<<<1, 1>>>(du, dsh, df, dr);
    expect_ok("launch", cudaGetLastError());
    expect_ok("copy", cudaMemcpy(&r, dr, sizeof(r), cudaMemcpyDeviceToHost));

    unsigned a = u[0], b = u[1];
    unsigned long long A = ((unsigned long long)u[2] << 32) | u[3], B = u[4];
    int neg = (int)a;
    unsigned w32[8] = {a + b, b - a, a * a, (unsigned)neg * 7u, (unsigned)INT_MAX + b, 0u - a, ~a, a / b};
    unsigned long long w64[8] = {A + A, A * A, B - A, A * 0xffffffffffffffffull, A / B, A % B, 0ull - A, A >> 63};
    unsigned char w8[4] = {(unsigned char)(a + 0x20), (unsigned char)(b * 9), (unsigned char)(a + b), (unsigned char)(b << 3)};
    unsigned short w16[4] = {(unsigned short)(a + 0x10), (unsigned short)((a & 0xffff) * 3), (unsigned short)(b - 0x21),
                             (unsigned short)(0xffff + b)};
    expect_bytes("wrap_u32", r.u32, w32, sizeof(w32));
    expect_bytes("wrap_u64", r.u64, w64, sizeof(w64));
    expect_bytes("wrap_u8", r.u8, w8, sizeof(w8));
    expect_bytes("wrap_u16", r.u16, w16, sizeof(w16));
    /* PTX: shift amounts past the width clamp to the width */
    int ws32[6] = {0, 0, 0, -1, 0, (int)(a << 31)}; /* shr.s32 of 16 by 32: 0 */
    expect_bytes("shift32_by_32_and_more", r.shifts32, ws32, sizeof(ws32));
    unsigned long long ws64[4] = {A << 32, A >> 40, (unsigned long long)((long long)A >> 63), 1ull << 63};
    expect_bytes("shift64_by_32_to_63", r.shifts64, ws64, sizeof(ws64));
    unsigned long long ab = ((unsigned long long)b << 32) | a;
    /* hi:lo = b:a; l/r shift by the amount mod 32; lc/rc by min(amount, 32): lc gives lo, rc gives hi */
    unsigned wf[4] = {(unsigned)((ab << 8) >> 32), (unsigned)(ab >> 1), a, b};
    expect_bytes("funnel_shifts", r.funnel, wf, sizeof(wf));
    int wd[6] = {-3, -1, -3, 1, INT_MIN, INT_MIN % 3};
    expect_bytes("div_rem_negative", r.divs, wd, sizeof(wd));
    long long big = -(long long)A;
    long long wd64[4] = {big / 1000000007LL, big % 1000000007LL, big / -3, LLONG_MIN};
    expect_bytes("div_rem_64", r.divs64, wd64, sizeof(wd64));
    int wh[2] = {(int)(((long long)neg * 123456789LL) >> 32), (int)(((unsigned long long)a * 0x87654321ull) >> 32)};
    expect_bytes("mulhi_32", r.hi32, wh, sizeof(wh));
    unsigned long long wh64[2] = {(unsigned long long)(long long)(((__int128)(long long)A * -1234567890123LL) >> 64),
                                  (unsigned long long)(((unsigned __int128)A * 0xfedcba9876543210ull) >> 64)};
    expect_bytes("mulhi_64", r.hi64, wh64, sizeof(wh64));
    int wb[8] = {__builtin_popcount(a), __builtin_clz(b), __builtin_ffs((int)b), 0, (int)brev(b),
                 (int)byte_perm(a, 0x12345678u, 0x7351), abs(neg - 100) + 5,
                 __builtin_popcountll(A) * 100 + __builtin_clzll(B)};
    expect_bytes("bit_intrinsics", r.bits, wb, sizeof(wb));
    int wc[8] = {INT_MAX, INT_MIN, 0, 0, (int)3000000000u, 2, -2, (int)(long long)(3e9f * 3e9f)};
    expect_bytes("float_to_int_saturation", r.conv, wc, sizeof(wc));
    int wm[4] = {neg, (int)a, 16, 0x20};
    expect_bytes("min_max_signs", r.minmax, wm, sizeof(wm));
    int we[4] = {-1, -1, 0xff, 0xffff};
    expect_bytes("sign_extension", r.ext, we, sizeof(we));
    cudaFree(du);
    cudaFree(dsh);
    cudaFree(df);
    cudaFree(dr);
    return check_end();
}
