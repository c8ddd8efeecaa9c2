"""Kernels through libbf.so end to end (tests/c/engine/test_engine_kernels.c, driver API, PTX):
sticky kernel faults (posted calls after a reported fault fail at once), modules unloaded by a
context reset, context limits and cache configuration, and device output carried to the program's
stdout and stderr in call order (with the worker's test driver, which writes at every
cuCtxSynchronize)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from test_engine import bf_run, build_dir, built, failures, find_nvcc, python_env


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scenario", ["faults", "limits"])
def test_kernels_scenario(scenario: str) -> None:
    program = built("tests/c/engine/test_engine_kernels")
    built("emulator/libbfemu.so")
    proc = bf_run([str(program), scenario], timeout=100)
    assert proc.returncode == 0, "\n".join(failures(proc.stdout)) + proc.stderr[-3000:]
    assert f"PASS kernels {scenario}" in proc.stdout


@pytest.mark.timeout(60)
def test_device_output_in_call_order_and_flushed_at_exit() -> None:
    program = built("tests/c/engine/test_engine_kernels")
    driver = built("server/libbf_test_output_driver.so")
    address = f"openbf-output-test-{os.getpid()}-{time.monotonic_ns()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + address)
    listener.listen(1)
    env = python_env({"LD_PRELOAD": str(built("libintercept/libbf.so")), "BF_SERVER": f"unix:@{address}"})
    client = subprocess.Popen([str(program), "output"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    worker = None
    try:
        listener.settimeout(20)
        conn, _ = listener.accept()
        try:
            worker_env = python_env({"BF_TEST_REAL_DRIVER": str(built("emulator/libbfemu.so"))})
            worker = subprocess.Popen(
                [str(built("server/bf-worker")), "--fd", "3", "--driver", str(driver), "--backend", "emu",
                 "--peer", "test"],
                pass_fds=(3, conn.fileno()), preexec_fn=lambda: os.dup2(conn.fileno(), 3), env=worker_env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        finally:
            conn.close()
        out, err = client.communicate(timeout=40)
        _, worker_log = worker.communicate(timeout=20)
    finally:
        listener.close()
        for proc in (client, worker):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert client.returncode == 0, out + err
    lines = [line for line in out.splitlines() if not line.startswith("PASS ") or "kernels" in line]
    # The driver's line of the synchronisation between the program's lines 1 and 2, and the one of
    # the synchronisation libbf makes at exit (a kernel ran after the last flush) at the very end.
    assert lines == ["program line 1", "printf from sync 1", "program line 2", "program line 3",
                     "PASS kernels output: 3 checks, 0 failed", "printf from sync 2"], out
    assert err.count("assert message from sync\n") == 2, err
    # The worker's own log stays in its stderr.
    assert b"printf from sync" not in worker_log
    assert b"session ended" in worker_log


def test_build_dir_has_test_driver() -> None:
    """The test driver is part of every build (tests above skip without it)."""
    assert (build_dir() / "server" / "libbf_test_output_driver.so").exists()


# ---- device printf and assert through the runtime ------------------------------------------------

DEVICE_OUTPUT = Path(__file__).resolve().with_name("device_output.cu")


@pytest.fixture(scope="module")
def device_output_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nvcc = find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found: device_output.cu cannot be built")
    binary = tmp_path_factory.mktemp("device_output") / "device_output"
    proc = subprocess.run([nvcc, "-o", str(binary), str(DEVICE_OUTPUT)], capture_output=True, text=True,
                          timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr
    return binary


@pytest.mark.timeout(300)
def test_device_printf_at_flush_points(device_output_program: Path) -> None:
    built("libintercept/libbf.so")
    proc = bf_run([str(device_output_program), "printf"])
    assert proc.returncode == 0, proc.stderr
    # Through a pipe (stdout fully buffered): the device lines still land exactly between the host
    # lines of the flush points, and the last kernel's line arrives with the exit.
    assert proc.stdout.splitlines() == [
        "host: first",
        "host: launched (no output yet: 0)",
        "device 1: thread 0",
        "device 1: thread 1",
        "host: synchronized",
        "device 2: thread 0",
        "host: reset",
        "host: last line before exit",
        "device 3: thread 0",
    ], proc.stdout


@pytest.mark.timeout(300)
def test_device_assert_is_sticky_with_its_message(device_output_program: Path) -> None:
    built("libintercept/libbf.so")
    proc = bf_run([str(device_output_program), "assert"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "launch 0",
        "sync 710",           # cudaErrorAssert
        "launch_after 710",   # a launch after the reported fault fails at the call
        "memset_after 710",
        "reset 0",
        "launch_after_reset 0",
        "sync_after_reset 0",
    ], proc.stdout
    lines = [line for line in proc.stderr.splitlines() if "Assertion" in line]
    assert len(lines) == 1, proc.stderr
    assert lines[0].endswith("check(const int *): block: [0,0,0], thread: [3,0,0] "
                             "Assertion `v[threadIdx.x] != 3` failed."), lines[0]
    assert "device_output.cu:" in lines[0]
