"""cuGetProcAddress of libbf.so, called the way NVIDIA's runtime calls it (dlopen, dlsym, lookups),
before cuInit."""

from __future__ import annotations

import subprocess

import pytest
from conftest import Lookup, read_gpa_tsv, run_lookups

pytestmark = pytest.mark.timeout(120)

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_NOT_FOUND = 500
STATUS_SUCCESS = 0
STATUS_SYMBOL_NOT_FOUND = 1
STATUS_VERSION_NOT_SUFFICIENT = 2


def test_selftest(driver_program, libbf):
    proc = subprocess.run(
        [str(driver_program), str(libbf), "selftest"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_every_runtime_lookup_resolves_to_its_exported_symbol(driver_program, libbf, tables):
    rows = read_gpa_tsv()
    assert len(rows) == 439
    lookups = [
        Lookup(r["name"], int(r["cuda_version"]), int(r["flags"]), expected=r["exported_symbol"])
        for r in rows
    ]
    served = 0
    for row, answer in zip(rows, run_lookups(driver_program, libbf, lookups), strict=True):
        where = f"{row['name']}@{row['cuda_version']} flags {row['flags']} -> {row['exported_symbol']}"
        if row["exported_symbol"] in tables.symbols:
            assert (answer.result, answer.status) == (CUDA_SUCCESS, STATUS_SUCCESS), where
            assert answer.address != 0, where
            assert answer.pfn == answer.address, where
            served += 1
        else:
            # OpenGL, EGL, VDPAU and profiler functions live in other headers (cudaGL.h, ...),
            # which libbf does not implement: the runtime gets "not found", as it tolerates.
            assert (answer.result, answer.status, answer.pfn) == (CUDA_SUCCESS, STATUS_SYMBOL_NOT_FOUND, 0), (
                where
            )
            assert answer.address == 0, where
    assert served >= 400


def test_every_breakpoint_serves_its_symbol(driver_program, libbf, tables):
    lookups = [Lookup(g.name, g.version, g.flags, expected=g.symbol) for g in tables.gpas]
    # Flags 1 (legacy stream, explicitly) is flags 0.
    lookups += [Lookup(g.name, g.version, 1, expected=g.symbol) for g in tables.gpas if g.flags == 0]
    for q, answer in zip(lookups, run_lookups(driver_program, libbf, lookups), strict=True):
        assert (answer.result, answer.status) == (CUDA_SUCCESS, STATUS_SUCCESS), q
        assert answer.pfn == answer.address != 0, q
    reachable = {g.symbol for g in tables.gpas}
    assert reachable == tables.symbols, "exported functions cuGetProcAddress cannot hand out"


def test_below_the_first_version_is_not_sufficient(driver_program, libbf, tables):
    first: dict[tuple[str, int], int] = {}
    for g in tables.gpas:
        first[(g.name, g.flags)] = min(g.version, first.get((g.name, g.flags), g.version))
    lookups = [Lookup(name, version - 10, flags) for (name, flags), version in sorted(first.items())]
    for q, answer in zip(lookups, run_lookups(driver_program, libbf, lookups), strict=True):
        assert (answer.result, answer.status, answer.pfn) == (
            CUDA_SUCCESS,
            STATUS_VERSION_NOT_SUFFICIENT,
            0,
        ), q


def test_per_thread_without_per_thread_variants_is_legacy(driver_program, libbf, tables):
    per_thread = {g.name for g in tables.gpas if g.flags == 2}
    newest: dict[str, tuple[int, str]] = {}
    for g in tables.gpas:
        if g.flags == 0 and g.version >= newest.get(g.name, (0, ""))[0]:
            newest[g.name] = (g.version, g.symbol)
    lookups = [
        Lookup(name, 13000, 2, expected=symbol)
        for name, (_, symbol) in sorted(newest.items())
        if name not in per_thread
    ]
    assert len(lookups) > 300
    for q, answer in zip(lookups, run_lookups(driver_program, libbf, lookups), strict=True):
        assert answer.result == CUDA_SUCCESS and answer.pfn == answer.address != 0, q


def test_misses_and_bad_arguments(driver_program, libbf):
    cases = [
        # cudart's bootstrap probe: answered, not crashed on (any answer will do).
        (Lookup("", 0, 0, pfn=False, status=False), (CUDA_ERROR_INVALID_VALUE, -1, 0)),
        (Lookup(None, 13000, 0), (CUDA_ERROR_INVALID_VALUE, -1, 0)),
        (Lookup("cuInit", 13000, 0, pfn=False), (CUDA_ERROR_INVALID_VALUE, -1, 0)),
        (Lookup("cuInit", 13000, 3), (CUDA_ERROR_INVALID_VALUE, -1, 0)),
        (Lookup("cuInit", 13010, 0), (CUDA_ERROR_INVALID_VALUE, -1, 0)),
        (Lookup("cuNoSuchFunction", 13000, 0), (CUDA_SUCCESS, STATUS_SYMBOL_NOT_FOUND, 0)),
        (Lookup("cuMemAlloc_v2", 13000, 0), (CUDA_SUCCESS, STATUS_SYMBOL_NOT_FOUND, 0)),
        (Lookup("cuNoSuchFunction", 13000, 0, status=False), (CUDA_SUCCESS, -1, 0)),
        (Lookup("cuLibraryLoadData", 11080, 0), (CUDA_SUCCESS, STATUS_VERSION_NOT_SUFFICIENT, 0)),
        (Lookup("cuMemcpyHtoD", 6050, 2), (CUDA_SUCCESS, STATUS_VERSION_NOT_SUFFICIENT, 0)),
        (Lookup("cuNoSuchFunction", 13000, 0, func="v1"), (CUDA_ERROR_NOT_FOUND, -1, 0)),
        (Lookup("cuLibraryLoadData", 11080, 0, func="v1"), (CUDA_ERROR_NOT_FOUND, -1, 0)),
    ]
    answers = run_lookups(driver_program, libbf, [q for q, _ in cases])
    for (q, want), answer in zip(cases, answers, strict=True):
        assert (answer.result, answer.status, answer.pfn) == want, q


def test_both_lookup_functions_are_handed_out(driver_program, libbf):
    lookups = [
        Lookup("cuGetProcAddress", 12000, 0, expected="cuGetProcAddress_v2"),
        Lookup("cuGetProcAddress", 11030, 0, expected="cuGetProcAddress"),
        Lookup("cuMemAlloc", 3020, 0, expected="cuMemAlloc_v2", func="v1"),
        Lookup("cuMemAlloc", 2000, 0, expected="cuMemAlloc", func="v1"),
    ]
    for q, answer in zip(lookups, run_lookups(driver_program, libbf, lookups), strict=True):
        assert answer.result == CUDA_SUCCESS and answer.pfn == answer.address != 0, q
