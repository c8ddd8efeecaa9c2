/* device_functions.cu: __device__ functions the way CUDA code uses them: inlined and __noinline__
 * ones, functions returning structs, taking references and pointers to local arrays, default
 * arguments, overloads, __host__ __device__ functions shared with the host reference, several
 * levels of calls; against the host. */
#include "check.h"

#include <vector>

struct minmax {
    int lo, hi;
    long long sum;
};

__host__ __device__ unsigned hash32(unsigned x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

__device__ __noinline__ minmax summarize(const int *v, int n)
{
    minmax r = {v[0], v[0], 0};
    for (int i = 0; i < n; i++) {
        r.lo = min(r.lo, v[i]);
        r.hi = max(r.hi, v[i]);
        r.sum += v[i];
    }
    return r;
}

__device__ __noinline__ void swap_ref(int &a, int &b)
{
    int t = a;
    a = b;
    b = t;
}

/* insertion sort of a thread-local array through a pointer */
__device__ __noinline__ void sort_local(int *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--)
            swap_ref(v[j - 1], v[j]);
}

__device__ int weigh(int x, int w = 3)
{
    return x * w;
}
__device__ float weigh(float x)
{
    return x * 0.5f;
}

__device__ __noinline__ int level3(int x) { return hash32((unsigned)x) & 0xff; }
__device__ __noinline__ int level2(int x) { return level3(x) + level3(x + 1); }
__device__ __noinline__ int level1(int x) { return level2(x) * 2 - level3(x * 3); }

__global__ void kernel(const int *in, int *out_sorted, minmax *out_summary, int *out_misc, float *out_f)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int local[16];
    for (int i = 0; i < 16; i++)
        local[i] = in[t * 16 + i];
    out_summary[t] = summarize(local, 16);
    sort_local(local, 16);
    for (int i = 0; i < 16; i++)
        out_sorted[t * 16 + i] = local[i];
    out_misc[t * 4 + 0] = weigh(local[0]);
    out_misc[t * 4 + 1] = weigh(local[15], -2);
    out_misc[t * 4 + 2] = level1(t);
    out_misc[t * 4 + 3] = (int)hash32((unsigned)t);
    out_f[t] = weigh((float)local[7]);
}

static int h_level3(int x) { return hash32((unsigned)x) & 0xff; }

int main(void)
{
    check_begin("device_functions");
    const int threads = 64 * 4;
    std::vector<int> in(threads * 16);
    for (size_t i = 0; i < in.size(); i++)
        in[i] = (int)(hash32((unsigned)i) % 2001u) - 1000;
    int *d_in, *d_sorted, *d_misc;
    minmax *d_summary;
    float *d_f;
    cudaMalloc(&d_in, in.size() * sizeof(int));
    cudaMalloc(&d_sorted, in.size() * sizeof(int));
    cudaMalloc(&d_misc, threads * 4 * sizeof(int));
    cudaMalloc(&d_summary, threads * sizeof(minmax));
    cudaMalloc(&d_f, threads * sizeof(float));
    cudaMemcpy(d_in, in.data(), in.size() * sizeof(int), cudaMemcpyHostToDevice);
    kernel<<<4, 64>>>(d_in, d_sorted, d_summary, d_misc, d_f);
    expect_ok("launch", cudaGetLastError());
    expect_ok("synchronize", cudaDeviceSynchronize());
    std::vector<int> sorted(in.size()), misc(threads * 4);
    std::vector<minmax> summary(threads);
    std::vector<float> f(threads);
    cudaMemcpy(sorted.data(), d_sorted, sorted.size() * sizeof(int), cudaMemcpyDeviceToHost);
    cudaMemcpy(misc.data(), d_misc, misc.size() * sizeof(int), cudaMemcpyDeviceToHost);
    cudaMemcpy(summary.data(), d_summary, summary.size() * sizeof(minmax), cudaMemcpyDeviceToHost);
    cudaMemcpy(f.data(), d_f, f.size() * sizeof(float), cudaMemcpyDeviceToHost);
    int bad_sort = 0, bad_summary = 0, bad_misc = 0, bad_f = 0;
    for (int t = 0; t < threads; t++) {
        std::vector<int> v(in.begin() + t * 16, in.begin() + t * 16 + 16);
        minmax s = {v[0], v[0], 0};
        for (int x : v) {
            s.lo = x < s.lo ? x : s.lo;
            s.hi = x > s.hi ? x : s.hi;
            s.sum += x;
        }
        bad_summary += summary[t].lo != s.lo || summary[t].hi != s.hi || summary[t].sum != s.sum;
        for (int i = 1; i < 16; i++)
            for (int j = i; j > 0 && v[j - 1] > v[j]; j--)
                std::swap(v[j - 1], v[j]);
        for (int i = 0; i < 16; i++)
            bad_sort += sorted[t * 16 + i] != v[i];
        int l1 = (h_level3(t) + h_level3(t + 1)) * 2 - h_level3(t * 3);
        bad_misc += misc[t * 4] != v[0] * 3 || misc[t * 4 + 1] != v[15] * -2 || misc[t * 4 + 2] != l1 ||
                    misc[t * 4 + 3] != (int)hash32((unsigned)t);
        bad_f += f[t] != (float)v[7] * 0.5f;
    }
    check_report("struct_return", bad_summary == 0, "%d threads wrong", bad_summary);
    check_report("sort_by_reference", bad_sort == 0, "%d elements wrong", bad_sort);
    check_report("defaults_overloads_calls", bad_misc == 0, "%d threads wrong", bad_misc);
    check_report("float_overload", bad_f == 0, "%d threads wrong", bad_f);
    cudaFree(d_in);
    cudaFree(d_sorted);
    cudaFree(d_misc);
    cudaFree(d_summary);
    cudaFree(d_f);
    return check_end();
}
