# Declarations of protocol/proto.h: the op descriptor table and the one codec.

from libc.stdint cimport int32_t, uint8_t, uint16_t, uint64_t

from bf_status cimport bf_status_t


cdef extern from "proto.h" nogil:
    enum:
        BF_PROTO_VERSION
        BF_PROTO_MAX_TAIL
        BF_PROTO_MAX_FIXED
        BF_PROTO_MAX_ATTRIBUTES

    ctypedef enum bf_op_mode_t:
        BF_WAITED
        BF_POSTED
        BF_RETIRED

    ctypedef enum bf_field_kind_t:
        BF_KIND_U32
        BF_KIND_I32
        BF_KIND_U64
        BF_KIND_DEVPTR
        BF_KIND_HANDLE
        BF_KIND_TAIL

    ctypedef struct bf_proto_field_t:
        const char *name
        uint8_t kind

    ctypedef struct bf_proto_msg_desc_t:
        const bf_proto_field_t *fields
        uint8_t field_count
        uint8_t is_reply
        uint16_t struct_size
        uint16_t wire_size

    ctypedef struct bf_proto_op_desc_t:
        uint16_t id
        const char *name
        uint8_t mode
        bf_proto_msg_desc_t request
        bf_proto_msg_desc_t reply

    const bf_proto_op_desc_t bf_proto_ops[]
    const size_t bf_proto_op_count

    const bf_proto_op_desc_t *bf_proto_op(uint16_t id)
    size_t bf_proto_encode(const bf_proto_msg_desc_t *desc, const void *msg, uint8_t *buf)
    bf_status_t bf_proto_decode(const bf_proto_msg_desc_t *desc, const uint8_t *buf, size_t buf_len,
                                uint64_t payload_len, void *msg_out, uint64_t *tail_len_p)
    size_t bf_proto_field_offset(const bf_proto_msg_desc_t *desc, size_t index)

    ctypedef struct bf_proto_device_t:
        char name[256]
        uint8_t uuid[16]
        uint64_t total_mem
        uint64_t window_base
        uint64_t window_size
        int32_t attributes[256]
        char pci_bus_id[32]
