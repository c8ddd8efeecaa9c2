/* init.c: cuInit and cuDriverGetVersion; builds the emulated devices from the BF_EMU_* variables. */
#include "emu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bf_config.h"
#include "bf_log.h"

bf_emu_state_t bf_emu = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

bool bf_emu_is_initialized(void)
{
    return __atomic_load_n(&bf_emu.initialized, __ATOMIC_ACQUIRE);
}

/* Parses BF_EMU_CC ("7.5"). A malformed value is reported and replaced by the default, so that a
 * typo never leaves the worker without a device. */
static void parse_compute_capability(int *major_p, int *minor_p)
{
    const char *text = bf_config_get(BF_CONFIG_EMU_CC);
    int major, minor;
    char tail;

    if (sscanf(text, "%d.%d%c", &major, &minor, &tail) != 2 || major < 1 || major > 99 || minor < 0 ||
        minor > 9) {
        bf_log_warn("ignoring BF_EMU_CC '%s' (expected MAJOR.MINOR, e.g. 7.5); using %s", text,
                    bf_config_table[BF_CONFIG_EMU_CC].default_value);
        text = bf_config_table[BF_CONFIG_EMU_CC].default_value;
        (void)sscanf(text, "%d.%d", &major, &minor);
    }
    *major_p = major;
    *minor_p = minor;
}

/* Parses BF_EMU_VA_BASE (hex, with or without 0x). Empty means "anywhere" (0). */
static bf_status_t parse_va_base(uintptr_t *va_base_p)
{
    const char *text = bf_config_get(BF_CONFIG_EMU_VA_BASE);
    unsigned long long value;
    char *end;

    if (text[0] == '\0') {
        *va_base_p = 0;
        return BF_OK;
    }
    errno = 0;
    value = strtoull(text, &end, 16);
    if (errno != 0 || end == text || *end != '\0' || value == 0) {
        bf_log_error("BF_EMU_VA_BASE '%s' is not a hexadecimal address", text);
        return BF_INVALID_ARG;
    }
    *va_base_p = (uintptr_t)value;
    return BF_OK;
}

/* Builds every device. Called once, with the lock held. */
static CUresult emu_setup(void)
{
    const char *memory_text = bf_config_get(BF_CONFIG_EMU_MEMORY);
    size_t memory_size;
    uintptr_t va_base;
    bf_status_t status;

    if (bf_config_parse_size(memory_text, &memory_size) != 0 || memory_size < BF_EMU_ALLOC_ALIGN) {
        bf_log_error("BF_EMU_MEMORY '%s' is not a size (e.g. 4G, 512M)", memory_text);
        return CUDA_ERROR_INVALID_VALUE;
    }
    status = parse_va_base(&va_base);
    if (status != BF_OK)
        return CUDA_ERROR_INVALID_VALUE;

    int ready = 0;
    for (; ready < BF_EMU_DEVICE_COUNT; ready++) {
        bf_emu_device_t *dev = &bf_emu.devices[ready];

        dev->ordinal = ready;
        parse_compute_capability(&dev->cc_major, &dev->cc_minor);
        dev->primary = (bf_emu_ctx_t){.cookie = BF_EMU_CTX_COOKIE, .device = ready};
        bf_emu_devrt_init(&dev->primary);
        /* One device only: its window is the whole of BF_EMU_VA_BASE's range. */
        status = bf_emu_arena_init(&dev->arena, memory_size, va_base);
        if (status != BF_OK)
            goto err_unmap_arenas;
    }
    bf_emu.device_count = BF_EMU_DEVICE_COUNT;
    return CUDA_SUCCESS;

err_unmap_arenas:
    /* Nothing stays behind, so that a later cuInit starts from scratch. */
    while (ready-- > 0)
        bf_emu_arena_fini(&bf_emu.devices[ready].arena);
    return bf_status_to_cu(status);
}

CUresult cuInit(unsigned int Flags)
{
    CUresult result = CUDA_SUCCESS;

    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (bf_emu_is_initialized())
        return CUDA_SUCCESS;

    pthread_mutex_lock(&bf_emu.lock);
    if (!bf_emu.initialized) {
        bf_log_init("bfemu", BF_LOG_WARN);
        result = emu_setup();
        if (result == CUDA_SUCCESS)
            __atomic_store_n(&bf_emu.initialized, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&bf_emu.lock);
    return result;
}

CUresult cuDriverGetVersion(int *driverVersion)
{
    if (driverVersion == NULL)
        return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = BF_EMU_DRIVER_VERSION;
    return CUDA_SUCCESS;
}
