/*
 * device.c: HELLO (driver loading, devices, windows) and the connection's own ops, HEARTBEAT and
 * GOODBYE.
 */
#include "handlers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bf_log.h"

/* Keeps the printable part of the client's self-description (it ends up in logs and JSON). */
static void copy_who(bf_srv_session_t *session, const uint8_t *text, uint64_t len)
{
    size_t n = 0;

    for (uint64_t i = 0; i < len && n + 1 < sizeof(session->who); i++)
        session->who[n++] = (text[i] >= 0x20 && text[i] < 0x7f) ? (char)text[i] : '?';
    session->who[n] = '\0';
    if (n == 0)
        snprintf(session->who, sizeof(session->who), "unnamed client");
}

/* Loads the driver (after telling the emulator where its arena goes) and initialises it. */
static CUresult open_driver(bf_srv_session_t *session)
{
    const bf_srv_options_t *options = session->options;
    CUresult res;

    if (options->backend == BF_SRV_BACKEND_EMU) {
        char base[32];
        snprintf(base, sizeof(base), "0x%" PRIx64, session->va_base);
        if (setenv("BF_EMU_VA_BASE", base, 1) != 0) {
            bf_srv_session_end(session, 1, "cannot set BF_EMU_VA_BASE");
            return CUDA_ERROR_NOT_INITIALIZED;
        }
    }
    if (bf_srv_driver_load(options->driver_path, &session->drv) != BF_OK) {
        bf_srv_session_end(session, 1, "driver %s cannot be loaded", options->driver_path);
        return CUDA_ERROR_NOT_INITIALIZED;
    }
    session->driver_loaded = true;
    res = BF_SRV_DRV(&session->drv, Init, 0);
    if (res != CUDA_SUCCESS) {
        bf_log_error("closing session: cuInit of %s failed: %d", options->driver_path, (int)res);
        bf_srv_session_end(session, 1, "cuInit failed with %d", (int)res);
    }
    return res;
}

/* The client reserved [va_base, va_base + va_size); device windows are carved out of it. */
static CUresult place_window(bf_srv_session_t *session, bf_srv_device_t *dev, int count)
{
    if (session->options->backend == BF_SRV_BACKEND_EMU) {
        /* The emulator mapped its whole arena at va_base. */
        if (dev->total_mem > session->va_size) {
            bf_log_error("closing session: the client reserved %" PRIu64 " bytes of address space "
                         "but the emulated device has %" PRIu64, session->va_size, dev->total_mem);
            bf_srv_session_end(session, 1, "client address range smaller than device memory");
            return CUDA_ERROR_INVALID_VALUE;
        }
        dev->window_base = session->va_base;
        dev->window_size = dev->total_mem;
    } else {
        uint64_t slot    = session->va_size / (uint64_t)count;
        dev->window_base = session->va_base + (uint64_t)dev->ordinal * slot;
        dev->window_size = slot;
    }
    bf_srv_memory_window_open(&session->memory, dev);
    return CUDA_SUCCESS;
}

/* Fills the description the client answers every device query from. */
static void describe(bf_srv_session_t *session, const bf_srv_device_t *dev, bf_proto_device_t *out)
{
    const bf_srv_driver_t *drv = &session->drv;
    CUuuid uuid = {{0}};

    memset(out, 0, sizeof(*out));
    if (BF_SRV_DRV(drv, DeviceGetName, out->name, (int)sizeof(out->name), dev->handle) !=
        CUDA_SUCCESS)
        out->name[0] = '\0';
    out->name[sizeof(out->name) - 1] = '\0';
    if (BF_SRV_DRV(drv, DeviceGetUuid, &uuid, dev->handle) == CUDA_SUCCESS)
        memcpy(out->uuid, uuid.bytes, sizeof(out->uuid));
    out->total_mem   = dev->total_mem;
    out->window_base = dev->window_base;
    out->window_size = dev->window_size;
    for (int attr = 1; attr < CU_DEVICE_ATTRIBUTE_MAX && attr < BF_PROTO_MAX_ATTRIBUTES; attr++) {
        int value = 0;
        /* An attribute the driver refuses is reported as 0, as the wire format promises. */
        if (BF_SRV_DRV(drv, DeviceGetAttribute, &value, (CUdevice_attribute)attr, dev->handle) !=
            CUDA_SUCCESS)
            value = 0;
        out->attributes[attr] = value;
    }
    if (BF_SRV_DRV(drv, DeviceGetPCIBusId, out->pci_bus_id, (int)sizeof(out->pci_bus_id),
                   dev->handle) != CUDA_SUCCESS)
        out->pci_bus_id[0] = '\0';
    out->pci_bus_id[sizeof(out->pci_bus_id) - 1] = '\0';
}

/* Opens device `ordinal`: handle, memory size, primary context (made current), window. */
static CUresult open_device(bf_srv_session_t *session, int ordinal, int count)
{
    const bf_srv_driver_t *drv = &session->drv;
    bf_srv_device_t *dev       = &session->devices[ordinal];
    size_t total               = 0;
    CUresult res;

    memset(dev, 0, sizeof(*dev));
    dev->ordinal = ordinal;
    res = BF_SRV_DRV(drv, DeviceGet, &dev->handle, ordinal);
    if (res == CUDA_SUCCESS)
        res = BF_SRV_DRV(drv, DeviceTotalMem, &total, dev->handle);
    if (res == CUDA_SUCCESS)
        res = BF_SRV_DRV(drv, DevicePrimaryCtxRetain, &dev->ctx, dev->handle);
    if (res != CUDA_SUCCESS) {
        bf_log_error("closing session: device %d cannot be opened: %d", ordinal, (int)res);
        bf_srv_session_end(session, 1, "device %d cannot be opened (%d)", ordinal, (int)res);
        return res;
    }
    dev->total_mem = total;
    session->device_count = ordinal + 1;
    res = bf_srv_session_use(session, dev);
    if (res != CUDA_SUCCESS) {
        bf_log_error("closing session: cannot make device %d's context current: %d", ordinal,
                     (int)res);
        bf_srv_session_end(session, 1, "device %d context unusable (%d)", ordinal, (int)res);
        return res;
    }
    return place_window(session, dev, count);
}

CUresult bf_srv_handle_hello(bf_srv_session_t *session, bf_srv_call_t *call)
{
    const bf_req_HELLO_t *req = &call->req->HELLO;
    bf_rep_HELLO_t *rep       = &call->rep->HELLO;
    int count = 0, driver_version = 0;
    CUresult res;

    /* Said even on failure: a client of another version learns what this worker speaks. */
    rep->proto_version = BF_PROTO_VERSION;
    if (req->proto_version != BF_PROTO_VERSION) {
        bf_log_error("protocol version mismatch: client speaks %u, worker speaks %u",
                     req->proto_version, BF_PROTO_VERSION);
        bf_srv_session_end(session, 1, "protocol version mismatch: client speaks %u, worker "
                           "speaks %u", req->proto_version, BF_PROTO_VERSION);
        return CUDA_ERROR_NOT_INITIALIZED;
    }
    copy_who(session, call->tail, call->tail_len);
    session->va_base = req->va_base;
    session->va_size = req->va_size;
    if (req->va_base == 0 || req->va_size == 0 || req->va_base % (uint64_t)getpagesize() != 0 ||
        req->va_base + req->va_size < req->va_base) {
        bf_log_error("closing session: unusable client address range [0x%" PRIx64 ", +0x%" PRIx64
                     ")", req->va_base, req->va_size);
        bf_srv_session_end(session, 1, "unusable client address range");
        return CUDA_ERROR_INVALID_VALUE;
    }

    res = open_driver(session);
    if (res != CUDA_SUCCESS)
        return res;
    (void)BF_SRV_DRV(&session->drv, DriverGetVersion, &driver_version);
    res = BF_SRV_DRV(&session->drv, DeviceGetCount, &count);
    if (res == CUDA_SUCCESS && count <= 0)
        res = CUDA_ERROR_NO_DEVICE;
    if (res != CUDA_SUCCESS) {
        bf_log_error("closing session: no device (%d)", (int)res);
        bf_srv_session_end(session, 1, "no device (%d)", (int)res);
        return res;
    }
    if (session->options->backend == BF_SRV_BACKEND_EMU && count > 1) {
        /* One arena at va_base: a second emulated device would need a second window. */
        bf_log_warn("the emulator reports %d devices; serving device 0 only", count);
        count = 1;
    }
    if (count > BF_SRV_MAX_DEVICES) {
        bf_log_warn("%d devices; serving the first %d", count, BF_SRV_MAX_DEVICES);
        count = BF_SRV_MAX_DEVICES;
    }
    for (int i = 0; i < count; i++) {
        res = open_device(session, i, count);
        if (res != CUDA_SUCCESS)
            return res;
    }

    size_t devices_len          = (size_t)count * sizeof(bf_proto_device_t);
    bf_proto_device_t *devices  = (bf_proto_device_t *)bf_srv_session_staging(session, devices_len);
    if (devices == NULL) {
        bf_srv_session_end(session, 1, "out of memory");
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (int i = 0; i < count; i++)
        describe(session, &session->devices[i], &devices[i]);
    if (bf_srv_sched_open_devices(session, count) != BF_OK) {
        bf_srv_session_end(session, 1, "out of memory");
        return CUDA_ERROR_OUT_OF_MEMORY;
    }

    rep->driver_version = (uint32_t)driver_version;
    rep->device_count   = (uint32_t)count;
    rep->devices_len    = (uint32_t)devices_len;
    call->rep_tail      = devices;
    call->rep_tail_len  = devices_len;
    session->greeted    = true;
    bf_log_info("session of %s from %s: %d device%s (%s), driver version %d", session->who,
                session->options->peer, count, count == 1 ? "" : "s", devices[0].name,
                driver_version);
    return CUDA_SUCCESS;
}

CUresult bf_srv_handle_heartbeat(bf_srv_session_t *session, bf_srv_call_t *call)
{
    /* Workers send heartbeats; one from a client means nothing and is ignored. */
    (void)session;
    (void)call;
    return CUDA_SUCCESS;
}

CUresult bf_srv_handle_goodbye(bf_srv_session_t *session, bf_srv_call_t *call)
{
    bf_log_debug("goodbye from the client (reason %u)", call->req->GOODBYE.reason);
    bf_srv_session_end(session, 0, "client closed");
    return CUDA_SUCCESS;
}
