// link_a.cu and link_b.cu: two translation units of an -rdc=true program, linked by the engine's
// PTX linker (tests/c/ptx/test_ptx_kernels.c): a function and variables defined in the other unit,
// and a file-static function of the same name in both.
extern __device__ int counter;
extern __constant__ int table[4];
__device__ int helper(int v);

static __device__ __noinline__ int local_twice(int v) { return 2 * v; }

extern "C" __global__ void link_a(const int *in, int *out)
{
    int i = threadIdx.x;
    out[i] = helper(in[i]) + local_twice(table[i % 4]);
    atomicAdd(&counter, 1);
}
