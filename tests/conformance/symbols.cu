/* symbols.cu: __constant__ and __device__ variables reached through the symbol calls:
 * cudaMemcpyToSymbol / FromSymbol (offsets, every copy kind, the async forms on a stream),
 * cudaGetSymbolAddress / cudaGetSymbolSize, static initialisers, arrays of structs in constant
 * memory, a device variable written by one kernel and read by the next; wrong sizes fail. */
#include "check.h"

#include <vector>

struct coeffs {
    float scale;
    int offset;
    double weight;
};

__constant__ float c_table[256];
__constant__ coeffs c_coeffs[4];
__constant__ int c_initialised[4] = {10, 20, 30, 40};
__device__ int d_counter;
__device__ unsigned long long d_big[1024];
__device__ float d_initialised = 2.5f;

__global__ void use_constants(const int *idx, float *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        const coeffs &c = c_coeffs[i & 3];
        out[i] = c_table[idx[i] & 255] * c.scale + (float)(c.offset + c_initialised[i & 3]) + (float)c.weight;
    }
}

__global__ void bump_counter(int times)
{
    for (int k = 0; k < times; k++)
        atomicAdd(&d_counter, 1);
}

__global__ void read_counter(int *out)
{
    out[0] = d_counter;
    out[1] = (int)(d_initialised * 4.0f);
}

__global__ void fill_big(unsigned long long seed)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < 1024)
        d_big[i] = seed * (unsigned long long)i + 7ull;
}

int main(void)
{
    check_begin("symbols");
    float table[256];
    for (int i = 0; i < 256; i++)
        table[i] = (float)i * 0.5f;
    coeffs cs[4] = {{1.0f, 1, 0.5}, {2.0f, -3, 0.25}, {-1.0f, 100, 1.0}, {0.5f, 0, -2.0}};
    expect_ok("to_symbol_table", cudaMemcpyToSymbol(c_table, table, sizeof(table)));
    /* the structs in two pieces: [0..2) then [2..4) at an offset */
    expect_ok("to_symbol_struct_first", cudaMemcpyToSymbol(c_coeffs, cs, 2 * sizeof(coeffs)));
    expect_ok("to_symbol_struct_offset",
              cudaMemcpyToSymbol(c_coeffs, cs + 2, 2 * sizeof(coeffs), 2 * sizeof(coeffs), cudaMemcpyHostToDevice));

    const int n = 1000;
    std::vector<int> idx(n);
    for (int i = 0; i < n; i++)
        idx[i] = i * 37;
    int *d_idx;
    float *d_out;
    cudaMalloc(&d_idx, n * sizeof(int));
    cudaMalloc(&d_out, n * sizeof(float));
    cudaMemcpy(d_idx, idx.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    use_constants<<<(n + 127) / 128, 128>>>(d_idx, d_out, n);
    expect_ok("launch_constants", cudaGetLastError());
    std::vector<float> out(n);
    cudaMemcpy(out.data(), d_out, n * sizeof(float), cudaMemcpyDeviceToHost);
    const int init[4] = {10, 20, 30, 40};
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        const coeffs &c = cs[i & 3];
        float want = table[idx[i] & 255] * c.scale + (float)(c.offset + init[i & 3]) + (float)c.weight;
        wrong += out[i] != want;
    }
    check_report("constants_used", wrong == 0, "%d wrong", wrong);

    float back[256];
    expect_ok("from_symbol_table", cudaMemcpyFromSymbol(back, c_table, sizeof(back)));
    expect_bytes("table_round_trip", back, table, sizeof(table));
    int init_back[2];
    expect_ok("from_symbol_offset",
              cudaMemcpyFromSymbol(init_back, c_initialised, sizeof(init_back), 2 * sizeof(int), cudaMemcpyDeviceToHost));
    check_report("static_initialiser", init_back[0] == 30 && init_back[1] == 40, "got %d %d", init_back[0], init_back[1]);

    size_t size = 0;
    expect_ok("symbol_size_table", cudaGetSymbolSize(&size, c_table));
    expect_u64("table_size", size, sizeof(table));
    expect_ok("symbol_size_big", cudaGetSymbolSize(&size, d_big));
    expect_u64("big_size", size, 1024 * sizeof(unsigned long long));
    void *addr = NULL;
    expect_ok("symbol_address_counter", cudaGetSymbolAddress(&addr, d_counter));
    check_report("address_non_null", addr != NULL, "NULL");
    cudaPointerAttributes pa;
    expect_ok("address_attributes", cudaPointerGetAttributes(&pa, addr));
    check_report("address_is_device", pa.type == cudaMemoryTypeDevice, "type %d", (int)pa.type);

    /* the counter: set through the address with cudaMemset, bumped by kernels, read by a kernel and the symbol */
    expect_ok("memset_through_address", cudaMemset(addr, 0, sizeof(int)));
    bump_counter<<<8, 64>>>(3);
    int *d_read, read[2];
    cudaMalloc(&d_read, sizeof(read));
    read_counter<<<1, 1>>>(d_read);
    cudaMemcpy(read, d_read, sizeof(read), cudaMemcpyDeviceToHost);
    expect_i64("counter_kernel_read", read[0], 8 * 64 * 3);
    expect_i64("device_initialiser", read[1], 10);
    int counter = 0;
    expect_ok("from_symbol_counter", cudaMemcpyFromSymbol(&counter, d_counter, sizeof(int)));
    expect_i64("counter_symbol_read", counter, 8 * 64 * 3);
    int seven = 7;
    expect_ok("to_symbol_counter", cudaMemcpyToSymbol(d_counter, &seven, sizeof(int)));
    bump_counter<<<1, 1>>>(1);
    expect_ok("from_symbol_after", cudaMemcpyFromSymbol(&counter, d_counter, sizeof(int)));
    expect_i64("counter_set_then_bumped", counter, 8);

    /* async forms on a stream, and device-to-device through symbols */
    cudaStream_t s;
    cudaStreamCreate(&s);
    unsigned long long *pinned;
    cudaMallocHost(&pinned, 1024 * sizeof(unsigned long long));
    fill_big<<<4, 256, 0, s>>>(12345ull);
    expect_ok("from_symbol_async",
              cudaMemcpyFromSymbolAsync(pinned, d_big, 1024 * sizeof(unsigned long long), 0, cudaMemcpyDeviceToHost, s));
    expect_ok("stream_sync", cudaStreamSynchronize(s));
    wrong = 0;
    for (int i = 0; i < 1024; i++)
        wrong += pinned[i] != 12345ull * (unsigned long long)i + 7ull;
    check_report("async_values", wrong == 0, "%d wrong", wrong);
    for (int i = 0; i < 1024; i++)
        pinned[i] = ~(unsigned long long)i;
    expect_ok("to_symbol_async",
              cudaMemcpyToSymbolAsync(d_big, pinned + 512, 512 * sizeof(unsigned long long), 0, cudaMemcpyHostToDevice, s));
    unsigned long long *d_copy;
    cudaMalloc(&d_copy, 1024 * sizeof(unsigned long long));
    expect_ok("from_symbol_dtod", cudaMemcpyFromSymbolAsync(d_copy, d_big, 1024 * sizeof(unsigned long long), 0,
                                                            cudaMemcpyDeviceToDevice, s));
    std::vector<unsigned long long> copy(1024);
    expect_ok("stream_sync_2", cudaStreamSynchronize(s));
    cudaMemcpy(copy.data(), d_copy, 1024 * sizeof(unsigned long long), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (int i = 0; i < 1024; i++)
        wrong += copy[i] != (i < 512 ? ~(unsigned long long)(i + 512) : 12345ull * (unsigned long long)i + 7ull);
    check_report("async_to_then_dtod", wrong == 0, "%d wrong", wrong);

    /* past the end of a symbol */
    expect_fail("to_symbol_too_big", cudaMemcpyToSymbol(c_table, table, sizeof(table) + 4), cudaErrorInvalidValue);
    expect_fail("from_symbol_offset_past_end",
                cudaMemcpyFromSymbol(back, c_table, 8, sizeof(table) - 4, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
    expect_ok("still_works", cudaMemcpyFromSymbol(&counter, d_counter, sizeof(int)));
    expect_i64("counter_unchanged", counter, 8);
    cudaFreeHost(pinned);
    cudaStreamDestroy(s);
    cudaFree(d_idx);
    cudaFree(d_out);
    cudaFree(d_read);
    cudaFree(d_copy);
    return check_end();
}
