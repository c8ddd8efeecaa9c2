/*
 * check.h: the self-checking harness shared by the conformance programs.
 *
 * Every check prints one line on stdout: "PASS <name>" or "FAIL <name>: expected X got Y". The last
 * line is "PASS <program>: all N checks" or "FAIL <program>: F of N checks failed", and the exit
 * status is 0 only when every check passed. The runner (tools/dev/conformance.py) and the pytest
 * wrapper read exactly this format, so keep it stable.
 *
 * The programs use only NVIDIA's runtime API and standard C++; they must give the same answers on a
 * real GPU (`conformance.py --mode native`) and through openbf.
 */
#ifndef BF_CONFORMANCE_CHECK_H
#define BF_CONFORMANCE_CHECK_H

#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

static const char *check_program = "?";
static int check_passed;
static int check_failed;

/* Line-buffered stdout: a program killed half way (a hang, a crash) still shows its last checks. */
static void check_begin(const char *program)
{
    check_program = program;
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Records one check; fmt explains a failure ("expected X got Y"). Returns ok. */
static bool check_report(const char *name, bool ok, const char *fmt, ...)
{
    if (ok) {
        check_passed++;
        printf("PASS %s\n", name);
        return true;
    }
    check_failed++;
    printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return false;
}

static bool expect_err(const char *name, cudaError_t got, cudaError_t expected)
{
    return check_report(name, got == expected, "expected %s got %s (%d)", cudaGetErrorName(expected),
                        cudaGetErrorName(got), (int)got);
}

static bool expect_ok(const char *name, cudaError_t got)
{
    return expect_err(name, got, cudaSuccess);
}

/* An expected error: checks the code, then clears the thread's last error so that later checks of
 * cudaGetLastError start clean (the error's own bookkeeping is tested in errors.cu). */
static bool expect_fail(const char *name, cudaError_t got, cudaError_t expected)
{
    bool ok = expect_err(name, got, expected);
    (void)cudaGetLastError();
    return ok;
}

/* Any error at all (where CUDA documents only "an error"); clears the last error too. */
static bool expect_some_error(const char *name, cudaError_t got)
{
    bool ok = check_report(name, got != cudaSuccess, "expected an error got cudaSuccess");
    (void)cudaGetLastError();
    return ok;
}

static bool expect_u64(const char *name, unsigned long long got, unsigned long long expected)
{
    return check_report(name, got == expected, "expected %llu (0x%llx) got %llu (0x%llx)", expected,
                        expected, got, got);
}

static bool expect_i64(const char *name, long long got, long long expected)
{
    return check_report(name, got == expected, "expected %lld got %lld", expected, got);
}

static bool expect_ptr(const char *name, const void *got, const void *expected)
{
    return check_report(name, got == expected, "expected %p got %p", expected, got);
}

/* Compares n bytes and names the first byte that differs. */
static bool expect_bytes(const char *name, const void *got, const void *expected, size_t n)
{
    const unsigned char *g = (const unsigned char *)got, *e = (const unsigned char *)expected;
    for (size_t i = 0; i < n; i++) {
        if (g[i] != e[i])
            return check_report(name, false, "expected byte 0x%02x got 0x%02x at offset %zu of %zu", e[i],
                                g[i], i, n);
    }
    return check_report(name, true, "");
}

/* Every one of n bytes equals value. */
static bool expect_filled(const char *name, const void *got, unsigned char value, size_t n)
{
    const unsigned char *g = (const unsigned char *)got;
    for (size_t i = 0; i < n; i++) {
        if (g[i] != value)
            return check_report(name, false, "expected byte 0x%02x got 0x%02x at offset %zu of %zu", value,
                                g[i], i, n);
    }
    return check_report(name, true, "");
}

/* A reproducible pattern that differs per seed and per byte position (catches shifted copies). */
static void fill_pattern(void *buf, size_t n, uint32_t seed)
{
    unsigned char *b = (unsigned char *)buf;
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)(x + i);
    }
}

/* FNV-1a over n bytes: the checksum of the large copies. */
static uint64_t checksum(const void *buf, size_t n)
{
    const unsigned char *b = (const unsigned char *)buf;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Allocates host memory or ends the program: a harness failure, not a CUDA one. */
static void *host_alloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        printf("FAIL %s: host malloc of %zu bytes failed\n", check_program, n);
        exit(2);
    }
    return p;
}

/* Prints the final line; the program returns this as its exit status. */
static int check_end(void)
{
    int total = check_passed + check_failed;
    if (check_failed == 0)
        printf("PASS %s: all %d checks\n", check_program, total);
    else
        printf("FAIL %s: %d of %d checks failed\n", check_program, check_failed, total);
    return check_failed == 0 ? 0 : 1;
}

#endif
