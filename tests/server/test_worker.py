"""bf-worker end to end: a socketpair client (worker_harness) against the worker and the emulator.

Tests that need no driver (malformed frames, version mismatch, missing HELLO) run everywhere; the
others skip, with the reason, until emulator/libbfemu.so is built.
"""

from __future__ import annotations

import os
import random
import select
import signal
import socket
import struct
import subprocess
import time

import pytest
from openbf import paths
from worker_harness import (
    CUDA_ERROR_INVALID_VALUE,
    CUDA_ERROR_NOT_INITIALIZED,
    DEFAULT_VA_BASE,
    DEVICE,
    FRAME_POSTED,
    FRAME_REPLY,
    HEADER,
    OPS,
    Worker,
    proto_version,
)

pytestmark = pytest.mark.timeout(60)

NO_DRIVER = "/nonexistent/libbfemu.so"
MAX_TAIL = 64 << 20
CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
CUDA_ERROR_INVALID_DEVICE = 101
CUDA_ERROR_INVALID_HANDLE = 400
CUDA_ERROR_NOT_READY = 600


def emulator() -> str:
    try:
        return str(paths.libbfemu())
    except FileNotFoundError as exc:
        pytest.skip(f"needs the emulator: {exc}")


@pytest.fixture
def worker():
    with Worker(driver=emulator(), env={"BF_EMU_CC": "8.6"}) as w:
        yield w


@pytest.fixture
def session(worker):
    reply, devices = worker.hello()
    assert reply.result == 0, reply
    worker.device = devices[0]
    return worker


def nothing_pending(worker: Worker, wait: float = 0.2) -> bool:
    ready, _, _ = select.select([worker.sock], [], [], wait)
    return not ready


# --- session start ------------------------------------------------------------------------------


def test_hello_describes_the_emulated_device(worker):
    reply, devices = worker.hello()
    assert reply.result == 0
    assert reply.fields["proto_version"] == proto_version()
    assert reply.fields["driver_version"] >= 13000
    assert reply.fields["device_count"] == len(devices) == 1
    assert reply.fields["devices_len"] == DEVICE.size == len(reply.tail)
    dev = devices[0]
    assert dev.name
    assert dev.total_mem > 0
    # the emulator's arena sits at the client's address range
    assert (dev.window_base, dev.window_size) == (DEFAULT_VA_BASE, dev.total_mem)
    assert dev.attributes[0] == 0
    assert dev.attributes[CU_DEVICE_ATTRIBUTE_WARP_SIZE] == 32
    assert dev.attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR] == 8
    assert dev.attributes[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR] == 6
    ended = worker.goodbye()
    assert ended.returncode == 0
    assert "session of tester@localhost pid 1: pytest from worker_harness: 1 device" in ended.log


def test_version_mismatch_is_answered_then_the_worker_exits():
    with Worker(driver=NO_DRIVER) as worker:
        reply, devices = worker.hello(version=999)
        assert reply.result == CUDA_ERROR_NOT_INITIALIZED
        assert reply.fields["proto_version"] == proto_version()
        assert devices == []
        ended = worker.wait()
    assert ended.returncode == 1
    message = f"protocol version mismatch: client speaks 999, worker speaks {proto_version()}"
    assert message in ended.log
    assert ended.stats is not None and ended.stats["reason"] == message


def test_driver_that_cannot_load_fails_hello():
    with Worker(driver=NO_DRIVER) as worker:
        reply, _ = worker.hello()
        assert reply.result == CUDA_ERROR_NOT_INITIALIZED
        ended = worker.wait()
    assert ended.returncode == 1
    assert "cannot load driver /nonexistent/libbfemu.so" in ended.log


def test_no_hello_ends_the_session():
    with Worker(driver=NO_DRIVER, hello_timeout_ms=200) as worker:
        ended = worker.wait()
    assert ended.returncode == 1
    assert ended.stats is not None and ended.stats["reason"] == "no hello"
    assert "no HELLO within 200 ms" in ended.log


def test_first_message_must_be_hello():
    with Worker(driver=NO_DRIVER) as worker:
        worker.send("CTX_SYNCHRONIZE", {"device": 0})
        ended = worker.wait()
    assert ended.returncode == 1
    assert "closing session: malformed message: expected HELLO first, got op CTX_SYNCHRONIZE" in ended.log


# --- malformed frames ---------------------------------------------------------------------------


def _frame(op: str, payload: bytes, length: int | None = None, flags: int = 0) -> bytes:
    return HEADER.pack(len(payload) if length is None else length, OPS[op].id, flags, 7) + payload


HTOD = OPS["MEMCPY_HTOD"].request.struct

MALFORMED = {
    "unknown op": (HEADER.pack(0, 200, 0, 1), "unknown op id 200 (frame length 0, flags 0x0)"),
    "truncated payload": (_frame("MEMCPY_HTOD", HTOD.pack(DEFAULT_VA_BASE, 100, 0) + b"x" * 4,
                                 length=HTOD.size + 100),
                          "end of stream inside the payload of op MEMCPY_HTOD after 28 of 124 bytes"),
    "truncated header": (HEADER.pack(8, OPS["CTX_SYNCHRONIZE"].id, 0, 1)[:5],
                         "end of stream inside a frame header after 5 of 16 bytes"),
    "tail length disagrees": (_frame("MEMCPY_HTOD", HTOD.pack(DEFAULT_VA_BASE, 10, 0) + b"y" * 5),
                              "op MEMCPY_HTOD: frame length 29 disagrees with its tail length field "
                              "(fixed part 24 bytes)"),
    "too long": (_frame("MEMCPY_HTOD", b"", length=HTOD.size + MAX_TAIL + 1),
                 f"op MEMCPY_HTOD: frame length {HTOD.size + MAX_TAIL + 1} exceeds its fixed part"),
    "shorter than fixed part": (_frame("CTX_SYNCHRONIZE", b"\0\0"),
                                "op CTX_SYNCHRONIZE: frame length 2 is shorter than its fixed part "
                                "(4 bytes)"),
    "tail on a tailless op": (_frame("CTX_SYNCHRONIZE", b"\0" * 8),
                              "op CTX_SYNCHRONIZE: takes no tail, but frame length 8 leaves 4 bytes"),
    "reply flag": (_frame("CTX_SYNCHRONIZE", b"\0" * 4, flags=FRAME_REPLY),
                   "op CTX_SYNCHRONIZE: flags 0x1 are not those of a waited request"),
    "posted waited op": (_frame("MEM_ALLOC", b"\0" * 12, flags=FRAME_POSTED),
                         "op MEM_ALLOC: flags 0x2 are not those of a waited request"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_message_ends_the_session_with_its_reason(case):
    data, reason = MALFORMED[case]
    with Worker(driver=NO_DRIVER) as worker:
        worker.send_raw(data)
        worker.sock.shutdown(socket.SHUT_WR)
        ended = worker.wait()
    assert ended.returncode == 1
    assert f"closing session: malformed message: {reason}" in ended.log
    assert ended.stats is not None and ended.stats["reason"].startswith("malformed message: ")


def test_malformed_message_after_hello_releases_the_session(session):
    session.alloc(4096)
    session.send_raw(_frame("MEMCPY_HTOD", HTOD.pack(DEFAULT_VA_BASE, 10, 0) + b"y" * 5))
    ended = session.wait()
    assert ended.returncode == 1
    assert "disagrees with its tail length field" in ended.log
    assert ended.stats["allocations_live_at_end"] == 1
    assert "freed 1 allocations (4096 bytes)" in ended.log


def test_second_hello_is_malformed(session):
    session.send("HELLO", {"proto_version": proto_version(), "va_base": DEFAULT_VA_BASE,
                           "va_size": 1 << 40})
    ended = session.wait()
    assert ended.returncode == 1
    assert "malformed message: a second HELLO" in ended.log


# --- memory -------------------------------------------------------------------------------------


def test_alloc_copy_round_trip(session):
    size = 1 << 20
    a = session.alloc(size)
    b = session.alloc(size)
    window = session.device
    for ptr in (a, b):
        assert window.window_base <= ptr and ptr + size <= window.window_base + window.window_size
    data = os.urandom(size)
    session.post("MEMCPY_HTOD", {"dst": a, "size": size}, data)
    reply = session.call("MEMCPY_DTOH", {"src": a, "size": size})
    assert (reply.result, reply.fields["size"], reply.tail) == (0, size, data)

    session.post("MEMCPY_DTOD", {"dst": b, "src": a + 100, "size": 1000})
    assert session.call("MEMCPY_DTOH", {"src": b, "size": 1000}).tail == data[100:1100]

    session.post("MEMSET", {"dst": b, "value": 0xAB, "element_size": 1, "count": 16})
    session.post("MEMSET", {"dst": b + 16, "value": 0x0102, "element_size": 2, "count": 2})
    session.post("MEMSET", {"dst": b + 20, "value": 0x01020304, "element_size": 4, "count": 2})
    expected = b"\xab" * 16 + struct.pack("<2H", 0x0102, 0x0102) + struct.pack("<2I", 0x01020304, 0x01020304)
    assert session.call("MEMCPY_DTOH", {"src": b, "size": 28}).tail == expected

    info = session.call("MEM_GET_INFO", {"device": 0})
    assert info.result == 0
    assert info.fields["total"] == session.device.total_mem
    assert 0 < info.fields["free"] <= info.fields["total"] - 2 * size

    session.post("MEM_FREE", {"dptr": a})
    assert session.call("MEMCPY_DTOH", {"src": a, "size": 1}).result == CUDA_ERROR_INVALID_VALUE
    assert session.sync() == 0
    ended = session.goodbye()
    assert ended.returncode == 0
    assert ended.stats["reason"] == "client closed"
    assert ended.stats["allocations_live_at_end"] == 1


def test_pitched_2d_copies_and_memset(session):
    width, height = 100, 8
    reply = session.call("MEM_ALLOC_PITCH", {"device": 0, "width": width, "height": height,
                                              "element_size": 4})
    assert reply.result == 0
    ptr, pitch = reply.fields["dptr"], reply.fields["pitch"]
    assert pitch >= width
    rows = os.urandom(width * height)
    session.post("MEMCPY_2D_HTOD", {"dst": ptr, "dst_pitch": pitch, "width": width,
                                    "height": height}, rows)
    back = session.call("MEMCPY_2D_DTOH", {"src": ptr, "src_pitch": pitch, "width": width,
                                            "height": height})
    assert (back.result, back.fields["size"], back.tail) == (0, width * height, rows)

    # copy the 8x100 block to a second pitched allocation, shifted by 10 bytes, then memset a column
    other = session.call("MEM_ALLOC_PITCH", {"device": 0, "width": 200, "height": height,
                                              "element_size": 4}).fields
    session.post("MEMCPY_2D_DTOD", {"dst": other["dptr"] + 10, "dst_pitch": other["pitch"],
                                    "src": ptr, "src_pitch": pitch, "width": width,
                                    "height": height})
    session.post("MEMSET_2D", {"dst": other["dptr"], "pitch": other["pitch"], "value": 0x7F,
                               "element_size": 1, "width": 10, "height": height})
    back = session.call("MEMCPY_2D_DTOH", {"src": other["dptr"], "src_pitch": other["pitch"],
                                            "width": 10 + width, "height": height})
    assert back.result == 0
    for row in range(height):
        got = back.tail[row * (10 + width):(row + 1) * (10 + width)]
        assert got == b"\x7f" * 10 + rows[row * width:(row + 1) * width]
    assert session.sync() == 0


def test_bad_pointers_are_refused_and_the_session_keeps_working(session):
    size = 4096
    ptr = session.alloc(size)
    bad_reads = [
        (0x1000, 16),                     # a host address of the worker
        (ptr + size, 1),                  # just past the allocation
        (ptr + size - 8, 16),             # straddles its end
        (ptr - 8, 16),                    # begins before it
        (ptr, 1 << 63),                   # absurd size
        (ptr, MAX_TAIL + 1),              # larger than one reply may carry
        (DEFAULT_VA_BASE + (1 << 39), 8),  # inside the window, never allocated
    ]
    for src, length in bad_reads:
        reply = session.call("MEMCPY_DTOH", {"src": src, "size": length})
        assert reply.result == CUDA_ERROR_INVALID_VALUE, (hex(src), length)
        assert reply.tail == b""
    # 2D: the last row leaves the allocation; width larger than pitch
    assert session.call("MEMCPY_2D_DTOH", {"src": ptr, "src_pitch": 1024, "width": 512,
                                           "height": 5}).result == CUDA_ERROR_INVALID_VALUE
    assert session.call("MEMCPY_2D_DTOH", {"src": ptr, "src_pitch": 16, "width": 32,
                                           "height": 2}).result == CUDA_ERROR_INVALID_VALUE
    assert session.call("MEMCPY_2D_DTOH", {"src": ptr, "src_pitch": 1024, "width": 512,
                                           "height": 4}).result == 0
    # the same checks answered at once when a posted op is sent waited
    bad_ops = [
        ("MEMCPY_HTOD", {"dst": ptr + 1, "size": size}, b"z" * size),
        ("MEMCPY_DTOD", {"dst": ptr, "src": 0x1000, "size": 8}, b""),
        ("MEMSET", {"dst": ptr, "value": 0, "element_size": 3, "count": 4}, b""),
        ("MEMSET", {"dst": ptr, "value": 0, "element_size": 4, "count": 1025}, b""),
        ("MEMSET_2D", {"dst": ptr, "pitch": 64, "value": 0, "element_size": 4, "width": 17,
                       "height": 1}, b""),
        ("MEMCPY_2D_HTOD", {"dst": ptr, "dst_pitch": 64, "width": 64, "height": 2, "size": 100},
         b"q" * 100),
        ("MEM_FREE", {"dptr": ptr + 8}, b""),
    ]
    for op, fields, tail in bad_ops:
        request_id = session.send(op, fields, tail, posted=False)
        reply = session.recv()
        assert (reply.op, reply.request_id, reply.result) == (op, request_id,
                                                              CUDA_ERROR_INVALID_VALUE), op
    assert session.call("MEM_ALLOC", {"device": 3, "bytesize": 16}).result == CUDA_ERROR_INVALID_DEVICE
    assert session.call("MEM_ALLOC", {"device": 0, "bytesize": 0}).result == CUDA_ERROR_INVALID_VALUE
    # nothing was latched by the waited forms, and the allocation is intact and usable
    assert session.sync() == 0
    data = os.urandom(size)
    session.post("MEMCPY_HTOD", {"dst": ptr, "size": size}, data)
    assert session.call("MEMCPY_DTOH", {"src": ptr, "size": size}).tail == data


def test_posted_error_is_latched_and_returned_once(session):
    ptr = session.alloc(64)
    session.post("MEMSET", {"dst": 0x1000, "value": 1, "element_size": 1, "count": 8})
    session.post("MEM_FREE", {"dptr": 0xDEAD0000})   # a second error: only the first is kept
    session.post("MEMSET", {"dst": ptr, "value": 5, "element_size": 1, "count": 64})
    assert nothing_pending(session), "posted ops must not be answered"
    assert session.sync() == CUDA_ERROR_INVALID_VALUE
    assert session.sync() == 0
    # the synchronous copy to the host reports it too, in place of its data
    session.post("MEMCPY_HTOD", {"dst": ptr + 60, "size": 8}, b"12345678")
    reply = session.call("MEMCPY_DTOH", {"src": ptr, "size": 64})
    assert (reply.result, reply.tail) == (CUDA_ERROR_INVALID_VALUE, b"")
    reply = session.call("MEMCPY_DTOH", {"src": ptr, "size": 64})
    assert (reply.result, reply.tail) == (0, b"\x05" * 64)
    session.post("MEM_FREE", {"dptr": ptr})
    session.post("MEM_FREE", {"dptr": ptr})            # double free
    reply = session.call("MEMCPY_2D_DTOH", {"src": DEFAULT_VA_BASE, "src_pitch": 8, "width": 8,
                                             "height": 1})
    assert reply.result == CUDA_ERROR_INVALID_VALUE    # its own error wins over the latched one
    assert session.sync() == CUDA_ERROR_INVALID_VALUE  # which is still there
    assert session.sync() == 0


def test_trace_fetch_latches_again_what_the_exit_took(session):
    # bf-trace's exit (docs/trace.md): its CTX_SYNCHRONIZE takes the latched error, and its first
    # TRACE_FETCH hands it back, so the program's next synchronisation still gets it.
    session.post("MEMSET", {"dst": 0x1000, "value": 1, "element_size": 1, "count": 8})
    assert session.sync() == CUDA_ERROR_INVALID_VALUE
    reply = session.call("TRACE_FETCH", {"max_spans": 16, "relatch": CUDA_ERROR_INVALID_VALUE})
    assert (reply.result, reply.fields["count"]) == (0, 0)
    assert session.sync() == CUDA_ERROR_INVALID_VALUE
    assert session.sync() == 0
    assert session.call("TRACE_FETCH", {"max_spans": 16, "relatch": 0}).result == 0
    assert session.sync() == 0


def test_client_heartbeat_is_ignored(session):
    session.post("HEARTBEAT", {"sequence": 1})
    assert nothing_pending(session)
    assert session.sync() == 0


def test_ctx_reset_forgets_the_device_allocations(session):
    old = session.alloc(1 << 16)
    reply = session.call("CTX_RESET", {"device": 0})
    assert reply.result == 0
    assert session.call("MEMCPY_DTOH", {"src": old, "size": 8}).result == CUDA_ERROR_INVALID_VALUE
    new = session.alloc(1 << 16)
    session.post("MEMCPY_HTOD", {"dst": new, "size": 4}, b"abcd")
    assert session.call("MEMCPY_DTOH", {"src": new, "size": 4}).tail == b"abcd"
    ended = session.goodbye()
    assert ended.stats["allocations_live_at_end"] == 1


# --- heartbeats and the end of a session --------------------------------------------------------


def test_heartbeats_while_a_long_op_executes():
    with Worker(driver=emulator(), env={"BF_HEARTBEAT_INTERVAL_MS": "2"}) as worker:
        assert worker.hello()[0].result == 0
        size = 256 << 20
        ptr = worker.alloc(size)
        for value in range(4):
            worker.post("MEMSET", {"dst": ptr, "value": value, "element_size": 4,
                                   "count": size // 4})
        assert worker.sync() == 0
        assert worker.heartbeats, "no heartbeat while 1 GiB was being set"
        for beat in worker.heartbeats:
            assert (beat.flags, beat.request_id) == (FRAME_POSTED, 0)
        sequences = [beat.fields["sequence"] for beat in worker.heartbeats]
        assert sequences == sorted(sequences) and sequences[0] >= 1
        # An idle worker falls silent: a busy period ends one interval (2 ms here) after its last
        # op, so at most a heartbeat or two may still trail the reply.
        deadline = time.monotonic() + 1.0
        while not nothing_pending(worker, 0.05) and time.monotonic() < deadline:
            assert worker.recv(timeout=1.0).op == "HEARTBEAT"
        assert nothing_pending(worker, 0.1)
        worker.goodbye()


def test_stats_line_proves_a_vanished_client_was_released(session):
    session.alloc(4096)
    session.alloc(8192)
    kept = session.alloc(100)
    session.post("MEM_FREE", {"dptr": kept})
    assert session.sync() == 0
    started = time.monotonic()
    session.sock.close()   # the client dies without GOODBYE
    ended = session.wait()
    assert ended.returncode == 0
    stats = ended.stats
    assert stats is not None
    assert stats["who"] == "tester@localhost pid 1: pytest"
    assert stats["peer"] == "worker_harness"
    assert stats["reason"] == "connection closed without goodbye"
    assert stats["calls"] == 5
    assert stats["allocations_live_at_end"] == 2
    assert stats["bytes_live_at_end"] == 4096 + 8192
    assert stats["bytes_in"] > HEADER.size * 6 and stats["bytes_out"] > DEVICE.size
    assert 0 <= stats["seconds"] < 60 + time.monotonic() - started
    assert ("session ended: connection closed without goodbye; tester@localhost pid 1: pytest; "
            in ended.log)
    assert "5 calls" in ended.log and "freed 2 allocations (12288 bytes)" in ended.log


def test_sigterm_ends_the_session_cleanly(session):
    session.alloc(4096)
    session.terminate()
    ended = session.wait()
    assert ended.returncode == 0
    assert ended.stats["reason"] == "terminated by SIGTERM"
    assert ended.stats["allocations_live_at_end"] == 1


# --- robustness and the cuda backend's fallback -------------------------------------------------


def test_random_well_formed_requests_never_break_the_worker(session):
    """Random field values in well-formed frames: every one is checked, none crashes the worker."""
    rng = random.Random(1234)
    base = session.alloc(1 << 16)
    pointers = [0, 0x1000, base, base + 8, base + (1 << 16) - 1, base + (1 << 16), base - 1,
                DEFAULT_VA_BASE, 2**64 - 1]
    sizes = [0, 1, 7, 8, 4096, 1 << 16, (1 << 16) + 1, 2**32, 2**63, 2**64 - 1]
    ops = [op for op in OPS.values() if op.name not in ("HELLO", "GOODBYE", "CTX_RESET")]
    for _ in range(300):
        op = rng.choice(ops)
        fields = {}
        for kind, name in op.request.fields:
            if kind == "DEVPTR":
                fields[name] = rng.choice(pointers) + rng.choice([0, 0, 1, 64])
            elif kind == "U32":
                fields[name] = rng.choice([0, 1, 2, 3, 4, 8, 16, 2**31, 2**32 - 1])
            elif kind == "I32":
                fields[name] = rng.choice([0, -1, 5, -5, 2**31 - 1, -2**31])
                continue
            elif kind == "HANDLE":
                fields[name] = rng.choice([0, 1, 63, 64, 65, 2**64 - 1])
                continue
            else:
                fields[name] = rng.choice(sizes)
            fields[name] %= 2**32 if kind == "U32" else 2**64
        tail = b""
        if op.request.tail is not None:
            tail = rng.randbytes(rng.choice([0, 1, 100, 4096]))
            fields[op.request.tail] = len(tail)
        if op.mode == "BF_POSTED":
            session.send(op.name, fields, tail)
        else:
            reply = session.call(op.name, fields, tail)
            # Limits and cache settings are the driver's to judge (CUDA_ERROR_UNSUPPORTED_LIMIT, ...).
            settings = ("CTX_SET_LIMIT", "CTX_GET_LIMIT", "CTX_SET_CACHE_CONFIG", "CTX_GET_CACHE_CONFIG",
                        "CTX_RESET_PERSISTING_L2")
            if op.name.startswith(("MEM", "CTX", "STREAM", "EVENT")) and op.name not in settings:
                assert reply.result in (0, CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_DEVICE, 2,
                                        CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_NOT_READY), reply
            else:  # other families (code loading) refuse garbage with errors of their own
                assert 0 <= reply.result < 1000, reply
    session.sync()
    fresh = session.alloc(64)   # base may have been freed by one of the random requests
    data = os.urandom(64)
    session.post("MEMCPY_HTOD", {"dst": fresh, "size": 64}, data)
    assert session.call("MEMCPY_DTOH", {"src": fresh, "size": 64}).tail == data
    ended = session.goodbye()
    assert ended.returncode == 0, ended.log


def test_cuda_backend_without_vmm_falls_back_to_cuMemAlloc():
    """The emulator has no VMM calls: on the cuda backend the worker must say the window is not
    enforced and still serve the session, resetting the context at the end."""
    with Worker(driver=emulator(), backend="cuda") as worker:
        reply, devices = worker.hello()
        assert reply.result == 0
        assert (devices[0].window_base, devices[0].window_size) == (DEFAULT_VA_BASE, 1 << 40)
        ptr = worker.alloc(4096)
        worker.post("MEMCPY_HTOD", {"dst": ptr, "size": 5}, b"hello")
        assert worker.call("MEMCPY_DTOH", {"src": ptr, "size": 5}).tail == b"hello"
        ended = worker.goodbye()
    assert ended.returncode == 0
    assert "is not enforced" in ended.log
    assert ended.stats["allocations_live_at_end"] == 1


@pytest.mark.timeout(60)
def test_fatal_signal_leaves_a_backtrace_in_the_log():
    # A crash of the worker or its driver must not be silent: bf-server logs "killed by SIGSEGV",
    # and the worker's own log says where. (Under AddressSanitizer the sanitizer reports instead.)
    if "asan" in str(paths.worker()):
        pytest.skip("the ASan worker leaves fatal signals to the sanitizer's report")
    with Worker() as worker:
        reply, _devices = worker.hello()
        assert reply.result == 0
        worker.proc.send_signal(signal.SIGSEGV)
        ended = worker.wait()
    assert ended.returncode == -signal.SIGSEGV
    assert "bf-worker: fatal signal 11 (Segmentation fault)" in ended.log, ended.log
    assert "bf-worker(" in ended.log or "bf_srv_" in ended.log or "libc.so" in ended.log, ended.log


@pytest.mark.timeout(60)
def test_worker_ends_its_session_when_the_parent_named_by_die_with_is_gone():
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with parent, child:
        run = subprocess.run([str(paths.worker()), "--fd", str(child.fileno()), "--driver", "unused",
                              "--backend", "emu", "--peer", "test", "--die-with", "1"],
                             pass_fds=(child.fileno(),), capture_output=True, text=True, timeout=30,
                             check=False)
    assert run.returncode == 1
    assert "parent 1 is gone before the session started" in run.stderr
