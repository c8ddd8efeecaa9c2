/* coop_groups.cu: cooperative groups: this_thread_block (sync, thread_rank, size, group_index),
 * this_grid's ranks, static tiles tiled_partition<32/16/8/4> with shfl_down/shfl_xor reductions,
 * any/all/ballot, meta_group_rank; cg::reduce with plus/greater/bit_xor and cg::inclusive_scan /
 * exclusive_scan on tiles; a dynamic tiled_partition(block, 8); coalesced_threads() in a divergent
 * branch (size, thread_rank, shfl); against the host. */
#include "check.h"

#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>
#include <cooperative_groups/scan.h>

#include <vector>

namespace cg = cooperative_groups;

struct per_thread {
    int tile32_sum, tile16_max, tile8_xor, tile4_sum_shfl;
    int incl, excl;
    unsigned ballot16;
    int any4, all8, meta16, dyn8_sum, dyn8_rank;
    int coalesced_size, coalesced_rank, coalesced_first;
    unsigned long long grid_rank, grid_size;
    int block_rank, block_size;
};

template <typename Tile>
__device__ int tile_sum_shfl(const Tile &t, int v)
{
    for (int o = (int)t.size() / 2; o > 0; o /= 2)
        v += t.shfl_down(v, o);
    return t.shfl(v, 0);
}

__global__ void groups(const int *in, per_thread *out)
{
    cg::thread_block block = cg::this_thread_block();
    cg::grid_group grid = cg::this_grid();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = in[i];
    per_thread r = {};
    r.block_rank = (int)block.thread_rank();
    r.block_size = (int)block.size();
    r.grid_rank = grid.thread_rank();
    r.grid_size = grid.size();

    auto t32 = cg::tiled_partition<32>(block);
    auto t16 = cg::tiled_partition<16>(block);
    auto t8 = cg::tiled_partition<8>(block);
    auto t4 = cg::tiled_partition<4>(block);
    r.tile32_sum = cg::reduce(t32, v, cg::plus<int>());
    r.tile16_max = cg::reduce(t16, v, cg::greater<int>());
    r.tile8_xor = cg::reduce(t8, v, cg::bit_xor<int>());
    r.tile4_sum_shfl = tile_sum_shfl(t4, v);
    r.incl = cg::inclusive_scan(t16, v);
    r.excl = cg::exclusive_scan(t16, v);
    r.ballot16 = t16.ballot(v > 0);
    r.any4 = t4.any(v > 900);
    r.all8 = t8.all(v > -900);
    r.meta16 = (int)t16.meta_group_rank() * 100 + (int)t16.meta_group_size();
    block.sync();

    cg::thread_group dyn = cg::tiled_partition(block, 8);
    /* a dynamic tile has no shuffles: sum through shared memory */
    __shared__ int scratch[256];
    scratch[block.thread_rank()] = v;
    block.sync();
    int base = (int)block.thread_rank() - (int)dyn.thread_rank(), s = 0;
    for (unsigned k = 0; k < dyn.size(); k++)
        s += scratch[base + k];
    r.dyn8_sum = s;
    r.dyn8_rank = (int)dyn.thread_rank();

    if (v % 3 == 0) {
        cg::coalesced_group active = cg::coalesced_threads();
        r.coalesced_size = (int)active.size();
        r.coalesced_rank = (int)active.thread_rank();
        r.coalesced_first = active.shfl(v, 0);
    }
    out[i] = r;
}

int main(void)
{
    check_begin("coop_groups");
    const int blocks = 3, threads = 256, n = blocks * threads;
    std::vector<int> in(n);
    for (int i = 0; i < n; i++)
        in[i] = (int)((i * 2654435761u) % 2001u) - 1000;
    int *din;
    per_thread *dout;
    cudaMalloc(&din, n * sizeof(int));
    cudaMalloc(&dout, n * sizeof(per_thread));
    cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    groups<<<blocks, threads>>>(din, dout);
    expect_ok("launch", cudaGetLastError());
    std::vector<per_thread> got(n);
    expect_ok("copy", cudaMemcpy(got.data(), dout, n * sizeof(per_thread), cudaMemcpyDeviceToHost));
    enum { SUM32, MAX16, XOR8, SHFL4, INCL, EXCL, BALLOT, ANY, ALL, META, DYN, COAL, GRID, BLOCK, CHECKS };
    int bad[CHECKS] = {0};
    for (int i = 0; i < n; i++) {
        const per_thread &r = got[i];
        int t = i % threads;
        auto tile = [&](int size, int op) {
            int start = i - t % size, acc = op == 1 ? in[start] : 0;
            for (int k = 0; k < size; k++) {
                int x = in[start + k];
                acc = op == 0 ? acc + x : op == 1 ? (x > acc ? x : acc) : acc ^ x;
            }
            return acc;
        };
        bad[SUM32] += r.tile32_sum != tile(32, 0);
        bad[MAX16] += r.tile16_max != tile(16, 1);
        bad[XOR8] += r.tile8_xor != tile(8, 2);
        bad[SHFL4] += r.tile4_sum_shfl != tile(4, 0);
        int start16 = i - t % 16, incl = 0;
        unsigned ballot = 0;
        for (int k = 0; k < 16; k++)
            ballot |= (unsigned)(in[start16 + k] > 0) << k;
        for (int k = start16; k <= i; k++)
            incl += in[k];
        bad[INCL] += r.incl != incl;
        bad[EXCL] += r.excl != incl - in[i];
        bad[BALLOT] += r.ballot16 != ballot;
        int start4 = i - t % 4, start8 = i - t % 8, any = 0, all = 1;
        for (int k = 0; k < 4; k++)
            any |= in[start4 + k] > 900;
        for (int k = 0; k < 8; k++)
            all &= in[start8 + k] > -900;
        bad[ANY] += (r.any4 != 0) != (any != 0);
        bad[ALL] += (r.all8 != 0) != (all != 0);
        bad[META] += r.meta16 != (t / 16) * 100 + threads / 16;
        bad[DYN] += r.dyn8_sum != tile(8, 0) || r.dyn8_rank != t % 8;
        if (in[i] % 3 == 0) {
            int warp = i - t % 32, size = 0, rank = 0, first = 0;
            for (int k = 0; k < 32; k++)
                if (in[warp + k] % 3 == 0) {
                    if (size == 0)
                        first = in[warp + k];
                    if (warp + k < i)
                        rank++;
                    size++;
                }
            bad[COAL] += r.coalesced_size != size || r.coalesced_rank != rank || r.coalesced_first != first;
        }
        bad[GRID] += r.grid_rank != (unsigned long long)i || r.grid_size != (unsigned long long)n;
        bad[BLOCK] += r.block_rank != t || r.block_size != threads;
    }
    const char *names[CHECKS] = {"reduce_plus_tile32", "reduce_greater_tile16", "reduce_xor_tile8", "shfl_down_tile4",
                                 "inclusive_scan_tile16", "exclusive_scan_tile16", "ballot_tile16", "any_tile4",
                                 "all_tile8", "meta_group", "dynamic_tile8", "coalesced_threads", "grid_ranks",
                                 "block_ranks"};
    for (int k = 0; k < CHECKS; k++)
        check_report(names[k], bad[k] == 0, "%d threads wrong", bad[k]);
    cudaFree(din);
    cudaFree(dout);
    return check_end();
}
