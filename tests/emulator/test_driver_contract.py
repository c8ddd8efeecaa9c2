"""The driver-contract suite (tests/c/contract/driver_contract.c) run against each driver.

``emu`` is libbfemu.so and always runs; ``bf`` is libbf.so, the driver front, talking to a
bf-server on TCP loopback whose worker runs the emulator; ``cuda`` is the system's libcuda.so.1,
skipped unless it loads and finds a GPU. The same program, unchanged, must pass against all three.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import conformance as runner  # tools/dev, on sys.path through pytest pythonpath
import pytest
from openbf import paths

# Fewer PASS lines than this means the program stopped early without saying so.
MIN_CHECKS = 300

_PROBE_GPU = """
import ctypes, sys
try:
    cuda = ctypes.CDLL("libcuda.so.1")
except OSError as e:
    sys.exit(f"libcuda.so.1 does not load: {e}")
if cuda.cuInit(0) != 0:
    sys.exit("cuInit of libcuda.so.1 failed (no GPU, or a stub driver)")
count = ctypes.c_int(0)
if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
    sys.exit("libcuda.so.1 finds no device")
"""


def contract_binary() -> Path:
    """The suite's executable in the meson build directory (it is a test program, not installed)."""
    build_dir = os.environ.get("BF_BUILD_DIR")
    if not build_dir:
        pytest.skip("BF_BUILD_DIR is not set: the driver-contract program lives in a build directory")
    binary = Path(build_dir) / "emulator" / "driver_contract"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build it with ninja -C {build_dir}", pytrace=False)
    return binary


def driver_library(driver: str) -> str:
    if driver == "emu":
        return str(paths.libbfemu())
    # Probed in a child so that a broken driver cannot take pytest down with it.
    probe = subprocess.run([sys.executable, "-c", _PROBE_GPU], capture_output=True, text=True, timeout=60,
                           check=False)
    if probe.returncode != 0:
        why = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "probe failed"
        pytest.skip(f"no GPU driver: {why}")
    return "libcuda.so.1"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("driver", ["emu", "bf", "cuda"])
def test_driver_contract(driver: str) -> None:
    binary = contract_binary()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BF_EMU_")}
    if driver == "bf":
        with runner.BfServer(transport="tcp", backend="emu") as server:
            env["BF_SERVER"] = server.address
            _run_contract(binary, str(paths.libbf()), env)
        return
    _run_contract(binary, driver_library(driver), env, stubs_allowed=driver != "emu")


def _run_contract(binary: Path, library: str, env: dict[str, str], stubs_allowed: bool = True) -> None:
    """Runs the suite against library. A check whose call returns CUDA_ERROR_NOT_SUPPORTED is a SKIP
    line (the front stubs families it does not serve yet); for the emulator that is a failure."""
    result = subprocess.run([str(binary), library], capture_output=True, text=True, timeout=150, env=env,
                            check=False)
    lines = result.stdout.splitlines()
    failures = [line for line in lines if line.startswith("FAIL ")]
    passes = [line for line in lines if line.startswith("PASS ")]
    report = "\n".join(failures) or result.stdout[-4000:]
    assert result.returncode == 0 and not failures, (
        f"driver_contract {library} exited {result.returncode}:\n{report}\nstderr:\n{result.stderr[-4000:]}"
    )
    assert len(passes) >= MIN_CHECKS, f"only {len(passes)} checks ran:\n{result.stdout[-4000:]}"
    stubbed = [line for line in lines if line.startswith("SKIP ") and "CUDA_ERROR_NOT_SUPPORTED" in line]
    assert stubs_allowed or not stubbed, "refused with CUDA_ERROR_NOT_SUPPORTED:\n" + "\n".join(stubbed)
    assert lines and lines[-1].startswith("driver_contract:"), "the summary line is missing"
