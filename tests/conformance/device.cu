/* device.cu: device enumeration, properties, attributes, selection and synchronisation. */
#include "check.h"

#include <cctype>

struct attr_row {
    const char *name;
    cudaDeviceAttr attr;
    long long from_props;
};

static void check_attributes(const cudaDeviceProp &p)
{
    /* Every property that has an attribute twin must agree with it: cudart builds the properties
     * from the driver's attributes, so a mismatch means the driver answered inconsistently. */
    const attr_row rows[] = {
        {"attr_max_threads_per_block", cudaDevAttrMaxThreadsPerBlock, p.maxThreadsPerBlock},
        {"attr_max_block_dim_x", cudaDevAttrMaxBlockDimX, p.maxThreadsDim[0]},
        {"attr_max_block_dim_y", cudaDevAttrMaxBlockDimY, p.maxThreadsDim[1]},
        {"attr_max_block_dim_z", cudaDevAttrMaxBlockDimZ, p.maxThreadsDim[2]},
        {"attr_max_grid_dim_x", cudaDevAttrMaxGridDimX, p.maxGridSize[0]},
        {"attr_max_grid_dim_y", cudaDevAttrMaxGridDimY, p.maxGridSize[1]},
        {"attr_max_grid_dim_z", cudaDevAttrMaxGridDimZ, p.maxGridSize[2]},
        {"attr_max_shared_memory_per_block", cudaDevAttrMaxSharedMemoryPerBlock, (long long)p.sharedMemPerBlock},
        {"attr_total_constant_memory", cudaDevAttrTotalConstantMemory, (long long)p.totalConstMem},
        {"attr_warp_size", cudaDevAttrWarpSize, p.warpSize},
        {"attr_max_registers_per_block", cudaDevAttrMaxRegistersPerBlock, p.regsPerBlock},
        {"attr_multiprocessor_count", cudaDevAttrMultiProcessorCount, p.multiProcessorCount},
        {"attr_compute_capability_major", cudaDevAttrComputeCapabilityMajor, p.major},
        {"attr_compute_capability_minor", cudaDevAttrComputeCapabilityMinor, p.minor},
        {"attr_integrated", cudaDevAttrIntegrated, p.integrated},
        {"attr_can_map_host_memory", cudaDevAttrCanMapHostMemory, p.canMapHostMemory},
        {"attr_concurrent_kernels", cudaDevAttrConcurrentKernels, p.concurrentKernels},
        {"attr_ecc_enabled", cudaDevAttrEccEnabled, p.ECCEnabled},
        {"attr_pci_bus_id", cudaDevAttrPciBusId, p.pciBusID},
        {"attr_pci_device_id", cudaDevAttrPciDeviceId, p.pciDeviceID},
        {"attr_pci_domain_id", cudaDevAttrPciDomainId, p.pciDomainID},
        {"attr_async_engine_count", cudaDevAttrAsyncEngineCount, p.asyncEngineCount},
        {"attr_unified_addressing", cudaDevAttrUnifiedAddressing, p.unifiedAddressing},
        {"attr_global_memory_bus_width", cudaDevAttrGlobalMemoryBusWidth, p.memoryBusWidth},
        {"attr_l2_cache_size", cudaDevAttrL2CacheSize, p.l2CacheSize},
        {"attr_max_threads_per_multiprocessor", cudaDevAttrMaxThreadsPerMultiProcessor,
         p.maxThreadsPerMultiProcessor},
        {"attr_max_shared_memory_per_multiprocessor", cudaDevAttrMaxSharedMemoryPerMultiprocessor,
         (long long)p.sharedMemPerMultiprocessor},
        {"attr_max_registers_per_multiprocessor", cudaDevAttrMaxRegistersPerMultiprocessor,
         p.regsPerMultiprocessor},
        {"attr_managed_memory", cudaDevAttrManagedMemory, p.managedMemory},
        {"attr_cooperative_launch", cudaDevAttrCooperativeLaunch, p.cooperativeLaunch},
        {"attr_max_blocks_per_multiprocessor", cudaDevAttrMaxBlocksPerMultiprocessor,
         p.maxBlocksPerMultiProcessor},
        {"attr_texture_alignment", cudaDevAttrTextureAlignment, (long long)p.textureAlignment},
        {"attr_texture_pitch_alignment", cudaDevAttrTexturePitchAlignment, (long long)p.texturePitchAlignment},
    };
    for (const attr_row &r : rows) {
        int value = -12345;
        cudaError_t err = cudaDeviceGetAttribute(&value, r.attr, 0);
        if (!expect_ok(r.name, err))
            continue;
        char name[128];
        snprintf(name, sizeof(name), "%s_matches_props", r.name);
        expect_i64(name, value, r.from_props);
    }
}

int main(void)
{
    check_begin("device");

    int version = 0;
    expect_ok("runtime_get_version", cudaRuntimeGetVersion(&version));
    check_report("runtime_version_13", version / 1000 == 13, "expected 13xxx got %d", version);
    expect_ok("driver_get_version", cudaDriverGetVersion(&version));
    check_report("driver_version_at_least_13000", version >= 13000, "expected >= 13000 got %d", version);

    int count = -1;
    expect_ok("get_device_count", cudaGetDeviceCount(&count));
    check_report("device_count_positive", count >= 1, "expected >= 1 got %d", count);
    if (count < 1)
        return check_end();

    cudaDeviceProp p;
    memset(&p, 0, sizeof(p));
    expect_ok("get_device_properties", cudaGetDeviceProperties(&p, 0));
    check_report("props_name_nonempty", p.name[0] != '\0', "expected a name got an empty string");
    check_report("props_name_printable", isprint((unsigned char)p.name[0]) && strlen(p.name) < sizeof(p.name),
                 "expected a printable name got first byte 0x%02x", (unsigned char)p.name[0]);
    check_report("props_total_global_mem", p.totalGlobalMem > 0, "expected > 0 got %zu", p.totalGlobalMem);
    expect_i64("props_warp_size", p.warpSize, 32);
    check_report("props_major", p.major >= 3, "expected >= 3 got %d", p.major);
    check_report("props_max_threads_per_block", p.maxThreadsPerBlock >= 64, "expected >= 64 got %d",
                 p.maxThreadsPerBlock);
    check_report("props_multiprocessor_count", p.multiProcessorCount >= 1, "expected >= 1 got %d",
                 p.multiProcessorCount);
    check_report("props_max_grid_x", p.maxGridSize[0] >= 65535, "expected >= 65535 got %d", p.maxGridSize[0]);
    check_report("props_shared_mem_per_block", p.sharedMemPerBlock >= 16384, "expected >= 16384 got %zu",
                 p.sharedMemPerBlock);
    expect_i64("props_unified_addressing", p.unifiedAddressing, 1);
    bool uuid_nonzero = false;
    for (int i = 0; i < 16; i++)
        uuid_nonzero |= p.uuid.bytes[i] != 0;
    check_report("props_uuid_nonzero", uuid_nonzero, "expected a non-zero uuid got all zero bytes");
    check_attributes(p);

    /* Properties and attributes of a device that does not exist. */
    cudaDeviceProp bad;
    expect_fail("get_device_properties_invalid", cudaGetDeviceProperties(&bad, count), cudaErrorInvalidDevice);
    int value = 0;
    expect_fail("device_get_attribute_invalid_device",
                cudaDeviceGetAttribute(&value, cudaDevAttrWarpSize, count), cudaErrorInvalidDevice);
    expect_fail("device_get_attribute_invalid_attr", cudaDeviceGetAttribute(&value, (cudaDeviceAttr)100000, 0),
                cudaErrorInvalidValue);

    /* PCI bus id round trip. */
    char bus_id[32] = {0};
    if (expect_ok("device_get_pci_bus_id", cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), 0))) {
        int found = -1;
        expect_ok("device_get_by_pci_bus_id", cudaDeviceGetByPCIBusId(&found, bus_id));
        expect_i64("pci_bus_id_round_trip", found, 0);
        unsigned domain = 0, bus = 0, dev = 0;
        int n = sscanf(bus_id, "%x:%x:%x", &domain, &bus, &dev);
        check_report("pci_bus_id_format", n == 3, "expected DOMAIN:BUS:DEVICE.FUNCTION got '%s'", bus_id);
        if (n == 3) {
            expect_i64("pci_bus_id_matches_props_bus", bus, p.pciBusID);
            expect_i64("pci_bus_id_matches_props_device", dev, p.pciDeviceID);
        }
    }

    /* Selection. */
    expect_ok("set_device_0", cudaSetDevice(0));
    int current = -1;
    expect_ok("get_device", cudaGetDevice(&current));
    expect_i64("get_device_is_0", current, 0);
    expect_fail("set_device_count_invalid", cudaSetDevice(count), cudaErrorInvalidDevice);
    expect_fail("set_device_negative_invalid", cudaSetDevice(-1), cudaErrorInvalidDevice);
    expect_fail("set_device_large_invalid", cudaSetDevice(1 << 20), cudaErrorInvalidDevice);
    current = -1;
    expect_ok("get_device_after_invalid_set", cudaGetDevice(&current));
    expect_i64("device_unchanged_after_invalid_set", current, 0);

    /* Synchronisation with nothing outstanding, and after work. */
    expect_ok("device_synchronize_idle", cudaDeviceSynchronize());
    void *d = NULL;
    if (expect_ok("malloc_for_sync", cudaMalloc(&d, 4096))) {
        expect_ok("memset_before_sync", cudaMemset(d, 0x5a, 4096));
        expect_ok("device_synchronize_after_memset", cudaDeviceSynchronize());
        unsigned char h[4096];
        expect_ok("memcpy_after_sync", cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
        expect_filled("memset_visible_after_sync", h, 0x5a, sizeof(h));
        expect_ok("free_after_sync", cudaFree(d));
    }
    expect_ok("device_synchronize_twice", cudaDeviceSynchronize());
    expect_err("no_pending_error", cudaGetLastError(), cudaSuccess);
    return check_end();
}
