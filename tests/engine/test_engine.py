"""The client engine of libbf.so and its driver-API families, end to end.

* the engine's C unit tests and its connection failure scenarios (tests/c/engine);
* the driver-API program tests/c/engine/test_engine_driver.c against a live worker on the emulator;
* tests/engine/runtime_calls.cu under NVIDIA's static and shared cudart (built with nvcc when it is
  installed), through ``bf run``;
* what a user sees when the server is missing, unreachable or dies mid-run.

Needs a meson build directory in BF_BUILD_DIR (the C programs exist only there).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME_PROGRAM = Path(__file__).resolve().with_name("runtime_calls.cu")
CONN_SCENARIOS = ["noserver", "unreachable", "version", "silence", "heartbeat", "malformed", "dead", "fork",
                  "crossed", "output", "deaf"]

CUDA_ERROR_NO_DEVICE = 100
CUDA_ERROR_DEVICES_UNAVAILABLE = 46  # cudaErrorDevicesUnavailable, from CUDA_ERROR_DEVICE_UNAVAILABLE


def build_dir() -> Path:
    value = os.environ.get("BF_BUILD_DIR")
    if not value:
        pytest.skip("BF_BUILD_DIR is not set: the engine's C programs exist only in a meson build dir")
    return Path(value)


def built(relative: str) -> Path:
    path = build_dir() / relative
    if not path.exists():
        pytest.skip(f"{relative} is not built in {build_dir()}")
    return path


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "python"), env.get("PYTHONPATH")) if p)
    env.pop("BF_SERVER", None)
    env.pop("CUDA_MODULE_LOADING", None)
    env.update(extra or {})
    return env


def bf_run(command: list[str], timeout: float = 240, **kwargs) -> subprocess.CompletedProcess[str]:
    """Runs command under ``bf run`` with its private emulator-backed server."""
    return subprocess.run([sys.executable, "-m", "openbf.cli", "run", "--", *command], env=python_env(),
                          capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def failures(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("FAIL")]


# ---- C units ----------------------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_engine_units() -> None:
    proc = subprocess.run([str(built("tests/c/engine/test_engine_units"))], capture_output=True, text=True,
                          timeout=50, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "engine units: ok" in proc.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("scenario", CONN_SCENARIOS)
def test_engine_connection_scenario(scenario: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("BF_SERVER", "BF_LOG")}
    proc = subprocess.run([str(built("tests/c/engine/test_engine_conn")), scenario], capture_output=True,
                          text=True, timeout=50, check=False, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"scenario {scenario}: all checks passed" in proc.stderr


# ---- the driver API against a live worker -----------------------------------------------------------

@pytest.mark.timeout(300)
def test_driver_api_end_to_end() -> None:
    program = built("tests/c/engine/test_engine_driver")
    built("libintercept/libbf.so")
    built("emulator/libbfemu.so")
    proc = bf_run([str(program)])
    assert proc.returncode == 0, "\n".join(failures(proc.stdout)) + proc.stderr[-3000:]
    assert "PASS driver: all" in proc.stdout
    assert "FAIL" not in proc.stdout


@pytest.mark.timeout(300)
def test_streams_events_and_threads_end_to_end() -> None:
    """Streams, events, pinned memory and async copies from many threads at once, big copies in
    both directions at the same time, and a forked child (tests/c/engine/test_engine_streams.c)."""
    program = built("tests/c/engine/test_engine_streams")
    built("libintercept/libbf.so")
    built("emulator/libbfemu.so")
    proc = bf_run([str(program)])
    assert proc.returncode == 0, "\n".join(failures(proc.stdout)) + proc.stderr[-3000:]
    assert "PASS streams: all" in proc.stdout
    assert "FAIL" not in proc.stdout


# ---- the runtime on top ---------------------------------------------------------------------------

def find_nvcc() -> str | None:
    for candidate in (os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/bin/nvcc",
                      "/usr/local/cuda/bin/nvcc"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def runtime_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    nvcc = find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found: runtime_calls.cu cannot be built")
    out = tmp_path_factory.mktemp("runtime_calls")
    programs = {}
    for variant, flags in (("static", []), ("shared", ["-cudart", "shared"])):
        binary = out / f"runtime_calls.{variant}"
        proc = subprocess.run([nvcc, *flags, "-o", str(binary), str(RUNTIME_PROGRAM)], capture_output=True,
                              text=True, timeout=240, check=False)
        assert proc.returncode == 0, proc.stderr
        programs[variant] = binary
    return programs


@pytest.mark.timeout(300)
@pytest.mark.parametrize("variant", ["static", "shared"])
def test_runtime_calls(runtime_programs: dict[str, Path], variant: str) -> None:
    """cudaGetDeviceCount, cudaGetDeviceProperties, cudaMalloc, cudaMemcpy (all kinds, 70 MiB),
    cudaMemcpy2D, cudaMemset, cudaMemGetInfo, cudaPointerGetAttributes, cudaFree,
    cudaDeviceSynchronize, cudaDeviceReset."""
    built("libintercept/libbf.so")
    proc = bf_run([str(runtime_programs[variant])])
    assert proc.returncode == 0, "\n".join(failures(proc.stdout)) + proc.stderr[-3000:]
    assert "PASS runtime_calls: all" in proc.stdout
    # libbf is silent unless BF_LOG is set.
    assert not [line for line in proc.stderr.splitlines() if line.startswith(("openbf:", "libbf"))]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("server", [None, "unix:@openbf-test-nobody-listens", "127.0.0.1:1"])
def test_runtime_without_server_sees_no_device(runtime_programs: dict[str, Path], server: str | None) -> None:
    env = python_env({"LD_PRELOAD": str(built("libintercept/libbf.so"))})
    if server is not None:
        env["BF_SERVER"] = server
    proc = subprocess.run([str(runtime_programs["static"]), "count"], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"count_result {CUDA_ERROR_NO_DEVICE}" in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.startswith("openbf:")]
    assert len(lines) == 1, proc.stderr
    assert ("unreachable" in lines[0]) if server else ("BF_SERVER" in lines[0])


@dataclass
class Session:
    """One worker serving one client connection, started the way bf-server starts it."""

    address: str
    listener: socket.socket
    worker: subprocess.Popen[bytes] | None = None

    def accept_and_start(self, timeout: float = 20) -> None:
        self.listener.settimeout(timeout)
        conn, _ = self.listener.accept()
        try:
            self.worker = subprocess.Popen(
                [str(built("server/bf-worker")), "--fd", "3", "--driver", str(built("emulator/libbfemu.so")),
                 "--backend", "emu", "--peer", "test"],
                # fd 3 is kept open in the child (pass_fds) and becomes the connection there.
                pass_fds=(3, conn.fileno()), preexec_fn=lambda: os.dup2(conn.fileno(), 3),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            conn.close()


@pytest.fixture
def session() -> Iterator[Session]:
    address = f"openbf-engine-test-{os.getpid()}-{time.monotonic_ns()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + address)
    listener.listen(1)
    s = Session(address=f"unix:@{address}", listener=listener)
    yield s
    listener.close()
    if s.worker is not None and s.worker.poll() is None:
        s.worker.kill()
        s.worker.wait()


@pytest.mark.timeout(60)
def test_runtime_when_worker_dies(runtime_programs: dict[str, Path], session: Session) -> None:
    """The worker dies mid-run: the next calls fail within the heartbeat timeout with
    cudaErrorDevicesUnavailable, later ones at once, with one line on stderr and no hang or SIGPIPE."""
    env = python_env({"LD_PRELOAD": str(built("libintercept/libbf.so")), "BF_SERVER": session.address})
    program = subprocess.Popen([str(runtime_programs["static"]), "lost"], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        session.accept_and_start()
        assert program.stdout is not None and program.stdin is not None
        assert program.stdout.readline().strip() == "ready"
        assert session.worker is not None
        session.worker.kill()
        session.worker.wait()
        program.stdin.write("go\n")
        program.stdin.flush()
        out, err = program.communicate(timeout=30)
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()
    assert program.returncode == 0, err
    results = next(line for line in out.splitlines() if line.startswith("lost_results")).split()
    htod, dtoh, malloc_after, seconds = int(results[1]), int(results[2]), int(results[3]), float(results[4])
    # The posted copy may still fit into the socket; the waited one cannot succeed.
    assert htod in (0, CUDA_ERROR_DEVICES_UNAVAILABLE)
    assert dtoh == CUDA_ERROR_DEVICES_UNAVAILABLE
    assert malloc_after != 0
    assert seconds < 2.5
    lost = [line for line in err.splitlines() if line.startswith("openbf:")]
    assert len(lost) == 1 and "lost" in lost[0], err
