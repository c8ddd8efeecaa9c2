"""A posted operation whose error shows at the next synchronising call and not before.

Through the CUDA runtime there is no such operation without kernels: the client checks everything
the driver checks synchronously (pointers, handles, flags) before it posts, and copies, memsets,
event records and stream waits cannot fail while they execute on a healthy device. So the latched
path is driven here by a raw protocol client that skips those checks: it posts stream-ordered work
with a pointer outside its allocations, or on a stream or event id it never created. The worker must
(1) not answer the posted op, (2) keep serving waited ops that do not synchronise (MEM_GET_INFO,
STREAM_QUERY, EVENT_QUERY) with their own results, (3) return the first such error from the next
synchronising op (STREAM_SYNCHRONIZE, EVENT_SYNCHRONIZE, CTX_SYNCHRONIZE, MEMCPY_DTOH), once, and (4)
go on executing the session's later work correctly.
"""

from __future__ import annotations

import pytest
from test_malformed import CUDA_ERROR_INVALID_VALUE, CUDA_SUCCESS, RawClient, op_id

proto = pytest.importorskip("openbf._proto", reason="openbf's Cython extension is not built")

CUDA_ERROR_INVALID_HANDLE = 400
CUDA_ERROR_NOT_READY = 600
MIB = 1 << 20


def _needs_streams() -> None:
    for name in ("STREAM_CREATE", "STREAM_SYNCHRONIZE", "EVENT_RECORD", "EVENT_SYNCHRONIZE"):
        try:
            op_id(name)
        except Exception:  # noqa: BLE001 - the binding raises its own error type for an unknown op
            pytest.skip(f"the protocol has no {name} op yet")


class Session:
    """A raw session with one allocation and the ids the client chose for its streams and events."""

    def __init__(self, address: str) -> None:
        _needs_streams()
        self.raw = RawClient(address)
        hello = self.raw.hello()
        assert hello["result"] == CUDA_SUCCESS and hello["device_count"] >= 1, hello
        self.legacy = 0  # stream ids below BF_PROTO_LEGACY_STREAMS: the device's legacy stream
        alloc, _ = self.raw.request("MEM_ALLOC", {"device": 0, "bytesize": MIB})
        assert alloc["result"] == CUDA_SUCCESS, alloc
        self.dptr = alloc["dptr"]
        self.next_id = 64

    def new_stream(self, flags: int = 0) -> int:
        sid = self.next_id
        self.next_id += 1
        self.raw.post("STREAM_CREATE", {"stream": sid, "device": 0, "flags": flags, "priority": 0})
        return sid

    def new_event(self, flags: int = 0) -> int:
        eid = self.next_id
        self.next_id += 1
        self.raw.post("EVENT_CREATE", {"event": eid, "device": 0, "flags": flags})
        return eid

    def memset(self, dst: int, value: int, count: int, stream: int) -> None:
        self.raw.post("MEMSET", {"dst": dst, "value": value, "element_size": 1, "count": count,
                                 "stream": stream})

    def read(self, src: int, size: int, stream: int) -> tuple[int, bytes]:
        rep, tail = self.raw.request("MEMCPY_DTOH", {"src": src, "size": size, "stream": stream})
        return rep["result"], tail

    def call(self, name: str, fields: dict[str, int]) -> int:
        rep, _ = self.raw.request(name, fields)
        return rep["result"]

    def close(self) -> None:
        self.raw.close()


@pytest.fixture
def session(server):
    s = Session(server.address)
    try:
        yield s
    finally:
        s.close()


@pytest.mark.timeout(60)
def test_error_appears_at_stream_synchronize_not_before(session):
    s = session
    stream = s.new_stream()
    event = s.new_event()
    s.memset(s.dptr, 0x11, MIB, stream)
    s.memset(s.dptr + MIB - 8, 0x22, 64, stream)  # runs past the allocation's end
    s.memset(s.dptr, 0x33, 16, stream)             # later work on the same stream still runs
    s.raw.post("EVENT_RECORD", {"event": event, "stream": stream, "flags": 0})

    # Not before: waited calls that do not synchronise answer for themselves.
    rep, _ = s.raw.request("MEM_GET_INFO", {"device": 0})
    assert rep["result"] == CUDA_SUCCESS, rep
    assert s.call("STREAM_QUERY", {"stream": stream}) in (CUDA_SUCCESS, CUDA_ERROR_NOT_READY)
    assert s.call("EVENT_QUERY", {"event": event}) in (CUDA_SUCCESS, CUDA_ERROR_NOT_READY)

    # At the synchronise, once.
    assert s.call("STREAM_SYNCHRONIZE", {"stream": stream}) == CUDA_ERROR_INVALID_VALUE
    assert s.call("STREAM_SYNCHRONIZE", {"stream": stream}) == CUDA_SUCCESS
    assert s.call("CTX_SYNCHRONIZE", {"device": 0}) == CUDA_SUCCESS
    assert s.call("EVENT_QUERY", {"event": event}) == CUDA_SUCCESS

    # The refused memset wrote nothing; the work around it ran in order.
    result, data = s.read(s.dptr, MIB, stream)
    assert result == CUDA_SUCCESS
    assert data[:16] == b"\x33" * 16 and data[16:] == b"\x11" * (MIB - 16)


@pytest.mark.timeout(60)
def test_one_error_reported_once_by_each_kind_of_synchronising_op(session):
    s = session
    a, b = s.new_stream(), s.new_stream(flags=1)  # a blocking and a non-blocking stream
    event = s.new_event()

    # Two errors before one synchronise: a bad pointer on stream b, then a stream id nobody created.
    # The synchronise reports one of them (the first, in the order the worker met them), the next
    # synchronise neither: only the first error is kept.
    s.memset(0x400000, 0, 16, b)
    s.memset(s.dptr, 0x44, 16, 4_000_000)
    s.raw.post("EVENT_RECORD", {"event": event, "stream": b, "flags": 0})
    first = s.call("EVENT_SYNCHRONIZE", {"event": event})
    assert first in (CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_HANDLE), first
    assert s.call("CTX_SYNCHRONIZE", {"device": 0}) == CUDA_SUCCESS
    assert s.call("EVENT_SYNCHRONIZE", {"event": event}) == CUDA_SUCCESS

    # An unknown event in a posted wait latches CUDA_ERROR_INVALID_HANDLE for the next synchronise,
    # here a device-to-host copy.
    s.raw.post("STREAM_WAIT_EVENT", {"stream": a, "event": 5_000_000, "flags": 0})
    s.memset(s.dptr, 0x55, 32, a)
    result, data = s.read(s.dptr, 32, a)
    assert result == CUDA_ERROR_INVALID_HANDLE
    result, data = s.read(s.dptr, 32, a)
    assert result == CUDA_SUCCESS and data == b"\x55" * 32

    # The session is intact: a clean round on both streams.
    s.memset(s.dptr, 0x66, MIB, b)
    s.raw.post("EVENT_RECORD", {"event": event, "stream": b, "flags": 0})
    s.raw.post("STREAM_WAIT_EVENT", {"stream": a, "event": event, "flags": 0})
    s.memset(s.dptr + 100, 0x77, 10, a)
    assert s.call("STREAM_SYNCHRONIZE", {"stream": a}) == CUDA_SUCCESS
    result, data = s.read(s.dptr, 128, s.legacy)
    assert result == CUDA_SUCCESS
    assert data == b"\x66" * 100 + b"\x77" * 10 + b"\x66" * 18


@pytest.mark.timeout(60)
def test_destroyed_stream_still_runs_its_work_and_latches_nothing(session):
    s = session
    stream = s.new_stream()
    s.memset(s.dptr, 0x5a, MIB, stream)
    s.raw.post("STREAM_DESTROY", {"stream": stream})
    assert s.call("CTX_SYNCHRONIZE", {"device": 0}) == CUDA_SUCCESS
    result, data = s.read(s.dptr, MIB, s.legacy)
    assert result == CUDA_SUCCESS and data == b"\x5a" * MIB
    # Work posted to the destroyed id afterwards is an error of that op, latched.
    s.memset(s.dptr, 0, 16, stream)
    assert s.call("CTX_SYNCHRONIZE", {"device": 0}) == CUDA_ERROR_INVALID_HANDLE
    result, data = s.read(s.dptr, 16, s.legacy)
    assert result == CUDA_SUCCESS and data == b"\x5a" * 16
