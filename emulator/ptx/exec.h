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
} bf_ptx_exec_t;

/* Runs a warp until it reaches a barrier (BF_PTX_WARP_BARRIER, w->pc past it), exits
 * (BF_PTX_WARP_DONE) or faults (BF_PTX_WARP_FAULT, x->fault filled). Returns -1 when the
 * reconvergence stack cannot grow (out of memory). */
int bf_ptx_warp_run(bf_ptx_exec_t *x, bf_ptx_warp_t *w);

#endif
