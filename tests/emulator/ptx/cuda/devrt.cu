// The device runtime: printf, assert, malloc/free, trap (tests/emulator/test_devrt.py).
#include <cassert>
#include <cstdio>

__device__ char word[8] = "hello";

extern "C" __global__ void printf_k(int n, double d, const char *s)
{
    int i = threadIdx.x;
    float f = 0.5f * i;
    long long big = 1234567890123ll * (i + 1);
    int r = printf("t%d/%d d=%.3f f=%g s=%s c=%c ll=%lld x=%#x w=[%5d|%-4d] p=%s%%\n", i, n, d, f, s, 'a' + i, big,
                   255 + i, i, i, i & 1 ? "odd" : "even");
    if (i == 0)
        printf("returned %d\n", r);
}

extern "C" __global__ void printf_noargs_k() { printf("no arguments\n"); }

extern "C" __global__ void assert_k(int limit, int *out)
{
    int i = threadIdx.x + blockIdx.x * blockDim.x;
    assert(i < limit);
    out[i] = i;
}

extern "C" __global__ void trap_k() { asm volatile("trap;"); }

// Each thread takes a chunk, fills it, and leaves its address in ptrs.
extern "C" __global__ void malloc_k(int **ptrs, int words)
{
    int i = threadIdx.x + blockIdx.x * blockDim.x;
    int *p = (int *)malloc(words * sizeof(int));
    if (p)
        for (int k = 0; k < words; k++)
            p[k] = i * 1000 + k;
    ptrs[i] = p;
}

// Sums each thread's chunk (from an earlier launch) and frees it.
extern "C" __global__ void free_k(int **ptrs, int words, int *sums)
{
    int i = threadIdx.x + blockIdx.x * blockDim.x;
    int *p = ptrs[i];
    int s = -1;
    if (p) {
        s = 0;
        for (int k = 0; k < words; k++)
            s += p[k];
        free(p);
    }
    sums[i] = s;
}

// Writes one word past a malloc'ed chunk.
extern "C" __global__ void overrun_k(int words)
{
    volatile int *p = (int *)malloc(words * sizeof(int));
    p[words] = 1;
}
