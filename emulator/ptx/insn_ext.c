/*
 * insn_ext.c: decoders of the instructions that run as EXT operations (exec_ext.c): match.sync,
 * redux.sync, slct, and barrier reductions (bar.red); and bar.arrive.
 */
#include <string.h>

#include "insn.h"

#define FAILED(D) ((D)->L->status != BF_OK)

static bf_ptx_insn_t *ext(bf_ptx_dec_t *D, int sub, uint32_t d, uint32_t a, uint32_t b, uint32_t c)
{
    if (FAILED(D))
        return NULL;
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_EXT);
    if (in) {
        in->sub = (uint8_t)sub;
        in->d = d;
        in->a = a;
        in->b = b;
        in->c = c;
    }
    return in;
}

/* match.any.sync.b32/b64 d, a, membermask; match.all.sync.b32/b64 d[|p], a, membermask. */
bf_status_t bf_ptx_insn_match(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int all = bf_ptx_take(m, BF_PTX_M_all);
    int any = !all && bf_ptx_take(m, BF_PTX_M_any);
    int sync = bf_ptx_take(m, BF_PTX_M_sync);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    if ((!all && !any) || !sync || (t != BF_PTX_T_B32 && t != BF_PTX_T_B64) || (any && o[0].has_pair))
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], t);
    uint32_t mask = bf_ptx_src(D, &o[2], BF_PTX_T_U32); /* the active lanes of each lane's mask take part */
    uint32_t d = bf_ptx_dst(D, &o[0], BF_PTX_T_B32);
    bf_ptx_insn_t *in = ext(D, all ? BF_PTX_EXT_MATCH_ALL : BF_PTX_EXT_MATCH_ANY, d, a, mask, a);
    if (in) {
        in->flags = (uint8_t)(t == BF_PTX_T_B64);
        if (o[0].has_pair) {
            in->flags |= 2;
            in->e = o[0].pair_slot;
        }
    }
    return D->L->status;
}

/* redux.sync.op.type d, a, membermask: add min max (.u32 .s32), and or xor (.b32). */
bf_status_t bf_ptx_insn_redux(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    static const struct {
        int mod, op, bitwise;
    } ops[] = {
        {BF_PTX_M_add, BF_PTX_REDUX_ADD, 0}, {BF_PTX_M_min, BF_PTX_REDUX_MIN, 0}, {BF_PTX_M_max, BF_PTX_REDUX_MAX, 0},
        {BF_PTX_M_and, BF_PTX_REDUX_AND, 1}, {BF_PTX_M_or, BF_PTX_REDUX_OR, 1},   {BF_PTX_M_xor, BF_PTX_REDUX_XOR, 1},
    };
    int k = 0;
    while (k < 6 && !bf_ptx_take(m, ops[k].mod))
        k++;
    int sync = bf_ptx_take(m, BF_PTX_M_sync);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 3) != BF_OK)
        return D->L->status;
    if (k == 6 || !sync ||
        (ops[k].bitwise ? t != BF_PTX_T_B32 : (t != BF_PTX_T_U32 && t != BF_PTX_T_S32)))
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], t);
    uint32_t mask = bf_ptx_src(D, &o[2], BF_PTX_T_U32);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    bf_ptx_insn_t *in = ext(D, BF_PTX_EXT_REDUX, d, a, mask, a);
    if (in) {
        in->n = (uint8_t)ops[k].op;
        in->kind = t == BF_PTX_T_S32 ? BF_PTX_K_S32 : BF_PTX_K_U32;
    }
    return D->L->status;
}

/* fns.b32 d, mask, base, offset: the offset-th set bit of mask from base (exec_ext.c). */
bf_status_t bf_ptx_insn_fns(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_B32)
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], BF_PTX_T_B32), b = bf_ptx_src(D, &o[2], BF_PTX_T_U32);
    uint32_t c = bf_ptx_src(D, &o[3], BF_PTX_T_S32);
    uint32_t d = bf_ptx_dst(D, &o[0], BF_PTX_T_B32);
    ext(D, BF_PTX_EXT_FNS, d, a, b, c);
    return D->L->status;
}

/* vop2/vop4.dtype.atype.btype{.sat|.add} d, a, b, c (SIMD video) with the default selectors and
 * mask; selector and mask suffixes on the operands fail the load. */
static bf_status_t video(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int op, int quad)
{
    int sat = bf_ptx_take(m, BF_PTX_M_sat), add = bf_ptx_take(m, BF_PTX_M_add);
    bf_ptx_type_t t[3];
    for (int i = 0; i < 3; i++)
        t[i] = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    for (int i = 0; i < 3; i++)
        if (t[i] != BF_PTX_T_U32 && t[i] != BF_PTX_T_S32)
            return bf_ptx_unsupported(D, "%s", "");
    if (sat && add)
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], BF_PTX_T_B32), b = bf_ptx_src(D, &o[2], BF_PTX_T_B32);
    uint32_t c = bf_ptx_src(D, &o[3], BF_PTX_T_B32);
    uint32_t d = bf_ptx_dst(D, &o[0], BF_PTX_T_B32);
    bf_ptx_insn_t *in = ext(D, BF_PTX_EXT_VIDEO, d, a, b, c);
    if (in) {
        in->n = (uint8_t)op;
        in->flags = (uint8_t)((quad ? BF_PTX_VF_QUAD : 0) | (sat ? BF_PTX_VF_SAT : 0) | (add ? BF_PTX_VF_ADD : 0) |
                              (t[0] == BF_PTX_T_S32 ? BF_PTX_VF_DSIGNED : 0) |
                              (t[1] == BF_PTX_T_S32 ? BF_PTX_VF_ASIGNED : 0) |
                              (t[2] == BF_PTX_T_S32 ? BF_PTX_VF_BSIGNED : 0));
    }
    return D->L->status;
}

#define BF_PTX_VIDEO_INSN(name, op, quad)                                                         \
    bf_status_t bf_ptx_insn_##name(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)     \
    {                                                                                             \
        return video(D, m, o, n, op, quad);                                                       \
    }
BF_PTX_VIDEO_INSN(vadd2, BF_PTX_VIDEO_ADD, 0)
BF_PTX_VIDEO_INSN(vsub2, BF_PTX_VIDEO_SUB, 0)
BF_PTX_VIDEO_INSN(vavrg2, BF_PTX_VIDEO_AVRG, 0)
BF_PTX_VIDEO_INSN(vabsdiff2, BF_PTX_VIDEO_ABSDIFF, 0)
BF_PTX_VIDEO_INSN(vmin2, BF_PTX_VIDEO_MIN, 0)
BF_PTX_VIDEO_INSN(vmax2, BF_PTX_VIDEO_MAX, 0)
BF_PTX_VIDEO_INSN(vadd4, BF_PTX_VIDEO_ADD, 1)
BF_PTX_VIDEO_INSN(vsub4, BF_PTX_VIDEO_SUB, 1)
BF_PTX_VIDEO_INSN(vavrg4, BF_PTX_VIDEO_AVRG, 1)
BF_PTX_VIDEO_INSN(vabsdiff4, BF_PTX_VIDEO_ABSDIFF, 1)
BF_PTX_VIDEO_INSN(vmin4, BF_PTX_VIDEO_MIN, 1)
BF_PTX_VIDEO_INSN(vmax4, BF_PTX_VIDEO_MAX, 1)

/* slct.dtype.s32 d, a, b, c and slct[.ftz].dtype.f32 d, a, b, c: d = c >= 0 ? a : b. */
bf_status_t bf_ptx_insn_slct(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int ftz = bf_ptx_take(m, BF_PTX_M_ftz);
    bf_ptx_type_t dt = bf_ptx_need_type(D, m);
    bf_ptx_type_t ct = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 4, 4) != BF_OK)
        return D->L->status;
    unsigned bits = bf_ptx_type_bits(dt);
    if ((ct != BF_PTX_T_S32 && ct != BF_PTX_T_F32) || (ftz && ct != BF_PTX_T_F32) || dt == BF_PTX_T_PRED ||
        bits < 16 || bits > 64 || dt == BF_PTX_T_F16X2 || dt == BF_PTX_T_BF16X2)
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], dt), b = bf_ptx_src(D, &o[2], dt), c = bf_ptx_src(D, &o[3], ct);
    uint32_t d = bf_ptx_dst(D, &o[0], dt);
    bf_ptx_insn_t *in = ext(D, BF_PTX_EXT_SLCT, d, a, b, c);
    if (in) {
        in->kind = ct == BF_PTX_T_F32 ? BF_PTX_K_F32 : BF_PTX_K_S32;
        in->flags = (uint8_t)((bits == 64 ? 1 : 0) | (ftz ? 2 : 0));
    }
    return D->L->status;
}

/*
 * bar.red.popc.u32 d, a{, b}, {!}c; bar.red.and.pred / bar.red.or.pred p, a{, b}, {!}c: each warp
 * adds its lanes' predicates, barrier a (b threads or the whole block, as bar.sync) releases them
 * with the result over the warps that arrived there.
 */
bf_status_t bf_ptx_barrier_red(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int op = bf_ptx_take(m, BF_PTX_M_popc) ? 0 : bf_ptx_take(m, BF_PTX_M_and) ? 1 : bf_ptx_take(m, BF_PTX_M_or) ? 2 : -1;
    bf_ptx_take(m, BF_PTX_M_cta);
    bf_ptx_take(m, BF_PTX_M_aligned);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 3, 4) != BF_OK)
        return D->L->status;
    if (op < 0 || (op == 0) != (t == BF_PTX_T_U32) || (op > 0 && t != BF_PTX_T_PRED))
        return bf_ptx_unsupported(D, "%s", "");
    const bf_ptx_opd_t *pred = &o[n - 1];
    uint32_t a = bf_ptx_src(D, &o[1], BF_PTX_T_U32);
    uint32_t b = n == 4 ? bf_ptx_src(D, &o[2], BF_PTX_T_U32) : 0;
    uint32_t c = bf_ptx_src_pred(D, pred);
    bf_ptx_insn_t *in = ext(D, BF_PTX_EXT_BARRED_ARRIVE, 0, c, c, c);
    if (!in)
        return D->L->status;
    in->flags = pred->neg ? 1 : 0;
    in = bf_ptx_emit(D, BF_PTX_X_BAR);
    if (!in)
        return D->L->status;
    in->a = a;
    in->b = b;
    in->flags = (uint8_t)(BF_PTX_BAR_RED | (n == 4 ? BF_PTX_BAR_COUNT : 0));
    uint32_t d = op == 0 ? bf_ptx_dst(D, &o[0], t) : bf_ptx_dst_pred(D, &o[0]);
    in = ext(D, BF_PTX_EXT_BARRED_RESULT, d, d, d, d);
    if (in)
        in->n = (uint8_t)op;
    return D->L->status;
}

/* set.cmp[.bop].dtype.stype d, a, b{, [!]c}: setp into a predicate, then d = p ? 1 : 0, where 1 is
 * 1.0 for .f32 and .f16 destinations and all ones for integer ones. */
bf_status_t bf_ptx_insn_set(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t dt = bf_ptx_take_type(m);
    if (dt != BF_PTX_T_U32 && dt != BF_PTX_T_S32 && dt != BF_PTX_T_B32 && dt != BF_PTX_T_F32 && dt != BF_PTX_T_F16)
        return bf_ptx_unsupported(D, "%s", "");
    if (n < 3 || n > 4)
        return bf_ptx_nopd(D, n, 3, 4);
    bf_ptx_opd_t po[4];
    memcpy(po, o, (size_t)n * sizeof(*o));
    memset(&po[0], 0, sizeof(po[0]));
    po[0].kind = BF_PTX_OPD_REG;
    po[0].cls = BF_PTX_SLOT_PRED;
    po[0].slot = bf_ptx_temp(D, BF_PTX_SLOT_PRED);
    po[0].sym_space = 0xff;
    po[0].tok = o[0].tok;
    if (!po[0].slot || bf_ptx_insn_setp(D, m, po, n) != BF_OK)
        return D->L->status;
    uint32_t one = dt == BF_PTX_T_F32 ? 0x3f800000u : dt == BF_PTX_T_F16 ? 0x3c00u : 0xffffffffu;
    uint32_t a = bf_ptx_const(D, BF_PTX_SLOT_R32, one), b = bf_ptx_const(D, BF_PTX_SLOT_R32, 0);
    uint32_t d = bf_ptx_dst(D, &o[0], dt);
    if (FAILED(D))
        return D->L->status;
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_SELP_32);
    if (in) {
        in->d = d;
        in->a = a;
        in->b = b;
        in->c = po[0].slot;
    }
    return D->L->status;
}
