"""Fixtures of the driver-front tests: the built libbf.so, its C driver program, the entry tables.

libbf.so is found with openbf.paths (BF_BUILD_DIR, else the installed package); the C program
tests/c/front/test_front_gpa exists only in a meson build directory.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
GPA_TSV = Path(__file__).resolve().with_name("driver-front-gpa.tsv")
if os.environ.get("BF_BUILD_DIR") and str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))


def load_tool(name: str) -> ModuleType:
    """A generator of tools/dev/, imported by path (tools/ is not a package)."""
    module_name = f"openbf_dev_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, REPO / "tools" / "dev" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


gen_front = load_tool("gen_front")


@dataclass(frozen=True)
class Tables:
    apis: list  # gen_front.Api rows of cuda_api.def
    gpas: list  # gen_front.Gpa rows of cuda_api.def
    status: dict[str, bool]  # symbol -> IMPLEMENTED

    @property
    def symbols(self) -> set[str]:
        return {a.symbol for a in self.apis}


@pytest.fixture(scope="session")
def tables() -> Tables:
    apis, gpas = gen_front.read_api(gen_front.ENTRY / "cuda_api.def")
    return Tables(apis, gpas, gen_front.read_status(gen_front.ENTRY / "status.def", apis))


@pytest.fixture(scope="session")
def libbf() -> Path:
    from openbf import paths

    return paths.libbf()


@pytest.fixture(scope="session")
def driver_program() -> Path:
    build_dir = os.environ.get("BF_BUILD_DIR")
    if not build_dir:
        pytest.skip("tests/c/front/test_front_gpa exists only in a meson build directory (set BF_BUILD_DIR)")
    exe = Path(build_dir) / "tests" / "c" / "front" / "test_front_gpa"
    if not exe.exists():
        pytest.fail(f"{exe} not built: run ninja -C {build_dir}", pytrace=False)
    return exe


@dataclass(frozen=True)
class Lookup:
    """One call of cuGetProcAddress_v2 (or the 4-argument v1) through the C program."""

    name: str | None
    version: int
    flags: int
    expected: str | None = None  # a symbol whose dlsym address is reported alongside
    func: str = "v2"
    pfn: bool = True  # pass a pfn out-parameter
    status: bool = True  # pass a symbolStatus out-parameter

    def line(self) -> str:
        name = "(null)" if self.name is None else (self.name or "-")
        return (
            f"{self.func} {name} {self.version} {self.flags} {'ptr' if self.pfn else 'null'} "
            f"{'ptr' if self.status else 'null'} {self.expected or '-'}"
        )


@dataclass(frozen=True)
class Answer:
    result: int  # CUresult
    status: int  # CUdriverProcAddressQueryResult written, -1 if none
    pfn: int  # the pointer handed out
    address: int  # dlsym(expected), 0 if none


def run_lookups(exe: Path, lib: Path, lookups: list[Lookup]) -> list[Answer]:
    proc = subprocess.run(
        [str(exe), str(lib), "lookup"],
        input="".join(q.line() + "\n" for q in lookups),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    answers = []
    for line in proc.stdout.splitlines():
        result, status, pfn, address = line.split()
        answers.append(Answer(int(result), int(status), int(pfn, 16), int(address, 16)))
    assert len(answers) == len(lookups), proc.stderr
    return answers


def read_gpa_tsv() -> list[dict[str, str]]:
    """The 439 lookups NVIDIA's 13.0 runtime makes, with the exported symbol each one means
    (measured against the real behaviour, see the DRIVER-FRONT notes)."""
    with GPA_TSV.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def dynamic_symbols(lib: Path) -> dict[str, str]:
    """name -> nm type letter of every defined dynamic symbol of lib."""
    out = subprocess.run(
        ["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols[re.sub(r"@.*", "", parts[2])] = parts[1]
    return symbols
