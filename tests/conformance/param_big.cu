/* param_big.cu: parameter blocks over 4 KiB (CUDA 12.1 and later allow 32764 bytes): structs of
 * 4100 bytes, 8 KiB and 32000 bytes passed by value with <<<>>> and cudaLaunchKernel, read by
 * every thread of several blocks, plus a scalar after the big struct (its offset is past 4 KiB). */
#include "check.h"

#include <vector>

template <int N>
struct blob {
    int v[N];
};

template <int N>
__global__ void sum_blob(blob<N> b, int tail, long long *out)
{
    /* each thread sums a strided part; thread 0 of block 0 also reports the tail scalar */
    long long s = 0;
    for (int k = threadIdx.x; k < N; k += blockDim.x)
        s += (long long)b.v[k] * (k + 1);
    atomicAdd((unsigned long long *)&out[blockIdx.x], (unsigned long long)s);
    if (blockIdx.x == 0 && threadIdx.x == 0)
        out[gridDim.x] = tail;
}

template <int N>
static void check_blob(const char *label, bool use_api)
{
    blob<N> *b = new blob<N>;
    long long want = 0;
    for (int k = 0; k < N; k++) {
        b->v[k] = (int)((k * 2654435761u) >> 12) - 500000;
        want += (long long)b->v[k] * (k + 1);
    }
    const int blocks = 3;
    long long *d_out;
    cudaMalloc(&d_out, (blocks + 1) * sizeof(long long));
    cudaMemset(d_out, 0, (blocks + 1) * sizeof(long long));
    int tail = -N;
    char name[64];
    if (use_api) {
        void *args[] = {b, &tail, &d_out};
        expect_ok((snprintf(name, sizeof(name), "launch_api_%s", label), name),
                  cudaLaunchKernel((const void *)sum_blob<N>, dim3(blocks), dim3(128), args, 0, 0));
    } else {
        sum_blob<N><<<blocks, 128>>>(*b, tail, d_out);
        expect_ok((snprintf(name, sizeof(name), "launch_%s", label), name), cudaGetLastError());
    }
    long long got[blocks + 1];
    cudaMemcpy(got, d_out, sizeof(got), cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int k = 0; k < blocks; k++)
        wrong += got[k] != want;
    snprintf(name, sizeof(name), "sum_%s", label);
    check_report(name, wrong == 0, "expected %lld got %lld %lld %lld", want, got[0], got[1], got[2]);
    snprintf(name, sizeof(name), "tail_%s", label);
    expect_i64(name, got[blocks], -N);
    cudaFree(d_out);
    delete b;
}

int main(void)
{
    check_begin("param_big");
    check_blob<1025>("4100_bytes", false);
    check_blob<2048>("8_kib", false);
    check_blob<8000>("32000_bytes", false);
    check_blob<2048>("8_kib", true);
    check_blob<8000>("32000_bytes", true);
    cudaFuncAttributes attr;
    expect_ok("attributes", cudaFuncGetAttributes(&attr, sum_blob<8000>));
    return check_end();
}
