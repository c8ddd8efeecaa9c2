/* static_kernels.cu: kernels with internal linkage and in namespaces: a static __global__, kernels in
 * an anonymous namespace (one templated), a kernel in a named namespace with the same name as the
 * anonymous one, overloaded kernels, a static __device__ variable; launched with <<<>>> and with
 * cudaLaunchKernel; against the host. */
#include "check.h"

#include <vector>

static __device__ int s_calls;

static __global__ void static_kernel(int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = i * 2 + 1;
    if (i == 0)
        atomicAdd(&s_calls, 1);
}

namespace {
__global__ void worker(int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = -i;
    if (i == 0)
        atomicAdd(&s_calls, 10);
}

template <int K>
__global__ void times_k(int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] *= K;
}
} // namespace

namespace named {
__global__ void worker(int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = i * i;
    if (i == 0)
        atomicAdd(&s_calls, 100);
}
} // namespace named

__global__ void overloaded(int *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = 5;
}
__global__ void overloaded(int *out, int n, int value)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = value;
}

static bool all_equal(const std::vector<int> &got, int (*want)(int))
{
    for (size_t i = 0; i < got.size(); i++)
        if (got[i] != want((int)i))
            return false;
    return true;
}

int main(void)
{
    check_begin("static_kernels");
    const int n = 777;
    int *d;
    cudaMalloc(&d, n * sizeof(int));
    std::vector<int> got(n);
    int zero = 0;
    expect_ok("reset_calls", cudaMemcpyToSymbol(s_calls, &zero, sizeof(int)));

    static_kernel<<<(n + 127) / 128, 128>>>(d, n);
    expect_ok("static_launch", cudaGetLastError());
    cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    check_report("static_kernel", all_equal(got, [](int i) { return i * 2 + 1; }), "wrong values");

    worker<<<(n + 127) / 128, 128>>>(d, n);
    expect_ok("anonymous_launch", cudaGetLastError());
    cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    check_report("anonymous_namespace", all_equal(got, [](int i) { return -i; }), "wrong values");

    times_k<3><<<(n + 127) / 128, 128>>>(d, n);
    times_k<-2><<<(n + 127) / 128, 128>>>(d, n);
    cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    check_report("anonymous_template", all_equal(got, [](int i) { return i * 6; }), "wrong values");

    named::worker<<<(n + 127) / 128, 128>>>(d, n);
    cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    check_report("named_namespace_same_name", all_equal(got, [](int i) { return i * i; }), "wrong values");

    /* cudaLaunchKernel with an argument array, on the static kernel and the anonymous one */
    int count = n;
    void *args[] = {&d, &count};
    expect_ok("launch_api_static", cudaLaunchKernel((const void *)static_kernel, dim3((n + 63) / 64), dim3(64), args, 0, 0));
    cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    check_report("launch_api_static_values", all_equal(got, [](int i) { return i * 2 + 1; }), "wrong values");
    expect_ok("launch_api_anonymous", cudaLaunchKernel((const void *)worker, dim3((n + 63) / 64), dim3(64), args, 0, 0));
    cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    check_report("launch_api_anonymous_values", all_equal(got, [](int i) { return -i; }), "wrong values");

    void (*one)(int *, int) = overloaded;
    void (*two)(int *, int, int) = overloaded;
    one<<<(n + 127) / 128, 128>>>(d, n);
    cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    check_report("overload_two_params", all_equal(got, [](int) { return 5; }), "wrong values");
    two<<<(n + 127) / 128, 128>>>(d, n, -9);
    cudaMemcpy(got.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost);
    check_report("overload_three_params", all_equal(got, [](int) { return -9; }), "wrong values");

    int calls = 0;
    expect_ok("read_calls", cudaMemcpyFromSymbol(&calls, s_calls, sizeof(int)));
    expect_i64("static_device_variable", calls, 1 + 10 + 100 + 1 + 10);
    cudaFuncAttributes attr;
    expect_ok("attributes_static", cudaFuncGetAttributes(&attr, static_kernel));
    expect_ok("attributes_anonymous", cudaFuncGetAttributes(&attr, worker));
    expect_ok("attributes_named", cudaFuncGetAttributes(&attr, named::worker));
    cudaFree(d);
    return check_end();
}
