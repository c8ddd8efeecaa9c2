/* matmul.cu: tiled matrix multiply with shared memory and __syncthreads, checked against the host. */
#include "check.h"

#include <cmath>
#include <vector>

#define TILE 16

__global__ void matmul(const float *a, const float *b, float *c, int m, int k, int n)
{
    __shared__ float ta[TILE][TILE];
    __shared__ float tb[TILE][TILE];
    int row = blockIdx.y * TILE + threadIdx.y;
    int col = blockIdx.x * TILE + threadIdx.x;
    float sum = 0.0f;
    for (int t = 0; t < (k + TILE - 1) / TILE; t++) {
        int ac = t * TILE + threadIdx.x, br = t * TILE + threadIdx.y;
        ta[threadIdx.y][threadIdx.x] = row < m && ac < k ? a[row * k + ac] : 0.0f;
        tb[threadIdx.y][threadIdx.x] = br < k && col < n ? b[br * n + col] : 0.0f;
        __syncthreads();
        for (int i = 0; i < TILE; i++)
            sum += ta[threadIdx.y][i] * tb[i][threadIdx.x];
        __syncthreads();
    }
    if (row < m && col < n)
        c[row * n + col] = sum;
}

int main(void)
{
    check_begin("matmul");
    /* Sizes that are not multiples of the tile, so the edges are exercised. */
    const int m = 100, k = 70, n = 90;
    std::vector<float> a(m * k), b(k * n), c(m * n, -1.0f), ref(m * n);
    for (int i = 0; i < m * k; i++)
        a[i] = (float)((i * 7) % 13) - 6.0f;
    for (int i = 0; i < k * n; i++)
        b[i] = (float)((i * 5) % 11) * 0.5f - 2.0f;
    for (int r = 0; r < m; r++)
        for (int col = 0; col < n; col++) {
            float s = 0.0f;
            for (int i = 0; i < k; i++)
                s += a[r * k + i] * b[i * n + col];
            ref[r * n + col] = s;
        }
    float *da, *db, *dc;
    expect_ok("malloc_a", cudaMalloc(&da, a.size() * sizeof(float)));
    expect_ok("malloc_b", cudaMalloc(&db, b.size() * sizeof(float)));
    expect_ok("malloc_c", cudaMalloc(&dc, c.size() * sizeof(float)));
    expect_ok("copy_a", cudaMemcpy(da, a.data(), a.size() * sizeof(float), cudaMemcpyHostToDevice));
    expect_ok("copy_b", cudaMemcpy(db, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice));
    dim3 block(TILE, TILE), grid((n + TILE - 1) / TILE, (m + TILE - 1) / TILE);
    matmul<<<grid, block>>>(da, db, dc, m, k, n);
    expect_ok("launch", cudaGetLastError());
    expect_ok("copy_c", cudaMemcpy(c.data(), dc, c.size() * sizeof(float), cudaMemcpyDeviceToHost));
    int wrong = 0, first = -1;
    for (int i = 0; i < m * n; i++) {
        if (std::fabs(c[i] - ref[i]) > 1e-3f * (1.0f + std::fabs(ref[i]))) {
            if (first < 0)
                first = i;
            wrong++;
        }
    }
    check_report("results", wrong == 0, "%d wrong elements, first at %d (%f vs %f)", wrong, first,
                 first >= 0 ? c[first] : 0.0f, first >= 0 ? ref[first] : 0.0f);
    cudaFuncAttributes attr;
    expect_ok("func_attributes", cudaFuncGetAttributes(&attr, matmul));
    expect_u64("static_shared", attr.sharedSizeBytes, 2 * TILE * TILE * sizeof(float));
    expect_ok("free_a", cudaFree(da));
    expect_ok("free_b", cudaFree(db));
    expect_ok("free_c", cudaFree(dc));
    return check_end();
}
