/*
 * test_front_decls: cuda_api.def and status.def read as C X-macros, the way C code of the front
 * can use them.
 *
 * Compiling this file is most of the test: every BF_ENTRY row is redeclared here, in the
 * configuration of cuda.h that declares legacy and per-thread names too, so a row whose signature
 * differs from cuda.h's is a compile error. Running it checks that both tables list the same
 * symbols in the same (sorted) order.
 */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include <stdio.h>
#include <string.h>

#define BF_ENTRY(symbol, ret, params, args, family) ret symbol params;
#include "cuda_api.def"
#undef BF_ENTRY

static const char *const api_names[] = {
#define BF_ENTRY(symbol, ret, params, args, family) #symbol,
#include "cuda_api.def"
#undef BF_ENTRY
};

static const char *const status_names[] = {
#define IMPLEMENTED(symbol) #symbol,
#define UNSUPPORTED(symbol) #symbol,
#include "status.def"
#undef IMPLEMENTED
#undef UNSUPPORTED
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(void)
{
    int failures = 0;

    if (COUNT(api_names) != COUNT(status_names)) {
        fprintf(stderr, "cuda_api.def has %zu rows, status.def %zu\n", COUNT(api_names),
                COUNT(status_names));
        return 1;
    }
    for (size_t i = 0; i < COUNT(api_names); i++) {
        if (strcmp(api_names[i], status_names[i]) != 0) {
            fprintf(stderr, "row %zu: cuda_api.def %s, status.def %s\n", i, api_names[i],
                    status_names[i]);
            failures++;
        }
    }
    printf("%zu entry points\n", COUNT(api_names));
    return failures == 0 ? 0 : 1;
}
