"""Helpers for the bf and bf-server tests: starting servers, raw protocol clients, /proc checks.

Imported by conftest.py and the tests of this folder (which pytest puts on sys.path).

The tools run as ``python -m openbf.cli`` / ``openbf.server``. With BF_BUILD_DIR set (a development
build) the source tree's python/ comes first on sys.path and PYTHONPATH and the compiled parts come
from the build dir; without it, the installed openbf package is tested.
"""

from __future__ import annotations

import os
import re
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PY_ROOT = Path(__file__).resolve().parents[2] / "python"
if os.environ.get("BF_BUILD_DIR") and str(PY_ROOT) not in sys.path:
    sys.path.insert(0, str(PY_ROOT))

from openbf import paths  # noqa: E402

READY_TIMEOUT_S = 15.0
IO_TIMEOUT_S = 10.0


def tool_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    if env.get("BF_BUILD_DIR"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PY_ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("BF_EMU_MEMORY", "256M")  # small device: tests run several workers at once
    env.pop("BF_SERVER", None)
    env.update(extra)
    return env


def require_built(*names: str) -> None:
    """Skips the test, saying what is missing, unless these build outputs exist."""
    missing = []
    for name in names:
        if name == "_proto":
            try:
                import openbf._proto  # noqa: F401
            except ImportError:
                missing.append("openbf._proto")
            continue
        try:
            getattr(paths, name)()
        except FileNotFoundError:
            missing.append(name)
    if missing:
        pytest.skip(f"not built: {', '.join(missing)} (set BF_BUILD_DIR to a meson build dir holding them)")


def bf(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0,
       **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Runs the bf command and returns its result (stdout and stderr captured as text)."""
    return subprocess.run([sys.executable, "-m", "openbf.cli", *args], env=env or tool_env(), text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
                          **kwargs)


# ---- addresses ------------------------------------------------------------------------------------

def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_address(transport: str) -> str:
    if transport == "tcp":
        return f"127.0.0.1:{free_tcp_port()}"
    if transport == "unix":
        return f"unix:@openbf-test-{os.getpid()}-{secrets.token_hex(4)}"
    raise ValueError(transport)


def connect(address: str) -> socket.socket:
    if address.startswith("unix:"):
        path = address[5:]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(IO_TIMEOUT_S)
        sock.connect("\0" + path[1:] if path.startswith("@") else path)
        return sock
    host, port = address.removeprefix("tcp:").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=IO_TIMEOUT_S)


# ---- a raw protocol client ------------------------------------------------------------------------

class RawClient:
    """Speaks the protocol by hand, through the Cython codec, one request at a time."""

    def __init__(self, address: str) -> None:
        from openbf import _proto

        self.proto = _proto
        self.sock = connect(address)
        self.next_id = 1

    def close(self) -> None:
        self.sock.close()

    def recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"connection closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def call(self, op_name: str, fields: dict[str, int], tail: bytes = b"") -> tuple[dict[str, int], bytes]:
        """Sends a waited request and returns its decoded reply, skipping heartbeats."""
        op = self.proto.op(op_name)
        request_id = self.next_id
        self.next_id += 1
        payload = self.proto.encode(op.id, False, fields, tail)
        self.sock.sendall(self.proto.frame(op.id, 0, request_id, payload))
        while True:
            header = self.proto.parse_header(self.recv_exact(self.proto.FRAME_HDR_SIZE))
            payload = self.recv_exact(header.length)
            if header.flags & self.proto.FRAME_REPLY and header.request_id == request_id:
                assert header.op == op.id
                return self.proto.decode(op.id, True, payload)

    def hello(self, who: str = "pytest client", version: int | None = None) -> tuple[dict[str, int], bytes]:
        return self.call("HELLO", {
            "proto_version": self.proto.PROTO_VERSION if version is None else version,
            "pid": os.getpid(), "va_base": 0x100000000000, "va_size": 1 << 40,
        }, who.encode())

    def is_closed_by_peer(self, timeout: float = IO_TIMEOUT_S) -> bool:
        """True once the peer has closed (end of stream or reset), reading and dropping data."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.sock], [], [], deadline - time.monotonic())
            if not readable:
                break
            try:
                if not self.sock.recv(65536):
                    return True
            except ConnectionResetError:
                return True
        return False


# ---- processes ------------------------------------------------------------------------------------

def proc_cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def children_of(pid: int) -> list[int]:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [child for child in pids if proc_ppid(child) == pid]


def processes_matching(text: str) -> list[int]:
    """Pids of live processes whose command line contains text."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != os.getpid():
            cmdline = proc_cmdline(int(p.name))
            if cmdline and text in cmdline:
                found.append(int(p.name))
    return found


# ---- bf-server under test -------------------------------------------------------------------------

class ServerUnderTest:
    def __init__(self, addresses: list[str], log_path: Path, *extra: str,
                 backend: str | None = "emu") -> None:
        self.addresses = addresses
        self.log_path = log_path
        ready_r, ready_w = os.pipe()
        argv = [sys.executable, "-m", "openbf.server", "--log-level", "debug", "--ready-fd", str(ready_w),
                *extra]
        if backend is not None:
            argv += ["--backend", backend]
        for address in addresses:
            argv += ["--listen", address]
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, env=tool_env(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, pass_fds=(ready_w,))
        os.close(ready_w)
        try:
            readable, _, _ = select.select([ready_r], [], [], READY_TIMEOUT_S)
            word = os.read(ready_r, 16) if readable else b""
        finally:
            os.close(ready_r)
        if word != b"ready\n":
            self.kill()
            pytest.fail(f"bf-server did not become ready (got {word!r}); its log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern: str, count: int = 1, timeout: float = IO_TIMEOUT_S) -> list[re.Match[str]]:
        deadline = time.monotonic() + timeout
        while True:
            matches = list(re.finditer(pattern, self.log(), re.MULTILINE))
            if len(matches) >= count:
                return matches
            if time.monotonic() > deadline:
                pytest.fail(f"{count} log line(s) matching {pattern!r} not seen in {timeout} s; "
                            f"log:\n{self.log()}")
            time.sleep(0.05)

    def worker_pids(self, count: int) -> list[int]:
        return [int(m.group(1)) for m in self.wait_log(r"worker pid (\d+) started", count)]

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
