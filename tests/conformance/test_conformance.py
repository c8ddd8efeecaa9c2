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


def test_program_variants(runner, tmp_path):
    """Every program gets static and shared; a "conformance-variants:" line names its own list."""
    (tmp_path / "plain.cu").write_text("int main(void) { return 0; }\n")
    (tmp_path / "more.cu").write_text("/* conformance-variants: static shared perthread */\n")
    (tmp_path / "bad.cu").write_text("// conformance-variants: static turbo\n")
    assert runner.program_variants("plain", tmp_path) == ("static", "shared")
    assert runner.program_variants("more", tmp_path) == ("static", "shared", "perthread")
    with pytest.raises(runner.BuildError, match="turbo"):
        runner.program_variants("bad", tmp_path)
    assert ("legacy", "perthread") in runner.program_variant_pairs()
    assert ("memory", "perthread") not in runner.program_variant_pairs()
    cmd = runner.nvcc_command("nvcc", tmp_path / "more.cu", tmp_path / "out", "perthread")
    assert cmd[1:5] == ["-cudart", "static", "--default-stream", "per-thread"], cmd


def test_sanitizer_reports_are_failures(runner):
    """The asan mode's judges: a sanitizer line on stderr fails a program that passed its checks, and
    the driver contract's own summary format is read."""
    good = "PASS a\nPASS prog: all 1 checks\n"
    clean = runner.parse_output(runner.Outcome("prog", "static", "asan", 0, 0.0, stdout=good))
    assert clean.ok
    ubsan = "../x.c:3:5: runtime error: signed integer overflow\n    #0 0x1 in f x.c:3\n"
    assert runner.sanitizer_lines("openbf: note\n" + ubsan).startswith("../x.c:3:5: runtime error")
    assert runner.sanitizer_lines("==1==ERROR: LeakSanitizer: detected memory leaks\n")
    assert runner.sanitizer_lines("openbf: server unreachable\n") == ""
    dirty = runner.parse_output(runner.Outcome("prog", "static", "asan", 0, 0.0, stdout=good, stderr=ubsan))
    dirty.sanitizer = runner.sanitizer_lines(dirty.stderr)
    assert not dirty.ok and dirty.verdict() == "SANITIZER" and "runtime error" in dirty.explain()

    lines = "".join(f"PASS check_{i}\n" for i in range(runner.CONTRACT_MIN_CHECKS))
    contract = runner.parse_contract_output(runner.Outcome(
        "driver_contract", "libbf", "asan", 0, 0.0, stdout=lines + "driver_contract: 300 passed, 0 failed\n"))
    assert contract.ok
    short = runner.parse_contract_output(runner.Outcome(
        "driver_contract", "libbf", "asan", 0, 0.0, stdout="PASS x\ndriver_contract: 1 passed, 0 failed\n"))
    assert not short.ok
    failing = runner.parse_contract_output(runner.Outcome(
        "driver_contract", "libbf", "asan", 1, 0.0, stdout=lines + "FAIL y: no\ndriver_contract: 1 failed\n"))
    assert not failing.ok and failing.failed == ["FAIL y: no"]


def test_worker_path_override(monkeypatch, tmp_path):
    """BF_WORKER_PATH names the worker whatever BF_BUILD_DIR says (the sanitizer job's server)."""
    from openbf import paths

    worker = tmp_path / "bf-worker"
    worker.write_text("")
    monkeypatch.setenv("BF_WORKER_PATH", str(worker))
    assert paths.worker() == worker
    monkeypatch.setenv("BF_WORKER_PATH", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="BF_WORKER_PATH"):
        paths.worker()
