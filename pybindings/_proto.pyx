# cython: language_level=3, embedsignature=True
"""openbf._proto: the protocol's op table and codec, the BF_* config table, and listening sockets.

Thin wrappers over protocol/proto.h, common/bf_config.h and transport/tp.h. Everything here is
read from the C tables at import time; Python keeps no copy of its own.
"""

from collections import namedtuple

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from bf_config cimport BF_CONFIG_COUNT, bf_config_table
from bf_proto cimport (
    BF_KIND_DEVPTR, BF_KIND_HANDLE, BF_KIND_I32, BF_KIND_TAIL, BF_KIND_U32, BF_KIND_U64,
    BF_POSTED, BF_PROTO_MAX_TAIL, BF_PROTO_VERSION, BF_RETIRED, BF_WAITED,
    bf_proto_decode, bf_proto_device_t, bf_proto_encode, bf_proto_field_offset,
    bf_proto_msg_desc_t, bf_proto_op, bf_proto_op_count, bf_proto_op_desc_t, bf_proto_ops,
)
from bf_status cimport (
    BF_BAD_ADDRESS, BF_INVALID_ARG, BF_OK, BF_PROTOCOL, BF_VERSION, bf_status_name, bf_status_str,
    bf_status_t,
)
from bf_tp cimport BF_FRAME_HDR_SIZE, BF_FRAME_POSTED, BF_FRAME_REPLY, bf_frame_hdr_t, bf_tp_listen

_MODULE = "openbf._proto"

PROTO_VERSION = BF_PROTO_VERSION
MAX_TAIL = BF_PROTO_MAX_TAIL
FRAME_HDR_SIZE = BF_FRAME_HDR_SIZE
FRAME_REPLY = BF_FRAME_REPLY
FRAME_POSTED = BF_FRAME_POSTED
DEVICE_SIZE = sizeof(bf_proto_device_t)

# The frame header struct is the wire layout on the little-endian hosts openbf supports.
assert sizeof(bf_frame_hdr_t) == BF_FRAME_HDR_SIZE

Field = namedtuple("Field", ["name", "kind"], module=_MODULE)
Message = namedtuple("Message", ["fields", "tail", "wire_size", "is_reply"], module=_MODULE)
Op = namedtuple("Op", ["id", "name", "mode", "request", "reply"], module=_MODULE)
FrameHeader = namedtuple("FrameHeader", ["length", "op", "flags", "request_id"], module=_MODULE)
ConfigRow = namedtuple("ConfigRow", ["variable", "default", "doc"], module=_MODULE)
Device = namedtuple("Device", ["name", "uuid", "total_mem", "window_base", "window_size",
                               "attributes", "pci_bus_id"], module=_MODULE)

_KIND_NAMES = {BF_KIND_U32: "u32", BF_KIND_I32: "i32", BF_KIND_U64: "u64",
               BF_KIND_DEVPTR: "devptr", BF_KIND_HANDLE: "handle"}
_MODE_NAMES = {BF_WAITED: "waited", BF_POSTED: "posted", BF_RETIRED: "retired"}


class BfError(Exception):
    """An openbf operation failed; ``status`` is the bf_status_t, ``status_name`` its name."""

    __module__ = _MODULE

    def __init__(self, status, detail=None):
        self.status = status
        self.status_name = bf_status_name(<bf_status_t>status).decode()
        text = bf_status_str(<bf_status_t>status).decode()
        super().__init__(f"{text}: {detail}" if detail else text)


class BfInputError(BfError):
    """The input was bad (an argument, an address), as opposed to openbf failing."""

    __module__ = _MODULE


class BfProtocolError(BfInputError):
    """A message does not follow the protocol (malformed, unknown op, wrong version)."""

    __module__ = _MODULE


cdef object error_class(bf_status_t status):
    if status == BF_PROTOCOL or status == BF_VERSION:
        return BfProtocolError
    if status == BF_INVALID_ARG or status == BF_BAD_ADDRESS:
        return BfInputError
    return BfError


cdef int check(bf_status_t status) except -1 nogil:
    """Raises the BfError matching a failed status; returns 0 for BF_OK."""
    if status == BF_OK:
        return 0
    with gil:
        raise error_class(status)(status)


cdef int fail(bf_status_t status, str detail) except -1:
    """Raises the BfError matching status, with a detail text."""
    raise error_class(status)(status, detail)


# ---- op table --------------------------------------------------------------------------------

cdef object message_of(const bf_proto_msg_desc_t *desc):
    fields = []
    tail = None
    for i in range(desc.field_count):
        name = desc.fields[i].name.decode()
        if desc.fields[i].kind == BF_KIND_TAIL:
            tail = name
        else:
            fields.append(Field(name, _KIND_NAMES[desc.fields[i].kind]))
    return Message(tuple(fields), tail, desc.wire_size, bool(desc.is_reply))


cdef tuple read_ops():
    ops = []
    for i in range(bf_proto_op_count):
        d = &bf_proto_ops[i]
        ops.append(Op(d.id, d.name.decode(), _MODE_NAMES[d.mode], message_of(&d.request),
                      message_of(&d.reply)))
    return tuple(ops)


OPS = read_ops()
_OPS_BY_NAME = {op.name: op for op in OPS if op.mode != "retired"}


def op(key):
    """Returns the Op with this id (int) or name (str); raises BfProtocolError if there is none."""
    if isinstance(key, str):
        if key not in _OPS_BY_NAME:
            fail(BF_PROTOCOL, f"unknown op {key!r}")
        return _OPS_BY_NAME[key]
    cdef const bf_proto_op_desc_t *d = op_desc(key)
    return OPS[d - bf_proto_ops]


cdef const bf_proto_op_desc_t *op_desc(object op_id) except NULL:
    if not 0 <= op_id <= 0xFFFF:
        fail(BF_PROTOCOL, f"op id {op_id} out of range")
    cdef const bf_proto_op_desc_t *d = bf_proto_op(<uint16_t>op_id)
    if d == NULL:
        fail(BF_PROTOCOL, f"unknown op id {op_id}")
    return d


cdef const bf_proto_msg_desc_t *msg_desc(object op_id, bint is_reply) except NULL:
    cdef const bf_proto_op_desc_t *d = op_desc(op_id)
    return &d.reply if is_reply else &d.request


# ---- codec -----------------------------------------------------------------------------------

# Room for the largest message struct, in 8-byte words: the wire part is bounded by
# BF_PROTO_MAX_FIXED (256) and C's alignment padding at most doubles it. encode/decode check
# struct_size against it before use.
cdef enum:
    MSG_WORDS = 64

_LIMITS = {"u32": (0, 0xFFFFFFFF), "i32": (-0x80000000, 0x7FFFFFFF), "u64": (0, 0xFFFFFFFFFFFFFFFF),
           "devptr": (0, 0xFFFFFFFFFFFFFFFF), "handle": (0, 0xFFFFFFFFFFFFFFFF)}


cdef int store(uint8_t *msg, size_t offset, uint8_t kind, str name, object value) except -1:
    lo, hi = _LIMITS[_KIND_NAMES[kind]]
    if not isinstance(value, int) or not lo <= value <= hi:
        fail(BF_INVALID_ARG, f"field {name} ({_KIND_NAMES[kind]}) cannot hold {value!r}")
    cdef uint32_t v32
    cdef int32_t i32
    cdef uint64_t v64
    if kind == BF_KIND_U32:
        v32 = value
        memcpy(msg + offset, &v32, 4)
    elif kind == BF_KIND_I32:
        i32 = value
        memcpy(msg + offset, &i32, 4)
    else:
        v64 = value
        memcpy(msg + offset, &v64, 8)
    return 0


cdef object load(const uint8_t *msg, size_t offset, uint8_t kind):
    cdef uint32_t v32
    cdef int32_t i32
    cdef uint64_t v64
    if kind == BF_KIND_U32:
        memcpy(&v32, msg + offset, 4)
        return v32
    if kind == BF_KIND_I32:
        memcpy(&i32, msg + offset, 4)
        return i32
    memcpy(&v64, msg + offset, 8)
    return v64


def encode(op_id, bint is_reply, fields, bytes tail=b""):
    """Returns the payload of a request or reply: its fixed fields, then tail.

    fields maps every fixed field's name to its value; a reply's "result" defaults to 0 and a tail's
    length field to len(tail). Values are not checked against each other (a length field may
    disagree with the tail): encode also builds the malformed messages tests send; decode checks.
    """
    cdef const bf_proto_msg_desc_t *desc = msg_desc(op_id, is_reply)
    cdef uint64_t msg[MSG_WORDS]
    cdef uint8_t *raw = <uint8_t *>msg
    cdef size_t offset
    if desc.struct_size > sizeof(msg):
        fail(BF_INVALID_ARG, f"message struct of op {op_id} is larger than {sizeof(msg)} bytes")
    memset(msg, 0, sizeof(msg))
    pending = dict(fields)
    if is_reply:
        store(raw, 0, BF_KIND_I32, "result", pending.pop("result", 0))
    tail_field = None
    for i in range(desc.field_count):
        name = desc.fields[i].name.decode()
        if desc.fields[i].kind == BF_KIND_TAIL:
            tail_field = name
            continue
        offset = bf_proto_field_offset(desc, i)
        if name in pending:
            store(raw, offset, desc.fields[i].kind, name, pending.pop(name))
        elif i + 1 < desc.field_count and desc.fields[i + 1].kind == BF_KIND_TAIL:
            pass  # filled below once the tail is known to be this field's
        else:
            fail(BF_INVALID_ARG, f"field {name} missing")
    if pending:
        fail(BF_INVALID_ARG, f"no field {', '.join(sorted(pending))} in this message")
    if tail_field is not None and tail_field not in fields:
        for i in range(desc.field_count):
            if desc.fields[i].kind != BF_KIND_TAIL and desc.fields[i].name.decode() == tail_field:
                store(raw, bf_proto_field_offset(desc, i), desc.fields[i].kind, tail_field, len(tail))
    out = PyBytes_FromStringAndSize(NULL, desc.wire_size)
    bf_proto_encode(desc, msg, <uint8_t *>PyBytes_AS_STRING(out))
    return out + tail


def decode(op_id, bint is_reply, const uint8_t[:] payload):
    """Validates a payload with the C decoder; returns (fields, tail).

    fields holds every fixed field (a reply's "result" included); raises BfProtocolError for an
    unknown op or a malformed payload.
    """
    cdef const bf_proto_msg_desc_t *desc = msg_desc(op_id, is_reply)
    cdef uint64_t msg[MSG_WORDS]
    cdef uint64_t tail_len = 0
    cdef size_t n = payload.shape[0]
    cdef const uint8_t *buf = &payload[0] if n > 0 else <const uint8_t *>b""
    cdef bf_status_t status
    if desc.struct_size > sizeof(msg):
        fail(BF_INVALID_ARG, f"message struct of op {op_id} is larger than {sizeof(msg)} bytes")
    with nogil:
        status = bf_proto_decode(desc, buf, n, n, msg, &tail_len)
    check(status)
    values = {}
    if is_reply:
        values["result"] = load(<uint8_t *>msg, 0, BF_KIND_I32)
    for i in range(desc.field_count):
        if desc.fields[i].kind != BF_KIND_TAIL:
            values[desc.fields[i].name.decode()] = load(<uint8_t *>msg, bf_proto_field_offset(desc, i),
                                                        desc.fields[i].kind)
    return values, bytes(payload[desc.wire_size:])


def frame(op_id, flags, request_id, bytes payload):
    """Returns one frame: the 16-byte header (length, op, flags, request id), then payload."""
    cdef bf_frame_hdr_t hdr
    if len(payload) > 0xFFFFFFFF or not 0 <= op_id <= 0xFFFF or not 0 <= flags <= 0xFFFF:
        fail(BF_INVALID_ARG, "frame header field out of range")
    hdr.length = len(payload)
    hdr.op = op_id
    hdr.flags = flags
    hdr.request_id = request_id
    return PyBytes_FromStringAndSize(<char *>&hdr, sizeof(hdr)) + payload


def parse_header(const uint8_t[:] data):
    """Returns the FrameHeader at the start of data (at least FRAME_HDR_SIZE bytes)."""
    cdef bf_frame_hdr_t hdr
    if <size_t>data.shape[0] < sizeof(hdr):
        fail(BF_PROTOCOL, f"frame header needs {sizeof(hdr)} bytes, got {data.shape[0]}")
    memcpy(&hdr, &data[0], sizeof(hdr))
    return FrameHeader(hdr.length, hdr.op, hdr.flags, hdr.request_id)


def decode_devices(const uint8_t[:] data, count):
    """Returns the count Device descriptions packed in a HELLO reply's tail."""
    cdef bf_proto_device_t dev
    cdef Py_ssize_t i
    if count < 0 or data.shape[0] != count * sizeof(dev):
        fail(BF_PROTOCOL, f"{count} devices need {count * sizeof(dev)} bytes, got {data.shape[0]}")
    devices = []
    for i in range(count):
        memcpy(&dev, &data[i * sizeof(dev)], sizeof(dev))
        dev.name[sizeof(dev.name) - 1] = 0
        dev.pci_bus_id[sizeof(dev.pci_bus_id) - 1] = 0
        devices.append(Device(dev.name.decode(errors="replace"), bytes(dev.uuid[:16]), dev.total_mem,
                              dev.window_base, dev.window_size, tuple(dev.attributes),
                              dev.pci_bus_id.decode(errors="replace")))
    return devices


# ---- configuration ---------------------------------------------------------------------------

def config_table():
    """Returns every BF_* variable as ConfigRow(variable, default, doc), in declaration order."""
    return tuple(ConfigRow(bf_config_table[i].variable.decode(), bf_config_table[i].default_value.decode(),
                           bf_config_table[i].doc.decode()) for i in range(BF_CONFIG_COUNT))


# ---- transport -------------------------------------------------------------------------------

def listen(str address):
    """Creates a listening socket on an openbf address (tp.h syntax); returns its descriptor.

    The descriptor is close-on-exec. Raises BfInputError for a malformed address and BfError when
    the address cannot be bound (in use, permission).
    """
    cdef char why[256]
    cdef int fd = -1
    cdef bytes encoded = address.encode()
    cdef const char *c_address = encoded
    cdef bf_status_t status
    why[0] = 0
    with nogil:
        status = bf_tp_listen(c_address, &fd, why, sizeof(why))
    if status != BF_OK:
        fail(status, why.decode(errors="replace") or address)
    return fd
