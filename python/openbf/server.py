"""bf-server: accepts openbf clients and gives each session its own bf-worker process.

The server does no CUDA work itself. It listens on one or more addresses, and for every accepted
connection starts ``bf-worker --fd 3 --driver PATH --backend B --peer PEER --stats-fd 4`` with the
socket as fd 3 and the write end of a pipe as fd 4. The worker checks the protocol version, loads
the driver and serves the session alone; when it exits it writes one JSON line of statistics to
fd 4, which the server turns into one log line per session.

One thread, one selector: listening sockets, the workers' stats pipes and a signal wake-up pipe.
Nothing in the loop blocks, so a slow or hostile client never holds up the others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from openbf import __version__, paths

log = logging.getLogger("bf-server")

# Exit status for a configuration the server cannot start with (bad or busy address, no driver).
EXIT_USAGE = 2
# How long workers get to finish after SIGTERM before they are killed.
STOP_GRACE_S = 5.0
# How long the CUDA probe subprocess may take (cuInit can be slow on a cold GPU host).
PROBE_TIMEOUT_S = 60.0

# Run in a throwaway interpreter so a driver that hangs or crashes cannot take the server with it,
# and so the server process itself never holds a CUDA context.
_CUDA_PROBE = """
import ctypes, sys
try:
    cuda = ctypes.CDLL("libcuda.so.1")
except OSError:
    sys.exit(1)
count = ctypes.c_int(0)
if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
    sys.exit(1)
print(count.value)
"""


def human_bytes(n: int) -> str:
    """Formats a byte count with binary units: 0 B, 512 B, 1.5 KiB, 3.2 GiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def environment_without_preload() -> dict[str, str]:
    """The server's environment minus LD_PRELOAD: a worker must load the real driver, never libbf.so
    (which carries the SONAME libcuda.so.1) even when bf-server itself was started under bf run."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def cuda_devices_present() -> bool:
    """True when NVIDIA's libcuda.so.1 loads and reports at least one device."""
    try:
        result = subprocess.run([sys.executable, "-c", _CUDA_PROBE], env=environment_without_preload(),
                                stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT_S,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def choose_driver(driver: str | None, backend: str | None) -> tuple[str, str]:
    """Returns (driver path, backend) from the command line, probing for a GPU when neither is given."""
    if driver is not None:
        if "/" in driver and not Path(driver).is_file():
            raise FileNotFoundError(f"driver library {driver} not found")
        if backend is None:
            backend = "emu" if Path(driver).name == "libbfemu.so" else "cuda"
        return driver, backend
    if backend == "emu":
        return str(paths.libbfemu()), "emu"
    if backend == "cuda":
        return "libcuda.so.1", "cuda"
    if cuda_devices_present():
        return "libcuda.so.1", "cuda"
    return str(paths.libbfemu()), "emu"


@dataclass
class Session:
    number: int
    peer: str
    proc: subprocess.Popen[bytes]
    stats_fd: int
    started: float = field(default_factory=time.monotonic)
    stats: bytes = b""
    stats_open: bool = True
    terminated: bool = False  # bf-server sent SIGTERM (it is stopping)


@dataclass
class Listener:
    address: str
    sock: socket.socket
    unlink_path: str | None  # a filesystem unix socket, removed when the server stops


def peer_text(conn: socket.socket, addr: object, listener: Listener) -> str:
    """A printable peer: HOST:PORT for TCP, the listening address and the client's pid for unix."""
    if conn.family == socket.AF_UNIX:
        try:
            creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, _gid = struct.unpack("3i", creds)
            return f"{listener.address} pid {pid} uid {uid}"
        except OSError:
            return listener.address
    if isinstance(addr, tuple) and conn.family == socket.AF_INET6:
        return f"[{addr[0]}]:{addr[1]}"
    if isinstance(addr, tuple):
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


class Server:
    def __init__(self, listeners: list[Listener], driver: str, backend: str) -> None:
        self.listeners = listeners
        self.driver = driver
        self.backend = backend
        self.worker = str(paths.worker())
        self.selector = selectors.DefaultSelector()
        self.sessions: dict[int, Session] = {}  # by worker pid
        self.total = 0
        self.stopping = False
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # ---- setup ---------------------------------------------------------------------------------
    def install_signals(self) -> None:
        """Signals only write to the wake-up pipe; the loop does the work (no logic in handlers)."""
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, self._on_signal)
        self.selector.register(self.wake_r, selectors.EVENT_READ, "wake")
        for listener in self.listeners:
            listener.sock.setblocking(False)
            self.selector.register(listener.sock, selectors.EVENT_READ, listener)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT) and not self.stopping:
            self.stopping = True

    # ---- the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        while not self.stopping:
            for key, _events in self.selector.select(timeout=1.0):
                self._dispatch(key)
                if self.stopping:
                    break
            self._reap()
        self._stop()
        return 0

    def _dispatch(self, key: selectors.SelectorKey) -> None:
        if key.data == "wake":
            with contextlib.suppress(BlockingIOError):
                while os.read(self.wake_r, 512):
                    pass
        elif isinstance(key.data, Listener):
            self._accept(key.data)
        elif isinstance(key.data, Session):
            self._read_stats(key.data)

    def _accept(self, listener: Listener) -> None:
        try:
            conn, addr = listener.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:  # e.g. EMFILE: keep serving the sessions that exist
            log.error("accept on %s failed: %s", listener.address, e.strerror)
            time.sleep(0.1)
            return
        with conn:
            conn.setblocking(True)
            peer = peer_text(conn, addr, listener)
            self.total += 1
            try:
                session = self._spawn(self.total, peer, conn)
            except OSError as e:
                log.error("session %d from %s: cannot start %s: %s", self.total, peer, self.worker, e)
                return
        self.sessions[session.proc.pid] = session
        self.selector.register(session.stats_fd, selectors.EVENT_READ, session)
        log.info("session %d from %s: worker pid %d started (sessions: %d total, %d active)",
                 session.number, peer, session.proc.pid, self.total, len(self.sessions))

    def _spawn(self, number: int, peer: str, conn: socket.socket) -> Session:
        # The worker gets its two descriptors under their own numbers and asks for the parent-death
        # signal itself (--die-with): no Python runs between fork and exec, which a preexec hook
        # would need (and which is unsafe in a forked child).
        stats_r, stats_w = os.pipe2(os.O_CLOEXEC)
        sock_fd = conn.fileno()
        argv = [self.worker, "--fd", str(sock_fd), "--driver", self.driver, "--backend", self.backend,
                "--peer", peer, "--stats-fd", str(stats_w), "--die-with", str(os.getpid())]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, pass_fds=(sock_fd, stats_w),
                                    env=environment_without_preload())
        except BaseException:
            os.close(stats_r)
            raise
        finally:
            os.close(stats_w)
        os.set_blocking(stats_r, False)
        return Session(number, peer, proc, stats_r)

    def _read_stats(self, session: Session) -> None:
        while True:
            try:
                chunk = os.read(session.stats_fd, 4096)
            except BlockingIOError:
                return
            if not chunk:
                self._close_stats(session)
                return
            session.stats += chunk

    def _close_stats(self, session: Session) -> None:
        if session.stats_open:
            self.selector.unregister(session.stats_fd)
            os.close(session.stats_fd)
            session.stats_open = False

    def _reap(self) -> None:
        for pid, session in list(self.sessions.items()):
            if session.proc.poll() is None:
                continue
            if session.stats_open:
                self._read_stats(session)
                self._close_stats(session)
            del self.sessions[pid]
            self._log_end(session)

    def _log_end(self, session: Session) -> None:
        stats = None
        lines = session.stats.decode(errors="replace").strip().splitlines()
        if lines:
            try:
                stats = json.loads(lines[-1])
            except ValueError:
                log.warning("session %d: unreadable stats line from worker: %r", session.number, lines[-1])
        if isinstance(stats, dict):
            who = stats.get("who") or "client unknown"
            reason = stats.get("reason") or "unknown"
            if session.terminated:
                reason = f"{reason} (worker stopped by bf-server)"
            elif session.proc.returncode != 0:
                reason = f"{reason} (worker {describe_exit(session.proc.returncode)})"
            log.info("session %d from %s (%s): %.2f s, %s in, %s out, %d calls, ended: %s",
                     session.number, stats.get("peer") or session.peer, who,
                     float(stats.get("seconds", 0.0)), human_bytes(int(stats.get("bytes_in", 0))),
                     human_bytes(int(stats.get("bytes_out", 0))), int(stats.get("calls", 0)), reason)
        else:
            log.warning("session %d from %s: %.2f s, ended: worker %s without statistics",
                        session.number, session.peer, time.monotonic() - session.started,
                        describe_exit(session.proc.returncode))
        log.info("sessions: %d total, %d active", self.total, len(self.sessions))

    # ---- shutdown ------------------------------------------------------------------------------
    def _stop(self) -> None:
        log.info("stopping: no new sessions; terminating %d worker(s)", len(self.sessions))
        self.close_listeners()
        for session in self.sessions.values():
            session.terminated = True
            with contextlib.suppress(ProcessLookupError):
                session.proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        while self.sessions and time.monotonic() < deadline:
            for key, _events in self.selector.select(timeout=0.05):
                if isinstance(key.data, Session):
                    self._read_stats(key.data)
                elif key.data == "wake":
                    self._dispatch(key)
            self._reap()
        for session in list(self.sessions.values()):
            log.warning("session %d: worker pid %d did not stop in %.0f s; killing it",
                        session.number, session.proc.pid, STOP_GRACE_S)
            session.proc.kill()
            session.proc.wait()
        self._reap()
        log.info("stopped after %d session(s)", self.total)

    def close_listeners(self) -> None:
        for listener in self.listeners:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(listener.sock)
            listener.sock.close()
            if listener.unlink_path:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(listener.unlink_path)
        self.listeners = []


def open_listener(address: str) -> Listener:
    """Binds address through the C transport, so that addresses mean the same as for clients."""
    from openbf import _proto  # the compiled extension; imported here so --help works without it

    fd = _proto.listen(address)
    sock = socket.socket(fileno=fd)
    unlink_path = address[5:] if address.startswith("unix:") and not address.startswith("unix:@") else None
    return Listener(address, sock, unlink_path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bf-server",
        description="Serve openbf clients: one bf-worker process per session, executing on NVIDIA's "
                    "driver or on the openbf CPU emulator.")
    parser.add_argument("--listen", metavar="ADDR", action="append", required=True,
                        help="address to listen on: HOST:PORT, tcp:HOST:PORT, unix:/path or unix:@name "
                             "(repeatable)")
    parser.add_argument("--backend", choices=("emu", "cuda"),
                        help="emu: the CPU emulator; cuda: NVIDIA's libcuda.so.1 "
                             "(default: cuda when a GPU is present, else emu)")
    parser.add_argument("--driver", metavar="PATH",
                        help="driver library the workers load (default: chosen by --backend)")
    parser.add_argument("--ready-fd", metavar="N", type=int,
                        help="write 'ready' and a newline to file descriptor N once listening, then close it")
    parser.add_argument("--log-level", metavar="LEVEL", default="info",
                        choices=("error", "warn", "info", "debug"),
                        help="error, warn, info (default) or debug")
    parser.add_argument("--version", action="version", version=f"bf-server (openbf) {__version__}")
    return parser


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s bf-server %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel({"warn": "WARNING"}.get(level, level.upper()))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)

    listeners: list[Listener] = []
    server: Server | None = None
    try:
        try:
            from openbf._proto import BfError
        except ImportError as e:
            log.error("openbf's compiled extension is missing (%s); build openbf or set BF_BUILD_DIR", e)
            return EXIT_USAGE
        for address in args.listen:
            try:
                listeners.append(open_listener(address))
            except BfError as e:
                log.error("cannot start: %s", e)
                return EXIT_USAGE
        try:
            driver, backend = choose_driver(args.driver, args.backend)
            server = Server(listeners, driver, backend)
        except FileNotFoundError as e:
            log.error("%s", e)
            return EXIT_USAGE
        server.install_signals()
        log.info("openbf %s listening on %s; workers use %s (%s backend), protocol version %d",
                 __version__, ", ".join(li.address for li in listeners), driver, backend,
                 _proto_version())
        if args.ready_fd is not None:
            try:
                os.write(args.ready_fd, b"ready\n")
                os.close(args.ready_fd)
            except OSError as e:
                log.error("cannot write to --ready-fd %d: %s", args.ready_fd, e.strerror)
                return EXIT_USAGE
        return server.run()
    finally:
        if server is not None:
            server.close_listeners()
        else:
            for listener in listeners:
                listener.sock.close()
                if listener.unlink_path:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(listener.unlink_path)


def _proto_version() -> int:
    from openbf import _proto

    return _proto.PROTO_VERSION


if __name__ == "__main__":
    sys.exit(main())
