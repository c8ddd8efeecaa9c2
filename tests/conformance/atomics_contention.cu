/* atomics_contention.cu: global atomics with every thread of many blocks hitting the same few
 * addresses: atomicAdd on int, unsigned long long, float (exact: small integers) and double, tickets
 * from atomicAdd that must form a permutation, atomicSub, atomicMin/Max on signed and unsigned,
 * atomicAnd/Or/Xor building bit sets, atomicExch passing a token, atomicCAS loops implementing a
 * custom operation (a 64-bit maximum with its index) and a spin lock guarding a non-atomic update,
 * atomicInc/atomicDec wrapping; against the host. */
#include "check.h"

#include <vector>

struct counters {
    int add_int;
    unsigned sub_u;
    unsigned long long add_u64;
    float add_float;
    double add_double;
    int min_s, max_s;
    unsigned min_u, max_u;
    unsigned and_bits, or_bits, xor_bits;
    unsigned inc_wrap, dec_wrap;
    int lock;
    int guarded;             /* updated non-atomically under the lock */
    long long guarded_sum;
    unsigned long long best; /* value << 32 | index, max by CAS */
    int exch_last;
};

__device__ void lock_acquire(int *lock)
{
    while (atomicCAS(lock, 0, 1) != 0) {
    }
    __threadfence();
}

__device__ void lock_release(int *lock)
{
    __threadfence();
    atomicExch(lock, 0);
}

__global__ void contend(counters *c, unsigned *tickets, const int *values, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int v = values[i];
    atomicAdd(&c->add_int, v);
    atomicSub(&c->sub_u, 3u);
    atomicAdd(&c->add_u64, (unsigned long long)v << 24);
    atomicAdd(&c->add_float, (float)(v & 7));
    atomicAdd(&c->add_double, (double)v * 0.5);
    atomicMin(&c->min_s, v);
    atomicMax(&c->max_s, v);
    atomicMin(&c->min_u, (unsigned)v);
    atomicMax(&c->max_u, (unsigned)v);
    atomicAnd(&c->and_bits, ~(1u << (i & 31)) | (i < 32 ? 0u : 0xffffffffu));
    atomicOr(&c->or_bits, 1u << (v & 31));
    atomicXor(&c->xor_bits, (unsigned)v);
    atomicInc(&c->inc_wrap, 999u);
    atomicDec(&c->dec_wrap, 9u);
    tickets[atomicAdd(&tickets[n], 1u)] = (unsigned)i;
    /* the exchanged values form a chain: every index comes back exactly once, or stays last */
    tickets[n + 1 + i] = (unsigned)atomicExch(&c->exch_last, i);
    /* max of (value, index) by CAS on the packed 64-bit word */
    unsigned long long mine = ((unsigned long long)(unsigned)(v + 0x40000000) << 32) | (unsigned)i;
    unsigned long long old = c->best, seen;
    while (old < mine && (seen = atomicCAS(&c->best, old, mine)) != old)
        old = seen;
    /* a lock per block leader (one thread per warp to keep the spin sane) */
    if ((threadIdx.x & 31) == 0) {
        lock_acquire(&c->lock);
        volatile counters *vc = c;
        vc->guarded = vc->guarded + 1;
        vc->guarded_sum = vc->guarded_sum + v;
        lock_release(&c->lock);
    }
}

int main(void)
{
    check_begin("atomics_contention");
    const int n = 64 * 256;
    std::vector<int> values(n);
    for (int i = 0; i < n; i++)
        values[i] = (int)((i * 2654435761u) % 2000001u) - 1000000;
    counters init = {};
    init.sub_u = 0;
    init.min_s = 0x7fffffff;
    init.max_s = (int)0x80000000;
    init.min_u = 0xffffffffu;
    init.max_u = 0;
    init.and_bits = 0xffffffffu;
    init.inc_wrap = 0;
    init.dec_wrap = 5;
    init.exch_last = -1;
    counters want = init;
    unsigned long long best = 0;
    int warps = 0;
    for (int i = 0; i < n; i++) {
        int v = values[i];
        want.add_int += v;
        want.sub_u -= 3u;
        want.add_u64 += (unsigned long long)v << 24;
        want.add_float += (float)(v & 7);
        want.add_double += (double)v * 0.5;
        want.min_s = v < want.min_s ? v : want.min_s;
        want.max_s = v > want.max_s ? v : want.max_s;
        want.min_u = (unsigned)v < want.min_u ? (unsigned)v : want.min_u;
        want.max_u = (unsigned)v > want.max_u ? (unsigned)v : want.max_u;
        want.and_bits &= ~(1u << (i & 31)) | (i < 32 ? 0u : 0xffffffffu);
        want.or_bits |= 1u << (v & 31);
        want.xor_bits ^= (unsigned)v;
        want.inc_wrap = want.inc_wrap >= 999u ? 0 : want.inc_wrap + 1;
        want.dec_wrap = (want.dec_wrap == 0 || want.dec_wrap > 9u) ? 9u : want.dec_wrap - 1;
        unsigned long long mine = ((unsigned long long)(unsigned)(v + 0x40000000) << 32) | (unsigned)i;
        best = mine > best ? mine : best;
        if (i % 32 == 0) {
            warps++;
            want.guarded_sum += v;
        }
    }
    counters *dc;
    unsigned *dt;
    int *dv;
    cudaMalloc(&dc, sizeof(counters));
    cudaMalloc(&dt, (2 * n + 1) * sizeof(unsigned));
    cudaMalloc(&dv, n * sizeof(int));
    cudaMemcpy(dc, &init, sizeof(init), cudaMemcpyHostToDevice);
    cudaMemset(dt, 0, (2 * n + 1) * sizeof(unsigned));
    cudaMemcpy(dv, values.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    contend<<<64, 256>>>(dc, dt, dv, n);
    expect_ok("launch", cudaGetLastError());
    counters got;
    std::vector<unsigned> tickets(2 * n + 1);
    expect_ok("copy", cudaMemcpy(&got, dc, sizeof(got), cudaMemcpyDeviceToHost));
    cudaMemcpy(tickets.data(), dt, (2 * n + 1) * sizeof(unsigned), cudaMemcpyDeviceToHost);
    expect_i64("add_int", got.add_int, want.add_int);
    expect_u64("sub_unsigned_wraps", got.sub_u, want.sub_u);
    expect_u64("add_u64", got.add_u64, want.add_u64);
    check_report("add_float", got.add_float == want.add_float, "expected %g got %g", want.add_float, got.add_float);
    check_report("add_double", got.add_double == want.add_double, "expected %.17g got %.17g", want.add_double,
                 got.add_double);
    expect_i64("min_signed", got.min_s, want.min_s);
    expect_i64("max_signed", got.max_s, want.max_s);
    expect_u64("min_unsigned", got.min_u, want.min_u);
    expect_u64("max_unsigned", got.max_u, want.max_u);
    expect_u64("and_bits", got.and_bits, want.and_bits);
    expect_u64("or_bits", got.or_bits, want.or_bits);
    expect_u64("xor_bits", got.xor_bits, want.xor_bits);
    expect_u64("inc_wraps", got.inc_wrap, want.inc_wrap);
    expect_u64("dec_wraps", got.dec_wrap, want.dec_wrap);
    expect_u64("cas_max_with_index", got.best, best);
    expect_i64("lock_guarded_count", got.guarded, warps);
    expect_i64("lock_guarded_sum", got.guarded_sum, want.guarded_sum);
    expect_i64("lock_released", got.lock, 0);
    expect_u64("tickets_issued", tickets[n], n);
    std::vector<char> seen(n, 0);
    int dup = 0;
    for (int k = 0; k < n; k++) {
        if (tickets[k] >= (unsigned)n || seen[tickets[k]])
            dup++;
        else
            seen[tickets[k]] = 1;
    }
    check_report("tickets_permutation", dup == 0, "%d slots duplicated or out of range", dup);
    /* exchange chain: the old values and the final one are -1 and every index, once each */
    std::vector<char> back(n + 1, 0);
    dup = 0;
    for (int k = 0; k <= n; k++) {
        int old = k < n ? (int)tickets[n + 1 + k] : got.exch_last;
        if (old < -1 || old >= n || back[old + 1])
            dup++;
        else
            back[old + 1] = 1;
    }
    check_report("exchange_chain", dup == 0, "%d values lost or repeated", dup);
    cudaFree(dc);
    cudaFree(dt);
    cudaFree(dv);
    return check_end();
}
