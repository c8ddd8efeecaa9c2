/* memops.cu: what bf-trace times on the device besides launches (docs/trace.md): a memset, and a
 * 100 MiB host-to-device copy, which travels as two protocol messages (64 MiB each at most), so its
 * device span must run from the first part's start to the second part's end. Exits 0 when every
 * call succeeded and the copy arrived. */
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(void)
{
    const size_t n = (size_t)100 << 20;
    unsigned char *h = (unsigned char *)malloc(n), *back = (unsigned char *)malloc(4096);
    void *d = NULL;
    if (h == NULL || back == NULL || cudaMalloc(&d, n) != cudaSuccess) {
        printf("FAIL alloc\n");
        return 1;
    }
    memset(h, 0x5a, n);
    cudaError_t e1 = cudaMemset(d, 0x11, 1 << 20);
    cudaError_t e2 = cudaMemcpy(d, h, n, cudaMemcpyHostToDevice);
    cudaError_t e3 = cudaMemcpy(back, (unsigned char *)d + n - 4096, 4096, cudaMemcpyDeviceToHost);
    cudaError_t e4 = cudaDeviceSynchronize();
    int wrong = 0;
    for (int i = 0; i < 4096; i++)
        wrong += back[i] != 0x5a;
    printf("memset %d copy %d back %d sync %d wrong %d\n", (int)e1, (int)e2, (int)e3, (int)e4, wrong);
    bool ok = e1 == cudaSuccess && e2 == cudaSuccess && e3 == cudaSuccess && e4 == cudaSuccess && !wrong;
    cudaFree(d);
    free(h);
    free(back);
    return ok ? 0 : 1;
}
