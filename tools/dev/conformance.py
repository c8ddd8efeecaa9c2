#!/usr/bin/env python3
"""Builds and runs openbf's conformance programs (tests/conformance/*.cu).

Each program is built twice with nvcc, against the default static CUDA runtime and with
``-cudart shared``, into a cache directory (default ``tests/conformance/bin/``); a program is rebuilt
only when its source, the shared harness (check.h), the nvcc flags or the nvcc version changed.
Builds run in parallel.

Modes:
  emu       through ``bf run`` with its private server on the CPU emulator
  tcp       through a bf-server (emulator backend) on 127.0.0.1 and a free port: ``bf run --server``
  unix      the same over an abstract unix socket
  native    straight on this machine's GPU, without openbf (for a GPU host)
  both-gpu  native, and through a bf-server with ``--backend cuda``; both must pass and agree
            check for check

Every program prints ``PASS name`` or ``FAIL name: ...`` per check and a final
``PASS <program>: all N checks`` line; see tests/conformance/check.h. The runner prints a table
and exits 1 when anything failed, 2 when a build failed.

The helpers here (building, starting and stopping a bf-server, running a program under a timeout)
are shared by tests/conformance, tests/faults and bench/run_bench.py.

Examples:
  BF_BUILD_DIR=build-conf python3 tools/dev/conformance.py --mode emu
  python3 tools/dev/conformance.py --mode tcp --only memory --only errors
  python3 tools/dev/conformance.py --mode both-gpu --json results.json
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE_DIR = REPO / "tests" / "conformance"
DEFAULT_BIN_DIR = CONFORMANCE_DIR / "bin"
VARIANTS = ("static", "shared")
MODES = ("emu", "tcp", "unix", "native", "both-gpu")
# nvcc flags shared by every build; part of the cache key.
NVCC_FLAGS = ("-std=c++17", "-O1", "-lineinfo")
# Header files every program includes; a change rebuilds everything.
SHARED_SOURCES = ("check.h",)
DEFAULT_TIMEOUT_S = 180.0
SERVER_START_TIMEOUT_S = 20.0
SERVER_STOP_TIMEOUT_S = 10.0


class BuildError(RuntimeError):
    """nvcc failed; the message holds its command line and output."""


class ServerError(RuntimeError):
    """bf-server did not start; the message holds its log."""


# ---- finding tools ------------------------------------------------------------------------------

def find_nvcc() -> str | None:
    """nvcc from $NVCC, $PATH, $CUDA_HOME/bin or /usr/local/cuda/bin; None if there is none."""
    candidates = [os.environ.get("NVCC"), shutil.which("nvcc")]
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root:
            candidates.append(str(Path(root) / "bin" / "nvcc"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def openbf_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for openbf's Python tools: with BF_BUILD_DIR set (a development build), the
    repository's python/ comes first on PYTHONPATH so that ``-m openbf.cli`` is this tree's."""
    env = dict(os.environ if base is None else base)
    if env.get("BF_BUILD_DIR"):
        env["BF_BUILD_DIR"] = str(Path(env["BF_BUILD_DIR"]).resolve())
        python_dir = str(REPO / "python")
        rest = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = python_dir + (os.pathsep + rest if rest else "")
    return env


def bf_command() -> list[str]:
    """How to start ``bf``: the interpreter running this script, on openbf's CLI module."""
    return [sys.executable, "-m", "openbf.cli"]


def bf_server_command() -> list[str]:
    return [sys.executable, "-m", "openbf.server"]


# ---- building -----------------------------------------------------------------------------------

def programs(only: Sequence[str] = ()) -> list[str]:
    """The conformance programs by name (file stem), sorted; `only` restricts them."""
    names = sorted(p.stem for p in CONFORMANCE_DIR.glob("*.cu"))
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"conformance: no program named {', '.join(unknown)} (have: {', '.join(names)})")
        names = [n for n in names if n in only]
    return names


def _nvcc_version(nvcc: str) -> str:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60, check=False)
    return out.stdout.strip()


def build_key(source: Path, variant: str, nvcc_version: str, extra_sources: Sequence[Path] = (),
              flags: Sequence[str] = NVCC_FLAGS) -> str:
    """The cache key of one build: source texts, flags, variant and compiler version."""
    h = hashlib.sha256()
    for path in (source, *extra_sources):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(" ".join(flags).encode() + b"\0" + variant.encode() + b"\0" + nvcc_version.encode())
    return h.hexdigest()


def nvcc_command(nvcc: str, source: Path, output: Path, variant: str,
                 flags: Sequence[str] = NVCC_FLAGS, libs: Sequence[str] = ()) -> list[str]:
    """variant is the runtime to link: static (nvcc's default), shared, or none (driver-API programs
    that dlopen libcuda.so.1 themselves)."""
    return [nvcc, "-cudart", variant, *flags, "-o", str(output), str(source), *libs]


def build_one(nvcc: str, nvcc_version: str, source: Path, output: Path, variant: str,
              extra_sources: Sequence[Path] = (), flags: Sequence[str] = NVCC_FLAGS,
              libs: Sequence[str] = ()) -> tuple[Path, bool]:
    """Builds source into output unless the stamp beside output says it is current.
    Returns (output, whether it was rebuilt); raises BuildError."""
    key = build_key(source, variant, nvcc_version, extra_sources, (*flags, *libs))
    stamp = output.with_name(output.name + ".key")
    if output.exists() and stamp.exists() and stamp.read_text().strip() == key:
        return output, False
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    cmd = nvcc_command(nvcc, source, partial, variant, flags, libs)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as e:
        raise BuildError(f"{' '.join(cmd)}: timed out after {e.timeout:.0f} s") from e
    if result.returncode != 0:
        raise BuildError(f"{' '.join(cmd)}: exit status {result.returncode}\n{result.stdout}{result.stderr}")
    partial.replace(output)
    stamp.write_text(key + "\n")
    return output, True


def build_all(names: Sequence[str], variants: Sequence[str] = VARIANTS, bin_dir: Path = DEFAULT_BIN_DIR,
              jobs: int | None = None, nvcc: str | None = None,
              source_dir: Path = CONFORMANCE_DIR) -> dict[tuple[str, str], Path]:
    """Builds every (program, variant) in parallel; returns their paths. Raises BuildError naming
    every build that failed."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise BuildError("nvcc not found: set NVCC or put CUDA's bin directory on PATH")
    version = _nvcc_version(nvcc)
    shared = [source_dir / s for s in SHARED_SOURCES if (source_dir / s).exists()]
    jobs = jobs or min(8, os.cpu_count() or 2)
    out: dict[tuple[str, str], Path] = {}
    errors: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(build_one, nvcc, version, source_dir / f"{name}.cu", bin_dir / f"{name}.{variant}",
                        variant, shared): (name, variant)
            for name in names for variant in variants
        }
        for future in concurrent.futures.as_completed(futures):
            try:
                out[futures[future]] = future.result()[0]
            except BuildError as e:
                errors.append(str(e))
    if errors:
        raise BuildError("\n\n".join(sorted(errors)))
    return out


# ---- processes ----------------------------------------------------------------------------------

def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = SERVER_STOP_TIMEOUT_S) -> None:
    """SIGTERM to the process group that proc leads (started with start_new_session=True), then
    SIGKILL to the group if proc has not exited within timeout."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    # Children (workers) that outlived their leader are ended too: the group is ours alone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


def free_tcp_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BfServer:
    """A bf-server on a loopback or abstract unix address, started in its own process group and
    stopped (workers included) by stop() or at the end of a with block. Its log goes to a file,
    read with log()."""

    def __init__(self, transport: str = "tcp", backend: str = "emu", env: dict[str, str] | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.transport = transport
        self.backend = backend
        self.env = openbf_env(env)
        self.extra_args = list(extra_args)
        self.address = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="bf-server-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)

    def _address(self) -> str:
        if self.transport == "tcp":
            return f"127.0.0.1:{free_tcp_port()}"
        if self.transport == "unix":
            return f"unix:@openbf-test-{os.getpid()}-{time.monotonic_ns()}"
        raise ValueError(f"unknown transport {self.transport!r}")

    def start(self, attempts: int = 3) -> BfServer:
        last = ""
        for _ in range(attempts):
            self.address = self._address()
            read_fd, write_fd = os.pipe()
            cmd = [*bf_server_command(), "--listen", self.address, "--backend", self.backend,
                   "--ready-fd", str(write_fd), *self.extra_args]
            try:
                self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
                                             stderr=self._log, pass_fds=(write_fd,), start_new_session=True)
            finally:
                os.close(write_fd)
            ready = _wait_readable(read_fd, SERVER_START_TIMEOUT_S)
            os.close(read_fd)
            if ready and self.proc.poll() is None:
                return self
            stop_process_group(self.proc)
            last = self.log()
            if "cannot listen" not in last:  # only a lost race for the port is worth another try
                break
        raise ServerError(f"bf-server did not become ready on {self.address}:\n{last}")

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> str:
        """Stops the server and its workers; returns the whole log."""
        if self.proc is not None:
            stop_process_group(self.proc)
        text = self.log()
        self._log.close()
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()
        return text

    def __enter__(self) -> BfServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_readable(fd: int, timeout: float) -> bool:
    """Waits until fd has data (the server's 'ready' line) or reaches end of file."""
    import select

    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        r, _, _ = select.select([fd], [], [], left)
        if r:
            return os.read(fd, 64).startswith(b"ready")
    return False


# ---- running and judging ------------------------------------------------------------------------

@dataclass
class Outcome:
    program: str
    variant: str
    mode: str
    returncode: int | None          # None: killed at the timeout
    seconds: float
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # the whole FAIL lines
    final: str = ""                 # the program's last PASS/FAIL line about itself
    stdout: str = ""
    stderr: str = ""
    note: str = ""                  # a comparison's verdict (both-gpu)

    @property
    def ok(self) -> bool:
        return (self.returncode == 0 and not self.failed and not self.note
                and self.final.startswith(f"PASS {self.program}:"))

    def verdict(self) -> str:
        if self.returncode is None:
            return "TIMEOUT"
        if self.note:
            return "DIFFERS"
        if self.ok:
            return "PASS"
        if self.returncode < 0:
            try:
                return f"CRASH ({signal.Signals(-self.returncode).name})"
            except ValueError:
                return f"CRASH (signal {-self.returncode})"
        if not self.final:
            return f"INCOMPLETE (exit {self.returncode})"
        return "FAIL"

    def explain(self, tail_lines: int = 15) -> str:
        """What went wrong, for an assertion message or the report."""
        parts = [f"{self.program} [{self.variant}, {self.mode}]: {self.verdict()}, exit status "
                 f"{self.returncode}, {len(self.passed)} passed, {len(self.failed)} failed"]
        if self.note:
            parts.append(self.note)
        parts.extend(self.failed)
        if not self.final:
            parts.append("no final line; last stdout lines:")
            parts.extend(self.stdout.splitlines()[-tail_lines:])
        if self.stderr.strip() and not self.ok:
            parts.append("stderr (last lines):")
            parts.extend(self.stderr.splitlines()[-tail_lines:])
        return "\n".join(parts)


def parse_output(outcome: Outcome) -> Outcome:
    for line in outcome.stdout.splitlines():
        if line.startswith((f"PASS {outcome.program}:", f"FAIL {outcome.program}:")):
            outcome.final = line
        elif line.startswith("PASS "):
            outcome.passed.append(line[5:].strip())
        elif line.startswith("FAIL "):
            outcome.failed.append(line)
    return outcome


def run_program(cmd: Sequence[str], program: str, variant: str, mode: str, env: dict[str, str] | None = None,
                timeout: float = DEFAULT_TIMEOUT_S, cwd: Path | None = None) -> Outcome:
    """Runs one program in its own process group (so a timeout ends bf run and what it started) and
    judges its output."""
    start = time.monotonic()
    proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        stop_process_group(proc, timeout=5)
        out, err = proc.communicate()
        rc = None
    outcome = Outcome(program, variant, mode, rc, time.monotonic() - start,
                      stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"))
    return parse_output(outcome)


def through_bf(binary: Path, server: str | None = None) -> list[str]:
    """The command line running binary under openbf: a private server, or the given one."""
    cmd = [*bf_command(), "run"]
    if server:
        cmd += ["--server", server]
    return [*cmd, "--", str(binary)]


def compare(native: Outcome, remote: Outcome) -> Outcome:
    """Marks remote as DIFFERS unless both passed the same checks."""
    differences = []
    if native.ok != remote.ok:
        differences.append(f"native {native.verdict()}, openbf {remote.verdict()}")
    only_native = sorted(set(native.passed) - set(remote.passed))
    only_remote = sorted(set(remote.passed) - set(native.passed))
    if only_native:
        differences.append("passed natively only: " + ", ".join(only_native))
    if only_remote:
        differences.append("passed through openbf only: " + ", ".join(only_remote))
    remote.note = "; ".join(differences)
    return remote


@contextlib.contextmanager
def _maybe_server(mode: str, env: dict[str, str]) -> Iterator[BfServer | None]:
    if mode in ("tcp", "unix"):
        with BfServer(mode, "emu", env) as server:
            yield server
    elif mode == "both-gpu":
        with BfServer("tcp", "cuda", env) as server:
            yield server
    else:
        yield None


def run_all(binaries: dict[tuple[str, str], Path], mode: str, timeout: float = DEFAULT_TIMEOUT_S,
            jobs: int = 1) -> list[Outcome]:
    """Runs every binary in the given mode (jobs at a time) and returns the outcomes in order."""
    env = openbf_env()
    keys = sorted(binaries)
    with _maybe_server(mode, env) as server:
        def one(key: tuple[str, str]) -> Outcome:
            name, variant = key
            binary = binaries[key]
            if mode == "native":
                return run_program([str(binary)], name, variant, mode, env, timeout)
            if mode == "emu":
                return run_program(through_bf(binary), name, variant, mode, env, timeout)
            assert server is not None
            remote = run_program(through_bf(binary, server.address), name, variant, mode, env, timeout)
            if mode == "both-gpu":
                native = run_program([str(binary)], name, variant, "native", env, timeout)
                return compare(native, remote)
            return remote

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(one, keys))


def format_table(outcomes: Sequence[Outcome]) -> str:
    rows = [("program", "variant", "mode", "result", "checks", "seconds")]
    for o in outcomes:
        total = len(o.passed) + len(o.failed)
        rows.append((o.program, o.variant, o.mode, o.verdict(), f"{len(o.passed)}/{total}",
                     f"{o.seconds:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--mode", choices=MODES, default="emu", help="how to run the programs (default emu)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this program (repeatable)")
    parser.add_argument("--variant", action="append", choices=VARIANTS, default=[],
                        help="build and run only this runtime variant (repeatable; default both)")
    parser.add_argument("--bin-dir", type=Path, default=DEFAULT_BIN_DIR, help="build cache directory")
    parser.add_argument("--build-dir", type=Path,
                        help="openbf meson build directory to use (sets BF_BUILD_DIR)")
    parser.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 2), help="parallel builds")
    parser.add_argument("--run-jobs", type=int, default=1, help="programs run at once (default 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per program")
    parser.add_argument("--build-only", action="store_true", help="build, run nothing")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every failure's output")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the outcomes as JSON")
    args = parser.parse_args(argv)

    if args.build_dir is not None:
        os.environ["BF_BUILD_DIR"] = str(args.build_dir.resolve())
    names = programs(args.only)
    variants = args.variant or list(VARIANTS)
    try:
        binaries = build_all(names, variants, args.bin_dir, args.jobs)
    except BuildError as e:
        print(f"conformance: build failed:\n{e}", file=sys.stderr)
        return 2
    if args.build_only:
        print(f"built {len(binaries)} programs in {args.bin_dir}")
        return 0
    try:
        outcomes = run_all(binaries, args.mode, args.timeout, args.run_jobs)
    except ServerError as e:
        print(f"conformance: {e}", file=sys.stderr)
        return 2
    print(format_table(outcomes))
    bad = [o for o in outcomes if not o.ok]
    for o in bad if args.verbose else bad[:5]:
        print("\n" + o.explain(), file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(o) | {"ok": o.ok, "verdict": o.verdict()} for o in outcomes],
                                        indent=2) + "\n")
    passed = len(outcomes) - len(bad)
    print(f"\n{passed}/{len(outcomes)} passed" + (f", {len(bad)} failed" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
