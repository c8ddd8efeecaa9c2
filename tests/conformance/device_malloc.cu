/* device_malloc.cu: malloc and free in kernels: the heap size set with cudaDeviceSetLimit before the
 * first kernel that uses it (and read back), one allocation per thread written and summed, a buffer
 * malloc'ed by one kernel and freed by a later one, new[]/delete[] of a struct, allocations that do
 * not fit the heap returning NULL, memory freed and reused many times; against the host. */
#include "check.h"

#include <vector>

struct item {
    int key;
    double weight;
};

__global__ void per_thread(int count, long long *sums, int *nulls)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int n = count + t % 7;
    int *p = (int *)malloc(n * sizeof(int));
    if (p == NULL) {
        atomicAdd(nulls, 1);
        return;
    }
    for (int k = 0; k < n; k++)
        p[k] = t * 1000 + k;
    long long s = 0;
    for (int k = n - 1; k >= 0; k--)
        s += p[k];
    sums[t] = s;
    free(p);
}

__device__ int *g_kept[64];

__global__ void keep(int n)
{
    int t = threadIdx.x;
    g_kept[t] = (int *)malloc(n * sizeof(int));
    if (g_kept[t] != NULL)
        for (int k = 0; k < n; k++)
            g_kept[t][k] = t + k;
}

__global__ void release(long long *sums, int n)
{
    int t = threadIdx.x;
    long long s = -1;
    if (g_kept[t] != NULL) {
        s = 0;
        for (int k = 0; k < n; k++)
            s += g_kept[t][k];
        free(g_kept[t]);
    }
    sums[t] = s;
}

__global__ void with_new(double *out)
{
    int t = threadIdx.x;
    item *items = new item[t + 1];
    double s = 0;
    if (items != nullptr) {
        for (int k = 0; k <= t; k++)
            items[k] = {k, 0.5 * k};
        for (int k = 0; k <= t; k++)
            s += items[k].key * items[k].weight;
        delete[] items;
    } else {
        s = -1;
    }
    out[t] = s;
}

__global__ void too_big(unsigned long long bytes, int *result)
{
    void *p = malloc(bytes);
    result[0] = p == NULL;
    free(p); /* free(NULL) is allowed */
    void *q = malloc(1024);
    result[1] = q != NULL;
    free(q);
}

__global__ void churn(int rounds, int *failures)
{
    for (int r = 0; r < rounds; r++) {
        char *p = (char *)malloc(256 + (threadIdx.x * 13 + r * 7) % 512);
        if (p == NULL) {
            atomicAdd(failures, 1);
            continue;
        }
        p[0] = (char)r;
        p[255] = (char)threadIdx.x;
        if (p[0] != (char)r || p[255] != (char)threadIdx.x)
            atomicAdd(failures, 1000);
        free(p);
    }
}

int main(void)
{
    check_begin("device_malloc");
    const size_t heap = 32u << 20;
    size_t got_heap = 0;
    expect_ok("get_default_heap", cudaDeviceGetLimit(&got_heap, cudaLimitMallocHeapSize));
    check_report("default_heap_nonzero", got_heap > 0, "got %zu", got_heap);
    expect_ok("set_heap", cudaDeviceSetLimit(cudaLimitMallocHeapSize, heap));
    expect_ok("get_heap", cudaDeviceGetLimit(&got_heap, cudaLimitMallocHeapSize));
    check_report("heap_at_least_set", got_heap >= heap, "got %zu", got_heap);

    const int blocks = 8, threads = 128, n = blocks * threads, count = 50;
    long long *dsums;
    int *dnulls;
    cudaMalloc(&dsums, n * sizeof(long long));
    cudaMalloc(&dnulls, 2 * sizeof(int));
    cudaMemset(dnulls, 0, 2 * sizeof(int));
    per_thread<<<blocks, threads>>>(count, dsums, dnulls);
    expect_ok("per_thread_launch", cudaGetLastError());
    expect_ok("per_thread_sync", cudaDeviceSynchronize());
    std::vector<long long> sums(n);
    int nulls = -1;
    cudaMemcpy(sums.data(), dsums, n * sizeof(long long), cudaMemcpyDeviceToHost);
    cudaMemcpy(&nulls, dnulls, sizeof(int), cudaMemcpyDeviceToHost);
    expect_i64("per_thread_no_null", nulls, 0);
    int wrong = 0;
    for (int t = 0; t < n; t++) {
        long long want = 0;
        for (int k = 0; k < count + t % 7; k++)
            want += t * 1000 + k;
        wrong += sums[t] != want;
    }
    check_report("per_thread_sums", wrong == 0, "%d wrong", wrong);

    /* once a kernel used malloc, the heap size is fixed */
    expect_fail("set_heap_after_use", cudaDeviceSetLimit(cudaLimitMallocHeapSize, heap * 2), cudaErrorInvalidValue);

    keep<<<1, 64>>>(1000);
    expect_ok("keep_sync", cudaDeviceSynchronize());
    release<<<1, 64>>>(dsums, 1000);
    cudaMemcpy(sums.data(), dsums, 64 * sizeof(long long), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (int t = 0; t < 64; t++)
        wrong += sums[t] != 1000LL * t + 999LL * 1000 / 2;
    check_report("malloc_in_one_kernel_free_in_another", wrong == 0, "%d wrong", wrong);

    double *dd;
    cudaMalloc(&dd, 64 * sizeof(double));
    with_new<<<1, 64>>>(dd);
    std::vector<double> dv(64);
    cudaMemcpy(dv.data(), dd, 64 * sizeof(double), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (int t = 0; t < 64; t++) {
        double s = 0;
        for (int k = 0; k <= t; k++)
            s += k * (0.5 * k);
        wrong += dv[t] != s;
    }
    check_report("new_delete_array", wrong == 0, "%d wrong", wrong);

    too_big<<<1, 1>>>((unsigned long long)heap * 4, dnulls);
    int tb[2] = {0, 0};
    cudaMemcpy(tb, dnulls, sizeof(tb), cudaMemcpyDeviceToHost);
    expect_i64("too_big_is_null", tb[0], 1);
    expect_i64("small_after_too_big", tb[1], 1);

    cudaMemset(dnulls, 0, sizeof(int));
    churn<<<4, 64>>>(200, dnulls);
    expect_ok("churn_sync", cudaDeviceSynchronize());
    cudaMemcpy(&nulls, dnulls, sizeof(int), cudaMemcpyDeviceToHost);
    expect_i64("churn_reuse", nulls, 0);
    cudaFree(dsums);
    cudaFree(dnulls);
    cudaFree(dd);
    return check_end();
}
