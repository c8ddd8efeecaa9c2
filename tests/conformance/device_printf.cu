/* device_printf.cu: printf in kernels. The program checks printf's return values (the number of
 * arguments); test_device_output.py checks its whole stdout: host lines before and after each flush
 * point (cudaDeviceSynchronize, a blocking cudaMemcpy, cudaStreamSynchronize) with the device lines
 * exactly between them, in order, with the formats %d %u %x %X %o %ld %lld %llu %f %.3f %e %g %10.2f
 * %-10.2f %c %s %.3s %5d %-5d %05d %%. */
#include "check.h"

__device__ void plain_line(int *ret)
{
    *ret = printf("device: plain line from a device function\n");
}

__global__ void formats(int *ret, int neg, unsigned big, float f, double d, const char c)
{
    ret[0] = printf("device: int %d unsigned %u hex %x HEX %X octal %o\n", neg, big, 0xbeef, 0xbeef, 8);
    ret[1] = printf("device: long %ld unsigned long long %llu\n", -1234567890123L, ~0ull);
    ret[2] = printf("device: float %f %.3f %e %g [%10.2f] [%-10.2f]\n", f, 1.0f / 3.0f, 1234.5, 0.0001, 2.5f, 2.5f);
    ret[3] = printf("device: char %c string %s %.3s [%5d] [%-5d] [%05d] 100%%\n", c, "hello", "abcdef", 42, 42, 42);
    ret[4] = printf("device: double %.15f\n", d);
    plain_line(&ret[5]);
}

__global__ void per_thread(int *ret)
{
    ret[blockIdx.x * blockDim.x + threadIdx.x] =
        printf("device: block %d thread %d\n", (int)blockIdx.x, (int)threadIdx.x);
}

__global__ void loop(int count)
{
    for (int i = 0; i < count; i++)
        printf("device: loop %d of %d\n", i, count);
}

int main(void)
{
    check_begin("device_printf");
    int *d_ret;
    cudaMalloc(&d_ret, 16 * sizeof(int));
    printf("host: before any kernel\n");
    formats<<<1, 1>>>(d_ret, -42, 4000000000u, 3.5f, 3.141592653589793, 'x');
    cudaError_t sync = cudaDeviceSynchronize();
    printf("host: after synchronize\n");
    expect_ok("synchronize", sync);
    int ret[16];
    cudaMemcpy(ret, d_ret, sizeof(ret), cudaMemcpyDeviceToHost);
    const int want[6] = {5, 2, 6, 6, 1, 0};
    for (int k = 0; k < 6; k++) {
        char name[32];
        snprintf(name, sizeof(name), "printf_returns_%d", k);
        expect_i64(name, ret[k], want[k]);
    }

    per_thread<<<2, 3>>>(d_ret);
    cudaError_t copy = cudaMemcpy(ret, d_ret, 6 * sizeof(int), cudaMemcpyDeviceToHost);
    printf("host: after copy\n");
    expect_ok("copy", copy);
    int wrong = 0;
    for (int k = 0; k < 6; k++)
        wrong += ret[k] != 2;
    check_report("per_thread_returns", wrong == 0, "%d wrong", wrong);

    cudaStream_t s;
    cudaStreamCreate(&s);
    loop<<<1, 1, 0, s>>>(3);
    cudaError_t ssync = cudaStreamSynchronize(s);
    printf("host: after stream synchronize\n");
    expect_ok("stream_synchronize", ssync);
    cudaStreamDestroy(s);
    cudaFree(d_ret);
    return check_end();
}
