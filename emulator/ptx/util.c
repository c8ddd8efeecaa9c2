/*
 * util.c: the loader's small services: a name map with scopes, the PTX type table, error text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

static uint32_t hash_bytes(const char *key, uint32_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 16777619u;
    }
    return h;
}

bf_status_t bf_ptx_map_init(bf_ptx_map_t *map, uint32_t buckets)
{
    memset(map, 0, sizeof(*map));
    uint32_t n = 16;
    while (n < buckets)
        n <<= 1;
    map->buckets = malloc(n * sizeof(*map->buckets));
    if (!map->buckets)
        return BF_NO_MEMORY;
    memset(map->buckets, 0xff, n * sizeof(*map->buckets));
    map->bucket_count = n;
    return BF_OK;
}

void bf_ptx_map_fini(bf_ptx_map_t *map)
{
    free(map->buckets);
    free(map->entries);
    memset(map, 0, sizeof(*map));
}

static bf_status_t map_rehash(bf_ptx_map_t *map)
{
    uint32_t n = map->bucket_count * 2;
    int32_t *buckets = malloc(n * sizeof(*buckets));
    if (!buckets)
        return BF_NO_MEMORY;
    memset(buckets, 0xff, n * sizeof(*buckets));
    /* Re-linking oldest first keeps newer entries ahead of the ones they shadow. */
    for (uint32_t i = 0; i < map->count; i++) {
        bf_ptx_map_entry_t *e = &map->entries[i];
        e->bucket = hash_bytes(e->key, e->len) & (n - 1);
        e->next = buckets[e->bucket];
        buckets[e->bucket] = (int32_t)i;
    }
    free(map->buckets);
    map->buckets = buckets;
    map->bucket_count = n;
    return BF_OK;
}

bf_status_t bf_ptx_map_add(bf_ptx_map_t *map, const char *key, uint32_t len, uint32_t value)
{
    if (map->count == map->cap) {
        uint32_t cap = map->cap ? map->cap * 2 : 64;
        bf_ptx_map_entry_t *entries = realloc(map->entries, cap * sizeof(*entries));
        if (!entries)
            return BF_NO_MEMORY;
        map->entries = entries;
        map->cap = cap;
    }
    if (map->count >= map->bucket_count && map_rehash(map) != BF_OK)
        return BF_NO_MEMORY;
    bf_ptx_map_entry_t *e = &map->entries[map->count];
    e->key = key;
    e->len = len;
    e->value = value;
    e->bucket = hash_bytes(key, len) & (map->bucket_count - 1);
    e->next = map->buckets[e->bucket];
    map->buckets[e->bucket] = (int32_t)map->count;
    map->count++;
    return BF_OK;
}

int bf_ptx_map_get(const bf_ptx_map_t *map, const char *key, uint32_t len, uint32_t *value_p)
{
    if (!map->buckets)
        return 0;
    int32_t i = map->buckets[hash_bytes(key, len) & (map->bucket_count - 1)];
    while (i >= 0) {
        const bf_ptx_map_entry_t *e = &map->entries[i];
        if (e->len == len && memcmp(e->key, key, len) == 0) {
            *value_p = e->value;
            return 1;
        }
        i = e->next;
    }
    return 0;
}

void bf_ptx_map_truncate(bf_ptx_map_t *map, uint32_t mark)
{
    /* Entries are unlinked newest first, so each is the head of its bucket when removed. */
    while (map->count > mark) {
        bf_ptx_map_entry_t *e = &map->entries[--map->count];
        map->buckets[e->bucket] = e->next;
    }
}

static const struct {
    const char *name;
    bf_ptx_type_t type;
    unsigned bits;
} type_table[] = {
    {"b8", BF_PTX_T_B8, 8},       {"b16", BF_PTX_T_B16, 16},     {"b32", BF_PTX_T_B32, 32},
    {"b64", BF_PTX_T_B64, 64},    {"u8", BF_PTX_T_U8, 8},        {"u16", BF_PTX_T_U16, 16},
    {"u32", BF_PTX_T_U32, 32},    {"u64", BF_PTX_T_U64, 64},     {"s8", BF_PTX_T_S8, 8},
    {"s16", BF_PTX_T_S16, 16},    {"s32", BF_PTX_T_S32, 32},     {"s64", BF_PTX_T_S64, 64},
    {"f16", BF_PTX_T_F16, 16},    {"f16x2", BF_PTX_T_F16X2, 32}, {"bf16", BF_PTX_T_BF16, 16},
    {"bf16x2", BF_PTX_T_BF16X2, 32}, {"f32", BF_PTX_T_F32, 32},  {"f64", BF_PTX_T_F64, 64},
    {"pred", BF_PTX_T_PRED, 1},   {"b128", BF_PTX_T_B128, 128},
};

bf_ptx_type_t bf_ptx_type_parse(const char *s, size_t len)
{
    if (len > 0 && s[0] == '.') {
        s++;
        len--;
    }
    for (size_t i = 0; i < sizeof(type_table) / sizeof(type_table[0]); i++)
        if (strlen(type_table[i].name) == len && memcmp(type_table[i].name, s, len) == 0)
            return type_table[i].type;
    return BF_PTX_T_NONE;
}

unsigned bf_ptx_type_bits(bf_ptx_type_t t)
{
    for (size_t i = 0; i < sizeof(type_table) / sizeof(type_table[0]); i++)
        if (type_table[i].type == t)
            return type_table[i].bits;
    return 0;
}

const char *bf_ptx_type_name(bf_ptx_type_t t)
{
    for (size_t i = 0; i < sizeof(type_table) / sizeof(type_table[0]); i++)
        if (type_table[i].type == t)
            return type_table[i].name;
    return "?";
}

int bf_ptx_type_is_signed(bf_ptx_type_t t)
{
    return t == BF_PTX_T_S8 || t == BF_PTX_T_S16 || t == BF_PTX_T_S32 || t == BF_PTX_T_S64;
}

int bf_ptx_type_is_float(bf_ptx_type_t t)
{
    return t == BF_PTX_T_F16 || t == BF_PTX_T_F16X2 || t == BF_PTX_T_BF16 || t == BF_PTX_T_BF16X2 ||
           t == BF_PTX_T_F32 || t == BF_PTX_T_F64;
}

bf_status_t bf_ptx_fail(bf_ptx_loader_t *L, bf_status_t status, uint32_t line, const char *fmt, ...)
{
    if (L->status != BF_OK)
        return L->status;
    L->status = status;
    if (L->err && L->err_len) {
        int n = snprintf(L->err, L->err_len, "line %u: ", line);
        if (n >= 0 && (size_t)n < L->err_len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(L->err + n, L->err_len - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return status;
}

const char *const bf_ptx_xop_names[BF_PTX_X_COUNT] = {
#define BF_PTX_XOP_NAME(name) #name,
    BF_PTX_XOPS(BF_PTX_XOP_NAME)
#undef BF_PTX_XOP_NAME
};
