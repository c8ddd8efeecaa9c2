#!/usr/bin/env python3
"""Runs bench/ptx_bench (the PTX engine's speed) and checks it against the target.

ptx_bench prints, per kernel, lane-instructions per second per core and the ratio to the same loop
in C; this driver runs it, writes its JSON summary where asked, and with --check exits 1 when a
kernel runs below --target lane-instructions per second per core (default 300 million).

Example (development build):
  BF_BUILD_DIR=build python3 bench/ptx_bench.py --check --json ptx-bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.environ.get("BF_BUILD_DIR", ""),
                        help="meson build directory")
    parser.add_argument("--elements", type=int, default=16 << 20, help="memory-bound kernels' length")
    parser.add_argument("--iterations", type=int, default=1000,
                        help="fma per thread of the compute-bound kernel")
    parser.add_argument("--repeat", type=int, default=3, help="timed launches per figure (the best counts)")
    parser.add_argument("--threads", type=int, default=0, help="worker threads for the all-cores figure")
    parser.add_argument("--target", type=float, default=300e6, help="lane-instructions per second per core")
    parser.add_argument("--check", action="store_true", help="exit 1 when a kernel is below --target")
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args(argv)
    if not args.build_dir:
        parser.error("give --build-dir or set BF_BUILD_DIR")
    binary = Path(args.build_dir) / "bench" / "ptx_bench"
    if not binary.exists():
        parser.error(f"{binary} is missing: ninja -C {args.build_dir}")
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "ptx_bench.json"
        command = [str(binary), "--ptx", str(REPO / "tests/emulator/ptx/cuda/vector_add.ptx"),
                   "--elements", str(args.elements), "--iterations", str(args.iterations),
                   "--repeat", str(args.repeat), "--json", str(summary)]
        if args.threads > 0:
            command += ["--threads", str(args.threads)]
        run = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        sys.stdout.write(run.stdout)
        if run.returncode != 0:
            sys.stderr.write(run.stderr)
            return run.returncode
        data = json.loads(summary.read_text())
    data["command"] = " ".join(command[:1] + command[3:-2])
    data["target_lane_insns_per_s_per_core"] = args.target
    slow = [r["kernel"] for r in data["results"] if r["lane_insns_per_s_per_core"] < args.target]
    data["below_target"] = slow
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    verdict = f"below for {', '.join(slow)}" if slow else "met"
    print(f"target {args.target / 1e6:.0f} M lane-insns/s per core: {verdict}")
    return 1 if args.check and slow else 0


if __name__ == "__main__":
    sys.exit(main())
