/*
 * MD2, HMAC-MD2 and the integrity answer, tested alone: this program links integrity.c and
 * bf_common only, no engine.
 *
 * Sources of the expected values:
 *  - MD2 digests: the test suite of RFC 1319, appendix A.5.
 *  - HMAC-MD2 and integrity answers: computed independently with pycryptodome 3.x
 *    (Crypto.Hash.HMAC over Crypto.Hash.MD2), by the script quoted above each table.
 *  - MD2 internal states after the key block, the 48-byte record and before finishing: the
 *    intermediate states ZLUDA's unit tests list for its port of the runtime's check
 *    (vosen/ZLUDA dark_api/src/lib.rs, tests integrity_check_pass2, _pass3, _pass5). They show that
 *    our state, our key and our record layout (field order, widths) are the runtime's.
 */
#include <stdio.h>
#include <string.h>

#include "integrity.h"

#include "../bf_check.h"


static void hex(const uint8_t *bytes, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", bytes[i]);
}

/* ---- RFC 1319 ------------------------------------------------------------------------------ */

static const struct {
    const char *msg;
    const char *digest;
} rfc1319[] = {
    {"", "8350e5a3e24c153df2275c9f80692773"},
    {"a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"},
    {"abc", "da853b0d3f88d99b30283a69e6ded6bb"},
    {"message digest", "ab4f496bfb2a530b219ff33031fe06b0"},
    {"abcdefghijklmnopqrstuvwxyz", "4e8ddff3650292ab5a4108c3aa47940b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "da33def2a42df13975352846c30338cd"},
    {"1234567890" "1234567890" "1234567890" "1234567890"
     "1234567890" "1234567890" "1234567890" "1234567890",
     "d5976f79d83d3a0dc9806c3c66f3efd8"},
};

static void test_md2_rfc(void)
{
    for (size_t i = 0; i < sizeof(rfc1319) / sizeof(rfc1319[0]); i++) {
        uint8_t digest[16];
        char got[33];
        size_t len = strlen(rfc1319[i].msg);

        bf_cl_md2(rfc1319[i].msg, len, digest);
        hex(digest, 16, got);
        CHECKF(strcmp(got, rfc1319[i].digest) == 0, "md2(\"%s\") = %s, want %s", rfc1319[i].msg,
              got, rfc1319[i].digest);

        /* The same message fed one byte at a time, and in uneven pieces, gives the same digest. */
        bf_cl_md2_t md;
        bf_cl_md2_init(&md);
        for (size_t j = 0; j < len; j++)
            bf_cl_md2_update(&md, rfc1319[i].msg + j, 1);
        bf_cl_md2_final(&md, digest);
        hex(digest, 16, got);
        CHECKF(strcmp(got, rfc1319[i].digest) == 0, "md2 bytewise(\"%s\") = %s", rfc1319[i].msg, got);

        bf_cl_md2_init(&md);
        for (size_t j = 0; j < len; j += 7)
            bf_cl_md2_update(&md, rfc1319[i].msg + j, len - j < 7 ? len - j : 7);
        bf_cl_md2_final(&md, digest);
        hex(digest, 16, got);
        CHECKF(strcmp(got, rfc1319[i].digest) == 0, "md2 by 7(\"%s\") = %s", rfc1319[i].msg, got);
    }
}

/* ---- HMAC-MD2 -------------------------------------------------------------------------------- */
/*
 * from Crypto.Hash import MD2, HMAC
 * HMAC.new(key, msg, digestmod=MD2).hexdigest()
 */
static void test_hmac_md2(void)
{
    uint8_t k0b[16], kaa[20], mdd[50], mac[16];
    char got[33];

    memset(k0b, 0x0b, sizeof(k0b));
    memset(kaa, 0xaa, sizeof(kaa));
    memset(mdd, 0xdd, sizeof(mdd));

    static const char fox[] = "The quick brown fox jumps over the lazy dog";
    bf_cl_hmac_md2("key", 3, fox, strlen(fox), mac);
    hex(mac, 16, got);
    CHECKF(strcmp(got, "13758b9534bfb38d850457814613b0c1") == 0, "hmac-md2(key, fox) = %s", got);

    bf_cl_hmac_md2(k0b, sizeof(k0b), "Hi There", 8, mac);
    hex(mac, 16, got);
    CHECKF(strcmp(got, "b524be0196e491ed44823746cd8923af") == 0, "hmac-md2(0b*16) = %s", got);

    /* A 20-byte key is longer than MD2's block and is hashed first. */
    bf_cl_hmac_md2(kaa, sizeof(kaa), mdd, sizeof(mdd), mac);
    hex(mac, 16, got);
    CHECKF(strcmp(got, "590cad9645dfdd80a10db004f1b0ae0a") == 0, "hmac-md2(aa*20) = %s", got);

    bf_cl_hmac_md2("", 0, "", 0, mac);
    hex(mac, 16, got);
    CHECKF(strcmp(got, "6f6e031223b36cd2a997787a03d16bf5") == 0, "hmac-md2(empty) = %s", got);
}

/* ---- MD2 states from ZLUDA's tests of the runtime's algorithm ------------------------------- */

/* State (48 bytes) then checksum (16 bytes) after the inner key block key ^ 0x36. */
static const uint8_t state_after_key[64] = {
    0x8b, 0x21, 0x9a, 0x49, 0xe8, 0x6d, 0x1a, 0xee, 0xf2, 0x37, 0xf9, 0xb5, 0x4a, 0x8c, 0x3c, 0x75,
    0xc7, 0x1e, 0xee, 0x21, 0xcf, 0x29, 0x8a, 0xe5, 0x13, 0x83, 0xf4, 0xec, 0x33, 0x04, 0xe2, 0xfd,
    0xb0, 0x2f, 0x09, 0x01, 0x4f, 0xf7, 0x68, 0x6d, 0x69, 0x46, 0x43, 0x7e, 0xb6, 0x2b, 0x21, 0xed,
    0x57, 0xa1, 0x10, 0x86, 0x0e, 0x60, 0x44, 0x1e, 0x70, 0x5f, 0x67, 0xd1, 0xeb, 0x67, 0xa1, 0x3d,
};

/* ... and after the 48-byte record of test_integrity_record below. */
static const uint8_t state_after_record[64] = {
    0x0a, 0xfd, 0xab, 0xc9, 0xff, 0x9b, 0xa0, 0xbe, 0x4d, 0x30, 0x32, 0x82, 0x74, 0x4f, 0xa7, 0x48,
    0x9d, 0x23, 0x82, 0xa3, 0x87, 0xfa, 0x6c, 0xdb, 0x92, 0x49, 0xd9, 0xb5, 0x4b, 0x2b, 0x5e, 0x51,
    0x6e, 0xf7, 0xf9, 0x4d, 0x28, 0x8a, 0x64, 0x06, 0x19, 0xb3, 0xe6, 0xbe, 0xa4, 0xec, 0x7e, 0x54,
    0x64, 0x28, 0xd9, 0xe1, 0xd4, 0x34, 0xc0, 0xa9, 0x49, 0x88, 0xc9, 0x61, 0x58, 0xdd, 0x66, 0x74,
};

/* A state at a block boundary, and the digest finishing it gives. */
static const uint8_t state_before_final[64] = {
    0x3e, 0x4b, 0xf2, 0x95, 0x71, 0xf5, 0x6b, 0x51, 0x07, 0xbf, 0x4b, 0xf1, 0x04, 0x0e, 0x8e, 0x0b,
    0x5f, 0x4d, 0x30, 0x0c, 0x0f, 0x0c, 0xae, 0xfb, 0x48, 0xaf, 0x23, 0xb5, 0xea, 0x4c, 0xc2, 0xdb,
    0xd7, 0xdf, 0x88, 0x74, 0x39, 0x58, 0x16, 0x3a, 0x1f, 0x7c, 0x9b, 0x20, 0x7e, 0x7e, 0x94, 0xc8,
    0x8b, 0xc6, 0xb2, 0x38, 0x0d, 0x07, 0x7d, 0xbd, 0x90, 0xd5, 0x39, 0x63, 0xeb, 0x1d, 0x4f, 0x40,
};
static const uint8_t digest_after_final[16] = {
    0x00, 0x23, 0x53, 0x06, 0x5e, 0x96, 0xf6, 0x9c, 0x61, 0xaa, 0x96, 0x2d, 0x2e, 0xcd, 0xa8, 0x58,
};

/* The runtime's key, as in integrity.c (kept here too so that this test pins it). */
static const uint8_t runtime_key[16] = {
    0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52, 0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f,
};

static int same_state(const bf_cl_md2_t *md, const uint8_t *expected)
{
    return md->count == 0 && memcmp(md->state, expected, 48) == 0 &&
           memcmp(md->checksum, expected + 48, 16) == 0;
}

static void test_runtime_states(void)
{
    bf_cl_hmac_md2_t hmac;
    bf_cl_md2_t md;
    uint8_t digest[16];

    bf_cl_hmac_md2_init(&hmac, runtime_key, sizeof(runtime_key));
    CHECKF(same_state(&hmac.inner, state_after_key), "state after the inner key block");

    /* The record of ZLUDA's pass-3 test, serialised as bf_cl_integrity_answer does. */
    static const uint8_t record[48] = {
        0x30, 0x2f, 0x00, 0x00,  0x32, 0x2f, 0x00, 0x00,  /* driver 0x2f30, version 12082 */
        0x23, 0xa4, 0x2f, 0x00,  0x00, 0x10, 0x9c, 0xf7,  /* pid, thread */
        0x40, 0x82, 0x95, 0xf6, 0xff, 0x7f, 0x00, 0x00,   /* CUDART_INTERFACE table */
        0x20, 0x82, 0x95, 0xf6, 0xff, 0x7f, 0x00, 0x00,   /* INTEGRITY_CHECK table */
        0xa0, 0xf4, 0xaa, 0xf2, 0xff, 0x7f, 0x00, 0x00,   /* slot 1 function */
        0xee, 0x9c, 0x2b, 0x68, 0x00, 0x00, 0x00, 0x00,   /* unix seconds */
    };
    bf_cl_hmac_md2_update(&hmac, record, sizeof(record));
    CHECKF(same_state(&hmac.inner, state_after_record), "state after the 48-byte record");

    /* bf_cl_integrity_answer serialises the same fields into the same bytes. */
    const bf_cl_integrity_msg_t msg = {
        .driver_version = 0x2f30,
        .version = 12082,
        .pid = 0x002fa423,
        .thread = 0xf79c1000,
        .cudart_table = 0x00007ffff6958240,
        .integrity_table = 0x00007ffff6958220,
        .slot_fn = 0x00007ffff2aaf4a0,
        .unix_seconds = 0x682b9cee,
    };
    uint64_t answer[2], want[2];
    bf_cl_hmac_md2(runtime_key, sizeof(runtime_key), record, sizeof(record), digest);
    memcpy(want, digest, 16);  /* little-endian host assumed, as on x86-64 */
    CHECKF(bf_cl_integrity_answer(&msg, 0, NULL, answer) == BF_OK, "answer for the pass-3 record");
    CHECKF(answer[0] == want[0] && answer[1] == want[1], "answer hashes the record's bytes");

    bf_cl_md2_init(&md);
    memcpy(md.state, state_before_final, 48);
    memcpy(md.checksum, state_before_final + 48, 16);
    bf_cl_md2_final(&md, digest);
    CHECKF(memcmp(digest, digest_after_final, 16) == 0, "digest finishing a known state");
}

/* ---- the integrity answer --------------------------------------------------------------------- */

static bf_proto_device_t devices[2];

static const bf_proto_device_t *device_at(int ordinal)
{
    return ordinal >= 0 && ordinal < 2 ? &devices[ordinal] : NULL;
}

static void set_device(bf_proto_device_t *dev, uint8_t first_uuid_byte, int domain, int bus, int device)
{
    memset(dev, 0, sizeof(*dev));
    for (int i = 0; i < 16; i++)
        dev->uuid[i] = (uint8_t)(first_uuid_byte + i);
    dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID] = domain;
    dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID] = bus;
    dev->attributes[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID] = device;
}

/*
 * key = bytes.fromhex("146addae53a9a752aa0841360bf55a9f")
 * rec = struct.pack("<IIIIQQQQ", 13000, 13002, 0x1234, 0xdeadbeef, 0x7f0011223340,
 *                   0x7f0011223380, 0x7f0011000010, 1767225600)
 * devs = struct.pack("<16siii", bytes(range(16)), 0, 0x41, 0)
 *      + struct.pack("<16siii", bytes(range(16, 32)), 1, 2, 3)
 * struct.unpack("<QQ", HMAC.new(key, rec + devs, digestmod=MD2).digest())
 */
static void test_integrity_answer(void)
{
    bf_cl_integrity_msg_t msg = {
        .driver_version = 13000,
        .version = 13002,
        .pid = 0x1234,
        .thread = 0xdeadbeef,
        .cudart_table = 0x7f0011223340,
        .integrity_table = 0x7f0011223380,
        .slot_fn = 0x7f0011000010,
        .unix_seconds = 1767225600,
    };
    uint64_t out[2] = {0, 0};

    set_device(&devices[0], 0x00, 0, 0x41, 0);
    set_device(&devices[1], 0x10, 1, 2, 3);

    CHECKF(bf_cl_integrity_answer(&msg, 2, device_at, out) == BF_OK, "answer with two devices");
    CHECKF(out[0] == 0x5198e881229eb7f5ull && out[1] == 0x0502b038efa8d887ull,
          "answer with two devices: %016llx %016llx", (unsigned long long)out[0],
          (unsigned long long)out[1]);

    CHECKF(bf_cl_integrity_answer(&msg, 0, device_at, out) == BF_OK, "answer without devices");
    CHECKF(out[0] == 0x3e68721e80af4d38ull && out[1] == 0xcfb2bde36acd8cd8ull,
          "answer without devices: %016llx %016llx", (unsigned long long)out[0],
          (unsigned long long)out[1]);

    /* Changing a PCI domain changes the answer (cudart then fails with error 103). */
    devices[1].attributes[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID] = 2;
    CHECKF(bf_cl_integrity_answer(&msg, 2, device_at, out) == BF_OK, "answer, other domain");
    CHECKF(out[0] != 0x5198e881229eb7f5ull, "the PCI domain is hashed");

    /* A device the engine cannot describe is an error and leaves out untouched. */
    out[0] = out[1] = 7;
    CHECKF(bf_cl_integrity_answer(&msg, 3, device_at, out) == BF_INVALID_ARG, "missing device");
    CHECKF(out[0] == 7 && out[1] == 7, "out untouched on error");

    /* version % 10 == 0 or 1: fixed constants, whatever the rest. */
    msg.version = 13000;
    CHECKF(bf_cl_integrity_answer(&msg, 2, device_at, out) == BF_OK, "version 13000");
    CHECKF(out[0] == 0x3341181c03cb675cull && out[1] == 0x8ed383aa1f4cd1e8ull, "version 13000 constants");
    msg.version = 13001;
    CHECKF(bf_cl_integrity_answer(&msg, 2, device_at, out) == BF_OK, "version 13001");
    CHECKF(out[0] == 0x1841181c03cb675cull && out[1] == 0x8ed383aa1f4cd1e8ull, "version 13001 constants");
}

int main(void)
{
    test_md2_rfc();
    test_hmac_md2();
    test_runtime_states();
    test_integrity_answer();
    return bf_check_exit("md2");
}
