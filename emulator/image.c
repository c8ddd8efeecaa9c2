/*
 * image.c: the PTX text a load call runs. For most images that is what fatbin.c finds in them;
 * for the version-2 wrapper of an -rdc=true program (shared/CUDA-ABI.md §1), whose linked fatbin
 * holds SASS only, it is the PTX of every per-TU fatbin the wrapper lists, linked into one module by
 * the engine (bf_ptx_link).
 */
#include "module.h"

#include <stdlib.h>
#include <string.h>

#include "bf_log.h"

#define WRAPPER_RDC_VERSION 2u
#define MAX_UNITS 4096

/* A version-2 wrapper's NULL-terminated list of per-TU fatbins, or NULL. Compares the magic one
 * byte at a time, as fatbin.c does, so that short PTX text is never read past its NUL. */
static const void *const *rdc_units(const uint8_t *image, size_t len)
{
    const void *const *units;
    uint32_t version;

    if (image == NULL || len != 0)
        return NULL;
    for (int i = 0; i < 4; i++)
        if (image[i] != (uint8_t)(BF_EMU_FATBIN_WRAPPER_MAGIC >> (8 * i)))
            return NULL;
    memcpy(&version, image + 4, sizeof(version));
    memcpy(&units, image + 16, sizeof(units));
    return version == WRAPPER_RDC_VERSION ? units : NULL;
}

bf_status_t bf_emu_image_load_ptx(const void *image, size_t len, int cc, bf_emu_ptx_text_t *ptx_p)
{
    const void *const *units = rdc_units(image, len);
    bf_emu_ptx_text_t *texts;
    const char **parts;
    size_t *lens, count = 0;
    bf_status_t status = BF_OK;
    char err[256] = "";

    if (units == NULL || units[0] == NULL)
        return bf_emu_image_ptx(image, len, cc, ptx_p);
    while (count < MAX_UNITS && units[count] != NULL)
        count++;
    texts = calloc(count, sizeof(*texts));
    parts = calloc(count, sizeof(*parts));
    lens = calloc(count, sizeof(*lens));
    if (texts == NULL || parts == NULL || lens == NULL) {
        status = BF_NO_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < count && status == BF_OK; i++) {
        status = bf_emu_image_ptx(units[i], 0, cc, &texts[i]);
        parts[i] = texts[i].text;
        lens[i] = texts[i].len;
    }
    if (status == BF_OK) {
        *ptx_p = (bf_emu_ptx_text_t){.arch = texts[0].arch};
        status = bf_ptx_link(parts, lens, count, &ptx_p->text, &ptx_p->len, err, sizeof(err));
        if (status != BF_OK)
            bf_log_error("openbf emulator: -rdc=true program %p: linking the PTX of its %zu translation units "
                         "failed: %s", image, count, err);
        else
            bf_log_debug("-rdc=true program %p: linked the PTX of %zu translation units", image, count);
    }
out:
    if (texts != NULL)
        for (size_t i = 0; i < count; i++)
            free(texts[i].text);
    free(texts);
    free(parts);
    free(lens);
    return status;
}
