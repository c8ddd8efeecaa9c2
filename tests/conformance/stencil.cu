/* stencil.cu: stencils with halos: a 1D 7-point stencil with a shared tile and halo loads, a 2D
 * 5-point Jacobi iteration on a 2D grid of 2D blocks (dim3) ping-ponging between buffers for 20
 * steps, boundaries fixed; integer arithmetic so the host reference is exact. */
#include "check.h"

#include <vector>

constexpr int RADIUS = 3;
constexpr int BLOCK1D = 128;

__global__ void stencil_1d(const int *in, int *out, int n)
{
    __shared__ int tile[BLOCK1D + 2 * RADIUS];
    int g = blockIdx.x * blockDim.x + threadIdx.x, l = threadIdx.x + RADIUS;
    tile[l] = g < n ? in[g] : 0;
    if (threadIdx.x < RADIUS) {
        int left = g - RADIUS, right = g + BLOCK1D;
        tile[l - RADIUS] = left >= 0 ? in[left] : 0;
        tile[l + BLOCK1D] = right < n ? in[right] : 0;
    }
    __syncthreads();
    if (g < n) {
        int s = 0;
        for (int o = -RADIUS; o <= RADIUS; o++)
            s += tile[l + o] * (o + 4);
        out[g] = s;
    }
}

__global__ void jacobi(const int *in, int *out, int w, int h)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h)
        return;
    int i = y * w + x;
    if (x == 0 || y == 0 || x == w - 1 || y == h - 1)
        out[i] = in[i];
    else
        out[i] = (in[i - 1] + in[i + 1] + in[i - w] + in[i + w] + 4 * in[i]) / 8;
}

int main(void)
{
    check_begin("stencil");
    const int n = 10007;
    std::vector<int> in(n), got(n), want(n);
    for (int i = 0; i < n; i++)
        in[i] = (int)((i * 7919u) % 1000u);
    for (int i = 0; i < n; i++) {
        int s = 0;
        for (int o = -RADIUS; o <= RADIUS; o++)
            s += (i + o >= 0 && i + o < n ? in[i + o] : 0) * (o + 4);
        want[i] = s;
    }
    int *din, *dout;
    cudaMalloc(&din, n * sizeof(int));
    cudaMalloc(&dout, n * sizeof(int));
    cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    stencil_1d<<<(n + BLOCK1D - 1) / BLOCK1D, BLOCK1D>>>(din, dout, n);
    expect_ok("stencil_1d_launch", cudaGetLastError());
    cudaMemcpy(got.data(), dout, n * sizeof(int), cudaMemcpyDeviceToHost);
    expect_bytes("stencil_1d", got.data(), want.data(), n * sizeof(int));

    const int w = 203, h = 97, steps = 20;
    std::vector<int> a(w * h), b(w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            a[y * w + x] = (x == 0 || y == 0) ? 100000 : (x * y) % 1000;
    int *da, *db;
    cudaMalloc(&da, w * h * sizeof(int));
    cudaMalloc(&db, w * h * sizeof(int));
    cudaMemcpy(da, a.data(), w * h * sizeof(int), cudaMemcpyHostToDevice);
    dim3 block(16, 8), grid((w + 15) / 16, (h + 7) / 8);
    for (int s = 0; s < steps; s++) {
        jacobi<<<grid, block>>>(s % 2 ? db : da, s % 2 ? da : db, w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int i = y * w + x;
                b[i] = (x == 0 || y == 0 || x == w - 1 || y == h - 1)
                           ? a[i]
                           : (a[i - 1] + a[i + 1] + a[i - w] + a[i + w] + 4 * a[i]) / 8;
            }
        a.swap(b);
    }
    expect_ok("jacobi_launches", cudaGetLastError());
    std::vector<int> g2(w * h);
    cudaMemcpy(g2.data(), steps % 2 ? db : da, w * h * sizeof(int), cudaMemcpyDeviceToHost);
    expect_bytes("jacobi_20_steps", g2.data(), a.data(), w * h * sizeof(int));
    cudaFree(din);
    cudaFree(dout);
    cudaFree(da);
    cudaFree(db);
    return check_end();
}
