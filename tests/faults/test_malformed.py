"""(e) Malformed messages from a raw socket client: that session's worker closes the connection and
bf-server logs why, while a real program's concurrent session completes. Also: the worker checks
every device pointer a client sends against the session's allocations, whatever the client."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import time

import pytest
from conftest import Client, client_env, session_end_lines, wait_for

proto = pytest.importorskip("openbf._proto", reason="openbf's Cython extension is not built")

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_NOT_INITIALIZED = 3
VA_BASE = 0x200000000000
VA_SIZE = 1 << 40


def op_id(name: str) -> int:
    return proto.op(name).id


class RawClient:
    """Speaks the wire protocol by hand, to send what libbf.so never would."""

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.port = self.sock.getsockname()[1]
        self.next_id = 1

    def send(self, data: bytes) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(data)

    def _recv_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError(f"closed after {len(out)} of {n} bytes")
            out += chunk
        return out

    def recv_frame(self) -> tuple[object, bytes]:
        """The next frame that is not a heartbeat."""
        while True:
            hdr = proto.parse_header(self._recv_exact(proto.FRAME_HDR_SIZE))
            payload = self._recv_exact(hdr.length)
            if hdr.op != op_id("HEARTBEAT"):
                return hdr, payload

    def request(self, name: str, fields: dict[str, int], tail: bytes = b"") -> tuple[dict[str, int], bytes]:
        """A waited request; returns the reply's fields (result included) and tail."""
        rid = self.next_id
        self.next_id += 1
        self.send(proto.frame(op_id(name), 0, rid, proto.encode(op_id(name), False, fields, tail)))
        hdr, payload = self.recv_frame()
        assert hdr.request_id == rid and hdr.flags & proto.FRAME_REPLY, hdr
        return proto.decode(op_id(name), True, payload)

    def post(self, name: str, fields: dict[str, int], tail: bytes = b"") -> None:
        payload = proto.encode(op_id(name), False, fields, tail)
        self.send(proto.frame(op_id(name), proto.FRAME_POSTED, 0, payload))

    def hello(self, version: int | None = None) -> dict[str, int]:
        who = f"fault test pid {os.getpid()}: raw client".encode()
        version = proto.PROTO_VERSION if version is None else version
        fields, _tail = self.request("HELLO", {"proto_version": version, "pid": os.getpid(),
                                               "va_base": VA_BASE, "va_size": VA_SIZE}, who)
        return fields

    def closed_by_peer(self, timeout: float) -> bool:
        """True once the other end closes (frames it sends first are skipped)."""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(65536):
                    return True
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False

    def close(self) -> None:
        self.sock.close()


def _hdr(length: int, op: int, flags: int = 0, rid: int = 1) -> bytes:
    return struct.pack("<IHHQ", length, op, flags, rid)


def _hello_payload() -> bytes:
    return proto.encode(op_id("HELLO"), False, {"proto_version": proto.PROTO_VERSION, "pid": 1,
                                                "va_base": VA_BASE, "va_size": VA_SIZE}, b"raw")


# name -> (needs a HELLO first, bytes to send)
MALFORMED = {
    "garbage": (False, b"\xff" * 64),
    "unknown-op": (False, _hdr(8, 999) + b"\0" * 8),
    "oversized-length": (False, _hdr(0xFFFFFFF0, 36)),
    "truncated-hello": (False, _hdr(2, 1) + b"\x01\x00"),
    "reply-flag-from-client": (False, _hdr(len(_hello_payload()), 1, flags=1) + _hello_payload()),
    "hello-tail-longer-than-frame": (False, _hdr(len(_hello_payload()) - 2, 1) + _hello_payload()[:-2]),
    "unknown-op-after-hello": (True, _hdr(4, 250) + b"\0" * 4),
    "short-payload-after-hello": (True, _hdr(4, 37) + b"\0" * 4),
    "htod-size-disagrees-with-frame": (True, None),  # built below: needs the op's wire size
    "half-frame-then-close": (True, _hdr(16, 37) + b"\0" * 10),  # MEMCPY_DTOH: 16 fixed bytes
}


def _payload_for(name: str) -> bytes:
    if name == "htod-size-disagrees-with-frame":
        fixed = proto.encode(op_id("MEMCPY_HTOD"), False, {"dst": VA_BASE, "size": 1000, "stream": 0}, b"")
        return _hdr(len(fixed) + 10, op_id("MEMCPY_HTOD"), proto.FRAME_POSTED, 0) + fixed + b"x" * 10
    data = MALFORMED[name][1]
    assert data is not None
    return data


def _send_malformed(address: str, name: str) -> RawClient:
    raw = RawClient(address)
    if MALFORMED[name][0]:
        assert raw.hello()["result"] == CUDA_SUCCESS
    raw.send(_payload_for(name))
    if name == "half-frame-then-close":
        raw.sock.shutdown(socket.SHUT_WR)
    return raw


def _end_line_for(log: str, port: int) -> str | None:
    for line in session_end_lines(log):
        if re.search(rf"127\.0\.0\.1:{port}\b", line):
            return line
    return None


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_message_ends_only_that_session(name, server):
    raw = _send_malformed(server.address, name)
    try:
        assert raw.closed_by_peer(10), f"the worker kept the connection open after {name}"
    finally:
        raw.close()
    assert wait_for(lambda: _end_line_for(server.log(), raw.port) is not None, 10), server.log()
    line = _end_line_for(server.log(), raw.port)
    assert line is not None
    reason = line.split("ended: ", 1)[1]
    assert reason.strip() and "without statistics" not in line, line
    assert not any(normal in reason for normal in ("goodbye", "client closed")), (
        f"a malformed message was taken for a normal end: {line}")
    # The server itself is unharmed: a new session says HELLO successfully.
    fresh = RawClient(server.address)
    try:
        assert fresh.hello()["result"] == CUDA_SUCCESS
    finally:
        fresh.close()


@pytest.mark.timeout(180)
def test_real_program_unaffected_by_malformed_neighbours(server, fault_client_rt, libbf, clients):
    client = Client([str(fault_client_rt), "rounds", "40"], client_env(libbf, server.address))
    clients.append(client)
    assert client.read_until("READY", 60), f"no READY: {client.lines}\n{client.stderr()}"
    client.send_line()  # the copies start now, while the neighbours misbehave
    raws = [_send_malformed(server.address, name) for name in sorted(MALFORMED)]
    try:
        closed = {name: raw.closed_by_peer(10) for name, raw in zip(sorted(MALFORMED), raws, strict=True)}
    finally:
        for raw in raws:
            raw.close()
    assert all(closed.values()), f"connections left open: {[n for n, c in closed.items() if not c]}"
    rc = client.finish(120)
    assert rc == 0 and any(line.startswith("PASS rounds") for line in client.lines), (
        f"exit status {rc}\n{client.lines}\n{client.stderr()}")
    assert client.stderr().strip() == "", client.stderr()


@pytest.mark.timeout(60)
def test_worker_checks_pointers_from_any_client(server):
    """A client that skips libbf's own checks still cannot reach memory outside its allocations:
    the worker refuses such pointers with CUDA_ERROR_INVALID_VALUE and the session goes on."""
    raw = RawClient(server.address)
    try:
        hello = raw.hello()
        assert hello["result"] == CUDA_SUCCESS and hello["device_count"] >= 1, hello
        alloc, _ = raw.request("MEM_ALLOC", {"device": 0, "bytesize": 1 << 20})
        assert alloc["result"] == CUDA_SUCCESS, alloc
        dptr = alloc["dptr"]

        outside = [0x400000, 0x10, dptr + (1 << 20), dptr + (1 << 20) - 8, dptr - 16, VA_BASE - 4096,
                   0x7FFF_FFFF_F000]
        for src in outside:
            rep, tail = raw.request("MEMCPY_DTOH", {"src": src, "size": 16, "stream": 0})
            assert rep["result"] == CUDA_ERROR_INVALID_VALUE and tail == b"", (hex(src), rep)

        raw.post("MEMCPY_HTOD", {"dst": dptr, "size": 16, "stream": 0}, b"A" * 16)
        rep, tail = raw.request("MEMCPY_DTOH", {"src": dptr, "size": 16, "stream": 0})
        assert rep["result"] == CUDA_SUCCESS and tail == b"A" * 16, rep

        # Posted ops with bad pointers: the first error is latched for the next synchronising call.
        raw.post("MEMCPY_HTOD", {"dst": 0x400000, "size": 4, "stream": 0}, b"evil")
        raw.post("MEMSET", {"dst": dptr + (1 << 20), "value": 0, "element_size": 1, "count": 4,
                             "stream": 0})
        raw.post("MEM_FREE", {"dptr": 0x400000})
        sync, _ = raw.request("CTX_SYNCHRONIZE", {"device": 0})
        assert sync["result"] == CUDA_ERROR_INVALID_VALUE, sync
        sync, _ = raw.request("CTX_SYNCHRONIZE", {"device": 0})
        assert sync["result"] == CUDA_SUCCESS, sync
        rep, tail = raw.request("MEMCPY_DTOH", {"src": dptr, "size": 16, "stream": 0})
        assert rep["result"] == CUDA_SUCCESS and tail == b"A" * 16, rep
    finally:
        raw.close()


@pytest.mark.timeout(60)
def test_protocol_version_mismatch(server):
    raw = RawClient(server.address)
    try:
        rep = raw.hello(version=proto.PROTO_VERSION + 1000)
        assert rep["result"] == CUDA_ERROR_NOT_INITIALIZED, rep
        assert rep["proto_version"] == proto.PROTO_VERSION, rep
        assert raw.closed_by_peer(10)
    finally:
        raw.close()
    assert wait_for(lambda: _end_line_for(server.log(), raw.port) is not None, 10), server.log()
    assert "version" in (_end_line_for(server.log(), raw.port) or "")
