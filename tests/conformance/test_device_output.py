"""What kernels write: device printf's exact stdout, ordered against the host's own lines at each
flush point (cudaDeviceSynchronize, a blocking cudaMemcpy, cudaStreamSynchronize), and a failed
device assert's message on stderr, both through `bf run` on the emulator (device_printf.cu,
device_assert.cu; their own checks run in test_conformance.py)."""

from __future__ import annotations

import re

import pytest

# stdout of device_printf without its PASS/FAIL lines. The lines between the two markers come from
# six threads of two blocks, whose order CUDA leaves open: compared as a sorted list.
PRINTF_BEFORE = [
    "host: before any kernel",
    "device: int -42 unsigned 4000000000 hex beef HEX BEEF octal 10",
    "device: long -1234567890123 unsigned long long 18446744073709551615",
    "device: float 3.500000 0.333 1.234500e+03 0.0001 [      2.50] [2.50      ]",
    "device: char x string hello abc [   42] [42   ] [00042] 100%",
    "device: double 3.141592653589793",
    "device: plain line from a device function",
    "host: after synchronize",
]
PRINTF_UNORDERED = sorted(f"device: block {b} thread {t}" for b in range(2) for t in range(3))
PRINTF_AFTER = [
    "host: after copy",
    "device: loop 0 of 3",
    "device: loop 1 of 3",
    "device: loop 2 of 3",
    "host: after stream synchronize",
]

ASSERT_MESSAGE = re.compile(r"device_assert\.cu:\d+: [^\n]*check_values[^\n]*: block: \[1,0,0\], "
                            r"thread: \[13,0,0\] Assertion `v\[i\] != 13` failed\.")


def _xfail(request: pytest.FixtureRequest, program: str) -> None:
    reason = request.getfixturevalue("expected_failures").get(program)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=False))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("variant", ["static", "shared"])
def test_device_printf_exact_output(variant, runner, conformance_binaries, request):
    _xfail(request, "device_printf")
    binary = conformance_binaries[("device_printf", variant)]
    outcome = runner.run_program(runner.through_bf(binary), "device_printf", variant, "emu",
                                 runner.openbf_env())
    lines = [line for line in outcome.stdout.splitlines() if not line.startswith(("PASS ", "FAIL "))]
    before, middle = lines[:len(PRINTF_BEFORE)], lines[len(PRINTF_BEFORE):len(lines) - len(PRINTF_AFTER)]
    after = lines[len(lines) - len(PRINTF_AFTER):]
    shown = "\n".join(lines)
    assert before == PRINTF_BEFORE, f"stdout:\n{shown}\nstderr:\n{outcome.stderr[-2000:]}"
    assert sorted(middle) == PRINTF_UNORDERED, f"stdout:\n{shown}"
    assert after == PRINTF_AFTER, f"stdout:\n{shown}"
    assert outcome.ok, outcome.explain()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("variant", ["static", "shared"])
def test_device_assert_message(variant, runner, conformance_binaries, request):
    _xfail(request, "device_assert")
    binary = conformance_binaries[("device_assert", variant)]
    outcome = runner.run_program(runner.through_bf(binary), "device_assert", variant, "emu",
                                 runner.openbf_env())
    found = ASSERT_MESSAGE.findall(outcome.stderr)
    assert len(found) == 1, f"expected the assertion message once on stderr:\n{outcome.stderr[-3000:]}"
    assert "Assertion" not in outcome.stdout, outcome.stdout[-2000:]
    assert outcome.ok, outcome.explain()
