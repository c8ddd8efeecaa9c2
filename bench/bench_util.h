/*
 * bench_util.h: the few helpers every CUDA benchmark program in bench/ shares: a monotonic clock,
 * a CUDA status check that names the failed step, and the JSON number arrays the drivers
 * (bench/*.py) parse.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include <errno.h>

/* Seconds on the steady clock. */
static inline double now_s()
{
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

/* True on cudaSuccess; otherwise says on stderr which step failed and why. */
static inline bool ok(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return true;
    fprintf(stderr, "%s: %s failed: %s\n", program_invocation_short_name, what, cudaGetErrorString(e));
    return false;
}

/* `"name": [v0, v1, ...]` then `end`: one field of the JSON object a benchmark prints. */
static inline void print_array(const char *name, const std::vector<double> &v, const char *end)
{
    printf("\"%s\": [", name);
    for (size_t i = 0; i < v.size(); i++)
        printf("%s%.6g", i ? ", " : "", v[i]);
    printf("]%s", end);
}

#endif
