"""What only the emulator promises about streams, events, pinned host memory and stream-ordered
copies, beyond the driver contract: exact errors for destroyed and made-up handles, what a context
reset takes with it, its priority range, its cuGetProcAddress rows, and pinned memory's attributes.
Every case runs in a fresh process (run_driver_script).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from emu_driver import run_driver_script
from openbf import paths

pytestmark = pytest.mark.timeout(120)

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_INVALID_CONTEXT = 201
CUDA_ERROR_INVALID_HANDLE = 400
CUDA_ERROR_NOT_FOUND = 500
CUDA_ERROR_NOT_READY = 600

CU_MEMORYTYPE_HOST = 1

# Argument types of the calls below; handles are plain pointers.
SETUP = """
V, U64, SZ, I, UI = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_int, ctypes.c_uint
P = ctypes.POINTER
for name, args in {
    "cuCtxGetStreamPriorityRange": [P(I), P(I)],
    "cuStreamCreate": [P(V), UI], "cuStreamCreateWithPriority": [P(V), UI, I],
    "cuStreamDestroy_v2": [V], "cuStreamQuery": [V], "cuStreamQuery_ptsz": [V], "cuStreamSynchronize": [V],
    "cuStreamGetFlags": [V, P(UI)], "cuStreamGetPriority": [V, P(I)], "cuStreamGetId": [V, P(U64)],
    "cuStreamGetId_ptsz": [V, P(U64)], "cuStreamGetCtx": [V, P(V)], "cuStreamWaitEvent": [V, V, UI],
    "cuEventCreate": [P(V), UI], "cuEventRecord": [V, V], "cuEventRecordWithFlags": [V, V, UI],
    "cuEventQuery": [V], "cuEventSynchronize": [V], "cuEventDestroy_v2": [V],
    "cuEventElapsedTime_v2": [P(ctypes.c_float), V, V],
    "cuMemAllocHost_v2": [P(V), SZ], "cuMemHostAlloc": [P(V), SZ, UI], "cuMemFreeHost": [V],
    "cuMemHostGetFlags": [P(UI), V], "cuMemHostGetDevicePointer_v2": [P(U64), V, UI],
    "cuMemsetD8Async": [U64, ctypes.c_ubyte, SZ, V], "cuMemcpyHtoDAsync_v2": [U64, V, SZ, V],
    "cuMemcpyPeer": [U64, V, U64, V, SZ], "cuMemGetAddressRange_v2": [P(U64), P(SZ), U64],
}.items():
    fn = getattr(cu, name)
    fn.argtypes, fn.restype = args, I
CU_STREAM_LEGACY, CU_STREAM_PER_THREAD = 1, 2
check(cu.cuInit(0), "cuInit")
ctx = V()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "retain")
check(cu.cuCtxSetCurrent(ctx), "set current")
def stream(flags=0):
    s = V()
    check(cu.cuStreamCreate(ctypes.byref(s), flags), "cuStreamCreate")
    return s
def event(flags=0):
    e = V()
    check(cu.cuEventCreate(ctypes.byref(e), flags), "cuEventCreate")
    return e
def host(n, flags=0):
    p = V()
    check(cu.cuMemHostAlloc(ctypes.byref(p), n, flags), "cuMemHostAlloc")
    return p
"""


def run_ok(script: str) -> Any:  # noqa: ANN401 (whatever the script prints as JSON)
    result = run_driver_script(SETUP + script)
    assert result.returncode == 0, f"script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def test_stale_and_made_up_handles() -> None:
    """Destroyed, made-up and special handles are CUDA_ERROR_INVALID_HANDLE, never a crash."""
    out = run_ok("""
s, e = stream(), event()
check(cu.cuStreamDestroy_v2(s), "destroy stream")
check(cu.cuEventDestroy_v2(e), "destroy event")
junk = ctypes.create_string_buffer(4096)   # readable memory that is no object
out = [cu.cuStreamQuery(s), cu.cuStreamSynchronize(s), cu.cuStreamDestroy_v2(s), cu.cuEventQuery(e),
       cu.cuEventRecord(e, None), cu.cuEventDestroy_v2(e), cu.cuStreamQuery(junk), cu.cuEventQuery(junk),
       cu.cuStreamDestroy_v2(None), cu.cuStreamDestroy_v2(CU_STREAM_LEGACY),
       cu.cuStreamDestroy_v2(CU_STREAM_PER_THREAD), cu.cuEventQuery(None),
       cu.cuStreamWaitEvent(None, None, 0), cu.cuEventRecord(event(), s), cu.cuMemsetD8Async(0, 0, 0, s)]
print(json.dumps(out))
""")
    assert out == [CUDA_ERROR_INVALID_HANDLE] * 15


def test_reset_destroys_streams_events_and_pinned_memory() -> None:
    out = run_ok("""
s, e, p = stream(), event(), host(4096)
check(cu.cuEventRecord(e, s), "record")
check(cu.cuDevicePrimaryCtxReset_v2(0), "reset")
again = V()
check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(again), 0), "retain again")
check(cu.cuCtxSetCurrent(again), "set current")
flags = UI()
print(json.dumps([cu.cuStreamQuery(s), cu.cuEventQuery(e), cu.cuMemHostGetFlags(ctypes.byref(flags), p),
                  cu.cuMemFreeHost(p), cu.cuStreamQuery(None), cu.cuCtxSynchronize_v2(None)]))
""")
    assert out == [CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_INVALID_VALUE,
                   CUDA_ERROR_INVALID_VALUE, CUDA_SUCCESS, CUDA_SUCCESS]


def test_special_streams_need_a_current_context() -> None:
    out = run_ok("""
s = stream()
check(cu.cuCtxSetCurrent(None), "unset")
c = V()
print(json.dumps([cu.cuStreamQuery(None), cu.cuStreamQuery(CU_STREAM_PER_THREAD), cu.cuStreamQuery_ptsz(None),
                  cu.cuStreamGetCtx(None, ctypes.byref(c)), cu.cuStreamQuery(s), cu.cuStreamSynchronize(s),
                  cu.cuStreamGetCtx(s, ctypes.byref(c)), c.value == ctx.value]))
""")
    assert out == [CUDA_ERROR_INVALID_CONTEXT] * 4 + [CUDA_SUCCESS] * 3 + [True]


def test_priorities_and_special_stream_properties() -> None:
    out = run_ok("""
least, greatest = I(99), I(99)
check(cu.cuCtxGetStreamPriorityRange(ctypes.byref(least), ctypes.byref(greatest)), "range")
props = []
for h in (None, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD):
    f, p, i = UI(99), I(99), U64(0)
    props.append([cu.cuStreamGetFlags(h, ctypes.byref(f)), f.value,
                  cu.cuStreamGetPriority(h, ctypes.byref(p)), p.value,
                  cu.cuStreamGetId(h, ctypes.byref(i)), i.value])
mid = V()
check(cu.cuStreamCreateWithPriority(ctypes.byref(mid), 0, -3), "create")
p = I(99)
check(cu.cuStreamGetPriority(mid, ctypes.byref(p)), "priority")
print(json.dumps([least.value, greatest.value, props, p.value]))
""")
    least, greatest, props, mid = out
    assert (least, greatest) == (0, -5)
    assert mid == -3, "a priority inside the range is kept as given"
    assert [row[:5] for row in props] == [[CUDA_SUCCESS, 0, CUDA_SUCCESS, 0, CUDA_SUCCESS]] * 3
    null_id, legacy_id, per_thread_id = (row[5] for row in props)
    assert null_id == legacy_id != per_thread_id


def test_event_flags_outside_capture_and_timing() -> None:
    out = run_ok("""
import time
a, b = event(), event()
ms = ctypes.c_float(0)
out = [cu.cuEventRecordWithFlags(a, None, 1), cu.cuEventRecordWithFlags(a, None, 2),
       cu.cuStreamWaitEvent(None, a, 1), cu.cuEventCreate(ctypes.byref(V()), 8)]
check(cu.cuEventRecord(b, None), "record b")
time.sleep(0.01)
check(cu.cuEventRecord(a, None), "record a")
out.append(cu.cuEventElapsedTime_v2(ctypes.byref(ms), a, b))
out.append(ms.value)
# Recording again moves the event's time: the latest record counts.
check(cu.cuEventRecord(b, None), "record b again")
out.append(cu.cuEventElapsedTime_v2(ctypes.byref(ms), a, b))
out.append(ms.value)
print(json.dumps(out))
""")
    assert out[:4] == [CUDA_ERROR_INVALID_VALUE] * 4
    assert out[4] == CUDA_SUCCESS and -1000 < out[5] <= -9, "end before start gives a negative time"
    assert out[6] == CUDA_SUCCESS and 0 <= out[7] < 1000


def test_pinned_memory_is_mapped_and_known() -> None:
    out = run_ok("""
p = V()
check(cu.cuMemAllocHost_v2(ctypes.byref(p), 10000), "alloc host")
flags, dptr = UI(99), U64(0)
out = {"flags": [cu.cuMemHostGetFlags(ctypes.byref(flags), p), flags.value]}
# Unified addressing: every allocation is mapped, at its host address, interior pointers too.
out["device_pointer"] = [cu.cuMemHostGetDevicePointer_v2(ctypes.byref(dptr), p.value + 100, 0),
                         dptr.value - p.value]
def attr(a, ptr, ctype=U64):
    v = ctype(0)
    return [cu.cuPointerGetAttribute(ctypes.byref(v), a, ptr), v.value]
# MEMORY_TYPE, CONTEXT, DEVICE_ORDINAL, RANGE_START_ADDR, RANGE_SIZE, MAPPED, HOST_POINTER
out["attrs"] = [attr(2, p.value + 8, UI), attr(1, p.value)[1] == ctx.value, attr(9, p.value, I),
                attr(11, p.value + 9999)[1] - p.value, attr(12, p.value)[1],
                attr(13, p.value, ctypes.c_ubyte)[1], attr(4, p.value + 5)[1] - p.value]
# Pinned memory may be named as device memory by copies and memsets.
d = U64()
check(cu.cuMemAlloc_v2(ctypes.byref(d), 64), "alloc")
check(cu.cuMemsetD8_v2(p.value, 0x7A, 16), "memset pinned")
check(cu.cuMemcpyDtoD_v2(d, p.value, 16), "dtod from pinned")
back = ctypes.create_string_buffer(16)
check(cu.cuMemcpyDtoH_v2(back, d, 16), "dtoh")
out["copied"] = back.raw.hex()
out["past_end"] = cu.cuMemsetD8_v2(p.value + 9990, 0, 11)
base, size = U64(), SZ()
out["address_range"] = cu.cuMemGetAddressRange_v2(ctypes.byref(base), ctypes.byref(size), p.value)
out["free"] = [cu.cuMemFreeHost(None), cu.cuMemFreeHost(p.value + 8), cu.cuMemFreeHost(p),
               cu.cuMemHostAlloc(ctypes.byref(V()), 0, 0)]
print(json.dumps(out))
""")
    assert out["flags"] == [CUDA_SUCCESS, 0]
    assert out["device_pointer"] == [CUDA_SUCCESS, 100]
    assert out["attrs"] == [[CUDA_SUCCESS, CU_MEMORYTYPE_HOST], True, [CUDA_SUCCESS, 0], 0, 10000, 1, 5]
    assert out["copied"] == "7a" * 16
    assert out["past_end"] == CUDA_ERROR_INVALID_VALUE, "a memset may not run past pinned memory's end"
    assert out["address_range"] == CUDA_ERROR_NOT_FOUND, "cuMemGetAddressRange knows device memory only"
    assert out["free"] == [CUDA_SUCCESS, CUDA_ERROR_INVALID_VALUE, CUDA_SUCCESS, CUDA_ERROR_INVALID_VALUE]


def test_peer_copy_contexts() -> None:
    out = run_ok("""
a, b = U64(), U64()
check(cu.cuMemAlloc_v2(ctypes.byref(a), 64), "alloc a")
check(cu.cuMemAlloc_v2(ctypes.byref(b), 64), "alloc b")
host = ctypes.create_string_buffer(64)
print(json.dumps([cu.cuMemcpyPeer(b, ctx, a, None, 64), cu.cuMemcpyPeer(b, None, a, ctx, 64),
                  cu.cuMemcpyPeer(b, ctx, a, ctx, 65),
                  cu.cuMemcpyPeer(b, ctx, ctypes.addressof(host), ctx, 64),
                  cu.cuMemcpyPeer(b, ctx, a, ctx, 64)]))
""")
    assert out == [CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_INVALID_VALUE,
                   CUDA_ERROR_INVALID_VALUE, CUDA_SUCCESS]


def test_async_errors_are_synchronous_and_nothing_moves() -> None:
    out = run_ok("""
s = stream()
d = U64()
check(cu.cuMemAlloc_v2(ctypes.byref(d), 1000), "alloc")
check(cu.cuMemsetD8_v2(d, 0x11, 1000), "memset")
src = ctypes.create_string_buffer(b"\\x22" * 2000)
out = [cu.cuMemcpyHtoDAsync_v2(d, src, 1001, s), cu.cuMemsetD8Async(d.value + 999, 0x33, 2, s),
       cu.cuMemcpyHtoDAsync_v2(d, src, 0, s), cu.cuStreamQuery(s)]
back = ctypes.create_string_buffer(1000)
check(cu.cuMemcpyDtoH_v2(back, d, 1000), "dtoh")
out.append(back.raw == b"\\x11" * 1000)
print(json.dumps(out))
""")
    assert out == [CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_VALUE, CUDA_SUCCESS, CUDA_SUCCESS, True]


GPA_ROWS = [
    ("cuStreamDestroy", 2000, 0, "cuStreamDestroy"),
    ("cuStreamDestroy", 13000, 0, "cuStreamDestroy_v2"),
    ("cuStreamGetCtx", 9020, 0, "cuStreamGetCtx"),
    ("cuStreamGetCtx", 13000, 0, "cuStreamGetCtx_v2"),
    ("cuStreamGetCtx", 12000, 2, "cuStreamGetCtx_ptsz"),
    ("cuStreamGetCtx", 13000, 2, "cuStreamGetCtx_v2_ptsz"),
    ("cuStreamQuery", 13000, 2, "cuStreamQuery_ptsz"),
    ("cuStreamCreate", 13000, 2, "cuStreamCreate"),
    ("cuEventElapsedTime", 12000, 0, "cuEventElapsedTime"),
    ("cuEventElapsedTime", 12080, 0, "cuEventElapsedTime_v2"),
    ("cuEventDestroy", 13000, 0, "cuEventDestroy_v2"),
    ("cuEventRecord", 13000, 2, "cuEventRecord_ptsz"),
    ("cuMemAllocHost", 13000, 0, "cuMemAllocHost_v2"),
    ("cuMemHostGetDevicePointer", 13000, 0, "cuMemHostGetDevicePointer_v2"),
    ("cuMemcpyHtoDAsync", 13000, 0, "cuMemcpyHtoDAsync_v2"),
    ("cuMemcpyHtoDAsync", 13000, 2, "cuMemcpyHtoDAsync_v2_ptsz"),
    ("cuMemcpy2DAsync", 13000, 2, "cuMemcpy2DAsync_v2_ptsz"),
    ("cuMemsetD2D32Async", 13000, 2, "cuMemsetD2D32Async_ptsz"),
    ("cuMemcpyPeer", 13000, 2, "cuMemcpyPeer_ptds"),
    ("cuMemcpyPeerAsync", 13000, 2, "cuMemcpyPeerAsync_ptsz"),
]


def test_get_proc_address_rows() -> None:
    result = run_driver_script(f"""
out = []
for name, version, flags, symbol in {GPA_ROWS!r}:
    fn, status = ctypes.c_void_p(), ctypes.c_int(-1)
    r = cu.cuGetProcAddress_v2(name.encode(), ctypes.byref(fn), version, flags, ctypes.byref(status))
    same = fn.value == ctypes.cast(getattr(cu, symbol), ctypes.c_void_p).value
    out.append([name, version, flags, r, status.value, same])
print(json.dumps(out))
""")
    assert result.returncode == 0, result.stderr
    for name, version, flags, r, status, same in json.loads(result.stdout):
        assert (r, status, same) == (CUDA_SUCCESS, 0, True), f"{name} at {version} flags {flags}"


def test_exports() -> None:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not found")
    listing = subprocess.run([nm, "-D", "--defined-only", str(paths.libbfemu())], capture_output=True,
                             text=True, check=True, timeout=30).stdout
    names = {line.split()[-1] for line in listing.splitlines() if line.strip()}
    for _, _, _, symbol in GPA_ROWS:
        assert symbol in names


def test_work_of_a_busy_stream_is_queued() -> None:
    """While one thread runs a long memset on a stream, another's work on it is queued behind it:
    the stream and an event recorded after the memset are not ready until it is done."""
    out = run_ok("""
import threading, time
n = 512 << 20
s = stream()
d = U64()
check(cu.cuMemAlloc_v2(ctypes.byref(d), n), "alloc")
seen, results = [], []
def fill(value):
    # A new thread has no current context.
    results.append([cu.cuCtxSetCurrent(ctx), cu.cuMemsetD8Async(d, value, n, s)])
for attempt in range(3):
    e = event()
    worker = threading.Thread(target=fill, args=(attempt + 1,))
    worker.start()
    deadline = time.monotonic() + 5
    while cu.cuStreamQuery(s) == 0 and worker.is_alive() and time.monotonic() < deadline:
        pass
    record = cu.cuEventRecord(e, s)
    event_ready, stream_ready = cu.cuEventQuery(e), cu.cuStreamQuery(s)
    elapsed = cu.cuEventElapsedTime_v2(ctypes.byref(ctypes.c_float()), e, e)
    sync = [cu.cuEventSynchronize(e), cu.cuEventQuery(e), cu.cuStreamQuery(s), cu.cuCtxSynchronize_v2(None)]
    worker.join()
    seen.append([record, event_ready, stream_ready, elapsed, sync])
    if event_ready != 0:
        break
tail = ctypes.create_string_buffer(16)
check(cu.cuMemcpyDtoH_v2(tail, d.value + n - 16, 16), "dtoh")
print(json.dumps([seen, tail.raw.hex(), len(seen), results]))
""")
    seen, tail, attempts, results = out
    assert results == [[CUDA_SUCCESS, CUDA_SUCCESS]] * attempts
    for record, event_ready, stream_ready, elapsed, sync in seen:
        assert record == CUDA_SUCCESS
        assert sync == [CUDA_SUCCESS] * 4, "synchronising waits for the queued work"
        assert not (stream_ready == CUDA_ERROR_NOT_READY and event_ready == CUDA_SUCCESS), (
            "an event is complete only after the work before it")
        if event_ready == CUDA_ERROR_NOT_READY:
            assert elapsed == CUDA_ERROR_NOT_READY
    assert seen[-1][1] == CUDA_ERROR_NOT_READY, f"never saw queued work in {attempts} attempts: {seen}"
    assert tail == f"{attempts:02x}" * 16


def test_legacy_and_blocking_streams_under_threads() -> None:
    """Threads recording on the legacy stream while others make blocking streams wait for those
    records and copy on them: the implicit legacy ordering and event waits never deadlock, and every
    thread's data arrives."""
    out = run_ok("""
import threading
shared_event = event()
results = []
def body(index):
    ok = cu.cuCtxSetCurrent(ctx) == 0
    s = V()
    ok = ok and cu.cuStreamCreate(ctypes.byref(s), 0) == 0
    d = U64()
    ok = ok and cu.cuMemAlloc_v2(ctypes.byref(d), 4096) == 0
    src = ctypes.create_string_buffer(bytes([index + 1]) * 4096, 4096)
    back = ctypes.create_string_buffer(4096)
    for _ in range(300):
        ok = ok and cu.cuEventRecord(shared_event, None) == 0
        ok = ok and cu.cuStreamWaitEvent(s, shared_event, 0) == 0
        ok = ok and cu.cuMemcpyHtoDAsync_v2(d, src, 4096, s) == 0
        ok = ok and cu.cuMemcpyDtoH_v2(back, d, 4096) == 0 and back.raw == src.raw
    ok = ok and cu.cuStreamSynchronize(s) == 0 and cu.cuStreamDestroy_v2(s) == 0
    results.append(ok)
threads = [threading.Thread(target=body, args=(i,)) for i in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
print(json.dumps([results, any(t.is_alive() for t in threads), cu.cuCtxSynchronize_v2(None)]))
""")
    results, hung, sync = out
    assert not hung, "a thread never finished"
    assert results == [True] * 6
    assert sync == CUDA_SUCCESS
