/*
 * insn_ctl.c: decoders of control flow (bra, ret, exit, trap), barriers, memory fences and warp
 * operations (shfl, vote, activemask).
 *
 * Memory fences (membar, fence) decode to nothing: the warps of a block run one at a time on one
 * thread, switching only at barriers and exits, and blocks on other threads reach memory only
 * through atomics (sequentially consistent) or plain accesses the PTX memory model leaves unordered
 * without such atomics; so every ordering a fence could demand already holds.
 */
#include <string.h>

#include "insn.h"

#define FAILED(D) ((D)->L->status != BF_OK)

bf_status_t bf_ptx_insn_bra(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_take(m, BF_PTX_M_uni);
    if (bf_ptx_nopd(D, n, 1, 1) != BF_OK)
        return D->L->status;
    if (o[0].kind != BF_PTX_OPD_LABEL)
        return bf_ptx_unsupported(D, "branch to '%.*s'", (int)o[0].tok->len, o[0].tok->s);
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_BRA);
    if (!in)
        return D->L->status;
    return bf_ptx_branch_to(D, (uint32_t)(D->len - 1), o[0].tok);
}

bf_status_t bf_ptx_insn_ret(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    (void)o;
    bf_ptx_take(m, BF_PTX_M_uni);
    if (bf_ptx_nopd(D, n, 0, 0) != BF_OK)
        return D->L->status;
    if (!D->frame->inlined && !D->frame->ool)
        return bf_ptx_emit(D, BF_PTX_X_EXIT) ? BF_OK : D->L->status;
    if (!bf_ptx_emit(D, BF_PTX_X_BRA))
        return D->L->status;
    return bf_ptx_inline_ret(D, (uint32_t)(D->len - 1));
}

bf_status_t bf_ptx_insn_exit(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    (void)m;
    (void)o;
    if (bf_ptx_nopd(D, n, 0, 0) != BF_OK)
        return D->L->status;
    return bf_ptx_emit(D, BF_PTX_X_EXIT) ? BF_OK : D->L->status;
}

bf_status_t bf_ptx_insn_trap(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    (void)m;
    (void)o;
    if (bf_ptx_nopd(D, n, 0, 0) != BF_OK)
        return D->L->status;
    return bf_ptx_emit(D, BF_PTX_X_TRAP) ? BF_OK : D->L->status;
}

/* bar.sync / barrier.sync a{, b} and bar.arrive a, b (flags BF_PTX_BAR_ARRIVE): named barrier a
 * (0..15) counting b threads, or every thread of the block; launch.c does the counting. */
static bf_status_t barrier_op(bf_ptx_dec_t *D, bf_ptx_opd_t *o, int n, uint32_t flags)
{
    /* bar.arrive has no default count: the PTX ISA requires b. */
    if (bf_ptx_nopd(D, n, (flags & BF_PTX_BAR_ARRIVE) ? 2 : 1, 2) != BF_OK)
        return D->L->status;
    uint32_t a = bf_ptx_src(D, &o[0], BF_PTX_T_U32);
    uint32_t b = n > 1 ? bf_ptx_src(D, &o[1], BF_PTX_T_U32) : 0;
    if (FAILED(D))
        return D->L->status;
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_BAR);
    if (!in)
        return D->L->status;
    in->a = a;
    in->b = b;
    in->flags = (uint8_t)(flags | (n > 1 ? BF_PTX_BAR_COUNT : 0));
    if (!in->flags && o[0].kind == BF_PTX_OPD_IMM && o[0].ival == 0)
        in->flags = BF_PTX_BAR_SYNC0;
    return BF_OK;
}

bf_status_t bf_ptx_insn_bar(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    if (bf_ptx_take(m, BF_PTX_M_warp)) {
        /* bar.warp.sync: the lanes of a warp already run in lock step. */
        bf_ptx_take(m, BF_PTX_M_sync);
        return bf_ptx_nopd(D, n, 1, 1);
    }
    if (bf_ptx_take(m, BF_PTX_M_red))
        return bf_ptx_barrier_red(D, m, o, n);
    bf_ptx_take(m, BF_PTX_M_cta);
    bf_ptx_take(m, BF_PTX_M_aligned);
    if (bf_ptx_take(m, BF_PTX_M_arrive))
        return barrier_op(D, o, n, BF_PTX_BAR_ARRIVE);
    if (!bf_ptx_take(m, BF_PTX_M_sync))
        return bf_ptx_unsupported(D, "%s", "");
    return barrier_op(D, o, n, 0);
}

bf_status_t bf_ptx_insn_barrier(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    /* barrier{.cta} is bar{.cta} without the implied .aligned: the same operations here. */
    if (bf_ptx_take(m, BF_PTX_M_red))
        return bf_ptx_barrier_red(D, m, o, n);
    bf_ptx_take(m, BF_PTX_M_cta);
    bf_ptx_take(m, BF_PTX_M_aligned);
    if (bf_ptx_take(m, BF_PTX_M_arrive))
        return barrier_op(D, o, n, BF_PTX_BAR_ARRIVE);
    if (!bf_ptx_take(m, BF_PTX_M_sync))
        return bf_ptx_unsupported(D, "%s", "");
    return barrier_op(D, o, n, 0);
}

bf_status_t bf_ptx_insn_membar(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    (void)o;
    if (!bf_ptx_take(m, BF_PTX_M_cta) && !bf_ptx_take(m, BF_PTX_M_gl) && !bf_ptx_take(m, BF_PTX_M_sys))
        return bf_ptx_unsupported(D, "%s", "");
    return bf_ptx_nopd(D, n, 0, 0);
}

bf_status_t bf_ptx_insn_fence(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    (void)o;
    if (bf_ptx_take(m, BF_PTX_M_proxy))
        return bf_ptx_unsupported(D, "%s", "");
    bf_ptx_take(m, BF_PTX_M_sc);
    bf_ptx_take_ordering(m);
    return bf_ptx_nopd(D, n, 0, 0);
}

/* shfl.sync.mode.b32 d[|p], a, b, c, membermask (or the old form without .sync and membermask). */
bf_status_t bf_ptx_insn_shfl(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int sync = bf_ptx_take(m, BF_PTX_M_sync);
    int mode = bf_ptx_take(m, BF_PTX_M_up) ? BF_PTX_SHFL_UP
               : bf_ptx_take(m, BF_PTX_M_down) ? BF_PTX_SHFL_DOWN
               : bf_ptx_take(m, BF_PTX_M_bfly) ? BF_PTX_SHFL_BFLY
               : bf_ptx_take(m, BF_PTX_M_idx) ? BF_PTX_SHFL_IDX : -1;
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, sync ? 5 : 4, sync ? 5 : 4) != BF_OK)
        return D->L->status;
    if (mode < 0 || t != BF_PTX_T_B32)
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src(D, &o[1], t);
    uint32_t b = bf_ptx_src(D, &o[2], BF_PTX_T_U32);
    uint32_t c = bf_ptx_src(D, &o[3], BF_PTX_T_U32);
    /* The member mask is read for its errors only: every lane of the warp is present. */
    if (sync)
        (void)bf_ptx_src(D, &o[4], BF_PTX_T_U32);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    if (FAILED(D))
        return D->L->status;
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_SHFL);
    if (!in)
        return D->L->status;
    in->sub = (uint8_t)mode;
    in->d = d;
    in->a = a;
    in->b = b;
    in->c = c;
    if (o[0].has_pair) {
        in->flags |= BF_PTX_SF_PAIR;
        in->e = o[0].pair_slot;
    }
    return BF_OK;
}

/* vote.sync.mode.pred d, {!}a, membermask; vote.sync.ballot.b32 d, {!}a, membermask. */
bf_status_t bf_ptx_insn_vote(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int sync = bf_ptx_take(m, BF_PTX_M_sync);
    int mode = bf_ptx_take(m, BF_PTX_M_all) ? BF_PTX_VOTE_ALL
               : bf_ptx_take(m, BF_PTX_M_any) ? BF_PTX_VOTE_ANY
               : bf_ptx_take(m, BF_PTX_M_uni) ? BF_PTX_VOTE_UNI
               : bf_ptx_take(m, BF_PTX_M_ballot) ? BF_PTX_VOTE_BALLOT : -1;
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, sync ? 3 : 2, sync ? 3 : 2) != BF_OK)
        return D->L->status;
    if (mode < 0 || (mode == BF_PTX_VOTE_BALLOT) != (t == BF_PTX_T_B32) ||
        (mode != BF_PTX_VOTE_BALLOT && t != BF_PTX_T_PRED))
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t a = bf_ptx_src_pred(D, &o[1]);
    /* Only the lanes of the member mask take part ("a thread not specified in membermask will
     * contribute a 0"); each lane's own mask counts for it. */
    uint32_t mask = sync ? bf_ptx_src(D, &o[2], BF_PTX_T_U32) : bf_ptx_const(D, BF_PTX_SLOT_R32, 0xffffffffu);
    uint32_t d = mode == BF_PTX_VOTE_BALLOT ? bf_ptx_dst(D, &o[0], t) : bf_ptx_dst_pred(D, &o[0]);
    if (FAILED(D))
        return D->L->status;
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_VOTE);
    if (!in)
        return D->L->status;
    in->sub = (uint8_t)mode;
    in->d = d;
    in->a = a;
    in->b = mask;
    if (o[1].neg)
        in->flags |= BF_PTX_SF_NEGC;
    return BF_OK;
}

bf_status_t bf_ptx_insn_activemask(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 1, 1) != BF_OK)
        return D->L->status;
    if (t != BF_PTX_T_B32)
        return bf_ptx_unsupported(D, "%s", "");
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    if (FAILED(D))
        return D->L->status;
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_ACTIVEMASK);
    if (in)
        in->d = d;
    return D->L->status;
}

/* Hints with no effect here (prefetch, nanosleep, pmevent): every modifier and operand accepted. */
bf_status_t bf_ptx_insn_nothing(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    (void)D;
    (void)o;
    (void)n;
    for (int i = 0; i < m->count; i++)
        m->used[i] = 1;
    return BF_OK;
}
