/*
 * decode.h: the kernel decoder's state and the helpers the instruction decoders (insn_*.c) use to
 * turn parsed operands into slots and to emit operations.
 *
 * While a kernel decodes, register operands are slot ids (an index into dec->slots); the last pass
 * (decode.c: lay_out) assigns every slot its byte offset in the register file and rewrites the
 * operations.
 */
#ifndef BF_PTX_DECODE_H
#define BF_PTX_DECODE_H

#include "load.h"

/* Slot classes. */
typedef enum { BF_PTX_SLOT_PRED, BF_PTX_SLOT_R32, BF_PTX_SLOT_R64 } bf_ptx_slot_cls_t;

/* What fills a slot: nothing (a register), a constant, a lane pattern, a special register the
 * launch fills in, or the address of a module global. */
typedef enum {
    BF_PTX_SV_VAR, BF_PTX_SV_CONST, BF_PTX_SV_LANEID,
    BF_PTX_SV_LANEMASK_EQ, BF_PTX_SV_LANEMASK_LT, BF_PTX_SV_LANEMASK_LE, BF_PTX_SV_LANEMASK_GT,
    BF_PTX_SV_LANEMASK_GE, BF_PTX_SV_SPECIAL, BF_PTX_SV_GLOBAL,
} bf_ptx_slot_kind_t;

typedef struct {
    uint8_t cls;
    uint8_t kind;
    uint16_t owner;   /* VAR: 0 the kernel's, i + 1 the i-th out-of-line function's (saved by its calls) */
    uint64_t value;   /* CONST: the bits; SPECIAL: bf_ptx_special_t; GLOBAL: global index */
    int64_t offset;   /* GLOBAL: added to the address */
    uint32_t byte_offset;
} bf_ptx_slot_t;

/* Names in a function body. */
typedef enum {
    BF_PTX_SYM_REG,       /* slot */
    BF_PTX_SYM_REGRANGE,  /* %r<N>: lazily allocated slots, range[index] */
    BF_PTX_SYM_SHARED,    /* offset in the block's shared memory */
    BF_PTX_SYM_LOCAL,     /* offset in the thread's local memory */
    BF_PTX_SYM_KPARAM,    /* offset in the kernel's parameter buffer */
    BF_PTX_SYM_PARAMVAR,  /* a call's .param variable: offset in the thread's local memory */
} bf_ptx_sym_kind_t;

typedef struct {
    uint8_t kind;
    uint8_t type;         /* bf_ptx_type_t of registers */
    uint8_t cls;          /* slot class of registers */
    uint32_t slot;        /* REG: slot; REGRANGE: first index in dec->range; count in count;
                             LOCAL, PARAMVAR: the frame register the offset is relative to (0: none) */
    uint32_t count;
    int64_t offset;       /* SHARED, LOCAL, KPARAM, PARAMVAR */
} bf_ptx_sym_t;

/* Operands as parsed. */
typedef enum {
    BF_PTX_OPD_NONE, BF_PTX_OPD_REG, BF_PTX_OPD_IMM, BF_PTX_OPD_SYM, BF_PTX_OPD_ADDR, BF_PTX_OPD_VEC,
    BF_PTX_OPD_LABEL, BF_PTX_OPD_SINK,
} bf_ptx_opd_kind_t;

/* Immediate forms. */
#define BF_PTX_IMM_INT 0
#define BF_PTX_IMM_F32BITS 1
#define BF_PTX_IMM_F64BITS 2
#define BF_PTX_IMM_DECIMAL 3

/* Where a symbol's address lives. */
typedef enum {
    BF_PTX_ADDR_SHARED, BF_PTX_ADDR_LOCAL, BF_PTX_ADDR_PARAM, BF_PTX_ADDR_GLOBAL, BF_PTX_ADDR_FUNC,
} bf_ptx_addr_space_t;

typedef struct {
    uint8_t kind, cls, form;
    uint32_t slot;
    uint64_t ival;
    double fval;
} bf_ptx_vel_t;

typedef struct {
    uint8_t kind;         /* bf_ptx_opd_kind_t */
    uint8_t neg;          /* !%p */
    uint8_t cls;          /* REG: slot class; ADDR with a register base: its class */
    uint8_t form;         /* IMM: BF_PTX_IMM_* */
    uint8_t has_pair;     /* REG: p|q */
    uint8_t pair_cls;
    uint8_t has_base;     /* ADDR: 1 register base, 0 none (symbol or absolute) */
    uint8_t sym_space;    /* SYM, ADDR with a symbol: bf_ptx_addr_space_t; 0xff: none */
    uint32_t slot;        /* REG: slot; ADDR: base register slot */
    uint32_t pair_slot;
    uint32_t sym_index;   /* SYM GLOBAL: global index; FUNC: func index */
    uint32_t sym_base;    /* SYM LOCAL (and ADDR of one): frame register the offset is relative to, or 0 */
    uint64_t ival;        /* IMM bits (integers sign-extended to 64) */
    double fval;          /* IMM decimal float */
    int64_t off;          /* SYM: symbol value (offset) or offset added to a global; ADDR: offset */
    uint8_t vn;           /* VEC */
    bf_ptx_vel_t vel[4];
    const bf_ptx_tok_t *tok;
} bf_ptx_opd_t;

/* A register written through a temporary of another width, copied back after the operation. */
typedef struct {
    uint32_t temp, reg;
    int64_t cvt;          /* BF_PTX_CVT_II(...) */
    uint8_t temp_cls, reg_cls;
} bf_ptx_post_t;

typedef struct {
    const bf_ptx_tok_t *name;
    uint32_t insn;
} bf_ptx_fixup_t;

/* One body being decoded: the kernel's own, or a .func inlined at a call site. */
typedef struct bf_ptx_frame {
    struct bf_ptx_frame *parent;
    size_t func;            /* index in L->funcs */
    bf_ptx_map_t labels;    /* label → instruction index */
    bf_ptx_fixup_t *fixups;
    size_t fixup_count, fixup_cap;
    bf_ptx_fixup_t *rets;   /* ret in an inlined or out-of-line body: branches to its end */
    size_t ret_count, ret_cap;
    bool inlined;
    bool ool;               /* an out-of-line (recursive) function's body, ending in RET */
} bf_ptx_frame_t;

/* A function called recursively: decoded once, after the kernel's body, and run with CALL/RET. */
typedef struct {
    size_t func;            /* index in L->funcs */
    uint32_t entry;         /* index of its first operation (BF_PTX_NO_PC until decoded) */
    size_t frame_bytes;     /* its frame: parameters, return values, .local and .param variables */
    size_t local_bytes;     /* of which .local variables */
} bf_ptx_ool_t;

/* An operation patched when the kernel is complete: CALL targets (kind 0: target = entry of
 * out-of-line function index) and frame offsets (kind 1: imm += frame bytes of function index). */
typedef struct {
    uint32_t insn, index, kind;
} bf_ptx_patch_t;

/* The parsed modifiers of one instruction. */
#define BF_PTX_MAX_MODS 12
typedef struct {
    uint16_t id[BF_PTX_MAX_MODS];
    uint8_t used[BF_PTX_MAX_MODS];
    const char *s[BF_PTX_MAX_MODS];
    uint16_t len[BF_PTX_MAX_MODS];
    int count;
} bf_ptx_mods_t;

typedef struct {
    bf_ptx_loader_t *L;
    bf_ptx_kernel_t *k;
    bf_ptx_frame_t *frame;

    bf_ptx_insn_t *code;
    size_t len, cap;

    bf_ptx_slot_t *slots;
    uint32_t slot_count, slot_cap;
    uint32_t *range;        /* lazily allocated slots of %r<N> declarations (0: not yet) */
    uint32_t range_count, range_cap;
    bf_ptx_map_t names;     /* scoped: name → index in syms */
    bf_ptx_sym_t *syms;
    uint32_t sym_count, sym_cap;
    uint32_t *const_hash;   /* open addressing over const slots, 0 = empty */
    uint32_t const_hash_cap, const_count;
    uint32_t special_slot[BF_PTX_SR_COUNT];
    uint32_t false_pred, zero64;
    uint32_t carry;         /* the carry flag (CC.CF) word, allocated on first use */

    size_t *shared_offset;  /* per loader shared var: offset in this kernel, SIZE_MAX if unused */
    size_t shared_size, extern_align;
    size_t local_size;

    /* Out-of-line functions (recursion). owner: whose registers new slots are (0: the kernel's);
     * fp_slot: the frame register of the out-of-line body being decoded (0 at kernel level). */
    bf_ptx_ool_t *ool;
    uint32_t ool_count, ool_cap;
    bf_ptx_patch_t *patches;
    uint32_t patch_count, patch_cap;
    uint16_t owner;
    uint32_t fp_slot;
    size_t local_var_bytes; /* .local variables declared so far */

    /* The statement being decoded. */
    uint32_t line;
    uint32_t guard;         /* slot id of the guard predicate, 0 for none */
    uint32_t gneg;
    const bf_ptx_tok_t *opcode;
    bf_ptx_post_t post[8];
    int post_count;
    int inline_depth;
} bf_ptx_dec_t;

/* --- emission and slots (decode.c) ---------------------------------------------------------- */
/* Appends an operation carrying the statement's guard and line; NULL when out of memory (status
 * recorded). The pointer is valid until the next emit. */
bf_ptx_insn_t *bf_ptx_emit(bf_ptx_dec_t *D, bf_ptx_xop_t op);
uint32_t bf_ptx_temp(bf_ptx_dec_t *D, bf_ptx_slot_cls_t cls);
uint32_t bf_ptx_const(bf_ptx_dec_t *D, bf_ptx_slot_cls_t cls, uint64_t bits);
uint32_t bf_ptx_const_pred(bf_ptx_dec_t *D, int value);

/* Error for the current statement: "unsupported instruction 'ld.global.b128'" + detail. */
bf_status_t bf_ptx_unsupported(bf_ptx_dec_t *D, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bf_status_t bf_ptx_bad(bf_ptx_dec_t *D, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Operand coercion. src: a slot holding the operand as a value of type (its width decides the
 * class: 64-bit types R64, others R32), converting registers of the other width and materialising
 * immediates, symbols and special registers. dst: the slot to write (a temporary copied back after
 * the operation when the register has the other width; a temporary for '_'). Returns 0 and records
 * the error on failure (slot 0 is never a valid R32/R64 slot). */
uint32_t bf_ptx_src(bf_ptx_dec_t *D, const bf_ptx_opd_t *o, bf_ptx_type_t type);
uint32_t bf_ptx_dst(bf_ptx_dec_t *D, const bf_ptx_opd_t *o, bf_ptx_type_t type);
uint32_t bf_ptx_src_pred(bf_ptx_dec_t *D, const bf_ptx_opd_t *o);
uint32_t bf_ptx_dst_pred(bf_ptx_dec_t *D, const bf_ptx_opd_t *o);
/* A 32-bit source normalised to bits wide (sign- or zero-extended), for 8- and 16-bit types. */
uint32_t bf_ptx_src_norm(bf_ptx_dec_t *D, const bf_ptx_opd_t *o, bf_ptx_type_t type);
/* Emits a CVT_II from src (class src_cls) to a new temporary of class dst_cls. */
uint32_t bf_ptx_cvt_ii(bf_ptx_dec_t *D, uint32_t src, bf_ptx_slot_cls_t dst_cls, int64_t cvt);
bf_ptx_slot_cls_t bf_ptx_slot_cls(const bf_ptx_dec_t *D, uint32_t slot);
/* The special register named by tok's text, as a slot (clocks emit a read); 0 if not one. */
uint32_t bf_ptx_special(bf_ptx_dec_t *D, const char *s, size_t len, bf_ptx_slot_cls_t *cls_p);
/* A slot holding the launch-time address of module global index plus offset (64-bit). */
uint32_t bf_ptx_global_addr(bf_ptx_dec_t *D, uint32_t index, int64_t offset);
/* Branch target: records a fixup resolved at the end of the body. */
bf_status_t bf_ptx_branch_to(bf_ptx_dec_t *D, uint32_t insn, const bf_ptx_tok_t *label);
/* ret inside an inlined body. */
bf_status_t bf_ptx_inline_ret(bf_ptx_dec_t *D, uint32_t insn);
/* Decodes the body of function func_index inlined at a call site, with its parameters and return
 * values bound to the given local-memory offsets. */
bf_status_t bf_ptx_inline_call(bf_ptx_dec_t *D, size_t func_index, const int64_t *ret_offsets,
                               const uint32_t *ret_bases, size_t ret_count, const int64_t *arg_offsets,
                               const uint32_t *arg_bases, size_t arg_count);
/* A call of a function already being decoded (recursion): copies the arguments into a new frame,
 * emits CALL (the function is decoded out of line once, after the kernel), copies return values
 * back. Offsets are .param variables of the caller (base: their frame register, or 0). */
bf_status_t bf_ptx_ool_call(bf_ptx_dec_t *D, size_t func_index, const int64_t *ret_offsets,
                            const uint32_t *ret_bases, size_t ret_count, const int64_t *arg_offsets,
                            const uint32_t *arg_bases, size_t arg_count);
/* Out-of-line functions (decode.c): registers func_index to be decoded after the kernel; records
 * an operation to patch when the kernel is complete (bf_ptx_patch_t). */
bf_status_t bf_ptx_ool_add(bf_ptx_dec_t *D, size_t func_index);
bf_status_t bf_ptx_add_patch(bf_ptx_dec_t *D, uint32_t insn, uint32_t index, uint32_t kind);
/* The frame layout of an out-of-line function (call.c): offsets of its parameters and return
 * values; returns the bytes they take. */
size_t bf_ptx_ool_layout(const bf_ptx_func_t *f, int64_t *param_offsets, int64_t *ret_offsets);
/* call (rets), %rd, (args), prototype: every function of the module whose parameters and return
 * values have the call's layout is decoded out of line, and CALLI calls the one %rd names. */
bf_status_t bf_ptx_indirect_call(bf_ptx_dec_t *D, uint32_t target_slot, const int64_t *ret_offsets,
                                 const uint32_t *ret_bases, size_t ret_count, const int64_t *arg_offsets,
                                 const uint32_t *arg_bases, size_t arg_count);
/* Calls of vprintf, malloc, free and __assertfail (declared .extern without a body): BUILTIN. */
int bf_ptx_builtin_id(const char *name, size_t len);
bf_status_t bf_ptx_builtin_call(bf_ptx_dec_t *D, int id, const int64_t *ret_offsets, const uint32_t *ret_bases,
                                size_t ret_count, const int64_t *arg_offsets, const uint32_t *arg_bases,
                                size_t arg_count);
/* Allocates bytes of the thread's local memory (align a power of two). */
int64_t bf_ptx_local_alloc(bf_ptx_dec_t *D, size_t bytes, size_t align);

/* --- modifiers (insn.c) ---------------------------------------------------------------------- */
/* Splits the opcode token; fills the base name. Unknown modifiers fail (unsupported). */
bf_status_t bf_ptx_mods_parse(bf_ptx_dec_t *D, const bf_ptx_tok_t *opcode, const char **base_p,
                              size_t *base_len_p, bf_ptx_mods_t *mods);
/* 1 when base names an instruction the engine decodes. */
int bf_ptx_insn_known(const char *base, size_t base_len);
/* Decodes one statement whose opcode is base (operands parsed). */
bf_status_t bf_ptx_decode_insn(bf_ptx_dec_t *D, const char *base, size_t base_len, bf_ptx_mods_t *mods,
                               bf_ptx_opd_t *opds, int nopd);

#endif
