"""The benchmark runs end to end and prints its table (tiny sizes; no timing is judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_run_bench_prints_table_and_summary(tmp_path):
    build = os.environ.get("BF_BUILD_DIR")
    if not build or not (Path(build) / "bench" / "bf-bench-rawsock").exists():
        pytest.skip("needs BF_BUILD_DIR with bench/bf-bench-rawsock built")
    summary = tmp_path / "summary.json"
    run = subprocess.run([sys.executable, str(REPO / "bench" / "run_bench.py"), "--repeat", "2",
                          "--iterations", "20", "--bytes", str(1 << 20), "--posted-count", "200",
                          "--json", str(summary)],
                         capture_output=True, text=True, timeout=280, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    for words in ("round trip, 4 B DtoH", "HtoD bandwidth", "DtoH bandwidth", "posted HtoD copies",
                  "posted memsets", "tcp", "unix", "ratio"):
        assert words in run.stdout, run.stdout
    data = json.loads(summary.read_text())
    for transport in ("tcp", "unix"):
        result = data["results"][transport]
        assert set(result) == {"raw", "openbf", "ratio", "posted"}
        assert all(v > 0 for v in result["ratio"].values()), result["ratio"]
        assert all(v > 0 for v in result["posted"]["median"].values()), result["posted"]
        assert len(result["openbf"]["samples"]["latency_us"]) == 2


@pytest.mark.timeout(60)
def test_rawsock_reports_every_repetition():
    build = os.environ.get("BF_BUILD_DIR")
    rawsock = Path(build or "/nonexistent") / "bench" / "bf-bench-rawsock"
    if not rawsock.exists():
        pytest.skip("needs BF_BUILD_DIR with bench/bf-bench-rawsock built")
    for address in ("127.0.0.1:0", f"unix:@openbf-bench-test-{os.getpid()}"):
        cmd = [str(rawsock), "--address", address, "--repeat", "3", "--iterations", "10",
               "--bytes", str(1 << 20)]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=50, check=False)
        assert run.returncode == 0, run.stderr
        data = json.loads(run.stdout)
        for field in ("latency_us", "up_gbps", "down_gbps"):
            assert len(data[field]) == 3 and all(v > 0 for v in data[field]), data


@pytest.mark.timeout(300)
def test_trace_bench_reports_both_modes(tmp_path):
    build = os.environ.get("BF_BUILD_DIR")
    if not build or not (Path(build) / "libintercept" / "libbf.so").exists():
        pytest.skip("needs BF_BUILD_DIR with libbf.so built")
    samples = tmp_path / "samples.json"
    run = subprocess.run([sys.executable, str(REPO / "bench" / "trace_bench.py"), "--variant", "static",
                          "--runs", "1", "--repeat", "1", "--count", "500", "--json", str(samples)],
                         capture_output=True, text=True, timeout=280, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    for words in ("tracing off", "tracing on", "launches", "copies", "slowdown"):
        assert words in run.stdout, run.stdout
    assert samples.stat().st_size > 0
