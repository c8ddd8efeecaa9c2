"""Fixtures of the fault tests: the small fault programs, a bf-server per test, interactive clients.

Clients run the way `bf run` starts them (LD_PRELOAD=libbf.so, BF_SERVER=address), directly, so a
test knows and controls the program's own process and its environment.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROGS = Path(__file__).resolve().parent / "progs"


import conformance as runner  # noqa: E402  (tools/dev, on sys.path through pytest pythonpath)

if os.environ.get("BF_BUILD_DIR") and str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))


@pytest.fixture(scope="session", name="runner")
def runner_fixture():
    return runner


def _build(source: str, variant: str, flags: Sequence[str], libs: Sequence[str] = ()) -> Path:
    nvcc = runner.find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found: the fault programs cannot be built")
    src = PROGS / source
    out = runner.DEFAULT_BIN_DIR / "faults" / f"{src.stem}.{variant}"
    try:
        return runner.build_one(nvcc, runner._nvcc_version(nvcc), src, out, variant, (), flags, libs)[0]
    except runner.BuildError as e:
        pytest.fail(f"building {source} failed:\n{e}", pytrace=False)


@pytest.fixture(scope="session")
def fault_client() -> Path:
    """The driver-API program (no CUDA runtime; dlopens libcuda.so.1)."""
    return _build("fault_client.c", "none", ("-O1", "-Xcompiler", "-Wall,-Wextra"), ("-ldl",))


@pytest.fixture(scope="session")
def fault_client_rt() -> Path:
    """The runtime-API program (NVIDIA's static cudart)."""
    return _build("fault_client_rt.cu", "static", runner.NVCC_FLAGS)


@pytest.fixture(scope="session")
def libbf() -> Path:
    from openbf import paths

    try:
        return paths.libbf()
    except FileNotFoundError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def server() -> Iterator[object]:
    """A bf-server on the emulator, TCP loopback, stopped (workers too) after the test."""
    srv = runner.BfServer("tcp", "emu")
    try:
        srv.start()
    except runner.ServerError as e:
        srv.stop()
        pytest.fail(str(e), pytrace=False)
    try:
        yield srv
    finally:
        srv.stop()


def client_env(libbf: Path, address: str) -> dict[str, str]:
    """What `bf run` gives its command: libbf.so preloaded and the server's address."""
    env = runner.openbf_env()
    env["LD_PRELOAD"] = str(libbf)
    env["BF_SERVER"] = address
    env.pop("BF_LOG", None)  # the default: libbf is silent but for its one-line notices
    return env


class Client:
    """A program under test with piped stdin/stdout; stderr goes to a file (never a full pipe).
    Started in its own process group; kill() or finish() always leaves nothing running."""

    def __init__(self, cmd: Sequence[str], env: dict[str, str]) -> None:
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(list(cmd), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._err, start_new_session=True)
        self._buf = b""
        self.lines: list[str] = []

    def read_until(self, marker: str, timeout: float) -> bool:
        """Reads stdout lines until one starts with marker; False at the timeout or end of output."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if line.startswith(marker):
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return False
            chunk = os.read(fd, 65536)
            if not chunk:
                return any(line.startswith(marker) for line in self.lines)
            self._buf += chunk
            *complete, self._buf = self._buf.split(b"\n")
            self.lines.extend(c.decode(errors="replace") for c in complete)

    def send_line(self, text: str = "go") -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write(text.encode() + b"\n")
            self.proc.stdin.flush()

    def finish(self, timeout: float) -> int | None:
        """Waits for the exit, reading what is left; None (and the group killed) at the timeout."""
        self.read_until("\0never", timeout)
        try:
            return self.proc.wait(timeout=max(0.1, timeout / 10))
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        runner.stop_process_group(self.proc, timeout=5)

    def sigkill(self) -> int:
        """SIGKILL to the program at once (no SIGTERM first); returns its exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def stderr(self) -> str:
        self._err.seek(0)
        return self._err.read().decode(errors="replace")

    def results(self) -> dict[str, list[str]]:
        """RESULT lines by call name: the fields after the name."""
        out = {}
        for line in self.lines:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "RESULT":
                out[parts[1]] = parts[2:]
        return out

    def close(self) -> None:
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._err.close()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    """Collects the Clients a test starts and ends them all afterwards."""
    started: list[Client] = []
    yield started
    for c in started:
        c.close()


def worker_pids(log: str) -> list[int]:
    """Worker pids in the order bf-server started them."""
    return [int(m) for m in re.findall(r"worker pid (\d+)", log)]


def session_end_lines(log: str) -> list[str]:
    """bf-server's end-of-session lines (one per session)."""
    return [line for line in log.splitlines() if re.search(r"session \d+ .*ended: ", line)]


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
