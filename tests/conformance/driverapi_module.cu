/* driverapi_module.cu: the driver's module API. Loads a PTX file (cuModuleLoad, cuModuleLoadData,
 * cuModuleLoadDataEx) and a fatbin (cuModuleLoadData, cuModuleLoadFatBinary) built beside this
 * program, gets functions and a global, and launches with cuLaunchKernel (kernelParams and extra).
 * Driver entry points come from cudaGetDriverEntryPointByVersion, so no libcuda is linked. */
#include "check.h"

#include <cuda.h>
#include <cudaTypedefs.h>

#include <string>
#include <vector>

static PFN_cuModuleLoad_v2000 pLoad;
static PFN_cuModuleLoadData_v2000 pLoadData;
static PFN_cuModuleLoadDataEx_v2010 pLoadDataEx;
static PFN_cuModuleLoadFatBinary_v2000 pLoadFatBinary;
static PFN_cuModuleUnload_v2000 pUnload;
static PFN_cuModuleGetFunction_v2000 pGetFunction;
static PFN_cuModuleGetGlobal_v3020 pGetGlobal;
static PFN_cuLaunchKernel_v4000 pLaunch;
static PFN_cuFuncGetAttribute_v2020 pFuncGetAttribute;
static PFN_cuFuncGetParamInfo_v12040 pFuncGetParamInfo;
static PFN_cuCtxSynchronize_v13000 pCtxSynchronize;

static bool entry(const char *name, void **fn)
{
    cudaDriverEntryPointQueryResult q;
    cudaError_t e = cudaGetDriverEntryPointByVersion(name, fn, 13000, cudaEnableDefault, &q);
    return check_report(name, e == cudaSuccess && q == cudaDriverEntryPointSuccess && *fn != NULL,
                        "error %d, query result %d", (int)e, (int)q);
}

static bool expect_cu(const char *name, CUresult got, CUresult expected = CUDA_SUCCESS)
{
    return check_report(name, got == expected, "expected %d got %d", (int)expected, (int)got);
}

static std::vector<char> read_file(const std::string &path)
{
    std::vector<char> data;
    FILE *f = fopen(path.c_str(), "rb");
    if (f == NULL)
        return data;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        data.insert(data.end(), buf, buf + n);
    fclose(f);
    data.push_back(0);
    return data;
}

/* saxpy through module m: y = 2 * x * scale + y with scale set through the module's global. */
static void run_saxpy(const char *tag, CUmodule m, float scale)
{
    std::string t(tag);
    CUfunction f = NULL;
    CUdeviceptr g = 0;
    size_t gsize = 0;
    expect_cu((t + "_get_function").c_str(), pGetFunction(&f, m, "saxpy"));
    expect_cu((t + "_get_missing").c_str(), pGetFunction(&f, m, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
    expect_cu((t + "_get_function_again").c_str(), pGetFunction(&f, m, "saxpy"));
    expect_cu((t + "_get_global").c_str(), pGetGlobal(&g, &gsize, m, "scale"));
    expect_u64((t + "_global_size").c_str(), gsize, sizeof(float));
    expect_ok((t + "_set_global").c_str(), cudaMemcpy((void *)g, &scale, sizeof(scale), cudaMemcpyHostToDevice));

    const int n = 1000;
    std::vector<float> x(n), y(n);
    for (int i = 0; i < n; i++) {
        x[i] = (float)i;
        y[i] = 1.0f;
    }
    float *dx, *dy;
    expect_ok((t + "_malloc").c_str(), cudaMalloc(&dx, n * sizeof(float)));
    expect_ok((t + "_malloc_y").c_str(), cudaMalloc(&dy, n * sizeof(float)));
    cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    float a = 2.0f;
    int count = n;
    void *params[] = {&a, &dx, &dy, &count};
    expect_cu((t + "_launch").c_str(), pLaunch(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, params, NULL));
    expect_cu((t + "_sync").c_str(), pCtxSynchronize(NULL));
    cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost);
    int wrong = 0;
    for (int i = 0; i < n; i++)
        wrong += y[i] != 2.0f * (float)i * scale + 1.0f;
    check_report((t + "_results").c_str(), wrong == 0, "%d wrong", wrong);
    cudaFree(dx);
    cudaFree(dy);
}

struct mixed {
    char c;
    double d;
    int i;
};

int main(int argc, char **argv)
{
    (void)argc;
    check_begin("driverapi_module");
    expect_ok("init", cudaFree(0));
    bool ok = entry("cuModuleLoad", (void **)&pLoad) && entry("cuModuleLoadData", (void **)&pLoadData) &&
              entry("cuModuleLoadDataEx", (void **)&pLoadDataEx) &&
              entry("cuModuleLoadFatBinary", (void **)&pLoadFatBinary) &&
              entry("cuModuleUnload", (void **)&pUnload) &&
              entry("cuModuleGetFunction", (void **)&pGetFunction) &&
              entry("cuModuleGetGlobal", (void **)&pGetGlobal) && entry("cuLaunchKernel", (void **)&pLaunch) &&
              entry("cuFuncGetAttribute", (void **)&pFuncGetAttribute) &&
              entry("cuFuncGetParamInfo", (void **)&pFuncGetParamInfo) &&
              entry("cuCtxSynchronize", (void **)&pCtxSynchronize);
    if (!ok)
        return check_end();

    std::string ptx_path = std::string(argv[0]) + ".ptx", fatbin_path = std::string(argv[0]) + ".fatbin";
    std::vector<char> ptx = read_file(ptx_path), fatbin = read_file(fatbin_path);
    check_report("ptx_file", ptx.size() > 1, "cannot read %s", ptx_path.c_str());
    check_report("fatbin_file", fatbin.size() > 16, "cannot read %s", fatbin_path.c_str());

    /* PTX from a file, PTX text in memory (twice: the second is shipped by hash only). */
    CUmodule m1 = NULL, m2 = NULL, m3 = NULL, m4 = NULL, m5 = NULL;
    expect_cu("load_ptx_file", pLoad(&m1, ptx_path.c_str()));
    run_saxpy("ptx_file", m1, 1.0f);
    expect_cu("load_ptx_data", pLoadData(&m2, ptx.data()));
    run_saxpy("ptx_data", m2, 3.0f);
    char log[256] = "x";
    CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[] = {log, (void *)(uintptr_t)sizeof(log)};
    expect_cu("load_ptx_data_ex", pLoadDataEx(&m3, ptx.data(), 2, opts, vals));
    run_saxpy("ptx_data_ex", m3, 0.5f);
    /* The fatbin, as data and as a "fat binary". */
    expect_cu("load_fatbin", pLoadData(&m4, fatbin.data()));
    run_saxpy("fatbin", m4, 2.0f);
    expect_cu("load_fat_binary", pLoadFatBinary(&m5, fatbin.data()));
    run_saxpy("fat_binary", m5, 4.0f);
    expect_cu("load_file_missing", pLoad(&m1, "/nonexistent/kernels.ptx"), CUDA_ERROR_FILE_NOT_FOUND);
    const char junk[] = "this is not an image";
    CUmodule bad = NULL;
    check_report("load_junk", pLoadData(&bad, junk) != CUDA_SUCCESS, "junk loaded");

    /* Parameter layout and the extra form. */
    CUfunction unpack = NULL;
    expect_cu("get_unpack", pGetFunction(&unpack, m4, "unpack"));
    size_t off = 0, size = 0;
    expect_cu("param_1", pFuncGetParamInfo(unpack, 1, &off, &size));
    expect_u64("param_1_offset", off, 8);
    expect_u64("param_1_size", size, sizeof(mixed));
    expect_cu("param_past_last", pFuncGetParamInfo(unpack, 4, &off, &size), CUDA_ERROR_INVALID_VALUE);
    int max_threads = 0;
    expect_cu("func_attribute", pFuncGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, unpack));
    check_report("func_max_threads", max_threads >= 256, "got %d", max_threads);
    double *dout;
    expect_ok("malloc_out", cudaMalloc(&dout, 5 * sizeof(double)));
    int first = 11;
    mixed mv = {'A', 2.5, -7};
    short s = 300;
    void *params[] = {&first, &mv, &s, &dout};
    expect_cu("launch_unpack", pLaunch(unpack, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
    double out[5] = {0};
    expect_ok("copy_unpack", cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
    check_report("unpack_values", out[0] == 11 && out[1] == 'A' && out[2] == 2.5 && out[3] == -7 && out[4] == 300,
                 "got %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4]);
    /* The same through extra: one packed buffer. */
    unsigned char buf[48] = {0};
    int first2 = 12;
    short s2 = -5;
    memcpy(buf + 0, &first2, 4);
    memcpy(buf + 8, &mv, sizeof(mv));
    memcpy(buf + 32, &s2, 2);
    memcpy(buf + 40, &dout, 8);
    size_t buf_size = sizeof(buf);
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &buf_size,
                     CU_LAUNCH_PARAM_END};
    expect_cu("launch_extra", pLaunch(unpack, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, extra));
    expect_ok("copy_extra", cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
    check_report("extra_values", out[0] == 12 && out[4] == -5, "got %g .. %g", out[0], out[4]);
    expect_cu("launch_both_forms", pLaunch(unpack, 1, 1, 1, 1, 1, 1, 0, NULL, params, extra),
              CUDA_ERROR_INVALID_VALUE);
    expect_cu("launch_too_many_threads", pLaunch(unpack, 1, 1, 1, 2048, 1, 1, 0, NULL, params, NULL),
              CUDA_ERROR_INVALID_VALUE);
    cudaFree(dout);

    expect_cu("unload_1", pUnload(m1));
    expect_cu("unload_2", pUnload(m2));
    expect_cu("unload_3", pUnload(m3));
    expect_cu("unload_4", pUnload(m4));
    expect_cu("unload_5", pUnload(m5));
    expect_cu("unload_twice", pUnload(m5), CUDA_ERROR_INVALID_HANDLE);
    CUfunction stale = NULL;
    expect_cu("function_after_unload", pGetFunction(&stale, m4, "saxpy"), CUDA_ERROR_INVALID_HANDLE);
    return check_end();
}
