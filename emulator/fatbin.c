/*
 * fatbin.c: the PTX inside the images given to cuModuleLoadData, cuModuleLoadFatBinary and
 * cuLibraryLoadData (layouts in shared/CUDA-ABI.md §2).
 *
 * A fatbin is a 16-byte header followed by entries, each a header of at least 0x40 bytes and a
 * payload: PTX (kind 1), a cubin (kind 2) or LTO-IR (kind 8). The emulator interprets PTX, so it
 * takes the PTX entry of the highest architecture it may run and ignores the rest; SASS is of no
 * use to it. Payloads are raw, one zstd frame (flag 0x8000) or an LZ4-style block stream (flag
 * 0x2000). Every field read from an image is checked against the bytes known to exist before it is
 * used, so a corrupt image gives an error, never a fault or a huge allocation.
 */
#include "fatbin.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "bf_log.h"

#define FATBIN_HEADER_SIZE 16
#define ENTRY_HEADER_MIN 0x40

#define ENTRY_KIND_PTX 1
#define ENTRY_KIND_ELF 2

#define ENTRY_FLAG_LZ4 0x2000u
#define ENTRY_FLAG_ZSTD 0x8000u
#define ENTRY_FLAG_ARCH_SPECIFIC 0x100000u  /* compute_90a: runs on exactly that architecture */
#define ENTRY_FLAG_FAMILY 0x200000u         /* compute_100f: runs within its major version */

#define WRAPPER_SIZE 24
#define ELF_E_FLAGS_OFFSET 0x30

typedef struct {
    const uint8_t *header;
    uint16_t kind;
    uint32_t header_size;
    uint64_t payload_size;
    uint32_t compressed_size;
    uint32_t arch;
    uint64_t flags;
    uint64_t uncompressed_size;
} entry_t;

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* --- LZ4-style blocks ------------------------------------------------------------------------ */

/* Adds the extension bytes of a literal or match length: each byte is added, 255 means more
 * follow. Fails when the input ends first or the sum overflows. */
static bool read_length(const uint8_t *src, size_t src_len, size_t *pos_p, size_t *value_p)
{
    uint8_t byte;

    do {
        if (*pos_p >= src_len)
            return false;
        byte = src[(*pos_p)++];
        if (*value_p > SIZE_MAX - byte)
            return false;
        *value_p += byte;
    } while (byte == 255);
    return true;
}

bf_status_t bf_emu_lz4_decode(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                              size_t *out_len_p)
{
    size_t in = 0, out = 0;

    while (in < src_len) {
        const uint8_t token = src[in++];
        size_t literals = token >> 4, match = (size_t)(token & 15) + 4, offset;

        if (literals == 15 && !read_length(src, src_len, &in, &literals))
            return BF_INVALID_ARG;
        if (literals > src_len - in || literals > dst_cap - out)
            return BF_INVALID_ARG;
        memcpy(dst + out, src + in, literals);
        in += literals;
        out += literals;
        /* The last sequence carries literals only. */
        if (in == src_len)
            break;
        if (src_len - in < 2)
            return BF_INVALID_ARG;
        offset = get_u16(src + in);
        in += 2;
        if (offset == 0 || offset > out)
            return BF_INVALID_ARG;
        if ((token & 15) == 15 && !read_length(src, src_len, &in, &match))
            return BF_INVALID_ARG;
        if (match > dst_cap - out)
            return BF_INVALID_ARG;
        /* Byte by byte: a match may overlap the bytes it is producing (offset < length). */
        for (size_t i = 0; i < match; i++, out++)
            dst[out] = dst[out - offset];
    }
    *out_len_p = out;
    return BF_OK;
}

/* --- fatbin entries -------------------------------------------------------------------------- */

/* Reads the entry at *pos_p and advances past it. Fails when the header or payload would reach
 * beyond end. */
static bool read_entry(const uint8_t *base, size_t end, size_t *pos_p, entry_t *entry_p)
{
    const size_t pos = *pos_p;
    const uint8_t *p = base + pos;
    entry_t entry;

    if (end - pos < ENTRY_HEADER_MIN)
        return false;
    entry = (entry_t){
        .header = p,
        .kind = get_u16(p),
        .header_size = get_u32(p + 0x04),
        .payload_size = get_u64(p + 0x08),
        .compressed_size = get_u32(p + 0x10),
        .arch = get_u32(p + 0x1c),
        .flags = get_u64(p + 0x28),
        .uncompressed_size = get_u64(p + 0x38),
    };
    if (entry.header_size < ENTRY_HEADER_MIN || entry.header_size > end - pos ||
        entry.payload_size > end - pos - entry.header_size)
        return false;
    *pos_p = pos + entry.header_size + entry.payload_size;
    *entry_p = entry;
    return true;
}

/* Whether the emulator, at compute capability cc, may run PTX written for this entry. */
static bool ptx_runs_at(const entry_t *entry, int cc)
{
    if (entry->kind != ENTRY_KIND_PTX || entry->arch > (uint32_t)cc)
        return false;
    if (entry->flags & ENTRY_FLAG_ARCH_SPECIFIC)
        return entry->arch == (uint32_t)cc;
    if (entry->flags & ENTRY_FLAG_FAMILY)
        return entry->arch / 10 == (uint32_t)cc / 10;
    return true;
}

/* Appends "sm_75 SASS" or "compute_90 PTX" to a list of what an image holds, for messages. */
static void describe_entry(char *list, size_t cap, const entry_t *entry)
{
    const size_t used = strlen(list);
    const char *what = entry->kind == ENTRY_KIND_PTX ? "PTX" : entry->kind == ENTRY_KIND_ELF ? "SASS" : "LTO-IR";
    const char *prefix = entry->kind == ENTRY_KIND_PTX ? "compute" : entry->kind == ENTRY_KIND_ELF ? "sm" : "lto";

    if (used + 1 < cap)
        snprintf(list + used, cap - used, "%s%s_%u %s", used ? ", " : "", prefix, entry->arch, what);
}

static void log_no_ptx(const char *what, int cc, const char *holds)
{
    bf_log_error("openbf emulator: %s has no PTX for compute_%d or lower (it holds %s); the emulator "
                 "runs PTX only: rebuild with -gencode arch=compute_%d,code=compute_%d or -arch=sm_%d",
                 what, cc, holds[0] ? holds : "no code", cc, cc, cc);
}

/* Copies an entry's payload out as NUL-terminated text, decompressing it. */
static bf_status_t entry_text(const entry_t *entry, const char *what, bf_emu_ptx_text_t *ptx_p)
{
    const uint8_t *payload = entry->header + entry->header_size;
    const bool compressed = (entry->flags & (ENTRY_FLAG_LZ4 | ENTRY_FLAG_ZSTD)) != 0;
    size_t size = compressed ? entry->uncompressed_size : entry->payload_size;
    size_t produced = 0;
    char *text;

    if (compressed && (entry->compressed_size > entry->payload_size || entry->compressed_size == 0)) {
        bf_log_error("%s: compressed PTX entry of %u bytes in a payload of %lu", what,
                     entry->compressed_size, (unsigned long)entry->payload_size);
        return BF_INVALID_ARG;
    }
    if (size > BF_EMU_FATBIN_MAX_ENTRY) {
        bf_log_error("%s: PTX entry of %lu bytes is larger than the %zu the emulator accepts", what,
                     (unsigned long)size, BF_EMU_FATBIN_MAX_ENTRY);
        return BF_INVALID_ARG;
    }
    text = malloc(size + 1);
    if (text == NULL)
        return BF_NO_MEMORY;

    if (entry->flags & ENTRY_FLAG_ZSTD) {
        produced = ZSTD_decompress(text, size, payload, entry->compressed_size);
        if (ZSTD_isError(produced)) {
            bf_log_error("%s: zstd-compressed PTX entry does not decode: %s", what, ZSTD_getErrorName(produced));
            goto err_free_text;
        }
    } else if (entry->flags & ENTRY_FLAG_LZ4) {
        if (bf_emu_lz4_decode(payload, entry->compressed_size, (uint8_t *)text, size, &produced) != BF_OK) {
            bf_log_error("%s: LZ4-compressed PTX entry is corrupt", what);
            goto err_free_text;
        }
    } else {
        memcpy(text, payload, size);
        produced = size;
    }
    /* The embedded text ends in a NUL (counted in the sizes) and may be padded after it. */
    text[produced] = '\0';
    *ptx_p = (bf_emu_ptx_text_t){.text = text, .len = strlen(text), .arch = (int)entry->arch};
    return BF_OK;

err_free_text:
    free(text);
    return BF_INVALID_ARG;
}

bf_status_t bf_emu_fatbin_ptx(const uint8_t *fatbin, size_t len, int cc, const char *what,
                              bf_emu_ptx_text_t *ptx_p)
{
    char holds[256] = "";
    entry_t entry, best = {0};
    bool found = false;
    uint16_t header_size;
    uint64_t body_size;
    size_t pos, end;

    if (what == NULL)
        what = "fatbin";
    if (fatbin == NULL || len < FATBIN_HEADER_SIZE || get_u32(fatbin) != BF_EMU_FATBIN_MAGIC) {
        bf_log_error("%s: not a fatbin (no 0x%08x header)", what, BF_EMU_FATBIN_MAGIC);
        return BF_INVALID_ARG;
    }
    header_size = get_u16(fatbin + 6);
    body_size = get_u64(fatbin + 8);
    if (header_size < FATBIN_HEADER_SIZE || header_size > len || body_size > len - header_size) {
        bf_log_error("%s: fatbin header (%u + %lu bytes) does not fit in %zu bytes", what, header_size,
                     (unsigned long)body_size, len);
        return BF_INVALID_ARG;
    }
    end = header_size + body_size;
    for (pos = header_size; pos < end;) {
        if (!read_entry(fatbin, end, &pos, &entry)) {
            bf_log_error("%s: fatbin entry at offset %zu is truncated or malformed", what, pos);
            return BF_INVALID_ARG;
        }
        describe_entry(holds, sizeof(holds), &entry);
        if (ptx_runs_at(&entry, cc) && (!found || entry.arch > best.arch)) {
            best = entry;
            found = true;
        }
    }
    if (!found) {
        log_no_ptx(what, cc, holds);
        return BF_NOT_FOUND;
    }
    bf_log_debug("%s: loading compute_%u PTX (flags 0x%lx) of: %s", what, best.arch,
                 (unsigned long)best.flags, holds);
    return entry_text(&best, what, ptx_p);
}

/* --- any image ------------------------------------------------------------------------------- */

/* A bare pointer to a fatbin: its own header says how long it is. */
static bf_status_t fatbin_at(const uint8_t *fatbin, int cc, const char *what, bf_emu_ptx_text_t *ptx_p)
{
    const uint16_t header_size = get_u16(fatbin + 6);
    const uint64_t body_size = get_u64(fatbin + 8);

    if (header_size < FATBIN_HEADER_SIZE || body_size > SIZE_MAX - header_size) {
        bf_log_error("%s: fatbin header is malformed", what);
        return BF_INVALID_ARG;
    }
    return bf_emu_fatbin_ptx(fatbin, header_size + body_size, cc, what, ptx_p);
}

static bf_status_t wrapper_ptx(const uint8_t *image, size_t len, int cc, bf_emu_ptx_text_t *ptx_p)
{
    const uint32_t version = get_u32(image + 4);
    const uint8_t *data;
    char what[96];

    if (len != 0) {
        /* Its data pointer means something only inside the process that built it. */
        bf_log_error("a fatbin wrapper (magic 0x%08x) is only valid in memory, not as a file",
                     BF_EMU_FATBIN_WRAPPER_MAGIC);
        return BF_INVALID_ARG;
    }
    memcpy(&data, image + 8, sizeof(data));
    /* nvlink's image of an -rdc=true program holds SASS only; image.c links the per-TU PTX the
     * wrapper also lists instead. When this is reached anyway, the message says what it was. */
    snprintf(what, sizeof(what), version == 2 ? "-rdc=true linked fatbin %p" : "fatbin %p", (const void *)data);
    /* Version 2 (-rdc) also lists the per-TU fatbins; data is the linked one, which is what runs. */
    if ((version != 1 && version != 2) || data == NULL || get_u32(data) != BF_EMU_FATBIN_MAGIC) {
        bf_log_error("fatbin wrapper %p: version %u, data %p is not a fatbin", (const void *)image, version,
                     (const void *)data);
        return BF_INVALID_ARG;
    }
    return fatbin_at(data, cc, what, ptx_p);
}

static bf_status_t cubin_refused(const uint8_t *image, size_t len, int cc)
{
    unsigned arch = 0;

    if (len == 0 || len >= ELF_E_FLAGS_OFFSET + 4)
        arch = (get_u32(image + ELF_E_FLAGS_OFFSET) >> 8) & 0xff;
    bf_log_error("openbf emulator: cubin %p (sm_%u SASS) has no PTX for compute_%d or lower; the "
                 "emulator runs PTX only: rebuild with -gencode arch=compute_%d,code=compute_%d or -arch=sm_%d",
                 (const void *)image, arch, cc, cc, cc, cc);
    return BF_NOT_FOUND;
}

static bf_status_t text_ptx(const char *image, size_t len, bf_emu_ptx_text_t *ptx_p)
{
    const size_t text_len = len != 0 ? strnlen(image, len) : strlen(image);
    char *text;

    /* Every PTX module starts with a .version directive (after comments and blank lines). */
    if (memmem(image, text_len, ".version", 8) == NULL) {
        bf_log_error("image %p is neither a fatbin, a cubin nor PTX text", (const void *)image);
        return BF_INVALID_ARG;
    }
    text = malloc(text_len + 1);
    if (text == NULL)
        return BF_NO_MEMORY;
    memcpy(text, image, text_len);
    text[text_len] = '\0';
    *ptx_p = (bf_emu_ptx_text_t){.text = text, .len = text_len, .arch = 0};
    return BF_OK;
}

/* Whether bytes starts with the 4 bytes of magic (little-endian). Compares one byte at a time so
 * that a shorter NUL-terminated text is never read past its NUL: no magic byte is zero. */
static bool has_magic(const uint8_t *bytes, size_t len, uint32_t magic)
{
    for (int i = 0; i < 4; i++) {
        if ((len != 0 && (size_t)i >= len) || bytes[i] != (uint8_t)(magic >> (8 * i)))
            return false;
    }
    return true;
}

bf_status_t bf_emu_image_ptx(const void *image, size_t len, int cc, bf_emu_ptx_text_t *ptx_p)
{
    const uint8_t *bytes = image;
    char what[64];

    if (image == NULL) {
        bf_log_debug("no image");
        return BF_INVALID_ARG;
    }
    if (has_magic(bytes, len, BF_EMU_FATBIN_WRAPPER_MAGIC) && (len == 0 || len >= WRAPPER_SIZE))
        return wrapper_ptx(bytes, len, cc, ptx_p);
    if (has_magic(bytes, len, BF_EMU_FATBIN_MAGIC)) {
        snprintf(what, sizeof(what), "fatbin %p", image);
        if (len == 0)
            return fatbin_at(bytes, cc, what, ptx_p);
        return bf_emu_fatbin_ptx(bytes, len, cc, what, ptx_p);
    }
    if (has_magic(bytes, len, 0x464c457fu)) /* "\177ELF" */
        return cubin_refused(bytes, len, cc);
    return text_ptx(image, len, ptx_p);
}
