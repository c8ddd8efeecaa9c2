"""(b) The server dies (or falls silent) while the program waits between two calls: the next call
fails within 2 s with CUDA_ERROR_DEVICE_UNAVAILABLE (the runtime's mapping of it for cudart
programs), every later call fails at once, stderr has exactly one line naming the server and the
reason, and the program is neither hung nor killed by SIGPIPE."""

from __future__ import annotations

import os
import signal

import pytest
from conftest import Client, client_env

CUDA_ERROR_DEVICE_UNAVAILABLE = 46
# What cudart reports for a driver call that failed with CUDA_ERROR_DEVICE_UNAVAILABLE.
RUNTIME_DEVICE_UNAVAILABLE = "cudaErrorDevicesUnavailable"


def _start_waiting_client(clients, program, mode_args, libbf, server):
    client = Client([str(program), *mode_args], client_env(libbf, server.address))
    clients.append(client)
    assert client.read_until("READY", 60), f"no READY: {client.lines}\n{client.stderr()}"
    return client


def _check_one_stderr_line(client, server, reason_words):
    lines = [line for line in client.stderr().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n" + "\n".join(lines)
    assert server.address in lines[0], f"the line does not name the server {server.address}: {lines[0]}"
    assert any(w in lines[0].lower() for w in reason_words), f"the line gives no reason: {lines[0]}"


def _kill_server(server):
    os.killpg(server.pid(), signal.SIGKILL)  # bf-server and its workers: one process group
    server.proc.wait(timeout=10)


@pytest.mark.timeout(120)
def test_driver_call_after_server_killed(server, fault_client, libbf, clients):
    client = _start_waiting_client(clients, fault_client, ["wait"], libbf, server)
    _kill_server(server)
    client.send_line()
    rc = client.finish(15)
    assert rc == 0, f"exit status {rc} (-13 is SIGPIPE, None a hang)\n{client.lines}\n{client.stderr()}"
    results = client.results()
    code, ms = int(results["cuMemcpyDtoH"][0]), float(results["cuMemcpyDtoH"][1])
    assert code == CUDA_ERROR_DEVICE_UNAVAILABLE, results
    assert ms <= 2000, f"the failing call took {ms} ms"
    for later in ("cuMemGetInfo", "cuMemcpyHtoD"):
        assert int(results[later][0]) == CUDA_ERROR_DEVICE_UNAVAILABLE, results
        assert float(results[later][1]) <= 100, f"{later} after the loss took {results[later][1]} ms"
    _check_one_stderr_line(client, server, ("lost", "closed", "dead", "reset", "unavailable"))


@pytest.mark.timeout(120)
def test_runtime_call_after_server_killed(server, fault_client_rt, libbf, clients):
    client = _start_waiting_client(clients, fault_client_rt, ["wait"], libbf, server)
    _kill_server(server)
    client.send_line()
    rc = client.finish(15)
    assert rc == 0, f"exit status {rc} (-13 is SIGPIPE, None a hang)\n{client.lines}\n{client.stderr()}"
    results = client.results()
    code, name, ms = int(results["cudaMemcpy"][0]), results["cudaMemcpy"][1], float(results["cudaMemcpy"][2])
    assert name == RUNTIME_DEVICE_UNAVAILABLE, f"cudaMemcpy returned {name} ({code})"
    assert ms <= 2000, f"the failing call took {ms} ms"
    assert results["cudaMemGetInfo"][1] != "cudaSuccess", results
    _check_one_stderr_line(client, server, ("lost", "closed", "dead", "reset", "unavailable"))


@pytest.mark.timeout(120)
def test_silent_server_detected_by_heartbeat_timeout(server, fault_client, libbf, clients):
    """The server and worker are stopped (SIGSTOP), not killed: the connection stays open but
    nothing answers. The client gives up after the heartbeat timeout (2 s)."""
    client = _start_waiting_client(clients, fault_client, ["wait"], libbf, server)
    os.killpg(server.pid(), signal.SIGSTOP)
    try:
        client.send_line()
        rc = client.finish(15)
    finally:
        os.killpg(server.pid(), signal.SIGCONT)
    assert rc == 0, f"exit status {rc}\n{client.lines}\n{client.stderr()}"
    results = client.results()
    code, ms = int(results["cuMemcpyDtoH"][0]), float(results["cuMemcpyDtoH"][1])
    assert code == CUDA_ERROR_DEVICE_UNAVAILABLE, results
    # 2 s of silence (BF_HEARTBEAT_TIMEOUT_MS) plus scheduling slack; not a hang.
    assert 1500 <= ms <= 3500, f"the call gave up after {ms} ms"
    assert int(results["cuMemGetInfo"][0]) == CUDA_ERROR_DEVICE_UNAVAILABLE, results
    assert float(results["cuMemGetInfo"][1]) <= 100, results
    _check_one_stderr_line(client, server,
                           ("lost", "silent", "heartbeat", "no reply", "timed out", "timeout"))
