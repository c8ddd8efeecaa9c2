"""Fixtures of the conformance suite: the programs built once per session, and a shared bf-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

# tools/dev/conformance.py (on sys.path through pyproject.toml's pytest pythonpath) builds the
# programs and runs servers for the tests as it does for the command line.
import conformance as runner  # noqa: E402
import pytest


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests naming `program` and `variant` run once per build of each conformance program (its own
    variants: static, shared, and perthread where the program asks for it)."""
    if "program" in metafunc.fixturenames and "variant" in metafunc.fixturenames:
        pairs = runner.program_variant_pairs()
        metafunc.parametrize(("program", "variant"), pairs, ids=[f"{p}-{v}" for p, v in pairs])
    elif "program" in metafunc.fixturenames:
        metafunc.parametrize("program", runner.programs())


@pytest.fixture(scope="session", name="runner")
def runner_fixture():
    """The runner module (tools/dev/conformance.py)."""
    return runner


@pytest.fixture(scope="session")
def conformance_binaries() -> dict[tuple[str, str], Path]:
    if runner.find_nvcc() is None:
        pytest.skip("nvcc not found: the conformance programs cannot be built")
    try:
        return runner.build_all(runner.programs())
    except runner.BuildError as e:
        pytest.fail(f"building the conformance programs failed:\n{e}", pytrace=False)


@pytest.fixture(scope="session")
def tcp_server() -> Iterator[object]:
    server = runner.BfServer("tcp", "emu")
    try:
        server.start()
    except runner.ServerError as e:
        server.stop()
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
