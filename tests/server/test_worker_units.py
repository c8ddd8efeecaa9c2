"""Runs the worker's C unit tests (tests/c/worker/), built into the meson build directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("name", ["handlers", "validate"])
def test_worker_c_unit(name):
    build_dir = os.environ.get("BF_BUILD_DIR")
    if not build_dir:
        pytest.skip("C unit tests live in a meson build directory: set BF_BUILD_DIR")
    exe = Path(build_dir) / "server" / f"test_worker_{name}"
    assert exe.exists(), f"{exe} not built"
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
