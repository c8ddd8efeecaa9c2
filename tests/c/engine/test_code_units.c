/*
 * test_code_units.c: what libbf reads of an image to ship it (engine/code.c) and the content hash
 * (protocol/code_info.h), without a server.
 */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bf_check.h"
#include "code.h"

static void test_fatbin_and_wrapper(void)
{
    /* Two fatbins back to back: only the first is the image. */
    uint8_t blob[16 + 40 + 16 + 8] = {0};
    const uint32_t magic = 0xBA55ED50u;
    const uint64_t size = 40, size2 = 8;
    memcpy(blob, &magic, 4);
    memcpy(blob + 8, &size, 8);
    memcpy(blob + 56, &magic, 4);
    memcpy(blob + 64, &size2, 8);
    const void *start = NULL;
    CHECK(bf_cl_code_image_extent(blob, &start) == 56 && start == blob);

    struct {
        uint32_t magic, version;
        const void *data;
        void *unused;
    } wrapper = {0x466243B1u, 1, blob, NULL};
    start = NULL;
    CHECK(bf_cl_code_image_extent(&wrapper, &start) == 56 && start == blob);
    wrapper.version = 2;  /* -rdc: data is the linked fatbin, the same way */
    CHECK(bf_cl_code_image_extent(&wrapper, &start) == 56 && start == blob);
    wrapper.data = NULL;
    CHECK(bf_cl_code_image_extent(&wrapper, &start) == 0);
    CHECK(bf_cl_code_image_extent(NULL, &start) == 0);
}

static void test_elf(void)
{
    /* Header, a section whose bytes end at 0x300, a NOBITS one "ending" further, the section
     * headers at 0x200 (ending before the section's bytes). */
    uint8_t *img = calloc(1, 0x400);
    Elf64_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ehsize = sizeof(eh);
    eh.e_shoff = 0x100;
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = 2;
    memcpy(img, &eh, sizeof(eh));
    Elf64_Shdr sh[2] = {{.sh_type = SHT_PROGBITS, .sh_offset = 0x200, .sh_size = 0x100},
                        {.sh_type = SHT_NOBITS, .sh_offset = 0x300, .sh_size = 0x10000}};
    memcpy(img + 0x100, sh, sizeof(sh));
    const void *start = NULL;
    CHECK(bf_cl_code_image_extent(img, &start) == 0x300 && start == img);
    free(img);
}

static void test_ptx_and_hash(void)
{
    const char *ptx = ".version 7.5\n.target sm_75\n";
    const void *start = NULL;
    CHECK(bf_cl_code_image_extent(ptx, &start) == strlen(ptx) + 1 && start == ptx);

    uint64_t lo1, hi1, lo2, hi2, lo3, hi3;
    bf_code_hash(ptx, strlen(ptx) + 1, &lo1, &hi1);
    bf_code_hash(ptx, strlen(ptx) + 1, &lo2, &hi2);
    bf_code_hash(ptx, strlen(ptx), &lo3, &hi3);
    CHECK(lo1 == lo2 && hi1 == hi2);
    CHECK(lo1 != lo3 && hi1 != hi3);
    CHECK(lo1 != hi1);
    /* Empty input: each lane is its offset basis, finished with the length (0). */
    bf_code_hash("", 0, &lo1, &hi1);
    CHECK(lo1 == 0xcbf29ce484222325ull * 0x100000001b3ull);
    CHECK(hi1 == 0x84222325cbf29ce4ull * 0x100000001b3ull);
}

static void test_record_size(void)
{
    CHECK(bf_code_record_size(0, 0) == sizeof(bf_code_kernel_info_t));
    CHECK(bf_code_record_size(1, 0) % 4 == 0 && bf_code_record_size(1, 0) == sizeof(bf_code_kernel_info_t) + 4);
    CHECK(bf_code_record_size(4, 2) == sizeof(bf_code_kernel_info_t) + 4 + 16);
}

int main(void)
{
    test_fatbin_and_wrapper();
    test_elf();
    test_ptx_and_hash();
    test_record_size();
    return bf_check_exit("code units");
}
