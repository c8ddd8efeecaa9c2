/* codec.c: the op descriptor table and the one generic encoder and validating decoder. */
#include "proto.h"

#include <string.h>

#define WIRE_U32    4
#define WIRE_I32    4
#define WIRE_U64    8
#define WIRE_DEVPTR 8
#define WIRE_HANDLE 8
#define WIRE_TAIL   0
#define WIRE_ADD(kind, name) + WIRE_##kind
#define FIELD_ROW(kind, name) {#name, BF_KIND_##kind},

#define BF_OP(id, name, mode)                                                                      \
    static const bf_proto_field_t req_fields_##name[] = {BF_REQ_##name(FIELD_ROW){NULL, 0}};       \
    static const bf_proto_field_t rep_fields_##name[] = {BF_REP_##name(FIELD_ROW){NULL, 0}};
#include "ops.def"
#undef BF_OP

const bf_proto_op_desc_t bf_proto_ops[] = {
#define BF_OP(id, name, mode)                                                                      \
    {id, #name, mode,                                                                              \
     {req_fields_##name, sizeof(req_fields_##name) / sizeof(bf_proto_field_t) - 1, 0,             \
      sizeof(bf_req_##name##_t), 0 BF_REQ_##name(WIRE_ADD)},                                       \
     {rep_fields_##name, sizeof(rep_fields_##name) / sizeof(bf_proto_field_t) - 1, 1,             \
      sizeof(bf_rep_##name##_t), 4 BF_REP_##name(WIRE_ADD)}},
#include "ops.def"
#undef BF_OP
};

const size_t bf_proto_op_count = sizeof(bf_proto_ops) / sizeof(bf_proto_ops[0]);

/* Direct index from op id to descriptor, built at compile time from ops.def. */
enum {
#define BF_OP(id, name, mode) OP_INDEX_##name,
#include "ops.def"
#undef BF_OP
};

static const bf_proto_op_desc_t *const ops_by_id[BF_OP_MAX_ID + 1] = {
#define BF_OP(id, name, mode) [id] = &bf_proto_ops[OP_INDEX_##name],
#include "ops.def"
#undef BF_OP
};

const bf_proto_op_desc_t *bf_proto_op(uint16_t id)
{
    if (id > BF_OP_MAX_ID || ops_by_id[id] == NULL || ops_by_id[id]->mode == BF_RETIRED)
        return NULL;
    return ops_by_id[id];
}

const char *bf_proto_op_name(uint16_t id)
{
    const bf_proto_op_desc_t *op = bf_proto_op(id);

    return op != NULL ? op->name : "?";
}

static size_t kind_size(uint8_t kind)
{
    switch (kind) {
    case BF_KIND_U32:
    case BF_KIND_I32:
        return 4;
    case BF_KIND_U64:
    case BF_KIND_DEVPTR:
    case BF_KIND_HANDLE:
        return 8;
    default:
        return 0;
    }
}

/* Offset of the next member of `size` bytes placed after `offset`, as the C compiler lays it out. */
static size_t align_up(size_t offset, size_t size)
{
    return (offset + size - 1) & ~(size - 1);
}

size_t bf_proto_encode(const bf_proto_msg_desc_t *desc, const void *msg, uint8_t *buf)
{
    const uint8_t *src = msg;
    size_t offset = 0, wire = 0;

    if (desc->is_reply) {
        memcpy(buf, src, 4);  /* result; x86-64 and aarch64 are little-endian like the wire */
        offset = wire = 4;
    }
    for (size_t i = 0; i < desc->field_count; i++) {
        size_t size = kind_size(desc->fields[i].kind);
        if (size == 0)
            continue;
        offset = align_up(offset, size);
        memcpy(buf + wire, src + offset, size);
        offset += size;
        wire += size;
    }
    return wire;
}

/* Reads the value of the field called `name` from an already decoded struct. */
static uint64_t field_value(const bf_proto_msg_desc_t *desc, const uint8_t *msg, const char *name)
{
    size_t offset = desc->is_reply ? 4 : 0;

    for (size_t i = 0; i < desc->field_count; i++) {
        size_t size = kind_size(desc->fields[i].kind);
        if (size == 0)
            continue;
        offset = align_up(offset, size);
        if (strcmp(desc->fields[i].name, name) == 0) {
            if (size == 4) {
                uint32_t v;
                memcpy(&v, msg + offset, 4);
                return v;
            }
            uint64_t v;
            memcpy(&v, msg + offset, 8);
            return v;
        }
        offset += size;
    }
    return UINT64_MAX;  /* ops.def names a missing length field: caught by the unit test */
}

bf_status_t bf_proto_decode(const bf_proto_msg_desc_t *desc, const uint8_t *buf, size_t buf_len,
                            uint64_t payload_len, void *msg_out, uint64_t *tail_len_p)
{
    uint8_t *dst = msg_out;
    size_t offset = 0, wire = 0;
    const char *tail_field = NULL;

    if (buf_len < desc->wire_size || payload_len < desc->wire_size)
        return BF_PROTOCOL;
    memset(msg_out, 0, desc->struct_size);
    if (desc->is_reply) {
        memcpy(dst, buf, 4);
        offset = wire = 4;
    }
    for (size_t i = 0; i < desc->field_count; i++) {
        size_t size = kind_size(desc->fields[i].kind);
        if (size == 0) {
            tail_field = desc->fields[i].name;
            continue;
        }
        offset = align_up(offset, size);
        memcpy(dst + offset, buf + wire, size);
        offset += size;
        wire += size;
    }

    uint64_t tail_len = payload_len - desc->wire_size;
    if (tail_field == NULL) {
        if (tail_len != 0)
            return BF_PROTOCOL;
    } else if (field_value(desc, dst, tail_field) != tail_len || tail_len > BF_PROTO_MAX_TAIL) {
        return BF_PROTOCOL;
    }
    *tail_len_p = tail_len;
    return BF_OK;
}

size_t bf_proto_field_offset(const bf_proto_msg_desc_t *desc, size_t index)
{
    size_t offset = desc->is_reply ? 4 : 0;

    if (index >= desc->field_count || kind_size(desc->fields[index].kind) == 0)
        return SIZE_MAX;
    for (size_t i = 0; i <= index; i++) {
        size_t size = kind_size(desc->fields[i].kind);
        if (size == 0)
            continue;
        offset = align_up(offset, size);
        if (i == index)
            break;
        offset += size;
    }
    return offset;
}
