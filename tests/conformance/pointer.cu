/* pointer.cu: cudaPointerGetAttributes on device, host, stack and freed pointers. */
#include "check.h"

static void expect_device_pointer(const char *what, const void *ptr)
{
    char name[128];
    cudaPointerAttributes a;
    memset(&a, 0x7f, sizeof(a));
    snprintf(name, sizeof(name), "%s_get_attributes", what);
    if (!expect_ok(name, cudaPointerGetAttributes(&a, ptr)))
        return;
    snprintf(name, sizeof(name), "%s_type_device", what);
    expect_i64(name, a.type, cudaMemoryTypeDevice);
    snprintf(name, sizeof(name), "%s_device_0", what);
    expect_i64(name, a.device, 0);
    snprintf(name, sizeof(name), "%s_device_pointer", what);
    expect_ptr(name, a.devicePointer, ptr);
    snprintf(name, sizeof(name), "%s_no_host_pointer", what);
    expect_ptr(name, a.hostPointer, NULL);
}

static void expect_unregistered(const char *what, const void *ptr)
{
    char name[128];
    cudaPointerAttributes a;
    memset(&a, 0, sizeof(a));
    snprintf(name, sizeof(name), "%s_get_attributes", what);
    if (!expect_ok(name, cudaPointerGetAttributes(&a, ptr)))
        return;
    snprintf(name, sizeof(name), "%s_type_unregistered", what);
    expect_i64(name, a.type, cudaMemoryTypeUnregistered);
}

int main(void)
{
    check_begin("pointer");
    expect_ok("set_device", cudaSetDevice(0));

    const size_t n = (size_t)3 << 20;
    char *d = NULL;
    if (!expect_ok("malloc", cudaMalloc((void **)&d, n)))
        return check_end();
    expect_device_pointer("device_base", d);
    expect_device_pointer("device_interior", d + 12345);
    expect_device_pointer("device_last_byte", d + n - 1);

    void *heap = host_alloc(4096);
    expect_unregistered("host_malloc", heap);
    int on_stack = 0;
    expect_unregistered("host_stack", &on_stack);
    expect_unregistered("host_static", (const void *)&check_passed);

    /* Two allocations side by side are told apart. */
    char *d2 = NULL;
    if (expect_ok("malloc_second", cudaMalloc((void **)&d2, 4096))) {
        expect_device_pointer("second_base", d2);
        check_report("allocations_distinct", d2 >= d + n || d2 + 4096 <= d,
                     "expected disjoint ranges got %p..+%zu and %p..+4096", d, n, d2);
    }

    /* After cudaFree the address is no longer device memory: an error or another type. */
    expect_ok("free", cudaFree(d));
    cudaPointerAttributes a;
    memset(&a, 0, sizeof(a));
    cudaError_t err = cudaPointerGetAttributes(&a, d);
    check_report("freed_not_device", err != cudaSuccess || a.type != cudaMemoryTypeDevice,
                 "expected an error or a non-device type got %s with type %d", cudaGetErrorName(err), (int)a.type);
    (void)cudaGetLastError();
    if (d2 != NULL)
        expect_device_pointer("second_after_first_freed", d2);

    expect_fail("null_attributes", cudaPointerGetAttributes(NULL, d2), cudaErrorInvalidValue);
    if (d2 != NULL)
        expect_ok("free_second", cudaFree(d2));
    free(heap);
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
