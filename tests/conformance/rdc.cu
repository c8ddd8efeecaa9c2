/* rdc.cu: separate compilation. This file and rdc/rdc_part.cu are compiled with -rdc=true and
 * device-linked: kernels here call __device__ functions defined in the other file, read and write an
 * extern __device__ variable and an extern __constant__ table defined there, and launch a kernel
 * defined there through its declaration; against the host.
 * conformance-options: -rdc=true
 * conformance-sources: rdc/rdc_part.cu */
#include "check.h"

#include "rdc/rdc_part.h"

#include <vector>

__global__ void use_other_file(const int *in, int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = rdc_mix(in[i], i) + rdc_table[i % RDC_TABLE_SIZE];
        atomicAdd(&rdc_total, 1);
    }
}

int main(void)
{
    check_begin("rdc");
    const int n = 5000;
    std::vector<int> in(n), got(n);
    for (int i = 0; i < n; i++)
        in[i] = i * 31 - 7000;
    int table[RDC_TABLE_SIZE];
    for (int k = 0; k < RDC_TABLE_SIZE; k++)
        table[k] = k * k - 10;
    expect_ok("set_table", cudaMemcpyToSymbol(rdc_table, table, sizeof(table)));
    int zero = 0;
    expect_ok("set_total", cudaMemcpyToSymbol(rdc_total, &zero, sizeof(zero)));
    int *din, *dout;
    cudaMalloc(&din, n * sizeof(int));
    cudaMalloc(&dout, n * sizeof(int));
    cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    use_other_file<<<(n + 255) / 256, 256>>>(din, dout, n);
    expect_ok("launch_here", cudaGetLastError());
    cudaMemcpy(got.data(), dout, n * sizeof(int), cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int i = 0; i < n; i++)
        wrong += got[i] != rdc_mix_host(in[i], i) + table[i % RDC_TABLE_SIZE];
    check_report("cross_file_calls", wrong == 0, "%d wrong", wrong);
    int total = 0;
    expect_ok("get_total", cudaMemcpyFromSymbol(&total, rdc_total, sizeof(total)));
    expect_i64("extern_variable", total, n);

    /* the kernel defined in the other file, launched from here */
    rdc_scale<<<(n + 255) / 256, 256>>>(dout, n, 3);
    expect_ok("launch_there", cudaGetLastError());
    cudaMemcpy(got.data(), dout, n * sizeof(int), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (int i = 0; i < n; i++)
        wrong += got[i] != (rdc_mix_host(in[i], i) + table[i % RDC_TABLE_SIZE]) * 3 + 1;
    check_report("kernel_from_other_file", wrong == 0, "%d wrong", wrong);
    expect_ok("get_total_again", cudaMemcpyFromSymbol(&total, rdc_total, sizeof(total)));
    expect_i64("extern_variable_both_files", total, 2 * n);
    cudaFree(din);
    cudaFree(dout);
    return check_end();
}
