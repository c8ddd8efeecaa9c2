/* grid3d.cu: launch geometry: 3D grids of 3D blocks (every thread writes its global linear index
 * computed from blockIdx/blockDim/threadIdx/gridDim in x, y and z), a grid of 70000 blocks in x, a
 * grid of 65535 in y, single-thread blocks, 1024-thread blocks of shape 8x8x16, and a grid-stride
 * loop; each element of the output is checked to be written exactly once with its own index. */
#include "check.h"

#include <vector>

__global__ void index3d(unsigned *out, unsigned *hits)
{
    unsigned bx = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned per_block = blockDim.x * blockDim.y * blockDim.z;
    unsigned tx = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    unsigned g = bx * per_block + tx;
    out[g] = (blockIdx.z << 24) | (blockIdx.y << 16) | (blockIdx.x << 8) | (threadIdx.z << 6) | (threadIdx.y << 3) |
             threadIdx.x;
    atomicAdd(&hits[g], 1u);
}

__global__ void wide(unsigned *hits, unsigned n)
{
    unsigned g = blockIdx.x + gridDim.x * blockIdx.y;
    if (g < n)
        atomicAdd(&hits[g], 1u + threadIdx.x);
}

__global__ void grid_stride(int *out, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        out[i] += i;
}

static bool check_3d(dim3 grid, dim3 block)
{
    unsigned total = grid.x * grid.y * grid.z * block.x * block.y * block.z;
    unsigned *dout, *dhits;
    cudaMalloc(&dout, total * sizeof(unsigned));
    cudaMalloc(&dhits, total * sizeof(unsigned));
    cudaMemset(dhits, 0, total * sizeof(unsigned));
    index3d<<<grid, block>>>(dout, dhits);
    char name[96];
    snprintf(name, sizeof(name), "launch_%ux%ux%u_of_%ux%ux%u", grid.x, grid.y, grid.z, block.x, block.y, block.z);
    expect_ok(name, cudaGetLastError());
    std::vector<unsigned> out(total), hits(total);
    cudaMemcpy(out.data(), dout, total * sizeof(unsigned), cudaMemcpyDeviceToHost);
    cudaMemcpy(hits.data(), dhits, total * sizeof(unsigned), cudaMemcpyDeviceToHost);
    unsigned wrong = 0;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++)
                for (unsigned tz = 0; tz < block.z; tz++)
                    for (unsigned ty = 0; ty < block.y; ty++)
                        for (unsigned tx = 0; tx < block.x; tx++) {
                            unsigned b = bx + grid.x * (by + grid.y * bz);
                            unsigned g = b * block.x * block.y * block.z + tx + block.x * (ty + block.y * tz);
                            unsigned want = (bz << 24) | (by << 16) | (bx << 8) | (tz << 6) | (ty << 3) | tx;
                            wrong += out[g] != want || hits[g] != 1;
                        }
    snprintf(name, sizeof(name), "indices_%ux%ux%u_of_%ux%ux%u", grid.x, grid.y, grid.z, block.x, block.y, block.z);
    cudaFree(dout);
    cudaFree(dhits);
    return check_report(name, wrong == 0, "%u of %u wrong", wrong, total);
}

int main(void)
{
    check_begin("grid3d");
    check_3d(dim3(3, 4, 5), dim3(8, 4, 2));
    check_3d(dim3(2, 2, 2), dim3(8, 8, 16));
    check_3d(dim3(7, 1, 3), dim3(1, 1, 1));
    check_3d(dim3(1, 1, 1), dim3(5, 7, 3));

    const unsigned nx = 70000;
    unsigned *dh;
    cudaMalloc(&dh, nx * sizeof(unsigned));
    cudaMemset(dh, 0, nx * sizeof(unsigned));
    wide<<<nx, 2>>>(dh, nx);
    expect_ok("launch_70000_x", cudaGetLastError());
    std::vector<unsigned> h(nx);
    cudaMemcpy(h.data(), dh, nx * sizeof(unsigned), cudaMemcpyDeviceToHost);
    unsigned wrong = 0;
    for (unsigned k = 0; k < nx; k++)
        wrong += h[k] != 3;
    check_report("blocks_70000_x", wrong == 0, "%u wrong", wrong);
    cudaMemset(dh, 0, nx * sizeof(unsigned));
    wide<<<dim3(1, 65535), 1>>>(dh, nx);
    expect_ok("launch_65535_y", cudaGetLastError());
    cudaMemcpy(h.data(), dh, nx * sizeof(unsigned), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (unsigned k = 0; k < nx; k++)
        wrong += h[k] != (k < 65535 ? 1u : 0u);
    check_report("blocks_65535_y", wrong == 0, "%u wrong", wrong);

    const int n = 1000003;
    int *dg;
    cudaMalloc(&dg, n * sizeof(int));
    cudaMemset(dg, 0, n * sizeof(int));
    grid_stride<<<13, 96>>>(dg, n);
    std::vector<int> g(n);
    cudaMemcpy(g.data(), dg, n * sizeof(int), cudaMemcpyDeviceToHost);
    int gw = 0;
    for (int k = 0; k < n; k++)
        gw += g[k] != k;
    check_report("grid_stride_loop", gw == 0, "%d wrong", gw);
    cudaFree(dh);
    cudaFree(dg);
    return check_end();
}
