/*
 * exec.h: the executor's state: one warp (register file, local memory, reconvergence stack) and
 * one worker thread's view of a launch (shared memory of the block it runs, region caches, fault).
 */
#ifndef BF_PTX_EXEC_H
#define BF_PTX_EXEC_H

#include "ptx_ir.h"

typedef struct {
    uint32_t pc;    /* where the entry's lanes resume (the top entry's pc lives in a local) */
    uint32_t rpc;   /* where they reconverge with the entry below */
    uint32_t mask;  /* lanes of the entry (exited lanes are masked out when it runs) */
} bf_ptx_stack_entry_t;

/* An active call of an out-of-line function: where to return, the caller's frame, the reconvergence
 * entry below the callee's (call_floor before the call), and where the callee's saved registers
 * start in the warp's save area. */
typedef struct {
    uint32_t ret_pc, fp, floor, func;
    size_t save_off;
    size_t stack_used;             /* the caller's */
} bf_ptx_call_t;

typedef enum { BF_PTX_WARP_RUNNING, BF_PTX_WARP_BARRIER, BF_PTX_WARP_DONE, BF_PTX_WARP_FAULT } bf_ptx_warp_state_t;

typedef struct {
    uint8_t *regs;                 /* register file, 64-byte aligned */
    uint8_t *local;                /* 32 lanes × kernel->local_bytes */
    bf_ptx_stack_entry_t *stack;
    uint32_t sp, stack_cap;
    uint32_t pc;                   /* resume point after a barrier */
    uint32_t exited;               /* lanes that exited (or never existed) */
    uint32_t absent;               /* lanes past the block's last thread */
    uint32_t index;                /* warp index in the block */
    int state;                     /* bf_ptx_warp_state_t */
    /* Calls of out-of-line functions (exec_ext.c). */
    uint32_t fp;                   /* local-memory offset of the current frame */
    size_t stack_used;             /* what the active calls count against the stack limit */
    uint32_t call_floor;           /* stack entry of the innermost call (UINT32_MAX: none) */
    bf_ptx_call_t *calls;
    uint32_t ncalls, calls_cap;
    uint8_t *save;                 /* saved registers of the active calls */
    size_t save_len, save_cap;
    uint32_t bar_id;               /* the barrier it waits at (set by launch.c) */
    /* bar.red: the results of the last barrier that released this warp (read by BARRED_RESULT). */
    uint32_t res_popc, res_and, res_or;
} bf_ptx_warp_t;

/* The last region a global (or generic) memory operation touched: a hit is
 * addr - base < span (span = region size - access size + 1; 0 when empty). */
typedef struct {
    uint64_t base, span;
    int64_t delta;                 /* host address - device address */
} bf_ptx_region_cache_t;

typedef struct {
    const bf_ptx_kernel_t *k;
    const bf_ptx_memory_t *memory;
    const uint8_t *params;
    size_t params_size;
    uint8_t *shared;
    size_t shared_size;            /* static + dynamic bytes */
    size_t local_bytes;
    bf_ptx_region_cache_t *cache;  /* k->cache_count entries */
    int counting;
    uint64_t lane_insns;
    bf_ptx_fault_t fault;          /* valid when a warp returned BF_PTX_WARP_FAULT */
    const bf_ptx_services_t *services;
    unsigned block[3], ctaid[3];   /* for assertion messages */
    size_t stack_base, stack_bytes; /* the call stack: local memory [base, base + bytes) per thread */
    size_t stack_limit;            /* CU_LIMIT_STACK_SIZE: what calls may count (bf_ptx_func_rt_t) */
    /* bar.red: what the warp now arriving contributed; launch.c moves it into the barrier's totals
     * when the warp returns at the barrier, and copies the results into each warp it releases. */
    uint32_t red_popc, red_and, red_or;
} bf_ptx_exec_t;

/* Runs a warp until it reaches a barrier (BF_PTX_WARP_BARRIER, w->pc past it), exits
 * (BF_PTX_WARP_DONE) or faults (BF_PTX_WARP_FAULT, x->fault filled). Returns -1 when the
 * reconvergence stack cannot grow (out of memory). */
int bf_ptx_warp_run(bf_ptx_exec_t *x, bf_ptx_warp_t *w);

/* IEEE half (low 16 bits) to the bits of the f32 of the same value (exact). */
static inline uint32_t f16_to_f32(uint32_t h)
{
    uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
    if (exp == 0x1f)
        return sign | 0x7f800000u | (mant << 13);
    if (exp == 0) {
        if (!mant)
            return sign;
        int e = -1;
        do {
            mant <<= 1;
            e++;
        } while (!(mant & 0x400u));
        return sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    return sign | ((exp + 127 - 15) << 23) | (mant << 13);
}

/* --- exec_ext.c: operations kept out of the interpreter's loop -------------------------------- */
/* Fills x->fault (kind, address, the operation's line, the message) and returns -1. */
int bf_ptx_exec_fault(bf_ptx_exec_t *x, const bf_ptx_insn_t *in, int kind, uint64_t address, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* BUILTIN for the lanes of m. Returns 0, or -1 with x->fault filled. */
int bf_ptx_exec_builtin(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t m);
/* EXT for the lanes of m (act: the warp's active lanes). Returns 0, or -1 with x->fault filled. */
int bf_ptx_exec_ext(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t m, uint32_t act);
/* FDIR operations computed under the host's rounding mode: div, sqrt, rcp (and fma of f64). */
float bf_ptx_fdir_fenv_f32(float a, float b, float c, int op, int rnd);
double bf_ptx_fdir_fenv_f64(double a, double b, double c, int op, int rnd);
/* CALL at pc by the lanes of act: saves the callee's registers, pushes the call and a
 * reconvergence entry for the callee at its entry. Returns 0, -1 (x->fault filled: stack
 * overflow) or -2 (out of memory). */
int bf_ptx_exec_call(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t pc, uint32_t act);
/* CALLI: an indirect call (a: the function pointers); splits the warp when lanes name different
 * functions. Returns as bf_ptx_exec_call (and -1 for a pointer that names no function). */
int bf_ptx_exec_calli(bf_ptx_exec_t *x, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, uint32_t pc, uint32_t act);
/* Returns from the innermost call (its reconvergence entry is the top one): restores the callee's
 * registers and the caller's frame, pops the entry; returns the pc to resume at. */
uint32_t bf_ptx_exec_return(bf_ptx_exec_t *x, bf_ptx_warp_t *w);

#endif
