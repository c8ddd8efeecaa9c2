/*
 * test_ptx_kernels: kernels nvcc compiled (nvcc -ptx -arch=compute_75, tests/emulator/ptx/cuda/)
 * run on the PTX engine against results computed here; plus the engine's error paths: an
 * out-of-bounds read, an unknown instruction, malformed PTX, parameter layout, module globals.
 *
 * Usage: test_ptx_kernels [DIR]   (DIR holds the .ptx files; default: the source tree's)
 * Prints "PASS name" / "FAIL name: why" per check; exits 1 if any failed.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptx_host.h"

#ifndef BF_PTX_CUDA_DIR
#define BF_PTX_CUDA_DIR "tests/emulator/ptx/cuda"
#endif

static const char *dir = BF_PTX_CUDA_DIR;
static int failures;

#define CHECK(name, cond, ...)                                                                    \
    do {                                                                                          \
        if (cond) {                                                                               \
            printf("PASS %s\n", name);                                                            \
        } else {                                                                                  \
            printf("FAIL %s: ", name);                                                            \
            printf(__VA_ARGS__);                                                                  \
            printf("\n");                                                                         \
            failures++;                                                                           \
        }                                                                                         \
    } while (0)

static bf_ptx_module_t *load(const char *file)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    size_t len;
    char *text = ptx_host_read_file(path, &len);
    if (!text) {
        printf("FAIL load %s: cannot read\n", path);
        exit(1);
    }
    char err[256];
    bf_ptx_module_t *m;
    bf_status_t status = bf_ptx_module_load(text, len, &m, err, sizeof(err));
    free(text);
    if (status != BF_OK) {
        printf("FAIL load %s: %s\n", path, err);
        exit(1);
    }
    return m;
}

static const bf_ptx_kernel_t *kernel(const bf_ptx_module_t *m, const char *name)
{
    const bf_ptx_kernel_t *k = bf_ptx_module_find_kernel(m, name);
    if (!k) {
        printf("FAIL kernel %s: not found\n", name);
        exit(1);
    }
    return k;
}

/* Lays out arguments (pointers to values) as the kernel's parameters say. */
static void pack(const bf_ptx_kernel_t *k, uint8_t *buf, const void *const *args)
{
    for (size_t i = 0; i < bf_ptx_kernel_param_count(k); i++) {
        size_t off, size;
        bf_ptx_kernel_param(k, i, &off, &size);
        memcpy(buf + off, args[i], size);
    }
}

static bf_status_t launch(const bf_ptx_kernel_t *k, ptx_host_memory_t *mem, unsigned gx, unsigned gy, unsigned bx,
                          unsigned by, size_t shared, int threads, const void *const *args, bf_ptx_fault_t *fault)
{
    uint8_t params[256];
    pack(k, params, args);
    bf_ptx_memory_t memory = ptx_host_memory(mem);
    bf_ptx_launch_t l = {
        .grid = {gx, gy, 1}, .block = {bx, by, 1}, .dynamic_shared_bytes = shared, .params = params,
        .params_size = bf_ptx_kernel_param_bytes(k), .memory = &memory, .worker_threads = threads,
    };
    bf_ptx_fault_t dummy;
    return bf_ptx_launch(k, &l, fault ? fault : &dummy);
}

static void *dev(ptx_host_memory_t *mem, size_t bytes, uint64_t *addr_p)
{
    void *p = calloc(1, bytes);
    *addr_p = ptx_host_add(mem, p, bytes);
    return p;
}

static void test_vector(void)
{
    bf_ptx_module_t *m = load("vector_add.ptx");
    for (int threads = 1; threads <= 4; threads += 3) {
        ptx_host_memory_t mem = {0};
        int n = 100003;
        uint64_t da, db, dc;
        float *a = dev(&mem, n * 4, &da), *b = dev(&mem, n * 4, &db), *c = dev(&mem, n * 4, &dc);
        for (int i = 0; i < n; i++) {
            a[i] = (float)i * 0.5f;
            b[i] = 1.0f / (float)(i + 1);
        }
        bf_status_t s = launch(kernel(m, "vector_add"), &mem, (n + 255) / 256, 1, 256, 1, 0, threads,
                               (const void *[]){&da, &db, &dc, &n}, NULL);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++)
            if (c[i] != a[i] + b[i])
                bad = i;
        CHECK(threads == 1 ? "vector_add" : "vector_add threads=4", s == BF_OK && bad < 0, "status %s, first bad %d",
              bf_status_name(s), bad);
        free(a);
        free(b);
        free(c);
    }
    {
        ptx_host_memory_t mem = {0};
        int n = 50000;
        float alpha = 1.5f;
        uint64_t dx, dy;
        float *x = dev(&mem, n * 4, &dx), *y = dev(&mem, n * 4, &dy), *want = malloc(n * 4);
        for (int i = 0; i < n; i++) {
            x[i] = (float)(i % 101) * 0.25f;
            y[i] = (float)i;
            want[i] = fmaf(alpha, x[i], y[i]);
        }
        bf_status_t s = launch(kernel(m, "saxpy"), &mem, 24, 1, 128, 1, 0, 2, (const void *[]){&n, &alpha, &dx, &dy},
                               NULL);
        CHECK("saxpy", s == BF_OK && memcmp(y, want, n * 4) == 0, "status %s", bf_status_name(s));
        free(x);
        free(y);
        free(want);
    }
    {
        ptx_host_memory_t mem = {0};
        int n = 1024, iterations = 300;
        uint64_t dout;
        float *out = dev(&mem, n * 4, &dout);
        bf_status_t s = launch(kernel(m, "fma_loop"), &mem, n / 128, 1, 128, 1, 0, 1, (const void *[]){&dout, &iterations},
                               NULL);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++) {
            float xv = (float)i * 1e-6f, yv = 1.0f;
            for (int k = 0; k < iterations; k++)
                yv = fmaf(yv, 0.999999f, xv);
            if (out[i] != yv)
                bad = i;
        }
        CHECK("fma_loop", s == BF_OK && bad < 0, "status %s, first bad %d", bf_status_name(s), bad);
        free(out);
    }
    {
        /* 64 MiB past a 1 MiB allocation: the launch stops with the address and the line. */
        ptx_host_memory_t mem = {0};
        uint64_t da, dout;
        float *a = dev(&mem, 1 << 20, &da), *out = dev(&mem, 32 * 4, &dout);
        long long offset = (64ll << 20) / 4;
        bf_ptx_fault_t fault;
        memset(&fault, 0, sizeof(fault));
        bf_status_t s = launch(kernel(m, "read_far"), &mem, 1, 1, 32, 1, 0, 1, (const void *[]){&da, &dout, &offset},
                               &fault);
        /* The line of the kernel's global load in the file. */
        char path[1024];
        snprintf(path, sizeof(path), "%s/vector_add.ptx", dir);
        size_t len;
        char *text = ptx_host_read_file(path, &len);
        int line = 1, want_line = 0, in_kernel = 0;
        for (char *p = text; p && *p; p++) {
            if (*p == '\n') {
                line++;
                continue;
            }
            if (p == text || p[-1] == '\n') {
                if (strncmp(p, ".visible .entry read_far", 24) == 0)
                    in_kernel = 1;
                if (in_kernel && !want_line && strstr(p, "ld.global.f32") && strstr(p, "ld.global.f32") < strchr(p, '\n'))
                    want_line = line;
            }
        }
        free(text);
        CHECK("out-of-bounds read faults", s == BF_BAD_ADDRESS && fault.address == da + (64ull << 20) &&
                                               fault.ptx_line == want_line && fault.kernel &&
                                               strcmp(fault.kernel, "read_far") == 0 &&
                                               strstr(fault.message, "load") && strstr(fault.message, "global") &&
                                               strstr(fault.message, "4 bytes"),
              "status %s, address 0x%llx (want 0x%llx), line %d (want %d), message '%s'", bf_status_name(s),
              (unsigned long long)fault.address, (unsigned long long)(da + (64ull << 20)), fault.ptx_line, want_line,
              fault.message);
        free(a);
        free(out);
    }
    bf_ptx_module_free(m);
}

/* Launches from several threads at once, each with its own workers, share one module. */
typedef struct {
    const bf_ptx_kernel_t *k;
    int ok;
} concurrent_t;

static void *concurrent_main(void *arg)
{
    concurrent_t *c = arg;
    ptx_host_memory_t mem = {0};
    int n = 20000;
    uint64_t da, db, dc;
    float *a = dev(&mem, n * 4, &da), *b = dev(&mem, n * 4, &db), *out = dev(&mem, n * 4, &dc);
    for (int i = 0; i < n; i++) {
        a[i] = (float)i;
        b[i] = (float)(2 * i);
    }
    c->ok = 1;
    for (int r = 0; r < 5 && c->ok; r++) {
        bf_status_t s = launch(c->k, &mem, (n + 127) / 128, 1, 128, 1, 0, 2, (const void *[]){&da, &db, &dc, &n}, NULL);
        for (int i = 0; i < n && c->ok; i++)
            c->ok = s == BF_OK && out[i] == (float)(3 * i);
        memset(out, 0, n * 4);
    }
    free(a);
    free(b);
    free(out);
    return NULL;
}

static void test_concurrent(void)
{
    bf_ptx_module_t *m = load("vector_add.ptx");
    pthread_t threads[4];
    concurrent_t c[4];
    for (int i = 0; i < 4; i++) {
        c[i].k = kernel(m, "vector_add");
        c[i].ok = 0;
        pthread_create(&threads[i], NULL, concurrent_main, &c[i]);
    }
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        ok = ok && c[i].ok;
    }
    CHECK("concurrent launches", ok, "a launch gave a wrong result");
    bf_ptx_module_free(m);
}

static void test_matmul(void)
{
    bf_ptx_module_t *m = load("matmul.ptx");
    const int sizes[] = {100, 64};
    for (int tile = 16; tile <= 32; tile *= 2) {
        for (int si = 0; si < 2; si++) {
            int n = sizes[si];
            ptx_host_memory_t mem = {0};
            uint64_t da, db, dc;
            float *A = dev(&mem, n * n * 4, &da), *B = dev(&mem, n * n * 4, &db), *C = dev(&mem, n * n * 4, &dc);
            for (int i = 0; i < n * n; i++) {
                A[i] = (float)((i * 7) % 13) - 6.0f;
                B[i] = (float)((i * 5) % 11) * 0.5f;
            }
            unsigned g = (unsigned)((n + tile - 1) / tile);
            bf_status_t s = launch(kernel(m, tile == 16 ? "matmul16" : "matmul32"), &mem, g, g, (unsigned)tile,
                                   (unsigned)tile, 0, 2, (const void *[]){&da, &db, &dc, &n}, NULL);
            int bad = -1;
            for (int r = 0; r < n && bad < 0; r++)
                for (int c = 0; c < n && bad < 0; c++) {
                    float acc = 0.0f;
                    for (int k = 0; k < n; k++)
                        acc = fmaf(A[r * n + k], B[k * n + c], acc);
                    if (C[r * n + c] != acc)
                        bad = r * n + c;
                }
            char name[64];
            snprintf(name, sizeof(name), "matmul%d n=%d", tile, n);
            CHECK(name, s == BF_OK && bad < 0, "status %s, first bad %d", bf_status_name(s), bad);
            free(A);
            free(B);
            free(C);
        }
    }
    bf_ptx_module_free(m);
}

static void test_reduce(void)
{
    bf_ptx_module_t *m = load("reduce.ptx");
    {
        ptx_host_memory_t mem = {0};
        int n = 100000;
        unsigned bs = 256, blocks = (unsigned)((n + 2 * bs - 1) / (2 * bs));
        uint64_t din, dout;
        float *in = dev(&mem, n * 4, &din), *out = dev(&mem, blocks * 4, &dout);
        for (int i = 0; i < n; i++)
            in[i] = (float)(i % 17) * 0.125f + 1.0f / (float)(1 + i % 5);
        bf_status_t s = launch(kernel(m, "reduce_shared"), &mem, blocks, 1, bs, 1, bs * 4, 2,
                               (const void *[]){&din, &dout, &n}, NULL);
        int bad = -1;
        float sdata[256];
        for (unsigned b = 0; b < blocks && bad < 0; b++) {
            for (unsigned t = 0; t < bs; t++) {
                unsigned i = b * bs * 2 + t;
                float v = 0.0f;
                if (i < (unsigned)n)
                    v = in[i];
                if (i + bs < (unsigned)n)
                    v += in[i + bs];
                sdata[t] = v;
            }
            for (unsigned st = bs / 2; st > 0; st >>= 1)
                for (unsigned t = 0; t < st; t++)
                    sdata[t] += sdata[t + st];
            if (out[b] != sdata[0])
                bad = (int)b;
        }
        CHECK("reduce_shared", s == BF_OK && bad < 0, "status %s, first bad block %d", bf_status_name(s), bad);
        free(in);
        free(out);
    }
    {
        ptx_host_memory_t mem = {0};
        int n = 100000;
        uint64_t din, dfin, disum, dusum, dfsum;
        int *in = dev(&mem, n * 4, &din);
        float *fin = dev(&mem, n * 4, &dfin);
        int *isum = dev(&mem, 4, &disum);
        unsigned *usum = dev(&mem, 4, &dusum);
        float *fsum = dev(&mem, 4, &dfsum);
        long long wi = 0;
        double wf = 0;
        for (int i = 0; i < n; i++) {
            in[i] = (i % 3 == 0) ? -(i % 1000) : i % 777;
            fin[i] = (float)(i % 7);
            wi += in[i];
            wf += fin[i];
        }
        bf_status_t s = launch(kernel(m, "reduce_shfl"), &mem, (unsigned)((n + 255) / 256), 1, 256, 1, 0, 4,
                               (const void *[]){&din, &dfin, &n, &disum, &dusum, &dfsum}, NULL);
        CHECK("reduce_shfl int", s == BF_OK && *isum == (int)wi, "status %s, %d, expected %lld", bf_status_name(s), *isum, wi);
        CHECK("reduce_shfl unsigned", *usum == (unsigned)wi, "%u, expected %u", *usum, (unsigned)wi);
        CHECK("reduce_shfl float", *fsum == (float)wf, "%f, expected %f", *fsum, wf);
        free(in);
        free(fin);
        free(isum);
        free(usum);
        free(fsum);
    }
    {
        ptx_host_memory_t mem = {0};
        int n = 4 * 64, threshold = 40;
        uint64_t din, dmax, dcount, dscan, dbcast;
        int *in = dev(&mem, n * 4, &din), *mx = dev(&mem, 4, &dmax), *scan = dev(&mem, n * 4, &dscan);
        int *bcast = dev(&mem, n * 4, &dbcast);
        unsigned *count = dev(&mem, 4, &dcount);
        *mx = -1000;
        int wmax = -1000;
        unsigned wcount = 0;
        for (int i = 0; i < n; i++) {
            in[i] = (i * 37) % 101 - 20;
            wmax = in[i] > wmax ? in[i] : wmax;
            wcount += in[i] > threshold;
        }
        bf_status_t s = launch(kernel(m, "warp_ops"), &mem, 4, 1, 64, 1, 0, 1,
                               (const void *[]){&din, &dmax, &dcount, &dscan, &dbcast, &threshold}, NULL);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++) {
            int base = i & ~31, sum = 0;
            for (int j = base; j <= i; j++)
                sum += in[j];
            if (scan[i] != sum || bcast[i] != in[base])
                bad = i;
        }
        CHECK("warp_ops", s == BF_OK && *mx == wmax && *count == wcount && bad < 0,
              "status %s, max %d (%d), count %u (%u), first bad %d", bf_status_name(s), *mx, wmax, *count, wcount, bad);
        free(in);
        free(mx);
        free(scan);
        free(bcast);
        free(count);
    }
    bf_ptx_module_free(m);
}

static float poly(float x, int k)
{
    float r = 0.0f;
    for (int i = 0; i < k; i++)
        r = fmaf(r, x, (float)(i + 1));
    return r;
}

/* Named barriers from CUDA (cuda/namedbar.cu): warp-specialised producer/consumer pipeline over a
 * two-slot shared buffer with bar.arrive/bar.sync on barriers 1-4, then bar.sync 0 with a count. */
static void test_namedbar(void)
{
    bf_ptx_module_t *m = load("namedbar.ptx");
    enum { TILE = 64 };
    for (int tiles = 1; tiles <= 7; tiles += 3) {
        ptx_host_memory_t mem = {0};
        unsigned blocks = 3;
        size_t n = (size_t)blocks * (size_t)tiles * TILE;
        float scale = 1.5f;
        uint64_t din, dout;
        float *in = dev(&mem, n * 4, &din), *out = dev(&mem, n * 4, &dout);
        for (size_t i = 0; i < n; i++)
            in[i] = (float)(i % 23) * 0.25f - 2.0f;
        bf_status_t s = launch(kernel(m, "namedbar_pipeline"), &mem, blocks, 1, 128, 1, 0, 2,
                               (const void *[]){&din, &dout, &tiles, &scale}, NULL);
        long bad = -1;
        for (size_t b = 0; b < blocks && bad < 0; b++) {
            const float *src = in + b * (size_t)tiles * TILE;
            const float *dst = out + b * (size_t)tiles * TILE;
            for (int i = 0; i < tiles && bad < 0; i++)
                for (int t = 0; t < TILE; t++) {
                    float want = fmaf(src[i * TILE + t], scale, src[i * TILE + TILE - 1 - t]);
                    if (i == 0 && t == 0)
                        want += src[(tiles - 1) * TILE];
                    if (dst[i * TILE + t] != want) {
                        bad = (long)(b * (size_t)tiles * TILE) + i * TILE + t;
                        break;
                    }
                }
        }
        char name[64];
        snprintf(name, sizeof(name), "namedbar_pipeline tiles=%d", tiles);
        CHECK(name, s == BF_OK && bad < 0, "status %s, first bad element %ld", bf_status_name(s), bad);
        free(in);
        free(out);
    }
    bf_ptx_module_free(m);
}

static void test_calls(void)
{
    bf_ptx_module_t *m = load("calls.ptx");
    {
        ptx_host_memory_t mem = {0};
        int n = 1000;
        uint64_t dx, dout;
        float *x = dev(&mem, n * 4, &dx), *out = dev(&mem, n * 4, &dout);
        for (int i = 0; i < n; i++)
            x[i] = (float)(i % 10) * 0.1f;
        bf_status_t s = launch(kernel(m, "call_poly"), &mem, 8, 1, 128, 1, 0, 1, (const void *[]){&dx, &dout, &n}, NULL);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++) {
            float want = (i & 1) ? poly(x[i], 3) : poly(x[i], 2) + 1.0f;
            if (out[i] != want)
                bad = i;
        }
        CHECK("call_poly (inlined .func)", s == BF_OK && bad < 0, "status %s, first bad %d", bf_status_name(s), bad);
        free(x);
        free(out);
    }
    {
        ptx_host_memory_t mem = {0};
        long long n = 777;
        uint64_t din, dout, dq, dd;
        long long *in = dev(&mem, n * 8, &din), *out = dev(&mem, n * 8, &dout);
        int *q = dev(&mem, n * 4, &dq);
        double *d = dev(&mem, n * 8, &dd);
        for (long long i = 0; i < n; i++)
            in[i] = (i * 1000003) % 200001 - 100000 + (i % 5 == 0 ? (1ll << 40) : 0);
        bf_status_t s = launch(kernel(m, "int_mix"), &mem, 3, 1, 64, 1, 0, 1, (const void *[]){&din, &dout, &dq, &dd, &n},
                               NULL);
        int bad = -1;
        for (long long i = 0; i < n && bad < 0; i++) {
            long long v = in[i];
            long long wo = v / 7 + v % 5 - (v >> 3);
            int wq = (int)(v / 3) ^ (int)(unsigned)(v * 2654435761u);
            double wd = fma((double)v, 0.5, sqrt((double)(v < 0 ? -v : v)));
            if (out[i] != wo || q[i] != wq || d[i] != wd)
                bad = (int)i;
        }
        CHECK("int_mix", s == BF_OK && bad < 0, "status %s, first bad %d", bf_status_name(s), bad);
        free(in);
        free(out);
        free(q);
        free(d);
    }
    {
        /* Module globals: the caller allocates them, copies the initial bytes, binds addresses. */
        ptx_host_memory_t mem = {0};
        size_t count = bf_ptx_module_global_count(m);
        void *store[8] = {0};
        int found = 0;
        int *counter = NULL;
        for (size_t i = 0; i < count && i < 8; i++) {
            const char *name;
            size_t size;
            const void *init;
            int is_const;
            bf_ptx_module_global(m, i, &name, &size, &init, &is_const);
            uint64_t addr;
            store[i] = dev(&mem, size, &addr);
            if (init)
                memcpy(store[i], init, size);
            bf_ptx_module_bind_global(m, i, addr);
            if (strcmp(name, "coeffs") == 0 && size == 16 && is_const && init)
                found++;
            if (strcmp(name, "counter") == 0 && size == 4 && !is_const && !init) {
                found++;
                counter = store[i];
            }
        }
        CHECK("module globals listed", count == 2 && found == 2, "count %zu, found %d", count, found);
        int n = 300;
        uint64_t dx, dout;
        float *x = dev(&mem, n * 4, &dx), *out = dev(&mem, n * 4, &dout);
        for (int i = 0; i < n; i++)
            x[i] = (float)i;
        bf_status_t s = launch(kernel(m, "use_globals"), &mem, 3, 1, 128, 1, 0, 2, (const void *[]){&dx, &dout, &n}, NULL);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++)
            if (out[i] != (float)((i & 3) + 1) * x[i])
                bad = i;
        CHECK("module globals used", s == BF_OK && bad < 0 && counter && *counter == n, "status %s, first bad %d, counter %d",
              bf_status_name(s), bad, counter ? *counter : -1);
        for (size_t i = 0; i < 8; i++)
            free(store[i]);
        free(x);
        free(out);
    }
    bf_ptx_module_free(m);
}

/* Allocates every module global (with its initial bytes) and binds it, as the driver layer does. */
static void bind_globals(bf_ptx_module_t *m, ptx_host_memory_t *mem, void **store, size_t max)
{
    for (size_t i = 0; i < bf_ptx_module_global_count(m) && i < max; i++) {
        const char *name;
        size_t size;
        const void *init;
        int is_const;
        bf_ptx_module_global(m, i, &name, &size, &init, &is_const);
        uint64_t addr;
        store[i] = dev(mem, size ? size : 1, &addr);
        if (init)
            memcpy(store[i], init, size);
        bf_ptx_module_bind_global(m, i, addr);
    }
}

static int close_to(double got, double want, double rel, double abs_tol)
{
    if (want != want)
        return got != got;
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= rel * fabs(want) || fabs(got - want) <= abs_tol;
}

/* CUDA's math library (expf, sinf of huge arguments, powf, erff, ...) within its documented error
 * bounds of the host's libm, and bit intrinsics exactly. */
static void test_mathlib(void)
{
    bf_ptx_module_t *m = load("mathlib.ptx");
    {
        enum { N = 96 };
        ptx_host_memory_t mem = {0};
        uint64_t dx, dout;
        float *x = dev(&mem, N * 4, &dx), *out = dev(&mem, N * 10 * 4, &dout);
        void *globals[8] = {0};
        bind_globals(m, &mem, globals, 8);
        static const float special[] = {0.0f, -0.0f, 1e4f, -1e6f, 1e30f, 3.14159265f, 1e-3f, 88.0f, -100.0f, 0.5f};
        for (int i = 0; i < N; i++)
            x[i] = i < 10 ? special[i] : -12.0f + 0.27f * (float)i;
        int n = N;
        bf_status_t s = launch(kernel(m, "mathlib_f32"), &mem, 3, 1, 32, 1, 0, 1, (const void *[]){&dx, &dout, &n}, NULL);
        int bad = -1, which = -1;
        for (int i = 0; i < N && bad < 0; i++) {
            float v = x[i], *o = out + 10 * i;
            double want[10] = {expf(v), logf(fabsf(v) + 1.0f), sinf(v), cosf(v), powf(fabsf(v), 1.5f), tanhf(v),
                               sqrtf(fabsf(v)), erff(v), atan2f(v, 2.0f), (double)v + 1.0};
            for (int k = 0; k < 10 && bad < 0; k++) {
                double rel = k == 6 ? 0 : k == 9 ? 2e-3 : 1e-6, abs_tol = k == 9 ? 1e-3 : 1e-6;
                if (k == 9 && fabsf(v) > 1000.0f)
                    continue;
                if (!close_to(o[k], want[k], rel, abs_tol)) {
                    bad = i;
                    which = k;
                }
            }
        }
        CHECK("mathlib f32 (expf logf sinf cosf powf tanhf sqrtf erff atan2f, f16 add)", s == BF_OK && bad < 0,
              "status %s, x[%d] = %g, function %d gives %.9g", bf_status_name(s), bad, bad >= 0 ? x[bad] : 0.0, which,
              bad >= 0 ? out[10 * bad + which] : 0.0);
        free(x);
        free(out);
        for (int i = 0; i < 8; i++)
            free(globals[i]);
    }
    {
        enum { N = 64 };
        ptx_host_memory_t mem = {0};
        uint64_t dx, dout;
        double *x = dev(&mem, N * 8, &dx), *out = dev(&mem, N * 4 * 8, &dout);
        void *globals[8] = {0};
        bind_globals(m, &mem, globals, 8);
        for (int i = 0; i < N; i++)
            x[i] = i == 0 ? 1e10 : i == 1 ? -1e300 : -30.0 + 0.95 * i;
        int n = N;
        bf_status_t s = launch(kernel(m, "mathlib_f64"), &mem, 2, 1, 32, 1, 0, 1, (const void *[]){&dx, &dout, &n}, NULL);
        int bad = -1, which = -1;
        for (int i = 0; i < N && bad < 0; i++) {
            double v = x[i], *o = out + 4 * i;
            double want[4] = {exp(v), log(fabs(v) + 1.0), sin(v), pow(fabs(v), 0.5) + v / 3.0};
            for (int k = 0; k < 4 && bad < 0; k++)
                if (!close_to(o[k], want[k], 1e-14, 1e-15)) {
                    bad = i;
                    which = k;
                }
        }
        CHECK("mathlib f64 (exp log sin pow)", s == BF_OK && bad < 0, "status %s, x[%d] = %g, function %d gives %.17g",
              bf_status_name(s), bad, bad >= 0 ? x[bad] : 0.0, which, bad >= 0 ? out[4 * bad + which] : 0.0);
        free(x);
        free(out);
        for (int i = 0; i < 8; i++)
            free(globals[i]);
    }
    {
        enum { N = 64 };
        ptx_host_memory_t mem = {0};
        uint64_t dx, dout;
        unsigned *x = dev(&mem, N * 4, &dx), *out = dev(&mem, N * 6 * 4, &dout);
        for (int i = 0; i < N; i++)
            x[i] = i == 0 ? 0 : (unsigned)(i * 2654435761u) >> (i % 13);
        int n = N;
        bf_status_t s = launch(kernel(m, "intrinsics"), &mem, 2, 1, 32, 1, 0, 1, (const void *[]){&dx, &dout, &n}, NULL);
        int bad = -1;
        for (int i = 0; i < N && bad < 0; i++) {
            unsigned v = x[i], w = x[(i + 1) % N], sel = 0x3210 + (unsigned)(i & 7), *o = out + 6 * i;
            uint64_t pair = (uint64_t)w << 32 | v, bytes = pair;
            unsigned perm = 0;
            for (int k = 0; k < 4; k++)
                perm |= (unsigned)((bytes >> (8 * ((sel >> (4 * k)) & 7))) & 0xff) << (8 * k);
            unsigned brev = 0;
            for (int k = 0; k < 32; k++)
                brev |= ((v >> k) & 1u) << (31 - k);
            unsigned want[6] = {(unsigned)__builtin_ffs((int)v), brev, perm, (unsigned)((pair << (i & 31)) >> 32),
                                (unsigned)(pair >> (i & 31)),
                                (v > w ? v - w : w - v) + 7 + (v ? (unsigned)__builtin_clz(v) : 32) +
                                    (unsigned)__builtin_popcount(w)};
            for (int k = 0; k < 6; k++)
                if (o[k] != want[k])
                    bad = i * 6 + k;
        }
        CHECK("bit intrinsics (ffs brev byte_perm funnelshift usad clz popc)", s == BF_OK && bad < 0,
              "status %s, first bad %d", bf_status_name(s), bad);
        free(x);
        free(out);
    }
    bf_ptx_module_free(m);
}

static bf_status_t load_text(const char *text, char *err, size_t err_len, bf_ptx_module_t **m_p)
{
    return bf_ptx_module_load(text, strlen(text), m_p, err, err_len);
}

static void test_errors(void)
{
    static const char header[] = ".version 9.0\n.target sm_75\n.address_size 64\n";
    char text[2048], err[256];
    bf_ptx_module_t *m = NULL;
    snprintf(text, sizeof(text),
             "%s.visible .entry t(.param .u64 p)\n{\n.reg .f32 %%f<5>;\n.reg .b64 %%rd<3>;\n"
             "ld.param.u64 %%rd1, [p];\ntex.2d.v4.f32.f32 {%%f1, %%f2, %%f3, %%f4}, [%%rd1, {%%f1, %%f2}];\nret;\n}\n",
             header);
    bf_status_t s = load_text(text, err, sizeof(err), &m);
    CHECK("unknown instruction", s == BF_UNSUPPORTED && strcmp(err, "line 9: unsupported instruction 'tex.2d.v4.f32.f32'") == 0,
          "status %s, '%s'", bf_status_name(s), err);
    snprintf(text, sizeof(text),
             "%s.visible .entry t(.param .u64 p)\n{\n.reg .f32 %%f<3>;\nmov.f32 %%f1, 0f3F800000;\nmin.NaN.f32 %%f2, %%f1, %%f1;\nret;\n}\n",
             header);
    s = load_text(text, err, sizeof(err), &m);
    CHECK("unknown modifier", s == BF_UNSUPPORTED && strstr(err, "line 8: unsupported instruction 'min.NaN.f32'") == err &&
                                   strstr(err, ".NaN"),
          "status %s, '%s'", bf_status_name(s), err);
    snprintf(text, sizeof(text), "%s.visible .entry t()\n{\n.reg .b32 %%r<3>;\nmov.u32 %%r1 1;\nret;\n}\n", header);
    s = load_text(text, err, sizeof(err), &m);
    CHECK("syntax error", s == BF_INVALID_ARG && strncmp(err, "line 7:", 7) == 0, "status %s, '%s'", bf_status_name(s), err);
    snprintf(text, sizeof(text), "%s.visible .entry t()\n{\nbra $L__missing;\nret;\n}\n", header);
    s = load_text(text, err, sizeof(err), &m);
    CHECK("unknown label", s == BF_INVALID_ARG && strstr(err, "$L__missing"), "status %s, '%s'", bf_status_name(s), err);
    /* Minified, as fatbins carry it: blank lines for comments, NUL at the end, the text after ignored. */
    static const char minified[] = "\n\n\n.version 9.0\n.target sm_75\n.address_size 64\n\n.visible .entry t(\n"
                                   ".param .u64 t_param_0\n)\n{\n.reg .b32 %r<2>;\n.reg .b64 %rd<3>;\n\n"
                                   "ld.param.u64 %rd1, [t_param_0];\ncvta.to.global.u64 %rd2, %rd1;\nmov.u32 %r1, 7;\n"
                                   "st.global.u32 [%rd2], %r1;\nret;\n\n}\n\0garbage {{{";
    s = bf_ptx_module_load(minified, sizeof(minified), &m, err, sizeof(err));
    CHECK("minified text", s == BF_OK, "status %s, '%s'", bf_status_name(s), err);
    if (s == BF_OK) {
        ptx_host_memory_t mem = {0};
        uint64_t d;
        int *out = dev(&mem, 4, &d);
        s = launch(kernel(m, "t"), &mem, 1, 1, 1, 1, 0, 1, (const void *[]){&d}, NULL);
        CHECK("minified kernel runs", s == BF_OK && *out == 7, "status %s, %d", bf_status_name(s), *out);
        free(out);
        bf_ptx_module_free(m);
    }
    /* Parameter layout (CUDA-ABI.md §3.2): next multiple of the alignment, size = element × count. */
    snprintf(text, sizeof(text),
             "%s.visible .entry t(.param .u8 a, .param .align 16 .b8 s[32], .param .u16 h, .param .u64 .ptr .global "
             ".align 1 p, .param .align 4 .b8 t3[12], .param .u8 b, .param .align 8 .b8 f3[12], .param .u64 u)\n"
             "{\nret;\n}\n",
             header);
    s = load_text(text, err, sizeof(err), &m);
    if (s == BF_OK) {
        const bf_ptx_kernel_t *k = kernel(m, "t");
        static const size_t want[8][2] = {{0, 1}, {16, 32}, {48, 2}, {56, 8}, {64, 12}, {76, 1}, {80, 12}, {96, 8}};
        int ok = bf_ptx_kernel_param_count(k) == 8 && bf_ptx_kernel_param_bytes(k) == 104;
        for (size_t i = 0; i < 8 && ok; i++) {
            size_t off, size;
            bf_ptx_kernel_param(k, i, &off, &size);
            ok = off == want[i][0] && size == want[i][1];
        }
        CHECK("parameter layout", ok, "wrong offsets or sizes (total %zu)", bf_ptx_kernel_param_bytes(k));
        bf_ptx_module_free(m);
    } else {
        CHECK("parameter layout", 0, "load failed: %s", err);
    }
    /* Attributes: static shared, local bytes, .maxntid, the launch limit. */
    snprintf(text, sizeof(text),
             "%s.visible .entry t(.param .u64 p) .maxntid 128, 1, 1\n{\n.local .align 8 .b8 depot[40];\n"
             ".shared .align 4 .b8 sm[100];\n.reg .b64 %%rd<3>;\nmov.u64 %%rd1, depot;\nmov.u64 %%rd2, sm;\nret;\n}\n",
             header);
    s = load_text(text, err, sizeof(err), &m);
    if (s == BF_OK) {
        const bf_ptx_kernel_t *k = kernel(m, "t");
        bf_ptx_kernel_attrs_t attrs;
        bf_ptx_kernel_attrs(k, &attrs);
        CHECK("kernel attributes", attrs.static_shared_bytes == 100 && attrs.local_bytes >= 40 &&
                                       attrs.max_threads_per_block == 128 && attrs.ptx_version == 90,
              "shared %zu local %zu max %d version %d", attrs.static_shared_bytes, attrs.local_bytes,
              attrs.max_threads_per_block, attrs.ptx_version);
        ptx_host_memory_t mem = {0};
        uint64_t d = 0;
        s = launch(k, &mem, 1, 1, 256, 1, 0, 1, (const void *[]){&d}, NULL);
        CHECK("block above .maxntid refused", s == BF_INVALID_ARG, "status %s", bf_status_name(s));
        bf_ptx_module_free(m);
    } else {
        CHECK("kernel attributes", 0, "load failed: %s", err);
    }
    /* Shared memory is bounds-checked against the block's size, and misaligned accesses fault. */
    snprintf(text, sizeof(text),
             "%s.visible .entry t(.param .u32 i)\n{\n.shared .align 4 .b8 sm[64];\n.reg .b32 %%r<4>;\n"
             "ld.param.u32 %%r1, [i];\nmov.u32 %%r2, sm;\nadd.s32 %%r3, %%r2, %%r1;\nst.shared.u32 [%%r3], %%r1;\nret;\n}\n",
             header);
    s = load_text(text, err, sizeof(err), &m);
    if (s == BF_OK) {
        const bf_ptx_kernel_t *k = kernel(m, "t");
        ptx_host_memory_t mem = {0};
        bf_ptx_fault_t fault;
        int i = 60;
        s = launch(k, &mem, 1, 1, 32, 1, 0, 1, (const void *[]){&i}, &fault);
        CHECK("shared store in bounds", s == BF_OK, "status %s", bf_status_name(s));
        i = 64;
        s = launch(k, &mem, 1, 1, 32, 1, 0, 1, (const void *[]){&i}, &fault);
        CHECK("shared store out of bounds", s == BF_BAD_ADDRESS && fault.ptx_line == 11 && fault.address == 64 &&
                                                strstr(fault.message, "store") && strstr(fault.message, "shared"),
              "status %s, line %d, address %llu, '%s'", bf_status_name(s), fault.ptx_line,
              (unsigned long long)fault.address, fault.message);
        i = 2;
        s = launch(k, &mem, 1, 1, 32, 1, 0, 1, (const void *[]){&i}, &fault);
        CHECK("misaligned shared store", s == BF_BAD_ADDRESS && strstr(fault.message, "misaligned"), "status %s, '%s'",
              bf_status_name(s), fault.message);
        bf_ptx_module_free(m);
    } else {
        CHECK("shared bounds", 0, "load failed: %s", err);
    }
}

/* Truncated and corrupted modules load or fail cleanly (run under the sanitizers in CI). */
static void test_corrupt(void)
{
    static const char *const files[] = {"vector_add.ptx", "matmul.ptx", "reduce.ptx", "calls.ptx", "mathlib.ptx"};
    int loaded = 0, refused = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, files[f]);
        size_t len;
        char *text = ptx_host_read_file(path, &len);
        if (!text)
            continue;
        char *copy = malloc(len + 1);
        char err[256];
        for (size_t cut = 0; cut <= len; cut += 13) {
            bf_ptx_module_t *m = NULL;
            if (bf_ptx_module_load(text, cut, &m, err, sizeof(err)) == BF_OK) {
                loaded++;
                bf_ptx_module_free(m);
            } else {
                refused++;
            }
        }
        for (int round = 0; round < 300; round++) {
            memcpy(copy, text, len + 1);
            for (int k = 0; k < 4; k++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                size_t at = (size_t)(seed >> 33) % len;
                static const char junk[] = "{}[];,.%$@!-+0123456789abxyz \n\"";
                copy[at] = junk[(seed >> 20) % (sizeof(junk) - 1)];
            }
            bf_ptx_module_t *m = NULL;
            if (bf_ptx_module_load(copy, len, &m, err, sizeof(err)) == BF_OK) {
                loaded++;
                bf_ptx_module_free(m);
            } else {
                refused++;
                if (!err[0]) {
                    printf("FAIL corrupt module: refused without a message\n");
                    failures++;
                }
            }
        }
        free(copy);
        free(text);
    }
    CHECK("corrupt and truncated modules", loaded > 0 && refused > 0, "loaded %d, refused %d", loaded, refused);
}

/* The PTX linker (bf_ptx_link) on two -rdc=true units from the source tree's cuda/rdc/: a function
 * and variables of the other unit, same-named static functions, an unresolved .extern. */
static void test_link(void)
{
    char path[1024];
    char *text[2];
    size_t len[2];
    static const char *const files[2] = {"link_a.ptx", "link_b.ptx"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/rdc/%s", BF_PTX_CUDA_DIR, files[i]);
        text[i] = ptx_host_read_file(path, &len[i]);
        if (!text[i]) {
            printf("FAIL link: cannot read %s\n", path);
            failures++;
            return;
        }
    }
    char err[256] = "", *linked = NULL;
    size_t linked_len = 0;
    bf_status_t s = bf_ptx_link((const char *const *)text, len, 2, &linked, &linked_len, err, sizeof(err));
    bf_ptx_module_t *m = NULL;
    if (s == BF_OK)
        s = bf_ptx_module_load(linked, linked_len, &m, err, sizeof(err));
    CHECK("link two units", s == BF_OK, "%s: %s", bf_status_name(s), err);
    if (m) {
        ptx_host_memory_t mem = {0};
        void *store[8] = {0};
        bind_globals(m, &mem, store, 8);
        uint64_t din, dout;
        int *in = dev(&mem, 32 * sizeof(int), &din), *out = dev(&mem, 32 * sizeof(int), &dout);
        for (int i = 0; i < 32; i++)
            in[i] = i * 5 - 40;
        s = launch(kernel(m, "link_a"), &mem, 1, 1, 32, 1, 0, 1, (const void *[]){&din, &dout}, NULL);
        int bad = s != BF_OK;
        static const int table[4] = {1, 2, 3, 4};
        for (int i = 0; i < 32; i++)
            bad += out[i] != (3 * in[i] + 1) + 2 * table[i % 4];
        s = launch(kernel(m, "link_b"), &mem, 1, 1, 1, 1, 0, 1, (const void *[]){&dout}, NULL);
        CHECK("linked units run", !bad && s == BF_OK && out[0] == 32, "%d wrong, counter %d", bad, out[0]);
        free(in);
        free(out);
        for (int i = 0; i < 8; i++)
            free(store[i]);
        bf_ptx_module_free(m);
    }
    free(linked);
    /* Alone, the first unit names a variable nobody defines. */
    linked = NULL;
    s = bf_ptx_link((const char *const *)text, len, 1, &linked, &linked_len, err, sizeof(err));
    CHECK("link reports an unresolved .extern", s == BF_NOT_FOUND && strstr(err, "table"), "%s: %s",
          bf_status_name(s), err);
    free(linked);
    free(text[0]);
    free(text[1]);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        dir = argv[1];
    test_vector();
    test_concurrent();
    test_matmul();
    test_reduce();
    test_namedbar();
    test_calls();
    test_mathlib();
    test_errors();
    test_corrupt();
    test_link();
    printf("%s: %d failed\n", failures ? "FAILED" : "OK", failures);
    return failures ? 1 : 0;
}
