/*
 * unsupported.c: bf_unsupported(), what every generated stub of an unsupported entry point
 * returns through.
 *
 * The notice is printed once per name and process. Stubs can be called from any thread and in
 * hot loops (an application retrying a call), so the names already reported live in a lock-free
 * open-addressing set: a repeated call costs a hash, a few atomic loads and a strcmp.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

/* A power of two, well above the ~570 unsupported names cuda.h has. */
#define REPORTED_SLOTS 2048

/* Slots go from NULL to a name once and never change again, which is what makes the lock-free
 * probing below safe. */
static _Atomic(const char *) reported[REPORTED_SLOTS];

static uint32_t hash_name(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *name != '\0'; name++)
        h = (h ^ (uint8_t)*name) * 16777619u;
    return h;
}

/* True the first time `name` is seen by any thread. */
static bool first_report(const char *name)
{
    uint32_t h = hash_name(name);
    char *copy = NULL;

    for (uint32_t i = 0; i < REPORTED_SLOTS; i++) {
        _Atomic(const char *) *slot = &reported[(h + i) & (REPORTED_SLOTS - 1)];
        const char *seen = atomic_load_explicit(slot, memory_order_acquire);

        if (seen == NULL) {
            /* The caller's string may not outlive the call; the set keeps its own copy. */
            if (copy == NULL)
                copy = strdup(name);
            if (copy == NULL)
                return true; /* out of memory: say it again rather than never */
            if (atomic_compare_exchange_strong_explicit(slot, &seen, copy, memory_order_acq_rel,
                                                        memory_order_acquire))
                return true;
            /* Another thread filled the slot first; `seen` is what it stored. */
        }
        if (strcmp(seen, name) == 0) {
            free(copy);
            return false;
        }
    }
    free(copy);
    return true; /* set full: repeat the notice rather than drop it */
}

CUresult bf_unsupported(const char *name)
{
    char line[256];
    int n;

    if (first_report(name)) {
        /* One write per line, so that lines from several threads or processes do not mix. */
        n = snprintf(line, sizeof(line), "openbf: %s is not supported yet\n", name);
        if (n < 0)
            return CUDA_ERROR_NOT_SUPPORTED;
        if ((size_t)n >= sizeof(line)) { /* a name no cuda.h function has: keep the newline */
            n = (int)sizeof(line) - 1;
            line[n - 1] = '\n';
        }
        (void)!write(STDERR_FILENO, line, (size_t)n);
    }
    return CUDA_ERROR_NOT_SUPPORTED;
}
