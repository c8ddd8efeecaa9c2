/*
 * ptx_ir.h: private header of the PTX engine: the decoded form of a kernel and what the loader,
 * the decoder and the executor share.
 *
 * A kernel decodes into an array of bf_ptx_insn_t. Operands are byte offsets into a warp's register
 * file, which holds, per virtual register, one array of 32 lane values (uint32_t for registers of
 * 8 to 32 bits, uint64_t for 64-bit ones) and, per predicate, one 32-bit lane mask. The file starts
 * with a constant region (immediates broadcast to 32 lanes, launch-uniform special registers, bound
 * addresses of module globals) that is copied in once per launch, so that no operation needs an
 * immediate form: every source is a slot. Offset 0 holds the all-true predicate, so an unguarded
 * operation has guard 0.
 *
 * Values narrower than their slot (8 and 16 bits) keep whatever the upper bits happen to be; the
 * decoder normalises them (a CVT_II to the right extension) in front of every operation whose
 * result depends on those bits.
 */
#ifndef BF_PTX_IR_H
#define BF_PTX_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptx.h"

#define BF_PTX_WARP 32
#define BF_PTX_FULL_MASK 0xffffffffu
#define BF_PTX_NO_PC 0xffffffffu
#define BF_PTX_MAX_BLOCK 1024

/* Generic address windows: a generic address with one of these tags in its top byte names shared,
 * local or param memory (the offset is in the low 32 bits); any other generic address is global. */
#define BF_PTX_WINDOW_SHIFT 56
#define BF_PTX_WINDOW_SHARED 0xf1ull
#define BF_PTX_WINDOW_LOCAL 0xf2ull
#define BF_PTX_WINDOW_PARAM 0xf3ull
/* The address of a .func (a function pointer): this tag, then the function's index in the module
 * (the same in every kernel, so pointers can pass through memory and initialisers). */
#define BF_PTX_WINDOW_FUNC 0xf4ull
#define BF_PTX_FUNC_ADDR(index) (BF_PTX_WINDOW_FUNC << BF_PTX_WINDOW_SHIFT | (uint64_t)(index))

/* State spaces of a memory operation. */
typedef enum {
    BF_PTX_SP_GENERIC,
    BF_PTX_SP_GLOBAL, /* also .const: module constants live in device memory the caller allocated */
    BF_PTX_SP_SHARED,
    BF_PTX_SP_LOCAL,
    BF_PTX_SP_PARAM,
} bf_ptx_space_t;

/* Comparison operators of setp. */
typedef enum {
    BF_PTX_CMP_EQ, BF_PTX_CMP_NE, BF_PTX_CMP_LT, BF_PTX_CMP_LE, BF_PTX_CMP_GT, BF_PTX_CMP_GE,
    BF_PTX_CMP_EQU, BF_PTX_CMP_NEU, BF_PTX_CMP_LTU, BF_PTX_CMP_LEU, BF_PTX_CMP_GTU, BF_PTX_CMP_GEU,
    BF_PTX_CMP_NUM, BF_PTX_CMP_NAN,
} bf_ptx_cmp_t;

/* Boolean combination of setp with its third predicate operand. */
typedef enum { BF_PTX_BOOL_NONE, BF_PTX_BOOL_AND, BF_PTX_BOOL_OR, BF_PTX_BOOL_XOR } bf_ptx_boolop_t;

/* Atomic operations (atom, red). */
typedef enum {
    BF_PTX_ATOM_ADD, BF_PTX_ATOM_MIN, BF_PTX_ATOM_MAX, BF_PTX_ATOM_EXCH, BF_PTX_ATOM_CAS,
    BF_PTX_ATOM_AND, BF_PTX_ATOM_OR, BF_PTX_ATOM_XOR, BF_PTX_ATOM_INC, BF_PTX_ATOM_DEC,
} bf_ptx_atom_t;

/* Value kinds of atomics, setp operands and conversions. */
typedef enum {
    BF_PTX_K_U32, BF_PTX_K_S32, BF_PTX_K_U64, BF_PTX_K_S64, BF_PTX_K_F32, BF_PTX_K_F64,
} bf_ptx_kind_t;

/* Rounding of conversions: to nearest even, toward zero, toward -inf, toward +inf. */
typedef enum { BF_PTX_RND_N, BF_PTX_RND_Z, BF_PTX_RND_M, BF_PTX_RND_P } bf_ptx_rnd_t;

typedef enum { BF_PTX_SHFL_UP, BF_PTX_SHFL_DOWN, BF_PTX_SHFL_BFLY, BF_PTX_SHFL_IDX } bf_ptx_shfl_t;
typedef enum { BF_PTX_VOTE_ALL, BF_PTX_VOTE_ANY, BF_PTX_VOTE_UNI, BF_PTX_VOTE_BALLOT } bf_ptx_vote_t;

/* Flags of memory operations. */
#define BF_PTX_MF_ADDR32 0x01u /* the address register is a 32-bit slot */
#define BF_PTX_MF_SIGNED 0x02u /* sign-extend loaded values into their slot */
#define BF_PTX_MF_DATA64 0x04u /* the data registers are 64-bit slots */
#define BF_PTX_MF_NORESULT 0x08u /* red: no destination */

/* Flags of setp. */
#define BF_PTX_SF_NEGC 0x01u  /* the combining predicate is negated (!%p) */
#define BF_PTX_SF_PAIR 0x02u  /* a second destination (p|q) receives the complement */

/* Flags of the carry operations (ADDC, SUBC, MADC); e is the warp's carry-flag word (CC.CF). */
#define BF_PTX_CF_IN 0x01u     /* adds the carry (subtracts the borrow) */
#define BF_PTX_CF_OUT 0x02u    /* writes the carry (borrow) out */
#define BF_PTX_CF_HI 0x04u     /* MADC: the high half of the product */
#define BF_PTX_CF_SIGNED 0x08u /* MADC .hi: signed product */

/* FDIR (directed rounding of f32/f64 arithmetic): sub is the operation. */
typedef enum {
    BF_PTX_FDIR_ADD, BF_PTX_FDIR_SUB, BF_PTX_FDIR_MUL, BF_PTX_FDIR_FMA,
    BF_PTX_FDIR_DIV, BF_PTX_FDIR_SQRT, BF_PTX_FDIR_RCP, /* these, and FMA on f64: exec_ext.c */
} bf_ptx_fdir_t;

/* HALF (f16 and f16x2 arithmetic): sub is the operation, flags bit 0 for f16x2. */
typedef enum {
    BF_PTX_HALF_ADD, BF_PTX_HALF_SUB, BF_PTX_HALF_MUL, BF_PTX_HALF_FMA, BF_PTX_HALF_MIN, BF_PTX_HALF_MAX,
} bf_ptx_half_t;

/* BUILTIN (sub): the device runtime's functions, called with their arguments in a..e (v[0] the
 * fifth) and the result in d. */
typedef enum { BF_PTX_BI_VPRINTF, BF_PTX_BI_MALLOC, BF_PTX_BI_FREE, BF_PTX_BI_ASSERTFAIL } bf_ptx_builtin_t;

/* EXT (sub): operations kept out of the interpreter's switch (exec_ext.c). */
typedef enum {
    BF_PTX_EXT_MATCH_ANY, BF_PTX_EXT_MATCH_ALL, /* flags & 1: 64-bit operand */
    BF_PTX_EXT_REDUX,                           /* kind: BF_PTX_K_U32/S32; n: bf_ptx_redux_t */
    BF_PTX_EXT_PRMT,                            /* n: prmt mode */
    BF_PTX_EXT_HSETP,                           /* f16 comparison: cmp in n, flags & 1 f16x2 */
    BF_PTX_EXT_SLCT,                            /* kind: K_S32 or K_F32 selector; flags & 1 64-bit data,
                                                   & 2 .ftz */
    BF_PTX_EXT_BARRED_ARRIVE,                   /* bar.red: this warp's predicate a (flags & 1: negated) */
    BF_PTX_EXT_BARRED_RESULT,                   /* after the barrier: n 0 popc (d u32), 1 and, 2 or (d pred) */
    BF_PTX_EXT_CVTH,                            /* cvt to f16 from kind (f32, f64, integers), rounding rnd */
    BF_PTX_EXT_FNS,                             /* fns.b32 d, mask a, base b, offset c */
    BF_PTX_EXT_VIDEO,                           /* SIMD video: n the operation (bf_ptx_video_t), flags
                                                   BF_PTX_VF_* */
} bf_ptx_ext_t;

typedef enum { BF_PTX_VIDEO_ADD, BF_PTX_VIDEO_SUB, BF_PTX_VIDEO_AVRG, BF_PTX_VIDEO_ABSDIFF, BF_PTX_VIDEO_MIN,
               BF_PTX_VIDEO_MAX } bf_ptx_video_t;
#define BF_PTX_VF_QUAD 0x01u    /* four 8-bit lanes (else two 16-bit ones) */
#define BF_PTX_VF_SAT 0x02u
#define BF_PTX_VF_ADD 0x04u     /* d = c + the sum of the lanes */
#define BF_PTX_VF_DSIGNED 0x08u
#define BF_PTX_VF_ASIGNED 0x10u
#define BF_PTX_VF_BSIGNED 0x20u

typedef enum { BF_PTX_REDUX_ADD, BF_PTX_REDUX_MIN, BF_PTX_REDUX_MAX, BF_PTX_REDUX_AND, BF_PTX_REDUX_OR,
               BF_PTX_REDUX_XOR } bf_ptx_redux_t;

/* Flags of CVT_II (in imm): source and destination bit widths and signedness, slot widths. */
#define BF_PTX_CVT_II(src_bits, src_signed, dst_bits, dst_signed)                                \
    ((int64_t)(src_bits) | ((int64_t)(src_signed) << 8) | ((int64_t)(dst_bits) << 16) |         \
     ((int64_t)(dst_signed) << 24))

/*
 * The executable operations. Naming: <what>_<type>: I32/I64 for operations that do not depend on
 * signedness, U/S for those that do, F for floating point, 32/64 for bit operations.
 */
#define BF_PTX_XOPS(X)                                                                           \
    X(NOP) X(MOV_32) X(MOV_64) X(PACK_64) X(UNPACK_64) X(PACK_32) X(UNPACK_32)                   \
    X(CVT_II) X(CVT_F32_F64) X(CVT_F64_F32) X(CVT_RI_F32) X(CVT_RI_F64)                          \
    X(CVT_I2F32) X(CVT_I2F64) X(CVT_F32_2I) X(CVT_F64_2I) X(CVT_F16_F32) X(CVT_F32_F16)          \
    X(FTZ_F32) X(SAT_F32) X(SAT_F64)                                                             \
    X(ADD_I32) X(ADD_I64) X(SUB_I32) X(SUB_I64) X(MULLO_I32) X(MULLO_I64)                        \
    X(MULHI_U32) X(MULHI_S32) X(MULHI_U64) X(MULHI_S64) X(MULWIDE_U32) X(MULWIDE_S32)            \
    X(MADLO_I32) X(MADLO_I64) X(MADHI_U32) X(MADHI_S32) X(MADHI_U64) X(MADHI_S64)                \
    X(MADWIDE_U32) X(MADWIDE_S32) X(MUL24_U32) X(MUL24_S32)                                      \
    X(DIV_U32) X(DIV_S32) X(DIV_U64) X(DIV_S64) X(REM_U32) X(REM_S32) X(REM_U64) X(REM_S64)      \
    X(MIN_U32) X(MIN_S32) X(MIN_U64) X(MIN_S64) X(MAX_U32) X(MAX_S32) X(MAX_U64) X(MAX_S64)      \
    X(NEG_I32) X(NEG_I64) X(ABS_S32) X(ABS_S64) X(ADDSAT_S32) X(SUBSAT_S32)                      \
    X(AND_32) X(AND_64) X(OR_32) X(OR_64) X(XOR_32) X(XOR_64) X(NOT_32) X(NOT_64)                \
    X(CNOT_32) X(CNOT_64) X(SHL_32) X(SHL_64) X(SHR_U32) X(SHR_S32) X(SHR_U64) X(SHR_S64)        \
    X(POPC_32) X(POPC_64) X(CLZ_32) X(CLZ_64) X(BREV_32) X(BREV_64)                              \
    X(BFE_U32) X(BFE_S32) X(BFE_U64) X(BFE_S64) X(BFI_32) X(BFI_64) X(PRMT) X(LOP3_32)           \
    X(ADD_F32) X(ADD_F64) X(SUB_F32) X(SUB_F64) X(MUL_F32) X(MUL_F64) X(FMA_F32) X(FMA_F64)      \
    X(DIV_F32) X(DIV_F64) X(MIN_F32) X(MIN_F64) X(MAX_F32) X(MAX_F64)                            \
    X(NEG_F32) X(NEG_F64) X(ABS_F32) X(ABS_F64) X(RCP_F32) X(RCP_F64) X(SQRT_F32) X(SQRT_F64)    \
    X(RSQRT_F32) X(RSQRT_F64) X(EX2_F32) X(LG2_F32) X(SIN_F32) X(COS_F32) X(TANH_F32)            \
    X(COPYSIGN_F32) X(COPYSIGN_F64) X(TESTP_F32) X(TESTP_F64)                                    \
    X(SETP_U32) X(SETP_S32) X(SETP_U64) X(SETP_S64) X(SETP_F32) X(SETP_F64)                      \
    X(SELP_32) X(SELP_64) X(PAND) X(POR) X(PXOR) X(PNOT) X(PMOV)                                  \
    X(ADDC_32) X(ADDC_64) X(SUBC_32) X(SUBC_64) X(MADC_32) X(MADC_64)                            \
    X(FDIR_F32) X(FDIR_F64) X(BFIND_U32) X(BFIND_S32) X(BFIND_U64) X(BFIND_S64)                  \
    X(SHF_L) X(SHF_R) X(SAD_U32) X(SAD_S32) X(HALF)                                              \
    X(LD) X(ST) X(ATOM)                                                                          \
    X(SHFL) X(VOTE) X(ACTIVEMASK) X(CLOCK32) X(CLOCK64)                                          \
    X(BRA) X(EXIT) X(BAR) X(TRAP)                                                                \
    X(BUILTIN) X(CALL) X(CALLI) X(RET) X(FRAMEADDR) X(EXT)

typedef enum {
#define BF_PTX_XOP_ENUM(name) BF_PTX_X_##name,
    BF_PTX_XOPS(BF_PTX_XOP_ENUM)
#undef BF_PTX_XOP_ENUM
    BF_PTX_X_COUNT
} bf_ptx_xop_t;

/* Flags of a BAR operation: a thread count was given; bar.arrive (count the warp, do not wait);
 * bar.red (the warp's predicate was gathered by BARRED_ARRIVE just before). */
#define BF_PTX_BAR_COUNT 1u
#define BF_PTX_BAR_ARRIVE 2u
#define BF_PTX_BAR_RED 4u
/* Alone: bar.sync 0 / barrier.sync 0 with an immediate 0 and no count, the common __syncthreads()
 * that the scheduler counts without reading registers. */
#define BF_PTX_BAR_SYNC0 8u

/* One decoded operation. Register operands are byte offsets into the warp's register file (slot
 * ids until the decoder's last pass). */
typedef struct {
    uint16_t op;     /* bf_ptx_xop_t */
    uint8_t sub;     /* cmp, atom op, shfl/vote mode, space, rounding: per op */
    uint8_t flags;   /* BF_PTX_MF_*, BF_PTX_SF_*: per op */
    uint8_t w;       /* memory: element width in bytes */
    uint8_t n;       /* memory: vector length; setp: bool op */
    uint8_t kind;    /* bf_ptx_kind_t of atomics and conversions */
    uint8_t rnd;     /* bf_ptx_rnd_t of conversions */
    uint32_t guard;  /* predicate word guarding the operation (0: always true) */
    uint32_t gneg;   /* 0, or ~0 for @!p */
    uint32_t d, a, b, c, e;
    uint32_t v[4];   /* memory: data registers */
    int64_t imm;     /* memory: address offset; CVT_II: widths; per op otherwise */
    uint32_t target; /* BRA: index of the target */
    uint32_t rpc;    /* BRA: index where diverged lanes reconverge (BF_PTX_NO_PC: at exit) */
    uint32_t cache;  /* memory: index of this operation's region-cache entry; CALL: callee's index in
                        kernel->funcs */
    uint32_t line;   /* PTX line, for faults */
} bf_ptx_insn_t;

/* Special registers whose values change per launch, block or warp; they live in slots the launch
 * fills in. */
typedef enum {
    BF_PTX_SR_TID_X, BF_PTX_SR_TID_Y, BF_PTX_SR_TID_Z,
    BF_PTX_SR_NTID_X, BF_PTX_SR_NTID_Y, BF_PTX_SR_NTID_Z,
    BF_PTX_SR_CTAID_X, BF_PTX_SR_CTAID_Y, BF_PTX_SR_CTAID_Z,
    BF_PTX_SR_NCTAID_X, BF_PTX_SR_NCTAID_Y, BF_PTX_SR_NCTAID_Z,
    BF_PTX_SR_WARPID, BF_PTX_SR_NWARPID, BF_PTX_SR_DYN_SMEM, BF_PTX_SR_TOTAL_SMEM,
    BF_PTX_SR_COUNT
} bf_ptx_special_t;

/* A slot whose launch-time value is the bound address of a module global plus an offset. */
typedef struct {
    uint32_t slot;   /* byte offset in the register file (64-bit or 32-bit slot) */
    uint32_t global; /* index in the module's globals */
    int64_t offset;
    bool wide;       /* 64-bit slot */
} bf_ptx_global_ref_t;

typedef struct {
    size_t offset, size;
} bf_ptx_param_t;

/* An out-of-line (recursive) function of a kernel: where it starts, the bytes of its frame, and the
 * register-file bytes [save_lo, save_lo + save_len) holding its registers, which each call saves and
 * each return restores. */
typedef struct {
    uint32_t entry;
    uint32_t frame_bytes;
    uint32_t charge;       /* bytes a call counts against CU_LIMIT_STACK_SIZE: its .local
                              variables (a GPU keeps parameters and scalars in registers) */
    uint32_t save_lo, save_len;
} bf_ptx_func_rt_t;

struct bf_ptx_kernel {
    char *name;
    bf_ptx_module_t *module;
    int line;                   /* of the .entry directive */

    bf_ptx_param_t *params;
    size_t param_count, param_bytes;

    bf_ptx_insn_t *code;
    size_t code_len;

    size_t regfile_bytes;       /* per warp, a multiple of 64 */
    size_t const_bytes;         /* the constant prefix of the register file */
    uint8_t *const_image;       /* its contents; launch-uniform specials and globals patched in */
    uint32_t special_slot[BF_PTX_SR_COUNT]; /* byte offset, or 0 when the kernel does not use it */
    bf_ptx_global_ref_t *global_refs;
    size_t global_ref_count;

    size_t static_shared_bytes; /* kernel-scope and module-scope .shared the kernel uses */
    size_t shared_align;        /* of the extern (dynamic) shared array */
    size_t dynamic_shared_offset; /* static size rounded up to shared_align */
    size_t local_bytes;         /* per thread: .local, inlined calls' .params; and the call stack
                                   (launch->stack_bytes) after them when func_count > 0 */
    bf_ptx_func_rt_t *funcs;    /* out-of-line functions */
    size_t func_count;
    size_t max_frame_bytes;     /* the largest of their frames */
    uint32_t *func_map;         /* module function index -> index in funcs (UINT32_MAX: none), for
                                   CALLI (indirect calls) */
    size_t func_map_len;
    int max_threads;            /* .maxntid/.reqntid product, else 1024 */
    unsigned reqntid[3];        /* all 0 unless .reqntid */
    int num_regs;
    uint32_t cache_count;       /* region-cache entries (one per global/generic memory operation) */
    uint32_t stack_depth;       /* reconvergence-stack entries a warp may need */
    unsigned builtins;          /* 1 << bf_ptx_builtin_t of each runtime function it calls */
};

typedef struct {
    char *name;
    size_t size, align;
    uint8_t *init;              /* NULL: zero */
    bool is_const;
    uint64_t address;           /* bound by bf_ptx_module_bind_global */
} bf_ptx_global_t;

struct bf_ptx_module {
    bf_ptx_kernel_t **kernels;
    size_t kernel_count;
    bf_ptx_global_t *globals;
    size_t global_count;
    size_t const_bytes;         /* total of the .const globals */
    int ptx_version;            /* major*10 + minor */
};

/* Frees one kernel's decoded form (used by the module and on load failure). */
void bf_ptx_kernel_free(bf_ptx_kernel_t *kernel);

/* Names of the executable operations, for diagnostics. */
extern const char *const bf_ptx_xop_names[BF_PTX_X_COUNT];

#endif
