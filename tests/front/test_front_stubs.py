"""A stub of an unsupported entry point returns CUDA_ERROR_NOT_SUPPORTED and names itself once."""

from __future__ import annotations

import os
import subprocess

import pytest

pytestmark = pytest.mark.timeout(120)

CUDA_ERROR_NOT_SUPPORTED = 801


def call(exe, lib, symbol: str, count: int, threads: int) -> tuple[list[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "BF_LOG"}
    proc = subprocess.run(
        [str(exe), str(lib), "call", symbol, str(count), str(threads)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split(), proc.stderr.splitlines()


def unsupported(tables) -> list[str]:
    return sorted(symbol for symbol, implemented in tables.status.items() if not implemented)


def test_stub_refuses_and_says_so_once(driver_program, libbf, tables):
    symbol = unsupported(tables)[0]
    results, lines = call(driver_program, libbf, symbol, count=2, threads=1)
    assert results == [str(CUDA_ERROR_NOT_SUPPORTED)]
    assert lines == [f"openbf: {symbol} is not supported yet"]


def test_notice_is_printed_once_across_threads(driver_program, libbf, tables):
    symbol = unsupported(tables)[-1]
    results, lines = call(driver_program, libbf, symbol, count=500, threads=16)
    assert results == [str(CUDA_ERROR_NOT_SUPPORTED)] * 16
    assert lines == [f"openbf: {symbol} is not supported yet"]


@pytest.mark.parametrize("index", [1, 100, 300])
def test_each_stub_names_itself(driver_program, libbf, tables, index):
    symbols = unsupported(tables)
    symbol = symbols[index % len(symbols)]
    results, lines = call(driver_program, libbf, symbol, count=3, threads=1)
    assert results == [str(CUDA_ERROR_NOT_SUPPORTED)]
    assert lines == [f"openbf: {symbol} is not supported yet"]
