/* warp_match.cu: __match_any_sync and __match_all_sync (compute capability 7.0): 32- and 64-bit
 * keys, a predicate-returning __match_all_sync that holds in one block and not in the other, and
 * __match_any_sync inside a divergent branch with __activemask(); against the host. The warp
 * reductions (__reduce_*_sync, compute capability 8.0) are in warp_redux.cu. */
#include "check.h"

#include <vector>

struct lane_out {
    unsigned match_any, match_any64, match_all_pred, match_all_mask, match_branch;
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
    out[i] = r;
}

int main(void)
{
    check_begin("warp_match");
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
    int bad[5] = {0};
    for (int w = 0; w < n / 32; w++) {
        int base = w * 32, block = base / threads;
        unsigned all_value = 0;
        bool all_same = true;
        for (int l = 0; l < 32; l++) {
            unsigned k = keys[base + l];
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
        }
    }
    const char *names[5] = {"match_any", "match_any_64", "match_all_pred", "match_all_mask", "match_any_branch"};
    for (int k = 0; k < 5; k++)
        check_report(names[k], bad[k] == 0, "%d lanes wrong", bad[k]);
    cudaFree(dk);
    cudaFree(dk64);
    cudaFree(dsv);
    cudaFree(dout);
    return check_end();
}
