/* device.c: device enumeration and properties (cuDeviceGet*, cuDeviceTotalMem, PCI ids). */
#include "emu.h"

#include <stdio.h>
#include <string.h>


/* The name every emulated device reports. */
#define BF_EMU_DEVICE_NAME "openbf emulated device"

/*
 * The UUID of device N: the bytes of "openbf-emu" followed by 0xff 0xff 0xff 0xff 0x00 N, i.e.
 * 6f70656e-6266-2d65-6d75-ffffffff00NN. Fixed, so that a device keeps its identity across
 * processes, and outside the range NVIDIA assigns (its UUIDs are random version-4 values whose
 * byte 6 starts with 4; ours has 0x2d).
 */
static const unsigned char uuid_prefix[14] = {'o', 'p', 'e', 'n', 'b', 'f', '-', 'e', 'm', 'u',
                                              0xff, 0xff, 0xff, 0xff};

CUresult bf_emu_device_checked(CUdevice ordinal, bf_emu_device_t **dev_p)
{
    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (ordinal < 0 || ordinal >= bf_emu.device_count)
        return CUDA_ERROR_INVALID_DEVICE;
    *dev_p = &bf_emu.devices[ordinal];
    return CUDA_SUCCESS;
}

static int attribute_of(const bf_emu_device_t *dev, CUdevice_attribute attrib)
{
    int value = 0;

    (void)bf_emu_attribute_get(dev, attrib, &value);
    return value;
}

CUresult cuDeviceGetCount(int *count)
{
    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (count == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *count = bf_emu.device_count;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (device == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *device = dev->ordinal;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev_ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(dev_ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (name == NULL || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* Truncated to len - 1 characters and always terminated. */
    snprintf(name, (size_t)len, "%s", BF_EMU_DEVICE_NAME);
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev_ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(dev_ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (uuid == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    memcpy(uuid->bytes, uuid_prefix, sizeof(uuid_prefix));
    uuid->bytes[14] = 0;
    uuid->bytes[15] = (char)dev->ordinal;
    return CUDA_SUCCESS;
}

/* Before CUDA 11.4 the two differed only for MIG instances, which the emulator does not have. */
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    return cuDeviceGetUuid_v2(uuid, dev);
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev_ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(dev_ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (bytes == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *bytes = dev->arena.size;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev_ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(dev_ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (pi == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    return bf_status_to_cu(bf_emu_attribute_get(dev, attrib, pi));
}

CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev_ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(dev_ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (major == NULL || minor == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *major = dev->cc_major;
    *minor = dev->cc_minor;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev_ordinal)
{
    bf_emu_device_t *dev;
    CUresult result = bf_emu_device_checked(dev_ordinal, &dev);

    if (result != CUDA_SUCCESS)
        return result;
    if (pciBusId == NULL || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* domain:bus:device.function, the form nvidia-smi prints ("0000:42:00.0"). */
    snprintf(pciBusId, (size_t)len, "%04x:%02x:%02x.0", attribute_of(dev, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID),
             attribute_of(dev, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
             attribute_of(dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID));
    return CUDA_SUCCESS;
}

/* Parses the three forms cuda.h allows: domain:bus:device.function, domain:bus:device and
 * bus:device.function, all hexadecimal. Returns false for anything else. */
static bool parse_pci_bus_id(const char *text, unsigned *domain_p, unsigned *bus_p, unsigned *device_p)
{
    unsigned a, b, c, d;
    int used = 0;

    if (sscanf(text, "%x:%x:%x.%x%n", &a, &b, &c, &d, &used) == 4 && text[used] == '\0') {
        *domain_p = a, *bus_p = b, *device_p = c;
        return true;
    }
    used = 0;
    if (sscanf(text, "%x:%x:%x%n", &a, &b, &c, &used) == 3 && text[used] == '\0') {
        *domain_p = a, *bus_p = b, *device_p = c;
        return true;
    }
    used = 0;
    if (sscanf(text, "%x:%x.%x%n", &a, &b, &d, &used) == 3 && text[used] == '\0') {
        *domain_p = 0, *bus_p = a, *device_p = b;
        return true;
    }
    return false;
}

CUresult cuDeviceGetByPCIBusId(CUdevice *dev_p, const char *pciBusId)
{
    unsigned domain, bus, device;

    if (!bf_emu_is_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (dev_p == NULL || pciBusId == NULL || !parse_pci_bus_id(pciBusId, &domain, &bus, &device))
        return CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < bf_emu.device_count; i++) {
        const bf_emu_device_t *dev = &bf_emu.devices[i];

        if ((int)domain == attribute_of(dev, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID) &&
            (int)bus == attribute_of(dev, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID) &&
            (int)device == attribute_of(dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)) {
            *dev_p = dev->ordinal;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_DEVICE;
}
