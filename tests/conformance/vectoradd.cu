/* vectoradd.cu: the classic first kernel, launched with <<<>>>, results checked against the host.
 * conformance-variants: static shared compress-speed compress-size perthread */
#include "check.h"

#include <vector>

__global__ void vector_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}

int main(void)
{
    check_begin("vectoradd");
    const int n = 50000;
    std::vector<float> a(n), b(n), c(n, -1.0f);
    for (int i = 0; i < n; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = (float)(n - i) * 0.25f;
    }
    float *da = NULL, *db = NULL, *dc = NULL;
    expect_ok("malloc_a", cudaMalloc(&da, n * sizeof(float)));
    expect_ok("malloc_b", cudaMalloc(&db, n * sizeof(float)));
    expect_ok("malloc_c", cudaMalloc(&dc, n * sizeof(float)));
    expect_ok("copy_a", cudaMemcpy(da, a.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    expect_ok("copy_b", cudaMemcpy(db, b.data(), n * sizeof(float), cudaMemcpyHostToDevice));

    const int threads = 256, blocks = (n + threads - 1) / threads;
    vector_add<<<blocks, threads>>>(da, db, dc, n);
    expect_ok("launch", cudaGetLastError());
    expect_ok("synchronize", cudaDeviceSynchronize());
    expect_ok("copy_c", cudaMemcpy(c.data(), dc, n * sizeof(float), cudaMemcpyDeviceToHost));
    int wrong = 0, first = -1;
    for (int i = 0; i < n; i++) {
        if (c[i] != a[i] + b[i]) {
            if (first < 0)
                first = i;
            wrong++;
        }
    }
    check_report("results", wrong == 0, "%d wrong elements, first at %d", wrong, first);

    /* A second launch on a stream, with the same kernel handle (no new load). */
    cudaStream_t s;
    expect_ok("stream_create", cudaStreamCreate(&s));
    vector_add<<<blocks, threads, 0, s>>>(dc, dc, dc, n);
    expect_ok("launch_stream", cudaGetLastError());
    expect_ok("copy_c_async", cudaMemcpyAsync(c.data(), dc, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    expect_ok("stream_sync", cudaStreamSynchronize(s));
    wrong = 0;
    for (int i = 0; i < n; i++)
        wrong += c[i] != 2.0f * (a[i] + b[i]);
    check_report("results_doubled", wrong == 0, "%d wrong elements", wrong);

    cudaFuncAttributes attr;
    expect_ok("func_attributes", cudaFuncGetAttributes(&attr, vector_add));
    check_report("max_threads", attr.maxThreadsPerBlock >= 256, "got %d", attr.maxThreadsPerBlock);
    int blocks_per_sm = 0;
    expect_ok("occupancy", cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, vector_add, 256, 0));
    check_report("occupancy_positive", blocks_per_sm > 0, "got %d", blocks_per_sm);

    expect_ok("stream_destroy", cudaStreamDestroy(s));
    expect_ok("free", cudaFree(da));
    expect_ok("free_b", cudaFree(db));
    expect_ok("free_c", cudaFree(dc));
    return check_end();
}
