/* warp_vote.cu: warp vote functions under divergence: __all_sync, __any_sync, __ballot_sync,
 * __activemask inside branches that split the warp, with partial masks (lanes outside the mask
 * contribute 0 to a ballot), in a partial last warp
 * (blockDim not a multiple of 32), __popc of ballots as a warp-level count, and __syncwarp with a
 * mask; against the host. */
#include "check.h"

#include <vector>

struct vote {
    unsigned ballot, ballot_odd, active_in_branch, any_big, all_pos, all_pos_partial, count, active_top;
    unsigned quad_ballot[8];
};

__global__ void votes(const int *v, vote *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = threadIdx.x & 31, warp = blockIdx.x * ((blockDim.x + 31) / 32) + (threadIdx.x >> 5);
    int x = i < n ? v[i] : 0;
    unsigned full = __activemask(); /* all lanes of this warp that exist */
    unsigned ballot = __ballot_sync(full, x > 50);
    unsigned odd = 0, active = 0;
    if (lane & 1) {
        active = __activemask();
        odd = __ballot_sync(active, x % 3 == 0);
    }
    unsigned any_big = __any_sync(full, x > 990);
    unsigned all_pos = __all_sync(full, x >= 0);
    unsigned all_partial = 0;
    if (lane < 8)
        all_partial = __all_sync(0xffu & full, x > 10);
    __syncwarp(full);
    /* count of elements > 50 in the warp, computed by every lane */
    unsigned count = __popc(ballot);
    if (lane == 0) {
        vote r = {ballot, 0, 0, any_big, all_pos, all_partial, count, full, {0}};
        out[warp] = r;
    }
    /* every lane votes with a mask naming only its own group of four: lanes outside the mask count 0 */
    unsigned quad = __ballot_sync((0xfu << (lane & ~3)) & full, x % 3 == 0);
    __syncwarp(full);
    if ((lane & 3) == 0)
        out[warp].quad_ballot[lane >> 2] = quad;
    if (lane == 1) {
        out[warp].ballot_odd = odd;
        out[warp].active_in_branch = active;
    }
}

int main(void)
{
    check_begin("warp_vote");
    const int threads = 200, blocks = 3; /* 7 warps per block, the last with 8 lanes */
    const int n = threads * blocks;
    const int warps_per_block = (threads + 31) / 32;
    std::vector<int> v(n);
    for (int i = 0; i < n; i++)
        v[i] = (int)((i * 7919u) % 1000u);
    v[5] = -1; /* warp 0 is not all positive */
    int *dv;
    vote *dout;
    cudaMalloc(&dv, n * sizeof(int));
    cudaMalloc(&dout, blocks * warps_per_block * sizeof(vote));
    cudaMemcpy(dv, v.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    cudaMemset(dout, 0, blocks * warps_per_block * sizeof(vote));
    votes<<<blocks, threads>>>(dv, dout, n);
    expect_ok("launch", cudaGetLastError());
    std::vector<vote> got(blocks * warps_per_block);
    cudaMemcpy(got.data(), dout, got.size() * sizeof(vote), cudaMemcpyDeviceToHost);
    int bad[9] = {0};
    for (int b = 0; b < blocks; b++)
        for (int w = 0; w < warps_per_block; w++) {
            int lanes = threads - w * 32 < 32 ? threads - w * 32 : 32;
            unsigned full = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
            unsigned ballot = 0, odd = 0, active = 0, any_big = 0, all_pos = 1, all_partial = 1;
            for (int l = 0; l < lanes; l++) {
                int x = v[b * threads + w * 32 + l];
                ballot |= (unsigned)(x > 50) << l;
                if (l & 1) {
                    active |= 1u << l;
                    odd |= (unsigned)(x % 3 == 0) << l;
                }
                any_big |= x > 990;
                all_pos &= x >= 0;
                if (l < 8)
                    all_partial &= x > 10;
            }
            const vote &r = got[b * warps_per_block + w];
            bad[0] += r.ballot != ballot;
            bad[1] += r.ballot_odd != odd;
            bad[2] += r.active_in_branch != active;
            bad[3] += (r.any_big != 0) != (any_big != 0);
            bad[4] += (r.all_pos != 0) != (all_pos != 0);
            bad[5] += (r.all_pos_partial != 0) != (all_partial != 0);
            bad[6] += r.count != (unsigned)__builtin_popcount(ballot);
            bad[7] += r.active_top != full;
            for (int q = 0; q < (lanes + 3) / 4; q++) {
                unsigned want = 0;
                for (int l = 4 * q; l < 4 * q + 4 && l < lanes; l++)
                    want |= (unsigned)(v[b * threads + w * 32 + l] % 3 == 0) << l;
                bad[8] += r.quad_ballot[q] != want;
            }
        }
    const char *names[9] = {"ballot", "ballot_in_branch", "activemask_in_branch", "any", "all", "all_partial_mask",
                            "popc_of_ballot", "activemask_partial_warp", "ballot_member_mask"};
    for (int k = 0; k < 9; k++)
        check_report(names[k], bad[k] == 0, "%d warps wrong", bad[k]);
    cudaFree(dv);
    cudaFree(dout);
    return check_end();
}
