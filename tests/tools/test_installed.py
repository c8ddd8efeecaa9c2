"""The installed package on its own: `pip install .` put libbf.so, bf-worker, libbfemu.so and the
Cython extension into openbf/_lib and openbf/, and the `bf` console script runs an nvcc-built
program through them with no build directory in sight.

tools/dev/test.sh installs openbf into .venv before running the tests; the test is skipped, with
the reason, only where openbf is not installed (a bare development tree).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_FIND_INSTALLED = """
import importlib.util, sys
spec = importlib.util.find_spec("openbf")
if spec is None or spec.origin is None:
    sys.exit(1)
print(spec.origin)
"""


def _clean_env() -> dict[str, str]:
    hidden = ("BF_BUILD_DIR", "BF_WORKER_PATH", "PYTHONPATH", "BF_SERVER")
    return {k: v for k, v in os.environ.items() if k not in hidden}


def _installed_bf() -> Path:
    env = _clean_env()
    found = subprocess.run([sys.executable, "-c", _FIND_INSTALLED], capture_output=True, text=True, env=env,
                           cwd="/", check=False)
    if found.returncode != 0:
        pytest.skip("openbf is not installed in this Python (tools/dev/setup.sh installs it into .venv)")
    bf = Path(sys.executable).parent / "bf"
    if not bf.exists():
        pytest.fail(f"openbf is installed ({found.stdout.strip()}) but its bf script is missing",
                    pytrace=False)
    return bf


@pytest.mark.timeout(180)
def test_installed_bf_runs_an_unmodified_program(tmp_path: Path) -> None:
    bf = _installed_bf()
    nvcc = shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not Path(nvcc).exists():
        pytest.skip("nvcc not found")
    program = tmp_path / "hello_openbf"
    subprocess.run([nvcc, "-o", str(program), str(REPO / "examples" / "hello_openbf.cu")], check=True,
                   capture_output=True, timeout=120)
    result = subprocess.run([str(bf), "run", "--", str(program)], capture_output=True, text=True,
                            env=_clean_env(), cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "PASSED" in result.stdout
    assert "device 0: openbf emulated device" in result.stdout
    # libbf and the private server stay quiet unless BF_LOG asks for more.
    assert result.stderr == "", result.stderr
