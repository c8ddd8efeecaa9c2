/*
 * integrity.c: MD2 (RFC 1319), HMAC-MD2 (RFC 2104) and the answer to INTEGRITY_CHECK slot 1.
 *
 * MD2 is long obsolete as a hash, but it is what NVIDIA's runtime uses to check its driver, so the
 * front needs exactly this algorithm; nothing here is meant for security.
 */
#include "integrity.h"

#include <string.h>

/* RFC 1319's permutation of 0..255 built from the digits of pi. */
static const uint8_t md2_sbox[256] = {
    0x29, 0x2e, 0x43, 0xc9, 0xa2, 0xd8, 0x7c, 0x01, 0x3d, 0x36, 0x54, 0xa1, 0xec, 0xf0, 0x06, 0x13,
    0x62, 0xa7, 0x05, 0xf3, 0xc0, 0xc7, 0x73, 0x8c, 0x98, 0x93, 0x2b, 0xd9, 0xbc, 0x4c, 0x82, 0xca,
    0x1e, 0x9b, 0x57, 0x3c, 0xfd, 0xd4, 0xe0, 0x16, 0x67, 0x42, 0x6f, 0x18, 0x8a, 0x17, 0xe5, 0x12,
    0xbe, 0x4e, 0xc4, 0xd6, 0xda, 0x9e, 0xde, 0x49, 0xa0, 0xfb, 0xf5, 0x8e, 0xbb, 0x2f, 0xee, 0x7a,
    0xa9, 0x68, 0x79, 0x91, 0x15, 0xb2, 0x07, 0x3f, 0x94, 0xc2, 0x10, 0x89, 0x0b, 0x22, 0x5f, 0x21,
    0x80, 0x7f, 0x5d, 0x9a, 0x5a, 0x90, 0x32, 0x27, 0x35, 0x3e, 0xcc, 0xe7, 0xbf, 0xf7, 0x97, 0x03,
    0xff, 0x19, 0x30, 0xb3, 0x48, 0xa5, 0xb5, 0xd1, 0xd7, 0x5e, 0x92, 0x2a, 0xac, 0x56, 0xaa, 0xc6,
    0x4f, 0xb8, 0x38, 0xd2, 0x96, 0xa4, 0x7d, 0xb6, 0x76, 0xfc, 0x6b, 0xe2, 0x9c, 0x74, 0x04, 0xf1,
    0x45, 0x9d, 0x70, 0x59, 0x64, 0x71, 0x87, 0x20, 0x86, 0x5b, 0xcf, 0x65, 0xe6, 0x2d, 0xa8, 0x02,
    0x1b, 0x60, 0x25, 0xad, 0xae, 0xb0, 0xb9, 0xf6, 0x1c, 0x46, 0x61, 0x69, 0x34, 0x40, 0x7e, 0x0f,
    0x55, 0x47, 0xa3, 0x23, 0xdd, 0x51, 0xaf, 0x3a, 0xc3, 0x5c, 0xf9, 0xce, 0xba, 0xc5, 0xea, 0x26,
    0x2c, 0x53, 0x0d, 0x6e, 0x85, 0x28, 0x84, 0x09, 0xd3, 0xdf, 0xcd, 0xf4, 0x41, 0x81, 0x4d, 0x52,
    0x6a, 0xdc, 0x37, 0xc8, 0x6c, 0xc1, 0xab, 0xfa, 0x24, 0xe1, 0x7b, 0x08, 0x0c, 0xbd, 0xb1, 0x4a,
    0x78, 0x88, 0x95, 0x8b, 0xe3, 0x63, 0xe8, 0x6d, 0xe9, 0xcb, 0xd5, 0xfe, 0x3b, 0x00, 0x1d, 0x39,
    0xf2, 0xef, 0xb7, 0x0e, 0x66, 0x58, 0xd0, 0xe4, 0xa6, 0x77, 0x72, 0xf8, 0xeb, 0x75, 0x4b, 0x0a,
    0x31, 0x44, 0x50, 0xb4, 0x8f, 0xed, 0x1f, 0x1a, 0xdb, 0x99, 0x8d, 0x33, 0x9f, 0x11, 0x83, 0x14,
};

/* The runtime's fixed 16-byte HMAC key. ZLUDA (dark_api/src/lib.rs) calls it "pass1_result", the
 * outcome of a first pass that uses no input. */
static const uint8_t integrity_key[16] = {
    0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52, 0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f,
};

/* Answers for version % 10 == 0 and 1: fixed, and not checked by cudart 13.0 (DRIVER-FRONT.md). */
static const uint64_t integrity_fixed[2][2] = {
    {0x3341181c03cb675cull, 0x8ed383aa1f4cd1e8ull},
    {0x1841181c03cb675cull, 0x8ed383aa1f4cd1e8ull},
};

/* Mixes one 16-byte block into the state and the running checksum (RFC 1319 steps 3.3 and 3.4;
 * the checksum update XORs into C[j], as the RFC's erratum corrects). */
static void md2_block(bf_cl_md2_t *md, const uint8_t *block)
{
    uint8_t last = md->checksum[15];
    unsigned t = 0;

    for (int j = 0; j < 16; j++) {
        md->state[16 + j] = block[j];
        md->state[32 + j] = (uint8_t)(block[j] ^ md->state[j]);
    }
    for (unsigned round = 0; round < 18; round++) {
        for (int k = 0; k < 48; k++) {
            md->state[k] ^= md2_sbox[t];
            t = md->state[k];
        }
        t = (t + round) & 0xff;
    }
    for (int j = 0; j < 16; j++) {
        md->checksum[j] ^= md2_sbox[block[j] ^ last];
        last = md->checksum[j];
    }
}

void bf_cl_md2_init(bf_cl_md2_t *md)
{
    memset(md, 0, sizeof(*md));
}

void bf_cl_md2_update(bf_cl_md2_t *md, const void *data, size_t len)
{
    const uint8_t *p = data;

    if (md->count > 0) {
        size_t take = BF_CL_MD2_BLOCK_SIZE - md->count;
        if (take > len)
            take = len;
        memcpy(md->block + md->count, p, take);
        md->count += (unsigned)take;
        p += take;
        len -= take;
        if (md->count < BF_CL_MD2_BLOCK_SIZE)
            return;
        md2_block(md, md->block);
        md->count = 0;
    }
    for (; len >= BF_CL_MD2_BLOCK_SIZE; p += BF_CL_MD2_BLOCK_SIZE, len -= BF_CL_MD2_BLOCK_SIZE)
        md2_block(md, p);
    memcpy(md->block, p, len);
    md->count = (unsigned)len;
}

void bf_cl_md2_final(bf_cl_md2_t *md, uint8_t digest_p[BF_CL_MD2_DIGEST_SIZE])
{
    uint8_t pad[BF_CL_MD2_BLOCK_SIZE];
    uint8_t checksum[16];
    unsigned n = BF_CL_MD2_BLOCK_SIZE - md->count;  /* always 1..16: MD2 pads even full blocks */

    memset(pad, (int)n, n);
    bf_cl_md2_update(md, pad, n);
    /* The checksum block is hashed as it stood after padding; copy it first because feeding it
     * updates the checksum again. */
    memcpy(checksum, md->checksum, sizeof(checksum));
    md2_block(md, checksum);
    memcpy(digest_p, md->state, BF_CL_MD2_DIGEST_SIZE);
}

void bf_cl_md2(const void *data, size_t len, uint8_t digest_p[BF_CL_MD2_DIGEST_SIZE])
{
    bf_cl_md2_t md;

    bf_cl_md2_init(&md);
    bf_cl_md2_update(&md, data, len);
    bf_cl_md2_final(&md, digest_p);
}

void bf_cl_hmac_md2_init(bf_cl_hmac_md2_t *hmac, const void *key, size_t key_len)
{
    uint8_t k[BF_CL_MD2_BLOCK_SIZE] = {0};
    uint8_t inner_key[BF_CL_MD2_BLOCK_SIZE];

    /* RFC 2104: a key longer than the hash's block is replaced by its hash; a shorter one is
     * padded with zeros. MD2's block and digest are both 16 bytes. */
    if (key_len > BF_CL_MD2_BLOCK_SIZE)
        bf_cl_md2(key, key_len, k);
    else
        memcpy(k, key, key_len);
    for (int i = 0; i < BF_CL_MD2_BLOCK_SIZE; i++) {
        inner_key[i] = (uint8_t)(k[i] ^ 0x36);
        hmac->outer_key[i] = (uint8_t)(k[i] ^ 0x5c);
    }
    bf_cl_md2_init(&hmac->inner);
    bf_cl_md2_update(&hmac->inner, inner_key, sizeof(inner_key));
}

void bf_cl_hmac_md2_update(bf_cl_hmac_md2_t *hmac, const void *data, size_t len)
{
    bf_cl_md2_update(&hmac->inner, data, len);
}

void bf_cl_hmac_md2_final(bf_cl_hmac_md2_t *hmac, uint8_t mac_p[BF_CL_MD2_DIGEST_SIZE])
{
    uint8_t inner_digest[BF_CL_MD2_DIGEST_SIZE];
    bf_cl_md2_t outer;

    bf_cl_md2_final(&hmac->inner, inner_digest);
    bf_cl_md2_init(&outer);
    bf_cl_md2_update(&outer, hmac->outer_key, sizeof(hmac->outer_key));
    bf_cl_md2_update(&outer, inner_digest, sizeof(inner_digest));
    bf_cl_md2_final(&outer, mac_p);
}

void bf_cl_hmac_md2(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t mac_p[BF_CL_MD2_DIGEST_SIZE])
{
    bf_cl_hmac_md2_t hmac;

    bf_cl_hmac_md2_init(&hmac, key, key_len);
    bf_cl_hmac_md2_update(&hmac, msg, msg_len);
    bf_cl_hmac_md2_final(&hmac, mac_p);
}

/* The record is defined byte by byte, little-endian, rather than by a C struct's layout. */
static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

bf_status_t bf_cl_integrity_answer(const bf_cl_integrity_msg_t *msg, int device_count,
                                   bf_cl_integrity_device_fn_t device_fn, uint64_t out_p[2])
{
    uint8_t record[BF_CL_INTEGRITY_MSG_SIZE];
    uint8_t mac[BF_CL_MD2_DIGEST_SIZE];
    bf_cl_hmac_md2_t hmac;
    uint8_t *p = record;
    unsigned kind = msg->version % 10;

    if (kind <= 1) {
        out_p[0] = integrity_fixed[kind][0];
        out_p[1] = integrity_fixed[kind][1];
        return BF_OK;
    }

    p = put_u32(p, msg->driver_version);
    p = put_u32(p, msg->version);
    p = put_u32(p, msg->pid);
    p = put_u32(p, msg->thread);
    p = put_u64(p, msg->cudart_table);
    p = put_u64(p, msg->integrity_table);
    p = put_u64(p, msg->slot_fn);
    put_u64(p, msg->unix_seconds);

    bf_cl_hmac_md2_init(&hmac, integrity_key, sizeof(integrity_key));
    bf_cl_hmac_md2_update(&hmac, record, sizeof(record));
    for (int ordinal = 0; ordinal < device_count; ordinal++) {
        const bf_proto_device_t *dev = device_fn(ordinal);
        uint8_t rec[BF_CL_INTEGRITY_DEVICE_SIZE];

        if (dev == NULL)
            return BF_INVALID_ARG;
        memcpy(rec, dev->uuid, 16);
        p = put_u32(rec + 16, (uint32_t)dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID]);
        p = put_u32(p, (uint32_t)dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID]);
        put_u32(p, (uint32_t)dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID]);
        bf_cl_hmac_md2_update(&hmac, rec, sizeof(rec));
    }
    bf_cl_hmac_md2_final(&hmac, mac);
    out_p[0] = get_u64(mac);
    out_p[1] = get_u64(mac + 8);
    return BF_OK;
}
