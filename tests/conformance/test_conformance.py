"""Every conformance program, built against the static and the shared CUDA runtime, run through
openbf on the emulator: with bf run's private server (emu) and through a bf-server on TCP loopback.
Each must exit 0 with every check passing. `program` and `variant` are parametrised by conftest.py."""

from __future__ import annotations

import pytest


@pytest.mark.timeout(400)
@pytest.mark.parametrize("mode", ["emu", "tcp"])
def test_program(program, variant, mode, runner, conformance_binaries, request):
    binary = conformance_binaries[(program, variant)]
    if mode == "emu":
        cmd = runner.through_bf(binary)
    else:
        cmd = runner.through_bf(binary, request.getfixturevalue("tcp_server").address)
    outcome = runner.run_program(cmd, program, variant, mode, runner.openbf_env(),
                                 timeout=runner.DEFAULT_TIMEOUT_S)
    assert outcome.ok, outcome.explain()
    assert outcome.passed, f"{program} ran no checks"


def test_output_parser_reports_failures(runner):
    """The judge itself: a FAIL line, a missing final line or a non-zero exit is never a pass."""
    good = "PASS a\nPASS b\nPASS prog: all 2 checks\n"
    outcome = runner.parse_output(runner.Outcome("prog", "static", "emu", 0, 0.0, stdout=good))
    assert outcome.ok and outcome.passed == ["a", "b"]
    failing = "PASS a\nFAIL b: expected 1 got 2\nFAIL prog: 1 of 2 checks failed\n"
    outcome = runner.parse_output(runner.Outcome("prog", "static", "emu", 1, 0.0, stdout=failing))
    assert not outcome.ok and outcome.failed == ["FAIL b: expected 1 got 2"]
    assert "FAIL b: expected 1 got 2" in outcome.explain()
    truncated = runner.parse_output(runner.Outcome("prog", "static", "emu", 0, 0.0, stdout="PASS a\n"))
    assert not truncated.ok and truncated.verdict().startswith("INCOMPLETE")
    crashed = runner.parse_output(runner.Outcome("prog", "static", "emu", -11, 0.0, stdout=good))
    assert not crashed.ok and crashed.verdict() == "CRASH (SIGSEGV)"
