/*
 * proto.h: the wire protocol between libbf.so and bf-worker, derived from ops.def.
 *
 * Frames (tp.h) carry a payload: a payload is the message's fixed fields, packed little-endian in ops.def
 * order, then the optional tail. Requests use bf_req_<NAME>_t, replies bf_rep_<NAME>_t (whose first
 * member is the CUresult). Replies carry the request's id and op, with BF_FRAME_REPLY set.
 *
 * One generic, validating decoder (bf_proto_decode) checks every incoming message against the
 * field descriptors; it is what the fuzz tests exercise.
 */
#ifndef BF_PROTO_H
#define BF_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "bf_status.h"
#include "tp.h"  /* bf_frame_hdr_t */

/* 2: stream-ordered ops carry a stream id; streams and events.
 * 3: OUTPUT frames from the worker (device printf and assert messages); context limits and cache
 *    configuration. */
#define BF_PROTO_VERSION 3

/* Stream ids below this name the legacy default stream of that device (id = device ordinal); the
 * client numbers the streams it creates from here on. */
#define BF_PROTO_LEGACY_STREAMS 64u

/* Largest tail a message may carry; bigger copies are split by the sender. */
#define BF_PROTO_MAX_TAIL (64u << 20)

/* Largest fixed part of any message; a frame whose length exceeds this plus the tail is refused. */
#define BF_PROTO_MAX_FIXED 256u


typedef enum { BF_WAITED = 1, BF_POSTED = 2, BF_RETIRED = 3 } bf_op_mode_t;

typedef enum {
#define BF_OP(id, name, mode) BF_OP_##name = id,
#include "ops.def"
#undef BF_OP
    BF_OP_MAX_ID = 255
} bf_op_t;

typedef enum {
    BF_KIND_U32 = 1,
    BF_KIND_I32,
    BF_KIND_U64,
    BF_KIND_DEVPTR,
    BF_KIND_HANDLE,
    BF_KIND_TAIL,          /* the trailing payload; the field's name is that of its length field */
} bf_field_kind_t;

/* ---- message structs ------------------------------------------------------------------------ */
#define BF_MEMBER_U32(name)    uint32_t name;
#define BF_MEMBER_I32(name)    int32_t name;
#define BF_MEMBER_U64(name)    uint64_t name;
#define BF_MEMBER_DEVPTR(name) uint64_t name;
#define BF_MEMBER_HANDLE(name) uint64_t name;
#define BF_MEMBER_TAIL(name)
#define BF_MEMBER(kind, name) BF_MEMBER_##kind(name)

#define BF_OP(id, name, mode)                                                                      \
    typedef struct { BF_REQ_##name(BF_MEMBER) } bf_req_##name##_t;                                \
    typedef struct { int32_t result; BF_REP_##name(BF_MEMBER) } bf_rep_##name##_t;
#include "ops.def"
#undef BF_OP

/* ---- descriptors ---------------------------------------------------------------------------- */
/*
 * A field's place in the C struct follows from the C layout rules for members of 4 and 8 bytes
 * (each at the next multiple of its size); the codec walks the fields in order, and a unit test
 * checks the walk against sizeof/offsetof of every generated struct.
 */
typedef struct {
    const char *name;
    uint8_t kind;          /* bf_field_kind_t */
} bf_proto_field_t;

typedef struct {
    const bf_proto_field_t *fields;  /* in wire order; a reply's implicit result is not listed */
    uint8_t field_count;   /* including a TAIL entry */
    uint8_t is_reply;      /* replies start with the I32 result */
    uint16_t struct_size;  /* sizeof the C struct */
    uint16_t wire_size;    /* bytes of the fixed fields on the wire, result included */
} bf_proto_msg_desc_t;

typedef struct {
    uint16_t id;
    const char *name;
    uint8_t mode;          /* bf_op_mode_t */
    bf_proto_msg_desc_t request;
    bf_proto_msg_desc_t reply;
} bf_proto_op_desc_t;

/* All ops, in ops.def order, and their number. */
extern const bf_proto_op_desc_t bf_proto_ops[];
extern const size_t bf_proto_op_count;

/* Returns the descriptor of op id, or NULL for an id not in ops.def (retired ids included). */
const bf_proto_op_desc_t *bf_proto_op(uint16_t id);

/* Returns the op's name ("?" for unknown ids). */
const char *bf_proto_op_name(uint16_t id);

/*
 * Encodes the fixed fields of msg (a bf_req_*_t or bf_rep_*_t matching desc) into buf, which must
 * hold desc->wire_size bytes. The tail is not copied: the caller sends it from where it lies.
 * Returns the number of bytes written.
 */
size_t bf_proto_encode(const bf_proto_msg_desc_t *desc, const void *msg, uint8_t *buf);

/*
 * Decodes and validates a payload whose total length (fixed part + tail) is payload_len, of which
 * the first desc->wire_size bytes are in buf (buf_len >= wire_size is checked).
 * On success fills msg_out (a struct of desc->struct_size bytes) and *tail_len_p (0 when the
 * message has no tail).
 * Returns BF_PROTOCOL when the payload is shorter than the fixed part, the tail length field
 * disagrees with payload_len, or the tail exceeds BF_PROTO_MAX_TAIL.
 */
bf_status_t bf_proto_decode(const bf_proto_msg_desc_t *desc, const uint8_t *buf, size_t buf_len,
                            uint64_t payload_len, void *msg_out, uint64_t *tail_len_p);

/*
 * Returns the byte offset of desc->fields[index] inside the message's C struct (bf_req_*_t or
 * bf_rep_*_t; a reply's implicit result is always at offset 0), or SIZE_MAX for a TAIL entry or an
 * index out of range. Lets bindings fill and read the structs without re-deriving their layout.
 */
size_t bf_proto_field_offset(const bf_proto_msg_desc_t *desc, size_t index);

/* ---- device description carried by the HELLO reply ------------------------------------------ */
#define BF_PROTO_MAX_ATTRIBUTES 256

typedef struct {
    char name[256];
    uint8_t uuid[16];
    uint64_t total_mem;
    uint64_t window_base;    /* the worker places this device's allocations in [base, base+size) */
    uint64_t window_size;
    int32_t attributes[BF_PROTO_MAX_ATTRIBUTES];  /* indexed by CUdevice_attribute */
    char pci_bus_id[32];     /* as cuDeviceGetPCIBusId writes it */
} bf_proto_device_t;

#endif
