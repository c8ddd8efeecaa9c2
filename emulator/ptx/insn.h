/*
 * insn.h: what the instruction decoders (insn_alu.c, insn_mem.c, insn_ctl.c) share: modifier ids,
 * modifier helpers and their entry points, which insn.c's table dispatches to.
 */
#ifndef BF_PTX_INSN_H
#define BF_PTX_INSN_H

#include "decode.h"

/* Modifier ids; types are BF_PTX_M_TYPE + bf_ptx_type_t. */
#define BF_PTX_MODS(X)                                                                            \
    X(global) X(shared) X(local) X(param) X(const)                                                \
    X(eq) X(ne) X(lt) X(le) X(gt) X(ge) X(lo) X(ls) X(hi) X(hs)                                   \
    X(equ) X(neu) X(ltu) X(leu) X(gtu) X(geu) X(num) X(nan)                                       \
    X(and) X(or) X(xor)                                                                           \
    X(rn) X(rz) X(rm) X(rp) X(rni) X(rzi) X(rmi) X(rpi) X(rna)                                    \
    X(ftz) X(sat) X(approx) X(full) X(wide) X(uni) X(sync) X(aligned) X(to) X(cc) X(warp) X(cta)  \
    X(v2) X(v4) X(v8)                                                                             \
    X(add) X(min) X(max) X(exch) X(cas) X(inc) X(dec)                                             \
    X(up) X(down) X(bfly) X(idx) X(all) X(any) X(ballot)                                          \
    X(volatile) X(relaxed) X(acquire) X(release) X(acq_rel) X(sc) X(weak) X(mmio)                 \
    X(gpu) X(sys) X(cluster) X(gl) X(arrive) X(red) X(popc)                                       \
    X(finite) X(infinite) X(number) X(notanumber) X(normal) X(subnormal)                          \
    X(f4e) X(b4e) X(rc8) X(ecl) X(ecr) X(rc16) X(shiftamt) X(clamp) X(wrap) X(noftz) X(proxy)     \
    X(alias) X(async) X(NaN) X(relu) X(xorsign) X(abs) X(L2) X(L1) X(l) X(r)

enum {
    BF_PTX_M_UNKNOWN = 0,
#define BF_PTX_MOD_ENUM(name) BF_PTX_M_##name,
    BF_PTX_MODS(BF_PTX_MOD_ENUM)
#undef BF_PTX_MOD_ENUM
    BF_PTX_M_TYPE = 0x100,
};

/* Marks modifier id used; 1 if it was there. */
int bf_ptx_take(bf_ptx_mods_t *m, int id);
/* The first unused type modifier (consumed), or BF_PTX_T_NONE. */
bf_ptx_type_t bf_ptx_take_type(bf_ptx_mods_t *m);
/* Consumes exactly one type; fails (unsupported) when there is none. */
bf_ptx_type_t bf_ptx_need_type(bf_ptx_dec_t *D, bf_ptx_mods_t *m);
/* Fails (unsupported, naming it) on the first modifier nobody consumed. */
bf_status_t bf_ptx_mods_done(bf_ptx_dec_t *D, bf_ptx_mods_t *m);
/* Consumes memory-ordering modifiers that need no action in this engine (.relaxed.gpu, ...). */
void bf_ptx_take_ordering(bf_ptx_mods_t *m);
/* Operand count check. */
bf_status_t bf_ptx_nopd(bf_ptx_dec_t *D, int n, int want_min, int want_max);
/* 1 for the integer types of the given widths. */
int bf_ptx_is_int(bf_ptx_type_t t);

typedef bf_status_t (*bf_ptx_insn_fn_t)(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n);

#define BF_PTX_INSN_DECL(name) bf_status_t bf_ptx_insn_##name(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n);
/* insn_alu.c */
BF_PTX_INSN_DECL(add) BF_PTX_INSN_DECL(sub) BF_PTX_INSN_DECL(mul) BF_PTX_INSN_DECL(mad)
BF_PTX_INSN_DECL(mul24) BF_PTX_INSN_DECL(mad24) BF_PTX_INSN_DECL(fma) BF_PTX_INSN_DECL(div)
BF_PTX_INSN_DECL(rem) BF_PTX_INSN_DECL(min) BF_PTX_INSN_DECL(max) BF_PTX_INSN_DECL(neg)
BF_PTX_INSN_DECL(abs) BF_PTX_INSN_DECL(and) BF_PTX_INSN_DECL(or) BF_PTX_INSN_DECL(xor)
BF_PTX_INSN_DECL(not) BF_PTX_INSN_DECL(cnot) BF_PTX_INSN_DECL(shl) BF_PTX_INSN_DECL(shr)
BF_PTX_INSN_DECL(popc) BF_PTX_INSN_DECL(clz) BF_PTX_INSN_DECL(brev) BF_PTX_INSN_DECL(bfe)
BF_PTX_INSN_DECL(bfi) BF_PTX_INSN_DECL(prmt) BF_PTX_INSN_DECL(lop3) BF_PTX_INSN_DECL(setp)
BF_PTX_INSN_DECL(selp) BF_PTX_INSN_DECL(mov) BF_PTX_INSN_DECL(cvt) BF_PTX_INSN_DECL(rcp)
BF_PTX_INSN_DECL(sqrt) BF_PTX_INSN_DECL(rsqrt) BF_PTX_INSN_DECL(ex2) BF_PTX_INSN_DECL(lg2)
BF_PTX_INSN_DECL(sin) BF_PTX_INSN_DECL(cos) BF_PTX_INSN_DECL(tanh) BF_PTX_INSN_DECL(copysign)
BF_PTX_INSN_DECL(testp) BF_PTX_INSN_DECL(addc) BF_PTX_INSN_DECL(subc) BF_PTX_INSN_DECL(madc)
BF_PTX_INSN_DECL(bfind) BF_PTX_INSN_DECL(shf) BF_PTX_INSN_DECL(sad)
/* insn_mem.c */
BF_PTX_INSN_DECL(ld) BF_PTX_INSN_DECL(ldu) BF_PTX_INSN_DECL(st) BF_PTX_INSN_DECL(atom)
BF_PTX_INSN_DECL(red) BF_PTX_INSN_DECL(cvta)
/* insn_ctl.c */
BF_PTX_INSN_DECL(bra) BF_PTX_INSN_DECL(ret) BF_PTX_INSN_DECL(exit) BF_PTX_INSN_DECL(trap)
BF_PTX_INSN_DECL(bar) BF_PTX_INSN_DECL(barrier) BF_PTX_INSN_DECL(membar) BF_PTX_INSN_DECL(fence)
BF_PTX_INSN_DECL(shfl) BF_PTX_INSN_DECL(vote) BF_PTX_INSN_DECL(activemask)
BF_PTX_INSN_DECL(nothing)
/* insn_ext.c */
BF_PTX_INSN_DECL(match) BF_PTX_INSN_DECL(redux) BF_PTX_INSN_DECL(slct) BF_PTX_INSN_DECL(set)
BF_PTX_INSN_DECL(fns)
BF_PTX_INSN_DECL(vadd2) BF_PTX_INSN_DECL(vsub2) BF_PTX_INSN_DECL(vavrg2) BF_PTX_INSN_DECL(vabsdiff2)
BF_PTX_INSN_DECL(vmin2) BF_PTX_INSN_DECL(vmax2) BF_PTX_INSN_DECL(vadd4) BF_PTX_INSN_DECL(vsub4)
BF_PTX_INSN_DECL(vavrg4) BF_PTX_INSN_DECL(vabsdiff4) BF_PTX_INSN_DECL(vmin4) BF_PTX_INSN_DECL(vmax4)
/* bar.red (called by bar's decoder) */
bf_status_t bf_ptx_barrier_red(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n);
#undef BF_PTX_INSN_DECL

#endif
