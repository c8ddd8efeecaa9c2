// hello_openbf: an ordinary CUDA program (nothing openbf-specific in it). It lists the devices it
// sees, allocates device memory, copies a buffer there and back, and checks the result.
// Built with plain nvcc; `bf run -- ./hello_openbf` runs it through openbf.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CHECK(call)                                                                           \
    do {                                                                                      \
        cudaError_t err_ = (call);                                                            \
        if (err_ != cudaSuccess) {                                                            \
            std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(err_));          \
            return 1;                                                                         \
        }                                                                                     \
    } while (0)

int main()
{
    int count = 0;
    CHECK(cudaGetDeviceCount(&count));
    for (int i = 0; i < count; i++) {
        cudaDeviceProp prop;
        CHECK(cudaGetDeviceProperties(&prop, i));
        std::printf("device %d: %s, compute capability %d.%d, %.1f GiB, %d multiprocessors\n", i,
                    prop.name, prop.major, prop.minor, prop.totalGlobalMem / 1073741824.0,
                    prop.multiProcessorCount);
    }

    const size_t n = 16u << 20;
    std::vector<unsigned char> host(n), back(n);
    for (size_t i = 0; i < n; i++)
        host[i] = (unsigned char)(i * 2654435761u >> 24);

    unsigned char *dev = nullptr;
    CHECK(cudaMalloc(&dev, n));
    CHECK(cudaMemcpy(dev, host.data(), n, cudaMemcpyHostToDevice));
    CHECK(cudaMemset(dev, 0x5a, 4096));
    CHECK(cudaMemcpy(back.data(), dev, n, cudaMemcpyDeviceToHost));
    CHECK(cudaDeviceSynchronize());

    size_t free_bytes = 0, total_bytes = 0;
    CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    CHECK(cudaFree(dev));

    for (size_t i = 0; i < n; i++) {
        unsigned char want = i < 4096 ? 0x5a : host[i];
        if (back[i] != want) {
            std::printf("FAILED: byte %zu is %d, expected %d\n", i, back[i], want);
            return 1;
        }
    }
    std::printf("copied 16 MiB to the device and back: %.1f MiB of %.1f MiB free during the run\n",
                free_bytes / 1048576.0, total_bytes / 1048576.0);
    std::printf("PASSED\n");
    return 0;
}
