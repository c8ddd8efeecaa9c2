"""bf: run programs on openbf, and show its configuration.

``bf run CMD`` starts CMD with libbf.so (the openbf driver front, SONAME libcuda.so.1) added to
LD_PRELOAD and BF_SERVER naming the server, so CMD's CUDA calls go to a bf-server. Without a server
given, bf run starts a private one on an abstract unix socket, backed by the CPU emulator, and
stops it when CMD ends.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import os
import secrets
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openbf
from openbf import __version__, paths

# bf's own failures, as env(1) and timeout(1) report theirs; 126 and 127 as a shell does.
EXIT_BF_FAILED = 125
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127

READY_TIMEOUT_S = 10.0
STOP_GRACE_S = 5.0

_PR_SET_PDEATHSIG = 1

# What the private server may see of the caller's environment: enough to run Python and find
# openbf, the log level and the emulator's settings; never LD_PRELOAD (the server must not load
# libbf.so) nor anything else of the application's.
_SERVER_ENV_KEEP = ("PATH", "HOME", "LANG", "BF_LOG", "BF_BUILD_DIR")
_SERVER_ENV_PREFIXES = ("BF_EMU_",)

# BF_LOG values mapped onto bf-server's --log-level; by default the private server only speaks up
# about problems, so that CMD's output stays CMD's.
_SERVER_LOG_LEVELS = {"off": "error", "error": "error", "warn": "warn", "info": "info",
                      "debug": "debug", "trace": "debug"}


class BfRunError(Exception):
    """bf run could not do its part (as opposed to CMD failing)."""


def say(message: str) -> None:
    print(f"bf: {message}", file=sys.stderr, flush=True)


# ---- environment ---------------------------------------------------------------------------------

def preload_with(existing: str | None, library: str) -> str:
    """LD_PRELOAD with library appended: what is there stays first, and nothing is added twice."""
    entries = [e for e in (existing or "").replace(" ", ":").split(":") if e]
    if library in entries:
        return ":".join(entries)
    return ":".join([*entries, library])


def server_environment() -> dict[str, str]:
    """The private server's clean environment."""
    env = {k: v for k, v in os.environ.items()
           if k in _SERVER_ENV_KEEP or k.startswith(_SERVER_ENV_PREFIXES)}
    # The server runs `python -m openbf.server` and must import this very openbf.
    package_root = str(Path(openbf.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = package_root
    # Workers log at info by default; under bf run only problems should reach the terminal.
    env.setdefault("BF_LOG", "warn")
    return env


# ---- the private server --------------------------------------------------------------------------

def _die_with(parent: int) -> None:
    """In a child before exec: have the kernel send SIGTERM when parent dies, whatever kills it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _wait_ready(proc: subprocess.Popen[bytes], ready_fd: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    received = b""
    while b"\n" not in received:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BfRunError(f"the private bf-server did not become ready within {timeout:.0f} s")
        readable, _, _ = select.select([ready_fd], [], [], left)
        if not readable:
            continue
        chunk = os.read(ready_fd, 64)
        if not chunk:
            status = proc.wait(timeout=STOP_GRACE_S)
            raise BfRunError(f"the private bf-server exited with status {status} before it was ready "
                             "(its messages are above)")
        received += chunk
    if received.strip() != b"ready":
        raise BfRunError(f"unexpected word from the private bf-server: {received!r}")


def stop_process(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE_S) -> None:
    """SIGTERM, then SIGKILL if proc has not exited after grace seconds; always reaps it."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        say(f"bf-server (pid {proc.pid}) did not stop in {grace:.0f} s; killing it")
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def private_server() -> Iterator[str]:
    """Starts a bf-server on a fresh abstract unix address, yields the address, then stops it."""
    address = f"unix:@openbf-{os.getpid()}-{secrets.token_hex(6)}"
    level = _SERVER_LOG_LEVELS.get(os.environ.get("BF_LOG", "").strip().lower(), "warn")
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    argv = [sys.executable, "-m", "openbf.server", "--listen", address, "--backend", "emu",
            "--ready-fd", str(ready_w), "--log-level", level]
    try:
        proc = subprocess.Popen(argv, env=server_environment(), stdin=subprocess.DEVNULL,
                                pass_fds=(ready_w,), process_group=0,
                                preexec_fn=functools.partial(_die_with, os.getpid()))
    except OSError as e:
        os.close(ready_r)
        raise BfRunError(f"cannot start bf-server: {e}") from e
    finally:
        os.close(ready_w)
    try:
        _wait_ready(proc, ready_r, READY_TIMEOUT_S)
        yield address
    finally:
        os.close(ready_r)
        stop_process(proc)


# ---- bf run --------------------------------------------------------------------------------------

def exit_status(returncode: int) -> int:
    """A child's status as a shell reports it: its exit code, or 128 + the signal that killed it."""
    return 128 - returncode if returncode < 0 else returncode


def run_command(command: list[str], env: dict[str, str]) -> int:
    """Runs command to its end and returns its exit status.

    While it runs, bf ignores SIGINT (the terminal sends it to the command too, and bf must outlive
    the command to clean up) and forwards SIGTERM, SIGHUP and SIGQUIT to it.
    """
    try:
        proc = subprocess.Popen(command, env=env)
    except FileNotFoundError:
        say(f"{command[0]}: command not found")
        return EXIT_NOT_FOUND
    except PermissionError as e:
        say(f"{command[0]}: {e.strerror}")
        return EXIT_CANNOT_EXECUTE
    except OSError as e:
        say(f"{command[0]}: cannot execute: {e.strerror}")
        return EXIT_CANNOT_EXECUTE

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    forwarded = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    previous = {sig: signal.signal(sig, forward) for sig in forwarded}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda _s, _f: None)
    try:
        return exit_status(proc.wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        say("run: no command given (usage: bf run [--server ADDR] [--] CMD [ARGS...])")
        return EXIT_BF_FAILED
    try:
        libbf = str(paths.libbf())
    except FileNotFoundError as e:
        say(str(e))
        return EXIT_BF_FAILED

    env = dict(os.environ)
    env["LD_PRELOAD"] = preload_with(env.get("LD_PRELOAD"), libbf)
    server = args.server or os.environ.get("BF_SERVER")
    try:
        if server:
            env["BF_SERVER"] = server
            return run_command(command, env)
        with private_server() as address:
            env["BF_SERVER"] = address
            return run_command(command, env)
    except BfRunError as e:
        say(str(e))
        return EXIT_BF_FAILED


# ---- bf config -----------------------------------------------------------------------------------

def cmd_config(_args: argparse.Namespace) -> int:
    try:
        from openbf import _proto
    except ImportError as e:
        say(f"openbf's compiled extension is missing ({e}); build openbf or set BF_BUILD_DIR")
        return EXIT_BF_FAILED
    for row in _proto.config_table():
        current = os.environ.get(row.variable)
        default = shlex.quote(row.default) if row.default else "none"
        if current is None:
            value = shlex.quote(row.default) if row.default else ""
            print(f"{row.variable}={value}  (unset; default: {default})")
        else:
            print(f"{row.variable}={shlex.quote(current)}  (set; default: {default})")
        print(f"    {row.doc}")
    return 0


# ---- main ----------------------------------------------------------------------------------------

RUN_HELP = """\
Runs CMD with openbf: libbf.so (the openbf CUDA driver, SONAME libcuda.so.1) is appended to
LD_PRELOAD (existing entries stay first) and BF_SERVER names the server, so CMD's CUDA calls
execute on a bf-server's GPU or on the openbf CPU emulator.

The server is --server ADDR, else $BF_SERVER, else a private bf-server that bf run starts on an
abstract unix socket with the emulator backend and stops when CMD ends.

Exit status: CMD's, or 128+N if CMD was killed by signal N; 125 if bf itself failed, 126 if CMD
cannot be executed, 127 if CMD was not found.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bf", description="openbf: CUDA programs on remote GPUs or a CPU "
                                     "emulator.")
    parser.add_argument("--version", action="version", version=f"bf (openbf) {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)

    run = sub.add_parser("run", help="run a program with openbf", description=RUN_HELP,
                         usage="bf run [-h] [--server ADDR] [--] CMD [ARGS...]",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--server", metavar="ADDR",
                     help="bf-server address: HOST:PORT, tcp:HOST:PORT, unix:/path or unix:@name")
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD [ARGS...]",
                     help="the program and its arguments")
    run.set_defaults(func=cmd_run)

    config = sub.add_parser("config", help="list every BF_* variable with its default, value and doc",
                            description="Lists every BF_* environment variable openbf reads, with its "
                            "documentation, its default and its value here, in a form a shell can read.")
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # The reader went away (bf config | head): not an error worth a traceback.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
