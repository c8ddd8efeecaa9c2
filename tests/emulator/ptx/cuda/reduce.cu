// Reductions: through shared memory (dynamic extern __shared__), and with warp shuffles plus
// atomicAdd on shared and global memory (int, unsigned, float).
extern "C" __global__ void reduce_shared(const float *in, float *out, int n)
{
    extern __shared__ float sdata[];
    unsigned tid = threadIdx.x;
    unsigned i = blockIdx.x * blockDim.x * 2 + threadIdx.x;
    float v = 0.0f;
    if (i < n) v = in[i];
    if (i + blockDim.x < n) v += in[i + blockDim.x];
    sdata[tid] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) sdata[tid] += sdata[tid + s];
        __syncthreads();
    }
    if (tid == 0) out[blockIdx.x] = sdata[0];
}

extern "C" __global__ void reduce_shfl(const int *in, const float *fin, int n, int *isum, unsigned *usum, float *fsum)
{
    __shared__ int s_i;
    __shared__ unsigned s_u;
    __shared__ float s_f;
    if (threadIdx.x == 0) { s_i = 0; s_u = 0; s_f = 0.0f; }
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = i < n ? in[i] : 0;
    float f = i < n ? fin[i] : 0.0f;
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_down_sync(0xffffffffu, v, off);
        f += __shfl_xor_sync(0xffffffffu, f, off);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(&s_i, v);
        atomicAdd(&s_u, (unsigned)v);
        atomicAdd(&s_f, f);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        atomicAdd(isum, s_i);
        atomicAdd(usum, s_u);
        atomicAdd(fsum, s_f);
    }
}

// Warp-level max and ballot/popc counting, and shuffles up and by index.
extern "C" __global__ void warp_ops(const int *in, int *max_out, unsigned *count_out, int *scan_out, int *bcast_out, int threshold)
{
    int lane = threadIdx.x & 31;
    int v = in[blockIdx.x * blockDim.x + threadIdx.x];
    int m = v;
    for (int off = 16; off > 0; off >>= 1)
        m = max(m, __shfl_xor_sync(0xffffffffu, m, off));
    unsigned ballot = __ballot_sync(0xffffffffu, v > threshold);
    int scan = v;
    for (int off = 1; off < 32; off <<= 1) {
        int t = __shfl_up_sync(0xffffffffu, scan, off);
        if (lane >= off) scan += t;
    }
    int first = __shfl_sync(0xffffffffu, v, 0);
    int g = blockIdx.x * blockDim.x + threadIdx.x;
    scan_out[g] = scan;
    bcast_out[g] = first;
    if (lane == 0) {
        atomicMax(max_out, m);
        atomicAdd(count_out, __popc(ballot));
    }
}
