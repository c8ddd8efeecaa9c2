/*
 * insn_alu.c: decoders of arithmetic, logic, comparison, selection, move and conversion
 * instructions.
 *
 * 8- and 16-bit integer operations run on 32-bit slots: results whose low bits do not depend on
 * the upper ones (add, sub, mul.lo, and, or, xor, not, shl) use the 32-bit operation directly;
 * the others first normalise their sources (bf_ptx_src_norm). .ftz on f32 flushes sources and result
 * with FTZ_F32 operations, .sat clamps the result with SAT_F32/SAT_F64.
 */
#include <string.h>

#include "insn.h"

#define FAILED(D) ((D)->L->status != BF_OK)

static int is64(bf_ptx_type_t t)
{
    return bf_ptx_type_bits(t) == 64;
}

static int is_narrow(bf_ptx_type_t t)
{
    return bf_ptx_is_int(t) && bf_ptx_type_bits(t) < 32;
}

static bf_ptx_insn_t *op3(bf_ptx_dec_t *D, bf_ptx_xop_t op, uint32_t d, uint32_t a, uint32_t b, uint32_t c)
{
    if (FAILED(D))
        return NULL;
    bf_ptx_insn_t *in = bf_ptx_emit(D, op);
    if (in) {
        in->d = d;
        in->a = a;
        in->b = b;
        in->c = c;
    }
    return in;
}

static bf_status_t int_op(bf_ptx_dec_t *D, bf_ptx_opd_t *o, int nsrc, bf_ptx_type_t t, bf_ptx_xop_t op32,
                          bf_ptx_xop_t op64, int norm);

/* A flushed copy of an f32 source (for .ftz). */
static uint32_t ftz_src(bf_ptx_dec_t *D, uint32_t s)
{
    uint32_t t = bf_ptx_temp(D, BF_PTX_SLOT_R32);
    op3(D, BF_PTX_X_FTZ_F32, t, s, 0, 0);
    return t;
}

/* The directed rounding of add, sub, mul and fma (.rz .rm .rp), or -1 for round-to-nearest. */
static int directed_rounding(bf_ptx_mods_t *m)
{
    bf_ptx_take(m, BF_PTX_M_rn);
    if (bf_ptx_take(m, BF_PTX_M_rz))
        return BF_PTX_RND_Z;
    if (bf_ptx_take(m, BF_PTX_M_rm))
        return BF_PTX_RND_M;
    if (bf_ptx_take(m, BF_PTX_M_rp))
        return BF_PTX_RND_P;
    return -1;
}

/* f16 and f16x2 arithmetic (computed exactly in double, rounded once to half). */
static bf_status_t half_op(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int nsrc, bf_ptx_type_t t,
                           bf_ptx_half_t op)
{
    if (t != BF_PTX_T_F16 && t != BF_PTX_T_F16X2)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    bf_ptx_take(m, BF_PTX_M_rn);
    if (bf_ptx_take(m, BF_PTX_M_ftz) || bf_ptx_take(m, BF_PTX_M_sat))
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t s[3] = {0, 0, 0};
    for (int i = 0; i < nsrc; i++)
        s[i] = bf_ptx_src(D, &o[1 + i], t);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    bf_ptx_insn_t *in = op3(D, BF_PTX_X_HALF, d, s[0], s[1], s[2]);
    if (in) {
        in->sub = (uint8_t)op;
        in->flags = t == BF_PTX_T_F16X2;
    }
    return D->L->status;
}

/* add/sub/mul/fma with .rz .rm .rp. */
static bf_status_t directed_op(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int nsrc, bf_ptx_type_t t,
                               bf_ptx_fdir_t op, int rnd)
{
    if (t != BF_PTX_T_F32 && t != BF_PTX_T_F64)
        return bf_ptx_unsupported(D, "directed rounding on .%s", bf_ptx_type_name(t));
    int ftz = bf_ptx_take(m, BF_PTX_M_ftz);
    int sat = bf_ptx_take(m, BF_PTX_M_sat);
    uint32_t s[3] = {0, 0, 0};
    for (int i = 0; i < nsrc; i++) {
        s[i] = bf_ptx_src(D, &o[1 + i], t);
        if (ftz && t == BF_PTX_T_F32 && !FAILED(D))
            s[i] = ftz_src(D, s[i]);
    }
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    bf_ptx_insn_t *in = op3(D, t == BF_PTX_T_F32 ? BF_PTX_X_FDIR_F32 : BF_PTX_X_FDIR_F64, d, s[0], s[1], s[2]);
    if (!in)
        return D->L->status;
    in->sub = (uint8_t)op;
    in->rnd = (uint8_t)rnd;
    if (ftz && t == BF_PTX_T_F32)
        op3(D, BF_PTX_X_FTZ_F32, d, d, 0, 0);
    if (sat)
        op3(D, t == BF_PTX_T_F32 ? BF_PTX_X_SAT_F32 : BF_PTX_X_SAT_F64, d, d, 0, 0);
    return D->L->status;
}

static uint32_t carry_slot(bf_ptx_dec_t *D)
{
    if (!D->carry)
        D->carry = bf_ptx_temp(D, BF_PTX_SLOT_PRED);
    return D->carry;
}

/* add.cc, addc, sub.cc, subc, mad.cc, madc: the carry flag in and/or out. */
static bf_status_t carry_op(bf_ptx_dec_t *D, bf_ptx_opd_t *o, int nsrc, bf_ptx_type_t t, bf_ptx_xop_t op32,
                            bf_ptx_xop_t op64, unsigned flags)
{
    if (t != BF_PTX_T_U32 && t != BF_PTX_T_S32 && t != BF_PTX_T_U64 && t != BF_PTX_T_S64 && t != BF_PTX_T_B32 &&
        t != BF_PTX_T_B64)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    uint32_t s[3] = {0, 0, 0};
    for (int i = 0; i < nsrc; i++)
        s[i] = bf_ptx_src(D, &o[1 + i], t);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    uint32_t cf = carry_slot(D);
    bf_ptx_insn_t *in = op3(D, is64(t) ? op64 : op32, d, s[0], s[1], s[2]);
    if (in) {
        in->e = cf;
        in->flags = (uint8_t)(flags | (bf_ptx_type_is_signed(t) ? BF_PTX_CF_SIGNED : 0));
    }
    return D->L->status;
}

static bf_status_t addc_subc(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int is_sub)
{
    unsigned flags = BF_PTX_CF_IN | (bf_ptx_take(m, BF_PTX_M_cc) ? BF_PTX_CF_OUT : 0);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    return carry_op(D, o, 2, t, is_sub ? BF_PTX_X_SUBC_32 : BF_PTX_X_ADDC_32, is_sub ? BF_PTX_X_SUBC_64 : BF_PTX_X_ADDC_64,
                    flags);
}

bf_status_t bf_ptx_insn_addc(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return addc_subc(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_subc(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return addc_subc(D, m, o, n, 1);
}

bf_status_t bf_ptx_insn_madc(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    unsigned flags = BF_PTX_CF_IN | (bf_ptx_take(m, BF_PTX_M_cc) ? BF_PTX_CF_OUT : 0);
    int lo = bf_ptx_take(m, BF_PTX_M_lo), hi = bf_ptx_take(m, BF_PTX_M_hi);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    if (lo + hi != 1)
        return bf_ptx_bad(D, "needs exactly one of .lo, .hi");
    return carry_op(D, o, 3, t, BF_PTX_X_MADC_32, BF_PTX_X_MADC_64, flags | (hi ? BF_PTX_CF_HI : 0));
}

bf_status_t bf_ptx_insn_bfind(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int shiftamt = bf_ptx_take(m, BF_PTX_M_shiftamt);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    bf_ptx_xop_t op;
    switch (t) {
    case BF_PTX_T_U32: op = BF_PTX_X_BFIND_U32; break;
    case BF_PTX_T_S32: op = BF_PTX_X_BFIND_S32; break;
    case BF_PTX_T_U64: op = BF_PTX_X_BFIND_U64; break;
    case BF_PTX_T_S64: op = BF_PTX_X_BFIND_S64; break;
    default: return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    }
    uint32_t a = bf_ptx_src(D, &o[1], t);
    uint32_t d = bf_ptx_dst(D, &o[0], BF_PTX_T_U32);
    bf_ptx_insn_t *in = op3(D, op, d, a, 0, 0);
    if (in)
        in->flags = (uint8_t)shiftamt;
    return D->L->status;
}

/* shf.l/.r.wrap/.clamp.b32: funnel shift of the 64-bit {b, a}. */
bf_status_t bf_ptx_insn_shf(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int left = bf_ptx_take(m, BF_PTX_M_l), right = bf_ptx_take(m, BF_PTX_M_r);
    int wrap = bf_ptx_take(m, BF_PTX_M_wrap), clamp = bf_ptx_take(m, BF_PTX_M_clamp);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    if (left + right != 1 || wrap + clamp != 1 || t != BF_PTX_T_B32)
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], t), b = bf_ptx_src(D, &o[2], t), c = bf_ptx_src(D, &o[3], BF_PTX_T_U32);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    bf_ptx_insn_t *in = op3(D, left ? BF_PTX_X_SHF_L : BF_PTX_X_SHF_R, d, a, b, c);
    if (in)
        in->flags = (uint8_t)clamp;
    return D->L->status;
}

bf_status_t bf_ptx_insn_sad(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_U32 && t != BF_PTX_T_S32)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    return int_op(D, o, 3, t, t == BF_PTX_T_S32 ? BF_PTX_X_SAD_S32 : BF_PTX_X_SAD_U32, BF_PTX_X_NOP, 0);
}

/*
 * Emits a float operation of up to three sources with .ftz and .sat applied: fop32/fop64 by type.
 */
static bf_status_t float_op(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int nsrc, bf_ptx_type_t t,
                            bf_ptx_xop_t fop32, bf_ptx_xop_t fop64)
{
    if (t != BF_PTX_T_F32 && t != BF_PTX_T_F64)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    int ftz = bf_ptx_take(m, BF_PTX_M_ftz);
    int sat = bf_ptx_take(m, BF_PTX_M_sat);
    uint32_t s[3] = {0, 0, 0};
    for (int i = 0; i < nsrc; i++) {
        s[i] = bf_ptx_src(D, &o[1 + i], t);
        if (ftz && t == BF_PTX_T_F32 && !FAILED(D))
            s[i] = ftz_src(D, s[i]);
    }
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    if (!op3(D, t == BF_PTX_T_F32 ? fop32 : fop64, d, s[0], s[1], s[2]))
        return D->L->status;
    if (ftz && t == BF_PTX_T_F32)
        op3(D, BF_PTX_X_FTZ_F32, d, d, 0, 0);
    if (sat)
        op3(D, t == BF_PTX_T_F32 ? BF_PTX_X_SAT_F32 : BF_PTX_X_SAT_F64, d, d, 0, 0);
    return D->L->status;
}

/* An integer operation: op32/op64 by width; norm: normalise narrow sources first. */
static bf_status_t int_op(bf_ptx_dec_t *D, bf_ptx_opd_t *o, int nsrc, bf_ptx_type_t t, bf_ptx_xop_t op32,
                          bf_ptx_xop_t op64, int norm)
{
    uint32_t s[3] = {0, 0, 0};
    for (int i = 0; i < nsrc; i++)
        s[i] = norm ? bf_ptx_src_norm(D, &o[1 + i], t) : bf_ptx_src(D, &o[1 + i], t);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    op3(D, is64(t) ? op64 : op32, d, s[0], s[1], s[2]);
    return D->L->status;
}

static bf_status_t add_sub(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int is_sub)
{
    int cc = bf_ptx_take(m, BF_PTX_M_cc);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    if (t == BF_PTX_T_F16 || t == BF_PTX_T_F16X2)
        return half_op(D, m, o, 2, t, is_sub ? BF_PTX_HALF_SUB : BF_PTX_HALF_ADD);
    if (bf_ptx_type_is_float(t)) {
        int rnd = directed_rounding(m);
        if (rnd >= 0)
            return directed_op(D, m, o, 2, t, is_sub ? BF_PTX_FDIR_SUB : BF_PTX_FDIR_ADD, rnd);
        return float_op(D, m, o, 2, t, is_sub ? BF_PTX_X_SUB_F32 : BF_PTX_X_ADD_F32,
                        is_sub ? BF_PTX_X_SUB_F64 : BF_PTX_X_ADD_F64);
    }
    if (!bf_ptx_is_int(t))
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    if (cc)
        return carry_op(D, o, 2, t, is_sub ? BF_PTX_X_SUBC_32 : BF_PTX_X_ADDC_32, is_sub ? BF_PTX_X_SUBC_64 : BF_PTX_X_ADDC_64,
                        BF_PTX_CF_OUT);
    if (bf_ptx_take(m, BF_PTX_M_sat)) {
        if (t != BF_PTX_T_S32)
            return bf_ptx_unsupported(D, ".sat on .%s", bf_ptx_type_name(t));
        return int_op(D, o, 2, t, is_sub ? BF_PTX_X_SUBSAT_S32 : BF_PTX_X_ADDSAT_S32, BF_PTX_X_NOP, 0);
    }
    return int_op(D, o, 2, t, is_sub ? BF_PTX_X_SUB_I32 : BF_PTX_X_ADD_I32, is_sub ? BF_PTX_X_SUB_I64 : BF_PTX_X_ADD_I64,
                  0);
}

bf_status_t bf_ptx_insn_add(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return add_sub(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_sub(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return add_sub(D, m, o, n, 1);
}

/* mul and mad: is_mad adds the third source. */
static bf_status_t mul_mad(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int is_mad)
{
    int cc = bf_ptx_take(m, BF_PTX_M_cc);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3 + is_mad, 3 + is_mad) != BF_OK)
        return D->L->status;
    if (t == BF_PTX_T_F16 || t == BF_PTX_T_F16X2)
        return half_op(D, m, o, 2 + is_mad, t, is_mad ? BF_PTX_HALF_FMA : BF_PTX_HALF_MUL);
    if (bf_ptx_type_is_float(t)) {
        int rnd = directed_rounding(m);
        /* mad.rn.f32 is fma.rn.f32 on every target since sm_20. */
        if (rnd >= 0)
            return directed_op(D, m, o, 2 + is_mad, t, is_mad ? BF_PTX_FDIR_FMA : BF_PTX_FDIR_MUL, rnd);
        if (is_mad)
            return float_op(D, m, o, 3, t, BF_PTX_X_FMA_F32, BF_PTX_X_FMA_F64);
        return float_op(D, m, o, 2, t, BF_PTX_X_MUL_F32, BF_PTX_X_MUL_F64);
    }
    if (cc) {
        int lo_cc = bf_ptx_take(m, BF_PTX_M_lo), hi_cc = bf_ptx_take(m, BF_PTX_M_hi);
        if (!is_mad || lo_cc + hi_cc != 1)
            return bf_ptx_unsupported(D, "%s", "");
        return carry_op(D, o, 3, t, BF_PTX_X_MADC_32, BF_PTX_X_MADC_64, BF_PTX_CF_OUT | (hi_cc ? BF_PTX_CF_HI : 0));
    }
    if (!bf_ptx_is_int(t) || bf_ptx_type_bits(t) == 8)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    int sg = bf_ptx_type_is_signed(t);
    int lo = bf_ptx_take(m, BF_PTX_M_lo), hi = bf_ptx_take(m, BF_PTX_M_hi), wide = bf_ptx_take(m, BF_PTX_M_wide);
    if (lo + hi + wide != 1)
        return bf_ptx_bad(D, "needs exactly one of .lo, .hi, .wide");
    if (is_mad && bf_ptx_take(m, BF_PTX_M_sat))
        return bf_ptx_unsupported(D, "modifier .sat");
    if (is_narrow(t)) {
        uint32_t a = bf_ptx_src_norm(D, &o[1], t), b = bf_ptx_src_norm(D, &o[2], t);
        uint32_t c = is_mad ? bf_ptx_src(D, &o[3], wide ? (sg ? BF_PTX_T_S32 : BF_PTX_T_U32) : t) : 0;
        if (hi) {
            if (is_mad)
                return bf_ptx_unsupported(D, "%s", "");
            uint32_t p = bf_ptx_temp(D, BF_PTX_SLOT_R32);
            op3(D, BF_PTX_X_MULLO_I32, p, a, b, 0);
            uint32_t d = bf_ptx_dst(D, &o[0], t);
            op3(D, sg ? BF_PTX_X_SHR_S32 : BF_PTX_X_SHR_U32, d, p, bf_ptx_const(D, BF_PTX_SLOT_R32, 16), 0);
            return D->L->status;
        }
        uint32_t d = bf_ptx_dst(D, &o[0], wide ? (sg ? BF_PTX_T_S32 : BF_PTX_T_U32) : t);
        op3(D, is_mad ? BF_PTX_X_MADLO_I32 : BF_PTX_X_MULLO_I32, d, a, b, c);
        return D->L->status;
    }
    if (wide) {
        if (is64(t))
            return bf_ptx_unsupported(D, ".wide on 64-bit operands");
        bf_ptx_type_t wt = sg ? BF_PTX_T_S64 : BF_PTX_T_U64;
        uint32_t a = bf_ptx_src(D, &o[1], t), b = bf_ptx_src(D, &o[2], t);
        uint32_t c = is_mad ? bf_ptx_src(D, &o[3], wt) : 0;
        uint32_t d = bf_ptx_dst(D, &o[0], wt);
        if (is_mad)
            op3(D, sg ? BF_PTX_X_MADWIDE_S32 : BF_PTX_X_MADWIDE_U32, d, a, b, c);
        else
            op3(D, sg ? BF_PTX_X_MULWIDE_S32 : BF_PTX_X_MULWIDE_U32, d, a, b, 0);
        return D->L->status;
    }
    bf_ptx_xop_t op32, op64;
    if (lo) {
        op32 = is_mad ? BF_PTX_X_MADLO_I32 : BF_PTX_X_MULLO_I32;
        op64 = is_mad ? BF_PTX_X_MADLO_I64 : BF_PTX_X_MULLO_I64;
    } else if (is_mad) {
        op32 = sg ? BF_PTX_X_MADHI_S32 : BF_PTX_X_MADHI_U32;
        op64 = sg ? BF_PTX_X_MADHI_S64 : BF_PTX_X_MADHI_U64;
    } else {
        op32 = sg ? BF_PTX_X_MULHI_S32 : BF_PTX_X_MULHI_U32;
        op64 = sg ? BF_PTX_X_MULHI_S64 : BF_PTX_X_MULHI_U64;
    }
    return int_op(D, o, 2 + is_mad, t, op32, op64, 0);
}

bf_status_t bf_ptx_insn_mul(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return mul_mad(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_mad(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return mul_mad(D, m, o, n, 1);
}

static bf_status_t mul24_mad24(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int is_mad)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3 + is_mad, 3 + is_mad) != BF_OK)
        return D->L->status;
    if ((t != BF_PTX_T_U32 && t != BF_PTX_T_S32) || !bf_ptx_take(m, BF_PTX_M_lo))
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], t), b = bf_ptx_src(D, &o[2], t);
    uint32_t c = is_mad ? bf_ptx_src(D, &o[3], t) : 0;
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    bf_ptx_xop_t op = t == BF_PTX_T_S32 ? BF_PTX_X_MUL24_S32 : BF_PTX_X_MUL24_U32;
    if (!is_mad) {
        op3(D, op, d, a, b, 0);
        return D->L->status;
    }
    uint32_t p = bf_ptx_temp(D, BF_PTX_SLOT_R32);
    op3(D, op, p, a, b, 0);
    op3(D, BF_PTX_X_ADD_I32, d, p, c, 0);
    return D->L->status;
}

bf_status_t bf_ptx_insn_mul24(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return mul24_mad24(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_mad24(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return mul24_mad24(D, m, o, n, 1);
}

bf_status_t bf_ptx_insn_fma(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    if (t == BF_PTX_T_F16 || t == BF_PTX_T_F16X2)
        return half_op(D, m, o, 3, t, BF_PTX_HALF_FMA);
    int rnd = directed_rounding(m);
    if (rnd >= 0)
        return directed_op(D, m, o, 3, t, BF_PTX_FDIR_FMA, rnd);
    return float_op(D, m, o, 3, t, BF_PTX_X_FMA_F32, BF_PTX_X_FMA_F64);
}

bf_status_t bf_ptx_insn_div(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    if (bf_ptx_type_is_float(t)) {
        /* .approx and .full are computed exactly (within their documented error bounds). */
        if (!bf_ptx_take(m, BF_PTX_M_approx))
            bf_ptx_take(m, BF_PTX_M_full);
        int rnd = directed_rounding(m);
        if (rnd >= 0) /* __fdiv_rz, __ddiv_ru, ... */
            return directed_op(D, m, o, 2, t, BF_PTX_FDIR_DIV, rnd);
        return float_op(D, m, o, 2, t, BF_PTX_X_DIV_F32, BF_PTX_X_DIV_F64);
    }
    if (!bf_ptx_is_int(t) || bf_ptx_type_bits(t) == 8)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    int sg = bf_ptx_type_is_signed(t);
    return int_op(D, o, 2, t, sg ? BF_PTX_X_DIV_S32 : BF_PTX_X_DIV_U32, sg ? BF_PTX_X_DIV_S64 : BF_PTX_X_DIV_U64, 1);
}

bf_status_t bf_ptx_insn_rem(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    if (!bf_ptx_is_int(t) || bf_ptx_type_bits(t) == 8)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    int sg = bf_ptx_type_is_signed(t);
    return int_op(D, o, 2, t, sg ? BF_PTX_X_REM_S32 : BF_PTX_X_REM_U32, sg ? BF_PTX_X_REM_S64 : BF_PTX_X_REM_U64, 1);
}

static bf_status_t min_max(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int is_max)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    if (t == BF_PTX_T_F16 || t == BF_PTX_T_F16X2)
        return half_op(D, m, o, 2, t, is_max ? BF_PTX_HALF_MAX : BF_PTX_HALF_MIN);
    if (bf_ptx_type_is_float(t))
        return float_op(D, m, o, 2, t, is_max ? BF_PTX_X_MAX_F32 : BF_PTX_X_MIN_F32,
                        is_max ? BF_PTX_X_MAX_F64 : BF_PTX_X_MIN_F64);
    if (!bf_ptx_is_int(t) || bf_ptx_type_bits(t) == 8)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    int sg = bf_ptx_type_is_signed(t);
    if (is_max)
        return int_op(D, o, 2, t, sg ? BF_PTX_X_MAX_S32 : BF_PTX_X_MAX_U32, sg ? BF_PTX_X_MAX_S64 : BF_PTX_X_MAX_U64, 1);
    return int_op(D, o, 2, t, sg ? BF_PTX_X_MIN_S32 : BF_PTX_X_MIN_U32, sg ? BF_PTX_X_MIN_S64 : BF_PTX_X_MIN_U64, 1);
}

bf_status_t bf_ptx_insn_min(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return min_max(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_max(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return min_max(D, m, o, n, 1);
}

static bf_status_t neg_abs(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int is_abs)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    if (t == BF_PTX_T_F16 || t == BF_PTX_T_F16X2) {
        /* Sign-bit operations. */
        uint32_t sign = t == BF_PTX_T_F16 ? 0x8000u : 0x80008000u;
        uint32_t a = bf_ptx_src(D, &o[1], t);
        uint32_t d = bf_ptx_dst(D, &o[0], t);
        op3(D, is_abs ? BF_PTX_X_AND_32 : BF_PTX_X_XOR_32, d, a,
            bf_ptx_const(D, BF_PTX_SLOT_R32, is_abs ? (uint32_t)~sign : sign), 0);
        return D->L->status;
    }
    if (bf_ptx_type_is_float(t))
        return float_op(D, m, o, 1, t, is_abs ? BF_PTX_X_ABS_F32 : BF_PTX_X_NEG_F32,
                        is_abs ? BF_PTX_X_ABS_F64 : BF_PTX_X_NEG_F64);
    if (t != BF_PTX_T_S16 && t != BF_PTX_T_S32 && t != BF_PTX_T_S64)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    if (is_abs)
        return int_op(D, o, 1, t, BF_PTX_X_ABS_S32, BF_PTX_X_ABS_S64, 1);
    return int_op(D, o, 1, t, BF_PTX_X_NEG_I32, BF_PTX_X_NEG_I64, 0);
}

bf_status_t bf_ptx_insn_neg(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return neg_abs(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_abs(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return neg_abs(D, m, o, n, 1);
}

/* and, or, xor, not, cnot on predicates and bit types. */
static bf_status_t logic(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int nsrc, bf_ptx_xop_t pop,
                         bf_ptx_xop_t op32, bf_ptx_xop_t op64)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 1 + nsrc, 1 + nsrc) != BF_OK)
        return D->L->status;
    if (t == BF_PTX_T_PRED) {
        if (pop == BF_PTX_X_NOP)
            return bf_ptx_unsupported(D, "%s", "");
        uint32_t a = bf_ptx_src_pred(D, &o[1]);
        uint32_t b = nsrc > 1 ? bf_ptx_src_pred(D, &o[2]) : 0;
        uint32_t d = bf_ptx_dst_pred(D, &o[0]);
        op3(D, pop, d, a, b, 0);
        return D->L->status;
    }
    if (!bf_ptx_is_int(t) || bf_ptx_type_bits(t) == 8)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    return int_op(D, o, nsrc, t, op32, op64, op32 == BF_PTX_X_CNOT_32);
}

bf_status_t bf_ptx_insn_and(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return logic(D, m, o, n, 2, BF_PTX_X_PAND, BF_PTX_X_AND_32, BF_PTX_X_AND_64);
}

bf_status_t bf_ptx_insn_or(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return logic(D, m, o, n, 2, BF_PTX_X_POR, BF_PTX_X_OR_32, BF_PTX_X_OR_64);
}

bf_status_t bf_ptx_insn_xor(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return logic(D, m, o, n, 2, BF_PTX_X_PXOR, BF_PTX_X_XOR_32, BF_PTX_X_XOR_64);
}

bf_status_t bf_ptx_insn_not(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return logic(D, m, o, n, 1, BF_PTX_X_PNOT, BF_PTX_X_NOT_32, BF_PTX_X_NOT_64);
}

bf_status_t bf_ptx_insn_cnot(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return logic(D, m, o, n, 1, BF_PTX_X_NOP, BF_PTX_X_CNOT_32, BF_PTX_X_CNOT_64);
}

/* Shifts: the amount is always a .u32 operand. */
static bf_status_t shift(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int right)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    if (!bf_ptx_is_int(t) || bf_ptx_type_bits(t) == 8)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    int sg = bf_ptx_type_is_signed(t);
    uint32_t a = right ? bf_ptx_src_norm(D, &o[1], t) : bf_ptx_src(D, &o[1], t);
    uint32_t b = bf_ptx_src(D, &o[2], BF_PTX_T_U32);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    bf_ptx_xop_t op;
    if (!right)
        op = is64(t) ? BF_PTX_X_SHL_64 : BF_PTX_X_SHL_32;
    else if (is64(t))
        op = sg ? BF_PTX_X_SHR_S64 : BF_PTX_X_SHR_U64;
    else
        op = sg ? BF_PTX_X_SHR_S32 : BF_PTX_X_SHR_U32;
    op3(D, op, d, a, b, 0);
    return D->L->status;
}

bf_status_t bf_ptx_insn_shl(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return shift(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_shr(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return shift(D, m, o, n, 1);
}

/* popc and clz: .b32/.b64 source, .u32 result. */
static bf_status_t count_bits(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, bf_ptx_xop_t op32,
                              bf_ptx_xop_t op64)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_B32 && t != BF_PTX_T_B64)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    uint32_t a = bf_ptx_src(D, &o[1], t);
    uint32_t d = bf_ptx_dst(D, &o[0], BF_PTX_T_U32);
    op3(D, is64(t) ? op64 : op32, d, a, 0, 0);
    return D->L->status;
}

bf_status_t bf_ptx_insn_popc(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return count_bits(D, m, o, n, BF_PTX_X_POPC_32, BF_PTX_X_POPC_64);
}

bf_status_t bf_ptx_insn_clz(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return count_bits(D, m, o, n, BF_PTX_X_CLZ_32, BF_PTX_X_CLZ_64);
}

bf_status_t bf_ptx_insn_brev(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_B32 && t != BF_PTX_T_B64)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    return int_op(D, o, 1, t, BF_PTX_X_BREV_32, BF_PTX_X_BREV_64, 0);
}

bf_status_t bf_ptx_insn_bfe(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_U32 && t != BF_PTX_T_S32 && t != BF_PTX_T_U64 && t != BF_PTX_T_S64)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    uint32_t a = bf_ptx_src(D, &o[1], t);
    uint32_t b = bf_ptx_src(D, &o[2], BF_PTX_T_U32), c = bf_ptx_src(D, &o[3], BF_PTX_T_U32);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    int sg = bf_ptx_type_is_signed(t);
    op3(D, is64(t) ? (sg ? BF_PTX_X_BFE_S64 : BF_PTX_X_BFE_U64) : (sg ? BF_PTX_X_BFE_S32 : BF_PTX_X_BFE_U32), d, a, b,
        c);
    return D->L->status;
}

bf_status_t bf_ptx_insn_bfi(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 5, 5) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_B32 && t != BF_PTX_T_B64)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    uint32_t a = bf_ptx_src(D, &o[1], t), b = bf_ptx_src(D, &o[2], t);
    uint32_t c = bf_ptx_src(D, &o[3], BF_PTX_T_U32), e = bf_ptx_src(D, &o[4], BF_PTX_T_U32);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    bf_ptx_insn_t *in = op3(D, is64(t) ? BF_PTX_X_BFI_64 : BF_PTX_X_BFI_32, d, a, b, c);
    if (in)
        in->e = e;
    return D->L->status;
}

bf_status_t bf_ptx_insn_prmt(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_B32)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    static const int modes[] = {BF_PTX_M_f4e, BF_PTX_M_b4e, BF_PTX_M_rc8, BF_PTX_M_ecl, BF_PTX_M_ecr, BF_PTX_M_rc16};
    for (int k = 0; k < 6; k++) {
        if (!bf_ptx_take(m, modes[k]))
            continue;
        /* A mode: in the EXT family, so the default mode keeps its own operation. */
        uint32_t a = bf_ptx_src(D, &o[1], t), b = bf_ptx_src(D, &o[2], t), c = bf_ptx_src(D, &o[3], t);
        uint32_t d = bf_ptx_dst(D, &o[0], t);
        bf_ptx_insn_t *in = op3(D, BF_PTX_X_EXT, d, a, b, c);
        if (in) {
            in->sub = BF_PTX_EXT_PRMT;
            in->n = (uint8_t)k;
        }
        return D->L->status;
    }
    return int_op(D, o, 3, t, BF_PTX_X_PRMT, BF_PTX_X_NOP, 0);
}

bf_status_t bf_ptx_insn_lop3(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 5, 5) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_B32 || o[4].kind != BF_PTX_OPD_IMM)
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], t), b = bf_ptx_src(D, &o[2], t), c = bf_ptx_src(D, &o[3], t);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    bf_ptx_insn_t *in = op3(D, BF_PTX_X_LOP3_32, d, a, b, c);
    if (in)
        in->imm = (int64_t)(o[4].ival & 0xff);
    return D->L->status;
}

static const struct {
    int mod;
    bf_ptx_cmp_t cmp;
    int float_only, unsigned_only;
} cmp_table[] = {
    {BF_PTX_M_eq, BF_PTX_CMP_EQ, 0, 0},   {BF_PTX_M_ne, BF_PTX_CMP_NE, 0, 0},
    {BF_PTX_M_lt, BF_PTX_CMP_LT, 0, 0},   {BF_PTX_M_le, BF_PTX_CMP_LE, 0, 0},
    {BF_PTX_M_gt, BF_PTX_CMP_GT, 0, 0},   {BF_PTX_M_ge, BF_PTX_CMP_GE, 0, 0},
    {BF_PTX_M_lo, BF_PTX_CMP_LT, 0, 1},   {BF_PTX_M_ls, BF_PTX_CMP_LE, 0, 1},
    {BF_PTX_M_hi, BF_PTX_CMP_GT, 0, 1},   {BF_PTX_M_hs, BF_PTX_CMP_GE, 0, 1},
    {BF_PTX_M_equ, BF_PTX_CMP_EQU, 1, 0}, {BF_PTX_M_neu, BF_PTX_CMP_NEU, 1, 0},
    {BF_PTX_M_ltu, BF_PTX_CMP_LTU, 1, 0}, {BF_PTX_M_leu, BF_PTX_CMP_LEU, 1, 0},
    {BF_PTX_M_gtu, BF_PTX_CMP_GTU, 1, 0}, {BF_PTX_M_geu, BF_PTX_CMP_GEU, 1, 0},
    {BF_PTX_M_num, BF_PTX_CMP_NUM, 1, 0}, {BF_PTX_M_nan, BF_PTX_CMP_NAN, 1, 0},
};

bf_status_t bf_ptx_insn_setp(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int cmp = -1;
    for (size_t i = 0; i < sizeof(cmp_table) / sizeof(cmp_table[0]) && cmp < 0; i++)
        if (bf_ptx_take(m, cmp_table[i].mod))
            cmp = (int)i;
    bf_ptx_boolop_t bop = BF_PTX_BOOL_NONE;
    if (bf_ptx_take(m, BF_PTX_M_and))
        bop = BF_PTX_BOOL_AND;
    else if (bf_ptx_take(m, BF_PTX_M_or))
        bop = BF_PTX_BOOL_OR;
    else if (bf_ptx_take(m, BF_PTX_M_xor))
        bop = BF_PTX_BOOL_XOR;
    int ftz = bf_ptx_take(m, BF_PTX_M_ftz);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, bop ? 4 : 3, bop ? 4 : 3) != BF_OK)
        return D->L->status;
    if (cmp < 0)
        return bf_ptx_bad(D, "no comparison");
    if (t == BF_PTX_T_F16 || t == BF_PTX_T_F16X2) {
        /* f16 comparisons (EXT): f16x2 writes p|q, the low and the high halves. */
        int x2 = t == BF_PTX_T_F16X2;
        if (bop || cmp_table[cmp].unsigned_only || o[0].has_pair != x2 || o[0].neg)
            return bf_ptx_unsupported(D, "%s", "");
        uint32_t a = bf_ptx_src(D, &o[1], t), b = bf_ptx_src(D, &o[2], t);
        uint32_t d = bf_ptx_dst_pred(D, &o[0]);
        bf_ptx_insn_t *in = op3(D, BF_PTX_X_EXT, d, a, b, a);
        if (in) {
            in->sub = BF_PTX_EXT_HSETP;
            in->n = (uint8_t)cmp_table[cmp].cmp;
            in->flags = (uint8_t)(x2 | (ftz ? 2 : 0));
            in->e = x2 ? o[0].pair_slot : 0;
        }
        return D->L->status;
    }
    int is_float = t == BF_PTX_T_F32 || t == BF_PTX_T_F64;
    if ((!is_float && !bf_ptx_is_int(t)) || bf_ptx_type_bits(t) == 8 || (ftz && t != BF_PTX_T_F32) ||
        (cmp_table[cmp].float_only && !is_float) || (cmp_table[cmp].unsigned_only && is_float))
        return bf_ptx_unsupported(D, "%s", "");
    bf_ptx_xop_t op;
    int sg = bf_ptx_type_is_signed(t);
    if (t == BF_PTX_T_F32)
        op = BF_PTX_X_SETP_F32;
    else if (t == BF_PTX_T_F64)
        op = BF_PTX_X_SETP_F64;
    else if (is64(t))
        op = sg ? BF_PTX_X_SETP_S64 : BF_PTX_X_SETP_U64;
    else
        op = sg ? BF_PTX_X_SETP_S32 : BF_PTX_X_SETP_U32;
    uint32_t a = bf_ptx_src_norm(D, &o[1], t), b = bf_ptx_src_norm(D, &o[2], t);
    if (ftz && !FAILED(D)) {
        a = ftz_src(D, a);
        b = ftz_src(D, b);
    }
    uint32_t c = bop ? bf_ptx_src_pred(D, &o[3]) : 0;
    uint32_t d = bf_ptx_dst_pred(D, &o[0]);
    if (o[0].neg)
        return bf_ptx_bad(D, "negated destination");
    bf_ptx_insn_t *in = op3(D, op, d, a, b, c);
    if (in) {
        in->sub = (uint8_t)cmp_table[cmp].cmp;
        in->n = (uint8_t)bop;
        if (bop && o[3].neg)
            in->flags |= BF_PTX_SF_NEGC;
        if (o[0].has_pair) {
            in->flags |= BF_PTX_SF_PAIR;
            in->e = o[0].pair_slot;
        }
    }
    return D->L->status;
}

bf_status_t bf_ptx_insn_selp(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    if (t == BF_PTX_T_PRED || t == BF_PTX_T_B128)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    uint32_t a = bf_ptx_src(D, &o[1], t), b = bf_ptx_src(D, &o[2], t);
    uint32_t c = bf_ptx_src_pred(D, &o[3]);
    if (o[3].neg)
        return bf_ptx_bad(D, "negated predicate");
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    op3(D, is64(t) ? BF_PTX_X_SELP_64 : BF_PTX_X_SELP_32, d, a, b, c);
    return D->L->status;
}

/* mov.b64 d, {lo, hi} and mov.b32 d, {lo16, hi16}; and the reverse. */
static bf_status_t mov_vector(bf_ptx_dec_t *D, bf_ptx_type_t t, bf_ptx_opd_t *o)
{
    int pack = o[1].kind == BF_PTX_OPD_VEC;
    const bf_ptx_opd_t *v = pack ? &o[1] : &o[0];
    if (v->vn != 2 || (t != BF_PTX_T_B64 && t != BF_PTX_T_B32 && t != BF_PTX_T_U64 && t != BF_PTX_T_U32 &&
                       t != BF_PTX_T_F64 && t != BF_PTX_T_S64))
        return bf_ptx_unsupported(D, "vector of %d", v->vn);
    bf_ptx_type_t half = is64(t) ? BF_PTX_T_B32 : BF_PTX_T_B16;
    uint32_t s[2];
    for (int i = 0; i < 2; i++) {
        bf_ptx_opd_t e;
        memset(&e, 0, sizeof(e));
        e.kind = v->vel[i].kind;
        e.cls = v->vel[i].cls;
        e.slot = v->vel[i].slot;
        e.form = v->vel[i].form;
        e.ival = v->vel[i].ival;
        e.fval = v->vel[i].fval;
        e.tok = v->tok;
        s[i] = pack ? bf_ptx_src(D, &e, half) : bf_ptx_dst(D, &e, half);
    }
    if (pack) {
        uint32_t d = bf_ptx_dst(D, &o[0], t);
        op3(D, is64(t) ? BF_PTX_X_PACK_64 : BF_PTX_X_PACK_32, d, s[0], s[1], 0);
    } else {
        uint32_t a = bf_ptx_src(D, &o[1], t);
        bf_ptx_insn_t *in = op3(D, is64(t) ? BF_PTX_X_UNPACK_64 : BF_PTX_X_UNPACK_32, s[0], a, 0, 0);
        if (in)
            in->e = s[1];
    }
    return D->L->status;
}

bf_status_t bf_ptx_insn_mov(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    if (t == BF_PTX_T_B128)
        return bf_ptx_unsupported(D, "type .b128");
    if (t == BF_PTX_T_PRED) {
        uint32_t a = bf_ptx_src_pred(D, &o[1]);
        uint32_t d = bf_ptx_dst_pred(D, &o[0]);
        op3(D, BF_PTX_X_PMOV, d, a, 0, 0);
        return D->L->status;
    }
    if (o[0].kind == BF_PTX_OPD_VEC || o[1].kind == BF_PTX_OPD_VEC)
        return mov_vector(D, t, o);
    uint32_t a = bf_ptx_src(D, &o[1], t);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    op3(D, is64(t) ? BF_PTX_X_MOV_64 : BF_PTX_X_MOV_32, d, a, 0, 0);
    return D->L->status;
}

static bf_ptx_kind_t int_kind(bf_ptx_type_t t)
{
    int sg = bf_ptx_type_is_signed(t);
    if (is64(t))
        return sg ? BF_PTX_K_S64 : BF_PTX_K_U64;
    return sg ? BF_PTX_K_S32 : BF_PTX_K_U32;
}

/* A register source read at its own width (cvt reads narrower types out of wider registers). */
static uint32_t cvt_src(bf_ptx_dec_t *D, bf_ptx_opd_t *o, bf_ptx_type_t st)
{
    if (o->kind == BF_PTX_OPD_REG && o->cls != BF_PTX_SLOT_PRED && bf_ptx_type_bits(st) <= 32 &&
        o->cls == BF_PTX_SLOT_R64) {
        /* e.g. cvt.u32.u16 %r, %rd: take the low 32 bits first. */
        return bf_ptx_cvt_ii(D, o->slot, BF_PTX_SLOT_R32, BF_PTX_CVT_II(64, 0, 32, 0));
    }
    return bf_ptx_src(D, o, st);
}

bf_status_t bf_ptx_insn_cvt(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int rnd = -1, irnd = -1;
    if (bf_ptx_take(m, BF_PTX_M_rn)) rnd = BF_PTX_RND_N;
    else if (bf_ptx_take(m, BF_PTX_M_rz)) rnd = BF_PTX_RND_Z;
    else if (bf_ptx_take(m, BF_PTX_M_rm)) rnd = BF_PTX_RND_M;
    else if (bf_ptx_take(m, BF_PTX_M_rp)) rnd = BF_PTX_RND_P;
    else if (bf_ptx_take(m, BF_PTX_M_rni)) irnd = BF_PTX_RND_N;
    else if (bf_ptx_take(m, BF_PTX_M_rzi)) irnd = BF_PTX_RND_Z;
    else if (bf_ptx_take(m, BF_PTX_M_rmi)) irnd = BF_PTX_RND_M;
    else if (bf_ptx_take(m, BF_PTX_M_rpi)) irnd = BF_PTX_RND_P;
    int ftz = bf_ptx_take(m, BF_PTX_M_ftz);
    int sat = bf_ptx_take(m, BF_PTX_M_sat);
    bf_ptx_type_t dt = bf_ptx_need_type(D, m);
    bf_ptx_type_t st = FAILED(D) ? BF_PTX_T_NONE : bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    int dint = bf_ptx_is_int(dt), sint = bf_ptx_is_int(st);
    int dflt = dt == BF_PTX_T_F32 || dt == BF_PTX_T_F64, sflt = st == BF_PTX_T_F32 || st == BF_PTX_T_F64;
    unsigned dbits = bf_ptx_type_bits(dt), sbits = bf_ptx_type_bits(st);

    /* To f16 from f64, integers, or f32 with directed rounding: one rounding (EXT CVTH). */
    if (dt == BF_PTX_T_F16 && (sflt || sint) && rnd >= 0 && irnd < 0 && !sat && !ftz &&
        !(st == BF_PTX_T_F32 && rnd == BF_PTX_RND_N)) {
        uint32_t a = sint ? bf_ptx_src_norm(D, &o[1], st) : bf_ptx_src(D, &o[1], st);
        if (sint && bf_ptx_type_bits(st) < 64 && !FAILED(D) && bf_ptx_slot_cls(D, a) == BF_PTX_SLOT_R64)
            a = bf_ptx_cvt_ii(D, a, BF_PTX_SLOT_R32, BF_PTX_CVT_II(64, 0, 32, 0));
        uint32_t d = bf_ptx_dst(D, &o[0], dt);
        bf_ptx_insn_t *in = op3(D, BF_PTX_X_EXT, d, a, a, a);
        if (in) {
            in->sub = BF_PTX_EXT_CVTH;
            in->kind = (uint8_t)(sint ? int_kind(st) : st == BF_PTX_T_F32 ? BF_PTX_K_F32 : BF_PTX_K_F64);
            in->rnd = (uint8_t)rnd;
        }
        return D->L->status;
    }
    /* From f16 to f64 or an integer: through f32, which holds every f16 exactly. */
    if (st == BF_PTX_T_F16 && (dt == BF_PTX_T_F64 || dint) && !ftz) {
        uint32_t h = bf_ptx_src(D, &o[1], st);
        uint32_t f = bf_ptx_temp(D, BF_PTX_SLOT_R32);
        if (!op3(D, BF_PTX_X_CVT_F32_F16, f, h, 0, 0))
            return D->L->status;
        memset(&o[1], 0, sizeof(o[1]));
        o[1].kind = BF_PTX_OPD_REG;
        o[1].cls = BF_PTX_SLOT_R32;
        o[1].slot = f;
        o[1].sym_space = 0xff;
        o[1].tok = D->opcode;
        st = BF_PTX_T_F32;
        sflt = 1;
        sbits = 32;
    }

    if (dint && sint) {
        if (rnd >= 0 || irnd >= 0 || ftz)
            return bf_ptx_unsupported(D, "rounding of an integer conversion");
        uint32_t a = cvt_src(D, &o[1], st);
        uint32_t d = bf_ptx_dst(D, &o[0], dbits == 64 ? BF_PTX_T_U64 : BF_PTX_T_U32);
        if (FAILED(D))
            return D->L->status;
        bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_CVT_II);
        if (!in)
            return D->L->status;
        in->d = d;
        in->a = a;
        in->imm = BF_PTX_CVT_II(sbits, bf_ptx_type_is_signed(st), dbits, bf_ptx_type_is_signed(dt));
        in->flags = (uint8_t)((bf_ptx_slot_cls(D, a) == BF_PTX_SLOT_R64 ? 1 : 0) |
                              (bf_ptx_slot_cls(D, d) == BF_PTX_SLOT_R64 ? 2 : 0) | (sat ? 4 : 0));
        return D->L->status;
    }
    if (dflt && sflt) {
        uint32_t a = bf_ptx_src(D, &o[1], st);
        if (ftz && st == BF_PTX_T_F32 && !FAILED(D))
            a = ftz_src(D, a);
        uint32_t d = bf_ptx_dst(D, &o[0], dt);
        bf_ptx_insn_t *in;
        if (dt == st) {
            if (rnd >= 0)
                return bf_ptx_bad(D, "rounding to the same type needs an integer rounding");
            if (irnd >= 0) {
                in = op3(D, dt == BF_PTX_T_F32 ? BF_PTX_X_CVT_RI_F32 : BF_PTX_X_CVT_RI_F64, d, a, 0, 0);
                if (in)
                    in->rnd = (uint8_t)irnd;
            } else {
                op3(D, dt == BF_PTX_T_F32 ? BF_PTX_X_MOV_32 : BF_PTX_X_MOV_64, d, a, 0, 0);
            }
        } else if (dt == BF_PTX_T_F64) {
            if (irnd >= 0 || (rnd >= 0 && rnd != BF_PTX_RND_N))
                return bf_ptx_unsupported(D, "%s", "");
            op3(D, BF_PTX_X_CVT_F64_F32, d, a, 0, 0);
        } else {
            if (irnd >= 0)
                return bf_ptx_unsupported(D, "%s", "");
            in = op3(D, BF_PTX_X_CVT_F32_F64, d, a, 0, 0);
            if (in)
                in->rnd = (uint8_t)(rnd >= 0 ? rnd : BF_PTX_RND_N);
        }
        if (ftz && dt == BF_PTX_T_F32)
            op3(D, BF_PTX_X_FTZ_F32, d, d, 0, 0);
        if (sat)
            op3(D, dt == BF_PTX_T_F32 ? BF_PTX_X_SAT_F32 : BF_PTX_X_SAT_F64, d, d, 0, 0);
        return D->L->status;
    }
    if (dflt && sint) {
        if (irnd >= 0)
            return bf_ptx_bad(D, "integer rounding of an int-to-float conversion");
        uint32_t a = bf_ptx_src_norm(D, &o[1], st);
        if (!FAILED(D) && o[1].kind == BF_PTX_OPD_REG && o[1].cls == BF_PTX_SLOT_R64 && sbits < 64)
            a = bf_ptx_cvt_ii(D, a, BF_PTX_SLOT_R32, BF_PTX_CVT_II(sbits, bf_ptx_type_is_signed(st), 32,
                                                                   bf_ptx_type_is_signed(st)));
        uint32_t d = bf_ptx_dst(D, &o[0], dt);
        bf_ptx_insn_t *in = op3(D, dt == BF_PTX_T_F32 ? BF_PTX_X_CVT_I2F32 : BF_PTX_X_CVT_I2F64, d, a, 0, 0);
        if (in) {
            in->kind = (uint8_t)int_kind(st);
            in->rnd = (uint8_t)(rnd >= 0 ? rnd : BF_PTX_RND_N);
        }
        if (ftz && dt == BF_PTX_T_F32)
            op3(D, BF_PTX_X_FTZ_F32, d, d, 0, 0);
        if (sat)
            op3(D, dt == BF_PTX_T_F32 ? BF_PTX_X_SAT_F32 : BF_PTX_X_SAT_F64, d, d, 0, 0);
        return D->L->status;
    }
    if (dint && sflt) {
        if (rnd >= 0)
            return bf_ptx_bad(D, "float-to-integer conversions take .rni/.rzi/.rmi/.rpi");
        uint32_t a = bf_ptx_src(D, &o[1], st);
        if (ftz && st == BF_PTX_T_F32 && !FAILED(D))
            a = ftz_src(D, a);
        uint32_t d = bf_ptx_dst(D, &o[0], dt);
        bf_ptx_insn_t *in = op3(D, st == BF_PTX_T_F32 ? BF_PTX_X_CVT_F32_2I : BF_PTX_X_CVT_F64_2I, d, a, 0, 0);
        if (in) {
            /* The result saturates to the destination type's range (PTX ISA, cvt). */
            in->kind = (uint8_t)int_kind(dt);
            in->rnd = (uint8_t)(irnd >= 0 ? irnd : BF_PTX_RND_Z);
            in->imm = BF_PTX_CVT_II(0, 0, dbits, bf_ptx_type_is_signed(dt));
        }
        return D->L->status;
    }
    if ((dt == BF_PTX_T_F16 && st == BF_PTX_T_F32) || (dt == BF_PTX_T_F32 && st == BF_PTX_T_F16)) {
        if (irnd >= 0 || (rnd >= 0 && rnd != BF_PTX_RND_N) || sat)
            return bf_ptx_unsupported(D, "%s", "");
        uint32_t a = bf_ptx_src(D, &o[1], st);
        if (ftz && st == BF_PTX_T_F32 && !FAILED(D))
            a = ftz_src(D, a);
        uint32_t d = bf_ptx_dst(D, &o[0], dt);
        op3(D, dt == BF_PTX_T_F16 ? BF_PTX_X_CVT_F16_F32 : BF_PTX_X_CVT_F32_F16, d, a, 0, 0);
        if (ftz && dt == BF_PTX_T_F32)
            op3(D, BF_PTX_X_FTZ_F32, d, d, 0, 0);
        return D->L->status;
    }
    return bf_ptx_unsupported(D, "%s", "");
}

/* Unary float functions: which modifiers each accepts. */
static bf_status_t float_unary(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, bf_ptx_xop_t op32,
                               bf_ptx_xop_t op64, int allow_rn, int allow_approx)
{
    int approx = bf_ptx_take(m, BF_PTX_M_approx);
    int rn = bf_ptx_take(m, BF_PTX_M_rn);
    int rnd = bf_ptx_take(m, BF_PTX_M_rz) ? BF_PTX_RND_Z : bf_ptx_take(m, BF_PTX_M_rm) ? BF_PTX_RND_M
              : bf_ptx_take(m, BF_PTX_M_rp) ? BF_PTX_RND_P : -1;
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (rnd >= 0) {
        /* sqrt and rcp with .rz .rm .rp (__fsqrt_rd, __frcp_ru, __dsqrt_rz, ...) */
        if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
            return D->L->status;
        if (approx || rn || (op32 != BF_PTX_X_SQRT_F32 && op32 != BF_PTX_X_RCP_F32))
            return bf_ptx_unsupported(D, "directed rounding");
        return directed_op(D, m, o, 1, t, op32 == BF_PTX_X_SQRT_F32 ? BF_PTX_FDIR_SQRT : BF_PTX_FDIR_RCP, rnd);
    }
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    if ((rn && !allow_rn) || (approx && !allow_approx) || (!rn && !approx) ||
        (t == BF_PTX_T_F64 && op64 == BF_PTX_X_NOP))
        return bf_ptx_unsupported(D, "%s", "");
    return float_op(D, m, o, 1, t, op32, op64);
}

bf_status_t bf_ptx_insn_rcp(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return float_unary(D, m, o, n, BF_PTX_X_RCP_F32, BF_PTX_X_RCP_F64, 1, 1);
}

bf_status_t bf_ptx_insn_sqrt(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return float_unary(D, m, o, n, BF_PTX_X_SQRT_F32, BF_PTX_X_SQRT_F64, 1, 1);
}

bf_status_t bf_ptx_insn_rsqrt(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return float_unary(D, m, o, n, BF_PTX_X_RSQRT_F32, BF_PTX_X_RSQRT_F64, 0, 1);
}

bf_status_t bf_ptx_insn_ex2(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return float_unary(D, m, o, n, BF_PTX_X_EX2_F32, BF_PTX_X_NOP, 0, 1);
}

bf_status_t bf_ptx_insn_lg2(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return float_unary(D, m, o, n, BF_PTX_X_LG2_F32, BF_PTX_X_NOP, 0, 1);
}

bf_status_t bf_ptx_insn_sin(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return float_unary(D, m, o, n, BF_PTX_X_SIN_F32, BF_PTX_X_NOP, 0, 1);
}

bf_status_t bf_ptx_insn_cos(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return float_unary(D, m, o, n, BF_PTX_X_COS_F32, BF_PTX_X_NOP, 0, 1);
}

bf_status_t bf_ptx_insn_tanh(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return float_unary(D, m, o, n, BF_PTX_X_TANH_F32, BF_PTX_X_NOP, 0, 1);
}

bf_status_t bf_ptx_insn_copysign(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    return float_op(D, m, o, 2, t, BF_PTX_X_COPYSIGN_F32, BF_PTX_X_COPYSIGN_F64);
}

bf_status_t bf_ptx_insn_testp(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    static const int tests[] = {BF_PTX_M_finite, BF_PTX_M_infinite, BF_PTX_M_number, BF_PTX_M_notanumber,
                                BF_PTX_M_normal, BF_PTX_M_subnormal};
    int which = -1;
    for (int i = 0; i < 6 && which < 0; i++)
        if (bf_ptx_take(m, tests[i]))
            which = i;
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    if (which < 0 || (t != BF_PTX_T_F32 && t != BF_PTX_T_F64))
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], t);
    uint32_t d = bf_ptx_dst_pred(D, &o[0]);
    bf_ptx_insn_t *in = op3(D, t == BF_PTX_T_F32 ? BF_PTX_X_TESTP_F32 : BF_PTX_X_TESTP_F64, d, a, 0, 0);
    if (in)
        in->sub = (uint8_t)which;
    return D->L->status;
}
