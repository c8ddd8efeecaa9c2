/* test_validate.c: device ranges must lie inside one live allocation; window gap placement. */
#include <stdio.h>

#include "validate.h"

#include "../bf_check.h"


static void test_span(const bf_range_map_t *map)
{
    /* allocations: A = [0x1000, 0x2000), B = [0x2000, 0x3000), C = [0x5000, 0x5100) */
    CHECK(bf_srv_check_span(map, 0x1000, 0x1000) != NULL);         /* all of A */
    CHECK(bf_srv_check_span(map, 0x1800, 0x800) != NULL);          /* tail of A */
    CHECK(bf_srv_check_span(map, 0x1fff, 1) != NULL);              /* last byte of A */
    CHECK(bf_srv_check_span(map, 0x1fff, 0) != NULL);              /* empty: the address alone */
    CHECK(bf_srv_check_span(map, 0x1800, 0x801) == NULL);          /* straddles A and B */
    CHECK(bf_srv_check_span(map, 0x1000, 0x2000) == NULL);         /* covers A and B */
    CHECK(bf_srv_check_span(map, 0x5000, 0x101) == NULL);          /* leaves C */
    CHECK(bf_srv_check_span(map, 0x3000, 1) == NULL);              /* between allocations */
    CHECK(bf_srv_check_span(map, 0xfff, 2) == NULL);               /* begins before A */
    CHECK(bf_srv_check_span(map, 0, 1) == NULL);
    CHECK(bf_srv_check_span(map, 0x1800, UINT64_MAX) == NULL);     /* wraps around */
    CHECK(bf_srv_check_span(map, UINT64_MAX, 1) == NULL);
}

static void test_2d(const bf_range_map_t *map)
{
    /* rows inside A: 4 rows of 0x100 bytes, pitch 0x400 -> [0x1000, 0x1d00) */
    CHECK(bf_srv_check_2d(map, 0x1000, 0x400, 0x100, 4) != NULL);
    CHECK(bf_srv_check_2d(map, 0x1000, 0x400, 0x400, 4) != NULL);  /* exactly A */
    CHECK(bf_srv_check_2d(map, 0x1000, 0x400, 0x400, 5) == NULL);  /* fifth row is in B */
    CHECK(bf_srv_check_2d(map, 0x1c00, 0x400, 0x401, 1) == NULL);  /* width > pitch */
    CHECK(bf_srv_check_2d(map, 0x1000, 0x100, 0x200, 2) == NULL);  /* width > pitch */
    CHECK(bf_srv_check_2d(map, 0x1f00, 0x100, 0x100, 2) == NULL);  /* second row in B */
    CHECK(bf_srv_check_2d(map, 0x1000, UINT64_MAX, 1, 3) == NULL); /* extent overflows */
    CHECK(bf_srv_check_2d(map, 0x1000, 0x10, 0, 1000) != NULL);    /* empty: base alone */
    CHECK(bf_srv_check_2d(map, 0x4000, 0x10, 0, 1) == NULL);       /* empty, base unallocated */
    CHECK(bf_srv_check_2d(map, 0x5000, 0x80, 0x80, 2) != NULL);    /* all of C */
    CHECK(bf_srv_check_2d(map, 0x5000, 0x80, 0x81, 2) == NULL);
}

static void test_mul(void)
{
    uint64_t product;

    CHECK(bf_srv_mul_ok(1u << 20, 1u << 20, &product) && product == 1ull << 40);
    CHECK(!bf_srv_mul_ok(1ull << 32, 1ull << 32, &product));
}

static void test_gap(void)
{
    bf_range_map_t map;
    uint64_t addr = 0;

    bf_range_map_init(&map);
    /* window [0x100000, 0x200000), granule 0x10000 */
    CHECK(bf_srv_window_find_gap(&map, 0x100000, 0x100000, 1, 0x10000, &addr) && addr == 0x100000);
    CHECK(bf_range_map_insert(&map, 0x100000, 0x18000, 0) == BF_OK); /* rounds to 0x120000 */
    CHECK(bf_srv_window_find_gap(&map, 0x100000, 0x100000, 0x10000, 0x10000, &addr) &&
          addr == 0x120000);
    CHECK(bf_range_map_insert(&map, 0x140000, 0x10000, 0) == BF_OK);
    /* 0x120000..0x140000 holds two granules */
    CHECK(bf_srv_window_find_gap(&map, 0x100000, 0x100000, 0x20000, 0x10000, &addr) &&
          addr == 0x120000);
    /* three granules only fit after 0x150000 */
    CHECK(bf_srv_window_find_gap(&map, 0x100000, 0x100000, 0x30000, 0x10000, &addr) &&
          addr == 0x150000);
    CHECK(bf_srv_window_find_gap(&map, 0x100000, 0x100000, 0xb0000, 0x10000, &addr) &&
          addr == 0x150000);
    CHECK(!bf_srv_window_find_gap(&map, 0x100000, 0x100000, 0xc0000, 0x10000, &addr));
    /* allocations outside the window do not matter */
    CHECK(bf_range_map_insert(&map, 0x300000, 0x10000, 1) == BF_OK);
    CHECK(bf_srv_window_find_gap(&map, 0x300000, 0x100000, 0x10000, 0x10000, &addr) &&
          addr == 0x310000);
    CHECK(!bf_srv_window_find_gap(&map, 0x100000, 0x100000, 0, 0x10000, &addr));
    CHECK(!bf_srv_window_find_gap(&map, 0x100000, 0x100000, 0x10, 3, &addr));
    bf_range_map_clear(&map);
}

int main(void)
{
    bf_range_map_t map;

    bf_range_map_init(&map);
    CHECK(bf_range_map_insert(&map, 0x1000, 0x1000, 0) == BF_OK);
    CHECK(bf_range_map_insert(&map, 0x2000, 0x1000, 0) == BF_OK);
    CHECK(bf_range_map_insert(&map, 0x5000, 0x100, 0) == BF_OK);
    test_span(&map);
    test_2d(&map);
    test_mul();
    test_gap();
    bf_range_map_clear(&map);
    return bf_check_exit("validate");
}
