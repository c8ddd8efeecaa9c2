#!/usr/bin/env python3
"""Builds and runs openbf's conformance programs (tests/conformance/*.cu).

Each program is built with nvcc against the default static CUDA runtime and with ``-cudart shared``;
a program with kernels (``__global__`` in its source) also with ``--compress-mode=speed`` and
``--compress-mode=size`` (variants compress-speed, compress-size: the fatbin's compression). Builds
go into a cache directory (default ``tests/conformance/bin/``). Lines in a program's source change
its build: ``conformance-variants: static shared perthread`` lists its variants (perthread:
``--default-stream per-thread``), ``conformance-options: -rdc=true`` adds nvcc options and
``conformance-sources: rdc/part.cu`` more sources (relative to tests/conformance; nvcc compiles and,
with -rdc=true, device-links them with the program), and ``conformance-env: BF_EMU_CC=8.0``
environment variables for its runs through openbf on the emulator (such a program gets a bf-server
of its own in the server modes, started with them). A program is rebuilt only when one of its
sources, the shared harness (check.h), the nvcc flags or the nvcc version changed. Builds run in
parallel.

Modes:
  emu       through ``bf run`` with its private server on the CPU emulator
  tcp       through a bf-server (emulator backend) on 127.0.0.1 and a free port: ``bf run --server``
  unix      the same over an abstract unix socket
  native    straight on this machine's GPU, without openbf (for a GPU host)
  both-gpu  native, and through a bf-server with ``--backend cuda``; both must pass and agree
            check for check
  asan      through libbf.so, bf-worker and libbfemu.so of an AddressSanitizer + UBSan build
            (``--asan-build-dir``): the program runs with libasan and that libbf.so in LD_PRELOAD
            against a bf-server whose Python parts come from BF_BUILD_DIR (a plain build) and whose
            worker and driver are the sanitized ones; the driver-contract program of the sanitized
            build also runs, against its libbfemu.so and through its libbf.so. Any sanitizer report
            is a failure (tools/dev/sanitize.sh)

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
# Every program is built against the static and the shared runtime; a program with kernels also with
# each fatbin compression mode (KERNEL_VARIANTS). A program may ask for other builds with a line
# "conformance-variants: NAME ..." in its source (the whole list); EXTRA_VARIANTS are the builds only
# such programs get.
VARIANTS = ("static", "shared")
KERNEL_VARIANTS = ("static", "shared", "compress-speed", "compress-size")
EXTRA_VARIANTS = ("perthread",)
ALL_VARIANTS = KERNEL_VARIANTS + EXTRA_VARIANTS
# nvcc options of each variant; "none" is for driver-API programs that dlopen libcuda.so.1 themselves.
VARIANT_OPTIONS: dict[str, tuple[str, ...]] = {
    "static": ("-cudart", "static"),
    "shared": ("-cudart", "shared"),
    "compress-speed": ("-cudart", "static", "--compress-mode=speed"),
    "compress-size": ("-cudart", "static", "--compress-mode=size"),
    "perthread": ("-cudart", "static", "--default-stream", "per-thread"),
    "none": ("-cudart", "none"),
}
MODES = ("emu", "tcp", "unix", "native", "both-gpu", "asan")
# nvcc flags shared by every build; part of the cache key.
NVCC_FLAGS = ("-std=c++17", "-O1", "-lineinfo")
# Header files every program includes; a change rebuilds everything.
SHARED_SOURCES = ("check.h",)
DEFAULT_TIMEOUT_S = 180.0
# Programs that fail through openbf on the emulator today because a feature is still missing, with
# the reason (its line in the coordination file of the work in progress). In the emulator modes
# (emu, tcp, unix, asan) their failure is reported as XFAIL and does not fail the run, unless a
# sanitizer reported something; a pass shows as XPASS. tests/conformance marks them xfail. Remove a
# line when the feature lands; never weaken a program instead.
EXPECTED_FAILURES: dict[str, str] = {
}
EMULATOR_MODES = ("emu", "tcp", "unix", "asan")
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


def program_directive(name: str, key: str, source_dir: Path = CONFORMANCE_DIR) -> tuple[str, ...] | None:
    """The words after "conformance-<key>:" in a program's source, or None without such a line."""
    marker = f"conformance-{key}:"
    for line in (source_dir / f"{name}.cu").read_text(errors="replace").splitlines():
        _, found, rest = line.partition(marker)
        if found:
            return tuple(rest.replace("*/", " ").split())
    return None


def program_env(name: str, source_dir: Path = CONFORMANCE_DIR) -> dict[str, str]:
    """The "conformance-env: NAME=VALUE ..." of a program: what its runs on the emulator need (a
    compute capability through BF_EMU_CC, ...)."""
    words = program_directive(name, "env", source_dir) or ()
    bad = [w for w in words if "=" not in w]
    if bad:
        raise BuildError(f"{name}.cu: conformance-env wants NAME=VALUE, got {', '.join(bad)}")
    return dict(w.split("=", 1) for w in words)


def program_variants(name: str, source_dir: Path = CONFORMANCE_DIR) -> tuple[str, ...]:
    """The builds of one program: the list on its "conformance-variants:" line, else KERNEL_VARIANTS
    for a program with kernels and VARIANTS for one without."""
    variants = program_directive(name, "variants", source_dir)
    if variants is not None:
        unknown = sorted(set(variants) - set(ALL_VARIANTS))
        if unknown or not variants:
            raise BuildError(f"{name}.cu: unknown conformance variants {unknown or '(none listed)'}")
        return variants
    if "__global__" in (source_dir / f"{name}.cu").read_text(errors="replace"):
        return KERNEL_VARIANTS
    return VARIANTS


def program_build_inputs(name: str,
                         source_dir: Path = CONFORMANCE_DIR) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """A program's further sources ("conformance-sources:", relative to source_dir) and nvcc options
    ("conformance-options:")."""
    sources = tuple(source_dir / s for s in program_directive(name, "sources", source_dir) or ())
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise BuildError(f"{name}.cu: conformance sources not found: {', '.join(missing)}")
    return sources, program_directive(name, "options", source_dir) or ()


def program_variant_pairs(names: Sequence[str] | None = None,
                          variants: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Every (program, variant) to build and run; `variants` restricts them."""
    return [(name, variant) for name in (programs() if names is None else names)
            for variant in program_variants(name) if not variants or variant in variants]


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
                 flags: Sequence[str] = NVCC_FLAGS, libs: Sequence[str] = (),
                 sources: Sequence[Path] = (), options: Sequence[str] = ()) -> list[str]:
    """variant names the build (VARIANT_OPTIONS): the runtime to link, static (nvcc's default) or
    shared, a fatbin compression mode, the per-thread default stream (perthread), or none
    (driver-API programs that dlopen libcuda.so.1 themselves). sources and options are the
    program's own (program_build_inputs)."""
    variant_options = VARIANT_OPTIONS.get(variant, ("-cudart", variant))
    return [nvcc, *variant_options, *flags, *options, "-o", str(output), str(source),
            *(str(s) for s in sources), *libs]


def build_one(nvcc: str, nvcc_version: str, source: Path, output: Path, variant: str,
              extra_sources: Sequence[Path] = (), flags: Sequence[str] = NVCC_FLAGS,
              libs: Sequence[str] = (), sources: Sequence[Path] = (),
              options: Sequence[str] = ()) -> tuple[Path, bool]:
    """Builds source into output unless the stamp beside output says it is current.
    A program with a companion ``<name>.kernels`` (CUDA source) also gets ``<output>.ptx`` and
    ``<output>.fatbin`` built from it (nvcc -ptx / -fatbin), for driver-API programs that load
    images themselves. Returns (output, whether it was rebuilt); raises BuildError."""
    kernels = source.with_suffix(".kernels")
    if kernels.exists():
        extra_sources = (*extra_sources, kernels)
    key = build_key(source, variant, nvcc_version, (*extra_sources, *sources), (*flags, *options, *libs))
    stamp = output.with_name(output.name + ".key")
    if output.exists() and stamp.exists() and stamp.read_text().strip() == key:
        return output, False
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    cmd = nvcc_command(nvcc, source, partial, variant, flags, libs, sources, options)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as e:
        raise BuildError(f"{' '.join(cmd)}: timed out after {e.timeout:.0f} s") from e
    if result.returncode != 0:
        raise BuildError(f"{' '.join(cmd)}: exit status {result.returncode}\n{result.stdout}{result.stderr}")
    if kernels.exists():
        for kind in ("ptx", "fatbin"):
            image = output.with_name(f"{output.name}.{kind}")
            cmd = [nvcc, "-x", "cu", f"-{kind}", "-o", str(image), str(kernels)]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
            if result.returncode != 0:
                raise BuildError(f"{' '.join(cmd)}: exit status {result.returncode}\n"
                                 f"{result.stdout}{result.stderr}")
    partial.replace(output)
    stamp.write_text(key + "\n")
    return output, True


def build_all(names: Sequence[str], variants: Sequence[str] = (), bin_dir: Path = DEFAULT_BIN_DIR,
              jobs: int | None = None, nvcc: str | None = None,
              source_dir: Path = CONFORMANCE_DIR) -> dict[tuple[str, str], Path]:
    """Builds every (program, variant) in parallel: each program's own variants (program_variants),
    restricted to `variants` when given. Returns their paths. Raises BuildError naming every build
    that failed."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise BuildError("nvcc not found: set NVCC or put CUDA's bin directory on PATH")
    version = _nvcc_version(nvcc)
    shared = [source_dir / s for s in SHARED_SOURCES if (source_dir / s).exists()]
    jobs = jobs or min(8, os.cpu_count() or 2)
    out: dict[tuple[str, str], Path] = {}
    errors: list[str] = []
    inputs = {name: program_build_inputs(name, source_dir) for name in names}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(build_one, nvcc, version, source_dir / f"{name}.cu", bin_dir / f"{name}.{variant}",
                        variant, shared, sources=inputs[name][0], options=inputs[name][1]): (name, variant)
            for name in names for variant in program_variants(name, source_dir)
            if not variants or variant in variants
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
    sanitizer: str = ""             # a sanitizer's report seen on stderr (asan)
    expected: str = ""              # why this program is expected to fail (EXPECTED_FAILURES)

    @property
    def ok(self) -> bool:
        return (self.returncode == 0 and not self.failed and not self.note and not self.sanitizer
                and self.final.startswith(f"PASS {self.program}:"))

    @property
    def xfailed(self) -> bool:
        """Failed as EXPECTED_FAILURES says it would (and no sanitizer report)."""
        return bool(self.expected) and not self.ok and not self.sanitizer

    def verdict(self) -> str:
        if self.sanitizer:
            return "SANITIZER"
        if self.expected:
            return "XPASS" if self.ok else "XFAIL"
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
        if self.sanitizer:
            parts.append("sanitizer report:")
            parts.extend(self.sanitizer.splitlines()[:60])
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


# ---- sanitizers ---------------------------------------------------------------------------------

# Fewer PASS lines than this from the driver-contract program means it stopped early.
CONTRACT_MIN_CHECKS = 300


class Sanitizer:
    """How the asan mode runs things: the sanitized build's libbf.so (after libasan) in the
    programs, its bf-worker (BF_WORKER_PATH) and libbfemu.so (--driver) under a bf-server whose Python
    parts are the plain build's (a Cython extension built with -fsanitize does not import into a
    normal Python). Every report goes to a file in report_dir; any file there is a failure.

    Leak detection is on in the worker and the driver-contract program and off in the CUDA programs,
    whose NVIDIA runtime keeps its allocations until exit by design. UBSan, combined with ASan,
    prints to stderr whatever log_path says, so stderr (the programs' and the server log, which has
    the workers') is searched for reports as well (sanitizer_lines)."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir.resolve()
        self.libbf = self.build_dir / "libintercept" / "libbf.so"
        self.libbfemu = self.build_dir / "emulator" / "libbfemu.so"
        self.worker = self.build_dir / "server" / "bf-worker"
        self.contract = self.build_dir / "emulator" / "driver_contract"
        missing = [str(p) for p in (self.libbf, self.libbfemu, self.worker) if not p.is_file()]
        if missing:
            raise BuildError(f"sanitized build incomplete, missing: {', '.join(missing)}")
        self.libasan = asan_runtime()
        self.report_dir = Path(tempfile.mkdtemp(prefix="openbf-sanitizer-"))

    def _options(self, who: str, leaks: bool) -> dict[str, str]:
        log = self.report_dir / who
        common = f"halt_on_error=1:print_stacktrace=1:log_path={log}"
        return {
            "ASAN_OPTIONS": f"{common}:detect_leaks={int(leaks)}:abort_on_error=0:exitcode=66",
            "UBSAN_OPTIONS": f"{common}:exitcode=67",
            "LSAN_OPTIONS": f"log_path={log}:exitcode=68",
        }

    def server_env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, **self._options("worker", leaks=True), "BF_WORKER_PATH": str(self.worker)}

    def server_args(self) -> list[str]:
        return ["--driver", str(self.libbfemu)]

    def program_env(self, base: dict[str, str], server: str) -> dict[str, str]:
        env = {k: v for k, v in base.items() if k != "LD_PRELOAD"}
        return {**env, **self._options("program", leaks=False), "BF_SERVER": server,
                "LD_PRELOAD": f"{self.libasan}:{self.libbf}"}

    def contract_env(self, base: dict[str, str], server: str | None) -> dict[str, str]:
        env = {k: v for k, v in base.items() if not k.startswith("BF_EMU_") and k != "LD_PRELOAD"}
        env.update(self._options("contract", leaks=True))
        if server:
            env["BF_SERVER"] = server
        return env

    def reports(self) -> list[tuple[str, str]]:
        """(file name, text) of every sanitizer report written so far."""
        files = sorted(p for p in self.report_dir.iterdir() if p.is_file())
        return [(p.name, p.read_text(errors="replace")) for p in files]

    def cleanup(self) -> None:
        """Removes the report directory when it is empty (reports are kept for reading)."""
        with contextlib.suppress(OSError):
            self.report_dir.rmdir()


# Lines that only a sanitizer prints.
SANITIZER_MARKERS = ("runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer",
                     "SUMMARY: LeakSanitizer", "AddressSanitizer:DEADLYSIGNAL")


def sanitizer_lines(text: str, context: int = 40) -> str:
    """From the first sanitizer line of text on (context lines), or "" when there is none."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if any(marker in line for marker in SANITIZER_MARKERS):
            return "\n".join(lines[i:i + context])
    return ""


def asan_runtime() -> str:
    """The AddressSanitizer runtime that the sanitized build links against (gcc's libasan.so)."""
    cc = os.environ.get("CC", "gcc")
    try:
        out = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True, text=True, timeout=30,
                             check=False).stdout.strip()
    except OSError as e:
        raise BuildError(f"cannot ask {cc} where libasan.so is: {e}") from e
    if not out or not Path(out).is_absolute() or not Path(out).exists():
        raise BuildError(f"{cc} does not know libasan.so (got {out!r}); install the compiler's libasan")
    return str(Path(out).resolve())


def parse_contract_output(outcome: Outcome) -> Outcome:
    """The driver-contract program's own format: PASS/FAIL lines, then "driver_contract: N passed,
    F failed, ..."; judged as a conformance program whose final line says PASS when all passed."""
    last = ""
    for line in outcome.stdout.splitlines():
        if line.startswith("PASS "):
            outcome.passed.append(line[5:].strip())
        elif line.startswith("FAIL "):
            outcome.failed.append(line)
        elif line.startswith("driver_contract:"):
            last = line
    if last and not outcome.failed and len(outcome.passed) >= CONTRACT_MIN_CHECKS:
        outcome.final = f"PASS {outcome.program}: {last}"
    elif last:
        outcome.final = f"FAIL {outcome.program}: {last} (at least {CONTRACT_MIN_CHECKS} checks expected)"
    return outcome


def run_contract(sanitizer: Sanitizer, library: Path, label: str, env: dict[str, str],
                 timeout: float) -> Outcome:
    """The sanitized build's driver-contract program against one library."""
    outcome = run_program([str(sanitizer.contract), str(library)], "driver_contract", label, "asan", env,
                          timeout)
    outcome.passed.clear()
    outcome.failed.clear()
    outcome.final = ""
    outcome.sanitizer = sanitizer_lines(outcome.stderr)
    return parse_contract_output(outcome)


def run_through_openbf(binary: Path, name: str, variant: str, mode: str, env: dict[str, str],
                       timeout: float = DEFAULT_TIMEOUT_S, server: BfServer | None = None) -> Outcome:
    """One program through openbf on the emulator: bf run's private server (mode emu), or `server`
    (tcp, unix). A program with a conformance-env runs with those variables, and in the server modes
    on a server of its own started with them (the worker inherits the server's environment)."""
    extra = program_env(name)
    env = {**env, **extra}
    if mode == "emu":
        return run_program(through_bf(binary), name, variant, mode, env, timeout)
    if extra or server is None:
        with BfServer(mode, "emu", env) as own:
            return run_program(through_bf(binary, own.address), name, variant, mode, env, timeout)
    return run_program(through_bf(binary, server.address), name, variant, mode, env, timeout)


def run_sanitized(binaries: dict[tuple[str, str], Path], sanitizer: Sanitizer, timeout: float,
                  contract: bool = True) -> list[Outcome]:
    """The asan mode: every program, then the driver contract, through the sanitized build. A report
    in the server log (the workers' stderr) becomes an outcome of its own, "bf-worker"."""
    env = openbf_env()
    outcomes: list[Outcome] = []
    server = BfServer("tcp", "emu", sanitizer.server_env(env), sanitizer.server_args())
    extra_logs: list[str] = []
    try:
        server.start()
        for name, variant in sorted(binaries):
            binary = binaries[(name, variant)]
            extra = program_env(name)
            if extra:
                # A server of its own, with the program's environment (conformance-env).
                own = BfServer("tcp", "emu", sanitizer.server_env({**env, **extra}), sanitizer.server_args())
                try:
                    own.start()
                    outcome = run_program([str(binary)], name, variant, "asan",
                                          sanitizer.program_env({**env, **extra}, own.address), timeout)
                finally:
                    extra_logs.append(own.stop())
            else:
                outcome = run_program([str(binary)], name, variant, "asan",
                                      sanitizer.program_env(env, server.address), timeout)
            outcome.sanitizer = sanitizer_lines(outcome.stderr)
            outcomes.append(outcome)
        if contract and sanitizer.contract.is_file():
            outcomes.append(run_contract(sanitizer, sanitizer.libbf, "libbf",
                                         sanitizer.contract_env(env, server.address), timeout))
    finally:
        log = "\n".join([server.stop(), *extra_logs])
    worker = Outcome("bf-worker", "server log", "asan", 0, 0.0, final="PASS bf-worker: no sanitizer report",
                     stderr=log, sanitizer=sanitizer_lines(log, context=80))
    outcomes.append(worker)
    if contract and sanitizer.contract.is_file():
        outcomes.append(run_contract(sanitizer, sanitizer.libbfemu, "libbfemu",
                                     sanitizer.contract_env(env, None), timeout))
    return outcomes


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
            if mode in ("emu", "tcp", "unix"):
                return run_through_openbf(binary, name, variant, mode, env, timeout, server)
            assert server is not None
            remote = run_program(through_bf(binary, server.address), name, variant, mode, env, timeout)
            native = run_program([str(binary)], name, variant, "native", env, timeout)
            return compare(native, remote)

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
    parser.add_argument("--variant", action="append", choices=ALL_VARIANTS, default=[],
                        help="build and run only this variant (repeatable; default: each program's own)")
    parser.add_argument("--bin-dir", type=Path, default=DEFAULT_BIN_DIR, help="build cache directory")
    parser.add_argument("--build-dir", type=Path,
                        help="openbf meson build directory to use (sets BF_BUILD_DIR)")
    parser.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 2), help="parallel builds")
    parser.add_argument("--run-jobs", type=int, default=1, help="programs run at once (default 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per program")
    parser.add_argument("--build-only", action="store_true", help="build, run nothing")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every failure's output")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the outcomes as JSON")
    parser.add_argument("--asan-build-dir", type=Path, metavar="DIR",
                        help="asan mode: the meson build directory built with -Db_sanitize=address,undefined")
    parser.add_argument("--no-contract", action="store_true", help="asan mode: skip the driver-contract runs")
    args = parser.parse_args(argv)
    if args.mode == "asan" and args.asan_build_dir is None:
        parser.error("--mode asan needs --asan-build-dir")

    if args.build_dir is not None:
        os.environ["BF_BUILD_DIR"] = str(args.build_dir.resolve())
    names = programs(args.only)
    try:
        if args.mode == "asan" and find_nvcc() is None:
            # The sanitized C code is still worth running through the driver contract.
            print("conformance: nvcc not found: no CUDA program is run, only the driver contract",
                  file=sys.stderr)
            binaries = {}
        else:
            binaries = build_all(names, args.variant, args.bin_dir, args.jobs)
    except BuildError as e:
        print(f"conformance: build failed:\n{e}", file=sys.stderr)
        return 2
    if args.build_only:
        print(f"built {len(binaries)} programs in {args.bin_dir}")
        return 0
    sanitizer = None
    try:
        if args.mode == "asan":
            sanitizer = Sanitizer(args.asan_build_dir)
            outcomes = run_sanitized(binaries, sanitizer, args.timeout, not args.no_contract)
        else:
            outcomes = run_all(binaries, args.mode, args.timeout, args.run_jobs)
    except (ServerError, BuildError) as e:
        print(f"conformance: {e}", file=sys.stderr)
        return 2
    if args.mode in EMULATOR_MODES:
        for o in outcomes:
            o.expected = EXPECTED_FAILURES.get(o.program, "")
    print(format_table(outcomes))
    bad = [o for o in outcomes if not o.ok and not o.xfailed]
    for o in outcomes:
        if o.xfailed:
            print(f"{o.program} [{o.variant}, {o.mode}]: expected failure: {o.expected}", file=sys.stderr)
    for o in bad if args.verbose else bad[:5]:
        print("\n" + o.explain(), file=sys.stderr)
    if sanitizer is not None:
        reports = sanitizer.reports()
        for file_name, text in reports:
            print(f"\n==== sanitizer report {sanitizer.report_dir / file_name}\n{text}", file=sys.stderr)
        if reports:
            print(f"\nconformance: {len(reports)} sanitizer report(s) in {sanitizer.report_dir}",
                  file=sys.stderr)
            return 1
        sanitizer.cleanup()
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(o) | {"ok": o.ok, "verdict": o.verdict()} for o in outcomes],
                                        indent=2) + "\n")
    xfailed = sum(o.xfailed for o in outcomes)
    passed = len(outcomes) - len(bad) - xfailed
    print(f"\n{passed}/{len(outcomes)} passed" + (f", {xfailed} expected failures" if xfailed else "")
          + (f", {len(bad)} failed" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
