/*
 * The codec walks fields assuming C's layout rules for 4- and 8-byte members. This checks that
 * walk against the compiler's sizeof for every generated struct, that every TAIL names an earlier
 * integer field, and that a round trip through encode/decode restores every field.
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"

#include "../bf_check.h"


static size_t walked_size(const bf_proto_msg_desc_t *desc)
{
    size_t offset = desc->is_reply ? 4 : 0, max_align = 4;

    for (size_t i = 0; i < desc->field_count; i++) {
        size_t size = desc->fields[i].kind == BF_KIND_TAIL ? 0
                      : (desc->fields[i].kind == BF_KIND_U32 || desc->fields[i].kind == BF_KIND_I32) ? 4 : 8;
        if (size == 0)
            continue;
        offset = (offset + size - 1) & ~(size - 1);
        offset += size;
        if (size > max_align)
            max_align = size;
    }
    return (offset + max_align - 1) & ~(max_align - 1);
}

static void check_tail(const char *op, const bf_proto_msg_desc_t *desc)
{
    for (size_t i = 0; i < desc->field_count; i++) {
        if (desc->fields[i].kind != BF_KIND_TAIL)
            continue;
        CHECKF(i + 1 == desc->field_count, "%s: TAIL is not the last entry", op);
        int found = 0;
        for (size_t j = 0; j < i; j++)
            found |= strcmp(desc->fields[j].name, desc->fields[i].name) == 0 &&
                     (desc->fields[j].kind == BF_KIND_U32 || desc->fields[j].kind == BF_KIND_U64);
        CHECKF(found, "%s: TAIL length field '%s' is not an earlier U32/U64 field", op, desc->fields[i].name);
    }
}

static void check_round_trip(const char *op, const bf_proto_msg_desc_t *desc)
{
    unsigned char msg[BF_PROTO_MAX_FIXED], back[BF_PROTO_MAX_FIXED], wire[BF_PROTO_MAX_FIXED];
    uint64_t tail_len = 1;

    CHECKF(desc->wire_size <= BF_PROTO_MAX_FIXED, "%s: fixed part too large", op);
    /* Fill every byte, then zero the tail length so the decode is consistent with no tail. */
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (unsigned char)(i * 7 + 3);
    memset(msg + desc->struct_size, 0, sizeof(msg) - desc->struct_size);
    size_t n = bf_proto_encode(desc, msg, wire);
    CHECKF(n == desc->wire_size, "%s: encoded %zu bytes, wire size %u", op, n, desc->wire_size);
    bf_status_t status = bf_proto_decode(desc, wire, n, n, back, &tail_len);
    int has_tail = desc->field_count > 0 && desc->fields[desc->field_count - 1].kind == BF_KIND_TAIL;
    if (!has_tail) {
        CHECKF(status == BF_OK && tail_len == 0, "%s: decode of own encoding failed", op);
        /* Padding bytes differ; compare through a second encoding instead. */
        unsigned char wire2[BF_PROTO_MAX_FIXED];
        bf_proto_encode(desc, back, wire2);
        CHECKF(memcmp(wire, wire2, n) == 0, "%s: round trip changed a field", op);
    } else {
        CHECKF(status == BF_PROTOCOL, "%s: a tail length that disagrees with the payload was accepted", op);
    }
}

int main(void)
{
#define BF_OP(op_id, op_name, op_mode)                                                                      \
    {                                                                                              \
        const bf_proto_op_desc_t *d = bf_proto_op(op_id);                                             \
        CHECKF(d != NULL && strcmp(d->name, #op_name) == 0, "op %d (%s) not found by id", op_id, #op_name);  \
        if (d != NULL) {                                                                           \
            CHECKF(walked_size(&d->request) == sizeof(bf_req_##op_name##_t),                           \
                  "%s request: walked %zu, sizeof %zu", #op_name, walked_size(&d->request),           \
                  sizeof(bf_req_##op_name##_t));                                                      \
            CHECKF(walked_size(&d->reply) == sizeof(bf_rep_##op_name##_t),                             \
                  "%s reply: walked %zu, sizeof %zu", #op_name, walked_size(&d->reply),               \
                  sizeof(bf_rep_##op_name##_t));                                                      \
            check_tail(#op_name, &d->request);                                                        \
            check_tail(#op_name, &d->reply);                                                          \
            check_round_trip(#op_name, &d->request);                                                  \
            check_round_trip(#op_name, &d->reply);                                                    \
        }                                                                                          \
    }
#include "ops.def"
#undef BF_OP
    CHECKF(bf_proto_op(0) == NULL && bf_proto_op(250) == NULL, "unknown ids must not resolve");
    printf("%zu ops\n", bf_proto_op_count);
    return bf_check_exit("proto layout");
}
