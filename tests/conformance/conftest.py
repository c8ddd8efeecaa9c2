"""Fixtures of the conformance suite: the programs built once per session, and a shared bf-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

# tools/dev/conformance.py (on sys.path through pyproject.toml's pytest pythonpath) builds the
# programs and runs servers for the tests as it does for the command line.
import conformance as runner  # noqa: E402
import pytest

# Programs that fail through openbf today because a feature is still missing: the runner's list
# (tools/dev/conformance.py EXPECTED_FAILURES, with the reason); they run as xfail here.
EXPECTED_FAILURES: dict[str, str] = runner.EXPECTED_FAILURES

# Modes each build runs in. The compression variants differ from static only in how the fatbin is
# stored, which the transport never sees: they run with bf run's private server only (CI time).
MODES = ("emu", "tcp")
EMU_ONLY_VARIANTS = ("compress-speed", "compress-size")


def _marks(program: str) -> list[pytest.MarkDecorator]:
    reason = EXPECTED_FAILURES.get(program)
    return [pytest.mark.xfail(reason=reason, strict=False)] if reason else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests naming `program` and `variant` run once per build of each conformance program (its own
    variants: static, shared, the compression modes for programs with kernels, and perthread where
    the program asks for it); with `mode` too, once per mode (MODES, emu only for
    EMU_ONLY_VARIANTS). Programs in EXPECTED_FAILURES are marked xfail."""
    names = metafunc.fixturenames
    if "program" in names and "variant" in names and "mode" in names:
        triples = [(p, v, m) for p, v in runner.program_variant_pairs() for m in MODES
                   if m == "emu" or v not in EMU_ONLY_VARIANTS]
        metafunc.parametrize(("program", "variant", "mode"),
                             [pytest.param(p, v, m, id=f"{p}-{v}-{m}", marks=_marks(p))
                              for p, v, m in triples])
    elif "program" in names and "variant" in names:
        pairs = runner.program_variant_pairs()
        metafunc.parametrize(("program", "variant"),
                             [pytest.param(p, v, id=f"{p}-{v}", marks=_marks(p)) for p, v in pairs])
    elif "program" in names:
        metafunc.parametrize("program", runner.programs())


@pytest.fixture(scope="session")
def expected_failures() -> dict[str, str]:
    """EXPECTED_FAILURES, for tests that apply the xfail mark themselves."""
    return EXPECTED_FAILURES


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
