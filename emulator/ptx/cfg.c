/*
 * cfg.c: immediate post-dominators of a kernel's basic blocks (Cooper, Harvey and Kennedy's
 * iterative algorithm, run on the reversed graph from a virtual exit node).
 *
 * Lanes that take different sides of a branch meet again at the branch's immediate post-dominator:
 * the first point every path from the branch to the exit goes through. The executor keeps the lanes
 * that wait there on a per-warp stack.
 */
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

typedef struct {
    uint32_t first, last;  /* operation indexes */
    uint32_t succ[2];
    int nsucc;
} block_t;

static int ends_block(const bf_ptx_insn_t *in)
{
    return in->op == BF_PTX_X_BRA || in->op == BF_PTX_X_EXIT || in->op == BF_PTX_X_TRAP || in->op == BF_PTX_X_RET;
}

static uint32_t intersect(const uint32_t *ipdom, const uint32_t *order, uint32_t a, uint32_t b)
{
    while (a != b) {
        while (order[a] < order[b])
            a = ipdom[a];
        while (order[b] < order[a])
            b = ipdom[b];
    }
    return a;
}

bf_status_t bf_ptx_cfg_reconverge(bf_ptx_insn_t *code, size_t len, uint32_t *stack_depth_p)
{
    bf_status_t status = BF_NO_MEMORY;
    uint8_t *leader = calloc(len + 1, 1);
    uint32_t *block_of = malloc((len + 1) * sizeof(*block_of));
    block_t *blocks = NULL;
    uint32_t *preds_start = NULL, *preds = NULL, *order = NULL, *ipdom = NULL, *stack = NULL, *post = NULL;
    if (!leader || !block_of)
        goto out;
    uint32_t branches = 0;
    leader[0] = 1;
    for (size_t i = 0; i < len; i++) {
        if (code[i].op == BF_PTX_X_BRA) {
            branches++;
            if (code[i].target < len)
                leader[code[i].target] = 1;
        }
        if (ends_block(&code[i]))
            leader[i + 1] = 1;
    }
    uint32_t nblocks = 0;
    for (size_t i = 0; i < len; i++)
        nblocks += leader[i];
    uint32_t exit_node = nblocks, n = nblocks + 1;
    blocks = calloc(n, sizeof(*blocks));
    preds_start = calloc(n + 1, sizeof(*preds_start));
    order = malloc(n * sizeof(*order));
    ipdom = malloc(n * sizeof(*ipdom));
    stack = malloc(n * sizeof(*stack));
    post = malloc(n * sizeof(*post));
    if (!blocks || !preds_start || !order || !ipdom || !stack || !post)
        goto out;
    uint32_t b = 0;
    for (size_t i = 0; i < len; i++) {
        if (leader[i] && i > 0)
            b++;
        if (leader[i])
            blocks[b].first = (uint32_t)i;
        blocks[b].last = (uint32_t)i;
        block_of[i] = b;
    }
    block_of[len] = exit_node;
    /* Successors. Past the last operation (never reached: the decoder ends every kernel with an
     * exit) is the exit node. */
    for (uint32_t i = 0; i < nblocks; i++) {
        const bf_ptx_insn_t *in = &code[blocks[i].last];
        block_t *bl = &blocks[i];
        uint32_t next = block_of[blocks[i].last + 1];
        int guarded = in->guard != 0;
        if (in->op == BF_PTX_X_BRA) {
            bl->succ[bl->nsucc++] = in->target < len ? block_of[in->target] : exit_node;
            if (guarded)
                bl->succ[bl->nsucc++] = next;
        } else if (in->op == BF_PTX_X_EXIT || in->op == BF_PTX_X_TRAP || in->op == BF_PTX_X_RET) {
            bl->succ[bl->nsucc++] = exit_node;
            if (guarded)
                bl->succ[bl->nsucc++] = next;
        } else {
            bl->succ[bl->nsucc++] = next;
        }
    }
    /* Predecessor lists (edges of the reversed graph). */
    for (uint32_t i = 0; i < nblocks; i++)
        for (int s = 0; s < blocks[i].nsucc; s++)
            preds_start[blocks[i].succ[s] + 1]++;
    for (uint32_t i = 0; i < n; i++)
        preds_start[i + 1] += preds_start[i];
    preds = malloc((preds_start[n] + 1) * sizeof(*preds));
    if (!preds)
        goto out;
    {
        uint32_t *fill = calloc(n, sizeof(*fill));
        if (!fill)
            goto out;
        for (uint32_t i = 0; i < nblocks; i++)
            for (int s = 0; s < blocks[i].nsucc; s++) {
                uint32_t t = blocks[i].succ[s];
                preds[preds_start[t] + fill[t]++] = i;
            }
        free(fill);
    }
    /* Post-order of the reversed graph from the exit (iterative depth-first search). */
    uint32_t *next_edge = calloc(n, sizeof(*next_edge));
    if (!next_edge)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        order[i] = UINT32_MAX;
    uint32_t sp = 0, count = 0;
    uint8_t *seen = calloc(n, 1);
    if (!seen) {
        free(next_edge);
        goto out;
    }
    stack[sp++] = exit_node;
    seen[exit_node] = 1;
    while (sp) {
        uint32_t v = stack[sp - 1];
        if (preds_start[v] + next_edge[v] < preds_start[v + 1]) {
            uint32_t w = preds[preds_start[v] + next_edge[v]++];
            if (!seen[w]) {
                seen[w] = 1;
                stack[sp++] = w;
            }
        } else {
            sp--;
            order[v] = count;
            post[count++] = v;
        }
    }
    free(next_edge);
    free(seen);
    /* Iterate to a fixed point in reverse post-order. */
    for (uint32_t i = 0; i < n; i++)
        ipdom[i] = UINT32_MAX;
    ipdom[exit_node] = exit_node;
    int changed = 1;
    while (changed) {
        changed = 0;
        for (uint32_t k = count; k-- > 0;) {
            uint32_t v = post[k];
            if (v == exit_node)
                continue;
            uint32_t nd = UINT32_MAX;
            for (int s = 0; s < blocks[v].nsucc; s++) {
                uint32_t w = blocks[v].succ[s];
                if (ipdom[w] == UINT32_MAX)
                    continue;
                nd = nd == UINT32_MAX ? w : intersect(ipdom, order, w, nd);
            }
            if (nd != UINT32_MAX && ipdom[v] != nd) {
                ipdom[v] = nd;
                changed = 1;
            }
        }
    }
    for (uint32_t i = 0; i < nblocks; i++) {
        bf_ptx_insn_t *in = &code[blocks[i].last];
        if (in->op != BF_PTX_X_BRA)
            continue;
        uint32_t p = ipdom[i];
        /* Blocks that never reach the exit (endless loops) reconverge nowhere. */
        in->rpc = (p == UINT32_MAX || p == exit_node) ? BF_PTX_NO_PC : blocks[p].first;
    }
    *stack_depth_p = 2 * branches + 4;
    status = BF_OK;
out:
    free(leader);
    free(block_of);
    free(blocks);
    free(preds_start);
    free(preds);
    free(order);
    free(ipdom);
    free(stack);
    free(post);
    return status;
}
