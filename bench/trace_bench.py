#!/usr/bin/env python3
"""bf-trace's overhead: posted launches and 4 KiB copies per second with tracing off and on.

bench/trace_bench.cu (built by nvcc on first use, against the static and the shared runtime) runs
through one bf-server (emulator backend, abstract unix socket), alternately with `bf run` (tracing
off) and `bf-trace record` (tracing on: libbf.so records every driver call, for the shared build
libbftrace_rt.so every runtime call too, and the worker brackets every launch and copy with timing
events of its driver). Launches and host-to-device copies are posted operations, so their rate is
bounded by the cost per call, which is what tracing adds to. Every figure
is the median over all repetitions of all runs; the slowdown is off / on (1.0: tracing is free;
the goal is at most 1.5).

Example (development build):
  BF_BUILD_DIR=build-trace python3 bench/trace_bench.py --runs 3 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
RUN_TIMEOUT_S = 600.0
FIGURES = (("launches", "launch_per_s"), ("copies", "copy_per_s"))

sys.path.insert(0, str(REPO / "tools" / "dev"))
import conformance as runner  # noqa: E402


def cache_dir() -> Path:
    build = os.environ.get("BF_BUILD_DIR")
    return Path(build).resolve() / "bench" if build else runner.DEFAULT_BIN_DIR / "bench"


def build(variant: str) -> Path:
    nvcc = runner.find_nvcc()
    if nvcc is None:
        raise SystemExit("trace_bench: nvcc not found (set NVCC or put CUDA's bin on PATH)")
    out = cache_dir() / f"trace_bench.{variant}"
    try:
        return runner.build_one(nvcc, runner._nvcc_version(nvcc), BENCH_DIR / "trace_bench.cu", out,
                                variant, (BENCH_DIR / "bench_util.h",), ("-std=c++17", "-O2"))[0]
    except runner.BuildError as e:
        raise SystemExit(f"trace_bench: {e}") from e


def run_json(cmd: Sequence[str]) -> dict[str, Any]:
    result = subprocess.run(list(cmd), env=runner.openbf_env(), capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_S, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"trace_bench: {' '.join(cmd)}: exit status {result.returncode}\n"
                         f"{result.stdout}{result.stderr}")
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def measure(binary: Path, address: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    program = [str(binary), "--count", str(args.count), "--repeat", str(args.repeat)]
    samples: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
    for run in range(args.runs):
        for mode in ("off", "on"):
            if mode == "off":
                cmd = [*runner.bf_command(), "run", "--server", address, "--", *program]
            else:
                out = workdir / f"{binary.name}-{run}.bft"
                cmd = [sys.executable, "-m", "openbf.trace", "record", "-o", str(out),
                       "--server", address, "--", *program]
            data = run_json(cmd)
            for _, field in FIGURES:
                samples[mode].setdefault(field, []).extend(float(v) for v in data[field])
    medians = {mode: {f: statistics.median(v) for f, v in s.items()} for mode, s in samples.items()}
    slowdown = {f: medians["off"][f] / medians["on"][f] for _, f in FIGURES}
    return {"median": medians, "slowdown": slowdown, "samples": samples}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--variant", action="append", choices=("static", "shared"), default=[],
                        help="runtime of the benchmark build (repeatable; default both)")
    parser.add_argument("--runs", type=int, default=3, help="program runs per mode, alternating (3)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions inside each run (5)")
    parser.add_argument("--count", type=int, default=50000, help="launches and copies per repetition")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {}
    with runner.BfServer("unix", "emu") as server, tempfile.TemporaryDirectory() as tmp:
        for variant in args.variant or ["static", "shared"]:
            results[variant] = measure(build(variant), server.address, args, Path(tmp))
    print(f"{'runtime':8} {'figure':10} {'tracing off':>14} {'tracing on':>14} {'slowdown':>9}")
    for variant, result in results.items():
        for label, field in FIGURES:
            off, on = result["median"]["off"][field], result["median"]["on"][field]
            print(f"{variant:8} {label:10} {off:12,.0f}/s {on:12,.0f}/s {result['slowdown'][field]:8.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"count": args.count, "repeat": args.repeat, "runs": args.runs,
                                         "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
