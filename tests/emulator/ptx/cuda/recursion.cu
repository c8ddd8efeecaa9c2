// Recursive device functions: compiled once, run with a call stack.
__device__ int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

extern "C" __global__ void fib_k(const int *in, int *out) { int i = threadIdx.x; out[i] = fib(in[i]); }

// A local array in each activation, read after the recursive call returns.
__device__ int depot(int n, int *scratch)
{
    int a[8];
    for (int k = 0; k < 8; k++) a[k] = n * 10 + k + scratch[k];
    if (n == 0) return a[3];
    int r = depot(n - 1, a);
    return r + a[n % 8];
}
extern "C" __global__ void depot_k(const int *in, int *out)
{
    int z[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = threadIdx.x;
    out[i] = depot(in[i], z);
}

// Mutual recursion.
__device__ int odd(int n);
__device__ int even(int n) { return n == 0 ? 1 : odd(n - 1) * 3 % 7 + 1; }
__device__ int odd(int n) { return n == 0 ? 0 : even(n - 1) * 5 % 11; }
extern "C" __global__ void mutual_k(const int *in, int *out) { int i = threadIdx.x; out[i] = even(in[i]); }

// Deep recursion: overflows the default 1 KiB stack.
__device__ long long deep(long long n) { return n == 0 ? 0 : n + deep(n - 1) * 2 % 1000003; }
extern "C" __global__ void deep_k(const long long *in, long long *out) { out[threadIdx.x] = deep(in[threadIdx.x]); }
