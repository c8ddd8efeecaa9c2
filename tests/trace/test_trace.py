"""bf-trace end to end: recordings of conformance programs, their summaries, the exports, and files
that must be refused (docs/trace.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import conformance as runner
import numpy as np
import pytest
from openbf import _trace, paths

BF_TRACE = [sys.executable, "-m", "openbf.trace"]


def bf_trace(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BF_TRACE, *args], env=runner.openbf_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def record(tmp_path: Path, binary: Path, server: runner.BfServer | None, name: str = "run.bft") -> Path:
    out = tmp_path / name
    server_args = ["--server", server.address] if server is not None else []
    run = bf_trace("record", "-o", str(out), *server_args, "--", str(binary))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "calls from 1 process(es) recorded" in run.stderr, run.stderr
    return out


def summary(path: Path) -> dict:
    run = bf_trace("summary", "--json", str(path))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def apis(data: dict) -> dict[str, dict]:
    return {row["name"]: row for row in data["apis"]}


def kernels(data: dict) -> dict[str, dict]:
    return {row["name"]: row for row in data["kernels"]}


# ---- recordings of conformance programs -----------------------------------------------------------

@pytest.mark.timeout(300)
def test_vectoradd_static_driver_calls_only(tmp_path, binaries, server):
    data = summary(record(tmp_path, binaries[("vectoradd", "static")], server))
    by_name = apis(data)
    # vectoradd.cu: three cudaMalloc, two launches of vector_add, three cudaFree.
    assert by_name["cuMemAlloc_v2"]["calls"] == 3
    assert by_name["cuMemAlloc_v2"]["waited"] == 3
    assert by_name["cuMemFree_v2"]["calls"] == 3
    assert by_name["cuLaunchKernel"]["calls"] == 2
    assert by_name["cuLaunchKernel"]["posted"] == 2 and by_name["cuLaunchKernel"]["waited"] == 0
    assert by_name["cuInit"]["calls"] == 1 and by_name["cuInit"]["bytes_sent"] > 0
    k = kernels(data)
    assert k["_Z10vector_addPKfS0_Pfi"]["launches"] == 2
    assert k["_Z10vector_addPKfS0_Pfi"]["block"] == [256, 1, 1]
    # The static runtime is the program's own copy: no runtime events.
    assert all(row["layer"] == "driver" for row in data["apis"])


@pytest.mark.timeout(300)
def test_memory_shared_runtime_and_driver_counts(tmp_path, binaries, server):
    data = summary(record(tmp_path, binaries[("memory", "shared")], server))
    by_name = apis(data)
    # memory.cu: 72 cudaMalloc (one of 2^50 bytes fails), 76 cudaFree (4 refused: double, stack,
    # heap and interior pointers).
    assert by_name["cudaMalloc"]["layer"] == "runtime"
    assert by_name["cudaMalloc"]["calls"] == 72
    assert by_name["cudaMalloc"]["failed"] == 1
    assert by_name["cudaFree"]["calls"] == 76
    assert by_name["cudaFree"]["failed"] == 4
    assert by_name["cuMemAlloc_v2"]["calls"] == 72
    # A runtime call's traffic is that of the driver calls beneath it.
    assert by_name["cudaMalloc"]["bytes_sent"] >= by_name["cuMemAlloc_v2"]["bytes_sent"] > 0


@pytest.mark.timeout(300)
def test_memory_static_has_no_runtime_events(tmp_path, binaries, server):
    data = summary(record(tmp_path, binaries[("memory", "static")], server))
    assert "cudaMalloc" not in apis(data)
    assert apis(data)["cuMemAlloc_v2"]["calls"] == 72


@pytest.mark.timeout(300)
def test_manylaunch_counts_every_launch(tmp_path, binaries, server):
    path = record(tmp_path, binaries[("manylaunch", "static")], server)
    data = summary(path)
    k = kernels(data)
    # manylaunch.cu: 100,000 launches of empty, then 1000 of count.
    assert k["_Z5emptyv"]["launches"] == 100000
    assert k["_Z5countPj"]["launches"] == 1000
    assert k["_Z5countPj"]["block"] == [32, 1, 1]
    # Every launch was timed on the device by the worker's driver (the emulator here).
    assert k["_Z5emptyv"]["device_timed"] == 100000 and k["_Z5emptyv"]["device_total_ns"] > 0
    launch = apis(data)["cuLaunchKernel"]
    assert launch["calls"] == 101000 and launch["posted"] == 101000 and launch["failed"] == 0
    trace = _trace.load(path)
    # Calls of one thread are recorded in order: its sequence numbers only grow.
    assert np.all(np.diff(trace.calls["seq"].astype(np.int64)) > 0)


@pytest.mark.timeout(300)
def test_manylaunch_shared_nests_runtime_launches(tmp_path, binaries, server):
    data = summary(record(tmp_path, binaries[("manylaunch", "shared")], server))
    by_name = apis(data)
    assert by_name["__cudaLaunchKernel"]["calls"] == 101000
    assert by_name["cuLaunchKernel"]["calls"] == 101000
    assert by_name["cudaGetLastError"]["calls"] == 100001


@pytest.mark.timeout(300)
def test_private_server_and_exit_status(tmp_path, binaries):
    # No --server: bf-trace record starts a private one, as bf run does.
    path = record(tmp_path, binaries[("vectoradd", "static")], None)
    assert apis(summary(path))["cuLaunchKernel"]["calls"] == 2
    failing = bf_trace("record", "-o", str(tmp_path / "x.bft"), "--", "false")
    assert failing.returncode == 1
    missing = bf_trace("record", "-o", str(tmp_path / "y.bft"), "--", str(tmp_path / "nonexistent"))
    assert missing.returncode == 127


# ---- exports ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def threads_trace(tmp_path_factory, binaries, server) -> Path:
    return record(tmp_path_factory.mktemp("threads"), binaries[("threads", "shared")], server)


@pytest.mark.timeout(300)
def test_chrome_export_has_a_track_per_thread_and_stream(tmp_path, threads_trace):
    out = tmp_path / "run.json"
    run = bf_trace("export", "--format", "chrome", str(threads_trace), "-o", str(out))
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    events = doc["traceEvents"]
    trace = _trace.load(threads_trace)
    tids = {int(t) for t in trace.calls["tid"]}
    assert len(tids) > 1  # threads.cu works from several threads
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    thread_tracks = {tid for (_, tid), name in names.items() if name.startswith("thread ")}
    stream_tracks = {tid for (_, tid), name in names.items() if name.startswith("stream ")}
    assert thread_tracks == tids
    assert stream_tracks, names
    calls = [e for e in events if e["ph"] == "X" and e["cat"] in ("driver", "runtime")]
    assert len(calls) == len(trace.calls)
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in calls)
    assert any(e["cat"] == "runtime" for e in calls)
    on_streams = [e for e in events if e["ph"] == "X" and e["cat"] in ("device", "enqueued")]
    assert on_streams and all(e["tid"] in stream_tracks for e in on_streams)
    # The worker timed the copies on the device: they are shown when they ran there.
    assert any(e["cat"] == "device" for e in on_streams)
    assert any(e["ph"] == "M" and e["name"] == "process_name" for e in events)


@pytest.mark.timeout(300)
def test_jsonl_export_one_object_per_call(tmp_path, threads_trace):
    run = bf_trace("export", "--format", "jsonl", str(threads_trace))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    trace = _trace.load(threads_trace)
    assert len(lines) == len(trace.calls)
    events = [json.loads(line) for line in lines]
    starts = [e["start_ns"] for e in events]
    assert starts == sorted(starts)
    for e in events:
        assert {"api", "layer", "pid", "tid", "start_ns", "end_ns", "result", "waited", "posted"} <= set(e)
        assert e["end_ns"] >= e["start_ns"]
    copies = [e for e in events if e["api"] == "cuMemcpyHtoD_v2"]
    assert copies and all(e["kind"] == "HtoD" and e["bytes"] > 0 for e in copies)


@pytest.mark.timeout(300)
def test_summary_text_table(tmp_path, binaries, server):
    path = record(tmp_path, binaries[("vectoradd", "shared")], server)
    run = bf_trace("summary", str(path))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any("Total(ns)" in line for line in lines)
    launch = next(line for line in lines if line.endswith("  cuLaunchKernel"))
    assert launch.split()[2] == "2"  # Time(%), Total(ns), Calls
    assert any(line.endswith("cudaMalloc (runtime)") for line in lines)
    kernel = next(line for line in lines if line.endswith("_Z10vector_addPKfS0_Pfi"))
    assert kernel.split()[0] == "2"


# ---- files that must be refused -----------------------------------------------------------------

def refused(path: Path, words: str) -> None:
    for command in (("summary", str(path)), ("export", "--format", "jsonl", str(path))):
        run = bf_trace(*command, timeout=60)
        assert run.returncode == 1, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        assert run.stderr.startswith("bf-trace: ") and words in run.stderr, run.stderr


@pytest.mark.timeout(120)
def test_truncated_and_corrupt_files_are_refused(tmp_path, threads_trace):
    data = threads_trace.read_bytes()
    cut = tmp_path / "cut.bft"
    cut.write_bytes(data[: len(data) - 37])
    refused(cut, "truncated")
    short = tmp_path / "short.bft"
    short.write_bytes(data[:20])
    refused(short, "truncated")
    magic = tmp_path / "magic.bft"
    magic.write_bytes(b"NOTATRACE" + data[9:])
    refused(magic, "not a bf-trace file")
    version = tmp_path / "version.bft"
    version.write_bytes(data[:8] + (99).to_bytes(4, "little") + data[12:])
    refused(version, "unsupported bf-trace format version 99")
    header = tmp_path / "header.bft"
    header.write_bytes(data[:12] + (5).to_bytes(4, "little") + data[16:])
    refused(header, "corrupt header")
    record_type = tmp_path / "type.bft"
    hlen = int.from_bytes(data[12:16], "little")
    body = bytearray(data)
    body[hlen + 102] = 0xEE  # the first record's type byte
    record_type.write_bytes(bytes(body))
    refused(record_type, "unknown record type 238")
    refused(tmp_path / "absent.bft", "No such file")


@pytest.mark.timeout(120)
def test_killed_program_leaves_a_readable_file(tmp_path, binaries, server):
    out = tmp_path / "killed.bft"
    out.write_bytes(_trace.header_bytes("manylaunch (killed)", os.getpid(), time.time_ns(),
                                        time.monotonic_ns()))
    env = runner.openbf_env()
    env.update(LD_PRELOAD=str(paths.libbf()), BF_SERVER=server.address, BF_TRACE_FILE=str(out))
    proc = subprocess.Popen([str(binaries[("manylaunch", "static")])], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while out.stat().st_size < (1 << 20) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "manylaunch ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    trace = _trace.load(out)  # whole records only: no error
    launches = trace.calls[trace.calls["api"] == next(k for k, v in trace.api_names.items()
                                                      if v == "cuLaunchKernel")]
    assert 0 < len(launches) < 101000


# ---- device times of memsets and copies in parts, errors at exit ----------------------------------

def jsonl(path: Path) -> list[dict]:
    run = bf_trace("export", "--format", "jsonl", str(path))
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("variant", ["static", "shared"])
def test_fault_still_reaches_the_last_synchronise(tmp_path, trace_binaries, server, variant):
    # fault_exit.cu: a faulting kernel, then its only synchronisation in an atexit handler. The exit
    # of a recording process synchronises to collect the last device times; it must leave the
    # program's error where it was.
    out = tmp_path / "fault.bft"
    run = bf_trace("record", "-o", str(out), "--server", server.address, "--",
                   str(trace_binaries[("fault_exit", variant)]))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "final_sync 700 cudaErrorIllegalAddress" in run.stdout, run.stdout + run.stderr
    events = jsonl(out)
    syncs = [e for e in events if e["api"] in ("cuCtxSynchronize", "cuCtxSynchronize_v2")]
    assert syncs and syncs[-1]["result"] == 700, syncs  # CUDA_ERROR_ILLEGAL_ADDRESS
    if variant == "shared":
        runtime = [e for e in events if e["api"] == "cudaDeviceSynchronize"]
        assert runtime and runtime[-1]["result"] == 700, runtime  # cudaErrorIllegalAddress
    launch = [e for e in events if e["api"] == "cuLaunchKernel"]
    assert len(launch) == 1 and launch[0]["result"] == 0, launch


@pytest.mark.timeout(300)
def test_memset_and_copy_in_parts_have_device_spans(tmp_path, trace_binaries, server):
    # memops.cu: cudaMemset of 1 MiB, then a 100 MiB copy that travels as two operations.
    path = record(tmp_path, trace_binaries[("memops", "static")], server)
    memory = {row["name"]: row for row in summary(path)["memory"]}
    assert memory["cuMemsetD8_v2"]["ops"] == 1
    assert memory["cuMemsetD8_v2"]["device_timed"] == 1
    assert memory["cuMemsetD8_v2"]["device_total_ns"] > 0
    events = jsonl(path)
    memset = next(e for e in events if e["api"] == "cuMemsetD8_v2")
    assert 0 < memset["device_start_ns"] < memset["device_end_ns"], memset
    copy = next(e for e in events if e["api"] == "cuMemcpyHtoD_v2" and e["bytes"] == 100 << 20)
    trace = _trace.load(path)
    parts = trace.devices[(trace.devices["request_id"] <= copy["request_id"]) &
                          (trace.devices["request_id"] >= copy["request_id"] - 1)]
    assert len(parts) == 2, parts
    first, last = sorted(parts, key=lambda p: int(p["request_id"]))
    assert copy["device_start_ns"] == int(first["start_ns"]), (copy, parts)
    assert copy["device_end_ns"] == int(last["end_ns"]), (copy, parts)
    assert copy["device_start_ns"] < int(last["start_ns"])
    chrome = tmp_path / "memops.json"
    assert bf_trace("export", "-o", str(chrome), str(path)).returncode == 0
    device = [e for e in json.loads(chrome.read_text())["traceEvents"]
              if e.get("cat") == "device" and e["name"] == "cuMemsetD8_v2"]
    assert len(device) == 1, device


# ---- the reader ---------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_million_events_load_fast(tmp_path):
    n = 1_000_000
    rec = np.zeros(n, dtype=_trace.RECORD_DTYPE)
    rec["type"] = _trace.REC_CALL
    rec["api"] = np.arange(n) % 7
    rec["start_ns"] = np.arange(n, dtype=np.uint64) * 1000
    rec["end_ns"] = rec["start_ns"] + 500
    rec["pid"] = 42
    rec["tid"] = 42 + (np.arange(n) % 4)
    path = tmp_path / "million.bft"
    with open(path, "wb") as f:
        f.write(_trace.header_bytes("synthetic", 42, 0, 0))
        f.write(rec.tobytes())
    t0 = time.perf_counter()
    trace = _trace.load(path)
    elapsed = time.perf_counter() - t0
    print(f"\nloaded {n} events in {elapsed * 1000:.0f} ms")
    assert len(trace.calls) == n
    assert int(trace.calls["end_ns"][-1]) == (n - 1) * 1000 + 500
    assert np.array_equal(np.bincount(trace.calls["api"]), np.bincount(np.arange(n) % 7))


@pytest.mark.timeout(60)
def test_unsupported_and_pre_init_calls_are_recorded(tmp_path):
    # Without a server: calls before cuInit and refused calls are recorded as well.
    out = tmp_path / "ctypes.bft"
    out.write_bytes(_trace.header_bytes("ctypes", os.getpid(), time.time_ns(), time.monotonic_ns()))
    script = ("import ctypes; cuda = ctypes.CDLL('libcuda.so.1'); v = ctypes.c_int();"
              "print(cuda.cuDriverGetVersion(ctypes.byref(v)), cuda.cuArrayCreate_v2(None, None))")
    env = runner.openbf_env()
    env.update(LD_PRELOAD=str(paths.libbf()), BF_TRACE_FILE=str(out))
    env.pop("BF_SERVER", None)
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=50, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["0", "801"]  # CUDA_ERROR_NOT_SUPPORTED
    trace = _trace.load(out)
    calls = {trace.api_name(c["api"]): int(c["result"]) for c in trace.calls}
    assert calls == {"cuDriverGetVersion": 0, "cuArrayCreate_v2": 801}
