/*
 * launch.c: runs a grid. Blocks are handed out, one at a time, to worker threads (the caller is
 * one of them); a worker runs the warps of its block in turn, each until it reaches a barrier or
 * exits. The worker counts arrivals at the block's 16 named barriers in whole warps, as the
 * hardware does, and starts the warps waiting at a barrier again once its count is reached.
 *
 * Each worker owns its warps' register files, local memory, a block's shared memory and one
 * region-cache entry per memory operation, all allocated once per launch: nothing is allocated
 * per block or per operation.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bf_log.h"
#include "exec.h"

#define MAX_SHARED_BYTES (228u * 1024u) /* the largest any NVIDIA target allows a block */
#define DEFAULT_STACK_BYTES 1024u       /* CU_LIMIT_STACK_SIZE's default */
/* Local memory per thread for the frames of recursive calls: 16 times the stack limit (frames
 * here also hold the parameters a GPU passes in registers), at most 256 KiB. */
#define STACK_FRAMES_FACTOR 16u
#define MAX_STACK_FRAMES_BYTES (256u * 1024u)

typedef struct {
    const bf_ptx_kernel_t *k;
    const bf_ptx_launch_t *launch;
    const uint8_t *image;         /* the register file's constant region for this launch */
    uint64_t block_count;
    unsigned threads_per_block, warps_per_block;
    size_t shared_bytes;
    size_t local_stride;          /* per thread: static local bytes, then the call stack */
    size_t stack_limit;           /* CU_LIMIT_STACK_SIZE */
    int counting;
    uint64_t next_block;          /* atomic */
    int stop;                     /* atomic: a fault happened */
    pthread_mutex_t lock;
    bf_status_t status;           /* first failure */
    bf_ptx_fault_t fault;
    uint64_t lane_insns;
} grid_t;

#define BARRIERS 16 /* named barriers per CTA (PTX ISA) */

/* A named barrier of the running block. need 0: every warp still running (bar.sync without a
 * count; exited warps do not hold it). */
typedef struct {
    uint32_t arrived, need;       /* warps */
    uint32_t waiters;             /* the waiting warps (a block has at most 32) */
    uint32_t popc, and_, or_;     /* bar.red over the warps that arrived */
    uint32_t red;                 /* a bar.red arrived (only then are results handed out) */
} barrier_t;

typedef struct {
    grid_t *g;
    bf_ptx_exec_t x;
    barrier_t bars[BARRIERS];
    uint32_t open_default;        /* barriers with arrivals that wait for every running warp */
    uint32_t pending;             /* barriers with arrivals (reset before the next block) */
    bf_ptx_warp_t *warps;
    uint8_t *mem;                 /* one allocation for register files, local memory, shared */
    pthread_t thread;
} worker_t;

static void grid_fail(grid_t *g, bf_status_t status, const bf_ptx_fault_t *fault)
{
    pthread_mutex_lock(&g->lock);
    if (g->status == BF_OK) {
        g->status = status;
        if (fault)
            g->fault = *fault;
    }
    pthread_mutex_unlock(&g->lock);
    __atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
}

static size_t align64(size_t v)
{
    return (v + 63) & ~(size_t)63;
}

static void set_special(bf_ptx_warp_t *w, uint32_t slot, const uint32_t *values)
{
    if (slot)
        memcpy(w->regs + slot, values, BF_PTX_WARP * sizeof(uint32_t));
}

static void set_uniform(bf_ptx_warp_t *w, uint32_t slot, uint32_t value)
{
    if (!slot)
        return;
    uint32_t *p = (uint32_t *)(w->regs + slot);
    for (int i = 0; i < BF_PTX_WARP; i++)
        p[i] = value;
}

/* What a warp's special registers hold for every block of the launch: %tid, %warpid, and the lanes
 * past the block's last thread. Only %ctaid changes from block to block. */
static void warp_init(const grid_t *g, bf_ptx_warp_t *w, unsigned wi)
{
    const bf_ptx_kernel_t *k = g->k;
    const unsigned *block = g->launch->block;
    uint32_t tid[3][BF_PTX_WARP];
    w->absent = 0;
    for (int l = 0; l < BF_PTX_WARP; l++) {
        unsigned t = wi * BF_PTX_WARP + (unsigned)l;
        if (t >= g->threads_per_block) {
            w->absent |= 1u << l;
            t = 0;
        }
        tid[0][l] = t % block[0];
        tid[1][l] = t / block[0] % block[1];
        tid[2][l] = t / (block[0] * block[1]);
    }
    set_special(w, k->special_slot[BF_PTX_SR_TID_X], tid[0]);
    set_special(w, k->special_slot[BF_PTX_SR_TID_Y], tid[1]);
    set_special(w, k->special_slot[BF_PTX_SR_TID_Z], tid[2]);
    set_uniform(w, k->special_slot[BF_PTX_SR_WARPID], wi);
}

static void bar_reset(barrier_t *b)
{
    b->arrived = 0;
    b->need = 0;
    b->waiters = 0;
    b->popc = 0;
    b->and_ = 1;
    b->or_ = 0;
    b->red = 0;
}

static bf_status_t worker_init(worker_t *wk, grid_t *g)
{
    const bf_ptx_kernel_t *k = g->k;
    memset(wk, 0, sizeof(*wk));
    wk->g = g;
    size_t regs = align64(k->regfile_bytes), local = align64(g->local_stride * BF_PTX_WARP);
    size_t cache = align64((k->cache_count ? k->cache_count : 1) * sizeof(bf_ptx_region_cache_t));
    size_t total = g->warps_per_block * (regs + local) + cache + align64(g->shared_bytes ? g->shared_bytes : 1);
    wk->mem = aligned_alloc(64, total);
    wk->warps = calloc(g->warps_per_block, sizeof(*wk->warps));
    if (!wk->mem || !wk->warps)
        goto err_free;
    uint8_t *p = wk->mem;
    for (unsigned i = 0; i < g->warps_per_block; i++) {
        bf_ptx_warp_t *w = &wk->warps[i];
        w->regs = p;
        memcpy(w->regs, g->image, k->const_bytes);
        p += regs;
        w->local = p;
        p += local;
        w->stack_cap = k->stack_depth < 8 ? 8 : k->stack_depth;
        w->stack = malloc(w->stack_cap * sizeof(*w->stack));
        w->index = i;
        if (!w->stack)
            goto err_free;
        warp_init(g, w, i);
    }
    wk->x.cache = (bf_ptx_region_cache_t *)p;
    memset(p, 0, cache); /* span 0: every first access misses */
    p += cache;
    wk->x.shared = p;
    wk->x.shared_size = g->shared_bytes;
    wk->x.k = k;
    wk->x.memory = g->launch->memory;
    wk->x.params = g->launch->params;
    wk->x.params_size = g->launch->params_size;
    wk->x.local_bytes = g->local_stride;
    wk->x.counting = g->counting;
    wk->x.services = g->launch->services;
    memcpy(wk->x.block, g->launch->block, sizeof(wk->x.block));
    wk->x.stack_base = k->local_bytes;
    wk->x.stack_bytes = g->local_stride - k->local_bytes;
    wk->x.stack_limit = g->stack_limit;
    for (unsigned i = 0; i < BARRIERS; i++)
        bar_reset(&wk->bars[i]);
    return BF_OK;

err_free:
    if (wk->warps)
        for (unsigned i = 0; i < g->warps_per_block; i++) {
            free(wk->warps[i].stack);
            free(wk->warps[i].calls);
            free(wk->warps[i].save);
        }
    free(wk->warps);
    free(wk->mem);
    wk->warps = NULL;
    wk->mem = NULL;
    return BF_NO_MEMORY;
}

static void worker_fini(worker_t *wk)
{
    if (wk->warps)
        for (unsigned i = 0; i < wk->g->warps_per_block; i++) {
            free(wk->warps[i].stack);
            free(wk->warps[i].calls);
            free(wk->warps[i].save);
        }
    free(wk->warps);
    free(wk->mem);
}

/* Barrier id's count is reached: its waiting warps go on (with bar.red's results) and it starts
 * counting afresh. */
static void bar_release(worker_t *wk, unsigned id)
{
    barrier_t *b = &wk->bars[id];
    for (uint32_t m = b->waiters; m; m &= m - 1) {
        bf_ptx_warp_t *w = &wk->warps[__builtin_ctz(m)];
        w->state = BF_PTX_WARP_RUNNING;
        if (b->red) {
            w->res_popc = b->popc;
            w->res_and = b->and_;
            w->res_or = b->or_;
        }
    }
    bar_reset(b);
    wk->open_default &= ~(1u << id);
    wk->pending &= ~(1u << id);
}

/* Warp w returned at barrier operation in (bar.sync, bar.red, bar.arrive): counts it at its
 * barrier, makes it wait unless it only arrives, and releases the barrier when the count is
 * reached. live: the warps still running. Returns -1 (x->fault filled) for a bad id or count. */
static int bar_arrive(worker_t *wk, bf_ptx_warp_t *w, const bf_ptx_insn_t *in, unsigned live)
{
    if (in->flags == BF_PTX_BAR_SYNC0) {
        /* __syncthreads(): barrier 0, every running warp; nothing to read or check. */
        barrier_t *b = &wk->bars[0];
        w->bar_id = 0;
        w->state = BF_PTX_WARP_BARRIER;
        b->need = 0;
        b->waiters |= 1u << w->index;
        wk->open_default |= 1;
        wk->pending |= 1;
        if (++b->arrived >= live)
            bar_release(wk, 0);
        return 0;
    }
    /* The id and count are read from the first lane that executed the operation (PTX requires
     * them warp-uniform). Those lanes are found here, from the reconvergence stack's top entry and
     * the guard, rather than recorded by the interpreter, whose loop stays as it was. */
    const uint32_t act = w->stack[w->sp].mask & ~w->exited;
    const uint32_t ran = act & (*(const uint32_t *)(w->regs + in->guard) ^ in->gneg);
    const int lane = ran ? __builtin_ctz(ran) : 0;
    const uint32_t id = ((const uint32_t *)(w->regs + in->a))[lane];
    if (id >= BARRIERS)
        return bf_ptx_exec_fault(&wk->x, in, BF_PTX_FAULT_TRAP, 0, "barrier id %u out of range (0..%u)", id,
                                 BARRIERS - 1);
    w->bar_id = id;
    barrier_t *b = &wk->bars[id];
    if (in->flags & BF_PTX_BAR_COUNT) {
        const uint32_t threads = ((const uint32_t *)(w->regs + in->b))[lane];
        if (threads == 0 || threads > (uint32_t)wk->x.k->max_threads)
            return bf_ptx_exec_fault(&wk->x, in, BF_PTX_FAULT_TRAP, 0, "barrier %u: bad thread count %u", id,
                                     threads);
        /* Arrivals count whole warps: b threads are b / 32 warps (a partial warp counts whole). */
        b->need = (threads + BF_PTX_WARP - 1) / BF_PTX_WARP;
        wk->open_default &= ~(1u << id);
    } else {
        b->need = 0;
        wk->open_default |= 1u << id;
    }
    b->arrived++;
    wk->pending |= 1u << id;
    if (in->flags & BF_PTX_BAR_RED) {
        b->red = 1;
        b->popc += wk->x.red_popc;
        b->and_ &= wk->x.red_and;
        b->or_ |= wk->x.red_or;
        wk->x.red_popc = 0;
        wk->x.red_and = 1;
        wk->x.red_or = 0;
    }
    if (!(in->flags & BF_PTX_BAR_ARRIVE)) {
        b->waiters |= 1u << w->index;
        w->state = BF_PTX_WARP_BARRIER;
    }
    if (b->arrived >= (b->need ? b->need : live))
        bar_release(wk, id);
    return 0;
}

/* Every warp still running waits at a barrier that no warp can complete: fills x->fault, naming
 * the barrier the lowest waiting warp waits at. */
static void deadlock(worker_t *wk)
{
    const grid_t *g = wk->g;
    for (unsigned wi = 0; wi < g->warps_per_block; wi++) {
        const bf_ptx_warp_t *w = &wk->warps[wi];
        if (w->state != BF_PTX_WARP_BARRIER)
            continue;
        const barrier_t *b = &wk->bars[w->bar_id];
        unsigned need = b->need;
        if (!need)
            for (unsigned i = 0; i < g->warps_per_block; i++)
                need += wk->warps[i].state != BF_PTX_WARP_DONE;
        bf_ptx_exec_fault(&wk->x, &g->k->code[w->pc - 1], BF_PTX_FAULT_TRAP, 0,
                          "barrier deadlock in block (%u,%u,%u): every running warp waits; warp %u "
                          "waits at barrier %u, where %u of %u warps arrived",
                          wk->x.ctaid[0], wk->x.ctaid[1], wk->x.ctaid[2], wi, w->bar_id, b->arrived, need);
        return;
    }
}

/* Runs block number b; returns BF_OK or the failure (fault copied into the grid). */
static bf_status_t run_block(worker_t *wk, uint64_t b)
{
    grid_t *g = wk->g;
    const bf_ptx_kernel_t *k = g->k;
    const unsigned *grid = g->launch->grid;
    uint32_t ctaid[3] = {(uint32_t)(b % grid[0]), (uint32_t)(b / grid[0] % grid[1]),
                         (uint32_t)(b / ((uint64_t)grid[0] * grid[1]))};
    memcpy(wk->x.ctaid, ctaid, sizeof(ctaid));
    wk->x.red_popc = 0;
    wk->x.red_and = 1;
    wk->x.red_or = 0;
    /* A block may end with arrivals no barrier completed (a last bar.arrive): start afresh. */
    for (uint32_t o = wk->pending; o; o &= o - 1)
        bar_reset(&wk->bars[__builtin_ctz(o)]);
    wk->pending = 0;
    wk->open_default = 0;
    for (unsigned wi = 0; wi < g->warps_per_block; wi++) {
        bf_ptx_warp_t *w = &wk->warps[wi];
        w->exited = w->absent;
        set_uniform(w, k->special_slot[BF_PTX_SR_CTAID_X], ctaid[0]);
        set_uniform(w, k->special_slot[BF_PTX_SR_CTAID_Y], ctaid[1]);
        set_uniform(w, k->special_slot[BF_PTX_SR_CTAID_Z], ctaid[2]);
        w->sp = 0;
        w->stack[0] = (bf_ptx_stack_entry_t){0, BF_PTX_NO_PC, BF_PTX_FULL_MASK};
        w->pc = 0;
        w->state = BF_PTX_WARP_RUNNING;
        w->fp = (uint32_t)k->local_bytes;
        w->stack_used = 0;
        w->call_floor = UINT32_MAX;
        w->ncalls = 0;
        w->save_len = 0;
    }
    unsigned live = g->warps_per_block;
    while (live) {
        int ran = 0;
        for (unsigned wi = 0; wi < g->warps_per_block; wi++) {
            bf_ptx_warp_t *w = &wk->warps[wi];
            if (w->state != BF_PTX_WARP_RUNNING)
                continue;
            ran = 1;
            int r;
            for (;;) {
                r = bf_ptx_warp_run(&wk->x, w);
                if (r != BF_PTX_WARP_BARRIER)
                    break;
                const bf_ptx_insn_t *in = &k->code[w->pc - 1];
                if (bar_arrive(wk, w, in, live) < 0)
                    r = BF_PTX_WARP_FAULT;
                /* bar.arrive does not wait: the warp goes on at once. */
                if (r != BF_PTX_WARP_BARRIER || !(in->flags & BF_PTX_BAR_ARRIVE))
                    break;
            }
            if (r == BF_PTX_WARP_FAULT) {
                if (wk->x.fault.kind == BF_PTX_FAULT_ASSERT)
                    bf_log_debug("ptx launch of %s: %s", k->name, wk->x.fault.message);
                grid_fail(g, BF_BAD_ADDRESS, &wk->x.fault);
                return BF_BAD_ADDRESS;
            }
            if (r < 0) {
                grid_fail(g, BF_NO_MEMORY, NULL);
                return BF_NO_MEMORY;
            }
            if (r == BF_PTX_WARP_DONE) {
                w->state = BF_PTX_WARP_DONE;
                live--;
                /* One warp fewer to wait for at barriers that count every running warp. */
                for (uint32_t o = wk->open_default; o; o &= o - 1) {
                    unsigned id = (unsigned)__builtin_ctz(o);
                    if (wk->bars[id].arrived >= live)
                        bar_release(wk, id);
                }
            }
        }
        if (__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE))
            return BF_OK;
        if (live && !ran) {
            deadlock(wk);
            grid_fail(g, BF_BAD_ADDRESS, &wk->x.fault);
            return BF_BAD_ADDRESS;
        }
    }
    return BF_OK;
}

static void *worker_main(void *arg)
{
    worker_t *wk = arg;
    grid_t *g = wk->g;
    for (;;) {
        if (__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE))
            break;
        uint64_t b = __atomic_fetch_add(&g->next_block, 1, __ATOMIC_RELAXED);
        if (b >= g->block_count)
            break;
        if (run_block(wk, b) != BF_OK)
            break;
    }
    if (g->counting)
        __atomic_fetch_add(&g->lane_insns, wk->x.lane_insns, __ATOMIC_RELAXED);
    return NULL;
}

static bf_status_t check_launch(const bf_ptx_kernel_t *k, const bf_ptx_launch_t *l, uint64_t *blocks_p,
                                unsigned *threads_p, size_t *shared_p)
{
    uint64_t blocks = 1, threads = 1;
    for (int i = 0; i < 3; i++) {
        if (l->grid[i] == 0 || l->block[i] == 0) {
            bf_log_debug("ptx launch of %s: zero dimension", k->name);
            return BF_INVALID_ARG;
        }
        blocks *= l->grid[i];
        threads *= l->block[i];
    }
    if (threads > (uint64_t)k->max_threads) {
        bf_log_debug("ptx launch of %s: %llu threads per block, the limit is %d", k->name,
                     (unsigned long long)threads, k->max_threads);
        return BF_INVALID_ARG;
    }
    if (k->reqntid[0] && (l->block[0] != k->reqntid[0] || l->block[1] != k->reqntid[1] ||
                          l->block[2] != k->reqntid[2])) {
        bf_log_debug("ptx launch of %s: block does not match .reqntid", k->name);
        return BF_INVALID_ARG;
    }
    if (l->params_size < k->param_bytes || (k->param_bytes && !l->params)) {
        bf_log_debug("ptx launch of %s: %zu parameter bytes, the kernel takes %zu", k->name, l->params_size,
                     k->param_bytes);
        return BF_INVALID_ARG;
    }
    size_t shared = l->dynamic_shared_bytes ? k->dynamic_shared_offset + l->dynamic_shared_bytes
                                            : k->static_shared_bytes;
    if (shared > MAX_SHARED_BYTES || l->dynamic_shared_bytes > MAX_SHARED_BYTES) {
        bf_log_debug("ptx launch of %s: %zu bytes of shared memory", k->name, shared);
        return BF_INVALID_ARG;
    }
    *blocks_p = blocks;
    *threads_p = (unsigned)threads;
    *shared_p = shared;
    return BF_OK;
}

/* The constant region with this launch's dimensions and global addresses filled in. */
static uint8_t *launch_image(const bf_ptx_kernel_t *k, const bf_ptx_launch_t *l, size_t shared, unsigned warps)
{
    uint8_t *image = malloc(k->const_bytes ? k->const_bytes : 1);
    if (!image)
        return NULL;
    memcpy(image, k->const_image, k->const_bytes);
    const struct {
        int sr;
        uint32_t value;
    } uniform[] = {
        {BF_PTX_SR_NTID_X, l->block[0]},   {BF_PTX_SR_NTID_Y, l->block[1]},   {BF_PTX_SR_NTID_Z, l->block[2]},
        {BF_PTX_SR_NCTAID_X, l->grid[0]},  {BF_PTX_SR_NCTAID_Y, l->grid[1]},  {BF_PTX_SR_NCTAID_Z, l->grid[2]},
        {BF_PTX_SR_NWARPID, warps},        {BF_PTX_SR_DYN_SMEM, (uint32_t)l->dynamic_shared_bytes},
        {BF_PTX_SR_TOTAL_SMEM, (uint32_t)shared},
    };
    for (size_t i = 0; i < sizeof(uniform) / sizeof(uniform[0]); i++) {
        uint32_t slot = k->special_slot[uniform[i].sr];
        if (!slot)
            continue;
        uint32_t *p = (uint32_t *)(image + slot);
        for (int j = 0; j < BF_PTX_WARP; j++)
            p[j] = uniform[i].value;
    }
    for (size_t i = 0; i < k->global_ref_count; i++) {
        const bf_ptx_global_ref_t *r = &k->global_refs[i];
        uint64_t addr = __atomic_load_n(&k->module->globals[r->global].address, __ATOMIC_ACQUIRE) + (uint64_t)r->offset;
        uint64_t *p = (uint64_t *)(image + r->slot);
        for (int j = 0; j < BF_PTX_WARP; j++)
            p[j] = addr;
    }
    return image;
}

bf_status_t bf_ptx_launch_counted(const bf_ptx_kernel_t *kernel, const bf_ptx_launch_t *launch,
                                  bf_ptx_fault_t *fault_p, uint64_t *lane_insns_p)
{
    if (!kernel || !launch)
        return BF_INVALID_ARG;
    grid_t g;
    memset(&g, 0, sizeof(g));
    bf_status_t status = check_launch(kernel, launch, &g.block_count, &g.threads_per_block, &g.shared_bytes);
    if (status != BF_OK)
        return status;
    g.k = kernel;
    g.launch = launch;
    g.warps_per_block = (g.threads_per_block + BF_PTX_WARP - 1) / BF_PTX_WARP;
    g.counting = lane_insns_p != NULL;
    g.local_stride = kernel->local_bytes;
    g.stack_limit = launch->stack_bytes ? launch->stack_bytes : DEFAULT_STACK_BYTES;
    if (kernel->func_count) {
        size_t frames = g.stack_limit < MAX_STACK_FRAMES_BYTES / STACK_FRAMES_FACTOR
                            ? g.stack_limit * STACK_FRAMES_FACTOR : MAX_STACK_FRAMES_BYTES;
        if (frames < 2 * kernel->max_frame_bytes)
            frames = 2 * kernel->max_frame_bytes;
        g.local_stride = (g.local_stride + frames + 15) & ~(size_t)15;
    }
    uint8_t *image = launch_image(kernel, launch, g.shared_bytes, g.warps_per_block);
    if (!image)
        return BF_NO_MEMORY;
    g.image = image;
    pthread_mutex_init(&g.lock, NULL);

    long cores = launch->worker_threads > 0 ? launch->worker_threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if ((uint64_t)cores > g.block_count)
        cores = (long)g.block_count;
    worker_t *workers = calloc((size_t)cores, sizeof(*workers));
    if (!workers) {
        status = BF_NO_MEMORY;
        goto out_image;
    }
    long started = 0;
    for (long i = 0; i < cores; i++) {
        if (worker_init(&workers[i], &g) != BF_OK) {
            if (i == 0) {
                status = BF_NO_MEMORY;
                goto out_workers;
            }
            cores = i; /* run on fewer threads */
            break;
        }
    }
    /* Worker 0 runs on the caller's thread. */
    for (long i = 1; i < cores; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            break;
        started = i;
    }
    worker_main(&workers[0]);
    for (long i = 1; i <= started; i++)
        pthread_join(workers[i].thread, NULL);
    status = g.status;
    if (status == BF_BAD_ADDRESS && fault_p)
        *fault_p = g.fault;
    if (lane_insns_p)
        *lane_insns_p = g.lane_insns;
out_workers:
    for (long i = 0; i < cores; i++)
        if (workers[i].mem)
            worker_fini(&workers[i]);
    free(workers);
out_image:
    pthread_mutex_destroy(&g.lock);
    free(image);
    return status;
}

bf_status_t bf_ptx_launch(const bf_ptx_kernel_t *kernel, const bf_ptx_launch_t *launch, bf_ptx_fault_t *fault_p)
{
    return bf_ptx_launch_counted(kernel, launch, fault_p, NULL);
}
