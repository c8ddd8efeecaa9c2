/*
 * bf_check.h: the assertion macros of openbf's C test programs. Each program includes this once;
 * a failed check prints where and what, counts, and the run goes on so that one run shows every
 * failure. bf_check_exit() prints the verdict and gives the exit status.
 *
 *   CHECK(cond)            prints "file:line: check failed: cond"
 *   CHECKF(cond, fmt, ...) prints "FAIL " and the formatted explanation
 *
 * Define BF_CHECK_OUT before including to send the lines elsewhere than stderr (a test that
 * captures stderr itself).
 */
#ifndef BF_CHECK_H
#define BF_CHECK_H

#include <stdatomic.h>
#include <stdio.h>

#ifndef BF_CHECK_OUT
#define BF_CHECK_OUT stderr
#endif

/* Atomic: some tests check from several threads. */
static atomic_int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(BF_CHECK_OUT, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(BF_CHECK_OUT, "FAIL " __VA_ARGS__);                                            \
            fprintf(BF_CHECK_OUT, "\n");                                                           \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Prints "<name>: ok" or "<name>: N failure(s)" on stdout; returns the process exit status. */
static inline int bf_check_exit(const char *name)
{
    int n = failures;

    if (n == 0)
        printf("%s: ok\n", name);
    else
        printf("%s: %d failure(s)\n", name, n);
    return n == 0 ? 0 : 1;
}

#endif
