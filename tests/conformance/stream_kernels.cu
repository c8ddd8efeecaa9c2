/* stream_kernels.cu: kernels on several streams ordered by events: a producer stream and two
 * consumer streams joined with cudaStreamWaitEvent, four independent pipelines of kernels and async
 * copies on their own streams, a non-blocking stream, events timing a kernel, cudaEventQuery and
 * cudaStreamQuery after synchronising; every result depends on the order and is checked on the host. */
#include "check.h"

#include <vector>

__global__ void fill(int *p, int n, int value)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        p[i] = value + i;
}

/* a slow-ish step so that unordered work would be seen: each element hashed many times */
__global__ void churn(int *p, int n, int rounds, int add)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    unsigned x = (unsigned)p[i];
    for (int r = 0; r < rounds; r++)
        x = x * 1103515245u + 12345u;
    p[i] = (int)(x % 1000u) + add;
}

__global__ void combine(const int *a, const int *b, int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = a[i] * 3 - b[i];
}

static int h_churn(int v, int rounds, int add)
{
    unsigned x = (unsigned)v;
    for (int r = 0; r < rounds; r++)
        x = x * 1103515245u + 12345u;
    return (int)(x % 1000u) + add;
}

int main(void)
{
    check_begin("stream_kernels");
    const int n = 1 << 16, threads = 256, blocks = (n + threads - 1) / threads;
    cudaStream_t producer, left, right, nb;
    expect_ok("create_producer", cudaStreamCreate(&producer));
    expect_ok("create_left", cudaStreamCreate(&left));
    expect_ok("create_right", cudaStreamCreate(&right));
    expect_ok("create_nonblocking", cudaStreamCreateWithFlags(&nb, cudaStreamNonBlocking));
    cudaEvent_t produced, left_done, right_done, t0, t1;
    cudaEventCreateWithFlags(&produced, cudaEventDisableTiming);
    cudaEventCreateWithFlags(&left_done, cudaEventDisableTiming);
    cudaEventCreateWithFlags(&right_done, cudaEventDisableTiming);
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    int *src, *a, *b, *out;
    cudaMalloc(&src, n * sizeof(int));
    cudaMalloc(&a, n * sizeof(int));
    cudaMalloc(&b, n * sizeof(int));
    cudaMalloc(&out, n * sizeof(int));

    /* producer: fill + churn; left and right copy the result and churn it differently; join on nb */
    for (int round = 0; round < 3; round++) {
        expect_ok("record_t0", cudaEventRecord(t0, producer));
        fill<<<blocks, threads, 0, producer>>>(src, n, round * 1000);
        churn<<<blocks, threads, 0, producer>>>(src, n, 200, round);
        cudaEventRecord(produced, producer);
        cudaEventRecord(t1, producer);
        cudaStreamWaitEvent(left, produced, 0);
        cudaStreamWaitEvent(right, produced, 0);
        cudaMemcpyAsync(a, src, n * sizeof(int), cudaMemcpyDeviceToDevice, left);
        churn<<<blocks, threads, 0, left>>>(a, n, 50, 7);
        cudaMemcpyAsync(b, src, n * sizeof(int), cudaMemcpyDeviceToDevice, right);
        churn<<<blocks, threads, 0, right>>>(b, n, 3, -7);
        cudaEventRecord(left_done, left);
        cudaEventRecord(right_done, right);
        cudaStreamWaitEvent(nb, left_done, 0);
        cudaStreamWaitEvent(nb, right_done, 0);
        combine<<<blocks, threads, 0, nb>>>(a, b, out, n);
        expect_ok("launches", cudaGetLastError());
        std::vector<int> got(n);
        expect_ok("copy_back", cudaMemcpyAsync(got.data(), out, n * sizeof(int), cudaMemcpyDeviceToHost, nb));
        expect_ok("sync_nb", cudaStreamSynchronize(nb));
        int wrong = 0;
        for (int i = 0; i < n; i++) {
            int s = h_churn(round * 1000 + i, 200, round);
            int want = h_churn(s, 50, 7) * 3 - h_churn(s, 3, -7);
            wrong += got[i] != want;
        }
        char name[64];
        snprintf(name, sizeof(name), "join_round_%d", round);
        check_report(name, wrong == 0, "%d of %d wrong", wrong, n);
        float ms = -1.0f;
        expect_ok("elapsed", cudaEventElapsedTime(&ms, t0, t1));
        check_report("elapsed_non_negative", ms >= 0.0f, "got %f", ms);
    }
    expect_ok("event_query_done", cudaEventQuery(right_done));
    expect_ok("stream_query_done", cudaStreamQuery(left));

    /* four independent pipelines, each on its own stream with its own buffers */
    const int pipes = 4, m = 10000;
    cudaStream_t s[pipes];
    int *buf[pipes];
    int *host[pipes];
    for (int p = 0; p < pipes; p++) {
        cudaStreamCreate(&s[p]);
        cudaMalloc(&buf[p], m * sizeof(int));
        cudaMallocHost(&host[p], m * sizeof(int));
        for (int i = 0; i < m; i++)
            host[p][i] = p * 100000 + i;
    }
    for (int p = 0; p < pipes; p++) {
        cudaMemcpyAsync(buf[p], host[p], m * sizeof(int), cudaMemcpyHostToDevice, s[p]);
        for (int k = 0; k < 5; k++)
            churn<<<(m + 127) / 128, 128, 0, s[p]>>>(buf[p], m, p + k, k);
        cudaMemcpyAsync(host[p], buf[p], m * sizeof(int), cudaMemcpyDeviceToHost, s[p]);
    }
    expect_ok("device_sync", cudaDeviceSynchronize());
    int wrong = 0;
    for (int p = 0; p < pipes; p++)
        for (int i = 0; i < m; i++) {
            int v = p * 100000 + i;
            for (int k = 0; k < 5; k++)
                v = h_churn(v, p + k, k);
            wrong += host[p][i] != v;
        }
    check_report("independent_pipelines", wrong == 0, "%d wrong", wrong);
    for (int p = 0; p < pipes; p++) {
        cudaStreamDestroy(s[p]);
        cudaFree(buf[p]);
        cudaFreeHost(host[p]);
    }
    cudaStreamDestroy(producer);
    cudaStreamDestroy(left);
    cudaStreamDestroy(right);
    cudaStreamDestroy(nb);
    cudaEventDestroy(produced);
    cudaEventDestroy(left_done);
    cudaEventDestroy(right_done);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    cudaFree(src);
    cudaFree(a);
    cudaFree(b);
    cudaFree(out);
    return check_end();
}
