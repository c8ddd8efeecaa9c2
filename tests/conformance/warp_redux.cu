/* warp_redux.cu: the warp reductions __reduce_add/min/max_sync (signed and unsigned) and
 * __reduce_and/or/xor_sync with full and partial masks (and, in the same sm_80 build, the match
 * functions again); against the host. The reductions need compute capability 8.0, hence the build
 * option; a device of a lower compute capability refuses the module (cudaErrorNoKernelImageForDevice),
 * so on the emulator (compute capability 7.5 by default) it runs with BF_EMU_CC=8.0.
 * conformance-options: -arch=sm_80
 * conformance-env: BF_EMU_CC=8.0 */
#include "check.h"

#include <vector>

struct lane_out {
    unsigned match_any, match_any64, match_all_pred, match_all_mask, match_branch;
    unsigned add_u, min_u, max_u, and_u, or_u, xor_u, add_partial;
    int add_s, min_s, max_s;
};

__global__ void warp_ops(const unsigned *keys, const unsigned long long *keys64, const int *sv, lane_out *out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int lane = threadIdx.x & 31;
    unsigned k = keys[i];
    lane_out r = {};
    r.match_any = __match_any_sync(0xffffffffu, k);
    r.match_any64 = __match_any_sync(0xffffffffu, keys64[i]);
    int pred = 0;
    r.match_all_mask = __match_all_sync(0xffffffffu, blockIdx.x == 1 ? 42u : k, &pred);
    r.match_all_pred = (unsigned)pred;
    if (lane % 3 == 0)
        r.match_branch = __match_any_sync(__activemask(), k & 3);
    r.add_u = __reduce_add_sync(0xffffffffu, k);
    r.min_u = __reduce_min_sync(0xffffffffu, k);
    r.max_u = __reduce_max_sync(0xffffffffu, k);
    r.and_u = __reduce_and_sync(0xffffffffu, k | 0x100u);
    r.or_u = __reduce_or_sync(0xffffffffu, k);
    r.xor_u = __reduce_xor_sync(0xffffffffu, k);
    if (lane >= 16)
        r.add_partial = __reduce_add_sync(0xffff0000u, k);
    int s = sv[i];
    r.add_s = __reduce_add_sync(0xffffffffu, s);
    r.min_s = __reduce_min_sync(0xffffffffu, s);
    r.max_s = __reduce_max_sync(0xffffffffu, s);
    out[i] = r;
}

int main(void)
{
    check_begin("warp_redux");
    const int blocks = 2, threads = 64, n = blocks * threads;
    std::vector<unsigned> keys(n);
    std::vector<unsigned long long> keys64(n);
    std::vector<int> sv(n);
    for (int i = 0; i < n; i++) {
        keys[i] = (unsigned)((i * 37) % 5) * 0x10001u + (i >= 64 ? 7u : 0u);
        keys64[i] = ((unsigned long long)(i % 4) << 40) | (unsigned)(i % 3);
        sv[i] = (int)((i * 7919u) % 2001u) - 1000;
    }
    unsigned *dk;
    unsigned long long *dk64;
    int *dsv;
    lane_out *dout;
    cudaMalloc(&dk, n * sizeof(unsigned));
    cudaMalloc(&dk64, n * sizeof(unsigned long long));
    cudaMalloc(&dsv, n * sizeof(int));
    cudaMalloc(&dout, n * sizeof(lane_out));
    cudaMemcpy(dk, keys.data(), n * sizeof(unsigned), cudaMemcpyHostToDevice);
    cudaMemcpy(dk64, keys64.data(), n * sizeof(unsigned long long), cudaMemcpyHostToDevice);
    cudaMemcpy(dsv, sv.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    warp_ops<<<blocks, threads>>>(dk, dk64, dsv, dout);
    expect_ok("launch", cudaGetLastError());
    std::vector<lane_out> got(n);
    expect_ok("copy", cudaMemcpy(got.data(), dout, n * sizeof(lane_out), cudaMemcpyDeviceToHost));
    int bad[15] = {0};
    for (int w = 0; w < n / 32; w++) {
        int base = w * 32, block = base / threads;
        unsigned add = 0, mn = ~0u, mx = 0, an = ~0u, o = 0, x = 0, addp = 0;
        int adds = 0, mns = 0x7fffffff, mxs = (int)0x80000000;
        unsigned all_value = 0;
        bool all_same = true;
        for (int l = 0; l < 32; l++) {
            unsigned k = keys[base + l];
            add += k;
            mn = k < mn ? k : mn;
            mx = k > mx ? k : mx;
            an &= k | 0x100u;
            o |= k;
            x ^= k;
            if (l >= 16)
                addp += k;
            int s = sv[base + l];
            adds += s;
            mns = s < mns ? s : mns;
            mxs = s > mxs ? s : mxs;
            unsigned mv = block == 1 ? 42u : k;
            if (l == 0)
                all_value = mv;
            all_same &= mv == all_value;
        }
        for (int l = 0; l < 32; l++) {
            const lane_out &r = got[base + l];
            unsigned any = 0, any64 = 0, branch = 0;
            for (int m = 0; m < 32; m++) {
                any |= (unsigned)(keys[base + m] == keys[base + l]) << m;
                any64 |= (unsigned)(keys64[base + m] == keys64[base + l]) << m;
                if (m % 3 == 0 && l % 3 == 0)
                    branch |= (unsigned)((keys[base + m] & 3) == (keys[base + l] & 3)) << m;
            }
            bad[0] += r.match_any != any;
            bad[1] += r.match_any64 != any64;
            bad[2] += r.match_all_pred != (all_same ? 1u : 0u);
            bad[3] += r.match_all_mask != (all_same ? 0xffffffffu : 0u);
            bad[4] += r.match_branch != branch;
            bad[5] += r.add_u != add;
            bad[6] += r.min_u != mn;
            bad[7] += r.max_u != mx;
            bad[8] += r.and_u != an;
            bad[9] += r.or_u != o;
            bad[10] += r.xor_u != x;
            bad[11] += r.add_partial != (l >= 16 ? addp : 0u);
            bad[12] += r.add_s != adds;
            bad[13] += r.min_s != mns;
            bad[14] += r.max_s != mxs;
        }
    }
    const char *names[15] = {"match_any", "match_any_64", "match_all_pred", "match_all_mask", "match_any_branch",
                             "reduce_add_u", "reduce_min_u", "reduce_max_u", "reduce_and", "reduce_or",
                             "reduce_xor", "reduce_add_partial", "reduce_add_s", "reduce_min_s", "reduce_max_s"};
    for (int k = 0; k < 15; k++)
        check_report(names[k], bad[k] == 0, "%d lanes wrong", bad[k]);
    cudaFree(dk);
    cudaFree(dk64);
    cudaFree(dsv);
    cudaFree(dout);
    return check_end();
}
