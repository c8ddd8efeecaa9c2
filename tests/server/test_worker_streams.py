"""bf-worker's scheduler: streams, events and the order of posted work (worker_harness client).

What the client relies on: each stream runs in order, streams run concurrently, the legacy default
stream's rules hold (it waits for blocking streams and they wait for it; non-blocking streams take
no part), events order streams against each other, frees and resets never overlap other work, the
reader keeps answering while a stream is busy, and replies come in the order the client needs (a
copy's reply before the reply of a synchronisation ordered after it).

Timing-based checks use work that takes the emulator long (a memset of hundreds of MiB) against
answers that take microseconds, with wide margins.
"""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest
from openbf import paths
from worker_harness import (
    CUDA_ERROR_INVALID_VALUE,
    FRAME_POSTED,
    FRAME_REPLY,
    Worker,
)

pytestmark = pytest.mark.timeout(120)

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_DEVICE = 101
CUDA_ERROR_INVALID_HANDLE = 400
CUDA_ERROR_NOT_READY = 600
CU_STREAM_NON_BLOCKING = 1
CU_EVENT_DISABLE_TIMING = 2
LEGACY = 0  # stream id of device 0's legacy default stream
BIG = 512 << 20  # a memset the emulator needs a while for


def emulator() -> str:
    try:
        return str(paths.libbfemu())
    except FileNotFoundError as exc:
        pytest.skip(f"needs the emulator: {exc}")


class Session:
    """A greeted worker session with helpers for stream and event ids (chosen here, as libbf
    does)."""

    def __init__(self, worker: Worker) -> None:
        self.w = worker
        reply, _ = worker.hello()
        assert reply.result == CUDA_SUCCESS, reply
        self._next_stream = 64
        self._next_event = 1

    def stream(self, flags: int = 0, priority: int = 0) -> int:
        sid = self._next_stream
        self._next_stream += 1
        self.w.post("STREAM_CREATE", {"stream": sid, "device": 0, "flags": flags, "priority": priority})
        return sid

    def event(self, flags: int = 0) -> int:
        eid = self._next_event
        self._next_event += 1
        self.w.post("EVENT_CREATE", {"event": eid, "device": 0, "flags": flags})
        return eid

    def memset(self, dst: int, value: int, count: int, stream: int, element_size: int = 1) -> None:
        self.w.post("MEMSET", {"dst": dst, "value": value, "element_size": element_size,
                               "count": count, "stream": stream})

    def read(self, src: int, size: int, stream: int = LEGACY, timeout: float = 60.0):
        return self.w.call("MEMCPY_DTOH", {"src": src, "size": size, "stream": stream}, timeout=timeout)

    def sync_stream(self, stream: int, timeout: float = 60.0) -> int:
        return self.w.call("STREAM_SYNCHRONIZE", {"stream": stream}, timeout=timeout).result

    def query_stream(self, stream: int) -> int:
        return self.w.call("STREAM_QUERY", {"stream": stream}).result

    def record(self, event: int, stream: int) -> None:
        self.w.post("EVENT_RECORD", {"event": event, "stream": stream, "flags": 0})

    def wait_event(self, stream: int, event: int) -> None:
        self.w.post("STREAM_WAIT_EVENT", {"stream": stream, "event": event, "flags": 0})


@pytest.fixture
def s():
    with Worker(driver=emulator()) as worker:
        yield Session(worker)


def timed(fn, *args, **kwargs):
    start = time.monotonic()
    value = fn(*args, **kwargs)
    return value, time.monotonic() - start


# --- objects and their errors -------------------------------------------------------------------


def test_stream_ids_are_checked(s):
    a = s.stream()
    s.w.post("STREAM_CREATE", {"stream": a, "device": 0, "flags": 0, "priority": 0})  # taken
    assert s.w.sync() == CUDA_ERROR_INVALID_VALUE
    s.w.post("STREAM_CREATE", {"stream": 5, "device": 0, "flags": 0, "priority": 0})  # legacy range
    assert s.w.sync() == CUDA_ERROR_INVALID_VALUE
    s.w.post("STREAM_CREATE", {"stream": 900, "device": 0, "flags": 4, "priority": 0})  # bad flags
    assert s.w.sync() == CUDA_ERROR_INVALID_VALUE
    s.w.post("STREAM_CREATE", {"stream": 901, "device": 7, "flags": 0, "priority": 0})
    assert s.w.sync() == CUDA_ERROR_INVALID_DEVICE
    assert s.sync_stream(a) == CUDA_SUCCESS
    assert s.sync_stream(LEGACY) == CUDA_SUCCESS
    assert s.sync_stream(1) == CUDA_ERROR_INVALID_HANDLE      # no device 1
    assert s.sync_stream(12345) == CUDA_ERROR_INVALID_HANDLE  # never created
    s.w.post("STREAM_DESTROY", {"stream": a})
    assert s.sync_stream(a) == CUDA_ERROR_INVALID_HANDLE      # destroyed
    s.w.post("STREAM_DESTROY", {"stream": LEGACY})           # the legacy stream is not destroyable
    assert s.w.sync() == CUDA_ERROR_INVALID_HANDLE
    assert s.w.sync() == CUDA_SUCCESS


def test_priority_range(s):
    reply = s.w.call("STREAM_PRIORITY_RANGE", {"device": 0})
    assert reply.result == CUDA_SUCCESS
    assert reply.fields["greatest"] <= 0 <= reply.fields["least"]
    assert s.w.call("STREAM_PRIORITY_RANGE", {"device": 3}).result == CUDA_ERROR_INVALID_DEVICE


def test_event_answers(s):
    a = s.stream()
    timed_ev, untimed = s.event(), s.event(CU_EVENT_DISABLE_TIMING)
    assert s.w.call("EVENT_QUERY", {"event": timed_ev}).result == CUDA_SUCCESS  # never recorded
    assert s.w.call("EVENT_SYNCHRONIZE", {"event": timed_ev}).result == CUDA_SUCCESS
    elapsed = s.w.call("EVENT_ELAPSED_TIME", {"start": timed_ev, "end": timed_ev})
    assert elapsed.result == CUDA_ERROR_INVALID_HANDLE  # never recorded
    s.record(untimed, a)
    s.record(timed_ev, a)
    assert s.w.call("EVENT_SYNCHRONIZE", {"event": untimed}).result == CUDA_SUCCESS
    assert s.w.call("EVENT_ELAPSED_TIME", {"start": timed_ev, "end": untimed}).result == \
        CUDA_ERROR_INVALID_HANDLE  # timing disabled
    assert s.w.call("EVENT_QUERY", {"event": 999}).result == CUDA_ERROR_INVALID_HANDLE
    s.w.post("EVENT_CREATE", {"event": timed_ev, "device": 0, "flags": 0})  # id taken
    s.w.post("EVENT_CREATE", {"event": 77, "device": 0, "flags": 0x100})    # bad flags
    assert s.w.sync() == CUDA_ERROR_INVALID_VALUE
    s.w.post("EVENT_DESTROY", {"event": untimed})
    assert s.w.call("EVENT_QUERY", {"event": untimed}).result == CUDA_ERROR_INVALID_HANDLE
    assert s.w.sync() == CUDA_SUCCESS


def test_elapsed_time_comes_from_records_around_the_work(s):
    ptr = s.w.alloc(BIG)
    a = s.stream()
    start, mid, end = s.event(), s.event(), s.event()
    s.record(start, a)
    s.record(mid, a)
    s.memset(ptr, 1, BIG, a)
    s.record(end, a)
    assert s.w.call("EVENT_SYNCHRONIZE", {"event": end}).result == CUDA_SUCCESS
    near = s.w.call("EVENT_ELAPSED_TIME", {"start": start, "end": mid})
    far = s.w.call("EVENT_ELAPSED_TIME", {"start": start, "end": end})
    assert near.result == far.result == CUDA_SUCCESS
    near_ms = struct.unpack("<f", struct.pack("<I", near.fields["milliseconds_bits"]))[0]
    far_ms = struct.unpack("<f", struct.pack("<I", far.fields["milliseconds_bits"]))[0]
    assert 0 <= near_ms < far_ms, (near_ms, far_ms)
    assert far_ms > 1.0, far_ms  # half a GiB set: far more than a millisecond


# --- order ---------------------------------------------------------------------------------------


def test_one_stream_runs_in_order(s):
    size = 3 << 20
    a, b = s.w.alloc(size), s.w.alloc(size)
    st = s.stream(CU_STREAM_NON_BLOCKING)
    data = os.urandom(size)
    for rnd in range(3):
        s.w.post("MEMCPY_HTOD", {"dst": a, "size": size, "stream": st}, data)
        s.w.post("MEMCPY_DTOD", {"dst": b, "src": a, "size": size, "stream": st})
        s.memset(a, 0x40 + rnd, size, st)
        s.w.post("MEMCPY_DTOD", {"dst": b + size // 2, "src": a, "size": size // 2, "stream": st})
        reply = s.read(b, size, st)
        assert reply.result == CUDA_SUCCESS
        assert reply.tail == data[:size // 2] + bytes([0x40 + rnd]) * (size // 2)


def test_streams_run_concurrently_and_the_reader_keeps_answering(s):
    ptr = s.w.alloc(BIG)
    busy = s.stream(CU_STREAM_NON_BLOCKING)
    s.memset(ptr, 7, BIG, busy)
    # While the busy stream works, every other answer comes at once.
    assert s.query_stream(busy) == CUDA_ERROR_NOT_READY
    other = s.w.alloc(4096)
    free_stream = s.stream(CU_STREAM_NON_BLOCKING)
    s.memset(other, 9, 4096, free_stream)
    reply, seconds = timed(s.read, other, 4096, free_stream)
    assert reply.tail == b"\x09" * 4096
    info, _ = timed(s.w.call, "MEM_GET_INFO", {"device": 0})
    assert info.result == CUDA_SUCCESS
    assert s.query_stream(busy) == CUDA_ERROR_NOT_READY, "the big memset should still be running"
    assert seconds < 0.5
    assert s.sync_stream(busy) == CUDA_SUCCESS
    assert s.query_stream(busy) == CUDA_SUCCESS
    assert s.read(ptr + BIG - 16, 16).tail == b"\x07" * 16


def test_event_orders_two_streams(s):
    ptr = s.w.alloc(BIG)
    producer, consumer = s.stream(CU_STREAM_NON_BLOCKING), s.stream(CU_STREAM_NON_BLOCKING)
    ev = s.event(CU_EVENT_DISABLE_TIMING)
    s.memset(ptr, 0x11, BIG, producer)
    s.record(ev, producer)
    s.wait_event(consumer, ev)
    s.memset(ptr, 0x22, 64, consumer)  # must land after the producer's memset
    assert s.w.call("EVENT_QUERY", {"event": ev}).result == CUDA_ERROR_NOT_READY
    reply = s.read(ptr, 128, consumer)
    assert reply.tail == b"\x22" * 64 + b"\x11" * 64
    assert s.w.call("EVENT_QUERY", {"event": ev}).result == CUDA_SUCCESS


def test_a_wait_holds_for_the_record_before_it_not_a_later_one(s):
    ptr = s.w.alloc(4096)
    a, b = s.stream(CU_STREAM_NON_BLOCKING), s.stream(CU_STREAM_NON_BLOCKING)
    ev = s.event()
    s.wait_event(b, ev)           # never recorded yet: no wait
    s.memset(ptr, 5, 16, b)
    assert s.read(ptr, 16, b).tail == b"\x05" * 16
    s.record(ev, a)
    s.w.post("EVENT_DESTROY", {"event": ev})  # a wait queued already holds the event
    assert s.sync_stream(b) == CUDA_SUCCESS
    assert s.w.sync() == CUDA_SUCCESS


def test_legacy_stream_waits_for_blocking_streams_not_for_non_blocking_ones(s):
    ptr, other = s.w.alloc(BIG), s.w.alloc(BIG)
    blocking, nonblocking = s.stream(0), s.stream(CU_STREAM_NON_BLOCKING)
    # The legacy stream's copy comes after the blocking stream's memset.
    s.memset(ptr, 0x33, BIG, blocking)
    assert s.read(ptr + BIG - 8, 8, LEGACY).tail == b"\x33" * 8
    # It does not wait for a non-blocking stream.
    s.memset(other, 0x44, BIG, nonblocking)
    assert s.read(ptr, 8, LEGACY).tail == b"\x33" * 8
    assert s.query_stream(nonblocking) == CUDA_ERROR_NOT_READY
    assert s.sync_stream(nonblocking) == CUDA_SUCCESS
    # A blocking stream's later work waits for the legacy stream's earlier work.
    s.memset(ptr, 0x55, BIG, LEGACY)
    s.memset(ptr, 0x66, 8, blocking)
    assert s.read(ptr, 16, blocking).tail == b"\x66" * 8 + b"\x55" * 8


def test_destroyed_stream_finishes_its_work(s):
    ptr = s.w.alloc(BIG)
    st = s.stream()
    s.memset(ptr, 0x77, BIG, st)
    ev = s.event()
    s.record(ev, st)
    s.w.post("STREAM_DESTROY", {"stream": st})
    assert s.w.call("EVENT_SYNCHRONIZE", {"event": ev}).result == CUDA_SUCCESS
    assert s.read(ptr + BIG - 4, 4).tail == b"\x77" * 4
    assert s.w.sync() == CUDA_SUCCESS


def test_free_waits_for_earlier_work_and_later_work_sees_it_freed(s):
    ptr = s.w.alloc(BIG)
    keep = s.w.alloc(64)
    st = s.stream(CU_STREAM_NON_BLOCKING)
    s.memset(ptr, 1, BIG, st)                  # still running when the free is read
    s.w.post("MEM_FREE", {"dptr": ptr})
    s.memset(ptr, 2, 64, st)                   # after the free: refused, latched
    s.memset(keep, 3, 64, st)
    assert s.sync_stream(st) == CUDA_ERROR_INVALID_VALUE  # the refused memset's error
    assert s.read(keep, 64, st).tail == b"\x03" * 64
    assert s.read(ptr, 8, st).result == CUDA_ERROR_INVALID_VALUE
    assert s.w.sync() == CUDA_SUCCESS


def test_posted_error_on_a_stream_comes_back_from_its_synchronisation(s):
    ptr = s.w.alloc(4096)
    st = s.stream()
    s.memset(ptr + 4000, 1, 200, st)           # past the end: refused when it runs
    s.memset(ptr, 2, 16, st)
    assert s.query_stream(st) in (CUDA_SUCCESS, CUDA_ERROR_NOT_READY)
    assert s.sync_stream(st) == CUDA_ERROR_INVALID_VALUE
    assert s.sync_stream(st) == CUDA_SUCCESS
    assert s.read(ptr, 16, st).tail == b"\x02" * 16
    # Posted ops on unknown streams and events are refused and latched too.
    s.memset(ptr, 1, 1, 4242)
    assert s.w.sync() == CUDA_ERROR_INVALID_HANDLE
    s.record(4242, st)
    assert s.w.sync() == CUDA_ERROR_INVALID_HANDLE


def test_copy_reply_comes_before_the_synchronisation_ordered_after_it(s):
    size = 4 << 20
    ptr = s.w.alloc(size)
    st = s.stream(CU_STREAM_NON_BLOCKING)
    s.memset(ptr, 0x5A, size, st)
    # An async copy into pinned memory: sent waited, its reply read later, with the sync's.
    copy_id = s.w.send("MEMCPY_DTOH", {"src": ptr, "size": size, "stream": st}, posted=False)
    sync_id = s.w.send("STREAM_SYNCHRONIZE", {"stream": st}, posted=False)
    first, second = s.w.recv(30), s.w.recv(30)
    while first.op == "HEARTBEAT":
        first, second = second, s.w.recv(30)
    while second.op == "HEARTBEAT":
        second = s.w.recv(30)
    assert (first.op, first.request_id, first.flags) == ("MEMCPY_DTOH", copy_id, FRAME_REPLY)
    assert first.tail == b"\x5a" * size
    assert (second.op, second.request_id, second.result) == ("STREAM_SYNCHRONIZE", sync_id, 0)
    # and a query right after a synchronisation says the stream is done
    for _ in range(50):
        s.memset(ptr, 1, 4096, st)
        s.w.send("MEMCPY_DTOH", {"src": ptr, "size": 8, "stream": st}, posted=False)
        s.w.recv(30)
        assert s.query_stream(st) == CUDA_SUCCESS


def test_many_streams_at_once(s):
    count, size = 24, 1 << 20
    buffers = [s.w.alloc(size) for _ in range(count)]
    streams = [s.stream(CU_STREAM_NON_BLOCKING if i % 2 else 0) for i in range(count)]
    events = [s.event() for _ in range(count)]
    for i, (buf, st, ev) in enumerate(zip(buffers, streams, events, strict=True)):
        s.memset(buf, i, size, st)
        s.record(ev, st)
        s.wait_event(streams[(i + 1) % count], ev)
    assert s.w.sync() == CUDA_SUCCESS
    for i, buf in enumerate(buffers):
        assert s.read(buf + size - 4, 4, streams[i]).tail == bytes([i]) * 4
    for st in streams:
        s.w.post("STREAM_DESTROY", {"stream": st})
    for ev in events:
        s.w.post("EVENT_DESTROY", {"event": ev})
    assert s.w.sync() == CUDA_SUCCESS


def test_heartbeats_while_a_stream_synchronisation_waits():
    with Worker(driver=emulator(), env={"BF_HEARTBEAT_INTERVAL_MS": "2"}) as worker:
        s = Session(worker)
        ptr = worker.alloc(BIG)
        st = s.stream()
        for value in range(3):
            s.memset(ptr, value, BIG, st)
        assert s.sync_stream(st) == CUDA_SUCCESS
        assert worker.heartbeats, "no heartbeat while a stream synchronisation waited"
        assert all((b.flags, b.request_id) == (FRAME_POSTED, 0) for b in worker.heartbeats)
        worker.goodbye()


def test_reset_forgets_the_device_streams_and_events(s):
    st, ev = s.stream(), s.event()
    ptr = s.w.alloc(BIG)
    s.memset(ptr, 1, BIG, st)
    s.record(ev, st)
    assert s.w.call("CTX_RESET", {"device": 0}).result == CUDA_SUCCESS
    assert s.sync_stream(st) == CUDA_ERROR_INVALID_HANDLE
    assert s.w.call("EVENT_QUERY", {"event": ev}).result == CUDA_ERROR_INVALID_HANDLE
    assert s.read(ptr, 4).result == CUDA_ERROR_INVALID_VALUE
    again = s.stream()  # the device works on
    fresh = s.w.alloc(64)
    s.memset(fresh, 9, 64, again)
    assert s.read(fresh, 64, again).tail == b"\x09" * 64
    ended = s.w.goodbye()
    assert ended.returncode == 0, ended.log


def test_session_cut_with_synchronisations_queued_is_clean():
    """The client vanishes while synchronisations wait behind queued work (on waiter threads'
    queue): the worker drops them with the rest and ends normally (an ASan worker, through
    BF_WORKER_PATH, reports any op left behind as a leak)."""
    with Worker(driver=emulator()) as worker:
        s = Session(worker)
        ptr = worker.alloc(BIG)
        st = s.stream(CU_STREAM_NON_BLOCKING)
        event = s.event()
        for _ in range(8):
            s.memset(ptr, 1, BIG, st)
        s.record(event, st)
        for _ in range(3):
            worker.send("EVENT_SYNCHRONIZE", {"event": event}, posted=False)
            worker.send("CTX_SYNCHRONIZE", {"device": 0}, posted=False)
        worker.sock.shutdown(socket.SHUT_RDWR)
        ended = worker.wait(timeout=60)
    assert ended.returncode == 0, ended.log
    assert ended.stats["reason"] == "connection closed without goodbye"
    assert "LeakSanitizer" not in ended.log and "AddressSanitizer" not in ended.log, ended.log


def test_session_end_with_work_queued_is_clean():
    with Worker(driver=emulator()) as worker:
        s = Session(worker)
        ptr = worker.alloc(BIG)
        streams = [s.stream(CU_STREAM_NON_BLOCKING) for _ in range(4)]
        for st in streams:
            for _ in range(4):
                s.memset(ptr, 1, BIG, st)
        ended = worker.goodbye(timeout=60)
    assert ended.returncode == 0, ended.log
    assert ended.stats["reason"] == "client closed"
