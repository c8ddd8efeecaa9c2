"""A small test client for bf-worker: starts it on one end of a socketpair and speaks the protocol.

The message layouts are read from ``protocol/ops.def`` itself (fields in wire order, little-endian,
replies prefixed by their i32 result), so this harness keeps no second copy of the op table. It is a
test client only; the production codec binding lives in ``pybindings/``.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openbf import paths

REPO = Path(__file__).resolve().parents[2]
OPS_DEF = REPO / "protocol" / "ops.def"
PROTO_H = REPO / "protocol" / "proto.h"

HEADER = struct.Struct("<IHHQ")  # length, op, flags, request id
FRAME_REPLY = 1
FRAME_POSTED = 2

# bf_proto_device_t: name, uuid, total_mem, window_base, window_size, attributes[256], pci_bus_id
DEVICE = struct.Struct("<256s16sQQQ256i32s")

DEFAULT_VA_BASE = 0x200000000000  # 32 TiB, as libbf reserves it
DEFAULT_VA_SIZE = 1 << 40

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_NOT_INITIALIZED = 3

_KIND_FORMAT = {"U32": "I", "I32": "i", "U64": "Q", "DEVPTR": "Q", "HANDLE": "Q"}


@dataclass(frozen=True)
class Message:
    """One side of an op: its fixed fields in wire order and the name of its tail's length field."""

    fields: tuple[tuple[str, str], ...]  # (kind, name), TAIL excluded
    tail: str | None
    is_reply: bool

    @property
    def struct(self) -> struct.Struct:
        prefix = "i" if self.is_reply else ""
        return struct.Struct("<" + prefix + "".join(_KIND_FORMAT[k] for k, _ in self.fields))

    @property
    def names(self) -> list[str]:
        return (["result"] if self.is_reply else []) + [n for _, n in self.fields]


@dataclass(frozen=True)
class Op:
    id: int
    name: str
    mode: str
    request: Message
    reply: Message


def _parse_fields(body: str, is_reply: bool) -> Message:
    fields: list[tuple[str, str]] = []
    tail = None
    for kind, name in re.findall(r"F\(\s*(\w+)\s*,\s*(\w+)\s*\)", body):
        if kind == "TAIL":
            tail = name
        else:
            fields.append((kind, name))
    return Message(tuple(fields), tail, is_reply)


def load_ops(path: Path = OPS_DEF) -> dict[str, Op]:
    """Reads ops.def: op name -> Op."""
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S).replace("\\\n", " ")
    bodies = dict(re.findall(r"#define\s+BF_((?:REQ|REP)_\w+)\(F\)([^\n]*)", text))
    ops = {}
    for op_id, name, mode in re.findall(r"BF_OP\(\s*(\d+)\s*,\s*(\w+)\s*,\s*(\w+)\s*\)", text):
        ops[name] = Op(int(op_id), name, mode, _parse_fields(bodies.get("REQ_" + name, ""), False),
                       _parse_fields(bodies.get("REP_" + name, ""), True))
    return ops


def proto_version() -> int:
    match = re.search(r"#define\s+BF_PROTO_VERSION\s+(\d+)", PROTO_H.read_text())
    assert match, "BF_PROTO_VERSION not found in proto.h"
    return int(match.group(1))


OPS = load_ops()
OPS_BY_ID = {op.id: op for op in OPS.values()}


@dataclass
class Frame:
    op: str
    flags: int
    request_id: int
    fields: dict[str, int]
    tail: bytes = b""

    @property
    def result(self) -> int:
        return self.fields["result"]


@dataclass
class Device:
    name: str
    uuid: bytes
    total_mem: int
    window_base: int
    window_size: int
    attributes: list[int]
    pci_bus_id: str


def parse_devices(tail: bytes) -> list[Device]:
    devices = []
    for offset in range(0, len(tail), DEVICE.size):
        name, uuid, total, base, size, *rest = DEVICE.unpack_from(tail, offset)
        attributes, pci = list(rest[:256]), rest[256]
        devices.append(Device(name.split(b"\0")[0].decode(), uuid, total, base, size, attributes,
                              pci.split(b"\0")[0].decode()))
    return devices


def driver_path() -> Path:
    """libbfemu.so from BF_BUILD_DIR or the package; raises FileNotFoundError when not built."""
    return paths.libbfemu()


@dataclass
class Ended:
    """How a worker ended: exit status, its stats line (parsed) and everything it logged."""

    returncode: int
    stats: dict[str, Any] | None
    log: str


@dataclass
class Worker:
    """One bf-worker process serving this test as its client."""

    driver: str | Path = field(default_factory=driver_path)
    backend: str = "emu"
    env: dict[str, str] = field(default_factory=dict)
    hello_timeout_ms: int | None = None

    def __post_init__(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        stats_read, stats_write = os.pipe()
        self._log = tempfile.TemporaryFile()
        args = [str(paths.worker()), "--fd", str(child.fileno()), "--driver", str(self.driver),
                "--backend", self.backend, "--peer", "worker_harness", "--stats-fd", str(stats_write)]
        if self.hello_timeout_ms is not None:
            args += ["--hello-timeout-ms", str(self.hello_timeout_ms)]
        env = {**os.environ, "BF_LOG": "info", **self.env}
        try:
            self.proc = subprocess.Popen(args, pass_fds=(child.fileno(), stats_write),
                                         stdout=self._log, stderr=self._log, env=env)
        finally:
            child.close()
            os.close(stats_write)
        self.sock = parent
        self._stats = os.fdopen(stats_read, "rb")
        self._next_id = 1
        self.heartbeats: list[Frame] = []
        self.output: list[tuple[int, bytes]] = []  # OUTPUT frames (fd, bytes), in arrival order

    # --- sending ---------------------------------------------------------------------------------

    def send(self, op: str, fields: dict[str, int] | None = None, tail: bytes = b"", *,
             posted: bool | None = None, request_id: int | None = None,
             length: int | None = None) -> int:
        """Sends a request; the tail length field is filled in unless given. Returns its id."""
        desc = OPS[op]
        values = dict(fields or {})
        if desc.request.tail is not None:
            values.setdefault(desc.request.tail, len(tail))
        fixed = desc.request.struct.pack(*(values.get(n, 0) for n in desc.request.names))
        if posted is None:
            posted = desc.mode == "BF_POSTED"
        if request_id is None:
            request_id = self._next_id
            self._next_id += 1
        payload = fixed + tail
        header = HEADER.pack(len(payload) if length is None else length, desc.id,
                             FRAME_POSTED if posted else 0, request_id)
        self.sock.sendall(header + payload)
        return request_id

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    # --- receiving -------------------------------------------------------------------------------

    def _recv_exact(self, size: int, timeout: float) -> bytes:
        chunks = []
        while size > 0:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                raise TimeoutError(f"worker sent nothing for {timeout} s")
            chunk = self.sock.recv(min(size, 1 << 20))
            if not chunk:
                raise EOFError("worker closed the connection")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def recv(self, timeout: float = 10.0) -> Frame:
        """Receives and decodes the next frame (a reply, or a heartbeat)."""
        length, op_id, flags, request_id = HEADER.unpack(self._recv_exact(HEADER.size, timeout))
        payload = self._recv_exact(length, timeout) if length else b""
        desc = OPS_BY_ID[op_id]
        message = desc.reply if flags & FRAME_REPLY else desc.request
        layout = message.struct
        values = dict(zip(message.names, layout.unpack_from(payload), strict=True))
        return Frame(desc.name, flags, request_id, values, payload[layout.size:])

    def call(self, op: str, fields: dict[str, int] | None = None, tail: bytes = b"",
             timeout: float = 10.0) -> Frame:
        """Sends a waited request and returns its reply, collecting heartbeats on the way."""
        request_id = self.send(op, fields, tail, posted=False)
        while True:
            frame = self.recv(timeout)
            if frame.op == "HEARTBEAT" and not frame.flags & FRAME_REPLY:
                self.heartbeats.append(frame)
                continue
            if frame.op == "OUTPUT" and not frame.flags & FRAME_REPLY:
                self.output.append((frame.fields["fd"], frame.tail))
                continue
            assert frame.flags & FRAME_REPLY, frame
            assert (frame.op, frame.request_id) == (op, request_id), frame
            return frame

    def post(self, op: str, fields: dict[str, int] | None = None, tail: bytes = b"") -> None:
        self.send(op, fields, tail, posted=True)

    # --- session -------------------------------------------------------------------------------

    def hello(self, version: int | None = None, va_base: int = DEFAULT_VA_BASE,
              va_size: int = DEFAULT_VA_SIZE, who: str = "tester@localhost pid 1: pytest",
              timeout: float = 30.0) -> tuple[Frame, list[Device]]:
        reply = self.call("HELLO", {"proto_version": proto_version() if version is None else version,
                                    "pid": os.getpid(), "va_base": va_base, "va_size": va_size},
                          who.encode(), timeout=timeout)
        return reply, parse_devices(reply.tail)

    def alloc(self, size: int, device: int = 0) -> int:
        reply = self.call("MEM_ALLOC", {"device": device, "bytesize": size})
        assert reply.result == CUDA_SUCCESS, reply
        return reply.fields["dptr"]

    def sync(self, device: int = 0) -> int:
        return self.call("CTX_SYNCHRONIZE", {"device": device}).result

    def wait(self, timeout: float = 20.0) -> Ended:
        """Waits for the worker to exit; returns its status, stats line and log."""
        try:
            returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        line = self._stats.readline()
        self._stats.close()
        self.sock.close()
        self._log.seek(0)
        log = self._log.read().decode(errors="replace")
        self._log.close()
        return Ended(returncode, json.loads(line) if line else None, log)

    def goodbye(self, timeout: float = 20.0) -> Ended:
        self.post("GOODBYE", {"reason": 0})
        return self.wait(timeout)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        if self.sock.fileno() >= 0:
            self.sock.close()
        if not self._stats.closed:
            self._stats.close()
        if not self._log.closed:
            self._log.close()
