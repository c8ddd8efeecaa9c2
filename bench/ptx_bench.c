/*
 * ptx_bench: speed of the PTX engine (emulator/ptx/) in lane-instructions per second per core,
 * against the same computation in C compiled here with the build's optimisation (-O2).
 *
 * Usage: ptx_bench [--ptx FILE] [--elements N] [--threads T] [--iterations K] [--repeat R] [--json FILE]
 *
 * Kernels (from tests/emulator/ptx/cuda/vector_add.cu, nvcc -ptx -arch=compute_75):
 *   memory-bound   vector_add and saxpy over N floats (default 16M)
 *   compute-bound  fma_loop: K dependent fmaf per thread (default 1000) over 64K threads
 * For each: lane-instructions of one launch (counted by bf_ptx_launch_counted), the best of R timed
 * launches on one worker thread (per core) and on T threads (default: one per core), and the C
 * loop's time. "ratio" is the engine's one-thread time over C's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ptx.h"

#ifndef BF_PTX_BENCH_PTX
#define BF_PTX_BENCH_PTX "tests/emulator/ptx/cuda/vector_add.ptx"
#endif

typedef struct {
    uint64_t base, size;
    void *host;
} region_t;

static region_t regions[8];
static int region_count;

static int lookup(void *ctx, uint64_t addr, bf_ptx_region_t *r)
{
    (void)ctx;
    for (int i = 0; i < region_count; i++)
        if (addr >= regions[i].base && addr - regions[i].base < regions[i].size) {
            *r = (bf_ptx_region_t){regions[i].base, regions[i].size, regions[i].host};
            return 1;
        }
    return 0;
}

static uint64_t add_region(void *p, size_t size)
{
    regions[region_count++] = (region_t){(uint64_t)(uintptr_t)p, size, p};
    return (uint64_t)(uintptr_t)p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    const char *name, *kind;
    uint64_t lane_insns;
    double t1, tn, tc; /* one thread, all threads, C */
} result_t;

static const bf_ptx_memory_t memory = {lookup, NULL};

/* Best time of repeat launches. */
static double time_launch(const bf_ptx_kernel_t *k, bf_ptx_launch_t *l, int threads, int repeat)
{
    double best = 1e30;
    l->worker_threads = threads;
    for (int r = 0; r < repeat; r++) {
        bf_ptx_fault_t fault;
        double t0 = now();
        bf_status_t s = bf_ptx_launch(k, l, &fault);
        double t = now() - t0;
        if (s != BF_OK) {
            fprintf(stderr, "launch of %s failed: %s %s\n", bf_ptx_kernel_name(k), bf_status_name(s),
                    s == BF_BAD_ADDRESS ? fault.message : "");
            exit(1);
        }
        best = t < best ? t : best;
    }
    return best;
}

static void pack(const bf_ptx_kernel_t *k, uint8_t *buf, const void *const *args)
{
    for (size_t i = 0; i < bf_ptx_kernel_param_count(k); i++) {
        size_t off, size;
        bf_ptx_kernel_param(k, i, &off, &size);
        memcpy(buf + off, args[i], size);
    }
}

/* The C twins, kept from being optimised across calls. */
__attribute__((noinline)) static void c_vector_add(const float *a, const float *b, float *c, int n)
{
    for (int i = 0; i < n; i++)
        c[i] = a[i] + b[i];
}

__attribute__((noinline)) static void c_saxpy(int n, float alpha, const float *x, float *y)
{
    for (int i = 0; i < n; i++)
        y[i] = fmaf(alpha, x[i], y[i]);
}

__attribute__((noinline)) static void c_fma_loop(float *out, int n, int iterations)
{
    for (int i = 0; i < n; i++) {
        float x = (float)i * 1e-6f, y = 1.0f;
        for (int k = 0; k < iterations; k++)
            y = fmaf(y, 0.999999f, x);
        out[i] = y;
    }
}

int main(int argc, char **argv)
{
    const char *ptx_path = BF_PTX_BENCH_PTX, *json = NULL;
    long n = 16l << 20;
    int iterations = 1000, repeat = 3;
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ptx")) ptx_path = argv[i + 1];
        else if (!strcmp(argv[i], "--elements")) n = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iterations")) iterations = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--json")) json = argv[i + 1];
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || repeat < 1 || n < 256 || iterations < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    FILE *f = fopen(ptx_path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", ptx_path);
        return 2;
    }
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    char err[256];
    bf_ptx_module_t *m;
    if (bf_ptx_module_load(text, len, &m, err, sizeof(err)) != BF_OK) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    result_t results[3];
    int nres = 0;
    uint8_t params[64];
    int ni = (int)n;

    /* vector_add */
    float *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4);
    for (long i = 0; i < n; i++) {
        a[i] = (float)i;
        b[i] = 0.5f;
    }
    uint64_t da = add_region(a, n * 4), db = add_region(b, n * 4), dc = add_region(c, n * 4);
    {
        const bf_ptx_kernel_t *k = bf_ptx_module_find_kernel(m, "vector_add");
        pack(k, params, (const void *[]){&da, &db, &dc, &ni});
        bf_ptx_launch_t l = {.grid = {(unsigned)((n + 255) / 256), 1, 1}, .block = {256, 1, 1}, .params = params,
                             .params_size = bf_ptx_kernel_param_bytes(k), .memory = &memory, .worker_threads = threads};
        result_t *r = &results[nres++];
        r->name = "vector_add";
        r->kind = "memory-bound";
        bf_ptx_fault_t fault;
        if (bf_ptx_launch_counted(k, &l, &fault, &r->lane_insns) != BF_OK || c[n - 1] != a[n - 1] + 0.5f) {
            fprintf(stderr, "vector_add gave a wrong result\n");
            return 1;
        }
        r->t1 = time_launch(k, &l, 1, repeat);
        r->tn = time_launch(k, &l, threads, repeat);
        double best = 1e30;
        for (int i = 0; i < repeat; i++) {
            double t0 = now();
            c_vector_add(a, b, c, ni);
            double t = now() - t0;
            best = t < best ? t : best;
        }
        r->tc = best;
    }
    /* saxpy */
    {
        const bf_ptx_kernel_t *k = bf_ptx_module_find_kernel(m, "saxpy");
        float alpha = 0.5f;
        pack(k, params, (const void *[]){&ni, &alpha, &da, &dc});
        bf_ptx_launch_t l = {.grid = {(unsigned)((n + 255) / 256), 1, 1}, .block = {256, 1, 1}, .params = params,
                             .params_size = bf_ptx_kernel_param_bytes(k), .memory = &memory, .worker_threads = threads};
        result_t *r = &results[nres++];
        r->name = "saxpy";
        r->kind = "memory-bound";
        bf_ptx_fault_t fault;
        if (bf_ptx_launch_counted(k, &l, &fault, &r->lane_insns) != BF_OK) {
            fprintf(stderr, "saxpy failed\n");
            return 1;
        }
        r->t1 = time_launch(k, &l, 1, repeat);
        r->tn = time_launch(k, &l, threads, repeat);
        double best = 1e30;
        for (int i = 0; i < repeat; i++) {
            double t0 = now();
            c_saxpy(ni, alpha, a, c);
            double t = now() - t0;
            best = t < best ? t : best;
        }
        r->tc = best;
    }
    /* fma_loop */
    {
        const bf_ptx_kernel_t *k = bf_ptx_module_find_kernel(m, "fma_loop");
        int threads_total = 1 << 16;
        pack(k, params, (const void *[]){&dc, &iterations});
        bf_ptx_launch_t l = {.grid = {(unsigned)(threads_total / 256), 1, 1}, .block = {256, 1, 1}, .params = params,
                             .params_size = bf_ptx_kernel_param_bytes(k), .memory = &memory, .worker_threads = threads};
        result_t *r = &results[nres++];
        r->name = "fma_loop";
        r->kind = "compute-bound";
        bf_ptx_fault_t fault;
        if (bf_ptx_launch_counted(k, &l, &fault, &r->lane_insns) != BF_OK) {
            fprintf(stderr, "fma_loop failed\n");
            return 1;
        }
        float want = c[threads_total - 1];
        r->t1 = time_launch(k, &l, 1, repeat);
        r->tn = time_launch(k, &l, threads, repeat);
        double best = 1e30;
        for (int i = 0; i < repeat; i++) {
            double t0 = now();
            c_fma_loop(a, threads_total, iterations);
            double t = now() - t0;
            best = t < best ? t : best;
        }
        r->tc = best;
        if (a[threads_total - 1] != want) {
            fprintf(stderr, "fma_loop differs from C\n");
            return 1;
        }
    }
    printf("PTX engine: %ld elements (memory-bound), %d fma per thread x 65536 threads (compute-bound), "
           "%d threads, best of %d\n",
           n, iterations, threads, repeat);
    printf("%-11s %-14s %14s %12s %12s %12s %16s %16s %9s\n", "kernel", "kind", "lane-insns", "1 thread s",
           "threads s", "C -O2 s", "Mlane-insn/s/core", "Mlane-insn/s all", "ratio");
    for (int i = 0; i < nres; i++) {
        result_t *r = &results[i];
        printf("%-11s %-14s %14llu %12.4f %12.4f %12.4f %16.1f %16.1f %8.1fx\n", r->name, r->kind,
               (unsigned long long)r->lane_insns, r->t1, r->tn, r->tc, r->lane_insns / r->t1 / 1e6,
               r->lane_insns / r->tn / 1e6, r->t1 / r->tc);
    }
    if (json) {
        FILE *out = fopen(json, "w");
        if (!out) {
            fprintf(stderr, "cannot write %s\n", json);
            return 1;
        }
        fprintf(out, "{\"elements\": %ld, \"iterations\": %d, \"threads\": %d, \"results\": [", n, iterations, threads);
        for (int i = 0; i < nres; i++) {
            result_t *r = &results[i];
            fprintf(out,
                    "%s{\"kernel\": \"%s\", \"kind\": \"%s\", \"lane_insns\": %llu, \"seconds_1\": %.6f, "
                    "\"seconds_n\": %.6f, \"seconds_c\": %.6f, \"lane_insns_per_s_per_core\": %.1f, "
                    "\"lane_insns_per_s\": %.1f, \"ratio_to_c\": %.2f}",
                    i ? ", " : "", r->name, r->kind, (unsigned long long)r->lane_insns, r->t1, r->tn, r->tc,
                    r->lane_insns / r->t1, r->lane_insns / r->tn, r->t1 / r->tc);
        }
        fprintf(out, "]}\n");
        fclose(out);
    }
    bf_ptx_module_free(m);
    free(a);
    free(b);
    free(c);
    return 0;
}
