/* launch_api.cu: the ways the runtime launches a kernel besides <<<>>>: cudaLaunchKernel with an
 * argument array, cudaLaunchKernelEx with a cudaLaunchConfig_t (grid, block, dynamic shared memory,
 * stream, and the templated C++ form with typed arguments), <<<>>> with all four configuration
 * arguments, launches on a stream ordered against copies, cudaFuncSetCacheConfig and
 * cudaFuncGetAttributes (numRegs, binary and PTX versions); against the host. */
#include "check.h"

#include <vector>

__global__ void axpy(float a, const float *x, float *y, int n)
{
    extern __shared__ float scratch[];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    scratch[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    if (i < n)
        y[i] = a * scratch[threadIdx.x] + y[i];
}

static int check_y(const std::vector<float> &y, const std::vector<float> &x, float total_a)
{
    int wrong = 0;
    for (size_t i = 0; i < y.size(); i++)
        wrong += y[i] != total_a * x[i] + 1.0f;
    return wrong;
}

int main(void)
{
    check_begin("launch_api");
    const int n = 3000, threads = 256, blocks = (n + threads - 1) / threads;
    std::vector<float> x(n), y(n, 1.0f);
    for (int i = 0; i < n; i++)
        x[i] = (float)(i % 64);
    float *dx, *dy;
    cudaMalloc(&dx, n * sizeof(float));
    cudaMalloc(&dy, n * sizeof(float));
    cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaStream_t s;
    cudaStreamCreate(&s);
    size_t shmem = threads * sizeof(float);

    /* 1: <<<grid, block, shared, stream>>> */
    axpy<<<blocks, threads, shmem, s>>>(2.0f, dx, dy, n);
    expect_ok("chevron_four_arguments", cudaGetLastError());
    /* 2: cudaLaunchKernel */
    float a = 1.0f;
    int count = n;
    void *args[] = {&a, &dx, &dy, &count};
    expect_ok("cudaLaunchKernel", cudaLaunchKernel((const void *)axpy, dim3(blocks), dim3(threads), args, shmem, s));
    /* 3: cudaLaunchKernelEx, C form */
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(blocks);
    cfg.blockDim = dim3(threads);
    cfg.dynamicSmemBytes = shmem;
    cfg.stream = s;
    float a3 = 0.5f;
    void *args3[] = {&a3, &dx, &dy, &count};
    expect_ok("cudaLaunchKernelExC", cudaLaunchKernelExC(&cfg, (const void *)axpy, args3));
    /* 4: cudaLaunchKernelEx, C++ template with typed arguments */
    expect_ok("cudaLaunchKernelEx", cudaLaunchKernelEx(&cfg, axpy, 0.25f, (const float *)dx, dy, n));
    std::vector<float> got(n);
    expect_ok("copy_async", cudaMemcpyAsync(got.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    expect_ok("sync", cudaStreamSynchronize(s));
    int wrong = check_y(got, x, 2.0f + 1.0f + 0.5f + 0.25f);
    check_report("four_launches_in_order", wrong == 0, "%d wrong", wrong);

    expect_ok("cache_config", cudaFuncSetCacheConfig(axpy, cudaFuncCachePreferShared));
    cudaFuncAttributes attr;
    expect_ok("attributes", cudaFuncGetAttributes(&attr, axpy));
    check_report("num_regs", attr.numRegs > 0, "got %d", attr.numRegs);
    check_report("ptx_version", attr.ptxVersion > 0, "got %d", attr.ptxVersion);
    check_report("binary_version", attr.binaryVersion > 0, "got %d", attr.binaryVersion);
    check_report("max_threads_attr", attr.maxThreadsPerBlock >= threads, "got %d", attr.maxThreadsPerBlock);
    /* an invalid configuration through each API (as badlaunch.cu: cudaErrorInvalidConfiguration on a GPU,
     * cudaErrorInvalidValue accepted too) */
    cudaError_t e = cudaLaunchKernel((const void *)axpy, dim3(1), dim3(4096), args, 0, s);
    check_report("cudaLaunchKernel_too_many_threads", e == cudaErrorInvalidConfiguration || e == cudaErrorInvalidValue,
                 "got %s", cudaGetErrorName(e));
    cfg.blockDim = dim3(4096);
    e = cudaLaunchKernelExC(&cfg, (const void *)axpy, args3);
    check_report("cudaLaunchKernelEx_too_many_threads", e == cudaErrorInvalidConfiguration || e == cudaErrorInvalidValue,
                 "got %s", cudaGetErrorName(e));
    (void)cudaGetLastError();
    expect_ok("still_works_sync", cudaStreamSynchronize(s));
    cudaStreamDestroy(s);
    cudaFree(dx);
    cudaFree(dy);
    return check_end();
}
