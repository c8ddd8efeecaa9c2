// Warp specialisation with named barriers (inline PTX, as CUTLASS-style pipelines write them):
// per block, producer warps 2-3 copy tiles of `in` into a two-slot shared buffer and arrive at
// the slot's "full" barrier (1, 2); consumer warps 0-1 wait there, combine each value with its
// mirror in the tile and arrive at the slot's "empty" barrier (3, 4), which a producer waits at
// before it refills the slot. Every barrier counts the 4 warps (128 threads).
#define TILE 64
#define PIPE_THREADS 128

__device__ __forceinline__ void named_sync(int id, int threads)
{
    asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

__device__ __forceinline__ void named_arrive(int id, int threads)
{
    asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

extern "C" __global__ void namedbar_pipeline(const float *in, float *out, int tiles, float scale)
{
    __shared__ float buf[2][TILE];
    int t = threadIdx.x;
    const float *src = in + (size_t)blockIdx.x * tiles * TILE;
    float *dst = out + (size_t)blockIdx.x * tiles * TILE;
    if (t >= TILE) {
        int p = t - TILE;
        for (int i = 0; i < tiles; i++) {
            int s = i & 1;
            if (i >= 2)
                named_sync(3 + s, PIPE_THREADS);
            buf[s][p] = src[i * TILE + p];
            named_arrive(1 + s, PIPE_THREADS);
        }
    } else {
        for (int i = 0; i < tiles; i++) {
            int s = i & 1;
            named_sync(1 + s, PIPE_THREADS);
            dst[i * TILE + t] = buf[s][t] * scale + buf[s][TILE - 1 - t];
            if (i + 2 < tiles)
                named_arrive(3 + s, PIPE_THREADS);
        }
    }
    // Everyone meets at barrier 0 with an explicit count of the whole block before the last
    // write, which reads what the other half wrote: out of block b's first tile, thread 0 adds
    // producer 0's input to the result.
    __syncthreads();
    asm volatile("bar.sync 0, %0;" ::"r"(PIPE_THREADS) : "memory");
    if (t == 0)
        dst[0] += buf[(tiles - 1) & 1][0];
}
