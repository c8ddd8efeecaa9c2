// The second unit of link_a.cu's program.
__device__ int counter;
__constant__ int table[4] = {1, 2, 3, 4};

static __device__ __noinline__ int local_twice(int v) { return 3 * v; }

__device__ int helper(int v) { return local_twice(v) + 1; }

extern "C" __global__ void link_b(int *out) { out[0] = counter; }
