/*
 * integrity.h: the answer to INTEGRITY_CHECK slot 1 of the private export tables (private to
 * libintercept; see export_tables.c and docs/export-tables.md).
 *
 * NVIDIA's runtime checks that it runs on a genuine driver by asking the driver for an HMAC
 * (RFC 2104) built on MD2 (RFC 1319) of a record describing the process, the export tables and
 * every device. Every input is something the front reports itself, so the answer is computed
 * locally from the engine's cached device descriptions, without a round trip.
 *
 * The MD2 and HMAC-MD2 functions are pure (no engine state, no allocation) so that unit tests can
 * check them alone against the RFC's vectors.
 */
#ifndef BF_CL_INTEGRITY_H
#define BF_CL_INTEGRITY_H

#include <stddef.h>
#include <stdint.h>

#include "bf_status.h"
#include "proto.h"

#define BF_CL_MD2_BLOCK_SIZE  16
#define BF_CL_MD2_DIGEST_SIZE 16

/* Running MD2 state. state[0..16) is the digest once finished; checksum[15] doubles as the
 * "last checksum byte" L that RFC 1319 carries from block to block. */
typedef struct {
    uint8_t state[48];
    uint8_t checksum[16];
    uint8_t block[BF_CL_MD2_BLOCK_SIZE];
    unsigned count;  /* bytes waiting in block, 0..15 */
} bf_cl_md2_t;

/* HMAC-MD2: the inner MD2 state plus the outer padded key. */
typedef struct {
    bf_cl_md2_t inner;
    uint8_t outer_key[BF_CL_MD2_BLOCK_SIZE];
} bf_cl_hmac_md2_t;

/* Starts an MD2 computation.
 * md (out): the state to initialise. */
void bf_cl_md2_init(bf_cl_md2_t *md);

/* Feeds len bytes.
 * md (in/out): a state from bf_cl_md2_init; data (in): the bytes; len (in): their count. */
void bf_cl_md2_update(bf_cl_md2_t *md, const void *data, size_t len);

/* Pads, appends the checksum and writes the digest; md must be initialised again before reuse.
 * md (in/out): the state; digest_p (out): 16 bytes. */
void bf_cl_md2_final(bf_cl_md2_t *md, uint8_t digest_p[BF_CL_MD2_DIGEST_SIZE]);

/* One-shot MD2 of len bytes at data into digest_p (16 bytes). */
void bf_cl_md2(const void *data, size_t len, uint8_t digest_p[BF_CL_MD2_DIGEST_SIZE]);

/* Starts an HMAC-MD2 with key (in, key_len bytes; longer than 16 bytes is first hashed, as
 * RFC 2104 says for keys longer than the block).
 * hmac (out): the state to initialise. */
void bf_cl_hmac_md2_init(bf_cl_hmac_md2_t *hmac, const void *key, size_t key_len);

/* Feeds len bytes of message. */
void bf_cl_hmac_md2_update(bf_cl_hmac_md2_t *hmac, const void *data, size_t len);

/* Finishes and writes the 16-byte MAC to mac_p (out). */
void bf_cl_hmac_md2_final(bf_cl_hmac_md2_t *hmac, uint8_t mac_p[BF_CL_MD2_DIGEST_SIZE]);

/* One-shot HMAC-MD2 of msg (msg_len bytes) under key (key_len bytes) into mac_p (16 bytes). */
void bf_cl_hmac_md2(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    uint8_t mac_p[BF_CL_MD2_DIGEST_SIZE]);

/* The 48-byte record the runtime expects hashed, field by field in wire order; each field is
 * serialised little-endian, the three addresses as 64-bit values. */
typedef struct {
    uint32_t driver_version;   /* what cuDriverGetVersion reports */
    uint32_t version;          /* slot 1's first argument */
    uint32_t pid;              /* getpid() */
    uint32_t thread;           /* low 32 bits of the caller's pthread_self() */
    uint64_t cudart_table;     /* address of the CUDART_INTERFACE table */
    uint64_t integrity_table;  /* address of the INTEGRITY_CHECK table */
    uint64_t slot_fn;          /* the function pointer stored in INTEGRITY_CHECK slot 1 */
    uint64_t unix_seconds;     /* slot 1's second argument */
} bf_cl_integrity_msg_t;

#define BF_CL_INTEGRITY_MSG_SIZE    48
#define BF_CL_INTEGRITY_DEVICE_SIZE 28  /* uuid[16], i32 PCI domain, bus, device */

/* Returns the description of device `ordinal`, or NULL (bf_cl_device has this type). */
typedef const bf_proto_device_t *(*bf_cl_integrity_device_fn_t)(int ordinal);

/*
 * Computes INTEGRITY_CHECK slot 1's answer into out_p[2] (two little-endian halves of the digest).
 * For msg->version % 10 == 0 or 1 the answer is a fixed pair of constants that the runtime does not
 * check; otherwise it is HMAC-MD2 under the runtime's fixed key of the 48-byte record followed, for
 * each device 0..device_count-1 as device_fn describes it, by its 28-byte record.
 * msg (in): the record; device_count (in); device_fn (in): the device lookup; out_p (out).
 * Returns BF_OK, or BF_INVALID_ARG (out_p untouched) when device_fn has no description for an
 * ordinal below device_count.
 */
bf_status_t bf_cl_integrity_answer(const bf_cl_integrity_msg_t *msg, int device_count,
                                   bf_cl_integrity_device_fn_t device_fn, uint64_t out_p[2]);

#endif
