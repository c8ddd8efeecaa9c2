"""Every conformance program, in each of its builds (static and shared runtime; programs with kernels
also with each fatbin compression mode; perthread where asked), run through openbf on the emulator:
with bf run's private server (emu) and through a bf-server on TCP loopback (the compression builds
in emu only). Each must exit 0 with every check passing; programs listed in conftest.py's
EXPECTED_FAILURES are xfail. `program`, `variant` and `mode` are parametrised by conftest.py."""

from __future__ import annotations

import pytest


@pytest.mark.timeout(400)
def test_program(program, variant, mode, runner, conformance_binaries, request):
    binary = conformance_binaries[(program, variant)]
    server = request.getfixturevalue("tcp_server") if mode == "tcp" else None
    outcome = runner.run_through_openbf(binary, program, variant, mode, runner.openbf_env(),
                                        runner.DEFAULT_TIMEOUT_S, server)
    # The shared server's log (its workers' stderr) tells why a session died, e.g. before HELLO.
    server_log = f"\nbf-server log (last lines):\n{server.log()[-3000:]}" if server is not None else ""
    assert outcome.ok, outcome.explain() + (server_log if not outcome.ok else "")
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
    outcome_of = runner.Outcome
    expected = runner.parse_output(outcome_of("prog", "static", "emu", 1, 0.0, stdout=failing,
                                              expected="why"))
    assert not expected.ok and expected.xfailed and expected.verdict() == "XFAIL"
    unexpected = runner.parse_output(outcome_of("prog", "static", "emu", 0, 0.0, stdout=good, expected="why"))
    assert unexpected.ok and not unexpected.xfailed and unexpected.verdict() == "XPASS"
    dirty = runner.parse_output(outcome_of("prog", "static", "asan", 1, 0.0, stdout=failing, expected="why",
                                           sanitizer="runtime error: x"))
    assert not dirty.xfailed and dirty.verdict() == "SANITIZER"


def test_program_variants(runner, tmp_path):
    """Every program gets static and shared; a "conformance-variants:" line names its own list."""
    (tmp_path / "plain.cu").write_text("int main(void) { return 0; }\n")
    (tmp_path / "more.cu").write_text("/* conformance-variants: static shared perthread */\n")
    (tmp_path / "bad.cu").write_text("// conformance-variants: static turbo\n")
    (tmp_path / "kernel.cu").write_text("__global__ void k(void) {}\n")
    (tmp_path / "rdc.cu").write_text("// conformance-options: -rdc=true\n// conformance-sources: part/b.cu\n")
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "b.cu").write_text("")
    assert runner.program_variants("plain", tmp_path) == ("static", "shared")
    assert runner.program_variants("kernel", tmp_path) == runner.KERNEL_VARIANTS
    assert runner.KERNEL_VARIANTS == ("static", "shared", "compress-speed", "compress-size")
    assert runner.program_variants("more", tmp_path) == ("static", "shared", "perthread")
    assert runner.program_build_inputs("plain", tmp_path) == ((), ())
    assert runner.program_build_inputs("rdc", tmp_path) == ((tmp_path / "part" / "b.cu",), ("-rdc=true",))
    cmd = runner.nvcc_command("nvcc", tmp_path / "rdc.cu", tmp_path / "out", "compress-size",
                              sources=[tmp_path / "part" / "b.cu"], options=["-rdc=true"])
    assert "--compress-mode=size" in cmd and "-rdc=true" in cmd and cmd[-1] == str(tmp_path / "part" / "b.cu")
    (tmp_path / "cc.cu").write_text("/* conformance-env: BF_EMU_CC=8.0 A=b=c */\n")
    assert runner.program_env("cc", tmp_path) == {"BF_EMU_CC": "8.0", "A": "b=c"}
    assert runner.program_env("plain", tmp_path) == {}
    (tmp_path / "lost.cu").write_text("// conformance-sources: nowhere.cu\n")
    with pytest.raises(runner.BuildError, match="nowhere.cu"):
        runner.program_build_inputs("lost", tmp_path)
    with pytest.raises(runner.BuildError, match="turbo"):
        runner.program_variants("bad", tmp_path)
    assert ("legacy", "perthread") in runner.program_variant_pairs()
    assert ("memory", "perthread") not in runner.program_variant_pairs()
    assert ("memory", "compress-size") not in runner.program_variant_pairs()
    assert ("scan", "compress-speed") in runner.program_variant_pairs()
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
