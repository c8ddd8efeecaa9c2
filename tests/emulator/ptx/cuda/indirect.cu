// Indirect calls through function pointers: per-lane targets (divergent), a __device__ table of
// function pointers (initialised with their addresses).
typedef int (*op_t)(int, int);
__device__ int add(int a, int b) { return a + b; }
__device__ int mul(int a, int b) { return a * b; }
__device__ int sub(int a, int b) { return a - b; }
__device__ op_t table[3] = {add, mul, sub};
extern "C" __global__ void apply(const int *in, int *out) {
  int i = threadIdx.x;
  op_t f = i % 3 == 0 ? add : (i % 3 == 1 ? mul : sub);
  out[i] = f(in[i], 3);
  out[32 + i] = table[i % 3](in[i], 5);
}
