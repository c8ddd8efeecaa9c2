/*
 * decode.c: decodes a kernel's body into operations: statements, operands, names and slots,
 * inlined calls, and the final layout of the register file.
 *
 * One pass over the body's tokens emits operations as it reads statements; branch targets are
 * patched when the body ends. Before that pass, a scan of the body (and of every function it
 * calls) places the kernel's shared variables, so that the extern (dynamic) shared array's offset
 * is known when the first instruction names it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "decode.h"
#include "insn.h"

/* The token at i, or the END token past the end. */
static inline const bf_ptx_tok_t *TOK(const bf_ptx_dec_t *D, size_t i)
{
    return &D->L->toks[i < D->L->tok_count ? i : D->L->tok_count - 1];
}

static size_t align_up(size_t v, size_t a)
{
    return a > 1 ? (v + a - 1) & ~(a - 1) : v;
}

static int is_dir(const bf_ptx_tok_t *t, const char *s)
{
    return t->kind == BF_PTX_TOK_DIRECTIVE && bf_ptx_tok_eq(t, s);
}

static bf_status_t vfail(bf_ptx_dec_t *D, bf_status_t status, const char *prefix, const char *fmt, va_list ap)
{
    char detail[200];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    if (D->opcode)
        return bf_ptx_fail(D->L, status, D->line, "%s '%.*s'%s%s", prefix, (int)D->opcode->len, D->opcode->s,
                           detail[0] ? ": " : "", detail);
    return bf_ptx_fail(D->L, status, D->line, "%s", detail);
}

bf_status_t bf_ptx_unsupported(bf_ptx_dec_t *D, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bf_status_t status = vfail(D, BF_UNSUPPORTED, "unsupported instruction", fmt, ap);
    va_end(ap);
    return status;
}

bf_status_t bf_ptx_bad(bf_ptx_dec_t *D, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bf_status_t status = vfail(D, BF_INVALID_ARG, "malformed instruction", fmt, ap);
    va_end(ap);
    return status;
}

static bf_status_t oom(bf_ptx_dec_t *D)
{
    return bf_ptx_fail(D->L, BF_NO_MEMORY, D->line, "out of memory");
}

/* Grows *array (of elem-size items, *cap of them) to hold need items. */
static int grow(void **array, size_t elem, uint32_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*array, n * elem);
    if (!p)
        return 0;
    *array = p;
    *cap = (uint32_t)n;
    return 1;
}

/* --- slots ---------------------------------------------------------------------------------- */
static uint32_t new_slot(bf_ptx_dec_t *D, bf_ptx_slot_cls_t cls, bf_ptx_slot_kind_t kind, uint64_t value)
{
    if (!grow((void **)&D->slots, sizeof(*D->slots), &D->slot_cap, D->slot_count + 1)) {
        oom(D);
        return 0;
    }
    bf_ptx_slot_t *s = &D->slots[D->slot_count];
    memset(s, 0, sizeof(*s));
    s->cls = (uint8_t)cls;
    s->kind = (uint8_t)kind;
    s->owner = kind == BF_PTX_SV_VAR ? D->owner : 0;
    s->value = value;
    return D->slot_count++;
}

bf_ptx_slot_cls_t bf_ptx_slot_cls(const bf_ptx_dec_t *D, uint32_t slot)
{
    return (bf_ptx_slot_cls_t)D->slots[slot].cls;
}

uint32_t bf_ptx_temp(bf_ptx_dec_t *D, bf_ptx_slot_cls_t cls)
{
    return new_slot(D, cls, BF_PTX_SV_VAR, 0);
}

static uint32_t hash_u64(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    return (uint32_t)v;
}

uint32_t bf_ptx_const(bf_ptx_dec_t *D, bf_ptx_slot_cls_t cls, uint64_t bits)
{
    if (cls == BF_PTX_SLOT_R32)
        bits &= 0xffffffffu;
    if ((D->const_count + 1) * 2 > D->const_hash_cap) {
        uint32_t cap = D->const_hash_cap ? D->const_hash_cap * 2 : 64;
        uint32_t *h = calloc(cap, sizeof(*h));
        if (!h) {
            oom(D);
            return 0;
        }
        for (uint32_t i = 0; i < D->const_hash_cap; i++) {
            uint32_t id = D->const_hash[i];
            if (!id)
                continue;
            uint32_t j = hash_u64(D->slots[id].value ^ D->slots[id].cls) & (cap - 1);
            while (h[j])
                j = (j + 1) & (cap - 1);
            h[j] = id;
        }
        free(D->const_hash);
        D->const_hash = h;
        D->const_hash_cap = cap;
    }
    uint32_t j = hash_u64(bits ^ (uint64_t)cls) & (D->const_hash_cap - 1);
    while (D->const_hash[j]) {
        const bf_ptx_slot_t *s = &D->slots[D->const_hash[j]];
        if (s->cls == cls && s->value == bits)
            return D->const_hash[j];
        j = (j + 1) & (D->const_hash_cap - 1);
    }
    uint32_t id = new_slot(D, cls, BF_PTX_SV_CONST, bits);
    if (id) {
        D->const_hash[j] = id;
        D->const_count++;
    }
    return id;
}

uint32_t bf_ptx_const_pred(bf_ptx_dec_t *D, int value)
{
    if (value)
        return 0;
    if (!D->false_pred)
        D->false_pred = new_slot(D, BF_PTX_SLOT_PRED, BF_PTX_SV_CONST, 0);
    return D->false_pred;
}

uint32_t bf_ptx_global_addr(bf_ptx_dec_t *D, uint32_t index, int64_t offset)
{
    for (uint32_t i = 1; i < D->slot_count; i++)
        if (D->slots[i].kind == BF_PTX_SV_GLOBAL && D->slots[i].value == index && D->slots[i].offset == offset)
            return i;
    uint32_t id = new_slot(D, BF_PTX_SLOT_R64, BF_PTX_SV_GLOBAL, index);
    if (id)
        D->slots[id].offset = offset;
    return id;
}

int64_t bf_ptx_local_alloc(bf_ptx_dec_t *D, size_t bytes, size_t align)
{
    size_t offset = align_up(D->local_size, align ? align : 1);
    D->local_size = offset + bytes;
    return (int64_t)offset;
}

bf_status_t bf_ptx_ool_add(bf_ptx_dec_t *D, size_t func_index)
{
    if (!grow((void **)&D->ool, sizeof(*D->ool), &D->ool_cap, D->ool_count + 1))
        return oom(D);
    if (D->ool_count >= 0xfffe)
        return bf_ptx_unsupported(D, "too many recursive functions");
    D->ool[D->ool_count++] = (bf_ptx_ool_t){.func = func_index, .entry = BF_PTX_NO_PC, .frame_bytes = 0};
    return BF_OK;
}

bf_status_t bf_ptx_add_patch(bf_ptx_dec_t *D, uint32_t insn, uint32_t index, uint32_t kind)
{
    if (!grow((void **)&D->patches, sizeof(*D->patches), &D->patch_cap, D->patch_count + 1))
        return oom(D);
    D->patches[D->patch_count++] = (bf_ptx_patch_t){.insn = insn, .index = index, .kind = kind};
    return BF_OK;
}

/* --- emission ------------------------------------------------------------------------------- */
bf_ptx_insn_t *bf_ptx_emit(bf_ptx_dec_t *D, bf_ptx_xop_t op)
{
    uint32_t cap = (uint32_t)D->cap;
    if (!grow((void **)&D->code, sizeof(*D->code), &cap, D->len + 1)) {
        oom(D);
        return NULL;
    }
    D->cap = cap;
    bf_ptx_insn_t *in = &D->code[D->len++];
    memset(in, 0, sizeof(*in));
    in->op = (uint16_t)op;
    in->guard = D->guard;
    in->gneg = D->gneg;
    in->line = D->line;
    in->target = BF_PTX_NO_PC;
    in->rpc = BF_PTX_NO_PC;
    return in;
}

uint32_t bf_ptx_cvt_ii(bf_ptx_dec_t *D, uint32_t src, bf_ptx_slot_cls_t dst_cls, int64_t cvt)
{
    uint32_t t = bf_ptx_temp(D, dst_cls);
    bf_ptx_insn_t *in = t ? bf_ptx_emit(D, BF_PTX_X_CVT_II) : NULL;
    if (!in)
        return 0;
    in->d = t;
    in->a = src;
    in->imm = cvt;
    in->flags = (uint8_t)((D->slots[src].cls == BF_PTX_SLOT_R64 ? 1 : 0) | (dst_cls == BF_PTX_SLOT_R64 ? 2 : 0));
    return t;
}

/* --- special registers ----------------------------------------------------------------------- */
static const struct {
    const char *name;
    int special;       /* bf_ptx_special_t, or -1 */
    int lane;          /* bf_ptx_slot_kind_t lane pattern, or -1 */
    int clock;         /* 1 %clock, 2 %clock64, 3 %globaltimer, or 0 */
    int64_t constant;  /* when all the above are -1/0 */
} specials[] = {
    {"%tid.x", BF_PTX_SR_TID_X, -1, 0, 0},         {"%tid.y", BF_PTX_SR_TID_Y, -1, 0, 0},
    {"%tid.z", BF_PTX_SR_TID_Z, -1, 0, 0},         {"%ntid.x", BF_PTX_SR_NTID_X, -1, 0, 0},
    {"%ntid.y", BF_PTX_SR_NTID_Y, -1, 0, 0},       {"%ntid.z", BF_PTX_SR_NTID_Z, -1, 0, 0},
    {"%ctaid.x", BF_PTX_SR_CTAID_X, -1, 0, 0},     {"%ctaid.y", BF_PTX_SR_CTAID_Y, -1, 0, 0},
    {"%ctaid.z", BF_PTX_SR_CTAID_Z, -1, 0, 0},     {"%nctaid.x", BF_PTX_SR_NCTAID_X, -1, 0, 0},
    {"%nctaid.y", BF_PTX_SR_NCTAID_Y, -1, 0, 0},   {"%nctaid.z", BF_PTX_SR_NCTAID_Z, -1, 0, 0},
    {"%warpid", BF_PTX_SR_WARPID, -1, 0, 0},       {"%nwarpid", BF_PTX_SR_NWARPID, -1, 0, 0},
    {"%dynamic_smem_size", BF_PTX_SR_DYN_SMEM, -1, 0, 0},
    {"%total_smem_size", BF_PTX_SR_TOTAL_SMEM, -1, 0, 0},
    {"%laneid", -1, BF_PTX_SV_LANEID, 0, 0},       {"%lanemask_eq", -1, BF_PTX_SV_LANEMASK_EQ, 0, 0},
    {"%lanemask_lt", -1, BF_PTX_SV_LANEMASK_LT, 0, 0}, {"%lanemask_le", -1, BF_PTX_SV_LANEMASK_LE, 0, 0},
    {"%lanemask_gt", -1, BF_PTX_SV_LANEMASK_GT, 0, 0}, {"%lanemask_ge", -1, BF_PTX_SV_LANEMASK_GE, 0, 0},
    {"%clock", -1, -1, 1, 0},                      {"%clock64", -1, -1, 2, 0},
    {"%globaltimer", -1, -1, 3, 0},
    {"%smid", -1, -1, 0, 0},                       {"%nsmid", -1, -1, 0, 1},
    {"%gridid", -1, -1, 0, 1},
};

uint32_t bf_ptx_special(bf_ptx_dec_t *D, const char *s, size_t len, bf_ptx_slot_cls_t *cls_p)
{
    if (len > 7 && (memcmp(s, "%envreg", 7) == 0 || memcmp(s, "%pm", 3) == 0)) {
        *cls_p = BF_PTX_SLOT_R32;
        return bf_ptx_const(D, BF_PTX_SLOT_R32, 0);
    }
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        if (strlen(specials[i].name) != len || memcmp(specials[i].name, s, len) != 0)
            continue;
        *cls_p = BF_PTX_SLOT_R32;
        if (specials[i].special >= 0) {
            int sr = specials[i].special;
            if (!D->special_slot[sr])
                D->special_slot[sr] = new_slot(D, BF_PTX_SLOT_R32, BF_PTX_SV_SPECIAL, (uint64_t)sr);
            return D->special_slot[sr];
        }
        if (specials[i].lane >= 0) {
            for (uint32_t j = 1; j < D->slot_count; j++)
                if (D->slots[j].kind == specials[i].lane)
                    return j;
            return new_slot(D, BF_PTX_SLOT_R32, (bf_ptx_slot_kind_t)specials[i].lane, 0);
        }
        if (specials[i].clock) {
            bf_ptx_slot_cls_t cls = specials[i].clock == 1 ? BF_PTX_SLOT_R32 : BF_PTX_SLOT_R64;
            uint32_t t = bf_ptx_temp(D, cls);
            bf_ptx_insn_t *in = t ? bf_ptx_emit(D, cls == BF_PTX_SLOT_R32 ? BF_PTX_X_CLOCK32 : BF_PTX_X_CLOCK64) : NULL;
            if (!in)
                return 0;
            in->d = t;
            in->sub = (uint8_t)(specials[i].clock == 3);
            *cls_p = cls;
            return t;
        }
        return bf_ptx_const(D, BF_PTX_SLOT_R32, (uint64_t)specials[i].constant);
    }
    return 0;
}

/* --- names ---------------------------------------------------------------------------------- */
static bf_status_t add_sym(bf_ptx_dec_t *D, const bf_ptx_tok_t *name, const bf_ptx_sym_t *sym)
{
    if (!grow((void **)&D->syms, sizeof(*D->syms), &D->sym_cap, D->sym_count + 1))
        return oom(D);
    D->syms[D->sym_count] = *sym;
    if (bf_ptx_map_add(&D->names, name->s, name->len, D->sym_count) != BF_OK)
        return oom(D);
    D->sym_count++;
    return BF_OK;
}

static bf_ptx_slot_cls_t cls_of_type(bf_ptx_type_t t)
{
    if (t == BF_PTX_T_PRED)
        return BF_PTX_SLOT_PRED;
    return bf_ptx_type_bits(t) == 64 ? BF_PTX_SLOT_R64 : BF_PTX_SLOT_R32;
}

/* Resolves a name used as an operand: a register, a variable, a special register or (failing all)
 * a label. */
static bf_status_t resolve_ident(bf_ptx_dec_t *D, const bf_ptx_tok_t *t, bf_ptx_opd_t *o)
{
    uint32_t v;
    o->tok = t;
    o->sym_space = 0xff;
    if (bf_ptx_map_get(&D->names, t->s, t->len, &v)) {
        const bf_ptx_sym_t *sym = &D->syms[v];
        switch (sym->kind) {
        case BF_PTX_SYM_REG:
            o->kind = BF_PTX_OPD_REG;
            o->slot = sym->slot;
            o->cls = sym->cls;
            return BF_OK;
        case BF_PTX_SYM_SHARED:
            o->sym_space = BF_PTX_ADDR_SHARED;
            break;
        case BF_PTX_SYM_LOCAL:
        case BF_PTX_SYM_PARAMVAR:
            o->sym_space = BF_PTX_ADDR_LOCAL;
            o->sym_base = sym->slot;
            break;
        case BF_PTX_SYM_KPARAM:
            o->sym_space = BF_PTX_ADDR_PARAM;
            break;
        default:
            break;
        }
        if (o->sym_space != 0xff) {
            o->kind = BF_PTX_OPD_SYM;
            o->off = sym->offset;
            return BF_OK;
        }
    }
    /* %r17 of a ".reg .b32 %r<N>" declaration. */
    size_t digits = 0;
    while (digits < t->len && t->s[t->len - 1 - digits] >= '0' && t->s[t->len - 1 - digits] <= '9')
        digits++;
    if (digits && digits < t->len && digits < 10 && bf_ptx_map_get(&D->names, t->s, t->len - (uint32_t)digits, &v) &&
        D->syms[v].kind == BF_PTX_SYM_REGRANGE) {
        const bf_ptx_sym_t *sym = &D->syms[v];
        uint64_t index = strtoull(t->s + t->len - digits, NULL, 10);
        if (index < sym->count) {
            uint32_t *slot = &D->range[sym->slot + index];
            if (!*slot) {
                *slot = bf_ptx_temp(D, (bf_ptx_slot_cls_t)sym->cls);
                if (!*slot)
                    return D->L->status;
            }
            o->kind = BF_PTX_OPD_REG;
            o->slot = *slot;
            o->cls = sym->cls;
            return BF_OK;
        }
    }
    if (bf_ptx_map_get(&D->L->syms, t->s, t->len, &v)) {
        uint32_t index = BF_PTX_MSYM_INDEX(v);
        switch (BF_PTX_MSYM_KIND(v)) {
        case BF_PTX_MSYM_GLOBAL:
            o->kind = BF_PTX_OPD_SYM;
            o->sym_space = BF_PTX_ADDR_GLOBAL;
            o->sym_index = index;
            return BF_OK;
        case BF_PTX_MSYM_SHARED:
            o->kind = BF_PTX_OPD_SYM;
            o->sym_space = BF_PTX_ADDR_SHARED;
            o->off = (int64_t)D->shared_offset[index];
            return BF_OK;
        case BF_PTX_MSYM_FUNC:
        case BF_PTX_MSYM_ENTRY:
            o->kind = BF_PTX_OPD_SYM;
            o->sym_space = BF_PTX_ADDR_FUNC;
            o->sym_index = index;
            return BF_OK;
        }
    }
    bf_ptx_slot_cls_t cls;
    if (t->s[0] == '%') {
        uint32_t slot = bf_ptx_special(D, t->s, t->len, &cls);
        if (slot) {
            o->kind = BF_PTX_OPD_REG;
            o->slot = slot;
            o->cls = (uint8_t)cls;
            return BF_OK;
        }
        if (D->L->status != BF_OK)
            return D->L->status;
        return bf_ptx_fail(D->L, t->s[1] == 't' || t->s[1] == 'n' || t->s[1] == 'c' ? BF_UNSUPPORTED : BF_INVALID_ARG,
                           t->line, "unknown register '%.*s'", (int)t->len, t->s);
    }
    o->kind = BF_PTX_OPD_LABEL;
    return BF_OK;
}

/* --- operands ------------------------------------------------------------------------------- */
static bf_status_t parse_imm(bf_ptx_dec_t *D, size_t *pos, bf_ptx_opd_t *o)
{
    int neg = 0;
    if (bf_ptx_tok_is(TOK(D, *pos), '-')) {
        neg = 1;
        (*pos)++;
    }
    const bf_ptx_tok_t *t = TOK(D, *pos);
    o->kind = BF_PTX_OPD_IMM;
    o->tok = t;
    if (t->kind == BF_PTX_TOK_INT) {
        o->form = BF_PTX_IMM_INT;
        o->ival = neg ? 0 - t->ival : t->ival; /* wraps, as two's complement does */
    } else if (t->kind == BF_PTX_TOK_FLOAT) {
        o->form = t->fform == BF_PTX_FLT_BITS32 ? BF_PTX_IMM_F32BITS
                  : t->fform == BF_PTX_FLT_BITS64 ? BF_PTX_IMM_F64BITS : BF_PTX_IMM_DECIMAL;
        o->ival = t->ival;
        o->fval = neg ? -t->fval : t->fval;
        if (neg && o->form == BF_PTX_IMM_F32BITS)
            o->ival ^= 0x80000000u;
        if (neg && o->form == BF_PTX_IMM_F64BITS)
            o->ival ^= 0x8000000000000000ull;
    } else {
        return bf_ptx_bad(D, "expected an operand before '%.*s'", (int)t->len, t->s);
    }
    (*pos)++;
    return BF_OK;
}

static bf_status_t parse_operand(bf_ptx_dec_t *D, size_t *pos, bf_ptx_opd_t *o)
{
    memset(o, 0, sizeof(*o));
    o->sym_space = 0xff;
    const bf_ptx_tok_t *t = TOK(D, *pos);
    o->tok = t;
    if (bf_ptx_tok_is(t, '!')) {
        o->neg = 1;
        t = TOK(D, ++*pos);
    }
    if (t->kind == BF_PTX_TOK_INT || t->kind == BF_PTX_TOK_FLOAT || bf_ptx_tok_is(t, '-'))
        return parse_imm(D, pos, o);
    if (bf_ptx_tok_is(t, '[')) {
        (*pos)++;
        o->kind = BF_PTX_OPD_ADDR;
        t = TOK(D, *pos);
        if (t->kind == BF_PTX_TOK_IDENT) {
            bf_ptx_opd_t b;
            memset(&b, 0, sizeof(b));
            if (resolve_ident(D, t, &b) != BF_OK)
                return D->L->status;
            if (b.kind == BF_PTX_OPD_REG) {
                if (b.cls == BF_PTX_SLOT_PRED)
                    return bf_ptx_bad(D, "predicate used as an address");
                o->has_base = 1;
                o->slot = b.slot;
                o->cls = b.cls;
            } else if (b.kind == BF_PTX_OPD_SYM && b.sym_space != BF_PTX_ADDR_FUNC) {
                o->sym_space = b.sym_space;
                o->sym_index = b.sym_index;
                o->sym_base = b.sym_base;
                o->off = b.off;
            } else {
                return bf_ptx_fail(D->L, BF_INVALID_ARG, t->line, "unknown name '%.*s'", (int)t->len, t->s);
            }
            (*pos)++;
        } else if (t->kind == BF_PTX_TOK_INT) {
            o->off = (int64_t)t->ival;
            (*pos)++;
        } else {
            return bf_ptx_bad(D, "malformed address");
        }
        while (bf_ptx_tok_is(TOK(D, *pos), '+') || bf_ptx_tok_is(TOK(D, *pos), '-')) {
            int64_t sign = bf_ptx_tok_is(TOK(D, *pos), '-') ? -1 : 1;
            (*pos)++;
            if (bf_ptx_tok_is(TOK(D, *pos), '-')) {
                sign = -sign;
                (*pos)++;
            }
            if (TOK(D, *pos)->kind != BF_PTX_TOK_INT)
                return bf_ptx_bad(D, "address offsets must be constants");
            o->off = (int64_t)((uint64_t)o->off + (sign > 0 ? TOK(D, *pos)->ival : 0 - TOK(D, *pos)->ival));
            (*pos)++;
        }
        if (!bf_ptx_tok_is(TOK(D, *pos), ']'))
            return bf_ptx_bad(D, "expected ']'");
        (*pos)++;
        return BF_OK;
    }
    if (bf_ptx_tok_is(t, '{')) {
        (*pos)++;
        o->kind = BF_PTX_OPD_VEC;
        for (;;) {
            if (o->vn == 4)
                return bf_ptx_unsupported(D, "vectors longer than 4");
            bf_ptx_opd_t e;
            if (parse_operand(D, pos, &e) != BF_OK)
                return D->L->status;
            bf_ptx_vel_t *v = &o->vel[o->vn++];
            v->kind = e.kind;
            v->cls = e.cls;
            v->slot = e.slot;
            v->form = e.form;
            v->ival = e.ival;
            v->fval = e.fval;
            if (e.kind != BF_PTX_OPD_REG && e.kind != BF_PTX_OPD_IMM && e.kind != BF_PTX_OPD_SINK)
                return bf_ptx_bad(D, "vector elements must be registers");
            if (bf_ptx_tok_is(TOK(D, *pos), ',')) {
                (*pos)++;
                continue;
            }
            if (!bf_ptx_tok_is(TOK(D, *pos), '}'))
                return bf_ptx_bad(D, "expected '}'");
            (*pos)++;
            return BF_OK;
        }
    }
    if (t->kind != BF_PTX_TOK_IDENT)
        return bf_ptx_bad(D, "unexpected '%.*s'", (int)t->len, t->s);
    (*pos)++;
    if (t->len == 1 && t->s[0] == '_') {
        o->kind = BF_PTX_OPD_SINK;
        return BF_OK;
    }
    int neg = o->neg;
    if (resolve_ident(D, t, o) != BF_OK)
        return D->L->status;
    o->neg = (uint8_t)neg;
    if (bf_ptx_tok_is(TOK(D, *pos), '|') && o->kind == BF_PTX_OPD_REG) {
        (*pos)++;
        bf_ptx_opd_t q;
        memset(&q, 0, sizeof(q));
        const bf_ptx_tok_t *qt = TOK(D, *pos);
        if (qt->kind != BF_PTX_TOK_IDENT)
            return bf_ptx_bad(D, "expected a predicate after '|'");
        (*pos)++;
        if (qt->len == 1 && qt->s[0] == '_') {
            q.kind = BF_PTX_OPD_SINK;
        } else if (resolve_ident(D, qt, &q) != BF_OK) {
            return D->L->status;
        }
        if (q.kind == BF_PTX_OPD_REG) {
            if (q.cls != BF_PTX_SLOT_PRED)
                return bf_ptx_bad(D, "'%.*s' is not a predicate", (int)qt->len, qt->s);
            o->has_pair = 1;
            o->pair_slot = q.slot;
            o->pair_cls = q.cls;
        } else if (q.kind != BF_PTX_OPD_SINK) {
            return bf_ptx_bad(D, "expected a predicate after '|'");
        }
    }
    if (o->kind == BF_PTX_OPD_SYM && (bf_ptx_tok_is(TOK(D, *pos), '+') || bf_ptx_tok_is(TOK(D, *pos), '-')) &&
        TOK(D, *pos + 1)->kind == BF_PTX_TOK_INT) {
        int64_t sign = bf_ptx_tok_is(TOK(D, *pos), '-') ? -1 : 1;
        o->off = (int64_t)((uint64_t)o->off + (sign > 0 ? TOK(D, *pos + 1)->ival : 0 - TOK(D, *pos + 1)->ival));
        *pos += 2;
    }
    return BF_OK;
}

/* --- operand coercion ------------------------------------------------------------------------ */
static uint64_t imm_bits(const bf_ptx_opd_t *o, bf_ptx_type_t type)
{
    if (type == BF_PTX_T_F32) {
        float f;
        uint32_t u;
        if (o->form == BF_PTX_IMM_F32BITS)
            return o->ival;
        if (o->form == BF_PTX_IMM_F64BITS) {
            double d;
            memcpy(&d, &o->ival, 8);
            f = (float)d;
        } else if (o->form == BF_PTX_IMM_DECIMAL) {
            f = (float)o->fval;
        } else {
            f = (float)(int64_t)o->ival;
        }
        memcpy(&u, &f, 4);
        return u;
    }
    if (type == BF_PTX_T_F64) {
        double d;
        uint64_t u;
        if (o->form == BF_PTX_IMM_F64BITS)
            return o->ival;
        if (o->form == BF_PTX_IMM_F32BITS) {
            float f;
            uint32_t b = (uint32_t)o->ival;
            memcpy(&f, &b, 4);
            d = f;
        } else if (o->form == BF_PTX_IMM_DECIMAL) {
            d = o->fval;
        } else {
            d = (double)(int64_t)o->ival;
        }
        memcpy(&u, &d, 8);
        return u;
    }
    if (o->form == BF_PTX_IMM_DECIMAL)
        return (uint64_t)(int64_t)o->fval;
    return o->ival;
}

static uint32_t coerce(bf_ptx_dec_t *D, uint32_t slot, bf_ptx_slot_cls_t have, bf_ptx_slot_cls_t want, int is_signed)
{
    if (have == want)
        return slot;
    if (have == BF_PTX_SLOT_R64)
        return bf_ptx_cvt_ii(D, slot, want, BF_PTX_CVT_II(64, 0, 32, 0));
    return bf_ptx_cvt_ii(D, slot, want, BF_PTX_CVT_II(32, is_signed, 64, is_signed));
}

uint32_t bf_ptx_src(bf_ptx_dec_t *D, const bf_ptx_opd_t *o, bf_ptx_type_t type)
{
    bf_ptx_slot_cls_t want = cls_of_type(type);
    if (want == BF_PTX_SLOT_PRED)
        return bf_ptx_src_pred(D, o);
    switch (o->kind) {
    case BF_PTX_OPD_REG:
        if (o->cls == BF_PTX_SLOT_PRED) {
            bf_ptx_bad(D, "predicate '%.*s' used as a value", (int)o->tok->len, o->tok->s);
            return 0;
        }
        if (o->neg) {
            bf_ptx_bad(D, "'!' on a value");
            return 0;
        }
        return coerce(D, o->slot, (bf_ptx_slot_cls_t)o->cls, want, bf_ptx_type_is_signed(type));
    case BF_PTX_OPD_IMM:
        return bf_ptx_const(D, want, imm_bits(o, type));
    case BF_PTX_OPD_SYM:
        switch (o->sym_space) {
        case BF_PTX_ADDR_GLOBAL: {
            uint32_t s = bf_ptx_global_addr(D, o->sym_index, o->off);
            return s ? coerce(D, s, BF_PTX_SLOT_R64, want, 0) : 0;
        }
        case BF_PTX_ADDR_FUNC:
            if (o->sym_index < D->L->func_count && !D->L->funcs[o->sym_index].is_entry)
                return coerce(D, bf_ptx_const(D, BF_PTX_SLOT_R64, BF_PTX_FUNC_ADDR(o->sym_index)), BF_PTX_SLOT_R64,
                              want, 0);
            bf_ptx_unsupported(D, "address of function '%.*s'", (int)o->tok->len, o->tok->s);
            return 0;
        default:
            if (o->sym_base) {
                /* A variable of an out-of-line function's frame: its frame register plus offset. */
                uint32_t t = bf_ptx_temp(D, BF_PTX_SLOT_R64);
                uint32_t k = bf_ptx_const(D, BF_PTX_SLOT_R64, (uint64_t)o->off);
                bf_ptx_insn_t *in = t && k ? bf_ptx_emit(D, BF_PTX_X_ADD_I64) : NULL;
                if (!in)
                    return 0;
                in->d = t;
                in->a = o->sym_base;
                in->b = k;
                return coerce(D, t, BF_PTX_SLOT_R64, want, 0);
            }
            return bf_ptx_const(D, want, (uint64_t)o->off);
        }
    case BF_PTX_OPD_LABEL:
        bf_ptx_fail(D->L, BF_INVALID_ARG, D->line, "unknown name '%.*s'", (int)o->tok->len, o->tok->s);
        return 0;
    default:
        bf_ptx_bad(D, "operand '%.*s' is not a value", (int)o->tok->len, o->tok->s);
        return 0;
    }
}

uint32_t bf_ptx_src_norm(bf_ptx_dec_t *D, const bf_ptx_opd_t *o, bf_ptx_type_t type)
{
    unsigned bits = bf_ptx_type_bits(type);
    int sg = bf_ptx_type_is_signed(type);
    if (o->kind == BF_PTX_OPD_IMM && bits < 32 && o->form == BF_PTX_IMM_INT) {
        /* An immediate takes the operand's type: -21845 as a .u16 is 0xaaab. */
        uint64_t v = o->ival & ((1ull << bits) - 1);
        if (sg && (v >> (bits - 1)) & 1)
            v |= ~0ull << bits;
        return bf_ptx_const(D, BF_PTX_SLOT_R32, v);
    }
    uint32_t s = bf_ptx_src(D, o, type);
    if (!s || bits >= 32 || o->kind == BF_PTX_OPD_IMM)
        return s;
    return bf_ptx_cvt_ii(D, s, BF_PTX_SLOT_R32, BF_PTX_CVT_II(bits, sg, 32, sg));
}

uint32_t bf_ptx_dst(bf_ptx_dec_t *D, const bf_ptx_opd_t *o, bf_ptx_type_t type)
{
    bf_ptx_slot_cls_t want = cls_of_type(type);
    if (want == BF_PTX_SLOT_PRED)
        return bf_ptx_dst_pred(D, o);
    if (o->kind == BF_PTX_OPD_SINK)
        return bf_ptx_temp(D, want);
    if (o->kind != BF_PTX_OPD_REG || o->cls == BF_PTX_SLOT_PRED || D->slots[o->slot].kind != BF_PTX_SV_VAR) {
        bf_ptx_bad(D, "destination '%.*s' is not a register", (int)o->tok->len, o->tok->s);
        return 0;
    }
    if (o->cls == want)
        return o->slot;
    if (D->post_count == (int)(sizeof(D->post) / sizeof(D->post[0]))) {
        bf_ptx_unsupported(D, "too many mixed-width destinations");
        return 0;
    }
    uint32_t t = bf_ptx_temp(D, want);
    bf_ptx_post_t *p = &D->post[D->post_count++];
    int sg = bf_ptx_type_is_signed(type);
    p->temp = t;
    p->reg = o->slot;
    p->temp_cls = (uint8_t)want;
    p->reg_cls = o->cls;
    p->cvt = want == BF_PTX_SLOT_R64 ? BF_PTX_CVT_II(64, 0, 32, 0) : BF_PTX_CVT_II(32, sg, 64, sg);
    return t;
}

uint32_t bf_ptx_src_pred(bf_ptx_dec_t *D, const bf_ptx_opd_t *o)
{
    if (o->kind == BF_PTX_OPD_IMM && o->form == BF_PTX_IMM_INT)
        return bf_ptx_const_pred(D, o->ival != 0);
    if (o->kind != BF_PTX_OPD_REG || o->cls != BF_PTX_SLOT_PRED) {
        bf_ptx_bad(D, "'%.*s' is not a predicate", (int)o->tok->len, o->tok->s);
        return 0;
    }
    return o->slot;
}

uint32_t bf_ptx_dst_pred(bf_ptx_dec_t *D, const bf_ptx_opd_t *o)
{
    if (o->kind == BF_PTX_OPD_SINK)
        return bf_ptx_temp(D, BF_PTX_SLOT_PRED);
    if (o->kind != BF_PTX_OPD_REG || o->cls != BF_PTX_SLOT_PRED || D->slots[o->slot].kind != BF_PTX_SV_VAR) {
        bf_ptx_bad(D, "'%.*s' is not a predicate register", (int)o->tok->len, o->tok->s);
        return 0;
    }
    return o->slot;
}

/* Copies mixed-width destinations back into their registers. */
static bf_status_t flush_post(bf_ptx_dec_t *D)
{
    for (int i = 0; i < D->post_count; i++) {
        bf_ptx_post_t *p = &D->post[i];
        bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_CVT_II);
        if (!in)
            return D->L->status;
        in->d = p->reg;
        in->a = p->temp;
        in->imm = p->cvt;
        in->flags = (uint8_t)((p->temp_cls == BF_PTX_SLOT_R64 ? 1 : 0) | (p->reg_cls == BF_PTX_SLOT_R64 ? 2 : 0));
    }
    D->post_count = 0;
    return BF_OK;
}

/* --- branches and labels -------------------------------------------------------------------- */
bf_status_t bf_ptx_branch_to(bf_ptx_dec_t *D, uint32_t insn, const bf_ptx_tok_t *label)
{
    bf_ptx_frame_t *F = D->frame;
    uint32_t cap = (uint32_t)F->fixup_cap;
    if (!grow((void **)&F->fixups, sizeof(*F->fixups), &cap, F->fixup_count + 1))
        return oom(D);
    F->fixup_cap = cap;
    F->fixups[F->fixup_count].name = label;
    F->fixups[F->fixup_count].insn = insn;
    F->fixup_count++;
    return BF_OK;
}

bf_status_t bf_ptx_inline_ret(bf_ptx_dec_t *D, uint32_t insn)
{
    bf_ptx_frame_t *F = D->frame;
    uint32_t cap = (uint32_t)F->ret_cap;
    if (!grow((void **)&F->rets, sizeof(*F->rets), &cap, F->ret_count + 1))
        return oom(D);
    F->ret_cap = cap;
    F->rets[F->ret_count].name = NULL;
    F->rets[F->ret_count].insn = insn;
    F->ret_count++;
    return BF_OK;
}

/* --- declarations --------------------------------------------------------------------------- */
static bf_status_t decl_reg(bf_ptx_dec_t *D, size_t *pos)
{
    bf_ptx_type_t type = BF_PTX_T_NONE;
    while (TOK(D, *pos)->kind == BF_PTX_TOK_DIRECTIVE) {
        const bf_ptx_tok_t *t = TOK(D, (*pos)++);
        bf_ptx_type_t ty = bf_ptx_type_parse(t->s, t->len);
        if (ty == BF_PTX_T_NONE || ty == BF_PTX_T_B128)
            return bf_ptx_fail(D->L, BF_UNSUPPORTED, t->line, "unsupported register declaration '.reg %.*s'",
                               (int)t->len, t->s);
        type = ty;
    }
    if (type == BF_PTX_T_NONE)
        return bf_ptx_fail(D->L, BF_INVALID_ARG, D->line, ".reg without a type");
    bf_ptx_slot_cls_t cls = cls_of_type(type);
    for (;;) {
        const bf_ptx_tok_t *name = TOK(D, *pos);
        if (name->kind != BF_PTX_TOK_IDENT)
            return bf_ptx_fail(D->L, BF_INVALID_ARG, name->line, "expected a register name");
        (*pos)++;
        bf_ptx_sym_t sym = {0};
        sym.type = (uint8_t)type;
        sym.cls = (uint8_t)cls;
        if (bf_ptx_tok_is(TOK(D, *pos), '<')) {
            const bf_ptx_tok_t *n = TOK(D, *pos + 1);
            if (n->kind != BF_PTX_TOK_INT || !bf_ptx_tok_is(TOK(D, *pos + 2), '>') || n->ival > (1u << 24))
                return bf_ptx_fail(D->L, BF_INVALID_ARG, name->line, "malformed register range");
            *pos += 3;
            sym.kind = BF_PTX_SYM_REGRANGE;
            sym.slot = D->range_count;
            sym.count = (uint32_t)n->ival;
            if (!grow((void **)&D->range, sizeof(*D->range), &D->range_cap, D->range_count + sym.count))
                return oom(D);
            if (sym.count)
                memset(D->range + D->range_count, 0, sym.count * sizeof(*D->range));
            D->range_count += sym.count;
        } else {
            sym.kind = BF_PTX_SYM_REG;
            sym.slot = bf_ptx_temp(D, cls);
            if (!sym.slot)
                return D->L->status;
        }
        if (add_sym(D, name, &sym) != BF_OK)
            return D->L->status;
        if (!bf_ptx_tok_is(TOK(D, *pos), ','))
            break;
        (*pos)++;
    }
    return BF_OK;
}

/* .local / .param variables in a body: per-thread memory. */
static bf_status_t decl_local(bf_ptx_dec_t *D, size_t *pos, bf_ptx_sym_kind_t kind)
{
    bf_ptx_var_decl_t var;
    if (bf_ptx_parse_var(D->L, pos, false, &var) != BF_OK)
        return D->L->status;
    bf_ptx_sym_t sym = {0};
    sym.kind = (uint8_t)kind;
    sym.offset = bf_ptx_local_alloc(D, var.elem_size * var.count, var.align);
    sym.slot = D->fp_slot;
    if (kind == BF_PTX_SYM_LOCAL)
        D->local_var_bytes += var.elem_size * var.count;
    return add_sym(D, var.name, &sym);
}

static size_t shared_alloc(bf_ptx_dec_t *D, size_t size, size_t align)
{
    size_t offset = align_up(D->shared_size, align ? align : 1);
    D->shared_size = offset + size;
    return offset;
}

/* Places the module-scope shared variables a body (and the functions it calls) names, and the
 * kernel-scope ones it declares. */
static bf_status_t scan_shared(bf_ptx_dec_t *D, size_t func, uint8_t *visited, bool is_kernel)
{
    const bf_ptx_func_t *f = &D->L->funcs[func];
    visited[func] = 1;
    for (size_t i = f->body_begin; i < f->body_end; i++) {
        const bf_ptx_tok_t *t = TOK(D, i);
        if (is_kernel && is_dir(t, ".shared")) {
            size_t pos = i + 1;
            bf_ptx_var_decl_t var;
            if (bf_ptx_parse_var(D->L, &pos, false, &var) != BF_OK)
                return D->L->status;
            bf_ptx_sym_t sym = {0};
            sym.kind = BF_PTX_SYM_SHARED;
            sym.offset = (int64_t)shared_alloc(D, var.elem_size * var.count, var.align);
            if (add_sym(D, var.name, &sym) != BF_OK)
                return D->L->status;
            i = pos - 1;
            continue;
        }
        uint32_t v;
        if (t->kind != BF_PTX_TOK_IDENT || !bf_ptx_map_get(&D->L->syms, t->s, t->len, &v))
            continue;
        uint32_t index = BF_PTX_MSYM_INDEX(v);
        if (BF_PTX_MSYM_KIND(v) == BF_PTX_MSYM_SHARED && D->shared_offset[index] == SIZE_MAX) {
            const bf_ptx_shared_var_t *s = &D->L->shared_vars[index];
            if (s->is_extern) {
                if (s->align > D->extern_align)
                    D->extern_align = s->align;
                D->shared_offset[index] = SIZE_MAX - 1; /* placed after the static ones */
            } else {
                D->shared_offset[index] = shared_alloc(D, s->size, s->align);
            }
        } else if (BF_PTX_MSYM_KIND(v) == BF_PTX_MSYM_FUNC && !visited[index] && D->L->funcs[index].body_begin) {
            if (scan_shared(D, index, visited, false) != BF_OK)
                return D->L->status;
        }
    }
    return BF_OK;
}

/* --- statements ----------------------------------------------------------------------------- */
static bf_status_t decode_body(bf_ptx_dec_t *D, size_t begin, size_t end);

static bf_status_t expect_semicolon(bf_ptx_dec_t *D, size_t *pos)
{
    if (!bf_ptx_tok_is(TOK(D, *pos), ';')) {
        const bf_ptx_tok_t *t = TOK(D, *pos);
        return bf_ptx_fail(D->L, BF_INVALID_ARG, t->line, "expected ';' before '%.*s'", (int)t->len, t->s);
    }
    (*pos)++;
    return BF_OK;
}

/* Reads "( name, name, ... )" of a call into local-memory offsets of .param variables. */
static bf_status_t call_list(bf_ptx_dec_t *D, size_t *pos, int64_t *offsets, uint32_t *bases, size_t *count_p)
{
    size_t n = 0;
    (*pos)++; /* '(' */
    while (!bf_ptx_tok_is(TOK(D, *pos), ')')) {
        const bf_ptx_tok_t *t = TOK(D, *pos);
        uint32_t v;
        if (t->kind != BF_PTX_TOK_IDENT || !bf_ptx_map_get(&D->names, t->s, t->len, &v) ||
            D->syms[v].kind != BF_PTX_SYM_PARAMVAR)
            return bf_ptx_unsupported(D, "call argument '%.*s' is not a .param variable", (int)t->len, t->s);
        if (n == 32)
            return bf_ptx_unsupported(D, "more than 32 call arguments");
        bases[n] = D->syms[v].slot;
        offsets[n++] = D->syms[v].offset;
        (*pos)++;
        if (bf_ptx_tok_is(TOK(D, *pos), ','))
            (*pos)++;
        else if (!bf_ptx_tok_is(TOK(D, *pos), ')'))
            return bf_ptx_bad(D, "expected ')'");
    }
    (*pos)++;
    *count_p = n;
    return BF_OK;
}

/* call[.uni] [(rets),] func [, (args)] [, prototype]; */
static bf_status_t decode_call(bf_ptx_dec_t *D, size_t *pos, bf_ptx_mods_t *mods)
{
    bf_ptx_take(mods, BF_PTX_M_uni);
    if (bf_ptx_mods_done(D, mods) != BF_OK)
        return D->L->status;
    if (D->guard)
        return bf_ptx_unsupported(D, "predicated call");
    int64_t rets[32], args[32];
    uint32_t ret_bases[32], arg_bases[32];
    size_t nret = 0, narg = 0;
    if (bf_ptx_tok_is(TOK(D, *pos), '(')) {
        if (call_list(D, pos, rets, ret_bases, &nret) != BF_OK)
            return D->L->status;
        if (!bf_ptx_tok_is(TOK(D, *pos), ','))
            return bf_ptx_bad(D, "expected ','");
        (*pos)++;
    }
    const bf_ptx_tok_t *callee = TOK(D, *pos);
    uint32_t v;
    bf_ptx_opd_t target;
    memset(&target, 0, sizeof(target));
    if (callee->kind != BF_PTX_TOK_IDENT)
        return bf_ptx_bad(D, "expected a function name");
    int direct = bf_ptx_map_get(&D->L->syms, callee->s, callee->len, &v) && BF_PTX_MSYM_KIND(v) == BF_PTX_MSYM_FUNC;
    if (!direct) {
        /* call (rets), %rd, (args), prototype: through a function pointer. */
        if (resolve_ident(D, callee, &target) != BF_OK)
            return D->L->status;
        if (target.kind != BF_PTX_OPD_REG || target.cls != BF_PTX_SLOT_R64)
            return bf_ptx_unsupported(D, "call through '%.*s'", (int)callee->len, callee->s);
    }
    (*pos)++;
    if (bf_ptx_tok_is(TOK(D, *pos), ',') && bf_ptx_tok_is(TOK(D, *pos + 1), '(')) {
        (*pos)++;
        if (call_list(D, pos, args, arg_bases, &narg) != BF_OK)
            return D->L->status;
    }
    /* The prototype (a .callprototype label) only restates the parameters. */
    if (bf_ptx_tok_is(TOK(D, *pos), ',') && TOK(D, *pos + 1)->kind == BF_PTX_TOK_IDENT)
        *pos += 2;
    if (expect_semicolon(D, pos) != BF_OK)
        return D->L->status;
    if (!direct)
        return bf_ptx_indirect_call(D, target.slot, rets, ret_bases, nret, args, arg_bases, narg);
    const bf_ptx_func_t *f = &D->L->funcs[BF_PTX_MSYM_INDEX(v)];
    int builtin = f->body_begin ? -1 : bf_ptx_builtin_id(f->name->s, f->name->len);
    if (builtin >= 0)
        return bf_ptx_builtin_call(D, builtin, rets, ret_bases, nret, args, arg_bases, narg);
    return bf_ptx_inline_call(D, BF_PTX_MSYM_INDEX(v), rets, ret_bases, nret, args, arg_bases, narg);
}

static bf_status_t decode_statement(bf_ptx_dec_t *D, size_t *pos)
{
    const bf_ptx_tok_t *t = TOK(D, *pos);
    D->line = t->line;
    D->guard = 0;
    D->gneg = 0;
    D->opcode = NULL;
    if (bf_ptx_tok_is(t, '@')) {
        (*pos)++;
        int neg = 0;
        if (bf_ptx_tok_is(TOK(D, *pos), '!')) {
            neg = 1;
            (*pos)++;
        }
        bf_ptx_opd_t g;
        memset(&g, 0, sizeof(g));
        const bf_ptx_tok_t *gt = TOK(D, *pos);
        if (gt->kind != BF_PTX_TOK_IDENT || resolve_ident(D, gt, &g) != BF_OK || g.kind != BF_PTX_OPD_REG ||
            g.cls != BF_PTX_SLOT_PRED) {
            if (D->L->status != BF_OK)
                return D->L->status;
            return bf_ptx_fail(D->L, BF_INVALID_ARG, gt->line, "guard '%.*s' is not a predicate", (int)gt->len, gt->s);
        }
        (*pos)++;
        D->guard = g.slot;
        D->gneg = neg ? 0xffffffffu : 0;
    }
    const bf_ptx_tok_t *opcode = TOK(D, *pos);
    if (opcode->kind != BF_PTX_TOK_IDENT)
        return bf_ptx_fail(D->L, BF_INVALID_ARG, opcode->line, "expected an instruction before '%.*s'",
                           (int)opcode->len, opcode->s);
    (*pos)++;
    D->opcode = opcode;
    D->line = opcode->line;
    const char *base;
    size_t base_len;
    bf_ptx_mods_t mods;
    if (bf_ptx_mods_parse(D, opcode, &base, &base_len, &mods) != BF_OK)
        return D->L->status;
    if (!bf_ptx_insn_known(base, base_len))
        return bf_ptx_unsupported(D, "%s", "");
    if (base_len == 4 && memcmp(base, "call", 4) == 0)
        return decode_call(D, pos, &mods);
    bf_ptx_opd_t opds[8];
    int nopd = 0;
    while (!bf_ptx_tok_is(TOK(D, *pos), ';')) {
        if (TOK(D, *pos)->kind == BF_PTX_TOK_END || bf_ptx_tok_is(TOK(D, *pos), '}'))
            return bf_ptx_bad(D, "missing ';'");
        if (nopd == 8)
            return bf_ptx_unsupported(D, "more than 8 operands");
        if (parse_operand(D, pos, &opds[nopd++]) != BF_OK)
            return D->L->status;
        if (bf_ptx_tok_is(TOK(D, *pos), ','))
            (*pos)++;
        else if (!bf_ptx_tok_is(TOK(D, *pos), ';'))
            return bf_ptx_bad(D, "unexpected '%.*s'", (int)TOK(D, *pos)->len, TOK(D, *pos)->s);
    }
    (*pos)++;
    if (bf_ptx_decode_insn(D, base, base_len, &mods, opds, nopd) != BF_OK)
        return D->L->status;
    return flush_post(D);
}

static bf_status_t decode_body(bf_ptx_dec_t *D, size_t begin, size_t end)
{
    size_t pos = begin + 1;
    uint32_t marks[64];
    int depth = 0;
    while (pos < end) {
        const bf_ptx_tok_t *t = TOK(D, pos);
        D->line = t->line;
        D->opcode = NULL;
        if (bf_ptx_tok_is(t, '{')) {
            if (depth == 64)
                return bf_ptx_fail(D->L, BF_UNSUPPORTED, t->line, "blocks nested too deeply");
            marks[depth++] = D->names.count;
            pos++;
        } else if (bf_ptx_tok_is(t, '}')) {
            if (depth == 0)
                return bf_ptx_fail(D->L, BF_INVALID_ARG, t->line, "unbalanced '}'");
            bf_ptx_map_truncate(&D->names, marks[--depth]);
            pos++;
        } else if (t->kind == BF_PTX_TOK_DIRECTIVE) {
            pos++;
            if (is_dir(t, ".reg")) {
                if (decl_reg(D, &pos) != BF_OK || expect_semicolon(D, &pos) != BF_OK)
                    return D->L->status;
            } else if (is_dir(t, ".shared")) {
                /* Placed by scan_shared already. */
                bf_ptx_var_decl_t var;
                if (D->frame->inlined || D->frame->ool)
                    return bf_ptx_fail(D->L, BF_UNSUPPORTED, t->line, "unsupported .shared in a .func");
                if (bf_ptx_parse_var(D->L, &pos, false, &var) != BF_OK || expect_semicolon(D, &pos) != BF_OK)
                    return D->L->status;
            } else if (is_dir(t, ".local")) {
                if (decl_local(D, &pos, BF_PTX_SYM_LOCAL) != BF_OK || expect_semicolon(D, &pos) != BF_OK)
                    return D->L->status;
            } else if (is_dir(t, ".param")) {
                if (decl_local(D, &pos, BF_PTX_SYM_PARAMVAR) != BF_OK || expect_semicolon(D, &pos) != BF_OK)
                    return D->L->status;
            } else if (is_dir(t, ".pragma")) {
                while (TOK(D, pos)->kind == BF_PTX_TOK_STRING || bf_ptx_tok_is(TOK(D, pos), ','))
                    pos++;
                if (expect_semicolon(D, &pos) != BF_OK)
                    return D->L->status;
            } else if (is_dir(t, ".loc") || is_dir(t, ".file")) {
                while (pos < end && TOK(D, pos)->line == t->line)
                    pos++;
            } else {
                return bf_ptx_fail(D->L, BF_UNSUPPORTED, t->line, "unsupported directive '%.*s'", (int)t->len, t->s);
            }
        } else if (t->kind == BF_PTX_TOK_IDENT && bf_ptx_tok_is(TOK(D, pos + 1), ':') &&
                   is_dir(TOK(D, pos + 2), ".callprototype")) {
            /* "prototype_0 : .callprototype (...) _ (...);": the signature of an indirect call. */
            while (pos < end && !bf_ptx_tok_is(TOK(D, pos), ';'))
                pos++;
            pos++;
        } else if (t->kind == BF_PTX_TOK_IDENT && bf_ptx_tok_is(TOK(D, pos + 1), ':')) {
            if (bf_ptx_map_add(&D->frame->labels, t->s, t->len, (uint32_t)D->len) != BF_OK)
                return oom(D);
            pos += 2;
        } else {
            if (decode_statement(D, &pos) != BF_OK)
                return D->L->status;
        }
    }
    if (depth != 0)
        return bf_ptx_fail(D->L, BF_INVALID_ARG, TOK(D, end)->line, "unbalanced '{'");
    /* Patch the branches of this body. */
    bf_ptx_frame_t *F = D->frame;
    for (size_t i = 0; i < F->fixup_count; i++) {
        uint32_t target;
        const bf_ptx_tok_t *name = F->fixups[i].name;
        if (!bf_ptx_map_get(&F->labels, name->s, name->len, &target))
            return bf_ptx_fail(D->L, BF_INVALID_ARG, D->code[F->fixups[i].insn].line, "unknown label '%.*s'",
                               (int)name->len, name->s);
        D->code[F->fixups[i].insn].target = target;
    }
    for (size_t i = 0; i < F->ret_count; i++)
        D->code[F->rets[i].insn].target = (uint32_t)D->len;
    return BF_OK;
}

static void frame_fini(bf_ptx_frame_t *F)
{
    bf_ptx_map_fini(&F->labels);
    free(F->fixups);
    free(F->rets);
}

bf_status_t bf_ptx_inline_call(bf_ptx_dec_t *D, size_t func_index, const int64_t *ret_offsets,
                               const uint32_t *ret_bases, size_t ret_count, const int64_t *arg_offsets,
                               const uint32_t *arg_bases, size_t arg_count)
{
    const bf_ptx_func_t *f = &D->L->funcs[func_index];
    for (bf_ptx_frame_t *p = D->frame; p; p = p->parent)
        if (p->func == func_index)
            return bf_ptx_ool_call(D, func_index, ret_offsets, ret_bases, ret_count, arg_offsets, arg_bases,
                                   arg_count);
    if (!f->body_begin)
        return bf_ptx_unsupported(D, "call of '%.*s', which has no body in this module", (int)f->name->len,
                                  f->name->s);
    if (arg_count != f->param_count || ret_count != f->ret_count)
        return bf_ptx_bad(D, "'%.*s' takes %zu arguments and %zu return values", (int)f->name->len, f->name->s,
                          f->param_count, f->ret_count);
    if (D->inline_depth >= 32)
        return bf_ptx_unsupported(D, "calls nested deeper than 32");
    bf_ptx_frame_t F = {0};
    F.parent = D->frame;
    F.func = func_index;
    F.inlined = true;
    if (bf_ptx_map_init(&F.labels, 16) != BF_OK)
        return oom(D);
    uint32_t mark = D->names.count;
    bf_status_t status = BF_OK;
    for (size_t i = 0; i < arg_count && status == BF_OK; i++) {
        bf_ptx_sym_t sym = {.kind = BF_PTX_SYM_PARAMVAR, .offset = arg_offsets[i], .slot = arg_bases[i]};
        status = add_sym(D, f->params[i].name, &sym);
    }
    for (size_t i = 0; i < ret_count && status == BF_OK; i++) {
        bf_ptx_sym_t sym = {.kind = BF_PTX_SYM_PARAMVAR, .offset = ret_offsets[i], .slot = ret_bases[i]};
        status = add_sym(D, f->rets[i].name, &sym);
    }
    if (status == BF_OK) {
        D->frame = &F;
        D->inline_depth++;
        status = decode_body(D, f->body_begin, f->body_end);
        D->inline_depth--;
        D->frame = F.parent;
    }
    bf_ptx_map_truncate(&D->names, mark);
    frame_fini(&F);
    return status;
}

/* Decodes the index-th out-of-line function after everything decoded so far: FRAMEADDR into its
 * frame register, the body (every ret a branch to the end), RET. */
static bf_status_t decode_ool(bf_ptx_dec_t *D, uint32_t index)
{
    size_t fi = D->ool[index].func;
    const bf_ptx_func_t *f = &D->L->funcs[fi];
    int64_t poff[32], roff[32];
    bf_ptx_frame_t F = {0};
    F.func = fi;
    F.ool = true;
    if (bf_ptx_map_init(&F.labels, 16) != BF_OK)
        return oom(D);
    const uint16_t owner = D->owner;
    const uint32_t fp = D->fp_slot;
    const size_t local = D->local_size, local_vars = D->local_var_bytes;
    bf_ptx_frame_t *parent = D->frame;
    uint32_t mark = D->names.count;
    bf_status_t status = BF_OK;
    D->owner = (uint16_t)(index + 1);
    D->guard = 0;
    D->gneg = 0;
    D->opcode = NULL;
    D->line = f->name->line;
    D->fp_slot = bf_ptx_temp(D, BF_PTX_SLOT_R64);
    D->local_size = bf_ptx_ool_layout(f, poff, roff);
    D->local_var_bytes = 0;
    D->ool[index].entry = (uint32_t)D->len;
    bf_ptx_insn_t *in = D->fp_slot ? bf_ptx_emit(D, BF_PTX_X_FRAMEADDR) : NULL;
    if (!in)
        status = D->L->status;
    else
        in->d = D->fp_slot;
    for (size_t i = 0; i < f->param_count && status == BF_OK; i++) {
        bf_ptx_sym_t sym = {.kind = BF_PTX_SYM_PARAMVAR, .offset = poff[i], .slot = D->fp_slot};
        status = add_sym(D, f->params[i].name, &sym);
    }
    for (size_t i = 0; i < f->ret_count && status == BF_OK; i++) {
        bf_ptx_sym_t sym = {.kind = BF_PTX_SYM_PARAMVAR, .offset = roff[i], .slot = D->fp_slot};
        status = add_sym(D, f->rets[i].name, &sym);
    }
    if (status == BF_OK) {
        D->frame = &F;
        status = decode_body(D, f->body_begin, f->body_end);
        D->frame = parent;
    }
    if (status == BF_OK) {
        D->guard = 0;
        D->gneg = 0;
        D->line = TOK(D, f->body_end)->line;
        if (!bf_ptx_emit(D, BF_PTX_X_RET))
            status = D->L->status;
    }
    D->ool[index].frame_bytes = align_up(D->local_size > 0 ? D->local_size : 1, 16);
    D->ool[index].local_bytes = D->local_var_bytes;
    D->local_var_bytes = local_vars;
    bf_ptx_map_truncate(&D->names, mark);
    frame_fini(&F);
    D->owner = owner;
    D->fp_slot = fp;
    D->local_size = local;
    return status;
}

/* --- layout --------------------------------------------------------------------------------- */
static void fill_const(bf_ptx_kernel_t *k, const bf_ptx_slot_t *s)
{
    uint8_t *p = k->const_image + s->byte_offset;
    if (s->cls == BF_PTX_SLOT_PRED) {
        uint32_t v = s->value ? BF_PTX_FULL_MASK : 0;
        memcpy(p, &v, 4);
        return;
    }
    for (int i = 0; i < BF_PTX_WARP; i++) {
        uint64_t v = 0;
        uint64_t bit = 1ull << i;
        switch (s->kind) {
        case BF_PTX_SV_CONST: v = s->value; break;
        case BF_PTX_SV_LANEID: v = (uint64_t)i; break;
        case BF_PTX_SV_LANEMASK_EQ: v = bit; break;
        case BF_PTX_SV_LANEMASK_LT: v = bit - 1; break;
        case BF_PTX_SV_LANEMASK_LE: v = (bit << 1) - 1; break;
        case BF_PTX_SV_LANEMASK_GT: v = ~((bit << 1) - 1); break;
        case BF_PTX_SV_LANEMASK_GE: v = ~(bit - 1); break;
        default: v = 0; break;
        }
        if (s->cls == BF_PTX_SLOT_R32) {
            uint32_t u = (uint32_t)v;
            memcpy(p + 4 * i, &u, 4);
        } else {
            memcpy(p + 8 * i, &v, 8);
        }
    }
}

static size_t slot_bytes(uint8_t cls)
{
    return cls == BF_PTX_SLOT_PRED ? 4 : cls == BF_PTX_SLOT_R32 ? 4 * BF_PTX_WARP : 8 * BF_PTX_WARP;
}

static bf_status_t lay_out(bf_ptx_dec_t *D)
{
    bf_ptx_kernel_t *k = D->k;
    size_t cur = 0;
    /* Constant region first (copied in per launch), then the registers; predicates ahead of values in
     * each, every value slot 64-byte aligned. The registers of each out-of-line function follow the
     * kernel's, each function's in one range that its calls save. */
    for (int is_var = 0; is_var < 2; is_var++) {
        uint32_t owners = is_var ? D->ool_count + 1 : 1;
        for (uint32_t ow = 0; ow < owners; ow++) {
            size_t lo = cur;
            for (uint8_t cls = BF_PTX_SLOT_PRED; cls <= BF_PTX_SLOT_R64; cls++) {
                for (uint32_t i = 0; i < D->slot_count; i++) {
                    bf_ptx_slot_t *s = &D->slots[i];
                    if (s->cls != cls || (s->kind == BF_PTX_SV_VAR) != is_var || (is_var && s->owner != ow))
                        continue;
                    s->byte_offset = (uint32_t)cur;
                    cur += slot_bytes(cls);
                }
                cur = align_up(cur, 64);
            }
            if (ow > 0 && cur < UINT32_MAX / 2) {
                k->funcs[ow - 1].save_lo = (uint32_t)lo;
                k->funcs[ow - 1].save_len = (uint32_t)(cur - lo);
            }
        }
        if (!is_var)
            k->const_bytes = cur;
    }
    if (cur > UINT32_MAX / 2)
        return bf_ptx_fail(D->L, BF_UNSUPPORTED, k->line, "kernel '%s' has too many registers", k->name);
    k->regfile_bytes = cur;
    k->const_image = calloc(1, k->const_bytes ? k->const_bytes : 1);
    if (!k->const_image)
        return oom(D);
    size_t nglob = 0;
    for (uint32_t i = 0; i < D->slot_count; i++) {
        const bf_ptx_slot_t *s = &D->slots[i];
        if (s->kind == BF_PTX_SV_VAR) {
            k->num_regs++;
            continue;
        }
        fill_const(k, s);
        if (s->kind == BF_PTX_SV_SPECIAL)
            k->special_slot[s->value] = s->byte_offset;
        nglob += s->kind == BF_PTX_SV_GLOBAL;
    }
    if (nglob) {
        k->global_refs = calloc(nglob, sizeof(*k->global_refs));
        if (!k->global_refs)
            return oom(D);
        for (uint32_t i = 0; i < D->slot_count; i++) {
            const bf_ptx_slot_t *s = &D->slots[i];
            if (s->kind != BF_PTX_SV_GLOBAL)
                continue;
            bf_ptx_global_ref_t *r = &k->global_refs[k->global_ref_count++];
            r->slot = s->byte_offset;
            r->global = (uint32_t)s->value;
            r->offset = s->offset;
            r->wide = true;
        }
    }
    for (size_t i = 0; i < D->len; i++) {
        bf_ptx_insn_t *in = &D->code[i];
        in->guard = D->slots[in->guard].byte_offset;
        in->d = D->slots[in->d].byte_offset;
        in->a = D->slots[in->a].byte_offset;
        in->b = D->slots[in->b].byte_offset;
        in->c = D->slots[in->c].byte_offset;
        in->e = D->slots[in->e].byte_offset;
        for (int j = 0; j < 4; j++)
            in->v[j] = D->slots[in->v[j]].byte_offset;
        if ((in->op == BF_PTX_X_LD || in->op == BF_PTX_X_ST || in->op == BF_PTX_X_ATOM) &&
            (in->sub == BF_PTX_SP_GLOBAL || in->sub == BF_PTX_SP_GENERIC))
            in->cache = k->cache_count++;
    }
    return BF_OK;
}

static void dec_fini(bf_ptx_dec_t *D)
{
    free(D->code);
    free(D->slots);
    free(D->range);
    free(D->syms);
    free(D->const_hash);
    free(D->shared_offset);
    free(D->ool);
    free(D->patches);
    bf_ptx_map_fini(&D->names);
}

bf_status_t bf_ptx_decode_kernel(bf_ptx_loader_t *L, size_t func_index, bf_ptx_kernel_t **kernel_p)
{
    const bf_ptx_func_t *f = &L->funcs[func_index];
    bf_ptx_dec_t D;
    memset(&D, 0, sizeof(D));
    D.L = L;
    D.line = f->name->line;
    bf_ptx_frame_t F = {0};
    F.func = func_index;
    D.frame = &F;
    uint8_t *visited = NULL;
    bf_ptx_kernel_t *k = calloc(1, sizeof(*k));
    if (!k || bf_ptx_map_init(&D.names, 256) != BF_OK || bf_ptx_map_init(&F.labels, 64) != BF_OK)
        goto err_oom;
    D.k = k;
    k->line = (int)f->name->line;
    k->name = strndup(f->name->s, f->name->len);
    D.shared_offset = malloc((L->shared_var_count + 1) * sizeof(*D.shared_offset));
    visited = calloc(L->func_count + 1, 1);
    if (!k->name || !D.shared_offset || !visited)
        goto err_oom;
    for (size_t i = 0; i < L->shared_var_count; i++)
        D.shared_offset[i] = SIZE_MAX;
    /* Slot 0: the all-true predicate (an unguarded operation's guard). */
    if (new_slot(&D, BF_PTX_SLOT_PRED, BF_PTX_SV_CONST, 1) != 0)
        goto err_oom;
    D.zero64 = bf_ptx_const(&D, BF_PTX_SLOT_R64, 0);

    /* Parameters: CUDA-ABI.md §3.2. */
    k->param_count = f->param_count;
    k->params = calloc(f->param_count ? f->param_count : 1, sizeof(*k->params));
    if (!k->params)
        goto err_oom;
    size_t offset = 0;
    for (size_t i = 0; i < f->param_count; i++) {
        size_t align = f->params[i].align ? f->params[i].align : 1;
        offset = align_up(offset, align);
        k->params[i].offset = offset;
        k->params[i].size = f->params[i].size;
        bf_ptx_sym_t sym = {.kind = BF_PTX_SYM_KPARAM, .offset = (int64_t)offset};
        if (add_sym(&D, f->params[i].name, &sym) != BF_OK)
            goto err_fini;
        offset += f->params[i].size;
    }
    k->param_bytes = offset;

    if (scan_shared(&D, func_index, visited, true) != BF_OK)
        goto err_fini;
    k->static_shared_bytes = D.shared_size;
    k->shared_align = D.extern_align ? D.extern_align : 16;
    k->dynamic_shared_offset = align_up(D.shared_size, k->shared_align);
    for (size_t i = 0; i < L->shared_var_count; i++)
        if (D.shared_offset[i] == SIZE_MAX - 1)
            D.shared_offset[i] = k->dynamic_shared_offset;

    if (decode_body(&D, f->body_begin, f->body_end) != BF_OK)
        goto err_fini;
    D.guard = 0;
    D.gneg = 0;
    D.line = TOK(&D, f->body_end)->line;
    if (!bf_ptx_emit(&D, BF_PTX_X_EXIT))
        goto err_fini;
    k->local_bytes = align_up(D.local_size, 16);

    /* Recursive functions, out of line after the kernel (the list grows as their bodies call
     * others), then the operations that needed their entries and frame sizes. */
    for (uint32_t i = 0; i < D.ool_count; i++)
        if (decode_ool(&D, i) != BF_OK)
            goto err_fini;
    if (D.ool_count) {
        k->funcs = calloc(D.ool_count, sizeof(*k->funcs));
        if (!k->funcs)
            goto err_oom;
        k->func_count = D.ool_count;
        for (uint32_t i = 0; i < D.ool_count; i++) {
            k->funcs[i].entry = D.ool[i].entry;
            k->funcs[i].frame_bytes = (uint32_t)D.ool[i].frame_bytes;
            k->funcs[i].charge = (uint32_t)align_up(D.ool[i].local_bytes, 16);
            if (D.ool[i].frame_bytes > k->max_frame_bytes)
                k->max_frame_bytes = D.ool[i].frame_bytes;
        }
    }
    if (D.ool_count) {
        k->func_map = malloc(L->func_count * sizeof(*k->func_map));
        if (!k->func_map)
            goto err_oom;
        k->func_map_len = L->func_count;
        for (size_t i = 0; i < L->func_count; i++)
            k->func_map[i] = UINT32_MAX;
        for (uint32_t i = 0; i < D.ool_count; i++)
            k->func_map[D.ool[i].func] = i;
    }
    for (uint32_t i = 0; i < D.patch_count; i++) {
        const bf_ptx_patch_t *p = &D.patches[i];
        if (p->kind == 0)
            D.code[p->insn].target = D.ool[p->index].entry;
        else
            D.code[p->insn].imm += (int64_t)D.ool[p->index].frame_bytes;
    }

    if (f->reqntid[0] > 0) {
        for (int i = 0; i < 3; i++)
            k->reqntid[i] = f->reqntid[i] > 0 ? (unsigned)f->reqntid[i] : 1;
        k->max_threads = (int)(k->reqntid[0] * k->reqntid[1] * k->reqntid[2]);
    } else if (f->maxntid[0] > 0) {
        k->max_threads = f->maxntid[0] * (f->maxntid[1] > 0 ? f->maxntid[1] : 1) * (f->maxntid[2] > 0 ? f->maxntid[2] : 1);
    } else {
        k->max_threads = BF_PTX_MAX_BLOCK;
    }
    if (k->max_threads > BF_PTX_MAX_BLOCK)
        k->max_threads = BF_PTX_MAX_BLOCK;

    if (lay_out(&D) != BF_OK)
        goto err_fini;
    k->code = D.code;
    k->code_len = D.len;
    D.code = NULL;
    if (bf_ptx_cfg_reconverge(k->code, k->code_len, &k->stack_depth) != BF_OK)
        goto err_oom;
    dec_fini(&D);
    frame_fini(&F);
    free(visited);
    *kernel_p = k;
    return BF_OK;

err_oom:
    oom(&D);
err_fini:
    dec_fini(&D);
    frame_fini(&F);
    free(visited);
    bf_ptx_kernel_free(k);
    return L->status != BF_OK ? L->status : BF_NO_MEMORY;
}
