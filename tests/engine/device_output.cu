/* device_output.cu: device printf and assert through libbf.so and the worker, with the runtime on
 * top (tests/engine/test_engine_kernels.py checks stdout and stderr exactly). Modes:
 *   printf  host and device lines interleaved at the flush points (synchronisation, reset), and a
 *           last kernel whose output only the exit flushes;
 *   assert  a failed device assert: cudaErrorAssert at the synchronisation, sticky for every later
 *           call, launches included; the message on stderr; after cudaDeviceReset the device works. */
#include <cassert>
#include <cstdio>
#include <cstring>

__global__ void hello(int tag)
{
    printf("device %d: thread %d\n", tag, (int)threadIdx.x);
}

__global__ void check(const int *v)
{
    assert(v[threadIdx.x] != 3);
}

static int printf_mode(void)
{
    printf("host: first\n");
    hello<<<1, 2>>>(1);
    printf("host: launched (no output yet: %d)\n", (int)cudaGetLastError());
    cudaDeviceSynchronize();
    printf("host: synchronized\n");
    hello<<<1, 1>>>(2);
    cudaDeviceReset();
    printf("host: reset\n");
    hello<<<1, 1>>>(3);
    printf("host: last line before exit\n");
    return 0;
}

static int assert_mode(void)
{
    int h[4] = {0, 1, 2, 3}, *d;
    cudaMalloc(&d, sizeof(h));
    cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice);
    check<<<1, 4>>>(d);
    printf("launch %d\n", (int)cudaGetLastError());
    printf("sync %d\n", (int)cudaDeviceSynchronize());
    check<<<1, 4>>>(d);
    printf("launch_after %d\n", (int)cudaGetLastError());
    printf("memset_after %d\n", (int)cudaMemsetAsync(d, 0, sizeof(h)));
    printf("reset %d\n", (int)cudaDeviceReset());
    (void)cudaGetLastError();
    cudaMalloc(&d, sizeof(h));
    cudaMemset(d, 0, sizeof(h));
    check<<<1, 4>>>(d);
    printf("launch_after_reset %d\n", (int)cudaGetLastError());
    printf("sync_after_reset %d\n", (int)cudaDeviceSynchronize());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "assert") == 0)
        return assert_mode();
    return printf_mode();
}
