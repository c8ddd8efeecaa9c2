/*
 * device.c: device queries, all answered from the descriptions the HELLO reply carried
 * (rule "ask once": the runtime makes over a hundred attribute calls per device at init).
 */
#include "driver.h"

#include <stdio.h>
#include <string.h>

/* The description of dev after the usual checks, or NULL with *result_p set. */
static const bf_proto_device_t *device_or_error(CUdevice dev, CUresult *result_p)
{
    const bf_proto_device_t *d = bf_cl_device(dev);

    *result_p = d != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
    return d;
}

/* Copies a NUL-terminated string into a caller's buffer of len bytes, truncating as the driver
 * does. */
static void copy_string(char *out, int len, const char *text)
{
    size_t n = strlen(text);

    if (n > (size_t)len - 1)
        n = (size_t)len - 1;
    memcpy(out, text, n);
    out[n] = '\0';
}

BF_API CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    BF_CHECK_INIT();
    if (device == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult result = bf_dev_check(ordinal);
    if (result == CUDA_SUCCESS)
        *device = ordinal;
    return result;
}

BF_API CUresult cuDeviceGetCount(int *count)
{
    BF_CHECK_INIT();
    if (count == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *count = bf_cl_device_count();
    return CUDA_SUCCESS;
}

BF_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    CUresult result;

    BF_CHECK_INIT();
    if (name == NULL || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    const bf_proto_device_t *d = device_or_error(dev, &result);
    if (d != NULL)
        copy_string(name, len, d->name);
    return result;
}

BF_API CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    CUresult result;

    BF_CHECK_INIT();
    if (uuid == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    const bf_proto_device_t *d = device_or_error(dev, &result);
    if (d != NULL)
        memcpy(uuid->bytes, d->uuid, sizeof(uuid->bytes));
    return result;
}

BF_API CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    return cuDeviceGetUuid(uuid, dev);
}

BF_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    CUresult result;

    BF_CHECK_INIT();
    if (bytes == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    const bf_proto_device_t *d = device_or_error(dev, &result);
    if (d != NULL)
        *bytes = (size_t)d->total_mem;
    return result;
}

BF_API CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    CUresult result;

    BF_CHECK_INIT();
    if (pi == NULL || (int)attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX ||
        (int)attrib >= BF_PROTO_MAX_ATTRIBUTES)
        return CUDA_ERROR_INVALID_VALUE;
    const bf_proto_device_t *d = device_or_error(dev, &result);
    if (d != NULL)
        *pi = d->attributes[attrib];
    return result;
}

BF_API CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
    CUresult result;

    BF_CHECK_INIT();
    if (major == NULL || minor == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    const bf_proto_device_t *d = device_or_error(dev, &result);
    if (d != NULL) {
        *major = d->attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
        *minor = d->attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
    }
    return result;
}

/* The device's PCI address as "domain:bus:device.function", from the worker's string or, when
 * the worker sent none, from the PCI attributes. */
static void format_bus_id(const bf_proto_device_t *d, char *out, size_t len)
{
    if (d->pci_bus_id[0] != '\0')
        snprintf(out, len, "%s", d->pci_bus_id);
    else
        snprintf(out, len, "%08x:%02x:%02x.0",
                 (unsigned)d->attributes[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID],
                 (unsigned)d->attributes[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID],
                 (unsigned)d->attributes[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID]);
}

BF_API CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
    CUresult result;
    char text[64];

    BF_CHECK_INIT();
    if (pciBusId == NULL || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    const bf_proto_device_t *d = device_or_error(dev, &result);
    if (d != NULL) {
        format_bus_id(d, text, sizeof(text));
        copy_string(pciBusId, len, text);
    }
    return result;
}

/* Parses [domain]:[bus]:[device].[function], [domain]:[bus]:[device] or [bus]:[device].[function]
 * (hexadecimal). Returns 0 on success. */
static int parse_bus_id(const char *text, unsigned *domain, unsigned *bus, unsigned *device)
{
    unsigned a, b, c, function;
    char extra;

    if (sscanf(text, "%x:%x:%x.%x%c", &a, &b, &c, &function, &extra) == 4 ||
        sscanf(text, "%x:%x:%x%c", &a, &b, &c, &extra) == 3) {
        *domain = a;
        *bus = b;
        *device = c;
        return 0;
    }
    if (sscanf(text, "%x:%x.%x%c", &b, &c, &function, &extra) == 3) {
        *domain = 0;
        *bus = b;
        *device = c;
        return 0;
    }
    return -1;
}

BF_API CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
    unsigned domain, bus, device;

    BF_CHECK_INIT();
    if (dev == NULL || pciBusId == NULL || parse_bus_id(pciBusId, &domain, &bus, &device) != 0)
        return CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < bf_cl_device_count(); i++) {
        const bf_proto_device_t *d = bf_cl_device(i);
        if ((unsigned)d->attributes[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID] == domain &&
            (unsigned)d->attributes[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID] == bus &&
            (unsigned)d->attributes[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID] == device) {
            *dev = i;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_DEVICE;
}
