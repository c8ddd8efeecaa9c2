/*
 * test_front_gpa: drives libbf.so's cuGetProcAddress and its refusing stubs through dlopen, the
 * way NVIDIA's runtime reaches them (dlopen, dlsym("cuGetProcAddress_v2"), then lookups).
 *
 *   test_front_gpa LIBBF selftest
 *       the lookup rules of DRIVER-FRONT.md §1 on a few fixed names; exit status 0 when all hold.
 *   test_front_gpa LIBBF lookup  < lines "FUNC NAME VERSION FLAGS PFN STATUS EXPECTED"
 *       FUNC v2 or v1 (the 4-argument cuGetProcAddress); NAME "-" for "", "(null)" for NULL;
 *       PFN and STATUS "ptr" or "null" (what is passed for the out-parameters); EXPECTED a symbol
 *       to dlsym, or "-". Prints per line "RESULT STATUS PFN ADDRESS": the CUresult, the status
 *       written (-1 if none), the pointer returned and dlsym(EXPECTED), both in hex (0 for NULL).
 *   test_front_gpa LIBBF call SYMBOL COUNT THREADS
 *       calls SYMBOL COUNT times from each of THREADS threads started together, with six zero
 *       arguments (harmless for a stub, which reads none); prints the distinct results.
 */
#include <cuda.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef CUresult (*gpa_v2_fn_t)(const char *, void **, int, cuuint64_t,
                                CUdriverProcAddressQueryResult *);
typedef CUresult (*gpa_v1_fn_t)(const char *, void **, int, cuuint64_t);
typedef CUresult (*any_fn_t)(void *, void *, void *, void *, void *, void *);

static void *lib;
static gpa_v2_fn_t gpa_v2;
static gpa_v1_fn_t gpa_v1;
static int failures;

static void *must_dlsym(const char *name)
{
    void *p = dlsym(lib, name);

    if (p == NULL) {
        fprintf(stderr, "test_front_gpa: dlsym %s: %s\n", name, dlerror());
        exit(2);
    }
    return p;
}

/* ---- selftest ------------------------------------------------------------------------------ */

static void expect(const char *what, const char *name, int version, cuuint64_t flags,
                   CUresult want_result, int want_status, const char *want_symbol)
{
    CUdriverProcAddressQueryResult status = (CUdriverProcAddressQueryResult)-1;
    void *pfn = (void *)&status; /* any non-NULL value, to see it overwritten */
    void *want_pfn = want_symbol ? must_dlsym(want_symbol) : NULL;
    CUresult result = gpa_v2(name, &pfn, version, flags, &status);

    if (result != want_result || (int)status != want_status || pfn != want_pfn) {
        fprintf(stderr, "FAIL %s: %s@%d flags %" PRIu64 ": result %d status %d pfn %p, "
                "want %d %d %p (%s)\n", what, name, version, (uint64_t)flags, (int)result,
                (int)status, pfn, (int)want_result, want_status, want_pfn,
                want_symbol ? want_symbol : "NULL");
        failures++;
    }
}

static void check(const char *what, int ok)
{
    if (!ok) {
        fprintf(stderr, "FAIL %s\n", what);
        failures++;
    }
}

static int selftest(void)
{
    void *pfn = NULL;
    CUdriverProcAddressQueryResult status;

    /* cudart's bootstrap probe: any answer, no crash. */
    (void)gpa_v2("", NULL, 0, 0, NULL);
    check("NULL pfn is invalid", gpa_v2("cuInit", NULL, 2000, 0, NULL) == CUDA_ERROR_INVALID_VALUE);
    check("NULL symbol is invalid", gpa_v2(NULL, &pfn, 2000, 0, NULL) == CUDA_ERROR_INVALID_VALUE);
    check("flags 3 are invalid", gpa_v2("cuInit", &pfn, 2000, 3, NULL) == CUDA_ERROR_INVALID_VALUE);
    check("a version above the driver's is invalid",
          gpa_v2("cuInit", &pfn, 99000, 0, NULL) == CUDA_ERROR_INVALID_VALUE);
    check("a NULL status is allowed",
          gpa_v2("cuInit", &pfn, 2000, 0, NULL) == CUDA_SUCCESS && pfn == must_dlsym("cuInit"));

    expect("found", "cuInit", 2000, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SUCCESS, "cuInit");
    expect("newest at or below", "cuMemAlloc", 13000, 0, CUDA_SUCCESS, 0, "cuMemAlloc_v2");
    expect("legacy ABI", "cuMemAlloc", 3010, 0, CUDA_SUCCESS, 0, "cuMemAlloc");
    expect("same name, new ABI", "cuCtxGetDevice", 13000, 0, CUDA_SUCCESS, 0, "cuCtxGetDevice_v2");
    expect("same name, old ABI", "cuCtxGetDevice", 12090, 0, CUDA_SUCCESS, 0, "cuCtxGetDevice");
    expect("flags 1 = legacy", "cuMemcpyHtoD", 13000, 1, CUDA_SUCCESS, 0, "cuMemcpyHtoD_v2");
    expect("per-thread copy", "cuMemcpyHtoD", 7000, 2, CUDA_SUCCESS, 0, "cuMemcpyHtoD_v2_ptds");
    expect("per-thread stream call", "cuLaunchKernel", 13000, 2, CUDA_SUCCESS, 0,
           "cuLaunchKernel_ptsz");
    expect("per-thread, no per-thread variant", "cuInit", 13000, 2, CUDA_SUCCESS, 0, "cuInit");
    expect("per-thread below its introduction", "cuMemcpyHtoD", 3020, 2, CUDA_SUCCESS,
           CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT, NULL);
    expect("introduced later", "cuLibraryLoadData", 11080, 0, CUDA_SUCCESS,
           CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT, NULL);
    expect("unknown name", "cuNoSuchFunction", 13000, 0, CUDA_SUCCESS,
           CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, NULL);
    expect("versioned names are not base names", "cuMemAlloc_v2", 13000, 0, CUDA_SUCCESS,
           CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, NULL);
    expect("empty name", "", 13000, 0, CUDA_SUCCESS, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, NULL);
    expect("cudart's own lookup", "cuGetProcAddress", 12000, 0, CUDA_SUCCESS, 0,
           "cuGetProcAddress_v2");
    expect("the 11.3 lookup", "cuGetProcAddress", 11030, 0, CUDA_SUCCESS, 0, "cuGetProcAddress");

    /* The 4-argument function of CUDA 11.3 reports every miss as CUDA_ERROR_NOT_FOUND. */
    pfn = &status;
    check("v1 finds", gpa_v1("cuMemAlloc", &pfn, 3020, 0) == CUDA_SUCCESS &&
                          pfn == must_dlsym("cuMemAlloc_v2"));
    pfn = &status;
    check("v1 unknown name", gpa_v1("cuNoSuchFunction", &pfn, 13000, 0) == CUDA_ERROR_NOT_FOUND &&
                                 pfn == NULL);
    return failures == 0 ? 0 : 1;
}

/* ---- lookup: one line of stdin per call ----------------------------------------------------- */

static int lookup(void)
{
    char func[8], name[256], pfn_mode[8], status_mode[8], expected[256];
    int version;
    unsigned long long flags;

    while (scanf("%7s %255s %d %llu %7s %7s %255s", func, name, &version, &flags, pfn_mode,
                 status_mode, expected) == 7) {
        const char *symbol = strcmp(name, "(null)") == 0 ? NULL : strcmp(name, "-") == 0 ? "" : name;
        CUdriverProcAddressQueryResult status = (CUdriverProcAddressQueryResult)-1;
        void *pfn = NULL;
        void **pfn_p = strcmp(pfn_mode, "null") == 0 ? NULL : &pfn;
        CUdriverProcAddressQueryResult *status_p = strcmp(status_mode, "null") == 0 ? NULL : &status;
        void *address = strcmp(expected, "-") == 0 ? NULL : dlsym(lib, expected);
        CUresult result = strcmp(func, "v1") == 0 ? gpa_v1(symbol, pfn_p, version, flags)
                                                  : gpa_v2(symbol, pfn_p, version, flags, status_p);

        printf("%d %d %" PRIxPTR " %" PRIxPTR "\n", (int)result, (int)status, (uintptr_t)pfn,
               (uintptr_t)address);
    }
    return 0;
}

/* ---- call: a stub from several threads at once ---------------------------------------------- */

static any_fn_t call_fn;
static long call_count;
static pthread_barrier_t call_start;
static CUresult call_results[64];

static void *call_thread(void *arg)
{
    CUresult *result_p = arg;

    pthread_barrier_wait(&call_start);
    for (long i = 0; i < call_count; i++)
        *result_p = call_fn(NULL, NULL, NULL, NULL, NULL, NULL);
    return NULL;
}

static int call(const char *symbol, long count, int threads)
{
    pthread_t tids[64];

    if (threads < 1 || threads > 64)
        return 2;
    call_fn = (any_fn_t)must_dlsym(symbol);
    call_count = count;
    pthread_barrier_init(&call_start, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, call_thread, &call_results[i]);
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    pthread_barrier_destroy(&call_start);
    for (int i = 0; i < threads; i++)
        printf("%d\n", (int)call_results[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LIBBF selftest|lookup|call SYMBOL COUNT THREADS\n", argv[0]);
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "test_front_gpa: dlopen %s: %s\n", argv[1], dlerror());
        return 2;
    }
    gpa_v2 = (gpa_v2_fn_t)must_dlsym("cuGetProcAddress_v2");
    gpa_v1 = (gpa_v1_fn_t)must_dlsym("cuGetProcAddress");

    if (strcmp(argv[2], "selftest") == 0)
        return selftest();
    if (strcmp(argv[2], "lookup") == 0)
        return lookup();
    if (strcmp(argv[2], "call") == 0 && argc == 6)
        return call(argv[3], atol(argv[4]), atoi(argv[5]));
    fprintf(stderr, "test_front_gpa: unknown command %s\n", argv[2]);
    return 2;
}
