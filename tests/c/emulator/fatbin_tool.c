/*
 * fatbin_tool.c: drives emulator/fatbin.c directly, for tests/emulator/test_fatbin.py.
 *
 * Usage:
 *   fatbin_tool image FILE [CC]          the PTX bf_emu_image_ptx picks from FILE's bytes (length known)
 *   fatbin_tool pointer FILE [CC]        the same with a bare pointer (length 0), as cuModuleLoadData
 *   fatbin_tool wrapper VERSION FILE [CC]  FILE is a fatbin; it is loaded through a fatbin wrapper
 *   fatbin_tool lz4 FILE SIZE            decodes FILE as an LZ4-style block stream of SIZE bytes
 *   fatbin_tool fuzz-lz4 FILE SIZE N     N corrupted copies of FILE through the LZ4 decoder
 *   fatbin_tool fuzz-fatbin FILE N       N corrupted copies of the fatbin FILE through the parser
 *
 * The PTX (or decoded bytes) goes to stdout. Exit status: 0 success, 3 no usable PTX (NOT_FOUND),
 * 4 malformed input (INVALID_ARG), 2 usage or I/O error. The fuzz modes print one summary line
 * "ok N rejected M" and exit 0 unless a decode claimed success with output of the wrong size;
 * buffers are allocated to their exact sizes so that AddressSanitizer sees any overrun.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf_log.h"
#include "fatbin.h"

static uint8_t *read_file(const char *path, size_t *len_p)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data;
    long size;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        exit(2);
    }
    /* One spare NUL so that the pointer mode may treat a text file as a C string. */
    data = malloc((size_t)size + 1);
    if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
        perror(path);
        exit(2);
    }
    data[size] = 0;
    fclose(f);
    *len_p = (size_t)size;
    return data;
}

static int exit_code(bf_status_t status)
{
    switch (status) {
    case BF_OK:
        return 0;
    case BF_NOT_FOUND:
        return 3;
    case BF_INVALID_ARG:
        return 4;
    default:
        return 5;
    }
}

static int print_ptx(bf_status_t status, bf_emu_ptx_text_t *ptx)
{
    if (status == BF_OK) {
        fwrite(ptx->text, 1, ptx->len, stdout);
        fprintf(stderr, "arch %d, %zu bytes\n", ptx->arch, ptx->len);
        free(ptx->text);
    }
    return exit_code(status);
}

/* xorshift64: a fixed sequence, so that a failure reproduces. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Corrupts a copy of data in one of several ways; returns its (possibly shorter) length. */
static size_t mutate(uint8_t *copy, const uint8_t *data, size_t len, uint64_t *rng)
{
    size_t n = len;

    if (len == 0)
        return 0;
    memcpy(copy, data, len);
    switch (next_random(rng) % 4) {
    case 0: /* flip a few bytes */
        for (int k = 0; k < 1 + (int)(next_random(rng) % 4); k++)
            copy[next_random(rng) % len] ^= (uint8_t)(1 + next_random(rng) % 255);
        break;
    case 1: /* truncate */
        n = next_random(rng) % len;
        break;
    case 2: /* a run of 0xff (long length extensions) */
        for (size_t i = next_random(rng) % len, k = 0; i < len && k < 64; i++, k++)
            copy[i] = 0xff;
        break;
    default: /* random bytes in a window */
        for (size_t i = next_random(rng) % len, k = 0; i < len && k < 16; i++, k++)
            copy[i] = (uint8_t)next_random(rng);
        break;
    }
    return n;
}

static int fuzz_lz4(const uint8_t *data, size_t len, size_t size, long rounds)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    long ok = 0, rejected = 0;

    for (long r = 0; r < rounds; r++) {
        uint8_t *copy = malloc(len ? len : 1);
        size_t n = mutate(copy, data, len, &rng), out = 0;
        /* Exact-size heap blocks: ASan reports a read or write one byte past either. */
        uint8_t *in = malloc(n ? n : 1), *dst = malloc(size ? size : 1);

        memcpy(in, copy, n);
        if (bf_emu_lz4_decode(in, n, dst, size, &out) == BF_OK) {
            if (out > size) {
                printf("round %ld: decoder reports %zu bytes into %zu\n", r, out, size);
                return 1;
            }
            ok++;
        } else {
            rejected++;
        }
        free(dst);
        free(in);
        free(copy);
    }
    printf("ok %ld rejected %ld\n", ok, rejected);
    return 0;
}

static int fuzz_fatbin(const uint8_t *data, size_t len, long rounds)
{
    uint64_t rng = 0x2545f4914f6cdd1dull;
    long ok = 0, rejected = 0;

    for (long r = 0; r < rounds; r++) {
        uint8_t *copy = malloc(len ? len : 1);
        size_t n = mutate(copy, data, len, &rng);
        uint8_t *in = malloc(n ? n : 1);
        bf_emu_ptx_text_t ptx;

        memcpy(in, copy, n);
        if (bf_emu_fatbin_ptx(in, n, 75, "fuzzed fatbin", &ptx) == BF_OK) {
            if (strlen(ptx.text) != ptx.len) {
                printf("round %ld: text length %zu but strlen %zu\n", r, ptx.len, strlen(ptx.text));
                return 1;
            }
            free(ptx.text);
            ok++;
        } else {
            rejected++;
        }
        free(in);
        free(copy);
    }
    printf("ok %ld rejected %ld\n", ok, rejected);
    return 0;
}

int main(int argc, char **argv)
{
    bf_emu_ptx_text_t ptx;
    uint8_t *data;
    size_t len;
    int cc, code;

    if (argc >= 3 && (strcmp(argv[1], "image") == 0 || strcmp(argv[1], "pointer") == 0)) {
        cc = argc > 3 ? atoi(argv[3]) : 75;
        data = read_file(argv[2], &len);
        code = print_ptx(bf_emu_image_ptx(data, argv[1][0] == 'i' ? len : 0, cc, &ptx), &ptx);
        free(data);
        return code;
    }
    if (argc >= 4 && strcmp(argv[1], "wrapper") == 0) {
        /* The layout nvcc emits in .nvFatBinSegment: magic, version, data, filename_or_fatbins. */
        struct {
            int magic;
            int version;
            const unsigned long long *data;
            void *filename_or_fatbins;
        } wrapper;

        cc = argc > 4 ? atoi(argv[4]) : 75;
        data = read_file(argv[3], &len);
        wrapper.magic = (int)BF_EMU_FATBIN_WRAPPER_MAGIC;
        wrapper.version = atoi(argv[2]);
        wrapper.data = (const unsigned long long *)data;
        wrapper.filename_or_fatbins = NULL;
        code = print_ptx(bf_emu_image_ptx(&wrapper, 0, cc, &ptx), &ptx);
        free(data);
        return code;
    }
    if (argc == 4 && strcmp(argv[1], "lz4") == 0) {
        size_t size = strtoull(argv[3], NULL, 0), out = 0;
        uint8_t *dst = malloc(size ? size : 1);
        bf_status_t status;

        data = read_file(argv[2], &len);
        status = bf_emu_lz4_decode(data, len, dst, size, &out);
        if (status == BF_OK)
            fwrite(dst, 1, out, stdout);
        free(dst);
        free(data);
        return exit_code(status);
    }
    /* Corrupt input is expected there: one log line per rejection would only be noise. */
    bf_log_level = BF_LOG_OFF;
    if (argc == 5 && strcmp(argv[1], "fuzz-lz4") == 0) {
        data = read_file(argv[2], &len);
        code = fuzz_lz4(data, len, strtoull(argv[3], NULL, 0), atol(argv[4]));
        free(data);
        return code;
    }
    if (argc == 4 && strcmp(argv[1], "fuzz-fatbin") == 0) {
        data = read_file(argv[2], &len);
        code = fuzz_fatbin(data, len, atol(argv[3]));
        free(data);
        return code;
    }
    fprintf(stderr, "usage: fatbin_tool image|pointer FILE [CC] | wrapper VERSION FILE [CC] | lz4 FILE SIZE |"
                    " fuzz-lz4 FILE SIZE N | fuzz-fatbin FILE N\n");
    return 2;
}
