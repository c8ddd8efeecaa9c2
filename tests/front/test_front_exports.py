"""libbf.so exports every function cuda.h declares, under its real symbol name, and nothing else."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, dynamic_symbols

pytestmark = pytest.mark.timeout(120)

# The three ways cuda.h is read: default names, per-thread names, legacy (internal) names.
CONFIGURATIONS = ([], ["-DCUDA_API_PER_THREAD_DEFAULT_STREAM"], ["-D__CUDA_API_VERSION_INTERNAL"])


def cuda_include() -> Path:
    try:
        import nvidia.cu13  # type: ignore[import-not-found]
    except ImportError:
        pytest.skip("the pinned CUDA headers (pip package nvidia-cuda-runtime) are not installed")
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to preprocess cuda.h")
    return Path(list(nvidia.cu13.__path__)[0]) / "include"


def header_functions(include: Path) -> set[str]:
    """Every function cuda.h declares in any configuration, found by a plain scan of the
    preprocessed text (independent of tools/dev/gen_entrypoints.py's parser). Static inline
    wrappers are not exported symbols."""
    names: set[str] = set()
    for flags in CONFIGURATIONS:
        text = subprocess.run(
            ["gcc", "-E", "-P", *flags, "-I", str(include), "-x", "c", "-"],
            input="#include <cuda.h>\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        text = " ".join(text.split())
        for m in re.finditer(r"(\binline\s+)?\bCUresult\s+(cu\w+)\s*\(", text):
            if not m.group(1):
                names.add(m.group(2))
    return names


def test_libbf_exports_every_cuda_h_function_and_nothing_else(libbf):
    declared = header_functions(cuda_include())
    exported = dynamic_symbols(libbf)
    assert len(declared) > 600, "the scan of cuda.h found too few functions"
    missing = sorted(declared - set(exported))
    extra = sorted(set(exported) - declared)
    assert not missing, f"{len(missing)} cuda.h functions not exported by {libbf}: {missing[:20]}"
    assert not extra, f"{libbf} exports names cuda.h does not declare: {extra[:20]}"


def test_exports_are_the_rows_of_cuda_api_def(libbf, tables):
    exported = dynamic_symbols(libbf)
    assert set(exported) == tables.symbols
    not_code = {name: kind for name, kind in exported.items() if kind not in "TWi"}
    assert not not_code, f"exported names that are not functions: {not_code}"


def test_default_versioned_and_per_thread_names_are_exported(libbf):
    exported = dynamic_symbols(libbf)
    # What nvcc-built driver-API programs and Numba link or dlsym (DRIVER-FRONT.md §1).
    for name in (
        "cuCtxCreate_v4",
        "cuMemAlloc_v2",
        "cuMemAlloc",
        "cuMemcpyHtoD_v2",
        "cuStreamDestroy_v2",
        "cuMemGetInfo_v2",
        "cuLaunchKernel_ptsz",
        "cuMemcpyHtoD_v2_ptds",
        "cuGetProcAddress",
        "cuGetProcAddress_v2",
        "cuGetExportTable",
    ):
        assert name in exported, name
    assert "cuGetProcAddress_v2_ptsz" not in exported  # cuda.h's static inline wrapper
    assert "bf_unsupported" not in exported


def test_cuda_api_def_is_up_to_date():
    include = cuda_include()
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "dev" / "gen_entrypoints.py"),
            "--include",
            str(include),
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"regenerate with tools/dev/gen_entrypoints.py:\n{proc.stderr}"
