/*
 * cfg.h: control flow of a decoded kernel: basic blocks, immediate post-dominators, and the
 * reconvergence point of every branch.
 */
#ifndef BF_PTX_CFG_H
#define BF_PTX_CFG_H

#include "ptx_ir.h"

/*
 * Sets rpc of every BRA in code to the first operation of the immediate post-dominator of its
 * block (BF_PTX_NO_PC when that is the kernel's exit), and *stack_depth_p to the number of
 * reconvergence-stack entries a warp starts with.
 * Returns BF_OK or BF_NO_MEMORY.
 */
bf_status_t bf_ptx_cfg_reconverge(bf_ptx_insn_t *code, size_t len, uint32_t *stack_depth_p);

#endif
