/*
 * fatbin.h: finding the PTX text the emulator runs inside the code images a driver is handed.
 *
 * cuModuleLoadData, cuModuleLoadFatBinary and cuLibraryLoadData accept four kinds of image:
 * the 24-byte wrapper nvcc puts in .nvFatBinSegment (magic 0x466243B1, version 1, or 2 for
 * -rdc builds), a bare fatbin (magic 0xBA55ED50, shared/CUDA-ABI.md §2), a cubin ELF, and PTX
 * text. The emulator executes PTX only: from a fatbin it takes the PTX entry of the highest
 * architecture at or below the emulated compute capability, decompressed (zstd, or the LZ4-style
 * block format), and it refuses images that hold SASS only.
 *
 * The functions here never trust the lengths written inside an image: every read is checked
 * against the bytes the caller says exist.
 */
#ifndef BF_EMU_FATBIN_H
#define BF_EMU_FATBIN_H

#include <stddef.h>
#include <stdint.h>

#include "bf_status.h"

#define BF_EMU_FATBIN_WRAPPER_MAGIC 0x466243B1u
#define BF_EMU_FATBIN_MAGIC 0xBA55ED50u

/* Largest decompressed entry accepted: a bound on what a corrupt size field can make us allocate. */
#define BF_EMU_FATBIN_MAX_ENTRY ((size_t)1 << 30)

/* PTX text taken out of an image: NUL-terminated, malloc'ed, owned by the receiver. */
typedef struct {
    char *text;
    size_t len;     /* bytes before the terminating NUL */
    int arch;       /* the entry's compute_XX as XX (0 for bare PTX text) */
} bf_emu_ptx_text_t;

/*
 * Decodes an LZ4-style block stream (fatbin entry flag 0x2000): tokens of literals and
 * back-references, no frame header, ending when the input ends.
 *   src, src_len   in   the compressed bytes
 *   dst, dst_cap   out  where the output goes, and its capacity
 *   out_len_p      out  bytes written
 * Returns BF_OK, or BF_INVALID_ARG for a stream that reads or writes out of bounds or refers
 * back before the start of the output. Never reads or writes outside the two buffers.
 */
bf_status_t bf_emu_lz4_decode(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap,
                              size_t *out_len_p);

/*
 * Picks the PTX the emulator should load from a bare fatbin.
 *   fatbin, len  in   the fatbin: its 16-byte header and as many entry bytes as the caller has
 *   cc           in   the emulated compute capability as major * 10 + minor (75 for 7.5)
 *   what         in   how messages name the image ("fatbin 0x7f..."), or NULL
 *   ptx_p        out  the decompressed text
 * Returns BF_OK; BF_NOT_FOUND when no PTX entry is at or below cc (logged with the rebuild hint);
 * BF_INVALID_ARG for a malformed fatbin or entry (logged); BF_NO_MEMORY.
 */
bf_status_t bf_emu_fatbin_ptx(const uint8_t *fatbin, size_t len, int cc, const char *what,
                              bf_emu_ptx_text_t *ptx_p);

/*
 * Same for any image a load call accepts: wrapper, fatbin, cubin or PTX text.
 *   image  in   the image
 *   len    in   bytes known to be readable at image, or 0 when the caller was given a bare pointer
 *               (cuModuleLoadData): sizes are then taken from the image's own headers
 *   cc     in   as above
 *   ptx_p  out  the text to load
 * Returns BF_OK; BF_NOT_FOUND for a cubin or a fatbin without usable PTX (logged); BF_INVALID_ARG
 * for NULL, a malformed wrapper or fatbin, or text that is not PTX (logged); BF_NO_MEMORY.
 */
bf_status_t bf_emu_image_ptx(const void *image, size_t len, int cc, bf_emu_ptx_text_t *ptx_p);

#endif
