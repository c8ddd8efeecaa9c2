"""bf-server: concurrent sessions, one worker each, bad clients, version mismatch, shutdown."""

import os
import signal
import socket
import subprocess
import sys

import pytest
from bfhelpers import RawClient, make_address, proc_cmdline, proc_ppid, require_built, tool_env

pytestmark = pytest.mark.timeout(120)

CUDA_ERROR_NOT_INITIALIZED = 3


def test_concurrent_clients_get_their_own_workers(start_server, address):
    server = start_server(address)
    clients = [RawClient(address) for _ in range(3)]
    try:
        for n, client in enumerate(clients):
            fields, devices = client.hello(who=f"pytest client {n}")
            assert fields["result"] == 0
            assert fields["proto_version"] == client.proto.PROTO_VERSION
            assert fields["device_count"] >= 1
            assert len(devices) == fields["device_count"] * client.proto.DEVICE_SIZE
        pids = server.worker_pids(3)
        assert len(set(pids)) == 3, f"expected three different workers, got {pids}"
        for pid in pids:
            assert proc_ppid(pid) == server.proc.pid
            assert "bf-worker" in (proc_cmdline(pid) or "")
        # All three sessions are alive at once and each is served.
        for client in clients:
            info, _ = client.call("MEM_GET_INFO", {"device": 0})
            assert info["result"] == 0 and info["total"] > 0
    finally:
        for client in clients:
            client.close()
    ended = server.wait_log(r"session (\d+) from .*\((pytest client \d)\): [\d.]+ s, .* in, .* out, "
                            r"\d+ calls?, ended: .+", 3)
    assert sorted(m.group(2) for m in ended) == ["pytest client 0", "pytest client 1", "pytest client 2"]
    server.wait_log(r"sessions: 3 total, 0 active")
    assert server.stop() == 0


def test_version_mismatch_is_refused_clearly(start_server, address):
    server = start_server(address)
    client = RawClient(address)
    try:
        fields, _ = client.hello(version=client.proto.PROTO_VERSION + 100)
        assert fields["result"] == CUDA_ERROR_NOT_INITIALIZED
        assert fields["proto_version"] == client.proto.PROTO_VERSION
        assert client.is_closed_by_peer()
    finally:
        client.close()
    server.wait_log(r"session 1 from .*ended: .*version")
    assert server.stop() == 0


def test_garbage_client_is_dropped_while_others_work(start_server, address):
    server = start_server(address)
    good = RawClient(address)
    bad = RawClient(address)
    try:
        assert good.hello(who="good client")[0]["result"] == 0
        bad.sock.sendall(b"\xff" * 64)
        assert bad.is_closed_by_peer(), "the worker must close a connection that sends garbage"
        line = server.wait_log(r"session (\d+) from .*ended: (.+)")[0]
        assert line.group(2).strip(), "the log must say why the session ended"
        # The good session is unaffected.
        alloc, _ = good.call("MEM_ALLOC", {"device": 0, "bytesize": 4096})
        assert alloc["result"] == 0 and alloc["dptr"] != 0
        info, _ = good.call("MEM_GET_INFO", {"device": 0})
        assert info["result"] == 0 and info["free"] < info["total"]
    finally:
        good.close()
        bad.close()
    server.wait_log(r"\(good client\).*ended: ")
    assert server.stop() == 0


def test_sigterm_stops_server_and_workers(start_server, address):
    server = start_server(address)
    clients = [RawClient(address) for _ in range(2)]
    try:
        for client in clients:
            assert client.hello()[0]["result"] == 0
        pids = server.worker_pids(2)
        assert all(proc_cmdline(pid) for pid in pids)
        assert server.stop() == 0
        for pid in pids:
            left = proc_cmdline(pid)
            assert left is None or "bf-worker" not in left, f"worker {pid} left behind"
        for client in clients:
            assert client.is_closed_by_peer()
    finally:
        for client in clients:
            client.close()
    assert "stopped after 2 session(s)" in server.log()


def test_listens_on_several_addresses(start_server):
    tcp, unix = make_address("tcp"), make_address("unix")
    server = start_server(tcp, unix)
    for address in (tcp, unix):
        client = RawClient(address)
        try:
            assert client.hello()[0]["result"] == 0
        finally:
            client.close()
    server.wait_log(r"ended: ", 2)
    assert server.stop() == 0


def test_unix_path_socket_is_removed_on_exit(start_server, tmp_path):
    path = tmp_path / "bf.sock"
    server = start_server(f"unix:{path}")
    assert path.is_socket()
    client = RawClient(f"unix:{path}")
    try:
        assert client.hello()[0]["result"] == 0
    finally:
        client.close()
    assert server.stop() == 0
    assert not path.exists()


# ---- refusing to start ----------------------------------------------------------------------------

def run_server(*args: str) -> subprocess.CompletedProcess[str]:
    require_built("_proto", "worker", "libbfemu")
    return subprocess.run([sys.executable, "-m", "openbf.server", "--backend", "emu", *args], env=tool_env(),
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False)


@pytest.mark.parametrize("bad", ["nonsense", "unix:", "127.0.0.1:", "tcp:no-such-host.invalid:1"])
def test_bad_address_is_refused(bad):
    result = run_server("--listen", bad)
    assert result.returncode == 2
    assert "cannot start" in result.stderr and bad.removeprefix("tcp:").split(":")[0] in result.stderr


def test_busy_tcp_address_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_server("--listen", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert "in use" in result.stderr


def test_busy_abstract_address_is_refused():
    name = make_address("unix")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as taken:
        taken.bind("\0" + name[len("unix:@"):])
        taken.listen()
        result = run_server("--listen", "127.0.0.1:0", "--listen", name)
    assert result.returncode == 2
    assert "in use" in result.stderr


def test_missing_driver_is_refused(tmp_path):
    result = run_server("--listen", make_address("unix"), "--driver", str(tmp_path / "libnothing.so"))
    assert result.returncode == 2
    assert "libnothing.so" in result.stderr


def test_ready_fd_and_clean_exit_on_sigint(tmp_path):
    require_built("_proto", "worker", "libbfemu")
    ready_r, ready_w = os.pipe()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "openbf.server", "--listen", make_address("unix"),
                                 "--backend", "emu", "--ready-fd", str(ready_w)], env=tool_env(),
                                stdout=out, stderr=out, pass_fds=(ready_w,))
    os.close(ready_w)
    try:
        with os.fdopen(ready_r, "rb") as ready:
            assert ready.readline() == b"ready\n"
            assert ready.read() == b"", "bf-server must close the ready fd after writing"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "listening on" in text and "stopped" in text
    # Log lines carry a timestamp.
    assert text.splitlines()[0][:4].isdigit()


def test_session_log_uses_human_units():
    from openbf.server import human_bytes

    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 1024**3) == "3.0 GiB"


def test_worker_survives_clients_disconnecting_abruptly(start_server, address):
    """A client that vanishes mid-session only ends its own session."""
    server = start_server(address)
    survivor = RawClient(address)
    try:
        assert survivor.hello(who="survivor")[0]["result"] == 0
        for _ in range(3):
            quitter = RawClient(address)
            assert quitter.hello()[0]["result"] == 0
            quitter.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST on close
            quitter.close()
        server.wait_log(r"ended: ", 3)
        info, _ = survivor.call("MEM_GET_INFO", {"device": 0})
        assert info["result"] == 0
    finally:
        survivor.close()
    assert server.stop() == 0


# ---- choosing the driver --------------------------------------------------------------------------

def test_driver_choice():
    require_built("libbfemu")
    from openbf import paths
    from openbf.server import choose_driver

    emu = str(paths.libbfemu())
    assert choose_driver(None, "emu") == (emu, "emu")
    assert choose_driver(None, "cuda") == ("libcuda.so.1", "cuda")
    assert choose_driver(emu, None) == (emu, "emu")
    assert choose_driver(emu, "cuda") == (emu, "cuda")
    assert choose_driver("libcuda.so.1", None) == ("libcuda.so.1", "cuda")
    with pytest.raises(FileNotFoundError):
        choose_driver("/nonexistent/libcuda.so.1", None)


def test_default_backend_follows_the_gpu_probe(start_server):
    from openbf.server import cuda_devices_present

    server = start_server(make_address("unix"), backend=None)
    expected = "(cuda backend)" if cuda_devices_present() else "(emu backend)"
    assert expected in server.log()
    assert server.stop() == 0
