"""The protocol codec, through the Cython binding: round trips, malformed input, the op table.

Every op comes from the C descriptor table (openbf._proto.OPS), so a new op in ops.def is covered
without touching this file.
"""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_proto = pytest.importorskip(
    "openbf._proto", reason="openbf._proto is not built (set BF_BUILD_DIR to a meson build dir)")

pytestmark = pytest.mark.timeout(120)

LIVE_OPS = [op for op in _proto.OPS if op.mode != "retired"]
MESSAGES = [(op, is_reply) for op in LIVE_OPS for is_reply in (False, True)]
MESSAGE_IDS = [f"{op.name}-{'reply' if is_reply else 'request'}" for op, is_reply in MESSAGES]

# The wire format, written out independently of the C code: packed little-endian integers.
PACK = {"u32": "<I", "i32": "<i", "u64": "<Q", "devptr": "<Q", "handle": "<Q"}
LIMITS = {"u32": (0, 2**32 - 1), "i32": (-(2**31), 2**31 - 1), "u64": (0, 2**64 - 1),
          "devptr": (0, 2**64 - 1), "handle": (0, 2**64 - 1)}

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def message(op, is_reply):
    return op.reply if is_reply else op.request


@st.composite
def valid_message(draw, op, is_reply):
    """Random field values for op's request or reply, with a tail whose length matches its field."""
    msg = message(op, is_reply)
    fields = {}
    if is_reply:
        fields["result"] = draw(st.integers(*LIMITS["i32"]))
    for f in msg.fields:
        fields[f.name] = draw(st.integers(*LIMITS[f.kind]))
    tail = b""
    if msg.tail is not None:
        tail = draw(st.binary(max_size=64))
        fields[msg.tail] = len(tail)
    return fields, tail


def reference_encoding(op, is_reply, fields, tail):
    msg = message(op, is_reply)
    out = struct.pack("<i", fields["result"]) if is_reply else b""
    for f in msg.fields:
        out += struct.pack(PACK[f.kind], fields[f.name])
    return out + tail


# ---- the table ------------------------------------------------------------------------------------

def test_table_is_consistent():
    ids = [op.id for op in _proto.OPS]
    names = [op.name for op in _proto.OPS]
    assert len(set(ids)) == len(ids), "op ids must be unique"
    assert len(set(names)) == len(names), "op names must be unique"
    assert _proto.op("HELLO").id == 1
    for op in LIVE_OPS:
        assert op.mode in ("waited", "posted")
        assert _proto.op(op.id) == op
        assert _proto.op(op.name) == op
        for is_reply in (False, True):
            msg = message(op, is_reply)
            assert msg.is_reply == is_reply
            sizes = sum(struct.calcsize(PACK[f.kind]) for f in msg.fields)
            assert msg.wire_size == sizes + (4 if is_reply else 0)
            if msg.tail is not None:
                length_fields = [f for f in msg.fields if f.name == msg.tail]
                assert length_fields and length_fields[0].kind in ("u32", "u64"), \
                    f"{op.name}: tail length field {msg.tail} must be an earlier u32/u64 field"


def test_hello_has_the_agreed_fields():
    hello = _proto.op("HELLO")
    assert [f.name for f in hello.request.fields] == ["proto_version", "pid", "va_base", "va_size", "who_len"]
    assert hello.request.tail == "who_len"
    assert [f.name for f in hello.reply.fields][:3] == ["proto_version", "driver_version", "device_count"]


# ---- round trips ----------------------------------------------------------------------------------

@pytest.mark.parametrize("op,is_reply", MESSAGES, ids=MESSAGE_IDS)
@SETTINGS
@given(data=st.data())
def test_round_trip(op, is_reply, data):
    fields, tail = data.draw(valid_message(op, is_reply))
    payload = _proto.encode(op.id, is_reply, fields, tail)
    assert payload == reference_encoding(op, is_reply, fields, tail)
    decoded, decoded_tail = _proto.decode(op.id, is_reply, payload)
    assert decoded == fields
    assert decoded_tail == tail


def test_tail_length_defaults_to_tail():
    payload = _proto.encode(_proto.op("HELLO").id, False,
                            {"proto_version": 1, "pid": 2, "va_base": 3, "va_size": 4}, b"who")
    fields, tail = _proto.decode(_proto.op("HELLO").id, False, payload)
    assert fields["who_len"] == 3 and tail == b"who"


# ---- malformed input ------------------------------------------------------------------------------

def decode_or_protocol_error(op_id, is_reply, payload):
    """Decodes payload; a success must describe exactly payload (re-encoding gives it back)."""
    try:
        fields, tail = _proto.decode(op_id, is_reply, payload)
    except _proto.BfProtocolError as e:
        assert e.status_name == "PROTOCOL"
        return None
    assert _proto.encode(op_id, is_reply, fields, tail) == payload
    return fields


@pytest.mark.parametrize("op,is_reply", MESSAGES, ids=MESSAGE_IDS)
@SETTINGS
@given(data=st.data())
def test_truncated_payload(op, is_reply, data):
    fields, tail = data.draw(valid_message(op, is_reply))
    payload = _proto.encode(op.id, is_reply, fields, tail)
    assert payload, "every request has a field and every reply a result"
    cut = data.draw(st.integers(0, len(payload) - 1))
    # A shorter payload can never be the same message: the fixed part or the tail is missing.
    assert decode_or_protocol_error(op.id, is_reply, payload[:cut]) is None


@pytest.mark.parametrize("op,is_reply", [m for m in MESSAGES if message(*m).tail is not None],
                         ids=[i for m, i in zip(MESSAGES, MESSAGE_IDS, strict=True) if message(*m).tail])
@SETTINGS
@given(data=st.data())
def test_corrupted_length_field(op, is_reply, data):
    fields, tail = data.draw(valid_message(op, is_reply))
    payload = bytearray(_proto.encode(op.id, is_reply, fields, tail))
    msg = message(op, is_reply)
    offset = 4 if is_reply else 0
    for f in msg.fields:
        if f.name == msg.tail:
            break
        offset += struct.calcsize(PACK[f.kind])
    size = struct.calcsize(PACK[[f for f in msg.fields if f.name == msg.tail][0].kind])
    index = offset + data.draw(st.integers(0, size - 1))
    payload[index] = data.draw(st.integers(0, 255))
    decoded = decode_or_protocol_error(op.id, is_reply, bytes(payload))
    if decoded is not None:  # only an unchanged byte may decode
        assert decoded[msg.tail] == len(tail)


@pytest.mark.parametrize("op,is_reply", MESSAGES, ids=MESSAGE_IDS)
@SETTINGS
@given(payload=st.binary(max_size=300))
def test_random_bytes_never_crash(op, is_reply, payload):
    decode_or_protocol_error(op.id, is_reply, payload)


def test_oversized_tail_is_refused():
    op = _proto.op("MEMCPY_HTOD")
    size = _proto.MAX_TAIL + 1
    payload = _proto.encode(op.id, False, {"dst": 0, "size": size}) + b"\0" * size
    with pytest.raises(_proto.BfProtocolError):
        _proto.decode(op.id, False, payload)


# ---- unknown ops and bad arguments ----------------------------------------------------------------

UNKNOWN_IDS = sorted(set(range(0, 300)) - {op.id for op in LIVE_OPS}) + [0xFFFF]


@pytest.mark.parametrize("op_id", UNKNOWN_IDS[:20] + UNKNOWN_IDS[-5:])
def test_unknown_op_is_rejected(op_id):
    with pytest.raises(_proto.BfProtocolError, match="op"):
        _proto.decode(op_id, False, b"\0" * 16)
    with pytest.raises(_proto.BfProtocolError):
        _proto.decode(op_id, True, b"\0" * 16)
    with pytest.raises(_proto.BfProtocolError):
        _proto.encode(op_id, False, {})
    with pytest.raises(_proto.BfProtocolError):
        _proto.op(op_id)


@given(op_id=st.integers(0, 0xFFFF).filter(lambda i: i not in {op.id for op in LIVE_OPS}))
@SETTINGS
def test_any_unknown_op_is_rejected(op_id):
    with pytest.raises(_proto.BfProtocolError):
        _proto.decode(op_id, False, b"")


def test_errors_are_bf_errors():
    assert issubclass(_proto.BfProtocolError, _proto.BfInputError)
    assert issubclass(_proto.BfInputError, _proto.BfError)
    with pytest.raises(_proto.BfError) as info:
        _proto.op("NO_SUCH_OP")
    assert info.value.status < 0 and info.value.status_name == "PROTOCOL"


@pytest.mark.parametrize("fields,match", [
    ({"device": 0}, "bytesize missing"),
    ({"device": 0, "bytesize": 1, "extra": 2}, "extra"),
    ({"device": -1, "bytesize": 1}, "device"),
    ({"device": 2**32, "bytesize": 1}, "device"),
    ({"device": 0, "bytesize": 2**64}, "bytesize"),
])
def test_encode_rejects_bad_fields(fields, match):
    with pytest.raises(_proto.BfInputError, match=match):
        _proto.encode(_proto.op("MEM_ALLOC").id, False, fields)


def test_reply_result_is_signed_and_range_checked():
    op = _proto.op("CTX_SYNCHRONIZE")
    assert _proto.decode(op.id, True, _proto.encode(op.id, True, {"result": -5}))[0] == {"result": -5}
    with pytest.raises(_proto.BfInputError):
        _proto.encode(op.id, True, {"result": 2**31})


# ---- frames ---------------------------------------------------------------------------------------

@given(op_id=st.integers(0, 0xFFFF), flags=st.integers(0, 0xFFFF), request_id=st.integers(0, 2**64 - 1),
       payload=st.binary(max_size=40))
@SETTINGS
def test_frame_round_trip(op_id, flags, request_id, payload):
    data = _proto.frame(op_id, flags, request_id, payload)
    assert len(data) == _proto.FRAME_HDR_SIZE + len(payload)
    assert data[:_proto.FRAME_HDR_SIZE] == struct.pack("<IHHQ", len(payload), op_id, flags, request_id)
    assert _proto.parse_header(data) == (len(payload), op_id, flags, request_id)
    assert data[_proto.FRAME_HDR_SIZE:] == payload


def test_short_header_is_refused():
    with pytest.raises(_proto.BfProtocolError):
        _proto.parse_header(b"\0" * (_proto.FRAME_HDR_SIZE - 1))


def test_frame_flags_are_distinct():
    assert _proto.FRAME_REPLY != _proto.FRAME_POSTED
    assert _proto.FRAME_REPLY & _proto.FRAME_POSTED == 0


def test_devices_need_whole_records():
    assert _proto.decode_devices(b"", 0) == []
    with pytest.raises(_proto.BfProtocolError):
        _proto.decode_devices(b"\0" * (_proto.DEVICE_SIZE - 1), 1)
    (device,) = _proto.decode_devices(b"\0" * _proto.DEVICE_SIZE, 1)
    assert device.name == "" and len(device.uuid) == 16 and device.total_mem == 0
