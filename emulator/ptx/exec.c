/*
 * exec.c: the warp interpreter.
 *
 * One switch over decoded operations; every case applies its operation to the 32 lanes of the
 * warp at once. Lane loops compute all 32 results into a local array (no side effects, so inactive
 * lanes may compute garbage: divisions and shifts are defined for every input) and then store
 * them, blending with the old values when some lanes are masked off; the compiler vectorises both.
 * Predicates are 32-bit lane masks.
 *
 * Divergence: the active lanes are the top entry of the warp's reconvergence stack minus the lanes
 * that exited. A branch that splits the active lanes sets the top entry to resume at the branch's
 * reconvergence point and pushes one entry per side; an entry is popped when its lanes reach its
 * reconvergence point or all of them exit.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"

#define W BF_PTX_WARP
#define FULL BF_PTX_FULL_MASK

#define P32(off) ((uint32_t *)(R + (off)))
#define PW(off) (*(uint32_t *)(R + (off)))

/* Stores t (32 values of type T) into slot dst for the lanes of m. */
#define STORE(T, dst, t)                                                                          \
    do {                                                                                          \
        T *d_ = (T *)(R + (dst));                                                                 \
        if (m == FULL) {                                                                          \
            for (int i_ = 0; i_ < W; i_++)                                                        \
                d_[i_] = (t)[i_];                                                                 \
        } else {                                                                                  \
            for (int i_ = 0; i_ < W; i_++)                                                        \
                d_[i_] = ((m >> i_) & 1u) ? (t)[i_] : d_[i_];                                      \
        }                                                                                         \
    } while (0)

#define UN(TD, TA, EXPR)                                                                          \
    {                                                                                             \
        const TA *a = (const TA *)(R + in->a);                                                    \
        TD t[W];                                                                                  \
        for (int i = 0; i < W; i++)                                                               \
            t[i] = (EXPR);                                                                        \
        STORE(TD, in->d, t);                                                                      \
    }                                                                                             \
    break

#define BIN(TD, TA, TB, EXPR)                                                                     \
    {                                                                                             \
        const TA *a = (const TA *)(R + in->a);                                                    \
        const TB *b = (const TB *)(R + in->b);                                                    \
        TD t[W];                                                                                  \
        for (int i = 0; i < W; i++)                                                               \
            t[i] = (EXPR);                                                                        \
        STORE(TD, in->d, t);                                                                      \
    }                                                                                             \
    break

#define TER(TD, TA, TB, TC, EXPR)                                                                 \
    {                                                                                             \
        const TA *a = (const TA *)(R + in->a);                                                    \
        const TB *b = (const TB *)(R + in->b);                                                    \
        const TC *c = (const TC *)(R + in->c);                                                    \
        TD t[W];                                                                                  \
        for (int i = 0; i < W; i++)                                                               \
            t[i] = (EXPR);                                                                        \
        STORE(TD, in->d, t);                                                                      \
    }                                                                                             \
    break

/* Writes a predicate result for the lanes of m. */
#define PSTORE(dst, val) (PW(dst) = (PW(dst) & ~m) | ((val) & m))

/* Comparison of 32 lanes into a mask. */
#define CMP(T, EXPR)                                                                              \
    {                                                                                             \
        const T *a = (const T *)(R + in->a);                                                      \
        const T *b = (const T *)(R + in->b);                                                      \
        for (int i = 0; i < W; i++)                                                               \
            r |= (uint32_t)(EXPR) << i;                                                           \
    }

#define INT_CMPS(T)                                                                               \
    switch (in->sub) {                                                                            \
    case BF_PTX_CMP_EQ: CMP(T, a[i] == b[i]) break;                                               \
    case BF_PTX_CMP_NE: CMP(T, a[i] != b[i]) break;                                               \
    case BF_PTX_CMP_LT: CMP(T, a[i] < b[i]) break;                                                \
    case BF_PTX_CMP_LE: CMP(T, a[i] <= b[i]) break;                                               \
    case BF_PTX_CMP_GT: CMP(T, a[i] > b[i]) break;                                                \
    case BF_PTX_CMP_GE: CMP(T, a[i] >= b[i]) break;                                               \
    default: break;                                                                               \
    }

#define FLT_CMPS(T)                                                                               \
    switch (in->sub) {                                                                            \
    case BF_PTX_CMP_EQ: CMP(T, a[i] == b[i]) break;                                               \
    case BF_PTX_CMP_NE: CMP(T, a[i] < b[i] || a[i] > b[i]) break;                                 \
    case BF_PTX_CMP_LT: CMP(T, a[i] < b[i]) break;                                                \
    case BF_PTX_CMP_LE: CMP(T, a[i] <= b[i]) break;                                               \
    case BF_PTX_CMP_GT: CMP(T, a[i] > b[i]) break;                                                \
    case BF_PTX_CMP_GE: CMP(T, a[i] >= b[i]) break;                                               \
    case BF_PTX_CMP_EQU: CMP(T, !(a[i] < b[i] || a[i] > b[i])) break;                             \
    case BF_PTX_CMP_NEU: CMP(T, !(a[i] == b[i])) break;                                           \
    case BF_PTX_CMP_LTU: CMP(T, !(a[i] >= b[i])) break;                                           \
    case BF_PTX_CMP_LEU: CMP(T, !(a[i] > b[i])) break;                                            \
    case BF_PTX_CMP_GTU: CMP(T, !(a[i] <= b[i])) break;                                           \
    case BF_PTX_CMP_GEU: CMP(T, !(a[i] < b[i])) break;                                            \
    case BF_PTX_CMP_NUM: CMP(T, a[i] == a[i] && b[i] == b[i]) break;                              \
    case BF_PTX_CMP_NAN: CMP(T, a[i] != a[i] || b[i] != b[i]) break;                              \
    default: break;                                                                               \
    }

/* --- scalar helpers --------------------------------------------------------------------------- */
static inline uint32_t div_u32(uint32_t a, uint32_t b) { return b ? a / b : 0xffffffffu; }
static inline uint32_t rem_u32(uint32_t a, uint32_t b) { return b ? a % b : a; }
static inline uint64_t div_u64(uint64_t a, uint64_t b) { return b ? a / b : ~0ull; }
static inline uint64_t rem_u64(uint64_t a, uint64_t b) { return b ? a % b : a; }
static inline int32_t div_s32(int32_t a, int32_t b)
{
    return b == 0 ? -1 : (b == -1 ? (int32_t)(0u - (uint32_t)a) : a / b);
}
static inline int32_t rem_s32(int32_t a, int32_t b) { return b == 0 ? a : (b == -1 ? 0 : a % b); }
static inline int64_t div_s64(int64_t a, int64_t b)
{
    return b == 0 ? -1 : (b == -1 ? (int64_t)(0ull - (uint64_t)a) : a / b);
}
static inline int64_t rem_s64(int64_t a, int64_t b) { return b == 0 ? a : (b == -1 ? 0 : a % b); }

static inline uint32_t bits_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float f32_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* PTX min/max: a NaN operand yields the other one; -0 is below +0. */
static inline float min_f32(float a, float b)
{
    if (a != a) return b != b ? f32_bits(0x7fffffffu) : b;
    if (b != b) return a;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline float max_f32(float a, float b)
{
    if (a != a) return b != b ? f32_bits(0x7fffffffu) : b;
    if (b != b) return a;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline double min_f64(double a, double b)
{
    if (a != a) return b;
    if (b != b) return a;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline double max_f64(double a, double b)
{
    if (a != a) return b;
    if (b != b) return a;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}

static inline float sat_f32(float v) { return v != v ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }
static inline double sat_f64(double v) { return v != v ? 0.0 : v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }
static inline uint32_t ftz32(uint32_t u) { return (u & 0x7f800000u) ? u : (u & 0x80000000u); }

static inline uint32_t brev32(uint32_t v)
{
    v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
    v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
    v = ((v >> 4) & 0x0f0f0f0fu) | ((v & 0x0f0f0f0fu) << 4);
    v = ((v >> 8) & 0x00ff00ffu) | ((v & 0x00ff00ffu) << 8);
    return (v >> 16) | (v << 16);
}
static inline uint64_t brev64(uint64_t v) { return (uint64_t)brev32((uint32_t)v) << 32 | brev32((uint32_t)(v >> 32)); }

static inline uint64_t bfe(uint64_t a, uint32_t pos, uint32_t len, unsigned bits, int is_signed)
{
    pos &= 0xff;
    len &= 0xff;
    uint64_t msb = bits - 1;
    uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
    a &= mask;
    if (len == 0)
        return 0;
    if (pos > msb)
        return is_signed && ((a >> msb) & 1) ? mask : 0;
    uint64_t top = pos + len - 1 > msb ? msb : pos + len - 1;
    uint64_t n = top - pos + 1;
    uint64_t v = (a >> pos) & (n == 64 ? ~0ull : (1ull << n) - 1);
    if (is_signed && ((a >> top) & 1) && n < 64)
        v |= ~0ull << n;
    return v & mask;
}

static inline uint64_t bfi(uint64_t a, uint64_t b, uint32_t pos, uint32_t len, unsigned bits)
{
    pos &= 0xff;
    len &= 0xff;
    if (len == 0 || pos >= bits)
        return b;
    uint64_t field = len >= 64 ? ~0ull : (1ull << len) - 1;
    uint64_t mask = (field << pos) & (bits == 64 ? ~0ull : (1ull << bits) - 1);
    return (b & ~mask) | ((a << pos) & mask);
}

static inline uint32_t prmt(uint32_t a, uint32_t b, uint32_t c)
{
    uint64_t bytes = (uint64_t)b << 32 | a;
    uint32_t d = 0;
    for (int k = 0; k < 4; k++) {
        uint32_t sel = (c >> (4 * k)) & 0xf;
        uint32_t byte = (uint32_t)(bytes >> ((sel & 7) * 8)) & 0xff;
        if (sel & 8)
            byte = (byte & 0x80) ? 0xff : 0;
        d |= byte << (8 * k);
    }
    return d;
}

static inline uint32_t lop3(uint32_t a, uint32_t b, uint32_t c, uint32_t lut)
{
    uint32_t r = 0;
    for (int idx = 0; idx < 8; idx++)
        if ((lut >> idx) & 1)
            r |= ((idx & 4) ? a : ~a) & ((idx & 2) ? b : ~b) & ((idx & 1) ? c : ~c);
    return r;
}

/* Integer conversions: source bits/signedness to destination bits/signedness, optionally
 * saturating. */
static inline uint64_t cvt_ii(uint64_t x, int64_t spec, int sat)
{
    unsigned sb = spec & 0xff, ss = (spec >> 8) & 1, db = (spec >> 16) & 0xff, ds = (spec >> 24) & 1;
    int64_t sv = sb < 64 ? ((int64_t)(x << (64 - sb)) >> (64 - sb)) : (int64_t)x;
    uint64_t uv = sb < 64 ? x & ((1ull << sb) - 1) : x;
    uint64_t v = ss ? (uint64_t)sv : uv;
    if (sat) {
        if (ds) {
            int64_t hi = db < 64 ? (int64_t)((1ull << (db - 1)) - 1) : INT64_MAX;
            int64_t lo = -hi - 1;
            if (ss)
                v = (uint64_t)(sv > hi ? hi : sv < lo ? lo : sv);
            else
                v = uv > (uint64_t)hi ? (uint64_t)hi : uv;
        } else {
            uint64_t hi = db < 64 ? (1ull << db) - 1 : UINT64_MAX;
            if (ss)
                v = sv < 0 ? 0 : ((uint64_t)sv > hi ? hi : (uint64_t)sv);
            else
                v = uv > hi ? hi : uv;
        }
    }
    if (db < 64) {
        if (ds)
            v = (uint64_t)((int64_t)(v << (64 - db)) >> (64 - db));
        else
            v &= (1ull << db) - 1;
    }
    return v;
}

static inline double round_int(double v, int rnd)
{
    switch (rnd) {
    case BF_PTX_RND_Z: return trunc(v);
    case BF_PTX_RND_M: return floor(v);
    case BF_PTX_RND_P: return ceil(v);
    default: return nearbyint(v);
    }
}

/* Float to integer with PTX's saturation: NaN gives 0, out-of-range values the nearest bound. */
static inline uint64_t cvt_f2i(double v, int rnd, int64_t spec)
{
    unsigned db = (spec >> 16) & 0xff, ds = (spec >> 24) & 1;
    if (v != v)
        return 0;
    v = round_int(v, rnd);
    if (ds) {
        double hi = ldexp(1.0, (int)db - 1);
        if (v >= hi)
            return (uint64_t)(db < 64 ? (int64_t)((1ull << (db - 1)) - 1) : INT64_MAX);
        if (v < -hi)
            return (uint64_t)(db < 64 ? -(int64_t)(1ull << (db - 1)) : INT64_MIN);
        return (uint64_t)(int64_t)v;
    }
    double hi = ldexp(1.0, (int)db);
    if (v <= 0)
        return 0;
    if (v >= hi)
        return db < 64 ? (1ull << db) - 1 : UINT64_MAX;
    return (uint64_t)v;
}

/* Directed rounding of an exact value (long double holds every 64-bit integer and double). */
static inline float round_f32(long double exact, int rnd)
{
    float f = (float)exact;
    if (rnd == BF_PTX_RND_Z && fabsl((long double)f) > fabsl(exact))
        f = nextafterf(f, 0.0f);
    else if (rnd == BF_PTX_RND_M && (long double)f > exact)
        f = nextafterf(f, -INFINITY);
    else if (rnd == BF_PTX_RND_P && (long double)f < exact)
        f = nextafterf(f, INFINITY);
    return f;
}

static inline double round_f64(long double exact, int rnd)
{
    double f = (double)exact;
    if (rnd == BF_PTX_RND_Z && fabsl((long double)f) > fabsl(exact))
        f = nextafter(f, 0.0);
    else if (rnd == BF_PTX_RND_M && (long double)f > exact)
        f = nextafter(f, -INFINITY);
    else if (rnd == BF_PTX_RND_P && (long double)f < exact)
        f = nextafter(f, INFINITY);
    return f;
}

static inline long double int_value(uint64_t x, int kind)
{
    switch (kind) {
    case BF_PTX_K_S32: return (long double)(int32_t)x;
    case BF_PTX_K_U32: return (long double)(uint32_t)x;
    case BF_PTX_K_S64: return (long double)(int64_t)x;
    default: return (long double)x;
    }
}

/* IEEE half precision, round to nearest even. */
static inline uint32_t f32_to_f16(uint32_t x)
{
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xff, mant = x & 0x7fffffu;
    if (exp == 0xff)
        return mant ? 0x7fffu : sign | 0x7c00u;
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return sign | 0x7c00u;
    if (e <= 0) {
        if (e < -10)
            return sign;
        mant |= 0x800000u;
        unsigned shift = (unsigned)(14 - e);
        uint32_t h = mant >> shift, rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rest > half || (rest == half && (h & 1)))
            h++;
        return sign | h;
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++; /* may carry into the exponent, up to infinity: correct */
    return sign | h;
}

/* f64 to IEEE half, round to nearest even (f16 arithmetic is computed exactly in double). */
static inline uint32_t f64_to_f16(double d)
{
    uint64_t x;
    memcpy(&x, &d, 8);
    uint32_t sign = (uint32_t)(x >> 48) & 0x8000u;
    int exp = (int)((x >> 52) & 0x7ff);
    uint64_t mant = x & ((1ull << 52) - 1);
    if (exp == 0x7ff)
        return mant ? 0x7fffu : sign | 0x7c00u; /* NaN results are the canonical NaN, as on GPUs */
    int e = exp - 1023 + 15;
    if (e >= 31)
        return sign | 0x7c00u;
    uint64_t h, rest, half;
    if (e <= 0) {
        if (e < -10)
            return sign;
        unsigned shift = (unsigned)(43 - e);
        uint64_t full = mant | (1ull << 52);
        h = full >> shift;
        rest = full & ((1ull << shift) - 1);
        half = 1ull << (shift - 1);
    } else {
        h = ((uint64_t)e << 10) | (mant >> 42);
        rest = mant & ((1ull << 42) - 1);
        half = 1ull << 41;
    }
    if (rest > half || (rest == half && (h & 1)))
        h++;
    return sign | (uint32_t)h;
}

static inline double f16_value(uint32_t h)
{
    return (double)f32_bits(f16_to_f32(h & 0xffffu));
}

static inline uint32_t half_one(uint32_t a, uint32_t b, uint32_t c, int op)
{
    double x = f16_value(a), y = f16_value(b), z = f16_value(c);
    switch (op) {
    case BF_PTX_HALF_ADD: return f64_to_f16(x + y);
    case BF_PTX_HALF_SUB: return f64_to_f16(x - y);
    case BF_PTX_HALF_MUL: return f64_to_f16(x * y);
    case BF_PTX_HALF_FMA: return f64_to_f16(fma(x, y, z));
    case BF_PTX_HALF_MIN:
        if (x != x || y != y)
            return x != x && y != y ? 0x7fffu : (x != x ? b : a) & 0xffffu;
        return (x < y || (x == y && signbit(x)) ? a : b) & 0xffffu;
    default:
        if (x != x || y != y)
            return x != x && y != y ? 0x7fffu : (x != x ? b : a) & 0xffffu;
        return (x > y || (x == y && !signbit(x)) ? a : b) & 0xffffu;
    }
}

static inline uint32_t half_op(uint32_t a, uint32_t b, uint32_t c, int op, int x2)
{
    uint32_t lo = half_one(a, b, c, op);
    if (!x2)
        return lo;
    return lo | half_one(a >> 16, b >> 16, c >> 16, op) << 16;
}

/* Directed rounding: f is the nearest value, dir the sign of (exact - f). */
static inline float step_f32(float f, int dir, int rnd)
{
    if (dir == 0)
        return f;
    if (rnd == BF_PTX_RND_P)
        return dir > 0 ? nextafterf(f, INFINITY) : f;
    if (rnd == BF_PTX_RND_M)
        return dir < 0 ? nextafterf(f, -INFINITY) : f;
    /* Toward zero: step when f lies farther from zero than the exact value. */
    if ((dir > 0 && f < 0) || (dir < 0 && f > 0))
        return nextafterf(f, 0.0f);
    return f;
}

static inline double step_f64(double f, int dir, int rnd)
{
    if (dir == 0)
        return f;
    if (rnd == BF_PTX_RND_P)
        return dir > 0 ? nextafter(f, INFINITY) : f;
    if (rnd == BF_PTX_RND_M)
        return dir < 0 ? nextafter(f, -INFINITY) : f;
    if ((dir > 0 && f < 0) || (dir < 0 && f > 0))
        return nextafter(f, 0.0);
    return f;
}

/* An exact zero sum: -0 when rounding down unless both addends are +0, else what RN gave. */
static inline int zero_sign_down(double x, double y, int rnd)
{
    return rnd == BF_PTX_RND_M && (signbit(x) || signbit(y));
}

/*
 * f32 add, sub, mul, fma with .rz/.rm/.rp. In double the product of two floats is exact and
 * Knuth's two-sum gives a sum's rounding error exactly, so exact = s + err is known; the nearest
 * float f is then moved one step when it lies on the wrong side.
 */
static float fdir_f32(float a, float b, float c, int op, int rnd)
{
    if (op >= BF_PTX_FDIR_DIV)
        return bf_ptx_fdir_fenv_f32(a, b, c, op, rnd);
    double x = a, y = op == BF_PTX_FDIR_SUB ? -(double)b : (double)b, s, err = 0;
    if (op == BF_PTX_FDIR_MUL) {
        s = x * y;
    } else {
        if (op == BF_PTX_FDIR_FMA) {
            x = (double)a * (double)b;
            y = c;
        }
        s = x + y;
        double bb = s - x;
        err = (x - (s - bb)) + (y - bb);
        if (s == 0 && err == 0 && x == -y)
            return zero_sign_down(x, y, rnd) ? -0.0f : (float)s;
    }
    if (s != s || isinf(s))
        return (float)s;
    float f = (float)s;
    if (isinf(f)) {
        if (rnd == BF_PTX_RND_Z || (rnd == BF_PTX_RND_M && s > 0) || (rnd == BF_PTX_RND_P && s < 0))
            return s > 0 ? FLT_MAX : -FLT_MAX;
        return f;
    }
    double t = s - (double)f;
    return step_f32(f, (t > -err) - (t < -err), rnd);
}

/* f64 add, sub, mul with .rz/.rm/.rp: two-sum, or fma for the product's error. */
static double fdir_f64(double a, double b, double c, int op, int rnd)
{
    if (op >= BF_PTX_FDIR_FMA)
        return bf_ptx_fdir_fenv_f64(a, b, c, op, rnd);
    double y = op == BF_PTX_FDIR_SUB ? -b : b, s, err;
    if (op == BF_PTX_FDIR_MUL) {
        s = a * y;
        err = isfinite(s) ? fma(a, y, -s) : 0;
    } else {
        s = a + y;
        double bb = s - a;
        err = (a - (s - bb)) + (y - bb);
        if (s == 0 && a == -y)
            return zero_sign_down(a, y, rnd) ? -0.0 : s;
    }
    if (s != s)
        return s;
    if (isinf(s)) {
        if (isinf(a) || isinf(b))
            return s;
        if (rnd == BF_PTX_RND_Z || (rnd == BF_PTX_RND_M && s > 0) || (rnd == BF_PTX_RND_P && s < 0))
            return s > 0 ? DBL_MAX : -DBL_MAX;
        return s;
    }
    return step_f64(s, (err > 0) - (err < 0), rnd);
}

static inline uint32_t bfind32(uint32_t a, int is_signed, int shiftamt)
{
    if (is_signed && (int32_t)a < 0)
        a = ~a;
    if (!a)
        return 0xffffffffu;
    uint32_t pos = 31u - (uint32_t)__builtin_clz(a);
    return shiftamt ? 31u - pos : pos;
}

static inline uint32_t bfind64(uint64_t a, int is_signed, int shiftamt)
{
    if (is_signed && (int64_t)a < 0)
        a = ~a;
    if (!a)
        return 0xffffffffu;
    uint32_t pos = 63u - (uint32_t)__builtin_clzll(a);
    return shiftamt ? 63u - pos : pos;
}

/* testp on a value of its own precision (a subnormal float is a normal double). */
#define TESTP(v, which)                                                                           \
    ((which) == 0   ? isfinite(v)                                                                 \
     : (which) == 1 ? isinf(v)                                                                    \
     : (which) == 2 ? !isnan(v)                                                                   \
     : (which) == 3 ? isnan(v)                                                                    \
     : (which) == 4 ? isnormal(v)                                                                 \
                    : fpclassify(v) == FP_SUBNORMAL)

static uint64_t clock_ns(int realtime)
{
    struct timespec ts;
    clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- memory --------------------------------------------------------------------------------- */
static const char *space_text(int sp)
{
    switch (sp) {
    case BF_PTX_SP_GLOBAL: return "global";
    case BF_PTX_SP_SHARED: return "shared";
    case BF_PTX_SP_LOCAL: return "local";
    case BF_PTX_SP_PARAM: return "param";
    default: return "generic";
    }
}

static const char *op_text(const bf_ptx_insn_t *in)
{
    return in->op == BF_PTX_X_LD ? "load" : in->op == BF_PTX_X_ST ? "store" : "atomic";
}

__attribute__((noinline, cold)) static int mem_fault(bf_ptx_exec_t *x, const bf_ptx_insn_t *in, uint64_t addr,
                                                     unsigned bytes, int space, const char *why)
{
    return bf_ptx_exec_fault(x, in, why[0] == 'm' ? BF_PTX_FAULT_MISALIGNED : BF_PTX_FAULT_ADDRESS, addr,
                             "%s %s of %u bytes at %s address 0x%llx", why, op_text(in), bytes, space_text(space),
                             (unsigned long long)addr);
}

/* Slow path of a global access: a region-cache miss (or a fault). */
__attribute__((noinline)) static int global_lookup(bf_ptx_exec_t *x, const bf_ptx_insn_t *in, uint64_t addr,
                                                   unsigned bytes, int space, uint8_t **host_p)
{
    if (addr & (bytes - 1))
        return mem_fault(x, in, addr, bytes, space, "misaligned");
    bf_ptx_region_t region;
    if (!x->memory || !x->memory->lookup(x->memory->ctx, addr, &region) || addr < region.base ||
        region.size < bytes || addr - region.base > region.size - bytes)
        return mem_fault(x, in, addr, bytes, space, "out-of-bounds");
    bf_ptx_region_cache_t *c = &x->cache[in->cache];
    c->base = region.base;
    c->span = region.size - bytes + 1;
    c->delta = (int64_t)((uintptr_t)region.host - region.base);
    *host_p = (uint8_t *)(uintptr_t)(addr + (uint64_t)c->delta);
    return 0;
}

/* One lane's generic address → host pointer. */
static int generic_one(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, int lane, uint64_t addr,
                       unsigned bytes, uint8_t **host_p)
{
    uint64_t tag = addr >> BF_PTX_WINDOW_SHIFT, off = addr & ((1ull << BF_PTX_WINDOW_SHIFT) - 1);
    if (tag == BF_PTX_WINDOW_SHARED) {
        if (off & (bytes - 1))
            return mem_fault(x, in, addr, bytes, BF_PTX_SP_SHARED, "misaligned");
        if (x->shared_size < bytes || off > x->shared_size - bytes)
            return mem_fault(x, in, addr, bytes, BF_PTX_SP_SHARED, "out-of-bounds");
        *host_p = x->shared + off;
        return 0;
    }
    if (tag == BF_PTX_WINDOW_LOCAL) {
        if (off & (bytes - 1))
            return mem_fault(x, in, addr, bytes, BF_PTX_SP_LOCAL, "misaligned");
        if (x->local_bytes < bytes || off > x->local_bytes - bytes)
            return mem_fault(x, in, addr, bytes, BF_PTX_SP_LOCAL, "out-of-bounds");
        *host_p = w->local + (size_t)lane * x->local_bytes + off;
        return 0;
    }
    if (tag == BF_PTX_WINDOW_PARAM) {
        if (in->op != BF_PTX_X_LD)
            return mem_fault(x, in, addr, bytes, BF_PTX_SP_PARAM, "read-only");
        if (x->params_size < bytes || off > x->params_size - bytes)
            return mem_fault(x, in, addr, bytes, BF_PTX_SP_PARAM, "out-of-bounds");
        *host_p = (uint8_t *)x->params + off;
        return 0;
    }
    const bf_ptx_region_cache_t *c = &x->cache[in->cache];
    if (addr - c->base < c->span && !(addr & (bytes - 1))) {
        *host_p = (uint8_t *)(uintptr_t)(addr + (uint64_t)c->delta);
        return 0;
    }
    return global_lookup(x, in, addr, bytes, BF_PTX_SP_GENERIC, host_p);
}

/*
 * Translates the addresses of the lanes of m into host pointers, checking bounds and alignment
 * (bytes: the whole access, a vector's included). Returns 0, or -1 with x->fault filled.
 */
static inline __attribute__((always_inline)) int translate(bf_ptx_exec_t *x, bf_ptx_warp_t *w,
                                                          const bf_ptx_insn_t *in, uint32_t m, unsigned bytes,
                                                          uint8_t **hp)
{
    const uint8_t *R = w->regs;
    uint64_t ad[W];
    uint64_t imm = (uint64_t)in->imm;
    if (in->flags & BF_PTX_MF_ADDR32) {
        const uint32_t *a = (const uint32_t *)(R + in->a);
        for (int i = 0; i < W; i++)
            ad[i] = (uint64_t)a[i] + imm;
    } else {
        const uint64_t *a = (const uint64_t *)(R + in->a);
        for (int i = 0; i < W; i++)
            ad[i] = a[i] + imm;
    }
    uint64_t bad = 0, amask = bytes - 1;
    switch (in->sub) {
    case BF_PTX_SP_GLOBAL: {
        const bf_ptx_region_cache_t *c = &x->cache[in->cache];
        uint64_t base = c->base, span = c->span;
        for (int i = 0; i < W; i++)
            bad |= ((m >> i) & 1u) & (uint64_t)((ad[i] - base >= span) | ((ad[i] & amask) != 0));
        if (!bad) {
            uint64_t delta = (uint64_t)c->delta;
            for (int i = 0; i < W; i++)
                hp[i] = (uint8_t *)(uintptr_t)(ad[i] + delta);
            return 0;
        }
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            const bf_ptx_region_cache_t *cc = &x->cache[in->cache];
            if (ad[i] - cc->base < cc->span && !(ad[i] & amask))
                hp[i] = (uint8_t *)(uintptr_t)(ad[i] + (uint64_t)cc->delta);
            else if (global_lookup(x, in, ad[i], bytes, BF_PTX_SP_GLOBAL, &hp[i]))
                return -1;
        }
        return 0;
    }
    case BF_PTX_SP_SHARED: {
        uint64_t lim = x->shared_size >= bytes ? x->shared_size - bytes : 0;
        if (x->shared_size < bytes)
            bad = m;
        for (int i = 0; i < W; i++)
            bad |= ((m >> i) & 1u) & (uint64_t)((ad[i] > lim) | ((ad[i] & amask) != 0));
        if (bad) {
            int i = __builtin_ctz((uint32_t)m);
            for (uint32_t mm = m; mm; mm &= mm - 1) {
                i = __builtin_ctz(mm);
                if (ad[i] > lim || (ad[i] & amask) || x->shared_size < bytes)
                    break;
            }
            return mem_fault(x, in, ad[i], bytes, BF_PTX_SP_SHARED, (ad[i] & amask) ? "misaligned" : "out-of-bounds");
        }
        /* Integer arithmetic: inactive lanes may hold any address and are never dereferenced. */
        uintptr_t base = (uintptr_t)x->shared;
        for (int i = 0; i < W; i++)
            hp[i] = (uint8_t *)(base + (uintptr_t)ad[i]);
        return 0;
    }
    case BF_PTX_SP_LOCAL:
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            if (ad[i] & amask)
                return mem_fault(x, in, ad[i], bytes, BF_PTX_SP_LOCAL, "misaligned");
            if (x->local_bytes < bytes || ad[i] > x->local_bytes - bytes)
                return mem_fault(x, in, ad[i], bytes, BF_PTX_SP_LOCAL, "out-of-bounds");
            hp[i] = w->local + (size_t)i * x->local_bytes + ad[i];
        }
        return 0;
    case BF_PTX_SP_PARAM:
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            if (x->params_size < bytes || ad[i] > x->params_size - bytes)
                return mem_fault(x, in, ad[i], bytes, BF_PTX_SP_PARAM, "out-of-bounds");
            hp[i] = (uint8_t *)x->params + ad[i];
        }
        return 0;
    default:
        for (uint32_t mm = m; mm; mm &= mm - 1) {
            int i = __builtin_ctz(mm);
            if (generic_one(x, w, in, i, ad[i], bytes, &hp[i]))
                return -1;
        }
        return 0;
    }
}

#define LD_LOOP(TD, TS, OFF)                                                                      \
    do {                                                                                          \
        if (m == FULL)                                                                            \
            for (int i = 0; i < W; i++) {                                                         \
                TS v_;                                                                            \
                memcpy(&v_, hp[i] + (OFF), sizeof(v_));                                           \
                d[i] = (TD)v_;                                                                    \
            }                                                                                     \
        else                                                                                      \
            for (uint32_t mm = m; mm; mm &= mm - 1) {                                             \
                int i = __builtin_ctz(mm);                                                        \
                TS v_;                                                                            \
                memcpy(&v_, hp[i] + (OFF), sizeof(v_));                                           \
                d[i] = (TD)v_;                                                                    \
            }                                                                                     \
    } while (0)

static inline __attribute__((always_inline)) void load_data(uint8_t *R, const bf_ptx_insn_t *in, uint32_t m,
                                                           uint8_t *const *hp)
{
    int sg = (in->flags & BF_PTX_MF_SIGNED) != 0;
    for (int k = 0; k < in->n; k++) {
        size_t off = (size_t)k * in->w;
        if (in->flags & BF_PTX_MF_DATA64) {
            uint64_t *d = (uint64_t *)(R + in->v[k]);
            switch (in->w) {
            case 1: if (sg) LD_LOOP(int64_t, int8_t, off); else LD_LOOP(uint64_t, uint8_t, off); break;
            case 2: if (sg) LD_LOOP(int64_t, int16_t, off); else LD_LOOP(uint64_t, uint16_t, off); break;
            case 4: if (sg) LD_LOOP(int64_t, int32_t, off); else LD_LOOP(uint64_t, uint32_t, off); break;
            default: LD_LOOP(uint64_t, uint64_t, off); break;
            }
        } else {
            uint32_t *d = (uint32_t *)(R + in->v[k]);
            switch (in->w) {
            case 1: if (sg) LD_LOOP(int32_t, int8_t, off); else LD_LOOP(uint32_t, uint8_t, off); break;
            case 2: if (sg) LD_LOOP(int32_t, int16_t, off); else LD_LOOP(uint32_t, uint16_t, off); break;
            default: LD_LOOP(uint32_t, uint32_t, off); break;
            }
        }
    }
}

#define ST_LOOP(TS, TD, OFF)                                                                      \
    do {                                                                                          \
        for (uint32_t mm = m; mm; mm &= mm - 1) {                                                 \
            int i = __builtin_ctz(mm);                                                            \
            TD v_ = (TD)s[i];                                                                     \
            memcpy(hp[i] + (OFF), &v_, sizeof(v_));                                               \
        }                                                                                         \
    } while (0)

static inline __attribute__((always_inline)) void store_data(const uint8_t *R, const bf_ptx_insn_t *in, uint32_t m,
                                                            uint8_t *const *hp)
{
    for (int k = 0; k < in->n; k++) {
        size_t off = (size_t)k * in->w;
        if (in->flags & BF_PTX_MF_DATA64) {
            const uint64_t *s = (const uint64_t *)(R + in->v[k]);
            switch (in->w) {
            case 1: ST_LOOP(uint64_t, uint8_t, off); break;
            case 2: ST_LOOP(uint64_t, uint16_t, off); break;
            case 4: ST_LOOP(uint64_t, uint32_t, off); break;
            default: ST_LOOP(uint64_t, uint64_t, off); break;
            }
        } else {
            const uint32_t *s = (const uint32_t *)(R + in->v[k]);
            switch (in->w) {
            case 1: ST_LOOP(uint32_t, uint8_t, off); break;
            case 2: ST_LOOP(uint32_t, uint16_t, off); break;
            default: ST_LOOP(uint32_t, uint32_t, off); break;
            }
        }
    }
}

/* One lane's atomic operation; returns the old value. Sequentially consistent, which is at least
 * what every PTX ordering asks for. */
static uint64_t atomic_one(const bf_ptx_insn_t *in, uint8_t *p, uint64_t b, uint64_t c)
{
    const int mo = __ATOMIC_SEQ_CST;
    if (in->w == 2) { /* atom.cas.b16 */
        uint16_t expected = (uint16_t)b;
        __atomic_compare_exchange_n((uint16_t *)p, &expected, (uint16_t)c, 0, mo, mo);
        return expected;
    }
    if (in->w == 4) {
        uint32_t *q = (uint32_t *)p, old = __atomic_load_n(q, mo), nv;
        uint32_t bv = (uint32_t)b, cv = (uint32_t)c;
        switch (in->n) {
        case BF_PTX_ATOM_ADD:
            if (in->kind == BF_PTX_K_F32) {
                do
                    nv = bits_f32(f32_bits(old) + f32_bits(bv));
                while (!__atomic_compare_exchange_n(q, &old, nv, 1, mo, mo));
                return old;
            }
            return __atomic_fetch_add(q, bv, mo);
        case BF_PTX_ATOM_EXCH: return __atomic_exchange_n(q, bv, mo);
        case BF_PTX_ATOM_AND: return __atomic_fetch_and(q, bv, mo);
        case BF_PTX_ATOM_OR: return __atomic_fetch_or(q, bv, mo);
        case BF_PTX_ATOM_XOR: return __atomic_fetch_xor(q, bv, mo);
        case BF_PTX_ATOM_CAS:
            __atomic_compare_exchange_n(q, &bv, cv, 0, mo, mo);
            return bv;
        default:
            do {
                switch (in->n) {
                case BF_PTX_ATOM_MIN:
                    nv = in->kind == BF_PTX_K_S32 ? ((int32_t)bv < (int32_t)old ? bv : old) : (bv < old ? bv : old);
                    break;
                case BF_PTX_ATOM_MAX:
                    nv = in->kind == BF_PTX_K_S32 ? ((int32_t)bv > (int32_t)old ? bv : old) : (bv > old ? bv : old);
                    break;
                case BF_PTX_ATOM_INC: nv = old >= bv ? 0 : old + 1; break;
                default: nv = (old == 0 || old > bv) ? bv : old - 1; break;
                }
            } while (!__atomic_compare_exchange_n(q, &old, nv, 1, mo, mo));
            return old;
        }
    }
    uint64_t *q = (uint64_t *)p, old = __atomic_load_n(q, mo), nv;
    switch (in->n) {
    case BF_PTX_ATOM_ADD:
        if (in->kind == BF_PTX_K_F64) {
            do {
                double f, g;
                memcpy(&f, &old, 8);
                memcpy(&g, &b, 8);
                f += g;
                memcpy(&nv, &f, 8);
            } while (!__atomic_compare_exchange_n(q, &old, nv, 1, mo, mo));
            return old;
        }
        return __atomic_fetch_add(q, b, mo);
    case BF_PTX_ATOM_EXCH: return __atomic_exchange_n(q, b, mo);
    case BF_PTX_ATOM_AND: return __atomic_fetch_and(q, b, mo);
    case BF_PTX_ATOM_OR: return __atomic_fetch_or(q, b, mo);
    case BF_PTX_ATOM_XOR: return __atomic_fetch_xor(q, b, mo);
    case BF_PTX_ATOM_CAS:
        __atomic_compare_exchange_n(q, &b, c, 0, mo, mo);
        return b;
    default:
        do {
            if (in->n == BF_PTX_ATOM_MIN)
                nv = in->kind == BF_PTX_K_S64 ? ((int64_t)b < (int64_t)old ? b : old) : (b < old ? b : old);
            else
                nv = in->kind == BF_PTX_K_S64 ? ((int64_t)b > (int64_t)old ? b : old) : (b > old ? b : old);
        } while (!__atomic_compare_exchange_n(q, &old, nv, 1, mo, mo));
        return old;
    }
}

/* --- the interpreter ------------------------------------------------------------------------ */
static int grow_stack(bf_ptx_warp_t *w)
{
    uint32_t cap = w->stack_cap * 2;
    bf_ptx_stack_entry_t *s = realloc(w->stack, cap * sizeof(*s));
    if (!s)
        return -1;
    w->stack = s;
    w->stack_cap = cap;
    return 0;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
/* A clone for AVX2+FMA machines (fmaf becomes one instruction, lane loops twice as wide), picked at
 * load time; the default clone runs anywhere. */
#define BF_PTX_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BF_PTX_CLONES
#endif

BF_PTX_CLONES
int bf_ptx_warp_run(bf_ptx_exec_t *x, bf_ptx_warp_t *w)
{
    const bf_ptx_insn_t *code = x->k->code;
    uint8_t *R = w->regs;
    bf_ptx_stack_entry_t *top = &w->stack[w->sp];
    uint32_t pc = w->pc, rpc = top->rpc, act = top->mask & ~w->exited;
    const int counting = x->counting;
    uint64_t lanes = 0;
    int result;

    for (;;) {
        if (__builtin_expect(pc == rpc || act == 0, 0)) {
            if (w->sp == w->call_floor) {
                /* The callee's lanes all returned (or exited): back to the caller. */
                pc = bf_ptx_exec_return(x, w);
                top = &w->stack[w->sp];
                rpc = top->rpc;
                act = top->mask & ~w->exited;
                continue;
            }
            if (w->sp == 0) {
                /* The bottom entry never reconverges: its lanes have all exited. */
                w->exited = FULL;
                result = BF_PTX_WARP_DONE;
                goto out;
            }
            w->sp--;
            top = &w->stack[w->sp];
            pc = top->pc;
            rpc = top->rpc;
            act = top->mask & ~w->exited;
            continue;
        }
        const bf_ptx_insn_t *in = &code[pc];
        const uint32_t m = act & (PW(in->guard) ^ in->gneg);
        if (counting)
            lanes += (uint64_t)__builtin_popcount(m);
        if (!m) {
            pc++;
            continue;
        }
        switch ((bf_ptx_xop_t)in->op) {
        case BF_PTX_X_NOP: break;
        case BF_PTX_X_MOV_32: UN(uint32_t, uint32_t, a[i]);
        case BF_PTX_X_MOV_64: UN(uint64_t, uint64_t, a[i]);
        case BF_PTX_X_PACK_64: BIN(uint64_t, uint32_t, uint32_t, (uint64_t)a[i] | (uint64_t)b[i] << 32);
        case BF_PTX_X_PACK_32: BIN(uint32_t, uint32_t, uint32_t, (a[i] & 0xffffu) | b[i] << 16);
        case BF_PTX_X_UNPACK_64: {
            const uint64_t *a = (const uint64_t *)(R + in->a);
            uint32_t lo[W], hi[W];
            for (int i = 0; i < W; i++) {
                lo[i] = (uint32_t)a[i];
                hi[i] = (uint32_t)(a[i] >> 32);
            }
            STORE(uint32_t, in->d, lo);
            STORE(uint32_t, in->e, hi);
            break;
        }
        case BF_PTX_X_UNPACK_32: {
            const uint32_t *a = (const uint32_t *)(R + in->a);
            uint32_t lo[W], hi[W];
            for (int i = 0; i < W; i++) {
                lo[i] = a[i] & 0xffffu;
                hi[i] = a[i] >> 16;
            }
            STORE(uint32_t, in->d, lo);
            STORE(uint32_t, in->e, hi);
            break;
        }
        case BF_PTX_X_CVT_II: {
            uint64_t src[W], t[W];
            if (in->flags & 1) {
                const uint64_t *a = (const uint64_t *)(R + in->a);
                for (int i = 0; i < W; i++)
                    src[i] = a[i];
            } else {
                const uint32_t *a = (const uint32_t *)(R + in->a);
                for (int i = 0; i < W; i++)
                    src[i] = a[i];
            }
            const int sat = (in->flags & 4) != 0;
            if (in->imm == BF_PTX_CVT_II(32, 1, 64, 1) && !sat) {
                for (int i = 0; i < W; i++)
                    t[i] = (uint64_t)(int64_t)(int32_t)src[i];
            } else if ((in->imm == BF_PTX_CVT_II(32, 0, 64, 0) || in->imm == BF_PTX_CVT_II(64, 0, 32, 0)) && !sat) {
                for (int i = 0; i < W; i++)
                    t[i] = in->imm == BF_PTX_CVT_II(64, 0, 32, 0) ? (uint32_t)src[i] : src[i];
            } else {
                for (int i = 0; i < W; i++)
                    t[i] = cvt_ii(src[i], in->imm, sat);
            }
            if (in->flags & 2) {
                STORE(uint64_t, in->d, t);
            } else {
                uint32_t t32[W];
                for (int i = 0; i < W; i++)
                    t32[i] = (uint32_t)t[i];
                STORE(uint32_t, in->d, t32);
            }
            break;
        }
        case BF_PTX_X_CVT_F32_F64: UN(float, double, round_f32((long double)a[i], in->rnd));
        case BF_PTX_X_CVT_F64_F32: UN(double, float, (double)a[i]);
        case BF_PTX_X_CVT_RI_F32: UN(float, float, (float)round_int(a[i], in->rnd));
        case BF_PTX_X_CVT_RI_F64: UN(double, double, round_int(a[i], in->rnd));
        case BF_PTX_X_CVT_I2F32:
            if (in->rnd == BF_PTX_RND_N) {
                switch (in->kind) {
                case BF_PTX_K_S32: UN(float, int32_t, (float)a[i]);
                case BF_PTX_K_U32: UN(float, uint32_t, (float)a[i]);
                case BF_PTX_K_S64: UN(float, int64_t, (float)a[i]);
                default: UN(float, uint64_t, (float)a[i]);
                }
            } else if (in->kind == BF_PTX_K_S32 || in->kind == BF_PTX_K_U32) {
                UN(float, uint32_t, round_f32(int_value(a[i], in->kind), in->rnd));
            } else {
                UN(float, uint64_t, round_f32(int_value(a[i], in->kind), in->rnd));
            }
            break;
        case BF_PTX_X_CVT_I2F64:
            switch (in->kind) {
            case BF_PTX_K_S32: UN(double, int32_t, (double)a[i]);
            case BF_PTX_K_U32: UN(double, uint32_t, (double)a[i]);
            default:
                if (in->rnd == BF_PTX_RND_N) {
                    if (in->kind == BF_PTX_K_S64) {
                        UN(double, int64_t, (double)a[i]);
                    } else {
                        UN(double, uint64_t, (double)a[i]);
                    }
                } else {
                    UN(double, uint64_t, round_f64(int_value(a[i], in->kind), in->rnd));
                }
            }
            break;
        case BF_PTX_X_CVT_F32_2I:
            if (in->kind == BF_PTX_K_U64 || in->kind == BF_PTX_K_S64) {
                UN(uint64_t, float, cvt_f2i(a[i], in->rnd, in->imm));
            } else {
                UN(uint32_t, float, (uint32_t)cvt_f2i(a[i], in->rnd, in->imm));
            }
        case BF_PTX_X_CVT_F64_2I:
            if (in->kind == BF_PTX_K_U64 || in->kind == BF_PTX_K_S64) {
                UN(uint64_t, double, cvt_f2i(a[i], in->rnd, in->imm));
            } else {
                UN(uint32_t, double, (uint32_t)cvt_f2i(a[i], in->rnd, in->imm));
            }
        case BF_PTX_X_CVT_F16_F32: UN(uint32_t, uint32_t, f32_to_f16(a[i]));
        case BF_PTX_X_CVT_F32_F16: UN(uint32_t, uint32_t, f16_to_f32(a[i] & 0xffffu));
        case BF_PTX_X_FTZ_F32: UN(uint32_t, uint32_t, ftz32(a[i]));
        case BF_PTX_X_SAT_F32: UN(float, float, sat_f32(a[i]));
        case BF_PTX_X_SAT_F64: UN(double, double, sat_f64(a[i]));

        case BF_PTX_X_ADD_I32: BIN(uint32_t, uint32_t, uint32_t, a[i] + b[i]);
        case BF_PTX_X_ADD_I64: BIN(uint64_t, uint64_t, uint64_t, a[i] + b[i]);
        case BF_PTX_X_SUB_I32: BIN(uint32_t, uint32_t, uint32_t, a[i] - b[i]);
        case BF_PTX_X_SUB_I64: BIN(uint64_t, uint64_t, uint64_t, a[i] - b[i]);
        case BF_PTX_X_MULLO_I32: BIN(uint32_t, uint32_t, uint32_t, a[i] * b[i]);
        case BF_PTX_X_MULLO_I64: BIN(uint64_t, uint64_t, uint64_t, a[i] * b[i]);
        case BF_PTX_X_MULHI_U32: BIN(uint32_t, uint32_t, uint32_t, (uint32_t)(((uint64_t)a[i] * b[i]) >> 32));
        case BF_PTX_X_MULHI_S32: BIN(uint32_t, int32_t, int32_t, (uint32_t)(((int64_t)a[i] * b[i]) >> 32));
        case BF_PTX_X_MULHI_U64:
            BIN(uint64_t, uint64_t, uint64_t, (uint64_t)(((unsigned __int128)a[i] * b[i]) >> 64));
        case BF_PTX_X_MULHI_S64: BIN(uint64_t, int64_t, int64_t, (uint64_t)(((__int128)a[i] * b[i]) >> 64));
        case BF_PTX_X_MULWIDE_U32: BIN(uint64_t, uint32_t, uint32_t, (uint64_t)a[i] * b[i]);
        case BF_PTX_X_MULWIDE_S32: BIN(uint64_t, int32_t, int32_t, (uint64_t)((int64_t)a[i] * b[i]));
        case BF_PTX_X_MADLO_I32: TER(uint32_t, uint32_t, uint32_t, uint32_t, a[i] * b[i] + c[i]);
        case BF_PTX_X_MADLO_I64: TER(uint64_t, uint64_t, uint64_t, uint64_t, a[i] * b[i] + c[i]);
        case BF_PTX_X_MADHI_U32:
            TER(uint32_t, uint32_t, uint32_t, uint32_t, (uint32_t)(((uint64_t)a[i] * b[i]) >> 32) + c[i]);
        case BF_PTX_X_MADHI_S32:
            TER(uint32_t, int32_t, int32_t, uint32_t, (uint32_t)(((int64_t)a[i] * b[i]) >> 32) + c[i]);
        case BF_PTX_X_MADHI_U64:
            TER(uint64_t, uint64_t, uint64_t, uint64_t, (uint64_t)(((unsigned __int128)a[i] * b[i]) >> 64) + c[i]);
        case BF_PTX_X_MADHI_S64:
            TER(uint64_t, int64_t, int64_t, uint64_t, (uint64_t)(((__int128)a[i] * b[i]) >> 64) + c[i]);
        case BF_PTX_X_MADWIDE_U32: TER(uint64_t, uint32_t, uint32_t, uint64_t, (uint64_t)a[i] * b[i] + c[i]);
        case BF_PTX_X_MADWIDE_S32:
            TER(uint64_t, int32_t, int32_t, uint64_t, (uint64_t)((int64_t)a[i] * b[i]) + c[i]);
        case BF_PTX_X_MUL24_U32: BIN(uint32_t, uint32_t, uint32_t, (a[i] & 0xffffffu) * (b[i] & 0xffffffu));
        case BF_PTX_X_MUL24_S32:
            BIN(uint32_t, uint32_t, uint32_t,
                (uint32_t)((int32_t)(a[i] << 8) >> 8) * (uint32_t)((int32_t)(b[i] << 8) >> 8));
        case BF_PTX_X_DIV_U32: BIN(uint32_t, uint32_t, uint32_t, div_u32(a[i], b[i]));
        case BF_PTX_X_DIV_S32: BIN(int32_t, int32_t, int32_t, div_s32(a[i], b[i]));
        case BF_PTX_X_DIV_U64: BIN(uint64_t, uint64_t, uint64_t, div_u64(a[i], b[i]));
        case BF_PTX_X_DIV_S64: BIN(int64_t, int64_t, int64_t, div_s64(a[i], b[i]));
        case BF_PTX_X_REM_U32: BIN(uint32_t, uint32_t, uint32_t, rem_u32(a[i], b[i]));
        case BF_PTX_X_REM_S32: BIN(int32_t, int32_t, int32_t, rem_s32(a[i], b[i]));
        case BF_PTX_X_REM_U64: BIN(uint64_t, uint64_t, uint64_t, rem_u64(a[i], b[i]));
        case BF_PTX_X_REM_S64: BIN(int64_t, int64_t, int64_t, rem_s64(a[i], b[i]));
        case BF_PTX_X_MIN_U32: BIN(uint32_t, uint32_t, uint32_t, a[i] < b[i] ? a[i] : b[i]);
        case BF_PTX_X_MIN_S32: BIN(int32_t, int32_t, int32_t, a[i] < b[i] ? a[i] : b[i]);
        case BF_PTX_X_MIN_U64: BIN(uint64_t, uint64_t, uint64_t, a[i] < b[i] ? a[i] : b[i]);
        case BF_PTX_X_MIN_S64: BIN(int64_t, int64_t, int64_t, a[i] < b[i] ? a[i] : b[i]);
        case BF_PTX_X_MAX_U32: BIN(uint32_t, uint32_t, uint32_t, a[i] > b[i] ? a[i] : b[i]);
        case BF_PTX_X_MAX_S32: BIN(int32_t, int32_t, int32_t, a[i] > b[i] ? a[i] : b[i]);
        case BF_PTX_X_MAX_U64: BIN(uint64_t, uint64_t, uint64_t, a[i] > b[i] ? a[i] : b[i]);
        case BF_PTX_X_MAX_S64: BIN(int64_t, int64_t, int64_t, a[i] > b[i] ? a[i] : b[i]);
        case BF_PTX_X_NEG_I32: UN(uint32_t, uint32_t, 0u - a[i]);
        case BF_PTX_X_NEG_I64: UN(uint64_t, uint64_t, 0ull - a[i]);
        case BF_PTX_X_ABS_S32: UN(uint32_t, int32_t, a[i] < 0 ? 0u - (uint32_t)a[i] : (uint32_t)a[i]);
        case BF_PTX_X_ABS_S64: UN(uint64_t, int64_t, a[i] < 0 ? 0ull - (uint64_t)a[i] : (uint64_t)a[i]);
        case BF_PTX_X_ADDSAT_S32: {
            BIN(int32_t, int32_t, int32_t,
                (int32_t)((int64_t)a[i] + b[i] > INT32_MAX ? INT32_MAX
                          : (int64_t)a[i] + b[i] < INT32_MIN ? INT32_MIN : (int64_t)a[i] + b[i]));
        }
        case BF_PTX_X_SUBSAT_S32: {
            BIN(int32_t, int32_t, int32_t,
                (int32_t)((int64_t)a[i] - b[i] > INT32_MAX ? INT32_MAX
                          : (int64_t)a[i] - b[i] < INT32_MIN ? INT32_MIN : (int64_t)a[i] - b[i]));
        }
        case BF_PTX_X_AND_32: BIN(uint32_t, uint32_t, uint32_t, a[i] & b[i]);
        case BF_PTX_X_AND_64: BIN(uint64_t, uint64_t, uint64_t, a[i] & b[i]);
        case BF_PTX_X_OR_32: BIN(uint32_t, uint32_t, uint32_t, a[i] | b[i]);
        case BF_PTX_X_OR_64: BIN(uint64_t, uint64_t, uint64_t, a[i] | b[i]);
        case BF_PTX_X_XOR_32: BIN(uint32_t, uint32_t, uint32_t, a[i] ^ b[i]);
        case BF_PTX_X_XOR_64: BIN(uint64_t, uint64_t, uint64_t, a[i] ^ b[i]);
        case BF_PTX_X_NOT_32: UN(uint32_t, uint32_t, ~a[i]);
        case BF_PTX_X_NOT_64: UN(uint64_t, uint64_t, ~a[i]);
        case BF_PTX_X_CNOT_32: UN(uint32_t, uint32_t, a[i] == 0);
        case BF_PTX_X_CNOT_64: UN(uint64_t, uint64_t, a[i] == 0);
        case BF_PTX_X_SHL_32: BIN(uint32_t, uint32_t, uint32_t, b[i] >= 32 ? 0 : a[i] << b[i]);
        case BF_PTX_X_SHL_64: BIN(uint64_t, uint64_t, uint32_t, b[i] >= 64 ? 0 : a[i] << b[i]);
        case BF_PTX_X_SHR_U32: BIN(uint32_t, uint32_t, uint32_t, b[i] >= 32 ? 0 : a[i] >> b[i]);
        case BF_PTX_X_SHR_S32: BIN(int32_t, int32_t, uint32_t, a[i] >> (b[i] >= 32 ? 31 : b[i]));
        case BF_PTX_X_SHR_U64: BIN(uint64_t, uint64_t, uint32_t, b[i] >= 64 ? 0 : a[i] >> b[i]);
        case BF_PTX_X_SHR_S64: BIN(int64_t, int64_t, uint32_t, a[i] >> (b[i] >= 64 ? 63 : b[i]));
        case BF_PTX_X_POPC_32: UN(uint32_t, uint32_t, (uint32_t)__builtin_popcount(a[i]));
        case BF_PTX_X_POPC_64: UN(uint32_t, uint64_t, (uint32_t)__builtin_popcountll(a[i]));
        case BF_PTX_X_CLZ_32: UN(uint32_t, uint32_t, a[i] ? (uint32_t)__builtin_clz(a[i]) : 32u);
        case BF_PTX_X_CLZ_64: UN(uint32_t, uint64_t, a[i] ? (uint32_t)__builtin_clzll(a[i]) : 64u);
        case BF_PTX_X_BREV_32: UN(uint32_t, uint32_t, brev32(a[i]));
        case BF_PTX_X_BREV_64: UN(uint64_t, uint64_t, brev64(a[i]));
        case BF_PTX_X_BFE_U32: TER(uint32_t, uint32_t, uint32_t, uint32_t, (uint32_t)bfe(a[i], b[i], c[i], 32, 0));
        case BF_PTX_X_BFE_S32: TER(uint32_t, uint32_t, uint32_t, uint32_t, (uint32_t)bfe(a[i], b[i], c[i], 32, 1));
        case BF_PTX_X_BFE_U64: TER(uint64_t, uint64_t, uint32_t, uint32_t, bfe(a[i], b[i], c[i], 64, 0));
        case BF_PTX_X_BFE_S64: TER(uint64_t, uint64_t, uint32_t, uint32_t, bfe(a[i], b[i], c[i], 64, 1));
        case BF_PTX_X_BFI_32: {
            const uint32_t *e = (const uint32_t *)(R + in->e);
            TER(uint32_t, uint32_t, uint32_t, uint32_t, (uint32_t)bfi(a[i], b[i], c[i], e[i], 32));
        }
        case BF_PTX_X_BFI_64: {
            const uint32_t *e = (const uint32_t *)(R + in->e);
            TER(uint64_t, uint64_t, uint64_t, uint32_t, bfi(a[i], b[i], c[i], e[i], 64));
        }
        case BF_PTX_X_PRMT: TER(uint32_t, uint32_t, uint32_t, uint32_t, prmt(a[i], b[i], c[i]));
        case BF_PTX_X_LOP3_32: TER(uint32_t, uint32_t, uint32_t, uint32_t, lop3(a[i], b[i], c[i], (uint32_t)in->imm));

        case BF_PTX_X_ADD_F32: BIN(float, float, float, a[i] + b[i]);
        case BF_PTX_X_ADD_F64: BIN(double, double, double, a[i] + b[i]);
        case BF_PTX_X_SUB_F32: BIN(float, float, float, a[i] - b[i]);
        case BF_PTX_X_SUB_F64: BIN(double, double, double, a[i] - b[i]);
        case BF_PTX_X_MUL_F32: BIN(float, float, float, a[i] * b[i]);
        case BF_PTX_X_MUL_F64: BIN(double, double, double, a[i] * b[i]);
        case BF_PTX_X_FMA_F32: TER(float, float, float, float, fmaf(a[i], b[i], c[i]));
        case BF_PTX_X_FMA_F64: TER(double, double, double, double, fma(a[i], b[i], c[i]));
        case BF_PTX_X_DIV_F32: BIN(float, float, float, a[i] / b[i]);
        case BF_PTX_X_DIV_F64: BIN(double, double, double, a[i] / b[i]);
        case BF_PTX_X_MIN_F32: BIN(float, float, float, min_f32(a[i], b[i]));
        case BF_PTX_X_MIN_F64: BIN(double, double, double, min_f64(a[i], b[i]));
        case BF_PTX_X_MAX_F32: BIN(float, float, float, max_f32(a[i], b[i]));
        case BF_PTX_X_MAX_F64: BIN(double, double, double, max_f64(a[i], b[i]));
        case BF_PTX_X_NEG_F32: UN(uint32_t, uint32_t, a[i] ^ 0x80000000u);
        case BF_PTX_X_NEG_F64: UN(uint64_t, uint64_t, a[i] ^ 0x8000000000000000ull);
        case BF_PTX_X_ABS_F32: UN(uint32_t, uint32_t, a[i] & 0x7fffffffu);
        case BF_PTX_X_ABS_F64: UN(uint64_t, uint64_t, a[i] & 0x7fffffffffffffffull);
        case BF_PTX_X_RCP_F32: UN(float, float, 1.0f / a[i]);
        case BF_PTX_X_RCP_F64: UN(double, double, 1.0 / a[i]);
        case BF_PTX_X_SQRT_F32: UN(float, float, sqrtf(a[i]));
        case BF_PTX_X_SQRT_F64: UN(double, double, sqrt(a[i]));
        case BF_PTX_X_RSQRT_F32: UN(float, float, 1.0f / sqrtf(a[i]));
        case BF_PTX_X_RSQRT_F64: UN(double, double, 1.0 / sqrt(a[i]));
        case BF_PTX_X_EX2_F32: UN(float, float, exp2f(a[i]));
        case BF_PTX_X_LG2_F32: UN(float, float, log2f(a[i]));
        case BF_PTX_X_SIN_F32: UN(float, float, sinf(a[i]));
        case BF_PTX_X_COS_F32: UN(float, float, cosf(a[i]));
        case BF_PTX_X_TANH_F32: UN(float, float, tanhf(a[i]));
        case BF_PTX_X_COPYSIGN_F32: BIN(float, float, float, copysignf(b[i], a[i]));
        case BF_PTX_X_COPYSIGN_F64: BIN(double, double, double, copysign(b[i], a[i]));
        case BF_PTX_X_TESTP_F32:
        case BF_PTX_X_TESTP_F64: {
            uint32_t r = 0;
            for (int i = 0; i < W; i++) {
                int t;
                if (in->op == BF_PTX_X_TESTP_F32) {
                    float v = ((const float *)(R + in->a))[i];
                    t = TESTP(v, in->sub);
                } else {
                    double v = ((const double *)(R + in->a))[i];
                    t = TESTP(v, in->sub);
                }
                r |= (uint32_t)(t != 0) << i;
            }
            PSTORE(in->d, r);
            break;
        }

        case BF_PTX_X_SETP_U32:
        case BF_PTX_X_SETP_S32:
        case BF_PTX_X_SETP_U64:
        case BF_PTX_X_SETP_S64:
        case BF_PTX_X_SETP_F32:
        case BF_PTX_X_SETP_F64: {
            uint32_t r = 0;
            switch (in->op) {
            case BF_PTX_X_SETP_U32: INT_CMPS(uint32_t) break;
            case BF_PTX_X_SETP_S32: INT_CMPS(int32_t) break;
            case BF_PTX_X_SETP_U64: INT_CMPS(uint64_t) break;
            case BF_PTX_X_SETP_S64: INT_CMPS(int64_t) break;
            case BF_PTX_X_SETP_F32: FLT_CMPS(float) break;
            default: FLT_CMPS(double) break;
            }
            uint32_t p = r, q = ~r;
            if (in->n) {
                uint32_t c = PW(in->c) ^ ((in->flags & BF_PTX_SF_NEGC) ? FULL : 0);
                switch (in->n) {
                case BF_PTX_BOOL_AND: p &= c; q &= c; break;
                case BF_PTX_BOOL_OR: p |= c; q |= c; break;
                default: p ^= c; q ^= c; break;
                }
            }
            PSTORE(in->d, p);
            if (in->flags & BF_PTX_SF_PAIR)
                PSTORE(in->e, q);
            break;
        }
        case BF_PTX_X_SELP_32: {
            const uint32_t pc_ = PW(in->c);
            BIN(uint32_t, uint32_t, uint32_t, ((pc_ >> i) & 1u) ? a[i] : b[i]);
        }
        case BF_PTX_X_SELP_64: {
            const uint32_t pc_ = PW(in->c);
            BIN(uint64_t, uint64_t, uint64_t, ((pc_ >> i) & 1u) ? a[i] : b[i]);
        }
        case BF_PTX_X_PAND: PSTORE(in->d, PW(in->a) & PW(in->b)); break;
        case BF_PTX_X_POR: PSTORE(in->d, PW(in->a) | PW(in->b)); break;
        case BF_PTX_X_PXOR: PSTORE(in->d, PW(in->a) ^ PW(in->b)); break;
        case BF_PTX_X_PNOT: PSTORE(in->d, ~PW(in->a)); break;
        case BF_PTX_X_PMOV: PSTORE(in->d, PW(in->a)); break;

        case BF_PTX_X_ADDC_32:
        case BF_PTX_X_SUBC_32:
        case BF_PTX_X_MADC_32: {
            const uint32_t *a = P32(in->a), *b = P32(in->b), *c = P32(in->c);
            const uint32_t cin = (in->flags & BF_PTX_CF_IN) ? PW(in->e) : 0;
            uint32_t t[W], cout = 0;
            for (int i = 0; i < W; i++) {
                uint64_t ci = (cin >> i) & 1u, v;
                if (in->op == BF_PTX_X_ADDC_32) {
                    v = (uint64_t)a[i] + b[i] + ci;
                } else if (in->op == BF_PTX_X_SUBC_32) {
                    v = (uint64_t)a[i] - b[i] - ci;
                    v = (v & 0xffffffffu) | ((v >> 63) << 32); /* borrow */
                } else {
                    uint64_t p = (in->flags & BF_PTX_CF_SIGNED) && (in->flags & BF_PTX_CF_HI)
                                     ? (uint64_t)((int64_t)(int32_t)a[i] * (int32_t)b[i])
                                     : (uint64_t)a[i] * b[i];
                    v = (uint64_t)((in->flags & BF_PTX_CF_HI) ? (uint32_t)(p >> 32) : (uint32_t)p) + c[i] + ci;
                }
                t[i] = (uint32_t)v;
                cout |= (uint32_t)((v >> 32) & 1u) << i;
            }
            STORE(uint32_t, in->d, t);
            if (in->flags & BF_PTX_CF_OUT)
                PSTORE(in->e, cout);
            break;
        }
        case BF_PTX_X_ADDC_64:
        case BF_PTX_X_SUBC_64:
        case BF_PTX_X_MADC_64: {
            const uint64_t *a = (const uint64_t *)(R + in->a), *b = (const uint64_t *)(R + in->b);
            const uint64_t *c = (const uint64_t *)(R + in->c);
            const uint32_t cin = (in->flags & BF_PTX_CF_IN) ? PW(in->e) : 0;
            uint64_t t[W];
            uint32_t cout = 0;
            for (int i = 0; i < W; i++) {
                unsigned __int128 ci = (cin >> i) & 1u, v;
                if (in->op == BF_PTX_X_ADDC_64) {
                    v = (unsigned __int128)a[i] + b[i] + ci;
                } else if (in->op == BF_PTX_X_SUBC_64) {
                    v = (unsigned __int128)a[i] - b[i] - ci;
                    v = (v & ~0ull) | ((unsigned __int128)(uint64_t)(v >> 127) << 64);
                } else {
                    unsigned __int128 p = (in->flags & BF_PTX_CF_SIGNED) && (in->flags & BF_PTX_CF_HI)
                                              ? (unsigned __int128)((__int128)(int64_t)a[i] * (int64_t)b[i])
                                              : (unsigned __int128)a[i] * b[i];
                    v = (unsigned __int128)((in->flags & BF_PTX_CF_HI) ? (uint64_t)(p >> 64) : (uint64_t)p) + c[i] + ci;
                }
                t[i] = (uint64_t)v;
                cout |= (uint32_t)((uint64_t)(v >> 64) & 1u) << i;
            }
            STORE(uint64_t, in->d, t);
            if (in->flags & BF_PTX_CF_OUT)
                PSTORE(in->e, cout);
            break;
        }
        case BF_PTX_X_FDIR_F32: TER(float, float, float, float, fdir_f32(a[i], b[i], c[i], in->sub, in->rnd));
        case BF_PTX_X_FDIR_F64: TER(double, double, double, double, fdir_f64(a[i], b[i], c[i], in->sub, in->rnd));
        case BF_PTX_X_BFIND_U32: UN(uint32_t, uint32_t, bfind32(a[i], 0, in->flags));
        case BF_PTX_X_BFIND_S32: UN(uint32_t, uint32_t, bfind32(a[i], 1, in->flags));
        case BF_PTX_X_BFIND_U64: UN(uint32_t, uint64_t, bfind64(a[i], 0, in->flags));
        case BF_PTX_X_BFIND_S64: UN(uint32_t, uint64_t, bfind64(a[i], 1, in->flags));
        case BF_PTX_X_SHF_L:
            TER(uint32_t, uint32_t, uint32_t, uint32_t,
                (uint32_t)((((uint64_t)b[i] << 32 | a[i]) << (in->flags ? (c[i] > 32 ? 32 : c[i]) : (c[i] & 31))) >> 32));
        case BF_PTX_X_SHF_R:
            TER(uint32_t, uint32_t, uint32_t, uint32_t,
                (uint32_t)(((uint64_t)b[i] << 32 | a[i]) >> (in->flags ? (c[i] > 32 ? 32 : c[i]) : (c[i] & 31))));
        case BF_PTX_X_SAD_U32: TER(uint32_t, uint32_t, uint32_t, uint32_t, (a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]) + c[i]);
        case BF_PTX_X_SAD_S32:
            TER(uint32_t, int32_t, int32_t, uint32_t,
                (a[i] > b[i] ? (uint32_t)a[i] - (uint32_t)b[i] : (uint32_t)b[i] - (uint32_t)a[i]) + c[i]);
        case BF_PTX_X_HALF: TER(uint32_t, uint32_t, uint32_t, uint32_t, half_op(a[i], b[i], c[i], in->sub, in->flags & 1));

        case BF_PTX_X_LD: {
            uint8_t *hp[W];
            if (translate(x, w, in, m, (unsigned)in->w * in->n, hp)) {
                result = BF_PTX_WARP_FAULT;
                goto out;
            }
            load_data(R, in, m, hp);
            break;
        }
        case BF_PTX_X_ST: {
            uint8_t *hp[W];
            if (translate(x, w, in, m, (unsigned)in->w * in->n, hp)) {
                result = BF_PTX_WARP_FAULT;
                goto out;
            }
            store_data(R, in, m, hp);
            break;
        }
        case BF_PTX_X_ATOM: {
            uint8_t *hp[W];
            if (translate(x, w, in, m, in->w, hp)) {
                result = BF_PTX_WARP_FAULT;
                goto out;
            }
            for (uint32_t mm = m; mm; mm &= mm - 1) {
                int i = __builtin_ctz(mm);
                if (in->w <= 4) {
                    uint32_t old = (uint32_t)atomic_one(in, hp[i], P32(in->b)[i], P32(in->c)[i]);
                    P32(in->d)[i] = old;
                } else {
                    uint64_t *b = (uint64_t *)(R + in->b), *c = (uint64_t *)(R + in->c);
                    ((uint64_t *)(R + in->d))[i] = atomic_one(in, hp[i], b[i], c[i]);
                }
            }
            break;
        }

        case BF_PTX_X_SHFL: {
            const uint32_t *a = P32(in->a), *b = P32(in->b), *c = P32(in->c);
            uint32_t t[W], ok = 0;
            for (int i = 0; i < W; i++) {
                int bval = (int)b[i], cval = (int)(c[i] & 0x1f), seg = (int)((c[i] >> 8) & 0x1f);
                int max_lane = (i & seg) | (cval & ~seg), min_lane = i & seg, j, p;
                switch (in->sub) {
                case BF_PTX_SHFL_UP: j = i - bval; p = j >= max_lane; break;
                case BF_PTX_SHFL_DOWN: j = i + bval; p = j <= max_lane; break;
                case BF_PTX_SHFL_BFLY: j = i ^ bval; p = j <= max_lane; break;
                default: j = min_lane | (bval & 0x1f & ~seg); p = j <= max_lane; break;
                }
                if (!p)
                    j = i;
                t[i] = a[j & 31];
                ok |= (uint32_t)p << i;
            }
            STORE(uint32_t, in->d, t);
            if (in->flags & BF_PTX_SF_PAIR)
                PSTORE(in->e, ok);
            break;
        }
        case BF_PTX_X_VOTE: {
            /* Over the active lanes of each lane's member mask (b). */
            const uint32_t *mk = P32(in->b);
            uint32_t pv = (PW(in->a) ^ ((in->flags & BF_PTX_SF_NEGC) ? FULL : 0)) & m;
            if (in->sub == BF_PTX_VOTE_BALLOT) {
                uint32_t t[W];
                for (int i = 0; i < W; i++)
                    t[i] = pv & mk[i];
                STORE(uint32_t, in->d, t);
            } else {
                uint32_t r = 0;
                for (int i = 0; i < W; i++) {
                    uint32_t set = m & mk[i], p = pv & mk[i];
                    int v = in->sub == BF_PTX_VOTE_ALL ? p == set : in->sub == BF_PTX_VOTE_ANY ? p != 0 : (p == 0 || p == set);
                    r |= (uint32_t)v << i;
                }
                PSTORE(in->d, r);
            }
            break;
        }
        case BF_PTX_X_ACTIVEMASK: {
            uint32_t t[W];
            for (int i = 0; i < W; i++)
                t[i] = act;
            STORE(uint32_t, in->d, t);
            break;
        }
        case BF_PTX_X_CLOCK32: {
            uint32_t t[W], v = (uint32_t)clock_ns(0);
            for (int i = 0; i < W; i++)
                t[i] = v;
            STORE(uint32_t, in->d, t);
            break;
        }
        case BF_PTX_X_CLOCK64: {
            uint64_t t[W], v = clock_ns(in->sub);
            for (int i = 0; i < W; i++)
                t[i] = v;
            STORE(uint64_t, in->d, t);
            break;
        }

        case BF_PTX_X_BRA: {
            const uint32_t nt = act & ~m;
            if (!nt) {
                pc = in->target;
                continue;
            }
            /* Divergence: the entry resumes at the reconvergence point (or is replaced when it
             * already reconverges there), each side gets an entry. */
            if (w->sp + 3 > w->stack_cap && grow_stack(w)) {
                result = -1;
                goto out;
            }
            const uint32_t r = in->rpc;
            if (w->sp > 0 && w->stack[w->sp].rpc == r && w->sp != w->call_floor)
                w->sp--;
            else
                w->stack[w->sp].pc = r;
            if (pc + 1 != r)
                w->stack[++w->sp] = (bf_ptx_stack_entry_t){pc + 1, r, nt};
            if (in->target != r)
                w->stack[++w->sp] = (bf_ptx_stack_entry_t){in->target, r, m};
            top = &w->stack[w->sp];
            pc = top->pc;
            rpc = top->rpc;
            act = top->mask & ~w->exited;
            continue;
        }
        case BF_PTX_X_EXIT:
            w->exited |= m;
            act &= ~m;
            break;
        case BF_PTX_X_BAR:
            if (counting)
                x->lane_insns += lanes;
            w->pc = pc + 1;
            return BF_PTX_WARP_BARRIER;
        case BF_PTX_X_TRAP:
            bf_ptx_exec_fault(x, in, BF_PTX_FAULT_TRAP, 0, "trap instruction");
            result = BF_PTX_WARP_FAULT;
            goto out;

        /* Rare operations: their work is in exec_ext.c. */
        case BF_PTX_X_BUILTIN:
            if (bf_ptx_exec_builtin(x, w, in, m)) {
                result = BF_PTX_WARP_FAULT;
                goto out;
            }
            break;
        case BF_PTX_X_EXT:
            if (bf_ptx_exec_ext(x, w, in, m, act)) {
                result = BF_PTX_WARP_FAULT;
                goto out;
            }
            break;
        case BF_PTX_X_FRAMEADDR: {
            uint64_t t[W];
            for (int i = 0; i < W; i++)
                t[i] = w->fp;
            STORE(uint64_t, in->d, t);
            break;
        }
        case BF_PTX_X_CALL:
        case BF_PTX_X_CALLI: {
            int r = in->op == BF_PTX_X_CALL ? bf_ptx_exec_call(x, w, in, pc, act) : bf_ptx_exec_calli(x, w, in, pc, act);
            if (r) {
                result = r == -1 ? BF_PTX_WARP_FAULT : -1;
                goto out;
            }
            top = &w->stack[w->sp];
            pc = top->pc;
            rpc = top->rpc;
            act = top->mask & ~w->exited;
            continue;
        }
        case BF_PTX_X_RET:
            /* These lanes are done with the call: the pop above returns once all are. */
            act = 0;
            continue;
        default:
            x->fault.address = 0;
            x->fault.ptx_line = (int)in->line;
            x->fault.kernel = x->k->name;
            snprintf(x->fault.message, sizeof(x->fault.message), "internal error: operation %u", in->op);
            result = BF_PTX_WARP_FAULT;
            goto out;
        }
        pc++;
    }
out:
    if (counting)
        x->lane_insns += lanes;
    w->pc = pc;
    return result;
}
