/* transpose.cu: matrix transpose through 32x33 shared tiles (the padding column avoids bank
 * conflicts), 32x8 thread blocks each moving a 32x32 tile, sizes that are not tile multiples, a
 * templated element type (float, double, char), against the host. */
#include "check.h"

#include <vector>

constexpr int TILE = 32;
constexpr int ROWS = 8;

template <typename T>
__global__ void transpose_tiled(const T *in, T *out, int width, int height)
{
    __shared__ T tile[TILE][TILE + 1];
    int x = blockIdx.x * TILE + threadIdx.x;
    int y = blockIdx.y * TILE + threadIdx.y;
    for (int j = 0; j < TILE; j += ROWS)
        if (x < width && y + j < height)
            tile[threadIdx.y + j][threadIdx.x] = in[(size_t)(y + j) * width + x];
    __syncthreads();
    x = blockIdx.y * TILE + threadIdx.x;
    y = blockIdx.x * TILE + threadIdx.y;
    for (int j = 0; j < TILE; j += ROWS)
        if (x < height && y + j < width)
            out[(size_t)(y + j) * height + x] = tile[threadIdx.x][threadIdx.y + j];
}

template <typename T>
static void check_transpose(const char *type, int width, int height)
{
    std::vector<T> h((size_t)width * height), want(h.size()), got(h.size());
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            h[(size_t)y * width + x] = (T)((y * 131 + x * 7) % 127);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            want[(size_t)x * height + y] = h[(size_t)y * width + x];
    T *d_in, *d_out;
    size_t bytes = h.size() * sizeof(T);
    cudaMalloc(&d_in, bytes);
    cudaMalloc(&d_out, bytes);
    cudaMemcpy(d_in, h.data(), bytes, cudaMemcpyHostToDevice);
    cudaMemset(d_out, 0xff, bytes);
    dim3 grid((width + TILE - 1) / TILE, (height + TILE - 1) / TILE), block(TILE, ROWS);
    transpose_tiled<T><<<grid, block>>>(d_in, d_out, width, height);
    char name[96];
    snprintf(name, sizeof(name), "launch_%s_%dx%d", type, width, height);
    expect_ok(name, cudaGetLastError());
    cudaMemcpy(got.data(), d_out, bytes, cudaMemcpyDeviceToHost);
    snprintf(name, sizeof(name), "transpose_%s_%dx%d", type, width, height);
    expect_bytes(name, got.data(), want.data(), bytes);
    /* transposing twice gives the input back */
    dim3 grid2((height + TILE - 1) / TILE, (width + TILE - 1) / TILE);
    transpose_tiled<T><<<grid2, block>>>(d_out, d_in, height, width);
    cudaMemcpy(got.data(), d_in, bytes, cudaMemcpyDeviceToHost);
    snprintf(name, sizeof(name), "round_trip_%s_%dx%d", type, width, height);
    expect_bytes(name, got.data(), h.data(), bytes);
    cudaFree(d_in);
    cudaFree(d_out);
}

int main(void)
{
    check_begin("transpose");
    check_transpose<float>("float", 256, 256);
    check_transpose<float>("float", 1000, 77);
    check_transpose<float>("float", 33, 1);
    check_transpose<double>("double", 129, 250);
    check_transpose<char>("char", 517, 300);
    cudaFuncAttributes attr;
    expect_ok("func_attributes", cudaFuncGetAttributes(&attr, transpose_tiled<float>));
    expect_u64("static_shared_float", attr.sharedSizeBytes, TILE * (TILE + 1) * sizeof(float));
    expect_ok("func_attributes_double", cudaFuncGetAttributes(&attr, transpose_tiled<double>));
    expect_u64("static_shared_double", attr.sharedSizeBytes, TILE * (TILE + 1) * sizeof(double));
    return check_end();
}
