"""The PTX engine (emulator/ptx/): one table of PTX per instruction family, nvcc-compiled kernels
against host results, faults and load errors, completeness of the instruction table, and a smoke
run of the benchmark.

The C programs live in the build (tests/c/ptx/: test_ptx_table, test_ptx_kernels; bench/ptx_bench)
and link the engine directly, with plain host memory standing in for device memory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "tests" / "emulator" / "ptx"
CUDA = TABLES / "cuda"
FAMILIES = sorted(p.stem for p in TABLES.glob("*.ptx"))


def build_file(relative: str) -> Path:
    build_dir = os.environ.get("BF_BUILD_DIR")
    if not build_dir:
        pytest.skip("BF_BUILD_DIR is not set: the PTX engine's test programs live in a build directory")
    path = Path(build_dir) / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with ninja -C {build_dir}", pytrace=False)
    return path


def run(args: list[str], timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("family", FAMILIES)
def test_table(family: str) -> None:
    """Every row of tests/emulator/ptx/<family>.ptx gives its expected output."""
    result = run([str(build_file("tests/c/ptx/test_ptx_table")), str(TABLES / f"{family}.ptx")])
    rows = re.search(r"^ROWS (\d+)$", result.stdout, re.M)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows and int(rows.group(1)) > 0, result.stdout
    assert result.stdout.count("PASS ") == int(rows.group(1)), result.stdout
    assert "FAIL" not in result.stdout


def test_tables_through_the_driver_api() -> None:
    """The same rows through a driver library (--driver: cuModuleLoadData and cuLaunchKernel of
    libbfemu.so here; on a GPU host the same command takes NVIDIA's libcuda.so.1)."""
    from openbf import paths

    tables = [str(TABLES / f"{family}.ptx") for family in FAMILIES]
    result = run([str(build_file("tests/c/ptx/test_ptx_table")), "--driver", str(paths.libbfemu()), *tables])
    rows = re.search(r"^ROWS (\d+)$", result.stdout, re.M)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows and int(rows.group(1)) > 100, result.stdout
    assert result.stdout.count("PASS ") == int(rows.group(1)), result.stdout


def test_every_row_is_parsed() -> None:
    """Each //@ line of a table is run (a typo in a row is a failure, never a silent skip)."""
    for family in FAMILIES:
        text = (TABLES / f"{family}.ptx").read_text()
        assert text.count("\n//@ ") >= 1, f"{family}.ptx has no rows"


def test_table_detects_a_wrong_expectation(tmp_path: Path) -> None:
    """The harness fails a row whose expected value is wrong (so a pass means something)."""
    row = "//@ add_s32 in=s32:5,-7 out=s32:"
    text = (TABLES / "add.ptx").read_text().replace(row + "-2", row + "-3")
    (tmp_path / "wrong.ptx").write_text(text)
    result = run([str(build_file("tests/c/ptx/test_ptx_table")), str(tmp_path / "wrong.ptx")])
    assert result.returncode == 1
    assert "FAIL add_s32" in result.stdout and "expected -3" in result.stdout


def test_every_instruction_has_a_table() -> None:
    """Each instruction name of the decoder's table appears in some test PTX."""
    source = (REPO / "emulator" / "ptx" / "insn.c").read_text()
    table = source[source.index("insn_table[] = {") :]
    names = set(re.findall(r'\{"([a-z0-9]+)", bf_ptx_insn_', table))
    assert len(names) > 40
    used: set[str] = set()
    for path in list(TABLES.glob("*.ptx")) + list(CUDA.glob("*.ptx")):
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(?:@!?%?\w+\s+)?([a-z][a-z0-9]*)(?:[.\s;]|$)", line)
            if m:
                used.add(m.group(1))
    missing = sorted(names - used)
    assert not missing, f"instructions without a test: {missing}"


def test_cuda_kernels() -> None:
    """nvcc -ptx -arch=compute_75 kernels (vector add, saxpy, tiled matmul, reductions, calls,
    globals) against host results; out-of-bounds, load errors, parameter layout."""
    result = run([str(build_file("tests/c/ptx/test_ptx_kernels")), str(CUDA)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    for check in ("vector_add", "matmul16 n=100", "matmul32 n=100", "reduce_shared", "reduce_shfl float",
                  "out-of-bounds read faults", "unknown instruction", "parameter layout",
                  "module globals used", "call_poly (inlined .func)"):
        assert f"PASS {check}\n" in result.stdout, result.stdout


@pytest.mark.timeout(600)
def test_cuda_kernels_fresh_from_nvcc(tmp_path: Path) -> None:
    """The same kernels compiled now by this machine's nvcc (skipped without one)."""
    nvcc = shutil.which("nvcc")
    if not nvcc:
        pytest.skip("nvcc is not installed")
    for source in sorted(CUDA.glob("*.cu")):
        out = tmp_path / (source.stem + ".ptx")
        compiled = run([nvcc, "-ptx", "-arch=compute_75", str(source), "-o", str(out)], timeout=300)
        assert compiled.returncode == 0, compiled.stderr
    result = run([str(build_file("tests/c/ptx/test_ptx_kernels")), str(tmp_path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_bench_smoke(tmp_path: Path) -> None:
    """bench/ptx_bench runs with tiny sizes and reports positive rates (speed is not judged here)."""
    out = tmp_path / "bench.json"
    result = run([str(build_file("bench/ptx_bench")), "--ptx", str(CUDA / "vector_add.ptx"),
                  "--elements", "65536", "--iterations", "20", "--repeat", "1", "--threads", "2",
                  "--json", str(out)])
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    kernels = {r["kernel"]: r for r in data["results"]}
    assert set(kernels) == {"vector_add", "saxpy", "fma_loop"}
    for r in kernels.values():
        assert r["lane_insns"] > 0 and r["lane_insns_per_s_per_core"] > 0 and r["ratio_to_c"] > 0
    assert "Mlane-insn/s/core" in result.stdout


def test_bench_driver_checks_the_target(tmp_path: Path) -> None:
    """bench/ptx_bench.py reports the target met for a tiny run with a tiny target, and fails
    --check when the target is out of reach."""
    build_file("bench/ptx_bench")
    driver = [sys.executable, str(REPO / "bench" / "ptx_bench.py"), "--elements", "65536",
              "--iterations", "10", "--repeat", "1", "--threads", "1"]
    out = tmp_path / "summary.json"
    met = run([*driver, "--check", "--target", "1", "--json", str(out)])
    assert met.returncode == 0, met.stdout + met.stderr
    assert json.loads(out.read_text())["below_target"] == []
    missed = run([*driver, "--check", "--target", "1e18"])
    assert missed.returncode == 1 and "below for" in missed.stdout
