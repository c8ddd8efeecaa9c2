/* templates.cu: one kernel template instantiated for int, unsigned char, long long, float, double and
 * a user struct; non-type template parameters (unrolled by the compiler); a functor and a lambda
 * passed as template arguments; a variadic template; all against the host. */
#include "check.h"

#include <vector>

struct vec3 {
    float x, y, z;
    __host__ __device__ vec3 operator+(const vec3 &o) const { return {x + o.x, y + o.y, z + o.z}; }
    __host__ __device__ vec3 operator*(float s) const { return {x * s, y * s, z * s}; }
    __host__ __device__ bool operator==(const vec3 &o) const { return x == o.x && y == o.y && z == o.z; }
};

template <typename T>
__host__ __device__ T scale_add(T a, T b)
{
    return a * (T)3 + b;
}
template <>
__host__ __device__ vec3 scale_add<vec3>(vec3 a, vec3 b)
{
    return a * 3.0f + b;
}

template <typename T>
__global__ void axpb(const T *a, const T *b, T *out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = scale_add(a[i], b[i]);
}

/* N consecutive elements per thread, N known at compile time. */
template <typename T, int N>
__global__ void sum_chunks(const T *in, T *out, int chunks)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= chunks)
        return;
    T s = 0;
#pragma unroll
    for (int k = 0; k < N; k++)
        s += in[c * N + k];
    out[c] = s;
}

struct clamp_op {
    int lo, hi;
    __device__ int operator()(int v) const { return v < lo ? lo : v > hi ? hi : v; }
};

template <typename F>
__global__ void transform(const int *in, int *out, int n, F f)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = f(in[i]);
}

template <typename T>
__device__ T sum_all(T v)
{
    return v;
}
template <typename T, typename... Rest>
__device__ T sum_all(T v, Rest... rest)
{
    return v + sum_all<T>(rest...);
}

__global__ void variadic(long long *out, int a, short b, long long c, char d)
{
    out[0] = sum_all<long long>(a, b, c, d);
    out[1] = sum_all<long long>(a);
}

/* A lambda defined in device code (no --extended-lambda needed). */
__global__ void with_lambda(const float *in, float *out, int n, float k)
{
    auto poly = [k](float x) { return (x * k + 1.0f) * x; };
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = poly(in[i]);
}

template <typename T>
static void check_axpb(const char *type)
{
    const int n = 1000;
    std::vector<T> a(n), b(n), want(n), got(n);
    for (int i = 0; i < n; i++) {
        a[i] = (T)(i % 50);
        b[i] = (T)(i % 7);
        want[i] = scale_add(a[i], b[i]);
    }
    T *da, *db, *dout;
    cudaMalloc(&da, n * sizeof(T));
    cudaMalloc(&db, n * sizeof(T));
    cudaMalloc(&dout, n * sizeof(T));
    cudaMemcpy(da, a.data(), n * sizeof(T), cudaMemcpyHostToDevice);
    cudaMemcpy(db, b.data(), n * sizeof(T), cudaMemcpyHostToDevice);
    axpb<T><<<(n + 127) / 128, 128>>>(da, db, dout, n);
    cudaMemcpy(got.data(), dout, n * sizeof(T), cudaMemcpyDeviceToHost);
    char name[64];
    snprintf(name, sizeof(name), "axpb_%s", type);
    expect_bytes(name, got.data(), want.data(), n * sizeof(T));
    cudaFree(da);
    cudaFree(db);
    cudaFree(dout);
}

template <typename T, int N>
static void check_chunks(const char *type)
{
    const int chunks = 300;
    std::vector<T> in(chunks * N), want(chunks), got(chunks);
    for (int i = 0; i < chunks * N; i++)
        in[i] = (T)(i % 13);
    for (int c = 0; c < chunks; c++) {
        T s = 0;
        for (int k = 0; k < N; k++)
            s += in[c * N + k];
        want[c] = s;
    }
    T *din, *dout;
    cudaMalloc(&din, in.size() * sizeof(T));
    cudaMalloc(&dout, chunks * sizeof(T));
    cudaMemcpy(din, in.data(), in.size() * sizeof(T), cudaMemcpyHostToDevice);
    sum_chunks<T, N><<<(chunks + 63) / 64, 64>>>(din, dout, chunks);
    cudaMemcpy(got.data(), dout, chunks * sizeof(T), cudaMemcpyDeviceToHost);
    char name[64];
    snprintf(name, sizeof(name), "chunks_%s_%d", type, N);
    expect_bytes(name, got.data(), want.data(), chunks * sizeof(T));
    cudaFree(din);
    cudaFree(dout);
}

int main(void)
{
    check_begin("templates");
    check_axpb<int>("int");
    check_axpb<unsigned char>("uchar");
    check_axpb<long long>("longlong");
    check_axpb<float>("float");
    check_axpb<double>("double");
    {
        const int n = 100;
        std::vector<vec3> a(n), b(n), want(n), got(n);
        for (int i = 0; i < n; i++) {
            a[i] = {(float)i, (float)-i, 0.5f * i};
            b[i] = {1.0f, 2.0f, (float)(i % 3)};
            want[i] = scale_add(a[i], b[i]);
        }
        vec3 *da, *db, *dout;
        cudaMalloc(&da, n * sizeof(vec3));
        cudaMalloc(&db, n * sizeof(vec3));
        cudaMalloc(&dout, n * sizeof(vec3));
        cudaMemcpy(da, a.data(), n * sizeof(vec3), cudaMemcpyHostToDevice);
        cudaMemcpy(db, b.data(), n * sizeof(vec3), cudaMemcpyHostToDevice);
        axpb<vec3><<<1, 128>>>(da, db, dout, n);
        cudaMemcpy(got.data(), dout, n * sizeof(vec3), cudaMemcpyDeviceToHost);
        int wrong = 0;
        for (int i = 0; i < n; i++)
            wrong += !(got[i] == want[i]);
        check_report("axpb_struct", wrong == 0, "%d wrong", wrong);
        cudaFree(da);
        cudaFree(db);
        cudaFree(dout);
    }
    check_chunks<int, 1>("int");
    check_chunks<int, 4>("int");
    check_chunks<int, 33>("int");
    check_chunks<double, 8>("double");
    check_chunks<unsigned short, 16>("ushort");

    const int n = 513;
    std::vector<int> in(n), got(n);
    for (int i = 0; i < n; i++)
        in[i] = i - 256;
    int *din, *dout;
    cudaMalloc(&din, n * sizeof(int));
    cudaMalloc(&dout, n * sizeof(int));
    cudaMemcpy(din, in.data(), n * sizeof(int), cudaMemcpyHostToDevice);
    transform<<<(n + 255) / 256, 256>>>(din, dout, n, clamp_op{-100, 50});
    cudaMemcpy(got.data(), dout, n * sizeof(int), cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int i = 0; i < n; i++)
        wrong += got[i] != (in[i] < -100 ? -100 : in[i] > 50 ? 50 : in[i]);
    check_report("functor", wrong == 0, "%d wrong", wrong);

    long long *dll, vals[2];
    cudaMalloc(&dll, sizeof(vals));
    variadic<<<1, 1>>>(dll, 1000000, -300, 1LL << 40, 'z');
    cudaMemcpy(vals, dll, sizeof(vals), cudaMemcpyDeviceToHost);
    expect_i64("variadic", vals[0], 1000000LL - 300 + (1LL << 40) + 'z');
    expect_i64("variadic_one", vals[1], 1000000);

    std::vector<float> fin(n), fgot(n);
    for (int i = 0; i < n; i++)
        fin[i] = (float)(i % 17) * 0.25f;
    float *dfin, *dfout;
    cudaMalloc(&dfin, n * sizeof(float));
    cudaMalloc(&dfout, n * sizeof(float));
    cudaMemcpy(dfin, fin.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    with_lambda<<<(n + 127) / 128, 128>>>(dfin, dfout, n, 2.0f);
    cudaMemcpy(fgot.data(), dfout, n * sizeof(float), cudaMemcpyDeviceToHost);
    wrong = 0;
    for (int i = 0; i < n; i++)
        wrong += fgot[i] != (fin[i] * 2.0f + 1.0f) * fin[i];
    check_report("lambda", wrong == 0, "%d wrong", wrong);
    expect_ok("synchronize", cudaDeviceSynchronize());
    cudaFree(din);
    cudaFree(dout);
    cudaFree(dll);
    cudaFree(dfin);
    cudaFree(dfout);
    return check_end();
}
