/* dynamic_shared.cu: extern __shared__ memory sized at launch: several arrays of different types
 * carved out of one buffer, the templated SharedMemory<T> idiom, sizes from 4 bytes to 64 KiB (over
 * 48 KiB after opting in with cudaFuncSetAttribute), a block reversal and a reduction that only give
 * the right answer when every thread of the block sees the same buffer; against the host. */
#include "check.h"

#include <vector>

template <typename T>
struct SharedMemory {
    __device__ T *get()
    {
        extern __shared__ __align__(16) unsigned char smem_raw[];
        return reinterpret_cast<T *>(smem_raw);
    }
};

template <typename T>
__global__ void reverse_block(const T *in, T *out)
{
    T *s = SharedMemory<T>().get();
    int t = threadIdx.x, base = blockIdx.x * blockDim.x;
    s[t] = in[base + t];
    __syncthreads();
    out[base + t] = s[blockDim.x - 1 - t];
}

/* doubles, then ints, then chars in one dynamic buffer: n of each */
__global__ void carve(const double *d, const int *i, const char *c, long long *out, int n)
{
    extern __shared__ double buf[];
    double *sd = buf;
    int *si = reinterpret_cast<int *>(sd + n);
    char *sc = reinterpret_cast<char *>(si + n);
    int t = threadIdx.x;
    sd[t] = d[t];
    si[t] = i[t];
    sc[t] = c[t];
    __syncthreads();
    int u = (t + 1) % n;
    out[t] = (long long)sd[u] * 1000000 + (long long)si[(t + 2) % n] * 1000 + sc[(t + 3) % n];
}

/* Fills `words` 32-bit words of dynamic shared memory, then sums them from another thread's view. */
__global__ void big_buffer(unsigned *out, int words)
{
    extern __shared__ unsigned big[];
    for (int k = threadIdx.x; k < words; k += blockDim.x)
        big[k] = (unsigned)k * 2654435761u;
    __syncthreads();
    unsigned s = 0;
    for (int k = (threadIdx.x + 1) % blockDim.x; k < words; k += blockDim.x)
        s += big[k];
    atomicAdd(out, s);
}

template <typename T>
static void check_reverse(const char *type, int threads)
{
    const int blocks = 3, n = blocks * threads;
    std::vector<T> h(n), got(n);
    for (int i = 0; i < n; i++)
        h[i] = (T)(i * 3 + 1);
    T *din, *dout;
    cudaMalloc(&din, n * sizeof(T));
    cudaMalloc(&dout, n * sizeof(T));
    cudaMemcpy(din, h.data(), n * sizeof(T), cudaMemcpyHostToDevice);
    reverse_block<T><<<blocks, threads, threads * sizeof(T)>>>(din, dout);
    char name[64];
    snprintf(name, sizeof(name), "reverse_launch_%s_%d", type, threads);
    expect_ok(name, cudaGetLastError());
    cudaMemcpy(got.data(), dout, n * sizeof(T), cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < threads; t++)
            wrong += got[b * threads + t] != h[b * threads + threads - 1 - t];
    snprintf(name, sizeof(name), "reverse_%s_%d", type, threads);
    check_report(name, wrong == 0, "%d wrong", wrong);
    cudaFree(din);
    cudaFree(dout);
}

static unsigned big_sum(int words)
{
    unsigned s = 0;
    for (int k = 0; k < words; k++)
        s += (unsigned)k * 2654435761u;
    return s;
}

int main(void)
{
    check_begin("dynamic_shared");
    check_reverse<int>("int", 1);
    check_reverse<int>("int", 256);
    check_reverse<double>("double", 128);
    check_reverse<short>("short", 1024);
    check_reverse<long long>("longlong", 64);

    const int n = 100;
    std::vector<double> d(n);
    std::vector<int> iv(n);
    std::vector<char> c(n);
    for (int k = 0; k < n; k++) {
        d[k] = (double)(k * 11);
        iv[k] = k * 7 - 300;
        c[k] = (char)(k % 100);
    }
    double *dd;
    int *di;
    char *dc;
    long long *dout;
    cudaMalloc(&dd, n * sizeof(double));
    cudaMalloc(&di, n * sizeof(int));
    cudaMalloc(&dc, n);
    cudaMalloc(&dout, n * sizeof(long long));
    cudaMemcpy(dd, d.data(), n * sizeof(double), cudaMemcpyHostToDevice);
    cudaMemcpy(di, iv.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    cudaMemcpy(dc, c.data(), n, cudaMemcpyHostToDevice);
    carve<<<1, n, n * (sizeof(double) + sizeof(int) + 1)>>>(dd, di, dc, dout, n);
    expect_ok("carve_launch", cudaGetLastError());
    std::vector<long long> out(n);
    cudaMemcpy(out.data(), dout, n * sizeof(long long), cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int t = 0; t < n; t++)
        wrong += out[t] != (long long)d[(t + 1) % n] * 1000000 + (long long)iv[(t + 2) % n] * 1000 + c[(t + 3) % n];
    check_report("carve_three_types", wrong == 0, "%d wrong", wrong);

    unsigned *dsum, sum = 0;
    cudaMalloc(&dsum, sizeof(unsigned));
    const int sizes[] = {1, 1000, 12288}; /* up to 48 KiB: no opt-in needed */
    for (int words : sizes) {
        cudaMemset(dsum, 0, sizeof(unsigned));
        big_buffer<<<1, 256, words * sizeof(unsigned)>>>(dsum, words);
        cudaMemcpy(&sum, dsum, sizeof(unsigned), cudaMemcpyDeviceToHost);
        char name[64];
        snprintf(name, sizeof(name), "buffer_%d_words", words);
        expect_u64(name, sum, big_sum(words));
    }
    /* 64 KiB: refused until the kernel opts in, then it works */
    const int words64 = 16384;
    big_buffer<<<1, 256, words64 * sizeof(unsigned)>>>(dsum, words64);
    expect_some_error("64k_without_opt_in", cudaGetLastError());
    expect_ok("opt_in", cudaFuncSetAttribute(big_buffer, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             words64 * (int)sizeof(unsigned)));
    cudaFuncAttributes attr;
    expect_ok("attributes", cudaFuncGetAttributes(&attr, big_buffer));
    expect_u64("max_dynamic_attribute", attr.maxDynamicSharedSizeBytes, words64 * sizeof(unsigned));
    cudaMemset(dsum, 0, sizeof(unsigned));
    big_buffer<<<2, 256, words64 * sizeof(unsigned)>>>(dsum, words64);
    expect_ok("64k_launch", cudaGetLastError());
    expect_ok("64k_copy", cudaMemcpy(&sum, dsum, sizeof(unsigned), cudaMemcpyDeviceToHost));
    expect_u64("64k_sum", sum, 2u * big_sum(words64));
    cudaFree(dd);
    cudaFree(di);
    cudaFree(dc);
    cudaFree(dout);
    cudaFree(dsum);
    return check_end();
}
