"""Fixtures of the bf-trace tests: conformance programs built once, one shared bf-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import conformance as runner
import pytest

PROGRAMS = ("vectoradd", "memory", "manylaunch", "threads")


@pytest.fixture(scope="session")
def binaries() -> dict[tuple[str, str], Path]:
    if runner.find_nvcc() is None:
        pytest.skip("nvcc not found: the conformance programs cannot be built")
    try:
        return runner.build_all(list(PROGRAMS), variants=("static", "shared"))
    except runner.BuildError as e:
        pytest.fail(f"building the conformance programs failed:\n{e}", pytrace=False)


# Programs of this directory (tests/trace/*.cu), built like the conformance programs.
TRACE_PROGRAMS = ("fault_exit", "memops")


@pytest.fixture(scope="session")
def trace_binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    if runner.find_nvcc() is None:
        pytest.skip("nvcc not found: the bf-trace test programs cannot be built")
    try:
        return runner.build_all(list(TRACE_PROGRAMS), variants=("static", "shared"),
                                bin_dir=tmp_path_factory.mktemp("trace-bin"),
                                source_dir=Path(__file__).parent)
    except runner.BuildError as e:
        pytest.fail(f"building the bf-trace test programs failed:\n{e}", pytrace=False)


@pytest.fixture(scope="session")
def server() -> Iterator[runner.BfServer]:
    srv = runner.BfServer("unix", "emu")
    try:
        srv.start()
    except runner.ServerError as e:
        srv.stop()
        pytest.fail(str(e), pytrace=False)
    try:
        yield srv
    finally:
        srv.stop()
