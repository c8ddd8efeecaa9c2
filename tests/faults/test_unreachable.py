"""(c) The server cannot be reached when the program starts: no device, within 2 s, one line on
stderr naming the address and why."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest
from conftest import client_env, runner

CUDA_ERROR_NO_DEVICE = 100
CUDA_ERROR_NOT_INITIALIZED = 3


def _closed_tcp() -> str:
    return f"127.0.0.1:{runner.free_tcp_port()}"


def _missing_unix() -> str:
    return f"unix:@openbf-nobody-{os.getpid()}-{time.monotonic_ns()}"


def _run(program, mode, env, timeout=30.0):
    start = time.monotonic()
    run = subprocess.run([str(program), mode], env=env, capture_output=True, text=True, timeout=timeout,
                         check=False)
    return run, time.monotonic() - start


def _results(stdout: str) -> dict[str, list[str]]:
    return {p[1]: p[2:] for p in (line.split() for line in stdout.splitlines()) if p and p[0] == "RESULT"}


def _one_line_naming(stderr: str, address: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    assert address in lines[0], f"the line does not name {address}: {lines[0]}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", [_closed_tcp, _missing_unix],
                         ids=["closed-tcp-port", "missing-unix-socket"])
def test_runtime_sees_no_device(where, fault_client_rt, libbf):
    address = where()
    run, seconds = _run(fault_client_rt, "count", client_env(libbf, address))
    assert run.returncode == 0, run.stdout + run.stderr
    code, name, ms, count = _results(run.stdout)["cudaGetDeviceCount"]
    assert name == "cudaErrorNoDevice", f"cudaGetDeviceCount returned {name} ({code})"
    assert float(ms) <= 2000 and seconds <= 5, f"took {ms} ms in the call, {seconds:.1f} s in all"
    _one_line_naming(run.stderr, address)


@pytest.mark.timeout(60)
def test_driver_init_fails_with_no_device(fault_client, libbf):
    address = _closed_tcp()
    run, _ = _run(fault_client, "init", client_env(libbf, address))
    assert run.returncode == 0, run.stdout + run.stderr
    results = _results(run.stdout)
    assert int(results["cuInit"][0]) == CUDA_ERROR_NO_DEVICE, results
    assert float(results["cuInit"][1]) <= 2000, results
    assert int(results["cuDeviceGetCount"][0]) in (CUDA_ERROR_NO_DEVICE, CUDA_ERROR_NOT_INITIALIZED), results
    _one_line_naming(run.stderr, address)


@pytest.mark.timeout(60)
def test_silent_listener(fault_client_rt, libbf):
    """Something listens but never answers HELLO: the program still gets no device, in bounded time
    (connect succeeds at once; the wait for the reply is bounded by the connect timeout)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        address = f"127.0.0.1:{s.getsockname()[1]}"
        run, seconds = _run(fault_client_rt, "count", client_env(libbf, address))
    assert run.returncode == 0, run.stdout + run.stderr
    code, name, ms, _ = _results(run.stdout)["cudaGetDeviceCount"]
    assert name == "cudaErrorNoDevice", f"cudaGetDeviceCount returned {name} ({code})"
    assert float(ms) <= 4500, f"gave up after {ms} ms"
    _one_line_naming(run.stderr, address)
