/*
 * insn_mem.c: decoders of loads, stores, atomics and address conversion.
 *
 * A memory operation keeps its state space (sub), element width (w), vector length (n) and an
 * address made of a base slot (a) plus a constant (imm). Symbols resolve here: a shared, local or
 * parameter variable is a constant offset in its space; a module global is a slot the launch
 * fills with its bound address. A generic access to a symbol of a known space becomes an access
 * to that space. Parameters of inlined functions (.param variables of a call) live in local memory.
 */
#include <string.h>

#include "insn.h"

#define FAILED(D) ((D)->L->status != BF_OK)

static const char *space_name(int sp)
{
    switch (sp) {
    case BF_PTX_SP_GLOBAL: return "global";
    case BF_PTX_SP_SHARED: return "shared";
    case BF_PTX_SP_LOCAL: return "local";
    case BF_PTX_SP_PARAM: return "param";
    default: return "generic";
    }
}

/* The declared state space: generic when none. .const is global memory here. */
static int take_space(bf_ptx_mods_t *m)
{
    if (bf_ptx_take(m, BF_PTX_M_global) || bf_ptx_take(m, BF_PTX_M_const))
        return BF_PTX_SP_GLOBAL;
    if (bf_ptx_take(m, BF_PTX_M_shared))
        return BF_PTX_SP_SHARED;
    if (bf_ptx_take(m, BF_PTX_M_local))
        return BF_PTX_SP_LOCAL;
    if (bf_ptx_take(m, BF_PTX_M_param))
        return BF_PTX_SP_PARAM;
    return BF_PTX_SP_GENERIC;
}

/* Fills the address fields of in from an address operand; *space is the declared space and may be
 * narrowed (generic → the symbol's space). */
static bf_status_t address(bf_ptx_dec_t *D, const bf_ptx_opd_t *o, int *space, bf_ptx_insn_t *in)
{
    if (o->kind != BF_PTX_OPD_ADDR)
        return bf_ptx_bad(D, "expected an address in brackets");
    in->imm = o->off;
    if (o->has_base) {
        in->a = o->slot;
        if (o->cls == BF_PTX_SLOT_R32)
            in->flags |= BF_PTX_MF_ADDR32;
        return BF_OK;
    }
    uint32_t zero = bf_ptx_const(D, BF_PTX_SLOT_R64, 0);
    in->a = zero;
    int want;
    switch (o->sym_space) {
    case 0xff:
        return BF_OK; /* an absolute address */
    case BF_PTX_ADDR_GLOBAL:
        in->a = bf_ptx_global_addr(D, o->sym_index, 0);
        want = BF_PTX_SP_GLOBAL;
        break;
    case BF_PTX_ADDR_SHARED:
        want = BF_PTX_SP_SHARED;
        break;
    case BF_PTX_ADDR_LOCAL:
        want = BF_PTX_SP_LOCAL;
        if (o->sym_base)
            in->a = o->sym_base; /* a variable of an out-of-line function's frame */
        /* st.param/ld.param on a call's parameter: local memory here. */
        if (*space == BF_PTX_SP_PARAM)
            *space = BF_PTX_SP_LOCAL;
        break;
    case BF_PTX_ADDR_PARAM:
        want = BF_PTX_SP_PARAM;
        break;
    default:
        return bf_ptx_bad(D, "not an address");
    }
    if (*space == BF_PTX_SP_GENERIC)
        *space = want;
    if (*space != want)
        return bf_ptx_bad(D, "'%.*s' is not in the %s space", (int)o->tok->len, o->tok->s, space_name(*space));
    return FAILED(D) ? D->L->status : BF_OK;
}

static int elem_width(bf_ptx_type_t t)
{
    unsigned bits = bf_ptx_type_bits(t);
    if (t == BF_PTX_T_PRED || bits < 8 || bits > 64)
        return 0;
    return (int)(bits / 8);
}

/* The data registers of a load or store (one, or a {vector}); all of one slot class. */
static bf_status_t data_regs(bf_ptx_dec_t *D, const bf_ptx_opd_t *o, int vec, bf_ptx_type_t t, int is_store,
                             bf_ptx_insn_t *in_fields, uint32_t *slots)
{
    int w = elem_width(t);
    int count = o->kind == BF_PTX_OPD_VEC ? o->vn : 1;
    if (count != vec)
        return bf_ptx_bad(D, "%d registers for a vector of %d", count, vec);
    int cls = -1;
    for (int i = 0; i < vec; i++) {
        bf_ptx_opd_t e;
        if (o->kind == BF_PTX_OPD_VEC) {
            memset(&e, 0, sizeof(e));
            e.kind = o->vel[i].kind;
            e.cls = o->vel[i].cls;
            e.slot = o->vel[i].slot;
            e.form = o->vel[i].form;
            e.ival = o->vel[i].ival;
            e.fval = o->vel[i].fval;
            e.tok = o->tok;
        } else {
            e = *o;
        }
        int ecls;
        if (e.kind == BF_PTX_OPD_REG) {
            if (e.cls == BF_PTX_SLOT_PRED)
                return bf_ptx_bad(D, "predicate as memory data");
            ecls = e.cls;
            if (!is_store && e.slot && bf_ptx_slot_cls(D, e.slot) != (bf_ptx_slot_cls_t)ecls)
                return bf_ptx_bad(D, "bad register");
            slots[i] = e.slot;
        } else if (e.kind == BF_PTX_OPD_SINK && !is_store) {
            ecls = cls >= 0 ? cls : (w == 8 ? BF_PTX_SLOT_R64 : BF_PTX_SLOT_R32);
            slots[i] = bf_ptx_temp(D, (bf_ptx_slot_cls_t)ecls);
        } else if (e.kind == BF_PTX_OPD_IMM && is_store) {
            ecls = cls >= 0 ? cls : (w == 8 ? BF_PTX_SLOT_R64 : BF_PTX_SLOT_R32);
            slots[i] = bf_ptx_src(D, &e, ecls == BF_PTX_SLOT_R64 ? BF_PTX_T_B64 : BF_PTX_T_B32);
        } else if (e.kind == BF_PTX_OPD_SYM && is_store && e.sym_space != BF_PTX_ADDR_FUNC) {
            /* st.u64 [p], sym: the symbol's address. */
            ecls = BF_PTX_SLOT_R64;
            slots[i] = bf_ptx_src(D, &e, BF_PTX_T_B64);
        } else {
            return bf_ptx_bad(D, "memory data must be registers");
        }
        if (FAILED(D))
            return D->L->status;
        if (!is_store && D->slots[slots[i]].kind != 0 /* BF_PTX_SV_VAR */)
            return bf_ptx_bad(D, "load into a read-only register");
        if (cls >= 0 && ecls != cls)
            return bf_ptx_unsupported(D, "vector of registers of different widths");
        cls = ecls;
    }
    if (w == 8 && cls != BF_PTX_SLOT_R64)
        return bf_ptx_bad(D, "64-bit data in a 32-bit register");
    if (cls == BF_PTX_SLOT_R64)
        in_fields->flags |= BF_PTX_MF_DATA64;
    return BF_OK;
}

static bf_status_t ld_st(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int is_store)
{
    int space = take_space(m);
    bf_ptx_take_ordering(m);
    int vec = bf_ptx_take(m, BF_PTX_M_v2) ? 2 : bf_ptx_take(m, BF_PTX_M_v4) ? 4 : 1;
    if (bf_ptx_take(m, BF_PTX_M_v8))
        return bf_ptx_unsupported(D, "modifier .v8");
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    /* A trailing cache-policy operand (L2::cache_hint) is a hint too. */
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 3) != BF_OK)
        return D->L->status;
    int w = elem_width(t);
    if (!w)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    bf_ptx_insn_t fields;
    memset(&fields, 0, sizeof(fields));
    uint32_t slots[4] = {0, 0, 0, 0};
    const bf_ptx_opd_t *addr = is_store ? &o[0] : &o[1];
    const bf_ptx_opd_t *data = is_store ? &o[1] : &o[0];
    if (address(D, addr, &space, &fields) != BF_OK)
        return D->L->status;
    if (is_store && space == BF_PTX_SP_PARAM)
        return bf_ptx_unsupported(D, "store to a kernel parameter");
    if (data_regs(D, data, vec, t, is_store, &fields, slots) != BF_OK)
        return D->L->status;
    bf_ptx_insn_t *in = bf_ptx_emit(D, is_store ? BF_PTX_X_ST : BF_PTX_X_LD);
    if (!in)
        return D->L->status;
    in->sub = (uint8_t)space;
    in->w = (uint8_t)w;
    in->n = (uint8_t)vec;
    in->a = fields.a;
    in->imm = fields.imm;
    in->flags = fields.flags;
    if (bf_ptx_type_is_signed(t))
        in->flags |= BF_PTX_MF_SIGNED;
    memcpy(in->v, slots, sizeof(slots));
    return BF_OK;
}

bf_status_t bf_ptx_insn_ld(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return ld_st(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_ldu(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return ld_st(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_st(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return ld_st(D, m, o, n, 1);
}

static const struct {
    int mod;
    bf_ptx_atom_t op;
} atom_ops[] = {
    {BF_PTX_M_add, BF_PTX_ATOM_ADD}, {BF_PTX_M_min, BF_PTX_ATOM_MIN}, {BF_PTX_M_max, BF_PTX_ATOM_MAX},
    {BF_PTX_M_exch, BF_PTX_ATOM_EXCH}, {BF_PTX_M_cas, BF_PTX_ATOM_CAS}, {BF_PTX_M_and, BF_PTX_ATOM_AND},
    {BF_PTX_M_or, BF_PTX_ATOM_OR}, {BF_PTX_M_xor, BF_PTX_ATOM_XOR}, {BF_PTX_M_inc, BF_PTX_ATOM_INC},
    {BF_PTX_M_dec, BF_PTX_ATOM_DEC},
};

static bf_status_t atom_red(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n, int is_red)
{
    int space = take_space(m);
    bf_ptx_take_ordering(m);
    bf_ptx_take(m, BF_PTX_M_noftz);
    int op = -1;
    for (size_t i = 0; i < sizeof(atom_ops) / sizeof(atom_ops[0]) && op < 0; i++)
        if (bf_ptx_take(m, atom_ops[i].mod))
            op = (int)atom_ops[i].op;
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D))
        return D->L->status;
    if (op < 0)
        return bf_ptx_bad(D, "no operation");
    int nsrc = op == BF_PTX_ATOM_CAS ? 2 : 1;
    if (bf_ptx_nopd(D, n, 1 + nsrc + !is_red, 2 + nsrc + !is_red) != BF_OK)
        return D->L->status;
    if (space == BF_PTX_SP_LOCAL || space == BF_PTX_SP_PARAM)
        return bf_ptx_bad(D, "atomics on %s memory", space_name(space));
    bf_ptx_kind_t kind;
    switch (t) {
    case BF_PTX_T_B32: case BF_PTX_T_U32: kind = BF_PTX_K_U32; break;
    case BF_PTX_T_S32: kind = BF_PTX_K_S32; break;
    case BF_PTX_T_B64: case BF_PTX_T_U64: kind = BF_PTX_K_U64; break;
    case BF_PTX_T_S64: kind = BF_PTX_K_S64; break;
    case BF_PTX_T_F32: kind = BF_PTX_K_F32; break;
    case BF_PTX_T_F64: kind = BF_PTX_K_F64; break;
    case BF_PTX_T_B16: case BF_PTX_T_U16:
        /* atom.cas.b16 (sm_70): the only 16-bit atomic */
        if (op != BF_PTX_ATOM_CAS)
            return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
        kind = BF_PTX_K_U32;
        break;
    default: return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    }
    int is_float = kind == BF_PTX_K_F32 || kind == BF_PTX_K_F64;
    if (is_float && op != BF_PTX_ATOM_ADD && op != BF_PTX_ATOM_EXCH)
        return bf_ptx_unsupported(D, "%s", "");
    if ((op == BF_PTX_ATOM_INC || op == BF_PTX_ATOM_DEC) && kind != BF_PTX_K_U32)
        return bf_ptx_unsupported(D, "%s", "");
    bf_ptx_insn_t fields;
    memset(&fields, 0, sizeof(fields));
    int first = is_red ? 0 : 1;
    if (address(D, &o[first], &space, &fields) != BF_OK)
        return D->L->status;
    if (space == BF_PTX_SP_LOCAL || space == BF_PTX_SP_PARAM)
        return bf_ptx_bad(D, "atomics on %s memory", space_name(space));
    uint32_t b = bf_ptx_src(D, &o[first + 1], t);
    uint32_t c = nsrc == 2 ? bf_ptx_src(D, &o[first + 2], t) : 0;
    uint32_t d = is_red ? bf_ptx_temp(D, bf_ptx_type_bits(t) == 64 ? BF_PTX_SLOT_R64 : BF_PTX_SLOT_R32)
                        : bf_ptx_dst(D, &o[0], t);
    if (FAILED(D))
        return D->L->status;
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_ATOM);
    if (!in)
        return D->L->status;
    in->sub = (uint8_t)space;
    in->n = (uint8_t)op;
    in->kind = (uint8_t)kind;
    in->w = (uint8_t)(bf_ptx_type_bits(t) / 8);
    in->a = fields.a;
    in->imm = fields.imm;
    in->flags = fields.flags | (is_red ? BF_PTX_MF_NORESULT : 0);
    in->d = d;
    in->b = b;
    in->c = c;
    return BF_OK;
}

bf_status_t bf_ptx_insn_atom(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return atom_red(D, m, o, n, 0);
}

bf_status_t bf_ptx_insn_red(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    return atom_red(D, m, o, n, 1);
}

/* cvta.space.size (to generic) and cvta.to.space.size (from generic). Global and const addresses
 * are the same in both; shared, local and param ones gain or lose their window tag. */
bf_status_t bf_ptx_insn_cvta(bf_ptx_dec_t *D, bf_ptx_mods_t *m, bf_ptx_opd_t *o, int n)
{
    int to = bf_ptx_take(m, BF_PTX_M_to);
    int space = take_space(m);
    bf_ptx_type_t t = bf_ptx_need_type(D, m);
    if (FAILED(D) || bf_ptx_nopd(D, n, 2, 2) != BF_OK)
        return D->L->status;
    if (space == BF_PTX_SP_GENERIC)
        return bf_ptx_bad(D, "no state space");
    if (t != BF_PTX_T_U64 && t != BF_PTX_T_U32)
        return bf_ptx_unsupported(D, "type .%s", bf_ptx_type_name(t));
    bf_ptx_type_t wt = BF_PTX_T_U64;
    uint32_t a = bf_ptx_src(D, &o[1], wt);
    uint32_t d = bf_ptx_dst(D, &o[0], t);
    if (FAILED(D))
        return D->L->status;
    bf_ptx_insn_t *in;
    if (space == BF_PTX_SP_GLOBAL) {
        in = bf_ptx_emit(D, t == BF_PTX_T_U64 ? BF_PTX_X_MOV_64 : BF_PTX_X_CVT_II);
        if (in) {
            in->d = d;
            in->a = a;
            if (t != BF_PTX_T_U64) {
                in->imm = BF_PTX_CVT_II(64, 0, 32, 0);
                in->flags = 1;
            }
        }
        return D->L->status;
    }
    uint64_t tag = space == BF_PTX_SP_SHARED ? BF_PTX_WINDOW_SHARED
                   : space == BF_PTX_SP_LOCAL ? BF_PTX_WINDOW_LOCAL : BF_PTX_WINDOW_PARAM;
    uint32_t r = t == BF_PTX_T_U64 ? d : bf_ptx_temp(D, BF_PTX_SLOT_R64);
    in = bf_ptx_emit(D, to ? BF_PTX_X_AND_64 : BF_PTX_X_OR_64);
    if (!in)
        return D->L->status;
    in->d = r;
    in->a = a;
    in->b = bf_ptx_const(D, BF_PTX_SLOT_R64, to ? 0xffffffffull : tag << BF_PTX_WINDOW_SHIFT);
    if (t != BF_PTX_T_U64 && (in = bf_ptx_emit(D, BF_PTX_X_CVT_II)) != NULL) {
        in->d = d;
        in->a = r;
        in->imm = BF_PTX_CVT_II(64, 0, 32, 0);
        in->flags = 1;
    }
    return D->L->status;
}
