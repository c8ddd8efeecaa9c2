/*
 * call.c: calls that are not inlined.
 *
 * A function called while its own body is being decoded (recursion, direct or mutual) is decoded
 * once more, out of line, after the kernel's body (decode.c: decode_ool). A call of it copies the
 * arguments into a new frame of the thread's call stack (local memory past the kernel's static
 * local bytes), runs CALL, and copies the return values back. The frame holds the function's
 * parameters, then its return values, then its .local and .param variables (those of the functions
 * inlined into it too), all addressed from a frame register the body loads at its entry
 * (FRAMEADDR). CALL saves the callee's registers and RET restores them, so an activation of a
 * function finds its registers as it left them when a call of the same function returns.
 *
 * The device runtime's functions, declared .extern without a body (vprintf, malloc, free,
 * __assertfail), become one BUILTIN operation: their .param arguments are loaded into registers
 * first and the result stored back into the return .param variable afterwards.
 */
#include <string.h>

#include "decode.h"

#define FAILED(D) ((D)->L->status != BF_OK)

static size_t align_up(size_t v, size_t a)
{
    return a > 1 ? (v + a - 1) & ~(a - 1) : v;
}

size_t bf_ptx_ool_layout(const bf_ptx_func_t *f, int64_t *param_offsets, int64_t *ret_offsets)
{
    size_t off = 0;
    for (size_t i = 0; i < f->param_count; i++) {
        off = align_up(off, f->params[i].align ? f->params[i].align : 1);
        param_offsets[i] = (int64_t)off;
        off += f->params[i].size;
    }
    for (size_t i = 0; i < f->ret_count; i++) {
        off = align_up(off, f->rets[i].align ? f->rets[i].align : 1);
        ret_offsets[i] = (int64_t)off;
        off += f->rets[i].size;
    }
    return off;
}

/* One local-memory access of w bytes at [base + off] to or from data (R64 for 8 bytes). */
static bf_ptx_insn_t *local_access(bf_ptx_dec_t *D, bf_ptx_xop_t op, uint32_t base, int64_t off, unsigned w,
                                   uint32_t data)
{
    bf_ptx_insn_t *in = bf_ptx_emit(D, op);
    if (!in)
        return NULL;
    in->sub = BF_PTX_SP_LOCAL;
    in->w = (uint8_t)w;
    in->n = 1;
    in->a = base ? base : D->zero64;
    in->imm = off;
    in->flags = w == 8 ? BF_PTX_MF_DATA64 : 0;
    in->v[0] = data;
    return in;
}

/* Copies size bytes of local memory from [sb + so] to [db + doff]. patch_src / patch_dst: that side
 * is the callee's frame, whose offset from the caller's frame register grows by the caller's frame
 * size once the caller is decoded. */
static bf_status_t copy_local(bf_ptx_dec_t *D, uint32_t sb, int64_t so, int patch_src, uint32_t db, int64_t doff,
                              int patch_dst, size_t size)
{
    unsigned chunk = 8;
    while (chunk > 1 && (size % chunk || (uint64_t)so % chunk || (uint64_t)doff % chunk))
        chunk /= 2;
    for (size_t k = 0; k < size; k += chunk) {
        uint32_t t = bf_ptx_temp(D, chunk == 8 ? BF_PTX_SLOT_R64 : BF_PTX_SLOT_R32);
        if (!t || !local_access(D, BF_PTX_X_LD, sb, so + (int64_t)k, chunk, t))
            return D->L->status;
        if (patch_src && bf_ptx_add_patch(D, (uint32_t)(D->len - 1), D->owner - 1u, 1) != BF_OK)
            return D->L->status;
        if (!local_access(D, BF_PTX_X_ST, db, doff + (int64_t)k, chunk, t))
            return D->L->status;
        if (patch_dst && bf_ptx_add_patch(D, (uint32_t)(D->len - 1), D->owner - 1u, 1) != BF_OK)
            return D->L->status;
    }
    return BF_OK;
}

/* Arguments into the callee's frame, CALL (index: the callee) or CALLI (target: the register
 * holding a function's address), return values back; f gives the frame layout. */
static bf_status_t call_sequence(bf_ptx_dec_t *D, const bf_ptx_func_t *f, bf_ptx_xop_t op, uint32_t index,
                                 uint32_t target, const int64_t *ret_offsets, const uint32_t *ret_bases,
                                 size_t ret_count, const int64_t *arg_offsets, const uint32_t *arg_bases,
                                 size_t arg_count)
{
    int64_t poff[32], roff[32];
    if (f)
        bf_ptx_ool_layout(f, poff, roff);
    /* t: the caller's frame register value; the callee's frame starts the caller's frame size past
     * it (nothing past it at kernel level, where locals are static). */
    const int patch = D->owner > 0;
    uint32_t t = bf_ptx_temp(D, BF_PTX_SLOT_R64);
    bf_ptx_insn_t *in = t ? bf_ptx_emit(D, BF_PTX_X_FRAMEADDR) : NULL;
    if (!in)
        return D->L->status;
    in->d = t;
    for (size_t i = 0; f && i < arg_count; i++)
        if (copy_local(D, arg_bases[i], arg_offsets[i], 0, t, poff[i], patch, f->params[i].size) != BF_OK)
            return D->L->status;
    in = bf_ptx_emit(D, op);
    if (!in)
        return D->L->status;
    in->cache = index;
    in->a = target;
    if ((op == BF_PTX_X_CALL && bf_ptx_add_patch(D, (uint32_t)(D->len - 1), index, 0) != BF_OK) ||
        (patch && bf_ptx_add_patch(D, (uint32_t)(D->len - 1), D->owner - 1u, 1) != BF_OK))
        return D->L->status;
    for (size_t i = 0; f && i < ret_count; i++)
        if (copy_local(D, t, roff[i], patch, ret_bases[i], ret_offsets[i], 0, f->rets[i].size) != BF_OK)
            return D->L->status;
    return BF_OK;
}

/* The index of func_index among the out-of-line functions, added when new (UINT32_MAX: failed). */
static uint32_t ool_index(bf_ptx_dec_t *D, size_t func_index)
{
    uint32_t index = 0;
    while (index < D->ool_count && D->ool[index].func != func_index)
        index++;
    if (index == D->ool_count && bf_ptx_ool_add(D, func_index) != BF_OK)
        return UINT32_MAX;
    return index;
}

bf_status_t bf_ptx_ool_call(bf_ptx_dec_t *D, size_t func_index, const int64_t *ret_offsets,
                            const uint32_t *ret_bases, size_t ret_count, const int64_t *arg_offsets,
                            const uint32_t *arg_bases, size_t arg_count)
{
    const bf_ptx_func_t *f = &D->L->funcs[func_index];
    if (arg_count != f->param_count || ret_count != f->ret_count)
        return bf_ptx_bad(D, "'%.*s' takes %zu arguments and %zu return values", (int)f->name->len, f->name->s,
                          f->param_count, f->ret_count);
    if (f->param_count > 32 || f->ret_count > 32)
        return bf_ptx_unsupported(D, "more than 32 call arguments");
    uint32_t index = ool_index(D, func_index);
    if (index == UINT32_MAX)
        return D->L->status;
    return call_sequence(D, f, BF_PTX_X_CALL, index, 0, ret_offsets, ret_bases, ret_count, arg_offsets, arg_bases,
                         arg_count);
}

/* Same parameters and return values, at the same offsets. */
static int same_layout(const bf_ptx_func_t *a, const bf_ptx_func_t *b)
{
    if (a->param_count != b->param_count || a->ret_count != b->ret_count)
        return 0;
    for (size_t i = 0; i < a->param_count; i++)
        if (a->params[i].size != b->params[i].size || a->params[i].align != b->params[i].align)
            return 0;
    for (size_t i = 0; i < a->ret_count; i++)
        if (a->rets[i].size != b->rets[i].size || a->rets[i].align != b->rets[i].align)
            return 0;
    return 1;
}

bf_status_t bf_ptx_indirect_call(bf_ptx_dec_t *D, uint32_t target_slot, const int64_t *ret_offsets,
                                 const uint32_t *ret_bases, size_t ret_count, const int64_t *arg_offsets,
                                 const uint32_t *arg_bases, size_t arg_count)
{
    /* The functions this call may reach: every .func with a body and the call's arity whose layout
     * matches the first such one (a function of another signature cannot be called through this
     * prototype). CALLI faults for any other address. */
    const bf_ptx_func_t *layout = NULL;
    for (size_t i = 0; i < D->L->func_count; i++) {
        const bf_ptx_func_t *f = &D->L->funcs[i];
        if (f->is_entry || !f->body_begin || f->param_count != arg_count || f->ret_count != ret_count ||
            arg_count > 32 || ret_count > 32 || (layout && !same_layout(layout, f)))
            continue;
        if (ool_index(D, i) == UINT32_MAX)
            return D->L->status;
        if (!layout)
            layout = f;
    }
    return call_sequence(D, layout, BF_PTX_X_CALLI, 0, target_slot, ret_offsets, ret_bases, ret_count, arg_offsets,
                         arg_bases, arg_count);
}

/* --- the device runtime's functions ---------------------------------------------------------- */
static const struct {
    const char *name;
    int args, ret;          /* argument count; bytes of the return value (0: none) */
    uint8_t arg_bytes[5];
} builtins[] = {
    [BF_PTX_BI_VPRINTF] = {"vprintf", 2, 4, {8, 8}},
    [BF_PTX_BI_MALLOC] = {"malloc", 1, 8, {8}},
    [BF_PTX_BI_FREE] = {"free", 1, 0, {8}},
    [BF_PTX_BI_ASSERTFAIL] = {"__assertfail", 5, 0, {8, 8, 4, 8, 8}},
};

int bf_ptx_builtin_id(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strlen(builtins[i].name) == len && memcmp(builtins[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

bf_status_t bf_ptx_builtin_call(bf_ptx_dec_t *D, int id, const int64_t *ret_offsets, const uint32_t *ret_bases,
                                size_t ret_count, const int64_t *arg_offsets, const uint32_t *arg_bases,
                                size_t arg_count)
{
    const int nargs = builtins[id].args;
    if ((int)arg_count != nargs || ret_count != (builtins[id].ret ? 1u : 0u))
        return bf_ptx_bad(D, "'%s' takes %d arguments and %d return values", builtins[id].name, nargs,
                          builtins[id].ret ? 1 : 0);
    uint32_t slots[5] = {0, 0, 0, 0, 0};
    for (int i = 0; i < nargs; i++) {
        unsigned w = builtins[id].arg_bytes[i];
        slots[i] = bf_ptx_temp(D, w == 8 ? BF_PTX_SLOT_R64 : BF_PTX_SLOT_R32);
        if (!slots[i] || !local_access(D, BF_PTX_X_LD, arg_bases[i], arg_offsets[i], w, slots[i]))
            return D->L->status;
    }
    uint32_t d = 0;
    if (builtins[id].ret) {
        d = bf_ptx_temp(D, builtins[id].ret == 8 ? BF_PTX_SLOT_R64 : BF_PTX_SLOT_R32);
        if (!d)
            return D->L->status;
    }
    bf_ptx_insn_t *in = bf_ptx_emit(D, BF_PTX_X_BUILTIN);
    if (!in)
        return D->L->status;
    D->k->builtins |= 1u << id;
    in->sub = (uint8_t)id;
    in->d = d;
    in->a = slots[0];
    in->b = slots[1];
    in->c = slots[2];
    in->e = slots[3];
    in->v[0] = slots[4];
    if (d && !local_access(D, BF_PTX_X_ST, ret_bases[0], ret_offsets[0], builtins[id].ret, d))
        return D->L->status;
    return BF_OK;
}
