#!/usr/bin/env python3
"""openbf's copy benchmark, measured against the raw socket in the same run.

For each transport (TCP loopback, abstract unix socket) this runs, one after the other:
  * bf-bench-rawsock (bench/rawsock.c): a 4-byte ping-pong and a large transfer each way over the
    same kind of socket openbf uses, with nothing on top: the physical limit here;
  * copy_bench (bench/copy_bench.cu) through a bf-server on that transport: the round trip of a
    4-byte cudaMemcpy device-to-host, and large host-to-device and device-to-host copies;
  * posted_bench (bench/posted_bench.cu) through the same server: many small cudaMemcpyAsync
    host-to-device copies (4 KiB by default) and many cudaMemsetAsync, each run ending in a
    cudaStreamSynchronize; the copies' bandwidth is compared with the raw socket's, the memsets are
    given per second and, as bytes of frames on the wire (56 each), against the raw bandwidth too;
and prints each openbf figure beside the raw one with their ratio:
  latency ratio   = openbf round trip / raw round trip   (1.0 is ideal; higher is worse)
  bandwidth ratio = openbf bandwidth / raw bandwidth     (1.0 is ideal; lower is worse)
Every figure is the median over the repetitions (default 5), each repetition's latency itself the
median of --iterations round trips. A JSON summary with every sample is written too.

Example (development build):
  BF_BUILD_DIR=build-conf python3 bench/run_bench.py --json bench-summary.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
TRANSPORTS = ("tcp", "unix")
RUN_TIMEOUT_S = 600.0
# Pairs compared: (label, field in both JSON outputs, kind).
FIGURES = (
    ("round trip, 4 B DtoH", "latency_us", "latency"),
    ("HtoD bandwidth", "up_gbps", "bandwidth"),
    ("DtoH bandwidth", "down_gbps", "bandwidth"),
)


# nvcc builds and bf-server handling are shared with the tests (tools/dev/conformance.py).
sys.path.insert(0, str(REPO / "tools" / "dev"))
import conformance as runner  # noqa: E402


def cache_dir() -> Path:
    build = os.environ.get("BF_BUILD_DIR")
    return Path(build).resolve() / "bench" if build else runner.DEFAULT_BIN_DIR / "bench"


def find_rawsock(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    build = os.environ.get("BF_BUILD_DIR")
    if build and (Path(build) / "bench" / "bf-bench-rawsock").exists():
        return Path(build) / "bench" / "bf-bench-rawsock"
    raise SystemExit("run_bench: bf-bench-rawsock not found: set BF_BUILD_DIR to a meson build directory "
                     "or pass --rawsock PATH")


def build_copy_bench(name: str = "copy_bench") -> Path:
    nvcc = runner.find_nvcc()
    if nvcc is None:
        raise SystemExit("run_bench: nvcc not found (set NVCC or put CUDA's bin on PATH)")
    out = cache_dir() / f"{name}.static"
    try:
        return runner.build_one(nvcc, runner._nvcc_version(nvcc), BENCH_DIR / f"{name}.cu", out, "static",
                                (BENCH_DIR / "bench_util.h",), ("-std=c++17", "-O2"))[0]
    except runner.BuildError as e:
        raise SystemExit(f"run_bench: {e}") from e


# A MEMSET frame on the wire: 16 bytes of header, 40 of fixed fields (protocol/ops.def).
MEMSET_FRAME_BYTES = 56


def posted_figures(raw: dict[str, float], posted: dict[str, Any]) -> dict[str, float]:
    """Medians of posted_bench and their ratios to the raw socket's bandwidth (host to device)."""
    htod = float(statistics.median(posted["small_htod_gbps"]))
    memsets = float(statistics.median(posted["memset_per_s"]))
    wire = memsets * MEMSET_FRAME_BYTES / 1e9
    up = raw["up_gbps"]
    return {"small_htod_gbps": htod, "small_htod_ratio": htod / up if up else float("nan"),
            "memset_per_s": memsets, "memset_wire_gbps": wire,
            "memset_wire_ratio": wire / up if up else float("nan")}


def run_json(cmd: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Runs a benchmark program and returns the JSON object it printed last."""
    result = subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                            check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)}: exit status {result.returncode}\n"
                           f"{result.stdout}{result.stderr}")
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def raw_address(transport: str) -> str:
    return "127.0.0.1:0" if transport == "tcp" else f"unix:@openbf-bench-{os.getpid()}-{time.monotonic_ns()}"


def medians(sample: dict[str, Any]) -> dict[str, float]:
    return {field: float(statistics.median(sample[field])) for _, field, _ in FIGURES}


def ratios(raw: dict[str, float], openbf: dict[str, float]) -> dict[str, float]:
    """openbf / raw for every figure (latency: higher is worse; bandwidth: lower is worse)."""
    return {field: openbf[field] / raw[field] if raw[field] else float("nan") for _, field, _ in FIGURES}


def measure(transport: str, backend: str, rawsock: Path, copy_bench: Path, posted_bench: Path,
            args: argparse.Namespace) -> dict[str, Any]:
    common = ["--iterations", str(args.iterations), "--repeat", str(args.repeat), "--bytes", str(args.bytes)]
    raw = run_json([str(rawsock), "--address", raw_address(transport), *common])
    with runner.BfServer(transport, backend) as server:
        cmd = [*runner.bf_command(), "run", "--server", server.address, "--", str(copy_bench), *common]
        openbf = run_json(cmd, runner.openbf_env())
        cmd = [*runner.bf_command(), "run", "--server", server.address, "--", str(posted_bench),
               "--count", str(args.posted_count), "--small", str(args.posted_bytes),
               "--repeat", str(args.repeat)]
        posted = run_json(cmd, runner.openbf_env())
    raw_m, openbf_m = medians(raw), medians(openbf)
    return {"raw": {"median": raw_m, "samples": raw}, "openbf": {"median": openbf_m, "samples": openbf},
            "ratio": ratios(raw_m, openbf_m),
            "posted": {"median": posted_figures(raw_m, posted), "samples": posted}}


def _fmt(kind: str, value: float) -> str:
    return f"{value:.1f} us" if kind == "latency" else f"{value:.2f} GB/s"


def format_table(results: dict[str, dict[str, Any]], nbytes: int, posted_bytes: int = 4096) -> str:
    size = f"{nbytes / (1 << 20):g} MiB"
    rows = [("transport", "figure", "raw socket", "openbf", "ratio")]
    for transport, r in results.items():
        for label, field, kind in FIGURES:
            label = label if kind == "latency" else f"{label}, {size}"
            rows.append((transport, label, _fmt(kind, r["raw"]["median"][field]),
                         _fmt(kind, r["openbf"]["median"][field]), f"{r['ratio'][field]:.2f}"))
        if "posted" in r:
            p, up = r["posted"]["median"], r["raw"]["median"]["up_gbps"]
            rows.append((transport, f"posted HtoD copies, {posted_bytes} B each", _fmt("bandwidth", up),
                         _fmt("bandwidth", p["small_htod_gbps"]), f"{p['small_htod_ratio']:.2f}"))
            label = f"posted memsets ({p['memset_per_s'] / 1e6:.2f} M/s), wire"
            rows.append((transport, label, _fmt("bandwidth", up), _fmt("bandwidth", p["memset_wire_gbps"]),
                         f"{p['memset_wire_ratio']:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("ratio: openbf / raw socket. Latency: 1.0 is ideal, higher is slower. "
                 "Bandwidth: 1.0 is ideal, lower is slower.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--transport", action="append", choices=TRANSPORTS, default=[],
                        help="tcp and/or unix (repeatable; default both)")
    parser.add_argument("--backend", choices=("emu", "cuda"), default="emu",
                        help="the bf-server's backend (default emu; cuda on a GPU host)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions; figures are their median (5)")
    parser.add_argument("--iterations", type=int, default=2000, help="round trips per repetition (2000)")
    parser.add_argument("--bytes", type=int, default=64 << 20, help="bytes per bandwidth copy (64 MiB)")
    parser.add_argument("--posted-count", type=int, default=20000,
                        help="posted copies and memsets per repetition (20000)")
    parser.add_argument("--posted-bytes", type=int, default=4096,
                        help="bytes per posted copy and memset (4096)")
    parser.add_argument("--rawsock", type=Path, help="bf-bench-rawsock (default: $BF_BUILD_DIR/bench/)")
    parser.add_argument("--json", type=Path, help="summary file (default: bench-summary.json in the cache "
                                                  "directory, $BF_BUILD_DIR/bench/ for a development build)")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.iterations < 1 or args.bytes < 4:
        parser.error("--repeat and --iterations must be >= 1, --bytes >= 4")
    if args.posted_count < 1 or args.posted_bytes < 1:
        parser.error("--posted-count and --posted-bytes must be >= 1")

    rawsock = find_rawsock(args.rawsock)
    copy_bench = build_copy_bench()
    posted_bench = build_copy_bench("posted_bench")
    results: dict[str, dict[str, Any]] = {}
    for transport in args.transport or list(TRANSPORTS):
        try:
            results[transport] = measure(transport, args.backend, rawsock, copy_bench, posted_bench, args)
        except (RuntimeError, runner.ServerError, subprocess.TimeoutExpired) as e:
            print(f"run_bench: {transport}: {e}", file=sys.stderr)
            return 1
    print(format_table(results, args.bytes, args.posted_bytes))

    summary = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(), "backend": args.backend,
        "repeat": args.repeat, "iterations": args.iterations, "bytes": args.bytes,
        "posted_count": args.posted_count, "posted_bytes": args.posted_bytes,
        "results": results,
    }
    path = args.json or cache_dir() / "bench-summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"summary: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
